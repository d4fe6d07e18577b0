package merger_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rtbot/rtbot/internal/merger"
	"github.com/rtbot/rtbot/internal/patchqueue"
	"github.com/rtbot/rtbot/internal/report"
	"github.com/rtbot/rtbot/internal/resolutions"
	"github.com/rtbot/rtbot/internal/testkit"
	"github.com/rtbot/rtbot/internal/triage"
)

// The real-kernel lab (scripts/lab/build.sh) is a ~80k-file repository
// with one commit per Debian 6.1.y release and each release's RT queue.
// These tests run only when RTBOT_LAB names it.

func labDir(tb testing.TB) string {
	tb.Helper()
	d := os.Getenv("RTBOT_LAB")
	if d == "" {
		tb.Skip("RTBOT_LAB is not set: build the real-kernel lab with scripts/lab/build.sh and point RTBOT_LAB at it")
	}
	if _, err := os.Stat(filepath.Join(d, "linux.git")); err != nil {
		tb.Skipf("RTBOT_LAB=%s has no linux.git: %v", d, err)
	}
	return d
}

type labRun struct {
	res  *merger.Result
	took time.Duration
}

// rebaseLab does what `rtbot merge --queue QUEUE --base BASE --onto ONTO`
// does: open the repository, read the queue, materialise, rebase.
func rebaseLab(tb testing.TB, lab, queue, base, onto string) labRun {
	tb.Helper()
	start := time.Now()
	eng, err := merger.Open(filepath.Join(lab, "linux.git"), merger.Options{Now: fixedNow})
	if err != nil {
		tb.Fatal(err)
	}
	defer eng.Close()
	res := rebaseLabWith(tb, eng, lab, queue, base, onto)
	return labRun{res: res, took: time.Since(start)}
}

// rebaseLabWith reads the lab's queue and rebases it with eng from base
// onto onto.
func rebaseLabWith(tb testing.TB, eng *merger.Engine, lab, queue, base, onto string) *merger.Result {
	tb.Helper()
	q, err := patchqueue.Open(filepath.Join(lab, "queues", queue), patchqueue.DefaultLimits())
	if err != nil {
		tb.Fatal(err)
	}
	b, err := eng.RevParse(base)
	if err != nil {
		tb.Fatal(err)
	}
	o, err := eng.RevParse(onto)
	if err != nil {
		tb.Fatal(err)
	}
	res, err := eng.RebaseQueue(context.Background(), q, b, o)
	if err != nil {
		tb.Fatal(err)
	}
	return res
}

// labGitAm3 runs `git am -3` of the queue on onto in a new worktree and
// returns how many patches applied, the tree then, and the time git am took.
func labGitAm3(tb testing.TB, lab, queue, onto string) (applied int, tree string, took time.Duration) {
	tb.Helper()
	repo := filepath.Join(lab, "linux.git")
	wt := filepath.Join(tb.TempDir(), "wt")
	testkit.Git(tb, repo, "worktree", "add", "-q", "--detach", wt, onto)
	defer testkit.RunGit(tb, repo, nil, "worktree", "remove", "--force", wt)
	series, err := patchqueue.ParseSeries("series", mustOpen(tb, filepath.Join(lab, "queues", queue, "series")))
	if err != nil {
		tb.Fatal(err)
	}
	args := []string{"am", "-q", "-3"}
	for _, e := range series {
		args = append(args, filepath.Join(lab, "queues", queue, e.Name))
	}
	start := time.Now()
	_, amErr := testkit.RunGit(tb, wt, nil, args...)
	took = time.Since(start)
	applied = atoi(testkit.Git(tb, wt, "rev-list", "--count", onto+"..HEAD"))
	// The tree of the last applied patch; read before --abort resets HEAD.
	tree = testkit.Git(tb, wt, "rev-parse", "HEAD^{tree}")
	if amErr != nil {
		testkit.RunGit(tb, wt, nil, "am", "--abort")
	}
	return applied, tree, took
}

func mustOpen(tb testing.TB, p string) *os.File {
	f, err := os.Open(p)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { f.Close() })
	return f
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}

// TestLabQueueOnOwnBase: Debian's 6.1.174 queue applies to v6.1.174, every
// patch exactly or at an offset.
func TestLabQueueOnOwnBase(t *testing.T) {
	lab := labDir(t)
	r := rebaseLab(t, lab, "6.1.174", "v6.1.174", "v6.1.174")
	for _, p := range r.res.Patches {
		if p.Outcome != merger.Applied {
			t.Errorf("patch %s: %s %s", p.Patch.Name, p.Outcome, p.Err)
		}
	}
	// Onto its own base every file is the pre-image: the result is the
	// materialised queue itself, so every patch must have been committed.
	for _, p := range r.res.Patches {
		if p.Commit.IsZero() || p.Source.IsZero() {
			t.Errorf("patch %s: not committed", p.Patch.Name)
		}
	}
}

// mustEngine opens the lab's repository with opts, until the test ends.
func mustEngine(t *testing.T, lab string, opts merger.Options) *merger.Engine {
	e, err := merger.Open(filepath.Join(lab, "linux.git"), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// TestLabMatchesGitAm3 rebases real queues onto later releases and checks
// the result against `git am -3` on the same repository: git am stops at
// the first patch that needs a human, which must be rtbot's first unclean
// patch, and the trees up to there must be identical.
func TestLabMatchesGitAm3(t *testing.T) {
	lab := labDir(t)
	for _, c := range []struct{ queue, base, onto string }{
		{"6.1.174", "v6.1.174", "v6.1.176"},
		{"6.1.176", "v6.1.176", "v6.1.177"},
	} {
		t.Run(c.queue+"-onto-"+c.onto, func(t *testing.T) {
			r := rebaseLab(t, lab, c.queue, c.base, c.onto)
			applied, amTree, amTook := labGitAm3(t, lab, c.queue, c.onto)
			first := len(r.res.Patches)
			for i, p := range r.res.Patches {
				if !p.Outcome.Clean() || p.Empty {
					first = i
					break
				}
			}
			t.Logf("rtbot %v, git am -3 %v; git am applied %d, rtbot's first unclean patch is #%d", r.took, amTook, applied, first+1)
			for _, p := range r.res.Patches {
				if p.Outcome != merger.Applied {
					t.Logf("  %s: %s", p.Patch.Name, p.Outcome)
				}
			}
			if applied != first {
				t.Fatalf("git am -3 applied %d patches, rtbot's first unclean patch is #%d", applied, first+1)
			}
			tip := r.res.Onto
			if first > 0 {
				tip = r.res.Patches[first-1].Commit
			}
			c, err := mustEngine(t, lab, merger.Options{}).Repository().CommitObject(tip)
			if err != nil {
				t.Fatal(err)
			}
			if c.TreeHash.String() != amTree {
				t.Errorf("after %d patches rtbot's tree is %s, git am -3's %s", first, c.TreeHash, amTree)
			}
		})
	}
}

// BenchmarkLabRebase measures `rtbot merge`'s work on the real lab (open,
// read the queue, materialise on v6.1.174, rebase onto v6.1.176) and
// reports its speed-up over one `git am -3` of the same queue.
func BenchmarkLabRebase(b *testing.B) {
	lab := labDir(b)
	_, _, amTook := labGitAm3(b, lab, "6.1.174", "v6.1.176")
	b.ResetTimer()
	var total time.Duration
	for i := 0; i < b.N; i++ {
		r := rebaseLab(b, lab, "6.1.174", "v6.1.174", "v6.1.176")
		total += r.took
	}
	b.ReportMetric(float64(amTook)/float64(total/time.Duration(b.N)), "x-faster-than-git-am")
}

// TestLabTriageMatchesDebian checks rtbot's verdicts on real queues against
// what Debian's maintainers recorded in debian/changelog for the same
// releases (scripts/lab/README.md lists the entries), and reports how long
// triage takes next to the rebase.
func TestLabTriageMatchesDebian(t *testing.T) {
	lab := labDir(t)
	ctx := context.Background()
	cases := []struct {
		queue, base, onto string
		// want maps a patch-name prefix to the action Debian's changelog
		// implies; every other patch must apply.
		want map[string]triage.Action
	}{
		// 6.1.177-1: Refresh 0040 (ARM fault handlers), which rtbot
		// proposes (review); Drop 0056 (debugobjects, "applied
		// upstream"); Drop 0071 (kvm/vmx regparm).
		{"6.1.176", "v6.1.176", "v6.1.177", map[string]triage.Action{"0040-": triage.Review, "0056-": triage.Drop, "0071-": triage.Drop}},
		// The rt58 queue met the same two upstream changes.
		{"6.1.174", "v6.1.174", "v6.1.177", map[string]triage.Action{"0040-": triage.Review, "0056-": triage.Drop}},
		// 6.1.176-1 moved to rt64 without a refresh: the rt58 queue applies.
		{"6.1.174", "v6.1.174", "v6.1.176", nil},
		// Debian's refreshed 6.1.177 queue applies to 6.1.177.
		{"6.1.177", "v6.1.177", "v6.1.177", nil},
	}
	for _, c := range cases {
		t.Run(c.queue+"-onto-"+c.onto, func(t *testing.T) {
			eng := mustEngine(t, lab, merger.Options{})
			start := time.Now()
			res := rebaseLabWith(t, eng, lab, c.queue, c.base, c.onto)
			applyTook := time.Since(start)
			start = time.Now()
			reps, err := triage.Triage(ctx, res, eng, triage.Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("rebase %v, triage %v", applyTook, time.Since(start))
			checkReportFits(t, &triage.Report{Candidate: triage.Rev{Name: c.onto}, Base: &triage.Rev{Name: c.base},
				Queue: filepath.Join(lab, "queues", c.queue), Patches: reps, Summary: triage.Summarise(reps)})
			for _, r := range reps {
				want := triage.None
				for prefix, a := range c.want {
					if strings.HasPrefix(r.Name, prefix) {
						want = a
					}
				}
				if r.Action != want {
					t.Errorf("%s: %s/%s (%s), Debian's changelog implies %s", r.Name, r.Status, r.Action, r.Reason, want)
				} else if want != triage.None {
					t.Logf("%s: %s/%s: %s; caused by %v", r.Name, r.Status, r.Action, r.Reason, r.CausedBy)
				}
			}
		})
	}
}

// checkReportFits renders r as rtbot merge prints it and as the mail
// carries it, and checks that no line is wider than report.Width.
func checkReportFits(t *testing.T, r *triage.Report) {
	t.Helper()
	for _, o := range []report.Options{{}, {Public: true, FetchURL: "https://git.kernel.org/pub/scm/linux/kernel/git/rt/linux-stable-rt.git"}} {
		var b strings.Builder
		if err := report.Render(&b, r, o); err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(b.String(), "\n") {
			if report.Columns(l) > report.Width {
				t.Errorf("report line of %d columns: %q", report.Columns(l), l)
			}
		}
	}
}

// The patch and file of TestLabResolutionLearnt: Debian's 6.1.176 RT
// queue conflicts there on v6.1.177.
const (
	labConflictPatch = "0040-ARM-enable-irq-in-translation-section-permission-fau.patch"
	labConflictFile  = "arch/arm/mm/fault.c"
)

// TestLabResolutionLearnt learns a real resolution and replays it: Debian's
// 6.1.176 RT queue conflicts on v6.1.177 in 0040 (arch/arm/mm/fault.c);
// the fix is the file as Debian's refreshed 6.1.177 queue has it after the
// same patch. Rebased again with that resolution remembered, 0040 is
// resolved, and the file after it is the maintainers' refresh, byte for
// byte.
func TestLabResolutionLearnt(t *testing.T) {
	lab := labDir(t)
	old, oldEng := rebaseLabOnto177(t, lab, "6.1.176", "v6.1.176", nil)
	conflict, _ := labFileAfter(t, old, oldEng)
	if conflict.Outcome != merger.Conflict {
		t.Fatalf("%s on v6.1.177: %s, want a conflict", labConflictPatch, conflict.Outcome)
	}
	refreshed, refEng := rebaseLabOnto177(t, lab, "6.1.177", "v6.1.177", nil)
	_, want := labFileAfter(t, refreshed, refEng)
	if want == "" {
		t.Fatalf("Debian's refreshed %s did not apply on v6.1.177", labConflictPatch)
	}
	learned := learnLabFix(t, conflict, want)
	refuseLabUnfixed(t, conflict, oldEng)

	again, againEng := rebaseLabOnto177(t, lab, "6.1.176", "v6.1.176", resolutions.Memory(learned))
	pr, got := labFileAfter(t, again, againEng)
	if pr.Outcome != merger.Resolved {
		t.Fatalf("%s with the resolution remembered: %s (%s)", labConflictPatch, pr.Outcome, pr.Files[0].Detail)
	}
	if got != want {
		t.Errorf("%s after %s differs from Debian's refresh", labConflictFile, labConflictPatch)
	}
	t.Logf("rebase with the resolution %v (without: %v)", again.took.Round(time.Millisecond), old.took.Round(time.Millisecond))
}

// rebaseLabOnto177 rebases the lab's queue from base onto v6.1.177,
// remembering the resolutions res, and returns the run (its time is the
// rebase's, without opening the repository) and the engine, open until
// the test ends.
func rebaseLabOnto177(t *testing.T, lab, queue, base string, res merger.Resolutions) (labRun, *merger.Engine) {
	t.Helper()
	eng := mustEngine(t, lab, merger.Options{Now: fixedNow, Resolutions: res})
	start := time.Now()
	r := rebaseLabWith(t, eng, lab, queue, base, "v6.1.177")
	return labRun{res: r, took: time.Since(start)}, eng
}

// labFileAfter returns the result of labConflictPatch in run, and
// labConflictFile as its commit has it ("" when it made none).
func labFileAfter(t *testing.T, run labRun, eng *merger.Engine) (*merger.PatchResult, string) {
	t.Helper()
	for _, pr := range run.res.Patches {
		if pr.Patch.Name != labConflictPatch {
			continue
		}
		if pr.Commit.IsZero() {
			return pr, ""
		}
		c, err := eng.Repository().CommitObject(pr.Commit)
		if err != nil {
			t.Fatal(err)
		}
		f, err := c.File(labConflictFile)
		if err != nil {
			t.Fatal(err)
		}
		text, err := f.Contents()
		if err != nil {
			t.Fatal(err)
		}
		return pr, text
	}
	t.Fatalf("no patch %s", labConflictPatch)
	return nil, ""
}

// refuseLabUnfixed checks that the file as 0040 found it (what the
// partial branch has: v6.1.177's fault.c without the RT change) is
// refused as a fix, naming the RT line it lacks.
func refuseLabUnfixed(t *testing.T, conflict *merger.PatchResult, eng *merger.Engine) {
	t.Helper()
	_, err := merger.Learn(conflict, func(f *merger.FileResult) (string, bool, error) {
		text, err := eng.Blob(f.CandBlob)
		return text, err == nil, err
	}, "the partial branch")
	if err == nil || !strings.Contains(err.Error(), `the patch's line "if (interrupts_enabled(regs))" is missing`) {
		t.Errorf("learning %s without 0040's change: %v; want refused, naming 0040's line", labConflictFile, err)
	}
}

// learnLabFix learns from the conflict that its fix is want, Debian's
// refreshed file.
func learnLabFix(t *testing.T, conflict *merger.PatchResult, want string) []merger.Resolution {
	t.Helper()
	learned, err := merger.Learn(conflict, func(f *merger.FileResult) (string, bool, error) {
		if p := f.ResultPath(); p != labConflictFile {
			t.Fatalf("asked for %s", p)
		}
		return want, true, nil
	}, "Debian's 6.1.177 queue")
	if err != nil || len(learned) != 1 {
		t.Fatalf("learned %+v, %v", learned, err)
	}
	return learned
}
