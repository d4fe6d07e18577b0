package merger_test

import (
	"context"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/rtbot/rtbot/internal/fixtures"
	"github.com/rtbot/rtbot/internal/merger"
	"github.com/rtbot/rtbot/internal/patchqueue"
	"github.com/rtbot/rtbot/internal/resolutions"
)

// TestRememberedResolution records how a maintainer resolved a conflict on
// rc1 and replays it: on rc2, where the same conflict recurs beside an
// unrelated stable change in the same file, the patch resolves itself; on
// rc3, where upstream changed the conflicting lines again, the remembered
// resolution is not forced and the report says why.
func TestRememberedResolution(t *testing.T) {
	repo := newResolutionRepo(t)
	fix, learned := learnOnRC1(t, repo)
	t.Run("rc1 again resolves to the fix", func(t *testing.T) {
		checkRC1Replayed(t, repo, fix, learned)
	})
	t.Run("rc2 resolves beside an unrelated change", func(t *testing.T) {
		checkRC2Replayed(t, repo, fix, learned)
	})
	t.Run("rc3 changed the lines again", func(t *testing.T) {
		checkRC3NotForced(t, repo, learned)
	})
	t.Run("another patch's resolution", func(t *testing.T) {
		checkOtherPatchNotUsed(t, repo, learned)
	})
}

// resolutionRepo is the repository of TestRememberedResolution: the base
// v1, the branch rt of one patch that changes line 10 of kernel/core.c
// (and kernel/other.c), and three candidates on v1.
type resolutionRepo struct {
	dir           string
	rc1, rc2, rc3 plumbing.Hash
}

// newResolutionRepo builds the repository: rc1 changes line 10 too, rc2 as
// rc1 and line 25 besides, rc3 line 10 otherwise.
func newResolutionRepo(t *testing.T) resolutionRepo {
	t.Helper()
	dir := t.TempDir()
	r, err := fixtures.Init(dir, true)
	if err != nil {
		t.Fatal(err)
	}
	base := fixtures.Tree{"kernel/core.c": {Content: fixtures.Lines("line", 30)}, "kernel/other.c": {Content: "other\n"}}
	b, _ := r.Commit(base, "base\n")
	rtTree := base.Clone()
	rtTree.Edit("kernel/core.c", "line 10\n", "rt 10\n")
	rtTree["kernel/other.c"] = fixtures.File{Content: "other rt\n"}
	rt, _ := r.Commit(rtTree, "rt: change line 10\n", b)
	r.Tag("v1", b)
	r.Branch("rt", rt)

	candidate := func(msg string, edits ...string) plumbing.Hash {
		tr := base.Clone()
		for i := 0; i < len(edits); i += 2 {
			tr.Edit("kernel/core.c", edits[i], edits[i+1])
		}
		h, err := r.Commit(tr, msg, b)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	return resolutionRepo{dir: dir,
		rc1: candidate("rc1\n", "line 10\n", "stable 10\n"),
		rc2: candidate("rc2\n", "line 10\n", "stable 10\n", "line 25\n", "stable 25\n"),
		rc3: candidate("rc3\n", "line 10\n", "stable 10 again\n"),
	}
}

// rebaseRT rebases the branch rt from v1 onto onto in the repository at
// dir, with the remembered resolutions mem; the engine stays open until
// the test ends.
func rebaseRT(t *testing.T, dir string, onto plumbing.Hash, mem merger.Resolutions) (*merger.Engine, *merger.Result) {
	t.Helper()
	ctx := context.Background()
	eng, err := merger.Open(dir, merger.Options{Now: fixedNow, Resolutions: mem})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close() })
	_, steps, bh, err := eng.ReadRange(ctx, patchqueue.Range{Base: "v1", Tip: "rt"})
	if err != nil {
		t.Fatal(err)
	}
	res, err := eng.Rebase(ctx, steps, bh, onto)
	if err != nil {
		t.Fatal(err)
	}
	return eng, res
}

// fileOf returns the result for path of the first patch in res.
func fileOf(t *testing.T, res *merger.Result, path string) merger.FileResult {
	t.Helper()
	for _, f := range res.Patches[0].Files {
		if f.Path == path {
			return f
		}
	}
	t.Fatalf("no result for %s", path)
	return merger.FileResult{}
}

// snapshot returns the files of h in the repository at dir, opened afresh
// to see the packs the engine wrote.
func snapshot(t *testing.T, dir string, h plumbing.Hash) fixtures.Tree {
	t.Helper()
	fresh, err := fixtures.Open(dir) // sees the packs written since the repository was built
	if err != nil {
		t.Fatal(err)
	}
	tr, err := fresh.Snapshot(h)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// learnOnRC1 rebases onto rc1, where the patch conflicts, and learns the
// maintainer's fix of kernel/core.c, which it returns with what was
// learnt; a fix that still has conflict markers teaches nothing.
func learnOnRC1(t *testing.T, repo resolutionRepo) (fix string, learned []merger.Resolution) {
	t.Helper()
	_, res1 := rebaseRT(t, repo.dir, repo.rc1, nil)
	if res1.Patches[0].Outcome != merger.Conflict || fileOf(t, res1, "kernel/core.c").ConflictKey == "" {
		t.Fatalf("rc1: %+v", res1.Patches[0])
	}
	fix = strings.Replace(fixtures.Lines("line", 30), "line 10\n", "stable 10 and rt\n", 1)
	learned, err := merger.Learn(res1.Patches[0], func(f *merger.FileResult) (string, bool, error) {
		if path := f.ResultPath(); path != "kernel/core.c" {
			t.Errorf("asked for the fix of %s", path)
		}
		return fix, true, nil
	}, "rtbot resolve: commit 1234567, run 1")
	if err != nil {
		t.Fatal(err)
	}
	if len(learned) != 1 || learned[0].Path != "kernel/core.c" || !strings.Contains(learned[0].Preimage, "<<<<<<<") {
		t.Fatalf("learned %+v", learned)
	}
	// A fix that still has markers teaches nothing.
	if _, err := merger.Learn(res1.Patches[0], func(*merger.FileResult) (string, bool, error) { return learned[0].Preimage, true, nil }, "x"); err == nil ||
		!strings.Contains(err.Error(), "conflict markers") {
		t.Errorf("learning from a file with markers: %v", err)
	}
	return fix, learned
}

// checkRC1Replayed: rc1 again, with the memory: resolved, exactly the fix.
func checkRC1Replayed(t *testing.T, repo resolutionRepo, fix string, learned []merger.Resolution) {
	t.Helper()
	_, again := rebaseRT(t, repo.dir, repo.rc1, resolutions.Memory(learned))
	if again.Patches[0].Outcome != merger.Resolved {
		t.Fatalf("rc1 with the resolution: %+v", again.Patches[0])
	}
	snap := snapshot(t, repo.dir, again.Head)
	if snap["kernel/core.c"].Content != fix || snap["kernel/other.c"].Content != "other rt\n" {
		t.Errorf("rc1 resolved to:\n%s", snap["kernel/core.c"].Content)
	}
}

// checkRC2Replayed: rc2 has the same conflict beside an unrelated change;
// the fix applies, with that change, and the report names its source.
func checkRC2Replayed(t *testing.T, repo resolutionRepo, fix string, learned []merger.Resolution) {
	t.Helper()
	_, res2 := rebaseRT(t, repo.dir, repo.rc2, resolutions.Memory(learned))
	f2 := fileOf(t, res2, "kernel/core.c")
	if res2.Patches[0].Outcome != merger.Resolved || f2.Resolution != "rtbot resolve: commit 1234567, run 1" ||
		!strings.Contains(f2.Detail, "resolved as before (rtbot resolve: commit 1234567, run 1)") {
		t.Fatalf("rc2: %+v", res2.Patches[0])
	}
	snap := snapshot(t, repo.dir, res2.Head)
	want := strings.Replace(fix, "line 25\n", "stable 25\n", 1)
	if snap["kernel/core.c"].Content != want {
		t.Errorf("rc2 resolved to:\n%s\nwant\n%s", snap["kernel/core.c"].Content, want)
	}
}

// checkRC3NotForced: upstream changed the lines again in rc3; the
// resolution is not forced, and the report says why.
func checkRC3NotForced(t *testing.T, repo resolutionRepo, learned []merger.Resolution) {
	t.Helper()
	_, res3 := rebaseRT(t, repo.dir, repo.rc3, resolutions.Memory(learned))
	f3 := fileOf(t, res3, "kernel/core.c")
	if res3.Patches[0].Outcome != merger.Conflict || !strings.Contains(f3.Detail, "no longer fit") || res3.Patches[0].Commit != plumbing.ZeroHash {
		t.Fatalf("rc3: %+v", res3.Patches[0])
	}
}

// checkOtherPatchNotUsed: another patch's resolution of the same file does
// not apply.
func checkOtherPatchNotUsed(t *testing.T, repo resolutionRepo, learned []merger.Resolution) {
	t.Helper()
	other := append(resolutions.Memory{}, learned...)
	other[0].PatchID = strings.Repeat("0", 64)
	if _, res := rebaseRT(t, repo.dir, repo.rc2, other); res.Patches[0].Outcome != merger.Conflict {
		t.Errorf("a resolution recorded for another patch was used: %+v", res.Patches[0])
	}
}

// TestLearnRefusesFixWithoutChange: a fix is learnt only when it carries
// the patch's change in the conflicting region (rt's "rt 10" in, its
// "line 10" out), whatever it does with the candidate's change and with
// white space; a refusal names the file and the patch's line.
func TestLearnRefusesFixWithoutChange(t *testing.T) {
	repo := newResolutionRepo(t)
	_, res1 := rebaseRT(t, repo.dir, repo.rc1, nil)
	lines := fixtures.Lines("line", 30)
	with := func(line10 string) string { return strings.Replace(lines, "line 10\n", line10, 1) }
	for _, tc := range []struct {
		name, fix string
		want      string // in the refusal; "" when the fix is learnt
	}{
		{"both changes", with("stable 10 and rt\n"), ""},
		{"white space", with("  stable   10 and\trt\n"), ""},
		{"the patch's side", with("rt 10\n"), ""},
		{"the candidate's file", with("stable 10\n"), `file kernel/core.c: the fix does not carry the patch's change: the patch's line "rt 10" is missing`},
		{"the base's file", lines, `the patch's line "rt 10" is missing`},
		{"the removed line kept", with("stable 10 and rt\nline 10\n"), `the patch removes the line "line 10", which is still there`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			learned, err := merger.Learn(res1.Patches[0], func(*merger.FileResult) (string, bool, error) { return tc.fix, true, nil }, "x")
			switch {
			case tc.want == "" && (err != nil || len(learned) != 1):
				t.Errorf("learned %+v, %v; want it learnt", learned, err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("learned %+v, %v; want refused: %s", learned, err, tc.want)
			}
		})
	}
}

// TestResolutionDiff: what a fix teaches is shown as a short diff against
// the candidate's side of the conflict.
func TestResolutionDiff(t *testing.T) {
	repo := newResolutionRepo(t)
	_, res1 := rebaseRT(t, repo.dir, repo.rc1, nil)
	f := fileOf(t, res1, "kernel/core.c")
	fix := strings.Replace(fixtures.Lines("line", 30), "line 10\n", "stable 10 and rt\n", 1)
	got, err := merger.ResolutionDiff(&f, fix)
	want := "--- kernel/core.c (conflict: the candidate's side)\n+++ kernel/core.c (as resolved)\n" +
		"@@ -8,5 +8,5 @@\n line 8\n line 9\n-stable 10\n+stable 10 and rt\n line 11\n line 12\n"
	if err != nil || got != want {
		t.Errorf("diff %v:\n%s\nwant\n%s", err, got, want)
	}
}
