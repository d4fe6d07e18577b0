package pipeline

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestLockExcludesASecondRun(t *testing.T) {
	if path := os.Getenv("RTBOT_LOCK_HELPER"); path != "" {
		// The second process: must be refused while the test holds the lock.
		_, err := Lock(path)
		if errors.Is(err, ErrLocked) {
			os.Stderr.WriteString(err.Error())
			os.Exit(9)
		}
		os.Exit(0)
	}
	path := filepath.Join(t.TempDir(), "state.db.lock")
	release, err := Lock(path)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestLockExcludesASecondRun$")
	cmd.Env = append(os.Environ(), "RTBOT_LOCK_HELPER="+path)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 9 || !strings.Contains(string(out), "held by pid") ||
		!strings.Contains(string(out), path) {
		t.Fatalf("second process while locked: %v: %s; want refused, naming the lock and its holder", err, out)
	}
	if err := release(); err != nil {
		t.Fatal(err)
	}
	// Released: the next run gets it.
	cmd = exec.Command(os.Args[0], "-test.run=^TestLockExcludesASecondRun$")
	cmd.Env = append(os.Environ(), "RTBOT_LOCK_HELPER="+path)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("second process after release: %v: %s", err, out)
	}
}
