package pipeline

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/rtbot/rtbot/internal/fixtures"
	"github.com/rtbot/rtbot/internal/state"
)

// pushSerialFix is a maintainer resolving the serial conflict on the
// published partial branch partial: an unrelated commit touching the same file, a
// first attempt at the patch (subject as git am -3 keeps it) that still
// has conflict markers, and its correction, pushed as the branch. It
// returns the attempt and the correction.
func (w *crashWorld) pushSerialFix(t *testing.T, partial string) (attempt, fix plumbing.Hash) {
	t.Helper()
	const (
		port    = "drivers/tty/serial/8250/8250_port.c"
		subject = "serial: 8250: Use port lock wrappers"
	)
	pub, err := fixtures.Open(w.dir + "/published.git")
	if err != nil {
		t.Fatal(err)
	}
	tip, err := pub.Repo.ResolveRevision(plumbing.Revision("refs/heads/" + partial))
	if err != nil {
		t.Fatal(err)
	}
	tree, err := pub.Snapshot(*tip)
	if err != nil {
		t.Fatal(err)
	}
	commit := func(msg string, parent plumbing.Hash, content string) plumbing.Hash {
		t.Helper()
		tree[port] = fixtures.File{Content: content}
		h, err := pub.Commit(tree, msg, parent)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	reviewed := strings.Replace(tree[port].Content, "\tint r = x + 5;\n", "\tint r = x + 5; /* reviewed */\n", 1)
	unrelated := commit("serial: 8250: note a review\n", *tip, reviewed)
	markers := strings.Replace(reviewed, "\tint r = x + 3 + port_quirk(x);\n",
		"<<<<<<< HEAD\n\tint r = x + 3 + port_quirk(x);\n=======\n\tint r = uart_port_lock_irqsave(x, 3);\n>>>>>>> serial\n", 1)
	attempt = commit(subject+"\n\nSigned-off-by: A Maintainer <m@example.org>\n", unrelated, markers)
	fix = commit(subject+"\n\nSigned-off-by: A Maintainer <m@example.org>\n", attempt, resolveSerial(t, reviewed))
	if err := pub.Branch(partial, fix); err != nil {
		t.Fatal(err)
	}
	return attempt, fix
}

// TestFixPushedOntoPartialBranch is the watched-branch way of resolving a
// conflict: after rc1's report a maintainer pushes onto the partial branch
// an unrelated commit, a first attempt at the serial patch that still has
// conflict markers, and its correction. The next pass, which also reads
// rc2's announcement, learns from the correction (refusing the attempt,
// ignoring the unrelated commit and keeping its change out of the
// resolution) before it runs rc2, which comes out clean: pushed, tested,
// no second report. A later pass learns nothing again.
func TestFixPushedOntoPartialBranch(t *testing.T) {
	const partial = "rtbot/6.1-rt/6.1.12-rc1-partial"
	w := newCrashWorld(t)
	w.deliver(t, 0)
	p1 := w.pass(t, Options{})
	if len(p1.Runs) != 1 || p1.Runs[0].Outcome != state.OutcomeManual || p1.Runs[0].Pushed != partial {
		t.Fatalf("rc1: %+v", p1.Runs)
	}
	rc1Run := p1.Runs[0].RunID

	attempt, fix := w.pushSerialFix(t, partial)
	w.learnThenRunRC2(t, partial, rc1Run, attempt, fix)
	w.nothingLearntTwice(t, partial, fix)
	w.rc1AgainLeavesBranch(t, partial, fix)
	w.check(t)
}

// learnThenRunRC2 publishes rc2, with rc1's conflict, and checks that one
// pass learns from the pushed fix (refusing the attempt, keeping the
// unrelated commit's change out), then runs rc2 clean.
func (w *crashWorld) learnThenRunRC2(t *testing.T, partial string, rc1Run int64, attempt, fix plumbing.Hash) {
	t.Helper()
	const port = fixtures.DemoConflictFile
	w.publishSameConflictRC2(t)
	p2 := w.pass(t, Options{})
	if len(p2.Learned) != 2 {
		t.Fatalf("learned %+v; want the attempt (refused) and the fix", p2.Learned)
	}
	if l := p2.Learned[0]; l.Commit != attempt.String() || l.Patch != serialPatch || !strings.Contains(l.Error, "conflict markers") || len(l.Files) != 0 {
		t.Errorf("the attempt with conflict markers: %+v; want refused, naming the markers", l)
	}
	if l := p2.Learned[1]; l.Commit != fix.String() || l.Patch != serialPatch || l.Run != rc1Run || l.Error != "" || !slices.Equal(l.Files, []string{port}) {
		t.Errorf("the fix: %+v; want %s learnt for %s", l, port, serialPatch)
	}
	rs, err := w.store.Resolutions(context.Background(), "", "")
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 1 || !strings.Contains(rs[0].Source, "pushed to "+partial+": commit "+fix.String()[:12]) {
		t.Fatalf("resolutions %+v; want one, from the pushed fix", rs)
	}
	if strings.Contains(rs[0].Postimage, "reviewed") {
		t.Errorf("the unrelated commit's change leaked into the resolution:\n%s", rs[0].Postimage)
	}
	w.wantResolved(t, "rc2", p2.Runs, "rtbot/6.1-rt/6.1.12-rc2", "pushed to "+partial)
	got := branchFile(t, w.dir+"/published.git", "rtbot/6.1-rt/6.1.12-rc2", port)
	if !strings.Contains(got, "uart_port_lock_irqsave(x, 3) + port_quirk(x)") || !strings.Contains(got, "x + 7 + 0;") || strings.Contains(got, "reviewed") {
		t.Errorf("rc2 branch %s:\n%s", port, got)
	}
	if n := len(w.smtp.Messages()); n != 1 {
		t.Errorf("%d mails in all, want rc1's report only", n)
	}
}

// nothingLearntTwice checks that how far rtbot read the partial branch is
// kept, so a pass with nothing new pushed learns nothing again.
func (w *crashWorld) nothingLearntTwice(t *testing.T, partial string, fix plumbing.Hash) {
	t.Helper()
	demo, err := fixtures.Open(w.demo.Repo)
	if err != nil {
		t.Fatal(err)
	}
	if r, err := demo.Repo.Reference(FixesRef(partial), true); err != nil || r.Hash() != fix {
		t.Errorf("%s: %v, %v; want %s", FixesRef(partial), r, err, fix)
	}
	if p3 := w.pass(t, Options{}); len(p3.Learned) != 0 || len(p3.Runs) != 0 {
		t.Errorf("a pass with nothing new: learned %+v, runs %+v", p3.Learned, p3.Runs)
	}
	if rs, _ := w.store.Resolutions(context.Background(), "", ""); len(rs) != 1 || rs[0].Used != 1 {
		t.Errorf("resolutions %+v; want one, used once", rs)
	}
}

// rc1AgainLeavesBranch runs rc1 again by hand (rtbot run --onto
// v6.1.12-rc1): it still needs a human, the partial branch is the
// maintainers' now and stays as they pushed it, and the report says so.
func (w *crashWorld) rc1AgainLeavesBranch(t *testing.T, partial string, fix plumbing.Hash) {
	t.Helper()
	ctx := context.Background()
	p := New(w.cfg, w.store, Options{})
	if _, err := p.Submit(ctx, "", "v6.1.12-rc1", false); err != nil {
		t.Fatal(err)
	}
	p4, err := p.ProcessPending(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(p4.Runs) != 1 || p4.Runs[0].Outcome != state.OutcomeManual || p4.Runs[0].Pushed != "" || !strings.Contains(p4.Runs[0].NotPushed, "maintainers pushed onto") {
		t.Fatalf("rc1 again: %+v", p4.Runs)
	}
	if r := branchRef(t, w.dir+"/published.git", partial); r != fix {
		t.Errorf("the partial branch was moved from the maintainers' %s to %s", fix, r)
	}
	// The branch is still read for fixes, now for the latest run.
	if wb, err := p.Watched(ctx); err != nil || len(wb) != 1 || wb[0].Branch != partial || wb[0].Run != p4.Runs[0].RunID || wb[0].ReadUpTo != fix.String() {
		t.Errorf("watched %+v, %v; want %s for run %d, read up to the fix", wb, err, partial, p4.Runs[0].RunID)
	}
	msgs := w.smtp.Messages()
	if len(msgs) != 2 || !strings.Contains(string(msgs[1].Data), "not pushed: the maintainers pushed onto") {
		t.Fatalf("%d mails; the second should say the partial branch was not pushed", len(msgs))
	}
	if first := string(msgs[0].Data); !strings.Contains(first, "push the branch back") || strings.Contains(string(msgs[1].Data), "push the branch back") {
		t.Errorf("only the first report, whose partial branch was pushed, should say how to teach rtbot:\n%s", first)
	}
}

// TestFixBranchRewritten: a partial branch force-pushed to something
// that no longer builds on rtbot's commit is not learnt from, and said
// once.
func TestFixBranchRewritten(t *testing.T) {
	ctx := context.Background()
	w := newCrashWorld(t)
	const partial = "rtbot/6.1-rt/6.1.12-rc1-partial"
	w.deliver(t, 0)
	if p1 := w.pass(t, Options{}); len(p1.Runs) != 1 || p1.Runs[0].Pushed != partial {
		t.Fatalf("rc1: %+v", p1.Runs)
	}
	pub, err := fixtures.Open(w.dir + "/published.git")
	if err != nil {
		t.Fatal(err)
	}
	tip, _ := pub.Repo.ResolveRevision("refs/heads/" + partial)
	tree, err := pub.Snapshot(*tip)
	if err != nil {
		t.Fatal(err)
	}
	const port = "drivers/tty/serial/8250/8250_port.c"
	tree[port] = fixtures.File{Content: resolveSerial(t, tree[port].Content)}
	orphan, err := pub.Commit(tree, "serial: 8250: Use port lock wrappers\n")
	if err != nil {
		t.Fatal(err)
	}
	if err := pub.Branch(partial, orphan); err != nil {
		t.Fatal(err)
	}
	p2 := w.pass(t, Options{})
	if len(p2.Learned) != 0 {
		t.Errorf("learned %+v from a rewritten branch", p2.Learned)
	}
	if rs, _ := w.store.Resolutions(ctx, "", ""); len(rs) != 0 {
		t.Errorf("resolutions %+v from a rewritten branch", rs)
	}
	demo, err := fixtures.Open(w.demo.Repo)
	if err != nil {
		t.Fatal(err)
	}
	if r, err := demo.Repo.Reference(FixesRef(partial), true); err != nil || r.Hash() != orphan {
		t.Errorf("%s: %v, %v; want it at the rewritten tip, so the warning is said once", FixesRef(partial), r, err)
	}
	w.check(t)
}

// fixScenario is the state just before a pass that learns a fix pushed
// onto a partial branch.
type fixScenario struct {
	name    string
	partial string // the branch the fix was pushed to
	// setup builds the world and returns it with the fix commit.
	setup func(t *testing.T, w *crashWorld) plumbing.Hash
	// reports and triggers are what the uninterrupted pass leaves in all.
	reports, triggers int
}

var fixScenarios = []fixScenario{
	// rc1 conflicted, the fix was pushed onto its partial branch, and
	// rc2, with the same conflict, was announced: the pass learns, then
	// runs rc2 clean.
	{"learn-then-rc2", "rtbot/6.1-rt/6.1.12-rc1-partial", func(t *testing.T, w *crashWorld) plumbing.Hash {
		w.deliver(t, 0)
		w.pass(t, Options{})
		_, fix := w.pushSerialFix(t, "rtbot/6.1-rt/6.1.12-rc1-partial")
		w.publishSameConflictRC2(t)
		return fix
	}, 1, 1},
	// rc2 needed a human for the serial conflict alone and the fix was
	// pushed onto its partial branch: the pass learns and reruns rc2.
	{"learn-then-rerun", "rtbot/6.1-rt/6.1.12-rc2-partial", func(t *testing.T, w *crashWorld) plumbing.Hash {
		w.deliver(t, 0)
		w.pass(t, Options{})
		w.publishSameConflictRC2(t)
		w.pass(t, Options{})
		_, fix := w.pushSerialFix(t, "rtbot/6.1-rt/6.1.12-rc2-partial")
		return fix
	}, 2, 1},
}

// learntState is what learning left: the resolutions (without their use
// counts and times) and where the fixes ref of partial points.
func (w *crashWorld) learntState(t *testing.T, partial string) string {
	t.Helper()
	rs, err := w.store.Resolutions(context.Background(), "", "")
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, r := range rs {
		fmt.Fprintf(&b, "%s %s %s %q\n", r.Key, r.PatchID, r.Path, r.Source)
	}
	demo, err := fixtures.Open(w.demo.Repo)
	if err != nil {
		t.Fatal(err)
	}
	if r, err := demo.Repo.Reference(FixesRef(partial), true); err == nil {
		fmt.Fprintf(&b, "fixes ref %s\n", r.Hash())
	}
	return b.String()
}

// endState is check's outcome and learntState, with the fix commit's id
// (which differs between worlds) written as <fix>.
func (w *crashWorld) endState(t *testing.T, sc fixScenario, fix plumbing.Hash) (outcome, string) {
	t.Helper()
	o := w.check(t)
	s := o.String() + "\n" + w.learntState(t, sc.partial)
	return o, strings.ReplaceAll(strings.ReplaceAll(s, fix.String(), "<fix>"), fix.String()[:12], "<fix>")
}

// TestFixCrashAtEveryPoint stops the pass that learns a pushed fix (and
// then runs rc2, or reruns the candidate the fix made clean) at every
// point it reaches, including between recording the resolutions and
// moving the fixes ref, recovers, and checks the end state is the
// uninterrupted one: the resolution recorded once, the fixes ref at the
// fix, the clean branch pushed and tested, no report more.
func TestFixCrashAtEveryPoint(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the scenario once per crash point")
	}
	for _, sc := range fixScenarios {
		t.Run(sc.name, func(t *testing.T) {
			base := newCrashWorld(t)
			fix := sc.setup(t, base)
			var seen []crashPoint
			count := map[string]int{}
			base.pass(t, Options{Fault: func(point string) error {
				count[point]++
				seen = append(seen, crashPoint{point, count[point]})
				return nil
			}})
			o, want := base.endState(t, sc, fix)
			if o.reports != sc.reports || o.triggers != sc.triggers || !strings.Contains(want, "fixes ref <fix>") ||
				strings.Count(want, "pushed to") != 1 {
				t.Fatalf("uninterrupted:\n%s", want)
			}
			if count[FaultLearnt] != 1 {
				t.Fatalf("the pass reaches %q %d times, want once", FaultLearnt, count[FaultLearnt])
			}
			for _, cp := range seen {
				t.Run(cp.String(), func(t *testing.T) {
					t.Parallel()
					w := newCrashWorld(t)
					fix := sc.setup(t, w)
					n := map[string]int{}
					_, err := New(w.cfg, w.store, Options{Fault: func(point string) error {
						n[point]++
						if point == cp.point && n[point] == cp.n {
							return errors.New("simulated crash")
						}
						return nil
					}}).Once(context.Background())
					var stop *Stopped
					if !errors.As(err, &stop) || stop.Point != cp.point {
						t.Fatalf("the pass was not stopped at %s: %v", cp, err)
					}
					w.recover(t)
					got, gotState := w.endState(t, sc, fix)
					if gotState != want || got.triggers < 1 || got.triggers > 2 {
						t.Errorf("after a crash at %s:\n%s\ntriggers %d\nwant\n%s", cp, gotState, got.triggers, want)
					}
				})
			}
			t.Logf("exercised %d crash points", len(seen))
		})
	}
}

// TestFixMakesCandidateClean: rc2's only problem is the serial conflict.
// Once the maintainer's fix is pushed onto rc2's partial branch, the next
// pass learns it, finds rc2 now clean and runs it again: the clean branch
// is pushed and tested, with no further mail. Nothing is rerun twice.
func TestFixMakesCandidateClean(t *testing.T) {
	w := newCrashWorld(t)
	const partial = "rtbot/6.1-rt/6.1.12-rc2-partial"
	w.deliver(t, 0)
	w.pass(t, Options{})
	w.publishSameConflictRC2(t)
	p2 := w.pass(t, Options{})
	if len(p2.Runs) != 1 || p2.Runs[0].Outcome != state.OutcomeManual || p2.Runs[0].Pushed != partial {
		t.Fatalf("rc2 before the fix: %+v", p2.Runs)
	}
	if rep := p2.Runs[0].Report; rep == nil || rep.Summary.Attention != 1 {
		t.Fatalf("rc2 before the fix: %+v; want the serial conflict alone", p2.Runs[0])
	}
	_, fix := w.pushSerialFix(t, partial)

	p3 := w.pass(t, Options{})
	if len(p3.Learned) != 2 || p3.Learned[1].Commit != fix.String() || p3.Learned[1].Error != "" {
		t.Fatalf("learned %+v", p3.Learned)
	}
	if len(p3.New) != 1 || p3.New[0].Kind != KindRerun || p3.New[0].Version != "6.1.12" || p3.New[0].RC != 2 ||
		!strings.Contains(p3.New[0].MessageID, fix.String()[:12]) {
		t.Fatalf("new announcements %+v; want rtbot's rerun of 6.1.12-rc2", p3.New)
	}
	w.wantResolved(t, "rerun", p3.Runs, "rtbot/6.1-rt/6.1.12-rc2", "pushed to "+partial)
	if r := branchRef(t, w.dir+"/published.git", partial); r != fix {
		t.Errorf("the partial branch moved from the maintainers' %s to %s", fix, r)
	}
	if n := len(w.smtp.Messages()); n != 2 {
		t.Errorf("%d mails, want rc1's and rc2's reports only", n)
	}
	if p4 := w.pass(t, Options{}); len(p4.Learned) != 0 || len(p4.New) != 0 || len(p4.Runs) != 0 {
		t.Errorf("a pass with nothing new: %+v", p4)
	}
	w.check(t)
}

// TestRerunAcceptedByItsTreeOnly: a rerun is run by the tree that pushed
// the partial branch, not by every tree of the series (another tree's
// maintainers would get a report for a fix they never made).
func TestRerunAcceptedByItsTreeOnly(t *testing.T) {
	w := newCrashWorld(t)
	other := w.cfg.Trees[0]
	other.Name, other.PushRemote = "6.1-rt-next", w.dir+"/other.git"
	w.cfg.Trees = append(w.cfg.Trees, other)
	p := New(w.cfg, w.store, Options{})
	for _, tc := range []struct {
		url, branch string
		want        string // the tree accepting it; "" for none
	}{
		{w.cfg.Trees[0].PushRemote, "rtbot/6.1-rt/6.1.12-rc2-partial", "6.1-rt"},
		{other.PushRemote, "rtbot/6.1-rt-next/6.1.12-rc2-partial", "6.1-rt-next"},
		{other.PushRemote, "rtbot/6.1-rt/6.1.12-rc2-partial", ""},
		{w.cfg.Trees[0].PushRemote, "rtbot/6.1-rt/6.1.12-rc3-partial", ""},
	} {
		trees, why := p.accepting(state.Announcement{Kind: KindRerun, Series: "6.1", Version: "6.1.12", RC: 2, GitURL: tc.url, GitBranch: tc.branch})
		var names []string
		for _, tr := range trees {
			names = append(names, tr.Name)
		}
		if tc.want == "" && (len(trees) != 0 || !strings.Contains(why, tc.branch)) ||
			tc.want != "" && !slices.Equal(names, []string{tc.want}) {
			t.Errorf("%s %s: accepted by %v (%s), want %q", tc.url, tc.branch, names, why, tc.want)
		}
	}
}

// pushEdit commits onto the published partial branch, with the serial
// patch's subject as git am keeps it, the serial file as edit makes it
// from the branch's tip, and moves the branch there. It returns the commit.
func (w *crashWorld) pushEdit(t *testing.T, partial string, edit func(string) string) plumbing.Hash {
	t.Helper()
	h, err := fixtures.CommitDemoEdit(w.dir+"/published.git", partial, partial,
		"serial: 8250: Use port lock wrappers\n\nSigned-off-by: A Maintainer <m@example.org>\n",
		func(s string) (string, error) { return edit(s), nil })
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// TestFixWithoutChangeNotLearnt: a commit pushed onto the partial branch
// with the conflicting patch's subject but without its change (the
// conflict "resolved" by keeping stable's line, plus a note) is refused:
// the pass and its log name the patch, the file and the RT line missing,
// and nothing is learnt. The correction pushed on top is learnt.
func TestFixWithoutChangeNotLearnt(t *testing.T) {
	const partial = "rtbot/6.1-rt/6.1.12-rc1-partial"
	w := newCrashWorld(t)
	w.conflictingRC1(t)
	noted := func(s string) string {
		return strings.Replace(s, "\tint r = x + 5;\n", "\tint r = x + 5; /* reviewed */\n", 1)
	}
	bad := w.pushEdit(t, partial, noted)
	p2, log, err := w.logged(t, quickRetry)
	if err != nil {
		t.Fatal(err)
	}
	const missing = `"int r = uart_port_lock_irqsave(x, 3);"`
	if len(p2.Learned) != 1 || p2.Learned[0].Commit != bad.String() || len(p2.Learned[0].Files) != 0 ||
		!strings.Contains(p2.Learned[0].Error, "patch "+serialPatch+" file "+fixtures.DemoConflictFile) ||
		!strings.Contains(p2.Learned[0].Error, missing) {
		t.Fatalf("learned %+v; want the fix without the RT line refused, naming it", p2.Learned)
	}
	if !strings.Contains(log, "could not learn a resolution") || !strings.Contains(log, strings.ReplaceAll(missing, `"`, `\"`)) {
		t.Errorf("the log does not say why:\n%s", log)
	}
	if rs, _ := w.store.Resolutions(context.Background(), "", ""); len(rs) != 0 {
		t.Fatalf("resolutions %+v learnt from a fix without the RT change", rs)
	}
	good := w.pushEdit(t, partial, func(s string) string { return resolveSerial(t, s) })
	p3 := w.pass(t, Options{})
	if len(p3.Learned) != 1 || p3.Learned[0].Commit != good.String() || p3.Learned[0].Error != "" {
		t.Fatalf("learned %+v; want the correction learnt", p3.Learned)
	}
	if rs, _ := w.store.Resolutions(context.Background(), "", ""); len(rs) != 1 || !strings.Contains(rs[0].Postimage, "uart_port_lock_irqsave(x, 3) + port_quirk(x)") {
		t.Errorf("resolutions %+v; want the correction", rs)
	}
}

// TestPushedFixReplaces: a second, different fix of the same conflict
// pushed after the first was learnt replaces it, and the pass says which
// one it replaced (source and date), in what it returns and in its log,
// beside the diff of what it learnt.
func TestPushedFixReplaces(t *testing.T) {
	const partial = "rtbot/6.1-rt/6.1.12-rc1-partial"
	w := newCrashWorld(t)
	w.conflictingRC1(t)
	first := w.pushEdit(t, partial, func(s string) string { return resolveSerial(t, s) })
	if p := w.pass(t, Options{}); len(p.Learned) != 1 || p.Learned[0].Error != "" || len(p.Learned[0].Replaced) != 0 ||
		!strings.Contains(p.Learned[0].Diff, "+\tint r = uart_port_lock_irqsave(x, 3) + port_quirk(x);") {
		t.Fatalf("learned %+v; want the first fix learnt, with its diff, replacing nothing", p.Learned)
	}
	second := w.pushEdit(t, partial, func(s string) string {
		return strings.Replace(s, "uart_port_lock_irqsave(x, 3) + port_quirk(x)", "port_quirk(x) + uart_port_lock_irqsave(x, 3)", 1)
	})
	p, log, err := w.logged(t, quickRetry)
	if err != nil {
		t.Fatal(err)
	}
	firstSource := "pushed to " + partial + ": commit " + first.String()[:12]
	if len(p.Learned) != 1 || p.Learned[0].Commit != second.String() || len(p.Learned[0].Replaced) != 1 ||
		!strings.Contains(p.Learned[0].Replaced[0], fixtures.DemoConflictFile+": the resolution recorded ") ||
		!strings.Contains(p.Learned[0].Replaced[0], firstSource) {
		t.Fatalf("learned %+v; want the second fix learnt, replacing the first", p.Learned)
	}
	if !strings.Contains(log, "replaces the one remembered") || !strings.Contains(log, firstSource) {
		t.Errorf("the log does not say what was replaced:\n%s", log)
	}
	rs, _ := w.store.Resolutions(context.Background(), "", "")
	if len(rs) != 1 || !strings.Contains(rs[0].Source, second.String()[:12]) {
		t.Errorf("resolutions %+v; want the second fix's", rs)
	}
}
