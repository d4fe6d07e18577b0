package merger_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"testing"

	"github.com/rtbot/rtbot/internal/fixtures"
	"github.com/rtbot/rtbot/internal/merger"
	"github.com/rtbot/rtbot/internal/patchqueue"
)

// TestStepHook checks Options.Step sees every patch of a rebase and that
// an error from it stops the rebase before anything is written.
func TestStepHook(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	r, err := fixtures.Init(dir, true)
	if err != nil {
		t.Fatal(err)
	}
	base := fixtures.Tree{"kernel/core.c": {Content: fixtures.Lines("line", 40)}}
	b, _ := r.Commit(base, "base\n")
	tip := b
	tree := base.Clone()
	for i := 1; i <= 3; i++ {
		tree.Edit("kernel/core.c", fmt.Sprintf("line %d\n", i*10), fmt.Sprintf("rt %d\n", i*10))
		tip, _ = r.Commit(tree.Clone(), fmt.Sprintf("rt: change %d\n", i), tip)
	}
	cand, _ := r.Commit(base.Clone(), "stable\n", b)
	r.Tag("v1", b)
	r.Branch("rt", tip)

	var seen []string
	stop := errors.New("stop here")
	objects := func() int {
		n := 0
		filepath.WalkDir(filepath.Join(dir, "objects"), func(_ string, d fs.DirEntry, _ error) error {
			if d != nil && !d.IsDir() {
				n++
			}
			return nil
		})
		return n
	}
	before := objects()
	for _, stopAt := range []int{2, 0} {
		seen = nil
		eng, err := merger.Open(dir, merger.Options{Now: fixedNow, Step: func(done, total int) error {
			seen = append(seen, fmt.Sprintf("%d/%d", done, total))
			if done == stopAt {
				return stop
			}
			return nil
		}})
		if err != nil {
			t.Fatal(err)
		}
		_, steps, baseHash, err := eng.ReadRange(ctx, patchqueue.Range{Base: "v1", Tip: "rt"})
		if err != nil {
			t.Fatal(err)
		}
		res, err := eng.Rebase(ctx, steps, baseHash, cand)
		eng.Close()
		switch stopAt {
		case 0:
			if err != nil || !slices.Equal(seen, []string{"1/3", "2/3", "3/3"}) || len(res.Patches) != 3 {
				t.Fatalf("full rebase: err %v, steps %v", err, seen)
			}
		default:
			if !errors.Is(err, stop) || !slices.Equal(seen, []string{"1/3", "2/3"}) {
				t.Fatalf("stopped rebase: err %v, steps %v; want the hook's error after 2/3", err, seen)
			}
			// A stopped rebase writes nothing to the repository.
			if n := objects(); n != before {
				t.Errorf("the stopped rebase left %d files under objects/, want %d", n, before)
			}
		}
	}
	if n := objects(); n == before {
		t.Errorf("the full rebase wrote nothing under objects/")
	}
}
