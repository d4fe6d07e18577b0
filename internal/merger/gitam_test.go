package merger_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/rtbot/rtbot/internal/fixtures"
	"github.com/rtbot/rtbot/internal/merger"
	"github.com/rtbot/rtbot/internal/patchqueue"
	"github.com/rtbot/rtbot/internal/testkit"
)

// scenario is a base tree, a queue of changes made on it, and a candidate
// made from the same base.
type scenario struct {
	name    string
	base    fixtures.Tree
	patches []func(fixtures.Tree) // each edits the tree left by the previous one
	cand    func(fixtures.Tree)   // edits a copy of base into the candidate
	// want is the outcome of each patch in the rebase.
	want []merger.Outcome
	// renames makes format-patch detect renames (-M).
	renames bool
}

// scenarios are the cases TestRebaseMatchesGitAm3 compares with git am -3.
func scenarios() []scenario {
	c := fixtures.Lines("core line", 60)
	all := hunkScenarios(c)
	all = append(all, fileScenarios(c)...)
	all = append(all, candidateScenarios(c)...)
	return append(all, queueScenarios(c)...)
}

// hunkScenarios are one patch changing lines of a file (c, or one without
// a final newline) that the candidate changed elsewhere, nearby or too.
func hunkScenarios(c string) []scenario {
	return []scenario{
		{
			name:    "exact",
			base:    fixtures.Tree{"kernel/core.c": {Content: c}},
			patches: []func(fixtures.Tree){func(t fixtures.Tree) { t.Edit("kernel/core.c", "core line 30\n", "rt line 30\n") }},
			cand:    func(t fixtures.Tree) { t.Edit("kernel/core.c", "core line 1\n", "stable line 1\n") },
			want:    []merger.Outcome{merger.Applied},
		},
		{
			name:    "offset",
			base:    fixtures.Tree{"kernel/core.c": {Content: c}},
			patches: []func(fixtures.Tree){func(t fixtures.Tree) { t.Edit("kernel/core.c", "core line 40\n", "rt line 40\n") }},
			cand: func(t fixtures.Tree) {
				t.Edit("kernel/core.c", "core line 5\n", "core line 5\nnew a\nnew b\nnew c\n")
			},
			want: []merger.Outcome{merger.Applied},
		},
		{
			name:    "context change needs 3-way",
			base:    fixtures.Tree{"kernel/core.c": {Content: c}},
			patches: []func(fixtures.Tree){func(t fixtures.Tree) { t.Edit("kernel/core.c", "core line 30\n", "rt line 30\n") }},
			cand:    func(t fixtures.Tree) { t.Edit("kernel/core.c", "core line 28\n", "stable line 28\n") },
			want:    []merger.Outcome{merger.Merged},
		},
		{
			name:    "overlapping change conflicts",
			base:    fixtures.Tree{"kernel/core.c": {Content: c}},
			patches: []func(fixtures.Tree){func(t fixtures.Tree) { t.Edit("kernel/core.c", "core line 30\n", "rt line 30\n") }},
			cand:    func(t fixtures.Tree) { t.Edit("kernel/core.c", "core line 30\n", "stable line 30\n") },
			want:    []merger.Outcome{merger.Conflict},
		},
		{
			name:    "missing final newline",
			base:    fixtures.Tree{"init/Kconfig": {Content: "one\ntwo\nthree\nfour\nfive\nsix\nseven\neight\nnine\nlast"}},
			patches: []func(fixtures.Tree){func(t fixtures.Tree) { t.Edit("init/Kconfig", "nine\nlast", "nine\nlast changed") }},
			cand:    func(t fixtures.Tree) { t.Edit("init/Kconfig", "one\n", "one!\n") },
			want:    []merger.Outcome{merger.Applied},
		},
	}
}

// fileScenarios are patches that add, delete, rename or change the mode
// of files.
func fileScenarios(c string) []scenario {
	small := "alpha\nbeta\ngamma\ndelta\nepsilon\n"
	return []scenario{
		{
			name: "new and deleted files",
			base: fixtures.Tree{"kernel/core.c": {Content: c}, "drivers/old.c": {Content: small}},
			patches: []func(fixtures.Tree){
				func(t fixtures.Tree) { t["kernel/rt/new.c"] = fixtures.File{Content: "int rt;\n"} },
				func(t fixtures.Tree) { delete(t, "drivers/old.c") },
			},
			cand: func(t fixtures.Tree) { t.Edit("kernel/core.c", "core line 2\n", "stable line 2\n") },
			want: []merger.Outcome{merger.Applied, merger.Applied},
		},
		{
			name:    "rename with change",
			renames: true,
			base:    fixtures.Tree{"kernel/core.c": {Content: c}, "lib/a.c": {Content: c}},
			patches: []func(fixtures.Tree){func(t fixtures.Tree) {
				f := t["lib/a.c"]
				delete(t, "lib/a.c")
				f.Content = strings.Replace(f.Content, "core line 50\n", "rt line 50\n", 1)
				t["lib/b.c"] = f
			}},
			cand: func(t fixtures.Tree) { t.Edit("lib/a.c", "core line 3\n", "stable line 3\n") },
			want: []merger.Outcome{merger.Applied},
		},
		{
			name:    "pure rename",
			renames: true,
			base:    fixtures.Tree{"kernel/core.c": {Content: c}, "lib/a.c": {Content: c}},
			patches: []func(fixtures.Tree){func(t fixtures.Tree) {
				t["lib/moved.c"] = t["lib/a.c"]
				delete(t, "lib/a.c")
			}},
			cand: func(t fixtures.Tree) { t.Edit("lib/a.c", "core line 3\n", "stable line 3\n") },
			want: []merger.Outcome{merger.Applied},
		},
		{
			name: "mode change",
			base: fixtures.Tree{"scripts/run.sh": {Content: "#!/bin/sh\necho hi\n"}, "kernel/core.c": {Content: c}},
			patches: []func(fixtures.Tree){func(t fixtures.Tree) {
				f := t["scripts/run.sh"]
				f.Mode = filemode.Executable
				t["scripts/run.sh"] = f
			}},
			cand: func(t fixtures.Tree) { t.Edit("kernel/core.c", "core line 2\n", "stable line 2\n") },
			want: []merger.Outcome{merger.Applied},
		},
	}
}

// candidateScenarios are a patch to a file the candidate renamed or
// deleted.
func candidateScenarios(c string) []scenario {
	return []scenario{
		{
			name:    "candidate renamed the file",
			base:    fixtures.Tree{"kernel/core.c": {Content: c}, "kernel/old_name.c": {Content: fixtures.Lines("moved", 40)}},
			patches: []func(fixtures.Tree){func(t fixtures.Tree) { t.Edit("kernel/old_name.c", "moved 20\n", "rt moved 20\n") }},
			cand: func(t fixtures.Tree) {
				t["kernel/new_name.c"] = t["kernel/old_name.c"]
				delete(t, "kernel/old_name.c")
			},
			want: []merger.Outcome{merger.Applied},
		},
		{
			name:    "candidate deleted the file",
			base:    fixtures.Tree{"kernel/core.c": {Content: c}, "drivers/gone.c": {Content: fixtures.Lines("gone", 30)}},
			patches: []func(fixtures.Tree){func(t fixtures.Tree) { t.Edit("drivers/gone.c", "gone 15\n", "rt gone 15\n") }},
			cand:    func(t fixtures.Tree) { delete(t, "drivers/gone.c") },
			want:    []merger.Outcome{merger.Missing},
		},
	}
}

// queueScenarios are queues of two patches: the second depending on the
// first, or clean after the first conflicts.
func queueScenarios(c string) []scenario {
	return []scenario{
		{
			name: "chain of dependent patches",
			base: fixtures.Tree{"kernel/core.c": {Content: c}},
			patches: []func(fixtures.Tree){
				func(t fixtures.Tree) { t.Edit("kernel/core.c", "core line 30\n", "rt line 30\n") },
				func(t fixtures.Tree) { t.Edit("kernel/core.c", "rt line 30\n", "rt line 30 again\n") },
			},
			cand: func(t fixtures.Tree) { t.Edit("kernel/core.c", "core line 10\n", "stable line 10\n") },
			want: []merger.Outcome{merger.Applied, merger.Applied},
		},
		{
			name: "second patch clean after first conflicts",
			base: fixtures.Tree{"kernel/core.c": {Content: c}, "mm/slab.c": {Content: fixtures.Lines("slab", 30)}},
			patches: []func(fixtures.Tree){
				func(t fixtures.Tree) { t.Edit("kernel/core.c", "core line 30\n", "rt line 30\n") },
				func(t fixtures.Tree) { t.Edit("mm/slab.c", "slab 10\n", "rt slab 10\n") },
			},
			cand: func(t fixtures.Tree) { t.Edit("kernel/core.c", "core line 30\n", "stable line 30\n") },
			want: []merger.Outcome{merger.Conflict, merger.Applied},
		},
	}
}

type built struct {
	dir           string
	base, rt, cnd plumbing.Hash
	queueDir      string
	mbox          string
}

func build(t *testing.T, sc scenario) built {
	t.Helper()
	dir := t.TempDir()
	r, err := fixtures.Init(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	var patches []fixtures.RTPatch
	for i, p := range sc.patches {
		patches = append(patches, fixtures.RTPatch{Msg: "rt patch " + string(rune('A'+i)) + "\n\nThe RT change.\n", Change: p})
	}
	base, tip, cnd, err := r.BuildRT(fixtures.RTRepo{Base: sc.base, BaseMsg: "base\n", Patches: patches, Cand: sc.cand, CandMsg: "stable candidate\n"})
	if err != nil {
		t.Fatal(err)
	}
	renames := "--no-renames"
	if sc.renames {
		renames = "-M"
	}
	b := built{dir: dir, base: base, rt: tip, cnd: cnd, queueDir: testkit.QuiltQueue(t, dir, "base..rt", renames), mbox: filepath.Join(t.TempDir(), "q.mbox")}
	mboxArgs := []string{"format-patch", "--stdout"}
	if sc.renames {
		mboxArgs = append(mboxArgs, "-M")
	}
	out, err := testkit.RunGit(t, dir, nil, append(mboxArgs, "base..rt")...)
	if err != nil {
		t.Fatalf("format-patch --stdout: %v", err)
	}
	if err := os.WriteFile(b.mbox, []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
	return b
}

// gitAm3 runs `git am -3` of the queue on the candidate in a worktree and
// returns the resulting tree, or ok=false when git am stopped.
func gitAm3(t *testing.T, b built) (tree string, ok bool) {
	t.Helper()
	wt := filepath.Join(t.TempDir(), "wt")
	if out, err := testkit.RunGit(t, b.dir, nil, "worktree", "add", "-q", "--detach", wt, "cand"); err != nil {
		t.Fatalf("worktree: %v\n%s", err, out)
	}
	names, _ := filepath.Glob(filepath.Join(b.queueDir, "*.patch"))
	if out, err := testkit.RunGit(t, wt, nil, append([]string{"am", "-q", "-3"}, names...)...); err != nil {
		_, _ = testkit.RunGit(t, wt, nil, "am", "--abort")
		t.Logf("git am -3 stopped: %s", strings.TrimSpace(out))
		return "", false
	}
	out, err := testkit.RunGit(t, wt, nil, "rev-parse", "HEAD^{tree}")
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(out), true
}

func fixedNow() time.Time { return time.Date(2026, 2, 2, 2, 2, 2, 0, time.UTC) }

// TestRebaseMatchesGitAm3 rebases each scenario's queue in every form rtbot
// takes it and checks the result against `git am -3` of the same queue:
// the outcomes the scenario expects, and where git am applies everything,
// the same tree, in commits git reads.
func TestRebaseMatchesGitAm3(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed; the comparison needs git am")
	}
	for _, sc := range scenarios() {
		t.Run(sc.name, func(t *testing.T) {
			b := build(t, sc)
			eng, err := merger.Open(b.dir, merger.Options{Now: fixedNow})
			if err != nil {
				t.Fatal(err)
			}
			defer eng.Close()
			amTree, amOK := gitAm3(t, b)
			wantClean := true
			for _, w := range sc.want {
				wantClean = wantClean && w.Clean()
			}
			if amOK != wantClean {
				t.Fatalf("git am -3 clean=%v, but the scenario expects clean=%v", amOK, wantClean)
			}
			for form, run := range rebaseForms(t, eng, sc, b) {
				res, err := run()
				if err != nil {
					t.Fatalf("%s: %v", form, err)
				}
				checkOutcomes(t, form, res, sc, amOK)
				if amOK {
					checkAsGitAm(t, eng, b, form, res, amTree)
				}
			}
		})
	}
}

// rebaseForms returns, by name, the ways rtbot takes the queue of b, each
// rebasing it onto the candidate with eng: the quilt directory or the mbox
// materialised on the base, the git range base..rt, and the quilt
// directory applied onto the candidate without a base.
func rebaseForms(t *testing.T, eng *merger.Engine, sc scenario, b built) map[string]func() (*merger.Result, error) {
	ctx := context.Background()
	return map[string]func() (*merger.Result, error){
		"quilt+base": func() (*merger.Result, error) {
			q, err := patchqueue.Open(b.queueDir, patchqueue.DefaultLimits())
			if err != nil {
				return nil, err
			}
			return rebaseFromBase(ctx, eng, q, b)
		},
		"mbox+base": func() (*merger.Result, error) {
			q, err := patchqueue.Open(b.mbox, patchqueue.DefaultLimits())
			if err != nil {
				return nil, err
			}
			if len(q.Patches) != len(sc.patches) {
				t.Errorf("mbox has %d patches, want %d", len(q.Patches), len(sc.patches))
			}
			return rebaseFromBase(ctx, eng, q, b)
		},
		"git range": func() (*merger.Result, error) {
			_, steps, base, err := eng.ReadRange(ctx, patchqueue.Range{Base: "base", Tip: "rt"})
			if err != nil {
				return nil, err
			}
			if base != b.base {
				t.Errorf("range base = %s, want %s", base, b.base)
			}
			return eng.Rebase(ctx, steps, base, b.cnd)
		},
		"quilt without base": func() (*merger.Result, error) {
			q, err := patchqueue.Open(b.queueDir, patchqueue.DefaultLimits())
			if err != nil {
				return nil, err
			}
			return eng.ApplyOnto(ctx, q, b.cnd)
		},
	}
}

// rebaseFromBase materialises q on the base of b and rebases it onto the
// candidate.
func rebaseFromBase(ctx context.Context, eng *merger.Engine, q *patchqueue.Queue, b built) (*merger.Result, error) {
	steps, err := eng.Materialise(ctx, q, b.base)
	if err != nil {
		return nil, err
	}
	return eng.Rebase(ctx, steps, b.base, b.cnd)
}

// checkOutcomes checks the outcome of each patch of res, the rebase of one
// form, against the scenario's, and that it is clean exactly when git am
// -3 was (amOK).
func checkOutcomes(t *testing.T, form string, res *merger.Result, sc scenario, amOK bool) {
	t.Helper()
	var got []merger.Outcome
	for _, p := range res.Patches {
		got = append(got, p.Outcome)
	}
	if !equalOutcomes(got, sc.want) {
		t.Errorf("%s: outcomes %v, want %v", form, got, sc.want)
	}
	if res.Clean() != amOK {
		t.Errorf("%s: clean=%v but git am -3 clean=%v", form, res.Clean(), amOK)
	}
}

// checkAsGitAm checks that the clean rebase res of one form made the tree
// git am -3 made (amTree), in commits git fsck accepts and git log reads,
// in the repository of b.
func checkAsGitAm(t *testing.T, eng *merger.Engine, b built, form string, res *merger.Result, amTree string) {
	t.Helper()
	c, err := eng.Repository().CommitObject(res.Head)
	if err != nil {
		t.Fatal(err)
	}
	if c.TreeHash.String() != amTree {
		t.Errorf("%s: tree %s, git am -3 made %s", form, c.TreeHash, amTree)
	}
	// git itself must be able to read what rtbot wrote.
	if out, err := testkit.RunGit(t, b.dir, nil, "fsck", "--no-dangling", "--strict", res.Head.String()); err != nil || strings.TrimSpace(out) != "" {
		t.Errorf("%s: git fsck: %v\n%s", form, err, out)
	}
	if out, err := testkit.RunGit(t, b.dir, nil, "log", "--format=%an|%s", "cand.."+res.Head.String()); err != nil || !strings.Contains(out, "Fixture Author|rt patch A") {
		t.Errorf("%s: git log of the result: %v\n%s", form, err, out)
	}
}

func equalOutcomes(a, b []merger.Outcome) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
