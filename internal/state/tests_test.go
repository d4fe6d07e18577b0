package state

import (
	"context"
	"testing"
	"time"
)

func TestResultsMatchCheckoutsAndImportTwice(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	mustRecord(t, s, "a@example.org")
	run := mustStart(t, s, spec("a@example.org", "6.1-rt", "c1"))
	deadline := time.Date(2026, 12, 8, 10, 0, 0, 0, time.UTC)
	if err := s.ExpectResults(ctx, run.ID, []string{"rtbot:6.1-rt:x:1"}, []string{"build-test", "lab"}, deadline); err != nil {
		t.Fatal(err)
	}
	// Again, with a later deadline: the first one stays.
	if err := s.ExpectResults(ctx, run.ID, []string{"rtbot:6.1-rt:x:1"}, []string{"lab"}, deadline.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if id, ok, err := s.CheckoutRun(ctx, "rtbot:6.1-rt:x:1"); err != nil || !ok || id != run.ID {
		t.Fatalf("CheckoutRun = %d, %v, %v", id, ok, err)
	}
	if _, ok, _ := s.CheckoutRun(ctx, "rtbot:6.1-rt:x:2"); ok {
		t.Fatal("an unknown checkout has a run")
	}
	results := []TestResult{
		{Kind: "build", ID: "lab:b1", CheckoutID: "rtbot:6.1-rt:x:1", Status: "PASS"},
		{Kind: "test", ID: "lab:t1", CheckoutID: "rtbot:6.1-rt:x:1", BuildID: "lab:b1", Path: "rt.cyclictest", Status: "PASS", Latency: `{"max_us":40}`},
	}
	for i := 0; i < 2; i++ {
		if err := s.SaveResults(ctx, results, run.ID, "lab"); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.SaveResults(ctx, []TestResult{{Kind: "test", ID: "lab:t9", CheckoutID: "rtbot:other"}}, run.ID, ""); err == nil {
		t.Fatal("a result of an unknown checkout was saved")
	}
	if c, ok, err := s.BuildCheckout(ctx, "lab:b1"); err != nil || !ok || c != "rtbot:6.1-rt:x:1" {
		t.Fatalf("BuildCheckout = %q, %v, %v", c, ok, err)
	}
	due, err := s.FollowUpDue(ctx)
	if err != nil || len(due) != 1 {
		t.Fatalf("FollowUpDue = %+v, %v", due, err)
	}
	rt := due[0]
	if !rt.Deadline.Equal(deadline) || len(rt.Results) != 2 || rt.Complete() || len(rt.Missing()) != 1 || rt.Missing()[0] != "build-test" {
		t.Fatalf("run tests = %+v", rt)
	}
	if err := s.SetSourceHandle(ctx, run.ID, "lab", "https://ci/pipelines/7"); err != nil {
		t.Fatal(err)
	}
	if rt, _, _ := s.TestsOf(ctx, run.ID); len(rt.Sources) != 2 || rt.Sources[1].Handle != "https://ci/pipelines/7" || !rt.Sources[1].Complete {
		t.Fatalf("sources %+v", rt.Sources)
	}
	if err := s.SetFollowUp(ctx, run.ID, "f1@example.org", "passed"); err != nil {
		t.Fatal(err)
	}
	if err := s.SetFollowUp(ctx, run.ID, "f2@example.org", "failed"); err != nil {
		t.Fatal(err)
	}
	// Chosen but not sent: still due.
	if due, _ := s.FollowUpDue(ctx); len(due) != 1 || due[0].FollowUp != "f1@example.org" {
		t.Fatalf("due: %+v", due)
	}
	act, _, err := s.Intend(ctx, run.ID, ActionMail, "f1@example.org")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Done(ctx, act.ID); err != nil {
		t.Fatal(err)
	}
	if due, _ := s.FollowUpDue(ctx); len(due) != 0 {
		t.Fatalf("still due: %+v", due)
	}
	rt, ok, err := s.TestsOf(ctx, run.ID)
	if err != nil || !ok || rt.FollowUp != "f1@example.org" || rt.Verdict != "failed" {
		t.Fatalf("TestsOf = %+v, %v, %v", rt, ok, err)
	}
}

func TestPreviousTested(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	mustRecord(t, s, "a@example.org")
	first := mustStart(t, s, spec("a@example.org", "6.1-rt", "c1"))
	second := mustStart(t, s, spec("a@example.org", "6.1-rt", "c2"))
	for _, r := range []Run{first, second} {
		if err := s.FinishRun(ctx, r.ID, RunResult{Outcome: OutcomeClean}); err != nil {
			t.Fatal(err)
		}
	}
	if _, ok, err := s.PreviousTested(ctx, "6.1-rt", second.ID); err != nil || ok {
		t.Fatalf("PreviousTested without results = %v, %v", ok, err)
	}
	if err := s.ExpectResults(ctx, first.ID, []string{"rtbot:c1"}, nil, time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveResults(ctx, []TestResult{{Kind: "test", ID: "lab:t", CheckoutID: "rtbot:c1", Latency: `{"max_us":1}`}}, first.ID, ""); err != nil {
		t.Fatal(err)
	}
	prev, ok, err := s.PreviousTested(ctx, "6.1-rt", second.ID)
	if err != nil || !ok || prev.ID != first.ID {
		t.Fatalf("PreviousTested = %+v, %v, %v", prev, ok, err)
	}
	if _, ok, _ := s.PreviousTested(ctx, "5.15-rt", second.ID); ok {
		t.Fatal("a run of another tree was taken")
	}
}
