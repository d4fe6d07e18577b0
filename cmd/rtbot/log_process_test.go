package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// logHelperEnv, set to 1 in the environment of this test binary run
// again, makes the test named by -test.run log logAll's lines through the
// logger of an rtbot command (format auto, the real os.Stderr and
// environment) instead of testing.
const logHelperEnv = "RTBOT_LOG_HELPER"

// logHelper is what the test binary does as a helper: it reports whether
// it was one.
func logHelper(t *testing.T) bool {
	if os.Getenv(logHelperEnv) != "1" {
		return false
	}
	l, err := newLogger(os.Stderr, true, logAuto, os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	logAll(l)
	return true
}

// TestJournalStreamStderr: a process whose stderr is a stream socket that
// JOURNAL_STREAM names, as systemd starts a unit that logs to the
// journal, writes the journal format; the same process with its stderr
// elsewhere (the variable inherited) writes text.
func TestJournalStreamStderr(t *testing.T) {
	if logHelper(t) {
		return
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for _, named := range []bool{true, false} {
		fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		ours, theirs := os.NewFile(uintptr(fds[0]), "journal"), os.NewFile(uintptr(fds[1]), "stderr")
		stream := journalStreamOf(t, theirs)
		if !named {
			stream = journalStreamOf(t, ours) // another socket: not stderr
		}
		cmd := exec.Command(self, "-test.run=^TestJournalStreamStderr$", "-test.count=1")
		cmd.Env = append(os.Environ(), logHelperEnv+"=1", "JOURNAL_STREAM="+stream, logLevelEnv+"=")
		cmd.Stderr = theirs
		var stdout bytes.Buffer
		cmd.Stdout = &stdout
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		theirs.Close()
		got, err := io.ReadAll(ours)
		ours.Close()
		if werr := cmd.Wait(); werr != nil || err != nil {
			t.Fatalf("helper: %v, %v\n%s%s", werr, err, stdout.String(), got)
		}
		want := strings.Join(journalLines(), "")
		if named && string(got) != want {
			t.Errorf("stderr named by JOURNAL_STREAM:\n got %q\nwant %q", got, want)
		}
		if !named && (!strings.HasPrefix(string(got), "time=") || strings.Contains(string(got), "<6>")) {
			t.Errorf("stderr not named by JOURNAL_STREAM: not text:\n%s", got)
		}
	}
}

// TestJournalUnderSystemdRun: under a real systemd (systemd-run --user),
// journald stores each line with the priority rtbot gave it and without
// the prefix, and the message has no time of its own.
func TestJournalUnderSystemdRun(t *testing.T) {
	if logHelper(t) {
		return
	}
	for _, tool := range []string{"systemd-run", "journalctl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed", tool)
		}
	}
	if out, err := exec.Command("systemd-run", "--user", "--quiet", "--wait", "true").CombinedOutput(); err != nil {
		t.Skipf("no systemd user manager to start a unit (a container, or no login session): systemd-run --user: %v: %s; TestJournalStreamStderr covers rtbot's side", err, bytes.TrimSpace(out))
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	unit := fmt.Sprintf("rtbot-logtest-%d", os.Getpid())
	out, err := exec.Command("systemd-run", "--user", "--quiet", "--wait", "--unit="+unit,
		"--setenv="+logHelperEnv+"=1", self, "-test.run=^TestJournalUnderSystemdRun$", "-test.count=1").CombinedOutput()
	if err != nil {
		t.Fatalf("systemd-run: %v\n%s", err, out)
	}
	want := map[string]string{ // MESSAGE: PRIORITY
		`level=INFO msg="watch started" config=/etc/rtbot/rtbot.toml`:                             "6",
		`level=WARN msg="reconnecting to the IMAP server after a failure" tree=6.1-rt next=966ms`: "4",
		`level=ERROR msg="watch stopped" g.err="line one\nline two"`:                              "3",
	}
	var got map[string]string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		got = journalOf(t, unit+".service")
		if len(got) >= len(want) {
			break
		}
	}
	for msg, prio := range want {
		if got[msg] != prio {
			t.Errorf("journal: %q has priority %q, want %s; the unit's lines: %q", msg, got[msg], prio, got)
		}
	}
}

// journalOf returns the lines rtbot logged in the user unit's journal
// (those with a level=), each with its priority.
func journalOf(t *testing.T, unit string) map[string]string {
	t.Helper()
	out, err := exec.Command("journalctl", "--user", "--unit="+unit, "--output=json", "--no-pager").Output()
	if err != nil {
		t.Fatalf("journalctl: %v", err)
	}
	got := map[string]string{}
	dec := json.NewDecoder(bytes.NewReader(out))
	for dec.More() {
		var e struct{ MESSAGE, PRIORITY string }
		if err := dec.Decode(&e); err != nil {
			t.Fatalf("journalctl's JSON: %v", err)
		}
		if strings.Contains(e.MESSAGE, "level=") {
			got[e.MESSAGE] = e.PRIORITY
		}
	}
	return got
}
