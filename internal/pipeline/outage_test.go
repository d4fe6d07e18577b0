package pipeline

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rtbot/rtbot/internal/remote"
	"github.com/rtbot/rtbot/internal/state"
	"github.com/rtbot/rtbot/internal/testkit"
)

// quickRetry retries at once, so the tests do not wait.
var quickRetry = Retry{Attempts: 3, Min: time.Millisecond, Max: time.Millisecond}

// logged runs one pass with a text log and returns the pass, its error and
// the log.
func (w *crashWorld) logged(t *testing.T, r Retry) (*Pass, string, error) {
	t.Helper()
	var log bytes.Buffer
	pass, err := New(w.cfg, w.store, Options{Retry: r, Log: slog.New(slog.NewTextHandler(&log, nil))}).Once(context.Background())
	return pass, log.String(), err
}

// recovers runs a pass that must succeed now that the fault is gone (what
// says when, for the failure message), and returns what w.check finds.
func (w *crashWorld) recovers(t *testing.T, what string) outcome {
	t.Helper()
	if _, log, err := w.logged(t, quickRetry); err != nil {
		t.Fatalf("pass %s: %v\n%s", what, err, log)
	}
	return w.check(t)
}

// mailAction returns the report mail action of the rc1 run.
func (w *crashWorld) mailAction(t *testing.T) state.Action {
	t.Helper()
	runs, err := w.store.Runs(context.Background(), state.RunFilter{Announcement: crashRC1})
	if err != nil || len(runs) != 1 {
		t.Fatalf("runs of rc1: %v %v", runs, err)
	}
	d, err := w.store.Run(context.Background(), runs[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range d.Actions {
		if a.Kind == state.ActionMail {
			return a
		}
	}
	t.Fatalf("run %d has no mail action: %+v", runs[0].ID, d.Actions)
	return state.Action{}
}

// waiting returns the announcement rtbot status lists as waiting.
func (w *crashWorld) waiting(t *testing.T) []state.Announcement {
	t.Helper()
	st, err := w.store.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return st.Waiting
}

func mustContain(t *testing.T, what, s string, subs ...string) {
	t.Helper()
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			t.Errorf("%s lacks %q:\n%s", what, sub, s)
		}
	}
}

// TestSMTPTemporaryFailureRetried: a 451 to the end of the message is
// retried within the pass, with backoff, and the report goes out once.
func TestSMTPTemporaryFailureRetried(t *testing.T) {
	w := newCrashWorld(t)
	w.deliver(t, 0)
	w.smtp.FailNext("data", 451, 1)
	_, log, err := w.logged(t, quickRetry)
	if err != nil {
		t.Fatalf("pass: %v\n%s", err, log)
	}
	mustContain(t, "log", log, "temporary failure; retrying", "451")
	if n := w.mailsWithID(t, w.mailAction(t).Key); n != 1 {
		t.Errorf("%d reports sent, want 1", n)
	}
	if a := w.mailAction(t); a.State != state.ActionDone || a.Attempts != 2 {
		t.Errorf("mail action %+v, want done on attempt 2", a)
	}
}

// TestSMTPOutageLeftForNextPass: a server that keeps answering 4xx past
// the retries leaves the announcement waiting, with the reason in rtbot
// status; the next pass, once the server is back, sends the report once.
func TestSMTPOutageLeftForNextPass(t *testing.T) {
	w := newCrashWorld(t)
	w.deliver(t, 0)
	w.smtp.FailNext("rcpt", 452, 100)
	_, log, err := w.logged(t, Retry{Attempts: 2, Min: time.Millisecond})
	if err == nil {
		t.Fatal("the pass succeeded with the SMTP server refusing every recipient")
	}
	mustContain(t, "log", log, "temporary failure; retrying", "announcement left for the next pass", "452")
	wt := w.waiting(t)
	if len(wt) != 1 || wt[0].MessageID != crashRC1 || wt[0].Attempts != 1 || !strings.Contains(wt[0].LastError, "452") {
		t.Fatalf("waiting %+v; want rc1 with one failed attempt naming the 452", wt)
	}
	if len(w.smtp.Messages()) != 0 {
		t.Fatal("a mail was accepted")
	}
	w.smtp.FailNext("rcpt", 0, 0)
	w.recovers(t, "after the outage")
	if n := len(w.smtp.Messages()); n != 1 {
		t.Errorf("%d mails after the outage, want 1", n)
	}
}

// TestSMTPDropAfterMessage: the connection drops after the whole message
// went out and before the server answered. The mail may have arrived, so
// it is never sent again without a human saying so.
func TestSMTPDropAfterMessage(t *testing.T) {
	w := newCrashWorld(t)
	w.deliver(t, 0)
	w.smtp.DropNext(1, true)
	_, log, err := w.logged(t, quickRetry)
	if err == nil || !strings.Contains(err.Error(), "may have arrived") || !strings.Contains(err.Error(), "rtbot action") {
		t.Fatalf("pass error %v; want one saying the report may have arrived\n%s", err, log)
	}
	a := w.mailAction(t)
	if a.State != state.ActionIntended || !a.Committing {
		t.Fatalf("mail action %+v; want left intended and committing", a)
	}
	for i := 0; i < 2; i++ {
		if _, _, err := w.logged(t, quickRetry); err == nil {
			t.Fatal("a pass went on without a human settling the report")
		}
	}
	if n := len(w.smtp.Messages()); n != 1 {
		t.Fatalf("%d mails, want the one the server kept", n)
	}
	if err := w.store.Done(context.Background(), a.ID); err != nil {
		t.Fatal(err)
	}
	w.recovers(t, "after settling")
	if n := len(w.smtp.Messages()); n != 1 {
		t.Errorf("%d mails, want 1", n)
	}
}

// TestRemoteUnreachable: the candidate remote and then the push remote
// refuse connections. Each is retried with backoff, then left waiting
// with the reason; when they are back the run completes, once.
func TestRemoteUnreachable(t *testing.T) {
	w := newCrashWorld(t)
	w.deliver(t, 0)
	tree := &w.cfg.Trees[0]
	goodCand, goodPush := tree.CandidateURL, tree.PushRemote
	tree.CandidateURL = "http://127.0.0.1:1/linux-stable-rc.git"
	_, log, err := w.logged(t, quickRetry)
	if err == nil || !remote.IsTemporary(err) {
		t.Fatalf("pass error %v; want a temporary fetch failure", err)
	}
	if n := strings.Count(log, "temporary failure; retrying"); n != quickRetry.Attempts-1 {
		t.Errorf("%d retries logged, want %d:\n%s", n, quickRetry.Attempts-1, log)
	}
	wt := w.waiting(t)
	if len(wt) != 1 || wt[0].Attempts != 1 || !strings.Contains(wt[0].LastError, "connection refused") {
		t.Fatalf("waiting %+v; want rc1 naming the refused connection", wt)
	}
	if runs, _ := w.store.Runs(context.Background(), state.RunFilter{}); len(runs) != 0 {
		t.Fatalf("a run started without a candidate: %+v", runs)
	}

	tree.CandidateURL, tree.PushRemote = goodCand, "http://127.0.0.1:1/published.git"
	_, log, err = w.logged(t, quickRetry)
	if err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("pass error %v; want the push remote's refused connection\n%s", err, log)
	}
	if wt := w.waiting(t); len(wt) != 1 || wt[0].Attempts != 2 {
		t.Fatalf("waiting %+v; want rc1 with 2 failed attempts", wt)
	}
	if len(w.smtp.Messages()) != 0 {
		t.Error("the report went out before the branch it names was pushed")
	}

	tree.PushRemote = goodPush
	o := w.recovers(t, "with both remotes back")
	if o.reports != 1 || len(o.pushed) != 1 || o.runs[crashRC1] != state.OutcomeManual {
		t.Errorf("after the outage: %v", o)
	}
}

// TestDiskFullWritingObjects puts the repository on a tmpfs and fills it:
// writing the rebased objects fails with ENOSPC. The run is not finished
// as an error, the half-written pack is removed, nothing points at a
// missing object, and the next pass, with space again, completes it.
func TestDiskFullWritingObjects(t *testing.T) {
	if testing.Short() {
		t.Skip("mounts a tmpfs")
	}
	w := newCrashWorld(t)
	mnt := filepath.Join(t.TempDir(), "small")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs to fill (needs root): %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", mnt).Run() })
	repo := filepath.Join(mnt, "linux.git")
	if out, err := exec.Command("cp", "-a", w.demo.Repo, repo).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	w.cfg.Trees[0].Repo = repo
	w.demo.Repo = repo
	w.deliver(t, 0)
	// Fetch the candidate first, so the first write to fail is the
	// rebase's pack.
	if _, err := remote.Fetch(context.Background(), repo, remote.Endpoint{URL: w.cfg.Trees[0].CandidateURL}, "linux-6.1.y",
		CandidateRef("6.1-rt", "6.1.12", 1), nil); err != nil {
		t.Fatal(err)
	}
	filler := filepath.Join(mnt, "filler")
	f, err := os.Create(filler)
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.Write(make([]byte, 16<<20))
	f.Close()
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("filling the tmpfs: %v, want ENOSPC", err)
	}

	_, log, err := w.logged(t, quickRetry)
	if err == nil || !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("pass error %v; want no space left on device\n%s", err, log)
	}
	mustContain(t, "log", log, "announcement left for the next pass", "no space left on device")
	if strings.Contains(log, "retrying") {
		t.Errorf("a full disk was retried at once:\n%s", log)
	}
	wt := w.waiting(t)
	if len(wt) != 1 || !strings.Contains(wt[0].LastError, "no space left on device") {
		t.Fatalf("waiting %+v; want rc1 naming the full disk", wt)
	}
	runs, _ := w.store.Runs(context.Background(), state.RunFilter{})
	if len(runs) != 1 || runs[0].Finished() {
		t.Fatalf("runs %+v; want one, unfinished", runs)
	}
	if tmp, _ := filepath.Glob(filepath.Join(repo, "objects", "pack", "tmp_*")); len(tmp) != 0 {
		t.Errorf("half-written pack files left: %v", tmp)
	}
	if out, err := testkit.RunGit(t, repo, nil, "fsck", "--no-progress", "--no-dangling"); err != nil {
		t.Errorf("git fsck on the full disk: %v\n%s", err, out)
	}

	os.Remove(filler)
	o := w.recovers(t, "with space again")
	if o.reports != 1 || o.runs[crashRC1] != state.OutcomeManual {
		t.Errorf("after the disk was freed: %v", o)
	}
}

// TestInterruptedFetchRef: go-git writes a fetched ref in place, so a
// crash in the middle of the first fetch of a candidate leaves its ref
// file empty. The next pass drops it and fetches again instead of failing
// on it for ever.
func TestInterruptedFetchRef(t *testing.T) {
	w := newCrashWorld(t)
	w.deliver(t, 0)
	ref := filepath.Join(w.demo.Repo, "refs", "rtbot", "candidates", "6.1-rt", "6.1.12-rc1")
	if err := os.MkdirAll(filepath.Dir(ref), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(ref, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, log, err := w.logged(t, quickRetry); err != nil {
		t.Fatalf("pass with a broken candidate ref: %v\n%s", err, log)
	} else {
		mustContain(t, "log", log, "dropped a candidate ref an interrupted fetch left broken")
	}
	if o := w.check(t); o.runs[crashRC1] != state.OutcomeManual || o.reports != 1 {
		t.Errorf("after the broken ref: %v", o)
	}
}
