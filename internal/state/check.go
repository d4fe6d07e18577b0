package state

import (
	"context"
	"database/sql"
	"fmt"
)

// Check verifies the state file: SQLite's own integrity and foreign-key
// checks, then rtbot's invariants, which a crash at any point must leave
// true. It returns one line per problem found; none means the file is
// consistent. The error is for a file that could not be read at all.
//
// The invariants:
//   - a finished run has no action left intended;
//   - a done or failed announcement has no unfinished run;
//   - a failed announcement has a run that ended in error (whose error
//     report the ledger holds);
//   - no two stable-rc announcements claim the same candidate;
//   - a run's patch results are numbered 1..n without gaps.
func (s *Store) Check(ctx context.Context) ([]string, error) {
	var problems []string
	err := s.readTx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `PRAGMA integrity_check`)
		if err != nil {
			return err
		}
		for rows.Next() {
			var msg string
			if err := rows.Scan(&msg); err != nil {
				rows.Close()
				return err
			}
			if msg != "ok" {
				problems = append(problems, "integrity: "+msg)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		fk, err := tx.QueryContext(ctx, `PRAGMA foreign_key_check`)
		if err != nil {
			return err
		}
		for fk.Next() {
			var table, parent string
			var rowid sql.NullInt64
			var idx int
			if err := fk.Scan(&table, &rowid, &parent, &idx); err != nil {
				fk.Close()
				return err
			}
			problems = append(problems, fmt.Sprintf("foreign key: %s row %d refers to a missing %s", table, rowid.Int64, parent))
		}
		fk.Close()
		if err := fk.Err(); err != nil {
			return err
		}
		for _, inv := range []struct{ what, query string }{
			{"finished run with an action still intended", `SELECT 'run ' || r.id || ', ' || a.kind || ' ' || a.key
				FROM runs r JOIN actions a ON a.run_id = r.id WHERE r.outcome <> '' AND a.state = 'intended'`},
			{"done or failed announcement with an unfinished run", `SELECT '<' || an.message_id || '> ' || an.status || ', run ' || r.id
				FROM announcements an JOIN runs r ON r.announcement = an.message_id
				WHERE an.status IN ('done', 'failed') AND r.outcome = ''`},
			{"failed announcement without an error run", `SELECT '<' || an.message_id || '>' FROM announcements an
				WHERE an.status = 'failed' AND NOT EXISTS (SELECT 1 FROM runs r WHERE r.announcement = an.message_id AND r.outcome = 'error')`},
			{"candidate claimed by more than one announcement", `SELECT version || '-rc' || rc || ': ' || group_concat('<' || message_id || '>', ', ')
				FROM announcements WHERE kind = 'stable-rc' AND claimed = 1 GROUP BY version, rc HAVING COUNT(*) > 1`},
			{"patch results not numbered 1..n", `SELECT 'run ' || run_id FROM patch_results
				GROUP BY run_id HAVING MIN(idx) <> 1 OR MAX(idx) <> COUNT(*)`},
		} {
			r, err := tx.QueryContext(ctx, inv.query)
			if err != nil {
				return fmt.Errorf("%s: %w", inv.what, err)
			}
			for r.Next() {
				var where string
				if err := r.Scan(&where); err != nil {
					r.Close()
					return err
				}
				problems = append(problems, inv.what+": "+where)
			}
			r.Close()
			if err := r.Err(); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("state: check %s: %w", s.path, err)
	}
	return problems, nil
}
