package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/rtbot/rtbot/internal/fixtures"
)

// cliCase is one rtbot command line, the exit code it must end with and
// what its output (stdout and stderr together) must say: each string of
// want must appear in it, except that one starting with "!" must not
// (the rest of it).
type cliCase struct {
	args []string
	code int
	want []string
}

// runCases runs the cases in order, as a user would one after the other,
// and checks each one's exit code and output.
func runCases(t *testing.T, cases []cliCase) {
	t.Helper()
	for _, tc := range cases {
		var out, errb bytes.Buffer
		code := run(context.Background(), tc.args, &out, &errb)
		all := out.String() + errb.String()
		if code != tc.code {
			t.Errorf("%v: exit %d, want %d: %s", tc.args, code, tc.code, all)
		}
		for _, w := range tc.want {
			if absent, ok := strings.CutPrefix(w, "!"); ok {
				if strings.Contains(all, absent) {
					t.Errorf("%v: output has %q:\n%s", tc.args, absent, all)
				}
			} else if !strings.Contains(all, w) {
				t.Errorf("%v: output lacks %q:\n%s", tc.args, w, all)
			}
		}
	}
}

// demoDir runs `rtbot demo` in a new directory and returns the directory
// and the configuration file it left there.
func demoDir(t *testing.T) (dir, cfg string) {
	t.Helper()
	dir = t.TempDir()
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"demo", "--dir", dir}, &out, &errb); code != exitOK {
		t.Fatalf("demo: exit %d: %s", code, errb.String())
	}
	return dir, filepath.Join(dir, "rtbot.toml")
}

// serialFix commits, in the repository at repoDir, the demo's serial
// conflict resolved by hand on top of its partial branch, with message
// msg, and points branch to at it.
func serialFix(t *testing.T, repoDir, to, msg string) plumbing.Hash {
	t.Helper()
	fix, err := fixtures.CommitDemoFix(repoDir, "rtbot/6.1-rt/6.1.12-rc1-partial", msg)
	if err != nil {
		t.Fatal(err)
	}
	repo, err := fixtures.Open(repoDir)
	if err != nil {
		t.Fatal(err)
	}
	if err := repo.Branch(to, fix); err != nil {
		t.Fatal(err)
	}
	return fix
}
