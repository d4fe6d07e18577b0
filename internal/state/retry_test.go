package state

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// TestRetryAction: `rtbot action --retry` on an action interrupted while
// committing records it failed, for its unfinished run to retry; on one
// that failed for good in a finished run (a refused report) it reopens the
// run and its announcement, so the next pass retries it; a done one is
// refused.
func TestRetryAction(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	mustRecord(t, s, "a1@kernel.org")
	r := mustStart(t, s, spec("a1@kernel.org", "6.1-rt", "c0ffee"))
	a, _, err := s.Intend(ctx, r.ID, ActionMail, "report@x")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Committing(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.RetryAction(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	if got, _ := getAction(ctx, s.db, a.ID); got.State != ActionFailed || got.LastError != "an operator asked for a retry" {
		t.Errorf("interrupted action after RetryAction: %+v", got)
	}

	// Refused for good: the run finished without it.
	if _, _, err := s.Intend(ctx, r.ID, ActionMail, "report@x"); err != nil {
		t.Fatal(err)
	}
	if err := s.Failed(ctx, a.ID, errors.New("554 refused")); err != nil {
		t.Fatal(err)
	}
	if err := s.FinishRun(ctx, r.ID, RunResult{Outcome: OutcomeManual}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetAnnouncementStatus(ctx, "a1@kernel.org", AnnouncementDone); err != nil {
		t.Fatal(err)
	}
	if err := s.RetryAction(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	run, _ := getRun(ctx, s.db, r.ID)
	ann, _ := s.Announcement(ctx, "a1@kernel.org")
	got, _ := getAction(ctx, s.db, a.ID)
	if run.Finished() || run.Attempts != 2 || ann.Status != AnnouncementProcessing || got.State != ActionFailed || got.LastError != "554 refused" {
		t.Errorf("after RetryAction: run %+v, announcement %s, action %+v", run, ann.Status, got)
	}
	if problems, err := s.Check(ctx); err != nil || len(problems) > 0 {
		t.Errorf("Check: %v %q", err, problems)
	}

	if err := s.Done(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.RetryAction(ctx, a.ID); err == nil {
		t.Error("a done action was retried")
	}
	if err := s.RetryAction(ctx, 999); !errors.Is(err, ErrNotFound) {
		t.Errorf("RetryAction of an unknown action: %v", err)
	}
}

// TestOutcomeJSON: an unfinished run has an outcome in JSON too.
func TestOutcomeJSON(t *testing.T) {
	for o, want := range map[Outcome]string{"": `"unfinished"`, OutcomeManual: `"manual"`} {
		if b, err := json.Marshal(Run{Outcome: o}); err != nil || !strings.Contains(string(b), `"Outcome":`+want) {
			t.Errorf("Run{Outcome: %q} in JSON: %s, %v; want Outcome %s", o, b, err, want)
		}
	}
}
