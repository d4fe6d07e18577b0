package state

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// stepClock returns a clock that advances one second per call, so that
// stored times are distinct and ordered.
func stepClock() func() time.Time {
	var n atomic.Int64
	base := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	return func() time.Time { return base.Add(time.Duration(n.Add(1)) * time.Second) }
}

func openAt(t *testing.T, path string) *Store {
	t.Helper()
	s, err := Open(context.Background(), path)
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	t.Cleanup(func() { s.Close() })
	s.now = stepClock()
	return s
}

func newStore(t *testing.T) *Store {
	t.Helper()
	return openAt(t, filepath.Join(t.TempDir(), "rtbot.db"))
}

func announcement(id string) Announcement {
	return Announcement{
		MessageID: id,
		Kind:      "stable-rc",
		Series:    "6.1",
		Version:   "6.1.177",
		RC:        1,
		GitURL:    "https://git.kernel.org/pub/scm/linux/kernel/git/stable/linux-stable-rc.git",
		GitBranch: "linux-6.1.y",
		From:      "gregkh@linuxfoundation.org",
		Subject:   "[PATCH 6.1 000/123] 6.1.177-rc1 review",
		Deadline:  time.Date(2026, 5, 3, 10, 0, 0, 0, time.UTC),
	}
}

func mustRecord(t *testing.T, s *Store, id string) Announcement {
	t.Helper()
	a, _, err := s.RecordAnnouncement(context.Background(), announcement(id))
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func mustStart(t *testing.T, s *Store, spec RunSpec) Run {
	t.Helper()
	r, _, err := s.StartRun(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func spec(ann, tree, candidate string) RunSpec {
	return RunSpec{Announcement: ann, Tree: tree, Candidate: candidate, QueueID: "sha256:q1", Base: "v6.1.176"}
}

func TestOpenMigratesOnceAndKeepsData(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "rtbot.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if v, err := s.SchemaVersion(ctx); err != nil || v != LatestSchemaVersion() || v < 1 {
		t.Fatalf("SchemaVersion = %d, %v; want %d", v, err, LatestSchemaVersion())
	}
	for _, table := range []string{"schema_migrations", "announcements", "mailbox_checkpoints", "runs", "patch_results", "actions"} {
		var n int
		if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?`, table).Scan(&n); err != nil || n != 1 {
			t.Errorf("table %s: count %d, %v", table, n, err)
		}
	}
	var appliedBefore string
	if err := s.db.QueryRowContext(ctx, `SELECT group_concat(version || '@' || applied_at) FROM schema_migrations`).Scan(&appliedBefore); err != nil {
		t.Fatal(err)
	}
	mustRecord(t, s, "kept@example.org")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	for i := 0; i < 2; i++ {
		s2, err := Open(ctx, path)
		if err != nil {
			t.Fatalf("reopen %d: %v", i, err)
		}
		var rows int
		var applied string
		if err := s2.db.QueryRowContext(ctx, `SELECT COUNT(*), group_concat(version || '@' || applied_at) FROM schema_migrations`).Scan(&rows, &applied); err != nil {
			t.Fatal(err)
		}
		if rows != LatestSchemaVersion() || applied != appliedBefore {
			t.Errorf("reopen %d: schema_migrations %d rows %q, want %d rows %q", i, rows, applied, LatestSchemaVersion(), appliedBefore)
		}
		if _, err := s2.Announcement(ctx, "kept@example.org"); err != nil {
			t.Errorf("reopen %d: data lost: %v", i, err)
		}
		s2.Close()
	}
}

func TestOpenSetsPragmasOnEveryConnection(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	// Hold several connections at once so the pool must open new ones.
	for i := 0; i < 3; i++ {
		c, err := s.db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := s.checkPragmas(ctx, c); err != nil {
			t.Errorf("connection %d: %v", i, err)
		}
	}
}

func TestOpenRefusesFutureSchema(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "rtbot.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	future := LatestSchemaVersion() + 1
	if _, err := s.db.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, 'from the future', 'x')`, future); err != nil {
		t.Fatal(err)
	}
	s.Close()

	s2, err := Open(ctx, path)
	if err == nil {
		s2.Close()
		t.Fatal("Open of a file with a newer schema succeeded")
	}
	for _, want := range []string{fmt.Sprintf("schema version %d", future), fmt.Sprintf("up to version %d", LatestSchemaVersion())} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}

func TestOpenRejectsNonFilePaths(t *testing.T) {
	for _, path := range []string{"", ":memory:", "file:rtbot.db?mode=memory", filepath.Join(t.TempDir(), "a?b.db")} {
		if s, err := Open(context.Background(), path); err == nil {
			s.Close()
			t.Errorf("Open(%q) succeeded", path)
		}
	}
}

func TestRecordAnnouncementDedupe(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	first, dup, err := s.RecordAnnouncement(ctx, announcement("a1@kernel.org"))
	if err != nil || dup {
		t.Fatalf("first record: dup %v, err %v", dup, err)
	}
	if first.ID == 0 || first.Status != AnnouncementNew || first.FirstSeen.IsZero() || !first.Deadline.Equal(announcement("").Deadline) || first.RC != 1 {
		t.Errorf("first record = %+v", first)
	}
	again := announcement("a1@kernel.org")
	again.Subject = "changed on redelivery"
	second, dup, err := s.RecordAnnouncement(ctx, again)
	if err != nil || !dup {
		t.Fatalf("second record: dup %v, err %v", dup, err)
	}
	if second != first {
		t.Errorf("duplicate returned %+v, want the stored %+v", second, first)
	}
	other, dup, err := s.RecordAnnouncement(ctx, announcement("a2@kernel.org"))
	if err != nil || dup || other.ID == first.ID {
		t.Errorf("other record: id %d (first %d), dup %v, err %v", other.ID, first.ID, dup, err)
	}
	noDeadline := announcement("a3@kernel.org")
	noDeadline.Deadline = time.Time{}
	if a, _, err := s.RecordAnnouncement(ctx, noDeadline); err != nil || !a.Deadline.IsZero() {
		t.Errorf("zero deadline stored as %v, %v", a.Deadline, err)
	}

	bad := []struct {
		name string
		edit func(*Announcement)
	}{
		{"empty message id", func(a *Announcement) { a.MessageID = "" }},
		{"empty kind", func(a *Announcement) { a.Kind = "" }},
		{"unknown status", func(a *Announcement) { a.Status = "exploded" }},
		{"ignored without reason", func(a *Announcement) { a.Status = AnnouncementIgnored }},
	}
	for _, tc := range bad {
		a := announcement("bad@kernel.org")
		tc.edit(&a)
		if _, _, err := s.RecordAnnouncement(ctx, a); err == nil {
			t.Errorf("%s: recorded", tc.name)
		}
	}
	if _, err := s.Announcement(ctx, "bad@kernel.org"); !errors.Is(err, ErrNotFound) {
		t.Errorf("a rejected announcement was stored: %v", err)
	}
}

func TestAnnouncementStatusAndIgnore(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	mustRecord(t, s, "ok@kernel.org")
	mustRecord(t, s, "forged@evil.example")
	forged := announcement("forged-at-record@evil.example")
	forged.Status, forged.Reason = AnnouncementIgnored, "tree not configured"
	if a, _, err := s.RecordAnnouncement(ctx, forged); err != nil || a.Status != AnnouncementIgnored || a.Reason != "tree not configured" {
		t.Fatalf("record ignored: %+v, %v", a, err)
	}

	if err := s.IgnoreAnnouncement(ctx, "forged@evil.example", "sender not configured"); err != nil {
		t.Fatal(err)
	}
	a, err := s.Announcement(ctx, "forged@evil.example")
	if err != nil || a.Status != AnnouncementIgnored || a.Reason != "sender not configured" || !a.UpdatedAt.After(a.FirstSeen) {
		t.Errorf("after ignore: %+v, %v", a, err)
	}
	if err := s.SetAnnouncementStatus(ctx, "ok@kernel.org", AnnouncementProcessing); err != nil {
		t.Fatal(err)
	}

	errCases := []struct {
		name string
		err  error
	}{
		{"ignore unknown", s.IgnoreAnnouncement(ctx, "nobody@kernel.org", "x")},
		{"ignore without reason", s.IgnoreAnnouncement(ctx, "ok@kernel.org", " ")},
		{"set unknown", s.SetAnnouncementStatus(ctx, "nobody@kernel.org", AnnouncementDone)},
		{"set ignored", s.SetAnnouncementStatus(ctx, "ok@kernel.org", AnnouncementIgnored)},
		{"set bogus", s.SetAnnouncementStatus(ctx, "ok@kernel.org", "bogus")},
	}
	for _, tc := range errCases {
		if tc.err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
	if err := s.IgnoreAnnouncement(ctx, "nobody@kernel.org", "x"); !errors.Is(err, ErrNotFound) {
		t.Errorf("ignore unknown: %v, want ErrNotFound", err)
	}

	todo, err := s.Announcements(ctx, AnnouncementFilter{Status: []AnnouncementStatus{AnnouncementNew, AnnouncementProcessing}})
	if err != nil || len(todo) != 1 || todo[0].MessageID != "ok@kernel.org" || todo[0].Status != AnnouncementProcessing {
		t.Errorf("new+processing = %+v, %v", todo, err)
	}
	all, err := s.Announcements(ctx, AnnouncementFilter{Limit: 2})
	if err != nil || len(all) != 2 || all[0].MessageID != "ok@kernel.org" {
		t.Errorf("limit 2 = %+v, %v", all, err)
	}
}

func TestCheckpointRoundTrip(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	cp, err := s.Checkpoint(ctx, "imap.example.org:993", "INBOX")
	if err != nil || cp.UIDValidity != 0 || cp.LastUID != 0 || !cp.UpdatedAt.IsZero() || cp.Mailbox != "INBOX" {
		t.Fatalf("unsaved checkpoint = %+v, %v", cp, err)
	}
	saves := []Checkpoint{
		{Server: "imap.example.org:993", Mailbox: "INBOX", UIDValidity: 1700000000, LastUID: 42},
		{Server: "imap.example.org:993", Mailbox: "INBOX", UIDValidity: 1700000000, LastUID: 57},
		{Server: "imap.example.org:993", Mailbox: "lists/stable", UIDValidity: 0xFFFFFFFF, LastUID: 0xFFFFFFFE},
		{Server: "other:143", Mailbox: "INBOX", UIDValidity: 7, LastUID: 1},
	}
	for _, c := range saves {
		if err := s.SaveCheckpoint(ctx, c); err != nil {
			t.Fatal(err)
		}
		got, err := s.Checkpoint(ctx, c.Server, c.Mailbox)
		if err != nil || got.UIDValidity != c.UIDValidity || got.LastUID != c.LastUID || got.UpdatedAt.IsZero() {
			t.Errorf("after saving %+v: got %+v, %v", c, got, err)
		}
	}
	all, err := s.Checkpoints(ctx)
	if err != nil || len(all) != 3 {
		t.Fatalf("Checkpoints = %+v, %v; want 3", all, err)
	}
	if all[0].Mailbox != "INBOX" || all[0].LastUID != 57 {
		t.Errorf("INBOX checkpoint = %+v, want last UID 57", all[0])
	}
	if err := s.SaveCheckpoint(ctx, Checkpoint{Server: "x"}); err == nil {
		t.Error("checkpoint without a mailbox saved")
	}
}

func TestStartRunIdempotent(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	mustRecord(t, s, "a1@kernel.org")
	first, existed, err := s.StartRun(ctx, spec("a1@kernel.org", "6.1-rt", "c0ffee"))
	if err != nil || existed || first.ID == 0 || first.Attempts != 1 || first.Finished() || first.Base != "v6.1.176" {
		t.Fatalf("first StartRun = %+v, existed %v, %v", first, existed, err)
	}

	cases := []struct {
		name    string
		spec    RunSpec
		sameRun bool
	}{
		{"same key resumes", spec("a1@kernel.org", "6.1-rt", "c0ffee"), true},
		{"same key, other base resumes", RunSpec{Announcement: "a1@kernel.org", Tree: "6.1-rt", Candidate: "c0ffee", QueueID: "sha256:q1", Base: "v6.1.175"}, true},
		{"other candidate", spec("a1@kernel.org", "6.1-rt", "decade"), false},
		{"other tree", spec("a1@kernel.org", "6.6-rt", "c0ffee"), false},
		{"other queue", RunSpec{Announcement: "a1@kernel.org", Tree: "6.1-rt", Candidate: "c0ffee", QueueID: "sha256:q2"}, false},
	}
	for _, tc := range cases {
		r, existed, err := s.StartRun(ctx, tc.spec)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if (r.ID == first.ID) != tc.sameRun || existed != tc.sameRun {
			t.Errorf("%s: run %d existed %v; first run is %d, want same=%v", tc.name, r.ID, existed, first.ID, tc.sameRun)
		}
	}
	resumed, _, _ := s.StartRun(ctx, spec("a1@kernel.org", "6.1-rt", "c0ffee"))
	if resumed.Attempts != 4 || !resumed.StartedAt.Equal(first.StartedAt) {
		t.Errorf("after 3 resumes: attempts %d started %v, want 4 and %v", resumed.Attempts, resumed.StartedAt, first.StartedAt)
	}

	if _, _, err := s.StartRun(ctx, spec("unknown@kernel.org", "6.1-rt", "c0ffee")); !errors.Is(err, ErrNotFound) {
		t.Errorf("run for an unrecorded announcement: %v, want ErrNotFound", err)
	}
	if _, _, err := s.StartRun(ctx, RunSpec{Announcement: "a1@kernel.org", Tree: "6.1-rt"}); err == nil {
		t.Error("run with an incomplete key started")
	}

	res := RunResult{Outcome: OutcomeClean, PushedBranch: "rtbot/6.1.177-rc1-rt", ResultCommit: "beef"}
	if err := s.FinishRun(ctx, first.ID, res); err != nil {
		t.Fatal(err)
	}
	if err := s.FinishRun(ctx, first.ID, RunResult{Outcome: OutcomeManual}); err == nil {
		t.Error("a finished run was finished again")
	}
	done, existed, err := s.StartRun(ctx, spec("a1@kernel.org", "6.1-rt", "c0ffee"))
	if err != nil || !existed || done.ID != first.ID || !done.Finished() || done.Outcome != OutcomeClean ||
		done.PushedBranch != res.PushedBranch || done.ResultCommit != "beef" || done.Attempts != 4 || done.FinishedAt.IsZero() {
		t.Errorf("StartRun of a finished run = %+v, existed %v, %v", done, existed, err)
	}
	if _, err := s.ReopenRun(ctx, first.ID); err == nil {
		t.Error("a clean run was reopened")
	}
}

func TestFinishRunErrorAndReopen(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	mustRecord(t, s, "a1@kernel.org")
	r := mustStart(t, s, spec("a1@kernel.org", "6.1-rt", "c0ffee"))
	for _, bad := range []RunResult{{Outcome: "weird"}, {Outcome: OutcomeError}} {
		if err := s.FinishRun(ctx, r.ID, bad); err == nil {
			t.Errorf("FinishRun(%+v) accepted", bad)
		}
	}
	if err := s.FinishRun(ctx, 999, RunResult{Outcome: OutcomeClean}); !errors.Is(err, ErrNotFound) {
		t.Errorf("FinishRun of an unknown run: %v", err)
	}
	if err := s.FinishRun(ctx, r.ID, RunResult{Outcome: OutcomeError, Error: "fetch: remote unreachable"}); err != nil {
		t.Fatal(err)
	}
	re, err := s.ReopenRun(ctx, r.ID)
	if err != nil || re.Finished() || re.Error != "" || re.Attempts != 2 || re.ID != r.ID {
		t.Errorf("ReopenRun = %+v, %v", re, err)
	}
	if _, err := s.ReopenRun(ctx, r.ID); err == nil {
		t.Error("an unfinished run was reopened")
	}
}

func TestActionsLedger(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "rtbot.db")
	s := openAt(t, path)
	mustRecord(t, s, "a1@kernel.org")
	run := mustStart(t, s, spec("a1@kernel.org", "6.1-rt", "c0ffee"))
	checkDoneIsFinal(t, s, run.ID)

	// Intend a mail, then "crash": the process is gone without Done and
	// without closing; a new Store on the same file takes over.
	mail, _, err := s.Intend(ctx, run.ID, ActionMail, "rtbot-6.1.177-rc1-1@rtbot.example")
	if err != nil {
		t.Fatal(err)
	}
	s2 := openAt(t, path)
	pend, err := s2.Pending(ctx)
	if err != nil || len(pend) != 1 || pend[0].ID != mail.ID || pend[0].State != ActionIntended || pend[0].Kind != ActionMail {
		t.Fatalf("Pending after crash = %+v, %v", pend, err)
	}
	got, done, err := s2.Intend(ctx, run.ID, ActionMail, "rtbot-6.1.177-rc1-1@rtbot.example")
	if !errors.Is(err, ErrInterrupted) || done || got.ID != mail.ID || got.Attempts != 1 {
		t.Fatalf("Intend of an interrupted action = %+v, done %v, err %v; want ErrInterrupted", got, done, err)
	}
	checkReconciled(t, s2, run.ID, mail.ID)
	checkLedgerRefuses(t, s2, run.ID)
}

// checkDoneIsFinal: Intend → Done → Intend says alreadyDone, and a done
// action cannot fail.
func checkDoneIsFinal(t *testing.T, s *Store, runID int64) {
	t.Helper()
	ctx := context.Background()
	push, done, err := s.Intend(ctx, runID, ActionPush, "rtbot/6.1.177-rc1@beef")
	if err != nil || done || push.State != ActionIntended || push.Attempts != 1 {
		t.Fatalf("Intend push = %+v, done %v, %v", push, done, err)
	}
	if err := s.Done(ctx, push.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.Done(ctx, push.ID); err != nil {
		t.Errorf("Done is not idempotent: %v", err)
	}
	again, done, err := s.Intend(ctx, runID, ActionPush, "rtbot/6.1.177-rc1@beef")
	if err != nil || !done || again.ID != push.ID || again.State != ActionDone {
		t.Errorf("Intend after Done = %+v, alreadyDone %v, %v", again, done, err)
	}
	if err := s.Failed(ctx, push.ID, errors.New("late")); err == nil {
		t.Error("a done action was marked failed")
	}
}

// checkReconciled reconciles the interrupted mail as not sent (Failed,
// then retried, failed again) and finally as sent after all (Done).
func checkReconciled(t *testing.T, s2 *Store, runID, mailID int64) {
	t.Helper()
	ctx := context.Background()
	if err := s2.Failed(ctx, mailID, errors.New("smtp: 451 try again later")); err != nil {
		t.Fatal(err)
	}
	d, err := s2.Run(ctx, runID)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Actions) != 2 || d.Actions[1].State != ActionFailed || d.Actions[1].LastError != "smtp: 451 try again later" || d.Actions[1].Attempts != 1 {
		t.Errorf("after Failed: %+v", d.Actions)
	}
	retry, done, err := s2.Intend(ctx, runID, ActionMail, "rtbot-6.1.177-rc1-1@rtbot.example")
	if err != nil || done || retry.ID != mailID || retry.Attempts != 2 || retry.State != ActionIntended {
		t.Errorf("retry after Failed = %+v, done %v, %v", retry, done, err)
	}
	if err := s2.Failed(ctx, mailID, errors.New("smtp: 451 again")); err != nil {
		t.Fatal(err)
	}
	if pend, _ := s2.Pending(ctx); len(pend) != 1 || pend[0].State != ActionFailed || pend[0].Attempts != 2 {
		t.Errorf("Pending after second failure = %+v", pend)
	}
	// Reconciliation may also find it went out after all.
	if err := s2.Done(ctx, mailID); err != nil {
		t.Fatal(err)
	}
	if pend, _ := s2.Pending(ctx); len(pend) != 0 {
		t.Errorf("Pending after Done = %+v", pend)
	}
}

// checkLedgerRefuses: bad intents, and Done or Failed of an unknown
// action, are refused.
func checkLedgerRefuses(t *testing.T, s2 *Store, runID int64) {
	t.Helper()
	ctx := context.Background()
	bad := []struct {
		name  string
		runID int64
		kind  ActionKind
		key   string
	}{
		{"unknown kind", runID, "sms", "x"},
		{"empty key", runID, ActionTrigger, ""},
		{"unknown run", runID + 100, ActionTrigger, "jenkins"},
	}
	for _, tc := range bad {
		if _, _, err := s2.Intend(ctx, tc.runID, tc.kind, tc.key); err == nil {
			t.Errorf("%s: Intend accepted", tc.name)
		}
	}
	for name, err := range map[string]error{"Done": s2.Done(ctx, 999), "Failed": s2.Failed(ctx, 999, nil)} {
		if !errors.Is(err, ErrNotFound) {
			t.Errorf("%s of an unknown action: %v, want ErrNotFound", name, err)
		}
	}
}

// TestCrashBetweenIntendAndDone kills a real process (this test binary, run
// as a helper) after it recorded an intended mail, and checks that the next
// process finds it pending and is refused a blind repeat.
func TestCrashBetweenIntendAndDone(t *testing.T) {
	if path := os.Getenv("RTBOT_STATE_CRASH_HELPER"); path != "" {
		ctx := context.Background()
		s, err := Open(ctx, path)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		if _, _, err := s.Intend(ctx, 1, ActionMail, "crash@rtbot.example"); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		os.Exit(7) // the "crash": no Done, no Close
	}
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "rtbot.db")
	s := openAt(t, path)
	mustRecord(t, s, "a1@kernel.org")
	run := mustStart(t, s, spec("a1@kernel.org", "6.1-rt", "c0ffee"))
	if run.ID != 1 {
		t.Fatalf("run id %d, the helper assumes 1", run.ID)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashBetweenIntendAndDone$")
	cmd.Env = append(os.Environ(), "RTBOT_STATE_CRASH_HELPER="+path)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 7 {
		t.Fatalf("helper: %v\n%s", err, out)
	}
	pend, err := s.Pending(ctx)
	if err != nil || len(pend) != 1 || pend[0].Key != "crash@rtbot.example" || pend[0].State != ActionIntended {
		t.Fatalf("Pending after the crash = %+v, %v", pend, err)
	}
	if _, _, err := s.Intend(ctx, run.ID, ActionMail, "crash@rtbot.example"); !errors.Is(err, ErrInterrupted) {
		t.Errorf("Intend after the crash: %v, want ErrInterrupted", err)
	}
}

func TestSavePatchResultsReplaces(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	mustRecord(t, s, "a1@kernel.org")
	run := mustStart(t, s, spec("a1@kernel.org", "6.1-rt", "c0ffee"))
	other := mustStart(t, s, spec("a1@kernel.org", "6.6-rt", "c0ffee"))

	first := []PatchResult{
		{Index: 1, Name: "0001-a.patch", Subject: "a", Status: "applied", Action: "none"},
		{Index: 2, Name: "0002-b.patch", Subject: "b", Status: "conflict", Action: "refresh", Reason: "hunk 2 overlaps",
			CausedBy: json.RawMessage(`["1a2b3c4 ARM: fix branch predictor hardening"]`)},
		{Index: 3, Name: "0003-c.patch", Status: "blocked", BlockedBy: "0002-b.patch"},
	}
	if err := s.SavePatchResults(ctx, run.ID, first); err != nil {
		t.Fatal(err)
	}
	if err := s.SavePatchResults(ctx, other.ID, first[:1]); err != nil {
		t.Fatal(err)
	}
	d, err := s.Run(ctx, run.ID)
	if err != nil || len(d.Patches) != 3 || string(d.Patches[1].CausedBy) != string(first[1].CausedBy) ||
		d.Patches[2].BlockedBy != "0002-b.patch" || d.Patches[0].CausedBy != nil {
		t.Fatalf("after first save: %+v, %v", d.Patches, err)
	}

	second := []PatchResult{
		{Index: 1, Name: "0001-a.patch", Status: "applied"},
		{Index: 2, Name: "0002-b.patch", Status: "merged", CausedBy: json.RawMessage(`[]`)},
	}
	if err := s.SavePatchResults(ctx, run.ID, second); err != nil {
		t.Fatal(err)
	}
	d, _ = s.Run(ctx, run.ID)
	if len(d.Patches) != 2 || d.Patches[1].Status != "merged" || d.Patches[1].Reason != "" {
		t.Errorf("after replace: %+v", d.Patches)
	}

	// A failing save changes nothing.
	failing := []struct {
		name    string
		results []PatchResult
	}{
		{"duplicate index", []PatchResult{{Index: 1, Name: "x"}, {Index: 1, Name: "y"}}},
		{"invalid JSON", []PatchResult{{Index: 1, Name: "x", CausedBy: json.RawMessage(`[1a2b`)}}},
		{"no name", []PatchResult{{Index: 1}}},
	}
	for _, tc := range failing {
		if err := s.SavePatchResults(ctx, run.ID, tc.results); err == nil {
			t.Errorf("%s: saved", tc.name)
		}
		d, _ = s.Run(ctx, run.ID)
		if len(d.Patches) != 2 || d.Patches[1].Status != "merged" {
			t.Errorf("%s: a failed save changed the results: %+v", tc.name, d.Patches)
		}
	}
	if err := s.SavePatchResults(ctx, 999, second); !errors.Is(err, ErrNotFound) {
		t.Errorf("save for an unknown run: %v", err)
	}
	d, _ = s.Run(ctx, other.ID)
	if len(d.Patches) != 1 {
		t.Errorf("the other run's results changed: %+v", d.Patches)
	}
	if _, err := s.Run(ctx, 999); !errors.Is(err, ErrNotFound) {
		t.Errorf("Run(999): %v", err)
	}
}

func TestRunsHistory(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	mustRecord(t, s, "a1@kernel.org")
	mustRecord(t, s, "a2@kernel.org")
	r1 := mustStart(t, s, spec("a1@kernel.org", "6.1-rt", "c1"))
	r2 := mustStart(t, s, spec("a1@kernel.org", "6.6-rt", "c2"))
	r3 := mustStart(t, s, spec("a2@kernel.org", "6.1-rt", "c3"))

	cases := []struct {
		name string
		f    RunFilter
		want []int64
	}{
		{"all, newest first", RunFilter{}, []int64{r3.ID, r2.ID, r1.ID}},
		{"one tree", RunFilter{Tree: "6.1-rt"}, []int64{r3.ID, r1.ID}},
		{"limit", RunFilter{Limit: 1}, []int64{r3.ID}},
		{"announcement", RunFilter{Announcement: "a1@kernel.org"}, []int64{r2.ID, r1.ID}},
		{"unknown tree", RunFilter{Tree: "4.19-rt"}, nil},
	}
	for _, tc := range cases {
		runs, err := s.Runs(ctx, tc.f)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		var ids []int64
		for _, r := range runs {
			ids = append(ids, r.ID)
		}
		if fmt.Sprint(ids) != fmt.Sprint(tc.want) {
			t.Errorf("%s: runs %v, want %v", tc.name, ids, tc.want)
		}
	}
}

func TestStatus(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	for _, id := range []string{"a1@kernel.org", "a2@kernel.org", "a3@kernel.org", "forged@evil.example"} {
		mustRecord(t, s, id)
	}
	if err := s.IgnoreAnnouncement(ctx, "forged@evil.example", "sender not configured"); err != nil {
		t.Fatal(err)
	}
	if err := s.SetAnnouncementStatus(ctx, "a1@kernel.org", AnnouncementDone); err != nil {
		t.Fatal(err)
	}
	if err := s.SetAnnouncementStatus(ctx, "a2@kernel.org", AnnouncementProcessing); err != nil {
		t.Fatal(err)
	}
	for _, cp := range []Checkpoint{{Server: "s", Mailbox: "INBOX", UIDValidity: 3, LastUID: 10}, {Server: "s", Mailbox: "INBOX", UIDValidity: 3, LastUID: 12}, {Server: "s", Mailbox: "stable", UIDValidity: 4, LastUID: 5}} {
		if err := s.SaveCheckpoint(ctx, cp); err != nil {
			t.Fatal(err)
		}
	}
	old61 := mustStart(t, s, spec("a1@kernel.org", "6.1-rt", "c1"))
	new61 := mustStart(t, s, spec("a2@kernel.org", "6.1-rt", "c2"))
	only66 := mustStart(t, s, spec("a2@kernel.org", "6.6-rt", "c2"))
	if err := s.FinishRun(ctx, old61.ID, RunResult{Outcome: OutcomeManual}); err != nil {
		t.Fatal(err)
	}
	mail, _, err := s.Intend(ctx, new61.ID, ActionMail, "m1@rtbot.example")
	if err != nil {
		t.Fatal(err)
	}
	trig, _, _ := s.Intend(ctx, only66.ID, ActionTrigger, "jenkins")
	if err := s.Done(ctx, trig.ID); err != nil {
		t.Fatal(err)
	}

	st, err := s.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.SchemaVersion != LatestSchemaVersion() {
		t.Errorf("SchemaVersion %d", st.SchemaVersion)
	}
	if len(st.Checkpoints) != 2 || st.Checkpoints[0].LastUID != 12 || st.Checkpoints[1].Mailbox != "stable" {
		t.Errorf("Checkpoints = %+v", st.Checkpoints)
	}
	if len(st.Pending) != 1 || st.Pending[0].ID != mail.ID {
		t.Errorf("Pending = %+v", st.Pending)
	}
	if len(st.LastRuns) != 2 || st.LastRuns[0].ID != new61.ID || st.LastRuns[1].ID != only66.ID {
		t.Errorf("LastRuns = %+v, want runs %d (6.1-rt) and %d (6.6-rt)", st.LastRuns, new61.ID, only66.ID)
	}
	want := map[AnnouncementStatus]int{AnnouncementNew: 1, AnnouncementProcessing: 1, AnnouncementWaiting: 0, AnnouncementDone: 1,
		AnnouncementIgnored: 1, AnnouncementFailed: 0}
	if fmt.Sprint(st.Announcements) != fmt.Sprint(want) {
		t.Errorf("Announcements = %v, want %v", st.Announcements, want)
	}

	empty, err := newStore(t).Status(ctx)
	if err != nil || len(empty.Announcements) != len(AnnouncementStatuses()) || empty.Announcements[AnnouncementNew] != 0 || len(empty.LastRuns) != 0 {
		t.Errorf("empty Status = %+v, %v", empty, err)
	}
}

// TestConcurrentWriters has two Stores (as two processes would) write to one
// file at once, racing on the same keys. busy_timeout and IMMEDIATE
// transactions must serialise them: no SQLITE_BUSY, no lost or doubled rows.
func TestConcurrentWriters(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	path := filepath.Join(t.TempDir(), "rtbot.db")
	stores := []*Store{openAt(t, path), openAt(t, path)}
	mustRecord(t, stores[0], "a1@kernel.org")
	run := mustStart(t, stores[0], spec("a1@kernel.org", "6.1-rt", "c0ffee"))

	const n = 30
	var wg sync.WaitGroup
	errs := make(chan error, 2*n*4)
	var fresh atomic.Int64 // shared announcements recorded as non-duplicates
	for w, s := range stores {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < n; i++ {
				if _, _, err := s.RecordAnnouncement(ctx, announcement(fmt.Sprintf("own-%d-%d@kernel.org", w, i))); err != nil {
					errs <- err
				}
				_, dup, err := s.RecordAnnouncement(ctx, announcement(fmt.Sprintf("shared-%d@kernel.org", i)))
				if err != nil {
					errs <- err
				} else if !dup {
					fresh.Add(1)
				}
				a, done, err := s.Intend(ctx, run.ID, ActionTrigger, fmt.Sprintf("t-%d-%d", w, i))
				if err != nil || done {
					errs <- fmt.Errorf("intend: done %v, %v", done, err)
				} else if err := s.Done(ctx, a.ID); err != nil {
					errs <- err
				}
				if err := s.SaveCheckpoint(ctx, Checkpoint{Server: "s", Mailbox: "INBOX", UIDValidity: 1, LastUID: uint32(i)}); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := fresh.Load(); got != n {
		t.Errorf("%d shared announcements recorded as new, want exactly %d", got, n)
	}
	st, err := stores[1].Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := st.Announcements[AnnouncementNew]; got != 1+2*n+n {
		t.Errorf("%d announcements, want %d", got, 1+3*n)
	}
	d, err := stores[0].Run(ctx, run.ID)
	if err != nil || len(d.Actions) != 2*n || len(st.Pending) != 0 {
		t.Errorf("%d actions (%d pending), want %d done; %v", len(d.Actions), len(st.Pending), 2*n, err)
	}
	var check string
	if err := stores[0].db.QueryRowContext(ctx, `PRAGMA integrity_check`).Scan(&check); err != nil || check != "ok" {
		t.Errorf("integrity_check = %q, %v", check, err)
	}
}

func TestCommittingMarkAndEverDone(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	mustRecord(t, s, "a1@kernel.org")
	run := mustStart(t, s, spec("a1@kernel.org", "6.1-rt", "c0ffee"))

	a, _, err := s.Intend(ctx, run.ID, ActionMail, "m1@rtbot.example")
	if err != nil || a.Committing {
		t.Fatalf("Intend = %+v, %v; want a fresh action, not committing", a, err)
	}
	if err := s.Committing(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	// An interrupted, committing action is handed back with ErrInterrupted
	// and says it may have happened.
	got, _, err := s.Intend(ctx, run.ID, ActionMail, "m1@rtbot.example")
	if !errors.Is(err, ErrInterrupted) || !got.Committing {
		t.Fatalf("Intend after a crash while committing = %+v, %v; want committing and ErrInterrupted", got, err)
	}
	// A retry after Failed starts uncommitted again.
	if err := s.Failed(ctx, a.ID, errors.New("450 try later")); err != nil {
		t.Fatal(err)
	}
	if got, _, err = s.Intend(ctx, run.ID, ActionMail, "m1@rtbot.example"); err != nil || got.Committing || got.Attempts != 2 {
		t.Fatalf("retry = %+v, %v; want attempt 2, not committing", got, err)
	}
	if done, err := s.EverDone(ctx, ActionMail, "m1@rtbot.example"); err != nil || done {
		t.Fatalf("EverDone before Done = %v, %v", done, err)
	}
	if err := s.Done(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.Committing(ctx, a.ID); err == nil {
		t.Error("Committing accepted a done action")
	}
	if done, err := s.EverDone(ctx, ActionMail, "m1@rtbot.example"); err != nil || !done {
		t.Fatalf("EverDone after Done = %v, %v", done, err)
	}
	if done, err := s.EverDone(ctx, ActionPush, "m1@rtbot.example"); err != nil || done {
		t.Fatalf("EverDone of another kind = %v, %v", done, err)
	}
}
