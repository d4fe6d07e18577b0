package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/rtbot/rtbot/internal/config"
	"github.com/rtbot/rtbot/internal/pipeline"
	"github.com/rtbot/rtbot/internal/state"
)

// botFlags are the flags run and watch share.
type botFlags struct {
	config  *string
	verbose *bool
}

// openBot loads the configuration, takes the lock and opens the state
// database. close releases them in reverse order.
func openBot(name string, f botFlags, stderr io.Writer) (cfg *config.Config, st *state.Store, closeAll func(), code int) {
	if *f.config == "" {
		fmt.Fprintf(stderr, "rtbot %s: --config is required\n", name)
		return nil, nil, nil, exitUsage
	}
	cfg, err := config.Load(*f.config, pipeline.ConfigRules())
	if err != nil {
		fmt.Fprintf(stderr, "rtbot %s: %v\n", name, err)
		return nil, nil, nil, exitError
	}
	if err := os.MkdirAll(cfg.Bot.Workdir, 0o755); err != nil {
		fmt.Fprintf(stderr, "rtbot %s: workdir: %v\n", name, err)
		return nil, nil, nil, exitError
	}
	release, err := pipeline.Lock(cfg.Bot.Lock)
	if err != nil {
		fmt.Fprintf(stderr, "rtbot %s: %v\n", name, err)
		return nil, nil, nil, exitError
	}
	st, err = state.Open(context.Background(), cfg.Bot.State)
	if err != nil {
		release()
		fmt.Fprintf(stderr, "rtbot %s: %v\n", name, err)
		return nil, nil, nil, exitError
	}
	return cfg, st, func() { st.Close(); release() }, 0
}

func logger(stderr io.Writer, verbose bool) *slog.Logger {
	level := slog.LevelInfo
	if !verbose {
		level = slog.LevelWarn
	}
	return slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
}

// isTerminal reports whether f is a character device (a terminal), where
// fetch progress is worth printing.
func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

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

// printPass prints what one pass did, one line per new mail and per run.
func printPass(w io.Writer, pass *pipeline.Pass) {
	fmt.Fprintf(w, "scanned %d matching mail(s), %d new\n", pass.Scanned, len(pass.New))
	for _, l := range pass.Learned {
		if l.Error != "" {
			fmt.Fprintf(w, "  fix      %.12s on %s (%s): not learnt: %s\n", l.Commit, l.Branch, l.Patch, l.Error)
		} else {
			fmt.Fprintf(w, "  fix      %.12s on %s (%s): learnt %s\n", l.Commit, l.Branch, l.Patch, strings.Join(l.Files, ", "))
		}
	}
	for _, a := range pass.New {
		if a.Status == state.AnnouncementIgnored {
			fmt.Fprintf(w, "  ignored  <%s> %q: %s\n", a.MessageID, a.Subject, a.Reason)
		} else {
			fmt.Fprintf(w, "  new      <%s> %s-rc%d from %s\n", a.MessageID, a.Version, a.RC, a.From)
		}
	}
	for _, r := range pass.Runs {
		fmt.Fprintf(w, "run %d: %s on %s: %s", r.RunID, r.Tree, r.Candidate, r.Outcome)
		if r.Report != nil {
			fmt.Fprintf(w, " (%d patches, %d need attention)", r.Report.Summary.Total, r.Report.Summary.Attention)
		}
		fmt.Fprintln(w)
		if r.Branch != "" {
			fmt.Fprintf(w, "  branch   %s -> %.12s\n", r.Branch, r.Result)
		}
		if r.Pushed != "" {
			fmt.Fprintf(w, "  pushed   %s\n", r.Pushed)
		}
		if len(r.Triggers) > 0 {
			fmt.Fprintf(w, "  tested   %s\n", strings.Join(r.Triggers, ", "))
		}
		if r.Mail != "" {
			fmt.Fprintf(w, "  mailed   <%s>\n", r.Mail)
		}
		if r.Error != "" {
			fmt.Fprintf(w, "  error    %s\n", r.Error)
		}
	}
	if pass.Pending > 0 {
		fmt.Fprintf(w, "%d announcement(s) left for the next pass (see the log above)\n", pass.Pending)
	}
}

func cmdWatch(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("watch", "rtbot watch --config FILE [-v]", stderr)
	f := botFlags{config: fs.String("config", "", "configuration file (see docs/rtbot.example.toml)"),
		verbose: fs.Bool("v", true, "log every step, not only problems")}
	if code, done := parseFlags(fs, args); done {
		return code
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return exitUsage
	}
	cfg, st, closeAll, code := openBot("watch", f, stderr)
	if cfg == nil {
		return code
	}
	defer closeAll()
	err := pipeline.New(cfg, st, pipeline.Options{Log: logger(stderr, *f.verbose), Fault: crashHook()}).Watch(ctx)
	if err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintf(stderr, "rtbot watch: %v\n", err)
		return exitError
	}
	return exitOK
}

// openState opens the state database named by --config for reading.
func openState(name string, configPath string, stderr io.Writer) (*config.Config, *state.Store, int) {
	if configPath == "" {
		fmt.Fprintf(stderr, "rtbot %s: --config is required\n", name)
		return nil, nil, exitUsage
	}
	cfg, err := config.Load(configPath, pipeline.ConfigRules())
	if err != nil {
		fmt.Fprintf(stderr, "rtbot %s: %v\n", name, err)
		return nil, nil, exitError
	}
	if _, err := os.Stat(cfg.Bot.State); err != nil {
		fmt.Fprintf(stderr, "rtbot %s: no state yet at %s (rtbot run has not run)\n", name, cfg.Bot.State)
		return nil, nil, exitError
	}
	st, err := state.Open(context.Background(), cfg.Bot.State)
	if err != nil {
		fmt.Fprintf(stderr, "rtbot %s: %v\n", name, err)
		return nil, nil, exitError
	}
	return cfg, st, 0
}

func cmdHistory(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("history", "rtbot history --config FILE [--tree NAME] [--limit N] [--run ID] [--json]", stderr)
	cfgPath := fs.String("config", "", "configuration file")
	tree := fs.String("tree", "", "only runs of this tree")
	limit := fs.Int("limit", 20, "at most this many runs (0: all)")
	runID := fs.Int64("run", 0, "show one run in full: its patches and actions")
	asJSON := fs.Bool("json", false, "print JSON")
	if code, done := parseFlags(fs, args); done {
		return code
	}
	_, st, code := openState("history", *cfgPath, stderr)
	if st == nil {
		return code
	}
	defer st.Close()
	if *runID != 0 {
		d, err := st.Run(ctx, *runID)
		if err != nil {
			fmt.Fprintf(stderr, "rtbot history: %v\n", err)
			return exitError
		}
		if *asJSON {
			return writeJSON(stdout, stderr, d)
		}
		printRunDetail(stdout, d)
		return exitOK
	}
	runs, err := st.Runs(ctx, state.RunFilter{Tree: *tree, Limit: *limit})
	if err != nil {
		fmt.Fprintf(stderr, "rtbot history: %v\n", err)
		return exitError
	}
	if *asJSON {
		if runs == nil {
			runs = []state.Run{}
		}
		return writeJSON(stdout, stderr, runs)
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
	return exitOK
}

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

func cmdStatus(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("status", "rtbot status --config FILE [--json]", stderr)
	cfgPath := fs.String("config", "", "configuration file")
	asJSON := fs.Bool("json", false, "print JSON")
	if code, done := parseFlags(fs, args); done {
		return code
	}
	cfg, st, code := openState("status", *cfgPath, stderr)
	if st == nil {
		return code
	}
	defer st.Close()
	s, err := st.Status(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "rtbot status: %v\n", err)
		return exitError
	}
	problems, err := st.Check(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "rtbot status: %v\n", err)
		return exitError
	}
	watched, err := pipeline.New(cfg, st, pipeline.Options{}).Watched(ctx)
	if err != nil {
		// What the state says is still worth printing.
		problems = append(problems, "partial branches read for fixes: "+err.Error())
	}
	code = exitOK
	if len(problems) > 0 {
		code = exitError
	}
	if *asJSON {
		type statusJSON struct {
			state.Status
			Watched  []pipeline.WatchedBranch `json:"Watched"`
			Problems []string                 `json:"Problems"`
		}
		if c := writeJSON(stdout, stderr, statusJSON{s, watched, problems}); c != exitOK {
			return c
		}
		return code
	}
	fmt.Fprintf(stdout, "state %s (schema %d)\n", st.Path(), s.SchemaVersion)
	fmt.Fprint(stdout, "announcements:")
	for _, k := range state.AnnouncementStatuses() {
		fmt.Fprintf(stdout, " %s %d", k, s.Announcements[k])
	}
	fmt.Fprintln(stdout)
	for _, a := range s.Waiting {
		fmt.Fprintf(stdout, "  waiting  <%s> %s-rc%d (%s since %s)", a.MessageID, a.Version, a.RC, a.Status, a.FirstSeen.Format("2006-01-02 15:04"))
		if a.Attempts > 0 {
			fmt.Fprintf(stdout, ": %d failed attempt(s), the last at %s: %s", a.Attempts, a.LastAttempt.Format("2006-01-02 15:04"), a.LastError)
		}
		fmt.Fprintln(stdout)
	}
	for _, c := range s.Checkpoints {
		fmt.Fprintf(stdout, "mailbox %s %s: up to UID %d (UIDVALIDITY %d), %s\n", c.Server, c.Mailbox, c.LastUID, c.UIDValidity, c.UpdatedAt.Format("2006-01-02 15:04:05"))
	}
	for _, r := range s.LastRuns {
		outcome := string(r.Outcome)
		if outcome == "" {
			outcome = "unfinished"
		}
		fmt.Fprintf(stdout, "last run of %s: %d on %.12s, %s", r.Tree, r.ID, r.Candidate, outcome)
		if r.Error != "" {
			fmt.Fprintf(stdout, ": %s", r.Error)
		}
		fmt.Fprintln(stdout)
	}
	for _, w := range watched {
		read := "nothing pushed onto it yet"
		if w.ReadUpTo != "" {
			read = fmt.Sprintf("learnt up to %.12s", w.ReadUpTo)
		}
		fmt.Fprintf(stdout, "reading %s for fixes (run %d of %s): %s\n", w.Branch, w.Run, w.Tree, read)
	}
	if len(s.Pending) == 0 {
		fmt.Fprintln(stdout, "no pending actions")
	}
	for _, a := range s.Pending {
		note := "failed; retried by the next pass while its run is unfinished"
		switch {
		case a.State == state.ActionIntended && a.Committing:
			note = fmt.Sprintf("INTERRUPTED WHILE COMMITTING: it may have happened; check, then `rtbot action --done %d` or `--retry %d`", a.ID, a.ID)
		case a.State == state.ActionIntended:
			note = "interrupted before it could happen; the next pass redoes it"
		}
		fmt.Fprintf(stdout, "pending %s %s (run %d, %s, attempts %d): %s", a.Kind, a.Key, a.RunID, a.State, a.Attempts, note)
		if a.LastError != "" {
			fmt.Fprintf(stdout, "; last error: %s", a.LastError)
		}
		fmt.Fprintln(stdout)
	}
	if len(problems) == 0 {
		fmt.Fprintln(stdout, "state check: ok")
	}
	for _, p := range problems {
		fmt.Fprintf(stdout, "STATE PROBLEM: %s\n", p)
	}
	return code
}

func writeJSON(stdout, stderr io.Writer, v any) int {
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		fmt.Fprintf(stderr, "rtbot: %v\n", err)
		return exitError
	}
	return exitOK
}

func cmdAction(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("action", "rtbot action --config FILE (--done | --retry) ID", stderr)
	cfgPath := fs.String("config", "", "configuration file")
	done := fs.Bool("done", false, "the action happened (for instance the report did arrive): never do it again")
	retry := fs.Bool("retry", false, "the action did not happen: the next pass does it again")
	if code, stop := parseFlags(fs, args); stop {
		return code
	}
	var id int64
	if fs.NArg() != 1 || *done == *retry {
		fs.Usage()
		return exitUsage
	}
	if _, err := fmt.Sscan(fs.Arg(0), &id); err != nil || id <= 0 {
		fmt.Fprintf(stderr, "rtbot action: %q is not an action id (see rtbot status)\n", fs.Arg(0))
		return exitUsage
	}
	_, st, code := openState("action", *cfgPath, stderr)
	if st == nil {
		return code
	}
	defer st.Close()
	var err error
	if *done {
		err = st.Done(ctx, id)
	} else {
		err = st.Failed(ctx, id, errors.New("an operator asked for a retry"))
	}
	if err != nil {
		fmt.Fprintf(stderr, "rtbot action: %v\n", err)
		return exitError
	}
	return exitOK
}
