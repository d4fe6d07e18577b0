package merger_test

import (
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/rtbot/rtbot/internal/fixtures"
)

func refs(t *testing.T, r *fixtures.Repo) map[string]string {
	t.Helper()
	it, err := r.Repo.Storer.IterReferences()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	_ = it.ForEach(func(ref *plumbing.Reference) error {
		out[ref.Name().String()] = ref.Hash().String() + string(ref.Target())
		return nil
	})
	return out
}

// TestBareRepositoryAndBranchCAS rebases in a bare repository and checks
// that only the named branch moves, and only from where it was.
func TestBareRepositoryAndBranchCAS(t *testing.T) {
	dir := t.TempDir()
	r, err := fixtures.Init(dir, true)
	if err != nil {
		t.Fatal(err)
	}
	base := fixtures.Tree{"kernel/core.c": {Content: fixtures.Lines("line", 20)}}
	b, _ := r.Commit(base, "base\n")
	rtTree := base.Clone()
	rtTree.Edit("kernel/core.c", "line 10\n", "rt 10\n")
	rt, _ := r.Commit(rtTree, "rt: change line 10\n", b)
	candTree := base.Clone()
	candTree.Edit("kernel/core.c", "line 1\n", "stable 1\n")
	cand, _ := r.Commit(candTree, "stable\n", b)
	r.Tag("v1", b)
	r.Tag("v2-rc1", cand)
	r.Branch("rt", rt)
	before := refs(t, r)

	eng, res := rebaseRT(t, dir, cand, nil)
	if !res.Clean() || res.Head == cand {
		t.Fatalf("rebase not clean: %+v", res.Patches[0])
	}
	snap, err := r.Snapshot(res.Head)
	if err != nil {
		t.Fatal(err)
	}
	if c := snap["kernel/core.c"].Content; !strings.Contains(c, "stable 1\n") || !strings.Contains(c, "rt 10\n") {
		t.Errorf("result lacks one side:\n%s", c)
	}
	if err := eng.UpdateBranch("rtbot/v2-rc1", res.Head, plumbing.ZeroHash); err != nil {
		t.Fatal(err)
	}
	after := refs(t, r)
	if len(after) != len(before)+1 || after["refs/heads/rtbot/v2-rc1"] != res.Head.String() {
		t.Errorf("refs changed beyond the new branch:\nbefore %v\nafter  %v", before, after)
	}
	for k, v := range before {
		if after[k] != v {
			t.Errorf("ref %s moved from %s to %s", k, v, after[k])
		}
	}
	// Compare-and-swap: a stale expectation must not move the branch.
	if err := eng.UpdateBranch("rtbot/v2-rc1", cand, plumbing.ZeroHash); err == nil {
		t.Error("creating an existing branch succeeded")
	}
	if err := eng.UpdateBranch("rtbot/v2-rc1", cand, b); err == nil || !strings.Contains(err.Error(), "meanwhile") {
		t.Errorf("stale old value: err = %v", err)
	}
	if err := eng.UpdateBranch("rtbot/v2-rc1", cand, res.Head); err != nil {
		t.Errorf("correct old value: %v", err)
	}
	if got := refs(t, r)["refs/heads/rtbot/v2-rc1"]; got != cand.String() {
		t.Errorf("branch at %s after CAS, want %s", got, cand)
	}
	if err := eng.UpdateBranch("../../HEAD", cand, plumbing.ZeroHash); err == nil {
		t.Error("accepted a branch name escaping refs/heads")
	}
	// Every object the result references exists.
	if err := reachable(r, res.Head); err != nil {
		t.Error(err)
	}
}

func reachable(r *fixtures.Repo, h plumbing.Hash) error {
	c, err := r.Repo.CommitObject(h)
	if err != nil {
		return err
	}
	t, err := c.Tree()
	if err != nil {
		return err
	}
	return t.Files().ForEach(func(f *object.File) error {
		_, err := f.Contents()
		return err
	})
}
