package pipeline

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/emersion/go-message/mail"
	"github.com/rtbot/rtbot/internal/fixtures"
	"github.com/rtbot/rtbot/internal/report"
	"github.com/rtbot/rtbot/internal/testkit"
)

// publicURL is the public_url of worldConfig's tree.
const publicURL = "https://git.example.org/rt/linux-stable-rt.git"

// TestReportMailGolden compares the three usual report mails, as the SMTP
// server received them, with testdata/report-*.eml.golden (rewrite them
// with -update): manual (a conflict to refresh and a patch to drop), drop
// (only a patch to drop) and clean. checkReportMail checks the envelope
// and threading; this checks every word, so that a change to the report
// is seen, reviewed and committed with its golden file. Each is as the
// list gets it (checkListMail) and says how to fetch its branch.
//
// A pass mails no report for a clean run; the clean mail is what the
// report mail composition makes of rc2's clean run, as a pass would send
// it.
func TestReportMailGolden(t *testing.T) {
	for _, tc := range []struct {
		name string
		mail func(t *testing.T, w *crashWorld) (data []byte, result string)
		want []string // in the body
		not  []string // nowhere in the body
	}{
		{"manual", manualMail, []string{"Refresh 1 patch (conflict): git am -3 it on top of the branch", "Drop 1 patch (already-applied)"}, nil},
		{"drop", dropMail, []string{"1 of 4 patches needs a human", "Drop 1 patch (already-applied)"}, []string{"Refresh", "conflict", "git am"}},
		{"clean", cleanMail, []string{"all of its 5 patches applied", "The result was pushed"}, []string{"What to do", "Refresh", "Drop"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newCrashWorld(t)
			data, result := tc.mail(t, w)
			_, body := checkListMail(t, data, w.dir)
			for _, s := range append(tc.want, "git fetch "+publicURL+" \\\n") {
				if !strings.Contains(body, s) {
					t.Errorf("report lacks %q:\n%s", s, body)
				}
			}
			for _, s := range tc.not {
				if strings.Contains(body, s) {
					t.Errorf("report has %q:\n%s", s, body)
				}
			}
			// The world's directory and the result's commit (its committer
			// date is the run's start) vary; testkit.NormalizeMail says what
			// else does.
			got := testkit.NormalizeMail(t, data, w.dir, "$DIR", result[:12], "<result>")
			testkit.Golden(t, filepath.Join("testdata", "report-"+tc.name+".eml.golden"), got)
		})
	}
}

// manualMail is the report of rc1's run: a conflict and a patch already
// in the candidate.
func manualMail(t *testing.T, w *crashWorld) ([]byte, string) {
	w.deliver(t, 0)
	p := w.pass(t, Options{})
	msgs := w.smtp.Messages()
	if len(p.Runs) != 1 || len(msgs) != 1 || len(p.Runs[0].Result) < 12 {
		t.Fatalf("pass: %+v, %d mails; want one run with a result and its report", p, len(msgs))
	}
	return msgs[0].Data, p.Runs[0].Result
}

// dropMail is the report of rc1's run on the queue without its
// conflicting patch: only a patch to drop.
func dropMail(t *testing.T, w *crashWorld) ([]byte, string) {
	series := filepath.Join(w.demo.Queue, "series")
	data, err := os.ReadFile(series)
	if err != nil {
		t.Fatal(err)
	}
	kept := strings.ReplaceAll(string(data), "0003-serial-8250-irq-safe-locking.patch\n", "")
	if kept == string(data) {
		t.Fatalf("the demo queue has no 0003-serial-8250-irq-safe-locking.patch:\n%s", data)
	}
	if err := os.WriteFile(series, []byte(kept), 0o644); err != nil {
		t.Fatal(err)
	}
	return manualMail(t, w)
}

// cleanMail is the report mail the composition makes of rc2's clean run.
func cleanMail(t *testing.T, w *crashWorld) ([]byte, string) {
	w.deliver(t, 0)
	w.pass(t, Options{})
	w.deliver(t, 1)
	p := w.pass(t, Options{})
	if len(p.Runs) != 1 || p.Runs[0].Report == nil || p.Runs[0].Pushed == "" || len(p.Runs[0].Result) < 12 {
		t.Fatalf("pass: %+v; want one clean run, pushed", p)
	}
	run := p.Runs[0]
	pl := New(w.cfg, w.store, Options{})
	a, err := w.store.Announcement(context.Background(), run.Announcement)
	if err != nil {
		t.Fatal(err)
	}
	m, err := pl.reportMail(a, w.cfg.Trees[0], run.Report, &run, "rtbot.clean@test.invalid")
	if err != nil {
		t.Fatal(err)
	}
	data, err := m.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	return data, run.Result
}

// checkListMail checks a mail is fit for a list: sent 7bit or 8bit, no
// body line wider than report.Width, no local path (dir, where the world
// lives), nothing counted with "(s)". It returns the header and the body.
func checkListMail(t *testing.T, data []byte, dir string) (mail.Header, string) {
	t.Helper()
	mr, err := mail.CreateReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	part, err := mr.NextPart()
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if _, err := b.ReadFrom(part.Body); err != nil {
		t.Fatal(err)
	}
	body := strings.ReplaceAll(b.String(), "\r\n", "\n")
	subject, _ := mr.Header.Subject()
	if cte := mr.Header.Get("Content-Transfer-Encoding"); cte != "7bit" && cte != "8bit" {
		t.Errorf("%s: sent %s, want 7bit or 8bit", subject, cte)
	}
	for _, l := range strings.Split(body, "\n") {
		if report.Columns(l) > report.Width {
			t.Errorf("%s: line of %d columns: %q", subject, report.Columns(l), l)
		}
	}
	if strings.Contains(body, dir) || strings.Contains(body, "(s)") {
		t.Errorf("%s: a local path or a \"(s)\" in the report:\n%s", subject, body)
	}
	return mr.Header, body
}

// triageSubject is the subject of a triage report ("[rtbot] 6.1-rt on
// 6.1.12-rc1: 2 of 5 patches need attention") or of a test results
// follow-up ("...: tests passed"), not of an error report
// ("...: failed (run 3)") or a preflight problem mail.
var triageSubject = regexp.MustCompile(`^\[rtbot\] \S+ on \S+: (\d+ of \d+ patch(es)? needs? attention|all \d+ patch(es)? applied|tests (passed|failed|regressed|incomplete))$`)

// checkListMails checks, as checkListMail does, every triage report an
// SMTP server received (error reports and preflight mails are another
// matter: they quote errors and paths for whoever fixes them).
func checkListMails(t *testing.T, srv *fixtures.SMTPServer, dir string) {
	t.Helper()
	for _, m := range srv.Messages() {
		if h, _ := mail.CreateReader(bytes.NewReader(m.Data)); h != nil {
			if s, _ := h.Header.Subject(); triageSubject.MatchString(s) {
				checkListMail(t, m.Data, dir)
			}
		}
	}
}
