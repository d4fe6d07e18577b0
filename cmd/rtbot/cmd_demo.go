package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/emersion/go-message/mail"
	"github.com/go-git/go-git/v5"
	"github.com/rtbot/rtbot/internal/config"
	"github.com/rtbot/rtbot/internal/fixtures"
	"github.com/rtbot/rtbot/internal/pipeline"
	"github.com/rtbot/rtbot/internal/report"
	"github.com/rtbot/rtbot/internal/state"
	"github.com/spf13/cobra"
)

// newDemoCmd is `rtbot demo`: it runs the real pipeline on an embedded default: in-process IMAP
// and SMTP servers on loopback, real announcement mails (one genuine, one
// forged copy, one that is not a stable-rc cover), a generated repository
// with a stable release, a stable-rc tree to fetch the candidate from, and
// an RT queue with clean, offset, 3-way, conflicting and already-backported
// patches. It needs no configuration and no network.
func newDemoCmd() *cobra.Command {
	var dir string
	c := &cobra.Command{
		Use:   "demo",
		Short: "run the pipeline on an embedded default (no config, no network)",
		Long: `Run the real pipeline on an embedded default: in-process IMAP and SMTP
servers on loopback, real list mails, a generated stable-rc tree and an RT
queue with clean, offset, 3-way, conflicting and already-backported
patches. It needs no configuration and no network, and prints where
everything went; rtbot history and rtbot status read its state after.`,
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return cmdDemo(c.Context(), dir, c.OutOrStdout())
		},
	}
	c.Flags().StringVar(&dir, "dir", "", "where to build the demo (default: a new temporary directory, kept)")
	_ = c.MarkFlagDirname("dir")
	return c
}

// cmdDemo is `rtbot demo --dir DIR`.
func cmdDemo(ctx context.Context, dir string, stdout io.Writer) error {
	if dir == "" {
		d, err := os.MkdirTemp("", "rtbot-demo-")
		if err != nil {
			return err
		}
		dir = d
	}
	if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
		return usagef("%s is not empty; give a new directory with --dir, or none", dir)
	}
	return runDemo(ctx, dir, stdout)
}

// demoConfig is the configuration the demo runs with; it is written next to
// the demo so `rtbot history` and `rtbot status` can read the state after.
const demoConfig = `# Written by rtbot demo. The IMAP and SMTP servers lived only while the
# demo ran; history and status still work:
#   rtbot history --config %[1]s/rtbot.toml
#   rtbot status  --config %[1]s/rtbot.toml
[bot]
name = "rtbot demo"
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

# Fired for every clean run (rtbot run --onto v6.1.11 makes one): the
# KCIDB checkout document lands in kcidb/.
[[trigger]]
name = "kernelci"
type = "kcidb"
dir = "kcidb"

# The demo's test lab, also fired for every clean run: lab.sh writes KCIDB
# results (a build, a boot, a cyclictest) to $RTBOT_RESULTS; its second
# run measures a latency regression. The follow-up mail reports them.
[[trigger]]
name = "lab"
type = "command"
argv = ["./lab.sh"]
timeout = "1m"

[results]
deadline = "1h"

[[tree]]
name = "6.1-rt"
series = "6.1"
repo = "linux.git"
candidate_url = "./linux-stable-rc.git"
announce_url = "git://git.kernel.org/pub/scm/linux/kernel/git/stable/linux-stable-rc.git"
queue = "patches-rt"
queue_base = "v6.1.11"
maintainers = ["RT Maintainer <rt-maintainer@demo.invalid>"]
senders = ["gregkh@linuxfoundation.org"]
push_remote = "./published.git"
# What the reports tell readers to fetch from: published.git's public face.
public_url = "https://git.demo.invalid/rt/linux-stable-rt.git"
push_partial = true
triggers = ["kernelci", "lab"]
`

// demoLab is the demo's test lab (lab.sh): it writes a KCIDB document of a
// build, a boot test and a cyclictest for $RTBOT_CHECKOUT_ID to
// $RTBOT_RESULTS, saying the checkout's tests are finished; its first run
// measures a 40 us maximum latency, the next ones 61 us.
const demoLab = `#!/bin/sh
# rtbot demo's test lab: KCIDB results for the checkout rtbot names.
count=%[1]q/lab.count
n=$(cat "$count" 2>/dev/null || echo 0)
n=$((n + 1))
echo "$n" > "$count"
max=40 cpu1=31
if [ "$n" -gt 1 ]; then max=61 cpu1=30; fi
id=${RTBOT_COMMIT}-${n}
cat > "$RTBOT_RESULTS" <<EOF
{"version": {"major": 5, "minor": 3},
 "checkouts": [{"id": "$RTBOT_CHECKOUT_ID", "origin": "rtbot", "origin_tests_finish_time": "2026-12-07T12:00:00Z"}],
 "builds": [{"id": "demolab:build-$id", "origin": "demolab", "checkout_id": "$RTBOT_CHECKOUT_ID",
   "status": "PASS", "architecture": "x86_64", "config_name": "x86_64_defconfig"}],
 "tests": [
  {"id": "demolab:boot-$id", "origin": "demolab", "build_id": "demolab:build-$id", "path": "boot", "status": "PASS",
   "environment": {"misc": {"platform": "qemu-x86_64"}}},
  {"id": "demolab:cyclictest-$id", "origin": "demolab", "build_id": "demolab:build-$id", "path": "rt.cyclictest",
   "status": "PASS", "log_url": "https://lab.demo.invalid/cyclictest-$id.log",
   "environment": {"misc": {"platform": "qemu-x86_64"}},
   "misc": {"latency": {"max_us": $max, "p99_9_us": 12, "per_cpu_max_us": [$max, $cpu1]}}}]}
EOF
echo "lab: run $n, cyclictest max $max us"
`

// runDemo builds the demo in dir, runs it, and tells w what happened.
func runDemo(ctx context.Context, dir string, w io.Writer) error {
	d, err := fixtures.BuildDemo(dir)
	if err != nil {
		return err
	}
	if _, err := git.PlainInit(filepath.Join(dir, "published.git"), true); err != nil {
		return err
	}
	srv, err := startDemoServers(dir)
	if err != nil {
		return err
	}
	defer srv.close()
	n, err := srv.deliverListMails()
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "rtbot demo in %s\n\n", dir)
	fmt.Fprintf(w, "1. IMAP server %s holds %d list mails; SMTP server %s writes to %s\n", srv.imap.Addr, n, srv.smtp.Addr, srv.outbox)
	fmt.Fprintf(w, "   repository  %s (v6.1.11 and the RT queue %s)\n", d.Repo, d.Queue)
	fmt.Fprintf(w, "   stable-rc   %s (branch linux-6.1.y at 6.1.12-rc1)\n\n", d.StableRC)

	cfgPath, err := srv.writeConfig(dir)
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
	if err := demoPasses(ctx, w, cfgPath, pipeline.New(cfg, st, pipeline.Options{}), srv.smtp); err != nil {
		return err
	}
	fmt.Fprintf(w, "\nLook further with:\n")
	fmt.Fprintf(w, "  git --git-dir=%s log --oneline v6.1.12-rc1..rtbot/6.1-rt/6.1.12-rc1-partial\n", filepath.Join(dir, "published.git"))
	fmt.Fprintf(w, "  rtbot history --config %s --run 1\n", cfgPath)
	fmt.Fprintf(w, "  rtbot status --config %s\n", cfgPath)
	return nil
}

// demoServers are the demo's IMAP server and its SMTP server, which
// writes the mails it accepts to outbox.
type demoServers struct {
	imap   *fixtures.IMAPServer
	smtp   *fixtures.SMTPServer
	outbox string
}

// startDemoServers starts the demo's servers on loopback, the SMTP server
// writing to dir/outbox.
func startDemoServers(dir string) (*demoServers, error) {
	imapSrv, err := fixtures.StartIMAP("rtbot", "demo password", nil)
	if err != nil {
		return nil, err
	}
	srv := &demoServers{imap: imapSrv, outbox: filepath.Join(dir, "outbox")}
	if err := os.MkdirAll(srv.outbox, 0o755); err != nil {
		imapSrv.Close()
		return nil, err
	}
	if srv.smtp, err = fixtures.StartSMTP(fixtures.SMTPOptions{Dir: srv.outbox}); err != nil {
		imapSrv.Close()
		return nil, err
	}
	return srv, nil
}

// close stops the servers.
func (s *demoServers) close() {
	s.smtp.Close()
	s.imap.Close()
}

// deliverListMails puts the list traffic in the IMAP mailbox: the real
// announcement, a forged copy of it from another sender naming another
// tree, and a real RT release mail. It returns how many mails it delivered.
func (s *demoServers) deliverListMails() (int, error) {
	forged := fromLine.ReplaceAll(fixtures.DemoMail, []byte("From: Greg Kroah-Hartman <gregkh@linuxfoundation.org.evil.example>"))
	forged = bytes.Replace(forged, []byte("Message-Id: <"), []byte("Message-Id: <forged."), 1)
	mails := [][]byte{fixtures.DemoMail, forged, fixtures.DemoRTMail}
	for _, m := range mails {
		if err := s.imap.Deliver(m); err != nil {
			return 0, err
		}
	}
	return len(mails), nil
}

// writeConfig writes the IMAP password and the demo's configuration,
// naming the servers, into dir, and returns the configuration's path.
func (s *demoServers) writeConfig(dir string) (string, error) {
	if err := os.WriteFile(filepath.Join(dir, "imap.password"), []byte(s.imap.Password+"\n"), 0o600); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, "lab.sh"), fmt.Appendf(nil, demoLab, dir), 0o755); err != nil {
		return "", err
	}
	cfgPath := filepath.Join(dir, "rtbot.toml")
	if err := os.WriteFile(cfgPath, fmt.Appendf(nil, demoConfig, dir, s.imap.Addr, s.smtp.Addr), 0o644); err != nil {
		return "", err
	}
	return cfgPath, nil
}

// demoPasses runs steps 2 to 5 of the demo: a pass over the mailbox, the
// mail it sent, a second pass that must do nothing, and the report as the
// maintainers read it.
func demoPasses(ctx context.Context, w io.Writer, cfgPath string, p *pipeline.Pipeline, smtpSrv *fixtures.SMTPServer) error {
	fmt.Fprintf(w, "2. rtbot run --config %s\n", cfgPath)
	pass, err := p.Once(ctx)
	if err != nil {
		return err
	}
	printIndented(w, pass)

	msgs := smtpSrv.Messages()
	fmt.Fprintf(w, "\n3. the SMTP server accepted %s:\n", report.Plural(len(msgs), "mail", "mails"))
	for _, m := range msgs {
		fmt.Fprintf(w, "   %s to %s\n", m.File, strings.Join(m.To, ", "))
	}

	fmt.Fprintf(w, "\n4. the same pass again: nothing new, nothing sent, nothing moved\n")
	again, err := p.Once(ctx)
	if err != nil {
		return err
	}
	printIndented(w, again)
	if n := len(smtpSrv.Messages()); n != len(msgs) {
		return fmt.Errorf("the second pass sent %s more", report.Plural(n-len(msgs), "mail", "mails"))
	}

	if len(msgs) > 0 {
		fmt.Fprintf(w, "\n5. the report, as the maintainers read it (%s):\n\n", msgs[0].File)
		if err := printMail(w, msgs[0].Data); err != nil {
			return err
		}
	}
	return demoResults(ctx, w, cfgPath, p, smtpSrv)
}

// demoResults runs steps 6 and 7 of the demo: a clean run (onto the
// queue's own base) whose lab results pass, then a rerun of it whose lab
// measures a latency regression, each reported in a follow-up mail.
func demoResults(ctx context.Context, w io.Writer, cfgPath string, p *pipeline.Pipeline, smtpSrv *fixtures.SMTPServer) error {
	fmt.Fprintf(w, "\n6. rtbot run --config %s --onto v6.1.11: a clean run fires kernelci and lab\n", cfgPath)
	if _, err := p.Submit(ctx, "", "v6.1.11", false); err != nil {
		return err
	}
	pass, err := p.Once(ctx)
	if err != nil {
		return err
	}
	printIndented(w, pass)
	if len(pass.Runs) != 1 {
		return fmt.Errorf("the clean run: %d runs", len(pass.Runs))
	}
	run := pass.Runs[0].RunID
	fmt.Fprintf(w, "\n7. rtbot rerun --config %s %d: the lab measures again, and more\n", cfgPath, run)
	sent := len(smtpSrv.Messages())
	if pass, err = p.Rerun(ctx, strconv.FormatInt(run, 10)); err != nil {
		return err
	}
	printIndented(w, pass)
	msgs := smtpSrv.Messages()
	if len(msgs) != sent+1 {
		return fmt.Errorf("the rerun sent %d mails, want its follow-up", len(msgs)-sent)
	}
	fmt.Fprintf(w, "\n   its follow-up, as the maintainers read it (%s):\n\n", msgs[sent].File)
	return printMail(w, msgs[sent].Data)
}

// fromLine is the From: header line of a mail.
var fromLine = regexp.MustCompile(`(?m)^From:[^\n]*$`)

// printIndented prints a pass indented under a demo step.
func printIndented(w io.Writer, pass *pipeline.Pass) {
	var b strings.Builder
	printPass(&b, pass)
	fmt.Fprint(w, "   "+strings.ReplaceAll(strings.TrimSuffix(b.String(), "\n"), "\n", "\n   ")+"\n")
}

// printMail prints the headers a reader sees and the decoded body.
func printMail(w io.Writer, data []byte) error {
	mr, err := mail.CreateReader(bytes.NewReader(data))
	if err != nil {
		return err
	}
	for _, k := range []string{"From", "To", "Subject", "Message-Id", "In-Reply-To"} {
		if v := mr.Header.Get(k); v != "" { // a run --onto has no mail to answer
			fmt.Fprintf(w, "%s: %s\n", k, v)
		}
	}
	p, err := mr.NextPart()
	if err != nil {
		return err
	}
	fmt.Fprintln(w)
	_, err = io.Copy(w, p.Body)
	return err
}
