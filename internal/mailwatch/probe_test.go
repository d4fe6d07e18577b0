package mailwatch

import (
	"context"
	"errors"
	"testing"

	"github.com/rtbot/rtbot/internal/netsec"
	"github.com/rtbot/rtbot/internal/testkit"
)

// probeCases are what Probe must say of an account, whichever the server.
func probeCases(addr, user, password string) []struct {
	name      string
	cfg       IMAPConfig
	op        string // "" when Probe must pass
	mailbox   string // the mailbox the error names
	permanent bool
} {
	good := IMAPConfig{Addr: addr, TLS: netsec.Plain, Username: user, Password: password}
	wrongPW, noBox, noMoveBox := good, good, good
	wrongPW.Password = "wrong"
	noBox.Mailbox = "rtbot-no-such-mailbox"
	noMoveBox.ProcessedMailbox = "rtbot-no-such-processed"
	return []struct {
		name      string
		cfg       IMAPConfig
		op        string
		mailbox   string
		permanent bool
	}{
		{"good", good, "", "", false},
		{"wrong password", wrongPW, "login", "INBOX", true},
		{"no mailbox", noBox, "status", noBox.Mailbox, true},
		{"no move_processed mailbox", noMoveBox, "status", noMoveBox.ProcessedMailbox, true},
	}
}

// checkProbe runs the probe cases against the server at addr.
func checkProbe(t *testing.T, addr, user, password string) {
	t.Helper()
	for _, tc := range probeCases(addr, user, password) {
		err := Probe(context.Background(), tc.cfg)
		var e *Error
		switch {
		case tc.op == "" && err != nil:
			t.Errorf("%s: Probe = %v, want nil", tc.name, err)
		case tc.op == "":
		case !errors.As(err, &e) || e.Op != tc.op || e.Mailbox != tc.mailbox || IsPermanent(err) != tc.permanent:
			t.Errorf("%s: Probe = %v (%+v), want op %s mailbox %s permanent %v", tc.name, err, e, tc.op, tc.mailbox, tc.permanent)
		case tc.op == "status" && !errors.Is(err, ErrNoMailbox):
			t.Errorf("%s: Probe = %v, want ErrNoMailbox", tc.name, err)
		}
	}
}

// TestProbe: Probe logs in, finds the mailboxes rtbot uses or names the
// one missing, and says a server that does not answer may come back.
func TestProbe(t *testing.T) {
	srv := startIMAPMemServer(t, nil, false)
	checkProbe(t, srv.Addr, srv.User, srv.Password)
	err := Probe(context.Background(), IMAPConfig{Addr: testkit.ClosedPort(t), TLS: netsec.Plain, Username: "u", Password: "p"})
	var e *Error
	if !errors.As(err, &e) || e.Op != "dial" || IsPermanent(err) {
		t.Errorf("Probe of a closed port = %v, want a dial error that is not permanent", err)
	}
}

// TestProbeDovecot: the same against a real Dovecot, which says NO
// [NONEXISTENT] for a mailbox the account does not have.
func TestProbeDovecot(t *testing.T) {
	env := dovecotEnv(t)
	checkProbe(t, env.Addr, env.User, env.Password)
}
