package state

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestOpenRefusesWhatIsNotAState: an existing file that is not an rtbot
// state file (empty, not SQLite, another program's database) is an error
// naming it, and stays as it was: never a fresh start, which would redo
// every announcement still in the mailbox and mail its report again.
func TestOpenRefusesWhatIsNotAState(t *testing.T) {
	dir := t.TempDir()
	foreign := filepath.Join(dir, "foreign.db")
	db, err := sql.Open("sqlite", foreign)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`CREATE TABLE notes (body TEXT); INSERT INTO notes VALUES ('mine')`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	for _, tc := range []struct {
		name, content, want string
	}{
		{"empty.db", "", "is empty"},
		{"text.db", "announcements: none\n", "not an SQLite database"},
		{"short.db", "SQLite", "not an SQLite database"},
		{"foreign.db", "", "not an rtbot state file"},
	} {
		path := filepath.Join(dir, tc.name)
		if tc.name != "foreign.db" {
			if err := os.WriteFile(path, []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		before, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		s, err := Open(context.Background(), path)
		if err == nil {
			s.Close()
			t.Errorf("%s: Open succeeded", tc.name)
			continue
		}
		if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Open = %v; want an error naming the file and saying %q", tc.name, err, tc.want)
		}
		if after, _ := os.ReadFile(path); string(after) != string(before) {
			t.Errorf("%s: Open changed the file", tc.name)
		}
	}
}

// TestOpenCreatesWhole: a missing state file is created complete under a
// temporary name and only then given its own, so no crash can leave an
// empty one behind; nothing else is left in the directory.
func TestOpenCreatesWhole(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.db")
	s, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	if v, err := s.SchemaVersion(context.Background()); err != nil || v != LatestSchemaVersion() {
		t.Errorf("SchemaVersion = %d, %v", v, err)
	}
	s.Close()
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.Name() != "state.db" {
			t.Errorf("left behind: %s", e.Name())
		}
	}
}
