package main

import (
	"bytes"
	"context"
	"fmt"
	"io"

	"github.com/rtbot/rtbot/internal/config"
	"github.com/rtbot/rtbot/internal/mailwatch"
	"github.com/rtbot/rtbot/internal/netsec"
	"github.com/rtbot/rtbot/internal/pipeline"
	"github.com/rtbot/rtbot/internal/state"
	"github.com/spf13/cobra"
)

// newStatusCmd is `rtbot status`: what rtbot waits for, what failed or is
// stuck and needs a human (exit 3, each with what to do), and whether its
// state is sound (exit 1 when it is not).
func newStatusCmd(e *env) *cobra.Command {
	var f botFlags
	var asJSON bool
	c := &cobra.Command{
		Use:   "status",
		Short: "what rtbot is waiting for: announcements, mailboxes, pending actions",
		Long: `Say what rtbot waits for (announcements, mailboxes, partial branches read
for fixes, pending actions), what the last run of each tree did, and what
failed or is stuck, each with what to do. Exit 3 while something needs a
human, 1 when the state has a problem.`,
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return redacting(c.OutOrStdout(), func(w io.Writer) error { return status(c.Context(), e, f.config, asJSON, w) })
		},
	}
	f.addConfig(c)
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return c
}

// redacting runs cmd on a buffer and writes what it wrote to stdout
// without the credentials of any URL in it (netsec.Redact). rtbot writes
// none into its state, but a state file an earlier version wrote may
// still hold some (in an error, or a rerun's remote): `rtbot status` and
// `rtbot history` do not show them either.
func redacting(stdout io.Writer, cmd func(io.Writer) error) error {
	var buf bytes.Buffer
	err := cmd(&buf)
	if _, werr := io.WriteString(stdout, netsec.Redact(buf.String())); err == nil {
		err = werr
	}
	return err
}

// status is `rtbot status`, writing to stdout.
func status(ctx context.Context, e *env, cfgPath string, asJSON bool, stdout io.Writer) error {
	cfg, st, err := openState(e, cfgPath)
	if err != nil {
		return err
	}
	defer st.Close()
	s, err := readStatus(ctx, cfg, st)
	if err != nil {
		return err
	}
	if asJSON {
		if err := writeJSON(stdout, toStatusJSON(st.Path(), s)); err != nil {
			return err
		}
	} else {
		printStatus(stdout, st.Path(), s)
	}
	switch {
	case len(s.Problems) > 0:
		return fmt.Errorf("%d state problem(s): %w", len(s.Problems), errReported)
	case len(s.Attention) > 0:
		return errNeedsHuman
	}
	return nil
}

// statusReport is what `rtbot status` prints, as text or as JSON.
type statusReport struct {
	state.Status
	Watched []pipeline.WatchedBranch
	// Attention lists what failed or is stuck, each with what to do about
	// it; status exits 3 while it is not empty.
	Attention []string
	Problems  []string
	// notes says, for each pending action (by id), what becomes of it.
	notes map[int64]string
	// tests are the test states of the last runs that wait for results.
	tests map[int64]testsJSON
}

// readStatus reads the state's status, checks the state, lists the partial
// branches read for fixes, and what needs a human.
func readStatus(ctx context.Context, cfg *config.Config, st *state.Store) (statusReport, error) {
	s, err := st.Status(ctx)
	if err != nil {
		return statusReport{}, err
	}
	problems, err := st.Check(ctx)
	if err != nil {
		return statusReport{}, err
	}
	watched, err := pipeline.New(cfg, st, pipeline.Options{}).Watched(ctx)
	if err != nil {
		// What the state says is still worth printing.
		problems = append(problems, "partial branches read for fixes: "+err.Error())
	}
	tests, err := runTests(ctx, cfg, st, s.LastRuns...)
	if err != nil {
		return statusReport{}, err
	}
	r := statusReport{Status: s, Watched: watched, Attention: []string{}, Problems: problems, notes: map[int64]string{}, tests: tests}
	if err := r.needsYou(ctx, cfg.Path, st); err != nil {
		return statusReport{}, err
	}
	pre, err := preflightAttention(ctx, cfg.Path, st)
	if err != nil {
		return statusReport{}, err
	}
	r.Attention = append(pre, r.Attention...)
	return r, nil
}

// needsYou fills in r.Attention and r.notes: what failed or is stuck, and
// what to do. cfg is the configuration file, for the commands to type.
func (r *statusReport) needsYou(ctx context.Context, cfg string, st *state.Store) error {
	stuck := map[string]bool{} // announcements with a run that waits for a human
	for _, a := range r.Pending {
		run, err := st.Run(ctx, a.RunID)
		if err != nil {
			return err
		}
		note, todo := actionNote(cfg, a, run.Finished())
		r.notes[a.ID] = note
		if todo != "" {
			stuck[run.Announcement] = true
			r.Attention = append(r.Attention, fmt.Sprintf("%s %s %s (action %d, run %d): %s", note, a.Kind, a.Key, a.ID, a.RunID, todo))
		}
	}
	for _, a := range r.Waiting {
		if a.Attempts > 0 && !stuck[a.MessageID] {
			r.Attention = append(r.Attention, fmt.Sprintf("FAILING announcement <%s> (%s): %d failed attempt(s), the last: %s; "+
				"every pass tries again: fix the cause if it does not pass by itself", a.MessageID, candidateName(a), a.Attempts, a.LastError))
		}
	}
	newest := map[int64]bool{}
	for _, run := range r.LastRuns {
		newest[run.ID] = true
	}
	for _, a := range r.Failed {
		if superseded, err := supersededFailure(ctx, st, a, newest); err != nil || superseded {
			if err != nil {
				return err
			}
			continue
		}
		r.Attention = append(r.Attention, fmt.Sprintf("FAILED announcement <%s> (%s): %s; the maintainers were mailed an error report. "+
			"rtbot tries it again by itself when the configuration or the queue changes (until %s); "+
			"or fix the cause, then `rtbot rerun --config %s %s`",
			a.MessageID, candidateName(a), a.Reason, pipeline.Patience(a).Format("2006-01-02 15:04"), cfg, a.MessageID))
	}
	return nil
}

// supersededFailure reports whether failed announcement a no longer needs
// a human: no run of it that ended in error is the newest run of its tree
// any more (newest holds those), so its trees have moved on.
func supersededFailure(ctx context.Context, st *state.Store, a state.Announcement, newest map[int64]bool) (bool, error) {
	runs, err := st.Runs(ctx, state.RunFilter{Announcement: a.MessageID})
	if err != nil {
		return false, err
	}
	for _, run := range runs {
		if run.Outcome == state.OutcomeError && newest[run.ID] {
			return false, nil
		}
	}
	return len(runs) > 0, nil
}

// actionNote says what becomes of pending action a, whose run is finished
// or not, and, when it waits for a human, what they are to do ("" when
// nothing).
func actionNote(cfg string, a state.Action, runFinished bool) (note, todo string) {
	switch {
	case a.State == state.ActionIntended && a.Committing:
		return "INTERRUPTED WHILE COMMITTING", fmt.Sprintf("it may have happened: check (a mail: look for it in the maintainers' mail), "+
			"then `rtbot action --config %s --done %d` (it happened) or `--retry %d` (it did not)", cfg, a.ID, a.ID)
	case a.State == state.ActionIntended:
		return "interrupted before it could happen; the next pass redoes it", ""
	case runFinished:
		return "FAILED", fmt.Sprintf("%s; no pass does it again on its own: fix the cause, then "+
			"`rtbot action --config %s --retry %d` (the next pass does it again) or `--done %d` (you did it yourself)",
			a.LastError, cfg, a.ID, a.ID)
	}
	return "failed; the next pass tries again", ""
}

// printStatus prints s, read from the state at path, as text.
func printStatus(w io.Writer, path string, s statusReport) {
	fmt.Fprintf(w, "state %s (schema %d)\n", path, s.SchemaVersion)
	printAnnouncements(w, s.Status)
	for _, c := range s.Checkpoints {
		fmt.Fprintf(w, "mailbox %s %s: up to UID %d (UIDVALIDITY %d), %s\n", c.Server, c.Mailbox, c.LastUID, c.UIDValidity, c.UpdatedAt.Format("2006-01-02 15:04:05"))
	}
	for _, c := range s.SourceCheckpoints {
		fmt.Fprintf(w, "%s %s: %s, %s\n", c.Kind, c.Source, mailwatch.DescribePosition(c.Kind, c.Position), c.UpdatedAt.Format("2006-01-02 15:04:05"))
	}
	printLastRuns(w, s.LastRuns, s.tests)
	for _, b := range s.Watched {
		read := "nothing pushed onto it yet"
		if b.ReadUpTo != "" {
			read = fmt.Sprintf("learnt up to %.12s", b.ReadUpTo)
		}
		fmt.Fprintf(w, "reading %s for fixes (run %d of %s): %s\n", b.Branch, b.Run, b.Tree, read)
	}
	printPending(w, s.Pending, s.notes)
	if len(s.Problems) == 0 {
		fmt.Fprintln(w, "state check: ok")
	}
	for _, p := range s.Problems {
		fmt.Fprintf(w, "STATE PROBLEM: %s\n", p)
	}
	if len(s.Attention) > 0 {
		fmt.Fprintf(w, "%d thing(s) need you:\n", len(s.Attention))
	}
	for _, a := range s.Attention {
		fmt.Fprintf(w, "  %s\n", a)
	}
}

// printAnnouncements prints how many announcements are in each status, and
// those rtbot still waits to process.
func printAnnouncements(w io.Writer, s state.Status) {
	fmt.Fprint(w, "announcements:")
	for _, k := range state.AnnouncementStatuses() {
		fmt.Fprintf(w, " %s %d", k, s.Announcements[k])
	}
	fmt.Fprintln(w)
	for _, a := range s.Waiting {
		fmt.Fprintf(w, "  %-10s <%s> %s (since %s)", a.Status, a.MessageID, candidateName(a), a.FirstSeen.Format("2006-01-02 15:04"))
		if a.Status == state.AnnouncementWaiting {
			fmt.Fprintf(w, ": for its candidate until %s: %s", a.WaitUntil.Format("2006-01-02 15:04"), a.Reason)
		}
		if a.Attempts > 0 {
			fmt.Fprintf(w, ": %d failed attempt(s), the last at %s: %s", a.Attempts, a.LastAttempt.Format("2006-01-02 15:04"), a.LastError)
		}
		fmt.Fprintln(w)
	}
	for _, a := range s.Failed {
		fmt.Fprintf(w, "  %-10s <%s> %s (since %s): %s\n", a.Status, a.MessageID, candidateName(a), a.UpdatedAt.Format("2006-01-02 15:04"), a.Reason)
	}
}

// printLastRuns prints the last run of each tree.
func printLastRuns(w io.Writer, runs []state.Run, tests map[int64]testsJSON) {
	for _, r := range runs {
		outcome := string(r.Outcome)
		if outcome == "" {
			outcome = "unfinished"
		}
		fmt.Fprintf(w, "last run of %s: %d on %.12s, %s", r.Tree, r.ID, r.Candidate, outcome)
		if r.Error != "" {
			fmt.Fprintf(w, ": %s", r.Error)
		}
		fmt.Fprintln(w)
		if t, ok := tests[r.ID]; ok {
			fmt.Fprintf(w, "  tests %s: %s\n", t.State, t.Line)
		}
	}
}

// printPending prints the actions not done yet, each with what will
// become of it (notes, by action id).
func printPending(w io.Writer, pending []state.Action, notes map[int64]string) {
	if len(pending) == 0 {
		fmt.Fprintln(w, "no pending actions")
	}
	for _, a := range pending {
		fmt.Fprintf(w, "pending %s %s (run %d, %s, attempts %d): %s", a.Kind, a.Key, a.RunID, a.State, a.Attempts, notes[a.ID])
		if a.LastError != "" {
			fmt.Fprintf(w, "; last error: %s", a.LastError)
		}
		fmt.Fprintln(w)
	}
}
