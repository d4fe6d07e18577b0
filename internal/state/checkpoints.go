package state

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Checkpoint is how far one mailbox on one IMAP server has been scanned
// (mailwatch.Checkpoint, plus where it belongs).
type Checkpoint struct {
	Server      string // as configured, e.g. "imap.example.org:993"
	Mailbox     string // e.g. "INBOX" or "lists/stable"
	UIDValidity uint32 // of the mailbox when LastUID was seen; 0: never scanned
	LastUID     uint32 // every message up to this UID has been considered
	UpdatedAt   time.Time
}

// Checkpoint returns the checkpoint of (server, mailbox). A mailbox never
// saved yields a Checkpoint with zero UIDValidity, LastUID and UpdatedAt,
// which mailwatch takes as "scan everything".
func (s *Store) Checkpoint(ctx context.Context, server, mailbox string) (Checkpoint, error) {
	cp, err := scanCheckpoint(s.db.QueryRowContext(ctx, `SELECT server, mailbox, uidvalidity, last_uid, updated_at
		FROM mailbox_checkpoints WHERE server = ? AND mailbox = ?`, server, mailbox))
	if errors.Is(err, sql.ErrNoRows) {
		return Checkpoint{Server: server, Mailbox: mailbox}, nil
	}
	if err != nil {
		return Checkpoint{}, fmt.Errorf("state: checkpoint %s %s: %w", server, mailbox, err)
	}
	return cp, nil
}

// SaveCheckpoint records cp for (cp.Server, cp.Mailbox), replacing the
// previous one; UpdatedAt is set to now. Save it only once the messages up to
// LastUID are recorded (as announcements, or not at all if they are not
// ones), so a crash can only make rtbot look at a mail again, never skip one.
func (s *Store) SaveCheckpoint(ctx context.Context, cp Checkpoint) error {
	if cp.Server == "" || cp.Mailbox == "" {
		return fmt.Errorf("state: save checkpoint: empty server (%q) or mailbox (%q)", cp.Server, cp.Mailbox)
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO mailbox_checkpoints (server, mailbox, uidvalidity, last_uid, updated_at)
		VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (server, mailbox) DO UPDATE SET
			uidvalidity = excluded.uidvalidity, last_uid = excluded.last_uid, updated_at = excluded.updated_at`,
		cp.Server, cp.Mailbox, int64(cp.UIDValidity), int64(cp.LastUID), formatTime(s.now()))
	if err != nil {
		return fmt.Errorf("state: save checkpoint %s %s: %w", cp.Server, cp.Mailbox, err)
	}
	return nil
}

// Checkpoints returns every saved checkpoint, ordered by server and mailbox.
func (s *Store) Checkpoints(ctx context.Context) ([]Checkpoint, error) {
	return checkpoints(ctx, s.db)
}

func checkpoints(ctx context.Context, q querier) ([]Checkpoint, error) {
	rows, err := q.QueryContext(ctx, `SELECT server, mailbox, uidvalidity, last_uid, updated_at
		FROM mailbox_checkpoints ORDER BY server, mailbox`)
	if err != nil {
		return nil, fmt.Errorf("state: checkpoints: %w", err)
	}
	defer rows.Close()
	var out []Checkpoint
	for rows.Next() {
		cp, err := scanCheckpoint(rows)
		if err != nil {
			return nil, fmt.Errorf("state: checkpoints: %w", err)
		}
		out = append(out, cp)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("state: checkpoints: %w", err)
	}
	return out, nil
}

func scanCheckpoint(sc scanner) (Checkpoint, error) {
	var cp Checkpoint
	var validity, last int64
	var updated string
	if err := sc.Scan(&cp.Server, &cp.Mailbox, &validity, &last, &updated); err != nil {
		return Checkpoint{}, err
	}
	cp.UIDValidity, cp.LastUID = uint32(validity), uint32(last)
	var err error
	cp.UpdatedAt, err = parseTime("updated_at", updated)
	return cp, err
}
