package mailwatch

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/rtbot/rtbot/internal/fixtures"
	"github.com/rtbot/rtbot/internal/netsec"
	"github.com/rtbot/rtbot/internal/testkit"
)

// TestOAuth2Login logs in to an IMAP server offering OAUTHBEARER and
// XOAUTH2 (go-imap's, with fixtures' SASL handler): a valid token logs
// in, an expired or unknown one is refused for good (a credentials
// problem, not retried), a token helper that fails is not a refusal.
func TestOAuth2Login(t *testing.T) {
	srv, err := fixtures.StartIMAPServer(fixtures.IMAPOptions{User: "rtbot@example.org", Password: "unused-by-oauth2",
		OAuth2: func(user, token string) bool { return user == "rtbot@example.org" && token == "ya29.valid" },
		Logf:   t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	if err := srv.Deliver([]byte(testkit.ReadFile(t, testkit.Mail(t, "stable-6.1.12-rc1.eml")))); err != nil {
		t.Fatal(err)
	}
	token := func(v string, err error) func(context.Context) (string, error) {
		return func(context.Context) (string, error) { return v, err }
	}
	cases := []struct {
		name, user string
		token      func(context.Context) (string, error)
		wantErr    string
		permanent  bool
	}{
		{"valid", "rtbot@example.org", token("ya29.valid", nil), "", false},
		{"expired", "rtbot@example.org", token("ya29.expired", nil), "invalid_token", true},
		{"other user", "eve@example.org", token("ya29.valid", nil), "OAUTHBEARER", true},
		{"helper fails", "rtbot@example.org", token("", errors.New("token_command oama: exit status 1")), "access token", false},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			cfg := IMAPConfig{Addr: srv.Addr, TLS: netsec.Plain, Username: tt.user, Password: "not sent", Token: tt.token}
			s, err := Dial(ctx, cfg)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				defer s.Close()
				scan, err := s.Scan(ctx, Checkpoint{})
				if err != nil || len(scan.Candidates) != 1 {
					t.Fatalf("scan after an OAuth2 login: %d candidates, %v", len(scan.Candidates), err)
				}
				return
			}
			if err == nil {
				s.Close()
				t.Fatal("logged in; want a refusal")
			}
			if !strings.Contains(err.Error(), tt.wantErr) || IsPermanent(err) != tt.permanent || strings.Contains(err.Error(), "ya29") {
				t.Errorf("err = %v (permanent %v); want it to contain %q, permanent %v, and no token", err, IsPermanent(err), tt.wantErr, tt.permanent)
			}
		})
	}
}

// TestOAuth2RefusedOverPlainText: a token goes in clear only to a
// loopback address, as a password does.
func TestOAuth2RefusedOverPlainText(t *testing.T) {
	called := false
	_, err := Dial(context.Background(), IMAPConfig{Addr: "192.0.2.1:143", TLS: netsec.Plain, Username: "u",
		Token: func(context.Context) (string, error) { called = true; return "t", nil }})
	if !errors.Is(err, ErrPlainNotLoopback) || called {
		t.Errorf("err = %v, token asked %v; want ErrPlainNotLoopback before the token is asked", err, called)
	}
}
