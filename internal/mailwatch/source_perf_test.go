package mailwatch

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rtbot/rtbot/internal/testkit"
)

// TestSourceIdleCost measures, for docs/perf-mail.md, what reading a
// Maildir and a public-inbox costs: the first read and an idle one (time,
// bytes read, for HTTP the requests and bytes on the wire), on
// RTBOT_PERF_MAIL_N mails written by scripts/dovecot/genmail. It asserts
// only what the design promises (an idle read reads no message, an idle
// HTTP read fetches no pack); the figures are logged (-v).
func TestSourceIdleCost(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("RTBOT_PERF_MAIL_N"))
	if n <= 0 {
		t.Skip("set RTBOT_PERF_MAIL_N (e.g. 50000) to measure the mail sources for docs/perf-mail.md")
	}
	ctx := context.Background()
	md := filepath.Join(t.TempDir(), "Maildir")
	gen := exec.Command("go", "run", "./scripts/dovecot/genmail", "-maildir", md, "-n", strconv.Itoa(n), "-fixtures", testkit.MailsDir())
	gen.Dir = filepath.Join(testkit.MailsDir(), "..", "..", "..")
	if out, err := gen.CombinedOutput(); err != nil {
		t.Fatalf("genmail: %v\n%s", err, out)
	}
	files, err := filepath.Glob(filepath.Join(md, "*", "*"))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d mails", len(files))

	mcfg := MaildirConfig{Path: md}
	measure(t, "maildir first read", func() SourceScan { return must(ScanMaildir(ctx, mcfg, nil)) })
	pos := must(ScanMaildir(ctx, mcfg, nil)).Next
	idle := measure(t, "maildir idle read", func() SourceScan { return must(ScanMaildir(ctx, mcfg, pos)) })
	if idle.Read != 0 {
		t.Errorf("idle Maildir read %d messages", idle.Read)
	}
	t.Logf("maildir checkpoint: %d bytes", len(pos))

	pi := testkit.NewPublicInbox(t)
	start := time.Now()
	pi.Import(t, files)
	t.Logf("public-inbox import of %d mails: %v", len(files), time.Since(start))
	local := PublicInboxConfig{URL: pi.Dir}
	measure(t, "public-inbox local first run (now)", func() SourceScan { return must(ScanPublicInbox(ctx, local, nil)) })
	lpos := must(ScanPublicInbox(ctx, local, nil)).Next
	measure(t, "public-inbox local idle read", func() SourceScan { return must(ScanPublicInbox(ctx, local, lpos)) })

	srv := pi.Serve(t)
	remote := PublicInboxConfig{URL: srv.URL, Mirror: filepath.Join(t.TempDir(), "mirror")}
	first := measure(t, "public-inbox http first run (now, depth 1)", func() SourceScan { return must(ScanPublicInbox(ctx, remote, nil)) })
	reqs, bytes := srv.Requests()
	t.Logf("  %d requests, %d bytes on the wire: %q", len(reqs), bytes, reqs)
	for range 3 {
		measure(t, "public-inbox http idle read", func() SourceScan { return must(ScanPublicInbox(ctx, remote, first.Next)) })
		reqs, bytes = srv.Requests()
		t.Logf("  %d requests, %d bytes on the wire: %q", len(reqs), bytes, reqs)
		for _, r := range reqs {
			if !strings.HasPrefix(r, "GET ") {
				t.Errorf("idle read over HTTP: %q, want only ref advertisements", r)
			}
		}
	}
	// The fixtures are in the archive already: a new Message-ID makes a new mail.
	raw := strings.Replace(testkit.ReadFile(t, testkit.Mail(t, "stable-6.12.51-rc1.eml")),
		"<20251003160338.463688162@linuxfoundation.org>", "<perf.new.mail@linuxfoundation.org>", 1)
	pi.DeliverBytes(t, []byte(raw))
	measure(t, "public-inbox http read of one new mail", func() SourceScan { return must(ScanPublicInbox(ctx, remote, first.Next)) })
	reqs, bytes = srv.Requests()
	t.Logf("  %d requests, %d bytes on the wire: %q", len(reqs), bytes, reqs)
}

func must(s SourceScan, err error) SourceScan {
	if err != nil {
		panic(err)
	}
	return s
}

// measure runs f and logs how long it took and what it read.
func measure(t *testing.T, what string, f func() SourceScan) SourceScan {
	t.Helper()
	start := time.Now()
	s := f()
	t.Logf("%s: %v, %d messages read (%d bytes), %d candidates", what, time.Since(start).Round(10*time.Microsecond), s.Read, s.Bytes, len(s.Candidates))
	return s
}
