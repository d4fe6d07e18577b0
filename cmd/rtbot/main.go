// Command rtbot keeps the PREEMPT_RT patch queue merged onto Linux stable
// release candidates. See README.md and docs/design.md for the commands.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
)

type command struct {
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
	summary string
}

func commands() map[string]command {
	return map[string]command{
		"merge":    {cmdMerge, "rebase an RT queue onto a candidate and triage every patch"},
		"demo":     {cmdDemo, "run the pipeline on an embedded default (no config, no network)"},
		"announce": {cmdAnnounce, "classify mail files as stable-rc / RT announcements"},
		"run":      {cmdRun, "one unattended pass over the mailbox (cron, systemd timer)"},
		"watch":    {cmdWatch, "stay connected (IMAP IDLE) and process announcements as they come"},
		"check":    {cmdCheck, "check the configuration, servers, repositories and queues, as every pass does first"},
		"history":  {cmdHistory, "list past runs, or show one with its patches and actions"},
		"action":   {cmdAction, "settle an interrupted action by hand: --done or --retry"},
		"rerun":    {cmdRerun, "redo a run or an announcement on purpose (a failed one once fixed, a finished one afresh)"},
		"resolve":  {cmdResolve, "remember how a conflict was resolved; list, export or import resolutions"},
		"status":   {cmdStatus, "what rtbot is waiting for: announcements, mailboxes, pending actions"},
		"release":  {cmdRelease, "bump localversion-rt, commit and tag an RT-stable release, print the announcement"},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run runs the command line args (without the program name) and returns
// the exit code, having printed the command's error, if any, to stderr.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	name, err := dispatch(ctx, args, stdout, stderr)
	printError(stderr, name, err)
	return exitCode(err)
}

// dispatch runs the command args name and returns its name ("" when args
// name none) and its error.
func dispatch(ctx context.Context, args []string, stdout, stderr io.Writer) (string, error) {
	cmds := commands()
	switch {
	case len(args) == 0:
		return "", &usageError{usage: usage(cmds)}
	case args[0] == "-h" || args[0] == "--help" || args[0] == "help":
		return "", &usageError{usage: usage(cmds), err: flag.ErrHelp}
	}
	c, ok := cmds[args[0]]
	if !ok {
		return "", &usageError{msg: fmt.Sprintf("unknown command %q", args[0]), usage: usage(cmds)}
	}
	return args[0], c.run(ctx, args[1:], stdout, stderr)
}

// usage is rtbot's usage: the commands and what each does.
func usage(cmds map[string]command) string {
	var b strings.Builder
	fmt.Fprintln(&b, "usage: rtbot COMMAND [flags]\n\ncommands:")
	var names []string
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(&b, "  %-10s %s\n", n, cmds[n].summary)
	}
	fmt.Fprintln(&b, "\nrun 'rtbot COMMAND -h' for a command's flags")
	return b.String()
}
