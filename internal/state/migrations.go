package state

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
)

// migration is one step of the schema. Migrations are applied in order, each
// in its own transaction; a released migration is never edited, only
// followed by a new one.
type migration struct {
	version int
	name    string
	sql     string
	// rebuild says the step rebuilds a table other tables refer to (to
	// change a CHECK constraint, which SQLite cannot alter): it runs with
	// foreign keys off, and the foreign keys are checked before it
	// commits, as SQLite's documentation prescribes.
	rebuild bool
}

// migrations returns the schema history, oldest first. Versions are 1, 2, ...
// without gaps.
func migrations() []migration {
	return []migration{
		{version: 1, name: "announcements, checkpoints, runs, patch results, actions", sql: schemaV1},
		{version: 2, name: "actions: committing mark", sql: schemaV2},
		{version: 3, name: "announcements: failed attempts", sql: schemaV3},
		{version: 4, name: "remembered conflict resolutions", sql: schemaV4},
		{version: 5, name: "announcements: waiting, failed, claims, re-evaluation, one tree, thread", sql: schemaV5, rebuild: true},
		{version: 6, name: "preflight problems mailed", sql: schemaV6},
		{version: 7, name: "test results, checkouts, follow-ups", sql: schemaV7},
		{version: 8, name: "source checkpoints (maildir, public-inbox)", sql: schemaV8},
	}
}

// Times are TEXT in UTC with a fixed number of fractional digits (see
// timeLayout), so they sort as strings and read well in the sqlite3 shell.
// Empty strings, not NULL, stand for "not set" in text columns, except where
// NULL means something (finished_at, deadline, caused_by).
const schemaV1 = `
CREATE TABLE announcements (
	id          INTEGER PRIMARY KEY,
	message_id  TEXT NOT NULL UNIQUE CHECK (message_id <> ''),
	kind        TEXT NOT NULL CHECK (kind <> ''),
	series      TEXT NOT NULL DEFAULT '',
	version     TEXT NOT NULL DEFAULT '',
	rc          INTEGER NOT NULL DEFAULT 0,
	git_url     TEXT NOT NULL DEFAULT '',
	git_branch  TEXT NOT NULL DEFAULT '',
	patch_url   TEXT NOT NULL DEFAULT '',
	from_addr   TEXT NOT NULL DEFAULT '',
	subject     TEXT NOT NULL DEFAULT '',
	deadline    TEXT,
	first_seen  TEXT NOT NULL,
	updated_at  TEXT NOT NULL,
	status      TEXT NOT NULL DEFAULT 'new'
	            CHECK (status IN ('new', 'processing', 'done', 'ignored')),
	reason      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX announcements_status ON announcements (status);

CREATE TABLE mailbox_checkpoints (
	server      TEXT NOT NULL,
	mailbox     TEXT NOT NULL,
	uidvalidity INTEGER NOT NULL CHECK (uidvalidity >= 0),
	last_uid    INTEGER NOT NULL CHECK (last_uid >= 0),
	updated_at  TEXT NOT NULL,
	PRIMARY KEY (server, mailbox)
);

CREATE TABLE runs (
	id            INTEGER PRIMARY KEY,
	announcement  TEXT NOT NULL REFERENCES announcements (message_id),
	tree          TEXT NOT NULL CHECK (tree <> ''),
	candidate     TEXT NOT NULL CHECK (candidate <> ''),
	queue_id      TEXT NOT NULL CHECK (queue_id <> ''),
	base          TEXT NOT NULL DEFAULT '',
	started_at    TEXT NOT NULL,
	finished_at   TEXT,
	attempts      INTEGER NOT NULL DEFAULT 1,
	outcome       TEXT NOT NULL DEFAULT ''
	              CHECK (outcome IN ('', 'clean', 'manual', 'error')),
	pushed_branch TEXT NOT NULL DEFAULT '',
	result_commit TEXT NOT NULL DEFAULT '',
	error         TEXT NOT NULL DEFAULT '',
	UNIQUE (announcement, tree, candidate, queue_id),
	CHECK ((finished_at IS NULL) = (outcome = ''))
);
CREATE INDEX runs_tree_started ON runs (tree, started_at);

CREATE TABLE patch_results (
	run_id     INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
	idx        INTEGER NOT NULL,
	name       TEXT NOT NULL,
	subject    TEXT NOT NULL DEFAULT '',
	status     TEXT NOT NULL,
	action     TEXT NOT NULL DEFAULT '',
	reason     TEXT NOT NULL DEFAULT '',
	caused_by  TEXT CHECK (caused_by IS NULL OR json_valid(caused_by)),
	blocked_by TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (run_id, idx)
);

CREATE TABLE actions (
	id         INTEGER PRIMARY KEY,
	run_id     INTEGER NOT NULL REFERENCES runs (id),
	kind       TEXT NOT NULL CHECK (kind IN ('push', 'mail', 'trigger')),
	key        TEXT NOT NULL CHECK (key <> ''),
	state      TEXT NOT NULL CHECK (state IN ('intended', 'done', 'failed')),
	attempts   INTEGER NOT NULL DEFAULT 1,
	last_error TEXT NOT NULL DEFAULT '',
	created_at TEXT NOT NULL,
	updated_at TEXT NOT NULL,
	UNIQUE (run_id, kind, key)
);
CREATE INDEX actions_state ON actions (state);
`

// schemaV2 adds the committing mark of an action: set just before the point
// of no return of a side effect that cannot be checked afterwards (the final
// "." of an SMTP transaction), so an interrupted action tells whether it may
// have happened (committing) or certainly did not (not committing).
const schemaV2 = `
ALTER TABLE actions ADD COLUMN committing INTEGER NOT NULL DEFAULT 0 CHECK (committing IN (0, 1));
`

// schemaV3 records the failed attempts at processing an announcement (a
// network outage, a full disk), so `rtbot status` can say why it waits.
const schemaV3 = `
ALTER TABLE announcements ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0);
ALTER TABLE announcements ADD COLUMN last_error TEXT NOT NULL DEFAULT '';
ALTER TABLE announcements ADD COLUMN last_attempt TEXT;
`

// schemaV4 remembers how maintainers resolved conflicts (see
// Store.SaveResolution), keyed by the conflict's content.
const schemaV4 = `
CREATE TABLE resolutions (
	key         TEXT PRIMARY KEY CHECK (length(key) = 64),
	patch_id    TEXT NOT NULL CHECK (length(patch_id) = 64),
	path        TEXT NOT NULL CHECK (path <> ''),
	preimage    TEXT NOT NULL,
	postimage   TEXT NOT NULL,
	source      TEXT NOT NULL CHECK (source <> ''),
	recorded_at TEXT NOT NULL,
	used        INTEGER NOT NULL DEFAULT 0 CHECK (used >= 0),
	last_used   TEXT
);
CREATE INDEX resolutions_patch_path ON resolutions (patch_id, path);
`

// schemaV5 gives every announcement an outcome a human can see, and a way
// back from a verdict whose cause changed (see Announcement):
//   - the statuses waiting (the candidate's remote does not have the
//     announced version yet; wait_until is when rtbot gives up) and failed
//     (a permanent error; reason says which);
//   - config_hash: the configuration an ignored or failed verdict was made
//     under, so a pass looks at the mail again once it changed (empty for a
//     verdict no configuration changes);
//   - claimed: rtbot found the announced candidate and acts on this
//     announcement; another announcement of the same candidate is then a
//     repeat (only announcements that found their candidate claim it, so
//     a forgery for an rc that does not exist yet blocks nothing);
//   - tree: the one tree an announcement rtbot made itself is for (” for
//     every tree that accepts it); thread: the Message-ID its reports
//     thread under, when not its own.
//
// Announcements that ended in an error run under an earlier schema are
// failed (with the run's error); covers ignored for a reason the
// configuration decides are looked at again by the next pass
// (config_hash 'before-v5' matches no configuration).
const schemaV5 = `
CREATE TABLE announcements_v5 (
	id           INTEGER PRIMARY KEY,
	message_id   TEXT NOT NULL UNIQUE CHECK (message_id <> ''),
	kind         TEXT NOT NULL CHECK (kind <> ''),
	series       TEXT NOT NULL DEFAULT '',
	version      TEXT NOT NULL DEFAULT '',
	rc           INTEGER NOT NULL DEFAULT 0,
	git_url      TEXT NOT NULL DEFAULT '',
	git_branch   TEXT NOT NULL DEFAULT '',
	patch_url    TEXT NOT NULL DEFAULT '',
	from_addr    TEXT NOT NULL DEFAULT '',
	subject      TEXT NOT NULL DEFAULT '',
	deadline     TEXT,
	first_seen   TEXT NOT NULL,
	updated_at   TEXT NOT NULL,
	status       TEXT NOT NULL DEFAULT 'new'
	             CHECK (status IN ('new', 'processing', 'waiting', 'done', 'ignored', 'failed')),
	reason       TEXT NOT NULL DEFAULT '',
	attempts     INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
	last_error   TEXT NOT NULL DEFAULT '',
	last_attempt TEXT,
	wait_until   TEXT,
	config_hash  TEXT NOT NULL DEFAULT '',
	claimed      INTEGER NOT NULL DEFAULT 0 CHECK (claimed IN (0, 1)),
	tree         TEXT NOT NULL DEFAULT '',
	thread       TEXT NOT NULL DEFAULT '',
	retry        INTEGER NOT NULL DEFAULT 0 CHECK (retry IN (0, 1)),
	CHECK (status <> 'waiting' OR wait_until IS NOT NULL),
	CHECK (status NOT IN ('ignored', 'failed') OR reason <> '')
);
INSERT INTO announcements_v5 (id, message_id, kind, series, version, rc, git_url, git_branch, patch_url, from_addr,
	subject, deadline, first_seen, updated_at, status, reason, attempts, last_error, last_attempt, claimed)
SELECT id, message_id, kind, series, version, rc, git_url, git_branch, patch_url, from_addr,
	subject, deadline, first_seen, updated_at, status,
	CASE WHEN status = 'ignored' AND reason = '' THEN 'ignored' ELSE reason END,
	attempts, last_error, last_attempt, status IN ('processing', 'done')
FROM announcements;
DROP TABLE announcements;
ALTER TABLE announcements_v5 RENAME TO announcements;
CREATE INDEX announcements_status ON announcements (status);
CREATE INDEX announcements_candidate ON announcements (kind, version, rc);
UPDATE announcements SET status = 'failed',
	reason = (SELECT r.error FROM runs r WHERE r.announcement = announcements.message_id AND r.outcome = 'error'
		ORDER BY r.id DESC LIMIT 1)
WHERE status = 'done' AND EXISTS (SELECT 1 FROM runs r WHERE r.announcement = announcements.message_id AND r.outcome = 'error'
	AND NOT EXISTS (SELECT 1 FROM runs r2 WHERE r2.announcement = r.announcement AND r2.tree = r.tree AND r2.id > r.id
		AND r2.outcome IN ('clean', 'manual')));
UPDATE announcements SET config_hash = 'before-v5'
WHERE status = 'ignored' AND kind = 'stable-rc' AND (reason LIKE '%is not one of its senders%'
	OR reason LIKE '%not the configured candidate%' OR reason LIKE 'no [[tree]] follows series%');
`

// migrate brings the file up to the newest schema the binary knows. It is
// safe against a concurrent Open of the same file: each step rereads the
// version inside its IMMEDIATE transaction.
func (s *Store) migrate(ctx context.Context) error {
	if _, err := s.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		name       TEXT NOT NULL,
		applied_at TEXT NOT NULL
	)`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	ms := migrations()
	for i, m := range ms {
		if m.version != i+1 {
			// A programming error in migrations(); fail loudly rather than skip.
			return fmt.Errorf("migration list is broken: entry %d has version %d", i, m.version)
		}
		if err := s.applyMigration(ctx, m, len(ms)); err != nil {
			return err
		}
	}
	// A file already at or past the newest version never enters the step
	// above past its version check; check for a future schema here too.
	v, n, err := schemaVersion(ctx, s.db)
	if err != nil {
		return err
	}
	return s.checkVersion(v, n, len(ms))
}

// applyMigration applies m unless the file already has it. A rebuild
// runs on a connection of its own with foreign keys off (a pragma SQLite
// ignores inside a transaction), which it turns on again before the
// connection goes back to the pool.
func (s *Store) applyMigration(ctx context.Context, m migration, latest int) error {
	if !m.rebuild {
		return s.applyMigrationOn(ctx, s.db, m, latest)
	}
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("migration %d: %w", m.version, err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `PRAGMA foreign_keys = OFF`); err != nil {
		return fmt.Errorf("migration %d: foreign keys off: %w", m.version, err)
	}
	err = s.applyMigrationOn(ctx, conn, m, latest)
	if _, ferr := conn.ExecContext(context.WithoutCancel(ctx), `PRAGMA foreign_keys = ON`); ferr != nil {
		// Never hand the pool a connection without foreign keys.
		_ = conn.Raw(func(any) error { return driver.ErrBadConn })
		return errors.Join(err, fmt.Errorf("migration %d: foreign keys on: %w", m.version, ferr))
	}
	return err
}

// beginner is what *sql.DB and *sql.Conn have in common for migrations.
type beginner interface {
	BeginTx(ctx context.Context, opts *sql.TxOptions) (*sql.Tx, error)
}

// foreignKeysHold fails when a row refers to one that does not exist.
func foreignKeysHold(ctx context.Context, tx *sql.Tx) error {
	rows, err := tx.QueryContext(ctx, `PRAGMA foreign_key_check`)
	if err != nil {
		return err
	}
	defer rows.Close()
	if rows.Next() {
		var table, parent string
		var rowid sql.NullInt64
		var idx int
		if err := rows.Scan(&table, &rowid, &parent, &idx); err != nil {
			return err
		}
		return fmt.Errorf("foreign key: %s row %d refers to a missing %s", table, rowid.Int64, parent)
	}
	return rows.Err()
}

// applyMigrationOn applies m in a transaction of db.
func (s *Store) applyMigrationOn(ctx context.Context, db beginner, m migration, latest int) (err error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migration %d: begin: %w", m.version, err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	cur, n, err := schemaVersion(ctx, tx)
	if err != nil {
		return err
	}
	if err := s.checkVersion(cur, n, latest); err != nil {
		return err
	}
	if cur >= m.version {
		return tx.Rollback()
	}
	if cur != m.version-1 {
		return fmt.Errorf("migration %d: file is at version %d, expected %d", m.version, cur, m.version-1)
	}
	if _, err := tx.ExecContext(ctx, m.sql); err != nil {
		return fmt.Errorf("migration %d (%s): %w", m.version, m.name, err)
	}
	if m.rebuild {
		if err := foreignKeysHold(ctx, tx); err != nil {
			return fmt.Errorf("migration %d (%s): %w", m.version, m.name, err)
		}
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
		m.version, m.name, formatTime(s.now())); err != nil {
		return fmt.Errorf("migration %d: record: %w", m.version, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migration %d: commit: %w", m.version, err)
	}
	return nil
}

// checkVersion refuses a file whose schema is newer than latest, and one
// whose schema_migrations does not hold exactly the versions 1..fileVersion
// (rows is its row count).
func (s *Store) checkVersion(fileVersion, rows, latest int) error {
	if fileVersion > latest {
		return fmt.Errorf("state file %s has schema version %d, but this rtbot knows only up to version %d: use a newer rtbot", s.path, fileVersion, latest)
	}
	if rows != fileVersion {
		return fmt.Errorf("state file %s: schema_migrations is inconsistent: highest version %d in %d rows", s.path, fileVersion, rows)
	}
	return nil
}

// querier is what *sql.DB, *sql.Tx and *sql.Conn have in common.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// schemaVersion returns the highest applied migration (0 for a fresh file)
// and the number of rows in schema_migrations.
func schemaVersion(ctx context.Context, q querier) (version, rows int, err error) {
	err = q.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0), COUNT(*) FROM schema_migrations`).Scan(&version, &rows)
	if err != nil {
		return 0, 0, fmt.Errorf("read schema version: %w", err)
	}
	return version, rows, nil
}
