package state

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestRecordReplacesIgnored: Message-IDs are de-duplicated only among mails
// rtbot acts on. A mail recorded ignored (a forgery from another sender
// reusing the cover's Message-ID) is replaced by the genuine one; a mail
// rtbot acts on is never replaced, and an ignored one is not replaced by
// another ignored one.
func TestRecordReplacesIgnored(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	forged := announcement("cover@kernel.org")
	forged.From, forged.Status, forged.Reason = "mallory@evil.example", AnnouncementIgnored, "sender not configured"
	if _, dup, err := s.RecordAnnouncement(ctx, forged); err != nil || dup {
		t.Fatalf("forged: dup %v, %v", dup, err)
	}
	again := forged
	again.From = "eve@evil.example"
	if a, dup, err := s.RecordAnnouncement(ctx, again); err != nil || !dup || a.From != "mallory@evil.example" {
		t.Fatalf("a second ignored mail: %+v dup %v, %v; want the first kept", a, dup, err)
	}
	genuine := announcement("cover@kernel.org")
	a, dup, err := s.RecordAnnouncement(ctx, genuine)
	if err != nil || dup || a.Status != AnnouncementNew || a.From != genuine.From || a.Reason != "" {
		t.Fatalf("genuine: %+v dup %v, %v; want it in the forgery's place, new", a, dup, err)
	}
	late := forged
	late.Status, late.Reason = AnnouncementNew, ""
	if a, dup, err := s.RecordAnnouncement(ctx, late); err != nil || !dup || a.From != genuine.From {
		t.Errorf("a later mail with the genuine one's Message-ID: %+v dup %v, %v; want the genuine kept", a, dup, err)
	}
	for _, st := range []AnnouncementStatus{AnnouncementWaiting, AnnouncementFailed} {
		bad := announcement("bad@kernel.org")
		bad.Status, bad.Reason = st, "x"
		if _, _, err := s.RecordAnnouncement(ctx, bad); err == nil {
			t.Errorf("recorded a mail %s", st)
		}
	}
}

// TestClaimAnnouncement: the first announcement of a candidate to find it
// claims it; another of the same candidate is then a repeat, whatever the
// order they were recorded in. Waiting or failing to find the candidate
// claims nothing.
func TestClaimAnnouncement(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	mustRecord(t, s, "early-forgery@kernel.org")
	mustRecord(t, s, "genuine@kernel.org")
	if err := s.WaitAnnouncement(ctx, "early-forgery@kernel.org", "the branch says 6.1.176", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := s.ClaimAnnouncement(ctx, "genuine@kernel.org"); err != nil || !ok {
		t.Fatalf("genuine claim: %v %v", ok, err)
	}
	holder, ok, err := s.ClaimAnnouncement(ctx, "early-forgery@kernel.org")
	if err != nil || ok || holder.MessageID != "genuine@kernel.org" {
		t.Fatalf("second claim: holder %s, %v %v; want refused, held by the genuine one", holder.MessageID, ok, err)
	}
	if _, ok, err := s.ClaimAnnouncement(ctx, "genuine@kernel.org"); err != nil || !ok {
		t.Errorf("claiming again: %v %v", ok, err)
	}
	a, _ := s.Announcement(ctx, "genuine@kernel.org")
	if a.Status != AnnouncementProcessing || !a.Claimed {
		t.Errorf("claimed announcement %+v", a)
	}
	if c, found, err := s.ClaimingAnnouncement(ctx, "stable-rc", "6.1.177", 1); err != nil || !found || c.MessageID != "genuine@kernel.org" {
		t.Errorf("ClaimingAnnouncement: %s %v %v", c.MessageID, found, err)
	}
	manual := announcement("manual.1@rtbot")
	manual.Kind = "manual"
	manual2 := manual
	manual2.MessageID = "manual.2@rtbot"
	for _, m := range []Announcement{manual, manual2} {
		if _, _, err := s.RecordAnnouncement(ctx, m); err != nil {
			t.Fatal(err)
		}
		if _, ok, err := s.ClaimAnnouncement(ctx, m.MessageID); err != nil || !ok {
			t.Errorf("%s: a run by hand is never a repeat: %v %v", m.MessageID, ok, err)
		}
	}
}

// TestFailAndRetryAnnouncement: a failed announcement keeps its error and
// the configuration it failed under; RetryAnnouncement sets it processing,
// marked to redo its error runs until it settles again.
func TestFailAndRetryAnnouncement(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	mustRecord(t, s, "a@kernel.org")
	run := mustStart(t, s, spec("a@kernel.org", "6.1-rt", "c1"))
	if err := s.FinishRun(ctx, run.ID, RunResult{Outcome: OutcomeError, Error: "no series file"}); err != nil {
		t.Fatal(err)
	}
	if err := s.FailAnnouncement(ctx, "a@kernel.org", "tree 6.1-rt: no series file", "cfg1"); err != nil {
		t.Fatal(err)
	}
	if a, _ := s.Announcement(ctx, "a@kernel.org"); a.Status != AnnouncementFailed || a.ConfigHash != "cfg1" || a.Reason == "" {
		t.Errorf("failed: %+v", a)
	}
	if st, _ := s.Status(ctx); len(st.Failed) != 1 || len(st.Waiting) != 0 {
		t.Errorf("status failed %+v, waiting %+v", st.Failed, st.Waiting)
	}
	a, _ := s.Announcement(ctx, "a@kernel.org")
	for _, tc := range []struct {
		since time.Time
		want  int
	}{{a.FirstSeen, 1}, {a.FirstSeen.Add(time.Nanosecond), 0}} {
		if got, err := s.Announcements(ctx, AnnouncementFilter{Status: []AnnouncementStatus{AnnouncementFailed}, SeenSince: tc.since}); err != nil || len(got) != tc.want {
			t.Errorf("failed since %v: %d, %v; want %d", tc.since, len(got), err, tc.want)
		}
	}
	if err := s.RetryAnnouncement(ctx, "a@kernel.org", true); err != nil {
		t.Fatal(err)
	}
	if a, _ := s.Announcement(ctx, "a@kernel.org"); a.Status != AnnouncementProcessing || a.Reason != "" || !a.Retry {
		t.Errorf("retried: %+v", a)
	}
	if _, _, err := s.ClaimAnnouncement(ctx, "a@kernel.org"); err != nil {
		t.Fatal(err)
	}
	if a, _ := s.Announcement(ctx, "a@kernel.org"); !a.Retry {
		t.Error("claiming the candidate ended the retry")
	}
	if err := s.SetAnnouncementStatus(ctx, "a@kernel.org", AnnouncementDone); err != nil {
		t.Fatal(err)
	}
	if a, _ := s.Announcement(ctx, "a@kernel.org"); a.Retry {
		t.Error("a settled announcement is still being retried")
	}
	if err := s.RetryAnnouncement(ctx, "nobody@kernel.org", false); !errors.Is(err, ErrNotFound) {
		t.Errorf("retry unknown: %v", err)
	}
	for _, err := range []error{
		s.FailAnnouncement(ctx, "a@kernel.org", " ", ""),
		s.WaitAnnouncement(ctx, "a@kernel.org", "x", time.Time{}),
		s.SetAnnouncementStatus(ctx, "a@kernel.org", AnnouncementFailed),
		s.SetAnnouncementStatus(ctx, "a@kernel.org", AnnouncementWaiting),
	} {
		if err == nil {
			t.Error("an outcome without its reason was recorded")
		}
	}
}

// schemaV4File writes a state file at the fourth schema, as an rtbot
// before waiting and failed announcements left it: one announcement done
// with a run that ended in error, one done cleanly, one ignored for its
// sender, one not an announcement, one being processed.
func schemaV4File(t *testing.T, path string) {
	t.Helper()
	ctx := context.Background()
	db, err := sql.Open("sqlite", path+"?_foreign_keys=1")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	stmts := []string{`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)`}
	for _, m := range migrations()[:4] {
		stmts = append(stmts, m.sql, `INSERT INTO schema_migrations VALUES (`+string(rune('0'+m.version))+`, 'v', '2024-01-01T00:00:00Z')`)
	}
	const ts = `'2024-01-01T00:00:00.000000000Z'`
	ann := func(id, status, reason string) string {
		return `INSERT INTO announcements (message_id, kind, series, version, rc, first_seen, updated_at, status, reason)
			VALUES ('` + id + `', 'stable-rc', '6.1', '6.1.` + id[:3] + `', 1, ` + ts + `, ` + ts + `, '` + status + `', '` + reason + `')`
	}
	n := 0
	run := func(ann, outcome, errText string) string {
		n++
		return `INSERT INTO runs (announcement, tree, candidate, queue_id, started_at, finished_at, outcome, error)
			VALUES ('` + ann + `', '6.1-rt', 'c', 'q` + string(rune('0'+n)) + `', ` + ts + `, CASE WHEN '` + outcome + `' = '' THEN NULL ELSE ` + ts + ` END, '` + outcome + `', '` + errText + `')`
	}
	stmts = append(stmts,
		ann("100@failed", "done", ""), run("100@failed", "error", "no series file"),
		ann("101@clean", "done", ""), run("101@clean", "error", "remote down"), run("101@clean", "manual", ""),
		ann("102@forged", "ignored", `tree 6.1-rt: sender "m@evil" is not one of its senders`),
		ann("103@notrc", "ignored", "subject is not an announcement"),
		ann("104@busy", "processing", ""), run("104@busy", "", ""),
		`INSERT INTO actions (run_id, kind, key, state, created_at, updated_at) VALUES (4, 'mail', 'm@rtbot', 'intended', `+ts+`, `+ts+`)`)
	for _, q := range stmts {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// TestMigrationV5 opens a file of the fourth schema: the announcements
// table is rebuilt with the new statuses, every row and every reference to
// it kept; an announcement that ended in error is failed with the run's
// error; a cover ignored for its sender is looked at again.
func TestMigrationV5(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "rtbot.db")
	schemaV4File(t, path)
	s := openAt(t, path)
	if problems, err := s.Check(ctx); err != nil || len(problems) != 0 {
		t.Fatalf("check after migrating: %q %v", problems, err)
	}
	want := map[string]string{
		"100@failed": "failed no series file claimed",
		"101@clean":  "done claimed",
		"102@forged": `ignored tree 6.1-rt: sender "m@evil" is not one of its senders before-v5`,
		"103@notrc":  "ignored subject is not an announcement",
		"104@busy":   "processing claimed",
	}
	for id, w := range want {
		a, err := s.Announcement(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		got := strings.TrimSpace(strings.Join([]string{string(a.Status), a.Reason, a.ConfigHash}, " "))
		if a.Claimed {
			got += " claimed"
		}
		if got != strings.TrimSpace(w) {
			t.Errorf("<%s>: %q, want %q", id, got, w)
		}
	}
	var fk int
	if err := s.db.QueryRowContext(ctx, `PRAGMA foreign_keys`).Scan(&fk); err != nil || fk != 1 {
		t.Errorf("foreign keys %d after the rebuild, %v", fk, err)
	}
	if _, err := s.db.ExecContext(ctx, `INSERT INTO runs (announcement, tree, candidate, queue_id, started_at)
		VALUES ('nobody', 't', 'c', 'q', '2024')`); err == nil {
		t.Error("a run of an unknown announcement was accepted: the foreign key is gone")
	}
	if st, err := s.Status(ctx); err != nil || len(st.Failed) != 1 || len(st.Pending) != 1 {
		t.Errorf("status: failed %+v, pending %+v, %v", st.Failed, st.Pending, err)
	}
}
