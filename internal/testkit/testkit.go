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
//   - Glob: filepath.Glob that fails the test when nothing matches, so
//     that test data gone missing does not make a test check nothing.
package testkit

import (
	"path/filepath"
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
