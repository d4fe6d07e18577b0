package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rtbot/rtbot/internal/config"
	"github.com/rtbot/rtbot/internal/fixtures"
	"github.com/rtbot/rtbot/internal/pipeline"
	"github.com/rtbot/rtbot/internal/state"
	"github.com/rtbot/rtbot/internal/testkit"
)

// secretConfig is the demo's configuration (demoConfig) with both remotes
// on a git smart-HTTP server that wants a token, given in the URLs as many
// maintainers do (withToken is http://user:token@host:port), the report
// copied to a list (the demo has a KCIDB trigger).
func secretConfig(t *testing.T, dir, imapAddr, smtpAddr, withToken string) string {
	t.Helper()
	c := fmt.Sprintf(demoConfig, dir, imapAddr, smtpAddr)
	testkit.WriteFile(t, filepath.Join(dir, "lab.sh"), fmt.Sprintf(demoLab, dir), 0o755)
	c = testkit.ReplaceOnce(t, c, `candidate_url = "./linux-stable-rc.git"`, `candidate_url = "`+withToken+`/linux-stable-rc.git"`)
	c = testkit.ReplaceOnce(t, c, `push_remote = "./published.git"`, `push_remote = "`+withToken+`/published.git"`)
	return c + `cc = ["List <list@test.invalid>"]
`
}

// secretWorld is the demo behind a git server that wants a token, with
// in-process IMAP and SMTP servers, and everything rtbot wrote so far.
type secretWorld struct {
	dir, cfg string
	git      *testkit.GitHTTPServer
	smtp     *fixtures.SMTPServer
	written  map[string]string // what → text
}

// startDemoMail starts the in-process IMAP and SMTP servers of a demo
// in dir: the mailbox holds the genuine cover and one naming another
// branch (ignored, with the configured candidate remote in the reason),
// and dir/imap.password the IMAP password demoConfig names.
func startDemoMail(t *testing.T, dir string) (*fixtures.IMAPServer, *fixtures.SMTPServer) {
	t.Helper()
	imap, err := fixtures.StartIMAP("rtbot", "imap-pw", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { imap.Close() })
	other := bytes.ReplaceAll(fixtures.DemoMail, []byte("linux-6.1.y"), []byte("linux-6.1.y-other"))
	other = bytes.Replace(other, []byte("Message-Id: <20230213144742"), []byte("Message-Id: <other.20230213144742"), 1)
	for _, m := range [][]byte{other, fixtures.DemoMail} {
		if err := imap.Deliver(m); err != nil {
			t.Fatal(err)
		}
	}
	smtp, err := fixtures.StartSMTP(fixtures.SMTPOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { smtp.Close() })
	testkit.WriteFile(t, filepath.Join(dir, "imap.password"), "imap-pw\n", 0o600)
	return imap, smtp
}

func newSecretWorld(t *testing.T, token string) *secretWorld {
	t.Helper()
	dir := newDemo(t)
	gs := testkit.ServeGit(t, dir, testkit.GitHTTPOptions{User: "rtbot", Password: token})
	imap, smtp := startDemoMail(t, dir)
	withToken := strings.Replace(gs.URL, "http://", "http://rtbot:"+token+"@", 1)
	cfg := filepath.Join(dir, "rtbot.toml")
	if err := os.WriteFile(cfg, []byte(secretConfig(t, dir, imap.Addr, smtp.Addr, withToken)), 0o644); err != nil {
		t.Fatal(err)
	}
	return &secretWorld{dir: dir, cfg: cfg, git: gs, smtp: smtp, written: map[string]string{}}
}

// run runs rtbot with args (--config added), checks its exit code and
// keeps its output under what.
func (w *secretWorld) run(t *testing.T, what string, code int, args ...string) {
	t.Helper()
	var out, errb bytes.Buffer
	args = append(args, "--config", w.cfg)
	if got := run(context.Background(), args, &out, &errb); got != code {
		t.Fatalf("%s: rtbot %v: exit %d, want %d\n%s%s", what, args, got, code, out.String(), errb.String())
	}
	w.written[what] = out.String() + errb.String()
}

// TestNoSecretInOutput: a token in the remote URLs (the way go-git and git
// take one) reaches the git server, and appears in nothing rtbot writes:
// not the -v log, stderr, the JSON, the report mail (which goes to cc
// too), rtbot status and history, the KCIDB document or the state file,
// whether the token is refused (an error that names the remote) or
// accepted (pushed, mailed, a fix learnt, a clean run pushed and tested).
func TestNoSecretInOutput(t *testing.T) {
	const token = "glpat-S3cretT0ken"
	w := newSecretWorld(t, token)
	w.git.SetPassword("a-newer-token") // the token was revoked
	// The preflight finds it (exit 77: credentials refused), and status
	// lists the problem.
	w.run(t, "run with the token refused", exitNoPerm, "run", "-v")
	w.run(t, "status after the refusal", exitManual, "status")
	if w.git.Refused() == 0 || !strings.Contains(w.written["status after the refusal"], "authentication required") {
		t.Fatalf("the server refused nothing, or status does not say why:\n%s", w.written["status after the refusal"])
	}
	w.git.SetPassword(token)
	w.run(t, "run with the token accepted", exitOK, "run", "-v", "--json")
	serialFix(t, filepath.Join(w.dir, "published.git"), "rtbot/6.1-rt/6.1.12-rc1-partial", "serial: 8250: Use port lock wrappers\n")
	// A pass learns it, then runs the queue on its base: clean, pushed
	// and tested.
	w.run(t, "run learning the fix", exitOK, "run", "-v", "--json", "--onto", "v6.1.11")
	for _, args := range [][]string{{"status"}, {"status", "--json"}, {"history"}, {"history", "--json"},
		{"history", "--run", "1"}, {"history", "--run", "1", "--json"}} {
		w.run(t, strings.Join(args, " "), exitOK, args...)
	}
	if out := w.written["run learning the fix"]; !strings.Contains(out, `"outcome": "clean"`) || strings.Contains(out, `"learned": []`) {
		t.Fatalf("the fix was not learnt, or the run on v6.1.11 not clean:\n%s", out)
	}
	w.collectFiles(t)
	for what, text := range w.written {
		if i := strings.Index(text, token); i >= 0 {
			t.Errorf("%s has the token: %q", what, text[max(i-80, 0):min(i+40, len(text))])
		}
	}
}

// collectFiles adds the mails, the KCIDB documents and the state file's
// bytes to what rtbot wrote.
func (w *secretWorld) collectFiles(t *testing.T) {
	t.Helper()
	msgs := w.smtp.Messages()
	if len(msgs) == 0 {
		t.Fatal("no report mailed")
	}
	for i, m := range msgs {
		// Decoded: a quoted-printable soft break could split the token.
		w.written[fmt.Sprintf("mail %d", i+1)] = string(testkit.NormalizeMail(t, m.Data))
	}
	files := testkit.Glob(t, filepath.Join(w.dir, "kcidb", "*.json"))
	files = append(files, testkit.Glob(t, filepath.Join(w.dir, "state.db*"))...)
	for _, f := range files {
		w.written[f] = testkit.ReadFile(t, f)
	}
}

// TestStatusRedactsEarlierState: a state file an earlier rtbot wrote, with
// a token in an error and in a rerun's remote, is shown by status and
// history without it.
func TestStatusRedactsEarlierState(t *testing.T) {
	const token = "glpat-0ldS3cret"
	_, cfg := demoDir(t)
	c, err := config.Load(cfg, pipeline.ConfigRules())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	st, err := state.Open(ctx, c.Bot.State)
	if err != nil {
		t.Fatal(err)
	}
	remote := "https://rtbot:" + token + "@git.example.org/rt/linux.git"
	a := state.Announcement{MessageID: "rerun.old@test.invalid", Kind: pipeline.KindRerun, Series: "6.1", Version: "6.1.12", RC: 1,
		GitURL: remote, GitBranch: "rtbot/6.1-rt/6.1.12-rc1-partial", Status: state.AnnouncementNew}
	if _, _, err := st.RecordAnnouncement(ctx, a); err != nil {
		t.Fatal(err)
	}
	if err := st.AnnouncementFailed(ctx, a.MessageID, fmt.Errorf("push %s rtbot/x: authentication required", remote)); err != nil {
		t.Fatal(err)
	}
	st.Close()
	runCases(t, []cliCase{
		{[]string{"status", "--config", cfg}, exitManual, []string{"push https://git.example.org/rt/linux.git rtbot/x", "!" + token}},
		{[]string{"status", "--config", cfg, "--json"}, exitManual, []string{`"https://git.example.org/rt/linux.git"`, "!" + token}},
		{[]string{"history", "--config", cfg, "--json"}, exitOK, []string{"!" + token}},
	})
}
