package testkit

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Identity is the author and committer every git command run by Git uses
// unless the caller's environment overrides it.
const (
	IdentityName  = "rtbot test"
	IdentityEmail = "test@rtbot.invalid"
)

// GitEnv is the environment Git runs git in: the process environment with
// every GIT_* variable removed, no system or global configuration, a fixed
// identity, locale and time zone, and HOME set to home so that nothing of
// the user running the tests is read. extra entries come last and win.
func GitEnv(home string, extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "GIT_") || strings.HasPrefix(kv, "HOME=") ||
			strings.HasPrefix(kv, "XDG_CONFIG_HOME=") || strings.HasPrefix(kv, "LC_ALL=") ||
			strings.HasPrefix(kv, "TZ=") {
			continue
		}
		env = append(env, kv)
	}
	env = append(env,
		"HOME="+home,
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_CONFIG_GLOBAL=/dev/null",
		"GIT_AUTHOR_NAME="+IdentityName, "GIT_AUTHOR_EMAIL="+IdentityEmail,
		"GIT_COMMITTER_NAME="+IdentityName, "GIT_COMMITTER_EMAIL="+IdentityEmail,
		"GIT_TERMINAL_PROMPT=0",
		"LC_ALL=C", "TZ=UTC",
	)
	return append(env, extra...)
}

// GitCommitter returns the environment entries that make git commit, tag
// and am as name <email> at when: for tests that recreate commits rtbot
// made, byte for byte. Pass them as RunGit's or GitWith's extra.
func GitCommitter(name, email string, when time.Time) []string {
	return []string{
		"GIT_COMMITTER_NAME=" + name, "GIT_COMMITTER_EMAIL=" + email,
		fmt.Sprintf("GIT_COMMITTER_DATE=@%d +0000", when.Unix()),
	}
}

// GitCommand returns the command that runs git with args in dir (which may
// be "") in GitEnv(home, extra...). It touches no testing.TB, so it serves
// where Git and RunGit do not: git's standard output alone (git merge-file
// -p, git diff), its exit status, or calls from worker goroutines.
func GitCommand(dir, home string, extra []string, args ...string) *exec.Cmd {
	return command(dir, home, extra, "git", args...)
}

// command is name with args, to run in dir in GitEnv(home, extra...).
func command(dir, home string, extra []string, name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = GitEnv(home, extra...)
	return cmd
}

// RunGit runs git with args in dir (which may be "") in GitEnv, with extra
// environment entries, and returns its combined output and error: for tests
// that expect git to fail, or compare with it.
func RunGit(tb testing.TB, dir string, extra []string, args ...string) (string, error) {
	tb.Helper()
	NeedGit(tb)
	return RunCommand(tb, dir, extra, "git", args...)
}

// RunCommand runs name with args in dir, in the environment RunGit gives
// git, and returns its combined output and error: for the tools tests run
// beside git (quilt, tar), which must not read the user's configuration
// either.
func RunCommand(tb testing.TB, dir string, extra []string, name string, args ...string) (string, error) {
	tb.Helper()
	cmd := command(dir, tb.TempDir(), extra, name, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// Git runs git with args in dir (which may be "") in GitEnv and returns its
// output with surrounding white space trimmed; a failure fails the test,
// naming the command and showing git's output.
func Git(tb testing.TB, dir string, args ...string) string {
	tb.Helper()
	return GitWith(tb, dir, nil, args...)
}

// GitWith is Git with extra environment entries, which come after GitEnv's
// and win: GitCommitter's, or QUILT_PATCHES for a work tree.
func GitWith(tb testing.TB, dir string, extra []string, args ...string) string {
	tb.Helper()
	out, err := RunGit(tb, dir, extra, args...)
	if err != nil {
		tb.Fatalf("git %s (in %s): %v\n%s", strings.Join(args, " "), dir, err, out)
	}
	return strings.TrimSpace(out)
}

// NeedGit fails the test when git is not installed: every test that runs
// git needs it, and a machine without it must not pass them silently.
func NeedGit(tb testing.TB) {
	tb.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		tb.Fatalf("git is not installed: %v", err)
	}
}

// SharedClone makes a bare `git clone --shared` of repo, as kernel
// maintainers keep their trees (all objects borrowed through
// objects/info/alternates), after packing repo with git gc when pack is
// set, and fails the test if the clone has objects of its own.
func SharedClone(tb testing.TB, repo string, pack bool) string {
	tb.Helper()
	if pack {
		Git(tb, repo, "gc", "-q")
	}
	shared := filepath.Join(tb.TempDir(), "shared.git")
	Git(tb, "", "clone", "-q", "--bare", "--shared", repo, shared)
	if objs := Git(tb, shared, "count-objects", "-v"); !strings.Contains(objs, "count: 0") || !strings.Contains(objs, "in-pack: 0") {
		tb.Fatalf("the shared clone has objects of its own:\n%s", objs)
	}
	return shared
}

// QuiltQueue writes the commits of rev (a range such as "base..rt") in the
// repository repo as a quilt queue in a new directory: git format-patch
// with the extra flags given, and a series file listing the patches in
// order. It returns the directory.
func QuiltQueue(tb testing.TB, repo, rev string, flags ...string) string {
	tb.Helper()
	dir := filepath.Join(tb.TempDir(), "patches-rt")
	args := append([]string{"format-patch", "-q", "-o", dir}, flags...)
	Git(tb, repo, append(args, rev)...)
	var series strings.Builder
	for _, n := range Glob(tb, filepath.Join(dir, "*.patch")) {
		series.WriteString(filepath.Base(n) + "\n")
	}
	if err := os.WriteFile(filepath.Join(dir, "series"), []byte(series.String()), 0o644); err != nil {
		tb.Fatal(err)
	}
	return dir
}
