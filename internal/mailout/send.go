package mailout

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Server is where and how to submit mail.
type Server struct {
	Addr string // host:port
	// TLS is "tls" (TLS from the first byte; the default when empty),
	// "starttls", or "plain". Plain is allowed only to a loopback host
	// (localhost, 127.0.0.0/8, ::1); to any other, Send fails before
	// dialing.
	TLS      string
	Username string // empty: no AUTH
	Password string
	// TLSConfig replaces the default (system roots, TLS 1.2 or later); its
	// ServerName defaults to Addr's host.
	TLSConfig *tls.Config
	LocalName string        // EHLO name; default "localhost"
	Timeout   time.Duration // bounds dialing and each command; default 60s
}

// Hooks let the caller act at points of a submission.
type Hooks struct {
	// BeforeCommit, when not nil, is called after the whole message was
	// written in DATA but before the final "." that makes the server accept
	// it. If it returns an error the connection is closed without the final
	// dot (the server then discards the message) and Send returns that error
	// wrapped.
	BeforeCommit func() error
}

// Error is what Send returns for a failure the server or network reported.
type Error struct {
	Stage string // "dial", "tls", "auth", "mail", "rcpt", "data" or "commit"
	Code  int    // SMTP reply code; 0 for a network or TLS failure
	// Temporary says a later attempt may succeed: 4xx replies, network
	// failures and timeouts. 5xx replies, refused authentication and TLS
	// misconfiguration are permanent.
	Temporary bool
	Err       error
	Addr      string // the server, host:port
	Rcpt      string // the refused recipient, at stage "rcpt"
}

// Error returns e.g. "smtp 127.0.0.1:2525: rcpt <a@b>: 550 5.1.1 no such user".
func (e *Error) Error() string {
	stage := e.Stage
	if e.Rcpt != "" {
		stage += " <" + e.Rcpt + ">"
	}
	msg := "<nil>"
	if e.Err != nil {
		msg = e.Err.Error()
		// Show a server reply as the server sent it.
		if se := (*smtp.SMTPError)(nil); errors.As(e.Err, &se) {
			msg = strings.Replace(msg, se.Error(), reply(se), 1)
		}
	}
	return fmt.Sprintf("smtp %s: %s: %s", e.Addr, stage, msg)
}

// reply formats a server reply as the server sent it.
func reply(se *smtp.SMTPError) string {
	s := fmt.Sprint(se.Code)
	if ec := se.EnhancedCode; ec != (smtp.EnhancedCode{}) && ec != smtp.NoEnhancedCode {
		s += fmt.Sprintf(" %d.%d.%d", ec[0], ec[1], ec[2])
	}
	if se.Message != "" {
		s += " " + se.Message
	}
	return s
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// IsTemporary reports whether err is a submission failure worth retrying
// later: a 4xx reply, a network failure or a timeout.
func IsTemporary(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Temporary
}

// MayHaveBeenSent reports whether err leaves it unknown if the server
// took the message: the whole message and its final dot went out and no
// reply came back (the connection failed, or the context ended). Sending
// again could deliver a second copy; a reply (even 4xx) makes it certain
// the message was not taken.
func MayHaveBeenSent(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Stage == "commit" && e.Code == 0
}

// classify turns err at stage into an *Error.
func classify(addr, stage string, err error) *Error {
	e := &Error{Addr: addr, Stage: stage, Err: err}
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		e.Code = se.Code
		e.Temporary = se.Code/100 == 4
		return e
	}
	e.Temporary = isNetwork(err)
	return e
}

// isNetwork reports whether err is the network failing (temporary) rather
// than a misconfiguration or a protocol violation (permanent).
func isNetwork(err error) bool {
	var cve *tls.CertificateVerificationError
	var rhe tls.RecordHeaderError
	var ne net.Error
	switch {
	case errors.As(err, &cve), errors.As(err, &rhe):
		// An untrusted certificate stays untrusted; a server that does
		// not speak TLS will not start to.
		return false
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, net.ErrClosed), errors.Is(err, os.ErrDeadlineExceeded),
		errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded),
		errors.As(err, &ne):
		return true
	}
	return false
}

// isLoopback reports whether host is localhost or a loopback IP literal.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// boundedConn caps every deadline set on the connection, including "none",
// at timeout from now and at the context's deadline. go-smtp sets its own
// per-command deadlines and clears them afterwards; this keeps each command,
// and the time between commands, within Server.Timeout.
type boundedConn struct {
	net.Conn
	timeout time.Duration
	ctxEnd  time.Time // zero: the context has no deadline
}

func (c *boundedConn) bound(t time.Time) time.Time {
	limit := time.Now().Add(c.timeout)
	if !c.ctxEnd.IsZero() && c.ctxEnd.Before(limit) {
		limit = c.ctxEnd
	}
	if t.IsZero() || t.After(limit) {
		return limit
	}
	return t
}

func (c *boundedConn) SetDeadline(t time.Time) error { return c.Conn.SetDeadline(c.bound(t)) }

func (c *boundedConn) SetReadDeadline(t time.Time) error {
	return c.Conn.SetReadDeadline(c.bound(t))
}

func (c *boundedConn) SetWriteDeadline(t time.Time) error {
	return c.Conn.SetWriteDeadline(c.bound(t))
}

// Send submits m to s. Every recipient must be accepted: one refusal fails
// the whole submission (nothing is sent), so a report never reaches only
// some maintainers and a rerun retries all of them.
//
// A message Bytes refuses is returned as that error; everything the
// network or server reports is an *Error. Cancelling ctx closes the
// connection and ends Send at once with a temporary *Error that wraps
// ctx.Err().
func Send(ctx context.Context, s Server, m *Message, h Hooks) error {
	data, env, err := m.compose()
	if err != nil {
		return fmt.Errorf("mailout: %w", err)
	}
	host, _, err := net.SplitHostPort(s.Addr)
	if err != nil {
		return &Error{Addr: s.Addr, Stage: "dial", Err: fmt.Errorf("server address: %w", err)}
	}
	mode := s.TLS
	if mode == "" {
		mode = "tls"
	}
	switch mode {
	case "tls", "starttls":
	case "plain":
		if !isLoopback(host) {
			return &Error{Addr: s.Addr, Stage: "dial", Err: errors.New("plain (unencrypted) SMTP is only allowed to a loopback address; use tls or starttls")}
		}
	default:
		return &Error{Addr: s.Addr, Stage: "dial", Err: fmt.Errorf("unknown TLS mode %q (want tls, starttls or plain)", s.TLS)}
	}
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = 60 * time.Second
	}
	tcfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if s.TLSConfig != nil {
		tcfg = s.TLSConfig.Clone()
	}
	if tcfg.ServerName == "" {
		tcfg.ServerName = host
	}
	local := s.LocalName
	if local == "" {
		local = "localhost"
	}

	// fail classifies err; when the context ended, that is the cause. The
	// connection's deadline may fire a moment before the context's timer.
	ctxEnd, hasEnd := ctx.Deadline()
	fail := func(stage string, err error) *Error {
		cerr := ctx.Err()
		if cerr == nil && hasEnd && !time.Now().Before(ctxEnd) {
			cerr = context.DeadlineExceeded
		}
		if cerr != nil {
			e := classify(s.Addr, stage, fmt.Errorf("%w (%w)", cerr, err))
			e.Temporary = true
			return e
		}
		return classify(s.Addr, stage, err)
	}

	d := net.Dialer{Timeout: timeout}
	raw, err := d.DialContext(ctx, "tcp", s.Addr)
	if err != nil {
		return fail("dial", err)
	}
	defer raw.Close()
	// The context's end closes the connection, which ends any blocked call.
	stop := context.AfterFunc(ctx, func() { raw.Close() })
	defer stop()
	var conn net.Conn = &boundedConn{Conn: raw, timeout: timeout, ctxEnd: ctxEnd}
	if err := conn.SetDeadline(time.Time{}); err != nil {
		return fail("dial", err)
	}

	var c *smtp.Client
	switch mode {
	case "tls":
		tc := tls.Client(conn, tcfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			return fail("tls", err)
		}
		c = smtp.NewClient(tc)
	case "starttls":
		// go-smtp greets with EHLO localhost before STARTTLS; LocalName is
		// used for the EHLO under TLS.
		if c, err = smtp.NewClientStartTLS(conn, tcfg); err != nil {
			return fail("tls", err)
		}
	default:
		c = smtp.NewClient(conn)
	}
	defer c.Close()
	c.CommandTimeout, c.SubmissionTimeout = timeout, timeout

	// Under STARTTLS the handshake happens on this first exchange.
	if err := c.Hello(local); err != nil {
		var se *smtp.SMTPError
		if mode == "starttls" && !errors.As(err, &se) {
			return fail("tls", err)
		}
		return fail("dial", fmt.Errorf("greeting: %w", err))
	}
	if _, ok := c.TLSConnectionState(); mode != "plain" && !ok {
		return fail("tls", errors.New("connection is not encrypted"))
	}
	if s.Username != "" {
		if _, ok := c.TLSConnectionState(); !ok && !isLoopback(host) {
			return fail("auth", errors.New("refusing AUTH over an unencrypted connection"))
		}
		if !c.SupportsAuth(sasl.Plain) {
			return fail("auth", errors.New("server does not offer AUTH PLAIN"))
		}
		if err := c.Auth(sasl.NewPlainClient("", s.Username, s.Password)); err != nil {
			return fail("auth", err)
		}
	}
	if err := c.Mail(env.from, nil); err != nil {
		return fail("mail", err)
	}
	for _, r := range env.rcpt {
		if err := c.Rcpt(r, nil); err != nil {
			e := fail("rcpt", err)
			e.Rcpt = r
			return e
		}
	}
	w, err := c.Data()
	if err != nil {
		return fail("data", err)
	}
	if _, err := w.Write(data); err != nil {
		return fail("data", err)
	}
	if h.BeforeCommit != nil {
		if err := h.BeforeCommit(); err != nil {
			raw.Close() // no final dot: the server discards the message
			return fmt.Errorf("smtp %s: before commit: %w", s.Addr, err)
		}
		// The hook's time does not count against the final dot.
		if err := conn.SetDeadline(time.Time{}); err != nil {
			return fail("commit", err)
		}
	}
	if err := w.Close(); err != nil {
		return fail("commit", err)
	}
	// The server has accepted the message; a failed QUIT changes nothing.
	_ = c.Quit()
	return nil
}
