package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/rtbot/rtbot/internal/pipeline"
	"github.com/rtbot/rtbot/internal/state"
)

// cmdRun implements `rtbot run`: one pass over the mailbox, or over the
// candidate --onto names.
func cmdRun(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("run", "rtbot run --config FILE [--onto REV [--tree NAME]] [--json] [-v]")
	f := botFlags{config: fs.String("config", "", "configuration file (see docs/rtbot.example.toml)"),
		verbose: fs.Bool("v", false, "log every step, not only problems")}
	asJSON := fs.Bool("json", false, "print what the pass did as one JSON document")
	onto := fs.String("onto", "", "run on this candidate (a final release tag, say) instead of reading the mailbox")
	tree := fs.String("tree", "", "with --onto: the tree whose repository has REV (default: the first)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageOf(fs, "")
	}
	cfg, st, closeAll, err := openBot(f)
	if err != nil {
		return err
	}
	defer closeAll()
	opts := pipeline.Options{Log: logger(stderr, *f.verbose), Fault: crashHook(), Stuck: exitStuck("run", stderr)}
	if isTerminal(os.Stderr) {
		opts.Progress = os.Stderr
	}
	p := pipeline.New(cfg, st, opts)
	var pass *pipeline.Pass
	if *onto != "" {
		var a state.Announcement
		if a, err = p.Submit(ctx, *tree, *onto); err == nil {
			if a.Status == state.AnnouncementIgnored {
				fmt.Fprintf(stdout, "%s: %s\n", *onto, a.Reason)
			}
			pass, err = p.ProcessPending(ctx)
		}
		if pass == nil {
			pass = &pipeline.Pass{}
		}
	} else {
		pass, err = p.Once(ctx)
	}
	if *asJSON {
		if err := writeJSON(stdout, pass); err != nil {
			return err
		}
	} else {
		printPass(stdout, pass)
	}
	return err
}
