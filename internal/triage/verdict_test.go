package triage

import (
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/rtbot/rtbot/internal/merger"
	"github.com/rtbot/rtbot/internal/patchqueue"
)

func pr(i int, out merger.Outcome, files ...merger.FileResult) *merger.PatchResult {
	return &merger.PatchResult{Patch: &patchqueue.Patch{Index: i, Name: "p", Subject: "s"}, Outcome: out, Files: files}
}

func TestClassify(t *testing.T) {
	applied := merger.FileResult{Path: "a.c", Outcome: merger.Applied, Detail: "applied exactly"}
	merged := merger.FileResult{Path: "b.c", Outcome: merger.Merged, Detail: "3-way"}
	conflict := merger.FileResult{Path: "c.c", Outcome: merger.Conflict, Detail: "1 conflicting region"}
	missing := merger.FileResult{Path: "d.c", Outcome: merger.Missing, Detail: "gone"}
	present := merger.FileResult{Path: "e.c", Outcome: merger.Present, Unchanged: true, Detail: "already there"}
	unchangedMerge := merger.FileResult{Path: "f.c", Outcome: merger.Merged, Unchanged: true}
	fuzzed := merger.FileResult{Path: "g.c", Outcome: merger.Applied, Hunks: []patchqueue.HunkResult{{Index: 1, Fuzz: 1}}}
	tests := []struct {
		name   string
		p      *merger.PatchResult
		status Status
		action Action
		reason string
	}{
		{"applied", pr(1, merger.Applied, applied), Applied, None, "applied exactly"},
		{"merged is worst of applied+merged", pr(2, merger.Merged, applied, merged), Merged, None, "b.c: 3-way"},
		{"conflict beats merged", pr(3, merger.Conflict, merged, conflict), Conflict, Refresh, "c.c"},
		{"missing file", pr(4, merger.Missing, applied, missing), MissingFile, Refresh, "d.c: gone"},
		{"all present is already-applied", pr(5, merger.Applied, present, unchangedMerge), AlreadyApplied, Drop, "already in the candidate"},
		{"partly present is not already-applied", pr(6, merger.Applied, present, applied), Applied, None, ""},
		{"empty patch", &merger.PatchResult{Patch: &patchqueue.Patch{Index: 7}, Outcome: merger.Applied, Empty: true, Files: []merger.FileResult{applied}}, AlreadyApplied, Drop, ""},
		{"fuzz needs review", pr(8, merger.Applied, fuzzed), Fuzz, Review, ""},
		{"malformed", &merger.PatchResult{Patch: &patchqueue.Patch{Index: 9}, Outcome: merger.Malformed, Err: "q.patch:3: bad"}, Malformed, Fix, "q.patch:3: bad"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.p.Commit = plumbing.NewHash("1111111111111111111111111111111111111111")
			got := Classify(&merger.Result{Patches: []*merger.PatchResult{tc.p}})
			if len(got) != 1 {
				t.Fatalf("%d reports", len(got))
			}
			r := got[0]
			if r.Status != tc.status || r.Action != tc.action {
				t.Errorf("status %s action %s, want %s %s", r.Status, r.Action, tc.status, tc.action)
			}
			if !strings.Contains(r.Reason, tc.reason) {
				t.Errorf("reason %q lacks %q", r.Reason, tc.reason)
			}
			if r.CausedBy == nil {
				t.Error("caused_by must be an empty list, not null")
			}
		})
	}
}

func TestSummariseAndRank(t *testing.T) {
	ps := []PatchReport{{Status: Applied}, {Status: Merged}, {Status: Conflict}, {Status: AlreadyApplied}, {Status: Conflict}, {Status: Resolved}}
	s := Summarise(ps)
	if s.Total != 6 || s.Clean != 3 || s.Attention != 3 || s.ByStatus[Conflict] != 2 || s.ByStatus[Resolved] != 1 {
		t.Errorf("summary %+v", s)
	}
	order := []Status{Applied, Merged, Resolved, Fuzz, AlreadyApplied, Superseded, Blocked, Conflict, MissingFile, Malformed}
	for i := 1; i < len(order); i++ {
		if Rank(order[i-1]) >= Rank(order[i]) {
			t.Errorf("%s should rank below %s", order[i-1], order[i])
		}
		if Worse(order[i-1], order[i]) != order[i] || Worse(order[i], order[i-1]) != order[i] {
			t.Errorf("Worse(%s, %s) wrong", order[i-1], order[i])
		}
	}
}
