package pipeline

import (
	"context"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rtbot/rtbot/internal/config"
	"github.com/rtbot/rtbot/internal/fixtures"
	"github.com/rtbot/rtbot/internal/testkit"
)

// newSourceWorld is newWorld reading the list from the [source] table
// source instead of an IMAP mailbox.
func newSourceWorld(t *testing.T, source string) *world {
	t.Helper()
	w := newWorld(t, imapSection{addr: "127.0.0.1:1", user: "unused", password: "unused", mailbox: "INBOX"})
	path := filepath.Join(w.dir, "rtbot.toml")
	data := regexp.MustCompile(`(?s)\[imap\].*?\n\[smtp\]`).ReplaceAllString(testkit.ReadFile(t, path), source+"\n[smtp]")
	testkit.WriteFile(t, path, data, 0o644)
	cfg, err := config.Load(path, ConfigRules())
	if err != nil {
		t.Fatal(err)
	}
	w.cfg = cfg
	return w
}

// inboxBox delivers to a real public-inbox with public-inbox-mda.
type inboxBox struct {
	t  *testing.T
	pi *testkit.PublicInbox
}

func (b inboxBox) Deliver(msg []byte) error {
	b.pi.DeliverBytes(b.t, msg)
	return nil
}

// maildirBox delivers to a Maildir as an MDA does: write in tmp/, then
// rename into new/.
type maildirBox struct {
	dir string
	n   *int
}

func (b maildirBox) Deliver(msg []byte) error {
	*b.n++
	name := fmt.Sprintf("1700000000.M%dP1.rtbot", *b.n)
	tmp := filepath.Join(b.dir, "tmp", name)
	if err := os.WriteFile(tmp, msg, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(b.dir, "new", name))
}

// TestRunTwiceThenNewPublicInbox is TestRunTwiceThenNewInProcess reading
// a real public-inbox v2 inbox: the same announcements, the same runs,
// nothing read twice.
func TestRunTwiceThenNewPublicInbox(t *testing.T) {
	pi := testkit.NewPublicInbox(t)
	w := newSourceWorld(t, fmt.Sprintf("[source]\nkind = \"public-inbox\"\npath = %q\nsince = \"2020-01-01\"\n", pi.Dir))
	runTwiceThenNew(t, w, inboxBox{t, pi})
}

// TestRunTwiceThenNewMaildir is the same reading a Maildir.
func TestRunTwiceThenNewMaildir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "Maildir")
	for _, sub := range []string{"tmp", "new", "cur"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	w := newSourceWorld(t, fmt.Sprintf("[source]\nkind = \"maildir\"\npath = %q\n", dir))
	runTwiceThenNew(t, w, maildirBox{dir: dir, n: new(int)})
}

// TestSourcePreflight: `rtbot check` reads the source, and names the key
// of a source it cannot read.
func TestSourcePreflight(t *testing.T) {
	pi := testkit.NewPublicInbox(t)
	pi.Deliver(t, testkit.Mail(t, "stable-6.1.12-rc1.eml"))
	cases := []struct {
		name, source, key, found string
	}{
		{"inbox", fmt.Sprintf("[source]\nkind = \"public-inbox\"\npath = %q\n", pi.Dir), "", "newest epoch 0"},
		{"not an inbox", fmt.Sprintf("[source]\nkind = \"public-inbox\"\npath = %q\n", t.TempDir()), "source.path", ""},
		{"not a maildir", fmt.Sprintf("[source]\nkind = \"maildir\"\npath = %q\n", t.TempDir()), "source.path", ""},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			w := newSourceWorld(t, tt.source)
			step := New(w.cfg, w.store, Options{}).checkMailSource(context.Background())
			if step.Name != "source" {
				t.Errorf("step %q, want source", step.Name)
			}
			switch {
			case tt.key == "" && (step.Problem != nil || !strings.Contains(step.Found, tt.found)):
				t.Errorf("step = %+v; want found %q", step, tt.found)
			case tt.key != "" && (step.Problem == nil || step.Problem.Key != tt.key):
				t.Errorf("step = %+v; want a problem with %s", step, tt.key)
			}
		})
	}
}

// TestOAuth2Pipeline: with [imap] auth = "oauth2" the preflight and the
// pass log in with the token token_command prints; a refused token is a
// credentials problem naming token_command, and its text never shows the
// token.
func TestOAuth2Pipeline(t *testing.T) {
	srv, err := fixtures.StartIMAPServer(fixtures.IMAPOptions{User: "rtbot", Password: "pw",
		OAuth2: func(user, token string) bool { return user == "rtbot" && token == "ya29.valid" }, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	if err := srv.Deliver(fixtures.DemoMail); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		token   string
		problem bool
	}{
		{"ya29.valid", false},
		{"ya29.expired", true},
	} {
		t.Run(tt.token, func(t *testing.T) {
			w := newWorld(t, imapSection{addr: srv.Addr, user: "rtbot", password: "pw", mailbox: "INBOX"})
			path := filepath.Join(w.dir, "rtbot.toml")
			data := strings.Replace(testkit.ReadFile(t, path), `password_file = "imap.password"`,
				fmt.Sprintf("auth = \"oauth2\"\ntoken_command = [\"printf\", \"%%s\", %q]", tt.token), 1)
			testkit.WriteFile(t, path, data, 0o644)
			cfg, err := config.Load(path, ConfigRules())
			if err != nil {
				t.Fatal(err)
			}
			w.cfg = cfg
			p := New(w.cfg, w.store, Options{})
			step := p.checkMailSource(context.Background())
			if !tt.problem {
				if step.Problem != nil {
					t.Fatalf("check: %+v", step.Problem)
				}
				pass := w.pass(t, Options{})
				if len(pass.New) != 1 {
					t.Errorf("pass after an OAuth2 login: %d new announcements, want 1", len(pass.New))
				}
				return
			}
			pr := step.Problem
			if pr == nil || pr.Key != "imap.token_command" || !pr.Credentials || strings.Contains(pr.What+pr.Fix, "ya29") {
				t.Errorf("check with a refused token: %+v; want a credentials problem with imap.token_command, no token shown", pr)
			}
		})
	}
}

// TestPublicInboxHTTPS reads a public-inbox over https whose certificate
// a private CA signed: with [source] ca_file the check and a pass work;
// without it the check fails naming source.url, as an outage rtbot
// retries.
func TestPublicInboxHTTPS(t *testing.T) {
	pi := testkit.NewPublicInbox(t)
	pi.DeliverBytes(t, fixtures.DemoMail)
	srvTLS, _ := testkit.SelfSignedTLS(t, "127.0.0.1")
	srv := pi.ServeTLS(t, srvTLS)
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	testkit.WriteFile(t, caFile, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srvTLS.Certificates[0].Certificate[0]})), 0o644)
	source := fmt.Sprintf("[source]\nkind = \"public-inbox\"\nurl = %q\nsince = \"2020-01-01\"\n", srv.URL)

	w := newSourceWorld(t, source)
	if step := New(w.cfg, w.store, Options{}).checkMailSource(context.Background()); step.Problem == nil || step.Problem.Key != "source.url" || !step.Problem.Transient {
		t.Errorf("check without ca_file: %+v; want a transient problem with source.url", step)
	}

	w = newSourceWorld(t, source+fmt.Sprintf("ca_file = %q\n", caFile))
	if step := New(w.cfg, w.store, Options{}).checkMailSource(context.Background()); step.Problem != nil {
		t.Fatalf("check with ca_file: %+v", step.Problem)
	}
	pass := w.pass(t, Options{})
	if len(pass.New) != 1 || pass.New[0].MessageID != "20230213144742.219399167@linuxfoundation.org" {
		t.Errorf("pass over https: %+v; want the 6.1.12-rc1 announcement", pass.New)
	}
}

// TestWatchMaildir: `rtbot watch` on a Maildir reads what arrives while it
// runs, and stops when its context ends.
func TestWatchMaildir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "Maildir")
	for _, sub := range []string{"tmp", "new", "cur"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	w := newSourceWorld(t, fmt.Sprintf("[source]\nkind = \"maildir\"\npath = %q\npoll = \"1s\"\n", dir))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- New(w.cfg, w.store, Options{}).Watch(ctx) }()
	if err := (maildirBox{dir: dir, n: new(int)}).Deliver(fixtures.DemoMail); err != nil {
		t.Fatal(err)
	}
	const id = "20230213144742.219399167@linuxfoundation.org"
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if _, err := w.store.Announcement(context.Background(), id); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("watch did not record the announcement delivered to the Maildir")
		}
		time.Sleep(100 * time.Millisecond)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Watch = %v, want context.Canceled", err)
	}
}
