package pipeline

import (
	"bytes"
	"context"
	"encoding/pem"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5"
	"github.com/rtbot/rtbot/internal/config"
	"github.com/rtbot/rtbot/internal/fixtures"
	"github.com/rtbot/rtbot/internal/state"
	"github.com/rtbot/rtbot/internal/testkit"
)

// config is the tests' world configuration (worldConfig) with its IMAP
// (TLS), SMTP (STARTTLS) and git (https, with a token from token_env)
// servers all behind certificates of a private CA, and the ca_file lines
// of [imap], [smtp], [tree.candidate_auth] and [tree.push_auth] in cas,
// by table ("imap", "smtp", "candidate", "push").
func (w *tlsWorld) config(t *testing.T, cas map[string]string) string {
	t.Helper()
	c := fmt.Sprintf(worldConfig, w.imap.Addr, "rtbot", "INBOX", w.smtp.Addr)
	c = testkit.ReplaceOnce(t, c, "tls = \"plain\"\nusername", cas["imap"]+"username")
	c = testkit.ReplaceOnce(t, c, "tls = \"plain\"\n\n[[tree]]", "tls = \"starttls\"\n"+cas["smtp"]+"\n[[tree]]")
	c = testkit.ReplaceOnce(t, c, `"./linux-stable-rc.git"`, `"`+w.git.URL+`/linux-stable-rc.git"`)
	c = testkit.ReplaceOnce(t, c, `"./published.git"`, `"`+w.git.URL+`/published.git"`)
	return testkit.ReplaceOnce(t, c, "\n[[trigger]]", `
[tree.candidate_auth]
token_env = "RTBOT_TEST_GIT_TOKEN"
`+cas["candidate"]+`
[tree.push_auth]
token_env = "RTBOT_TEST_GIT_TOKEN"
`+cas["push"]+`
[[trigger]]`)
}

// tlsWorld is the demo behind servers whose certificates a private CA
// signed.
type tlsWorld struct {
	dir, caFile string
	imap        *fixtures.IMAPServer
	smtp        *fixtures.SMTPServer
	git         *testkit.GitHTTPServer
	store       *state.Store
}

func newTLSWorld(t *testing.T) *tlsWorld {
	t.Helper()
	w := &tlsWorld{dir: t.TempDir()}
	if _, err := fixtures.BuildDemo(w.dir); err != nil {
		t.Fatal(err)
	}
	if _, err := git.PlainInit(filepath.Join(w.dir, "published.git"), true); err != nil {
		t.Fatal(err)
	}
	serverTLS, _ := testkit.SelfSignedTLS(t, "127.0.0.1")
	w.caFile = filepath.Join(w.dir, "private-ca.pem")
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: serverTLS.Certificates[0].Certificate[0]})
	if err := os.WriteFile(w.caFile, ca, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("RTBOT_TEST_GIT_TOKEN", "glpat-git")
	w.git = testkit.ServeGit(t, w.dir, testkit.GitHTTPOptions{User: "x-access-token", Password: "glpat-git", TLS: serverTLS})
	var err error
	if w.imap, err = fixtures.StartIMAP("rtbot", "imap-pw", serverTLS); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.imap.Close() })
	if w.smtp, err = fixtures.StartSMTP(fixtures.SMTPOptions{TLSConfig: serverTLS}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.smtp.Close() })
	testkit.WriteFile(t, filepath.Join(w.dir, "imap.password"), "imap-pw\n", 0o600)
	if err := w.imap.Deliver(fixtures.DemoMail); err != nil {
		t.Fatal(err)
	}
	if w.store, err = state.Open(context.Background(), filepath.Join(w.dir, "state.db")); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.store.Close() })
	return w
}

// pass runs a pass with the ca_file of the servers named in cas set,
// returning its log and its error.
func (w *tlsWorld) pass(t *testing.T, cas ...string) (string, error) {
	t.Helper()
	lines := map[string]string{}
	for _, k := range cas {
		lines[k] = fmt.Sprintf("ca_file = %q\n", w.caFile)
	}
	path := filepath.Join(w.dir, "rtbot.toml")
	if err := os.WriteFile(path, []byte(w.config(t, lines)), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path, ConfigRules())
	if err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	_, err = New(cfg, w.store, Options{Retry: quickRetry, Log: slog.New(slog.NewTextHandler(&log, nil))}).Once(context.Background())
	return log.String(), err
}

// TestPrivateCA: each server a private CA signed fails, until its ca_file
// is set, with an error naming that key; with all of them the pass reads
// the mail, fetches and pushes (with the token from token_env) and mails.
func TestPrivateCA(t *testing.T) {
	w := newTLSWorld(t)
	steps := []struct {
		cas  []string
		want string // in the pass's error
	}{
		{nil, "set imap.ca_file"},
		{[]string{"imap"}, "set ca_file in [tree.candidate_auth] of tree 6.1-rt"},
		{[]string{"imap", "candidate"}, "set ca_file in [tree.push_auth] of tree 6.1-rt"},
	}
	for _, s := range steps {
		log, err := w.pass(t, s.cas...)
		if err == nil || !strings.Contains(err.Error(), s.want) {
			t.Fatalf("pass with the ca_file of %v: %v; want an error with %q\n%s", s.cas, err, s.want, log)
		}
	}
	// The pass itself succeeds: today a refused report is given up
	// (issue 13, item 4, is about that); the log names the key.
	if log, err := w.pass(t, "imap", "candidate", "push"); !strings.Contains(log, "set smtp.ca_file") {
		t.Fatalf("pass without smtp.ca_file: %v; want the log to name smtp.ca_file:\n%s", err, log)
	}

	w = newTLSWorld(t)
	if log, err := w.pass(t, "imap", "smtp", "candidate", "push"); err != nil {
		t.Fatalf("pass with every ca_file: %v\n%s", err, log)
	}
	if n := len(w.smtp.Messages()); n != 1 {
		t.Errorf("%d reports mailed, want 1", n)
	}
	if w.git.Refused() != 0 {
		t.Errorf("the git server refused %d requests: the token from token_env was not sent", w.git.Refused())
	}
}
