package objstore

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/rtbot/rtbot/internal/fixtures"
	"github.com/rtbot/rtbot/internal/testkit"
)

func TestAlternatePackDirs(t *testing.T) {
	root := t.TempDir()
	objects := func(name string) string { return filepath.Join(root, name, "objects") }
	write := func(name, alternates string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Join(objects(name), "info"), 0o755); err != nil {
			t.Fatal(err)
		}
		if alternates != "" {
			if err := os.WriteFile(filepath.Join(objects(name), "info", "alternates"), []byte(alternates), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	write("plain", "")
	write("ref", objects("base")+"\n")
	write("base", "")
	// Relative to the objects directory, a comment, a blank line, the
	// same directory twice, and a cycle back to the start.
	write("chain", "# borrowed\n\n../../ref/objects\n"+objects("ref")+"\n")
	write("cycle-a", objects("cycle-b")+"\n")
	write("cycle-b", objects("cycle-a")+"\n")
	write("d0", objects("d1")+"\n")
	for i := 1; i <= maxAlternateDepth; i++ {
		write("d"+string(rune('0'+i)), objects("d"+string(rune('0'+i+1)))+"\n")
	}
	for _, tc := range []struct {
		repo    string
		want    []string
		wantErr string
	}{
		{"plain", nil, ""},
		{"ref", []string{objects("base") + "/pack"}, ""},
		{"chain", []string{objects("ref") + "/pack", objects("base") + "/pack"}, ""},
		{"cycle-a", []string{objects("cycle-b") + "/pack"}, ""},
		{"d0", nil, "alternates nested deeper than"},
	} {
		got, err := alternatePackDirs(objects(tc.repo), 0, nil)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%s: %v, want an error saying %q", tc.repo, err, tc.wantErr)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("%s: %q, %v; want %q", tc.repo, got, err, tc.want)
		}
	}
}

// TestPackReaderReadsAlternates: the pack reader of a shared clone reads
// the borrowed packs itself, rather than leaving them to go-git, which
// loads a whole pack index before its first lookup.
func TestPackReaderReadsAlternates(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	d, err := fixtures.BuildDemo(filepath.Join(t.TempDir(), "demo"))
	if err != nil {
		t.Fatal(err)
	}
	shared := testkit.SharedClone(t, d.Repo, true)
	h := plumbing.NewHash(testkit.Git(t, shared, "rev-parse", "v6.1.12-rc1^{commit}"))
	r, err := openPackReader(filepath.Join(shared, "objects", "pack"))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if typ, _, err := r.read(h); err != nil || typ != plumbing.CommitObject {
		t.Errorf("the borrowed commit %s: %v, %v", h, typ, err)
	}
}
