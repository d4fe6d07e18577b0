package mailwatch

import (
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"time"
)

// ErrTimeout is wrapped by the error of a command the server stopped
// answering: it sent nothing for IMAPConfig.Timeout while rtbot waited
// for it.
var ErrTimeout = errors.New("the server stopped answering")

// ErrReplyTooLarge is wrapped by the error of a command whose answer was
// larger than rtbot reads: more bytes than the command's budget, or a
// message section larger than IMAPConfig.MaxLiteralBytes.
var ErrReplyTooLarge = errors.New("the server's answer is larger than rtbot reads")

// replyBudget is how many bytes the server may send in answer to one
// command other than FETCH (whose budget is what it asks for, plus
// this), and between two commands (unsolicited updates). A SEARCH
// answer naming a hundred thousand UIDs is under 1 MiB.
const replyBudget = 16 << 20

// guardConn is the connection under go-imap's client; it bounds how long
// the server may stay silent and how much it may send, whatever go-imap
// does. go-imap sets read deadlines of its own (30 s while it reads a
// response, none while it waits for the next one, so a server silent
// after a command is waited for for ever) and reads every string the
// server sends into memory (all but a FETCH body section, which it
// streams), however large the server says it is.
//
// While a command is in progress (between arm and disarm) each read must
// return within the command's silence bound, in place of go-imap's
// deadlines; between commands go-imap's deadlines apply. The server may
// send at most the command's budget of bytes until disarm, and
// replyBudget between commands. A read past a bound fails, and so does
// every read after it: go-imap then ends the connection, and the
// Scanner reports the guard's error (see err), which says which bound.
// Writes are left to go-imap, which bounds each command's at 30 s.
type guardConn struct {
	net.Conn

	mu      sync.Mutex
	silence time.Duration // the command's bound; 0: no command in progress
	budget  int64         // bytes the server may send until the next arm or disarm
	left    int64         // of budget, not yet sent
	libRead time.Time     // the read deadline go-imap last set
	failed  error         // why the guard ended the connection
}

func newGuardConn(c net.Conn) *guardConn {
	return &guardConn{Conn: c, budget: replyBudget, left: replyBudget}
}

// arm starts a command: until disarm, the server may stay silent at most
// silence at a time and send at most budget bytes. A read already
// waiting gets the new deadline.
func (g *guardConn) arm(silence time.Duration, budget int64) {
	g.mu.Lock()
	g.silence, g.budget, g.left = silence, budget, budget
	d := g.deadline()
	g.mu.Unlock()
	g.Conn.SetReadDeadline(d)
}

// disarm ends the command: go-imap's deadlines apply again, and the
// server may send replyBudget bytes before the next command.
func (g *guardConn) disarm() {
	g.arm(0, replyBudget)
}

// refuse fails the connection with err: every read from now on returns
// it at once, so that what go-imap is reading ends without reading on.
func (g *guardConn) refuse(err error) {
	g.mu.Lock()
	if g.failed == nil {
		g.failed = err
	}
	g.mu.Unlock()
	g.Conn.SetReadDeadline(time.Now())
}

// err returns why the guard failed the connection, or nil.
func (g *guardConn) err() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.failed
}

// deadline is the read deadline now; the caller holds mu.
func (g *guardConn) deadline() time.Time {
	if g.silence > 0 {
		return time.Now().Add(g.silence)
	}
	return g.libRead
}

// SetReadDeadline records go-imap's deadline, which applies between
// commands.
func (g *guardConn) SetReadDeadline(t time.Time) error {
	g.mu.Lock()
	g.libRead = t
	d := g.deadline()
	g.mu.Unlock()
	return g.Conn.SetReadDeadline(d)
}

// SetDeadline sets go-imap's read deadline (see SetReadDeadline) and the
// write deadline.
func (g *guardConn) SetDeadline(t time.Time) error {
	if err := g.SetReadDeadline(t); err != nil {
		return err
	}
	return g.Conn.SetWriteDeadline(t)
}

// Read reads within the bounds of the command in progress.
func (g *guardConn) Read(b []byte) (int, error) {
	g.mu.Lock()
	if g.failed != nil {
		defer g.mu.Unlock()
		return 0, g.failed
	}
	if g.silence > 0 {
		g.Conn.SetReadDeadline(g.deadline())
	}
	left := g.left
	g.mu.Unlock()
	if int64(len(b)) > left+1 {
		b = b[:left+1] // one byte over is enough to know
	}

	n, err := g.Conn.Read(b)

	g.mu.Lock()
	defer g.mu.Unlock()
	g.left -= int64(n)
	switch {
	case g.failed != nil: // refused meanwhile
		return 0, g.failed
	case g.left < 0:
		g.failed = fmt.Errorf("%w: more than %d bytes for one command", ErrReplyTooLarge, g.budget)
		return 0, g.failed
	case err != nil && g.silence > 0 && errors.Is(err, os.ErrDeadlineExceeded):
		g.failed = fmt.Errorf("%w: nothing received for %v", ErrTimeout, g.silence)
		return n, g.failed
	}
	return n, err
}
