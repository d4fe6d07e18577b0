package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rtbot/rtbot/internal/fixtures"
	"github.com/rtbot/rtbot/internal/state"
	"github.com/rtbot/rtbot/internal/testkit"
)

// TestDemo runs `rtbot demo` and checks that every path of the engine shows
// up with the status the scenario was built for.
func TestDemo(t *testing.T) {
	dir := t.TempDir()
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"demo", "--dir", dir}, &out, &errb); code != exitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	s := out.String()
	for _, w := range []string{
		"new      <20230213144742.219399167@linuxfoundation.org> 6.1.12-rc1 from gregkh@linuxfoundation.org",
		`sender "gregkh@linuxfoundation.org.evil.example" is not one of its senders`,
		"a rt-stable mail: rtbot acts on stable-rc review announcements only",
		"run 1: 6.1-rt on 6.1.12-rc1: manual (5 patches, 2 need attention)",
		"the SMTP server accepted 1 mail:", "scanned 0 matching mails, 0 new",
		"In-Reply-To: <20230213144742.219399167@linuxfoundation.org>",
		"3 of 5 applied, 2 need attention",
		"applied          2", "merged           1", "already-applied  1", "conflict         1",
		"0003 0003-serial-8250-irq-safe-locking.patch", "status: already-applied    action: drop",
		"0002 0002-printk-nbcon-on-RT.patch",
		"tests of run 2 (6.1-rt): passed, follow-up mailed", "tests of run 3 (6.1-rt): regressed, follow-up mailed",
		"max                  61  was         40  +52.5%", "REGRESSED: max, cpu0 max",
	} {
		if !strings.Contains(s, w) {
			t.Errorf("demo output lacks %q:\n%s", w, s)
		}
	}
	rep, err := os.ReadFile(filepath.Join(dir, "outbox", "0001.eml"))
	if err != nil || !bytes.Contains(rep, []byte("need attention")) || !bytes.Contains(rep, []byte("git fetch https://git.demo.invalid/rt/linux-stable-rt.git")) {
		t.Errorf("the mailed report: %v %q", err, rep)
	}
	// Then the two test results follow-ups (passed, then the latency
	// regression), and nothing more: no mail twice.
	for name, want := range map[string]string{"0002.eml": "tests passed", "0003.eml": "tests regressed"} {
		if m, err := os.ReadFile(filepath.Join(dir, "outbox", name)); err != nil || !bytes.Contains(m, []byte(want)) {
			t.Errorf("%s: %v, want the follow-up %q:\n%s", name, err, want, m)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "outbox", "0004.eml")); err == nil {
		t.Error("the demo mailed twice")
	}
	// What the demo's lab wrote, rtbot read: valid KCIDB.
	labDocs := testkit.Glob(t, filepath.Join(dir, "work", "triggers", "6.1-rt", "*", "lab-*.results.json"))
	for _, f := range labDocs {
		if err := testkit.ValidateJSON(t, filepath.Join("..", "..", "internal", "trigger", "testdata", "kcidb-schema-v5.json"), []byte(testkit.ReadFile(t, f))); err != nil {
			t.Errorf("%s does not validate against the KCIDB schema: %v", f, err)
		}
	}
	if len(labDocs) != 2 {
		t.Errorf("the lab wrote %d results files, want 2", len(labDocs))
	}
	// The partial branch was pushed where the demo says.
	r, err := fixtures.Open(filepath.Join(dir, "published.git"))
	if err != nil {
		t.Fatal(err)
	}
	ref, err := r.Repo.Reference("refs/heads/rtbot/6.1-rt/6.1.12-rc1-partial", true)
	if err != nil {
		t.Fatal(err)
	}
	snap, err := r.Snapshot(ref.Hash())
	if err != nil {
		t.Fatal(err)
	}
	if snap["localversion-rt"].Content != "-rt5\n" || !strings.Contains(snap["kernel/printk/printk.c"].Content, "nbcon_emit") ||
		!strings.Contains(snap["kernel/sched/core.c"].Content, "preempt_lazy_enable") {
		t.Error("the demo branch lacks the patches that applied")
	}
	if strings.Contains(snap["drivers/tty/serial/8250/8250_port.c"].Content, "uart_port_lock_irqsave") {
		t.Error("the conflicting patch leaked into the branch")
	}
}

// TestRunStatusHistory drives the commands on the state the demo leaves.
func TestRunStatusHistory(t *testing.T) {
	_, cfg := demoDir(t)
	runCases(t, []cliCase{
		{[]string{"history", "--config", cfg}, exitOK, []string{"rtbot/6.1-rt/6.1.12-rc1-partial", "manual", "clean    regressed  rtbot/6.1-rt/6.1.11"}},
		{[]string{"history", "--config", cfg, "--run", "3"}, exitOK, []string{"tests regressed: LATENCY REGRESSION", "regressed: rt.cyclictest on qemu-x86_64: max, cpu0 max"}},
		{[]string{"history", "--config", cfg, "--run", "1"}, exitOK, []string{"3 conflict         refresh  0003-serial-8250-irq-safe-locking.patch", "mail    done"}},
		{[]string{"history", "--config", cfg, "--json"}, exitOK, []string{`"outcome": "manual"`}},
		{[]string{"status", "--config", cfg}, exitOK, []string{"done 3 ignored 2", "no pending actions", "state check: ok", "tests regressed: LATENCY REGRESSION",
			"reading rtbot/6.1-rt/6.1.12-rc1-partial for fixes (run 1 of 6.1-rt): nothing pushed onto it yet"}},
		{[]string{"status", "--config", cfg, "--json"}, exitOK, []string{fmt.Sprintf(`"state_schema": %d`, state.LatestSchemaVersion())}},
		// The demo's servers are gone: the preflight fails, saying which
		// keys, and that they may come back (exit 1, not 78).
		{[]string{"run", "--config", cfg}, exitError, []string{"rtbot run: preflight: 2 problems;", "imap.addr: ", "smtp.addr: ", "dial"}},
		{[]string{"action", "--config", cfg, "--done"}, exitUsage, nil},
	})
}
