package pipeline

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
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
