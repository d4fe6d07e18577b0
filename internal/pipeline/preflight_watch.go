package pipeline

import (
	"context"
	"errors"
	"time"

	"github.com/rtbot/rtbot/internal/mailwatch"
)

// watchBackoff is how `rtbot watch` waits between IMAP reconnections, and
// between preflights that failed on a problem that may pass by itself.
func watchBackoff() mailwatch.Backoff {
	return mailwatch.Backoff{Min: time.Second, Max: 5 * time.Minute}
}

// watchGated is Watch with the preflight: it runs the gate first, waiting
// with watchBackoff while it fails on transient problems only, and again
// on every new connection to the IMAP server (a reconnection, after the
// server or the network failed). It returns the *PreflightError of a
// problem that does not pass by itself, so that a daemon with a wrong
// password stops with that error instead of retrying for ever.
func (p *Pipeline) watchGated(ctx context.Context) error {
	var failed error
	for {
		if err := p.awaitPreflight(ctx, watchBackoff(), failed); err != nil {
			return err
		}
		var last *mailwatch.Scanner
		err := p.watchMail(ctx, func(ctx context.Context, sc *mailwatch.Scanner) error {
			if last != nil && sc != last {
				p.log.Info("reconnected to the IMAP server: checking again before reading mail")
				if err := p.Gate(ctx, ScopeAll); err != nil {
					return err
				}
			}
			last = sc
			return nil
		})
		var pe *PreflightError
		if !errors.As(err, &pe) || pe.Permanent() {
			return err
		}
		failed = err
	}
}
