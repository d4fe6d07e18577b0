package main

import (
	"context"
	"fmt"
	"io"

	"github.com/rtbot/rtbot/internal/pipeline"
	"github.com/rtbot/rtbot/internal/state"
)

// cmdStatus implements `rtbot status`: what rtbot waits for, and whether
// its state is sound (exit 1 when it is not).
func cmdStatus(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("status", "rtbot status --config FILE [--json]")
	cfgPath := fs.String("config", "", "configuration file")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, st, err := openState(*cfgPath)
	if err != nil {
		return err
	}
	defer st.Close()
	s, err := st.Status(ctx)
	if err != nil {
		return err
	}
	problems, err := st.Check(ctx)
	if err != nil {
		return err
	}
	watched, err := pipeline.New(cfg, st, pipeline.Options{}).Watched(ctx)
	if err != nil {
		// What the state says is still worth printing.
		problems = append(problems, "partial branches read for fixes: "+err.Error())
	}
	var result error
	if len(problems) > 0 {
		result = fmt.Errorf("%d state problem(s): %w", len(problems), errReported)
	}
	if *asJSON {
		type statusJSON struct {
			state.Status
			Watched  []pipeline.WatchedBranch `json:"Watched"`
			Problems []string                 `json:"Problems"`
		}
		if err := writeJSON(stdout, statusJSON{s, watched, problems}); err != nil {
			return err
		}
		return result
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
	return result
}
