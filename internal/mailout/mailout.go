// Package mailout sends rtbot's triage reports: plain-text UTF-8 mail,
// threaded under the announcement it answers, submitted with go-smtp over
// TLS or STARTTLS with AUTH PLAIN.
//
// The body travels as it is written whenever it can, as a mail client
// would send it: 7bit when it is ASCII, 8bit when it is UTF-8 (and the
// server takes 8BITMIME), quoted-printable only when a line needs it
// (longer than 998 octets, or holding a control character).
//
// Part of every report comes from hostile list mail, so a Message refuses
// any header value that could end the header (CR, LF, NUL) or carry other
// control characters, any address net/mail cannot parse and any Message-ID
// msgid.Check refuses (the same rule mailwatch applies to announcements, so
// a report can always be threaded under the mail it answers). Send
// classifies every failure as temporary (retry on the next pass) or
// permanent.
package mailout

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net/mail"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	gomail "github.com/emersion/go-message/mail"
	"github.com/rtbot/rtbot/internal/msgid"
)

// Message is one plain-text UTF-8 mail.
type Message struct {
	From       string   // RFC 5322 address: "Name <addr>" or addr
	To, Cc     []string // RFC 5322 addresses; envelope recipients are To+Cc (deduplicated)
	Subject    string
	Body       string // UTF-8 text with "\n" line ends
	MessageID  string // without angle brackets, e.g. "rtbot.abc123@example.org"; required
	InReplyTo  string // Message-ID (no brackets) this replies to; optional
	References []string
	Date       time.Time         // zero: time.Now()
	Headers    map[string]string // extra headers; names must be X-[A-Za-z0-9-]+
}

// maxTextLen bounds a Subject, an extra header's value and one address, in
// bytes (a Message-ID is bounded by msgid.MaxLen): every header line stays
// under RFC 5322's 998 octets, so folding never has to split a word (which
// would change the value).
const maxTextLen = 900

var xHeadRE = regexp.MustCompile(`^X-[A-Za-z0-9-]+$`)

// envelope is what SMTP needs besides the message bytes.
type envelope struct {
	from string
	rcpt []string // To then Cc, each address once
}

// Bytes returns the message in RFC 5322 form, or an error naming the header
// that cannot be written safely.
//
// The Subject's whitespace is normalised (runs of spaces and tabs become one
// space, leading and trailing ones go), because header folding would not
// keep it anyway. The body's line ends become "\n" (a lone "\r" counts as
// one), a missing final line end is added, and bytes that are not UTF-8
// become U+FFFD. The Content-Transfer-Encoding is the lightest the body
// allows (TransferEncoding with 8bit allowed): Send falls back to
// quoted-printable for a server without 8BITMIME.
func (m *Message) Bytes() ([]byte, error) {
	b, _, _, err := m.compose(true)
	return b, err
}

// compose checks m and writes it with the lightest transfer encoding its
// body allows (TransferEncoding), which it returns with the message and
// its envelope.
func (m *Message) compose(eightBit bool) ([]byte, envelope, string, error) {
	addrs, err := m.addresses()
	if err != nil {
		return nil, envelope{}, "", err
	}
	subject, err := text("Subject", m.Subject)
	if err != nil {
		return nil, envelope{}, "", err
	}
	refs, err := m.references()
	if err != nil {
		return nil, envelope{}, "", err
	}
	extra, err := m.extraHeaders()
	if err != nil {
		return nil, envelope{}, "", err
	}
	body := normalizeBody(m.Body)
	cte := TransferEncoding(body, eightBit)
	h, err := m.header(addrs, subject, refs, extra, cte)
	if err != nil {
		return nil, envelope{}, "", err
	}
	data, err := render(h, body)
	if err != nil {
		return nil, envelope{}, "", err
	}
	return data, addrs.envelope(), cte, nil
}

// addressList is a message's parsed From, To and Cc.
type addressList struct {
	from, to, cc []*gomail.Address
}

// addresses parses From, To and Cc; there must be a recipient in To.
func (m *Message) addresses() (addressList, error) {
	var l addressList
	var err error
	if l.from, err = parseAddrs("From", []string{m.From}); err != nil {
		return l, err
	}
	if l.to, err = parseAddrs("To", m.To); err != nil {
		return l, err
	}
	if len(l.to) == 0 {
		return l, errors.New("mail header To: no recipient")
	}
	l.cc, err = parseAddrs("Cc", m.Cc)
	return l, err
}

// envelope is the SMTP envelope of l: From's address, and To then Cc with
// each address once (compared case-insensitively).
func (l addressList) envelope() envelope {
	env := envelope{from: l.from[0].Address}
	seen := map[string]bool{}
	for _, a := range append(slices.Clone(l.to), l.cc...) {
		if k := strings.ToLower(a.Address); !seen[k] {
			seen[k] = true
			env.rcpt = append(env.rcpt, a.Address)
		}
	}
	return env
}

// references checks the Message-ID, References and In-Reply-To, and
// returns the References with In-Reply-To added when missing.
func (m *Message) references() ([]string, error) {
	if err := checkID("Message-ID", m.MessageID); err != nil {
		return nil, err
	}
	refs := slices.Clone(m.References)
	for _, r := range refs {
		if err := checkID("References", r); err != nil {
			return nil, err
		}
	}
	if m.InReplyTo != "" {
		if err := checkID("In-Reply-To", m.InReplyTo); err != nil {
			return nil, err
		}
		if !slices.Contains(refs, m.InReplyTo) {
			refs = append(refs, m.InReplyTo)
		}
	}
	return refs, nil
}

// extraHeaders returns the names of m.Headers in a fixed order
// (case-insensitive), refusing a name that is not X-... or is given twice.
func (m *Message) extraHeaders() ([]string, error) {
	extra := make([]string, 0, len(m.Headers))
	for k := range m.Headers {
		if !xHeadRE.MatchString(k) {
			return nil, fmt.Errorf("mail header %q: extra header names must match X-[A-Za-z0-9-]+", k)
		}
		extra = append(extra, k)
	}
	slices.SortFunc(extra, func(a, b string) int { return strings.Compare(strings.ToLower(a), strings.ToLower(b)) })
	for i := 1; i < len(extra); i++ {
		if strings.EqualFold(extra[i-1], extra[i]) {
			return nil, fmt.Errorf("mail header %s: given twice (%q and %q)", extra[i], extra[i-1], extra[i])
		}
	}
	return extra, nil
}

// header builds the header block from the checked parts, cte the body's
// Content-Transfer-Encoding.
func (m *Message) header(addrs addressList, subject string, refs, extra []string, cte string) (gomail.Header, error) {
	var h gomail.Header
	h.SetAddressList("From", addrs.from)
	h.SetAddressList("To", addrs.to)
	h.SetAddressList("Cc", addrs.cc)
	h.SetSubject(subject)
	date := m.Date
	if date.IsZero() {
		date = time.Now()
	}
	h.SetDate(date)
	h.SetMessageID(m.MessageID)
	if m.InReplyTo != "" {
		h.SetMsgIDList("In-Reply-To", []string{m.InReplyTo})
	}
	h.SetMsgIDList("References", refs)
	for _, k := range extra {
		v, err := text(k, m.Headers[k])
		if err != nil {
			return h, err
		}
		h.SetText(k, v)
	}
	h.Set("MIME-Version", "1.0")
	h.SetContentType("text/plain", map[string]string{"charset": "utf-8"})
	// Set explicitly: go-message would send every text/plain part
	// quoted-printable, which breaks pure ASCII at 76 columns ("o=\nnto").
	h.Set("Content-Transfer-Encoding", cte)
	return h, nil
}

// Content-Transfer-Encodings of a body (RFC 2045).
const (
	SevenBit        = "7bit"
	EightBit        = "8bit"
	QuotedPrintable = "quoted-printable"
)

// maxLineOctets is RFC 5322's limit on a line, without its CRLF.
const maxLineOctets = 998

// TransferEncoding is the Content-Transfer-Encoding body (normalised, "\n"
// line ends) travels with: SevenBit when every byte is ASCII, EightBit
// when some are not and eightBit allows it, QuotedPrintable when some are
// not and it does not, or when a line is longer than 998 octets or holds
// a control character other than a tab (RFC 2045 forbids NUL in 7bit and
// 8bit; the others are not what a reader expects from text).
func TransferEncoding(body string, eightBit bool) string {
	cte := SevenBit
	for line := range strings.Lines(body) {
		line = strings.TrimSuffix(line, "\n")
		if len(line) > maxLineOctets {
			return QuotedPrintable
		}
		for i := 0; i < len(line); i++ {
			switch c := line[i]; {
			case c < ' ' && c != '\t', c == 0x7f:
				return QuotedPrintable
			case c >= 0x80:
				cte = EightBit
			}
		}
	}
	if cte == EightBit && !eightBit {
		return QuotedPrintable
	}
	return cte
}

// render writes h and the normalised body in h's transfer encoding.
func render(h gomail.Header, body string) ([]byte, error) {
	var buf bytes.Buffer
	w, err := gomail.CreateSingleInlineWriter(&buf, h)
	if err != nil {
		return nil, fmt.Errorf("mail header: %w", err)
	}
	if _, err := w.Write([]byte(body)); err != nil {
		return nil, fmt.Errorf("mail body: %w", err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("mail body: %w", err)
	}
	return buf.Bytes(), nil
}

// normalizeBody gives body "\n" line ends, a final line end and valid UTF-8.
func normalizeBody(body string) string {
	body = strings.ReplaceAll(body, "\r\n", "\n")
	body = strings.ReplaceAll(body, "\r", "\n")
	body = strings.ToValidUTF8(body, "\uFFFD")
	if body != "" && !strings.HasSuffix(body, "\n") {
		body += "\n"
	}
	return body
}

// text checks an unstructured header value (Subject, extra headers) and
// returns it with its whitespace normalised.
func text(header, v string) (string, error) {
	if i := strings.IndexAny(v, "\r\n\x00"); i >= 0 {
		return "", fmt.Errorf("mail header %s: %q contains %q", header, v, v[i])
	}
	if !utf8.ValidString(v) {
		return "", fmt.Errorf("mail header %s: %q is not UTF-8", header, v)
	}
	for _, r := range v {
		if r != '\t' && unicode.IsControl(r) {
			return "", fmt.Errorf("mail header %s: %q contains the control character %U", header, v, r)
		}
	}
	if strings.Contains(v, "=?") {
		// Readers would decode it as an RFC 2047 encoded word when the
		// value needs no encoding itself.
		return "", fmt.Errorf("mail header %s: %q contains \"=?\"", header, v)
	}
	if len(v) > maxTextLen {
		return "", fmt.Errorf("mail header %s: longer than %d bytes", header, maxTextLen)
	}
	return strings.Join(strings.FieldsFunc(v, func(r rune) bool { return r == ' ' || r == '\t' }), " "), nil
}

// checkID checks a Message-ID without brackets.
func checkID(header, id string) error {
	if err := msgid.Check(id); err != nil {
		return fmt.Errorf("mail header %s: %w", header, err)
	}
	return nil
}

// parseAddrs parses RFC 5322 addresses, one per element of list.
func parseAddrs(header string, list []string) ([]*gomail.Address, error) {
	var out []*gomail.Address
	for _, s := range list {
		if i := strings.IndexAny(s, "\r\n\x00"); i >= 0 {
			return nil, fmt.Errorf("mail header %s: %q contains %q", header, s, s[i])
		}
		a, err := mail.ParseAddress(s)
		if err != nil {
			return nil, fmt.Errorf("mail header %s: %q: %w", header, s, err)
		}
		// The envelope carries the address as is: no SMTPUTF8, nothing a
		// server could read as the end of the path.
		for _, c := range []byte(a.Address) {
			if c <= ' ' || c >= 0x7f || c == '<' || c == '>' {
				return nil, fmt.Errorf("mail header %s: %q: address %q is not printable ASCII without spaces or <>", header, s, a.Address)
			}
		}
		if !utf8.ValidString(a.Name) || strings.ContainsFunc(a.Name, unicode.IsControl) {
			return nil, fmt.Errorf("mail header %s: %q: the name contains a control character or is not UTF-8", header, s)
		}
		ga := &gomail.Address{Name: a.Name, Address: a.Address}
		if len(ga.String()) > maxTextLen {
			return nil, fmt.Errorf("mail header %s: %q: longer than %d bytes", header, s, maxTextLen)
		}
		out = append(out, ga)
	}
	return out, nil
}

// MessageID returns "rtbot." + the first 24 hex digits of a SHA-256 over
// key + "@" + domain. It depends only on its arguments, so the same report
// gets the same id on every attempt. Every key is length-prefixed: ("ab",
// "c") and ("a", "bc") give different ids.
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
