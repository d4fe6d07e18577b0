package state

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// ErrNotFound is wrapped by errors about an announcement, run or action that
// is not recorded.
var ErrNotFound = errors.New("not found")

// ErrInterrupted is wrapped by the error Intend returns for an action that
// an earlier attempt intended but never recorded as done or failed: the side
// effect may or may not have happened. Reconcile it (see the package
// documentation) before doing anything else with it.
var ErrInterrupted = errors.New("an earlier attempt was interrupted between intending and recording the action")

// ActionKind is the kind of side effect.
type ActionKind string

// The action kinds.
const (
	ActionPush    ActionKind = "push"    // a push; key "branch@commit"
	ActionMail    ActionKind = "mail"    // a mail; key its Message-ID
	ActionTrigger ActionKind = "trigger" // a test trigger; key its name
)

func (k ActionKind) valid() bool {
	return k == ActionPush || k == ActionMail || k == ActionTrigger
}

// ActionState is where a side effect stands.
type ActionState string

// The action states.
const (
	// ActionIntended: about to happen, happening, or interrupted.
	ActionIntended ActionState = "intended"
	// ActionDone: happened; never to be repeated.
	ActionDone ActionState = "done"
	// ActionFailed: the last attempt failed (LastError); may be retried.
	ActionFailed ActionState = "failed"
)

// Action is one entry of the side-effect ledger.
type Action struct {
	ID    int64
	RunID int64
	Kind  ActionKind
	Key   string
	State ActionState
	// Attempts counts the times the action was handed out to be performed:
	// 1 on the first Intend, plus one for each Intend that retried it after
	// Failed.
	Attempts  int
	LastError string // of the last failed attempt
	// Committing is set by [Store.Committing] just before the effect's
	// point of no return, and cleared by the next Intend. An intended action
	// that is not committing was interrupted before its effect could have
	// happened, and is safe to perform again.
	Committing bool
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

const actionCols = `id, run_id, kind, key, state, attempts, last_error, committing, created_at, updated_at`

func scanAction(sc scanner) (Action, error) {
	var a Action
	var kind, st, created, updated string
	if err := sc.Scan(&a.ID, &a.RunID, &kind, &a.Key, &st, &a.Attempts, &a.LastError, &a.Committing, &created, &updated); err != nil {
		return Action{}, err
	}
	a.Kind, a.State = ActionKind(kind), ActionState(st)
	var err error
	if a.CreatedAt, err = parseTime("created_at", created); err != nil {
		return Action{}, err
	}
	if a.UpdatedAt, err = parseTime("updated_at", updated); err != nil {
		return Action{}, err
	}
	return a, nil
}

func getAction(ctx context.Context, q querier, id int64) (Action, error) {
	a, err := scanAction(q.QueryRowContext(ctx, `SELECT `+actionCols+` FROM actions WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Action{}, fmt.Errorf("action %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return Action{}, fmt.Errorf("action %d: %w", id, err)
	}
	return a, nil
}

// Intend records that the side effect (runID, kind, key) is about to be
// performed; call it before performing it, and Done or Failed after.
//
//   - New, or failed before: it is recorded intended (a retry counts one
//     more attempt) and returned; perform the effect.
//   - Done before: alreadyDone is true; skip the effect.
//   - Intended before and never settled (a crash, or another process doing
//     it right now): the action is returned unchanged with an error wrapping
//     [ErrInterrupted]; reconcile it before performing the effect again.
func (s *Store) Intend(ctx context.Context, runID int64, kind ActionKind, key string) (a Action, alreadyDone bool, err error) {
	if !kind.valid() {
		return Action{}, false, fmt.Errorf("state: intend %s %q for run %d: unknown kind", kind, key, runID)
	}
	if key == "" {
		return Action{}, false, fmt.Errorf("state: intend %s for run %d: empty key", kind, runID)
	}
	now := formatTime(s.now())
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := getRun(ctx, tx, runID); err != nil {
			return err
		}
		a, err = scanAction(tx.QueryRowContext(ctx, `SELECT `+actionCols+` FROM actions
			WHERE run_id = ? AND kind = ? AND key = ?`, runID, string(kind), key))
		if errors.Is(err, sql.ErrNoRows) {
			res, err := tx.ExecContext(ctx, `INSERT INTO actions (run_id, kind, key, state, attempts, created_at, updated_at)
				VALUES (?, ?, ?, 'intended', 1, ?, ?)`, runID, string(kind), key, now, now)
			if err != nil {
				return err
			}
			id, err := res.LastInsertId()
			if err != nil {
				return err
			}
			a, err = getAction(ctx, tx, id)
			return err
		}
		if err != nil {
			return err
		}
		switch a.State {
		case ActionDone:
			alreadyDone = true
			return nil
		case ActionIntended:
			return fmt.Errorf("action %d (attempt %d, intended %s): %w", a.ID, a.Attempts, formatTime(a.UpdatedAt), ErrInterrupted)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE actions SET state = 'intended', attempts = attempts + 1, committing = 0,
			updated_at = ? WHERE id = ?`, now, a.ID); err != nil {
			return err
		}
		a, err = getAction(ctx, tx, a.ID)
		return err
	})
	if err != nil {
		if errors.Is(err, ErrInterrupted) {
			return a, false, fmt.Errorf("state: intend %s %q for run %d: %w", kind, key, runID, err)
		}
		return Action{}, false, fmt.Errorf("state: intend %s %q for run %d: %w", kind, key, runID, err)
	}
	return a, alreadyDone, nil
}

// Done records that the action's side effect happened. It is idempotent, and
// also accepted for a failed action (reconciliation found it did happen).
func (s *Store) Done(ctx context.Context, actionID int64) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		a, err := getAction(ctx, tx, actionID)
		if err != nil {
			return err
		}
		if a.State == ActionDone {
			return nil
		}
		_, err = tx.ExecContext(ctx, `UPDATE actions SET state = 'done', updated_at = ? WHERE id = ?`,
			formatTime(s.now()), actionID)
		return err
	})
	if err != nil {
		return fmt.Errorf("state: action %d done: %w", actionID, err)
	}
	return nil
}

// Failed records that the action's side effect did not happen, with cause.
// A later Intend retries it. A done action cannot fail.
func (s *Store) Failed(ctx context.Context, actionID int64, cause error) error {
	msg := "unknown error"
	if cause != nil {
		msg = cause.Error()
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		a, err := getAction(ctx, tx, actionID)
		if err != nil {
			return err
		}
		if a.State == ActionDone {
			return errors.New("action is already done")
		}
		_, err = tx.ExecContext(ctx, `UPDATE actions SET state = 'failed', last_error = ?, updated_at = ? WHERE id = ?`,
			msg, formatTime(s.now()), actionID)
		return err
	})
	if err != nil {
		return fmt.Errorf("state: action %d failed: %w", actionID, err)
	}
	return nil
}

// Committing marks an intended action as about to pass its point of no
// return (see Action.Committing). Call it as late as possible: the window
// between Committing and Done is the only one in which a crash leaves the
// outcome of the effect unknown.
func (s *Store) Committing(ctx context.Context, actionID int64) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		a, err := getAction(ctx, tx, actionID)
		if err != nil {
			return err
		}
		if a.State != ActionIntended {
			return fmt.Errorf("action is %s, not intended", a.State)
		}
		_, err = tx.ExecContext(ctx, `UPDATE actions SET committing = 1, updated_at = ? WHERE id = ?`,
			formatTime(s.now()), actionID)
		return err
	})
	if err != nil {
		return fmt.Errorf("state: action %d committing: %w", actionID, err)
	}
	return nil
}

// EverDone reports whether an action of kind with key is done in any run:
// for instance whether rtbot ever pushed "branch@commit".
func (s *Store) EverDone(ctx context.Context, kind ActionKind, key string) (bool, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM actions WHERE kind = ? AND key = ? AND state = 'done'`,
		string(kind), key).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("state: %s %q done: %w", kind, key, err)
	}
	return n > 0, nil
}

// Pending lists the actions that are not done, oldest first: intended ones
// (interrupted, to reconcile) and failed ones (to retry, or give up on).
func (s *Store) Pending(ctx context.Context) ([]Action, error) {
	out, err := pending(ctx, s.db)
	if err != nil {
		return nil, fmt.Errorf("state: pending actions: %w", err)
	}
	return out, nil
}

func pending(ctx context.Context, q querier) ([]Action, error) {
	return queryActions(ctx, q, `SELECT `+actionCols+` FROM actions WHERE state <> 'done' ORDER BY id`)
}

func queryActions(ctx context.Context, q querier, query string, args ...any) ([]Action, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Action
	for rows.Next() {
		a, err := scanAction(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// RetryAction is an operator asking for an action to be done again
// (`rtbot action --retry`). An action left intended (interrupted while
// committing, and found not to have happened) is recorded failed, which
// the next Intend retries. When the action's run is finished (the action
// failed for good: a report the server refused, a trigger that failed
// permanently), the run is reopened and its announcement set processing,
// so the next pass resumes the run and retries the action; the run's other
// actions stay done and are not repeated. A done action is not retried.
func (s *Store) RetryAction(ctx context.Context, actionID int64) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		a, err := getAction(ctx, tx, actionID)
		if err != nil {
			return err
		}
		now := formatTime(s.now())
		switch a.State {
		case ActionDone:
			return errors.New("it is done: there is nothing to retry")
		case ActionIntended:
			if _, err := tx.ExecContext(ctx, `UPDATE actions SET state = 'failed', last_error = ?, updated_at = ? WHERE id = ?`,
				"an operator asked for a retry", now, actionID); err != nil {
				return err
			}
		}
		return reopenForAction(ctx, tx, a.RunID, now)
	})
	if err != nil {
		return fmt.Errorf("state: retry action %d: %w", actionID, err)
	}
	return nil
}

// reopenForAction makes the finished run runID unfinished again, and its
// announcement processing, for a pass to retry one of its actions.
func reopenForAction(ctx context.Context, tx *sql.Tx, runID int64, now string) error {
	r, err := getRun(ctx, tx, runID)
	if err != nil || !r.Finished() {
		return err
	}
	var status, reason string
	if err := tx.QueryRowContext(ctx, `SELECT status, reason FROM announcements WHERE message_id = ?`, r.Announcement).
		Scan(&status, &reason); err != nil {
		return fmt.Errorf("announcement <%s> of run %d: %w", r.Announcement, runID, err)
	}
	if AnnouncementStatus(status) == AnnouncementIgnored {
		return fmt.Errorf("run %d is of announcement <%s>, which is ignored now (%s): no pass would run it", runID, r.Announcement, reason)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE runs SET finished_at = NULL, outcome = '', error = '', attempts = attempts + 1
		WHERE id = ?`, runID); err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `UPDATE announcements SET status = 'processing', updated_at = ? WHERE message_id = ?`,
		now, r.Announcement)
	return err
}
