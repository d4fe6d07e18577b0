package mailout

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/mail"
	"net/textproto"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	gomail "github.com/emersion/go-message/mail"
	"github.com/emersion/go-smtp"
	"github.com/rtbot/rtbot/internal/fixtures"
	"github.com/rtbot/rtbot/internal/testkit"
)

// report is a typical triage report: UTF-8 subject and body, a line far
// longer than SMTP allows, threaded under an announcement.
func report() *Message {
	return &Message{
		From:      "rtbot <rtbot@example.org>",
		To:        []string{"RT Maintainer <rt@example.org>", "Zoë Ü <zoe@example.org>"},
		Cc:        []string{"RT@example.org", "list@example.org"},
		Subject:   "[rtbot] 6.1-rt on 6.1.177-rc1: 2 of 67 patches need attention — Grüße",
		Body:      "0040 arch/arm/mm/fault.c:526 conflict\n" + strings.Repeat("long line ", 200) + "\ntrailing space \n.\nÜmlaut ✓\n",
		MessageID: MessageID("example.org", "report", "6.1-rt"),
		InReplyTo: "20260101.cover@linuxfoundation.org",
		Headers:   map[string]string{"X-Rtbot-Tree": "6.1-rt", "X-Rtbot-Candidate": "6.1.177-rc1"},
	}
}

// parse reads a message back with go-message: header and body with "\n"
// line ends.
func parse(t testing.TB, data []byte) (gomail.Header, string) {
	t.Helper()
	mr, err := gomail.CreateReader(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("parse %q: %v", data, err)
	}
	p, err := mr.NextPart()
	if err != nil {
		t.Fatalf("parse %q: %v", data, err)
	}
	b, err := io.ReadAll(p.Body)
	if err != nil {
		t.Fatalf("parse %q: %v", data, err)
	}
	return mr.Header, strings.ReplaceAll(string(b), "\r\n", "\n")
}

func start(t *testing.T, opts fixtures.SMTPOptions) *fixtures.SMTPServer {
	t.Helper()
	s, err := fixtures.StartSMTP(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestSend(t *testing.T) {
	srvTLS, roots := testkit.SelfSignedTLS(t, "127.0.0.1")
	trust := &tls.Config{RootCAs: roots}
	for _, tc := range []struct {
		name string
		opts fixtures.SMTPOptions
		srv  Server
	}{
		{"plain loopback", fixtures.SMTPOptions{}, Server{TLS: "plain"}},
		{"plain loopback with auth", fixtures.SMTPOptions{Username: "bot", Password: "pw"}, Server{TLS: "plain", Username: "bot", Password: "pw"}},
		{"starttls", fixtures.SMTPOptions{TLSConfig: srvTLS}, Server{TLS: "starttls", TLSConfig: trust}},
		{"starttls with auth", fixtures.SMTPOptions{TLSConfig: srvTLS, Username: "bot", Password: "pä ss"},
			Server{TLS: "starttls", Username: "bot", Password: "pä ss", TLSConfig: trust, LocalName: "rtbot.example.org"}},
		{"implicit tls", fixtures.SMTPOptions{TLSConfig: srvTLS, ImplicitTLS: true}, Server{TLSConfig: trust}},
		{"implicit tls with auth", fixtures.SMTPOptions{TLSConfig: srvTLS, ImplicitTLS: true, Username: "bot", Password: "pw"},
			Server{TLS: "tls", Username: "bot", Password: "pw", TLSConfig: trust, Timeout: 5 * time.Second}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			smtpd := start(t, tc.opts)
			tc.srv.Addr = smtpd.Addr
			m := report()
			if err := Send(context.Background(), tc.srv, m, Hooks{}); err != nil {
				t.Fatal(err)
			}
			got := smtpd.Messages()
			if len(got) != 1 {
				t.Fatalf("%d messages received, want 1", len(got))
			}
			// The envelope: To then Cc, RT@example.org only once.
			wantRcpt := []string{"rt@example.org", "zoe@example.org", "list@example.org"}
			if got[0].From != "rtbot@example.org" || !slices.Equal(got[0].To, wantRcpt) {
				t.Errorf("envelope from %q to %q, want rtbot@example.org to %q", got[0].From, got[0].To, wantRcpt)
			}
			h, body := parse(t, got[0].Data)
			subject, err := h.Subject()
			if err != nil || subject != m.Subject {
				t.Errorf("Subject %q, %v; want %q", subject, err, m.Subject)
			}
			if body != m.Body {
				t.Errorf("body\n%q\nwant\n%q", body, m.Body)
			}
			if id, err := h.MessageID(); err != nil || id != m.MessageID {
				t.Errorf("Message-ID %q, %v; want %q", id, err, m.MessageID)
			}
			if irt, err := h.MsgIDList("In-Reply-To"); err != nil || !slices.Equal(irt, []string{m.InReplyTo}) {
				t.Errorf("In-Reply-To %q, %v", irt, err)
			}
			if refs, err := h.MsgIDList("References"); err != nil || !slices.Equal(refs, []string{m.InReplyTo}) {
				t.Errorf("References %q, %v", refs, err)
			}
			if to, err := h.AddressList("To"); err != nil || len(to) != 2 || to[1].Name != "Zoë Ü" || to[1].Address != "zoe@example.org" {
				t.Errorf("To %v, %v", to, err)
			}
			if h.Get("X-Rtbot-Tree") != "6.1-rt" || h.Get("X-Rtbot-Candidate") != "6.1.177-rc1" {
				t.Errorf("extra headers lost: %q", got[0].Data)
			}
			// Header lines stay within RFC 5322's limit, body lines
			// within quoted-printable's.
			head, text, _ := strings.Cut(string(got[0].Data), "\r\n\r\n")
			for _, line := range strings.Split(head, "\r\n") {
				if len(line) > 998 {
					t.Errorf("a header line of %d bytes went out: %q", len(line), line)
				}
			}
			for _, line := range strings.Split(text, "\r\n") {
				if len(line) > 76 {
					t.Errorf("a body line of %d bytes went out: %q", len(line), line)
				}
			}
		})
	}
}

func TestSendFailures(t *testing.T) {
	srvTLS, roots := testkit.SelfSignedTLS(t, "127.0.0.1")
	other, _ := testkit.SelfSignedTLS(t, "127.0.0.1")
	trust := &tls.Config{RootCAs: roots}
	for _, tc := range []struct {
		name      string
		opts      fixtures.SMTPOptions
		fail      func(*fixtures.SMTPServer)
		srv       Server
		stage     string
		code      int
		temporary bool
		text      string // in Error()
	}{
		{name: "wrong password", opts: fixtures.SMTPOptions{Username: "bot", Password: "pw"},
			srv: Server{TLS: "plain", Username: "bot", Password: "wrong"}, stage: "auth", code: 535, text: ": auth: 535 5.7.8 authentication failed"},
		{name: "auth required", opts: fixtures.SMTPOptions{Username: "bot", Password: "pw"},
			srv: Server{TLS: "plain"}, stage: "mail", code: 502},
		{name: "auth not offered", srv: Server{TLS: "plain", Username: "bot", Password: "pw"}, stage: "auth", text: "does not offer AUTH PLAIN"},
		{name: "mail 421", fail: func(s *fixtures.SMTPServer) { s.FailNext("mail", 421, 1) },
			srv: Server{TLS: "plain"}, stage: "mail", code: 421, temporary: true},
		{name: "rcpt 451", fail: func(s *fixtures.SMTPServer) { s.FailNext("rcpt", 451, 1) },
			srv: Server{TLS: "plain"}, stage: "rcpt", code: 451, temporary: true, text: ": rcpt <rt@example.org>: 451 4.0.0 injected failure at rcpt"},
		{name: "rcpt 550 for all", fail: func(s *fixtures.SMTPServer) { s.FailNext("rcpt", 550, 10) },
			srv: Server{TLS: "plain"}, stage: "rcpt", code: 550},
		{name: "data 550", fail: func(s *fixtures.SMTPServer) { s.FailNext("data", 550, 1) },
			srv: Server{TLS: "plain"}, stage: "commit", code: 550, text: "550 5.0.0 injected failure at data"},
		{name: "data 452", fail: func(s *fixtures.SMTPServer) { s.FailNext("data", 452, 1) },
			srv: Server{TLS: "plain"}, stage: "commit", code: 452, temporary: true},
		{name: "starttls not offered", srv: Server{TLS: "starttls", TLSConfig: trust}, stage: "tls", text: "STARTTLS"},
		{name: "starttls untrusted", opts: fixtures.SMTPOptions{TLSConfig: other}, srv: Server{TLS: "starttls", TLSConfig: trust}, stage: "tls", text: "certificate"},
		{name: "tls untrusted", opts: fixtures.SMTPOptions{TLSConfig: other, ImplicitTLS: true}, srv: Server{TLS: "tls", TLSConfig: trust}, stage: "tls", text: "certificate"},
		{name: "tls to a plain server", srv: Server{TLS: "tls", TLSConfig: trust}, stage: "tls"},
		{name: "tls name mismatch", opts: fixtures.SMTPOptions{TLSConfig: srvTLS, ImplicitTLS: true},
			srv: Server{TLS: "tls", TLSConfig: &tls.Config{RootCAs: roots, ServerName: "mail.example.org"}}, stage: "tls", text: "mail.example.org"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			smtpd := start(t, tc.opts)
			if tc.fail != nil {
				tc.fail(smtpd)
			}
			tc.srv.Addr = smtpd.Addr
			tc.srv.Timeout = 5 * time.Second
			err := Send(context.Background(), tc.srv, report(), Hooks{})
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Send = %v, want an *Error", err)
			}
			if e.Stage != tc.stage || e.Code != tc.code || e.Temporary != tc.temporary || IsTemporary(err) != tc.temporary {
				t.Errorf("Send = %v: stage %q code %d temporary %v; want %q %d %v", err, e.Stage, e.Code, e.Temporary, tc.stage, tc.code, tc.temporary)
			}
			if !strings.HasPrefix(err.Error(), "smtp "+smtpd.Addr+": "+tc.stage) || !strings.Contains(err.Error(), tc.text) {
				t.Errorf("Error() = %q, want it to start with the server and stage and contain %q", err, tc.text)
			}
			if n := len(smtpd.Messages()); n != 0 {
				t.Errorf("%d message(s) delivered despite the failure", n)
			}
			if MayHaveBeenSent(err) {
				t.Errorf("Send = %v: a reply came, yet MayHaveBeenSent", err)
			}
		})
	}
}

// TestMayHaveBeenSent: a connection dropped after the final dot and before
// the reply leaves the outcome unknown, whether or not the server kept
// the message.
func TestMayHaveBeenSent(t *testing.T) {
	for _, keep := range []bool{true, false} {
		smtpd := start(t, fixtures.SMTPOptions{})
		smtpd.DropNext(1, keep)
		err := Send(context.Background(), Server{Addr: smtpd.Addr, TLS: "plain", Timeout: 5 * time.Second}, report(), Hooks{})
		if !MayHaveBeenSent(err) {
			t.Errorf("keep=%v: Send = %v; want an error that may have been sent", keep, err)
		}
		if n := len(smtpd.Messages()); n != map[bool]int{true: 1, false: 0}[keep] {
			t.Errorf("keep=%v: the server has %d message(s)", keep, n)
		}
	}
}

func TestSendRefusesBeforeDialing(t *testing.T) {
	for _, tc := range []struct {
		srv  Server
		text string
	}{
		{Server{Addr: "192.0.2.1:25", TLS: "plain"}, "loopback"},
		{Server{Addr: "mail.example.org:25", TLS: "plain"}, "loopback"},
		{Server{Addr: "[2001:db8::1]:25", TLS: "plain"}, "loopback"},
		{Server{Addr: "192.0.2.1:25", TLS: "ssl"}, "unknown TLS mode"},
		{Server{Addr: "192.0.2.1", TLS: "tls"}, "address"},
	} {
		start := time.Now()
		err := Send(context.Background(), tc.srv, report(), Hooks{})
		var e *Error
		if !errors.As(err, &e) || e.Stage != "dial" || IsTemporary(err) || !strings.Contains(err.Error(), tc.text) {
			t.Errorf("%+v: Send = %v, want a permanent dial error about %s", tc.srv, err, tc.text)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("%+v: took %v: it dialed", tc.srv, d)
		}
	}
	// Loopback names are fine for plain: these fail at connecting, not before.
	for _, addr := range []string{"localhost:1", "127.0.0.1:1", "[::1]:1"} {
		err := Send(context.Background(), Server{Addr: addr, TLS: "plain", Timeout: 2 * time.Second}, report(), Hooks{})
		var e *Error
		if !errors.As(err, &e) || e.Stage != "dial" || !IsTemporary(err) || strings.Contains(err.Error(), "loopback") {
			t.Errorf("%s: Send = %v, want a temporary connection failure", addr, err)
		}
	}
	// A message Bytes refuses is not an *Error.
	m := report()
	m.Subject = "a\r\nBcc: x@example.org"
	err := Send(context.Background(), Server{Addr: "127.0.0.1:1", TLS: "plain"}, m, Hooks{})
	var e *Error
	if err == nil || errors.As(err, &e) || IsTemporary(err) || !strings.Contains(err.Error(), "Subject") {
		t.Errorf("bad message: Send = %v", err)
	}
}

// silent accepts connections and never says anything.
func silent(t *testing.T) string {
	t.Helper()
	return testkit.Serve(t, func(c net.Conn) { t.Cleanup(func() { c.Close() }) })
}

func TestSendContextAndTimeout(t *testing.T) {
	addr := silent(t)
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	for _, tc := range []struct {
		name    string
		ctx     func() (context.Context, context.CancelFunc)
		timeout time.Duration
		is      error // errors.Is(err, is), when not nil
	}{
		{"cancelled before", func() (context.Context, context.CancelFunc) { return cancelled, func() {} }, 0, context.Canceled},
		{"cancelled while waiting", func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(100*time.Millisecond, cancel)
			return ctx, cancel
		}, 0, context.Canceled},
		{"context deadline", func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 150*time.Millisecond)
		}, 0, context.DeadlineExceeded},
		{"Server.Timeout", func() (context.Context, context.CancelFunc) { return context.Background(), func() {} }, 150 * time.Millisecond, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := tc.ctx()
			defer cancel()
			start := time.Now()
			err := Send(ctx, Server{Addr: addr, TLS: "plain", Timeout: tc.timeout}, report(), Hooks{})
			if d := time.Since(start); d > 3*time.Second {
				t.Errorf("Send returned after %v", d)
			}
			var e *Error
			if !errors.As(err, &e) || !e.Temporary {
				t.Fatalf("Send = %v, want a temporary *Error", err)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("Send = %v, want it to wrap %v", err, tc.is)
			}
		})
	}
}

func TestSendBeforeCommit(t *testing.T) {
	smtpd := start(t, fixtures.SMTPOptions{})
	srv := Server{Addr: smtpd.Addr, TLS: "plain"}
	boom := errors.New("crash before commit")
	calls := 0
	err := Send(context.Background(), srv, report(), Hooks{BeforeCommit: func() error { calls++; return boom }})
	if !errors.Is(err, boom) || calls != 1 || IsTemporary(err) {
		t.Fatalf("Send = %v after %d BeforeCommit calls; want it to wrap %v", err, calls, boom)
	}
	// A hook that passes: the message is not there when it runs, and is
	// there after Send.
	var during int
	m := report()
	m.Subject = "second"
	err = Send(context.Background(), srv, m, Hooks{BeforeCommit: func() error {
		calls++
		during = len(smtpd.Messages())
		time.Sleep(50 * time.Millisecond)
		return nil
	}})
	if err != nil || calls != 2 || during != 0 {
		t.Fatalf("Send = %v, BeforeCommit calls %d, messages during the hook %d", err, calls, during)
	}
	// Give the aborted session time to finish before counting.
	time.Sleep(100 * time.Millisecond)
	got := smtpd.Messages()
	if len(got) != 1 {
		t.Fatalf("server stored %d messages, want only the committed one", len(got))
	}
	if h, _ := parse(t, got[0].Data); h.Get("Subject") != "second" {
		t.Errorf("stored %q, want the second message", got[0].Data)
	}
}

func TestErrorAndIsTemporary(t *testing.T) {
	e := &Error{Addr: "127.0.0.1:2525", Stage: "rcpt", Rcpt: "a@b", Code: 550,
		Err: &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}}
	if got, want := e.Error(), "smtp 127.0.0.1:2525: rcpt <a@b>: 550 5.1.1 no such user"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	for _, tc := range []struct {
		err       error
		temporary bool
	}{
		{&smtp.SMTPError{Code: 421}, true},
		{&smtp.SMTPError{Code: 451}, true},
		{&smtp.SMTPError{Code: 454, Message: "temporary authentication failure"}, true},
		{&smtp.SMTPError{Code: 535}, false},
		{&smtp.SMTPError{Code: 554}, false},
		{fmt.Errorf("greeting: %w", &smtp.SMTPError{Code: 554}), false},
		{io.EOF, true},
		{io.ErrUnexpectedEOF, true},
		{&net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}, true},
		{&tls.CertificateVerificationError{Err: errors.New("unknown authority")}, false},
		{errors.New("smtp: server doesn't support STARTTLS"), false},
	} {
		c := classify("h:25", "mail", tc.err)
		if c.Temporary != tc.temporary || IsTemporary(fmt.Errorf("report: %w", c)) != tc.temporary {
			t.Errorf("classify(%v): temporary %v, want %v", tc.err, c.Temporary, tc.temporary)
		}
		if !errors.Is(c, tc.err) {
			t.Errorf("classify(%v) does not unwrap to it", tc.err)
		}
	}
	if IsTemporary(io.EOF) || IsTemporary(nil) {
		t.Error("IsTemporary is true for something that is not an *Error")
	}
}

func TestBytesRejects(t *testing.T) {
	for _, tc := range []struct {
		name, header string
		edit         func(*Message)
	}{
		{"subject CRLF", "Subject", func(m *Message) { m.Subject = "ok\r\nBcc: victim@example.org" }},
		{"subject LF", "Subject", func(m *Message) { m.Subject = "ok\nBcc: victim@example.org" }},
		{"subject CR", "Subject", func(m *Message) { m.Subject = "ok\rBcc: victim@example.org" }},
		{"subject NUL", "Subject", func(m *Message) { m.Subject = "ok\x00" }},
		{"subject ESC", "Subject", func(m *Message) { m.Subject = "ok\x1b[31mred" }},
		{"subject C1 NEL", "Subject", func(m *Message) { m.Subject = "ok\u0085next" }},
		{"subject not UTF-8", "Subject", func(m *Message) { m.Subject = "ok\xff" }},
		{"subject encoded word", "Subject", func(m *Message) { m.Subject = "=?utf-8?q?Bcc=3A_x?=" }},
		{"subject too long", "Subject", func(m *Message) { m.Subject = strings.Repeat("x", 901) }},
		{"message-id injection", "Message-ID", func(m *Message) { m.MessageID = "a@b>\r\nBcc: x@y" }},
		{"message-id brackets", "Message-ID", func(m *Message) { m.MessageID = "<a@b>" }},
		{"message-id missing", "Message-ID", func(m *Message) { m.MessageID = "" }},
		{"message-id no domain", "Message-ID", func(m *Message) { m.MessageID = "abc" }},
		{"message-id two @", "Message-ID", func(m *Message) { m.MessageID = "a@b@c" }},
		{"message-id non-ASCII", "Message-ID", func(m *Message) { m.MessageID = "ä@b" }},
		{"in-reply-to space", "In-Reply-To", func(m *Message) { m.InReplyTo = "a b@c" }},
		{"in-reply-to bracket", "In-Reply-To", func(m *Message) { m.InReplyTo = "a@b>" }},
		{"in-reply-to tab", "In-Reply-To", func(m *Message) { m.InReplyTo = "a\t@b" }},
		{"references brackets", "References", func(m *Message) { m.References = []string{"ok@x", "<x@y>"} }},
		{"references newline", "References", func(m *Message) { m.References = []string{"x@y\nBcc: a@b"} }},
		{"to newline", "To", func(m *Message) { m.To = []string{"a@b.org\nBcc: c@d.org"} }},
		{"to two in one", "To", func(m *Message) { m.To = []string{"a@b.org, c@d.org"} }},
		{"to unparsable", "To", func(m *Message) { m.To = []string{"a@"} }},
		{"to quoted space", "To", func(m *Message) { m.To = []string{`"a b"@example.org`} }},
		{"to none", "To", func(m *Message) { m.To = nil }},
		{"cc unparsable", "Cc", func(m *Message) { m.Cc = []string{"not an address"} }},
		{"from unparsable", "From", func(m *Message) { m.From = "not an address" }},
		{"from empty", "From", func(m *Message) { m.From = "" }},
		{"from name with encoded CR", "From", func(m *Message) { m.From = "=?utf-8?q?a=0D=0ABcc:_x?= <a@example.org>" }},
		{"extra not X-", "Bcc", func(m *Message) { m.Headers = map[string]string{"Bcc": "x@y"} }},
		{"extra bare X-", "X-", func(m *Message) { m.Headers = map[string]string{"X-": "v"} }},
		{"extra colon", "X-A:B", func(m *Message) { m.Headers = map[string]string{"X-A:B": "v"} }},
		{"extra space", "X-A B", func(m *Message) { m.Headers = map[string]string{"X-A B": "v"} }},
		{"extra newline name", "X-A\\r\\nBcc", func(m *Message) { m.Headers = map[string]string{"X-A\r\nBcc": "v"} }},
		{"extra non-ASCII name", "X-Tr", func(m *Message) { m.Headers = map[string]string{"X-Träe": "v"} }},
		{"extra value CRLF", "X-Rtbot-Tree", func(m *Message) { m.Headers = map[string]string{"X-Rtbot-Tree": "a\r\nBcc: x@y"} }},
		{"extra twice", "X-Rtbot-Tree", func(m *Message) { m.Headers = map[string]string{"X-Rtbot-Tree": "a", "X-RTBOT-TREE": "b"} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := report()
			tc.edit(m)
			b, err := m.Bytes()
			if err == nil || !strings.Contains(err.Error(), tc.header) {
				t.Fatalf("Bytes = %q, %v; want an error naming %s", b, err, tc.header)
			}
		})
	}
}

func TestBytes(t *testing.T) {
	date := time.Date(2026, 11, 22, 7, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name      string
		edit      func(*Message)
		refs      []string
		noHeaders []string // header names that must be absent
	}{
		{"in-reply-to appended", func(m *Message) { m.References = []string{"first@x", "second@x"} }, []string{"first@x", "second@x", "20260101.cover@linuxfoundation.org"}, nil},
		{"in-reply-to already there", func(m *Message) {
			m.References = []string{"20260101.cover@linuxfoundation.org", "later@x"}
		}, []string{"20260101.cover@linuxfoundation.org", "later@x"}, nil},
		{"no thread, no cc", func(m *Message) { m.InReplyTo, m.Cc = "", nil }, nil, []string{"In-Reply-To", "References", "Cc"}},
		{"domain literal", func(m *Message) { m.InReplyTo = "x.y@[127.0.0.1]" }, []string{"x.y@[127.0.0.1]"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := report()
			m.Date = date
			tc.edit(m)
			b, err := m.Bytes()
			if err != nil {
				t.Fatal(err)
			}
			for i, c := range b {
				if c >= 0x80 || c == 0 || (c == '\n') != (i > 0 && b[i-1] == '\r') || c == '\r' && (i+1 == len(b) || b[i+1] != '\n') {
					t.Fatalf("byte %d (%q) of %q: not 7-bit text with CRLF line ends", i, c, b)
				}
			}
			h, body := parse(t, b)
			if refs, err := h.MsgIDList("References"); err != nil || !slices.Equal(refs, tc.refs) {
				t.Errorf("References %q, %v; want %q", refs, err, tc.refs)
			}
			for _, k := range tc.noHeaders {
				if h.Has(k) {
					t.Errorf("header %s is present: %q", k, h.Get(k))
				}
			}
			if d, err := h.Date(); err != nil || !d.Equal(date) {
				t.Errorf("Date %v, %v; want %v", d, err, date)
			}
			for k, want := range map[string]string{
				"MIME-Version":              "1.0",
				"Content-Type":              "text/plain; charset=utf-8",
				"Content-Transfer-Encoding": "quoted-printable",
			} {
				if got := h.Get(k); got != want {
					t.Errorf("%s: %q, want %q", k, got, want)
				}
			}
			if raw := h.Get("Subject"); !strings.Contains(raw, "=?utf-8?") {
				t.Errorf("non-ASCII Subject not RFC 2047 encoded: %q", raw)
			}
			if s, _ := h.Subject(); s != m.Subject {
				t.Errorf("Subject %q, want %q", s, m.Subject)
			}
			if body != m.Body {
				t.Errorf("body %q, want %q", body, m.Body)
			}
		})
	}
}

func TestBytesNormalizes(t *testing.T) {
	for _, tc := range []struct{ subject, wantSubject, body, wantBody string }{
		{"  two  spaces\tand tab ", "two spaces and tab", "a\r\nb\rc\n", "a\nb\nc\n"},
		{"ascii", "ascii", "no final newline", "no final newline\n"},
		{"x", "x", "", ""},
		{"Grüße  ✓", "Grüße ✓", "latin-1 \xe9 byte\n", "latin-1 \uFFFD byte\n"},
		{"", "", "\x00nul and =3D and .\n.\n", "\x00nul and =3D and .\n.\n"},
	} {
		m := report()
		m.Subject, m.Body = tc.subject, tc.body
		b, err := m.Bytes()
		if err != nil {
			t.Fatalf("%q: %v", tc.subject, err)
		}
		h, body := parse(t, b)
		if s, _ := h.Subject(); s != tc.wantSubject || body != tc.wantBody {
			t.Errorf("subject %q body %q: got %q and %q, want %q and %q", tc.subject, tc.body, s, body, tc.wantSubject, tc.wantBody)
		}
	}
}

func TestMessageID(t *testing.T) {
	a := MessageID("example.org", "ab", "c")
	if a != MessageID("example.org", "ab", "c") {
		t.Error("MessageID is not deterministic")
	}
	if !regexp.MustCompile(`^rtbot\.[0-9a-f]{24}@example\.org$`).MatchString(a) {
		t.Errorf("MessageID = %q", a)
	}
	if err := checkID("Message-ID", a); err != nil {
		t.Error(err)
	}
	for _, other := range []string{
		MessageID("example.org", "a", "bc"),
		MessageID("example.org", "abc"),
		MessageID("example.org", "ab", "c", ""),
		MessageID("example.net", "ab", "c"),
	} {
		if strings.SplitN(other, "@", 2)[0] == strings.SplitN(a, "@", 2)[0] && strings.HasSuffix(other, "@example.org") {
			t.Errorf("MessageID collides: %q", other)
		}
	}
	if MessageID("d") == MessageID("d", "") {
		t.Error("no key and one empty key give the same id")
	}
}

// FuzzMessageBytes: Bytes refuses a message, or writes one that is 7-bit
// text (but for an 8bit body) with only the headers it means to write and that go-message reads
// back with the same (normalised) Subject, Body and From.
func FuzzMessageBytes(f *testing.F) {
	f.Add("[rtbot] 6.1-rt on 6.1.177-rc1", "body\n", "rtbot <rtbot@example.org>")
	f.Add("Grüße\r\nBcc: x", "ä\n\n.\n", `"a" <a@b>`)
	f.Add("  lead and  trail \t", "a\r\nb\rc", "=?utf-8?q?Zo=C3=AB?= <z@x.org>")
	f.Add(strings.Repeat("word ", 170), strings.Repeat("x", 2000), "a@b")
	f.Add("=?", ".\r\n.", "\"\\\"q\" <a@b>")
	allowed := []string{"From", "To", "Subject", "Date", "Message-Id", "Mime-Version", "Content-Type", "Content-Transfer-Encoding"}
	f.Fuzz(func(t *testing.T, subject, body, from string) {
		m := &Message{From: from, To: []string{"rt@example.org"}, Subject: subject, Body: body, MessageID: "id@example.org",
			Date: time.Unix(0, 0)}
		b, err := m.Bytes()
		if err != nil {
			return
		}
		h, gotBody := parse(t, b)
		// Only an 8bit body has bytes past ASCII; every line ends in CRLF
		// and stays within RFC 5322's 998 octets.
		head, _, _ := bytes.Cut(b, []byte("\r\n\r\n"))
		eight := h.Get("Content-Transfer-Encoding") == EightBit
		for i, c := range b {
			if c >= 0x80 && (i < len(head) || !eight) || c == '\n' && (i == 0 || b[i-1] != '\r') || c == '\r' && (i+1 == len(b) || b[i+1] != '\n') {
				t.Fatalf("byte %d (%q) of %q", i, c, b)
			}
		}
		for _, line := range bytes.Split(b, []byte("\r\n")) {
			if len(line) > 998 {
				t.Fatalf("line of %d octets in %q", len(line), b)
			}
		}
		fields := h.Fields()
		for fields.Next() {
			if !slices.Contains(allowed, fields.Key()) {
				t.Fatalf("header %q in %q", fields.Key(), b)
			}
		}
		s, err := h.Subject()
		wantSubject := strings.Join(strings.FieldsFunc(subject, func(r rune) bool { return r == ' ' || r == '\t' }), " ")
		if err != nil || s != wantSubject {
			t.Fatalf("subject %q came back as %q, %v; want %q", subject, s, err, wantSubject)
		}
		wantBody := strings.ToValidUTF8(strings.ReplaceAll(strings.ReplaceAll(body, "\r\n", "\n"), "\r", "\n"), "\uFFFD")
		if wantBody != "" && !strings.HasSuffix(wantBody, "\n") {
			wantBody += "\n"
		}
		if gotBody != wantBody {
			t.Fatalf("body %q came back as %q, want %q", body, gotBody, wantBody)
		}
		want, _ := mail.ParseAddress(from)
		got, err := h.AddressList("From")
		if err != nil || len(got) != 1 || got[0].Address != want.Address || got[0].Name != want.Name {
			t.Fatalf("From %q came back as %v, %v; want %v", from, got, err, want)
		}
	})
}

func TestTransferEncoding(t *testing.T) {
	for _, tc := range []struct {
		name, body  string
		want, want7 string // with 8bit allowed, and without
	}{
		{"empty", "", SevenBit, SevenBit},
		{"ascii", "o=\nnto 6.1.12-rc1\n\tindented\n-- \n", SevenBit, SevenBit},
		{"ascii line of 998", strings.Repeat("x", 998) + "\n", SevenBit, SevenBit},
		{"ascii line of 999", strings.Repeat("x", 999) + "\n", QuotedPrintable, QuotedPrintable},
		{"utf-8", "Grüße ✓\n", EightBit, QuotedPrintable},
		{"utf-8 line of 998 octets", strings.Repeat("ü", 499) + "\n", EightBit, QuotedPrintable},
		{"utf-8 line of 1000 octets", strings.Repeat("ü", 500) + "\n", QuotedPrintable, QuotedPrintable},
		{"nul", "a\x00b\n", QuotedPrintable, QuotedPrintable},
		{"escape", "\x1b[31mred\n", QuotedPrintable, QuotedPrintable},
		{"del", "a\x7f\n", QuotedPrintable, QuotedPrintable},
	} {
		if got := TransferEncoding(tc.body, true); got != tc.want {
			t.Errorf("%s: TransferEncoding(8bit allowed) = %s, want %s", tc.name, got, tc.want)
		}
		if got := TransferEncoding(tc.body, false); got != tc.want7 {
			t.Errorf("%s: TransferEncoding(7bit only) = %s, want %s", tc.name, got, tc.want7)
		}
	}
}

// TestBytesTransferEncoding: a body that needs no encoding goes as it is
// written (7bit or 8bit), with the header saying so; quoted-printable only
// when a line needs it. Either way the body reads back the same.
func TestBytesTransferEncoding(t *testing.T) {
	for _, tc := range []struct {
		name, body, want string
	}{
		{"ascii report", "v6.1.12-rc1 + patches-rt: 3 of 5 applied, 2 need attention, so one goes onto the\ncandidate\n-- \nrtbot\n", SevenBit},
		{"utf-8 report", "Zoë's patch: 1 conflict ✓\n", EightBit},
		{"long line", strings.Repeat("long line ", 200) + "\n", QuotedPrintable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := report()
			m.Body = tc.body
			b, err := m.Bytes()
			if err != nil {
				t.Fatal(err)
			}
			h, body := parse(t, b)
			if got := h.Get("Content-Transfer-Encoding"); got != tc.want {
				t.Errorf("Content-Transfer-Encoding %q, want %q", got, tc.want)
			}
			if body != tc.body {
				t.Errorf("body %q, want %q", body, tc.body)
			}
			_, raw, _ := bytes.Cut(b, []byte("\r\n\r\n"))
			if written := strings.ReplaceAll(tc.body, "\n", "\r\n"); (tc.want != QuotedPrintable) != (string(raw) == written) {
				t.Errorf("body written as %q (%s)", raw, tc.want)
			}
		})
	}
}

// TestSendWithout8BitMIME: a server that does not offer 8BITMIME gets an
// 8bit body quoted-printable, and a 7bit body as it is.
func TestSendWithout8BitMIME(t *testing.T) {
	for _, tc := range []struct{ body, want string }{
		{"Grüße ✓\n", QuotedPrintable},
		{"plain ascii\n", SevenBit},
	} {
		got := make(chan []byte, 1)
		addr := testkit.Serve(t, func(c net.Conn) { seven(t, c, got) })
		m := report()
		m.Body = tc.body
		if err := Send(context.Background(), Server{Addr: addr, TLS: "plain", Timeout: 5 * time.Second}, m, Hooks{}); err != nil {
			t.Fatal(err)
		}
		data := <-got
		h, body := parse(t, data)
		if cte := h.Get("Content-Transfer-Encoding"); cte != tc.want || body != tc.body {
			t.Errorf("%q sent as %s, read back as %q; want %s", tc.body, cte, body, tc.want)
		}
		if i := bytes.IndexFunc(data, func(r rune) bool { return r >= 0x80 }); i >= 0 {
			t.Errorf("8-bit byte at %d sent to a server without 8BITMIME: %q", i, data)
		}
	}
}

// seven is an SMTP server without 8BITMIME: it takes one message and
// hands its data to got.
func seven(t *testing.T, c net.Conn, got chan<- []byte) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	r := textproto.NewConn(c)
	r.PrintfLine("220 seven ESMTP")
	for {
		line, err := r.ReadLine()
		if err != nil {
			return
		}
		switch cmd := strings.ToUpper(strings.Fields(line + " x")[0]); cmd {
		case "EHLO":
			r.PrintfLine("250-seven\r\n250 PIPELINING")
		case "MAIL":
			if strings.Contains(strings.ToUpper(line), "BODY=") {
				r.PrintfLine("555 no BODY= without 8BITMIME")
				continue
			}
			r.PrintfLine("250 ok")
		case "RCPT":
			r.PrintfLine("250 ok")
		case "DATA":
			r.PrintfLine("354 go on")
			data, err := r.ReadDotBytes()
			if err != nil {
				t.Errorf("DATA: %v", err)
				return
			}
			got <- bytes.ReplaceAll(data, []byte("\n"), []byte("\r\n"))
			r.PrintfLine("250 taken")
		case "QUIT":
			r.PrintfLine("221 bye")
			return
		default:
			r.PrintfLine("502 %s not implemented", cmd)
		}
	}
}
