package pipeline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/emersion/go-message/mail"
	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/rtbot/rtbot/internal/fixtures"
	"github.com/rtbot/rtbot/internal/state"
	"github.com/rtbot/rtbot/internal/testkit"
)

// A crash point is the n-th time a pass reaches a Fault point (n counts
// from 1 within the pass).
type crashPoint struct {
	point string
	n     int
}

func (c crashPoint) String() string { return fmt.Sprintf("%s#%d", c.point, c.n) }

// crashWorld is a world with its IMAP server and the announcements of the
// crash scenario's two phases.
type crashWorld struct {
	*world
	imap *fixtures.IMAPServer
}

const (
	crashRC1 = "20230213144742.219399167@linuxfoundation.org"
	crashRC2 = "rc2.cover@linuxfoundation.org"
	forgedID = "forged.1@evil.example"
)

func newCrashWorld(t *testing.T) *crashWorld {
	t.Helper()
	srv, err := fixtures.StartIMAP("rtbot", "pw", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	w := newWorld(t, imapSection{addr: srv.Addr, user: srv.User, password: srv.Password, mailbox: "INBOX"})
	return &crashWorld{world: w, imap: srv}
}

// deliver sets up phase ph of the scenario: phase 0 is the rc1
// announcement (the queue conflicts: partial branch pushed, report mailed)
// and a forged copy; phase 1 is rc2 (clean: branch pushed, KCIDB trigger).
func (w *crashWorld) deliver(t *testing.T, ph int) {
	t.Helper()
	var msgs [][]byte
	switch ph {
	case 0:
		msgs = [][]byte{fixtures.DemoMail, forge(fixtures.DemoMail, "Greg KH <gregkh@linuxfoundation.org.evil.example>", forgedID)}
	case 1:
		w.publishRC2(t)
		msgs = [][]byte{rcMail(2, crashRC2)}
	}
	for _, m := range msgs {
		if err := w.imap.Deliver(m); err != nil {
			t.Fatal(err)
		}
	}
}

// recover runs passes until nothing is left to do, settling interrupted
// mail actions as a maintainer would: done when the report is in the
// SMTP server, retry when it is not. It fails the test if the pipeline
// does not settle within a few passes.
func (w *crashWorld) recover(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	for i := 0; i < 5; i++ {
		_, err := New(w.cfg, w.store, Options{Retry: Retry{Attempts: 1}}).Once(ctx)
		if err == nil {
			return
		}
		if !errors.Is(err, state.ErrInterrupted) && !strings.Contains(err.Error(), "may have") {
			t.Fatalf("recovery pass %d: %v", i+1, err)
		}
		for _, a := range w.interruptedMails(t, fmt.Sprintf("recovery pass %d", i+1), err) {
			if w.mailsWithID(t, a.Key) > 0 {
				err = w.store.Done(ctx, a.ID)
			} else {
				err = w.store.Failed(ctx, a.ID, errors.New("an operator asked for a retry"))
			}
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	t.Fatal("the pipeline did not settle in 5 passes")
}

// interruptedMails returns the pending actions, failing the test (naming
// what, with detail) unless each is a report mail interrupted while
// committing: the one thing a recovery leaves to a maintainer.
func (w *crashWorld) interruptedMails(t *testing.T, what string, detail any) []state.Action {
	t.Helper()
	pend, err := w.store.Pending(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range pend {
		if a.Kind != state.ActionMail || !a.Committing {
			t.Fatalf("%s: pending %+v is not an interrupted mail: %v", what, a, detail)
		}
	}
	return pend
}

// mailsWithID counts the messages the SMTP server accepted with id.
func (w *crashWorld) mailsWithID(t *testing.T, id string) int {
	t.Helper()
	n := 0
	for _, m := range w.smtp.Messages() {
		mr, err := mail.CreateReader(bytes.NewReader(m.Data))
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := mr.Header.MessageID(); got == id {
			n++
		}
	}
	return n
}

// outcome is what a finished scenario left, compared across crashes.
type outcome struct {
	anns     map[string]state.AnnouncementStatus
	runs     map[string]state.Outcome // announcement → outcome of its only run
	pushed   map[string]string        // published branch → tree of its commit
	reports  int                      // report mails
	triggers int                      // KCIDB documents
}

// check asserts the invariants every crash must preserve and returns the
// outcome for comparison with the uninterrupted run.
func (w *crashWorld) check(t *testing.T) outcome {
	t.Helper()
	ctx := context.Background()
	if problems, err := w.store.Check(ctx); err != nil || len(problems) > 0 {
		t.Errorf("state check: %v %q", err, problems)
	}
	st, err := w.store.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Pending) != 0 || len(st.Waiting) != 0 {
		t.Errorf("left pending actions %+v, waiting announcements %+v", st.Pending, st.Waiting)
	}
	o := outcome{anns: map[string]state.AnnouncementStatus{}, runs: map[string]state.Outcome{}, pushed: map[string]string{}}
	anns, err := w.store.Announcements(ctx, state.AnnouncementFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range anns {
		o.anns[a.MessageID] = a.Status
	}
	runs, err := w.store.Runs(ctx, state.RunFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range runs {
		if _, dup := o.runs[r.Announcement]; dup {
			t.Errorf("announcement <%s> has more than one run", r.Announcement)
		}
		o.runs[r.Announcement] = r.Outcome
	}
	// At most one report per announcement and queue: the report's
	// Message-ID is derived from both.
	for _, r := range runs {
		if r.Outcome != state.OutcomeManual {
			continue
		}
		a, _ := w.store.Announcement(ctx, r.Announcement)
		id := New(w.cfg, w.store, Options{}).reportMessageID(a, w.cfg.Trees[0], r.Candidate, r.QueueID)
		o.reports += w.mailsWithID(t, id)
	}
	if n := len(w.smtp.Messages()); n != o.reports {
		t.Errorf("%d mails sent, %d of them reports", n, o.reports)
	}
	docs, _ := filepath.Glob(filepath.Join(w.kcidbDir, "*.json"))
	o.triggers = len(docs)
	// No ref points at a missing object, and git itself finds both
	// repositories sound.
	for _, dir := range []string{w.demo.Repo, filepath.Join(w.dir, "published.git")} {
		if out, err := testkit.RunGit(t, dir, nil, "fsck", "--no-progress", "--no-dangling", "--strict"); err != nil {
			t.Errorf("git fsck %s: %v\n%s", dir, err, out)
		}
	}
	pub, err := git.PlainOpen(filepath.Join(w.dir, "published.git"))
	if err != nil {
		t.Fatal(err)
	}
	it, _ := pub.References()
	it.ForEach(func(r *plumbing.Reference) error {
		if r.Type() != plumbing.HashReference {
			return nil
		}
		c, err := pub.CommitObject(r.Hash())
		if err != nil {
			t.Errorf("published %s: %v", r.Name(), err)
			return nil
		}
		o.pushed[r.Name().String()] = c.TreeHash.String()
		return nil
	})
	return o
}

func (o outcome) String() string {
	var b strings.Builder
	keys := func(m map[string]string) []string {
		var ks []string
		for k, v := range m {
			ks = append(ks, k+"="+v)
		}
		sort.Strings(ks)
		return ks
	}
	anns, runs := map[string]string{}, map[string]string{}
	for k, v := range o.anns {
		anns[k] = string(v)
	}
	for k, v := range o.runs {
		runs[k] = string(v)
	}
	fmt.Fprintf(&b, "announcements %v\nruns %v\npushed %v\nreports %d", keys(anns), keys(runs), keys(o.pushed), o.reports)
	return b.String()
}

// finish recovers from a crash in phase ph with settle, runs the later
// phases, and checks the end state is want's: the trigger may have fired
// twice (at least once), everything else must be the same.
func (w *crashWorld) finish(t *testing.T, ph int, settle func(*testing.T), what string, want outcome) {
	t.Helper()
	settle(t)
	for p := ph + 1; p < 2; p++ {
		w.deliver(t, p)
		settle(t)
	}
	got := w.check(t)
	if got.String() != want.String() || got.triggers < 1 || got.triggers > 2 {
		t.Errorf("after %s:\n%v\ntriggers %d\nwant\n%v\ntriggers 1 (2 allowed: at least once)", what, got, got.triggers, want)
	}
}

// crashBaseline runs the scenario uninterrupted and returns the crash
// points each phase reaches, in order, and the outcome every crashed run
// must end in. It checks every Fault point is among them.
func crashBaseline(t *testing.T) ([2][]crashPoint, outcome) {
	t.Helper()
	base := newCrashWorld(t)
	var seen [2][]crashPoint
	for ph := 0; ph < 2; ph++ {
		base.deliver(t, ph)
		count := map[string]int{}
		base.pass(t, Options{Fault: func(point string) error {
			count[point]++
			seen[ph] = append(seen[ph], crashPoint{point, count[point]})
			return nil
		}})
	}
	want := base.check(t)
	if want.reports != 1 || want.triggers != 1 || len(want.pushed) != 2 ||
		want.anns[crashRC1] != state.AnnouncementDone || want.anns[crashRC2] != state.AnnouncementDone ||
		want.anns[forgedID] != state.AnnouncementIgnored ||
		want.runs[crashRC1] != state.OutcomeManual || want.runs[crashRC2] != state.OutcomeClean {
		t.Fatalf("uninterrupted scenario:\n%v\ntriggers %d", want, want.triggers)
	}
	points := map[string]bool{}
	for ph := 0; ph < 2; ph++ {
		for _, cp := range seen[ph] {
			points[cp.point] = true
		}
	}
	for _, p := range []string{FaultRecorded, FaultCheckpoint, FaultFetched, FaultRebasing, FaultRebased, FaultResults,
		FaultBranch, FaultPushed, FaultTriggered, FaultMailCommit, FaultMailSent, FaultFinished, FaultAnnounced, FaultMarkedFlags} {
		if !points[p] {
			t.Errorf("the scenario never reaches fault point %q", p)
		}
	}
	return seen, want
}

// TestCrashAtEveryPoint stops the pipeline at every point an
// uninterrupted run of the scenario reaches — every occurrence of every
// Fault point, in both phases — then reruns it, and checks that the end
// state is the uninterrupted one: every announcement processed exactly
// once, exactly one report mail (a maintainer settles the ones a crash
// left in doubt, as `rtbot action` lets them), the tested branch triggered
// at least once, no ref pointing at a missing object, a consistent state
// file.
func TestCrashAtEveryPoint(t *testing.T) {
	if testing.Short() {
		t.Skip("the crash harness runs the scenario once per crash point")
	}
	seen, want := crashBaseline(t)
	total := len(seen[0]) + len(seen[1])
	exercised := 0
	for ph := 0; ph < 2; ph++ {
		for _, cp := range seen[ph] {
			t.Run(fmt.Sprintf("phase%d/%s", ph+1, cp), func(t *testing.T) {
				t.Parallel()
				w := newCrashWorld(t)
				for p := 0; p < ph; p++ {
					w.deliver(t, p)
					w.pass(t, Options{})
				}
				w.deliver(t, ph)
				count := map[string]int{}
				crash := errors.New("simulated crash")
				_, err := New(w.cfg, w.store, Options{Fault: func(point string) error {
					count[point]++
					if point == cp.point && count[point] == cp.n {
						return crash
					}
					return nil
				}}).Once(context.Background())
				var stop *Stopped
				if !errors.As(err, &stop) || stop.Point != cp.point {
					t.Fatalf("the pass was not stopped at %s: %v", cp, err)
				}
				w.finish(t, ph, w.recover, "a crash at "+cp.String(), want)
			})
			exercised++
		}
	}
	t.Logf("exercised %d crash points: %s", exercised, crashPointList(seen))
	if exercised != total {
		t.Errorf("exercised %d of %d crash points", exercised, total)
	}
}

// crashPointList names the crash points of both phases.
func crashPointList(seen [2][]crashPoint) string {
	var names []string
	for ph := range seen {
		for _, cp := range seen[ph] {
			names = append(names, fmt.Sprintf("%d:%s", ph+1, cp))
		}
	}
	return strings.Join(names, " ")
}
