package state

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Outcome is how a run ended.
type Outcome string

// The run outcomes.
const (
	// OutcomeClean: every patch applied or merged.
	OutcomeClean Outcome = "clean"
	// OutcomeManual: at least one patch needs a human.
	OutcomeManual Outcome = "manual"
	// OutcomeError: the run could not complete (fetch failed, queue does
	// not apply to its own base, ...); Error says why.
	OutcomeError Outcome = "error"
)

func (o Outcome) valid() bool {
	return o == OutcomeClean || o == OutcomeManual || o == OutcomeError
}

// MarshalText writes the empty outcome of an unfinished run as
// "unfinished", so that every run in rtbot's JSON (status, history) has
// one.
func (o Outcome) MarshalText() ([]byte, error) {
	if o == "" {
		return []byte("unfinished"), nil
	}
	return []byte(o), nil
}

// RunSpec identifies the run to start. Announcement, Tree, Candidate and
// QueueID are its key.
type RunSpec struct {
	Announcement string // Message-ID of the announcement; must be recorded
	Tree         string // configured tree name, e.g. "6.1-rt"
	Candidate    string // candidate commit id
	// QueueID identifies the queue content (a hash). It should cover
	// everything that decides the result besides the candidate, in
	// particular the base the queue is materialised on, because a run with
	// the same key is never started twice.
	QueueID string
	Base    string // the queue's base, e.g. "v6.1.176"; informational
}

// Run is one rebase of a queue onto a candidate.
type Run struct {
	ID           int64
	Announcement string
	Tree         string
	Candidate    string
	QueueID      string
	Base         string
	StartedAt    time.Time
	FinishedAt   time.Time // zero while the run is unfinished
	// Attempts counts how often the run was started: 1, plus one for every
	// StartRun that resumed it unfinished and every ReopenRun.
	Attempts     int
	Outcome      Outcome // empty while unfinished
	PushedBranch string
	ResultCommit string
	Error        string
}

// Finished reports whether the run has an outcome.
func (r Run) Finished() bool { return r.Outcome != "" }

// RunResult is what FinishRun records.
type RunResult struct {
	Outcome      Outcome
	PushedBranch string // empty if nothing was pushed
	ResultCommit string // the rebased queue's top commit, if any
	Error        string // for OutcomeError
}

const runCols = `id, announcement, tree, candidate, queue_id, base, started_at, finished_at, attempts,
	outcome, pushed_branch, result_commit, error`

func scanRun(sc scanner) (Run, error) {
	var r Run
	var started, outcome string
	var finished sql.NullString
	err := sc.Scan(&r.ID, &r.Announcement, &r.Tree, &r.Candidate, &r.QueueID, &r.Base, &started, &finished,
		&r.Attempts, &outcome, &r.PushedBranch, &r.ResultCommit, &r.Error)
	if err != nil {
		return Run{}, err
	}
	r.Outcome = Outcome(outcome)
	if r.StartedAt, err = parseTime("started_at", started); err != nil {
		return Run{}, err
	}
	if r.FinishedAt, err = parseNullTime("finished_at", finished); err != nil {
		return Run{}, err
	}
	return r, nil
}

func getRun(ctx context.Context, q querier, id int64) (Run, error) {
	r, err := scanRun(q.QueryRowContext(ctx, `SELECT `+runCols+` FROM runs WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Run{}, fmt.Errorf("run %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return Run{}, fmt.Errorf("run %d: %w", id, err)
	}
	return r, nil
}

// StartRun starts the run spec describes, or returns the existing run with
// the same key (existed is then true). An existing unfinished run is being
// resumed after an interruption: its Attempts is incremented, and its
// actions ledger tells what was already done. An existing finished run is
// returned unchanged; the caller must not redo it (see ReopenRun to retry a
// run that ended in error). The announcement must have been recorded.
func (s *Store) StartRun(ctx context.Context, spec RunSpec) (run Run, existed bool, err error) {
	if spec.Announcement == "" || spec.Tree == "" || spec.Candidate == "" || spec.QueueID == "" {
		return Run{}, false, fmt.Errorf("state: start run: incomplete key (announcement %q, tree %q, candidate %q, queue %q)",
			spec.Announcement, spec.Tree, spec.Candidate, spec.QueueID)
	}
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM announcements WHERE message_id = ?`, spec.Announcement).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("announcement <%s>: %w", spec.Announcement, ErrNotFound)
		}
		run, err = scanRun(tx.QueryRowContext(ctx, `SELECT `+runCols+` FROM runs
			WHERE announcement = ? AND tree = ? AND candidate = ? AND queue_id = ?`,
			spec.Announcement, spec.Tree, spec.Candidate, spec.QueueID))
		switch {
		case err == nil:
			existed = true
			if run.Finished() {
				return nil
			}
			if _, err := tx.ExecContext(ctx, `UPDATE runs SET attempts = attempts + 1 WHERE id = ?`, run.ID); err != nil {
				return err
			}
			run.Attempts++
			return nil
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO runs (announcement, tree, candidate, queue_id, base, started_at)
			VALUES (?, ?, ?, ?, ?, ?)`,
			spec.Announcement, spec.Tree, spec.Candidate, spec.QueueID, spec.Base, formatTime(s.now()))
		if err != nil {
			return err
		}
		id, err := res.LastInsertId()
		if err != nil {
			return err
		}
		run, err = getRun(ctx, tx, id)
		return err
	})
	if err != nil {
		return Run{}, false, fmt.Errorf("state: start run of %s on %s (announcement <%s>): %w",
			spec.Tree, spec.Candidate, spec.Announcement, err)
	}
	return run, existed, nil
}

// ReopenRun makes a run that finished with OutcomeError unfinished again, so
// the next pass retries it under the same id and ledger (a remote that was
// unreachable, say). Runs with another outcome cannot be reopened: their
// results stand.
func (s *Store) ReopenRun(ctx context.Context, id int64) (Run, error) {
	var run Run
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		r, err := getRun(ctx, tx, id)
		if err != nil {
			return err
		}
		if r.Outcome != OutcomeError {
			if !r.Finished() {
				return errors.New("run is not finished")
			}
			return fmt.Errorf("run finished %s, only runs that ended in error can be reopened", r.Outcome)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE runs SET finished_at = NULL, outcome = '', error = '',
			attempts = attempts + 1 WHERE id = ?`, id); err != nil {
			return err
		}
		run, err = getRun(ctx, tx, id)
		return err
	})
	if err != nil {
		return Run{}, fmt.Errorf("state: reopen run %d: %w", id, err)
	}
	return run, nil
}

// FinishRun records the run's outcome. A finished run cannot be finished
// again.
func (s *Store) FinishRun(ctx context.Context, id int64, res RunResult) error {
	if !res.Outcome.valid() {
		return fmt.Errorf("state: finish run %d: unknown outcome %q", id, res.Outcome)
	}
	if res.Outcome == OutcomeError && res.Error == "" {
		return fmt.Errorf("state: finish run %d: outcome error without an error text", id)
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		r, err := getRun(ctx, tx, id)
		if err != nil {
			return err
		}
		if r.Finished() {
			return fmt.Errorf("already finished %s at %s", r.Outcome, formatTime(r.FinishedAt))
		}
		_, err = tx.ExecContext(ctx, `UPDATE runs SET finished_at = ?, outcome = ?, pushed_branch = ?,
			result_commit = ?, error = ? WHERE id = ?`,
			formatTime(s.now()), string(res.Outcome), res.PushedBranch, res.ResultCommit, res.Error, id)
		return err
	})
	if err != nil {
		return fmt.Errorf("state: finish run %d: %w", id, err)
	}
	return nil
}

// PatchResult is the triage of one patch of a run (see package conflicts for
// the vocabulary of Status and Action).
type PatchResult struct {
	Index   int // position in the queue, from 1 (unique within the run)
	Name    string
	Subject string
	Status  string // "applied", "conflict", ...
	Action  string // "none", "refresh", ...
	Reason  string
	// CausedBy is JSON (for instance a list of "1a2b3c4 subject" strings, or
	// richer objects); nil is stored as NULL.
	CausedBy  json.RawMessage
	BlockedBy string // name of the earlier patch this one waits for
}

// SavePatchResults replaces the patch results of the run with results, in
// one transaction: a rerun overwrites, never mixes, the previous triage.
func (s *Store) SavePatchResults(ctx context.Context, runID int64, results []PatchResult) error {
	for _, p := range results {
		if p.Name == "" {
			return fmt.Errorf("state: save patch results of run %d: patch %d has no name", runID, p.Index)
		}
		if len(p.CausedBy) > 0 && !json.Valid(p.CausedBy) {
			return fmt.Errorf("state: save patch results of run %d: patch %d (%s): caused_by is not valid JSON", runID, p.Index, p.Name)
		}
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := getRun(ctx, tx, runID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM patch_results WHERE run_id = ?`, runID); err != nil {
			return err
		}
		stmt, err := tx.PrepareContext(ctx, `INSERT INTO patch_results
			(run_id, idx, name, subject, status, action, reason, caused_by, blocked_by)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, p := range results {
			var caused sql.NullString
			if len(p.CausedBy) > 0 {
				caused = sql.NullString{String: string(p.CausedBy), Valid: true}
			}
			if _, err := stmt.ExecContext(ctx, runID, p.Index, p.Name, p.Subject, p.Status, p.Action, p.Reason,
				caused, p.BlockedBy); err != nil {
				return fmt.Errorf("patch %d (%s): %w", p.Index, p.Name, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("state: save patch results of run %d: %w", runID, err)
	}
	return nil
}

func patchResults(ctx context.Context, q querier, runID int64) ([]PatchResult, error) {
	rows, err := q.QueryContext(ctx, `SELECT idx, name, subject, status, action, reason, caused_by, blocked_by
		FROM patch_results WHERE run_id = ? ORDER BY idx`, runID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []PatchResult
	for rows.Next() {
		var p PatchResult
		var caused sql.NullString
		if err := rows.Scan(&p.Index, &p.Name, &p.Subject, &p.Status, &p.Action, &p.Reason, &caused, &p.BlockedBy); err != nil {
			return nil, err
		}
		if caused.Valid {
			p.CausedBy = json.RawMessage(caused.String)
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// RunFilter selects runs for Runs.
type RunFilter struct {
	Tree         string // only this tree; empty for all
	Announcement string // only runs for this Message-ID; empty for all
	Limit        int    // at most this many; 0 for all
}

// Runs lists runs, newest first.
func (s *Store) Runs(ctx context.Context, f RunFilter) ([]Run, error) {
	q := `SELECT ` + runCols + ` FROM runs WHERE 1 = 1`
	var args []any
	if f.Tree != "" {
		q += ` AND tree = ?`
		args = append(args, f.Tree)
	}
	if f.Announcement != "" {
		q += ` AND announcement = ?`
		args = append(args, f.Announcement)
	}
	q += ` ORDER BY started_at DESC, id DESC`
	if f.Limit > 0 {
		q += ` LIMIT ?`
		args = append(args, f.Limit)
	}
	out, err := queryRuns(ctx, s.db, q, args...)
	if err != nil {
		return nil, fmt.Errorf("state: runs: %w", err)
	}
	return out, nil
}

func queryRuns(ctx context.Context, q querier, query string, args ...any) ([]Run, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Run
	for rows.Next() {
		r, err := scanRun(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// RunDetail is a run with everything recorded about it.
type RunDetail struct {
	Run
	Patches []PatchResult // by Index
	Actions []Action      // in the order they were first intended
}

// Run returns the run with the given id, its patch results and its actions,
// read as one snapshot. The error wraps [ErrNotFound] if there is no such
// run.
func (s *Store) Run(ctx context.Context, id int64) (RunDetail, error) {
	var d RunDetail
	err := s.readTx(ctx, func(tx *sql.Tx) error {
		var err error
		if d.Run, err = getRun(ctx, tx, id); err != nil {
			return err
		}
		if d.Patches, err = patchResults(ctx, tx, id); err != nil {
			return fmt.Errorf("patch results: %w", err)
		}
		if d.Actions, err = queryActions(ctx, tx, `SELECT `+actionCols+` FROM actions WHERE run_id = ? ORDER BY id`, id); err != nil {
			return fmt.Errorf("actions: %w", err)
		}
		return nil
	})
	if err != nil {
		return RunDetail{}, fmt.Errorf("state: %w", err)
	}
	return d, nil
}
