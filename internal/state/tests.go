package state

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// schemaV7 keeps the test results of clean runs (docs/results.md):
//   - checkouts: the KCIDB checkout ids rtbot wrote for a run; results
//     are matched to runs through them and nothing else;
//   - run_tests: one row per run whose triggers fired: when rtbot stops
//     waiting for results (deadline) and the follow-up mail, once its
//     Message-ID is chosen (followup) and the verdict it gave;
//   - result_sources: each trigger a run waits for, whether it
//     delivered everything it will (complete), and what rtbot follows to
//     learn it (handle: a GitLab pipeline's or Jenkins queue item's URL);
//   - test_results: KCIDB builds and tests, keyed by their KCIDB id, so
//     a document imported twice changes nothing.
const schemaV7 = `
CREATE TABLE checkouts (
	id         TEXT PRIMARY KEY CHECK (id <> ''),
	run_id     INTEGER NOT NULL REFERENCES runs (id),
	created_at TEXT NOT NULL
);
CREATE INDEX checkouts_run ON checkouts (run_id);

CREATE TABLE run_tests (
	run_id     INTEGER PRIMARY KEY REFERENCES runs (id),
	deadline   TEXT NOT NULL,
	followup   TEXT NOT NULL DEFAULT '',
	verdict    TEXT NOT NULL DEFAULT '',
	created_at TEXT NOT NULL
);

CREATE TABLE result_sources (
	run_id   INTEGER NOT NULL REFERENCES runs (id),
	source   TEXT NOT NULL CHECK (source <> ''),
	complete INTEGER NOT NULL DEFAULT 0 CHECK (complete IN (0, 1)),
	handle   TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (run_id, source)
);

CREATE TABLE test_results (
	kind        TEXT NOT NULL CHECK (kind IN ('build', 'test')),
	id          TEXT NOT NULL CHECK (id <> ''),
	run_id      INTEGER NOT NULL REFERENCES runs (id),
	checkout_id TEXT NOT NULL REFERENCES checkouts (id),
	build_id    TEXT NOT NULL DEFAULT '',
	source      TEXT NOT NULL DEFAULT '',
	path        TEXT NOT NULL DEFAULT '',
	status      TEXT NOT NULL DEFAULT '',
	machine     TEXT NOT NULL DEFAULT '',
	log_url     TEXT NOT NULL DEFAULT '',
	latency     TEXT CHECK (latency IS NULL OR json_valid(latency)),
	received_at TEXT NOT NULL,
	PRIMARY KEY (kind, id)
);
CREATE INDEX test_results_run ON test_results (run_id);
`

// TestResult is one KCIDB build or test of a run's checkout.
type TestResult struct {
	Kind       string // "build" or "test"
	ID         string // KCIDB id
	RunID      int64  // filled in by SaveResults from CheckoutID
	CheckoutID string
	BuildID    string
	Source     string // the trigger, "import" or "dir"
	Path       string
	Status     string // KCIDB status
	Machine    string
	LogURL     string
	Latency    string // the misc.latency JSON; "" when none
	ReceivedAt time.Time
}

// ResultSource is a trigger a run waits for.
type ResultSource struct {
	Name     string
	Complete bool
	Handle   string // what Poll follows; "" for none
}

// RunTests is the test state of one run.
type RunTests struct {
	RunID     int64
	Deadline  time.Time
	FollowUp  string // Message-ID of the follow-up mail; "" until one is composed
	Verdict   string // the verdict the follow-up gave
	Sources   []ResultSource
	Results   []TestResult
	Checkouts []string // the KCIDB checkout ids of the run
}

// Complete reports whether every source delivered.
func (t RunTests) Complete() bool {
	for _, s := range t.Sources {
		if !s.Complete {
			return false
		}
	}
	return true
}

// Missing names the sources that did not deliver.
func (t RunTests) Missing() []string {
	out := []string{}
	for _, s := range t.Sources {
		if !s.Complete {
			out = append(out, s.Name)
		}
	}
	return out
}

// ExpectResults records that run runID waits for results: the KCIDB
// checkout ids its triggers were given, the sources (triggers) it waits
// for, and until when. Calling it again adds what is new and keeps what
// is there (the first deadline, the sources already complete). A checkout
// another run had (a rerun of the same result commit) passes to runID:
// results that arrive from then on are its own.
func (s *Store) ExpectResults(ctx context.Context, runID int64, checkouts, sources []string, deadline time.Time) error {
	now := formatTime(s.now())
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO run_tests (run_id, deadline, created_at) VALUES (?, ?, ?)
			ON CONFLICT (run_id) DO NOTHING`, runID, formatTime(deadline), now); err != nil {
			return err
		}
		for _, c := range checkouts {
			var owner int64
			err := tx.QueryRowContext(ctx, `SELECT run_id FROM checkouts WHERE id = ?`, c).Scan(&owner)
			switch {
			case err == nil && owner != runID:
				// A rerun of the same result commit takes the checkout
				// over: what arrives from now on is its own.
				if _, err := tx.ExecContext(ctx, `UPDATE checkouts SET run_id = ? WHERE id = ?`, runID, c); err != nil {
					return err
				}
			case errors.Is(err, sql.ErrNoRows):
				if _, err := tx.ExecContext(ctx, `INSERT INTO checkouts (id, run_id, created_at) VALUES (?, ?, ?)`, c, runID, now); err != nil {
					return err
				}
			case err != nil:
				return err
			}
		}
		for _, src := range sources {
			if _, err := tx.ExecContext(ctx, `INSERT INTO result_sources (run_id, source) VALUES (?, ?)
				ON CONFLICT DO NOTHING`, runID, src); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("state: expect results of run %d: %w", runID, err)
	}
	return nil
}

// CheckoutRun returns the run of a checkout rtbot wrote.
func (s *Store) CheckoutRun(ctx context.Context, checkoutID string) (int64, bool, error) {
	var id int64
	err := s.db.QueryRowContext(ctx, `SELECT run_id FROM checkouts WHERE id = ?`, checkoutID).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("state: checkout %s: %w", checkoutID, err)
	}
	return id, true, nil
}

// BuildCheckout returns the checkout of a build stored earlier.
func (s *Store) BuildCheckout(ctx context.Context, buildID string) (string, bool, error) {
	var c string
	err := s.db.QueryRowContext(ctx, `SELECT checkout_id FROM test_results WHERE kind = 'build' AND id = ?`, buildID).Scan(&c)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("state: build %s: %w", buildID, err)
	}
	return c, true, nil
}

// SaveResults stores results (each of a checkout rtbot wrote; a later
// copy of the same KCIDB object replaces the earlier one) and, when
// completeSource is not empty, marks that source complete for runID, all
// in one transaction: a crash keeps all of it or none.
func (s *Store) SaveResults(ctx context.Context, results []TestResult, runID int64, completeSource string) error {
	now := formatTime(s.now())
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		for _, r := range results {
			var run int64
			if err := tx.QueryRowContext(ctx, `SELECT run_id FROM checkouts WHERE id = ?`, r.CheckoutID).Scan(&run); err != nil {
				return fmt.Errorf("%s %s: checkout %s: %w", r.Kind, r.ID, r.CheckoutID, err)
			}
			var latency sql.NullString
			if r.Latency != "" {
				latency = sql.NullString{String: r.Latency, Valid: true}
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO test_results (kind, id, run_id, checkout_id, build_id, source,
				path, status, machine, log_url, latency, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
				ON CONFLICT (kind, id) DO UPDATE SET run_id = excluded.run_id, build_id = excluded.build_id, source = excluded.source,
				path = excluded.path, status = excluded.status, machine = excluded.machine, log_url = excluded.log_url,
				latency = excluded.latency, received_at = excluded.received_at
				WHERE test_results.checkout_id = excluded.checkout_id`,
				r.Kind, r.ID, run, r.CheckoutID, r.BuildID, r.Source, r.Path, r.Status, r.Machine, r.LogURL, latency, now); err != nil {
				return fmt.Errorf("%s %s: %w", r.Kind, r.ID, err)
			}
		}
		if completeSource == "" {
			return nil
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO result_sources (run_id, source, complete) VALUES (?, ?, 1)
			ON CONFLICT (run_id, source) DO UPDATE SET complete = 1`, runID, completeSource)
		return err
	})
	if err != nil {
		return fmt.Errorf("state: save %d test results: %w", len(results), err)
	}
	return nil
}

// SetSourceHandle records what rtbot follows to learn source's results
// for run runID (a new firing replaces the handle of the one before).
func (s *Store) SetSourceHandle(ctx context.Context, runID int64, source, handle string) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO result_sources (run_id, source, handle) VALUES (?, ?, ?)
		ON CONFLICT (run_id, source) DO UPDATE SET handle = excluded.handle`, runID, source, handle)
	if err != nil {
		return fmt.Errorf("state: handle of %s for run %d: %w", source, runID, err)
	}
	return nil
}

// FollowUpDue lists the runs that wait for results and whose follow-up
// mail is not done yet (none chosen, or chosen and not recorded done in
// the actions ledger), oldest first.
func (s *Store) FollowUpDue(ctx context.Context) ([]RunTests, error) {
	var out []RunTests
	err := s.readTx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT run_id FROM run_tests t WHERE followup = ''
			OR NOT EXISTS (SELECT 1 FROM actions a WHERE a.run_id = t.run_id AND a.kind = 'mail'
				AND a.key = t.followup AND a.state = 'done') ORDER BY run_id`)
		if err != nil {
			return err
		}
		var ids []int64
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return err
			}
			ids = append(ids, id)
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return err
		}
		for _, id := range ids {
			t, _, err := runTests(ctx, tx, id)
			if err != nil {
				return err
			}
			out = append(out, t)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("state: runs due a follow-up: %w", err)
	}
	return out, nil
}

// TestsOf returns the test state of a run; ok is false when the run never
// waited for results.
func (s *Store) TestsOf(ctx context.Context, runID int64) (t RunTests, ok bool, err error) {
	err = s.readTx(ctx, func(tx *sql.Tx) error {
		t, ok, err = runTests(ctx, tx, runID)
		return err
	})
	if err != nil {
		return RunTests{}, false, fmt.Errorf("state: tests of run %d: %w", runID, err)
	}
	return t, ok, nil
}

func runTests(ctx context.Context, q querier, runID int64) (RunTests, bool, error) {
	t := RunTests{RunID: runID, Sources: []ResultSource{}, Results: []TestResult{}}
	var deadline string
	err := q.QueryRowContext(ctx, `SELECT deadline, followup, verdict FROM run_tests WHERE run_id = ?`, runID).
		Scan(&deadline, &t.FollowUp, &t.Verdict)
	if errors.Is(err, sql.ErrNoRows) {
		return t, false, nil
	}
	if err != nil {
		return t, false, err
	}
	if t.Deadline, err = parseTime("deadline", deadline); err != nil {
		return t, false, err
	}
	if t.Sources, err = resultSources(ctx, q, runID); err != nil {
		return t, false, err
	}
	if t.Checkouts, err = runCheckouts(ctx, q, runID); err != nil {
		return t, false, err
	}
	t.Results, err = testResults(ctx, q, runID)
	return t, true, err
}

func runCheckouts(ctx context.Context, q querier, runID int64) ([]string, error) {
	rows, err := q.QueryContext(ctx, `SELECT id FROM checkouts WHERE run_id = ? ORDER BY id`, runID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []string{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

func resultSources(ctx context.Context, q querier, runID int64) ([]ResultSource, error) {
	rows, err := q.QueryContext(ctx, `SELECT source, complete, handle FROM result_sources WHERE run_id = ? ORDER BY source`, runID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []ResultSource{}
	for rows.Next() {
		var src ResultSource
		if err := rows.Scan(&src.Name, &src.Complete, &src.Handle); err != nil {
			return nil, err
		}
		out = append(out, src)
	}
	return out, rows.Err()
}

func testResults(ctx context.Context, q querier, runID int64) ([]TestResult, error) {
	rows, err := q.QueryContext(ctx, `SELECT kind, id, run_id, checkout_id, build_id, source, path, status, machine, log_url,
		COALESCE(latency, ''), received_at FROM test_results WHERE run_id = ? ORDER BY kind, path, id`, runID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []TestResult{}
	for rows.Next() {
		var r TestResult
		var received string
		if err := rows.Scan(&r.Kind, &r.ID, &r.RunID, &r.CheckoutID, &r.BuildID, &r.Source, &r.Path, &r.Status,
			&r.Machine, &r.LogURL, &r.Latency, &received); err != nil {
			return nil, err
		}
		if r.ReceivedAt, err = parseTime("received_at", received); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// SetFollowUp records the Message-ID of a run's follow-up mail and the
// verdict it gives, before it is sent; the mail ledger (kind mail, key
// id) makes it go out once, and the run stays due until that mail is
// done. A Message-ID already chosen is kept; the verdict is the latest.
func (s *Store) SetFollowUp(ctx context.Context, runID int64, id, verdict string) error {
	_, err := s.db.ExecContext(ctx, `UPDATE run_tests SET verdict = ?,
		followup = CASE WHEN followup = '' THEN ? ELSE followup END WHERE run_id = ?`,
		verdict, id, runID)
	if err != nil {
		return fmt.Errorf("state: follow-up of run %d: %w", runID, err)
	}
	return nil
}

// PreviousTested returns the latest clean run of tree before run
// beforeID that has test results, for the latency comparison; ok is false
// when there is none.
func (s *Store) PreviousTested(ctx context.Context, tree string, beforeID int64) (run Run, ok bool, err error) {
	run, err = scanRun(s.db.QueryRowContext(ctx, `SELECT `+prefixed("r.", runCols)+` FROM runs r
		WHERE r.tree = ? AND r.id < ? AND r.outcome = 'clean'
		AND EXISTS (SELECT 1 FROM test_results t WHERE t.run_id = r.id AND t.latency IS NOT NULL)
		ORDER BY r.id DESC LIMIT 1`, tree, beforeID))
	if errors.Is(err, sql.ErrNoRows) {
		return Run{}, false, nil
	}
	if err != nil {
		return Run{}, false, fmt.Errorf("state: run of %s tested before run %d: %w", tree, beforeID, err)
	}
	return run, true, nil
}

// prefixed puts p before every column of the comma-separated list cols.
func prefixed(p, cols string) string {
	parts := strings.Split(cols, ",")
	for i, c := range parts {
		parts[i] = p + strings.TrimSpace(c)
	}
	return strings.Join(parts, ", ")
}

// CleanRunsWithResult lists the clean runs whose result commit is commit,
// newest first.
func (s *Store) CleanRunsWithResult(ctx context.Context, commit string) ([]Run, error) {
	runs, err := queryRuns(ctx, s.db, `SELECT `+runCols+` FROM runs WHERE result_commit = ? AND outcome = 'clean'
		ORDER BY id DESC`, commit)
	if err != nil {
		return nil, fmt.Errorf("state: runs with result %s: %w", commit, err)
	}
	return runs, nil
}
