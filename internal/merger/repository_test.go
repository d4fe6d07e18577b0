package merger_test

import (
	"context"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/rtbot/rtbot/internal/fixtures"
	"github.com/rtbot/rtbot/internal/merger"
	"github.com/rtbot/rtbot/internal/patchqueue"
	"github.com/rtbot/rtbot/internal/testkit"
)

// TestAlternates: a repository that borrows its objects from another
// (`git clone --shared` or `--reference`, as kernel maintainers keep their
// trees) works as the repository it borrows from, whether the borrowed
// objects are packed or loose: rtbot resolves the tags, rebases the queue
// to the same tree, and leaves a repository git fsck finds sound. (That
// objstore.OpenRepository reads the borrowed objects is objstore's
// TestOpenRepositoryAlternates.)
func TestAlternates(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	rebase := func(repo, queue string) plumbing.Hash {
		t.Helper()
		eng, err := merger.Open(repo, merger.Options{Now: fixedNow})
		if err != nil {
			t.Fatal(err)
		}
		defer eng.Close()
		q, err := patchqueue.Open(queue, patchqueue.DefaultLimits())
		if err != nil {
			t.Fatal(err)
		}
		base, err := eng.RevParse("v6.1.11")
		if err != nil {
			t.Fatalf("%s: %v", repo, err)
		}
		onto, err := eng.RevParse("v6.1.12-rc1")
		if err != nil {
			t.Fatalf("%s: %v", repo, err)
		}
		res, err := eng.RebaseQueue(context.Background(), q, base, onto)
		if err != nil {
			t.Fatal(err)
		}
		if err := eng.UpdateBranch("rtbot/test", res.Head, plumbing.ZeroHash); err != nil {
			t.Fatal(err)
		}
		c, err := eng.Repository().CommitObject(res.Head)
		if err != nil {
			t.Fatal(err)
		}
		return c.TreeHash
	}
	for _, packed := range []bool{true, false} {
		name := map[bool]string{true: "packed", false: "loose"}[packed]
		t.Run(name, func(t *testing.T) {
			d, err := fixtures.BuildDemo(filepath.Join(t.TempDir(), "demo"))
			if err != nil {
				t.Fatal(err)
			}
			shared := testkit.SharedClone(t, d.Repo, packed)
			want := rebase(d.Repo, d.Queue)
			if got := rebase(shared, d.Queue); got != want {
				t.Errorf("tree %s in the shared clone, %s in the repository it borrows from", got, want)
			}
			testkit.Git(t, shared, "fsck", "--strict", "--no-dangling", "--no-progress")
		})
	}
}
