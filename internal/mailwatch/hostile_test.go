package mailwatch

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/rtbot/rtbot/internal/fixtures"
	"github.com/rtbot/rtbot/internal/netsec"
	"github.com/rtbot/rtbot/internal/testkit"
)

// imapScript is a scripted IMAP server for hostile-server tests. Its
// mailbox holds two messages (UIDs 1 and 2, UIDVALIDITY 7, UIDNEXT 3) and
// it answers every command as a well-behaved server would, except the
// commands ("EXAMINE", "UID SEARCH", "UID FETCH", "IDLE", "DONE", ...)
// in the map: those are answered by the function, given the connection
// and the command's tag. A function that writes nothing leaves the
// server silent.
type imapScript map[string]func(c *scriptConn, tag string)

// scriptConn is one connection to an imapScript server.
type scriptConn struct {
	net.Conn
	idleTag string
	sent    *atomic.Int64 // bytes written, over every connection
}

// send writes to the client, counting the bytes.
func (c *scriptConn) send(format string, args ...any) error {
	n, err := fmt.Fprintf(c.Conn, format, args...)
	c.sent.Add(int64(n))
	return err
}

// scriptServer is a started imapScript.
type scriptServer struct {
	Addr  string
	sent  atomic.Int64
	conns atomic.Int32
}

// start serves s on loopback until the test ends.
func (s imapScript) start(t *testing.T) *scriptServer {
	srv := &scriptServer{}
	srv.Addr = testkit.Serve(t, func(conn net.Conn) {
		defer conn.Close()
		srv.conns.Add(1)
		c := &scriptConn{Conn: conn, sent: &srv.sent}
		c.send("* OK [CAPABILITY IMAP4rev1 IDLE] scripted server ready\r\n")
		r := bufio.NewReader(conn)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			tag, cmd := scriptCommand(line)
			if f, ok := s[cmd]; ok {
				f(c, tag)
			} else if !c.answer(tag, cmd) {
				return
			}
		}
	})
	return srv
}

// cfg is a configuration for the server with a short Timeout.
func (srv *scriptServer) cfg() IMAPConfig {
	return IMAPConfig{Addr: srv.Addr, TLS: netsec.Plain, Username: "rtbot", Password: "pw",
		DialTimeout: 5 * time.Second, Timeout: 300 * time.Millisecond}
}

// scriptCommand splits a command line into its tag and its name, with
// "UID" kept in front of the name it modifies.
func scriptCommand(line string) (tag, cmd string) {
	f := strings.Fields(strings.ToUpper(line))
	switch {
	case len(f) == 1:
		return "", f[0] // DONE
	case len(f) == 0:
		return "", ""
	case f[1] == "UID" && len(f) > 2:
		return f[0], "UID " + f[2]
	}
	return f[0], f[1]
}

// answer is the well-behaved answer to cmd; false ends the connection.
func (c *scriptConn) answer(tag, cmd string) bool {
	switch cmd {
	case "CAPABILITY":
		c.send("* CAPABILITY IMAP4rev1 IDLE\r\n%s OK done\r\n", tag)
	case "LOGIN":
		c.send("%s OK [CAPABILITY IMAP4rev1 IDLE] logged in\r\n", tag)
	case "EXAMINE", "SELECT":
		c.send("* 2 EXISTS\r\n* OK [UIDVALIDITY 7] ok\r\n* OK [UIDNEXT 3] ok\r\n%s OK [READ-ONLY] done\r\n", tag)
	case "UID SEARCH":
		c.send("* SEARCH 1 2\r\n%s OK done\r\n", tag)
	case "UID FETCH":
		c.sendMessage(1, 1)
		c.sendMessage(2, 2)
		c.send("%s OK done\r\n", tag)
	case "NOOP":
		c.send("%s OK done\r\n", tag)
	case "IDLE":
		c.idleTag = tag
		c.send("+ idling\r\n")
	case "DONE":
		c.send("%s OK done\r\n", c.idleTag)
	case "LOGOUT":
		c.send("* BYE bye\r\n%s OK done\r\n", tag)
		return false
	default:
		c.send("%s BAD unknown command\r\n", tag)
	}
	return true
}

// scriptHeader and scriptBody are each scripted message's.
const (
	scriptHeader = "Subject: [PATCH 6.1 000/1] 6.1.12-rc1 review\r\nMessage-Id: <m@test>\r\n\r\n"
	scriptBody   = "Hello.\r\n"
)

// sendMessage sends one message's FETCH answer as UID uid.
func (c *scriptConn) sendMessage(seq, uid int) {
	c.send("* %d FETCH (UID %d RFC822.SIZE %d BODY[HEADER]<0> {%d}\r\n%s BODY[TEXT]<0> {%d}\r\n%s)\r\n",
		seq, uid, len(scriptHeader)+len(scriptBody), len(scriptHeader), scriptHeader, len(scriptBody), scriptBody)
}

// silent answers nothing.
func silent(*scriptConn, string) {}

// within runs f, failing the test if it takes longer than d (a hang is
// a failure, not a stuck test); f gets a context that ends after 20 s.
func within(t *testing.T, d time.Duration, f func(ctx context.Context) error) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	start := time.Now()
	err := f(ctx)
	if took := time.Since(start); took > d {
		t.Errorf("took %v, want at most %v (err %v)", took.Round(time.Millisecond), d, err)
	}
	return err
}

// wantTimeout checks that err is the *Error of op, timed out, naming the
// server.
func wantTimeout(t *testing.T, err error, op, server string) {
	t.Helper()
	var ie *Error
	if !errors.As(err, &ie) || ie.Op != op || !errors.Is(err, ErrTimeout) || !strings.Contains(err.Error(), server) {
		t.Errorf("error %v; want the %s timed out (ErrTimeout), naming %s", err, op, server)
	}
	if IsPermanent(err) {
		t.Errorf("error %v is permanent; a silent server is worth retrying", err)
	}
}

// TestIMAPSilentServer: a server that goes silent in the middle of any
// command ends the scan within the configured Timeout with an error that
// names the server and the command, instead of waiting for ever.
func TestIMAPSilentServer(t *testing.T) {
	midLiteral := func(c *scriptConn, tag string) {
		c.send("* 1 FETCH (UID 1 RFC822.SIZE 900 BODY[HEADER]<0> {900}\r\nSubject: half")
	}
	midResponse := func(c *scriptConn, tag string) { c.send("* 2 EXISTS\r\n* OK [UIDVALIDITY 7") }
	for _, tc := range []struct {
		name, cmd, op string
		answer        func(*scriptConn, string)
	}{
		{"examine", "EXAMINE", "examine", silent},
		{"examine-mid-response", "EXAMINE", "examine", midResponse},
		{"search", "UID SEARCH", "search", silent},
		{"fetch", "UID FETCH", "fetch", silent},
		{"fetch-mid-literal", "UID FETCH", "fetch", midLiteral},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := imapScript{tc.cmd: tc.answer}.start(t)
			err := within(t, 3*time.Second, func(ctx context.Context) error {
				_, err := scanOnce(ctx, srv.cfg(), Checkpoint{})
				return err
			})
			wantTimeout(t, err, tc.op, srv.Addr)
		})
	}
}

// checkStalledExamine puts a proxy in front of cfg's server that goes
// silent a few bytes into the answer to the scan's EXAMINE (past the
// login, measured on a first connection; a few bytes more, as TLS
// handshakes differ by a byte or two), and checks that the scan through
// it fails within cfg.Timeout (300 ms here) with ErrTimeout.
func checkStalledExamine(t *testing.T, cfg IMAPConfig) {
	t.Helper()
	proxy, err := fixtures.StartFaultProxy(cfg.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	cfg.Addr, cfg.Timeout = proxy.Addr, 300*time.Millisecond
	if cfg.TLSConfig != nil && cfg.TLSConfig.ServerName == "" {
		cfg.TLSConfig = cfg.TLSConfig.Clone()
		cfg.TLSConfig.ServerName = "127.0.0.1"
	}
	s, err := Dial(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	proxy.StallAfter(proxy.Sent() + 10)
	s.Close()
	err = within(t, 5*time.Second, func(ctx context.Context) error {
		_, err := scanOnce(ctx, cfg, Checkpoint{})
		return err
	})
	wantTimeout(t, err, "examine", proxy.Addr)
}

// TestIMAPSilentUnderTLS: the silence bound holds under TLS, where the
// guard sits below the TLS connection, and under STARTTLS, where go-imap
// puts TLS on it.
func TestIMAPSilentUnderTLS(t *testing.T) {
	serverTLS, pool := testkit.SelfSignedTLS(t, "127.0.0.1")
	for name, implicit := range map[string]bool{"tls": true, "starttls": false} {
		t.Run(name, func(t *testing.T) {
			srv := startIMAPMemServer(t, serverTLS, implicit)
			mode := netsec.StartTLS
			if implicit {
				mode = netsec.TLS
			}
			checkStalledExamine(t, IMAPConfig{Addr: srv.Addr, TLS: mode, Username: srv.User, Password: srv.Password,
				TLSConfig: &tls.Config{RootCAs: pool}, DialTimeout: 5 * time.Second})
		})
	}
}

// TestIMAPSilentWait: Wait's commands are bounded too: NOOP when polling,
// the start of IDLE, and the server's answer to DONE.
func TestIMAPSilentWait(t *testing.T) {
	for _, tc := range []struct {
		name, cmd string
		idle      bool
	}{
		{"noop", "NOOP", false},
		{"idle-start", "IDLE", true},
		{"idle-done", "DONE", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := imapScript{tc.cmd: silent}.start(t)
			cfg := srv.cfg()
			cfg.DisableIdle = !tc.idle
			s, err := Dial(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			err = within(t, 3*time.Second, func(ctx context.Context) error {
				_, err := s.Wait(ctx, 100*time.Millisecond)
				return err
			})
			wantTimeout(t, err, map[string]string{"NOOP": "noop", "IDLE": "idle", "DONE": "idle"}[tc.cmd], srv.Addr)
		})
	}
}

// TestIMAPIdleOutlastsTimeout: IDLE is silent by design; a server that
// says nothing for longer than Timeout while idling is not a failure.
func TestIMAPIdleOutlastsTimeout(t *testing.T) {
	srv := imapScript{}.start(t)
	s, err := Dial(context.Background(), srv.cfg())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	start := time.Now()
	notified, err := s.Wait(context.Background(), 4*srv.cfg().Timeout)
	if err != nil || notified {
		t.Fatalf("Wait = %v, %v; want the poll to end a quiet IDLE without error", notified, err)
	}
	if took := time.Since(start); took < 4*srv.cfg().Timeout {
		t.Errorf("Wait returned after %v, before its poll", took)
	}
	if _, err := s.Scan(context.Background(), Checkpoint{}); err != nil {
		t.Errorf("Scan after the IDLE: %v", err)
	}
}

// TestIMAPWatchReconnectsAfterSilence: Watch treats a scan the server
// stopped answering like a dropped connection: it reports it, backs off,
// reconnects and delivers the mail from the next connection.
func TestIMAPWatchReconnectsAfterSilence(t *testing.T) {
	var first atomic.Bool
	srv := imapScript{"UID FETCH": func(c *scriptConn, tag string) {
		if first.CompareAndSwap(false, true) {
			return // the first connection's FETCH is never answered
		}
		c.answer(tag, "UID FETCH")
	}}.start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var reports []error
	got := make(chan ScanResult, 1)
	opts := WatchOptions{Poll: time.Minute, Backoff: Backoff{Min: time.Millisecond, Max: time.Millisecond},
		Report: func(_ int, err error, _ time.Duration) { reports = append(reports, err) }}
	err := Watch(ctx, srv.cfg(), opts, Checkpoint{}, func(_ context.Context, _ *Scanner, res ScanResult) error {
		got <- res
		return errStopWatch
	})
	if !errors.Is(err, errStopWatch) {
		t.Fatalf("Watch = %v", err)
	}
	if res := <-got; len(res.Candidates) != 2 {
		t.Errorf("delivered %d candidates, want 2", len(res.Candidates))
	}
	if len(reports) != 1 || !errors.Is(reports[0], ErrTimeout) || srv.conns.Load() != 2 {
		t.Errorf("reports %v over %d connections; want one timeout, then a second connection", reports, srv.conns.Load())
	}
}

var errStopWatch = errors.New("test: stop watching")

// TestIMAPWatchRetriesTimedOutHandler: a handler that ran out of its own
// deadline (a pass that took too long) is retried after a reconnection,
// not taken for a fatal error.
func TestIMAPWatchRetriesTimedOutHandler(t *testing.T) {
	srv := imapScript{}.start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	calls, reports := 0, 0
	opts := WatchOptions{Poll: time.Minute, Backoff: Backoff{Min: time.Millisecond, Max: time.Millisecond},
		Report: func(int, error, time.Duration) { reports++ }}
	err := Watch(ctx, srv.cfg(), opts, Checkpoint{}, func(ctx context.Context, _ *Scanner, res ScanResult) error {
		calls++
		if calls == 1 {
			return fmt.Errorf("the pass took too long: %w", context.DeadlineExceeded)
		}
		return errStopWatch
	})
	if !errors.Is(err, errStopWatch) || calls != 2 || reports != 1 || srv.conns.Load() != 2 {
		t.Errorf("Watch = %v after %d calls, %d reports, %d connections; want a retry on a new connection",
			err, calls, reports, srv.conns.Load())
	}
}

// TestIMAPSearchUIDSetBounded: the UID set of a SEARCH answer is the
// server's word. One that names more UIDs than the mailbox holds is
// refused before anything is expanded from it (one "1:4294967294" made
// rtbot expand four billion UIDs), and a legitimate one is walked without
// expanding more than is fetched.
func TestIMAPSearchUIDSetBounded(t *testing.T) {
	var many strings.Builder // 1100 UIDs, in a mailbox of 2 messages
	many.WriteString("* SEARCH")
	for i := 1; i <= 1100; i++ {
		fmt.Fprintf(&many, " %d", i)
	}
	many.WriteString("\r\n")
	for _, tc := range []struct {
		name, reply string
		wantErr     bool
	}{
		{"esearch-lie", "* ESEARCH (TAG \"%s\") UID ALL 1:4294967294\r\n", true},
		{"esearch-ranges-lie", "* ESEARCH (TAG \"%s\") UID ALL 1:5000,9000000\r\n", true},
		{"search-lie", many.String(), true},
		{"esearch-honest", "* ESEARCH (TAG \"%s\") UID ALL 1:2\r\n", false},
		{"search-honest-unordered", "* SEARCH 2 1 2\r\n", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := imapScript{"UID SEARCH": func(c *scriptConn, tag string) {
				c.send("%s%s OK done\r\n", strings.ReplaceAll(tc.reply, "%s", tag), tag)
			}}.start(t)
			var res ScanResult
			err := within(t, 3*time.Second, func(ctx context.Context) (err error) {
				res, err = scanOnce(ctx, srv.cfg(), Checkpoint{})
				return err
			})
			var ie *Error
			switch {
			case tc.wantErr && (!errors.As(err, &ie) || ie.Op != "search" || !strings.Contains(err.Error(), "2 messages")):
				t.Errorf("Scan = %v; want the search answer refused, naming the 2 messages of the mailbox", err)
			case !tc.wantErr && (err != nil || len(res.Candidates) != 2 || res.Matched != 2 || res.Next.LastUID != 2):
				t.Errorf("Scan = %d candidates (matched %d, next %+v), %v; want 2", len(res.Candidates), res.Matched, res.Next, err)
			}
		})
	}
}

// streamTo writes n bytes of junk to c after prefix, stopping when the
// client goes away.
func streamTo(c *scriptConn, prefix string, n int64) {
	c.send("%s", prefix)
	junk := []byte(strings.Repeat("x", 64<<10))
	for n > 0 {
		chunk := junk[:min(int64(len(junk)), n)]
		if c.send("%s", chunk) != nil {
			return
		}
		n -= int64(len(chunk))
	}
}

// TestIMAPHugeLiteralRefused: a body section announced larger than the
// largest mail rtbot reads is refused before any of it is read, however
// much the server is ready to send.
func TestIMAPHugeLiteralRefused(t *testing.T) {
	const huge = 4_000_000_000
	srv := imapScript{"UID FETCH": func(c *scriptConn, tag string) {
		streamTo(c, fmt.Sprintf("* 1 FETCH (UID 1 RFC822.SIZE %d BODY[TEXT]<0> {%d}\r\n", huge, huge), huge)
	}}.start(t)
	err := within(t, 3*time.Second, func(ctx context.Context) error {
		_, err := scanOnce(ctx, srv.cfg(), Checkpoint{})
		return err
	})
	var ie *Error
	if !errors.As(err, &ie) || ie.Op != "fetch" || !errors.Is(err, ErrReplyTooLarge) || !strings.Contains(err.Error(), "4000000000") {
		t.Errorf("Scan = %v; want the 4000000000-byte section refused", err)
	}
	if sent := srv.sent.Load(); sent > 64<<20 {
		t.Errorf("the client read on: the server sent %d bytes", sent)
	}
}

// TestIMAPUnsolicitedFloodRefused: go-imap reads every string the server
// sends into memory; an unsolicited reply with a 256 MiB literal (or a
// line that never ends) is cut off by the reply budget, not read whole.
func TestIMAPUnsolicitedFloodRefused(t *testing.T) {
	const size = 256 << 20
	for name, prefix := range map[string]string{
		"literal": fmt.Sprintf("* LIST () \"/\" {%d}\r\n", size),
		"line":    "* OK ",
	} {
		t.Run(name, func(t *testing.T) {
			srv := imapScript{"EXAMINE": func(c *scriptConn, tag string) { streamTo(c, prefix, size) }}.start(t)
			err := within(t, 10*time.Second, func(ctx context.Context) error {
				_, err := scanOnce(ctx, srv.cfg(), Checkpoint{})
				return err
			})
			var ie *Error
			if !errors.As(err, &ie) || ie.Op != "examine" || !errors.Is(err, ErrReplyTooLarge) {
				t.Errorf("Scan = %v; want the examine refused for its size", err)
			}
			if sent := srv.sent.Load(); sent > 64<<20 {
				t.Errorf("the client read on: the server sent %d bytes", sent)
			}
		})
	}
}

// TestSearchUIDs: the walk over a SEARCH answer's UID set returns the
// first UIDs from the checkpoint on, each once and in order, and counts
// the rest without expanding them.
func TestSearchUIDs(t *testing.T) {
	r := func(a, b imap.UID) imap.UIDRange { return imap.UIDRange{Start: a, Stop: b} }
	for _, tc := range []struct {
		name  string
		set   imap.UIDSet
		from  uint32
		limit int
		want  []uint32
		count uint64
		last  uint32
	}{
		{"empty", nil, 1, 10, nil, 0, 0},
		{"ranges-unordered-overlapping", imap.UIDSet{r(7, 9), r(1, 3), r(2, 8), r(20, 20)}, 1, 100, []uint32{1, 2, 3, 4, 5, 6, 7, 8, 9, 20}, 10, 20},
		{"reversed-range", imap.UIDSet{r(5, 3)}, 1, 10, []uint32{3, 4, 5}, 3, 5},
		{"below-checkpoint-dropped", imap.UIDSet{r(1, 4), r(9, 9)}, 4, 10, []uint32{4, 9}, 2, 9},
		{"highest-below-from", imap.UIDSet{r(3, 3)}, 10, 10, nil, 0, 0},
		{"huge-counted-not-expanded", imap.UIDSet{r(1, 4294967294)}, 1, 3, []uint32{1, 2, 3}, 4294967294, 4294967294},
		{"max-uid", imap.UIDSet{r(4294967295, 4294967295)}, 4294967290, 5, []uint32{4294967295}, 1, 4294967295},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, found, err := searchUIDs(tc.set, tc.from, tc.limit)
			if err != nil || !slices.Equal(got, tc.want) || found.count != tc.count || found.last != tc.last {
				t.Errorf("searchUIDs = %v, %+v, %v; want %v, count %d, last %d", got, found, err, tc.want, tc.count, tc.last)
			}
		})
	}
	if _, _, err := searchUIDs(imap.UIDSet{r(5, 0)}, 1, 10); err == nil {
		t.Error("a dynamic set (n:*) was accepted")
	}
}
