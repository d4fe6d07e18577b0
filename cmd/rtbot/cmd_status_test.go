package main

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/rtbot/rtbot/internal/config"
	"github.com/rtbot/rtbot/internal/pipeline"
	"github.com/rtbot/rtbot/internal/state"
)

// openConfigState opens the state file of the configuration at cfg.
func openConfigState(t *testing.T, cfg string) *state.Store {
	t.Helper()
	c, err := config.Load(cfg, pipeline.ConfigRules())
	if err != nil {
		t.Fatal(err)
	}
	st, err := state.Open(context.Background(), c.Bot.State)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// startRun records announcement id and starts a run of it.
func startRun(t *testing.T, st *state.Store, id string) state.Run {
	t.Helper()
	ctx := context.Background()
	if _, _, err := st.RecordAnnouncement(ctx, state.Announcement{MessageID: id, Kind: "stable-rc", Series: "6.1",
		Version: "6.1.13", RC: 1, Status: state.AnnouncementProcessing}); err != nil {
		t.Fatal(err)
	}
	r, _, err := st.StartRun(ctx, state.RunSpec{Announcement: id, Tree: "6.1-rt", Candidate: "c0ffee", QueueID: "q"})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// stuckReports records in st a report the server refused for good (its
// run is over) and one in doubt (interrupted while committing, its
// announcement failed), and returns their actions.
func stuckReports(t *testing.T, st *state.Store) (refused, doubt state.Action) {
	t.Helper()
	ctx := context.Background()
	r := startRun(t, st, "refused@x")
	refused, _, err := st.Intend(ctx, r.ID, state.ActionMail, "rtbot.refused@x")
	if err == nil {
		err = errors.Join(st.Failed(ctx, refused.ID, errors.New("smtp h:25: commit: 554 5.7.1 rejected as spam")),
			st.FinishRun(ctx, r.ID, state.RunResult{Outcome: state.OutcomeManual}),
			st.SetAnnouncementStatus(ctx, "refused@x", state.AnnouncementDone))
	}
	r2 := startRun(t, st, "doubt@x")
	doubt, _, err2 := st.Intend(ctx, r2.ID, state.ActionMail, "rtbot.doubt@x")
	if err := errors.Join(err, err2, st.Committing(ctx, doubt.ID),
		st.AnnouncementFailed(ctx, "doubt@x", errors.New("report <rtbot.doubt@x> may have arrived"))); err != nil {
		t.Fatal(err)
	}
	return refused, doubt
}

// TestStatusNeedsYou: `rtbot status` exits 3 while something failed or is
// stuck, saying for each what to do, and 0 once a human settled them.
func TestStatusNeedsYou(t *testing.T) {
	_, cfg := demoDir(t)
	refused, doubt := stuckReports(t, openConfigState(t, cfg))
	runCases(t, []cliCase{
		{[]string{"status", "--config", cfg}, exitManual, []string{
			"FAILED", "554 5.7.1 rejected as spam", fmt.Sprintf("rtbot action --config %s --retry %d", cfg, refused.ID),
			"INTERRUPTED WHILE COMMITTING", fmt.Sprintf("rtbot action --config %s --done %d", cfg, doubt.ID),
			"2 thing(s) need you", "state check: ok", "!STATE PROBLEM",
			"!FAILING"}}, // the report in doubt is what the announcement waits for
		{[]string{"status", "--config", cfg, "--json"}, exitManual, []string{`"attention": [`, "rejected as spam"}},
		{[]string{"action", "--config", cfg, "--done", fmt.Sprint(refused.ID)}, exitOK, []string{"recorded done"}},
		{[]string{"action", "--config", cfg, "--retry", fmt.Sprint(doubt.ID)}, exitOK, []string{"the next pass does it again"}},
		// The retried report waits for the next pass, which will say how
		// it went; the announcement's failed attempt is still the last word.
		{[]string{"status", "--config", cfg}, exitManual, []string{"FAILING", "<doubt@x>", "!rejected as spam", "!INTERRUPTED"}},
	})
}

// TestStatusFailedRun: an announcement failed for good (its newest run
// ended in error): status says so and how to try it again, until a later
// run of its tree supersedes it.
func TestStatusFailedRun(t *testing.T) {
	ctx := context.Background()
	_, cfg := demoDir(t)
	st := openConfigState(t, cfg)
	r := startRun(t, st, "broken@x")
	if err := errors.Join(st.FinishRun(ctx, r.ID, state.RunResult{Outcome: state.OutcomeError,
		Error: "Makefile says 6.1.14, the announcement says 6.1.13-rc1"}),
		st.FailAnnouncement(ctx, "broken@x", "tree 6.1-rt, run 2: Makefile says 6.1.14, the announcement says 6.1.13-rc1", "h")); err != nil {
		t.Fatal(err)
	}
	runCases(t, []cliCase{
		{[]string{"status", "--config", cfg}, exitManual, []string{"FAILED announcement <broken@x> (6.1.13-rc1)", "Makefile says 6.1.14",
			"mailed an error report", fmt.Sprintf("rtbot rerun --config %s broken@x", cfg), "failed 1", "  failed     <broken@x>"}},
	})
	// A later run of the tree (the next rc, say) supersedes the failure.
	later := startRun(t, st, "next@x")
	if err := st.FinishRun(ctx, later.ID, state.RunResult{Outcome: state.OutcomeClean}); err != nil {
		t.Fatal(err)
	}
	runCases(t, []cliCase{
		{[]string{"status", "--config", cfg}, exitOK, []string{"!FAILED announcement", "  failed     <broken@x>"}},
	})
}

// TestStatusWaiting: an announcement waiting for its candidate is listed
// with what the branch has and until when it waits; it needs nobody.
func TestStatusWaiting(t *testing.T) {
	ctx := context.Background()
	_, cfg := demoDir(t)
	st := openConfigState(t, cfg)
	if _, _, err := st.RecordAnnouncement(ctx, state.Announcement{MessageID: "future@x", Kind: "stable-rc", Series: "6.1",
		Version: "6.1.13", RC: 1}); err != nil {
		t.Fatal(err)
	}
	if err := errors.Join(st.AnnouncementFailed(ctx, "future@x", errors.New("connection refused")),
		st.WaitAnnouncement(ctx, "future@x", "linux-6.1.y says 6.1.12-rc1 (17ff093c339c), not 6.1.13-rc1",
			time.Date(2030, 1, 2, 3, 4, 0, 0, time.UTC))); err != nil {
		t.Fatal(err)
	}
	runCases(t, []cliCase{
		{[]string{"status", "--config", cfg}, exitOK, []string{"waiting 1",
			"  waiting    <future@x> 6.1.13-rc1 (since", "for its candidate until 2030-01-02 03:04: linux-6.1.y says 6.1.12-rc1", "!FAILING"}},
	})
}
