package main

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/rtbot/rtbot/internal/fixtures"
	"github.com/rtbot/rtbot/internal/state"
	"github.com/rtbot/rtbot/internal/testkit"
)

// releaseRepo builds a bare repository with the branch v6.1-rt on kernel
// 6.1.12 and localversion-rt "-rt5\n", and a branch "other".
func releaseRepo(t *testing.T) (dir string, tip plumbing.Hash) {
	t.Helper()
	dir = t.TempDir()
	r, err := fixtures.Init(dir, true)
	if err != nil {
		t.Fatal(err)
	}
	tree := fixtures.Tree{
		"Makefile":        {Content: "VERSION = 6\nPATCHLEVEL = 1\nSUBLEVEL = 12\nEXTRAVERSION =\nNAME = Curry Ramen\n"},
		"localversion-rt": {Content: "-rt5\n"},
		"kernel/core.c":   {Content: fixtures.Lines("line", 5)},
	}
	base, err := r.Commit(tree, "Linux 6.1.12-rt5\n")
	if err != nil {
		t.Fatal(err)
	}
	tree["kernel/core.c"] = fixtures.File{Content: fixtures.Lines("rt", 5)}
	if tip, err = r.Commit(tree, "rt: core\n", base); err != nil {
		t.Fatal(err)
	}
	r.Branch("v6.1-rt", tip)
	r.Branch("other", base)
	r.Tag("v6.1.12-rt5", base)
	return dir, tip
}

// releaseState is every ref and every file of the object store.
func releaseState(t *testing.T, dir string) string {
	t.Helper()
	var files []string
	filepath.WalkDir(filepath.Join(dir, "objects"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, p)
		}
		return err
	})
	return testkit.Git(t, dir, "for-each-ref") + "\n" + strings.Join(files, "\n")
}

func TestReleaseCommand(t *testing.T) {
	t.Setenv("RTBOT_COMMITTER", "")
	dir, tip := releaseRepo(t)
	mailFile := filepath.Join(t.TempDir(), "announce.txt")
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"release", "--repo", dir, "--branch", "v6.1-rt",
		"--name", "Clark Williams", "--email", "williams@redhat.com", "--announce", mailFile}, &out, &errb)
	if code != exitOK {
		t.Fatalf("exit %d, want 0; stderr %s", code, errb.String())
	}
	head := testkit.Git(t, dir, "rev-parse", "v6.1-rt")
	if testkit.Git(t, dir, "rev-parse", "v6.1-rt~1") != tip.String() || testkit.Git(t, dir, "cat-file", "-t", "v6.1.12-rt6") != "tag" ||
		testkit.Git(t, dir, "rev-parse", "v6.1.12-rt6^{commit}") != head {
		t.Errorf("branch or tag wrong:\n%s", testkit.Git(t, dir, "for-each-ref"))
	}
	for _, want := range []string{
		"release 6.1.12-rt6 on v6.1-rt: kernel 6.1.12, localversion-rt -rt5 -> -rt6",
		"commit  " + head + ` "Linux 6.1.12-rt6"`,
		"tag     v6.1.12-rt6 created: annotated, unsigned",
		"changes since v6.1.12-rt5: 1 commits",
		"announcement written to " + mailFile,
		"git -C " + dir + ` tag -s -f -m "Linux 6.1.12-rt6" v6.1.12-rt6 ` + head,
		"git -C " + dir + " push origin v6.1-rt v6.1.12-rt6",
		"kup put patch-6.1.12-rt6.patch.xz patch-6.1.12-rt6.patch.asc /pub/linux/kernel/projects/rt/6.1/patch-6.1.12-rt6.patch.gz",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "Hello RT-list!") {
		t.Errorf("announcement on stdout although --announce was given")
	}
	mailText, err := os.ReadFile(mailFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Subject: [ANNOUNCE] 6.1.12-rt6\n\nHello RT-list!\n", "  Head SHA1: " + head + "\n",
		"  branch: v6.1-rt\n", "\nEnjoy!\nClark Williams\n", "Fixture Author (1):\n  rt: core\n"} {
		if !strings.Contains(string(mailText), want) {
			t.Errorf("announcement lacks %q:\n%s", want, mailText)
		}
	}

	// A release candidate from the environment's identity, announcement
	// on stdout, with the review date given.
	t.Setenv("RTBOT_COMMITTER", "Tom Zanussi <zanussi@kernel.org>")
	out.Reset()
	code = run(context.Background(), []string{"release", "--repo", dir, "--branch", "v6.1-rt", "--rc", "--release-on", "2026-12-24", "--signature", "Tom"}, &out, &errb)
	if code != exitOK {
		t.Fatalf("rc: exit %d; stderr %s", code, errb.String())
	}
	for _, want := range []string{"release 6.1.12-rt7-rc1 on v6.1-rt", "a release candidate usually is not",
		"----- announcement mail -----\nSubject: [ANNOUNCE] 6.1.12-rt7-rc1\n\nDear RT Folks,\n", "release on 2026-12-24.", "\n-- Tom\n"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("rc output lacks %q:\n%s", want, out.String())
		}
	}
	if got := testkit.Git(t, dir, "log", "-1", "--format=%an <%ae> %s", "v6.1.12-rt7-rc1"); got != "Tom Zanussi <zanussi@kernel.org> Linux 6.1.12-rt7-rc1" {
		t.Errorf("rc commit %q", got)
	}
}

func TestReleaseDryRunWritesNothing(t *testing.T) {
	t.Setenv("RTBOT_COMMITTER", "Clark Williams <williams@redhat.com>")
	dir, _ := releaseRepo(t)
	before := releaseState(t, dir)
	mailFile := filepath.Join(t.TempDir(), "announce.txt")
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"release", "--repo", dir, "--branch", "v6.1-rt", "--dry-run", "--announce", mailFile}, &out, &errb)
	if code != exitOK {
		t.Fatalf("exit %d; stderr %s", code, errb.String())
	}
	if after := releaseState(t, dir); after != before {
		t.Errorf("dry run changed the repository:\nbefore %s\nafter  %s", before, after)
	}
	if _, err := os.Stat(mailFile); !os.IsNotExist(err) {
		t.Errorf("dry run wrote the announcement file")
	}
	for _, want := range []string{"dry run: nothing written", "-rt5 -> -rt6", `"Linux 6.1.12-rt6"`, "tag     v6.1.12-rt6 would be created",
		"branch  v6.1-rt would move", "Subject: [ANNOUNCE] 6.1.12-rt6"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("dry run output lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "next steps") {
		t.Errorf("dry run lists next steps")
	}
}

func TestReleaseCommandErrors(t *testing.T) {
	noGitIdentity(t)
	dir, _ := releaseRepo(t)
	id := []string{"--name", "N", "--email", "n@example.org"}
	tests := []struct {
		name string
		env  string
		args []string
		code int
		err  string
	}{
		{"no args", "", []string{"release"}, exitUsage, "required"},
		{"no branch", "", append([]string{"release", "--repo", dir}, id...), exitUsage, "--branch"},
		{"bad branch", "", append([]string{"release", "--repo", dir, "--branch", "../x"}, id...), exitUsage, "not allowed"},
		{"no identity", "", []string{"release", "--repo", dir, "--branch", "v6.1-rt"}, exitUsage, "RTBOT_COMMITTER=\"Name <email>\", or set git's user.name and user.email"},
		{"bad env identity", "nobody", []string{"release", "--repo", dir, "--branch", "v6.1-rt"}, exitUsage, "RTBOT_COMMITTER"},
		{"name without email", "", []string{"release", "--repo", dir, "--branch", "v6.1-rt", "--name", "N"}, exitUsage, "together"},
		{"release-on without rc", "", append([]string{"release", "--repo", dir, "--branch", "v6.1-rt", "--release-on", "2026-01-01"}, id...), exitUsage, "--rc"},
		{"bad date", "", append([]string{"release", "--repo", dir, "--branch", "v6.1-rt", "--rc", "--release-on", "soon"}, id...), exitUsage, "YYYY-MM-DD"},
		{"unknown flag", "", []string{"release", "--frob"}, exitUsage, "frob"},
		{"not a repo", "", append([]string{"release", "--repo", t.TempDir(), "--branch", "v6.1-rt"}, id...), exitError, "not a git repository"},
		{"missing branch", "", append([]string{"release", "--repo", dir, "--branch", "v6.2-rt"}, id...), exitError, "does not exist"},
		{"tag exists", "", append([]string{"release", "--repo", dir, "--branch", "other", "--tag-prefix", "v"}, id...), exitError, "tag v6.1.12-rt6 exists already"},
	}
	// "other" is at -rt5 too; once v6.1-rt is released, releasing "other"
	// would make the same tag.
	t.Setenv("RTBOT_COMMITTER", "Clark Williams <williams@redhat.com>")
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"release", "--repo", dir, "--branch", "v6.1-rt"}, &out, &errb); code != exitOK {
		t.Fatalf("setup release: exit %d: %s", code, errb.String())
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("RTBOT_COMMITTER", tt.env)
			before := releaseState(t, dir)
			var out, errb bytes.Buffer
			code := run(context.Background(), tt.args, &out, &errb)
			if code != tt.code || !strings.Contains(errb.String(), tt.err) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, errb.String(), tt.code, tt.err)
			}
			if after := releaseState(t, dir); after != before {
				t.Errorf("repository changed on error")
			}
		})
	}
	var help bytes.Buffer
	if code := run(context.Background(), []string{"release", "-h"}, &help, &errb); code != exitOK || !strings.Contains(help.String(), "--dry-run") {
		t.Errorf("-h: exit %d, %q", code, help.String())
	}
}

// noGitIdentity gives the test a HOME without a git configuration, so
// that the developer's ~/.gitconfig is not the release identity.
func noGitIdentity(t *testing.T) string {
	t.Helper()
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", "")
	return home
}

// TestReleaseIdentityFromGit: without --name, --email or RTBOT_COMMITTER
// the release is made as git's user.name and user.email, and says so.
func TestReleaseIdentityFromGit(t *testing.T) {
	home := noGitIdentity(t)
	t.Setenv("RTBOT_COMMITTER", "")
	gitconfig := "[user]\n\tname = Joseph Salisbury\n\temail = joseph.salisbury@example.org\n"
	if err := os.WriteFile(filepath.Join(home, ".gitconfig"), []byte(gitconfig), 0o644); err != nil {
		t.Fatal(err)
	}
	dir, _ := releaseRepo(t)
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"release", "--repo", dir, "--branch", "v6.1-rt"}, &out, &errb); code != exitOK {
		t.Fatalf("exit %d; stderr %s", code, errb.String())
	}
	if want := "identity Joseph Salisbury <joseph.salisbury@example.org> (from git's user.name and user.email)"; !strings.Contains(out.String(), want) {
		t.Errorf("output lacks %q:\n%s", want, out.String())
	}
	got := testkit.Git(t, dir, "log", "-1", "--format=%an <%ae>|%cn <%ce>", "v6.1.12-rt6")
	if got != "Joseph Salisbury <joseph.salisbury@example.org>|Joseph Salisbury <joseph.salisbury@example.org>" {
		t.Errorf("release commit by %q, want git's user", got)
	}
}

// TestReleaseGate: with a configuration, `rtbot release` refuses a tip no
// clean run produced, and one whose run failed, saying which, unless
// --force; a tip whose tests passed is released.
func TestReleaseGate(t *testing.T) {
	ctx := context.Background()
	_, cfg := demoDir(t)
	dir, tip := releaseRepo(t)
	args := []string{"release", "--repo", dir, "--branch", "v6.1-rt", "--dry-run", "--config", cfg, "--name", "Tom", "--email", "tom@example.org"}
	release := func(extra ...string) (int, string) {
		var out, errb strings.Builder
		code := run(ctx, append(append([]string{}, args...), extra...), &out, &errb)
		return code, out.String() + errb.String()
	}
	if code, out := release(); code != exitError || !strings.Contains(out, "no clean rtbot run produced") || !strings.Contains(out, "--force") {
		t.Fatalf("no run: exit %d\n%s", code, out)
	}
	st := openConfigState(t, cfg)
	r := startRun(t, st, "gate@x")
	checkout := "rtbot:6.1-rt:6.1.13-rc1:" + tip.String()
	status := "FAIL"
	err := errors.Join(st.FinishRun(ctx, r.ID, state.RunResult{Outcome: state.OutcomeClean, ResultCommit: tip.String()}),
		st.ExpectResults(ctx, r.ID, []string{checkout}, []string{"build-test"}, time.Now()),
		st.SaveResults(ctx, []state.TestResult{{Kind: "build", ID: "rtbot:build-test:x", CheckoutID: checkout, Path: "build-test", Status: status}}, r.ID, "build-test"))
	if err != nil {
		t.Fatal(err)
	}
	code, out := release()
	if code != exitError || !strings.Contains(out, "FAILED: 1 build (1 failed)") || !strings.Contains(out, "build build-test FAIL") {
		t.Fatalf("failed run: exit %d\n%s", code, out)
	}
	if code, out := release("--force"); code != exitOK || !strings.Contains(out, "releasing anyway (--force)") {
		t.Fatalf("--force: exit %d\n%s", code, out)
	}
	if err := st.SaveResults(ctx, []state.TestResult{{Kind: "build", ID: "rtbot:build-test:x", CheckoutID: checkout, Path: "build-test", Status: "PASS"}}, r.ID, ""); err != nil {
		t.Fatal(err)
	}
	if code, out := release(); code != exitOK || !strings.Contains(out, "test results: passed") {
		t.Fatalf("passed run: exit %d\n%s", code, out)
	}
}
