package state

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"time"
)

// schemaV6 remembers the problems a pass's preflight found (see
// Store.RecordPreflight), so that each is mailed to the maintainers once,
// not at every pass.
const schemaV6 = `
CREATE TABLE preflight_problems (
	id         TEXT PRIMARY KEY CHECK (id <> ''),
	step       TEXT NOT NULL CHECK (step <> ''),
	key        TEXT NOT NULL CHECK (key <> ''),
	text       TEXT NOT NULL,
	transient  INTEGER NOT NULL DEFAULT 0 CHECK (transient IN (0, 1)),
	first_seen TEXT NOT NULL,
	last_seen  TEXT NOT NULL,
	mailed_at  TEXT
);
`

// PreflightProblem is a problem the preflight of a pass found (a
// configuration key that does not work), as the state remembers it.
type PreflightProblem struct {
	// ID is the problem's identity, the same at every pass that finds it
	// (the caller decides what makes two problems the same).
	ID string
	// Step is the check that found it; Key is the configuration key to
	// change; Text is the problem's one line, as last found.
	Step, Key, Text string
	// Transient says the problem may pass by itself (a server down).
	Transient bool
	// FirstSeen and LastSeen are the first and the last preflight that
	// found it, without a preflight in between that ran Step and did not.
	FirstSeen, LastSeen time.Time
	// MailedAt is when the maintainers were mailed about it; zero: not
	// yet.
	MailedAt time.Time
}

// Mailed reports whether the maintainers were mailed about p.
func (p PreflightProblem) Mailed() bool { return !p.MailedAt.IsZero() }

// RecordPreflight records what one preflight found: found are the
// problems of the steps it ran, whose names are ran (those that passed
// included). A problem found before keeps its FirstSeen and MailedAt. A
// remembered problem whose step ran and did not find it again is over:
// it is forgotten and returned in gone, so that if it comes back it is
// a new problem, mailed again. One whose step did not run (it depends on
// a step that failed) is kept as it is. now are the problems remembered
// afterwards, oldest first.
func (s *Store) RecordPreflight(ctx context.Context, ran []string, found []PreflightProblem) (now, gone []PreflightProblem, err error) {
	t := formatTime(s.now())
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		before, err := preflightProblems(ctx, tx)
		if err != nil {
			return err
		}
		for _, p := range before {
			if slices.Contains(ran, p.Step) && !slices.ContainsFunc(found, func(f PreflightProblem) bool { return f.ID == p.ID }) {
				if _, err := tx.ExecContext(ctx, `DELETE FROM preflight_problems WHERE id = ?`, p.ID); err != nil {
					return err
				}
				gone = append(gone, p)
			}
		}
		for _, p := range found {
			if p.ID == "" || p.Step == "" || p.Key == "" {
				return fmt.Errorf("problem %q: no id, step or key", p.Text)
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO preflight_problems (id, step, key, text, transient, first_seen, last_seen)
				VALUES (?, ?, ?, ?, ?, ?, ?)
				ON CONFLICT (id) DO UPDATE SET step = excluded.step, key = excluded.key, text = excluded.text,
					transient = excluded.transient, last_seen = excluded.last_seen`,
				p.ID, p.Step, p.Key, p.Text, p.Transient, t, t); err != nil {
				return err
			}
		}
		now, err = preflightProblems(ctx, tx)
		return err
	})
	if err != nil {
		return nil, nil, fmt.Errorf("state: record preflight: %w", err)
	}
	return now, gone, nil
}

// PreflightMailed records that the maintainers were mailed about the
// problems ids (a mail server accepted the mail).
func (s *Store) PreflightMailed(ctx context.Context, ids []string) error {
	t := formatTime(s.now())
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		for _, id := range ids {
			if _, err := tx.ExecContext(ctx, `UPDATE preflight_problems SET mailed_at = ? WHERE id = ?`, t, id); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("state: preflight mailed: %w", err)
	}
	return nil
}

// PreflightProblems returns the problems the last preflights found that
// are not over, oldest first.
func (s *Store) PreflightProblems(ctx context.Context) ([]PreflightProblem, error) {
	ps, err := preflightProblems(ctx, s.db)
	if err != nil {
		return nil, fmt.Errorf("state: preflight problems: %w", err)
	}
	return ps, nil
}

func preflightProblems(ctx context.Context, q querier) ([]PreflightProblem, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, step, key, text, transient, first_seen, last_seen, mailed_at
		FROM preflight_problems ORDER BY first_seen, key, id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []PreflightProblem
	for rows.Next() {
		var p PreflightProblem
		var first, last string
		var mailed sql.NullString
		if err := rows.Scan(&p.ID, &p.Step, &p.Key, &p.Text, &p.Transient, &first, &last, &mailed); err != nil {
			return nil, err
		}
		if p.FirstSeen, err = parseTime("first_seen", first); err != nil {
			return nil, err
		}
		if p.LastSeen, err = parseTime("last_seen", last); err != nil {
			return nil, err
		}
		if p.MailedAt, err = parseNullTime("mailed_at", mailed); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}
