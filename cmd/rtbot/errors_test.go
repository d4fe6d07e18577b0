package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rtbot/rtbot/internal/pipeline"
	"github.com/rtbot/rtbot/internal/testkit"
	"github.com/spf13/cobra"
)

// TestExitCodeAndPrintError maps each kind of error a command returns, bare
// and wrapped, to its exit code and to what run prints for it.
func TestExitCodeAndPrintError(t *testing.T) {
	c := &cobra.Command{Use: "test [--n N]", Run: func(*cobra.Command, []string) {}}
	c.Flags().Int("n", 0, "a number")
	const usage = "Usage:\n  test [--n N] [flags]\n\nFlags:\n      --n int   a number\n"
	boom := errors.New("boom")
	locked := fmt.Errorf("lock /x is held by pid 1: %w; this run exits without doing anything", pipeline.ErrLocked)
	tests := []struct {
		name   string
		prefix string
		err    error
		code   int
		out    string
	}{
		{"nil", "rtbot test", nil, exitOK, ""},
		{"plain", "rtbot test", boom, exitError, "rtbot test: boom\n"},
		{"plain wrapped", "rtbot test", fmt.Errorf("step: %w", boom), exitError, "rtbot test: step: boom\n"},
		{"plain before a command", "rtbot", boom, exitError, "rtbot: boom\n"},
		{"usage message", "rtbot test", usagef("--n %d: too big", 9), exitUsage, "rtbot test: --n 9: too big\n"},
		{"usage message wrapped", "rtbot test", fmt.Errorf("checking: %w", usagef("--n is odd")), exitUsage, "rtbot test: --n is odd\n"},
		{"usage message and usage", "rtbot test", usageOf(c, "--n is required"), exitUsage, "rtbot test: --n is required\n" + usage},
		{"usage alone", "rtbot test", usageOf(c, ""), exitUsage, usage},
		{"unknown command", "rtbot", &usageError{msg: `unknown command "x"`, usage: "Usage:\n  rtbot\n"}, exitUsage,
			"rtbot: unknown command \"x\"\nUsage:\n  rtbot\n"},
		{"needs a human", "rtbot test", errNeedsHuman, exitManual, ""},
		{"needs a human wrapped", "rtbot test", fmt.Errorf("2 patch(es) need attention: %w", errNeedsHuman), exitManual, ""},
		{"reported", "rtbot test", errReported, exitError, ""},
		{"reported wrapped", "rtbot test", fmt.Errorf("1 state problem(s): %w", errReported), exitError, ""},
		{"bare", "rtbot test", &bareError{boom}, exitError, "rtbot: boom\n"},
		{"bare wrapped", "rtbot test", fmt.Errorf("writing: %w", &bareError{boom}), exitError, "rtbot: boom\n"},
		{"locked", "rtbot run", locked, exitTempFail, "rtbot run: " + locked.Error() + "\n"},
		{"not configured", "rtbot run", &notConfigured{err: boom}, exitConfig, "rtbot run: boom\n"},
		{"not configured wrapped", "rtbot run", fmt.Errorf("x: %w", &notConfigured{err: boom}), exitConfig, "rtbot run: x: boom\n"},
		{"credentials refused", "rtbot run", &notConfigured{err: boom, credentials: true}, exitNoPerm, "rtbot run: boom\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if code := exitCode(tt.err); code != tt.code {
				t.Errorf("exitCode(%v) = %d, want %d", tt.err, code, tt.code)
			}
			var out bytes.Buffer
			printError(&out, tt.prefix, tt.err)
			if out.String() != tt.out {
				t.Errorf("printError(%v) printed\n%q\nwant\n%q", tt.err, out.String(), tt.out)
			}
		})
	}
}

// TestNotConfiguredIf: a preflight that failed on a problem that does not
// pass by itself exits 78, or 77 when those problems are all credentials a
// server refused; one that may pass by itself exits 1.
func TestNotConfiguredIf(t *testing.T) {
	cred := pipeline.Problem{Key: "imap.password_file", What: "login refused", Credentials: true}
	conf := pipeline.Problem{Key: "tree[0].queue", What: "no series file"}
	down := pipeline.Problem{Key: "imap.addr", What: "connection refused", Transient: true}
	tests := []struct {
		name     string
		problems []pipeline.Problem
		code     int
	}{
		{"server down", []pipeline.Problem{down}, exitError},
		{"configuration", []pipeline.Problem{conf}, exitConfig},
		{"credentials", []pipeline.Problem{cred}, exitNoPerm},
		{"credentials and a server down", []pipeline.Problem{down, cred}, exitNoPerm},
		{"credentials and configuration", []pipeline.Problem{cred, conf}, exitConfig},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := fmt.Errorf("pass: %w", &pipeline.PreflightError{Problems: tt.problems, Config: "/x.toml"})
			if code := exitCode(notConfiguredIf(err)); code != tt.code {
				t.Errorf("exit %d, want %d", code, tt.code)
			}
		})
	}
}

// TestExitCodesTable: the table that --help and the man page print has
// every exit code exitCode returns, once, in order.
func TestExitCodesTable(t *testing.T) {
	var codes []int
	for _, s := range exitCodes() {
		codes = append(codes, s.Code)
		if s.What == "" {
			t.Errorf("exit %d says nothing", s.Code)
		}
	}
	want := []int{exitOK, exitError, exitUsage, exitManual, exitTempFail, exitNoPerm, exitConfig}
	if !slices.Equal(codes, want) {
		t.Errorf("exit codes %v, want %v", codes, want)
	}
	help := exitStatusHelp()
	for _, c := range want {
		if !strings.Contains(help, fmt.Sprintf("\n  %-3d ", c)) {
			t.Errorf("--help's exit status lacks %d:\n%s", c, help)
		}
	}
}

// TestRunExitCodes checks run's own exit codes and output, before any
// command runs.
func TestRunExitCodes(t *testing.T) {
	for _, tc := range []struct {
		args           []string
		code           int
		stdout, stderr string // prefixes
	}{
		{nil, exitUsage, "", "Usage:\n  rtbot [flags]\n  rtbot [command]\n"},
		{[]string{"help"}, exitOK, "rtbot keeps the PREEMPT_RT", ""},
		{[]string{"--help"}, exitOK, "rtbot keeps the PREEMPT_RT", ""},
		{[]string{"-h"}, exitOK, "rtbot keeps the PREEMPT_RT", ""},
		{[]string{"frob"}, exitUsage, "", "rtbot: unknown command \"frob\"\nUsage:\n  rtbot [flags]\n"},
		{[]string{"rnu"}, exitUsage, "", "rtbot: unknown command \"rnu\"; did you mean run?\n"},
		{[]string{"help", "frob"}, exitUsage, "", "rtbot help: no command \"frob\" (rtbot --help lists them)\n"},
		{[]string{"--frob"}, exitUsage, "", "rtbot: unknown flag: --frob\nUsage:\n"},
	} {
		var out, errb bytes.Buffer
		code := run(t.Context(), tc.args, &out, &errb)
		if code != tc.code || !strings.HasPrefix(out.String(), tc.stdout) || !strings.HasPrefix(errb.String(), tc.stderr) ||
			(tc.stdout == "") != (out.Len() == 0) || (tc.stderr == "") != (errb.Len() == 0) {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want %d, %q and %q", tc.args, code, out.String(), errb.String(), tc.code, tc.stdout, tc.stderr)
		}
	}
}

// TestErrorToJournal: when stderr is the journal, the error a command
// prints carries the error priority on every line, so that a failed
// unit's reason shows under journalctl -p err; elsewhere it is plain.
func TestErrorToJournal(t *testing.T) {
	for _, journal := range []bool{true, false} {
		stderr, err := os.CreateTemp(t.TempDir(), "stderr")
		if err != nil {
			t.Fatal(err)
		}
		stream := ""
		if journal {
			stream = journalStreamOf(t, stderr)
		}
		getenv := func(k string) string {
			if k == "JOURNAL_STREAM" {
				return stream
			}
			return ""
		}
		missing := filepath.Join(t.TempDir(), "missing.toml")
		code := runEnv(t.Context(), []string{"history", "--config", missing}, io.Discard, stderr, getenv)
		stderr.Close()
		got := string(testkit.ReadFile(t, stderr.Name()))
		if code != exitConfig || got == "" {
			t.Fatalf("journal %v: exit %d, stderr %q", journal, code, got)
		}
		for line := range strings.Lines(got) {
			if strings.HasPrefix(line, "<3>") != journal {
				t.Errorf("journal %v: line %q", journal, line)
			}
		}
	}
}
