package mailwatch

import (
	"bytes"
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/rtbot/rtbot/internal/netsec"
	"github.com/rtbot/rtbot/internal/saslauth"
)

// Defaults for the zero fields of an IMAPConfig.
const (
	DefaultMailbox          = "INBOX"
	DefaultDialTimeout      = 30 * time.Second
	DefaultFetchHeaderBytes = 64 << 10
	DefaultFetchTextBytes   = 64 << 10
	DefaultMaxCandidates    = 500
	DefaultTimeout          = 60 * time.Second
)

// logoutTimeout bounds the LOGOUT of Close: a server that does not
// answer it has nothing more to say.
const logoutTimeout = 5 * time.Second

// searchArrivals is how many messages may arrive between a scan's EXAMINE
// and its SEARCH: a SEARCH answer naming more UIDs than the mailbox had
// messages plus these is a lie, and is refused.
const searchArrivals = 1000

// fetchBatch is how many UIDs one UID FETCH command asks for.
const fetchBatch = 100

// fetchOverhead is what a FETCH answer may carry for one message besides
// its sections: the UID, the size, the section names.
const fetchOverhead = 1 << 10

// ErrPlainNotLoopback is returned by Dial when netsec.Plain is configured
// for a server that is not on a loopback address (netsec's loopback rule):
// the password would cross the network in clear.
var ErrPlainNotLoopback = errors.New("plain IMAP without TLS is only allowed to a loopback address (127.0.0.0/8, ::1); use tls or starttls")

// ErrMarkingDisabled is returned by MarkProcessed when neither
// IMAPConfig.ProcessedFlag nor IMAPConfig.ProcessedMailbox is set.
var ErrMarkingDisabled = errors.New("marking processed mail is not configured (set ProcessedFlag or ProcessedMailbox)")

// DefaultSubjectFilters returns the Subject substrings the server is asked
// to search for when IMAPConfig.SubjectFilters is empty. They catch every
// announcement kind rtbot recognises, matched case-insensitively by the server:
//
//   - "review": stable review covers, "[PATCH 6.1 000/123] 6.1.177-rc1 review"
//     and, before March 2020, "[PATCH 4.4 00/20] 4.4.202-stable review";
//   - "[ANNOUNCE": stable-rt and RT development releases, "[ANNOUNCE] 6.1.79-rt25";
//   - "[PATCH RT": stable-rt review covers, "[PATCH RT 0/3] Linux v5.4.143-rt64-rc2".
//
// The filter is deliberately coarse: the classifier decides.
func DefaultSubjectFilters() []string {
	return []string{"review", "[ANNOUNCE", "[PATCH RT"}
}

// IMAPConfig says which mailbox to watch and how. The zero value of every
// field but Addr, Username and Password has a safe default.
type IMAPConfig struct {
	// Addr is the server's host:port.
	Addr string
	// TLS is how the connection is protected; "" means netsec.TLS.
	// netsec.Plain is honoured only for a loopback server (see
	// ErrPlainNotLoopback).
	TLS netsec.Mode
	// TLSConfig optionally sets trusted roots, client certificates and so on.
	// When nil, the system roots are used; an empty ServerName is taken from Addr.
	TLSConfig *tls.Config
	// Username and Password are sent with LOGIN. The caller reads the password
	// from a file or the environment; it never belongs on a command line.
	Username string
	Password string
	// Token, when not nil, makes Dial log in with OAuth2 instead of LOGIN:
	// SASL OAUTHBEARER, or XOAUTH2 when the server offers only that, with
	// the access token Token returns, asked anew at each login (a token
	// helper refreshes it). Password is then unused.
	Token func(ctx context.Context) (string, error)
	// Mailbox to scan; "" means INBOX.
	Mailbox string
	// DialTimeout bounds connecting, the TLS handshake, the greeting and LOGIN;
	// 0 means DefaultDialTimeout.
	DialTimeout time.Duration
	// Timeout bounds how long the server may stay silent while rtbot waits
	// for it: during every command (EXAMINE, SEARCH, FETCH, the start and
	// the end of IDLE, NOOP, STORE, MOVE) each read must return within
	// it, so a FETCH that keeps sending is never cut, and a server that
	// stops answering fails the command with ErrTimeout. While idling the
	// bound is Wait's poll plus Timeout: IDLE is silent by design. 0 means
	// DefaultTimeout.
	Timeout time.Duration
	// MaxLiteralBytes bounds a message section the server announces in a
	// FETCH answer: one larger is refused (ErrReplyTooLarge) before any of
	// it is read. The sections asked for are MaxHeaderBytes and
	// MaxTextBytes long; a server that ignores that and sends more is
	// tolerated (the rest is dropped) up to this. 0 means
	// DefaultLimits().MaxBytes, the largest mail recognised.
	MaxLiteralBytes int64

	// SubjectFilters are the Subject substrings searched for on the server
	// (any of them matches); empty means DefaultSubjectFilters().
	SubjectFilters []string
	// IncludeReplies also downloads mail whose Subject contains "Re:". By
	// default the search excludes them: a reply is never a new announcement.
	IncludeReplies bool
	// MaxHeaderBytes and MaxTextBytes bound what is downloaded of each matching
	// message: the first MaxHeaderBytes of its header and the first
	// MaxTextBytes of its body. 0 means DefaultFetchHeaderBytes / DefaultFetchTextBytes.
	MaxHeaderBytes int64
	MaxTextBytes   int64
	// MaxCandidates bounds how many messages one Scan downloads; the rest are
	// left for the next Scan (ScanResult.More). 0 means DefaultMaxCandidates.
	MaxCandidates int

	// ProcessedFlag, when set, is the flag MarkProcessed adds to processed mail
	// (a keyword such as "$rtbot-done", or "\Seen"). Off by default.
	ProcessedFlag string
	// ProcessedMailbox, when set, is the mailbox MarkProcessed moves processed
	// mail to. Off by default.
	ProcessedMailbox string

	// DisableIdle makes Wait poll even when the server supports IDLE.
	DisableIdle bool
}

// normalized returns cfg with defaults filled in, or an error naming the
// first invalid field.
func (cfg IMAPConfig) normalized() (IMAPConfig, error) {
	if cfg.Addr == "" {
		return cfg, errors.New("IMAP address is empty")
	}
	if _, _, err := net.SplitHostPort(cfg.Addr); err != nil {
		return cfg, fmt.Errorf("IMAP address %q: %w", cfg.Addr, err)
	}
	switch cfg.TLS {
	case "":
		cfg.TLS = netsec.TLS
	case netsec.TLS, netsec.StartTLS, netsec.Plain:
	default:
		return cfg, fmt.Errorf("IMAP TLS mode %q: want %q, %q or %q", cfg.TLS, netsec.TLS, netsec.StartTLS, netsec.Plain)
	}
	if cfg.Username == "" {
		return cfg, errors.New("IMAP username is empty")
	}
	if cfg.Mailbox == "" {
		cfg.Mailbox = DefaultMailbox
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = DefaultDialTimeout
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.MaxLiteralBytes <= 0 {
		cfg.MaxLiteralBytes = DefaultLimits().MaxBytes
	}
	if len(cfg.SubjectFilters) == 0 {
		cfg.SubjectFilters = DefaultSubjectFilters()
	} else {
		cfg.SubjectFilters = slices.Clone(cfg.SubjectFilters)
	}
	for _, f := range cfg.SubjectFilters {
		if f == "" || strings.ContainsAny(f, "\r\n") {
			return cfg, fmt.Errorf("IMAP subject filter %q: must be non-empty and on one line", f)
		}
	}
	if cfg.MaxHeaderBytes <= 0 {
		cfg.MaxHeaderBytes = DefaultFetchHeaderBytes
	}
	if cfg.MaxTextBytes <= 0 {
		cfg.MaxTextBytes = DefaultFetchTextBytes
	}
	if cfg.MaxCandidates <= 0 {
		cfg.MaxCandidates = DefaultMaxCandidates
	}
	if f := cfg.ProcessedFlag; f != "" && !ValidFlag(f) {
		return cfg, fmt.Errorf("IMAP processed flag %q: want a keyword atom or one of \\Seen, \\Flagged, \\Answered", f)
	}
	return cfg, nil
}

// ValidFlag reports whether f can be stored as a flag on processed mail: a
// keyword atom or one of the harmless system flags \Seen, \Flagged and
// \Answered.
func ValidFlag(f string) bool {
	switch f {
	case `\Seen`, `\Flagged`, `\Answered`:
		return true
	}
	for _, r := range f {
		if r <= ' ' || r >= 0x7f || strings.ContainsRune(`(){%*"\]`, r) {
			return false
		}
	}
	return true
}

// Checkpoint is how far a mailbox has been scanned. Persist it between runs;
// the zero value scans the whole mailbox.
type Checkpoint struct {
	UIDValidity uint32 `json:"uid_validity"` // of the mailbox when LastUID was seen
	LastUID     uint32 `json:"last_uid"`     // every message up to this UID has been considered
}

// Candidate is a message whose Subject matched the server-side search: the
// start of it, enough to classify.
type Candidate struct {
	UID uint32
	// Key names a message of a Maildir or public-inbox source (a file
	// name, an epoch and commit); "" for IMAP, where UID does.
	Key string
	// Size is the size of the whole message on the server (RFC822.SIZE).
	Size int64
	// Raw is the message header followed by the start of its body (the MIME
	// structure is kept intact: the body is BODY[TEXT], not a decoded part).
	// It is at most MaxHeaderBytes+MaxTextBytes+2 bytes long.
	Raw []byte
	// Truncated reports that Raw is not the whole message. When the header
	// itself was cut, Raw holds only its complete lines and no body.
	Truncated bool
}

// ScanResult is what one Scan found.
type ScanResult struct {
	// Candidates are the matching messages, in UID order.
	Candidates []Candidate
	// Next is the checkpoint to persist once the candidates are processed.
	Next Checkpoint
	// Rescanned reports that the mailbox's UIDVALIDITY differed from the
	// checkpoint's, so the whole mailbox was scanned again: the candidates may
	// include mail processed before under other UIDs. Deduplicate by Message-ID.
	Rescanned bool
	// More reports that MaxCandidates cut the scan short: scan again at once.
	More bool
	// Matched is how many messages the server search returned.
	Matched int
	// FetchedBytes counts the message bytes the server sent (header and body
	// sections), including any it sent beyond the limits and that were dropped.
	FetchedBytes int64
}

// Error is an IMAP failure with the context a maintainer needs: which
// server, which mailbox, which operation and, when known, which UID.
type Error struct {
	Server  string
	Mailbox string
	Op      string // "dial", "login", "select", "search", "fetch", ...
	UID     uint32 // 0 when not about one message
	Err     error
}

// Error implements the error interface.
func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "imap %s", e.Server)
	if e.Mailbox != "" {
		fmt.Fprintf(&b, " mailbox %q", e.Mailbox)
	}
	if e.UID != 0 {
		fmt.Fprintf(&b, " uid %d", e.UID)
	}
	fmt.Fprintf(&b, ": %s: %v", e.Op, e.Err)
	return b.String()
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// permanentError marks failures that retrying cannot fix (configuration,
// authentication).
type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }
func (e permanentError) Unwrap() error { return e.err }

// IsPermanent reports whether err is a failure that reconnecting will not
// cure: an invalid configuration, plain IMAP to a non-loopback address, or a
// rejected login.
func IsPermanent(err error) bool {
	var p permanentError
	return errors.As(err, &p)
}

// Scanner is a logged-in connection to one IMAP mailbox. It is not safe for
// concurrent use. After an error the connection may be unusable: close it and
// Dial again (Watch does this).
type Scanner struct {
	cfg     IMAPConfig
	c       *imapclient.Client
	guard   *guardConn    // the connection under c
	changed chan struct{} // receives (non-blocking) when the server reports EXISTS

	selected    bool   // the mailbox is selected (read-only unless MarkProcessed ran)
	uidValidity uint32 // of the last SELECT/EXAMINE
	dead        error  // set once the connection was torn down
}

// Dial connects to cfg.Addr, secures the connection as cfg.TLS says, and logs
// in. It does not select the mailbox yet.
func Dial(ctx context.Context, cfg IMAPConfig) (*Scanner, error) {
	server := cfg.Addr
	cfg, err := cfg.normalized()
	if err != nil {
		return nil, &Error{Server: server, Mailbox: cfg.Mailbox, Op: "config", Err: permanentError{err}}
	}
	s := &Scanner{cfg: cfg, changed: make(chan struct{}, 1)}

	dctx, cancel := context.WithTimeout(ctx, cfg.DialTimeout)
	defer cancel()

	conn, err := s.dialConn(dctx)
	if err != nil {
		return nil, s.errorf("dial", 0, ctxErr(dctx, err))
	}
	stop := context.AfterFunc(dctx, func() { conn.Close() })
	defer stop()

	var token string
	if cfg.Token != nil {
		if token, err = cfg.Token(dctx); err != nil {
			conn.Close()
			return nil, s.errorf("token", 0, fmt.Errorf("OAuth2 access token: %w", err))
		}
	}
	if op, err := s.start(conn, token); err != nil {
		conn.Close()
		if s.c != nil {
			s.c.Close()
		}
		return nil, s.errorf(op, 0, ctxErr(dctx, s.guardErr(err)))
	}
	if !stop() {
		s.c.Close()
		return nil, s.errorf("login", 0, dctx.Err())
	}
	s.guard.disarm()
	return s, nil
}

// start runs the IMAP session on conn up to a logged-in connection with
// its capabilities known (with OAuth2 when token is not ""), and returns
// the step that failed.
func (s *Scanner) start(conn net.Conn, token string) (op string, err error) {
	opts := &imapclient.Options{
		TLSConfig: s.tlsConfig(),
		UnilateralDataHandler: &imapclient.UnilateralDataHandler{
			Mailbox: func(data *imapclient.UnilateralDataMailbox) {
				if data.NumMessages != nil {
					s.notify()
				}
			},
		},
	}
	if s.cfg.TLS == netsec.StartTLS {
		if s.c, err = imapclient.NewStartTLS(conn, opts); err != nil {
			return "starttls", err
		}
	} else {
		s.c = imapclient.New(conn, opts)
	}
	if err := s.c.WaitGreeting(); err != nil {
		return "greeting", err
	}
	if err := s.login(token); err != nil {
		return "login", err
	}
	// Settle the capabilities now (servers may send new ones after LOGIN, or
	// none, and go-imap then asks in the background) so that no CAPABILITY
	// command interleaves with a later Scan.
	if s.c.Caps() == nil {
		return "capability", errors.New("no capability list from server")
	}
	return "", nil
}

// login logs in with LOGIN and the password, or with OAuth2 and token.
func (s *Scanner) login(token string) error {
	if token != "" {
		return s.loginOAuth2(token)
	}
	if s.c.Caps().Has(imap.CapLoginDisabled) {
		return permanentError{errors.New("server advertises LOGINDISABLED on this connection")}
	}
	if err := s.c.Login(s.cfg.Username, s.cfg.Password).Wait(); err != nil {
		err = fmt.Errorf("user %q: %w", s.cfg.Username, err)
		if loginRejected(err) {
			err = permanentError{err}
		}
		return err
	}
	return nil
}

// loginOAuth2 authenticates with SASL OAUTHBEARER or XOAUTH2. A refused
// token is a verdict on the credentials (permanent), the server's reason
// said.
func (s *Scanner) loginOAuth2(token string) error {
	caps := s.c.Caps()
	mech := saslauth.Choose(func(m string) bool { return caps.Has(imap.Cap("AUTH=" + m)) })
	if mech == "" {
		return permanentError{fmt.Errorf("user %q: the server offers neither AUTH=OAUTHBEARER nor AUTH=XOAUTH2", s.cfg.Username)}
	}
	host, portText, _ := net.SplitHostPort(s.cfg.Addr)
	port, _ := strconv.Atoi(portText)
	c := saslauth.NewClient(mech, s.cfg.Username, token, host, port)
	err := s.c.Authenticate(c)
	if err == nil {
		return nil
	}
	if r := c.Refusal(); r != "" {
		err = fmt.Errorf("%w (%s)", err, r)
	}
	err = fmt.Errorf("user %q, %s: %w", s.cfg.Username, mech, err)
	if loginRejected(err) {
		err = permanentError{err}
	}
	return err
}

// dialConn opens the TCP connection, puts the guard on it (armed with
// DialTimeout until Dial is done) and, for netsec.TLS, does the TLS
// handshake over the guard. It enforces netsec's loopback rule for
// netsec.Plain both before and after connecting.
func (s *Scanner) dialConn(ctx context.Context) (net.Conn, error) {
	if s.cfg.TLS == netsec.Plain {
		host, _, _ := net.SplitHostPort(s.cfg.Addr)
		if !netsec.LoopbackHost(host) {
			return nil, permanentError{fmt.Errorf("%w: %s is not loopback", ErrPlainNotLoopback, host)}
		}
	}
	raw, err := (&net.Dialer{}).DialContext(ctx, "tcp", s.cfg.Addr)
	if err != nil {
		return nil, err
	}
	if s.cfg.TLS == netsec.Plain && !netsec.LoopbackPeer(raw) {
		raw.Close()
		return nil, permanentError{fmt.Errorf("%w: connected to %v", ErrPlainNotLoopback, raw.RemoteAddr())}
	}
	s.guard = newGuardConn(raw)
	s.guard.arm(s.cfg.DialTimeout, replyBudget)
	if s.cfg.TLS != netsec.TLS {
		return s.guard, nil
	}
	cfg := s.tlsConfig()
	if cfg.NextProtos == nil {
		cfg.NextProtos = []string{"imap"}
	}
	tc := tls.Client(s.guard, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		raw.Close()
		return nil, err
	}
	return tc, nil
}

// loginRejected reports whether a LOGIN failure is a verdict on the
// credentials rather than a temporary server problem ([UNAVAILABLE] and the
// like are worth retrying).
func loginRejected(err error) bool {
	var ie *imap.Error
	if !errors.As(err, &ie) {
		return false
	}
	switch ie.Code {
	case imap.ResponseCodeAuthenticationFailed, imap.ResponseCodeAuthorizationFailed,
		imap.ResponseCodeExpired, imap.ResponseCodePrivacyRequired, imap.ResponseCodeContactAdmin:
		return true
	case "":
		return ie.Type == imap.StatusResponseTypeNo
	}
	return false
}

// tlsConfig returns a fresh TLS configuration for the server.
func (s *Scanner) tlsConfig() *tls.Config {
	return netsec.ClientConfig(s.cfg.TLSConfig, s.cfg.Addr)
}

// notify records that the server reported new mail.
func (s *Scanner) notify() {
	select {
	case s.changed <- struct{}{}:
	default:
	}
}

// drainNotify forgets earlier notifications and reports whether there was one.
func (s *Scanner) drainNotify() bool {
	select {
	case <-s.changed:
		return true
	default:
		return false
	}
}

// errorf wraps err with the scanner's server and mailbox.
func (s *Scanner) errorf(op string, uid uint32, err error) error {
	return &Error{Server: s.cfg.Addr, Mailbox: s.cfg.Mailbox, Op: op, UID: uid, Err: err}
}

// ctxErr prefers the context's error when the context ended: a closed
// connection is then the consequence, not the cause.
func ctxErr(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil && err != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("%w (%v)", cerr, err)
	}
	return err
}

// do runs f, which issues IMAP commands, with the guard armed: the
// server may stay silent at most Timeout at a time and send at most
// replyBudget bytes. It tears the connection down if ctx ends first:
// go-imap's commands do not take a context.
func (s *Scanner) do(ctx context.Context, op string, uid uint32, f func() error) error {
	return s.doBounded(ctx, op, uid, s.cfg.Timeout, replyBudget, f)
}

// doBounded is do with the guard's bounds given: the server may stay
// silent at most silence at a time and send at most budget bytes.
func (s *Scanner) doBounded(ctx context.Context, op string, uid uint32, silence time.Duration, budget int64, f func() error) error {
	if s.dead != nil {
		return s.errorf(op, uid, fmt.Errorf("connection unusable after earlier failure: %w", s.dead))
	}
	if err := ctx.Err(); err != nil {
		return s.errorf(op, uid, err)
	}
	stop := context.AfterFunc(ctx, func() { s.c.Close() })
	s.guard.arm(silence, budget)
	err := f()
	s.guard.disarm()
	if !stop() {
		s.dead = ctx.Err()
		return s.errorf(op, uid, ctxErr(ctx, err))
	}
	if err != nil {
		err = s.guardErr(err)
		var ie *imap.Error
		if !errors.As(err, &ie) {
			s.dead = err // a transport failure, not a NO/BAD answer
		}
		return s.errorf(op, uid, err)
	}
	return nil
}

// guardErr returns the guard's error in place of err when the guard
// ended the connection: go-imap reports its consequence (a read error
// deep in a response), the guard its cause (a silent server, an answer
// too large).
func (s *Scanner) guardErr(err error) error {
	if s.guard == nil {
		return err
	}
	if gerr := s.guard.err(); gerr != nil && !errors.Is(err, gerr) {
		return gerr
	}
	return err
}

// examine selects the mailbox read-only.
func (s *Scanner) examine(ctx context.Context) (*imap.SelectData, error) {
	var data *imap.SelectData
	err := s.do(ctx, "examine", 0, func() error {
		var err error
		data, err = s.c.Select(s.cfg.Mailbox, &imap.SelectOptions{ReadOnly: true}).Wait()
		return err
	})
	if err != nil {
		s.selected = false
		return nil, err
	}
	if data.UIDValidity == 0 {
		return nil, s.errorf("examine", 0, errors.New("server sent no UIDVALIDITY: cannot scan incrementally"))
	}
	s.selected = true
	s.uidValidity = data.UIDValidity
	return data, nil
}

// Scan looks for new candidate mail since cp: it EXAMINEs the mailbox (read
// only), and when the server's UIDNEXT shows mail after cp.LastUID, runs one
// UID SEARCH for "UID cp.LastUID+1:* (OR SUBJECT ...) NOT SUBJECT Re:" and
// fetches only the header and the start of the body of the matches, with
// BODY.PEEK so nothing is marked \Seen. A scan with nothing new costs one
// EXAMINE. When the mailbox's UIDVALIDITY differs from a non-zero
// cp.UIDValidity, the whole mailbox is scanned and Rescanned is set.
func (s *Scanner) Scan(ctx context.Context, cp Checkpoint) (ScanResult, error) {
	s.drainNotify()
	sel, err := s.examine(ctx)
	if err != nil {
		return ScanResult{}, err
	}
	res := ScanResult{Next: cp}
	res.Next.UIDValidity = sel.UIDValidity
	if cp.UIDValidity != sel.UIDValidity {
		res.Rescanned = cp.UIDValidity != 0
		res.Next.LastUID = 0
	}
	from := res.Next.LastUID + 1
	if from == 0 { // LastUID was the maximum UID
		return res, nil
	}
	if sel.NumMessages == 0 || (sel.UIDNext != 0 && uint32(sel.UIDNext) <= from) {
		return res, nil // nothing after the checkpoint
	}

	criteria := s.criteria(from)
	var data *imap.SearchData
	err = s.do(ctx, "search", 0, func() error {
		var err error
		data, err = s.c.UIDSearch(criteria, nil).Wait()
		return err
	})
	if err != nil {
		return ScanResult{}, err
	}
	set, _ := data.All.(imap.UIDSet)
	uids, found, err := searchUIDs(set, from, s.cfg.MaxCandidates)
	if err == nil && found.count > uint64(sel.NumMessages)+searchArrivals {
		err = fmt.Errorf("the answer names %d UIDs from %d on, and the mailbox has %d messages: refusing it",
			found.count, from, sel.NumMessages)
	}
	if err != nil {
		return ScanResult{}, s.errorf("search", 0, err)
	}
	res.Matched = int(found.count)

	// Everything below UIDNEXT existed at EXAMINE time and was searched.
	if sel.UIDNext > 1 {
		res.Next.LastUID = max(res.Next.LastUID, uint32(sel.UIDNext)-1)
	}
	if found.count > uint64(len(uids)) {
		res.Next.LastUID = uids[len(uids)-1]
		res.More = true
	} else if found.count > 0 {
		res.Next.LastUID = max(res.Next.LastUID, found.last)
	}

	for batch := range slices.Chunk(uids, fetchBatch) {
		cands, n, err := s.fetch(ctx, batch)
		res.FetchedBytes += n
		if err != nil {
			return ScanResult{}, err
		}
		res.Candidates = append(res.Candidates, cands...)
	}
	return res, nil
}

// uidsFound sums up the UIDs a SEARCH answer names from some UID on.
type uidsFound struct {
	count uint64 // how many
	last  uint32 // the highest
}

// searchUIDs returns, in ascending order and each once, the first limit
// UIDs of set from from on, with how many set names from there and the
// highest. It expands no more UIDs than it returns: the set is the
// server's word, and one range, "1:4294967294", names four billion of
// them. A set with "*" is refused: a SEARCH answer names real UIDs.
func searchUIDs(set imap.UIDSet, from uint32, limit int) ([]uint32, uidsFound, error) {
	ranges := make([]imap.UIDRange, 0, len(set))
	for _, r := range set {
		if r.Start == 0 || r.Stop == 0 {
			return nil, uidsFound{}, fmt.Errorf("server returned a dynamic UID set %v", set)
		}
		lo, hi := min(r.Start, r.Stop), max(r.Start, r.Stop)
		if hi >= imap.UID(from) { // "UID n:*" matches the highest UID even when it is below n
			ranges = append(ranges, imap.UIDRange{Start: max(lo, imap.UID(from)), Stop: hi})
		}
	}
	slices.SortFunc(ranges, func(a, b imap.UIDRange) int { return cmp.Compare(a.Start, b.Start) })
	var (
		uids  []uint32
		found uidsFound
	)
	for _, r := range ranges {
		if found.count > 0 && r.Start <= imap.UID(found.last) { // overlaps what was counted
			if r.Stop <= imap.UID(found.last) {
				continue
			}
			r.Start = imap.UID(found.last) + 1
		}
		found.count += uint64(r.Stop-r.Start) + 1
		found.last = uint32(r.Stop)
		for u := r.Start; len(uids) < limit; u++ {
			uids = append(uids, uint32(u))
			if u == r.Stop {
				break
			}
		}
	}
	return uids, found, nil
}

// criteria builds the server-side search for UIDs from..* whose Subject
// contains one of the filters.
func (s *Scanner) criteria(from uint32) *imap.SearchCriteria {
	var uids imap.UIDSet
	uids.AddRange(imap.UID(from), 0) // 0 is "*"
	c := &imap.SearchCriteria{UID: []imap.UIDSet{uids}}
	subjects := make([]imap.SearchCriteria, len(s.cfg.SubjectFilters))
	for i, f := range s.cfg.SubjectFilters {
		subjects[i] = subjectIs(f)
	}
	or := orTree(subjects)
	c.And(&or)
	if !s.cfg.IncludeReplies {
		c.Not = append(c.Not, subjectIs("Re:"))
	}
	return c
}

func subjectIs(substr string) imap.SearchCriteria {
	return imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: "Subject", Value: substr}}}
}

// orTree folds criteria into a balanced tree of ORs.
func orTree(l []imap.SearchCriteria) imap.SearchCriteria {
	if len(l) == 1 {
		return l[0]
	}
	mid := len(l) / 2
	return imap.SearchCriteria{Or: [][2]imap.SearchCriteria{{orTree(l[:mid]), orTree(l[mid:])}}}
}

// fetch downloads the bounded header and body start of uids. It returns the
// candidates in UID order and the number of message bytes the server sent.
func (s *Scanner) fetch(ctx context.Context, uids []uint32) ([]Candidate, int64, error) {
	hdr, txt := s.sections()
	opts := &imap.FetchOptions{UID: true, RFC822Size: true, BodySection: []*imap.FetchItemBodySection{hdr, txt}}
	set := imap.UIDSet{}
	for _, u := range uids {
		set.AddNum(imap.UID(u))
	}

	var (
		cands   []Candidate
		fetched int64
		lastUID uint32
	)
	// What was asked for, and as much again as any other command may have.
	budget := int64(len(uids))*(s.cfg.MaxHeaderBytes+s.cfg.MaxTextBytes+fetchOverhead) + replyBudget
	err := s.doBounded(ctx, "fetch", 0, s.cfg.Timeout, budget, func() error {
		cmd := s.c.Fetch(set, opts)
		for msg := cmd.Next(); msg != nil; msg = cmd.Next() {
			c, n, err := s.readMessage(msg, hdr, txt)
			fetched += n
			if err != nil {
				return err
			}
			if c.UID == 0 {
				continue // unsolicited FETCH (flag update) without UID
			}
			lastUID = c.UID
			cands = append(cands, c)
		}
		return cmd.Close()
	})
	if err != nil {
		var e *Error
		if errors.As(err, &e) && e.UID == 0 {
			e.UID = lastUID // the last message that arrived whole
		}
		return nil, fetched, err
	}
	slices.SortFunc(cands, func(a, b Candidate) int { return cmp.Compare(a.UID, b.UID) })
	return cands, fetched, nil
}

// sections are the two body sections fetch asks for, without setting
// \Seen: the first MaxHeaderBytes of the header and the first
// MaxTextBytes of the text.
func (s *Scanner) sections() (hdr, txt *imap.FetchItemBodySection) {
	hdr = &imap.FetchItemBodySection{
		Specifier: imap.PartSpecifierHeader,
		Peek:      true,
		Partial:   &imap.SectionPartial{Offset: 0, Size: s.cfg.MaxHeaderBytes},
	}
	txt = &imap.FetchItemBodySection{
		Specifier: imap.PartSpecifierText,
		Peek:      true,
		Partial:   &imap.SectionPartial{Offset: 0, Size: s.cfg.MaxTextBytes},
	}
	return hdr, txt
}

// readMessage reads one message of a FETCH answer: its UID, its size and
// the sections hdr and txt, each read up to its bound whatever the server
// sends. It returns the candidate (UID 0 for an unsolicited FETCH) and the
// number of message bytes read.
func (s *Scanner) readMessage(msg *imapclient.FetchMessageData, hdr, txt *imap.FetchItemBodySection) (Candidate, int64, error) {
	var (
		c            Candidate
		h, t         []byte
		hMore, tMore bool
		fetched      int64
	)
	for item := msg.Next(); item != nil; item = msg.Next() {
		switch it := item.(type) {
		case imapclient.FetchItemDataUID:
			c.UID = uint32(it.UID)
		case imapclient.FetchItemDataRFC822Size:
			c.Size = it.Size
		case imapclient.FetchItemDataBodySection:
			limit := s.cfg.MaxTextBytes
			isHeader := it.MatchCommand(hdr)
			if isHeader {
				limit = s.cfg.MaxHeaderBytes
			}
			if err := s.refuseHuge(it); err != nil {
				return c, fetched, fmt.Errorf("uid %d: %w", c.UID, err)
			}
			b, n, more, err := readBounded(it.Literal, limit)
			fetched += n
			if err != nil {
				// The literal failed: the connection dropped in its
				// middle. go-imap's decoder has already moved on over
				// the same buffer, so nothing of this command may be
				// read any more (msg.Next and cmd.Close would read the
				// literal again, racing with it). Close waits for the
				// decoder to stop.
				s.c.Close()
				return c, fetched, fmt.Errorf("uid %d: %w", c.UID, err)
			}
			if isHeader {
				h, hMore = b, more
			} else if it.MatchCommand(txt) {
				t, tMore = b, more
			}
		}
	}
	if c.UID != 0 {
		c.Raw, c.Truncated = assemble(h, t, s.cfg.MaxHeaderBytes, s.cfg.MaxTextBytes, hMore, tMore, c.Size)
	}
	return c, fetched, nil
}

// refuseHuge refuses a section the server announces larger than
// MaxLiteralBytes before any of it is read: the guard fails the
// connection, the literal then ends at once (after what go-imap had
// buffered) and the client is closed.
func (s *Scanner) refuseHuge(it imapclient.FetchItemDataBodySection) error {
	if it.Literal == nil || it.Literal.Size() <= s.cfg.MaxLiteralBytes {
		return nil
	}
	err := fmt.Errorf("%w: the server offers %d bytes of %s, more than the %d bytes of the largest mail rtbot reads",
		ErrReplyTooLarge, it.Literal.Size(), sectionName(it.Section), s.cfg.MaxLiteralBytes)
	s.guard.refuse(err)
	io.Copy(io.Discard, it.Literal)
	s.c.Close()
	return err
}

// sectionName is how a FETCH answer names a body section: "BODY[TEXT]".
func sectionName(sec *imap.FetchItemBodySection) string {
	if sec == nil {
		return "a section"
	}
	return "BODY[" + string(sec.Specifier) + "]"
}

// readBounded reads at most limit bytes of r, and counts (then drops) the
// rest: a hostile server may ignore the partial range it was asked for.
// When r has a Size (an IMAP literal) and ends before it, the transfer was
// cut: that is io.ErrUnexpectedEOF, not a short message. r is not read
// again after it has returned an error or EOF.
func readBounded(r io.Reader, limit int64) (b []byte, n int64, more bool, err error) {
	if r == nil {
		return nil, 0, false, nil
	}
	sr := &stickyReader{r: r}
	var buf bytes.Buffer
	n, err = buf.ReadFrom(io.LimitReader(sr, limit))
	if err != nil {
		return nil, n, false, err
	}
	rest, err := io.Copy(io.Discard, sr)
	n += rest
	if err != nil {
		return nil, n, false, err
	}
	if l, ok := r.(interface{ Size() int64 }); ok && n < l.Size() {
		return nil, n, false, fmt.Errorf("literal ended after %d of %d bytes: %w", n, l.Size(), io.ErrUnexpectedEOF)
	}
	return buf.Bytes(), n, rest > 0, nil
}

// stickyReader stops calling r once it has returned an error (io.EOF
// included) and returns that error from then on.
type stickyReader struct {
	r   io.Reader
	err error
}

func (s *stickyReader) Read(b []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	n, err := s.r.Read(b)
	s.err = err
	return n, err
}

// assemble joins the fetched header and body start into something a mail
// parser accepts, and reports whether it is short of the whole message.
func assemble(h, t []byte, hLimit, tLimit int64, hMore, tMore bool, size int64) ([]byte, bool) {
	headerCut := hMore || int64(len(h)) >= hLimit && !bytes.HasSuffix(h, []byte("\n\n")) && !bytes.HasSuffix(h, []byte("\r\n\r\n"))
	if headerCut {
		// Keep the complete lines only and end the header there; a partial
		// header line followed by body bytes would be parsed as header.
		if i := bytes.LastIndexByte(h, '\n'); i >= 0 {
			h = h[:i+1]
		} else {
			h = nil
		}
		raw := make([]byte, 0, len(h)+2)
		raw = append(raw, h...)
		raw = append(raw, "\r\n"...)
		return raw, true
	}
	raw := make([]byte, 0, len(h)+len(t))
	raw = append(raw, h...)
	raw = append(raw, t...)
	truncated := tMore || int64(len(t)) >= tLimit || (size > 0 && int64(len(raw)) < size)
	return raw, truncated
}

// Close logs out and closes the connection.
func (s *Scanner) Close() error {
	if s.dead != nil {
		s.c.Close()
		return nil
	}
	t := time.AfterFunc(min(logoutTimeout, s.cfg.Timeout), func() { s.c.Close() })
	defer t.Stop()
	logoutErr := s.c.Logout().Wait()
	closeErr := s.c.Close()
	if logoutErr != nil {
		return s.errorf("logout", 0, logoutErr)
	}
	if closeErr != nil && !errors.Is(closeErr, net.ErrClosed) {
		return s.errorf("close", 0, closeErr)
	}
	return nil
}

// Classifier decides what one mail is. Recognize has this signature.
type Classifier func(r io.Reader) (Announcement, error)

// Found is an announcement found in the mailbox.
type Found struct {
	UID          uint32
	Announcement Announcement
	// Duplicates are the UIDs of later copies of the same announcement
	// (same Message-ID): a subscriber of both stable@ and LKML gets the
	// cover twice, and it is one announcement.
	Duplicates []uint32
}

// Classify runs classify on every candidate and returns the announcements
// (Kind other than KindNone) in UID order, one per Message-ID. A candidate
// classify fails on does not stop the others: its error, naming the UID, is
// joined into err.
func Classify(cands []Candidate, classify Classifier) (found []Found, err error) {
	var errs []error
	byID := map[string]int{}
	for _, c := range cands {
		a, cerr := classify(bytes.NewReader(c.Raw))
		if cerr != nil {
			errs = append(errs, fmt.Errorf("uid %d: %w", c.UID, cerr))
			continue
		}
		if a.Kind == KindNone || a.Kind == "" {
			continue
		}
		if i, dup := byID[a.MessageID]; dup && a.MessageID != "" {
			found[i].Duplicates = append(found[i].Duplicates, c.UID)
			continue
		}
		byID[a.MessageID] = len(found)
		found = append(found, Found{UID: c.UID, Announcement: a})
	}
	return found, errors.Join(errs...)
}
