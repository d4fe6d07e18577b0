package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// Exit codes (docs/design.md, "CLI contract").
const (
	exitOK     = 0 // everything applied or merged
	exitError  = 1 // an error stopped the command
	exitUsage  = 2 // the command line was wrong
	exitManual = 3 // the command worked, and a human is needed
	// exitNotConfigured: rtbot is not configured right, and will not be
	// until a human changes something: the configuration does not load,
	// or the preflight of run or watch found a problem that does not pass
	// by itself. It is LSB's "program is not configured" (systemd's
	// EXIT_NOTCONFIGURED), which rtbot-watch.service does not restart on.
	exitNotConfigured = 6
)

// A command returns nil or an error, perhaps wrapped; run prints the error
// once (printError) and exits with its code (exitCode):
//
//   - a *usageError: the command line was wrong, exit 2; or the user asked
//     for help (it wraps flag.ErrHelp), exit 0. It prints its message after
//     "rtbot COMMAND: ", if it has one, then the usage, if it has one.
//   - errNeedsHuman: the command worked and its output says what a human
//     must do, exit 3. Nothing more is printed.
//   - errReported: the command failed and its output already says how,
//     exit 1. Nothing more is printed.
//   - a *notConfigured: exit 6, printed as the error it wraps.
//   - a *bareError: exit 1, printed "rtbot: ..." without the command's name.
//   - any other error: exit 1, printed "rtbot COMMAND: ...".
var (
	errNeedsHuman = errors.New("a human is needed")
	errReported   = errors.New("the output says what failed")
)

// usageError is a command line that is wrong, or -h. Wrapped, it still
// prints its own message and usage only.
type usageError struct {
	msg   string // what is wrong, printed after "rtbot COMMAND: "; "" for none
	usage string // printed after msg: the usage, or all the flag package said
	err   error  // the flag package's error (flag.ErrHelp for -h), or nil
}

func (e *usageError) Error() string {
	switch {
	case e.msg != "":
		return e.msg
	case e.err != nil:
		return e.err.Error()
	}
	line, _, _ := strings.Cut(e.usage, "\n")
	return line
}

func (e *usageError) Unwrap() error { return e.err }

// usagef is a usage error that says what is wrong, without the usage.
func usagef(format string, a ...any) error {
	return &usageError{msg: fmt.Sprintf(format, a...)}
}

// usageOf is a usage error that prints msg (if not "") and fs's usage.
func usageOf(fs *flag.FlagSet, msg string) error {
	return &usageError{msg: msg, usage: usageText(fs)}
}

// notConfigured is an error only a human can fix in the configuration,
// or in what it names (exitNotConfigured).
type notConfigured struct{ err error }

func (e *notConfigured) Error() string { return e.err.Error() }

func (e *notConfigured) Unwrap() error { return e.err }

// bareError is an error printed "rtbot: ..." rather than "rtbot COMMAND:
// ...", as writeJSON's always were.
type bareError struct{ err error }

func (e *bareError) Error() string { return e.err.Error() }

func (e *bareError) Unwrap() error { return e.err }

// exitCode is the exit code for err, which a command returned.
func exitCode(err error) int {
	var usage *usageError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &usage):
		if errors.Is(usage.err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	case errors.Is(err, errNeedsHuman):
		return exitManual
	case errors.As(err, new(*notConfigured)):
		return exitNotConfigured
	default:
		return exitError
	}
}

// printError prints err, which command cmd ("" before there is one) returned,
// to w.
func printError(w io.Writer, cmd string, err error) {
	prefix := "rtbot"
	if cmd != "" {
		prefix += " " + cmd
	}
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
