package pipeline

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
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

// crashPhases is the number of phases of the crash scenario (see deliver).
const crashPhases = 6

// deliver sets up phase ph of the scenario:
//   - 0: the rc1 announcement (the queue conflicts: partial branch pushed,
//     report mailed) and a forged copy from another sender (ignored);
//   - 1: rc2 (clean: branch pushed, KCIDB trigger);
//   - 2: a cover from the configured sender for 6.1.13-rc1, which does not
//     exist yet (waiting);
//   - 3: 6.1.13-rc1 published and its genuine cover, with the queue's
//     series file gone: the genuine cover's run fails (error report
//     mailed, announcement failed, the pass fails) and the early one is a
//     repeat of it;
//   - 4: the series file back: the failed announcement is retried (its
//     cause, the queue, changed) and runs (partial branch, report);
//   - 5: no mail: `rtbot rerun 1` redoes rc1's run on purpose (a new run,
//     the partial branch pushed again, a new report).
func (w *crashWorld) deliver(t *testing.T, ph int) {
	t.Helper()
	var msgs [][]byte
	series := filepath.Join(w.demo.Queue, "series")
	switch ph {
	case 0:
		msgs = [][]byte{fixtures.DemoMail, forge(fixtures.DemoMail, "Greg KH <gregkh@linuxfoundation.org.evil.example>", forgedID)}
	case 1:
		w.publishRC2(t)
		msgs = [][]byte{rcMail(2, crashRC2)}
	case 2:
		msgs = [][]byte{coverOf("6.1.13", 1, forged13)}
	case 3:
		w.publish(t, "6.1.13", 1, "")
		if err := os.Rename(series, series+".off"); err != nil {
			t.Fatal(err)
		}
		msgs = [][]byte{coverOf("6.1.13", 1, genuine13)}
	case 4:
		if err := os.Rename(series+".off", series); err != nil {
			t.Fatal(err)
		}
	}
	w.send(t, msgs...)
}

// phasePass runs the pass of phase ph (options opts) and fails the test
// if it fails, except in phase 3, whose pass must fail for the run it
// reported failed.
func (w *crashWorld) phasePass(t *testing.T, ph int, opts Options) {
	t.Helper()
	err := w.phaseRun(ph, opts)
	if ph == 3 && !errors.As(err, new(*RunFailed)) || ph != 3 && err != nil {
		t.Fatalf("phase %d: pass: %v", ph+1, err)
	}
}

// phaseRun runs what phase ph runs: a pass, or in phase 5 a rerun of run
// 1.
func (w *crashWorld) phaseRun(ph int, opts Options) error {
	p := New(w.cfg, w.store, opts)
	if ph == 5 {
		_, err := p.Rerun(context.Background(), "1")
		return err
	}
	_, err := p.Once(context.Background())
	return err
}

// phaseArgs is phaseRun as an rtbot command line, with configuration cfg.
func phaseArgs(ph int, cfg string) []string {
	if ph == 5 {
		return []string{"rerun", "--config", cfg, "1"}
	}
	return []string{"run", "--config", cfg}
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
		if !errors.Is(err, state.ErrInterrupted) && !strings.Contains(err.Error(), "may have") && !errors.As(err, new(*RunFailed)) {
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
	runs     map[string]state.Outcome // announcement → outcomes of its runs, oldest first
	pushed   map[string]string        // published branch → tree of its commit
	reports  int                      // report mails, error reports included
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
	slices.Reverse(runs)
	for _, r := range runs {
		if o.runs[r.Announcement] != "" {
			o.runs[r.Announcement] += ","
		}
		o.runs[r.Announcement] += r.Outcome
	}
	// At most one report per announcement and queue (the report's
	// Message-ID is derived from both), one error report per run and
	// error.
	for _, r := range runs {
		if id := w.reportOf(t, r); id != "" {
			o.reports += w.mailsWithID(t, id)
		}
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

// reportOf is the Message-ID of the report run r mails, if any: its
// triage report, or its error report.
func (w *crashWorld) reportOf(t *testing.T, r state.Run) string {
	t.Helper()
	a, err := w.store.Announcement(context.Background(), r.Announcement)
	if err != nil {
		t.Fatal(err)
	}
	p := New(w.cfg, w.store, Options{})
	switch r.Outcome {
	case state.OutcomeManual:
		return p.reportMessageID(a, w.cfg.Trees[0], r.Candidate, r.QueueID)
	case state.OutcomeError:
		tr := &treeRun{a: a, t: w.cfg.Trees[0], runReport: &RunReport{Commit: r.Candidate, QueueID: r.QueueID}}
		return errorReportID(p, tr, errors.New(r.Error))
	}
	return ""
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
	for p := ph + 1; p < crashPhases; p++ {
		w.deliver(t, p)
		if p == 5 {
			// The rerun records what it redoes before anything else;
			// settle finishes it if it stops.
			_ = w.phaseRun(p, Options{})
		}
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
func crashBaseline(t *testing.T) ([][]crashPoint, outcome) {
	t.Helper()
	base := newCrashWorld(t)
	seen := make([][]crashPoint, crashPhases)
	for ph := range seen {
		base.deliver(t, ph)
		count := map[string]int{}
		base.phasePass(t, ph, Options{Fault: func(point string) error {
			count[point]++
			seen[ph] = append(seen[ph], crashPoint{point, count[point]})
			return nil
		}})
	}
	want := base.check(t)
	if want.shape() != wantedOutcome || want.triggers != 1 {
		t.Fatalf("uninterrupted scenario:\n%v\ntriggers %d\nwant\n%s\ntriggers 1", want.shape(), want.triggers, wantedOutcome)
	}
	points := map[string]bool{}
	for ph := range seen {
		for _, cp := range seen[ph] {
			points[cp.point] = true
		}
	}
	for _, p := range []string{FaultRecorded, FaultCheckpoint, FaultRetried, FaultFetched, FaultRebasing, FaultRebased, FaultResults,
		FaultBranch, FaultPushed, FaultTriggered, FaultMailCommit, FaultMailSent, FaultFinished, FaultWaiting, FaultFailed,
		FaultAnnounced, FaultMarkedFlags} {
		if !points[p] {
			t.Errorf("the scenario never reaches fault point %q", p)
		}
	}
	return seen, want
}

// wantedOutcome is the outcome of the crash scenario, uninterrupted: the
// forged copy and the early cover of 6.1.13-rc1 ignored, the genuine one
// run twice (failed, then after the fix), rc1 redone, three branches
// pushed, four mails (the rc1 report, the 6.1.13-rc1 error report and
// report, the redone rc1's report).
var wantedOutcome = fmt.Sprintf("announcements [%s=done %s=ignored %s=done %s=ignored %s=done %s=done]\n"+
	"runs [%s=manual %s=error,manual %s=clean %s=manual]\n"+
	"pushed [refs/heads/rtbot/6.1-rt/6.1.12-rc1-partial refs/heads/rtbot/6.1-rt/6.1.12-rc2 refs/heads/rtbot/6.1-rt/6.1.13-rc1-partial]\n"+
	"reports 4", crashRC1, forged13, genuine13, forgedID, crashRC2, redoID, crashRC1, genuine13, crashRC2, redoID)

// redoID is the announcement `rtbot rerun 1` records to redo rc1's run.
var redoID = "redo.6.1.12-rc1." + func() string {
	sum := sha256.Sum256([]byte(crashRC1))
	return hex.EncodeToString(sum[:6])
}() + "@test.invalid"

// shape is String without the trees of the pushed branches.
func (o outcome) shape() string {
	var pushed []string
	for b := range o.pushed {
		pushed = append(pushed, b)
	}
	sort.Strings(pushed)
	s := o.String()
	i, j := strings.Index(s, "\npushed ["), strings.Index(s, "]\nreports")
	return s[:i] + "\npushed [" + strings.Join(pushed, " ") + s[j:]
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
	total := 0
	for ph := range seen {
		total += len(seen[ph])
	}
	exercised := 0
	for ph := range seen {
		for _, cp := range seen[ph] {
			t.Run(fmt.Sprintf("phase%d/%s", ph+1, cp), func(t *testing.T) {
				t.Parallel()
				w := newCrashWorld(t)
				for p := 0; p < ph; p++ {
					w.deliver(t, p)
					w.phasePass(t, p, Options{})
				}
				w.deliver(t, ph)
				count := map[string]int{}
				crash := errors.New("simulated crash")
				err := w.phaseRun(ph, Options{Fault: func(point string) error {
					count[point]++
					if point == cp.point && count[point] == cp.n {
						return crash
					}
					return nil
				}})
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

// crashPointList names the crash points of every phase.
func crashPointList(seen [][]crashPoint) string {
	var names []string
	for ph := range seen {
		for _, cp := range seen[ph] {
			names = append(names, fmt.Sprintf("%d:%s", ph+1, cp))
		}
	}
	return strings.Join(names, " ")
}
