package main

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/rtbot/rtbot/internal/fixtures"
)

// demoWithSMTP is demoDir with a live SMTP server in its configuration,
// for the commands that mail (the demo's own servers are gone).
func demoWithSMTP(t *testing.T) (cfg string, smtp *fixtures.SMTPServer) {
	t.Helper()
	_, cfg = demoDir(t)
	smtp, err := fixtures.StartSMTP(fixtures.SMTPOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { smtp.Close() })
	text, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	text = regexp.MustCompile(`(?s)(\[smtp\]\naddr = )"[^"]*"`).ReplaceAll(text, []byte(`$1"`+smtp.Addr+`"`))
	if err := os.WriteFile(cfg, text, 0o644); err != nil {
		t.Fatal(err)
	}
	return cfg, smtp
}

// TestRerunCommand: `rtbot rerun` redoes a finished run on purpose (a new
// run and report), refuses what it cannot find, and `rtbot run --onto`
// says when a candidate was run on this queue already, unless --force.
func TestRerunCommand(t *testing.T) {
	cfg, smtp := demoWithSMTP(t)
	runCases(t, []cliCase{
		{[]string{"rerun", "--config", cfg}, exitUsage, []string{"name one run id or announcement"}},
		{[]string{"rerun", "--config", cfg, "1"}, exitOK, []string{"redo.6.1.12-rc1.", "run 4: 6.1-rt on 6.1.12-rc1: manual", "mailed   <rtbot."}},
		{[]string{"rerun", "--config", cfg, "99"}, exitError, []string{"run 99: not found"}},
		{[]string{"rerun", "--config", cfg, "<nobody@example.org>"}, exitError, []string{"<nobody@example.org>: not found"}},
		{[]string{"run", "--config", cfg, "--force"}, exitUsage, nil},
		{[]string{"run", "--config", cfg, "--onto", "v6.1.12-rc1"}, exitOK, []string{"run 5: 6.1-rt on 6.1.12-rc1: manual"}},
		{[]string{"run", "--config", cfg, "--onto", "v6.1.12-rc1"}, exitOK, []string{"already run on this queue", "--force runs it again", "!run 6"}},
		{[]string{"run", "--config", cfg, "--onto", "v6.1.12-rc1", "--force"}, exitOK, []string{"run 6: 6.1-rt on 6.1.12-rc1: manual"}},
		{[]string{"history", "--config", filepath.Clean(cfg)}, exitOK, []string{"manual.6.1.12-rc1.", "redo.6.1.12-rc1."}},
	})
	if n := len(smtp.Messages()); n != 3 {
		t.Errorf("%d reports mailed, want 3 (the rerun, the run by hand, the forced one)", n)
	}
}
