package state

import (
	"context"
	"slices"
	"testing"
)

// TestRecordPreflight: a problem is remembered from the first preflight
// that finds it until one that runs its step and does not; a problem whose
// step did not run stays; one that comes back is new, not mailed.
func TestRecordPreflight(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	queue := PreflightProblem{ID: "q", Step: "tree 6.1-rt queue", Key: "tree[0].queue", Text: "tree[0].queue: no series"}
	imap := PreflightProblem{ID: "i", Step: "imap", Key: "imap.addr", Text: "imap.addr: refused", Transient: true}
	both := []string{queue.Step, imap.Step}
	ids := func(ps []PreflightProblem) []string {
		var out []string
		for _, p := range ps {
			out = append(out, p.ID)
		}
		return out
	}
	for i, step := range []struct {
		ran             []string
		found           []PreflightProblem
		mail            []string // mailed after the step
		now, gone, sent []string
	}{
		{ran: both, found: []PreflightProblem{queue, imap}, mail: []string{"q"}, now: []string{"i", "q"}, sent: []string{"q"}},
		{ran: both, found: []PreflightProblem{queue, imap}, now: []string{"i", "q"}, sent: []string{"q"}},
		{ran: []string{imap.Step}, found: nil, now: []string{"q"}, gone: []string{"i"}, sent: []string{"q"}}, // the queue's step did not run
		{ran: both, found: nil, gone: []string{"q"}},
		{ran: both, found: []PreflightProblem{queue}, now: []string{"q"}}, // back: not mailed
	} {
		now, gone, err := s.RecordPreflight(ctx, step.ran, step.found)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.PreflightMailed(ctx, step.mail); err != nil {
			t.Fatal(err)
		}
		all, err := s.PreflightProblems(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var sent []string
		for _, p := range all {
			if p.Mailed() {
				sent = append(sent, p.ID)
			}
		}
		if !slices.Equal(ids(now), step.now) || !slices.Equal(ids(gone), step.gone) || !slices.Equal(ids(all), step.now) || !slices.Equal(sent, step.sent) {
			t.Errorf("step %d: now %v gone %v mailed %v; want %v, %v, %v", i, ids(now), ids(gone), sent, step.now, step.gone, step.sent)
		}
		if i == 1 && (!now[0].Transient || !now[0].LastSeen.After(now[0].FirstSeen) || now[1].Text != queue.Text) {
			t.Errorf("step 1: %+v: want the transient problem seen first at step 0 and again now", now)
		}
	}
}
