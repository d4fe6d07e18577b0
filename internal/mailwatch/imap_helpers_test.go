package mailwatch

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rtbot/rtbot/internal/fixtures"
	"github.com/rtbot/rtbot/internal/testkit"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// imapFixtureDir holds the real list mails the repository carries.
var imapFixtureDir = testkit.MailsDir()

// imapTestMail is one message to load into a test mailbox.
type imapTestMail struct {
	Name      string // fixture file or generated id
	MessageID string // without angle brackets
	Subject   string
	Raw       []byte // CRLF line endings
	Want      bool   // the scan must return it (its subject looks like an announcement)
}

// imapCRLF converts LF line endings to CRLF, as IMAP APPEND wants.
func imapCRLF(b []byte) []byte {
	b = bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n"))
	return bytes.ReplaceAll(b, []byte("\n"), []byte("\r\n"))
}

// imapFromFixture converts a fixtures.ListMail for IMAP APPEND.
func imapFromFixture(m fixtures.ListMail) imapTestMail {
	return imapTestMail{Name: m.ID, MessageID: m.MessageID, Subject: m.Subject, Raw: imapCRLF(m.Raw), Want: m.Announcement}
}

// imapFixtureMails loads the real mails. stable-* and rt-* are announcements or
// review covers; reply-* and not-* must not be downloaded.
func imapFixtureMails(t testing.TB) []imapTestMail {
	t.Helper()
	ms, err := fixtures.LoadMails(imapFixtureDir)
	if err != nil {
		t.Fatalf("fixture mails: %v", err)
	}
	out := make([]imapTestMail, 0, len(ms))
	for _, m := range ms {
		out = append(out, imapFromFixture(m))
	}
	return out
}

// imapGenMail builds one synthetic list mail (see fixtures.GenMail).
func imapGenMail(id, subject, inReplyTo string, bodyLines int, want bool) imapTestMail {
	return imapFromFixture(fixtures.GenMail(id, subject, inReplyTo, bodyLines, want))
}

// imapListMails generates n ordinary list mails (see fixtures.ListMails).
func imapListMails(n int) []imapTestMail {
	gen := fixtures.ListMails(n)
	out := make([]imapTestMail, 0, len(gen))
	for _, m := range gen {
		out = append(out, imapFromFixture(m))
	}
	return out
}

// imapInterleave spreads the fixtures through the generated mails.
func imapInterleave(gen, real []imapTestMail) []imapTestMail { return fixtures.Interleave(gen, real) }

// startIMAPMemServer starts fixtures' in-process IMAP server for the user
// "rtbot", with an empty INBOX, logging to t. tlsCfg, when not nil, enables
// STARTTLS; implicitTLS serves TLS from the first byte instead.
func startIMAPMemServer(t testing.TB, tlsCfg *tls.Config, implicitTLS bool) *fixtures.IMAPServer {
	t.Helper()
	srv, err := fixtures.StartIMAPServer(fixtures.IMAPOptions{
		User: "rtbot", Password: "s3cret pass", TLS: tlsCfg, StartTLS: !implicitTLS, Logf: t.Logf,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

// imapWireStats counts what crosses a proxied connection.
type imapWireStats struct {
	mu       sync.Mutex
	commands []string // client commands in order: "EXAMINE", "UID SEARCH", ...
	lines    []string // the command lines themselves (LOGIN redacted)
	down     atomic.Int64
	up       atomic.Int64
}

// Reset forgets everything counted so far.
func (w *imapWireStats) Reset() {
	w.mu.Lock()
	w.commands, w.lines = nil, nil
	w.mu.Unlock()
	w.down.Store(0)
	w.up.Store(0)
}

// Commands returns the client commands seen since the last Reset.
func (w *imapWireStats) Commands() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.commands)
}

// Lines returns the client command lines seen since the last Reset.
func (w *imapWireStats) Lines() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.lines)
}

// Count returns how many times cmd was sent since the last Reset.
func (w *imapWireStats) Count(cmd string) int {
	n := 0
	for _, c := range w.Commands() {
		if c == cmd {
			n++
		}
	}
	return n
}

var imapLiteralRE = regexp.MustCompile(`\{(\d+)\+?\}$`)

// imapCommandWriter parses the client→server stream as it is written and
// records each command, before the bytes are forwarded to the server.
type imapCommandWriter struct {
	w       *imapWireStats
	buf     []byte
	literal int    // raw literal bytes still to skip
	line    string // command line collected so far (across literals)
}

func (cw *imapCommandWriter) Write(b []byte) (int, error) {
	cw.buf = append(cw.buf, b...)
	for {
		if cw.literal > 0 {
			n := min(cw.literal, len(cw.buf))
			cw.buf = cw.buf[n:]
			cw.literal -= n
			if cw.literal > 0 {
				return len(b), nil
			}
			cw.line += " <literal>"
		}
		i := bytes.IndexByte(cw.buf, '\n')
		if i < 0 {
			return len(b), nil
		}
		part := strings.TrimRight(string(cw.buf[:i]), "\r\n")
		cw.buf = cw.buf[i+1:]
		cw.line += part
		if m := imapLiteralRE.FindStringSubmatch(part); m != nil {
			cw.literal, _ = strconv.Atoi(m[1])
			continue
		}
		cw.w.record(cw.line)
		cw.line = ""
	}
}

// record notes one complete command line.
func (w *imapWireStats) record(full string) {
	f := strings.Fields(full)
	if len(f) < 2 {
		return // DONE ending IDLE, continuation answers
	}
	name := strings.ToUpper(f[1])
	if name == "UID" && len(f) > 2 {
		name += " " + strings.ToUpper(f[2])
	}
	if name == "LOGIN" || name == "AUTHENTICATE" {
		full = f[0] + " " + name + " <redacted>"
	}
	w.mu.Lock()
	w.commands = append(w.commands, name)
	w.lines = append(w.lines, full)
	w.mu.Unlock()
}

// imapProxy is a loopback TCP proxy that counts the commands the scanner sends
// and the bytes the server returns, and can cut every connection.
type imapProxy struct {
	Addr  string
	Stats imapWireStats
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

func startIMAPProxy(t testing.TB, target string) *imapProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &imapProxy{Addr: ln.Addr().String(), ln: ln}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, s)
			p.mu.Unlock()
			go func() {
				// Record each command before the server can answer it.
				io.Copy(io.MultiWriter(&imapCommandWriter{w: &p.Stats}, imapCountWriter{s, &p.Stats.up}), c)
				s.Close()
			}()
			go func() {
				io.Copy(imapCountWriter{c, &p.Stats.down}, s)
				c.Close()
			}()
		}
	}()
	t.Cleanup(func() { ln.Close(); p.DropAll() })
	return p
}

type imapCountWriter struct {
	w io.Writer
	n *atomic.Int64
}

func (c imapCountWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n.Add(int64(n))
	return n, err
}

// DropAll cuts every proxied connection, as a network failure would.
func (p *imapProxy) DropAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// imapAdmin is a second client that loads and inspects the server behind the
// scanner's back.
type imapAdmin struct {
	t testing.TB
	c *imapclient.Client
}

func dialIMAPAdmin(t testing.TB, addr, user, pass string) *imapAdmin {
	t.Helper()
	c, err := imapclient.DialInsecure(addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Login(user, pass).Wait(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Logout().Wait(); c.Close() })
	return &imapAdmin{t: t, c: c}
}

// with returns the same connection reporting failures to t (a subtest).
func (a *imapAdmin) with(t testing.TB) *imapAdmin { return &imapAdmin{t: t, c: a.c} }

// Create makes an empty mailbox, deleting any old one of that name.
func (a *imapAdmin) Create(name string) {
	a.t.Helper()
	a.c.Unselect().Wait()
	a.c.Delete(name).Wait() // may not exist
	if err := a.c.Create(name, nil).Wait(); err != nil {
		a.t.Fatalf("create %s: %v", name, err)
	}
}

// Delete removes a mailbox.
func (a *imapAdmin) Delete(name string) {
	a.t.Helper()
	a.c.Unselect().Wait()
	if err := a.c.Delete(name).Wait(); err != nil {
		a.t.Fatalf("delete %s: %v", name, err)
	}
}

// Append stores mails in order and returns their UIDs.
func (a *imapAdmin) Append(mailbox string, mails ...imapTestMail) []uint32 {
	a.t.Helper()
	uids := make([]uint32, len(mails))
	for i, m := range mails {
		cmd := a.c.Append(mailbox, int64(len(m.Raw)), nil)
		if _, err := cmd.Write(m.Raw); err != nil {
			a.t.Fatalf("append %s: %v", m.Name, err)
		}
		if err := cmd.Close(); err != nil {
			a.t.Fatalf("append %s: %v", m.Name, err)
		}
		data, err := cmd.Wait()
		if err != nil {
			a.t.Fatalf("append %s: %v", m.Name, err)
		}
		uids[i] = uint32(data.UID)
	}
	if slices.Contains(uids, 0) {
		// No UIDPLUS: look the UIDs up by Message-ID.
		for i, m := range mails {
			uids[i] = a.UIDOf(mailbox, m.MessageID)
		}
	}
	return uids
}

// UIDOf finds a message by Message-ID.
func (a *imapAdmin) UIDOf(mailbox, msgID string) uint32 {
	a.t.Helper()
	if _, err := a.c.Select(mailbox, &imap.SelectOptions{ReadOnly: true}).Wait(); err != nil {
		a.t.Fatal(err)
	}
	data, err := a.c.UIDSearch(&imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: "Message-ID", Value: msgID}}}, nil).Wait()
	if err != nil {
		a.t.Fatal(err)
	}
	uids := data.AllUIDs()
	if len(uids) != 1 {
		a.t.Fatalf("Message-ID %s: %d matches", msgID, len(uids))
	}
	return uint32(uids[0])
}

// Flags returns the flags of every message in the mailbox, by UID.
func (a *imapAdmin) Flags(mailbox string) map[uint32][]imap.Flag {
	a.t.Helper()
	sel, err := a.c.Select(mailbox, &imap.SelectOptions{ReadOnly: true}).Wait()
	if err != nil {
		a.t.Fatal(err)
	}
	if sel.NumMessages == 0 {
		return map[uint32][]imap.Flag{}
	}
	msgs, err := a.c.Fetch(imap.SeqSet{{Start: 1, Stop: 0}}, &imap.FetchOptions{UID: true, Flags: true}).Collect()
	if err != nil {
		a.t.Fatal(err)
	}
	out := make(map[uint32][]imap.Flag, len(msgs))
	for _, m := range msgs {
		out[uint32(m.UID)] = m.Flags
	}
	return out
}

// Expunge deletes messages for good.
func (a *imapAdmin) Expunge(mailbox string, uids ...uint32) {
	a.t.Helper()
	if _, err := a.c.Select(mailbox, nil).Wait(); err != nil {
		a.t.Fatal(err)
	}
	var set imap.UIDSet
	for _, u := range uids {
		set.AddNum(imap.UID(u))
	}
	if err := a.c.Store(set, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close(); err != nil {
		a.t.Fatal(err)
	}
	if err := a.c.UIDExpunge(set).Close(); err != nil {
		a.t.Fatal(err)
	}
	a.c.Unselect().Wait()
}

// UIDValidity returns the mailbox's UIDVALIDITY.
func (a *imapAdmin) UIDValidity(mailbox string) uint32 {
	a.t.Helper()
	data, err := a.c.Status(mailbox, &imap.StatusOptions{UIDValidity: true}).Wait()
	if err != nil {
		a.t.Fatal(err)
	}
	return data.UIDValidity
}

// stopWatch cancels Watch's context and checks that Watch, sending its
// result to watchErr, returns context.Canceled soon.
func stopWatch(t *testing.T, cancel context.CancelFunc, watchErr <-chan error) {
	t.Helper()
	cancel()
	select {
	case err := <-watchErr:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Watch = %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Watch did not return after cancel")
	}
}
