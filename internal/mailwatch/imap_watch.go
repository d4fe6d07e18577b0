package mailwatch

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/emersion/go-imap/v2"
)

// DefaultPoll is how often Wait polls a server without IDLE, and ends
// IDLE on one with it, when the caller passes no interval.
const DefaultPoll = 5 * time.Minute

// SupportsIdle reports whether Wait will use IMAP IDLE on this connection
// (the server supports it and IMAPConfig.DisableIdle is not set).
func (s *Scanner) SupportsIdle() bool {
	if s.cfg.DisableIdle {
		return false
	}
	caps := s.c.Caps()
	return caps.Has(imap.CapIdle)
}

// Wait blocks until it is time to Scan again, or ctx ends. With IDLE it
// returns as soon as the server reports new mail (notified is true), or
// after poll (DefaultPoll if poll <= 0), a safety net against servers and
// middleboxes that drop IDLE notifications, or connections, silently.
// Without IDLE it waits poll, sends NOOP and reports whether the server
// announced new mail; either way the caller should scan next.
//
// The server must acknowledge the start and the end of IDLE within
// IMAPConfig.Timeout; while idling it may stay silent for poll plus
// Timeout.
//
// Wait EXAMINEs the mailbox first if no Scan has selected it.
func (s *Scanner) Wait(ctx context.Context, poll time.Duration) (notified bool, err error) {
	if poll <= 0 {
		poll = DefaultPoll
	}
	if !s.selected {
		if _, err := s.examine(ctx); err != nil {
			return false, err
		}
	}
	if s.drainNotify() {
		return true, nil
	}
	if !s.SupportsIdle() {
		return s.poll(ctx, poll)
	}
	// Not ctx: when it ends, IDLE is ended with DONE and the connection
	// stays usable.
	var waitErr error
	err = s.do(context.WithoutCancel(ctx), "idle", 0, func() error {
		idle, err := s.c.Idle()
		if err != nil {
			return err
		}
		s.guard.arm(poll+s.cfg.Timeout, replyBudget)
		notified, waitErr = s.idle(ctx, poll)
		// End IDLE (DONE) and wait for the server's OK.
		s.guard.arm(s.cfg.Timeout, replyBudget)
		if err := idle.Close(); err != nil {
			return err
		}
		return idle.Wait()
	})
	switch {
	case waitErr != nil:
		return false, s.errorf("idle", 0, waitErr)
	case err != nil:
		return false, err
	}
	return notified || s.drainNotify(), nil
}

// idle waits, IDLE running, for the server to report new mail, poll to
// pass, ctx to end or the connection to close.
func (s *Scanner) idle(ctx context.Context, poll time.Duration) (notified bool, err error) {
	t := time.NewTimer(poll)
	defer t.Stop()
	select {
	case <-s.changed:
		return true, nil
	case <-t.C:
		return false, nil
	case <-ctx.Done():
		return false, ctx.Err()
	case <-s.c.Closed():
		return false, errors.New("server closed the connection during IDLE")
	}
}

// poll is Wait for servers without IDLE.
func (s *Scanner) poll(ctx context.Context, poll time.Duration) (bool, error) {
	t := time.NewTimer(poll)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
		return false, s.errorf("poll", 0, ctx.Err())
	}
	if err := s.do(ctx, "noop", 0, func() error { return s.c.Noop().Wait() }); err != nil {
		return false, err
	}
	return s.drainNotify(), nil
}

// MarkProcessed flags and/or moves processed mail as the configuration says
// (ProcessedFlag, ProcessedMailbox); both are off by default, and then it
// returns ErrMarkingDisabled. Scan only ever EXAMINEs the mailbox (read-only);
// MarkProcessed alone SELECTs it read-write, checks that its UIDVALIDITY is
// still uidValidity (the one the UIDs came from; nothing is touched
// otherwise), stores the flag with UID STORE +FLAGS.SILENT and moves with UID
// MOVE (COPY, STORE \Deleted, UID EXPUNGE where MOVE is missing). The next
// Scan or Wait EXAMINEs the mailbox again.
func (s *Scanner) MarkProcessed(ctx context.Context, uidValidity uint32, uids []uint32) error {
	if s.cfg.ProcessedFlag == "" && s.cfg.ProcessedMailbox == "" {
		return s.errorf("mark", 0, ErrMarkingDisabled)
	}
	if len(uids) == 0 {
		return nil
	}
	var set imap.UIDSet
	for _, u := range uids {
		set.AddNum(imap.UID(u))
	}
	s.selected = false
	var sel *imap.SelectData
	err := s.do(ctx, "select", 0, func() error {
		var err error
		sel, err = s.c.Select(s.cfg.Mailbox, nil).Wait()
		return err
	})
	if err != nil {
		return err
	}
	if sel.UIDValidity != uidValidity {
		return s.errorf("mark", uids[0], fmt.Errorf("UIDVALIDITY is %d, the UIDs are from %d: not marking", sel.UIDValidity, uidValidity))
	}
	if f := s.cfg.ProcessedFlag; f != "" {
		err := s.do(ctx, "store "+f, uids[0], func() error {
			return s.c.Store(set, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.Flag(f)}}, nil).Close()
		})
		if err != nil {
			return err
		}
	}
	if mb := s.cfg.ProcessedMailbox; mb != "" {
		err := s.do(ctx, "move to "+mb, uids[0], func() error {
			_, err := s.c.Move(set, mb).Wait()
			return err
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// Backoff is an exponential delay between reconnection attempts.
type Backoff struct {
	Min time.Duration // first delay; 0 means 1s
	Max time.Duration // cap; 0 means 5m
}

// Delay returns the delay before retry number attempt (0-based): Min doubled
// attempt times, capped at Max, with up to 20% random jitter subtracted so a
// fleet of bots does not reconnect in lockstep.
func (b Backoff) Delay(attempt int) time.Duration {
	lo, hi := b.Min, b.Max
	if lo <= 0 {
		lo = time.Second
	}
	if hi <= 0 {
		hi = 5 * time.Minute
	}
	d := lo
	for i := 0; i < attempt && d < hi; i++ {
		d *= 2
	}
	d = min(d, hi)
	return d - time.Duration(rand.Int64N(int64(d)/5+1))
}

// Redial dials until it succeeds, waiting b.Delay between attempts. It gives
// up at once on permanent errors (IsPermanent) and when ctx ends. report, if
// not nil, is told of every failed attempt and the delay before the next one.
func Redial(ctx context.Context, cfg IMAPConfig, b Backoff, report func(attempt int, err error, next time.Duration)) (*Scanner, error) {
	for attempt := 0; ; attempt++ {
		s, err := Dial(ctx, cfg)
		if err == nil {
			return s, nil
		}
		if IsPermanent(err) || ctx.Err() != nil {
			return nil, err
		}
		d := b.Delay(attempt)
		if report != nil {
			report(attempt, err, d)
		}
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("giving up reconnecting to %s: %w (last error: %v)", cfg.Addr, ctx.Err(), err)
		}
	}
}

// WatchOptions tune Watch.
type WatchOptions struct {
	Poll    time.Duration                                    // passed to Wait
	Backoff Backoff                                          // between reconnections
	Report  func(attempt int, err error, next time.Duration) // told of connection failures; may be nil
}

// Watch keeps a connection to the mailbox, scanning from cp and then after
// every Wait, and calls handle with each scan's result and the connection
// (to MarkProcessed what it handled). handle must persist
// res.Next once it has processed the candidates; Watch continues from
// res.Next only if handle returns nil, and returns handle's error otherwise,
// except an error that wraps context.DeadlineExceeded while ctx is alive:
// handle ran out of a deadline of its own (a pass that took too long), and
// that is retried like a connection failure. Connection failures (a server
// that stopped answering included) are reported to opts.Report and retried
// after opts.Backoff on a new connection, from the last checkpoint; Watch
// returns on ctx's end or a permanent error.
func Watch(ctx context.Context, cfg IMAPConfig, opts WatchOptions, cp Checkpoint, handle func(ctx context.Context, s *Scanner, res ScanResult) error) error {
	attempt := 0
	for {
		s, err := Redial(ctx, cfg, opts.Backoff, opts.Report)
		if err != nil {
			return err
		}
		cp, err = watchConn(ctx, s, opts, cp, handle, &attempt)
		s.Close()
		var he handlerError
		if errors.As(err, &he) {
			return he.err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if IsPermanent(err) {
			return err
		}
		d := opts.Backoff.Delay(attempt)
		if opts.Report != nil {
			opts.Report(attempt, err, d)
		}
		attempt++
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
	}
}

// handlerError carries an error of Watch's handler through watchConn.
type handlerError struct{ err error }

func (e handlerError) Error() string { return e.err.Error() }

// watchConn is Watch on one connection; it returns the checkpoint reached.
func watchConn(ctx context.Context, s *Scanner, opts WatchOptions, cp Checkpoint, handle func(context.Context, *Scanner, ScanResult) error, attempt *int) (Checkpoint, error) {
	for {
		res, err := s.Scan(ctx, cp)
		if err != nil {
			return cp, err
		}
		*attempt = 0 // a successful scan proves the connection healthy
		if err := handle(ctx, s, res); err != nil {
			if ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
				return cp, err // handle's own deadline: reconnect and retry
			}
			return cp, handlerError{err}
		}
		cp = res.Next
		if res.More {
			continue
		}
		if _, err := s.Wait(ctx, opts.Poll); err != nil {
			return cp, err
		}
	}
}
