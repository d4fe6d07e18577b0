// Package testkit is rtbot's one shared test kit: running git with a clean,
// fixed environment, finding the real list mails that the repository
// carries, and globbing test data so that a pattern that matches nothing
// fails the test instead of silently testing nothing.
//
// Only tests import it.
package testkit

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
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

// RunGit runs git with args in dir (which may be "") in GitEnv, with extra
// environment entries, and returns its combined output and error: for tests
// that expect git to fail, or compare with it.
func RunGit(tb testing.TB, dir string, extra []string, args ...string) (string, error) {
	tb.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		tb.Fatalf("git is not installed: %v", err)
	}
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = GitEnv(tb.TempDir(), extra...)
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
	out, err := RunGit(tb, dir, nil, args...)
	if err != nil {
		tb.Fatalf("git %s (in %s): %v\n%s", strings.Join(args, " "), dir, err, out)
	}
	return strings.TrimSpace(out)
}

// MailsDir is the directory of real list mails that the repository carries
// (internal/fixtures/mails; its README.md says where each comes from).
func MailsDir() string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		panic("testkit: no caller information to find the fixture mails")
	}
	return filepath.Join(filepath.Dir(file), "..", "fixtures", "mails")
}

// Mail returns the path of the real list mail name in MailsDir, failing the
// test if it is not there.
func Mail(tb testing.TB, name string) string {
	tb.Helper()
	p := filepath.Join(MailsDir(), name)
	if _, err := os.Stat(p); err != nil {
		tb.Fatalf("fixture mail: %v", err)
	}
	return p
}

// Glob returns the files matching pattern, failing the test when the
// pattern is malformed or matches nothing: test data that went missing must
// not turn a test into one that checks nothing.
func Glob(tb testing.TB, pattern string) []string {
	tb.Helper()
	files, err := filepath.Glob(pattern)
	if err != nil {
		tb.Fatalf("glob %s: %v", pattern, err)
	}
	if len(files) == 0 {
		tb.Fatalf("glob %s matches no file: the test data is missing", pattern)
	}
	return files
}
