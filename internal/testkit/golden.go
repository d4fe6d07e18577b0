package testkit

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// update is the -update flag of every test binary that links testkit: set,
// Golden writes golden files instead of comparing with them. It is the one
// package-level variable here, as the flag package wants it.
var update = flag.Bool("update", false, "rewrite the golden files that testkit.Golden compares with")

// Golden compares got with the golden file at path (relative to the test's
// package directory: testdata/NAME.golden, say) and fails the test showing
// the first line that differs. Run the test with -update to write got to
// path instead, then review the file's diff before committing it:
//
//	go test ./internal/report -run TestTextReport -update
func Golden(tb testing.TB, path string, got []byte) {
	tb.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			tb.Fatal(err)
		}
		tb.Logf("wrote %s", path)
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		tb.Fatalf("golden file: %v (run the test with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		tb.Errorf("output differs from %s (run the test with -update to accept it):\n%s\n--- got in full:\n%s",
			path, firstDifference(string(want), string(got)), got)
	}
}

// firstDifference describes the first line where want and got differ.
func firstDifference(want, got string) string {
	wl, gl := strings.SplitAfter(want, "\n"), strings.SplitAfter(got, "\n")
	for i := 0; i < max(len(wl), len(gl)); i++ {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w != g {
			return fmt.Sprintf("line %d:\n  want %q\n  got  %q", i+1, w, g)
		}
	}
	return "they differ" // not reached: equal lines make equal texts
}
