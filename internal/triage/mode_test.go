package triage_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/rtbot/rtbot/internal/fixtures"
	"github.com/rtbot/rtbot/internal/merger"
	"github.com/rtbot/rtbot/internal/patchqueue"
	"github.com/rtbot/rtbot/internal/triage"
)

// modeOnly is a patch that makes scripts/tool.sh executable and changes
// nothing else, as git format-patch writes it.
const modeOnly = `From: RT <rt@example.org>
Subject: [PATCH] scripts: make tool.sh executable

Make it executable.
---
 scripts/tool.sh | 0
 1 file changed, 0 insertions(+), 0 deletions(-)
 mode change 100644 => 100755 scripts/tool.sh

diff --git a/scripts/tool.sh b/scripts/tool.sh
old mode 100644
new mode 100755
`

// modeCase is a candidate for the mode-only patch and the verdict it must
// get.
type modeCase struct {
	name     string
	candMode filemode.FileMode // the candidate's mode of scripts/tool.sh
	candEdit bool              // the candidate changed the file's content since the base
	want     triage.Status
}

// TestModeOnlyPatch: a patch that only changes a file's mode is applied
// when the mode change lands in the result (a commit that makes the change),
// and already-applied (drop) only when the candidate already has the new
// mode and the result is the candidate's tree: from the queue's base and
// applied onto the candidate, whether or not the candidate changed the
// file's content since the base. It was already-applied / drop whenever the
// candidate had changed the file, while its mode change was in the result.
func TestModeOnlyPatch(t *testing.T) {
	cases := []modeCase{
		{"candidate as the base", filemode.Regular, false, triage.Applied},
		{"candidate changed the file", filemode.Regular, true, triage.Applied},
		{"candidate made it executable", filemode.Executable, false, triage.AlreadyApplied},
		{"candidate changed it and made it executable", filemode.Executable, true, triage.AlreadyApplied},
	}
	for _, tc := range cases {
		for _, withBase := range []bool{true, false} {
			name := tc.name + map[bool]string{true: ", from the base", false: ", onto the candidate"}[withBase]
			t.Run(name, func(t *testing.T) {
				rep, pr, mode := rebaseModeOnly(t, tc, withBase)
				if rep.Status != tc.want || rep.Action != triage.ActionFor(tc.want) {
					t.Errorf("%s/%s (%s), want %s/%s", rep.Status, rep.Action, rep.Reason, tc.want, triage.ActionFor(tc.want))
				}
				if mode != filemode.Executable {
					t.Errorf("the result's scripts/tool.sh has mode %s", mode)
				}
				if committed := !pr.Commit.IsZero(); committed != (tc.want == triage.Applied) {
					t.Errorf("committed %v for a patch that is %s", committed, rep.Status)
				}
			})
		}
	}
}

// rebaseModeOnly rebases the mode-only patch onto tc's candidate and
// returns its report, its result and the mode of scripts/tool.sh in the
// result.
func rebaseModeOnly(t *testing.T, tc modeCase, withBase bool) (triage.PatchReport, *merger.PatchResult, filemode.FileMode) {
	t.Helper()
	dir := t.TempDir()
	r, err := fixtures.Init(dir, true)
	if err != nil {
		t.Fatal(err)
	}
	b := fixtures.Tree{"scripts/tool.sh": {Content: fixtures.Lines("tool", 20)}, "kernel/core.c": {Content: fixtures.Lines("core", 20)}}
	bh, err := r.Commit(b, "base\n")
	if err != nil {
		t.Fatal(err)
	}
	c := b.Clone()
	if tc.candEdit {
		c.Edit("scripts/tool.sh", "tool 5\n", "stable tool 5\n")
	}
	f := c["scripts/tool.sh"]
	f.Mode = tc.candMode
	c["scripts/tool.sh"] = f
	ch, err := r.Commit(c, "stable\n", bh)
	if err != nil {
		t.Fatal(err)
	}
	if !withBase {
		bh = plumbing.ZeroHash
	}
	rep, res := rebaseOne(t, dir, modeOnlyQueue(t), bh, ch)
	got, err := r.Snapshot(res.Head)
	if err != nil {
		t.Fatal(err)
	}
	return rep, res.Patches[0], got["scripts/tool.sh"].Mode
}

// rebaseOne rebases the queue of one patch q from base (zero: applied
// onto the candidate) onto cand in the repository at dir, and returns the
// patch's report and the result.
func rebaseOne(t *testing.T, dir string, q *patchqueue.Queue, base, cand plumbing.Hash) (triage.PatchReport, *merger.Result) {
	t.Helper()
	eng, err := merger.Open(dir, merger.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close() })
	res, err := eng.RebaseQueue(context.Background(), q, base, cand)
	if err != nil {
		t.Fatal(err)
	}
	reps, err := triage.Triage(context.Background(), res, engineSource{eng}, triage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return reps[0], res
}

// modeOnlyQueue is a quilt queue of the mode-only patch.
func modeOnlyQueue(t *testing.T) *patchqueue.Queue { return writeQueue(t, modeOnly) }

// writeQueue is a quilt queue of the one patch given, which must parse.
func writeQueue(t *testing.T, patch string) *patchqueue.Queue {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "0001-rt.patch"), []byte(patch), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "series"), []byte("0001-rt.patch\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	q, err := patchqueue.Open(dir, patchqueue.DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	if q.Patches[0].Err != nil {
		t.Fatal(q.Patches[0].Err)
	}
	return q
}

// addCase is a patch that adds a file, what the candidate has there, and
// the verdict the patch must get.
type addCase struct {
	name    string
	patch   string
	cand    *fixtures.File // the candidate's file at the added path; nil for none
	want    triage.Status
	commits bool // the patch's change lands: the result differs from the candidate
}

// TestAddedFileVerdict: a patch that adds a file is already-applied (drop)
// only when the candidate has the very file, content and mode; an empty
// new file, or a mode the candidate's copy lacks, lands and is not
// dropped. The empty file was already-applied / drop while it was added.
func TestAddedFileVerdict(t *testing.T) {
	const hdr = "From: RT <rt@example.org>\nSubject: [PATCH] add a file\n\nAdd it.\n---\n"
	empty := hdr + "diff --git a/include/empty.h b/include/empty.h\nnew file mode 100644\nindex 0000000..e69de29\n"
	script := hdr + "diff --git a/scripts/new.sh b/scripts/new.sh\nnew file mode 100755\n--- /dev/null\n+++ b/scripts/new.sh\n@@ -0,0 +1 @@\n+echo rt\n"
	cases := []addCase{
		{"empty file the candidate lacks", empty, nil, triage.Applied, true},
		{"empty file the candidate has", empty, &fixtures.File{}, triage.AlreadyApplied, false},
		{"script the candidate has, not executable", script, &fixtures.File{Content: "echo rt\n"}, triage.Merged, true},
		{"script the candidate has, executable", script, &fixtures.File{Content: "echo rt\n", Mode: filemode.Executable}, triage.AlreadyApplied, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rep, pr := rebaseAdd(t, tc)
			if rep.Status != tc.want {
				t.Errorf("%s/%s (%s), want %s", rep.Status, rep.Action, rep.Reason, tc.want)
			}
			if committed := !pr.Commit.IsZero(); committed != tc.commits {
				t.Errorf("committed %v, want %v", committed, tc.commits)
			}
		})
	}
}

// rebaseAdd applies tc's patch onto a candidate that has tc.cand at the
// path the patch adds, and returns the patch's report and result.
func rebaseAdd(t *testing.T, tc addCase) (triage.PatchReport, *merger.PatchResult) {
	t.Helper()
	dir := t.TempDir()
	r, err := fixtures.Init(dir, true)
	if err != nil {
		t.Fatal(err)
	}
	q := writeQueue(t, tc.patch)
	c := fixtures.Tree{"kernel/core.c": {Content: fixtures.Lines("core", 20)}}
	if tc.cand != nil {
		c[q.Patches[0].Files[0].NewPath] = *tc.cand
	}
	ch, err := r.Commit(c, "stable\n")
	if err != nil {
		t.Fatal(err)
	}
	rep, res := rebaseOne(t, dir, q, plumbing.ZeroHash, ch)
	return rep, res.Patches[0]
}
