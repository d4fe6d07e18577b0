package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rtbot/rtbot/fixtures"
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
		"stable-rc 6.1.12-rc1", "20230213144742.219399167@linuxfoundation.org",
		"3 of 5 applied, 2 need attention",
		"applied          2", "merged           1", "already-applied  1", "conflict         1",
		"0003 0003-serial-8250-irq-safe-locking.patch", "status: already-applied    action: drop",
		"0002 0002-printk-nbcon-on-RT.patch",
	} {
		if !strings.Contains(s, w) {
			t.Errorf("demo output lacks %q:\n%s", w, s)
		}
	}
	rep, err := os.ReadFile(filepath.Join(dir, "report.txt"))
	if err != nil || !bytes.Contains(rep, []byte("need attention")) {
		t.Errorf("report.txt: %v %q", err, rep)
	}
	r, err := fixtures.Open(filepath.Join(dir, "linux.git"))
	if err != nil {
		t.Fatal(err)
	}
	ref, err := r.Repo.Reference("refs/heads/rtbot/6.1.12-rc1", true)
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
