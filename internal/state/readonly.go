package state

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"modernc.org/sqlite"
)

// sqliteReadOnly is SQLite's primary result code SQLITE_READONLY, which its
// extended codes (READONLY_DIRECTORY: no -shm file can be made beside the
// database, READONLY_CANTINIT, ...) carry in their low byte.
const sqliteReadOnly = 8

// OpenReadOnly opens the existing state file at path for reading only:
// `rtbot status` and `rtbot history`, run by anyone who may read the file,
// the bot's own user or not, while rtbot runs or not. Nothing is created,
// migrated or written: SQLite opens the file read-only and every
// connection is query_only, so a method that writes fails rather than
// touches the file. A file whose schema is older than this binary's (an
// rtbot upgraded but not run since) is an error saying so, as is one that
// is newer or not rtbot's.
//
// A database in WAL mode is read through its -shm file, which the first
// reader creates beside it; a user who may not write the directory
// cannot. When no -wal file is there either (no rtbot has the file open:
// the last one to close it folded the log into the file), the file alone
// is the whole state, and it is read as SQLite's immutable file instead.
func OpenReadOnly(ctx context.Context, path string) (*Store, error) {
	if err := checkPath(path); err != nil {
		return nil, err
	}
	if err := checkExisting(path); err != nil {
		return nil, fmt.Errorf("state: open %s: %w", path, err)
	}
	s, err := openReadOnly(ctx, path, false)
	var serr *sqlite.Error
	if errors.As(err, &serr) && serr.Code()&0xff == sqliteReadOnly && !exists(path+"-wal") {
		s, err = openReadOnly(ctx, path, true)
	}
	if err != nil {
		return nil, fmt.Errorf("state: open %s read-only: %w", path, err)
	}
	return s, nil
}

// checkPath refuses what Open and OpenReadOnly take for no file name.
func checkPath(path string) error {
	switch {
	case path == "":
		return errors.New("state: open: empty path")
	case path == ":memory:" || strings.HasPrefix(path, "file:"):
		return fmt.Errorf("state: open %q: want a file name, not an SQLite URI or in-memory database", path)
	case strings.ContainsRune(path, '?'):
		return fmt.Errorf("state: open %q: the path may not contain '?'", path)
	}
	return nil
}

// checkExisting checks that the file at path is there, a regular
// non-empty file, and an SQLite database.
func checkExisting(path string) error {
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("no state file (rtbot run has not run yet): %w", err)
	case err != nil:
		return err
	case !fi.Mode().IsRegular():
		return fmt.Errorf("state file %s is not a regular file", path)
	case fi.Size() == 0:
		return fmt.Errorf("state file %s is empty (0 bytes), so it holds no rtbot state", path)
	}
	return checkHeader(path)
}

// openReadOnly opens the database at path read-only (immutable: as a file
// nothing changes) and checks its schema is this binary's.
func openReadOnly(ctx context.Context, path string, immutable bool) (*Store, error) {
	q := url.Values{}
	q.Set("mode", "ro")
	if immutable {
		q.Set("immutable", "1")
	}
	q.Add("_pragma", "query_only(1)")
	q.Add("_pragma", "busy_timeout("+strconv.FormatInt(BusyTimeout.Milliseconds(), 10)+")")
	u := url.URL{Scheme: "file", OmitHost: true, Path: path, RawQuery: q.Encode()}
	db, err := sql.Open("sqlite", u.String())
	if err != nil {
		return nil, err
	}
	s := &Store{db: db, path: path, now: time.Now}
	if err := s.checkReadOnlyVersion(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// checkReadOnlyVersion checks, without migrating, that the file has
// rtbot's schema at this binary's version.
func (s *Store) checkReadOnlyVersion(ctx context.Context) error {
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'`).
		Scan(&n); err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("state file %s is an SQLite database without rtbot's schema_migrations table, so not an rtbot state file: "+
			"point bot.state at rtbot's", s.path)
	}
	v, rows, err := schemaVersion(ctx, s.db)
	if err != nil {
		return err
	}
	latest := LatestSchemaVersion()
	if v < latest {
		return fmt.Errorf("state file %s has schema version %d, older than this rtbot's %d: it is migrated by the next "+
			"`rtbot run` or `rtbot watch` (as the bot's user); status and history only read it", s.path, v, latest)
	}
	return s.checkVersion(v, rows, latest)
}

// exists reports whether something is at path.
func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}
