// Command pass runs one whole rtbot pass (IMAP scan, candidate fetch,
// rebase, push, report mail) on the demo's announcement and RT queue, with
// the demo's kernel history grafted onto a padded repository
// (scripts/bench/scale.sh), for timing a pass at scale:
//
//	pass setup DIR PADDED.git   # not timed: builds DIR
//	/usr/bin/time pass run DIR  # one pass; prints it as JSON and its wall time
//
// DIR/linux.git is a hard-linked clone of the padded repository with the
// demo's tags fetched into it, DIR/published.git another one (the push
// remote); the candidate remote is the demo's small linux-stable-rc.git.
// run starts the demo's in-process IMAP and SMTP servers, delivers the
// demo's list mails, writes DIR/rtbot.toml and runs the preflight and one
// pass, as rtbot run does.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/rtbot/rtbot/internal/config"
	"github.com/rtbot/rtbot/internal/fixtures"
	"github.com/rtbot/rtbot/internal/pipeline"
	"github.com/rtbot/rtbot/internal/state"
)

// passConfig is the configuration of the pass: the demo's, with the
// padded repositories.
const passConfig = `[bot]
name = "rtbot scale pass"
email = "rtbot@demo.invalid"
state = "state.db"

[imap]
addr = %[2]q
tls = "plain"
username = "rtbot"
password_file = "imap.password"
mark_processed = "$rtbot-done"

[smtp]
addr = %[3]q
tls = "plain"

[[tree]]
name = "6.1-rt"
series = "6.1"
repo = "linux.git"
candidate_url = "%[1]s/demo/linux-stable-rc.git"
announce_url = "git://git.kernel.org/pub/scm/linux/kernel/git/stable/linux-stable-rc.git"
queue = "demo/patches-rt"
queue_base = "v6.1.11"
maintainers = ["RT Maintainer <rt-maintainer@demo.invalid>"]
senders = ["gregkh@linuxfoundation.org"]
push_remote = "./published.git"
push_partial = true
`

func main() {
	var err error
	switch {
	case len(os.Args) == 4 && os.Args[1] == "setup":
		err = setup(os.Args[2], os.Args[3])
	case len(os.Args) == 3 && os.Args[1] == "run":
		err = run(context.Background(), os.Args[2])
	default:
		err = fmt.Errorf("usage: pass setup DIR PADDED.git | pass run DIR")
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "pass:", err)
		os.Exit(1)
	}
}

// setup builds the demo under dir/demo and the padded repositories.
func setup(dir, padded string) error {
	d, err := fixtures.BuildDemo(filepath.Join(dir, "demo"))
	if err != nil {
		return err
	}
	for _, args := range [][]string{
		{"clone", "-q", "--bare", "--local", padded, filepath.Join(dir, "linux.git")},
		{"clone", "-q", "--bare", "--local", padded, filepath.Join(dir, "published.git")},
		{"--git-dir", filepath.Join(dir, "linux.git"), "fetch", "-q", "--no-tags", d.Repo, "+refs/tags/*:refs/tags/*"},
	} {
		cmd := exec.Command("git", args...)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("git %v: %w", args, err)
		}
	}
	return nil
}

// run runs one pass in dir and prints it.
func run(ctx context.Context, dir string) error {
	imapSrv, err := fixtures.StartIMAP("rtbot", "demo password", nil)
	if err != nil {
		return err
	}
	defer imapSrv.Close()
	smtpSrv, err := fixtures.StartSMTP(fixtures.SMTPOptions{Dir: filepath.Join(dir, "outbox")})
	if err != nil {
		return err
	}
	defer smtpSrv.Close()
	for _, m := range [][]byte{fixtures.DemoMail, fixtures.DemoRTMail} {
		if err := imapSrv.Deliver(m); err != nil {
			return err
		}
	}
	cfgPath, err := writeConfig(dir, imapSrv, smtpSrv)
	if err != nil {
		return err
	}
	cfg, err := config.Load(cfgPath, pipeline.ConfigRules())
	if err != nil {
		return err
	}
	st, err := state.Open(ctx, cfg.Bot.State)
	if err != nil {
		return err
	}
	defer st.Close()
	p := pipeline.New(cfg, st, pipeline.Options{})
	start := time.Now()
	pf := p.Preflight(ctx, pipeline.ScopeAll) // as rtbot run does first
	checked := time.Now()
	if problems := pf.Problems(); len(problems) > 0 {
		return fmt.Errorf("preflight: %v", problems)
	}
	pass, err := p.Once(ctx)
	done := time.Now()
	if err != nil {
		return err
	}
	out, err := json.MarshalIndent(pass, "", "  ")
	if err != nil {
		return err
	}
	fmt.Printf("%s\npreflight %.2f s, pass %.2f s; %d mail(s) accepted by the SMTP server\n", out,
		checked.Sub(start).Seconds(), done.Sub(checked).Seconds(), len(smtpSrv.Messages()))
	return nil
}

// writeConfig writes the IMAP password and the configuration into dir.
func writeConfig(dir string, imapSrv *fixtures.IMAPServer, smtpSrv *fixtures.SMTPServer) (string, error) {
	if err := os.MkdirAll(filepath.Join(dir, "outbox"), 0o755); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, "imap.password"), []byte(imapSrv.Password+"\n"), 0o600); err != nil {
		return "", err
	}
	cfgPath := filepath.Join(dir, "rtbot.toml")
	return cfgPath, os.WriteFile(cfgPath, fmt.Appendf(nil, passConfig, dir, imapSrv.Addr, smtpSrv.Addr), 0o644)
}
