package export_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rtbot/rtbot/internal/export"
	"github.com/rtbot/rtbot/internal/merger"
	"github.com/rtbot/rtbot/internal/patchqueue"
	"github.com/rtbot/rtbot/internal/pipeline"
	"github.com/rtbot/rtbot/internal/testkit"
)

// TestLabRoundTrip exports Debian's 6.1.174 RT queue rebased onto v6.1.176
// in the real-kernel lab (scripts/lab/build.sh) and applies the export
// back onto v6.1.176 with git am, quilt push and git apply: each must
// give the rebased result's tree. Runs only when RTBOT_LAB names the lab.
func TestLabRoundTrip(t *testing.T) {
	lab := os.Getenv("RTBOT_LAB")
	if lab == "" {
		t.Skip("RTBOT_LAB is not set: build the real-kernel lab with scripts/lab/build.sh and point RTBOT_LAB at it")
	}
	repoDir := filepath.Join(lab, "linux.git")
	if _, err := os.Stat(repoDir); err != nil {
		t.Skipf("RTBOT_LAB=%s has no linux.git: %v", lab, err)
	}
	testkit.NeedGit(t)
	const queue, base, onto = "6.1.174", "v6.1.174", "v6.1.176"
	ctx := context.Background()
	start := time.Now()
	phase := func(what string) {
		t.Logf("%-28s %v", what, time.Since(start).Round(time.Millisecond))
		start = time.Now()
	}

	eng, err := merger.Open(repoDir, merger.Options{Now: fixedNow})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	// The rebase rtbot merge does, as the pipeline does it.
	_, res, err := pipeline.Merge(ctx, eng, pipeline.MergeSpec{
		Queue: filepath.Join(lab, "queues", queue), Base: base, Onto: onto,
	})
	if err != nil {
		t.Fatal(err)
	}
	phase("rebase")

	out := filepath.Join(t.TempDir(), "export")
	m, err := export.Write(ctx, eng.Repository(), res, out, export.Options{})
	if err != nil {
		t.Fatal(err)
	}
	phase("export")
	t.Logf("%s: %d patches exported, %d skipped", m.Release, len(m.Patches), len(m.Skipped))
	for _, s := range m.Skipped {
		t.Logf("skipped %s: %s", s.Name, s.Reason)
	}
	if !strings.HasPrefix(m.Release, "6.1.176-rt") || len(m.Patches) == 0 || len(m.Patches)+len(m.Skipped) != len(res.Patches) {
		t.Fatalf("manifest: release %s, %d exported + %d skipped of %d", m.Release, len(m.Patches), len(m.Skipped), len(res.Patches))
	}
	headTree := treeOf(t, eng, res.Head).String()

	checkLabPatches(t, m, res, out)
	applyLabExport(t, repoDir, onto, out, m, headTree, phase)
}

// checkLabPatches checks that the exported patches' headers, messages and
// names are the queue's.
func checkLabPatches(t *testing.T, m *export.Manifest, res *merger.Result, out string) {
	t.Helper()
	for _, p := range m.Patches {
		got := patchqueue.Parse(p.Name, []byte(testkit.ReadFile(t, filepath.Join(out, "patches", p.Name))), 1)
		src := sourceOf(res, p.Commit).Patch
		if got.Err != nil || got.AuthorName != src.AuthorName || got.AuthorEmail != src.AuthorEmail ||
			!got.Date.Equal(src.Date) || got.Subject != src.Subject || got.Body != src.Body {
			t.Errorf("%s: headers or message differ from the queue's (parse error %v)", p.Name, got.Err)
		}
		if p.Name != src.Name {
			t.Errorf("%s: the queue named it %s", p.Name, src.Name)
		}
	}
}

// applyLabExport applies the export in out back onto the candidate onto
// with git am, quilt push and git apply of the combined patch, and checks
// that each gives headTree, the rebased result's tree. phase logs the
// time each took.
func applyLabExport(t *testing.T, repoDir, onto, out string, m *export.Manifest, headTree string, phase func(string)) {
	t.Helper()
	wt := checkout(t, repoDir, onto)
	phase("checkout " + onto)

	args := []string{"am", "-q"}
	for _, p := range m.Patches {
		args = append(args, filepath.Join(out, "patches", p.Name))
	}
	testkit.GitWith(t, wt, amEnv(), args...)
	if got := testkit.Git(t, wt, "rev-parse", "HEAD^{tree}"); got != headTree {
		t.Errorf("git am made tree %s, want the result's %s", got, headTree)
	}
	phase("git am")

	testkit.Git(t, wt, "checkout", "-q", "--detach", onto)
	copyDir(t, filepath.Join(out, "patches"), filepath.Join(wt, "patches"))
	if _, err := testkit.RunCommand(t, wt, nil, "quilt", "--version"); err != nil {
		t.Log("quilt not installed (apt-get install quilt): quilt push not tried")
	} else {
		quiltPush(t, wt)
		if got := worktreeTree(t, wt); got != headTree {
			t.Errorf("quilt push made tree %s, want the result's %s", got, headTree)
		}
		phase("quilt push -a --fuzz=0")
	}

	testkit.Git(t, wt, "reset", "-q", "--hard", onto)
	diff := filepath.Join(t.TempDir(), "rt.patch")
	if err := os.WriteFile(diff, []byte(unxz(t, m.Combined)), 0o644); err != nil {
		t.Fatal(err)
	}
	testkit.Git(t, wt, "apply", "--index", diff)
	if got := testkit.Git(t, wt, "write-tree"); got != headTree {
		t.Errorf("git apply of the combined patch made tree %s, want %s", got, headTree)
	}
	phase("git apply combined")
}
