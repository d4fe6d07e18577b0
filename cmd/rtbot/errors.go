package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/rtbot/rtbot/internal/pipeline"
	"github.com/spf13/cobra"
)

// Exit codes. exitCodes below is the one table of them: `rtbot --help`
// and the man page's EXIT STATUS are made from it, docs/design.md points
// to them, and docs/systemd's RestartPreventExitStatus= names the last two.
const (
	exitOK     = 0 // everything applied or merged
	exitError  = 1 // an error stopped the command
	exitUsage  = 2 // the command line was wrong
	exitManual = 3 // the command worked, and a human is needed
	// exitTempFail: another rtbot holds the lock (BSD's EX_TEMPFAIL): the
	// pass did nothing and the next one will do it.
	exitTempFail = 75
	// exitNoPerm: a server refused rtbot's credentials (EX_NOPERM).
	exitNoPerm = 77
	// exitConfig: rtbot is not configured right, and will not be until a
	// human changes something (EX_CONFIG): the configuration does not
	// load, or a preflight found a problem that does not pass by itself.
	exitConfig = 78
)

// exitStatus is one row of the table of exit codes.
type exitStatus struct {
	Code int
	What string
}

// exitCodes is the table of rtbot's exit codes, for every command.
func exitCodes() []exitStatus {
	return []exitStatus{
		{exitOK, "done: for merge, run and rerun, every patch applied or merged"},
		{exitError, "an error stopped the command, or a pass left something for the next one"},
		{exitUsage, "the command line is wrong"},
		{exitManual, "the command worked and a human is needed: patches need attention, or status lists what failed or is stuck"},
		{exitTempFail, "another rtbot holds the lock (EX_TEMPFAIL): this one did nothing; the next pass will"},
		{exitNoPerm, "a server refused rtbot's credentials (EX_NOPERM): renew the password, token or key the message names"},
		{exitConfig, "rtbot is not configured right (EX_CONFIG): the configuration does not load or is not found, " +
			"or a preflight found a problem only a human can fix"},
	}
}

// exitStatusHelp is the table of exit codes as `rtbot --help` prints it.
func exitStatusHelp() string {
	var b strings.Builder
	b.WriteString("Exit status:")
	for _, s := range exitCodes() {
		fmt.Fprintf(&b, "\n  %-3d %s", s.Code, wrap(s.What, 70, "\n      "))
	}
	return b.String()
}

// wrap is text with its words on lines of at most width columns, joined
// by sep (a newline and an indent).
func wrap(text string, width int, sep string) string {
	var lines []string
	line := ""
	for _, w := range strings.Fields(text) {
		if line != "" && len(line)+1+len(w) > width {
			lines = append(lines, line)
			line = ""
		}
		if line != "" {
			line += " "
		}
		line += w
	}
	return strings.Join(append(lines, line), sep)
}

// A command returns nil or an error, perhaps wrapped; run prints the error
// once (printError) and exits with its code (exitCode):
//
//   - a *usageError: the command line was wrong, exit 2. It prints its
//     message after "rtbot COMMAND: ", if it has one, then the usage, if it
//     has one. (Help, -h and --help are not errors: cobra prints them on
//     stdout.)
//   - errNeedsHuman: the command worked and its output says what a human
//     must do, exit 3. Nothing more is printed.
//   - errReported: the command failed and its output already says how,
//     exit 1. Nothing more is printed.
//   - an error wrapping pipeline.ErrLocked: exit 75.
//   - a *notConfigured: exit 77 when it is credentials a server refused,
//     else 78; printed as the error it wraps.
//   - a *bareError: exit 1, printed "rtbot: ..." without the command's name.
//   - any other error: exit 1, printed "rtbot COMMAND: ...".
var (
	errNeedsHuman = errors.New("a human is needed")
	errReported   = errors.New("the output says what failed")
)

// usageError is a command line that is wrong. Wrapped, it still prints
// its own message and usage only.
type usageError struct {
	msg   string // what is wrong, printed after "rtbot COMMAND: "; "" for none
	usage string // printed after msg: the usage, or ""
}

func (e *usageError) Error() string {
	if e.msg != "" {
		return e.msg
	}
	line, _, _ := strings.Cut(strings.TrimSpace(e.usage), "\n")
	return line
}

// usagef is a usage error that says what is wrong, without the usage.
func usagef(format string, a ...any) error {
	return &usageError{msg: fmt.Sprintf(format, a...)}
}

// usageOf is a usage error that prints msg (if not "") and c's usage.
func usageOf(c *cobra.Command, msg string) error {
	return &usageError{msg: msg, usage: c.UsageString()}
}

// notConfigured is an error only a human can fix in the configuration,
// or in what it names (exitConfig), or credentials a server refused
// (exitNoPerm).
type notConfigured struct {
	err error
	// credentials: the problem is credentials a server refused.
	credentials bool
}

func (e *notConfigured) Error() string { return e.err.Error() }

func (e *notConfigured) Unwrap() error { return e.err }

// bareError is an error printed "rtbot: ..." rather than "rtbot COMMAND:
// ...", as writeJSON's always were.
type bareError struct{ err error }

func (e *bareError) Error() string { return e.err.Error() }

func (e *bareError) Unwrap() error { return e.err }

// exitCode is the exit code for err, which a command returned.
func exitCode(err error) int {
	var nc *notConfigured
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, new(*usageError)):
		return exitUsage
	case errors.Is(err, errNeedsHuman):
		return exitManual
	case errors.Is(err, pipeline.ErrLocked):
		return exitTempFail
	case errors.As(err, &nc) && nc.credentials:
		return exitNoPerm
	case nc != nil:
		return exitConfig
	default:
		return exitError
	}
}

// printError prints err, which the command prefix ("rtbot", "rtbot
// merge") returned, to w.
func printError(w io.Writer, prefix string, err error) {
	var usage *usageError
	var bare *bareError
	switch {
	case err == nil, errors.Is(err, errNeedsHuman), errors.Is(err, errReported):
	case errors.As(err, &usage):
		if usage.msg != "" {
			fmt.Fprintf(w, "%s: %s\n", prefix, usage.msg)
		}
		io.WriteString(w, usage.usage)
	case errors.As(err, &bare):
		fmt.Fprintf(w, "rtbot: %v\n", bare.err)
	default:
		fmt.Fprintf(w, "%s: %v\n", prefix, err)
	}
}
