// Command rtbot keeps the PREEMPT_RT patch queue merged onto Linux stable
// release candidates. See README.md and docs/design.md for the commands.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"syscall"
)

// Exit codes (docs/design.md, "CLI contract").
const (
	exitOK     = 0 // everything applied or merged
	exitError  = 1 // an error stopped the command
	exitUsage  = 2 // the command line was wrong
	exitManual = 3 // the command worked, and a human is needed
)

type command struct {
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) int
	summary string
}

func commands() map[string]command {
	return map[string]command{
		"merge":    {cmdMerge, "rebase an RT queue onto a candidate and triage every patch"},
		"demo":     {cmdDemo, "run the pipeline on an embedded default (no config, no network)"},
		"announce": {cmdAnnounce, "classify mail files as stable-rc / RT announcements"},
		"run":      {cmdRun, "one unattended pass over the mailbox (cron, systemd timer)"},
		"watch":    {cmdWatch, "stay connected (IMAP IDLE) and process announcements as they come"},
		"history":  {cmdHistory, "list past runs, or show one with its patches and actions"},
		"action":   {cmdAction, "settle an interrupted action by hand: --done or --retry"},
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

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmds := commands()
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr, cmds)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	c, ok := cmds[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "rtbot: unknown command %q\n", args[0])
		usage(stderr, cmds)
		return exitUsage
	}
	return c.run(ctx, args[1:], stdout, stderr)
}

func usage(w io.Writer, cmds map[string]command) {
	fmt.Fprintln(w, "usage: rtbot COMMAND [flags]\n\ncommands:")
	var names []string
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, cmds[n].summary)
	}
	fmt.Fprintln(w, "\nrun 'rtbot COMMAND -h' for a command's flags")
}

// newFlags returns a flag set for subcommand name that prints its usage line
// and flags to stderr.
func newFlags(name, usageLine string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("rtbot "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: "+usageLine)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args; when it returns done, the command must exit with
// code (0 for -h, 2 for a usage error, which the flag package has reported).
func parseFlags(fs *flag.FlagSet, args []string) (code int, done bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK, true
		}
		return exitUsage, true
	}
	return 0, false
}
