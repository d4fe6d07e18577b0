package state

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Resolution is a remembered conflict resolution (see merger.Resolution):
// how a maintainer resolved the conflicts of one patch in one file, keyed
// by the conflicts' content.
type Resolution struct {
	Key        string // the conflict's content key; unique
	PatchID    string // the patch's identity (merger.PatchID)
	Path       string // the file, as the patch names it
	Preimage   string // the conflicted file, with conflict markers
	Postimage  string // the file as resolved
	Source     string // where it came from, for reports
	RecordedAt time.Time
	Used       int       // times a run applied it
	LastUsed   time.Time // zero when never used
}

const resolutionCols = `key, patch_id, path, preimage, postimage, source, recorded_at, used, last_used`

func scanResolution(sc scanner) (Resolution, error) {
	var r Resolution
	var recorded string
	var last sql.NullString
	if err := sc.Scan(&r.Key, &r.PatchID, &r.Path, &r.Preimage, &r.Postimage, &r.Source, &recorded, &r.Used, &last); err != nil {
		return Resolution{}, err
	}
	var err error
	if r.RecordedAt, err = parseTime("recorded_at", recorded); err != nil {
		return Resolution{}, err
	}
	if r.LastUsed, err = parseNullTime("last_used", last); err != nil {
		return Resolution{}, err
	}
	return r, nil
}

// SaveResolution records r. A resolution with the same key is replaced
// (the newer fix of the same conflict wins) and replaced says so;
// recording the same resolution again changes nothing.
func (s *Store) SaveResolution(ctx context.Context, r Resolution) (replaced bool, err error) {
	if len(r.Key) != 64 || len(r.PatchID) != 64 || r.Path == "" || r.Source == "" {
		return false, fmt.Errorf("state: save resolution of %s: key, patch id, path and source are required", r.Path)
	}
	if r.RecordedAt.IsZero() {
		r.RecordedAt = s.now()
	}
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		old, err := scanResolution(tx.QueryRowContext(ctx, `SELECT `+resolutionCols+` FROM resolutions WHERE key = ?`, r.Key))
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return err
		case old.Postimage == r.Postimage && old.Preimage == r.Preimage:
			return nil
		default:
			replaced = true
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO resolutions (key, patch_id, path, preimage, postimage, source, recorded_at)
			VALUES (?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (key) DO UPDATE SET patch_id = excluded.patch_id, path = excluded.path, preimage = excluded.preimage,
				postimage = excluded.postimage, source = excluded.source, recorded_at = excluded.recorded_at`,
			r.Key, r.PatchID, r.Path, r.Preimage, r.Postimage, r.Source, formatTime(r.RecordedAt))
		return err
	})
	if err != nil {
		return false, fmt.Errorf("state: save resolution of %s: %w", r.Path, err)
	}
	return replaced, nil
}

// Resolutions returns the resolutions recorded for a patch and file, or
// every resolution when patchID and path are both empty, oldest first.
func (s *Store) Resolutions(ctx context.Context, patchID, path string) ([]Resolution, error) {
	q := `SELECT ` + resolutionCols + ` FROM resolutions`
	var args []any
	if patchID != "" || path != "" {
		q += ` WHERE patch_id = ? AND path = ?`
		args = append(args, patchID, path)
	}
	rows, err := s.db.QueryContext(ctx, q+` ORDER BY recorded_at, key`, args...)
	if err != nil {
		return nil, fmt.Errorf("state: resolutions: %w", err)
	}
	defer rows.Close()
	var out []Resolution
	for rows.Next() {
		r, err := scanResolution(rows)
		if err != nil {
			return nil, fmt.Errorf("state: resolutions: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("state: resolutions: %w", err)
	}
	return out, nil
}

// ResolutionUsed counts one more use of the resolution with key.
func (s *Store) ResolutionUsed(ctx context.Context, key string) error {
	res, err := s.db.ExecContext(ctx, `UPDATE resolutions SET used = used + 1, last_used = ? WHERE key = ?`, formatTime(s.now()), key)
	if err == nil {
		var n int64
		if n, err = res.RowsAffected(); err == nil && n == 0 {
			err = ErrNotFound
		}
	}
	if err != nil {
		return fmt.Errorf("state: resolution %.12s used: %w", key, err)
	}
	return nil
}
