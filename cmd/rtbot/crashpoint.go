//go:build rtbotcrash

package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// crashHook, in a binary built with -tags rtbotcrash (the crash tests
// build one), kills the process with SIGKILL the n-th time the pipeline
// reaches the fault point RTBOT_CRASH_AT names ("point#n"): a real crash,
// with no deferred cleanup, for the crash-safety tests. Release builds do
// not contain it (see nocrashpoint.go).
func crashHook() func(point string) error {
	at := os.Getenv("RTBOT_CRASH_AT")
	point, nstr, ok := strings.Cut(at, "#")
	n, err := strconv.Atoi(nstr)
	if at == "" || !ok || err != nil || n < 1 {
		return nil
	}
	seen := 0
	return func(p string) error {
		if p != point {
			return nil
		}
		if seen++; seen == n {
			fmt.Fprintf(os.Stderr, "rtbot: crashing at %s\n", at)
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {} // SIGKILL is not delivered synchronously
		}
		return nil
	}
}

// crashSkipsPreflight, in a crash-test build, reports whether
// RTBOT_CRASH_NO_PREFLIGHT is set. The kill harness sets it: it kills the
// pass itself at each of its fault points, as the in-process crash harness
// runs it, and one of its phases breaks the queue on purpose to reach the
// error report, which the preflight would stop first (the preflight has
// tests of its own). Release builds always run the preflight.
func crashSkipsPreflight() bool { return os.Getenv("RTBOT_CRASH_NO_PREFLIGHT") != "" }
