package state

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// BusyTimeout is how long a write waits for another writer (another Store,
// or another rtbot process, on the same file) before failing with
// SQLITE_BUSY.
const BusyTimeout = 15 * time.Second

// Store is an open state file. It is safe for concurrent use by multiple
// goroutines, and several Stores (in one or several processes) may have the
// same file open.
type Store struct {
	db   *sql.DB
	path string
	// now is the clock; tests replace it.
	now func() time.Time
}

// Open opens the state file at path, creating it if it does not exist, and
// applies the schema migrations it lacks. It fails if the file's schema is
// newer than this binary knows, and for a file that is not an rtbot state
// file (see the package documentation, "Creating the file"): never does it
// start afresh over one. path is a file name, not a URI; it may not contain
// '?', and ":memory:" is refused (every pooled connection would see its own
// empty database).
func Open(ctx context.Context, path string) (*Store, error) {
	if err := checkPath(path); err != nil {
		return nil, err
	}
	if err := prepare(ctx, path); err != nil {
		return nil, fmt.Errorf("state: open %s: %w", path, err)
	}
	return open(ctx, path)
}

// open opens the database at path, creating an empty one there if needed,
// and migrates it.
func open(ctx context.Context, path string) (*Store, error) {
	q := url.Values{}
	q.Set("_busy_timeout", strconv.FormatInt(BusyTimeout.Milliseconds(), 10))
	q.Set("_foreign_keys", "1")
	q.Set("_journal_mode", "WAL")
	q.Set("_synchronous", "FULL")
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("state: open %s: %w", path, err)
	}
	s := &Store{db: db, path: path, now: time.Now}
	if err := s.checkPragmas(ctx, db); err != nil {
		db.Close()
		return nil, fmt.Errorf("state: open %s: %w", path, err)
	}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("state: open %s: %w", path, err)
	}
	return s, nil
}

// checkPragmas verifies that the connection settings took effect: SQLite
// ignores some silently (WAL is refused on file systems without shared
// memory, for instance), and rtbot should not run on weaker guarantees than
// it documents.
func (s *Store) checkPragmas(ctx context.Context, q querier) error {
	var journal string
	var fk, syncMode, busy int
	if err := q.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&journal); err != nil {
		return fmt.Errorf("read journal_mode: %w", err)
	}
	if err := q.QueryRowContext(ctx, `PRAGMA foreign_keys`).Scan(&fk); err != nil {
		return fmt.Errorf("read foreign_keys: %w", err)
	}
	if err := q.QueryRowContext(ctx, `PRAGMA synchronous`).Scan(&syncMode); err != nil {
		return fmt.Errorf("read synchronous: %w", err)
	}
	if err := q.QueryRowContext(ctx, `PRAGMA busy_timeout`).Scan(&busy); err != nil {
		return fmt.Errorf("read busy_timeout: %w", err)
	}
	switch {
	case !strings.EqualFold(journal, "wal"):
		return fmt.Errorf("journal_mode is %q, not wal (is the file on a network file system?)", journal)
	case fk != 1:
		return fmt.Errorf("foreign_keys is %d, not 1", fk)
	case syncMode != 2:
		return fmt.Errorf("synchronous is %d, not 2 (FULL)", syncMode)
	case int64(busy) != BusyTimeout.Milliseconds():
		return fmt.Errorf("busy_timeout is %d ms, not %d", busy, BusyTimeout.Milliseconds())
	}
	return nil
}

// Close closes the file. Nothing is lost by not calling it: every method
// commits before it returns.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("state: close %s: %w", s.path, err)
	}
	return nil
}

// Path returns the file name the Store was opened with.
func (s *Store) Path() string { return s.path }

// SchemaVersion returns the schema version of the file.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	v, _, err := schemaVersion(ctx, s.db)
	if err != nil {
		return 0, fmt.Errorf("state: %w", err)
	}
	return v, nil
}

// LatestSchemaVersion is the newest schema version this binary knows.
func LatestSchemaVersion() int { return len(migrations()) }

// inTx runs fn in an IMMEDIATE write transaction and commits it, or rolls it
// back if fn or the commit fails.
func (s *Store) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// readTx runs fn in a read-only (deferred) transaction, so that what it
// reads in several queries is one consistent snapshot.
func (s *Store) readTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()
	return fn(tx)
}

// timeLayout has a fixed width so that stored times sort as strings.
const timeLayout = "2006-01-02T15:04:05.000000000Z07:00"

func formatTime(t time.Time) string { return t.UTC().Format(timeLayout) }

// nullTime stores the zero time as NULL.
func nullTime(t time.Time) sql.NullString {
	if t.IsZero() {
		return sql.NullString{}
	}
	return sql.NullString{String: formatTime(t), Valid: true}
}

func parseTime(col, v string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("column %s: bad time %q: %w", col, v, err)
	}
	return t, nil
}

func parseNullTime(col string, v sql.NullString) (time.Time, error) {
	if !v.Valid {
		return time.Time{}, nil
	}
	return parseTime(col, v.String)
}

// scanner is a *sql.Row or *sql.Rows.
type scanner interface {
	Scan(dest ...any) error
}
