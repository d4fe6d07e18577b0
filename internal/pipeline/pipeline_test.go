package pipeline

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-message/mail"
	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/rtbot/rtbot/internal/config"
	"github.com/rtbot/rtbot/internal/fixtures"
	"github.com/rtbot/rtbot/internal/state"
)

// mailbox is where a test delivers list mail for the pipeline to find.
type mailbox interface {
	Deliver(msg []byte) error
}

// world is a configured rtbot with a demo repository, a stable-rc tree, a
// push target and an SMTP server, reading mail from an IMAP server.
type world struct {
	dir      string
	demo     *fixtures.Demo
	smtp     *fixtures.SMTPServer
	cfg      *config.Config
	store    *state.Store
	kcidbDir string
}

// imapSection is the [imap] table for a server.
type imapSection struct {
	addr, user, password, mailbox string
}

const worldConfig = `
[bot]
name = "rtbot test"
email = "rtbot@test.invalid"
state = "state.db"

[imap]
addr = %[1]q
tls = "plain"
username = %[2]q
password_file = "imap.password"
mailbox = %[3]q
mark_processed = "$rtbot-done"

[smtp]
addr = %[4]q
tls = "plain"

[[tree]]
name = "6.1-rt"
series = "6.1"
repo = "linux.git"
candidate_url = "./linux-stable-rc.git"
announce_url = "git://git.kernel.org/pub/scm/linux/kernel/git/stable/linux-stable-rc.git"
queue = "patches-rt"
queue_base = "v6.1.11"
maintainers = ["RT Maintainer <rt@test.invalid>"]
senders = ["gregkh@linuxfoundation.org"]
push_remote = "./published.git"
public_url = "https://git.example.org/rt/linux-stable-rt.git"
push_partial = true
triggers = ["kernelci"]

[[trigger]]
name = "kernelci"
type = "kcidb"
dir = "kcidb"
`

func newWorld(t *testing.T, imap imapSection) *world {
	t.Helper()
	dir := t.TempDir()
	d, err := fixtures.BuildDemo(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := git.PlainInit(filepath.Join(dir, "published.git"), true); err != nil {
		t.Fatal(err)
	}
	smtp, err := fixtures.StartSMTP(fixtures.SMTPOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { smtp.Close() })
	// Every report any test makes is fit for the list.
	t.Cleanup(func() { checkListMails(t, smtp, dir) })
	if err := os.WriteFile(filepath.Join(dir, "imap.password"), []byte(imap.password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "rtbot.toml")
	if err := os.WriteFile(path, fmt.Appendf(nil, worldConfig, imap.addr, imap.user, imap.mailbox, smtp.Addr), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path, ConfigRules())
	if err != nil {
		t.Fatal(err)
	}
	st, err := state.Open(context.Background(), cfg.Bot.State)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return &world{dir: dir, demo: d, smtp: smtp, cfg: cfg, store: st, kcidbDir: filepath.Join(dir, "kcidb")}
}

func (w *world) pass(t *testing.T, opts Options) *Pass {
	t.Helper()
	pass, err := New(w.cfg, w.store, opts).Once(context.Background())
	if err != nil {
		t.Fatalf("pass: %v", err)
	}
	return pass
}

// refs returns every ref of the bare repository at path.
func refs(t *testing.T, path string) map[string]string {
	t.Helper()
	r, err := git.PlainOpen(path)
	if err != nil {
		t.Fatal(err)
	}
	it, err := r.References()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	it.ForEach(func(ref *plumbing.Reference) error {
		out[ref.Name().String()] = ref.Hash().String() + ref.Target().String()
		return nil
	})
	return out
}

// snapshot is everything a pass could change.
type snapshot struct {
	repoRefs, pushedRefs map[string]string
	mails                int
	runs                 []state.Run
	anns                 []state.Announcement
	status               state.Status
}

func (w *world) snapshot(t *testing.T) snapshot {
	t.Helper()
	ctx := context.Background()
	runs, err := w.store.Runs(ctx, state.RunFilter{})
	if err != nil {
		t.Fatal(err)
	}
	anns, err := w.store.Announcements(ctx, state.AnnouncementFilter{})
	if err != nil {
		t.Fatal(err)
	}
	st, err := w.store.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	st.Checkpoints = nil // its UpdatedAt moves on every scan, by design
	for i := range st.SourceCheckpoints {
		st.SourceCheckpoints[i].UpdatedAt = time.Time{} // so does a source's; its position must not
	}
	return snapshot{refs(t, w.demo.Repo), refs(t, filepath.Join(w.dir, "published.git")), len(w.smtp.Messages()), runs, anns, st}
}

// rcMail turns the real 6.1.12-rc1 announcement into the one for rc.
func rcMail(rc int, id string) []byte {
	m := bytes.ReplaceAll(fixtures.DemoMail, []byte("6.1.12-rc1"), fmt.Appendf(nil, "6.1.12-rc%d", rc))
	return regexp.MustCompile(`(?m)^Message-Id: <[^>]*>`).ReplaceAll(m, []byte("Message-Id: <"+id+">"))
}

// forge makes a copy of the announcement from another sender.
func forge(msg []byte, from, id string) []byte {
	m := regexp.MustCompile(`(?m)^From:[^\n]*$`).ReplaceAll(msg, []byte("From: "+from))
	return regexp.MustCompile(`(?m)^Message-Id: <[^>]*>`).ReplaceAll(m, []byte("Message-Id: <"+id+">"))
}

// publishRC2 moves the stable-rc branch to a 6.1.12-rc2 that dropped the
// two stable changes the RT queue trips over, so the queue applies cleanly.
func (w *world) publishRC2(t *testing.T) plumbing.Hash {
	t.Helper()
	return w.commitStable(t, "refs/heads/linux-6.1.y", "refs/heads/linux-6.1.y~1", "Linux 6.1.12-rc2\n",
		func(r *fixtures.Repo, tree fixtures.Tree) {
			base, err := r.Repo.ResolveRevision("refs/heads/linux-6.1.y~1")
			if err != nil {
				t.Fatal(err)
			}
			old, err := r.Snapshot(*base)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range []string{"drivers/tty/serial/8250/8250_port.c", "include/linux/preempt.h"} {
				tree[p] = old[p]
			}
			tree["Makefile"] = fixtures.File{Content: strings.Replace(tree["Makefile"].Content, "EXTRAVERSION = -rc1", "EXTRAVERSION = -rc2", 1)}
		})
}

// commitStable commits, in the stable-rc repository, the tree of revision
// from as change edits it, with parent revision parent and message msg,
// and moves the branch linux-6.1.y to it.
func (w *world) commitStable(t *testing.T, from, parent, msg string, change func(*fixtures.Repo, fixtures.Tree)) plumbing.Hash {
	t.Helper()
	r, err := fixtures.Open(w.demo.StableRC)
	if err != nil {
		t.Fatal(err)
	}
	revs := make([]plumbing.Hash, 2)
	for i, rev := range []string{from, parent} {
		h, err := r.Repo.ResolveRevision(plumbing.Revision(rev))
		if err != nil {
			t.Fatal(err)
		}
		revs[i] = *h
	}
	tree, err := r.Snapshot(revs[0])
	if err != nil {
		t.Fatal(err)
	}
	change(r, tree)
	h, err := r.Commit(tree, msg, revs[1])
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Branch("linux-6.1.y", h); err != nil {
		t.Fatal(err)
	}
	return h
}

// runTwiceThenNew is the integration scenario: two passes over the
// same mailbox (the second sends nothing and changes nothing), then a new
// announcement that only the third pass processes. A forged copy of the
// announcement is ignored and recorded.
func runTwiceThenNew(t *testing.T, w *world, box mailbox) {
	const realID = "20230213144742.219399167@linuxfoundation.org"
	for _, m := range [][]byte{
		fixtures.DemoMail,
		forge(fixtures.DemoMail, "Greg KH <gregkh@linuxfoundation.org.evil.example>", "forged.1@evil.example"),
	} {
		if err := box.Deliver(m); err != nil {
			t.Fatal(err)
		}
	}
	firstPassReports(t, w, realID)
	secondPassDoesNothing(t, w)
	thirdPassRunsOnlyNew(t, w, box)
}

// firstPassReports is pass 1: the real announcement runs, its report is
// mailed and its partial branch pushed; the forged one is recorded
// ignored.
func firstPassReports(t *testing.T, w *world, realID string) {
	t.Helper()
	ctx := context.Background()
	p1 := w.pass(t, Options{})
	if len(p1.New) != 2 || len(p1.Runs) != 1 {
		t.Fatalf("pass 1: %d new, %d runs; want 2 and 1: %+v", len(p1.New), len(p1.Runs), p1)
	}
	forged, err := w.store.Announcement(ctx, "forged.1@evil.example")
	if err != nil {
		t.Fatal(err)
	}
	if forged.Status != state.AnnouncementIgnored || !strings.Contains(forged.Reason, "gregkh@linuxfoundation.org.evil.example") ||
		!strings.Contains(forged.Reason, "not one of its senders") {
		t.Errorf("forged announcement recorded as %s: %q; want ignored naming the sender", forged.Status, forged.Reason)
	}
	if runs, _ := w.store.Runs(ctx, state.RunFilter{Announcement: "forged.1@evil.example"}); len(runs) != 0 {
		t.Errorf("the forged announcement got %d runs", len(runs))
	}
	r := p1.Runs[0]
	if r.Outcome != state.OutcomeManual || r.Announcement != realID || r.Branch != "rtbot/6.1-rt/6.1.12-rc1-partial" || r.Pushed != r.Branch {
		t.Fatalf("pass 1 run = %+v; want manual, partial branch pushed", r)
	}
	msgs := w.smtp.Messages()
	if len(msgs) != 1 {
		t.Fatalf("pass 1 sent %d mails, want 1", len(msgs))
	}
	checkReportMail(t, msgs[0], realID, r.Mail)
	pushed := refs(t, filepath.Join(w.dir, "published.git"))
	if got := pushed["refs/heads/rtbot/6.1-rt/6.1.12-rc1-partial"]; !strings.HasPrefix(got, r.Result) || r.Result == "" {
		t.Errorf("published partial branch at %q, want %s", got, r.Result)
	}
	d, err := w.store.Run(ctx, r.RunID)
	if err != nil {
		t.Fatal(err)
	}
	statuses := map[string]int{}
	for _, p := range d.Patches {
		statuses[p.Status]++
	}
	if len(d.Patches) != 5 || statuses["conflict"] != 1 || statuses["already-applied"] != 1 {
		t.Errorf("recorded patch results %v, want 5 with one conflict and one already-applied", statuses)
	}
}

// secondPassDoesNothing is pass 2 on the same mailbox: nothing new,
// nothing sent, nothing moved.
func secondPassDoesNothing(t *testing.T, w *world) {
	t.Helper()
	before := w.snapshot(t)
	p2 := w.pass(t, Options{})
	if len(p2.New) != 0 || len(p2.Runs) != 0 || p2.Pending != 0 {
		t.Errorf("pass 2 did %+v; want nothing", p2)
	}
	after := w.snapshot(t)
	if fmt.Sprint(before) != fmt.Sprint(after) {
		t.Errorf("pass 2 changed something:\nbefore %+v\nafter  %+v", before, after)
	}
}

// thirdPassRunsOnlyNew delivers a new announcement, rc2, on which the
// queue applies cleanly, and checks that pass 3 processes only it: a
// clean run, pushed and tested, no mail.
func thirdPassRunsOnlyNew(t *testing.T, w *world, box mailbox) {
	t.Helper()
	rc2 := w.publishRC2(t)
	if err := box.Deliver(rcMail(2, "rc2.cover@linuxfoundation.org")); err != nil {
		t.Fatal(err)
	}
	p3 := w.pass(t, Options{})
	if len(p3.New) != 1 || p3.New[0].MessageID != "rc2.cover@linuxfoundation.org" || len(p3.Runs) != 1 {
		t.Fatalf("pass 3: %+v; want exactly the rc2 announcement and its run", p3)
	}
	r3 := p3.Runs[0]
	if r3.Outcome != state.OutcomeClean || r3.Commit != rc2.String() || r3.Pushed != "rtbot/6.1-rt/6.1.12-rc2" ||
		!slices.Equal(r3.Triggers, []string{"kernelci"}) || r3.Mail != "" {
		t.Fatalf("pass 3 run = %+v; want clean on %s, pushed, kernelci fired, no mail", r3, rc2)
	}
	if n := len(w.smtp.Messages()); n != 1 {
		t.Errorf("pass 3 sent %d more mails, want none", n-1)
	}
	name, c := kcidbCheckout(t, w)
	if name != "rtbot-6.1-rt-6.1.12-rc2-"+r3.Result[:12]+".json" || c["message_id"] != "rc2.cover@linuxfoundation.org" ||
		!strings.HasPrefix(fmt.Sprint(c["git_commit_name"]), "v6.1.12-rc2-") {
		t.Errorf("KCIDB document %s: message_id %v, git_commit_name %v; want the rc2 cover's id and a name after 6.1.12-rc2",
			name, c["message_id"], c["git_commit_name"])
	}
	if got := refs(t, filepath.Join(w.dir, "published.git"))["refs/heads/rtbot/6.1-rt/6.1.12-rc2"]; !strings.HasPrefix(got, r3.Result) {
		t.Errorf("published rc2 branch at %q, want %s", got, r3.Result)
	}
	st, err := w.store.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Pending) != 0 || st.Announcements[state.AnnouncementDone] != 2 || st.Announcements[state.AnnouncementIgnored] < 1 {
		t.Errorf("status %+v; want no pending actions, 2 done, the forged one ignored", st)
	}
}

// checkReportMail checks the report threads under the announcement and
// goes to the maintainers only.
func checkReportMail(t *testing.T, m fixtures.ReceivedMail, annID, reportID string) {
	t.Helper()
	if !slices.Equal(m.To, []string{"rt@test.invalid"}) {
		t.Errorf("report envelope to %v, want the maintainer only", m.To)
	}
	mr, err := mail.CreateReader(bytes.NewReader(m.Data))
	if err != nil {
		t.Fatal(err)
	}
	h := mr.Header
	irt, _ := h.MsgIDList("In-Reply-To")
	refs, _ := h.MsgIDList("References")
	id, _ := h.MessageID()
	subject, _ := h.Subject()
	if !slices.Equal(irt, []string{annID}) || !slices.Contains(refs, annID) || id != reportID || reportID == "" {
		t.Errorf("report In-Reply-To %v References %v Message-ID %q; want threaded under %s with id %s", irt, refs, id, annID, reportID)
	}
	if !strings.Contains(subject, "6.1.12-rc1") || !strings.Contains(subject, "need attention") {
		t.Errorf("report subject %q", subject)
	}
	p, err := mr.NextPart()
	if err != nil {
		t.Fatal(err)
	}
	var body bytes.Buffer
	body.ReadFrom(p.Body)
	for _, want := range []string{"0003-serial-8250-irq-safe-locking.patch", "conflict", "rtbot/6.1-rt/6.1.12-rc1-partial"} {
		if !strings.Contains(body.String(), want) {
			t.Errorf("report body lacks %q:\n%s", want, body.String())
		}
	}
}

func TestRunTwiceThenNewInProcess(t *testing.T) {
	srv, err := fixtures.StartIMAP("rtbot", "pw pw", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	w := newWorld(t, imapSection{addr: srv.Addr, user: srv.User, password: srv.Password, mailbox: "INBOX"})
	runTwiceThenNew(t, w, srv)
}

// dovecotBox is a fresh mailbox on the Dovecot that scripts/test.sh starts
// (scripts/dovecot/start.sh); it delivers with APPEND.
type dovecotBox struct {
	c       *imapclient.Client
	mailbox string
}

func (b dovecotBox) Deliver(msg []byte) error {
	msg = bytes.ReplaceAll(bytes.ReplaceAll(msg, []byte("\r\n"), []byte("\n")), []byte("\n"), []byte("\r\n"))
	cmd := b.c.Append(b.mailbox, int64(len(msg)), nil)
	if _, err := cmd.Write(msg); err != nil {
		return err
	}
	if err := cmd.Close(); err != nil {
		return err
	}
	_, err := cmd.Wait()
	return err
}

func TestRunTwiceThenNewDovecot(t *testing.T) {
	addr := os.Getenv("RTBOT_DOVECOT_ADDR")
	if addr == "" {
		t.Skip("RTBOT_DOVECOT_ADDR is not set: scripts/test.sh starts a Dovecot (scripts/dovecot/start.sh) for this test")
	}
	user := os.Getenv("RTBOT_DOVECOT_USER")
	pwb, err := os.ReadFile(os.Getenv("RTBOT_DOVECOT_PASSWORD_FILE"))
	if err != nil || user == "" {
		t.Fatalf("RTBOT_DOVECOT_USER %q, RTBOT_DOVECOT_PASSWORD_FILE: %v", user, err)
	}
	pw := strings.TrimSpace(string(pwb))
	c, err := imapclient.DialInsecure(addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login(user, pw).Wait(); err != nil {
		t.Fatal(err)
	}
	box := dovecotBox{c: c, mailbox: fmt.Sprintf("rtbot-run-%d", os.Getpid())}
	c.Delete(box.mailbox).Wait()
	if err := c.Create(box.mailbox, nil).Wait(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Delete(box.mailbox).Wait() })
	// Ordinary list traffic around the announcements.
	for _, m := range fixtures.ListMails(200) {
		if m.Announcement {
			continue
		}
		if err := box.Deliver(m.Raw); err != nil {
			t.Fatal(err)
		}
	}
	w := newWorld(t, imapSection{addr: addr, user: user, password: pw, mailbox: box.mailbox})
	runTwiceThenNew(t, w, box)
}
