package mailwatch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rtbot/rtbot/internal/fixtures"
	"github.com/rtbot/rtbot/internal/netsec"
)

// outageHeldBack is the announcement TestIMAPOutageWatch delivers only after
// Watch has checkpointed the others.
const outageHeldBack = "stable-6.12.51-rc1.eml"

// outageEnv is the in-process IMAP server loaded with the real list mails
// (all of them, or all but outageHeldBack), with a FaultProxy in front.
type outageEnv struct {
	srv    *fixtures.IMAPServer
	proxy  *fixtures.FaultProxy
	mails  []imapTestMail // as delivered, in UID order
	held   imapTestMail
	direct IMAPConfig // straight to the server
	viaP   IMAPConfig // through the proxy
}

func startOutageEnv(t *testing.T, holdBack bool) *outageEnv {
	t.Helper()
	srv := startIMAPMemServer(t, nil, false)
	env := &outageEnv{srv: srv}
	wantAnn := 0
	for _, m := range imapFixtureMails(t) {
		if holdBack && m.Name == outageHeldBack {
			env.held = m
			continue
		}
		if err := srv.Deliver(m.Raw); err != nil {
			t.Fatal(err)
		}
		env.mails = append(env.mails, m)
		if m.Want {
			wantAnn++
		}
	}
	if !slices.ContainsFunc(env.mails, func(m imapTestMail) bool { return m.Name == "stable-6.1.12-rc1.eml" }) || wantAnn < 5 {
		t.Fatalf("fixture mails: want stable-6.1.12-rc1 and at least 5 announcements, have %d", wantAnn)
	}
	if holdBack && env.held.Raw == nil {
		t.Fatalf("fixture %s missing", outageHeldBack)
	}
	var err error
	env.proxy, err = fixtures.StartFaultProxy(srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { env.proxy.Close() })
	env.direct = IMAPConfig{Addr: srv.Addr, TLS: netsec.Plain, Username: srv.User, Password: srv.Password, DialTimeout: 10 * time.Second}
	env.viaP = env.direct
	env.viaP.Addr = env.proxy.Addr
	return env
}

// scanOnce dials cfg, scans from cp and closes.
func scanOnce(ctx context.Context, cfg IMAPConfig, cp Checkpoint) (ScanResult, error) {
	s, err := Dial(ctx, cfg)
	if err != nil {
		return ScanResult{}, err
	}
	defer s.Close()
	return s.Scan(ctx, cp)
}

// measureFetch scans from cp through the proxy with no cut and returns the
// result and the number of bytes the connection had carried to the client
// when Scan returned (greeting, LOGIN, EXAMINE, SEARCH and FETCH answers).
func (env *outageEnv) measureFetch(t *testing.T, ctx context.Context, cp Checkpoint) (ScanResult, int64) {
	t.Helper()
	env.proxy.CutAfter(-1)
	base := env.proxy.Sent()
	s, err := Dial(ctx, env.viaP)
	if err != nil {
		t.Fatalf("Dial through the proxy: %v", err)
	}
	defer s.Close()
	res, err := s.Scan(ctx, cp)
	if err != nil {
		t.Fatalf("Scan through the proxy with no cut: %v", err)
	}
	end := env.proxy.Sent() - base
	if res.FetchedBytes <= 0 || end <= res.FetchedBytes {
		t.Fatalf("measured %d bytes on the connection, %d fetched: cannot place a cut in the FETCH", end, res.FetchedBytes)
	}
	return res, end
}

// sameCandidates reports how got differs from the clean scan's want, or "".
func sameCandidates(got, want []Candidate) string {
	if g, w := candidateUIDs(got), candidateUIDs(want); !slices.Equal(g, w) {
		return fmt.Sprintf("UIDs %v, want %v", g, w)
	}
	for i := range got {
		if !bytes.Equal(got[i].Raw, want[i].Raw) || got[i].Truncated != want[i].Truncated || got[i].Size != want[i].Size {
			return fmt.Sprintf("uid %d: %d bytes (truncated %v, size %d), want %d bytes (truncated %v, size %d)",
				got[i].UID, len(got[i].Raw), got[i].Truncated, got[i].Size, len(want[i].Raw), want[i].Truncated, want[i].Size)
		}
	}
	return ""
}

// TestIMAPOutageScanCutMidFetch: the connection drops while the bodies are
// being fetched. Scan must fail, naming the fetch, and not hand back what it
// got so far; a new connection from the same checkpoint must then return
// every message once, whole, with the clean scan's checkpoint.
func TestIMAPOutageScanCutMidFetch(t *testing.T) {
	env := startOutageEnv(t, false)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	clean0 := env.wholeScan(t, ctx)
	// An old checkpoint that has seen the first two candidates.
	partialCP := Checkpoint{UIDValidity: clean0.Next.UIDValidity, LastUID: clean0.Candidates[1].UID}

	for _, cp := range []Checkpoint{{}, partialCP} {
		clean, err := scanOnce(ctx, env.direct, cp)
		if err != nil {
			t.Fatal(err)
		}
		proxied, end := env.measureFetch(t, ctx, cp)
		if d := sameCandidates(proxied.Candidates, clean.Candidates); d != "" || proxied.Next != clean.Next {
			t.Fatalf("from %+v: the proxy is not transparent: %s, next %+v want %+v", cp, d, proxied.Next, clean.Next)
		}
		for _, cut := range fetchCuts(end, clean.FetchedBytes) {
			t.Run(fmt.Sprintf("from-%d/%s", cp.LastUID, cut.name), func(t *testing.T) {
				env.checkCutScan(t, ctx, cp, cut, clean, end)
			})
		}
	}
}

// wholeScan scans the server from nothing, directly, and checks that it
// finds the announcements, none of them truncated.
func (env *outageEnv) wholeScan(t *testing.T, ctx context.Context) ScanResult {
	t.Helper()
	clean, err := scanOnce(ctx, env.direct, Checkpoint{})
	if err != nil {
		t.Fatal(err)
	}
	if len(clean.Candidates) < 5 {
		t.Fatalf("clean scan found %d candidates, want the announcements", len(clean.Candidates))
	}
	for _, c := range clean.Candidates {
		if c.Truncated {
			t.Fatalf("clean scan: uid %d truncated; the test wants whole messages", c.UID)
		}
	}
	return clean
}

// cutPoint is where the proxy cuts a scan's connection.
type cutPoint struct {
	name string
	at   int64 // bytes the connection carries before the cut
	// mayComplete: the cut falls after the server's tagged OK status,
	// so a complete result is right too.
	mayComplete bool
}

// fetchCuts returns the cuts of a scan whose connection carries end bytes,
// the last fetched of them the FETCH answer: at its start and quarters,
// and at every byte of its end.
func fetchCuts(end, fetched int64) []cutPoint {
	cuts := []cutPoint{
		{"fetch-start", end - fetched, false},
		{"fetch-quarter", end - fetched*3/4, false},
		{"fetch-half", end - fetched/2, false},
		{"fetch-three-quarters", end - fetched/4, false},
	}
	// Every byte of the end of the answer: the last message's closing
	// lines and the tagged OK. Once the server's "T4 OK " has arrived,
	// everything has (go-imap then completes the command without the
	// text or the final LF): there the scan may succeed, but whole.
	const taggedOK = len("T4 OK UID FETCH completed\r\n")
	for k := int64(64); k >= 1; k-- {
		cuts = append(cuts, cutPoint{fmt.Sprintf("end-minus-%d", k), end - k, k <= int64(taggedOK)})
	}
	return cuts
}

// checkCutScan scans from cp through the proxy cutting at cut: the scan
// fails as a retryable fetch error with nothing in hand (or, past the
// tagged OK, succeeds whole), and a scan after it returns clean's result.
func (env *outageEnv) checkCutScan(t *testing.T, ctx context.Context, cp Checkpoint, cut cutPoint, clean ScanResult, end int64) {
	t.Helper()
	cuts := env.proxy.Cuts()
	env.proxy.CutAfter(cut.at)
	res, err := scanOnce(ctx, env.viaP, cp)
	env.proxy.CutAfter(-1)
	if env.proxy.Cuts() != cuts+1 {
		t.Fatalf("the proxy cut %d connections, want 1 (cut at %d of %d bytes)", env.proxy.Cuts()-cuts, cut.at, end)
	}
	if err == nil && cut.mayComplete {
		if d := sameCandidates(res.Candidates, clean.Candidates); d != "" || res.Next != clean.Next {
			t.Fatalf("Scan cut after the tagged OK returned an incomplete result: %s, next %+v want %+v", d, res.Next, clean.Next)
		}
		return
	}
	if err == nil {
		t.Fatalf("Scan cut after %d of %d bytes returned %d candidates and no error: a partial fetch presented as complete",
			cut.at, end, len(res.Candidates))
	}
	var ie *Error
	if !errors.As(err, &ie) || ie.Op != "fetch" || !strings.Contains(err.Error(), "fetch") {
		t.Errorf("Scan error %q: want an *Error for the fetch", err)
	}
	if IsPermanent(err) {
		t.Errorf("Scan error %q is permanent: a dropped connection is worth retrying", err)
	}
	if len(res.Candidates) != 0 || res.Next != (Checkpoint{}) {
		t.Errorf("failed Scan also returned %d candidates and checkpoint %+v", len(res.Candidates), res.Next)
	}

	// The network is back: scan again from the same old checkpoint.
	again, err := scanOnce(ctx, env.viaP, cp)
	if err != nil {
		t.Fatalf("Scan after the outage: %v", err)
	}
	if d := sameCandidates(again.Candidates, clean.Candidates); d != "" {
		t.Errorf("Scan after the outage: %s", d)
	}
	if again.Next != clean.Next || again.More || again.Rescanned {
		t.Errorf("Scan after the outage: next %+v (more %v, rescanned %v), want %+v", again.Next, again.More, again.Rescanned, clean.Next)
	}
}

// TestIMAPOutageWatch: Watch's connection is cut in the middle of every
// FETCH until the network recovers. Watch must report the failures, back
// off and reconnect, and the handler must get every announcement, whole,
// once: nothing partial while connections are cut, nothing again after a
// checkpoint when a later connection drops.
func TestIMAPOutageWatch(t *testing.T) {
	env := startOutageEnv(t, true)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	clean, cleanFound := env.classifiedScan(t, ctx)
	_, end := env.measureFetch(t, ctx, Checkpoint{})
	cutAt := end - clean.FetchedBytes/2

	rec := newWatchRecorder()
	opts := WatchOptions{
		// The in-memory server does not send at the start of IDLE the
		// EXISTS of mail that arrived after the last command: the poll, the
		// safety net for such servers, picks it up.
		Poll:    50 * time.Millisecond,
		Backoff: Backoff{Min: 2 * time.Millisecond, Max: 20 * time.Millisecond},
		Report:  rec.report,
	}
	env.proxy.CutAfter(cutAt)
	watchErr := make(chan error, 1)
	go func() { watchErr <- Watch(ctx, env.viaP, opts, Checkpoint{}, rec.handle) }()

	// 1. Connections are cut mid-fetch: Watch reports and retries.
	rec.waitFor(t, ctx, "Watch to report a failed fetch, twice", func() bool {
		return rec.fetchFailures() >= 2 // a retry after the first failure was cut too
	})
	if env.proxy.Cuts() < 2 {
		t.Errorf("proxy cut %d connections, want at least 2", env.proxy.Cuts())
	}

	// 2. The network recovers: everything arrives, whole.
	rec.lifted.Store(true)
	env.proxy.CutAfter(-1)
	rec.waitFor(t, ctx, "every candidate", func() bool { return len(rec.delivered) >= len(clean.Candidates) })

	// 3. The IDLE connection drops after the checkpoint: Watch reconnects
	// and must not deliver anything again. Then new mail arrives.
	rec.mu.Lock()
	nReports := len(rec.reports)
	rec.mu.Unlock()
	env.proxy.Drop()
	rec.waitFor(t, ctx, "Watch to reconnect and scan after the drop", func() bool {
		return len(rec.reports) > nReports && rec.calls > rec.callsAtReport[nReports]
	})
	if err := env.srv.Deliver(env.held.Raw); err != nil {
		t.Fatal(err)
	}
	rec.waitFor(t, ctx, "the new announcement", func() bool { _, ok := rec.found[env.held.MessageID]; return ok })

	stopWatch(t, cancel, watchErr)
	rec.checkDelivered(t, clean, cleanFound, env.held)
}

// classifiedScan scans the server from nothing, directly, and checks that
// every fixture announcement is recognised in it.
func (env *outageEnv) classifiedScan(t *testing.T, ctx context.Context) (ScanResult, []Found) {
	t.Helper()
	clean, err := scanOnce(ctx, env.direct, Checkpoint{})
	if err != nil {
		t.Fatal(err)
	}
	cleanFound, err := Classify(clean.Candidates, Recognize)
	if err != nil {
		t.Fatalf("classify the clean scan: %v", err)
	}
	for _, m := range env.mails {
		if m.Want && !slices.ContainsFunc(cleanFound, func(f Found) bool { return f.Announcement.MessageID == m.MessageID }) {
			t.Fatalf("clean scan: %s (%s) not recognised as an announcement", m.Name, m.MessageID)
		}
	}
	return clean, cleanFound
}

// watchRecorder records, under one lock, what Watch reports and hands its
// handler, and what the handler saw wrong; changed signals each change.
type watchRecorder struct {
	mu            sync.Mutex
	changed       chan struct{}
	reports       []error
	callsAtReport []int             // handler calls when each report came
	calls         int               // handler calls
	delivered     map[uint32]int    // UID → handler calls it came in
	raws          map[uint32][]byte // UID → Raw as delivered
	found         map[string]uint32 // Message-ID → UID of the announcements delivered
	failures      []string          // what the handler saw wrong
	lifted        atomic.Bool       // the cut is lifted
}

func newWatchRecorder() *watchRecorder {
	return &watchRecorder{changed: make(chan struct{}, 1), delivered: map[uint32]int{}, raws: map[uint32][]byte{}, found: map[string]uint32{}}
}

func (r *watchRecorder) signal() {
	select {
	case r.changed <- struct{}{}:
	default:
	}
}

// waitFor waits until cond holds (it is called under the lock), failing
// the test when the handler saw something wrong or ctx ends.
func (r *watchRecorder) waitFor(t *testing.T, ctx context.Context, what string, cond func() bool) {
	t.Helper()
	for {
		r.mu.Lock()
		ok, bad := cond(), slices.Clone(r.failures)
		r.mu.Unlock()
		if len(bad) > 0 {
			t.Fatalf("waiting for %s:\n%s", what, strings.Join(bad, "\n"))
		}
		if ok {
			return
		}
		select {
		case <-r.changed:
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %v", what, ctx.Err())
		}
	}
}

// report is Watch's Report.
func (r *watchRecorder) report(attempt int, err error, next time.Duration) {
	r.mu.Lock()
	r.reports = append(r.reports, err)
	r.callsAtReport = append(r.callsAtReport, r.calls)
	r.mu.Unlock()
	r.signal()
}

// fetchFailures counts the reports of a failed fetch; the caller holds
// the lock.
func (r *watchRecorder) fetchFailures() int {
	n := 0
	for _, err := range r.reports {
		var ie *Error
		if errors.As(err, &ie) && ie.Op == "fetch" {
			n++
		}
	}
	return n
}

// handle is Watch's handler: nothing may arrive while the cut holds, and
// nothing twice.
func (r *watchRecorder) handle(ctx context.Context, _ *Scanner, res ScanResult) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	defer r.signal()
	r.calls++
	if !r.lifted.Load() {
		r.failures = append(r.failures, fmt.Sprintf("handler called with %d candidates while every connection was cut mid-fetch", len(res.Candidates)))
	}
	for _, c := range res.Candidates {
		r.delivered[c.UID]++
		if r.delivered[c.UID] > 1 {
			r.failures = append(r.failures, fmt.Sprintf("uid %d delivered %d times, after a checkpoint", c.UID, r.delivered[c.UID]))
		}
		r.raws[c.UID] = c.Raw
	}
	fs, err := Classify(res.Candidates, Recognize)
	if err != nil {
		r.failures = append(r.failures, fmt.Sprintf("classify: %v", err))
	}
	for _, f := range fs {
		r.found[f.Announcement.MessageID] = f.UID
	}
	return nil
}

// checkDelivered checks, once Watch has returned, that the handler got
// clean's candidates and the held-back announcement, each once and whole.
func (r *watchRecorder) checkDelivered(t *testing.T, clean ScanResult, cleanFound []Found, held imapTestMail) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, f := range r.failures {
		t.Error(f)
	}
	for _, c := range clean.Candidates {
		if n := r.delivered[c.UID]; n != 1 {
			t.Errorf("uid %d delivered %d times, want once", c.UID, n)
		} else if !bytes.Equal(r.raws[c.UID], c.Raw) {
			t.Errorf("uid %d delivered with %d bytes, the clean scan has %d", c.UID, len(r.raws[c.UID]), len(c.Raw))
		}
	}
	for _, f := range cleanFound {
		if uid, ok := r.found[f.Announcement.MessageID]; !ok || uid != f.UID {
			t.Errorf("announcement %s (uid %d) not delivered (got uid %d)", f.Announcement.MessageID, f.UID, uid)
		}
	}
	newUID := r.found[held.MessageID]
	if len(r.delivered) != len(clean.Candidates)+1 || r.delivered[newUID] != 1 || newUID <= clean.Next.LastUID {
		t.Errorf("delivered UIDs %v, want the clean scan's %v and the new uid %d once", slices.Sorted(maps.Keys(r.delivered)), candidateUIDs(clean.Candidates), newUID)
	}
	if !bytes.Equal(r.raws[newUID], held.Raw) {
		t.Errorf("new announcement delivered with %d bytes, want the %d delivered", len(r.raws[newUID]), len(held.Raw))
	}
}

// shortLiteral is a literal of announced size that ends early, as when the
// connection drops in the middle of it. It counts reads after its end.
type shortLiteral struct {
	r          *bytes.Reader
	size       int64
	readsAfter int
	ended      bool
}

func (l *shortLiteral) Read(b []byte) (int, error) {
	if l.ended {
		l.readsAfter++
	}
	n, err := l.r.Read(b)
	if err != nil {
		l.ended = true
	}
	return n, err
}

func (l *shortLiteral) Size() int64 { return l.size }

// TestIMAPReadBoundedShortLiteral: a literal that ends before its announced
// size is a failed transfer, not a short message; and once it has failed it
// must not be read again (go-imap's decoder has moved on and reads the same
// buffer: a data race).
func TestIMAPReadBoundedShortLiteral(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789"), 10)
	for _, tc := range []struct {
		name    string
		got     int // bytes that arrive
		size    int64
		limit   int64
		wantErr bool
	}{
		{"whole", 100, 100, 1000, false},
		{"whole-over-limit", 100, 100, 40, false},
		{"cut-under-limit", 60, 100, 1000, true},
		{"cut-over-limit", 60, 100, 40, true},
		{"empty-cut", 0, 100, 1000, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lit := &shortLiteral{r: bytes.NewReader(data[:tc.got]), size: tc.size}
			b, n, more, err := readBounded(lit, tc.limit)
			if (err != nil) != tc.wantErr {
				t.Fatalf("readBounded = %d bytes, n %d, more %v, err %v; want error %v", len(b), n, more, err, tc.wantErr)
			}
			if n != int64(tc.got) {
				t.Errorf("counted %d bytes, want %d", n, tc.got)
			}
			if lit.readsAfter != 0 {
				t.Errorf("the literal was read %d times after it ended", lit.readsAfter)
			}
			if !tc.wantErr && (!bytes.Equal(b, data[:min(int64(tc.got), tc.limit)]) || more != (int64(tc.got) > tc.limit)) {
				t.Errorf("readBounded = %q (more %v)", b, more)
			}
		})
	}
}
