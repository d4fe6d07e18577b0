package pipeline

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/rtbot/rtbot/fixtures"
	"github.com/rtbot/rtbot/state"
)

// pushSerialFix is a maintainer resolving rc1's serial conflict on the
// published partial branch: an unrelated commit touching the same file, a
// first attempt at the patch (subject as git am -3 keeps it) that still
// has conflict markers, and its correction, pushed as the branch. It
// returns the attempt and the correction.
func (w *crashWorld) pushSerialFix(t *testing.T) (attempt, fix plumbing.Hash) {
	t.Helper()
	const (
		port    = "drivers/tty/serial/8250/8250_port.c"
		partial = "rtbot/6.1-rt/6.1.12-rc1-partial"
		subject = "serial: 8250: Use port lock wrappers"
	)
	pub, err := fixtures.Open(w.dir + "/published.git")
	if err != nil {
		t.Fatal(err)
	}
	tip, err := pub.Repo.ResolveRevision("refs/heads/" + partial)
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
	ctx := context.Background()
	w := newCrashWorld(t)
	const (
		port    = "drivers/tty/serial/8250/8250_port.c"
		partial = "rtbot/6.1-rt/6.1.12-rc1-partial"
	)
	w.deliver(t, 0)
	p1 := w.pass(t, Options{})
	if len(p1.Runs) != 1 || p1.Runs[0].Outcome != state.OutcomeManual || p1.Runs[0].Pushed != partial {
		t.Fatalf("rc1: %+v", p1.Runs)
	}
	rc1Run := p1.Runs[0].RunID

	attempt, fix := w.pushSerialFix(t)

	// rc2 has the same conflict; one pass learns, then runs it.
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
	rs, err := w.store.Resolutions(ctx, "", "")
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 1 || !strings.Contains(rs[0].Source, "pushed to "+partial+": commit "+fix.String()[:12]) {
		t.Fatalf("resolutions %+v; want one, from the pushed fix", rs)
	}
	if strings.Contains(rs[0].Postimage, "reviewed") {
		t.Errorf("the unrelated commit's change leaked into the resolution:\n%s", rs[0].Postimage)
	}
	if len(p2.Runs) != 1 {
		t.Fatalf("rc2: %+v", p2.Runs)
	}
	r2 := p2.Runs[0]
	if r2.Outcome != state.OutcomeClean || r2.Pushed != "rtbot/6.1-rt/6.1.12-rc2" || !slices.Equal(r2.Triggers, []string{"kernelci"}) || r2.Mail != "" {
		t.Fatalf("rc2 run %+v; want clean, pushed, tested, no mail", r2)
	}
	if st, reason := w.patchStatus(t, r2.RunID, serialPatch); st != "resolved" || !strings.Contains(reason, "pushed to "+partial) {
		t.Errorf("rc2: serial patch %s: %q", st, reason)
	}
	got := branchFile(t, w.dir+"/published.git", "rtbot/6.1-rt/6.1.12-rc2", port)
	if !strings.Contains(got, "uart_port_lock_irqsave(x, 3) + port_quirk(x)") || !strings.Contains(got, "x + 7 + 0;") || strings.Contains(got, "reviewed") {
		t.Errorf("rc2 branch %s:\n%s", port, got)
	}
	if n := len(w.smtp.Messages()); n != 1 {
		t.Errorf("%d mails in all, want rc1's report only", n)
	}

	// How far rtbot read is kept; nothing is learnt twice.
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
	if rs, _ := w.store.Resolutions(ctx, "", ""); len(rs) != 1 || rs[0].Used != 1 {
		t.Errorf("resolutions %+v; want one, used once", rs)
	}

	// rc1 run again by hand (rtbot run --onto v6.1.12-rc1) still needs a
	// human: the partial branch is the maintainers' now and stays as
	// they pushed it; the report says so.
	p := New(w.cfg, w.store, Options{})
	if _, err := p.Submit(ctx, "", "v6.1.12-rc1"); err != nil {
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
	msgs := w.smtp.Messages()
	if len(msgs) != 2 || !strings.Contains(string(msgs[1].Data), "not pushed to") {
		t.Fatalf("%d mails; the second should say the partial branch was not pushed", len(msgs))
	}
	if first := string(msgs[0].Data); !strings.Contains(first, "push the branch back") || strings.Contains(string(msgs[1].Data), "push the branch back") {
		t.Errorf("only the first report, whose partial branch was pushed, should say how to teach rtbot:\n%s", first)
	}
	w.check(t)
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

// fixWorld is the state just before the pass that learns a pushed fix:
// rc1 conflicted, the maintainer pushed the serial fix onto the partial
// branch (see pushSerialFix), and rc2, with the same conflict, was
// announced.
func fixWorld(t *testing.T) (*crashWorld, plumbing.Hash) {
	t.Helper()
	w := newCrashWorld(t)
	w.deliver(t, 0)
	w.pass(t, Options{})
	_, fix := w.pushSerialFix(t)
	w.publishSameConflictRC2(t)
	return w, fix
}

// learntState is what learning left: the resolutions (without their use
// counts and times) and where the fixes ref points, with the fix commit's
// id (which differs between worlds) written as <fix>.
func (w *crashWorld) learntState(t *testing.T, fix plumbing.Hash) string {
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
	if r, err := demo.Repo.Reference(FixesRef("rtbot/6.1-rt/6.1.12-rc1-partial"), true); err == nil {
		fmt.Fprintf(&b, "fixes ref %s\n", r.Hash())
	}
	return strings.ReplaceAll(strings.ReplaceAll(b.String(), fix.String(), "<fix>"), fix.String()[:12], "<fix>")
}

// TestFixCrashAtEveryPoint stops the pass that learns a pushed fix and
// then runs rc2 at every point it reaches (including between recording
// the resolutions and moving the fixes ref), recovers, and checks the end
// state is the uninterrupted one: the resolution recorded once, the fixes
// ref at the fix, rc2 clean and pushed, one report in all.
func TestFixCrashAtEveryPoint(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the scenario once per crash point")
	}
	base, fix := fixWorld(t)
	var seen []crashPoint
	count := map[string]int{}
	base.pass(t, Options{Fault: func(point string) error {
		count[point]++
		seen = append(seen, crashPoint{point, count[point]})
		return nil
	}})
	want, wantLearnt := base.check(t), base.learntState(t, fix)
	if want.reports != 1 || want.triggers != 1 || !strings.Contains(wantLearnt, "fixes ref <fix>") ||
		strings.Count(wantLearnt, "pushed to") != 1 {
		t.Fatalf("uninterrupted:\n%v\n%s", want, wantLearnt)
	}
	if count[FaultLearnt] != 1 {
		t.Fatalf("the pass reaches %q %d times, want once", FaultLearnt, count[FaultLearnt])
	}
	for _, cp := range seen {
		t.Run(cp.String(), func(t *testing.T) {
			t.Parallel()
			w, fix := fixWorld(t)
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
			got, gotLearnt := w.check(t), w.learntState(t, fix)
			if got.String() != want.String() || got.triggers < 1 || got.triggers > 2 || gotLearnt != wantLearnt {
				t.Errorf("after a crash at %s:\n%v\n%s\ntriggers %d\nwant\n%v\n%s", cp, got, gotLearnt, got.triggers, want, wantLearnt)
			}
		})
	}
	t.Logf("exercised %d crash points", len(seen))
}
