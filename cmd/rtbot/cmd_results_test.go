package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestResultsImportRefuses: `rtbot results import` of a document about a
// checkout rtbot never wrote, or of one that is not KCIDB v5, exits 1
// saying why.
func TestResultsImportRefuses(t *testing.T) {
	dir, cfg := demoDir(t)
	foreign := filepath.Join(dir, "foreign.json")
	bad := filepath.Join(dir, "bad.json")
	files := map[string]string{
		foreign: `{"version": {"major": 5, "minor": 3}, "builds": [{"id": "lab:b", "origin": "lab", "checkout_id": "other:1", "status": "PASS"}]}`,
		bad:     `{"version": {"major": 4, "minor": 0}}`,
	}
	for name, data := range files {
		if err := os.WriteFile(name, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var out, errb strings.Builder
	code := run(context.Background(), []string{"results", "import", "--config", cfg, foreign, bad}, &out, &errb)
	got := out.String() + errb.String()
	for _, want := range []string{`refused: build "lab:b": checkout "other:1" is not a checkout rtbot wrote`,
		"foreign.json: nothing for a checkout rtbot wrote", "bad.json: kcidb: schema version 4.0"} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	if code != exitError {
		t.Errorf("exit %d, want %d", code, exitError)
	}
}
