package state

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
)

// sqliteHeader starts every SQLite database file.
const sqliteHeader = "SQLite format 3\x00"

// prepare makes sure the file at path is an rtbot state file before SQLite
// opens it for writing, since SQLite takes an empty file, or a missing one,
// for a new database: a missing file is created whole (create); an
// existing one must be a non-empty SQLite database with rtbot's
// schema_migrations table.
func prepare(ctx context.Context, path string) error {
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		if err := create(ctx, path); !errors.Is(err, fs.ErrExist) {
			return err
		}
		// Created meanwhile, whole: check it as any other.
		fi, err = os.Stat(path)
	}
	switch {
	case err != nil:
		return err
	case !fi.Mode().IsRegular():
		return fmt.Errorf("state file %s is not a regular file", path)
	case fi.Size() == 0:
		return fmt.Errorf("state file %s is empty (0 bytes), so it holds no rtbot state; rtbot never leaves an empty one "+
			"(it creates the file whole, then gives it its name), so something truncated it: restore it from a backup. "+
			"Deleting it starts afresh, which redoes every announcement still in the mailbox and mails its report again", path)
	}
	if err := checkHeader(path); err != nil {
		return err
	}
	return checkSchema(ctx, path)
}

// checkHeader reads the start of the file at path: it must be SQLite's.
func checkHeader(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	head := make([]byte, len(sqliteHeader))
	n, err := io.ReadFull(f, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return err
	}
	if !bytes.Equal(head[:n], []byte(sqliteHeader)) {
		return fmt.Errorf("state file %s is not an SQLite database (it starts with %q), so not rtbot's state: "+
			"restore it from a backup, or point bot.state at rtbot's", path, head[:n])
	}
	return nil
}

// checkSchema looks, without changing anything, for rtbot's
// schema_migrations table in the SQLite database at path: another
// program's database is not migrated into rtbot's.
func checkSchema(ctx context.Context, path string) error {
	db, err := sql.Open("sqlite", path+"?_busy_timeout="+strconv.FormatInt(BusyTimeout.Milliseconds(), 10))
	if err != nil {
		return err
	}
	defer db.Close()
	var n int
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'`).
		Scan(&n); err != nil {
		return fmt.Errorf("state file %s: %w", path, err)
	}
	if n == 0 {
		return fmt.Errorf("state file %s is an SQLite database without rtbot's schema_migrations table, so not an rtbot state file: "+
			"point bot.state at rtbot's", path)
	}
	return nil
}

// create makes the state file at path: a new database is built and
// migrated under a temporary name in the same directory, synced, and only
// then linked to path, so a crash leaves either no file at path (and at
// most a stray path.new-* to delete) or a whole one, never an empty one
// that the next run could not tell from a truncated state. It fails with
// an error wrapping fs.ErrExist when path appeared meanwhile.
func create(ctx context.Context, path string) error {
	f, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".new-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	f.Close()
	defer func() {
		for _, suffix := range []string{"", "-wal", "-shm", "-journal"} {
			os.Remove(tmp + suffix)
		}
	}()
	s, err := open(ctx, tmp)
	if err != nil {
		return err
	}
	if err := s.Close(); err != nil {
		return err
	}
	if err := syncFile(tmp); err != nil {
		return err
	}
	if err := os.Link(tmp, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return err
		}
		// A file system without hard links. Only rtbot run and watch
		// create the file, under the bot's lock, so nothing else can
		// have created it since the Stat above.
		if err := os.Rename(tmp, path); err != nil {
			return err
		}
	}
	return syncFile(filepath.Dir(path))
}

// syncFile flushes the file or directory at path to disk.
func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}
