package main

import (
	"bytes"
	"context"
	"encoding/pem"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/rtbot/rtbot/internal/fixtures"
	"github.com/rtbot/rtbot/internal/testkit"
)

// checkWorld is docs/rtbot.example.toml on loopback: an IMAP server with
// implicit TLS and an SMTP server with STARTTLS and AUTH, both with a
// certificate of a private CA (ca.pem), the demo's repository and quilt
// queue, its stable-rc mirror served read-only over http, and a push
// remote over http that wants a token.
type checkWorld struct {
	dir  string
	imap *fixtures.IMAPServer
	smtp *fixtures.SMTPServer
	// good are the edits that make the example work here (see
	// exampleConfig).
	good map[string]string
}

// newDemo builds the demo's repositories and queue in a new directory,
// with an empty bare published.git to push to, and returns the directory.
func newDemo(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if _, err := fixtures.BuildDemo(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := git.PlainInit(filepath.Join(dir, "published.git"), true); err != nil {
		t.Fatal(err)
	}
	return dir
}

func newCheckWorld(t *testing.T) *checkWorld {
	t.Helper()
	dir := newDemo(t)
	serverTLS, _ := testkit.SelfSignedTLS(t, "127.0.0.1")
	testkit.WriteFile(t, filepath.Join(dir, "ca.pem"), string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: serverTLS.Certificates[0].Certificate[0]})), 0o644)
	imap, err := fixtures.StartIMAPServer(fixtures.IMAPOptions{User: "rtbot", Password: "imap-pw", TLS: serverTLS, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { imap.Close() })
	smtp, err := fixtures.StartSMTP(fixtures.SMTPOptions{TLSConfig: serverTLS, Username: "rtbot", Password: "smtp-pw"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { smtp.Close() })
	mirror := testkit.ServeGit(t, dir, testkit.GitHTTPOptions{})
	pushes := testkit.ServeGit(t, dir, testkit.GitHTTPOptions{User: "rtbot", Password: "push-token"})
	testkit.WriteFile(t, filepath.Join(dir, "imap.password"), "imap-pw\n", 0o600)
	testkit.WriteFile(t, filepath.Join(dir, "wrong.password"), "not-the-password\n", 0o600)
	testkit.WriteFile(t, filepath.Join(dir, "push.token"), "push-token\n", 0o600)
	if err := os.Mkdir(filepath.Join(dir, "noseries"), 0o755); err != nil {
		t.Fatal(err)
	}
	testkit.WriteFile(t, filepath.Join(dir, "noseries", "0001-a.patch"), "", 0o644)
	t.Setenv("RTBOT_SMTP_PASSWORD", "smtp-pw")
	t.Setenv("RTBOT_SMTP_WRONG", "not-the-password")
	q := func(s string) string { return fmt.Sprintf("%q", s) }
	return &checkWorld{dir: dir, imap: imap, smtp: smtp, good: map[string]string{
		"bot.state":                  q(dir + "/state.db"),
		"bot.lock":                   q(dir + "/state.db.lock"),
		"bot.workdir":                q(dir + "/work"),
		"imap.addr":                  q(imap.Addr),
		"imap.password_file":         q(dir + "/imap.password"),
		"imap.ca_file":               q(dir + "/ca.pem"),
		"smtp.addr":                  q(smtp.Addr),
		"smtp.ca_file":               q(dir + "/ca.pem"),
		"tree.repo":                  q(dir + "/linux.git"),
		"tree.candidate_url":         q(mirror.URL + "/linux-stable-rc.git"),
		"tree.announce_url":          q("git://git.kernel.org/pub/scm/linux/kernel/git/stable/linux-stable-rc.git"),
		"tree.queue":                 q(dir + "/patches-rt"),
		"tree.queue_kind":            q("path"),
		"tree.queue_base":            q("v6.1.11"),
		"tree.push_remote":           q(strings.Replace(pushes.URL, "://", "://rtbot@", 1) + "/published.git"),
		"tree.push_auth.ssh_key":     "",
		"tree.push_auth.known_hosts": "",
		"tree.push_auth.token_file":  q(dir + "/push.token"),
	}}
}

// Lines of a TOML file as exampleConfig reads them.
var (
	tomlTable = regexp.MustCompile(`^\[\[?([a-z_.]+)\]\]?\s*$`)
	tomlKey   = regexp.MustCompile(`^([a-z_]+)\s*=`)
)

// exampleConfig is docs/rtbot.example.toml with edits, keyed "TABLE.KEY"
// with TABLE as its header names it ("imap", "tree", "tree.push_auth"): a
// TOML value replaces the key's, or is added at the end of the table when
// the example leaves the key out (or in a comment); "" drops a key the
// example sets.
func exampleConfig(t *testing.T, edits map[string]string) string {
	t.Helper()
	var out []string
	table, done := "", map[string]bool{}
	addMissing := func() {
		for _, k := range slices.Sorted(maps.Keys(edits)) {
			if v := edits[k]; !done[k] && v != "" && k == table+"."+k[strings.LastIndexByte(k, '.')+1:] {
				out, done[k] = append(out, k[len(table)+1:]+" = "+v), true
			}
		}
	}
	for _, line := range strings.Split(testkit.ReadFile(t, "../../docs/rtbot.example.toml"), "\n") {
		if m := tomlTable.FindStringSubmatch(line); m != nil {
			addMissing()
			table = m[1]
		} else if m := tomlKey.FindStringSubmatch(line); m != nil {
			if v, ok := edits[table+"."+m[1]]; ok {
				if done[table+"."+m[1]] = true; v != "" {
					out = append(out, m[1]+" = "+v)
				}
				continue
			}
		}
		out = append(out, line)
	}
	addMissing()
	for k := range edits {
		if !done[k] {
			t.Fatalf("exampleConfig: %s: no such key to drop in the example", k)
		}
	}
	return strings.Join(out, "\n")
}

// check writes the example with the world's edits and then edit's ("":
// as the example has it), runs
// rtbot check on it and returns its exit code and output, normalised.
func (w *checkWorld) check(t *testing.T, edit map[string]string) (int, string) {
	t.Helper()
	edits := maps.Clone(w.good)
	for k, v := range edit {
		if edits[k] = v; v == "" {
			delete(edits, k) // the example's own value, or none
		}
	}
	cfg := filepath.Join(w.dir, "rtbot.toml")
	testkit.WriteFile(t, cfg, exampleConfig(t, edits), 0o644)
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"check", "--config", cfg}, &out, &errb)
	all := out.String() + errb.String()
	for _, secret := range []string{"imap-pw", "smtp-pw", "push-token", "not-the-password"} {
		if strings.Contains(all, secret) {
			t.Errorf("rtbot check printed a secret (%s):\n%s", secret, all)
		}
	}
	all = strings.ReplaceAll(all, w.dir, "$DIR")
	all = regexp.MustCompile(`127\.0\.0\.1:[0-9]+`).ReplaceAllString(all, "127.0.0.1:PORT")
	all = regexp.MustCompile(`git version [0-9][^ ]*`).ReplaceAllString(all, "git version VERSION")
	return code, all
}

// TestCheckMistakes: rtbot check on the example with each common mistake
// prints one FAIL line, naming the key to change and how, and exits 1.
func TestCheckMistakes(t *testing.T) {
	w := newCheckWorld(t)
	closed := fmt.Sprintf("%q", testkit.ClosedPort(t))
	for _, tc := range []struct {
		name string
		edit map[string]string
		key  string // the FAIL line starts "FAIL key: "
		fix  string // and says this
	}{
		{"wrong repo", map[string]string{"tree.repo": `"/no/such/linux.git"`}, "tree[0].repo", "set repo to the local clone"},
		{"queue without series", map[string]string{"tree.queue": fmt.Sprintf("%q", w.dir+"/noseries")}, "tree[0].queue", "no series file"},
		{"queue_base not in repo", map[string]string{"tree.queue_base": `"v6.1.10"`}, "tree[0].queue_base", "set queue_base to the release the queue was made for"},
		{"wrong IMAP password", map[string]string{"imap.password_file": fmt.Sprintf("%q", w.dir+"/wrong.password")}, "imap.password_file", "the server refused the login"},
		{"wrong SMTP password", map[string]string{"smtp.password_env": `"RTBOT_SMTP_WRONG"`}, "smtp.password_env", "the server refused the login"},
		{"SMTP password unset", map[string]string{"smtp.password_env": `"RTBOT_SMTP_UNSET"`}, "smtp.password_env", "RTBOT_SMTP_UNSET (password_env) is not set"},
		{"unreachable IMAP server", map[string]string{"imap.addr": closed}, "imap.addr", "check that the server runs"},
		{"unreachable SMTP server", map[string]string{"smtp.addr": closed}, "smtp.addr", "check that the server runs"},
		{"IMAP private CA without ca_file", map[string]string{"imap.ca_file": ""}, "imap.ca_file", "set imap.ca_file to the CA's certificate"},
		{"SMTP private CA without ca_file", map[string]string{"smtp.ca_file": ""}, "smtp.ca_file", "set smtp.ca_file to the CA's certificate"},
		{"wrong announce_url", map[string]string{"tree.announce_url": `"git://git.kernel.org/pub/scm/linux/kernel/git/stable/linux-stable.git"`},
			"tree[0].announce_url", "set announce_url to the tree URL the announcements give"},
		{"local mirror without announce_url", map[string]string{"tree.candidate_url": fmt.Sprintf("%q", w.dir+"/linux-stable-rc.git"), "tree.announce_url": ""},
			"tree[0].announce_url", "git://git.kernel.org/pub/scm/linux/kernel/git/stable/linux-stable-rc.git"},
		{"wrong candidate branch", map[string]string{"tree.candidate_branch": `"linux-6.2.y"`}, "tree[0].candidate_branch", "set candidate_branch"},
		{"push remote without token", map[string]string{"tree.push_auth.token_file": ""}, "tree[0].push_auth", "the server wants credentials"},
		{"wrong IMAP mailbox", map[string]string{"imap.mailbox": `"stable"`}, "imap.mailbox", "create that mailbox"},
		{"configuration that does not load", map[string]string{"tree.series": `"six"`}, "tree[0].series", "$DIR/rtbot.toml:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out := w.check(t, tc.edit)
			fails := regexp.MustCompile(`(?m)^FAIL .*$`).FindAllString(out, -1)
			if code != exitError || len(fails) != 1 || !strings.HasPrefix(fails[0], "FAIL "+tc.key+": ") || !strings.Contains(fails[0], tc.fix) {
				t.Errorf("exit %d, FAIL lines %q; want exit 1 and one line for %s saying %q:\n%s", code, fails, tc.key, tc.fix, out)
			}
		})
	}
}

// TestCheckGolden: what rtbot check prints when every check passes, and
// when several fail at once.
func TestCheckGolden(t *testing.T) {
	w := newCheckWorld(t)
	code, out := w.check(t, nil)
	if code != exitOK {
		t.Errorf("rtbot check on the good example: exit %d", code)
	}
	testkit.Golden(t, "testdata/check-good.golden", []byte(out))
	code, out = w.check(t, map[string]string{
		"imap.password_file": fmt.Sprintf("%q", w.dir+"/wrong.password"), "smtp.addr": fmt.Sprintf("%q", testkit.ClosedPort(t)),
		"tree.repo": `"/no/such/linux.git"`, "tree.announce_url": `"https://github.com/gregkh/linux.git"`,
	})
	if code != exitError {
		t.Errorf("rtbot check with mistakes: exit %d", code)
	}
	testkit.Golden(t, "testdata/check-mistakes.golden", []byte(out))
	if _, err := os.Stat(filepath.Join(w.dir, "state.db")); err == nil {
		t.Error("rtbot check created the state file")
	}
}

// TestRunPreflight: a queue without series stops `rtbot run` (exit 78, the
// key named) and `rtbot watch` (exit 78 at once, for systemd not to
// restart it), the maintainers are mailed once, and `rtbot status` says
// what stops every pass. Before the preflight, the pass ran the
// announcement into an error run, exited 0, and mailed nobody.
func TestRunPreflight(t *testing.T) {
	w := newSecretWorld(t, "tok3n")
	series := filepath.Join(w.dir, "patches-rt", "series")
	if err := os.Rename(series, series+".away"); err != nil {
		t.Fatal(err)
	}
	w.run(t, "run without series", exitConfig, "run")
	w.run(t, "run again", exitConfig, "run")
	w.run(t, "status", exitManual, "status")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out bytes.Buffer
	if code := run(ctx, []string{"watch", "--config", w.cfg}, &out, &out); code != exitConfig {
		t.Errorf("watch without series: exit %d, want %d:\n%s", code, exitConfig, out.String())
	}
	for what, want := range map[string]string{"run without series": "tree[0].queue: queue ", "status": "PREFLIGHT PROBLEM since "} {
		if !strings.Contains(w.written[what], want) || !strings.Contains(w.written[what], "no series file") {
			t.Errorf("%s does not say what is wrong (%q):\n%s", what, want, w.written[what])
		}
	}
	if msgs := w.smtp.Messages(); len(msgs) != 1 || !slices.Equal(msgs[0].To, []string{"rt-maintainer@demo.invalid"}) {
		t.Fatalf("%d mail(s), want 1 to the maintainer: %v", len(msgs), msgs)
	}
	if err := os.Rename(series+".away", series); err != nil {
		t.Fatal(err)
	}
	w.run(t, "run with the series back", exitOK, "run")
	w.run(t, "status with the series back", exitOK, "status")
	if len(w.smtp.Messages()) != 2 || strings.Contains(w.written["status with the series back"], "PREFLIGHT") {
		t.Errorf("the pass did not mail its report, or status still shows the problem:\n%s", w.written["status with the series back"])
	}
}
