package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/rtbot/rtbot/internal/pipeline"
	"github.com/rtbot/rtbot/internal/state"
	"github.com/spf13/cobra"
)

// newRunCmd is `rtbot run`: one pass over the mailbox, or over the
// candidate --onto names.
func newRunCmd(e *env) *cobra.Command {
	var f runFlags
	c := &cobra.Command{
		Use:   "run [--onto REV [--tree NAME] [--force]]",
		Short: "one unattended pass over the mailbox (cron, systemd timer)",
		Long: `One unattended pass, after the preflight: scan the mailbox from the saved
checkpoint, process every announcement not done yet (rebase, push, test,
mail the report), and exit. With --onto REV, run the queue on a candidate
given by hand (a final release tag) instead of reading the mailbox,
fetching REV from candidate_url when the repository lacks it.`,
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if (f.force || f.tree != "") && f.onto == "" {
				return usageOf(c, "--tree and --force go with --onto")
			}
			return cmdRun(c.Context(), e, f, c.OutOrStdout())
		},
	}
	f.addConfig(c)
	f.addLog(c, "log every step, not only problems")
	c.Flags().BoolVar(&f.asJSON, "json", false, "print what the pass did as one JSON document")
	c.Flags().StringVar(&f.onto, "onto", "", "run on this candidate (a final release tag, say) instead of reading the mailbox")
	c.Flags().StringVar(&f.tree, "tree", "", "with --onto: the tree whose repository has REV, or whose candidate_url it is fetched from (default: the first)")
	_ = c.RegisterFlagCompletionFunc("tree", completeTrees(e, &f.config))
	c.Flags().BoolVar(&f.force, "force", false, "with --onto: run again on a candidate and queue already run (new runs, new reports)")
	return c
}

// runFlags is run's command line.
type runFlags struct {
	botFlags
	asJSON, force bool
	onto, tree    string
}

// cmdRun is `rtbot run` once its command line is checked.
func cmdRun(ctx context.Context, e *env, f runFlags, stdout io.Writer) error {
	cfg, st, closeAll, err := openBot(e, f.botFlags)
	if err != nil {
		return err
	}
	defer closeAll()
	if err := checkTree(cfg, f.tree); err != nil {
		return err
	}
	opts, err := passOptions(e, f.botFlags)
	if err != nil {
		return err
	}
	opts.Stuck = exitStuck("run", e.stderr)
	p := pipeline.New(cfg, st, opts)
	scope := pipeline.ScopeAll
	if f.onto != "" {
		scope = pipeline.ScopeTrees // no mail is read
	}
	if !crashSkipsPreflight() {
		if err := gate(ctx, p, scope); err != nil {
			return err
		}
	}
	var pass *pipeline.Pass
	if f.onto != "" {
		pass, err = runOnto(ctx, p, stdout, f.tree, f.onto, f.force)
	} else {
		pass, err = p.Once(ctx)
	}
	return reportPass(stdout, pass, f.asJSON, err)
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
func passOptions(e *env, f botFlags) (pipeline.Options, error) {
	log, err := newLogger(e.stderr, f.verbose, f.logFormat, e.getenv)
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
