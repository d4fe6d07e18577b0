package triage_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/rtbot/rtbot/internal/fixtures"
	"github.com/rtbot/rtbot/internal/merger"
	"github.com/rtbot/rtbot/internal/patchqueue"
	"github.com/rtbot/rtbot/internal/triage"
)

// scenario: a base, a queue of edits, and a candidate made of several
// commits on the base (so causes can be told apart).
type scenario struct {
	name    string
	patches []func(fixtures.Tree)
	// stable is the candidate's history: each commit edits the tree left by
	// the previous one; its message's first line is the subject.
	stable []struct {
		msg  string
		edit func(fixtures.Tree)
	}
	want      []triage.Status
	action    []triage.Action
	reason    []string // substring of each patch's reason ("" to skip)
	causedBy  []string // subject expected in caused_by of the first unclean patch
	blockedBy string
}

type commit = struct {
	msg  string
	edit func(fixtures.Tree)
}

func base() fixtures.Tree {
	return fixtures.Tree{
		"kernel/sched/core.c": {Content: fixtures.Lines("sched_line", 80)},
		"mm/slab.c":           {Content: fixtures.Lines("slab_line", 40)},
		"drivers/old.c":       {Content: fixtures.Lines("old_driver_line", 30)},
	}
}

func scenarios() []scenario {
	noise := commit{"mm: unrelated stable fix", func(t fixtures.Tree) { t.Edit("mm/slab.c", "slab_line 3\n", "slab_line 3 fixed\n") }}
	return []scenario{
		{
			name:    "verbatim backport is already-applied",
			patches: []func(fixtures.Tree){func(t fixtures.Tree) { t.Edit("kernel/sched/core.c", "sched_line 40\n", "rt_sched_line 40\n") }},
			stable: []commit{noise,
				{"sched: backport of the RT fix", func(t fixtures.Tree) {
					t.Edit("kernel/sched/core.c", "sched_line 40\n", "rt_sched_line 40\n")
				}},
				{"sched: later change nearby", func(t fixtures.Tree) { t.Edit("kernel/sched/core.c", "sched_line 43\n", "stable_sched_line 43\n") }},
			},
			want: []triage.Status{triage.AlreadyApplied}, action: []triage.Action{triage.Drop},
		},
		{
			name: "backport in substance (re-indented, extra line) is already-applied",
			patches: []func(fixtures.Tree){func(t fixtures.Tree) {
				t.Edit("kernel/sched/core.c", "sched_line 40\nsched_line 41\n", "if (preempt_rt_enabled())\n\tmigrate_disable_rt(cpu);\nsched_line 41\n")
			}},
			stable: []commit{noise,
				{"sched: backport with a comment", func(t fixtures.Tree) {
					t.Edit("kernel/sched/core.c", "sched_line 39\nsched_line 40\nsched_line 41\n",
						"sched_line 39 changed\n/* from RT */\n    if (preempt_rt_enabled())\n        migrate_disable_rt(cpu);\nsched_line 41\n")
				}},
			},
			want: []triage.Status{triage.AlreadyApplied}, action: []triage.Action{triage.Drop},
			reason: []string{"in substance"}, causedBy: []string{"sched: backport with a comment"},
		},
		{
			name:    "lines deleted upstream is superseded",
			patches: []func(fixtures.Tree){func(t fixtures.Tree) { t.Edit("kernel/sched/core.c", "sched_line 50\n", "rt_sched_line 50\n") }},
			stable: []commit{noise,
				{"sched: remove dead code", func(t fixtures.Tree) {
					t.Edit("kernel/sched/core.c", "sched_line 48\nsched_line 49\nsched_line 50\nsched_line 51\nsched_line 52\n", "")
				}},
			},
			want: []triage.Status{triage.Superseded}, action: []triage.Action{triage.Drop},
			causedBy: []string{"sched: remove dead code"},
		},
		{
			name:    "overlapping edit is a conflict with its cause",
			patches: []func(fixtures.Tree){func(t fixtures.Tree) { t.Edit("kernel/sched/core.c", "sched_line 60\n", "rt_sched_line 60\n") }},
			stable: []commit{
				{"sched: fix line 60 differently", func(t fixtures.Tree) { t.Edit("kernel/sched/core.c", "sched_line 60\n", "stable_sched_line 60\n") }},
				noise,
				{"sched: unrelated change far away", func(t fixtures.Tree) { t.Edit("kernel/sched/core.c", "sched_line 5\n", "stable_sched_line 5\n") }},
			},
			want: []triage.Status{triage.Conflict}, action: []triage.Action{triage.Refresh},
			causedBy: []string{"sched: fix line 60 differently"},
		},
		{
			name:    "deleted file is missing-file, caused by the deleting commit",
			patches: []func(fixtures.Tree){func(t fixtures.Tree) { t.Edit("drivers/old.c", "old_driver_line 10\n", "rt_old_driver_line 10\n") }},
			stable: []commit{noise,
				{"drivers: remove the old driver", func(t fixtures.Tree) { delete(t, "drivers/old.c") }},
			},
			want: []triage.Status{triage.MissingFile}, action: []triage.Action{triage.Refresh},
			causedBy: []string{"drivers: remove the old driver"},
		},
		{
			name: "chain: the second patch is blocked by the first",
			patches: []func(fixtures.Tree){
				func(t fixtures.Tree) { t.Edit("kernel/sched/core.c", "sched_line 60\n", "rt_sched_line 60 lazy\n") },
				func(t fixtures.Tree) {
					t.Edit("kernel/sched/core.c", "rt_sched_line 60 lazy\n", "rt_sched_line 60 lazy\nrt_sched_extra 60\n")
				},
				func(t fixtures.Tree) { t.Edit("mm/slab.c", "slab_line 30\n", "rt_slab_line 30\n") },
			},
			stable: []commit{{"sched: fix line 60 differently", func(t fixtures.Tree) {
				t.Edit("kernel/sched/core.c", "sched_line 60\n", "stable_sched_line 60\n")
			}}},
			want:      []triage.Status{triage.Conflict, triage.Blocked, triage.Applied},
			action:    []triage.Action{triage.Refresh, triage.None, triage.None},
			blockedBy: "0001",
		},
	}
}

type engineSource struct {
	*merger.Engine
}

func run(t *testing.T, sc scenario, opts triage.Options) ([]triage.PatchReport, *merger.Result) {
	return runWith(t, sc, opts, merger.Options{})
}

func runWith(t *testing.T, sc scenario, opts triage.Options, mopts merger.Options) ([]triage.PatchReport, *merger.Result) {
	t.Helper()
	dir := t.TempDir()
	r, err := fixtures.Init(dir, true)
	if err != nil {
		t.Fatal(err)
	}
	b := base()
	bh, err := r.Commit(b, "base\n")
	if err != nil {
		t.Fatal(err)
	}
	q := &patchqueue.Queue{}
	cur := b.Clone()
	for i, p := range sc.patches {
		next := cur.Clone()
		p(next)
		var changes []patchqueue.FileChange
		for path, f := range next {
			if cur[path].Content != f.Content {
				changes = append(changes, patchqueue.FileChange{Path: path, Old: cur[path].Content, New: f.Content})
			}
		}
		pt := patchqueue.NewPatch("rt patch", "", "RT", "rt@example.org", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), changes)
		pt.Index, pt.Name = i+1, "000"+string(rune('1'+i))
		q.Patches = append(q.Patches, pt)
		cur = next
	}
	tree, tip := b.Clone(), bh
	for _, c := range sc.stable {
		c.edit(tree)
		if tip, err = r.Commit(tree.Clone(), c.msg+"\n", tip); err != nil {
			t.Fatal(err)
		}
	}
	eng, err := merger.Open(dir, mopts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close() })
	ctx := context.Background()
	steps, err := eng.Materialise(ctx, q, bh)
	if err != nil {
		t.Fatal(err)
	}
	res, err := eng.Rebase(ctx, steps, bh, tip)
	if err != nil {
		t.Fatal(err)
	}
	reps, err := triage.Triage(ctx, res, engineSource{eng}, opts)
	if err != nil {
		t.Fatal(err)
	}
	return reps, res
}

func TestTriage(t *testing.T) {
	for _, sc := range scenarios() {
		t.Run(sc.name, func(t *testing.T) {
			reps, _ := run(t, sc, triage.Options{})
			if len(reps) != len(sc.want) {
				t.Fatalf("%d reports, want %d", len(reps), len(sc.want))
			}
			for i, r := range reps {
				if r.Status != sc.want[i] || r.Action != sc.action[i] {
					t.Errorf("patch %d: %s/%s (%s), want %s/%s", i+1, r.Status, r.Action, r.Reason, sc.want[i], sc.action[i])
				}
				if i < len(sc.reason) && !strings.Contains(r.Reason, sc.reason[i]) {
					t.Errorf("patch %d reason %q lacks %q", i+1, r.Reason, sc.reason[i])
				}
			}
			if len(sc.causedBy) > 0 {
				got := strings.Join(reps[0].CausedBy, " | ")
				for _, c := range sc.causedBy {
					if !strings.Contains(got, c) {
						t.Errorf("caused_by %q lacks %q", got, c)
					}
				}
				if strings.Contains(got, "unrelated") {
					t.Errorf("caused_by %q names an unrelated commit", got)
				}
			}
			if sc.blockedBy != "" {
				if reps[1].BlockedBy != sc.blockedBy || !strings.Contains(reps[1].Reason, sc.blockedBy) {
					t.Errorf("blocked_by %q reason %q, want %s", reps[1].BlockedBy, reps[1].Reason, sc.blockedBy)
				}
			}
		})
	}
}

func TestTriageDropApplied(t *testing.T) {
	sc := scenarios()[0]
	reps, _ := run(t, sc, triage.Options{DropApplied: true})
	if !reps[0].Dropped || reps[0].Action != "dropped" {
		t.Fatalf("report %+v", reps[0])
	}
	s := triage.Summarise(reps)
	if s.Dropped != 1 || s.Attention != 0 {
		t.Errorf("summary %+v: a dropped patch must not need attention", s)
	}
}

// TestTriageFuzz: a context line changed next to the patch's change. By
// default the 3-way merge takes it (merged); with --fuzz 1 the hunk applies
// ignoring that context line, and the patch is reported as fuzz, for review.
func TestTriageFuzz(t *testing.T) {
	sc := scenario{
		patches: []func(fixtures.Tree){func(t fixtures.Tree) { t.Edit("kernel/sched/core.c", "sched_line 40\n", "rt_sched_line 40\n") }},
		stable: []commit{{"sched: touch a context line", func(t fixtures.Tree) {
			t.Edit("kernel/sched/core.c", "sched_line 43\n", "stable_sched_line 43\n")
		}}},
	}
	reps, _ := run(t, sc, triage.Options{})
	if reps[0].Status != triage.Merged || reps[0].Action != triage.None {
		t.Errorf("without fuzz: %s/%s, want merged/none", reps[0].Status, reps[0].Action)
	}
	reps, res := runWith(t, sc, triage.Options{}, merger.Options{Fuzz: 1})
	if reps[0].Status != triage.Fuzz || reps[0].Action != triage.Review {
		t.Errorf("with fuzz 1: %s/%s (%s), want fuzz/review", reps[0].Status, reps[0].Action, reps[0].Reason)
	}
	if h := res.Patches[0].Files[0].Hunks[0]; h.Fuzz != 1 {
		t.Errorf("hunk fuzz = %d, want 1", h.Fuzz)
	}
}
