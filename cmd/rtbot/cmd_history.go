package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"

	"github.com/rtbot/rtbot/internal/state"
	"github.com/spf13/cobra"
)

// newHistoryCmd is `rtbot history`: the past runs, or one in full,
// without credentials (see redacting).
func newHistoryCmd(e *env) *cobra.Command {
	var f historyFlags
	c := &cobra.Command{
		Use:   "history [RUN]",
		Short: "list past runs, or show one with its patches and actions",
		Long: `List the past runs, newest first, or show one run in full (RUN, or --run
ID): its outcome, its patches with their status and action, and its
actions. A run or a tree that does not exist is an error.`,
		Args: maxArgs(1, "name at most one run id"),
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) == 1 {
				id, err := strconv.ParseInt(args[0], 10, 64)
				if err != nil || id <= 0 || (f.runID != 0 && f.runID != id) {
					return usagef("%q is not a run id (see rtbot history), or --run names another", args[0])
				}
				f.runID = id
			}
			return redacting(c.OutOrStdout(), func(w io.Writer) error { return history(c.Context(), e, f, w) })
		},
	}
	f.addConfig(c)
	c.Flags().StringVar(&f.tree, "tree", "", "only runs of this tree")
	_ = c.RegisterFlagCompletionFunc("tree", completeTrees(e, &f.config))
	c.Flags().IntVarP(&f.limit, "limit", "n", 20, "at most this many runs (0: all)")
	c.Flags().Int64Var(&f.runID, "run", 0, "show one run in full: its patches and actions")
	c.Flags().BoolVar(&f.asJSON, "json", false, "print JSON")
	return c
}

// historyFlags is history's command line.
type historyFlags struct {
	botFlags
	tree   string
	limit  int
	runID  int64
	asJSON bool
}

// history is `rtbot history`, writing to stdout.
func history(ctx context.Context, e *env, f historyFlags, stdout io.Writer) error {
	cfg, st, err := openState(e, f.config)
	if err != nil {
		return err
	}
	defer st.Close()
	if f.runID != 0 {
		d, err := st.Run(ctx, f.runID)
		if err != nil {
			return err
		}
		tests, err := runTests(ctx, cfg, st, d.Run)
		if err != nil {
			return err
		}
		if f.asJSON {
			return writeJSON(stdout, toRunDetailJSON(d, tests))
		}
		printRunDetail(stdout, d, tests)
		return nil
	}
	runs, err := st.Runs(ctx, state.RunFilter{Tree: f.tree, Limit: f.limit})
	if err != nil {
		return err
	}
	if len(runs) == 0 {
		// A tree the configuration no longer has may still have runs.
		if err := checkTree(cfg, f.tree); err != nil {
			return err
		}
	}
	tests, err := runTests(ctx, cfg, st, runs...)
	if err != nil {
		return err
	}
	if f.asJSON {
		return writeJSON(stdout, historyJSON{Schema: jsonSchema, Runs: runsJSON(runs, tests)})
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RUN\tSTARTED\tTREE\tCANDIDATE\tOUTCOME\tTESTS\tBRANCH\tANNOUNCEMENT")
	for _, r := range runs {
		outcome := string(r.Outcome)
		if outcome == "" {
			outcome = "unfinished"
		}
		testState := "-"
		if t, ok := tests[r.ID]; ok {
			testState = t.State
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%.12s\t%s\t%s\t%s\t<%s>\n", r.ID, r.StartedAt.Format("2006-01-02 15:04"), r.Tree, r.Candidate, outcome, testState, r.PushedBranch, r.Announcement)
	}
	tw.Flush()
	return nil
}

// printRunDetail prints one run: its outcome, patches and actions.
func printRunDetail(w io.Writer, d state.RunDetail, tests map[int64]testsJSON) {
	fmt.Fprintf(w, "run %d: tree %s, candidate %s, queue %.12s on %s\n", d.ID, d.Tree, d.Candidate, d.QueueID, d.Base)
	fmt.Fprintf(w, "announcement <%s>, started %s, attempts %d\n", d.Announcement, d.StartedAt.Format("2006-01-02 15:04:05"), d.Attempts)
	if d.Finished() {
		fmt.Fprintf(w, "outcome %s at %s", d.Outcome, d.FinishedAt.Format("2006-01-02 15:04:05"))
		if d.ResultCommit != "" {
			fmt.Fprintf(w, ", result %.12s", d.ResultCommit)
		}
		if d.PushedBranch != "" {
			fmt.Fprintf(w, ", pushed %s", d.PushedBranch)
		}
		fmt.Fprintln(w)
	}
	if d.Error != "" {
		fmt.Fprintf(w, "error: %s\n", d.Error)
	}
	if t, ok := tests[d.ID]; ok {
		fmt.Fprintf(w, "tests %s: %s\n", t.State, t.Line)
		for _, l := range t.Failures {
			fmt.Fprintf(w, "  failed: %s\n", l)
		}
		for _, l := range t.Regressions {
			fmt.Fprintf(w, "  regressed: %s\n", l)
		}
		for _, l := range t.Missing {
			fmt.Fprintf(w, "  missing: results from %s\n", l)
		}
	}
	for _, p := range d.Patches {
		fmt.Fprintf(w, "  %3d %-16s %-8s %s\n", p.Index, p.Status, p.Action, p.Name)
	}
	for _, a := range d.Actions {
		fmt.Fprintf(w, "  %-7s %-8s %s (attempts %d)", a.Kind, a.State, a.Key, a.Attempts)
		if a.LastError != "" {
			fmt.Fprintf(w, ": %s", a.LastError)
		}
		fmt.Fprintln(w)
	}
}
