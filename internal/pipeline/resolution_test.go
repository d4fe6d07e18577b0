package pipeline

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/rtbot/rtbot/internal/fixtures"
	"github.com/rtbot/rtbot/internal/state"
)

const serialPatch = "0003-serial-8250-irq-safe-locking.patch"

// branchFile returns path at the tip of branch in the repository at dir.
func branchFile(t *testing.T, dir, branch, path string) string {
	t.Helper()
	r, err := fixtures.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := r.Snapshot(branchRef(t, dir, branch))
	if err != nil {
		t.Fatal(err)
	}
	return tr[path].Content
}

// branchRef returns where branch points in the repository at dir.
func branchRef(t *testing.T, dir, branch string) plumbing.Hash {
	t.Helper()
	r, err := fixtures.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	h, err := r.Repo.ResolveRevision(plumbing.Revision("refs/heads/" + branch))
	if err != nil {
		t.Fatalf("branch %s: %v", branch, err)
	}
	return *h
}

// wantResolved checks that runs is one clean run with the serial patch
// resolved, its reason saying via: the branch pushed, the tests fired, no
// mail. It returns the run.
func (w *crashWorld) wantResolved(t *testing.T, what string, runs []RunReport, branch, via string) RunReport {
	t.Helper()
	if len(runs) != 1 {
		t.Fatalf("%s: runs %+v; want one", what, runs)
	}
	r := runs[0]
	if r.Outcome != state.OutcomeClean || r.Pushed != branch || !slices.Equal(r.Triggers, []string{"kernelci"}) || r.Mail != "" {
		t.Fatalf("%s: run %+v; want clean, %s pushed, tested, no mail", what, r, branch)
	}
	if st, reason := w.patchStatus(t, r.RunID, serialPatch); st != "resolved" || !strings.Contains(reason, via) {
		t.Errorf("%s: serial patch %s: %q; want resolved, %q", what, st, reason, via)
	}
	return r
}

// patchStatus returns the recorded status and reason of a patch of a run.
func (w *crashWorld) patchStatus(t *testing.T, runID int64, name string) (string, string) {
	t.Helper()
	d, err := w.store.Run(context.Background(), runID)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range d.Patches {
		if p.Name == name {
			return p.Status, p.Reason
		}
	}
	t.Fatalf("run %d has no patch %s", runID, name)
	return "", ""
}

// resolveSerial is a maintainer's resolution of the serial patch's
// conflict in content (see fixtures.ResolveDemoConflict).
func resolveSerial(t *testing.T, content string) string {
	t.Helper()
	fixed, err := fixtures.ResolveDemoConflict(content)
	if err != nil {
		t.Fatal(err)
	}
	return fixed
}

// publishSameConflictRC2 moves the stable-rc branch to a 6.1.12-rc2 with
// rc1's serial conflict, another change in the same file and no preempt.h
// backport, and delivers its announcement. It returns rc2 and its tree.
func (w *crashWorld) publishSameConflictRC2(t *testing.T) (plumbing.Hash, fixtures.Tree) {
	t.Helper()
	const port = "drivers/tty/serial/8250/8250_port.c"
	sr, err := fixtures.Open(w.demo.StableRC)
	if err != nil {
		t.Fatal(err)
	}
	rc1, _ := sr.Repo.ResolveRevision("refs/heads/linux-6.1.y")
	base, _ := sr.Repo.ResolveRevision("refs/heads/linux-6.1.y~1")
	rc2Tree, _ := sr.Snapshot(*rc1)
	baseTree, _ := sr.Snapshot(*base)
	rc2Tree["include/linux/preempt.h"] = baseTree["include/linux/preempt.h"]
	rc2Tree[port] = fixtures.File{Content: strings.Replace(rc2Tree[port].Content, "\tint r = x + 7;\n", "\tint r = x + 7 + 0;\n", 1)}
	rc2Tree["Makefile"] = fixtures.File{Content: strings.Replace(rc2Tree["Makefile"].Content, "EXTRAVERSION = -rc1", "EXTRAVERSION = -rc2", 1)}
	rc2, err := sr.Commit(rc2Tree, "Linux 6.1.12-rc2\n", *base)
	if err != nil {
		t.Fatal(err)
	}
	if err := sr.Branch("linux-6.1.y", rc2); err != nil {
		t.Fatal(err)
	}
	if err := w.imap.Deliver(rcMail(2, crashRC2)); err != nil {
		t.Fatal(err)
	}
	return rc2, rc2Tree
}

// TestResolutionRemembered is issue 7's scenario: rc1 conflicts; a
// maintainer fixes the serial patch by hand and `rtbot resolve` records
// the fix; rc2 (which also changed other code in the same file) and then
// the final release have the same conflict, which resolves itself both
// times: the runs are clean, the branches pushed and the tests triggered,
// and no further report is mailed.
func TestResolutionRemembered(t *testing.T) {
	ctx := context.Background()
	w, p, _, fix := learntRC1(t)
	rc2, rc2Tree := w.resolvedRC2(t, fix)

	// The final release, run by hand (`rtbot run --onto v6.1.12`).
	final := w.tagFinal(t, rc2, rc2Tree)
	a, err := p.Submit(ctx, "", "v6.1.12", false)
	if err != nil {
		t.Fatal(err)
	}
	if a.Kind != KindManual || a.Version != "6.1.12" || a.RC != 0 || a.Status != state.AnnouncementNew {
		t.Fatalf("submitted %+v", a)
	}
	p3, err := p.ProcessPending(ctx)
	if err != nil {
		t.Fatal(err)
	}
	w.wantFinalResolved(t, p3.Runs, final)
	if n := len(w.smtp.Messages()); n != 1 {
		t.Errorf("%d mails in all, want rc1's report only", n)
	}
	rs, _ := w.store.Resolutions(ctx, "", "")
	if len(rs) != 1 || rs[0].Used != 2 {
		t.Errorf("resolutions %+v; want one, used twice", rs)
	}
	// Asking again for the same release changes nothing.
	if again, err := p.Submit(ctx, "", "v6.1.12", false); err != nil || again.MessageID != a.MessageID || again.Status != state.AnnouncementDone {
		t.Errorf("second submit: %+v, %v", again, err)
	}
	if p4, err := p.ProcessPending(ctx); err != nil || len(p4.Runs) != 0 {
		t.Errorf("processing after the second submit: %+v, %v", p4, err)
	}
	w.check(t)
}

// learntRC1 is a world whose rc1 conflicted and whose maintainer's fix
// was learnt (see learnSerialFix): the world, its pipeline, rc1's run and
// the fix.
func learntRC1(t *testing.T) (*crashWorld, *Pipeline, int64, plumbing.Hash) {
	t.Helper()
	w := newCrashWorld(t)
	rc1Run := w.conflictingRC1(t)
	p := New(w.cfg, w.store, Options{})
	return w, p, rc1Run, w.learnSerialFix(t, p, rc1Run)
}

// conflictingRC1 processes rc1, whose serial patch conflicts (and
// preempt.h is already applied), and returns its run.
func (w *crashWorld) conflictingRC1(t *testing.T) int64 {
	t.Helper()
	w.deliver(t, 0)
	p1 := w.pass(t, Options{})
	if len(p1.Runs) != 1 || p1.Runs[0].Outcome != state.OutcomeManual {
		t.Fatalf("rc1: %+v", p1.Runs)
	}
	rc1Run := p1.Runs[0].RunID
	if st, _ := w.patchStatus(t, rc1Run, serialPatch); st != "conflict" {
		t.Fatalf("rc1: the serial patch is %s, want conflict", st)
	}
	return rc1Run
}

// learnSerialFix commits the maintainer's fix (the partial branch with
// the serial patch applied by hand, keeping stable's port_quirk) and
// learns it as `rtbot resolve` does. It returns the fix.
func (w *crashWorld) learnSerialFix(t *testing.T, p *Pipeline, rc1Run int64) plumbing.Hash {
	t.Helper()
	ctx := context.Background()
	fix, err := fixtures.CommitDemoFix(w.demo.Repo, "rtbot/6.1-rt/6.1.12-rc1-partial", "serial: 8250: irq-safe locking, refreshed for 6.1.12\n")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Learn(ctx, LearnSpec{Run: rc1Run, Fix: fix.String(), Patch: "0001-no-such.patch"}); err == nil ||
		!strings.Contains(err.Error(), serialPatch) {
		t.Errorf("learning for a patch that did not conflict: %v; want an error naming the one that did", err)
	}
	learned, err := p.Learn(ctx, LearnSpec{Run: rc1Run, Fix: fix.String()})
	if err != nil {
		t.Fatal(err)
	}
	if len(learned) != 1 || learned[0].Path != fixtures.DemoConflictFile || !strings.Contains(learned[0].Source, fix.String()[:12]) {
		t.Fatalf("learned %+v", learned)
	}
	return fix
}

// resolvedRC2 publishes rc2, with the same conflict, another change in
// the same file, and no preempt.h backport, and checks that its run is
// clean thanks to the remembered resolution, with the resolved patch in
// the exported queue and on the pushed branch. It returns rc2 and its
// tree.
func (w *crashWorld) resolvedRC2(t *testing.T, fix plumbing.Hash) (plumbing.Hash, fixtures.Tree) {
	t.Helper()
	const port = fixtures.DemoConflictFile
	rc2, rc2Tree := w.publishSameConflictRC2(t)
	w.cfg.Trees[0].ExportDir = filepath.Join(w.dir, "export")
	p2 := w.pass(t, Options{})
	r2 := w.wantResolved(t, "rc2", p2.Runs, "rtbot/6.1-rt/6.1.12-rc2", "resolved as before (rtbot resolve: commit "+fix.String()[:12])
	// The refreshed queue of the clean run, the resolved patch in it.
	series, err := os.ReadFile(filepath.Join(w.dir, "export", "6.1.12-rc2", "patches", "series"))
	if err != nil || r2.Export != filepath.Join(w.dir, "export", "6.1.12-rc2") || strings.Count(string(series), ".patch\n") != 5 {
		t.Errorf("rc2 export at %q: series %q, %v", r2.Export, series, err)
	}
	// Named after the release rtbot release makes of it: the queue says
	// -rt5, so the next release is -rt6.
	if _, err := os.Stat(filepath.Join(r2.Export, "patches-6.1.12-rc2-rt6.tar.xz")); err != nil {
		t.Errorf("rc2 export: %v", err)
	}
	exported, _ := os.ReadFile(filepath.Join(r2.Export, "patches", serialPatch))
	if !strings.Contains(string(exported), "+\tint r = uart_port_lock_irqsave(x, 3) + port_quirk(x);") {
		t.Errorf("the exported serial patch is not the resolved one:\n%s", exported)
	}
	got := branchFile(t, w.dir+"/published.git", "rtbot/6.1-rt/6.1.12-rc2", port)
	for _, want := range []string{"uart_port_lock_irqsave(x, 3) + port_quirk(x)", "x + 7 + 0;"} {
		if !strings.Contains(got, want) {
			t.Errorf("rc2 branch %s lacks %q", port, want)
		}
	}
	return rc2, rc2Tree
}

// tagFinal commits the final release v6.1.12 on top of rc2 in the demo
// repository, tags it, and returns it.
func (w *crashWorld) tagFinal(t *testing.T, rc2 plumbing.Hash, rc2Tree fixtures.Tree) plumbing.Hash {
	t.Helper()
	demo, err := fixtures.Open(w.demo.Repo)
	if err != nil {
		t.Fatal(err)
	}
	finalTree := rc2Tree.Clone()
	finalTree["Makefile"] = fixtures.File{Content: strings.Replace(finalTree["Makefile"].Content, "EXTRAVERSION = -rc2", "EXTRAVERSION = ", 1)}
	final, err := demo.Commit(finalTree, "Linux 6.1.12\n", rc2)
	if err != nil {
		t.Fatal(err)
	}
	if err := demo.Tag("v6.1.12", final); err != nil {
		t.Fatal(err)
	}
	return final
}

// wantFinalResolved checks that runs is the final release's one run:
// clean on final thanks to the remembered resolution, pushed, tested and
// exported.
func (w *crashWorld) wantFinalResolved(t *testing.T, runs []RunReport, final plumbing.Hash) {
	t.Helper()
	if len(runs) != 1 {
		t.Fatalf("final: %+v", runs)
	}
	r3 := runs[0]
	if r3.Outcome != state.OutcomeClean || r3.Pushed != "rtbot/6.1-rt/6.1.12" || r3.Commit != final.String() ||
		!slices.Equal(r3.Triggers, []string{"kernelci"}) {
		t.Fatalf("final run %+v; want clean on %s, pushed, tested", r3, final)
	}
	if st, reason := w.patchStatus(t, r3.RunID, serialPatch); st != "resolved" {
		t.Errorf("final: serial patch %s: %q", st, reason)
	}
	if _, err := os.Stat(filepath.Join(w.dir, "export", "6.1.12", "patch-6.1.12-rt6.patch.xz")); err != nil {
		t.Errorf("final export: %v", err)
	}
}

// TestLearnRefusesPartialBranch is issue 13's `rtbot resolve --fix
// <partial branch>`: the partial branch has stable's file without the RT
// change, so learning it is refused, naming the patch, the file and the
// RT line missing, and the good resolution recorded before is kept.
func TestLearnRefusesPartialBranch(t *testing.T) {
	ctx := context.Background()
	w, p, rc1Run, fix := learntRC1(t)
	_, err := p.Learn(ctx, LearnSpec{Run: rc1Run, Fix: "rtbot/6.1-rt/6.1.12-rc1-partial"})
	if err == nil || !strings.Contains(err.Error(), "patch "+serialPatch+" file "+fixtures.DemoConflictFile) ||
		!strings.Contains(err.Error(), `"int r = uart_port_lock_irqsave(x, 3);"`) {
		t.Fatalf("learning the partial branch itself: %v; want refused, naming the patch, file and RT line", err)
	}
	rs, err := w.store.Resolutions(ctx, "", "")
	if err != nil || len(rs) != 1 || !strings.Contains(rs[0].Source, fix.String()[:12]) {
		t.Errorf("resolutions %+v, %v; want the good one kept", rs, err)
	}
}
