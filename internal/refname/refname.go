// Package refname says which git branch names and revisions rtbot accepts.
//
// Branch names and revisions reach rtbot from mail, configuration and the
// command line, and end up in refs and in messages. One strict rule, used
// everywhere, keeps anything a shell, a URL or git's ref parser could
// misread out: letters, digits and "._+-" in "/"-separated components.
package refname

import (
	"fmt"
	"regexp"
	"strings"
)

// MaxLen is the longest name accepted.
const MaxLen = 200

var (
	branchRe = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._+-]*(/[A-Za-z0-9_][A-Za-z0-9._+-]*)*$`)
	revRe    = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._+-]*(/[A-Za-z0-9_][A-Za-z0-9._+-]*)*([~^][0-9]*)*$`)
)

// Branch returns an error unless name is a branch name rtbot accepts:
// "/"-separated components of letters, digits, '.', '_', '+' and '-', none
// starting with '.', '+' or '-' or ending in ".lock", no "..", at most
// MaxLen bytes. Every such name is also valid for git check-ref-format.
func Branch(name string) error {
	if len(name) > MaxLen || !branchRe.MatchString(name) || strings.Contains(name, "..") || lockComponent(name) {
		return fmt.Errorf("branch name %q is not allowed", clip(name))
	}
	return nil
}

// Revision reports whether s is a revision rtbot resolves: a branch-like
// name (a ref, a tag or an object id) optionally followed by ~N and ^
// suffixes. Ranges ("A..B") are not revisions.
func Revision(s string) bool {
	return len(s) <= MaxLen && revRe.MatchString(s) && !strings.Contains(s, "..") && !lockComponent(s)
}

func lockComponent(name string) bool {
	for _, c := range strings.Split(name, "/") {
		if strings.HasSuffix(c, ".lock") {
			return true
		}
	}
	return false
}

// clip shortens hostile input for error messages.
func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}
