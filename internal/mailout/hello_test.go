package mailout

import (
	"context"
	"crypto/tls"
	"errors"
	"testing"
	"time"

	"github.com/rtbot/rtbot/internal/fixtures"
	"github.com/rtbot/rtbot/internal/testkit"
)

// TestHello: Hello greets, secures and logs in as Send does, with Send's
// errors, and sends nothing.
func TestHello(t *testing.T) {
	srvTLS, roots := testkit.SelfSignedTLS(t, "127.0.0.1")
	other, _ := testkit.SelfSignedTLS(t, "127.0.0.1")
	trust := &tls.Config{RootCAs: roots}
	auth := fixtures.SMTPOptions{TLSConfig: srvTLS, Username: "bot", Password: "pw"}
	for _, tc := range []struct {
		name  string
		opts  fixtures.SMTPOptions
		srv   Server
		stage string // "" when Hello must pass
		code  int
	}{
		{name: "plain", srv: Server{TLS: "plain"}},
		{name: "starttls with auth", opts: auth, srv: Server{TLS: "starttls", TLSConfig: trust, Username: "bot", Password: "pw"}},
		{name: "implicit tls with auth", opts: fixtures.SMTPOptions{TLSConfig: srvTLS, ImplicitTLS: true, Username: "bot", Password: "pw"},
			srv: Server{TLS: "tls", TLSConfig: trust, Username: "bot", Password: "pw"}},
		{name: "wrong password", opts: auth, srv: Server{TLS: "starttls", TLSConfig: trust, Username: "bot", Password: "wrong"}, stage: "auth", code: 535},
		{name: "auth not offered", srv: Server{TLS: "plain", Username: "bot", Password: "pw"}, stage: "auth"},
		{name: "starttls not offered", srv: Server{TLS: "starttls", TLSConfig: trust}, stage: "tls"},
		{name: "untrusted", opts: fixtures.SMTPOptions{TLSConfig: other}, srv: Server{TLS: "starttls", TLSConfig: trust}, stage: "tls"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			smtpd := start(t, tc.opts)
			tc.srv.Addr, tc.srv.Timeout = smtpd.Addr, 5*time.Second
			err := Hello(context.Background(), tc.srv)
			var e *Error
			switch {
			case tc.stage == "" && err != nil:
				t.Errorf("Hello = %v, want nil", err)
			case tc.stage != "" && (!errors.As(err, &e) || e.Stage != tc.stage || e.Code != tc.code || e.Temporary):
				t.Errorf("Hello = %v, want a permanent failure at %s, code %d", err, tc.stage, tc.code)
			}
			if n := len(smtpd.Messages()); n != 0 {
				t.Errorf("Hello delivered %d message(s)", n)
			}
		})
	}
}

// TestHelloSendsNothing: a server that would fall silent at MAIL never
// hears one, and one silent at QUIT does not fail Hello.
func TestHelloSendsNothing(t *testing.T) {
	for _, stall := range []string{"MAIL", "QUIT"} {
		addr := scripted(t, "220 fake ESMTP", stall)
		start := time.Now()
		if err := Hello(context.Background(), Server{Addr: addr, TLS: "plain", Username: "bot", Password: "pw", Timeout: time.Second}); err != nil {
			t.Errorf("Hello to a server silent at %s = %v, want nil", stall, err)
		}
		if stall == "MAIL" && time.Since(start) > 500*time.Millisecond {
			t.Errorf("Hello waited %v: it sent MAIL", time.Since(start))
		}
	}
	err := Hello(context.Background(), Server{Addr: testkit.ClosedPort(t), TLS: "plain", Timeout: 5 * time.Second})
	if e := (*Error)(nil); !errors.As(err, &e) || e.Stage != "dial" || !IsTemporary(err) {
		t.Errorf("Hello to a closed port = %v, want a temporary dial failure", err)
	}
}
