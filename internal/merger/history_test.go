package merger_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/rtbot/rtbot/internal/fixtures"
	"github.com/rtbot/rtbot/internal/merger"
)

// stableHistory builds a base and n candidate commits on it: every commit
// changes an unrelated file, and commit culprit also changes line 40 of
// kernel/sched/core.c.
func stableHistory(tb testing.TB, n, culprit int) (dir string, base, onto plumbing.Hash) {
	tb.Helper()
	dir = tb.TempDir()
	r, err := fixtures.Init(dir, true)
	if err != nil {
		tb.Fatal(err)
	}
	tree := fixtures.Tree{
		"kernel/sched/core.c": {Content: fixtures.Lines("sched_line", 200)},
		"drivers/net/foo.c":   {Content: fixtures.Lines("foo", 50)},
	}
	base, err = r.Commit(tree.Clone(), "base\n")
	if err != nil {
		tb.Fatal(err)
	}
	tip := base
	for i := 1; i <= n; i++ {
		tree["drivers/net/foo.c"] = fixtures.File{Content: fixtures.Lines(fmt.Sprintf("foo v%d", i), 50)}
		if i == culprit {
			c := tree["kernel/sched/core.c"]
			c.Content = strings.Replace(c.Content, "sched_line 40\n", "changed by stable 40\n", 1)
			tree["kernel/sched/core.c"] = c
		}
		if i == culprit+1 {
			// Shift the lines below the culprit's change: the region must be
			// tracked back through it.
			c := tree["kernel/sched/core.c"]
			c.Content = "/* header */\n/* more */\n" + c.Content
			tree["kernel/sched/core.c"] = c
		}
		if tip, err = r.Commit(tree.Clone(), fmt.Sprintf("stable commit %d\n", i), tip); err != nil {
			tb.Fatal(err)
		}
	}
	return dir, base, tip
}

func TestTouchingNamesTheCulprit(t *testing.T) {
	dir, base, onto := stableHistory(t, 60, 25)
	eng, err := merger.Open(dir, merger.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	// Line 40 of the base is line 42 in the candidate (two header lines).
	refs, err := eng.Touching(context.Background(), base, onto, "kernel/sched/core.c", 42, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(refs) != 1 || refs[0].Subject != "stable commit 25" {
		t.Errorf("causes %v, want only stable commit 25", refs)
	}
	refs, err = eng.Touching(context.Background(), base, onto, "kernel/sched/core.c", 150, 3)
	if err != nil || len(refs) != 0 {
		t.Errorf("untouched lines: causes %v, err %v", refs, err)
	}
}

// BenchmarkTouching500 walks a 500-commit candidate history for the cause
// of one changed line: go test ./merger -run '^$' -bench Touching.
func BenchmarkTouching500(b *testing.B) {
	dir, base, onto := stableHistory(b, 500, 250)
	eng, err := merger.Open(dir, merger.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer eng.Close()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		refs, err := eng.Touching(context.Background(), base, onto, "kernel/sched/core.c", 42, 1)
		if err != nil || len(refs) != 1 {
			b.Fatalf("causes %v, err %v", refs, err)
		}
	}
}
