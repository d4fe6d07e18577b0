// Package mailout sends rtbot's triage reports: plain-text UTF-8 mail,
// threaded under the announcement it answers, submitted with go-smtp over
// TLS or STARTTLS with AUTH PLAIN.
//
// Part of every report comes from hostile list mail, so a Message refuses
// any header value that could end the header (CR, LF, NUL), any address
// net/mail cannot parse and any Message-ID that is not a plain
// local@domain; Send classifies every failure as temporary (retry on the
// next pass) or permanent.
package mailout

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"regexp"
	"slices"
	"strings"
	"time"

	gomail "github.com/emersion/go-message/mail"
	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Server is where and how to submit mail.
type Server struct {
	Addr string // host:port
	// TLS is "tls" (TLS from the first byte; the default when empty),
	// "starttls", or "plain" (accepted only for a loopback host).
	TLS      string
	Username string // empty: no AUTH
	Password string
	// TLSConfig replaces the system trust settings; its ServerName
	// defaults to Addr's host.
	TLSConfig *tls.Config
	LocalName string        // EHLO name; default "localhost"
	Timeout   time.Duration // bounds dialing and each command; default 60s
}

// Message is one plain-text UTF-8 mail.
type Message struct {
	From       string   // RFC 5322 address: "Name <addr>" or addr
	To, Cc     []string // RFC 5322 addresses; the envelope gets To and Cc
	Subject    string
	Body       string // UTF-8 text; CRLF and lone CR are sent as line ends
	MessageID  string // without angle brackets; required
	InReplyTo  string // Message-ID this answers, without brackets; optional
	References []string
	Date       time.Time         // zero: now
	Headers    map[string]string // extra X- headers
}

var (
	msgIDRE = regexp.MustCompile(`^[A-Za-z0-9!#$%&'*+/=?^_{|}~.-]+@[A-Za-z0-9!#$%&'*+/=?^_{|}~.\[\]:-]+$`)
	xHeadRE = regexp.MustCompile(`^X-[A-Za-z0-9-]+$`)
)

// badChars end a header line.
const badChars = "\r\n\x00"

// checkID checks a Message-ID without brackets.
func checkID(header, id string) error {
	if !msgIDRE.MatchString(id) {
		return fmt.Errorf("mail header %s: %q is not a message id of the form local@domain", header, id)
	}
	return nil
}

func parseAddrs(header string, list []string) ([]*gomail.Address, error) {
	var out []*gomail.Address
	for _, s := range list {
		if strings.ContainsAny(s, badChars) {
			return nil, fmt.Errorf("mail header %s: %q contains a line break", header, s)
		}
		a, err := mail.ParseAddress(s)
		if err != nil {
			return nil, fmt.Errorf("mail header %s: %q: %w", header, s, err)
		}
		out = append(out, &gomail.Address{Name: a.Name, Address: a.Address})
	}
	return out, nil
}

// Bytes returns the message in RFC 5322 form, or an error naming the header
// that cannot be written safely.
func (m *Message) Bytes() ([]byte, error) {
	var h gomail.Header
	from, err := parseAddrs("From", []string{m.From})
	if err != nil {
		return nil, err
	}
	to, err := parseAddrs("To", m.To)
	if err != nil {
		return nil, err
	}
	if len(to) == 0 {
		return nil, errors.New("mail header To: no recipient")
	}
	cc, err := parseAddrs("Cc", m.Cc)
	if err != nil {
		return nil, err
	}
	if strings.ContainsAny(m.Subject, badChars) {
		return nil, fmt.Errorf("mail header Subject: %q contains a line break", m.Subject)
	}
	if err := checkID("Message-ID", m.MessageID); err != nil {
		return nil, err
	}
	refs := slices.Clone(m.References)
	if m.InReplyTo != "" {
		if err := checkID("In-Reply-To", m.InReplyTo); err != nil {
			return nil, err
		}
		if !slices.Contains(refs, m.InReplyTo) {
			refs = append(refs, m.InReplyTo)
		}
	}
	for _, r := range refs {
		if err := checkID("References", r); err != nil {
			return nil, err
		}
	}
	h.SetAddressList("From", from)
	h.SetAddressList("To", to)
	if len(cc) > 0 {
		h.SetAddressList("Cc", cc)
	}
	h.SetSubject(m.Subject)
	date := m.Date
	if date.IsZero() {
		date = time.Now()
	}
	h.SetDate(date)
	h.SetMessageID(m.MessageID)
	if m.InReplyTo != "" {
		h.SetMsgIDList("In-Reply-To", []string{m.InReplyTo})
	}
	if len(refs) > 0 {
		h.SetMsgIDList("References", refs)
	}
	keys := make([]string, 0, len(m.Headers))
	for k := range m.Headers {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		v := m.Headers[k]
		if !xHeadRE.MatchString(k) {
			return nil, fmt.Errorf("mail header %q: extra headers must be X-[A-Za-z0-9-]+", k)
		}
		if strings.ContainsAny(v, badChars) {
			return nil, fmt.Errorf("mail header %s: %q contains a line break", k, v)
		}
		h.Set(k, v)
	}
	h.Set("MIME-Version", "1.0")
	h.SetContentType("text/plain", map[string]string{"charset": "utf-8"})
	h.Set("Content-Transfer-Encoding", "quoted-printable")
	var b bytes.Buffer
	w, err := gomail.CreateSingleInlineWriter(&b, h)
	if err != nil {
		return nil, fmt.Errorf("mail: %w", err)
	}
	if _, err := w.Write([]byte(strings.ReplaceAll(normalizeEOL(m.Body), "\n", "\r\n"))); err != nil {
		return nil, fmt.Errorf("mail body: %w", err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("mail body: %w", err)
	}
	return b.Bytes(), nil
}

// normalizeEOL turns CRLF and lone CR line ends into LF.
func normalizeEOL(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\r", "\n")
}

// MessageID returns a Message-ID at domain that depends only on key: the
// same report gets the same id on every attempt, which is how the actions
// ledger recognises it.
func MessageID(domain string, key ...string) string {
	h := sha256.New()
	for _, k := range key {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(k)))
		h.Write(n[:])
		h.Write([]byte(k))
	}
	return "rtbot." + hex.EncodeToString(h.Sum(nil))[:24] + "@" + domain
}

// Hooks let the caller act at points of a submission.
type Hooks struct {
	// BeforeCommit, when not nil, is called after the whole message was
	// transmitted but before the final "." that makes the server accept it.
	// If it returns an error the connection is closed without the final
	// dot, so the server discards the message, and Send returns the error.
	BeforeCommit func() error
}

// Error is a failed submission.
type Error struct {
	Addr  string
	Stage string // "dial", "tls", "hello", "auth", "mail", "rcpt", "data", "commit"
	Code  int    // SMTP reply code; 0 for a network failure
	// Temporary says a later attempt may succeed (4xx, network, timeout);
	// 5xx replies and refused authentication are permanent.
	Temporary bool
	Err       error
}

func (e *Error) Error() string { return fmt.Sprintf("smtp %s: %s: %v", e.Addr, e.Stage, e.Err) }

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// IsTemporary reports whether err is a submission failure worth retrying.
func IsTemporary(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Temporary
}

func classify(addr, stage string, err error) error {
	e := &Error{Addr: addr, Stage: stage, Err: err}
	var se *smtp.SMTPError
	var ce *tls.CertificateVerificationError
	switch {
	case errors.As(err, &se):
		e.Code, e.Temporary = se.Code, se.Code/100 == 4
	case errors.As(err, &ce):
		// An untrusted certificate stays untrusted.
	default:
		// The network: refused, reset, timed out, closed.
		e.Temporary = true
	}
	return e
}

// isLoopback reports whether host is localhost or a loopback IP literal.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Send submits m to the server. Every recipient must be accepted: a refused
// one fails the whole submission, so a report never reaches only some
// maintainers.
func Send(ctx context.Context, s Server, m *Message, hooks Hooks) error {
	data, err := m.Bytes()
	if err != nil {
		return err
	}
	host, _, err := net.SplitHostPort(s.Addr)
	if err != nil {
		return &Error{Addr: s.Addr, Stage: "dial", Err: err}
	}
	mode := s.TLS
	if mode == "" {
		mode = "tls"
	}
	if mode == "plain" && !isLoopback(host) {
		return &Error{Addr: s.Addr, Stage: "dial", Err: errors.New("plain SMTP is only allowed to a loopback address; use tls or starttls")}
	}
	if mode != "plain" && mode != "tls" && mode != "starttls" {
		return &Error{Addr: s.Addr, Stage: "dial", Err: fmt.Errorf("unknown TLS mode %q", s.TLS)}
	}
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = 60 * time.Second
	}
	tcfg := &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
	if s.TLSConfig != nil {
		tcfg = s.TLSConfig.Clone()
		if tcfg.ServerName == "" {
			tcfg.ServerName = host
		}
	}
	d := net.Dialer{Timeout: timeout}
	conn, err := d.DialContext(ctx, "tcp", s.Addr)
	if err != nil {
		return classify(s.Addr, "dial", err)
	}
	// The context's end closes the connection, which ends any blocked call.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	deadline := func() { conn.SetDeadline(time.Now().Add(timeout)) }
	deadline()
	if mode == "tls" {
		tc := tls.Client(conn, tcfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			conn.Close()
			return classify(s.Addr, "tls", err)
		}
		conn = tc
	}
	var c *smtp.Client
	if mode == "starttls" {
		if c, err = smtp.NewClientStartTLS(conn, tcfg); err != nil {
			conn.Close()
			return ctxOr(ctx, classify(s.Addr, "tls", err))
		}
	} else {
		c = smtp.NewClient(conn)
	}
	defer c.Close()
	local := s.LocalName
	if local == "" {
		local = "localhost"
	}
	if err := c.Hello(local); err != nil {
		return ctxOr(ctx, classify(s.Addr, "hello", err))
	}
	if s.Username != "" {
		if _, secure := c.TLSConnectionState(); !secure && !isLoopback(host) {
			return &Error{Addr: s.Addr, Stage: "auth", Err: errors.New("refusing AUTH over an unencrypted connection")}
		}
		deadline()
		if err := c.Auth(sasl.NewPlainClient("", s.Username, s.Password)); err != nil {
			return ctxOr(ctx, classify(s.Addr, "auth", err))
		}
	}
	fromAddr, _ := mail.ParseAddress(m.From)
	deadline()
	if err := c.Mail(fromAddr.Address, nil); err != nil {
		return ctxOr(ctx, classify(s.Addr, "mail", err))
	}
	seen := map[string]bool{}
	for _, r := range append(slices.Clone(m.To), m.Cc...) {
		a, _ := mail.ParseAddress(r)
		if seen[strings.ToLower(a.Address)] {
			continue
		}
		seen[strings.ToLower(a.Address)] = true
		deadline()
		if err := c.Rcpt(a.Address, nil); err != nil {
			return ctxOr(ctx, classify(s.Addr, "rcpt <"+a.Address+">", err))
		}
	}
	deadline()
	w, err := c.Data()
	if err != nil {
		return ctxOr(ctx, classify(s.Addr, "data", err))
	}
	if _, err := w.Write(data); err != nil {
		return ctxOr(ctx, classify(s.Addr, "data", err))
	}
	if hooks.BeforeCommit != nil {
		if err := hooks.BeforeCommit(); err != nil {
			conn.Close() // no final dot: the server discards the message
			return fmt.Errorf("smtp %s: before commit: %w", s.Addr, err)
		}
	}
	deadline()
	if err := w.Close(); err != nil {
		return ctxOr(ctx, classify(s.Addr, "commit", err))
	}
	c.Quit()
	return nil
}

// ctxOr prefers the context's error when it ended the call.
func ctxOr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		var e *Error
		if errors.As(err, &e) {
			e.Err = fmt.Errorf("%w (%v)", ctx.Err(), e.Err)
			e.Temporary = true
		}
	}
	return err
}
