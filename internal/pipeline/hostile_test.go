package pipeline

import (
	"bytes"
	"context"
	"fmt"
	"net/mail"
	"regexp"
	"strings"
	"testing"

	"github.com/rtbot/rtbot/internal/fixtures"
	"github.com/rtbot/rtbot/internal/state"
)

// withHeader replaces header name of msg (its first occurrence, with any
// continuation lines) by value, or adds it.
func withHeader(msg []byte, name, value string) []byte {
	re := regexp.MustCompile(`(?mi)^` + name + `:[^\n]*\n([ \t][^\n]*\n)*`)
	if re.Match(msg) {
		return re.ReplaceAllLiteral(msg, []byte(name+": "+value+"\n"))
	}
	return append([]byte(name+": "+value+"\n"), msg...)
}

// withBody replaces the body of msg.
func withBody(msg []byte, body string) []byte {
	i := bytes.Index(msg, []byte("\n\n"))
	return append(append([]byte{}, msg[:i+2]...), body...)
}

// mimeBomb is an announcement (right sender, right subject) whose text is
// nested depth multiparts deep.
func mimeBomb(depth int) []byte {
	m := withHeader(fixtures.DemoMail, "Message-Id", "<bomb@linuxfoundation.org>")
	var b strings.Builder
	for i := 0; i < depth; i++ {
		fmt.Fprintf(&b, "--b%d\nContent-Type: multipart/mixed; boundary=b%d\n\n", i, i+1)
	}
	b.WriteString("--b" + fmt.Sprint(depth) + "\nContent-Type: text/plain\n\nhi\n")
	for i := depth; i >= 0; i-- {
		fmt.Fprintf(&b, "--b%d--\n", i)
	}
	m = withHeader(m, "Content-Type", "multipart/mixed; boundary=b0")
	m = withHeader(m, "Content-Transfer-Encoding", "7bit")
	return withBody(m, b.String())
}

// hostileMail is a mail that tries rtbot's limits or its trust, with the
// Message-ID it is recorded under ("" for one recorded as unparsed) and
// what the recorded reason says.
type hostileMail struct {
	name, id string
	msg      []byte
	reason   string // in the recorded reason
}

// hostileMails are the mails TestHostileMail delivers beside the real
// announcement.
func hostileMails() []hostileMail {
	big := withHeader(fixtures.DemoMail, "Message-Id", "<big@linuxfoundation.org>")
	big = append(big, bytes.Repeat([]byte("padding padding padding padding\n"), 20000)...)
	return []hostileMail{
		{"oversized", "", big, "over the limit of 262144"},
		{"MIME bomb", "bomb@linuxfoundation.org", mimeBomb(40), "repeats the announcement"},
		{"forged sender", forgedID, forge(fixtures.DemoMail, "Greg KH <gregkh@linuxfoundation.org.evil.example>", forgedID), "not one of its senders"},
		{"forged tree", "tree@linuxfoundation.org", withHeader(withHeader(fixtures.DemoMail, "Message-Id", "<tree@linuxfoundation.org>"),
			"X-KernelTest-Tree", "git://evil.example/linux-stable-rc.git"), "not the configured candidate"},
		{"branch escaping refs", "ref@linuxfoundation.org", withHeader(withHeader(fixtures.DemoMail, "Message-Id", "<ref@linuxfoundation.org>"),
			"X-KernelTest-Branch", "../../refs/heads/master"), "invalid git branch"},
		{"version escaping refs", "ver@linuxfoundation.org", withHeader(withHeader(fixtures.DemoMail, "Message-Id", "<ver@linuxfoundation.org>"),
			"Subject", "[PATCH 6.1 000/114] 6.1.12-rc1/../../x review"), "not a stable review cycle"},
		{"unknown charset", "charset@linuxfoundation.org", withHeader(withHeader(fixtures.DemoMail, "Message-Id", "<charset@linuxfoundation.org>"),
			"Content-Type", "text/plain; charset=x-no-such-charset"), "repeats the announcement"},
		{"broken base64", "b64@linuxfoundation.org", withBody(withHeader(withHeader(fixtures.DemoMail, "Message-Id", "<b64@linuxfoundation.org>"),
			"Content-Transfer-Encoding", "base64"), "!!!! not base64 ####\n"), "repeats the announcement"},
		{"header injection in the subject", "inject@linuxfoundation.org", withHeader(withHeader(fixtures.DemoMail, "Message-Id", "<inject@linuxfoundation.org>"),
			"Subject", "=?UTF-8?Q?[PATCH_6.1_000/114]_6.1.12-rc1_review=0D=0ABcc:_victim@evil.example?="), "not a stable review cycle"},
	}
}

// TestHostileMail delivers, beside the real announcement, mails that try
// rtbot's limits and its trust: each is recorded ignored with its reason,
// none starts a run, and the real one is processed as usual. The report
// rtbot writes carries nothing from a hostile mail into its headers.
func TestHostileMail(t *testing.T) {
	w := newCrashWorld(t)
	w.cfg.Limits.MailBytes = 256 << 10
	hostile := hostileMails()
	// The real announcement first: a later copy, however it is made, is
	// a repeat.
	if err := w.imap.Deliver(fixtures.DemoMail); err != nil {
		t.Fatal(err)
	}
	for _, h := range hostile {
		if err := w.imap.Deliver(h.msg); err != nil {
			t.Fatal(err)
		}
	}
	pass, log, err := w.logged(t, quickRetry)
	if err != nil {
		t.Fatalf("pass: %v\n%s", err, log)
	}
	anns, err := w.store.Announcements(context.Background(), state.AnnouncementFilter{})
	if err != nil {
		t.Fatal(err)
	}
	checkHostileIgnored(t, hostile, anns)
	if len(pass.Runs) != 1 || pass.Runs[0].Announcement != crashRC1 {
		t.Fatalf("runs %+v; want only the real announcement's", pass.Runs)
	}
	checkReportHeaders(t, w.smtp.Messages())
	w.check(t)
}

// checkHostileIgnored checks that every hostile mail is recorded, among
// anns, as ignored with its reason, and that nothing else is ignored.
func checkHostileIgnored(t *testing.T, hostile []hostileMail, anns []state.Announcement) {
	t.Helper()
	byID := map[string]state.Announcement{}
	for _, a := range anns {
		byID[a.MessageID] = a
	}
	ignored := 0
	for _, a := range anns {
		if a.Status == state.AnnouncementIgnored {
			ignored++
		}
	}
	for _, h := range hostile {
		if h.id == "" {
			continue
		}
		a, ok := byID[h.id]
		switch {
		case !ok:
			t.Errorf("%s: not recorded", h.name)
		case a.Status != state.AnnouncementIgnored || a.Reason == "":
			t.Errorf("%s: recorded %s (%q), want ignored with a reason", h.name, a.Status, a.Reason)
		case !strings.Contains(a.Reason, h.reason):
			t.Errorf("%s: reason %q lacks %q", h.name, a.Reason, h.reason)
		}
		if strings.ContainsAny(a.Subject, "\r\n") {
			t.Errorf("%s: recorded subject %q holds a line break", h.name, a.Subject)
		}
	}
	for _, h := range hostile {
		if h.id != "" {
			continue
		}
		found := false
		for _, a := range anns {
			if strings.HasPrefix(a.MessageID, "unparsed.") && a.Status == state.AnnouncementIgnored && strings.Contains(a.Reason, h.reason) {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: no ignored record with a reason containing %q: %+v", h.name, h.reason, anns)
		}
	}
	if ignored != len(hostile) {
		t.Errorf("%d ignored, want %d: %+v", ignored, len(hostile), anns)
	}
}

// checkReportHeaders checks that the one mail sent is the report, to the
// maintainers, threaded under the real announcement, with only the
// headers rtbot writes.
func checkReportHeaders(t *testing.T, msgs []fixtures.ReceivedMail) {
	t.Helper()
	if len(msgs) != 1 {
		t.Fatalf("%d mails sent, want the one report", len(msgs))
	}
	m, err := mail.ReadMessage(bytes.NewReader(msgs[0].Data))
	if err != nil {
		t.Fatal(err)
	}
	for k := range m.Header {
		switch k {
		case "From", "To", "Subject", "Date", "Message-Id", "In-Reply-To", "References", "Mime-Version",
			"Content-Type", "Content-Transfer-Encoding", "X-Rtbot-Tree", "X-Rtbot-Candidate", "Auto-Submitted":
		default:
			t.Errorf("report header %s: %q", k, m.Header[k])
		}
	}
	if got := m.Header.Get("In-Reply-To"); got != "<"+crashRC1+">" {
		t.Errorf("In-Reply-To %q", got)
	}
	if to := msgs[0].To; len(to) != 1 || to[0] != "rt@test.invalid" {
		t.Errorf("report went to %v", to)
	}
}

// TestUnusableMessageID: a cover from the right sender whose Message-ID
// could never be written into the report's In-Reply-To is recorded
// ignored, saying why, instead of starting a run whose report no pass
// could ever send. The genuine cover that follows is run and reported
// once.
func TestUnusableMessageID(t *testing.T) {
	w := newCrashWorld(t)
	if err := w.imap.Deliver(withHeader(fixtures.DemoMail, "Message-Id", `<a"b(c)@linuxfoundation.org>`)); err != nil {
		t.Fatal(err)
	}
	pass, log, err := w.logged(t, quickRetry)
	if err != nil {
		t.Fatalf("pass: %v\n%s", err, log)
	}
	if len(pass.Runs) != 0 || len(pass.New) != 1 || pass.New[0].Status != state.AnnouncementIgnored ||
		!strings.Contains(pass.New[0].Reason, `Message-ID "a\"b(c)@linuxfoundation.org"`) {
		t.Fatalf("runs %+v, new %+v; want the mail ignored for its Message-ID and no run", pass.Runs, pass.New)
	}
	if err := w.imap.Deliver(fixtures.DemoMail); err != nil {
		t.Fatal(err)
	}
	if o := w.recovers(t, "with the genuine cover"); o.reports != 1 || o.runs[crashRC1] != state.OutcomeManual {
		t.Errorf("after the genuine cover: %v", o)
	}
}

// TestRecordedUnusableMessageID: an announcement an older rtbot recorded
// with a Message-ID no mail header can carry is still reported, without
// the threading, rather than never.
func TestRecordedUnusableMessageID(t *testing.T) {
	w := newCrashWorld(t)
	const bad = `a"b(c)@linuxfoundation.org`
	if _, _, err := w.store.RecordAnnouncement(context.Background(), state.Announcement{
		MessageID: bad, Kind: "stable-rc", Series: "6.1", Version: "6.1.12", RC: 1, From: "gregkh@linuxfoundation.org",
		GitURL: "git://git.kernel.org/pub/scm/linux/kernel/git/stable/linux-stable-rc.git", GitBranch: "linux-6.1.y",
		Subject: "[PATCH 6.1 000/114] 6.1.12-rc1 review", Status: state.AnnouncementNew,
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := New(w.cfg, w.store, Options{Retry: quickRetry}).ProcessPending(context.Background()); err != nil {
		t.Fatalf("pass: %v", err)
	}
	msgs := w.smtp.Messages()
	if len(msgs) != 1 || bytes.Contains(msgs[0].Data, []byte("In-Reply-To")) {
		t.Fatalf("%d mails; want one report, not threaded: %s", len(msgs), msgs)
	}
}
