package main

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
)

// TestExitCodeAndPrintError maps each kind of error a command returns, bare
// and wrapped, to its exit code and to what run prints for it.
func TestExitCodeAndPrintError(t *testing.T) {
	fs := newFlags("test", "rtbot test [--n N]")
	fs.Int("n", 0, "a number")
	const usage = "usage: rtbot test [--n N]\n  -n int\n    \ta number\n"
	boom := errors.New("boom")
	tests := []struct {
		name string
		cmd  string
		err  error
		code int
		out  string
	}{
		{"nil", "test", nil, exitOK, ""},
		{"plain", "test", boom, exitError, "rtbot test: boom\n"},
		{"plain wrapped", "test", fmt.Errorf("step: %w", boom), exitError, "rtbot test: step: boom\n"},
		{"plain before a command", "", boom, exitError, "rtbot: boom\n"},
		{"usage message", "test", usagef("--n %d: too big", 9), exitUsage, "rtbot test: --n 9: too big\n"},
		{"usage message wrapped", "test", fmt.Errorf("checking: %w", usagef("--n is odd")), exitUsage, "rtbot test: --n is odd\n"},
		{"usage message and usage", "test", usageOf(fs, "--n is required"), exitUsage, "rtbot test: --n is required\n" + usage},
		{"usage alone", "test", usageOf(fs, ""), exitUsage, usage},
		{"bad flag", "test", parseFlags(fs, []string{"--frob"}), exitUsage, "flag provided but not defined: -frob\n" + usage},
		{"bad flag value", "test", parseFlags(fs, []string{"--n", "x"}), exitUsage, "invalid value \"x\" for flag -n: parse error\n" + usage},
		{"help", "test", parseFlags(fs, []string{"-h"}), exitOK, usage},
		{"help wrapped", "test", fmt.Errorf("parsing: %w", parseFlags(fs, []string{"--help"})), exitOK, usage},
		{"unknown command", "", &usageError{msg: `unknown command "x"`, usage: "usage: rtbot COMMAND\n"}, exitUsage,
			"rtbot: unknown command \"x\"\nusage: rtbot COMMAND\n"},
		{"needs a human", "test", errNeedsHuman, exitManual, ""},
		{"needs a human wrapped", "test", fmt.Errorf("2 patch(es) need attention: %w", errNeedsHuman), exitManual, ""},
		{"reported", "test", errReported, exitError, ""},
		{"reported wrapped", "test", fmt.Errorf("1 state problem(s): %w", errReported), exitError, ""},
		{"bare", "test", &bareError{boom}, exitError, "rtbot: boom\n"},
		{"bare wrapped", "test", fmt.Errorf("writing: %w", &bareError{boom}), exitError, "rtbot: boom\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if code := exitCode(tt.err); code != tt.code {
				t.Errorf("exitCode(%v) = %d, want %d", tt.err, code, tt.code)
			}
			var out bytes.Buffer
			printError(&out, tt.cmd, tt.err)
			if out.String() != tt.out {
				t.Errorf("printError(%v) printed\n%q\nwant\n%q", tt.err, out.String(), tt.out)
			}
		})
	}
	if parseFlags(fs, []string{"--n", "3"}) != nil {
		t.Error("parseFlags refused a good command line")
	}
}

// TestRunExitCodes checks run's own exit codes and output, before any
// command runs.
func TestRunExitCodes(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{nil, exitUsage, "usage: rtbot COMMAND [flags]\n\ncommands:\n  action "},
		{[]string{"help"}, exitOK, "usage: rtbot COMMAND [flags]\n"},
		{[]string{"--help"}, exitOK, "usage: rtbot COMMAND [flags]\n"},
		{[]string{"frob"}, exitUsage, "rtbot: unknown command \"frob\"\nusage: rtbot COMMAND [flags]\n"},
	} {
		var out, errb bytes.Buffer
		code := run(t.Context(), tc.args, &out, &errb)
		if code != tc.code || !bytes.HasPrefix(errb.Bytes(), []byte(tc.want)) || out.Len() != 0 {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want %d and %q", tc.args, code, out.String(), errb.String(), tc.code, tc.want)
		}
	}
}
