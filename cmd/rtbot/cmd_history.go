package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/rtbot/rtbot/internal/state"
)

// cmdHistory implements `rtbot history`: the past runs, or one in full,
// without credentials (see redacting).
func cmdHistory(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return redacting(stdout, func(w io.Writer) error { return history(ctx, args, w) })
}

// history is `rtbot history`, writing to stdout.
func history(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlags("history", "rtbot history --config FILE [--tree NAME] [--limit N] [--run ID] [--json]")
	cfgPath := fs.String("config", "", "configuration file")
	tree := fs.String("tree", "", "only runs of this tree")
	limit := fs.Int("limit", 20, "at most this many runs (0: all)")
	runID := fs.Int64("run", 0, "show one run in full: its patches and actions")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	_, st, err := openState(*cfgPath)
	if err != nil {
		return err
	}
	defer st.Close()
	if *runID != 0 {
		d, err := st.Run(ctx, *runID)
		if err != nil {
			return err
		}
		if *asJSON {
			return writeJSON(stdout, toRunDetailJSON(d))
		}
		printRunDetail(stdout, d)
		return nil
	}
	runs, err := st.Runs(ctx, state.RunFilter{Tree: *tree, Limit: *limit})
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(stdout, historyJSON{Schema: jsonSchema, Runs: runsJSON(runs)})
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RUN\tSTARTED\tTREE\tCANDIDATE\tOUTCOME\tBRANCH\tANNOUNCEMENT")
	for _, r := range runs {
		outcome := string(r.Outcome)
		if outcome == "" {
			outcome = "unfinished"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%.12s\t%s\t%s\t<%s>\n", r.ID, r.StartedAt.Format("2006-01-02 15:04"), r.Tree, r.Candidate, outcome, r.PushedBranch, r.Announcement)
	}
	tw.Flush()
	return nil
}

// printRunDetail prints one run: its outcome, patches and actions.
func printRunDetail(w io.Writer, d state.RunDetail) {
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
