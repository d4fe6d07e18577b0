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
)

// AnnouncementStatuses returns every status, in processing order.
func AnnouncementStatuses() []AnnouncementStatus {
	return []AnnouncementStatus{AnnouncementNew, AnnouncementProcessing, AnnouncementDone, AnnouncementIgnored}
}

func (st AnnouncementStatus) valid() bool {
	switch st {
	case AnnouncementNew, AnnouncementProcessing, AnnouncementDone, AnnouncementIgnored:
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
	Reason    string // why it was ignored
	// Attempts counts the failed attempts at processing it; LastError and
	// LastAttempt describe the latest (see AnnouncementFailed).
	Attempts    int
	LastError   string
	LastAttempt time.Time
}

const announcementCols = `id, message_id, kind, series, version, rc, git_url, git_branch, patch_url,
	from_addr, subject, deadline, first_seen, updated_at, status, reason, attempts, last_error, last_attempt`

func scanAnnouncement(sc scanner) (Announcement, error) {
	var a Announcement
	var deadline, lastAttempt sql.NullString
	var first, updated, status string
	err := sc.Scan(&a.ID, &a.MessageID, &a.Kind, &a.Series, &a.Version, &a.RC, &a.GitURL, &a.GitBranch,
		&a.PatchURL, &a.From, &a.Subject, &deadline, &first, &updated, &status, &a.Reason,
		&a.Attempts, &a.LastError, &lastAttempt)
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
// AnnouncementIgnored (to record a rejected mail in one step) needs a Reason.
//
// If an announcement with the same MessageID is already recorded (the same
// mail delivered twice, or seen again after a UIDVALIDITY change), nothing is
// written: the stored row is returned, unchanged, with duplicate set.
func (s *Store) RecordAnnouncement(ctx context.Context, a Announcement) (rec Announcement, duplicate bool, err error) {
	if a.MessageID == "" {
		return Announcement{}, false, errors.New("state: record announcement: empty Message-ID")
	}
	if a.Kind == "" {
		return Announcement{}, false, fmt.Errorf("state: record announcement <%s>: empty kind", a.MessageID)
	}
	if a.Status == "" {
		a.Status = AnnouncementNew
	}
	if !a.Status.valid() {
		return Announcement{}, false, fmt.Errorf("state: record announcement <%s>: unknown status %q", a.MessageID, a.Status)
	}
	if a.Status == AnnouncementIgnored && strings.TrimSpace(a.Reason) == "" {
		return Announcement{}, false, fmt.Errorf("state: record announcement <%s>: ignored without a reason", a.MessageID)
	}
	now := formatTime(s.now())
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO announcements
			(message_id, kind, series, version, rc, git_url, git_branch, patch_url, from_addr, subject,
			 deadline, first_seen, updated_at, status, reason)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (message_id) DO NOTHING`,
			a.MessageID, a.Kind, a.Series, a.Version, a.RC, a.GitURL, a.GitBranch, a.PatchURL, a.From, a.Subject,
			nullTime(a.Deadline), now, now, string(a.Status), a.Reason)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		duplicate = n == 0
		rec, err = scanAnnouncement(tx.QueryRowContext(ctx,
			`SELECT `+announcementCols+` FROM announcements WHERE message_id = ?`, a.MessageID))
		return err
	})
	if err != nil {
		return Announcement{}, false, fmt.Errorf("state: record announcement <%s>: %w", a.MessageID, err)
	}
	return rec, duplicate, nil
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
	// Limit caps the number returned; 0 means no limit.
	Limit int
}

// Announcements lists announcements oldest first (in the order they were
// recorded), so a rerun picks up new and interrupted ones in arrival order.
func (s *Store) Announcements(ctx context.Context, f AnnouncementFilter) ([]Announcement, error) {
	q := `SELECT ` + announcementCols + ` FROM announcements`
	var args []any
	if len(f.Status) > 0 {
		q += ` WHERE status IN (?` + strings.Repeat(`, ?`, len(f.Status)-1) + `)`
		for _, st := range f.Status {
			args = append(args, string(st))
		}
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

// SetAnnouncementStatus moves the announcement to status (new, processing or
// done; use IgnoreAnnouncement to ignore one, which needs a reason). The
// error wraps [ErrNotFound] if the Message-ID is unknown.
func (s *Store) SetAnnouncementStatus(ctx context.Context, messageID string, status AnnouncementStatus) error {
	if !status.valid() {
		return fmt.Errorf("state: announcement <%s>: unknown status %q", messageID, status)
	}
	if status == AnnouncementIgnored {
		return fmt.Errorf("state: announcement <%s>: use IgnoreAnnouncement to record why it is ignored", messageID)
	}
	return s.setAnnouncementStatus(ctx, messageID, status, "")
}

// IgnoreAnnouncement marks the announcement ignored, recording why (for
// example "sender not configured"), so that `rtbot status` can say so and a
// rerun does not pick it up. The error wraps [ErrNotFound] if the Message-ID
// is unknown.
func (s *Store) IgnoreAnnouncement(ctx context.Context, messageID, reason string) error {
	if strings.TrimSpace(reason) == "" {
		return fmt.Errorf("state: ignore announcement <%s>: empty reason", messageID)
	}
	return s.setAnnouncementStatus(ctx, messageID, AnnouncementIgnored, reason)
}

func (s *Store) setAnnouncementStatus(ctx context.Context, messageID string, status AnnouncementStatus, reason string) error {
	res, err := s.db.ExecContext(ctx, `UPDATE announcements SET status = ?, reason = ?, updated_at = ? WHERE message_id = ?`,
		string(status), reason, formatTime(s.now()), messageID)
	if err == nil {
		var n int64
		if n, err = res.RowsAffected(); err == nil && n == 0 {
			err = ErrNotFound
		}
	}
	if err != nil {
		return fmt.Errorf("state: set announcement <%s> %s: %w", messageID, status, err)
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
		var n int64
		if n, err = res.RowsAffected(); err == nil && n == 0 {
			err = ErrNotFound
		}
	}
	if err != nil {
		return fmt.Errorf("state: announcement <%s> failed: %w", messageID, err)
	}
	return nil
}

// FirstAnnouncement returns the earliest recorded announcement of kind for
// version and rc that was not ignored; found is false when there is none.
// rtbot uses it to recognise a second announcement of the same candidate.
func (s *Store) FirstAnnouncement(ctx context.Context, kind, version string, rc int) (a Announcement, found bool, err error) {
	a, err = scanAnnouncement(s.db.QueryRowContext(ctx, `SELECT `+announcementCols+` FROM announcements
		WHERE kind = ? AND version = ? AND rc = ? AND status <> 'ignored' ORDER BY id LIMIT 1`, kind, version, rc))
	if errors.Is(err, sql.ErrNoRows) {
		return Announcement{}, false, nil
	}
	if err != nil {
		return Announcement{}, false, fmt.Errorf("state: first announcement of %s %s-rc%d: %w", kind, version, rc, err)
	}
	return a, true, nil
}
