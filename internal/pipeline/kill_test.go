package pipeline

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/rtbot/rtbot/internal/state"
	"github.com/rtbot/rtbot/internal/testkit"
)

// crashBinary builds rtbot with -tags rtbotcrash once per test process:
// that binary kills itself with SIGKILL at the fault point RTBOT_CRASH_AT
// names (cmd/rtbot/crashpoint.go).
var crashBinary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "rtbot-crash-bin-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "rtbot")
	out, err := exec.Command("go", "build", "-tags", "rtbotcrash", "-o", bin, "github.com/rtbot/rtbot/cmd/rtbot").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build -tags rtbotcrash: %v\n%s", err, out)
	}
	return bin, nil
})

// rtbot runs the crash binary with args and the environment env.
func (w *crashWorld) rtbot(t *testing.T, env []string, args ...string) (string, error) {
	t.Helper()
	bin, err := crashBinary()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	// The pass itself, as the in-process harness runs it: one phase breaks
	// the queue on purpose, which the preflight would stop first.
	cmd.Env = append(append(os.Environ(), "RTBOT_CRASH_NO_PREFLIGHT=1"), env...)
	cmd.Dir = w.dir
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// recoverByProcess is recover with the real binary: `rtbot run` until it
// exits 0, settling interrupted mail with `rtbot action` as a maintainer
// would (a pass that reports a run failed for good exits 1 once, saying
// how to rerun it).
func (w *crashWorld) recoverByProcess(t *testing.T) {
	t.Helper()
	cfg := filepath.Join(w.dir, "rtbot.toml")
	for i := 0; i < 5; i++ {
		out, err := w.rtbot(t, nil, "run", "--config", cfg)
		if err == nil {
			return
		}
		if !strings.Contains(out, "rtbot action") && !strings.Contains(out, "rtbot rerun") {
			t.Fatalf("recovery run %d: %v\n%s", i+1, err, out)
		}
		for _, a := range w.interruptedMails(t, fmt.Sprintf("recovery run %d", i+1), "\n"+out) {
			verdict := "--retry"
			if w.mailsWithID(t, a.Key) > 0 {
				verdict = "--done"
			}
			if out, err := w.rtbot(t, nil, "action", "--config", cfg, verdict, fmt.Sprint(a.ID)); err != nil {
				t.Fatalf("rtbot action %s %d: %v\n%s", verdict, a.ID, err, out)
			}
		}
	}
	t.Fatal("rtbot run did not settle in 5 runs")
}

// TestKillAtEveryPoint is TestCrashAtEveryPoint with real crashes: the
// `rtbot run` process kills itself with SIGKILL at each crash point (no
// deferred function runs, the lock and the open files are dropped by the
// kernel), and further `rtbot run` processes recover.
func TestKillAtEveryPoint(t *testing.T) {
	if testing.Short() {
		t.Skip("builds rtbot and runs it once per crash point")
	}
	if _, err := crashBinary(); err != nil {
		t.Fatal(err)
	}
	seen, want := crashBaseline(t)
	killed := 0
	for ph := range seen {
		for _, cp := range seen[ph] {
			killed++
			t.Run(fmt.Sprintf("phase%d/%s", ph+1, cp), func(t *testing.T) {
				t.Parallel()
				w := newCrashWorld(t)
				cfg := filepath.Join(w.dir, "rtbot.toml")
				for p := 0; p < ph; p++ {
					w.deliver(t, p)
					w.recoverByProcess(t)
				}
				w.deliver(t, ph)
				out, err := w.rtbot(t, []string{"RTBOT_CRASH_AT=" + cp.String()}, phaseArgs(ph, cfg)...)
				var ee *exec.ExitError
				if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL ||
					!strings.Contains(out, "crashing at "+cp.String()) {
					t.Fatalf("rtbot run was not killed at %s: %v\n%s", cp, err, out)
				}
				w.finish(t, ph, w.recoverByProcess, "a kill at "+cp.String(), want)
			})
		}
	}
	t.Logf("killed rtbot at %d crash points: %s", killed, crashPointList(seen))
}

// TestKillResults is TestResultsCrash with real crashes: `rtbot run`
// (a command trigger with a results file, a [results] dir) is killed
// with SIGKILL at each new step of the results loop, and further `rtbot
// run` processes recover: every result is recorded and exactly one
// follow-up reaches the maintainers (one in doubt is settled with `rtbot
// action` as a maintainer would, after looking in the mailbox).
func TestKillResults(t *testing.T) {
	if testing.Short() {
		t.Skip("builds rtbot and runs it once per crash point")
	}
	if _, err := crashBinary(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		at          string
		beforeFirst bool // the kill is in the pass that runs rc2, before any file is dropped
	}{
		{"command-results#1", true},
		{"results-imported#1", false},
		{"mail-commit#1", false},
		{"mail-sent#1", false},
	} {
		t.Run(tc.at, func(t *testing.T) {
			t.Parallel()
			w := newResultsWorld(t, "kernelci", "build-test")
			cfg := filepath.Join(w.dir, "rtbot.toml")
			text := testkit.ReadFile(t, cfg)
			text = testkit.ReplaceOnce(t, text, `triggers = ["kernelci"]`, `triggers = ["kernelci", "build-test"]`)
			text += fmt.Sprintf("\n[[trigger]]\nname = \"build-test\"\ntype = \"command\"\nargv = [%q]\ntimeout = \"1m\"\n\n[results]\ndir = %q\n",
				w.cfg.Triggers[len(w.cfg.Triggers)-1].Argv[0], w.cfg.Results.Dir)
			testkit.WriteFile(t, cfg, text, 0o644)
			w.publishRC2(t)
			w.send(t, rcMail(2, crashRC2))
			kill := func() {
				t.Helper()
				out, err := w.rtbot(t, []string{"RTBOT_CRASH_AT=" + tc.at}, "run", "--config", cfg)
				var ee *exec.ExitError
				if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
					t.Fatalf("rtbot run was not killed at %s: %v\n%s", tc.at, err, out)
				}
			}
			if tc.beforeFirst {
				kill()
			}
			w.recoverByProcess(t)
			_, checkout := kcidbCheckout(t, w.world)
			if err := os.MkdirAll(w.cfg.Results.Dir, 0o755); err != nil {
				t.Fatal(err)
			}
			testkit.WriteFile(t, filepath.Join(w.cfg.Results.Dir, "lab.json"), string(kcidbResults(checkout["id"].(string), "PASS", true)), 0o644)
			if !tc.beforeFirst {
				kill()
			}
			w.recoverByProcess(t)
			runs, err := w.store.Runs(context.Background(), state.RunFilter{})
			if err != nil || len(runs) != 1 {
				t.Fatalf("runs %v, %v", runs, err)
			}
			rt, _, err := w.store.TestsOf(context.Background(), runs[0].ID)
			if err != nil || len(rt.Results) != 5 || !rt.Complete() {
				t.Fatalf("results %d (complete %v), %v; want 5, complete", len(rt.Results), rt.Complete(), err)
			}
			if subjects, _ := w.followUps(t); len(subjects) != 1 {
				t.Errorf("follow-ups %q, want exactly one", subjects)
			}
			testkit.Glob(t, filepath.Join(w.cfg.Results.Dir, "done", "lab.json"))
		})
	}
}
