package pipeline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-message/mail"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/rtbot/rtbot/internal/fixtures"
	"github.com/rtbot/rtbot/internal/report"
	"github.com/rtbot/rtbot/internal/state"
)

// Every announcement ends in an outcome a human can see, and none is lost
// to a forgery, a mistake in the configuration or a permanent error: the
// tests of docs/operations.md, "When something fails".

const (
	genuine13 = "20230220100000.613000001@linuxfoundation.org"
	forged13  = "20230214000000.000000001@linuxfoundation.org"
)

// send delivers msgs to the world's mailbox.
func (w *crashWorld) send(t *testing.T, msgs ...[]byte) {
	t.Helper()
	for _, m := range msgs {
		if err := w.imap.Deliver(m); err != nil {
			t.Fatal(err)
		}
	}
}

// coverOf is the real 6.1.12-rc1 cover turned into the one for version
// and rc, with Message-ID id, from the configured sender.
func coverOf(version string, rc int, id string) []byte {
	m := bytes.ReplaceAll(fixtures.DemoMail, []byte("6.1.12-rc1"), []byte(candName(version, rc)))
	m = bytes.ReplaceAll(m, []byte("6.1.12"), []byte(version))
	return regexp.MustCompile(`(?m)^Message-Id: <[^>]*>`).ReplaceAll(m, []byte("Message-Id: <"+id+">"))
}

// publish moves the stable-rc branch to a commit of version and rc (rc 0:
// a final release) on top of where it is, with the 6.1.12-rc1 tree (so
// the queue conflicts as on rc1), and tags it tag when tag is not "".
func (w *crashWorld) publish(t *testing.T, version string, rc int, tag string) plumbing.Hash {
	t.Helper()
	extra := ""
	if rc > 0 {
		extra = fmt.Sprintf("-rc%d", rc)
	}
	h := w.commitStable(t, w.rc1(t).String(), "refs/heads/linux-6.1.y", "Linux "+candName(version, rc)+"\n",
		func(_ *fixtures.Repo, tree fixtures.Tree) {
			tree["Makefile"] = fixtures.File{Content: fmt.Sprintf("# SPDX-License-Identifier: GPL-2.0\nVERSION = 6\nPATCHLEVEL = 1\n"+
				"SUBLEVEL = %s\nEXTRAVERSION = %s\nNAME = Curry Ramen\n", strings.TrimPrefix(version, "6.1."), extra)}
		})
	if tag != "" {
		r, err := fixtures.Open(w.demo.StableRC)
		if err == nil {
			err = r.Tag(tag, h)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return h
}

// ann returns the recorded announcement id.
func (w *crashWorld) ann(t *testing.T, id string) state.Announcement {
	t.Helper()
	a, err := w.store.Announcement(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// runsOf returns the runs of announcement id, oldest first.
func (w *crashWorld) runsOf(t *testing.T, id string) []state.Run {
	t.Helper()
	runs, err := w.store.Runs(context.Background(), state.RunFilter{Announcement: id})
	if err != nil {
		t.Fatal(err)
	}
	slices.Reverse(runs)
	return runs
}

// mailsTo returns the header and body of every mail the SMTP server
// accepted, in order.
func (w *crashWorld) mailsTo(t *testing.T) []sentMail {
	t.Helper()
	var out []sentMail
	for _, m := range w.smtp.Messages() {
		mr, err := mail.CreateReader(bytes.NewReader(m.Data))
		if err != nil {
			t.Fatal(err)
		}
		var s sentMail
		s.subject, _ = mr.Header.Subject()
		s.id, _ = mr.Header.MessageID()
		irt, _ := mr.Header.MsgIDList("In-Reply-To")
		s.inReplyTo = strings.Join(irt, " ")
		p, err := mr.NextPart()
		if err != nil {
			t.Fatal(err)
		}
		var body bytes.Buffer
		body.ReadFrom(p.Body)
		s.body = body.String()
		out = append(out, s)
	}
	return out
}

// sentMail is a mail the SMTP server accepted.
type sentMail struct {
	id, subject, inReplyTo, body string
}

func (m sentMail) String() string {
	return fmt.Sprintf("<%s> %q in reply to <%s>", m.id, m.subject, m.inReplyTo)
}

// TestForgedFutureRCThenGenuine is the first case: a cover from
// the configured sender for an rc that does not exist yet waits, pins no
// candidate ref and runs nothing; the genuine cover of that rc, once the
// stable-rc tree has it, gives one run and one mail, threaded under it.
func TestForgedFutureRCThenGenuine(t *testing.T) {
	w := newCrashWorld(t)
	w.send(t, coverOf("6.1.13", 1, forged13))
	if _, log, err := w.logged(t, quickRetry); err != nil {
		t.Fatalf("pass with the forged future rc: %v\n%s", err, log)
	}
	if a := w.ann(t, forged13); a.Status != "waiting" || !strings.Contains(a.Reason, "6.1.12-rc1") {
		t.Errorf("forged future rc recorded %s: %q; want waiting, saying what the branch has", a.Status, a.Reason)
	}
	if runs := w.runsOf(t, forged13); len(runs) != 0 {
		t.Errorf("the forged future rc got runs %+v", runs)
	}
	if r, ok := refs(t, w.demo.Repo)["refs/rtbot/candidates/6.1-rt/6.1.13-rc1"]; ok {
		t.Errorf("a candidate ref was pinned for an rc that does not exist: %s", r)
	}
	w.publish(t, "6.1.13", 1, "")
	w.send(t, coverOf("6.1.13", 1, genuine13))
	if _, log, err := w.logged(t, quickRetry); err != nil {
		t.Fatalf("pass with the genuine rc: %v\n%s", err, log)
	}
	runs := w.runsOf(t, genuine13)
	if len(runs) != 1 || runs[0].Outcome != state.OutcomeManual || len(w.runsOf(t, forged13)) != 0 {
		t.Fatalf("runs of the genuine cover %+v, of the forged one %+v; want one manual run of the genuine", runs, w.runsOf(t, forged13))
	}
	mails := w.mailsTo(t)
	if len(mails) != 1 || mails[0].inReplyTo != genuine13 || !strings.Contains(mails[0].subject, "6.1.13-rc1") {
		t.Errorf("mails %v; want one report on 6.1.13-rc1 threaded under the genuine cover", mails)
	}
	if a := w.ann(t, forged13); a.Status != state.AnnouncementIgnored || !strings.Contains(a.Reason, genuine13) {
		t.Errorf("forged future rc ends %s: %q; want ignored, naming the genuine cover", a.Status, a.Reason)
	}
}

// TestForgedMessageIDFirst: a mail from a sender that is not configured,
// reusing the genuine cover's Message-ID, arrives first (in the same scan
// or an earlier pass). The genuine cover is still run and reported, once.
func TestForgedMessageIDFirst(t *testing.T) {
	for _, samePass := range []bool{true, false} {
		t.Run(fmt.Sprintf("same pass %v", samePass), func(t *testing.T) {
			w := newCrashWorld(t)
			w.send(t, forge(fixtures.DemoMail, "Mallory <mallory@evil.example>", crashRC1))
			if !samePass {
				if _, log, err := w.logged(t, quickRetry); err != nil {
					t.Fatalf("pass with the forged mail: %v\n%s", err, log)
				}
			}
			w.send(t, fixtures.DemoMail)
			if _, log, err := w.logged(t, quickRetry); err != nil {
				t.Fatalf("pass with the genuine cover: %v\n%s", err, log)
			}
			runs := w.runsOf(t, crashRC1)
			if a := w.ann(t, crashRC1); len(runs) != 1 || a.Status != state.AnnouncementDone || a.From != "gregkh@linuxfoundation.org" {
				t.Fatalf("genuine cover %s from %s with runs %+v; want done from Greg with one run", a.Status, a.From, runs)
			}
			if mails := w.mailsTo(t); len(mails) != 1 || mails[0].inReplyTo != crashRC1 {
				t.Errorf("mails %v; want the one report, threaded under the cover", mails)
			}
		})
	}
}

// forgottenAnnounceURL is a world whose tree forgot announce_url, after a
// pass over the rc1 cover; fix puts the key back.
func forgottenAnnounceURL(t *testing.T) (w *crashWorld, fix func()) {
	t.Helper()
	w = newCrashWorld(t)
	tree := &w.cfg.Trees[0]
	good := tree.AnnounceURL
	tree.AnnounceURL = ""
	w.deliver(t, 0)
	w.pass(t, Options{})
	return w, func() { tree.AnnounceURL = good }
}

// TestAnnounceURLFixed: a forgotten announce_url (the candidate is a local
// mirror) ignores the genuine cover, saying why; once the configuration
// is fixed the next pass looks at the mail again and runs it.
func TestAnnounceURLFixed(t *testing.T) {
	w, fix := forgottenAnnounceURL(t)
	if a := w.ann(t, crashRC1); a.Status != state.AnnouncementIgnored || !strings.Contains(a.Reason, "not the configured candidate") {
		t.Fatalf("cover recorded %s: %q; want ignored for the URL", a.Status, a.Reason)
	}
	fix()
	if _, log, err := w.logged(t, quickRetry); err != nil {
		t.Fatalf("pass after the fix: %v\n%s", err, log)
	}
	if a, runs := w.ann(t, crashRC1), w.runsOf(t, crashRC1); a.Status != state.AnnouncementDone || len(runs) != 1 {
		t.Fatalf("after the fix the cover is %s (%q) with runs %+v; want done with one run", a.Status, a.Reason, runs)
	}
	if mails := w.mailsTo(t); len(mails) != 1 || mails[0].inReplyTo != crashRC1 {
		t.Errorf("mails %v; want the report", mails)
	}
}

// breakage is a permanent error a maintainer makes or meets, and its fix.
type breakage struct {
	name  string
	brk   func(t *testing.T, w *crashWorld)
	fix   func(t *testing.T, w *crashWorld)
	error string // in the error report and the pass's error
}

func breakages() []breakage {
	series := func(w *crashWorld) (string, string) {
		return filepath.Join(w.demo.Queue, "series"), filepath.Join(w.demo.Queue, "series.off")
	}
	var goodRepo string
	return []breakage{
		{name: "queue without series", error: "series",
			brk: func(t *testing.T, w *crashWorld) {
				on, off := series(w)
				if err := os.Rename(on, off); err != nil {
					t.Fatal(err)
				}
			},
			fix: func(t *testing.T, w *crashWorld) {
				on, off := series(w)
				if err := os.Rename(off, on); err != nil {
					t.Fatal(err)
				}
			}},
		{name: "wrong repo", error: "no-such.git",
			brk: func(t *testing.T, w *crashWorld) {
				goodRepo, w.cfg.Trees[0].Repo = w.cfg.Trees[0].Repo, filepath.Join(w.dir, "no-such.git")
			},
			fix: func(t *testing.T, w *crashWorld) { w.cfg.Trees[0].Repo = goodRepo }},
	}
}

// TestPermanentErrorReported: a permanent error fails the pass and mails
// the maintainers a short error report, threaded under the announcement,
// once; later passes leave it alone until its cause changes, and the
// pass after the fix runs the announcement.
func TestPermanentErrorReported(t *testing.T) {
	for _, b := range breakages() {
		t.Run(b.name, func(t *testing.T) {
			w := newCrashWorld(t)
			b.brk(t, w)
			w.deliver(t, 0)
			_, log, err := w.logged(t, quickRetry)
			if err == nil || !strings.Contains(err.Error(), b.error) {
				t.Fatalf("pass error %v; want one naming %q\n%s", err, b.error, log)
			}
			mails := w.mailsTo(t)
			if len(mails) != 1 || mails[0].inReplyTo != crashRC1 || !strings.Contains(mails[0].body, b.error) ||
				!strings.Contains(mails[0].body, "rtbot rerun") {
				t.Fatalf("mails %v; want one error report threaded under the cover, naming %q and how to rerun", mails, b.error)
			}
			for _, l := range strings.Split(mails[0].body, "\n") {
				if !strings.HasPrefix(l, "    ") && report.Columns(l) > report.Width {
					t.Errorf("error report line of %d columns: %q", report.Columns(l), l)
				}
			}
			if a := w.ann(t, crashRC1); a.Status != "failed" || !strings.Contains(a.Reason, b.error) {
				t.Errorf("announcement %s: %q; want failed with the error", a.Status, a.Reason)
			}
			if _, log, err := w.logged(t, quickRetry); err != nil || len(w.smtp.Messages()) != 1 {
				t.Fatalf("the pass after: %v, %d mails; want nothing done again\n%s", err, len(w.smtp.Messages()), log)
			}
			b.fix(t, w)
			if _, log, err := w.logged(t, quickRetry); err != nil {
				t.Fatalf("the pass after the fix: %v\n%s", err, log)
			}
			if a, runs := w.ann(t, crashRC1), w.runsOf(t, crashRC1); a.Status != state.AnnouncementDone || runs[len(runs)-1].Outcome != state.OutcomeManual {
				t.Errorf("after the fix: %s, runs %+v; want done, the last run manual", a.Status, runs)
			}
			if mails := w.mailsTo(t); len(mails) != 2 || !strings.Contains(mails[1].subject, "need attention") {
				t.Errorf("mails %v; want the error report, then the triage report", mails)
			}
			w.stateSound(t)
		})
	}
}

// TestBranchMovedOn: the rc branch has moved on to the release when the
// cover is read. No candidate ref is pinned to the wrong commit; the pass
// fails and the maintainers get an error report saying what the branch
// has.
func TestBranchMovedOn(t *testing.T) {
	w := newCrashWorld(t)
	w.publish(t, "6.1.12", 0, "")
	w.deliver(t, 0)
	const want = "Makefile says 6.1.12, the announcement says 6.1.12-rc1"
	_, log, err := w.logged(t, quickRetry)
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("pass error %v; want %q\n%s", err, want, log)
	}
	if mails := w.mailsTo(t); len(mails) != 1 || !strings.Contains(mails[0].body, want) {
		t.Fatalf("mails %v; want the error report", mails)
	}
	if r, ok := refs(t, w.demo.Repo)["refs/rtbot/candidates/6.1-rt/6.1.12-rc1"]; ok {
		t.Errorf("the candidate ref was pinned to the wrong commit: %s", r)
	}
	// The stable maintainer puts the branch back; the maintainer reruns.
	r, err := fixtures.Open(w.demo.StableRC)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Branch("linux-6.1.y", w.rc1(t)); err != nil {
		t.Fatal(err)
	}
	if _, err := New(w.cfg, w.store, Options{Retry: quickRetry}).Rerun(context.Background(), crashRC1); err != nil {
		t.Fatalf("rerun: %v", err)
	}
	if runs := w.runsOf(t, crashRC1); len(runs) != 2 || runs[1].Outcome != state.OutcomeManual {
		t.Errorf("runs %+v; want the failed one, then a manual one", runs)
	}
	if a := w.ann(t, crashRC1); a.Status != state.AnnouncementDone {
		t.Errorf("after the rerun the announcement is %s: %q", a.Status, a.Reason)
	}
	w.stateSound(t)
}

// stateSound fails the test when the state file breaks an invariant.
func (w *crashWorld) stateSound(t *testing.T) {
	t.Helper()
	if problems, err := w.store.Check(context.Background()); err != nil || len(problems) > 0 {
		t.Errorf("state check: %v %q", err, problems)
	}
}

// rc1 is the demo's 6.1.12-rc1 commit.
func (w *crashWorld) rc1(t *testing.T) plumbing.Hash {
	t.Helper()
	r, err := fixtures.Open(w.demo.Repo)
	if err != nil {
		t.Fatal(err)
	}
	h, err := r.Repo.ResolveRevision("v6.1.12-rc1")
	if err != nil {
		t.Fatal(err)
	}
	return *h
}

// TestWaitRunsOut: a forged cover for an rc that never comes waits until
// its patience runs out, then fails, reported to the maintainers; it
// never claimed the candidate, so the genuine cover that comes later is
// run and reported.
func TestWaitRunsOut(t *testing.T) {
	w := newCrashWorld(t)
	w.send(t, coverOf("6.1.13", 1, forged13))
	if _, log, err := w.logged(t, quickRetry); err != nil {
		t.Fatalf("pass: %v\n%s", err, log)
	}
	later := func() time.Time { return time.Now().Add(MaxReviewWindow + PatienceMargin + time.Hour) }
	_, err := New(w.cfg, w.store, Options{Retry: quickRetry, Now: later}).Once(context.Background())
	if err == nil || !strings.Contains(err.Error(), "never appeared") {
		t.Fatalf("pass after the wait: %v; want the forged rc failed", err)
	}
	mails := w.mailsTo(t)
	if a := w.ann(t, forged13); a.Status != "failed" || len(mails) != 1 || mails[0].inReplyTo != forged13 ||
		!strings.Contains(mails[0].body, "never appeared") {
		t.Fatalf("forged rc %s (%q), mails %v; want failed and reported", a.Status, a.Reason, mails)
	}
	w.publish(t, "6.1.13", 1, "")
	w.send(t, coverOf("6.1.13", 1, genuine13))
	if _, log, err := w.logged(t, quickRetry); err != nil {
		t.Fatalf("pass with the genuine rc: %v\n%s", err, log)
	}
	if runs := w.runsOf(t, genuine13); len(runs) != 1 || runs[0].Outcome != state.OutcomeManual || len(w.mailsTo(t)) != 2 {
		t.Errorf("genuine rc runs %+v, %d mails; want one manual run and its report", runs, len(w.mailsTo(t)))
	}
}

// TestRerunDone: `rtbot rerun RUN` of a run that ended needing a human
// does it again on purpose: a new run on the same candidate, and a new
// report threaded under the cover.
func TestRerunDone(t *testing.T) {
	w := newCrashWorld(t)
	w.deliver(t, 0)
	p1 := w.pass(t, Options{})
	pass, err := New(w.cfg, w.store, Options{Retry: quickRetry}).Rerun(context.Background(), fmt.Sprint(p1.Runs[0].RunID))
	if err != nil {
		t.Fatalf("rerun: %v", err)
	}
	if len(pass.Runs) != 1 || pass.Runs[0].RunID == p1.Runs[0].RunID || pass.Runs[0].Commit != p1.Runs[0].Commit ||
		pass.Runs[0].Outcome != state.OutcomeManual {
		t.Fatalf("rerun did %+v; want a new manual run on %s", pass.Runs, p1.Runs[0].Commit)
	}
	mails := w.mailsTo(t)
	if len(mails) != 2 || mails[1].inReplyTo != crashRC1 || mails[1].id == mails[0].id {
		t.Errorf("mails %v; want a second report, threaded under the cover", mails)
	}
	if _, err := New(w.cfg, w.store, Options{}).Rerun(context.Background(), forgedID); err == nil ||
		!strings.Contains(err.Error(), "stays ignored") {
		t.Errorf("rerun of the forged mail: %v; want it to stay ignored, saying why", err)
	}
}

// TestRunOntoForce: `rtbot run --onto REV --force` runs an identical
// candidate and queue again, as a new run.
func TestRunOntoForce(t *testing.T) {
	w := newCrashWorld(t)
	ctx := context.Background()
	p := New(w.cfg, w.store, Options{Retry: quickRetry})
	var ids []string
	for _, force := range []bool{false, false, true} {
		a, err := p.Submit(ctx, "", "v6.1.12-rc1", force)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.ProcessPending(ctx); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, a.MessageID)
	}
	if ids[0] != ids[1] || ids[2] == ids[0] {
		t.Errorf("announcements %v; want the same one twice, then a new one", ids)
	}
	if n := len(w.runsOf(t, ids[0])) + len(w.runsOf(t, ids[2])); n != 2 || len(w.mailsTo(t)) != 2 {
		t.Errorf("%d runs, %d mails; want 2 of each", n, len(w.mailsTo(t)))
	}
}

// TestRunOntoFetches: `rtbot run --onto` a tag the repository lacks
// fetches it from candidate_url.
func TestRunOntoFetches(t *testing.T) {
	w := newCrashWorld(t)
	w.publish(t, "6.1.13", 0, "v6.1.13")
	p := New(w.cfg, w.store, Options{Retry: quickRetry})
	a, err := p.Submit(context.Background(), "", "v6.1.13", false)
	if err != nil {
		t.Fatalf("run --onto v6.1.13: %v", err)
	}
	if _, err := p.ProcessPending(context.Background()); err != nil {
		t.Fatal(err)
	}
	if runs := w.runsOf(t, a.MessageID); len(runs) != 1 || runs[0].Outcome != state.OutcomeManual {
		t.Errorf("runs %+v; want one, manual", runs)
	}
}

// TestRunOntoAfterQueueChange: a second `rtbot run --onto` of the same
// candidate after the queue changed is a new run, as runs are keyed by the
// queue's content.
func TestRunOntoAfterQueueChange(t *testing.T) {
	w := newCrashWorld(t)
	ctx := context.Background()
	p := New(w.cfg, w.store, Options{Retry: quickRetry})
	onto := func() state.Announcement {
		a, err := p.Submit(ctx, "", "v6.1.12-rc1", false)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.ProcessPending(ctx); err != nil {
			t.Fatal(err)
		}
		return a
	}
	a := onto()
	f, err := os.OpenFile(filepath.Join(w.demo.Queue, "series"), os.O_APPEND|os.O_WRONLY, 0)
	if err == nil {
		_, err = f.WriteString("# refreshed\n")
		f.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	if again := onto(); again.MessageID != a.MessageID {
		t.Errorf("the same candidate again is announcement <%s>, want <%s>", again.MessageID, a.MessageID)
	}
	if runs := w.runsOf(t, a.MessageID); len(runs) != 2 || runs[0].QueueID == runs[1].QueueID {
		t.Errorf("runs %+v; want two, on the two queues", runs)
	}
}

// threadedUnder makes msg a reply to parent, without the X-KernelTest
// headers (as the 3.16 and 4.4 maintainers' scripts sent their covers).
func threadedUnder(msg []byte, parent string) []byte {
	msg = regexp.MustCompile(`(?m)^X-KernelTest-[^\n]*\n`).ReplaceAll(msg, nil)
	return withHeader(withHeader(msg, "In-Reply-To", "<"+parent+">"), "References", "<"+parent+">")
}

// TestThreadedRespin: an rc2 cover sent as a reply to the rc1 cover is an
// announcement; a reply to the rc2 cover with its exact subject is not,
// even from the configured sender.
func TestThreadedRespin(t *testing.T) {
	w := newCrashWorld(t)
	w.deliver(t, 0)
	w.pass(t, Options{})
	w.publishRC2(t)
	w.send(t, threadedUnder(rcMail(2, crashRC2), crashRC1),
		forge(threadedUnder(rcMail(2, "tester@example.org"), crashRC2), "Tester <tester@example.org>", "tester@example.org"),
		forge(threadedUnder(rcMail(2, "greg-reply@linuxfoundation.org"), crashRC2), "Greg KH <gregkh@linuxfoundation.org>", "greg-reply@linuxfoundation.org"))
	if _, log, err := w.logged(t, quickRetry); err != nil {
		t.Fatalf("pass: %v\n%s", err, log)
	}
	if a, runs := w.ann(t, crashRC2), w.runsOf(t, crashRC2); a.Status != state.AnnouncementDone || len(runs) != 1 || runs[0].Outcome != state.OutcomeClean {
		t.Errorf("threaded rc2 cover %s (%q), runs %+v; want done with a clean run", a.Status, a.Reason, runs)
	}
	for _, id := range []string{"tester@example.org", "greg-reply@linuxfoundation.org"} {
		if a := w.ann(t, id); a.Status != state.AnnouncementIgnored || !strings.Contains(a.Reason, "reply") {
			t.Errorf("reply <%s> recorded %s: %q; want ignored as a reply", id, a.Status, a.Reason)
		}
	}
}

// TestRetryStillFailing: a configuration change that does not fix the
// cause redoes the failed run under its id (no new run), fails it again
// with the same error, and mails no second error report.
func TestRetryStillFailing(t *testing.T) {
	w := newCrashWorld(t)
	w.publish(t, "6.1.12", 0, "")
	w.deliver(t, 0)
	if _, _, err := w.logged(t, quickRetry); !errors.As(err, new(*RunFailed)) {
		t.Fatalf("first pass: %v; want the run failed", err)
	}
	w.cfg.Limits.MailBytes++ // a change, but not the cause
	pass, log, err := w.logged(t, quickRetry)
	if !errors.As(err, new(*RunFailed)) || len(pass.Retried) != 1 {
		t.Fatalf("pass after the change: %v, retried %v; want the announcement retried and failing again\n%s", err, pass.Retried, log)
	}
	runs := w.runsOf(t, crashRC1)
	if len(runs) != 1 || runs[0].Attempts != 2 || runs[0].Outcome != state.OutcomeError {
		t.Errorf("runs %+v; want the one run, redone, in error again", runs)
	}
	if a := w.ann(t, crashRC1); a.Status != "failed" || len(w.mailsTo(t)) != 1 {
		t.Errorf("announcement %s, %d mails; want failed, one error report", a.Status, len(w.mailsTo(t)))
	}
	w.stateSound(t)
}

// TestOldIgnoredLeftAlone: a cover ignored for the configuration is looked
// at again by itself only within its patience (so fixing a key long after
// does not run, and mail about, old rcs); `rtbot rerun` still does it.
func TestOldIgnoredLeftAlone(t *testing.T) {
	w, fix := forgottenAnnounceURL(t)
	fix()
	later := func() time.Time { return time.Now().Add(MaxReviewWindow + PatienceMargin + time.Hour) }
	p := New(w.cfg, w.store, Options{Retry: quickRetry, Now: later})
	if pass, err := p.Once(context.Background()); err != nil || len(pass.Runs) != 0 || w.ann(t, crashRC1).Status != state.AnnouncementIgnored {
		t.Fatalf("a pass long after: %v, runs %+v; want the old cover left ignored", err, pass.Runs)
	}
	if pass, err := p.Rerun(context.Background(), "<"+crashRC1+">"); err != nil || len(pass.Runs) != 1 || len(w.mailsTo(t)) != 1 {
		t.Fatalf("rerun: %v, runs %+v, %d mails; want it run and reported", err, pass.Runs, len(w.mailsTo(t)))
	}
}
