package main

import (
	"bytes"
	"context"
	"fmt"
	"io"

	"github.com/rtbot/rtbot/internal/config"
	"github.com/rtbot/rtbot/internal/netsec"
	"github.com/rtbot/rtbot/internal/pipeline"
	"github.com/rtbot/rtbot/internal/state"
)

// cmdStatus implements `rtbot status`: what rtbot waits for, and whether
// its state is sound (exit 1 when it is not).
func cmdStatus(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return redacting(stdout, func(w io.Writer) error { return status(ctx, args, w) })
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
func status(ctx context.Context, args []string, stdout io.Writer) error {
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
	s, err := readStatus(ctx, cfg, st)
	if err != nil {
		return err
	}
	if *asJSON {
		if err := writeJSON(stdout, s); err != nil {
			return err
		}
	} else {
		printStatus(stdout, st.Path(), s)
	}
	if len(s.Problems) > 0 {
		return fmt.Errorf("%d state problem(s): %w", len(s.Problems), errReported)
	}
	return nil
}

// statusReport is what `rtbot status` prints, as text or as JSON.
type statusReport struct {
	state.Status
	Watched  []pipeline.WatchedBranch `json:"Watched"`
	Problems []string                 `json:"Problems"`
}

// readStatus reads the state's status, checks the state, and lists the
// partial branches read for fixes.
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
	return statusReport{s, watched, problems}, nil
}

// printStatus prints s, read from the state at path, as text.
func printStatus(w io.Writer, path string, s statusReport) {
	fmt.Fprintf(w, "state %s (schema %d)\n", path, s.SchemaVersion)
	printAnnouncements(w, s.Status)
	for _, c := range s.Checkpoints {
		fmt.Fprintf(w, "mailbox %s %s: up to UID %d (UIDVALIDITY %d), %s\n", c.Server, c.Mailbox, c.LastUID, c.UIDValidity, c.UpdatedAt.Format("2006-01-02 15:04:05"))
	}
	printLastRuns(w, s.LastRuns)
	for _, b := range s.Watched {
		read := "nothing pushed onto it yet"
		if b.ReadUpTo != "" {
			read = fmt.Sprintf("learnt up to %.12s", b.ReadUpTo)
		}
		fmt.Fprintf(w, "reading %s for fixes (run %d of %s): %s\n", b.Branch, b.Run, b.Tree, read)
	}
	printPending(w, s.Pending)
	if len(s.Problems) == 0 {
		fmt.Fprintln(w, "state check: ok")
	}
	for _, p := range s.Problems {
		fmt.Fprintf(w, "STATE PROBLEM: %s\n", p)
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
		fmt.Fprintf(w, "  waiting  <%s> %s-rc%d (%s since %s)", a.MessageID, a.Version, a.RC, a.Status, a.FirstSeen.Format("2006-01-02 15:04"))
		if a.Attempts > 0 {
			fmt.Fprintf(w, ": %d failed attempt(s), the last at %s: %s", a.Attempts, a.LastAttempt.Format("2006-01-02 15:04"), a.LastError)
		}
		fmt.Fprintln(w)
	}
}

// printLastRuns prints the last run of each tree.
func printLastRuns(w io.Writer, runs []state.Run) {
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
	}
}

// printPending prints the actions not done yet, each with what will
// become of it.
func printPending(w io.Writer, pending []state.Action) {
	if len(pending) == 0 {
		fmt.Fprintln(w, "no pending actions")
	}
	for _, a := range pending {
		note := "failed; retried by the next pass while its run is unfinished"
		switch {
		case a.State == state.ActionIntended && a.Committing:
			note = fmt.Sprintf("INTERRUPTED WHILE COMMITTING: it may have happened; check, then `rtbot action --done %d` or `--retry %d`", a.ID, a.ID)
		case a.State == state.ActionIntended:
			note = "interrupted before it could happen; the next pass redoes it"
		}
		fmt.Fprintf(w, "pending %s %s (run %d, %s, attempts %d): %s", a.Kind, a.Key, a.RunID, a.State, a.Attempts, note)
		if a.LastError != "" {
			fmt.Fprintf(w, "; last error: %s", a.LastError)
		}
		fmt.Fprintln(w)
	}
}
