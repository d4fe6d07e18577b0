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
	fs := newFlags("run", "rtbot run --config FILE [--onto REV [--tree NAME] [--force]] [--json] [-v]")
	f := botFlags{config: fs.String("config", "", "configuration file (see docs/rtbot.example.toml)"),
		verbose: fs.Bool("v", false, "log every step, not only problems")}
	asJSON := fs.Bool("json", false, "print what the pass did as one JSON document")
	onto := fs.String("onto", "", "run on this candidate (a final release tag, say) instead of reading the mailbox")
	tree := fs.String("tree", "", "with --onto: the tree whose repository has REV, or whose candidate_url it is fetched from (default: the first)")
	force := fs.Bool("force", false, "with --onto: run again on a candidate and queue already run (new runs, new reports)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 || *force && *onto == "" {
		return usageOf(fs, "")
	}
	cfg, st, closeAll, err := openBot(f)
	if err != nil {
		return err
	}
	defer closeAll()
	opts, err := passOptions(stderr, *f.verbose, logAuto)
	if err != nil {
		return err
	}
	opts.Stuck = exitStuck("run", stderr)
	p := pipeline.New(cfg, st, opts)
	scope := pipeline.ScopeAll
	if *onto != "" {
		scope = pipeline.ScopeTrees // no mail is read
	}
	if !crashSkipsPreflight() {
		if err := gate(ctx, p, scope); err != nil {
			return err
		}
	}
	var pass *pipeline.Pass
	if *onto != "" {
		pass, err = runOnto(ctx, p, stdout, *tree, *onto, *force)
	} else {
		pass, err = p.Once(ctx)
	}
	return reportPass(stdout, pass, *asJSON, err)
}

// runOnto is `rtbot run --onto REV`: it submits the candidate and runs
// what is pending, saying so when the candidate was run on this queue
// already.
func runOnto(ctx context.Context, p *pipeline.Pipeline, stdout io.Writer, tree, onto string, force bool) (*pipeline.Pass, error) {
	a, err := p.Submit(ctx, tree, onto, force)
	if err != nil {
		return &pipeline.Pass{}, err
	}
	switch a.Status {
	case state.AnnouncementIgnored:
		fmt.Fprintf(stdout, "%s: %s\n", onto, a.Reason)
	case state.AnnouncementDone, state.AnnouncementFailed:
		fmt.Fprintf(stdout, "%s: already run on this queue (<%s>, %s): nothing to do; --force runs it again\n", onto, a.MessageID, a.Status)
	}
	return p.ProcessPending(ctx)
}

// passOptions are the pipeline options of a command that runs a pass:
// its log on stderr (newLogger's verbose and format), the crash hook of a
// crash-test build, and fetch progress on a terminal.
func passOptions(stderr io.Writer, verbose bool, logFormat string) (pipeline.Options, error) {
	log, err := newLogger(stderr, verbose, logFormat, os.Getenv)
	if err != nil {
		return pipeline.Options{}, err
	}
	opts := pipeline.Options{Log: log, Fault: crashHook()}
	if isTerminal(os.Stderr) {
		opts.Progress = os.Stderr
	}
	return opts, nil
}

// reportPass prints what a pass did, as text or JSON, and returns its
// error.
func reportPass(stdout io.Writer, pass *pipeline.Pass, asJSON bool, err error) error {
	if pass == nil {
		pass = &pipeline.Pass{}
	}
	if asJSON {
		if err := writeJSON(stdout, toPassJSON(pass)); err != nil {
			return err
		}
	} else {
		printPass(stdout, pass)
	}
	return err
}
