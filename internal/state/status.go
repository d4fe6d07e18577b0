package state

import (
	"context"
	"database/sql"
	"fmt"
)

// Status is the summary `rtbot status` shows.
type Status struct {
	SchemaVersion int
	// Checkpoints holds the checkpoint of every mailbox, by server and mailbox.
	Checkpoints []Checkpoint
	// SourceCheckpoints holds the checkpoint of every Maildir and
	// public-inbox source, by kind and source.
	SourceCheckpoints []SourceCheckpoint
	// Pending holds the actions not done (see Store.Pending).
	Pending []Action
	// LastRuns holds the newest run of each tree, by tree name.
	LastRuns []Run
	// Announcements counts announcements by status; every status is present.
	Announcements map[AnnouncementStatus]int
	// Waiting holds the announcements not yet done (new, processing or
	// waiting for their candidate), oldest first, with their failed
	// attempts and last error.
	Waiting []Announcement
	// Failed holds the announcements that failed for good, oldest first.
	Failed []Announcement
}

// Status summarises the state file, read as one snapshot.
func (s *Store) Status(ctx context.Context) (Status, error) {
	var st Status
	err := s.readTx(ctx, func(tx *sql.Tx) error {
		var err error
		if st.SchemaVersion, _, err = schemaVersion(ctx, tx); err != nil {
			return err
		}
		if st.Checkpoints, err = checkpoints(ctx, tx); err != nil {
			return err
		}
		if st.SchemaVersion >= 7 { // a read-only look at an older file has no such table
			if st.SourceCheckpoints, err = sourceCheckpoints(ctx, tx); err != nil {
				return err
			}
		}
		if st.Pending, err = pending(ctx, tx); err != nil {
			return fmt.Errorf("pending actions: %w", err)
		}
		if st.LastRuns, err = queryRuns(ctx, tx, `SELECT `+runCols+` FROM runs AS r
			WHERE r.id = (SELECT id FROM runs WHERE tree = r.tree ORDER BY started_at DESC, id DESC LIMIT 1)
			ORDER BY tree`); err != nil {
			return fmt.Errorf("last runs: %w", err)
		}
		if st.Waiting, err = queryAnnouncements(ctx, tx, `SELECT `+announcementCols+` FROM announcements
			WHERE status IN ('new', 'processing', 'waiting') ORDER BY id`); err != nil {
			return fmt.Errorf("waiting announcements: %w", err)
		}
		if st.Failed, err = queryAnnouncements(ctx, tx, `SELECT `+announcementCols+` FROM announcements
			WHERE status = 'failed' ORDER BY id`); err != nil {
			return fmt.Errorf("failed announcements: %w", err)
		}
		st.Announcements = make(map[AnnouncementStatus]int)
		for _, s := range AnnouncementStatuses() {
			st.Announcements[s] = 0
		}
		rows, err := tx.QueryContext(ctx, `SELECT status, COUNT(*) FROM announcements GROUP BY status`)
		if err != nil {
			return fmt.Errorf("announcement counts: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var status string
			var n int
			if err := rows.Scan(&status, &n); err != nil {
				return fmt.Errorf("announcement counts: %w", err)
			}
			st.Announcements[AnnouncementStatus(status)] = n
		}
		return rows.Err()
	})
	if err != nil {
		return Status{}, fmt.Errorf("state: status: %w", err)
	}
	return st, nil
}
