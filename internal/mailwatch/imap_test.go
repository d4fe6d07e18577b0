package mailwatch

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rtbot/rtbot/internal/netsec"
	"github.com/rtbot/rtbot/internal/testkit"
)

func TestIMAPScanMemServer(t *testing.T) {
	srv := startIMAPMemServer(t, nil, false)
	runIMAPScanSuite(t, imapSuiteEnv{Addr: srv.Addr, User: srv.User, Password: srv.Password, Generate: 600})
}

func TestIMAPPlainRefusedOffLoopback(t *testing.T) {
	// A name other than localhost is refused without being resolved, even
	// one the hosts file maps to loopback (netsec's loopback rule).
	for _, addr := range []string{"192.0.2.1:143", "[2001:db8::1]:143", "10.1.2.3:1143", "imap.invalid:143", "localhost.localdomain:143"} {
		start := time.Now()
		_, err := Dial(context.Background(), IMAPConfig{Addr: addr, TLS: netsec.Plain, Username: "u", Password: "p"})
		if !errors.Is(err, ErrPlainNotLoopback) {
			t.Errorf("Dial plain %s = %v, want ErrPlainNotLoopback", addr, err)
		}
		if !IsPermanent(err) {
			t.Errorf("Dial plain %s: error not permanent", addr)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("Dial plain %s took %v: it must refuse before connecting", addr, d)
		}
	}
	// Loopback by name is fine.
	srv := startIMAPMemServer(t, nil, false)
	_, port, _ := net.SplitHostPort(srv.Addr)
	s, err := Dial(context.Background(), IMAPConfig{Addr: net.JoinHostPort("localhost", port), TLS: netsec.Plain, Username: srv.User, Password: srv.Password})
	if err != nil {
		t.Fatalf("Dial plain localhost: %v", err)
	}
	s.Close()
}

func TestIMAPTLSModes(t *testing.T) {
	serverTLS, pool := testkit.SelfSignedTLS(t, "127.0.0.1")
	for _, tc := range []struct {
		name     string
		mode     netsec.Mode
		implicit bool
	}{
		{"implicit", netsec.TLS, true},
		{"default-is-implicit", "", true},
		{"starttls", netsec.StartTLS, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := startIMAPMemServer(t, serverTLS, tc.implicit)
			// The server speaks TLS only: scan its empty INBOX.
			cfg := IMAPConfig{Addr: srv.Addr, TLS: tc.mode, Username: srv.User, Password: srv.Password,
				TLSConfig: &tls.Config{RootCAs: pool}}
			s, err := Dial(context.Background(), cfg)
			if err != nil {
				t.Fatalf("Dial %s: %v", tc.name, err)
			}
			defer s.Close()
			res, err := s.Scan(context.Background(), Checkpoint{})
			if err != nil || len(res.Candidates) != 0 || res.Next.UIDValidity == 0 {
				t.Errorf("Scan over %s = %+v, %v; want empty result with a UIDVALIDITY", tc.name, res, err)
			}

			// Without trusting the certificate, the handshake must fail.
			cfg.TLSConfig = nil
			if _, err := Dial(context.Background(), cfg); err == nil || !errors.As(err, new(*tls.CertificateVerificationError)) && !strings.Contains(err.Error(), "certificate") {
				t.Errorf("Dial %s with untrusted certificate = %v, want a certificate error", tc.name, err)
			}
		})
	}
}

func TestIMAPLoginFailureIsPermanent(t *testing.T) {
	srv := startIMAPMemServer(t, nil, false)
	cfg := IMAPConfig{Addr: srv.Addr, TLS: netsec.Plain, Username: srv.User, Password: "wrong"}
	start := time.Now()
	var reports int
	_, err := Redial(context.Background(), cfg, Backoff{Min: time.Second}, func(int, error, time.Duration) { reports++ })
	if err == nil || !IsPermanent(err) {
		t.Fatalf("Redial with a wrong password = %v, want a permanent error", err)
	}
	if reports != 0 || time.Since(start) > 5*time.Second {
		t.Errorf("Redial retried a rejected login (%d reports, %v)", reports, time.Since(start))
	}
	var ie *Error
	if !errors.As(err, &ie) || ie.Op != "login" || ie.Server != srv.Addr || !strings.Contains(err.Error(), srv.Addr) {
		t.Errorf("error %q lacks the server and operation", err)
	}
	if strings.Contains(err.Error(), "wrong") {
		t.Errorf("error %q leaks the password", err)
	}
}

func TestIMAPConfigValidation(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  IMAPConfig
		want string
	}{
		{"no addr", IMAPConfig{Username: "u"}, "address is empty"},
		{"no port", IMAPConfig{Addr: "imap.example.org", Username: "u"}, "missing port"},
		{"bad mode", IMAPConfig{Addr: "h:1", TLS: "ssl", Username: "u"}, `TLS mode "ssl"`},
		{"no user", IMAPConfig{Addr: "h:1"}, "username is empty"},
		{"bad flag", IMAPConfig{Addr: "h:1", Username: "u", ProcessedFlag: `\Deleted`}, "processed flag"},
		{"flag with space", IMAPConfig{Addr: "h:1", Username: "u", ProcessedFlag: "a b"}, "processed flag"},
		{"empty filter", IMAPConfig{Addr: "h:1", Username: "u", SubjectFilters: []string{"review", ""}}, "subject filter"},
	} {
		_, err := Dial(context.Background(), tc.cfg)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !IsPermanent(err) {
			t.Errorf("%s: Dial = %v, want permanent error containing %q", tc.name, err, tc.want)
		}
	}
}

func TestIMAPBackoffDelay(t *testing.T) {
	b := Backoff{Min: 100 * time.Millisecond, Max: time.Second}
	prevHi := time.Duration(0)
	for attempt, hi := range []time.Duration{100, 200, 400, 800, 1000, 1000, 1000} {
		hi *= time.Millisecond
		for range 50 {
			d := b.Delay(attempt)
			if d > hi || d < hi*8/10 {
				t.Fatalf("Delay(%d) = %v, want in [%v, %v]", attempt, d, hi*8/10, hi)
			}
		}
		if hi < prevHi {
			t.Fatalf("bound decreased")
		}
		prevHi = hi
	}
	if d := (Backoff{}).Delay(1000); d > 5*time.Minute || d < 4*time.Minute {
		t.Errorf("default cap: Delay(1000) = %v, want about 5m", d)
	}
}

func TestIMAPRedialBacksOffUntilCtx(t *testing.T) {
	addr := testkit.ClosedPort(t) // nothing listens: connection refused

	ctx, cancel := context.WithTimeout(context.Background(), 400*time.Millisecond)
	defer cancel()
	var delays []time.Duration
	_, err := Redial(ctx, IMAPConfig{Addr: addr, TLS: netsec.Plain, Username: "u"}, Backoff{Min: 10 * time.Millisecond, Max: 40 * time.Millisecond},
		func(attempt int, err error, next time.Duration) { delays = append(delays, next) })
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Redial = %v, want DeadlineExceeded", err)
	}
	if len(delays) < 4 {
		t.Fatalf("only %d retries in 400ms with a 40ms cap", len(delays))
	}
	if slices.Max(delays) > 40*time.Millisecond || delays[0] > 10*time.Millisecond {
		t.Errorf("delays %v exceed the backoff bounds", delays)
	}
}

func TestIMAPWatchReconnects(t *testing.T) {
	srv := startIMAPMemServer(t, nil, false)
	a := dialIMAPAdmin(t, srv.Addr, srv.User, srv.Password)
	fixtures := imapFixtureMails(t)
	uids := a.Append("INBOX", fixtures...)
	p := startIMAPProxy(t, srv.Addr)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	results := make(chan ScanResult, 100)
	var mu sync.Mutex
	var failures []error
	opts := WatchOptions{
		Poll:    time.Minute,
		Backoff: Backoff{Min: 10 * time.Millisecond, Max: 50 * time.Millisecond},
		Report: func(attempt int, err error, next time.Duration) {
			mu.Lock()
			failures = append(failures, err)
			mu.Unlock()
		},
	}
	cfg := IMAPConfig{Addr: p.Addr, TLS: netsec.Plain, Username: srv.User, Password: srv.Password}
	watchErr := make(chan error, 1)
	go func() {
		watchErr <- Watch(ctx, cfg, opts, Checkpoint{}, func(ctx context.Context, _ *Scanner, res ScanResult) error {
			if len(res.Candidates) > 0 {
				results <- res
			}
			return nil
		})
	}()
	next := func() ScanResult {
		t.Helper()
		select {
		case r := <-results:
			return r
		case <-time.After(20 * time.Second):
			t.Fatal("Watch delivered nothing in 20s")
			return ScanResult{}
		}
	}
	first := next()
	if want := wantUIDs(fixtures, uids); !slices.Equal(candidateUIDs(first.Candidates), want) {
		t.Errorf("first delivery %v, want %v", candidateUIDs(first.Candidates), want)
	}

	p.DropAll() // the network fails under the IDLE
	time.Sleep(50 * time.Millisecond)
	newUID := a.Append("INBOX", imapGenMail("watch-new", "[ANNOUNCE] 6.1.400-rt100", "", 5, true))
	second := next()
	if got := candidateUIDs(second.Candidates); !slices.Equal(got, newUID) || second.Rescanned {
		t.Errorf("after reconnect: %v (rescanned %v), want only %v", got, second.Rescanned, newUID)
	}
	mu.Lock()
	nFail := len(failures)
	mu.Unlock()
	if nFail == 0 {
		t.Error("the dropped connection was not reported")
	}

	stopWatch(t, cancel, watchErr)
}

func TestIMAPWatchStopsOnHandlerError(t *testing.T) {
	srv := startIMAPMemServer(t, nil, false)
	a := dialIMAPAdmin(t, srv.Addr, srv.User, srv.Password)
	a.Append("INBOX", imapFixtureMails(t)...)
	boom := errors.New("state store is full")
	calls := 0
	err := Watch(context.Background(), IMAPConfig{Addr: srv.Addr, TLS: netsec.Plain, Username: srv.User, Password: srv.Password},
		WatchOptions{}, Checkpoint{}, func(context.Context, *Scanner, ScanResult) error { calls++; return boom })
	if !errors.Is(err, boom) || calls != 1 {
		t.Errorf("Watch = %v after %d calls, want the handler's error after 1", err, calls)
	}
}

func TestIMAPClassify(t *testing.T) {
	cands := []Candidate{
		{UID: 3, Raw: []byte("Subject: [PATCH 6.1 000/2] 6.1.1-rc1 review\r\n\r\nbody")},
		{UID: 5, Raw: []byte("Subject: [PATCH 6.1 001/2] docs: review process\r\n\r\nbody")},
		{UID: 9, Raw: []byte("Subject: broken\r\n\r\n")},
	}
	classify := func(r io.Reader) (Announcement, error) {
		b, _ := io.ReadAll(r)
		switch {
		case strings.Contains(string(b), "000/"):
			return Announcement{Kind: KindStableRC, Version: "6.1.1"}, nil
		case strings.Contains(string(b), "broken"):
			return Announcement{}, errors.New("cannot parse")
		}
		return Announcement{Kind: KindNone, Reason: "not a cover"}, nil
	}
	found, err := Classify(cands, classify)
	if len(found) != 1 || found[0].UID != 3 || found[0].Announcement.Version != "6.1.1" {
		t.Errorf("found = %+v, want uid 3 only", found)
	}
	if err == nil || !strings.Contains(err.Error(), "uid 9: cannot parse") {
		t.Errorf("err = %v, want the failure of uid 9", err)
	}
}

// TestIMAPUntrustedPoolIsUsed guards against a TLS config that silently
// skips verification: the pool given must be the one checked.
func TestIMAPUntrustedPoolIsUsed(t *testing.T) {
	serverTLS, _ := testkit.SelfSignedTLS(t, "127.0.0.1")
	_, otherPool := testkit.SelfSignedTLS(t, "127.0.0.1")
	srv := startIMAPMemServer(t, serverTLS, true)
	_, err := Dial(context.Background(), IMAPConfig{Addr: srv.Addr, Username: srv.User, Password: srv.Password, TLSConfig: &tls.Config{RootCAs: otherPool}})
	var verr *tls.CertificateVerificationError
	var uerr x509.UnknownAuthorityError
	if !errors.As(err, &verr) && !errors.As(err, &uerr) {
		t.Errorf("Dial with a foreign root = %v, want a verification error", err)
	}
}

// TestIMAPClassifyOneAnnouncementPerMessageID: the real cover delivered
// twice (stable@ and LKML copies, same Message-ID) is one announcement.
func TestIMAPClassifyOneAnnouncementPerMessageID(t *testing.T) {
	raw, err := os.ReadFile(testkit.Mail(t, "stable-6.1.12-rc1.eml"))
	if err != nil {
		t.Fatal(err)
	}
	other, err := os.ReadFile(testkit.Mail(t, "stable-6.12.51-rc1.eml"))
	if err != nil {
		t.Fatal(err)
	}
	cands := []Candidate{{UID: 10, Raw: raw}, {UID: 11, Raw: other}, {UID: 17, Raw: raw}}
	found, err := Classify(cands, Recognize)
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != 2 || found[0].UID != 10 || found[1].UID != 11 {
		t.Fatalf("found %+v, want uids 10 and 11", found)
	}
	if len(found[0].Duplicates) != 1 || found[0].Duplicates[0] != 17 || len(found[1].Duplicates) != 0 {
		t.Errorf("duplicates %v / %v, want [17] / []", found[0].Duplicates, found[1].Duplicates)
	}
}
