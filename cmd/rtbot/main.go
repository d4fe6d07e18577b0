// Command rtbot keeps the PREEMPT_RT patch queue merged onto Linux stable
// release candidates. See README.md, docs/design.md and `man rtbot` for
// the commands.
package main

import (
	"context"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := runEnv(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}

// run runs the command line args (without the program name) in the
// process's environment, as main does; see runEnv.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return runEnv(ctx, args, stdout, stderr, os.Getenv)
}

// runEnv runs the command line args (without the program name), reading
// environment variables with getenv, and returns the exit code, having
// printed the command's error, if any, to stderr.
func runEnv(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	e := &env{stdout: stdout, stderr: stderr, getenv: getenv, exists: fileExists}
	root := newRoot(e)
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	prefix := "rtbot"
	if cmd != nil {
		prefix = cmd.CommandPath()
	}
	var said strings.Builder
	printError(&said, prefix, err)
	io.WriteString(stderr, errorText(said.String(), isJournalStream(stderr, getenv("JOURNAL_STREAM"))))
	return exitCode(err)
}

// errorText is what a command prints of its error: text, and when
// stderr is the journal, every line prefixed with the error priority
// (<3>), so that journalctl -p err shows why a unit failed.
func errorText(text string, journal bool) string {
	if !journal || text == "" {
		return text
	}
	var b strings.Builder
	for line := range strings.Lines(text) {
		b.WriteString("<3>" + line)
	}
	return b.String()
}

// fileExists reports whether path names something that exists.
func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
