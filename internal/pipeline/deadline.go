package pipeline

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rtbot/rtbot/internal/config"
	"github.com/rtbot/rtbot/internal/mailwatch"
	"github.com/rtbot/rtbot/internal/remote"
)

// Deadlines.
//
// Every network step of a pass has a deadline from the configuration
// (config's Deadlines): each IMAP command ([imap] timeout, in mailwatch),
// each fetch, push and listing of a remote ([git] timeout and
// list_timeout, here), each SMTP exchange and trigger (their own keys).
// The pass as a whole has one more, [bot] pass_timeout, for a step that
// waits in a way nobody foresaw: when it passes, the pass's context ends,
// every step in progress fails, nothing more is recorded (as after a
// crash, which the ledger makes safe) and the pass returns an error that
// says so; the next pass resumes where this one stopped. A step that does
// not even look at its context is the last case: Options.Stuck is called
// stuckGrace after the pass deadline if the pass is still running, and
// the commands exit there, so that the lock is released.

// DefaultPassTimeout is [bot] pass_timeout's default, added to the
// triggers' timeouts (see config's Deadlines): one hour is many times what
// a pass takes when every server answers.
const DefaultPassTimeout = time.Hour

// maxStuckGrace bounds how long a pass may go on past its deadline before
// Options.Stuck is called; a short pass deadline gets as much grace as the
// deadline itself.
const maxStuckGrace = time.Minute

// PassTimeoutError is the error of a pass its deadline, [bot]
// pass_timeout, stopped. It wraps context.DeadlineExceeded and the error
// the pass stopped with.
type PassTimeoutError struct {
	Timeout time.Duration
	Err     error
}

func (e *PassTimeoutError) Error() string {
	return fmt.Sprintf("the pass was stopped at its deadline ([bot] pass_timeout is %v); the next pass resumes where it stopped: %v",
		e.Timeout, e.Err)
}

// Unwrap returns context.DeadlineExceeded and the pass's error.
func (e *PassTimeoutError) Unwrap() []error { return []error{context.DeadlineExceeded, e.Err} }

// passContext bounds ctx by the pass deadline and starts the watch for a
// stuck pass. The pass calls end with its error when it returns: end stops
// both and, when the pass deadline ended it, says so in the error.
func (p *Pipeline) passContext(ctx context.Context) (context.Context, func(error) error) {
	d := orDefault(p.cfg.Bot.PassTimeout, DefaultPassTimeout)
	pctx, cancel := context.WithTimeout(ctx, d)
	stuck := func() {}
	if p.opts.Stuck != nil {
		grace := min(d, maxStuckGrace)
		t := time.AfterFunc(d+grace, func() {
			p.opts.Stuck(fmt.Errorf("the pass is still running %v after its deadline ([bot] pass_timeout is %v): a step does not stop; "+
				"exiting so that the lock is released (the next pass resumes where this one stopped)", grace, d))
		})
		stuck = func() { t.Stop() }
	}
	return pctx, func(err error) error {
		stuck()
		expired := pctx.Err() != nil && ctx.Err() == nil
		cancel()
		if expired && err != nil {
			return &PassTimeoutError{Timeout: d, Err: err}
		}
		return err
	}
}

// imapError adds to an IMAP error the configuration key that decides it,
// when the server stopped answering.
func imapError(cfg *config.Config, err error) error {
	if errors.Is(err, mailwatch.ErrTimeout) {
		return fmt.Errorf("%w ([imap] timeout is %v)", err, cfg.IMAP.Timeout.Duration)
	}
	return err
}

// gitDeadline bounds ctx by d for one remote operation; done adds to the
// operation's error the configuration key that decides d, when it was
// this deadline that ended it.
func gitDeadline(ctx context.Context, d time.Duration, key string) (context.Context, func(error) error) {
	gctx, cancel := context.WithTimeout(ctx, d)
	return gctx, func(err error) error {
		expired := gctx.Err() != nil && ctx.Err() == nil
		cancel()
		if expired && err != nil {
			return fmt.Errorf("%w (the remote did not finish within [git] %s, %v)", err, key, d)
		}
		return err
	}
}

// gitTimeout bounds ctx by [git] timeout, for a fetch or a push; done
// adds the key to an error the deadline caused.
func (p *Pipeline) gitTimeout(ctx context.Context) (context.Context, func(error) error) {
	return gitDeadline(ctx, orDefault(p.cfg.Git.Timeout, remote.DefaultTimeout), "timeout")
}

// gitListTimeout bounds ctx by [git] list_timeout, for listing a remote's
// refs.
func (p *Pipeline) gitListTimeout(ctx context.Context) (context.Context, func(error) error) {
	return gitDeadline(ctx, orDefault(p.cfg.Git.ListTimeout, remote.DefaultListTimeout), "list_timeout")
}

// orDefault is d, or def when d is not set (a configuration made without
// config.Load).
func orDefault(d config.Duration, def time.Duration) time.Duration {
	if d.Duration <= 0 {
		return def
	}
	return d.Duration
}

// timedOut reports whether err is a deadline's: a step that already waited
// for its whole deadline is not tried again in the same pass.
func timedOut(err error) bool {
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, mailwatch.ErrTimeout)
}
