package state

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// closedState makes a state file holding one announcement and one run,
// closed as rtbot leaves it, and returns its path.
func closedState(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "state", "rtbot.db")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	s, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	mustRecord(t, s, "kept@example.org")
	mustStart(t, s, spec("kept@example.org", "6.1-rt", "1111111111111111111111111111111111111111"))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// readsAndRefusesWrites checks that s reads the state closedState wrote
// and that a write fails.
func readsAndRefusesWrites(t *testing.T, s *Store) {
	t.Helper()
	ctx := context.Background()
	if _, err := s.Announcement(ctx, "kept@example.org"); err != nil {
		t.Errorf("reading an announcement: %v", err)
	}
	if runs, err := s.Runs(ctx, RunFilter{}); err != nil || len(runs) != 1 {
		t.Errorf("runs %v, %v; want the one run", runs, err)
	}
	// What rtbot status and history read.
	if _, err := s.Status(ctx); err != nil {
		t.Errorf("status: %v", err)
	}
	if problems, err := s.Check(ctx); err != nil || len(problems) != 0 {
		t.Errorf("check: %v, %v", problems, err)
	}
	if _, err := s.PreflightProblems(ctx); err != nil {
		t.Errorf("preflight problems: %v", err)
	}
	if _, _, err := s.RecordAnnouncement(ctx, announcement("new@example.org")); err == nil {
		t.Error("a write through a read-only store succeeded")
	}
}

func fileSum(t *testing.T, path string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

// TestOpenReadOnly: status and history read the state without writing
// it: the file is the same byte for byte afterwards, a write fails, and
// a file an older rtbot left is not migrated but refused with what to do.
func TestOpenReadOnly(t *testing.T) {
	ctx := context.Background()
	path := closedState(t)
	before := fileSum(t, path)
	s, err := OpenReadOnly(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	readsAndRefusesWrites(t, s)
	s.Close()
	if fileSum(t, path) != before {
		t.Error("the state file changed under a read-only store")
	}

	// An older schema, as an rtbot before the newest migration left it.
	old := olderState(t)
	before = fileSum(t, old)
	if _, err := OpenReadOnly(ctx, old); err == nil || !strings.Contains(err.Error(), "older than this rtbot's") ||
		!strings.Contains(err.Error(), "rtbot run") {
		t.Errorf("older schema: %v; want it refused, saying rtbot run migrates it", err)
	}
	if fileSum(t, old) != before {
		t.Error("OpenReadOnly changed a file of an older schema (migrated it?)")
	}
}

// olderState makes a state file with every migration but the newest, as
// the rtbot before it left it, and returns its path.
func olderState(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "old.db")
	db, err := sql.Open("sqlite", path+"?_journal_mode=WAL&_foreign_keys=1")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s := &Store{db: db, path: path, now: stepClock()}
	if _, err := db.ExecContext(ctx, `CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	ms := migrations()
	for _, m := range ms[:len(ms)-1] {
		if err := s.applyMigration(ctx, m, len(ms)); err != nil {
			t.Fatal(err)
		}
	}
	return path
}

func TestOpenReadOnlyRefuses(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	tests := []struct {
		name, path, errHas string
		content            []byte
	}{
		{"missing", filepath.Join(dir, "missing.db"), "rtbot run has not run", nil},
		{"empty", filepath.Join(dir, "empty.db"), "empty", []byte{}},
		{"not SQLite", filepath.Join(dir, "text.db"), "not an SQLite database", []byte("hello\n")},
		{"a URI", "file:" + filepath.Join(dir, "x.db"), "not an SQLite URI", nil},
	}
	for _, tt := range tests {
		if tt.content != nil {
			if err := os.WriteFile(tt.path, tt.content, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := OpenReadOnly(ctx, tt.path); err == nil || !strings.Contains(err.Error(), tt.errHas) {
			t.Errorf("%s: %v; want an error saying %q", tt.name, err, tt.errHas)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "missing.db")); err == nil {
		t.Error("OpenReadOnly created the missing file")
	}
}

// TestOpenReadOnlyUnwritable: a user who may read the state file but
// write neither it nor its directory (another user than the bot's) reads
// it. root may write anything, so the test needs another user; as root,
// TestOpenReadOnly's checks (no write at all) are what holds.
func TestOpenReadOnlyUnwritable(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root writes whatever the modes say; TestOpenReadOnly checks that nothing is written")
	}
	path := closedState(t)
	dir := filepath.Dir(path)
	if err := os.Chmod(path, 0o444); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o555); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(dir, 0o755) })
	s, err := OpenReadOnly(context.Background(), path)
	if err != nil {
		t.Fatalf("open read-only in a read-only directory: %v", err)
	}
	defer s.Close()
	readsAndRefusesWrites(t, s)
}
