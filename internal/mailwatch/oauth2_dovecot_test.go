package mailwatch

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/rtbot/rtbot/internal/netsec"
	"github.com/rtbot/rtbot/internal/saslauth"
)

// introspection is an RFC 7662 token introspection endpoint: what
// Dovecot's oauth2 passdb asks about each token (scripts/dovecot/start.sh
// points it at RTBOT_DOVECOT_OAUTH2_INTROSPECT).
type introspection struct {
	mu     sync.Mutex
	tokens map[string]string // token → user; absent: inactive (expired, revoked)
	down   bool              // answer 503
	asked  int
}

func (in *introspection) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.asked++
	if in.down {
		http.Error(w, "identity provider unavailable", http.StatusServiceUnavailable)
		return
	}
	user, ok := in.tokens[r.PostFormValue("token")]
	answer := map[string]any{"active": "false"}
	if ok {
		answer = map[string]any{"active": "true", "username": user, "scope": "mail"}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(answer)
}

// serveIntrospection serves in on the address Dovecot asks, or skips the
// test without a Dovecot started by scripts/dovecot/start.sh.
func serveIntrospection(t *testing.T, in *introspection) {
	t.Helper()
	addr := os.Getenv("RTBOT_DOVECOT_OAUTH2_INTROSPECT")
	if addr == "" {
		t.Skip("RTBOT_DOVECOT_OAUTH2_INTROSPECT is not set: start a Dovecot with `scripts/dovecot/start.sh DIR PORT` and `. DIR/env` to run the Dovecot OAuth2 tests")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("introspection endpoint %s: %v", addr, err)
	}
	srv := &http.Server{Handler: in, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
}

// TestOAuth2Dovecot logs in to a real Dovecot whose oauth2 passdb checks
// tokens against an introspection endpoint: a valid token logs in and
// reads the mailbox, an expired one and another user's are refused for
// good, an identity provider that is down is a temporary failure.
func TestOAuth2Dovecot(t *testing.T) {
	env := dovecotEnv(t)
	in := &introspection{tokens: map[string]string{"ya29.valid": env.User, "ya29.eve": "eve"}}
	serveIntrospection(t, in)
	cases := []struct {
		name, token string
		down        bool
		permanent   bool
		ok          bool
	}{
		{name: "valid", token: "ya29.valid", ok: true},
		{name: "expired", token: "ya29.expired", permanent: true},
		{name: "another user's token", token: "ya29.eve", permanent: true},
		{name: "identity provider down", token: "ya29.valid", down: true},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			in.mu.Lock()
			in.down, in.asked = tt.down, 0
			in.mu.Unlock()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			cfg := IMAPConfig{Addr: env.Addr, TLS: netsec.Plain, Username: env.User,
				Token: func(context.Context) (string, error) { return tt.token, nil }}
			s, err := Dial(ctx, cfg)
			in.mu.Lock()
			asked := in.asked
			in.mu.Unlock()
			if asked == 0 {
				t.Errorf("Dovecot never asked the introspection endpoint")
			}
			if tt.ok {
				if err != nil {
					t.Fatal(err)
				}
				defer s.Close()
				if _, err := s.Scan(ctx, Checkpoint{}); err != nil {
					t.Fatalf("scan after an OAuth2 login: %v", err)
				}
				return
			}
			if err == nil {
				s.Close()
				t.Fatal("logged in; want a refusal")
			}
			if IsPermanent(err) != tt.permanent || strings.Contains(err.Error(), "ya29") {
				t.Errorf("err = %v (permanent %v); want permanent %v, and no token", err, IsPermanent(err), tt.permanent)
			}
			t.Logf("%s: %v", tt.name, err)
		})
	}
}

// TestOAuth2DovecotMechanisms: both SASL clients log in to Dovecot
// (Dialing picks OAUTHBEARER when offered, so XOAUTH2 is driven here
// directly), and a refused token gets Dovecot's error challenge answered
// and a tagged NO, not a hung command.
func TestOAuth2DovecotMechanisms(t *testing.T) {
	env := dovecotEnv(t)
	serveIntrospection(t, &introspection{tokens: map[string]string{"ya29.valid": env.User}})
	for _, mech := range []string{saslauth.OAuthBearer, saslauth.XOAuth2} {
		for _, token := range []string{"ya29.valid", "ya29.expired"} {
			t.Run(mech+" "+token, func(t *testing.T) {
				c, err := imapclient.DialInsecure(env.Addr, nil)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				sc := saslauth.NewClient(mech, env.User, token, "127.0.0.1", 0)
				err = c.Authenticate(sc)
				if token == "ya29.valid" {
					if err != nil {
						t.Fatalf("%s: %v", mech, err)
					}
					return
				}
				var ie *imap.Error
				if !errors.As(err, &ie) || ie.Code != imap.ResponseCodeAuthenticationFailed {
					t.Errorf("%s with an expired token: %v; want NO [AUTHENTICATIONFAILED]", mech, err)
				}
				if err := c.Noop().Wait(); err != nil {
					t.Errorf("the connection is unusable after the refusal: %v", err)
				}
			})
		}
	}
}
