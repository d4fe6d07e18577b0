package pipeline

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rtbot/rtbot/internal/fixtures"
	"github.com/rtbot/rtbot/internal/mailwatch"
	"github.com/rtbot/rtbot/internal/remote"
	"github.com/rtbot/rtbot/internal/state"
	"github.com/rtbot/rtbot/internal/testkit"
)

// short is the deadline the tests give the step that waits.
const short = 300 * time.Millisecond

// timedPass runs one pass with opts and a text log, failing the test if it
// takes longer than limit; a pass that hangs fails it after 20 s.
func (w *crashWorld) timedPass(t *testing.T, opts Options, limit time.Duration) (string, error) {
	t.Helper()
	var log bytes.Buffer
	opts.Log = slog.New(slog.NewTextHandler(&log, nil))
	if opts.Retry.Attempts == 0 {
		opts.Retry = quickRetry
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	start := time.Now()
	_, err := New(w.cfg, w.store, opts).Once(ctx)
	if took := time.Since(start); took > limit {
		t.Errorf("the pass took %v, want at most %v (err %v)", took.Round(time.Millisecond), limit, err)
	}
	return log.String(), err
}

// silentGit is a git remote over http on loopback that reads each request
// and never answers. It returns the URL of a repository on it.
func silentGit(t *testing.T, name string) string {
	return "http://" + testkit.Serve(t, func(c net.Conn) {
		defer c.Close()
		bufio.NewReader(c).ReadString('\n')
		io.Copy(io.Discard, c)
	}) + "/" + name
}

// wantError checks that err is a failed pass whose message has every part.
func wantError(t *testing.T, err error, log string, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("the pass succeeded; want an error\n%s", log)
	}
	t.Logf("pass error: %v", err)
	mustContain(t, "pass error", err.Error(), parts...)
}

// TestIMAPServerSilent: the IMAP server accepts the login, then goes
// silent at the scan's EXAMINE. The pass ends within [imap] timeout with
// an error naming the server and the command, having recorded nothing;
// the next pass, with the server answering again, does the work once.
func TestIMAPServerSilent(t *testing.T) {
	w := newCrashWorld(t)
	timeout := w.cfg.IMAP.Timeout
	w.cfg.IMAP.Timeout.Duration = short
	w.deliver(t, 0)
	proxy := w.silentIMAP(t)

	log, err := w.timedPass(t, Options{}, 5*time.Second)
	wantError(t, err, log, proxy.Addr, "examine", "[imap] timeout")
	if !errors.Is(err, mailwatch.ErrTimeout) {
		t.Errorf("pass error %v; want mailwatch.ErrTimeout", err)
	}
	if anns, _ := w.store.Announcements(context.Background(), state.AnnouncementFilter{}); len(anns) != 0 {
		t.Errorf("announcements recorded from a scan that failed: %+v", anns)
	}
	proxy.StallAfter(-1)
	w.cfg.IMAP.Timeout = timeout // the server is back; a loaded machine may be slow
	if o := w.recovers(t, "with the IMAP server answering again"); o.reports != 1 || o.runs[crashRC1] != state.OutcomeManual {
		t.Errorf("after the outage: %v", o)
	}
}

// silentIMAP puts a proxy in front of the world's IMAP server that goes
// silent once the login is done: at the scan's EXAMINE. StallAfter(-1) on
// the proxy returned makes the server answer again.
func (w *crashWorld) silentIMAP(t *testing.T) *fixtures.FaultProxy {
	t.Helper()
	proxy, err := fixtures.StartFaultProxy(w.imap.Addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { proxy.Close() })
	w.cfg.IMAP.Addr = proxy.Addr
	icfg, err := New(w.cfg, w.store, Options{}).imapConfig()
	if err != nil {
		t.Fatal(err)
	}
	sc, err := mailwatch.Dial(context.Background(), icfg)
	if err != nil {
		t.Fatal(err)
	}
	proxy.StallAfter(proxy.Sent()) // what a login takes: the first connection's bytes so far
	sc.Close()
	return proxy
}

// TestCandidateRemoteSilent: candidate_url accepts the connection and
// never answers. The pass ends within [git] timeout, without retrying the
// fetch at once, with an error naming the remote and the key; the
// announcement waits, and the next pass, with the remote back, runs it.
func TestCandidateRemoteSilent(t *testing.T) {
	w := newCrashWorld(t)
	w.deliver(t, 0)
	tree := &w.cfg.Trees[0]
	good, timeout := tree.CandidateURL, w.cfg.Git.Timeout
	tree.CandidateURL = silentGit(t, "linux-stable-rc.git")
	w.cfg.Git.Timeout.Duration = short

	log, err := w.timedPass(t, Options{}, 5*time.Second)
	wantError(t, err, log, tree.CandidateURL, "[git] timeout")
	if !errors.Is(err, context.DeadlineExceeded) || !remote.IsTemporary(err) || strings.Contains(log, "retrying") {
		t.Errorf("pass error %v; want a temporary deadline error, not retried in the pass\n%s", err, log)
	}
	if wt := w.waiting(t); len(wt) != 1 || wt[0].MessageID != crashRC1 || !strings.Contains(wt[0].LastError, "[git] timeout") {
		t.Errorf("waiting %+v; want rc1, naming the deadline", wt)
	}
	// The remote is back, and the deadline as configured: a loaded
	// machine can take longer than short for a real fetch.
	tree.CandidateURL, w.cfg.Git.Timeout = good, timeout
	if o := w.recovers(t, "with the remote back"); o.reports != 1 || o.runs[crashRC1] != state.OutcomeManual {
		t.Errorf("after the outage: %v", o)
	}
}

// TestPushRemoteSilent: push_remote accepts the connection and never
// answers, while a partial branch is watched for fixes and a clean rc
// waits to be pushed. The fixes step gives up within [git] list_timeout
// (it used to hang every pass there, before any announcement), the push
// within its deadline, and the pass exits with an error naming both; the
// next pass, with the remote back, pushes once.
func TestPushRemoteSilent(t *testing.T) {
	w := newCrashWorld(t)
	w.deliver(t, 0)
	w.recovers(t, "rc1")
	w.deliver(t, 1)
	tree := &w.cfg.Trees[0]
	good, timeout, listTimeout := tree.PushRemote, w.cfg.Git.Timeout, w.cfg.Git.ListTimeout
	tree.PushRemote = silentGit(t, "published.git")
	w.cfg.Git.Timeout.Duration, w.cfg.Git.ListTimeout.Duration = short, short

	log, err := w.timedPass(t, Options{}, 5*time.Second)
	wantError(t, err, log, "fixes", "[git] list_timeout", tree.PushRemote, crashRC2)
	mustContain(t, "log", log, "could not look for fixes")
	if len(w.smtp.Messages()) != 1 {
		t.Errorf("%d mails; want only rc1's report", len(w.smtp.Messages()))
	}
	// The remote is back, and the deadlines as configured (see above).
	tree.PushRemote, w.cfg.Git.Timeout, w.cfg.Git.ListTimeout = good, timeout, listTimeout
	o := w.recovers(t, "with the push remote back")
	if o.runs[crashRC2] != state.OutcomeClean || o.triggers != 1 || len(o.pushed) != 2 {
		t.Errorf("after the outage: %v", o)
	}
}

// TestPassTimeout: a pass that outlives [bot] pass_timeout is stopped
// there. A step that waits on its context ends with it (the IMAP server
// silent, its own timeout longer than the pass's); one that ignores its
// context (a Fault hook that sleeps stands for it) makes the pass call
// Options.Stuck, where the commands exit to release the lock. Either way
// the next pass resumes and does the work once.
func TestPassTimeout(t *testing.T) {
	t.Run("context", func(t *testing.T) {
		w := newCrashWorld(t)
		w.cfg.IMAP.Timeout.Duration = time.Minute
		w.cfg.Bot.PassTimeout.Duration = time.Second
		w.deliver(t, 0)
		proxy := w.silentIMAP(t)
		log, err := w.timedPass(t, Options{}, 5*time.Second)
		wantError(t, err, log, "[bot] pass_timeout is 1s", "examine")
		var pe *PassTimeoutError
		if !errors.As(err, &pe) || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("pass error %v; want a *PassTimeoutError", err)
		}
		proxy.StallAfter(-1)
		// The recovery is about resuming, not about the deadline: a
		// loaded machine can take longer than 1s for a real pass.
		w.cfg.Bot.PassTimeout.Duration = time.Minute
		w.recovers(t, "after the pass deadline")
	})
	t.Run("stuck", func(t *testing.T) {
		w := newCrashWorld(t)
		w.cfg.Bot.PassTimeout.Duration = 500 * time.Millisecond
		w.deliver(t, 0)
		var stuck atomic.Value
		opts := Options{
			Stuck: func(err error) { stuck.Store(err) },
			Fault: func(point string) error {
				if point == FaultFetched {
					time.Sleep(1500 * time.Millisecond) // ignores the pass's context
				}
				return nil
			},
		}
		log, err := w.timedPass(t, opts, 5*time.Second)
		var pe *PassTimeoutError
		if !errors.As(err, &pe) {
			t.Errorf("pass error %v; want a *PassTimeoutError\n%s", err, log)
		}
		if s, _ := stuck.Load().(error); s == nil || !strings.Contains(s.Error(), "lock is released") {
			t.Errorf("Stuck got %v; want the stuck pass reported", s)
		}
		w.cfg.Bot.PassTimeout.Duration = time.Minute // as above
		w.recovers(t, "after a stuck pass")
	})
}

// TestWatchPassTimeout: under watch, a wake-up that outlives [bot]
// pass_timeout is stopped, and Watch reconnects (after its backoff) and
// finishes the work on the next wake-up, once.
func TestWatchPassTimeout(t *testing.T) {
	w := newCrashWorld(t)
	w.cfg.Bot.PassTimeout.Duration = 500 * time.Millisecond
	w.deliver(t, 0)
	var slept atomic.Bool
	var log bytes.Buffer
	opts := Options{Retry: quickRetry, Log: slog.New(slog.NewTextHandler(&log, nil)),
		Fault: func(point string) error {
			if point == FaultFetched && slept.CompareAndSwap(false, true) {
				time.Sleep(time.Second) // the first wake-up outlives its deadline
			}
			return nil
		}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- New(w.cfg, w.store, opts).Watch(ctx) }()
	// Until the run is recorded finished, not only until the report is in
	// the SMTP server: on a loaded machine the wake-up that sent it may
	// still be recording it (or be stopped at its deadline and redone).
	for start := time.Now(); !w.runFinished(t, crashRC1); time.Sleep(20 * time.Millisecond) {
		if time.Since(start) > 20*time.Second {
			t.Fatalf("no finished run within 20s (%d mails sent)", len(w.smtp.Messages()))
		}
	}
	cancel()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("Watch = %v", err)
	}
	mustContain(t, "log", log.String(), "reconnecting", "the pass was stopped at its deadline")
	if o := w.check(t); o.reports != 1 || o.runs[crashRC1] != state.OutcomeManual {
		t.Errorf("after the stopped wake-up: %v", o)
	}
}

// runFinished reports whether announcement id has a run that finished.
func (w *crashWorld) runFinished(t *testing.T, id string) bool {
	t.Helper()
	for _, r := range w.runsOf(t, id) {
		if r.Finished() {
			return true
		}
	}
	return false
}
