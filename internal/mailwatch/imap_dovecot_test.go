package mailwatch

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/mail"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/rtbot/rtbot/internal/netsec"
)

// These tests run against a real Dovecot started by
// scripts/dovecot/start.sh DIR PORT; source DIR/env first. They skip
// without RTBOT_DOVECOT_ADDR.

func dovecotEnv(t *testing.T) imapSuiteEnv {
	t.Helper()
	addr := os.Getenv("RTBOT_DOVECOT_ADDR")
	if addr == "" {
		t.Skip("RTBOT_DOVECOT_ADDR is not set: start a Dovecot with `scripts/dovecot/start.sh DIR PORT` and `. DIR/env` to run the Dovecot integration tests")
	}
	user := os.Getenv("RTBOT_DOVECOT_USER")
	pass := os.Getenv("RTBOT_DOVECOT_PASSWORD")
	if f := os.Getenv("RTBOT_DOVECOT_PASSWORD_FILE"); pass == "" && f != "" {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatalf("RTBOT_DOVECOT_PASSWORD_FILE: %v", err)
		}
		pass = strings.TrimSpace(string(b))
	}
	if user == "" || pass == "" {
		t.Fatal("RTBOT_DOVECOT_ADDR is set but RTBOT_DOVECOT_USER or the password (RTBOT_DOVECOT_PASSWORD or _FILE) is not")
	}
	return imapSuiteEnv{Addr: addr, User: user, Password: pass, Generate: 300}
}

func TestIMAPDovecot(t *testing.T) {
	runIMAPScanSuite(t, dovecotEnv(t))
}

// dovecotRoots returns a pool that trusts the test Dovecot's certificate,
// for STARTTLS; the test skips without RTBOT_DOVECOT_CA.
func dovecotRoots(t *testing.T) *x509.CertPool {
	t.Helper()
	caFile := os.Getenv("RTBOT_DOVECOT_CA")
	if caFile == "" {
		t.Skip("RTBOT_DOVECOT_CA is not set: no certificate to trust for STARTTLS")
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatalf("no certificate in %s", caFile)
	}
	return pool
}

// TestIMAPDovecotSilent: Dovecot going silent after the login (a stalled
// proxy in front of it): the scan ends within Timeout, naming the EXAMINE.
// In clear only: Dovecot's TLS sends a varying number of bytes before the
// login is done (session tickets), so a proxy cannot stall it at a known
// point; TestIMAPSilentUnderTLS covers TLS.
func TestIMAPDovecotSilent(t *testing.T) {
	env := dovecotEnv(t)
	checkStalledExamine(t, IMAPConfig{Addr: env.Addr, TLS: netsec.Plain, Username: env.User, Password: env.Password, DialTimeout: 10 * time.Second})
}

func TestIMAPDovecotStartTLS(t *testing.T) {
	env := dovecotEnv(t)
	pool := dovecotRoots(t)
	a := dialIMAPAdmin(t, env.Addr, env.User, env.Password)
	var seq imapSuiteSeq
	mbox := env.fresh(t, a, &seq)
	uids := a.Append(mbox, imapGenMail("tls-cover", "[PATCH 6.1 000/123] 6.1.500-rc2 review", "", 10, true),
		imapGenMail("tls-patch", "[PATCH 6.1 001/123] x86: fix bar", "tls-cover@rtbot.test", 10, false))
	cfg := IMAPConfig{Addr: env.Addr, TLS: netsec.StartTLS, Username: env.User, Password: env.Password, Mailbox: mbox, TLSConfig: &tls.Config{RootCAs: pool}}
	s := imapDial(t, cfg)
	res := imapScan(t, s, Checkpoint{})
	if got := candidateUIDs(res.Candidates); !slices.Equal(got, uids[:1]) || res.Next.UIDValidity == 0 {
		t.Errorf("STARTTLS scan = %v, checkpoint %+v; want %v and a UIDVALIDITY", got, res.Next, uids[:1])
	}
	// Implicit TLS on the STARTTLS port must fail, not fall back to clear.
	cfg.TLS = netsec.TLS
	cfg.DialTimeout = 3 * time.Second
	if _, err := Dial(context.Background(), cfg); err == nil {
		t.Error("implicit TLS to a STARTTLS port succeeded")
	}
}

// readExpected returns the Message-IDs start.sh's generator says the INBOX
// search must return.
func readExpected(t *testing.T) []string {
	t.Helper()
	f := os.Getenv("RTBOT_DOVECOT_EXPECTED")
	if f == "" {
		t.Skip("RTBOT_DOVECOT_EXPECTED is not set: no manifest of the INBOX start.sh loaded")
	}
	b, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	ids := strings.Fields(string(b))
	slices.Sort(ids)
	return ids
}

func candidateMessageIDs(t *testing.T, cands []Candidate) []string {
	t.Helper()
	var ids []string
	for _, c := range cands {
		m, err := mail.ReadMessage(bytes.NewReader(c.Raw))
		if err != nil {
			t.Fatalf("uid %d: %v", c.UID, err)
		}
		ids = append(ids, strings.Trim(m.Header.Get("Message-Id"), "<> "))
	}
	slices.Sort(ids)
	return ids
}

// TestIMAPDovecotInboxScanCost scans the INBOX start.sh filled (3000 mails by
// default, 50000 with RTBOT_DOVECOT_MAILS=50000) and prints the figures
// recorded in docs/perf-mail.md: it asserts what was found and which commands
// were sent, never how long they took.
func TestIMAPDovecotInboxScanCost(t *testing.T) {
	env := dovecotEnv(t)
	want := readExpected(t)
	p := startIMAPProxy(t, env.Addr)
	cfg := env.cfg(p.Addr, "INBOX")
	cfg.MaxCandidates = 100000

	start := time.Now()
	s := imapDial(t, cfg)
	dialTime := time.Since(start)

	p.Stats.Reset()
	start = time.Now()
	res := imapScan(t, s, Checkpoint{})
	firstTime := time.Since(start)
	firstDown, firstUp := p.Stats.down.Load(), p.Stats.up.Load()
	if got := candidateMessageIDs(t, res.Candidates); !slices.Equal(got, want) {
		t.Errorf("first scan found %d Message-IDs, want %d\nmissing: %v\nextra: %v", len(got), len(want), setMinus(want, got), setMinus(got, want))
	}
	wantCmds := []string{"EXAMINE", "UID SEARCH"}
	for range (len(want) + fetchBatch - 1) / fetchBatch {
		wantCmds = append(wantCmds, "UID FETCH")
	}
	assertCommands(t, &p.Stats, wantCmds...)
	if firstDown > res.FetchedBytes+64<<10 {
		t.Errorf("server sent %d bytes for %d bytes of candidates: other mail was downloaded", firstDown, res.FetchedBytes)
	}

	p.Stats.Reset()
	start = time.Now()
	res2 := imapScan(t, s, Checkpoint{})
	warmTime := time.Since(start)

	p.Stats.Reset()
	start = time.Now()
	idle := imapScan(t, s, res.Next)
	idleTime := time.Since(start)
	idleDown, idleUp, idleCmds := p.Stats.down.Load(), p.Stats.up.Load(), p.Stats.Commands()
	if len(idle.Candidates) != 0 || idle.Next != res.Next {
		t.Errorf("idle scan: %d candidates, Next %+v; want none, %+v", len(idle.Candidates), idle.Next, res.Next)
	}
	assertCommands(t, &p.Stats, "EXAMINE")

	// The scan a cron run does: dial, log in, EXAMINE, log out.
	p.Stats.Reset()
	start = time.Now()
	s2 := imapDial(t, cfg)
	cron := imapScan(t, s2, res.Next)
	s2.Close()
	cronTime := time.Since(start)
	if len(cron.Candidates) != 0 {
		t.Errorf("cron-style idle run found %d candidates", len(cron.Candidates))
	}
	cronCmds := p.Stats.Commands()

	// Asked last: STATUS would index a fresh maildir and spoil the cold figure.
	a := dialIMAPAdmin(t, env.Addr, env.User, env.Password)
	st, err := a.c.Status("INBOX", &imap.StatusOptions{NumMessages: true, UIDNext: true}).Wait()
	if err != nil {
		t.Fatal(err)
	}

	var raw int64
	for _, c := range res.Candidates {
		raw += int64(len(c.Raw))
	}
	report := fmt.Sprintf(`Dovecot INBOX: %d messages (UIDNEXT %d), %d expected candidates
dial+login:                %v
first scan (cold if first):   %v  found %d, fetched %d B of messages (%d B kept), wire %d B down / %d B up, commands %d
full rescan (warm index):  %v  found %d
idle scan (nothing new):   %v  wire %d B down / %d B up, commands %q
cron idle run (dial..logout): %v  commands %q
`, *st.NumMessages, st.UIDNext, len(want),
		dialTime.Round(time.Millisecond),
		firstTime.Round(time.Millisecond), len(res.Candidates), res.FetchedBytes, raw, firstDown, firstUp, len(wantCmds),
		warmTime.Round(time.Millisecond), len(res2.Candidates),
		idleTime.Round(time.Microsecond), idleDown, idleUp, idleCmds,
		cronTime.Round(time.Microsecond), cronCmds)
	t.Log("\n" + report)
}

func setMinus(a, b []string) []string {
	var out []string
	for _, x := range a {
		if _, ok := slices.BinarySearch(b, x); !ok {
			out = append(out, x)
		}
	}
	return out
}
