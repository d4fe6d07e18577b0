package mailout

import (
	"context"
	"crypto/tls"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/rtbot/rtbot/internal/fixtures"
	"github.com/rtbot/rtbot/internal/testkit"
)

// TestOAuth2 submits with OAuth2 (OAUTHBEARER, chosen over XOAUTH2):
// a valid token is accepted, an expired one refused (535, permanent),
// a failing token helper fails AUTH without a token sent.
func TestOAuth2(t *testing.T) {
	srvTLS, roots := testkit.SelfSignedTLS(t, "127.0.0.1")
	opts := fixtures.SMTPOptions{TLSConfig: srvTLS, Username: "bot@example.org", Password: "unused",
		OAuth2: func(user, token string) bool { return token == "ya29.valid" }}
	token := func(v string, err error) func(context.Context) (string, error) {
		return func(context.Context) (string, error) { return v, err }
	}
	for _, tc := range []struct {
		name    string
		token   func(context.Context) (string, error)
		code    int
		wantErr string
	}{
		{"valid", token("ya29.valid", nil), 0, ""},
		{"expired", token("ya29.expired", nil), 535, "invalid_token"},
		{"helper fails", token("", errors.New("token_command oama: exit status 1")), 0, "access token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			smtpd := start(t, opts)
			srv := Server{Addr: smtpd.Addr, TLS: "starttls", TLSConfig: &tls.Config{RootCAs: roots}, Username: "bot@example.org",
				Token: tc.token, Timeout: 5 * time.Second}
			err := Hello(context.Background(), srv)
			var e *Error
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("Hello = %v, want nil", err)
			case tc.wantErr != "" && (!errors.As(err, &e) || e.Stage != "auth" || e.Code != tc.code || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("Hello = %v, want a failure at auth, code %d, saying %q", err, tc.code, tc.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), "ya29") {
				t.Errorf("the error shows the token: %v", err)
			}
		})
	}
}
