package mailout

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	gomail "github.com/emersion/go-message/mail"
	"github.com/rtbot/rtbot/fixtures"
)

func report() *Message {
	return &Message{
		From: "rtbot <rtbot@example.org>", To: []string{"RT Maintainer <rt@example.org>"}, Cc: []string{"list@example.org"},
		Subject:   "[rtbot] 6.1-rt on 6.1.177-rc1: 2 of 67 patches need attention — Grüße",
		Body:      "0040 arch/arm/mm/fault.c:526 conflict\n" + strings.Repeat("long line ", 200) + "\nÜmlaut ✓\n",
		MessageID: MessageID("example.org", "report", "6.1-rt"), InReplyTo: "20260101.cover@linuxfoundation.org",
		Headers: map[string]string{"X-Rtbot-Tree": "6.1-rt"},
	}
}

// parse reads a sent message back with go-message.
func parse(t *testing.T, data []byte) (h gomail.Header, body string) {
	t.Helper()
	mr, err := gomail.CreateReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	p, err := mr.NextPart()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(p.Body)
	return mr.Header, strings.ReplaceAll(string(b), "\r\n", "\n")
}

func TestSendRoundTrip(t *testing.T) {
	srvTLS, roots, err := fixtures.SelfSignedTLS("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		opts fixtures.SMTPOptions
		srv  Server
	}{
		{"plain loopback", fixtures.SMTPOptions{}, Server{TLS: "plain"}},
		{"starttls+auth", fixtures.SMTPOptions{TLSConfig: srvTLS, Username: "bot", Password: "pw"},
			Server{TLS: "starttls", Username: "bot", Password: "pw", TLSConfig: &tls.Config{RootCAs: roots}}},
		{"implicit tls+auth", fixtures.SMTPOptions{TLSConfig: srvTLS, ImplicitTLS: true, Username: "bot", Password: "pw"},
			Server{TLS: "tls", Username: "bot", Password: "pw", TLSConfig: &tls.Config{RootCAs: roots}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			smtpd, err := fixtures.StartSMTP(tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			defer smtpd.Close()
			tc.srv.Addr = smtpd.Addr
			m := report()
			if err := Send(context.Background(), tc.srv, m, Hooks{}); err != nil {
				t.Fatal(err)
			}
			got := smtpd.Messages()
			if len(got) != 1 || got[0].From != "rtbot@example.org" || strings.Join(got[0].To, ",") != "rt@example.org,list@example.org" {
				t.Fatalf("received %+v", got)
			}
			h, body := parse(t, got[0].Data)
			subj, _ := h.Subject()
			irt, _ := h.MsgIDList("In-Reply-To")
			refs, _ := h.MsgIDList("References")
			id, _ := h.MessageID()
			if subj != m.Subject || body != m.Body || id != m.MessageID || len(irt) != 1 || irt[0] != m.InReplyTo ||
				len(refs) != 1 || refs[0] != m.InReplyTo || h.Get("X-Rtbot-Tree") != "6.1-rt" {
				t.Errorf("round trip: subject %q id %q irt %v refs %v\nbody %q", subj, id, irt, refs, body)
			}
			for _, line := range strings.Split(string(got[0].Data), "\r\n") {
				if len(line) > 998 {
					t.Fatalf("a line of %d bytes went out", len(line))
				}
			}
		})
	}
}

func TestSendFailures(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name      string
		setup     func(*fixtures.SMTPServer)
		srv       Server
		stage     string
		temporary bool
	}{
		{"rcpt 451", func(s *fixtures.SMTPServer) { s.FailNext("rcpt", 451, 1) }, Server{TLS: "plain"}, "rcpt", true},
		{"second rcpt 550", func(s *fixtures.SMTPServer) { s.FailNext("rcpt", 550, 2) }, Server{TLS: "plain"}, "rcpt", false},
		{"mail 421", func(s *fixtures.SMTPServer) { s.FailNext("mail", 421, 1) }, Server{TLS: "plain"}, "mail", true},
		{"data 554", func(s *fixtures.SMTPServer) { s.FailNext("data", 554, 1) }, Server{TLS: "plain"}, "commit", false},
		{"wrong password", nil, Server{TLS: "plain", Username: "bot", Password: "wrong"}, "auth", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			smtpd, err := fixtures.StartSMTP(fixtures.SMTPOptions{Username: "bot", Password: "pw"})
			if err != nil {
				t.Fatal(err)
			}
			defer smtpd.Close()
			if tc.setup != nil {
				tc.setup(smtpd)
			}
			tc.srv.Addr = smtpd.Addr
			if tc.srv.Username == "" {
				tc.srv.Username, tc.srv.Password = "bot", "pw"
			}
			err = Send(ctx, tc.srv, report(), Hooks{})
			var e *Error
			if !errors.As(err, &e) || !strings.HasPrefix(e.Stage, tc.stage) || IsTemporary(err) != tc.temporary {
				t.Fatalf("Send = %v (%+v); want stage %s, temporary %v", err, e, tc.stage, tc.temporary)
			}
			if n := len(smtpd.Messages()); n != 0 {
				t.Errorf("%d messages delivered after a failure", n)
			}
		})
	}
}

func TestSendRefusals(t *testing.T) {
	ctx := context.Background()
	if err := Send(ctx, Server{Addr: "192.0.2.1:25", TLS: "plain"}, report(), Hooks{}); err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Errorf("plain to a remote host: %v", err)
	}
	// Nothing listens: a temporary network failure.
	if err := Send(ctx, Server{Addr: "127.0.0.1:1", TLS: "plain"}, report(), Hooks{}); !IsTemporary(err) {
		t.Errorf("connection refused: %v, want temporary", err)
	}
	// A cancelled context returns promptly.
	smtpd, err := fixtures.StartSMTP(fixtures.SMTPOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer smtpd.Close()
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	start := time.Now()
	if err := Send(cctx, Server{Addr: smtpd.Addr, TLS: "plain"}, report(), Hooks{}); err == nil {
		t.Error("Send with a cancelled context succeeded")
	}
	if time.Since(start) > 10*time.Second {
		t.Error("Send with a cancelled context did not return promptly")
	}
	// BeforeCommit failing: the server keeps nothing.
	boom := errors.New("crash before commit")
	err = Send(ctx, Server{Addr: smtpd.Addr, TLS: "plain"}, report(), Hooks{BeforeCommit: func() error { return boom }})
	if !errors.Is(err, boom) {
		t.Errorf("BeforeCommit error: %v", err)
	}
	time.Sleep(100 * time.Millisecond)
	if n := len(smtpd.Messages()); n != 0 {
		t.Errorf("the server kept %d message(s) without the final dot", n)
	}
	// And a BeforeCommit that passes is called exactly once.
	calls := 0
	if err := Send(ctx, Server{Addr: smtpd.Addr, TLS: "plain"}, report(), Hooks{BeforeCommit: func() error { calls++; return nil }}); err != nil || calls != 1 {
		t.Errorf("Send = %v with %d BeforeCommit calls", err, calls)
	}
}

func TestBytesRejectsInjection(t *testing.T) {
	for _, tc := range []struct {
		name, header string
		edit         func(*Message)
	}{
		{"subject CRLF", "Subject", func(m *Message) { m.Subject = "ok\r\nBcc: victim@example.org" }},
		{"subject LF", "Subject", func(m *Message) { m.Subject = "ok\nBcc: victim@example.org" }},
		{"message-id with bracket", "Message-ID", func(m *Message) { m.MessageID = "a@b>\r\nBcc: x@y" }},
		{"in-reply-to with space", "In-Reply-To", func(m *Message) { m.InReplyTo = "a b@c" }},
		{"references", "References", func(m *Message) { m.References = []string{"<x@y>"} }},
		{"to with newline", "To", func(m *Message) { m.To = []string{"a@b.org\nBcc: c@d.org"} }},
		{"bad from", "From", func(m *Message) { m.From = "not an address" }},
		{"extra header name", "Bcc", func(m *Message) { m.Headers = map[string]string{"Bcc": "x@y"} }},
		{"extra header value", "X-Rtbot-Tree", func(m *Message) { m.Headers = map[string]string{"X-Rtbot-Tree": "a\r\nBcc: x@y"} }},
		{"no recipient", "To", func(m *Message) { m.To = nil }},
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

func TestMessageID(t *testing.T) {
	a := MessageID("example.org", "ab", "c")
	if a != MessageID("example.org", "ab", "c") {
		t.Error("MessageID is not deterministic")
	}
	if a == MessageID("example.org", "a", "bc") {
		t.Error("MessageID does not separate its keys")
	}
	if err := checkID("Message-ID", a); err != nil || !strings.HasSuffix(a, "@example.org") {
		t.Errorf("MessageID %q: %v", a, err)
	}
}

func FuzzMessageBytes(f *testing.F) {
	f.Add("[rtbot] 6.1-rt on 6.1.177-rc1", "body\n", "rtbot <rtbot@example.org>")
	f.Add("Grüße\r\nBcc: x", "ä\n\n.\n", "\"a\" <a@b>")
	f.Fuzz(func(t *testing.T, subject, body, from string) {
		m := &Message{From: from, To: []string{"rt@example.org"}, Subject: subject, Body: body, MessageID: "id@example.org"}
		b, err := m.Bytes()
		if err != nil {
			return
		}
		h, got := parse(t, b)
		s, err := h.Subject()
		if err != nil {
			t.Fatalf("subject of %q: %v", b, err)
		}
		want := normalizeEOL(body)
		if s != strings.TrimSpace(subject) && s != subject || got != want {
			t.Fatalf("round trip: subject %q -> %q, body %q -> %q", subject, s, want, got)
		}
	})
}
