package pipeline

import (
	"path/filepath"
	"testing"

	"github.com/rtbot/rtbot/internal/testkit"
)

// TestReportMailGolden compares the whole report mail a pass sends, as the
// SMTP server received it, with testdata/report-mail.eml.golden (rewrite it
// with -update). checkReportMail checks its envelope and threading; this
// checks every word, so that a change to the report is seen, reviewed and
// committed with its golden file.
func TestReportMailGolden(t *testing.T) {
	w := newCrashWorld(t)
	w.deliver(t, 0)
	p := w.pass(t, Options{})
	msgs := w.smtp.Messages()
	if len(p.Runs) != 1 || len(msgs) != 1 || len(p.Runs[0].Result) < 12 {
		t.Fatalf("pass: %+v, %d mails; want one run with a result and its report", p, len(msgs))
	}
	// The world's directory and the result's commit (its committer date
	// is the run's start) vary; testkit.NormalizeMail says what else does.
	got := testkit.NormalizeMail(t, msgs[0].Data, w.dir, "$DIR", p.Runs[0].Result[:12], "<result>")
	testkit.Golden(t, filepath.Join("testdata", "report-mail.eml.golden"), got)
}
