package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/rtbot/rtbot/internal/pipeline"
	"github.com/rtbot/rtbot/internal/state"
)

func cmdRun(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("run", "rtbot run --config FILE [--onto REV [--tree NAME]] [--json] [-v]", stderr)
	f := botFlags{config: fs.String("config", "", "configuration file (see docs/rtbot.example.toml)"),
		verbose: fs.Bool("v", false, "log every step, not only problems")}
	asJSON := fs.Bool("json", false, "print what the pass did as one JSON document")
	onto := fs.String("onto", "", "run on this candidate (a final release tag, say) instead of reading the mailbox")
	tree := fs.String("tree", "", "with --onto: the tree whose repository has REV (default: the first)")
	if code, done := parseFlags(fs, args); done {
		return code
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return exitUsage
	}
	cfg, st, closeAll, code := openBot("run", f, stderr)
	if cfg == nil {
		return code
	}
	defer closeAll()
	opts := pipeline.Options{Log: logger(stderr, *f.verbose), Fault: crashHook()}
	if isTerminal(os.Stderr) {
		opts.Progress = os.Stderr
	}
	p := pipeline.New(cfg, st, opts)
	var pass *pipeline.Pass
	var err error
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
		if code := writeJSON(stdout, stderr, pass); code != exitOK {
			return code
		}
	} else {
		printPass(stdout, pass)
	}
	if err != nil {
		fmt.Fprintf(stderr, "rtbot run: %v\n", err)
		return exitError
	}
	return exitOK
}
