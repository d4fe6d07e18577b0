package mailwatch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/rtbot/rtbot/internal/netsec"
)

// imapSuiteEnv is a server the shared scan tests run against: go-imap's
// in-process server, or a real Dovecot.
type imapSuiteEnv struct {
	Addr     string // plain IMAP on loopback
	User     string
	Password string
	Generate int // how many generated list mails to load besides the fixtures
}

// imapSuiteSeq makes mailbox names unique within a test process.
type imapSuiteSeq struct{ n atomic.Int64 }

// fresh creates an empty mailbox for one test and deletes it afterwards.
func (env imapSuiteEnv) fresh(t *testing.T, a *imapAdmin, seq *imapSuiteSeq) string {
	t.Helper()
	name := fmt.Sprintf("rtbot-test-%d-%d", time.Now().UnixNano()%1e9, seq.n.Add(1))
	a.Create(name)
	t.Cleanup(func() { a.c.Unselect().Wait(); a.c.Delete(name).Wait() })
	return name
}

func (env imapSuiteEnv) cfg(addr, mailbox string) IMAPConfig {
	return IMAPConfig{Addr: addr, TLS: netsec.Plain, Username: env.User, Password: env.Password, Mailbox: mailbox, DialTimeout: 10 * time.Second}
}

func imapDial(t *testing.T, cfg IMAPConfig) *Scanner {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s, err := Dial(ctx, cfg)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func imapScan(t *testing.T, s *Scanner, cp Checkpoint) ScanResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := s.Scan(ctx, cp)
	if err != nil {
		t.Fatalf("Scan(%+v): %v", cp, err)
	}
	return res
}

func candidateUIDs(cands []Candidate) []uint32 {
	out := make([]uint32, len(cands))
	for i, c := range cands {
		out[i] = c.UID
	}
	return out
}

func wantUIDs(mails []imapTestMail, uids []uint32) []uint32 {
	var out []uint32
	for i, m := range mails {
		if m.Want {
			out = append(out, uids[i])
		}
	}
	slices.Sort(out)
	return out
}

func assertCommands(t *testing.T, st *imapWireStats, want ...string) {
	t.Helper()
	if got := st.Commands(); !slices.Equal(got, want) {
		t.Errorf("commands sent = %q, want %q\nlines:\n%s", got, want, strings.Join(st.Lines(), "\n"))
	}
}

func assertNoneSeen(t *testing.T, a *imapAdmin, mailbox string) {
	t.Helper()
	flags := a.Flags(mailbox)
	if len(flags) == 0 {
		t.Fatalf("no messages in %s to check flags of", mailbox)
	}
	for uid, fl := range flags {
		if slices.Contains(fl, imap.FlagSeen) {
			t.Errorf("uid %d was marked \\Seen: %v", uid, fl)
		}
	}
}

// imapSuite is what the shared scan tests share: the server, a second
// client that loads mailboxes behind the scanner's back, and the real
// list mails.
type imapSuite struct {
	env      imapSuiteEnv
	admin    *imapAdmin
	fixtures []imapTestMail
	seq      imapSuiteSeq
}

// runIMAPScanSuite runs the scanner's behavioural tests against env.
func runIMAPScanSuite(t *testing.T, env imapSuiteEnv) {
	su := &imapSuite{env: env, fixtures: imapFixtureMails(t), admin: dialIMAPAdmin(t, env.Addr, env.User, env.Password)}
	for _, tc := range []struct {
		name string
		run  func(*testing.T, *imapSuite)
	}{
		{"ScanFirstIdleAppend", scanFirstIdleAppend},
		{"ScanExpungedTailNotRepeated", scanExpungedTailNotRepeated},
		{"ScanUIDValidityChangeRescans", scanUIDValidityChangeRescans},
		{"ScanFetchIsBounded", scanFetchIsBounded},
		{"ScanWaitIdleWakesOnAppend", scanWaitIdleWakesOnAppend},
		{"ScanWaitPollsWithoutIdle", scanWaitPollsWithoutIdle},
		{"ScanMarkProcessed", scanMarkProcessed},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, su) })
	}
}

// mailbox returns the admin connection reporting to t and a fresh mailbox
// for t alone.
func (su *imapSuite) mailbox(t *testing.T) (*imapAdmin, string) {
	t.Helper()
	a := su.admin.with(t)
	return a, su.env.fresh(t, a, &su.seq)
}

// loadedMailbox is a mailbox loaded with mails, and what a scan of it
// must find.
type loadedMailbox struct {
	name  string
	mails []imapTestMail
	uids  []uint32 // of mails, in order
	want  []uint32 // the announcement-looking ones, sorted
	uv    uint32
}

// byUID returns the loaded mails by UID.
func (m loadedMailbox) byUID() map[uint32]imapTestMail {
	out := map[uint32]imapTestMail{}
	for i, mail := range m.mails {
		out[m.uids[i]] = mail
	}
	return out
}

// scanFirstIdleAppend: a first scan fetches the announcement-looking mails
// whole and nothing else, an idle scan costs one EXAMINE, and new mail is
// searched and fetched alone.
func scanFirstIdleAppend(t *testing.T, su *imapSuite) {
	a, mbox := su.mailbox(t)
	mails := imapInterleave(imapListMails(su.env.Generate), su.fixtures)
	uids := a.Append(mbox, mails...)
	m := loadedMailbox{name: mbox, mails: mails, uids: uids, want: wantUIDs(mails, uids), uv: a.UIDValidity(mbox)}
	if len(m.want) < 10 {
		t.Fatalf("only %d announcement-looking mails loaded", len(m.want))
	}

	p := startIMAPProxy(t, su.env.Addr)
	s := imapDial(t, su.env.cfg(p.Addr, mbox))
	p.Stats.Reset()
	res := checkFirstScan(t, s, p, m)
	assertNoneSeen(t, a, mbox)

	// Idle scan: one EXAMINE, no search, checkpoint unchanged.
	p.Stats.Reset()
	res2 := imapScan(t, s, res.Next)
	if len(res2.Candidates) != 0 || res2.Next != res.Next || res2.Rescanned {
		t.Errorf("idle scan = %d candidates, Next %+v, Rescanned %v; want none, %+v, false", len(res2.Candidates), res2.Next, res2.Rescanned, res.Next)
	}
	assertCommands(t, &p.Stats, "EXAMINE")

	checkScanAfterAppend(t, a, s, p, m, res2.Next)
	assertNoneSeen(t, a, mbox)
}

// checkFirstScan scans m from nothing through p: exactly the
// announcement-looking mails, whole, in bounded PEEK fetches, and no other
// mail's body on the wire.
func checkFirstScan(t *testing.T, s *Scanner, p *imapProxy, m loadedMailbox) ScanResult {
	t.Helper()
	res := imapScan(t, s, Checkpoint{})
	if got := candidateUIDs(res.Candidates); !slices.Equal(got, m.want) {
		t.Fatalf("first scan UIDs = %v, want %v", got, m.want)
	}
	if res.Rescanned || res.More {
		t.Errorf("first scan: Rescanned=%v More=%v, want both false", res.Rescanned, res.More)
	}
	if wantNext := (Checkpoint{UIDValidity: m.uv, LastUID: slices.Max(m.uids)}); res.Next != wantNext {
		t.Errorf("Next = %+v, want %+v", res.Next, wantNext)
	}
	byUID := m.byUID()
	var wantBytes int64
	for _, c := range res.Candidates {
		mail := byUID[c.UID]
		if !bytes.Equal(c.Raw, mail.Raw) {
			t.Errorf("uid %d (%s): Raw differs from the stored mail (%d vs %d bytes)", c.UID, mail.Name, len(c.Raw), len(mail.Raw))
		}
		if c.Truncated {
			t.Errorf("uid %d (%s): Truncated for a %d-byte mail", c.UID, mail.Name, len(mail.Raw))
		}
		wantBytes += int64(len(mail.Raw))
	}
	if res.FetchedBytes != wantBytes {
		t.Errorf("FetchedBytes = %d, want %d", res.FetchedBytes, wantBytes)
	}
	wantCmds := []string{"EXAMINE", "UID SEARCH"}
	for range (len(m.want) + fetchBatch - 1) / fetchBatch {
		wantCmds = append(wantCmds, "UID FETCH")
	}
	assertCommands(t, &p.Stats, wantCmds...)
	checkBoundedCommands(t, p.Stats.Lines())
	var total int64
	for _, mail := range m.mails {
		total += int64(len(mail.Raw))
	}
	if down := p.Stats.down.Load(); down > wantBytes+32<<10 {
		t.Errorf("server sent %d bytes for %d bytes of candidates (mailbox holds %d): bodies of other mail were downloaded", down, wantBytes, total)
	}
	return res
}

// checkBoundedCommands checks that every FETCH is a bounded PEEK and every
// SEARCH is by UID range and subject.
func checkBoundedCommands(t *testing.T, lines []string) {
	t.Helper()
	for _, l := range lines {
		if strings.Contains(l, "FETCH") && (!strings.Contains(l, "BODY.PEEK[HEADER]<0.65536>") || !strings.Contains(l, "BODY.PEEK[TEXT]<0.65536>") || strings.Contains(l, "BODY[")) {
			t.Errorf("fetch is not a bounded PEEK: %s", l)
		}
		if strings.Contains(l, "SEARCH") && (!strings.Contains(l, "UID 1:* ") || !strings.Contains(l, "SUBJECT")) {
			t.Errorf("search is not by UID range and subject: %s", l)
		}
	}
}

// checkScanAfterAppend appends new mail to m and scans from cp: only the
// new mail is searched and fetched.
func checkScanAfterAppend(t *testing.T, a *imapAdmin, s *Scanner, p *imapProxy, m loadedMailbox, cp Checkpoint) {
	t.Helper()
	newMails := []imapTestMail{
		imapGenMail("new-patch", "[PATCH 6.6 042/150] arm64: fix foo", "cover-6.6.200@rtbot.test", 30, false),
		imapGenMail("new-cover", "[PATCH 6.6 000/150] 6.6.200-rc1 review", "", 30, true),
		imapGenMail("new-reply", "Re: [PATCH 6.6 000/150] 6.6.200-rc1 review", "new-cover@rtbot.test", 5, false),
	}
	newUIDs := a.Append(m.name, newMails...)
	p.Stats.Reset()
	res3 := imapScan(t, s, cp)
	if got := candidateUIDs(res3.Candidates); !slices.Equal(got, []uint32{newUIDs[1]}) {
		t.Errorf("scan after append = %v, want [%d]", got, newUIDs[1])
	}
	if want := (Checkpoint{UIDValidity: m.uv, LastUID: newUIDs[2]}); res3.Next != want {
		t.Errorf("Next after append = %+v, want %+v", res3.Next, want)
	}
	assertCommands(t, &p.Stats, "EXAMINE", "UID SEARCH", "UID FETCH")
	if l := p.Stats.Lines(); len(l) > 1 && !strings.Contains(l[1], fmt.Sprintf("UID %d:*", cp.LastUID+1)) {
		t.Errorf("incremental search does not start after the checkpoint: %s", l[1])
	}
}

// scanExpungedTailNotRepeated: a message that arrives and vanishes between
// scans does not make the last processed one come again.
func scanExpungedTailNotRepeated(t *testing.T, su *imapSuite) {
	a, mbox := su.mailbox(t)
	first := a.Append(mbox, imapGenMail("tail-a", "[ANNOUNCE] 6.1.200-rt80", "", 5, true))
	s := imapDial(t, su.env.cfg(su.env.Addr, mbox))
	res := imapScan(t, s, Checkpoint{})
	if got := candidateUIDs(res.Candidates); !slices.Equal(got, first) {
		t.Fatalf("scan = %v, want %v", got, first)
	}
	// A message arrives and vanishes before the next scan: "UID n:*"
	// then means the highest existing UID, which was already processed.
	gone := a.Append(mbox, imapGenMail("tail-b", "[ANNOUNCE] 6.1.201-rt81", "", 5, true))
	a.Expunge(mbox, gone...)
	res2 := imapScan(t, s, res.Next)
	if len(res2.Candidates) != 0 {
		t.Errorf("scan after expunge returned %v, want nothing (uid %d was processed)", candidateUIDs(res2.Candidates), first[0])
	}
	if res2.Next.LastUID < res.Next.LastUID {
		t.Errorf("checkpoint went backwards: %+v after %+v", res2.Next, res.Next)
	}
}

// scanUIDValidityChangeRescans: a mailbox recreated under the scanner is
// scanned again from the start.
func scanUIDValidityChangeRescans(t *testing.T, su *imapSuite) {
	a, mbox := su.mailbox(t)
	some := []imapTestMail{su.fixtures[0], su.fixtures[len(su.fixtures)-1], imapGenMail("uv-cover", "[PATCH 5.10 000/50] 5.10.300-rc1 review", "", 5, true)}
	a.Append(mbox, some...)
	s := imapDial(t, su.env.cfg(su.env.Addr, mbox))
	res := imapScan(t, s, Checkpoint{})
	before := len(res.Candidates)
	if before == 0 {
		t.Fatal("nothing found before the UIDVALIDITY change")
	}
	oldUV := res.Next.UIDValidity
	recreate(a, mbox, oldUV)
	uids := a.Append(mbox, some...)
	res2 := imapScan(t, s, res.Next)
	if !res2.Rescanned {
		t.Errorf("Rescanned = false after UIDVALIDITY %d -> %d", oldUV, res2.Next.UIDValidity)
	}
	if res2.Next.UIDValidity == oldUV {
		t.Errorf("Next.UIDValidity still %d", oldUV)
	}
	if got, want := candidateUIDs(res2.Candidates), wantUIDs(some, uids); !slices.Equal(got, want) {
		t.Errorf("rescan UIDs = %v, want %v (everything again)", got, want)
	}
	if len(res2.Candidates) != before {
		t.Errorf("rescan found %d, first scan %d", len(res2.Candidates), before)
	}
}

// recreate deletes and creates mbox again, trying for a UIDVALIDITY other
// than oldUV: a server may reuse it within its clock's second.
func recreate(a *imapAdmin, mbox string, oldUV uint32) {
	a.t.Helper()
	for range 3 {
		a.Delete(mbox)
		a.Create(mbox)
		if a.UIDValidity(mbox) != oldUV {
			return
		}
		time.Sleep(1100 * time.Millisecond)
	}
}

// scanFetchIsBounded: a huge header or body is fetched only up to the
// configured bounds, cut at whole lines, and marked Truncated.
func scanFetchIsBounded(t *testing.T, su *imapSuite) {
	a, mbox := su.mailbox(t)
	var junk strings.Builder
	for i := range 300 {
		fmt.Fprintf(&junk, "X-Junk-%d: %s\r\n", i, strings.Repeat("j", 90))
	}
	bigHeader := imapGenMail("big-header", "[ANNOUNCE] 6.1.300-rt90", "", 10, true)
	bigHeader.Raw = bytes.Replace(bigHeader.Raw, []byte("MIME-Version:"), []byte(junk.String()+"MIME-Version:"), 1)
	bigBody := imapGenMail("big-body", "[PATCH 6.1 000/999] 6.1.300-rc1 review", "", 20000, true) // ~1.4 MB
	small := imapGenMail("small", "[PATCH RT 0/3] Linux v6.1.300-rt90-rc1", "", 20, true)
	uids := a.Append(mbox, bigHeader, bigBody, small)

	const hdrMax, txtMax = 4096, 8192
	cfg := su.env.cfg(su.env.Addr, mbox)
	cfg.MaxHeaderBytes, cfg.MaxTextBytes = hdrMax, txtMax
	s := imapDial(t, cfg)
	res := imapScan(t, s, Checkpoint{})
	if got := candidateUIDs(res.Candidates); !slices.Equal(got, uids) {
		t.Fatalf("scan = %v, want %v", got, uids)
	}
	if max := int64(len(uids) * (hdrMax + txtMax)); res.FetchedBytes > max {
		t.Errorf("FetchedBytes = %d, over the bound %d", res.FetchedBytes, max)
	}
	for i, c := range res.Candidates {
		m := []imapTestMail{bigHeader, bigBody, small}[i]
		if len(c.Raw) > hdrMax+txtMax+2 {
			t.Errorf("%s: Raw is %d bytes, over %d", m.Name, len(c.Raw), hdrMax+txtMax+2)
		}
		if c.Size != int64(len(m.Raw)) {
			t.Errorf("%s: Size = %d, want %d", m.Name, c.Size, len(m.Raw))
		}
		wantTrunc := m.Name != "small"
		if c.Truncated != wantTrunc {
			t.Errorf("%s: Truncated = %v, want %v", m.Name, c.Truncated, wantTrunc)
		}
		if !bytes.Contains(c.Raw, []byte("Subject: "+m.Subject+"\r\n")) {
			t.Errorf("%s: Raw lost the Subject", m.Name)
		}
	}
	if hb := res.Candidates[0].Raw; !bytes.HasSuffix(hb, []byte("\r\n\r\n")) || bytes.Contains(hb, []byte("do_something")) {
		t.Errorf("cut header: want whole lines ending the header and no body, got ...%q", hb[max(0, len(hb)-60):])
	}
	if bb := res.Candidates[1].Raw; len(bb) != bytes.Index(bigBody.Raw, []byte("\r\n\r\n"))+4+txtMax {
		t.Errorf("big body: Raw is %d bytes, want header + %d", len(bb), txtMax)
	}
	assertNoneSeen(t, a, mbox)
}

// scanWaitIdleWakesOnAppend: Wait in IDLE gives way to its context and
// wakes when a second client appends.
func scanWaitIdleWakesOnAppend(t *testing.T, su *imapSuite) {
	a, mbox := su.mailbox(t)
	a.Append(mbox, su.fixtures[0])
	s := imapDial(t, su.env.cfg(su.env.Addr, mbox))
	if !s.SupportsIdle() {
		t.Fatal("server does not advertise IDLE")
	}
	res := imapScan(t, s, Checkpoint{})

	// ctx ending interrupts IDLE and leaves the connection usable.
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	start := time.Now()
	_, err := s.Wait(ctx, 0)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Wait with expiring ctx = %v, want DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Wait took %v to notice ctx", d)
	}

	mail := imapGenMail("idle-new", "[PATCH 6.12 00/10] 6.12.99-rc1 review", "", 5, true)
	done := make(chan []uint32, 1)
	go func() {
		time.Sleep(300 * time.Millisecond)
		done <- a.Append(mbox, mail) // a second client
	}()
	ctx, cancel = context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	start = time.Now()
	notified, err := s.Wait(ctx, time.Minute)
	if err != nil || !notified {
		t.Fatalf("Wait = %v, %v; want notified after APPEND", notified, err)
	}
	t.Logf("IDLE woke %v after Wait started", time.Since(start).Round(time.Millisecond))
	newUID := <-done
	res2 := imapScan(t, s, res.Next)
	if got := candidateUIDs(res2.Candidates); !slices.Equal(got, newUID) {
		t.Errorf("scan after IDLE = %v, want %v", got, newUID)
	}
}

// scanWaitPollsWithoutIdle: with IDLE disabled, Wait polls with NOOP.
func scanWaitPollsWithoutIdle(t *testing.T, su *imapSuite) {
	a, mbox := su.mailbox(t)
	a.Append(mbox, su.fixtures[0])
	p := startIMAPProxy(t, su.env.Addr)
	cfg := su.env.cfg(p.Addr, mbox)
	cfg.DisableIdle = true
	s := imapDial(t, cfg)
	if s.SupportsIdle() {
		t.Fatal("SupportsIdle with DisableIdle")
	}
	imapScan(t, s, Checkpoint{})
	a.Append(mbox, imapGenMail("poll-new", "[ANNOUNCE] v6.13-rt1", "", 5, true))
	p.Stats.Reset()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	start := time.Now()
	notified, err := s.Wait(ctx, 300*time.Millisecond)
	if err != nil || !notified {
		t.Errorf("Wait = %v, %v; want notified by NOOP", notified, err)
	}
	if d := time.Since(start); d < 300*time.Millisecond {
		t.Errorf("poll returned after %v, before the interval", d)
	}
	assertCommands(t, &p.Stats, "NOOP")
}

// scanMarkProcessed: MarkProcessed refuses without configuration or with a
// stale UIDVALIDITY, flags what it is given (never \Seen, and no search
// after), or moves it to another mailbox.
func scanMarkProcessed(t *testing.T, su *imapSuite) {
	a, mbox := su.mailbox(t)
	mails := imapInterleave(imapListMails(30), su.fixtures[2:8]) // two replies, four RT mails
	uids := a.Append(mbox, mails...)
	want := wantUIDs(mails, uids)
	if len(want) < 3 {
		t.Fatalf("only %d candidates loaded; the test needs one to flag and some to move", len(want))
	}

	off := imapDial(t, su.env.cfg(su.env.Addr, mbox))
	offRes := imapScan(t, off, Checkpoint{})
	if err := off.MarkProcessed(context.Background(), offRes.Next.UIDValidity, want); !errors.Is(err, ErrMarkingDisabled) {
		t.Errorf("MarkProcessed without configuration = %v, want ErrMarkingDisabled", err)
	}

	cfg, next := checkMarkWithFlag(t, su, a, mbox, want)

	done := mbox + "-done"
	a.Create(done)
	t.Cleanup(func() { a.c.Unselect().Wait(); a.c.Delete(done).Wait() })
	cfg.ProcessedFlag, cfg.ProcessedMailbox = "", done
	mv := imapDial(t, cfg)
	if err := mv.MarkProcessed(context.Background(), next.UIDValidity, want[1:]); err != nil {
		t.Fatalf("MarkProcessed (move): %v", err)
	}
	if got := len(a.Flags(done)); got != len(want)-1 {
		t.Errorf("%d messages moved to %s, want %d", got, done, len(want)-1)
	}
	if got := len(a.Flags(mbox)); got != len(mails)-len(want)+1 {
		t.Errorf("%d messages left in %s, want %d", got, mbox, len(mails)-len(want)+1)
	}
}

// checkMarkWithFlag marks want[0] of mbox with a keyword through a proxy
// and returns the configuration and the scan's checkpoint.
func checkMarkWithFlag(t *testing.T, su *imapSuite, a *imapAdmin, mbox string, want []uint32) (IMAPConfig, Checkpoint) {
	t.Helper()
	p := startIMAPProxy(t, su.env.Addr)
	cfg := su.env.cfg(p.Addr, mbox)
	cfg.ProcessedFlag = "$rtbot-done"
	s := imapDial(t, cfg)
	res := imapScan(t, s, Checkpoint{})
	if got := candidateUIDs(res.Candidates); !slices.Equal(got, want) {
		t.Fatalf("scan = %v, want %v", got, want)
	}
	if err := s.MarkProcessed(context.Background(), res.Next.UIDValidity+1, want); err == nil || !strings.Contains(err.Error(), "UIDVALIDITY") {
		t.Errorf("MarkProcessed with stale UIDVALIDITY = %v, want refusal", err)
	}
	if err := s.MarkProcessed(context.Background(), res.Next.UIDValidity, want[:1]); err != nil {
		t.Fatalf("MarkProcessed: %v", err)
	}
	for uid, fl := range a.Flags(mbox) {
		marked := slices.Contains(fl, imap.Flag("$rtbot-done"))
		if marked != (uid == want[0]) {
			t.Errorf("uid %d flags %v: marked=%v, want %v", uid, fl, marked, uid == want[0])
		}
	}
	assertNoneSeen(t, a, mbox)
	p.Stats.Reset()
	imapScan(t, s, res.Next)
	assertCommands(t, &p.Stats, "EXAMINE")
	return cfg, res.Next
}
