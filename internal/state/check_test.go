package state

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// TestCheck builds a consistent state file, then breaks each invariant
// Check knows with raw SQL, and expects Check to name it.
func TestCheck(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	mustRecord(t, s, "a1@kernel.org")
	run, _, err := s.StartRun(ctx, RunSpec{Announcement: "a1@kernel.org", Tree: "6.1-rt", Candidate: "c1", QueueID: "q1"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SavePatchResults(ctx, run.ID, []PatchResult{{Index: 1, Name: "a.patch", Status: "applied"}, {Index: 2, Name: "b.patch", Status: "conflict"}}); err != nil {
		t.Fatal(err)
	}
	act, _, err := s.Intend(ctx, run.ID, ActionMail, "report@rtbot")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Done(ctx, act.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.FinishRun(ctx, run.ID, RunResult{Outcome: OutcomeManual}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetAnnouncementStatus(ctx, "a1@kernel.org", AnnouncementDone); err != nil {
		t.Fatal(err)
	}
	if problems, err := s.Check(ctx); err != nil || len(problems) != 0 {
		t.Fatalf("consistent file: problems %q, err %v", problems, err)
	}

	breaks := []struct {
		name, sql, want, undo string
	}{
		{"intended action of a finished run", `UPDATE actions SET state = 'intended'`, "finished run with an action still intended: run 1, mail report@rtbot",
			`UPDATE actions SET state = 'done'`},
		{"done announcement, unfinished run", `UPDATE runs SET outcome = '', finished_at = NULL`, "done or failed announcement with an unfinished run: <a1@kernel.org> done, run 1",
			`UPDATE runs SET outcome = 'manual', finished_at = started_at`},
		{"failed announcement without an error run", `UPDATE announcements SET status = 'failed', reason = 'x'`,
			"failed announcement without an error run: <a1@kernel.org>", `UPDATE announcements SET status = 'done', reason = ''`},
		{"candidate claimed twice", `INSERT INTO announcements (message_id, kind, version, rc, first_seen, updated_at, claimed)
			SELECT 'a2@kernel.org', kind, version, rc, first_seen, updated_at, 1 FROM announcements; UPDATE announcements SET claimed = 1`,
			"candidate claimed by more than one announcement: 6.1.177-rc1: <a1@kernel.org>, <a2@kernel.org>",
			`DELETE FROM announcements WHERE message_id = 'a2@kernel.org'`},
		{"gap in patch results", `DELETE FROM patch_results WHERE idx = 1`, "patch results not numbered 1..n: run 1",
			`INSERT INTO patch_results (run_id, idx, name, status) VALUES (1, 1, 'a.patch', 'applied')`},
	}
	for _, b := range breaks {
		t.Run(b.name, func(t *testing.T) {
			if _, err := s.db.ExecContext(ctx, b.sql); err != nil {
				t.Fatal(err)
			}
			problems, err := s.Check(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(problems) != 1 || problems[0] != b.want {
				t.Errorf("problems %q, want [%q]", problems, b.want)
			}
			if _, err := s.db.ExecContext(ctx, b.undo); err != nil {
				t.Fatal(err)
			}
			if problems, _ := s.Check(ctx); len(problems) != 0 {
				t.Fatalf("after undoing: %q", problems)
			}
		})
	}
}

// TestAnnouncementFailed records failed attempts and checks `rtbot
// status` sees them on the waiting announcement.
func TestAnnouncementFailed(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	mustRecord(t, s, "a1@kernel.org")
	mustRecord(t, s, "a2@kernel.org")
	if err := s.SetAnnouncementStatus(ctx, "a2@kernel.org", AnnouncementDone); err != nil {
		t.Fatal(err)
	}
	for _, msg := range []string{"fetch: connection refused", "fetch: no route to host"} {
		if err := s.AnnouncementFailed(ctx, "a1@kernel.org", errors.New(msg)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.AnnouncementFailed(ctx, "nope@kernel.org", errors.New("x")); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown announcement: %v, want ErrNotFound", err)
	}
	st, err := s.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Waiting) != 1 {
		t.Fatalf("waiting %+v, want a1 only", st.Waiting)
	}
	w := st.Waiting[0]
	if w.MessageID != "a1@kernel.org" || w.Attempts != 2 || w.LastError != "fetch: no route to host" || w.LastAttempt.IsZero() {
		t.Errorf("waiting announcement %+v", w)
	}
	a, err := s.Announcement(ctx, "a2@kernel.org")
	if err != nil || a.Attempts != 0 || a.LastError != "" || a.Status != AnnouncementDone {
		t.Errorf("a2 = %+v, %v", a, err)
	}
}

// TestFirstAnnouncement finds the first announcement of a candidate that
// was not ignored.
func TestFirstAnnouncement(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	if _, found, err := s.FirstAnnouncement(ctx, "stable-rc", "6.1.177", 1); err != nil || found {
		t.Fatalf("empty store: found %v, %v", found, err)
	}
	ign := announcement("forged@evil.example")
	ign.Status, ign.Reason = AnnouncementIgnored, "sender"
	if _, _, err := s.RecordAnnouncement(ctx, ign); err != nil {
		t.Fatal(err)
	}
	mustRecord(t, s, "a1@kernel.org")
	mustRecord(t, s, "a2@kernel.org")
	other := announcement("rc2@kernel.org")
	other.RC = 2
	if _, _, err := s.RecordAnnouncement(ctx, other); err != nil {
		t.Fatal(err)
	}
	a, found, err := s.FirstAnnouncement(ctx, "stable-rc", "6.1.177", 1)
	if err != nil || !found || a.MessageID != "a1@kernel.org" {
		t.Errorf("first of 6.1.177-rc1 = %q, %v, %v; want a1", a.MessageID, found, err)
	}
	if a, _, _ := s.FirstAnnouncement(ctx, "stable-rc", "6.1.177", 2); a.MessageID != "rc2@kernel.org" {
		t.Errorf("first of 6.1.177-rc2 = %q", a.MessageID)
	}
	if _, found, _ := s.FirstAnnouncement(ctx, "rt-stable", "6.1.177", 1); found {
		t.Error("found an announcement of another kind")
	}
}

// TestResolutions saves, replaces, finds and counts remembered resolutions.
func TestResolutions(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	hex := func(c string) string { return strings.Repeat(c, 64) }
	r := Resolution{Key: hex("a"), PatchID: hex("b"), Path: "kernel/core.c", Preimage: "<<<<<<<\nx\n=======\ny\n>>>>>>>\n", Postimage: "xy\n", Source: "rtbot resolve: commit 1"}
	if replaced, err := s.SaveResolution(ctx, r); err != nil || replaced {
		t.Fatalf("first save: replaced %v, %v", replaced, err)
	}
	if replaced, err := s.SaveResolution(ctx, r); err != nil || replaced {
		t.Fatalf("same again: replaced %v, %v", replaced, err)
	}
	other := r
	other.Key, other.Path = hex("c"), "kernel/other.c"
	if _, err := s.SaveResolution(ctx, other); err != nil {
		t.Fatal(err)
	}
	newer := r
	newer.Postimage, newer.Source = "yx\n", "rtbot resolve: commit 2"
	if replaced, err := s.SaveResolution(ctx, newer); err != nil || !replaced {
		t.Fatalf("newer fix: replaced %v, %v", replaced, err)
	}
	got, err := s.Resolutions(ctx, hex("b"), "kernel/core.c")
	if err != nil || len(got) != 1 || got[0].Postimage != "yx\n" || got[0].Source != "rtbot resolve: commit 2" {
		t.Fatalf("resolutions of core.c: %+v, %v", got, err)
	}
	if all, _ := s.Resolutions(ctx, "", ""); len(all) != 2 {
		t.Errorf("all resolutions: %d, want 2", len(all))
	}
	if err := s.ResolutionUsed(ctx, hex("a")); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Resolutions(ctx, hex("b"), "kernel/core.c"); got[0].Used != 1 || got[0].LastUsed.IsZero() {
		t.Errorf("after use: %+v", got[0])
	}
	if err := s.ResolutionUsed(ctx, hex("f")); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown key: %v", err)
	}
	if _, err := s.SaveResolution(ctx, Resolution{Key: "short"}); err == nil {
		t.Error("saved a resolution without a proper key")
	}
}
