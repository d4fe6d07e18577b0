package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
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
