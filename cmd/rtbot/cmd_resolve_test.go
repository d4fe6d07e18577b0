package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/rtbot/rtbot/internal/fixtures"
)

// TestResolveCommand records the fix of the demo's conflict with `rtbot
// resolve`, lists it, exports it and imports it back, and refuses bad
// input with exit codes and messages that say what is wrong.
func TestResolveCommand(t *testing.T) {
	dir, cfg := demoDir(t)
	const port = "drivers/tty/serial/8250/8250_port.c"
	const serialName = "0003-serial-8250-irq-safe-locking.patch"
	fix := serialFix(t, filepath.Join(dir, "linux.git"), "fix/serial", "serial: refreshed\n")
	bad := filepath.Join(dir, "bad.jsonl")
	os.WriteFile(bad, []byte(`{"key":"`+strings.Repeat("a", 64)+`","patch_id":"`+strings.Repeat("b", 64)+
		`","path":"../../etc/passwd","preimage":"<<<<<<<\n","postimage":"x\n","source":"evil","recorded_at":"2026-01-01T00:00:00Z"}`+"\n"), 0o644)
	export := filepath.Join(dir, "team.jsonl")
	runCases(t, []cliCase{
		{[]string{"resolve", "--config", cfg, "--list"}, exitOK, []string{"no remembered resolutions"}},
		{[]string{"resolve", "--config", cfg, "--run", "1"}, exitUsage, nil},
		{[]string{"resolve", "--config", cfg, "--list", "--export", export}, exitUsage, nil},
		{[]string{"resolve", "--config", cfg, "--run", "1", "--fix", "no-such-branch"}, exitError, []string{"fix no-such-branch"}},
		{[]string{"resolve", "--config", cfg, "--run", "1", "--fix", "fix/serial"}, exitOK,
			[]string{"remembered " + port, `rtbot resolve: commit ` + fix.String()[:12] + ` "serial: refreshed", run 1`}},
		{[]string{"resolve", "--config", cfg, "--list"}, exitOK, []string{port + ", recorded", "used 0 time(s)"}},
		{[]string{"resolve", "--config", cfg, "--export", export}, exitOK, []string{"wrote 1 resolution(s) to " + export}},
		{[]string{"resolve", "--config", cfg, "--import", export}, exitOK, []string{"1 resolution(s) added or already known, 0 replaced"}},
		{[]string{"resolve", "--config", cfg, "--import", bad}, exitError, []string{bad + ":1: path \"../../etc/passwd\""}},
		{[]string{"run", "--config", cfg, "--onto", "v9.9.9"}, exitError, []string{"v9.9.9"}},
		// The shared file resolves the same conflict in rtbot merge; the
		// preempt.h backport still needs a human (exit 3).
		{[]string{"merge", "--repo", filepath.Join(dir, "linux.git"), "--queue", filepath.Join(dir, "patches-rt"), "--base", "v6.1.11",
			"--onto", "v6.1.12-rc1", "--resolutions", export}, exitManual,
			[]string{"Resolved as a maintainer resolved the same conflict before", serialName + "\n       " + port + ", as rtbot resolve: commit", fix.String()[:12]}},
		{[]string{"merge", "--repo", filepath.Join(dir, "linux.git"), "--queue", filepath.Join(dir, "patches-rt"), "--base", "v6.1.11",
			"--onto", "v6.1.12-rc1", "--resolutions", bad}, exitError, []string{"--resolutions: " + bad + ":1:"}},
	})
	data, err := os.ReadFile(export)
	if err != nil || bytes.Count(data, []byte("\n")) != 1 || !bytes.Contains(data, []byte("uart_port_lock_irqsave(x, 3) + port_quirk(x)")) {
		t.Errorf("exported file: %v\n%s", err, data)
	}
}

// TestRunLearnsPushedFix: a maintainer pushes the serial patch, applied
// by hand, onto the demo's published partial branch; the next `rtbot run`
// says it learnt it, and `rtbot resolve --list` shows where it came from.
func TestRunLearnsPushedFix(t *testing.T) {
	cfg, _ := demoWithSMTP(t)
	dir := filepath.Dir(cfg)
	const (
		port    = "drivers/tty/serial/8250/8250_port.c"
		partial = "rtbot/6.1-rt/6.1.12-rc1-partial"
	)
	fix := serialFix(t, filepath.Join(dir, "published.git"), partial,
		"serial: 8250: Use port lock wrappers\n\nSigned-off-by: A Maintainer <m@example.org>\n")
	runCases(t, []cliCase{
		// Any pass reads the branch first; this one then runs the queue
		// on its own base again (the demo did: --force; clean: pushed,
		// tested, the test results mailed).
		{[]string{"run", "--config", cfg, "--onto", "v6.1.11", "--force"}, exitOK,
			[]string{"fix      " + fix.String()[:12] + " on " + partial + " (0003-serial-8250-irq-safe-locking.patch): learnt " + port,
				"6.1-rt on 6.1.11: clean", "pushed   rtbot/6.1-rt/6.1.11"}},
		{[]string{"resolve", "--config", cfg, "--list"}, exitOK, []string{"pushed to " + partial + ": commit " + fix.String()[:12]}},
		{[]string{"status", "--config", cfg}, exitOK, []string{"reading " + partial + " for fixes (run 1 of 6.1-rt): learnt up to " + fix.String()[:12]}},
		// Nothing new: nothing learnt twice, the release not run twice.
		{[]string{"run", "--config", cfg, "--onto", "v6.1.11", "--json"}, exitOK, []string{`"runs": []`, `"learned": []`}},
		// The fetched fix is in the tree's repository now.
		{[]string{"resolve", "--config", cfg, "--run", "1", "--fix", fix.String(), "--since", "no-such-rev"}, exitError, []string{"since no-such-rev"}},
	})
}

// TestResolveRefusesFixWithoutChange is issue 13's scenario: after a good
// resolution of the demo's serial conflict was recorded, `rtbot resolve
// --fix` naming the run's partial branch itself (stable's file, without
// the RT change) is refused, naming the patch, the file and the RT line it
// lacks, and the good resolution is kept. A different fix of the same
// conflict replaces it only with --replace, which says what it replaced;
// what is learnt is shown as a diff before it is stored.
func TestResolveRefusesFixWithoutChange(t *testing.T) {
	dir, cfg := demoDir(t)
	const (
		port    = "drivers/tty/serial/8250/8250_port.c"
		partial = "rtbot/6.1-rt/6.1.12-rc1-partial"
		serial  = "0003-serial-8250-irq-safe-locking.patch"
	)
	repo := filepath.Join(dir, "linux.git")
	good := serialFix(t, repo, "fix/serial", "serial: refreshed\n").String()[:12]
	other := partialEdit(t, repo, "fix/other", "\tint r = x + 3 + port_quirk(x);\n",
		"\tint r = port_quirk(x) + uart_port_lock_irqsave(x, 3);\n").String()[:12]
	resolve := func(args ...string) []string { return append([]string{"resolve", "--config", cfg}, args...) }
	runCases(t, []cliCase{
		{resolve("--run", "1", "--fix", "fix/serial"), exitOK, []string{"-\tint r = x + 3 + port_quirk(x);",
			"+\tint r = uart_port_lock_irqsave(x, 3) + port_quirk(x);", "remembered " + port}},
		{resolve("--run", "1", "--fix", "fix/serial"), exitOK, []string{"already remembered " + port, "commit " + good + ` "serial: refreshed"`}},
		{resolve("--run", "1", "--fix", partial), exitError, []string{"patch " + serial + " file " + port,
			`"int r = uart_port_lock_irqsave(x, 3);"`, "is the run's partial branch itself", "!remembered " + port}},
		{resolve("--list"), exitOK, []string{"commit " + good + ` "serial: refreshed", run 1`, "!" + partial}},
		{resolve("--run", "1", "--fix", "fix/other"), exitError, []string{"+\tint r = port_quirk(x) + uart_port_lock_irqsave(x, 3);",
			"replaces the resolution recorded", "rtbot resolve: commit " + good, "--replace", "!remembered " + port}},
		{resolve("--list"), exitOK, []string{"commit " + good, "!commit " + other}},
		{resolve("--run", "1", "--fix", "fix/other", "--replace"), exitOK, []string{"remembered " + port,
			"replacing the resolution recorded", "rtbot resolve: commit " + good}},
		{resolve("--list"), exitOK, []string{"commit " + other, "!commit " + good}},
	})
}

// partialEdit commits, in the repository at repoDir on top of the demo's
// partial branch, its serial file with old replaced by new, and points
// branch to at it.
func partialEdit(t *testing.T, repoDir, to, old, new string) plumbing.Hash {
	t.Helper()
	h, err := fixtures.CommitDemoEdit(repoDir, "rtbot/6.1-rt/6.1.12-rc1-partial", to, "serial: refreshed differently\n",
		func(s string) (string, error) { return strings.Replace(s, old, new, 1), nil })
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// TestResolveAcceptCommand: --accept needs --run and not --fix, --by goes
// with --accept, and a run without a proposal says so (the demo's serial
// conflict edits the same line on both sides: no proposal).
func TestResolveAcceptCommand(t *testing.T) {
	_, cfg := demoDir(t)
	runCases(t, []cliCase{
		{[]string{"resolve", "--config", cfg, "--accept", "all"}, exitUsage, nil},
		{[]string{"resolve", "--config", cfg, "--run", "1", "--fix", "HEAD", "--accept", "all"}, exitUsage, nil},
		{[]string{"resolve", "--config", cfg, "--list", "--by", "Jane <j@example.org>"}, exitUsage, nil},
		{[]string{"resolve", "--config", cfg, "--run", "1", "--accept", "all", "--by", "Jane <j@example.org>"}, exitError,
			[]string{"run 1 has no proposed refresh to accept"}},
	})
}
