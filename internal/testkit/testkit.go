// Package testkit is rtbot's one shared test kit. Only tests import it; it
// imports nothing of rtbot's, so that every package's tests (internal ones
// included) may use it without an import cycle.
//
// What is in it, and when to use it:
//
//   - Git, GitWith, RunGit, GitCommand, GitEnv, GitCommitter, NeedGit: run
//     the git command line with a clean, fixed environment (no system or
//     global configuration, a fixed identity, C locale, UTC, a private
//     HOME). Use Git for a command that must succeed (its trimmed output);
//     GitWith to add environment entries, such as GitCommitter's fixed
//     committer and date; RunGit when git may fail or its output is
//     compared; GitCommand when only standard output counts, the exit
//     status matters or goroutines run git; RunCommand for the tools run
//     beside git (quilt, tar). Never exec.Command("git") in a test: a
//     developer's ~/.gitconfig must not change what a test sees.
//   - MailsDir, Mail: the real list mails in internal/fixtures/mails.
//     Package fixtures builds the rest of a test's world, shared with
//     `rtbot demo`: repositories (Init, Tree, Commit), list mails
//     (ListMails, GenMail), the in-process IMAP server (StartIMAPServer,
//     the only one), SMTP server (StartSMTP) and a proxy that cuts
//     connections (StartFaultProxy). Remembered resolutions in memory are
//     resolutions.Memory.
//   - SelfSignedTLS: a server certificate and a pool trusting it, for the
//     TLS modes of those servers. Serve: a loopback TCP server of a few
//     lines (one that never answers, one that greets); ClosedPort: an
//     address where nothing listens. ServeGit: a git smart-HTTP server
//     (git http-backend behind net/http/cgi), plain or TLS, with basic
//     authentication, for https remotes and their tokens.
//   - Glob: filepath.Glob that fails the test when nothing matches, so
//     that test data gone missing does not make a test check nothing;
//     ReadFile: a file's content, or the test fails; WriteFile: a file of
//     an exact mode (secrets); ReplaceOnce: an edit of a text (a
//     configuration, a mail) that fails when it does not apply.
//   - Golden, NormalizeMail: compare output with a golden file under the
//     package's testdata/. After a deliberate change, rewrite the files
//     with the -update flag, which testkit registers in every test binary
//     that links it (go test ./internal/report ./internal/pipeline -run
//     'Golden|TestTextReport' -update), and review their diff. Before
//     comparing a mail, NormalizeMail makes explicit what varies from run
//     to run (the date, temporary directories, commit ids); see its
//     comment.
//   - ValidateJSON: a JSON document against a JSON Schema file (the
//     KCIDB I/O schema in internal/trigger/testdata, say), every violation
//     listed; use it for every document rtbot writes for another program.
package testkit

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

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

// ReadFile returns the content of the file at path, failing the test if
// it cannot be read.
func ReadFile(tb testing.TB, path string) string {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}

// WriteFile writes content to the file path with mode exactly (whatever
// the umask), failing the test on error, and returns path: for password,
// token and key files, whose mode rtbot checks.
func WriteFile(tb testing.TB, path, content string, mode os.FileMode) string {
	tb.Helper()
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		tb.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		tb.Fatal(err)
	}
	return path
}

// ReplaceOnce returns s with old replaced by new, failing the test unless
// old occurs exactly once: an edit of a configuration or a mail that no
// longer applies must not let a test check the unedited text.
func ReplaceOnce(tb testing.TB, s, old, new string) string {
	tb.Helper()
	if n := strings.Count(s, old); n != 1 {
		tb.Fatalf("%q occurs %d times, want once", old, n)
	}
	return strings.Replace(s, old, new, 1)
}
