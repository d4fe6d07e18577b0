package state

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// schemaV8 keeps the checkpoints of the mail sources that are not an IMAP
// mailbox (mailwatch's Maildir and public-inbox sources). The position is
// the source's own JSON document (an epoch and a commit, a bounded set of
// file names): the state stores it whole, as the source gave it, and
// gives it back; only mailwatch reads it.
const schemaV8 = `
CREATE TABLE source_checkpoints (
	kind       TEXT NOT NULL CHECK (kind <> ''),
	source     TEXT NOT NULL CHECK (source <> ''),
	position   TEXT NOT NULL,
	updated_at TEXT NOT NULL,
	PRIMARY KEY (kind, source)
);
`

// SourceCheckpoint is how far one mail source (not an IMAP mailbox, which
// has Checkpoint) has been read.
type SourceCheckpoint struct {
	Kind     string // "maildir", "public-inbox"
	Source   string // the configured path or URL
	Position []byte // the source's JSON; nil: never read
	// UpdatedAt is when Position was saved; zero when never.
	UpdatedAt time.Time
}

// SourceCheckpoint returns the checkpoint of the source (kind, source); one
// never saved has a nil Position.
func (s *Store) SourceCheckpoint(ctx context.Context, kind, source string) (SourceCheckpoint, error) {
	cp := SourceCheckpoint{Kind: kind, Source: source}
	var pos, updated string
	err := s.db.QueryRowContext(ctx, `SELECT position, updated_at FROM source_checkpoints WHERE kind = ? AND source = ?`,
		kind, source).Scan(&pos, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return cp, nil
	}
	if err != nil {
		return SourceCheckpoint{}, fmt.Errorf("state: checkpoint of %s source %s: %w", kind, source, err)
	}
	cp.Position = []byte(pos)
	cp.UpdatedAt, err = parseTime("updated_at", updated)
	return cp, err
}

// SaveSourceCheckpoint records cp, replacing the previous one of its
// source. As with SaveCheckpoint, save it only once the mail read up to it
// is recorded.
func (s *Store) SaveSourceCheckpoint(ctx context.Context, cp SourceCheckpoint) error {
	if cp.Kind == "" || cp.Source == "" || len(cp.Position) == 0 {
		return fmt.Errorf("state: save source checkpoint: empty kind (%q), source (%q) or position", cp.Kind, cp.Source)
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO source_checkpoints (kind, source, position, updated_at)
		VALUES (?, ?, ?, ?)
		ON CONFLICT (kind, source) DO UPDATE SET position = excluded.position, updated_at = excluded.updated_at`,
		cp.Kind, cp.Source, string(cp.Position), formatTime(s.now()))
	if err != nil {
		return fmt.Errorf("state: save checkpoint of %s source %s: %w", cp.Kind, cp.Source, err)
	}
	return nil
}

func sourceCheckpoints(ctx context.Context, q querier) ([]SourceCheckpoint, error) {
	rows, err := q.QueryContext(ctx, `SELECT kind, source, position, updated_at FROM source_checkpoints ORDER BY kind, source`)
	if err != nil {
		return nil, fmt.Errorf("state: source checkpoints: %w", err)
	}
	defer rows.Close()
	var out []SourceCheckpoint
	for rows.Next() {
		var cp SourceCheckpoint
		var pos, updated string
		if err := rows.Scan(&cp.Kind, &cp.Source, &pos, &updated); err != nil {
			return nil, fmt.Errorf("state: source checkpoints: %w", err)
		}
		cp.Position = []byte(pos)
		if cp.UpdatedAt, err = parseTime("updated_at", updated); err != nil {
			return nil, err
		}
		out = append(out, cp)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("state: source checkpoints: %w", err)
	}
	return out, nil
}
