package mailout

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"github.com/rtbot/rtbot/internal/netsec"
	"github.com/rtbot/rtbot/internal/saslauth"
)

// Server is where and how to submit mail.
type Server struct {
	Addr string // host:port
	// TLS is how the connection is protected; empty means netsec.TLS.
	// netsec.Plain is allowed only to a host netsec.LoopbackHost accepts
	// (to any other, Send fails before dialing), and only when the
	// connection reaches a loopback address.
	TLS      netsec.Mode
	Username string // empty: no AUTH
	Password string
	// Token, when not nil, makes AUTH use OAuth2 (OAUTHBEARER, or XOAUTH2
	// when the server offers only that) with the access token it returns,
	// asked at each submission, instead of AUTH PLAIN and Password.
	Token func(ctx context.Context) (string, error)
	// TLSConfig replaces the default (system roots, TLS 1.2 or later); its
	// ServerName defaults to Addr's host.
	TLSConfig *tls.Config
	LocalName string // EHLO name; default "localhost"
	// Timeout bounds dialing, and the wait for every reply: the greeting,
	// EHLO, STARTTLS and the handshake, AUTH, MAIL, RCPT, DATA, the final
	// dot, QUIT. Zero means DefaultTimeout.
	Timeout time.Duration
}

// DefaultTimeout is Server.Timeout when it is zero: a server that has not
// answered a command within a minute is not going to.
const DefaultTimeout = 60 * time.Second

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
	// Stage is where it failed: "dial"; "greeting", the opening exchange
	// (the server's greeting and EHLO, and with STARTTLS the STARTTLS
	// command); "tls" (the handshake, a certificate, a server without
	// STARTTLS); "auth"; "mail"; "rcpt"; "data"; or "commit", the reply
	// to the final dot.
	Stage string
	Code  int // SMTP reply code; 0 for a network or TLS failure
	// Temporary says a later attempt may succeed: any reply but a 5xx (a
	// 4xx, or a reply that is not SMTP at all: another protocol's banner,
	// garbage), network failures and timeouts. 5xx replies, refused
	// authentication and TLS misconfiguration are permanent.
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

// Refused reports whether err is the server refusing this very message
// for good: a 5xx reply to MAIL, RCPT, DATA or the final dot. Sending it
// again would be refused again; what must change is the message, its
// sender or its recipients. A 5xx to the greeting, STARTTLS or AUTH says
// nothing about the message (a wrong port, a wrong password): once that
// is fixed, the same message may go through.
func Refused(err error) bool {
	var e *Error
	if !errors.As(err, &e) || e.Code/100 != 5 {
		return false
	}
	switch e.Stage {
	case "mail", "rcpt", "data", "commit":
		return true
	}
	return false
}

// classify turns err at stage into an *Error. Only a 5xx reply is a
// refusal; a reply that is not SMTP says nothing about the message, so it
// is temporary, like a network failure.
func classify(addr, stage string, err error) *Error {
	e := &Error{Addr: addr, Stage: stage, Err: err}
	var se *smtp.SMTPError
	var pe textproto.ProtocolError
	switch {
	case errors.As(err, &se):
		e.Code = se.Code
		e.Temporary = se.Code/100 != 5
	case errors.As(err, &pe), errors.Is(err, smtp.ErrTooLongLine):
		e.Err = fmt.Errorf("not an SMTP reply: %w", err)
		e.Temporary = true
	default:
		e.Temporary = isNetwork(err)
	}
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
//
// A body that would travel 8bit goes quoted-printable to a server that
// does not offer 8BITMIME.
func Send(ctx context.Context, s Server, m *Message, h Hooks) error {
	data, env, cte, err := m.compose(true)
	if err != nil {
		return fmt.Errorf("mailout: %w", err)
	}
	ss, c, release, err := connect(ctx, s)
	if err != nil {
		return err
	}
	defer release()
	if ok, _ := c.Extension("8BITMIME"); cte == EightBit && !ok {
		if data, _, _, err = m.compose(false); err != nil {
			return fmt.Errorf("mailout: %w", err)
		}
	}
	if err := ss.envelope(ctx, c, env); err != nil {
		return err
	}
	return ss.data(ctx, c, data, h)
}

// connect opens a session with s up to the point where a message could
// be submitted: dialed, secured as s.TLS says, greeted and, with a
// Username, authenticated. release closes the client and the connection;
// until then the context's end closes the connection, which ends any
// blocked call.
func connect(ctx context.Context, s Server) (ss *session, c *smtp.Client, release func(), err error) {
	if ss, err = newSession(ctx, s); err != nil {
		return nil, nil, nil, err
	}
	if err := ss.dial(ctx); err != nil {
		return nil, nil, nil, err
	}
	stop := context.AfterFunc(ctx, func() { ss.raw.Close() })
	if c, err = ss.start(ctx); err != nil {
		stop()
		ss.raw.Close()
		return nil, nil, nil, err
	}
	release = func() {
		c.Close()
		stop()
		ss.raw.Close()
	}
	if err := ss.auth(ctx, c); err != nil {
		release()
		return nil, nil, nil, err
	}
	return ss, c, release, nil
}

// session is one submission: the server with its defaults filled in, and
// the connection once dialed.
type session struct {
	Server
	host      string // Addr's host
	mode      netsec.Mode
	clientTLS *tls.Config
	ctxEnd    time.Time // the context's deadline; zero: none
	raw       net.Conn  // the TCP connection
	conn      net.Conn  // raw, its deadlines bounded by Timeout and ctxEnd
}

// newSession checks s and fills in its defaults. Nothing is dialed: a
// connection without TLS to a host the loopback rule refuses fails here.
func newSession(ctx context.Context, s Server) (*session, error) {
	host, _, err := net.SplitHostPort(s.Addr)
	if err != nil {
		return nil, &Error{Addr: s.Addr, Stage: "dial", Err: fmt.Errorf("server address: %w", err)}
	}
	mode, err := netsec.ParseMode(string(s.TLS))
	if err != nil {
		return nil, &Error{Addr: s.Addr, Stage: "dial", Err: err}
	}
	if mode == netsec.Plain && !netsec.LoopbackHost(host) {
		return nil, &Error{Addr: s.Addr, Stage: "dial", Err: errPlainNotLoopback}
	}
	if s.Timeout <= 0 {
		s.Timeout = DefaultTimeout
	}
	if s.LocalName == "" {
		s.LocalName = "localhost"
	}
	ss := &session{Server: s, host: host, mode: mode, clientTLS: netsec.ClientConfig(s.TLSConfig, s.Addr)}
	ss.ctxEnd, _ = ctx.Deadline()
	return ss, nil
}

// errPlainNotLoopback refuses SMTP without TLS to another machine.
var errPlainNotLoopback = errors.New("plain (unencrypted) SMTP is only allowed to a loopback address; use tls or starttls")

// fail classifies err at stage; when the context ended, that is the cause.
// The connection's deadline may fire a moment before the context's timer.
func (ss *session) fail(ctx context.Context, stage string, err error) *Error {
	cerr := ctx.Err()
	if cerr == nil && !ss.ctxEnd.IsZero() && !time.Now().Before(ss.ctxEnd) {
		cerr = context.DeadlineExceeded
	}
	if cerr != nil {
		e := classify(ss.Addr, stage, fmt.Errorf("%w (%w)", cerr, err))
		e.Temporary = true
		return e
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		err = fmt.Errorf("no reply within %v: %w", ss.Timeout, err)
	}
	return classify(ss.Addr, stage, err)
}

// dial opens the TCP connection. Without TLS the peer reached must be on
// loopback too, whatever the host name resolved to.
func (ss *session) dial(ctx context.Context) error {
	d := net.Dialer{Timeout: ss.Timeout}
	raw, err := d.DialContext(ctx, "tcp", ss.Addr)
	if err != nil {
		return ss.fail(ctx, "dial", err)
	}
	if ss.mode == netsec.Plain && !netsec.LoopbackPeer(raw) {
		raw.Close()
		return &Error{Addr: ss.Addr, Stage: "dial", Err: fmt.Errorf("%w (connected to %v)", errPlainNotLoopback, raw.RemoteAddr())}
	}
	ss.raw = raw
	ss.conn = &boundedConn{Conn: raw, timeout: ss.Timeout, ctxEnd: ss.ctxEnd}
	if err := ss.conn.SetDeadline(time.Time{}); err != nil {
		raw.Close()
		return ss.fail(ctx, "dial", err)
	}
	return nil
}

// start secures the connection as the mode says and greets the server.
// The connection must then be encrypted unless the mode is Plain.
func (ss *session) start(ctx context.Context) (*smtp.Client, error) {
	var c *smtp.Client
	switch ss.mode {
	case netsec.TLS:
		tc := tls.Client(ss.conn, ss.clientTLS)
		if err := tc.HandshakeContext(ctx); err != nil {
			return nil, ss.fail(ctx, "tls", err)
		}
		c = smtp.NewClient(tc)
	case netsec.StartTLS:
		// go-smtp greets with EHLO localhost before STARTTLS; LocalName is
		// used for the EHLO under TLS.
		var err error
		if c, err = smtp.NewClientStartTLS(ss.conn, ss.clientTLS); err != nil {
			return nil, ss.fail(ctx, openingStage(err), err)
		}
	default:
		c = smtp.NewClient(ss.conn)
	}
	c.CommandTimeout, c.SubmissionTimeout = ss.Timeout, ss.Timeout

	// Under STARTTLS the handshake happens on this first exchange.
	if err := c.Hello(ss.LocalName); err != nil {
		c.Close()
		stage := "greeting"
		if ss.mode == netsec.StartTLS && openingStage(err) == "tls" {
			stage = "tls"
		}
		return nil, ss.fail(ctx, stage, err)
	}
	if _, ok := c.TLSConnectionState(); ss.mode != netsec.Plain && !ok {
		c.Close()
		return nil, ss.fail(ctx, "tls", errors.New("connection is not encrypted"))
	}
	return c, nil
}

// openingStage names where an error of a STARTTLS opening happened:
// "greeting" for a reply (SMTP or not), a silent server or a closed
// connection, "tls" for anything else (the handshake, a certificate, a
// server without STARTTLS).
func openingStage(err error) string {
	var se *smtp.SMTPError
	var pe textproto.ProtocolError
	var ne net.Error
	switch {
	case errors.As(err, &se), errors.As(err, &pe), errors.Is(err, smtp.ErrTooLongLine),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.As(err, &ne) && ne.Timeout():
		return "greeting"
	}
	return "tls"
}

// auth authenticates with AUTH PLAIN when a Username is set, never over
// an unencrypted connection to another machine.
func (ss *session) auth(ctx context.Context, c *smtp.Client) error {
	if ss.Username == "" {
		return nil
	}
	if _, ok := c.TLSConnectionState(); !ok && !netsec.LoopbackHost(ss.host) {
		return ss.fail(ctx, "auth", errors.New("refusing AUTH over an unencrypted connection"))
	}
	if ss.Token != nil {
		return ss.authOAuth2(ctx, c)
	}
	if !c.SupportsAuth(sasl.Plain) {
		return ss.fail(ctx, "auth", errors.New("server does not offer AUTH PLAIN"))
	}
	if err := c.Auth(sasl.NewPlainClient("", ss.Username, ss.Password)); err != nil {
		return ss.fail(ctx, "auth", err)
	}
	return nil
}

// authOAuth2 authenticates with OAUTHBEARER or XOAUTH2 and an access token.
func (ss *session) authOAuth2(ctx context.Context, c *smtp.Client) error {
	mech := saslauth.Choose(c.SupportsAuth)
	if mech == "" {
		return ss.fail(ctx, "auth", errors.New("server offers neither AUTH OAUTHBEARER nor AUTH XOAUTH2"))
	}
	token, err := ss.Token(ctx)
	if err != nil {
		return ss.fail(ctx, "auth", fmt.Errorf("OAuth2 access token: %w", err))
	}
	host, portText, _ := net.SplitHostPort(ss.Addr)
	port, _ := strconv.Atoi(portText)
	sc := saslauth.NewClient(mech, ss.Username, token, host, port)
	if err := c.Auth(sc); err != nil {
		if r := sc.Refusal(); r != "" {
			err = fmt.Errorf("%s: %w (%s)", mech, err, r)
		}
		return ss.fail(ctx, "auth", err)
	}
	return nil
}

// envelope gives the sender and every recipient; one refused recipient
// fails the submission.
func (ss *session) envelope(ctx context.Context, c *smtp.Client, env envelope) error {
	if err := c.Mail(env.from, nil); err != nil {
		return ss.fail(ctx, "mail", err)
	}
	for _, r := range env.rcpt {
		if err := c.Rcpt(r, nil); err != nil {
			e := ss.fail(ctx, "rcpt", err)
			e.Rcpt = r
			return e
		}
	}
	return nil
}

// data writes the message and, after h.BeforeCommit, the final dot that
// makes the server take it.
func (ss *session) data(ctx context.Context, c *smtp.Client, data []byte, h Hooks) error {
	w, err := c.Data()
	if err != nil {
		return ss.fail(ctx, "data", err)
	}
	if _, err := w.Write(data); err != nil {
		return ss.fail(ctx, "data", err)
	}
	if h.BeforeCommit != nil {
		if err := h.BeforeCommit(); err != nil {
			ss.raw.Close() // no final dot: the server discards the message
			return fmt.Errorf("smtp %s: before commit: %w", ss.Addr, err)
		}
		// The hook's time does not count against the final dot.
		if err := ss.conn.SetDeadline(time.Time{}); err != nil {
			return ss.fail(ctx, "commit", err)
		}
	}
	if err := w.Close(); err != nil {
		return ss.fail(ctx, "commit", err)
	}
	// The server has accepted the message; a failed QUIT changes nothing.
	_ = c.Quit()
	return nil
}
