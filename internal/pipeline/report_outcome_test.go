package pipeline

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/rtbot/rtbot/internal/state"
	"github.com/rtbot/rtbot/internal/testkit"
)

// What the pass says about the triage report must be what happened: these
// tests break the SMTP side in each way the issue found, and check that
// the pass does not claim the report was mailed, fails, leaves the report
// for the next pass (or records it refused), and that the next pass with
// the cause gone mails it once.

// banner is a server on a loopback port that greets with line (another
// protocol's) and then reads whatever it is sent.
func banner(t *testing.T, line string) string {
	t.Helper()
	return testkit.Serve(t, func(c net.Conn) {
		defer c.Close()
		io.WriteString(c, line+"\r\n")
		io.Copy(io.Discard, c)
	})
}

// TestSMTPNotSMTPServer: [smtp] addr names an IMAP server. That is no
// refusal of the report: the pass fails naming the server and what it
// said, the report waits, and once the address is fixed the next pass
// mails it.
func TestSMTPNotSMTPServer(t *testing.T) {
	w := newCrashWorld(t)
	w.deliver(t, 0)
	good := w.cfg.SMTP.Addr
	w.cfg.SMTP.Addr = banner(t, "* OK [CAPABILITY IMAP4rev1] Dovecot ready.")
	_, log, err := w.logged(t, quickRetry)
	if err == nil {
		t.Fatalf("the pass succeeded with an IMAP server for SMTP\n%s", log)
	}
	mustContain(t, "pass error", err.Error(), w.cfg.SMTP.Addr, "not an SMTP reply", "* OK [CAPABILITY IMAP4rev1] Dovecot ready.")
	if wt := w.waiting(t); len(wt) != 1 || wt[0].MessageID != crashRC1 {
		t.Fatalf("waiting %+v; want rc1", wt)
	}
	w.cfg.SMTP.Addr = good
	if o := w.recovers(t, "with the SMTP address fixed"); o.reports != 1 {
		t.Errorf("after the fix: %v", o)
	}
}

// checkNotMailed checks that the pass reported its one run as not having
// mailed the report: no Mail, a NotMailed saying why (with each of why),
// an outcome.
func checkNotMailed(t *testing.T, pass *Pass, outcome state.Outcome, why ...string) {
	t.Helper()
	if len(pass.Runs) != 1 {
		t.Fatalf("runs %+v; want one", pass.Runs)
	}
	r := pass.Runs[0]
	if r.Mail != "" || r.Outcome != outcome {
		t.Errorf("run report says mail %q, outcome %q; want no mail and outcome %q", r.Mail, r.Outcome, outcome)
	}
	mustContain(t, "not_mailed", r.NotMailed, why...)
	if !strings.Contains(r.NotMailed, "rtbot.") {
		t.Errorf("not_mailed %q does not name the report", r.NotMailed)
	}
}

// TestSMTPPasswordUnset: [smtp] password_env names a variable that is not
// set. That is the configuration's fault, not the server's: the pass fails
// saying which variable, without retrying in vain, the report waits
// unsent, and once the configuration is fixed the next pass mails it.
func TestSMTPPasswordUnset(t *testing.T) {
	const env = "RTBOT_TEST_SMTP_PASSWORD_NEVER_SET"
	if _, set := os.LookupEnv(env); set {
		t.Skipf("%s is set", env)
	}
	w := newCrashWorld(t)
	w.deliver(t, 0)
	w.cfg.SMTP.Username, w.cfg.SMTP.PasswordEnv = "rtbot", env
	pass, log, err := w.logged(t, quickRetry)
	if err == nil || !strings.Contains(err.Error(), env) {
		t.Fatalf("pass error %v; want one naming %s\n%s", err, env, log)
	}
	if strings.Contains(log, "retrying") || strings.Contains(log, "report mailed") {
		t.Errorf("a configuration error was retried at once, or the report said mailed:\n%s", log)
	}
	checkNotMailed(t, pass, OutcomeUnfinished, env, "the next pass")
	if wt := w.waiting(t); len(wt) != 1 || !strings.Contains(wt[0].LastError, env) {
		t.Fatalf("waiting %+v; want rc1 naming %s", wt, env)
	}
	w.cfg.SMTP.Username, w.cfg.SMTP.PasswordEnv = "", ""
	if o := w.recovers(t, "with the configuration fixed"); o.reports != 1 {
		t.Errorf("after the fix: %v", o)
	}
}

// TestSMTPServerDown: nothing listens at [smtp] addr. The pass retries,
// then fails; the report is not claimed mailed and the next pass, with the
// server back, mails it once.
func TestSMTPServerDown(t *testing.T) {
	w := newCrashWorld(t)
	w.deliver(t, 0)
	good := w.cfg.SMTP.Addr
	w.cfg.SMTP.Addr = testkit.ClosedPort(t)
	pass, log, err := w.logged(t, quickRetry)
	if err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("pass error %v; want the refused connection\n%s", err, log)
	}
	checkNotMailed(t, pass, OutcomeUnfinished, "connection refused", "the next pass")
	w.cfg.SMTP.Addr = good
	if o := w.recovers(t, "with the server back"); o.reports != 1 {
		t.Errorf("after the outage: %v", o)
	}
}

// TestSMTPRefusedReport: the server answers the end of the report with a
// 554. That is a refusal of this message: not retried, neither in the pass
// nor by the next one, but the pass fails saying so with the server's
// words and what to do, the refused mail stays visible as failed, and
// after `rtbot action --retry` the next pass sends it.
func TestSMTPRefusedReport(t *testing.T) {
	w := newCrashWorld(t)
	w.deliver(t, 0)
	w.smtp.FailNext("data", 554, 1)
	pass, log, err := w.logged(t, quickRetry)
	if err == nil {
		t.Fatalf("the pass succeeded with its report refused\n%s", log)
	}
	a := w.mailAction(t)
	retry := fmt.Sprintf("rtbot action --config %s --retry %d", w.cfg.Path, a.ID)
	mustContain(t, "pass error", err.Error(), "554 5.0.0 injected failure at data", retry)
	if strings.Contains(log, "retrying") {
		t.Errorf("a refusal was retried:\n%s", log)
	}
	checkNotMailed(t, pass, state.OutcomeManual, "554", retry)
	if a.State != state.ActionFailed || a.Attempts != 1 || !strings.Contains(a.LastError, "554") {
		t.Errorf("mail action %+v; want failed once with the 554", a)
	}
	if wt := w.waiting(t); len(wt) != 0 {
		t.Errorf("waiting %+v; the run is over", wt)
	}
	if _, _, err := w.logged(t, quickRetry); err != nil || w.mailAction(t).Attempts != 1 {
		t.Fatalf("the next pass: %v, mail action %+v; want nothing tried", err, w.mailAction(t))
	}
	if err := w.store.RetryAction(context.Background(), a.ID); err != nil {
		t.Fatal(err)
	}
	if o := w.recovers(t, "after rtbot action --retry"); o.reports != 1 || o.runs[crashRC1] != state.OutcomeManual {
		t.Errorf("after the retry: %v", o)
	}
}

// TestSMTPSilent: the server stops answering in the middle of the
// submission. Each attempt ends within [smtp] timeout, the pass fails
// saying how long it waited, and the next pass, with the server answering
// again, mails the report once.
func TestSMTPSilent(t *testing.T) {
	w := newCrashWorld(t)
	w.deliver(t, 0)
	w.cfg.SMTP.Timeout.Duration = 300 * time.Millisecond
	w.smtp.StallNext("mail", quickRetry.Attempts)
	start := time.Now()
	pass, log, err := w.logged(t, quickRetry)
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("the pass took %v with a 300ms timeout", d)
	}
	if err == nil || !strings.Contains(err.Error(), "no reply within 300ms") {
		t.Fatalf("pass error %v; want one saying how long it waited\n%s", err, log)
	}
	checkNotMailed(t, pass, OutcomeUnfinished, "no reply within 300ms", "the next pass")
	w.cfg.SMTP.Timeout.Duration = time.Minute // the server answers; a loaded machine may be slow
	if o := w.recovers(t, "with the server answering"); o.reports != 1 {
		t.Errorf("after the silence: %v", o)
	}
}

// TestSMTPSilentAfterMessage: the server takes the whole report and never
// answers its final dot. It may have arrived, so it is not sent again: the
// pass fails within [smtp] timeout saying what to do, and so does every
// pass until a human says it did not arrive; then the next pass sends it.
func TestSMTPSilentAfterMessage(t *testing.T) {
	w := newCrashWorld(t)
	w.deliver(t, 0)
	w.cfg.SMTP.Timeout.Duration = 300 * time.Millisecond
	w.smtp.StallNext("data", 1)
	pass, log, err := w.logged(t, quickRetry)
	a := w.mailAction(t)
	done := fmt.Sprintf("rtbot action --config %s --done %d", w.cfg.Path, a.ID)
	if err == nil {
		t.Fatalf("the pass succeeded without an answer to its report\n%s", log)
	}
	mustContain(t, "pass error", err.Error(), "no reply within 300ms", "may have arrived", done, fmt.Sprintf("--retry %d", a.ID))
	checkNotMailed(t, pass, OutcomeUnfinished, "may have arrived", done)
	if a.State != state.ActionIntended || !a.Committing || a.Attempts != 1 {
		t.Fatalf("mail action %+v; want left committing after one attempt", a)
	}
	if _, _, err := w.logged(t, quickRetry); err == nil || !strings.Contains(err.Error(), done) {
		t.Fatalf("the next pass: %v; want it to wait for a human", err)
	}
	if err := w.store.RetryAction(context.Background(), a.ID); err != nil {
		t.Fatal(err)
	}
	if o := w.recovers(t, "after rtbot action --retry"); o.reports != 1 {
		t.Errorf("after the retry: %v", o)
	}
}
