package merger_test

import (
	"context"
	"strings"
	"testing"

	"github.com/rtbot/rtbot/internal/merger"
	"github.com/rtbot/rtbot/internal/triage"
)

// TestLabProposalMatchesDebian is issue 16's real case: Debian's 6.1.176
// RT queue on v6.1.177 conflicts in 0040 (arch/arm/mm/fault.c), where
// 6.1.177 inserted the harden_branch_predictor() block exactly where the
// patch inserts local_irq_enable(). rtbot proposes both, the stable
// block first (rule both-insert), and the proposed branch's file is the
// one Debian's refreshed 6.1.177 queue has, blank lines aside (Debian's
// refresh also moved a blank line).
func TestLabProposalMatchesDebian(t *testing.T) {
	lab := labDir(t)
	old, eng := rebaseLabOnto177(t, lab, "6.1.176", "v6.1.176", nil)
	reps, err := triage.Triage(context.Background(), old.res, eng, triage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[int]bool{}
	for _, r := range reps {
		if r.Proposal != nil {
			want[r.Index] = true
			if !strings.HasPrefix(r.Name, "0040-") || r.Status != triage.Conflict || r.Action != triage.Review {
				t.Errorf("%s: %s/%s with a proposal, want only 0040 as conflict/review", r.Name, r.Status, r.Action)
			}
		}
	}
	head, done, skipped, err := eng.CommitProposals(context.Background(), old.res, func(p *merger.PatchResult) bool { return want[p.Patch.Index] })
	if err != nil || len(done) != 1 || len(skipped) != 0 {
		t.Fatalf("CommitProposals: %d done, %v skipped, %v", len(done), skipped, err)
	}
	if got := strings.Join(done[0].Rules, ","); got != merger.RuleBothInsert {
		t.Errorf("rules %s, want %s", got, merger.RuleBothInsert)
	}
	refreshed, refEng := rebaseLabOnto177(t, lab, "6.1.177", "v6.1.177", nil)
	_, debian := labFileAfter(t, refreshed, refEng)
	c, err := eng.Repository().CommitObject(head)
	if err != nil {
		t.Fatal(err)
	}
	f, err := c.File(labConflictFile)
	if err != nil {
		t.Fatal(err)
	}
	got, err := f.Contents()
	if err != nil {
		t.Fatal(err)
	}
	if noBlank(got) != noBlank(debian) {
		t.Errorf("%s on the proposed branch differs from Debian's refresh beyond blank lines:\n%s", labConflictFile, got)
	}
	if !strings.Contains(c.Message, "\nProposed-by: rtbot (rule: both-insert)\n") {
		t.Errorf("proposed commit's message lacks the trailer:\n%s", c.Message)
	}
}

// noBlank is text without its blank lines.
func noBlank(text string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.TrimSpace(l) != "" {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
