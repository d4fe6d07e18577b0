package mailwatch

import (
	"context"
	"errors"
	"fmt"

	"github.com/emersion/go-imap/v2"
)

// ErrNoMailbox is wrapped by Probe's error when the server says a mailbox
// rtbot is configured to use does not exist (or the account may not see
// it).
var ErrNoMailbox = errors.New("the server has no such mailbox for this account")

// Probe checks that the server answers and takes cfg's credentials, and
// that the mailboxes rtbot uses exist, changing nothing: it connects and
// logs in as Dial does (within cfg.DialTimeout), asks the STATUS of
// cfg.Mailbox and of cfg.ProcessedMailbox when set (no mailbox is
// selected, no flag changes), and logs out. Errors are *Error, as Dial's;
// a mailbox the server does not have is an *Error of Op "status", naming
// it in Mailbox, that wraps ErrNoMailbox and is permanent.
func Probe(ctx context.Context, cfg IMAPConfig) error {
	s, err := Dial(ctx, cfg)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.DialTimeout)
	defer cancel()
	for _, mb := range []string{s.cfg.Mailbox, s.cfg.ProcessedMailbox} {
		if mb == "" {
			continue
		}
		if err := s.mailboxExists(ctx, mb); err != nil {
			s.Close()
			return err
		}
	}
	return s.Close()
}

// mailboxExists asks the STATUS of mailbox mb. A NO answer (RFC 5530's
// NONEXISTENT, or a plain NO: servers differ) says it does not exist for
// this account.
func (s *Scanner) mailboxExists(ctx context.Context, mb string) error {
	err := s.do(ctx, "status", 0, func() error {
		_, err := s.c.Status(mb, &imap.StatusOptions{NumMessages: true}).Wait()
		return err
	})
	var e *Error
	if errors.As(err, &e) {
		e.Mailbox = mb
		var ie *imap.Error
		if errors.As(err, &ie) && ie.Type == imap.StatusResponseTypeNo {
			e.Err = permanentError{fmt.Errorf("%w (%w)", ErrNoMailbox, ie)}
		}
	}
	return err
}
