package state

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// AnnouncementStatus is where an announcement is in its processing.
type AnnouncementStatus string

// The announcement statuses.
const (
	// AnnouncementNew is recorded but not yet picked up.
	AnnouncementNew AnnouncementStatus = "new"
	// AnnouncementProcessing has runs under way (or interrupted by a crash).
	AnnouncementProcessing AnnouncementStatus = "processing"
	// AnnouncementDone has been handled completely.
	AnnouncementDone AnnouncementStatus = "done"
	// AnnouncementIgnored was deliberately not processed; Reason says why.
	AnnouncementIgnored AnnouncementStatus = "ignored"
	// AnnouncementWaiting waits for its candidate: the remote does not
	// have the announced version yet (Reason says what it has). Every pass
	// looks again, until WaitUntil; then it fails.
	AnnouncementWaiting AnnouncementStatus = "waiting"
	// AnnouncementFailed ended in a permanent error (Reason); its
	// maintainers were mailed an error report. A pass tries it again when
	// the cause may have changed (the configuration, the queue), and
	// `rtbot rerun` does on purpose.
	AnnouncementFailed AnnouncementStatus = "failed"
)

// AnnouncementStatuses returns every status, in processing order.
func AnnouncementStatuses() []AnnouncementStatus {
	return []AnnouncementStatus{AnnouncementNew, AnnouncementProcessing, AnnouncementWaiting, AnnouncementDone,
		AnnouncementIgnored, AnnouncementFailed}
}

func (st AnnouncementStatus) valid() bool {
	switch st {
	case AnnouncementNew, AnnouncementProcessing, AnnouncementWaiting, AnnouncementDone, AnnouncementIgnored, AnnouncementFailed:
		return true
	}
	return false
}

// Announcement is a mail rtbot recognised (or chose to ignore). The fields
// mirror mailwatch.Announcement; MessageID is its identity.
type Announcement struct {
	ID        int64  // row id, assigned by RecordAnnouncement
	MessageID string // without angle brackets; unique
	Kind      string // "stable-rc", "rt-stable", ...; see mailwatch.Kind
	Series    string // "6.1"
	Version   string // "6.1.177"
	RC        int    // 1 for -rc1, 0 for a release
	GitURL    string
	GitBranch string
	PatchURL  string
	From      string // sender address (stored as from_addr)
	Subject   string
	Deadline  time.Time // zero when the mail named none
	FirstSeen time.Time // when it was first recorded
	UpdatedAt time.Time // last status change
	Status    AnnouncementStatus
	// Reason says why it is ignored, what it waits for, or why it failed.
	Reason string
	// Attempts counts the failed attempts at processing it; LastError and
	// LastAttempt describe the latest (see AnnouncementFailed).
	Attempts    int
	LastError   string
	LastAttempt time.Time
	// WaitUntil is when a waiting announcement is given up (failed).
	WaitUntil time.Time
	// ConfigHash identifies the configuration an ignored or failed verdict
	// was made under: when the configuration changes, a pass looks at the
	// announcement again. Empty for a verdict no configuration changes (a
	// mail that is no announcement, a repeat).
	ConfigHash string
	// Claimed says rtbot found the announced candidate and acts on this
	// announcement: another of the same kind, version and rc is a repeat
	// (see ClaimAnnouncement).
	Claimed bool
	// Tree, when set, is the one tree the announcement is for (one rtbot
	// made itself, to redo a run).
	Tree string
	// Thread, when set, is the Message-ID the announcement's reports are
	// threaded under (one rtbot made itself, redoing a list mail's runs).
	Thread string
	// Retry says the announcement is being tried again (see
	// RetryAnnouncement): a run of it found ended in error is to be
	// reopened and redone, until the announcement settles.
	Retry bool
}

const announcementCols = `id, message_id, kind, series, version, rc, git_url, git_branch, patch_url,
	from_addr, subject, deadline, first_seen, updated_at, status, reason, attempts, last_error, last_attempt,
	wait_until, config_hash, claimed, tree, thread, retry`

func scanAnnouncement(sc scanner) (Announcement, error) {
	var a Announcement
	var deadline, lastAttempt, waitUntil sql.NullString
	var first, updated, status string
	err := sc.Scan(&a.ID, &a.MessageID, &a.Kind, &a.Series, &a.Version, &a.RC, &a.GitURL, &a.GitBranch,
		&a.PatchURL, &a.From, &a.Subject, &deadline, &first, &updated, &status, &a.Reason,
		&a.Attempts, &a.LastError, &lastAttempt, &waitUntil, &a.ConfigHash, &a.Claimed, &a.Tree, &a.Thread, &a.Retry)
	if err != nil {
		return Announcement{}, err
	}
	a.Status = AnnouncementStatus(status)
	if a.Deadline, err = parseNullTime("deadline", deadline); err != nil {
		return Announcement{}, err
	}
	if a.LastAttempt, err = parseNullTime("last_attempt", lastAttempt); err != nil {
		return Announcement{}, err
	}
	if a.WaitUntil, err = parseNullTime("wait_until", waitUntil); err != nil {
		return Announcement{}, err
	}
	if a.FirstSeen, err = parseTime("first_seen", first); err != nil {
		return Announcement{}, err
	}
	if a.UpdatedAt, err = parseTime("updated_at", updated); err != nil {
		return Announcement{}, err
	}
	return a, nil
}

// RecordAnnouncement records a, once per MessageID. ID, FirstSeen and
// UpdatedAt are assigned; an empty Status means AnnouncementNew, and
// AnnouncementIgnored (to record a rejected mail in one step) needs a
// Reason. Waiting and failed are outcomes of processing, not of recording
// (see WaitAnnouncement, FailAnnouncement).
//
// If an announcement with the same MessageID is already recorded (the same
// mail delivered twice, or seen again after a UIDVALIDITY change), nothing is
// written: the stored row is returned, unchanged, with duplicate set. Except
// that Message-IDs are only de-duplicated among mails rtbot acts on: a
// stored row that was ignored and has no run is replaced by a, when a is
// not ignored, so that a mail that failed the checks (a forgery from
// another sender reusing the cover's Message-ID) never blocks the genuine
// one that follows it.
func (s *Store) RecordAnnouncement(ctx context.Context, a Announcement) (rec Announcement, duplicate bool, err error) {
	if err := a.checkRecordable(); err != nil {
		return Announcement{}, false, err
	}
	if a.Status == "" {
		a.Status = AnnouncementNew
	}
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		old, err := scanAnnouncement(tx.QueryRowContext(ctx,
			`SELECT `+announcementCols+` FROM announcements WHERE message_id = ?`, a.MessageID))
		switch {
		case errors.Is(err, sql.ErrNoRows):
			err = s.insertAnnouncement(ctx, tx, a)
		case err != nil:
			return err
		case replaces(ctx, tx, old, a):
			err = s.replaceAnnouncement(ctx, tx, a)
		default:
			rec, duplicate = old, true
			return nil
		}
		if err != nil {
			return err
		}
		rec, err = scanAnnouncement(tx.QueryRowContext(ctx,
			`SELECT `+announcementCols+` FROM announcements WHERE message_id = ?`, a.MessageID))
		return err
	})
	if err != nil {
		return Announcement{}, false, fmt.Errorf("state: record announcement <%s>: %w", a.MessageID, err)
	}
	return rec, duplicate, nil
}

// checkRecordable refuses what RecordAnnouncement cannot record.
func (a Announcement) checkRecordable() error {
	switch {
	case a.MessageID == "":
		return errors.New("state: record announcement: empty Message-ID")
	case a.Kind == "":
		return fmt.Errorf("state: record announcement <%s>: empty kind", a.MessageID)
	case a.Status != "" && !a.Status.valid():
		return fmt.Errorf("state: record announcement <%s>: unknown status %q", a.MessageID, a.Status)
	case a.Status == AnnouncementWaiting || a.Status == AnnouncementFailed:
		return fmt.Errorf("state: record announcement <%s>: %s is an outcome of processing, not recorded with the mail", a.MessageID, a.Status)
	case a.Status == AnnouncementIgnored && strings.TrimSpace(a.Reason) == "":
		return fmt.Errorf("state: record announcement <%s>: ignored without a reason", a.MessageID)
	}
	return nil
}

// replaces reports whether a, recorded under the Message-ID of old, takes
// its place: old was ignored and never run, a is not ignored.
func replaces(ctx context.Context, tx *sql.Tx, old, a Announcement) bool {
	if old.Status != AnnouncementIgnored || a.Status == AnnouncementIgnored {
		return false
	}
	var runs int
	err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM runs WHERE announcement = ?`, a.MessageID).Scan(&runs)
	return err == nil && runs == 0
}

func (s *Store) insertAnnouncement(ctx context.Context, tx *sql.Tx, a Announcement) error {
	now := formatTime(s.now())
	_, err := tx.ExecContext(ctx, `INSERT INTO announcements
		(message_id, kind, series, version, rc, git_url, git_branch, patch_url, from_addr, subject,
		 deadline, first_seen, updated_at, status, reason, config_hash, tree, thread)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		a.MessageID, a.Kind, a.Series, a.Version, a.RC, a.GitURL, a.GitBranch, a.PatchURL, a.From, a.Subject,
		nullTime(a.Deadline), now, now, string(a.Status), a.Reason, a.ConfigHash, a.Tree, a.Thread)
	return err
}

// replaceAnnouncement writes a over the ignored row of its Message-ID, as
// if it were recorded first (first_seen is now).
func (s *Store) replaceAnnouncement(ctx context.Context, tx *sql.Tx, a Announcement) error {
	now := formatTime(s.now())
	_, err := tx.ExecContext(ctx, `UPDATE announcements SET kind = ?, series = ?, version = ?, rc = ?, git_url = ?,
		git_branch = ?, patch_url = ?, from_addr = ?, subject = ?, deadline = ?, first_seen = ?, updated_at = ?,
		status = ?, reason = ?, attempts = 0, last_error = '', last_attempt = NULL, wait_until = NULL,
		config_hash = ?, claimed = 0, tree = ?, thread = ?, retry = 0
		WHERE message_id = ?`,
		a.Kind, a.Series, a.Version, a.RC, a.GitURL, a.GitBranch, a.PatchURL, a.From, a.Subject, nullTime(a.Deadline),
		now, now, string(a.Status), a.Reason, a.ConfigHash, a.Tree, a.Thread, a.MessageID)
	return err
}

// Announcement returns the announcement with the given Message-ID. The error
// wraps [ErrNotFound] if there is none.
func (s *Store) Announcement(ctx context.Context, messageID string) (Announcement, error) {
	a, err := scanAnnouncement(s.db.QueryRowContext(ctx,
		`SELECT `+announcementCols+` FROM announcements WHERE message_id = ?`, messageID))
	if errors.Is(err, sql.ErrNoRows) {
		err = ErrNotFound
	}
	if err != nil {
		return Announcement{}, fmt.Errorf("state: announcement <%s>: %w", messageID, err)
	}
	return a, nil
}

// AnnouncementFilter selects announcements.
type AnnouncementFilter struct {
	// Status keeps only announcements in one of these statuses; empty keeps all.
	Status []AnnouncementStatus
	// SeenSince, when not zero, keeps only announcements first seen at or
	// after it.
	SeenSince time.Time
	// Limit caps the number returned; 0 means no limit.
	Limit int
}

// Announcements lists announcements oldest first (in the order they were
// recorded), so a rerun picks up new and interrupted ones in arrival order.
func (s *Store) Announcements(ctx context.Context, f AnnouncementFilter) ([]Announcement, error) {
	q := `SELECT ` + announcementCols + ` FROM announcements WHERE 1 = 1`
	var args []any
	if len(f.Status) > 0 {
		q += ` AND status IN (?` + strings.Repeat(`, ?`, len(f.Status)-1) + `)`
		for _, st := range f.Status {
			args = append(args, string(st))
		}
	}
	if !f.SeenSince.IsZero() {
		q += ` AND first_seen >= ?`
		args = append(args, formatTime(f.SeenSince))
	}
	q += ` ORDER BY id`
	if f.Limit > 0 {
		q += ` LIMIT ?`
		args = append(args, f.Limit)
	}
	out, err := queryAnnouncements(ctx, s.db, q, args...)
	if err != nil {
		return nil, fmt.Errorf("state: announcements: %w", err)
	}
	return out, nil
}

func queryAnnouncements(ctx context.Context, q querier, query string, args ...any) ([]Announcement, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Announcement
	for rows.Next() {
		a, err := scanAnnouncement(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// SetAnnouncementStatus moves the announcement to status new, processing
// or done (IgnoreAnnouncement, WaitAnnouncement and FailAnnouncement record
// the other outcomes, each with its reason). The error wraps [ErrNotFound]
// if the Message-ID is unknown.
func (s *Store) SetAnnouncementStatus(ctx context.Context, messageID string, status AnnouncementStatus) error {
	switch status {
	case AnnouncementNew, AnnouncementProcessing, AnnouncementDone:
	case AnnouncementIgnored, AnnouncementWaiting, AnnouncementFailed:
		return fmt.Errorf("state: announcement <%s>: %s needs a reason: use %s", messageID, status,
			map[AnnouncementStatus]string{AnnouncementIgnored: "IgnoreAnnouncement", AnnouncementWaiting: "WaitAnnouncement",
				AnnouncementFailed: "FailAnnouncement"}[status])
	default:
		return fmt.Errorf("state: announcement <%s>: unknown status %q", messageID, status)
	}
	return s.setAnnouncementStatus(ctx, messageID, verdict{status: status})
}

// IgnoreAnnouncement marks the announcement ignored, recording why (for
// example "sender not configured"), so that `rtbot status` can say so and a
// rerun does not pick it up. The error wraps [ErrNotFound] if the Message-ID
// is unknown.
func (s *Store) IgnoreAnnouncement(ctx context.Context, messageID, reason string) error {
	return s.IgnoreUnder(ctx, messageID, reason, "")
}

// IgnoreUnder is IgnoreAnnouncement for a reason the configuration
// identified by configHash decides (a sender, a tree's URL): a pass under
// another configuration looks at the announcement again.
func (s *Store) IgnoreUnder(ctx context.Context, messageID, reason, configHash string) error {
	if strings.TrimSpace(reason) == "" {
		return fmt.Errorf("state: ignore announcement <%s>: empty reason", messageID)
	}
	return s.setAnnouncementStatus(ctx, messageID, verdict{status: AnnouncementIgnored, reason: reason, configHash: configHash})
}

// WaitAnnouncement marks the announcement waiting for its candidate until
// the time until, saying what the remote has instead (reason). Its count
// of failed attempts starts again: the attempt that found it waiting did
// not fail (LastError keeps the last failure).
func (s *Store) WaitAnnouncement(ctx context.Context, messageID, reason string, until time.Time) error {
	if strings.TrimSpace(reason) == "" || until.IsZero() {
		return fmt.Errorf("state: announcement <%s> waiting: needs a reason and a time to give up", messageID)
	}
	return s.setAnnouncementStatus(ctx, messageID, verdict{status: AnnouncementWaiting, reason: reason, until: until, resetAttempts: true})
}

// FailAnnouncement marks the announcement failed for good with cause,
// under the configuration configHash identifies (see RetryAnnouncement).
func (s *Store) FailAnnouncement(ctx context.Context, messageID, cause, configHash string) error {
	if strings.TrimSpace(cause) == "" {
		return fmt.Errorf("state: fail announcement <%s>: empty cause", messageID)
	}
	return s.setAnnouncementStatus(ctx, messageID, verdict{status: AnnouncementFailed, reason: cause, configHash: configHash})
}

// verdict is an announcement's status and what goes with it.
type verdict struct {
	status             AnnouncementStatus
	reason, configHash string
	until              time.Time
	resetAttempts      bool
}

func (s *Store) setAnnouncementStatus(ctx context.Context, messageID string, v verdict) error {
	res, err := s.db.ExecContext(ctx, `UPDATE announcements SET status = ?, reason = ?, config_hash = ?, wait_until = ?,
		retry = 0, attempts = CASE WHEN ? THEN 0 ELSE attempts END, updated_at = ? WHERE message_id = ?`,
		string(v.status), v.reason, v.configHash, nullTime(v.until), v.resetAttempts, formatTime(s.now()), messageID)
	if err == nil {
		err = oneRow(res)
	}
	if err != nil {
		return fmt.Errorf("state: set announcement <%s> %s: %w", messageID, v.status, err)
	}
	return nil
}

// oneRow is ErrNotFound unless res changed a row.
func oneRow(res sql.Result) error {
	n, err := res.RowsAffected()
	if err == nil && n == 0 {
		err = ErrNotFound
	}
	return err
}

// ClaimAnnouncement records that rtbot found the candidate of the
// announcement and acts on it: it moves to processing, and is claimed. A
// stable-rc announcement whose candidate another one claimed already (the
// same kind, version and rc) is not: holder is that one and claimed false,
// and the caller ignores it as a repeat. Claiming again is a no-op.
func (s *Store) ClaimAnnouncement(ctx context.Context, messageID string) (holder Announcement, claimed bool, err error) {
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		a, err := scanAnnouncement(tx.QueryRowContext(ctx, `SELECT `+announcementCols+` FROM announcements WHERE message_id = ?`, messageID))
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		if a.Kind == stableRC && !a.Claimed {
			holder, err = scanAnnouncement(tx.QueryRowContext(ctx, `SELECT `+announcementCols+` FROM announcements
				WHERE kind = ? AND version = ? AND rc = ? AND claimed = 1 AND message_id <> ? ORDER BY id LIMIT 1`,
				a.Kind, a.Version, a.RC, messageID))
			switch {
			case err == nil:
				return nil
			case !errors.Is(err, sql.ErrNoRows):
				return err
			}
		}
		holder, claimed = a, true
		_, err = tx.ExecContext(ctx, `UPDATE announcements SET status = 'processing', claimed = 1, reason = '', config_hash = '',
			wait_until = NULL, updated_at = ? WHERE message_id = ?`, formatTime(s.now()), messageID)
		return err
	})
	if err != nil {
		return Announcement{}, false, fmt.Errorf("state: claim announcement <%s>: %w", messageID, err)
	}
	return holder, claimed, nil
}

// stableRC is the kind of the stable-rc covers (mailwatch.KindStableRC):
// the only announcements of which a second one of the same candidate is a
// repeat. rtbot's own (a run by hand, a rerun) are never repeats.
const stableRC = "stable-rc"

// RetryAnnouncement sets an announcement that failed, was ignored or is
// done back to processing, for a pass to try it again; with redo, its runs
// that ended in error are redone too (Retry is set: the pass reopens such a
// run under its id and ledger when it meets it, see ReopenRun), until the
// announcement settles again. Its reason is cleared and its last error
// kept.
func (s *Store) RetryAnnouncement(ctx context.Context, messageID string, redo bool) error {
	res, err := s.db.ExecContext(ctx, `UPDATE announcements SET status = 'processing', reason = '', config_hash = '',
		wait_until = NULL, retry = ?, updated_at = ? WHERE message_id = ?`, redo, formatTime(s.now()), messageID)
	if err == nil {
		err = oneRow(res)
	}
	if err != nil {
		return fmt.Errorf("state: retry announcement <%s>: %w", messageID, err)
	}
	return nil
}

// AnnouncementFailed records a failed attempt at processing the
// announcement: one more attempt, and cause as its last error. The
// announcement keeps its status, so the next pass tries again. The error
// wraps [ErrNotFound] if the Message-ID is unknown.
func (s *Store) AnnouncementFailed(ctx context.Context, messageID string, cause error) error {
	msg := "unknown error"
	if cause != nil {
		msg = cause.Error()
	}
	res, err := s.db.ExecContext(ctx, `UPDATE announcements SET attempts = attempts + 1, last_error = ?, last_attempt = ?
		WHERE message_id = ?`, msg, formatTime(s.now()), messageID)
	if err == nil {
		err = oneRow(res)
	}
	if err != nil {
		return fmt.Errorf("state: announcement <%s> failed: %w", messageID, err)
	}
	return nil
}

// FirstAnnouncement returns the earliest recorded announcement of kind for
// version and rc that was not ignored; found is false when there is none.
// `rtbot run --onto` uses it to recognise a second candidate of the same
// version.
func (s *Store) FirstAnnouncement(ctx context.Context, kind, version string, rc int) (a Announcement, found bool, err error) {
	return s.firstAnnouncement(ctx, `status <> 'ignored'`, kind, version, rc)
}

// ClaimingAnnouncement returns the announcement of kind for version and rc
// that claimed the candidate (see ClaimAnnouncement); found is false when
// none did. A mail recognised as an announcement of that candidate is a
// repeat of it.
func (s *Store) ClaimingAnnouncement(ctx context.Context, kind, version string, rc int) (a Announcement, found bool, err error) {
	return s.firstAnnouncement(ctx, `claimed = 1`, kind, version, rc)
}

func (s *Store) firstAnnouncement(ctx context.Context, cond, kind, version string, rc int) (a Announcement, found bool, err error) {
	a, err = scanAnnouncement(s.db.QueryRowContext(ctx, `SELECT `+announcementCols+` FROM announcements
		WHERE kind = ? AND version = ? AND rc = ? AND `+cond+` ORDER BY id LIMIT 1`, kind, version, rc))
	if errors.Is(err, sql.ErrNoRows) {
		return Announcement{}, false, nil
	}
	if err != nil {
		return Announcement{}, false, fmt.Errorf("state: announcement of %s %s-rc%d: %w", kind, version, rc, err)
	}
	return a, true, nil
}
