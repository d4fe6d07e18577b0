package mailwatch

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/rtbot/rtbot/internal/msgid"
	"github.com/rtbot/rtbot/internal/refname"

	"github.com/emersion/go-message"
	_ "github.com/emersion/go-message/charset" // every charset a kernel mail may use
	"github.com/emersion/go-message/mail"
	"github.com/emersion/go-message/textproto"
)

// ErrTooLarge is returned (wrapped) by [Recognize] when a mail is larger than
// [Limits].MaxBytes or its header block is larger than Limits.MaxHeaderBytes.
var ErrTooLarge = errors.New("mailwatch: mail too large")

// Limits bound how much of a mail [RecognizeWithLimits] reads and keeps. Mail
// is hostile input: a 200 MB message or a MIME bomb must cost at most these
// bounds. A zero or negative field means its default.
type Limits struct {
	// MaxBytes is the largest mail accepted, counted on the raw input. The
	// input is always read to its end (or to MaxBytes+1), so an over-size mail
	// is an error whatever it contains. Default 8 MiB.
	MaxBytes int64
	// MaxHeaderBytes bounds the header block (approximately: the reader is
	// buffered, so a header within a few KiB of the limit may be refused).
	// Default 256 KiB.
	MaxHeaderBytes int64
	// MaxTextBytes bounds the decoded body text kept for examination. Only
	// the start of an announcement's body matters; the rest is skipped.
	// Default 256 KiB.
	MaxTextBytes int64
	// MaxParts bounds how many MIME parts are opened looking for text/plain.
	// Default 64.
	MaxParts int
	// MaxDepth bounds multipart nesting. Default 8.
	MaxDepth int
}

// DefaultLimits returns the limits a zero field of [Limits] stands for:
// 8 MiB of mail, 256 KiB of header, 256 KiB of text, 64 MIME parts,
// multipart nesting 8 deep.
func DefaultLimits() Limits {
	return Limits{MaxBytes: 8 << 20, MaxHeaderBytes: 256 << 10, MaxTextBytes: 256 << 10, MaxParts: 64, MaxDepth: 8}
}

// withDefaults returns l with its zero or negative fields set to their
// DefaultLimits values.
func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	if l.MaxBytes <= 0 {
		l.MaxBytes = d.MaxBytes
	}
	if l.MaxHeaderBytes <= 0 {
		l.MaxHeaderBytes = d.MaxHeaderBytes
	}
	if l.MaxTextBytes <= 0 {
		l.MaxTextBytes = d.MaxTextBytes
	}
	if l.MaxParts <= 0 {
		l.MaxParts = d.MaxParts
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = d.MaxDepth
	}
	return l
}

// Recognize reads one RFC 5322 message and says what announcement, if any, it
// is. It uses the default [Limits]; see [RecognizeWithLimits].
func Recognize(r io.Reader) (Announcement, error) {
	return RecognizeWithLimits(r, Limits{})
}

// RecognizeWithLimits reads one RFC 5322 message from r, reading at most
// lim.MaxBytes+1 bytes, and says what announcement, if any, it is.
//
// A readable mail that is not an announcement, or that looks like one but
// carries a field that fails validation (see [Announcement.Validate]), is
// returned as KindNone with a Reason; that is not an error. An error means
// the input could not be read: an I/O error, a malformed header block, a body
// that cannot be decoded, or a mail over the limits (errors.Is ErrTooLarge).
// With an error the returned Announcement is KindNone and carries whatever of
// MessageID, From and Subject was read, for logging.
//
// The rules, in order:
//
//   - Subject starting with "Re:" (or Aw:, Sv:, ...): a reply.
//   - Subject starting with "Fwd:", "Fw:", "[FWD]", "[Fwd: ...]": a forwarded copy.
//   - "[PATCH X.Y N/M] X.Y.Z-rcK review" (or "X.Y.Z-stable review", meaning
//     rc1, the form used until March 2020) is a stable-rc cover when N is
//     zero in any padding; a non-zero N is one patch of the series.
//   - "[PATCH RT N/M] Linux vX.Y.Z-rtN-rcK" is an rt-rc cover when N is zero.
//   - "[ANNOUNCE] [EOL] [v]X.Y[.Z][-rcK]-rtN [EOL|(EOL)]" is an RT release;
//     rt-devel or rt-stable is decided by the git tree the body names
//     (linux-rt-devel.git or linux-stable-rt.git) and, when the body names
//     neither, by the subject: a "v" prefix, a two-part version X.Y or a
//     mainline -rcK means rt-devel, otherwise rt-stable. A "-rcK" suffix
//     after "-rtN" is an rt-rc announced with [ANNOUNCE].
//   - "Linux X.Y.Z" is a final release, not a review cycle.
//   - A cover-shaped subject with In-Reply-To or References is a reply (testers
//     reply with the cover's exact subject), except a stable-rc cover
//     threaded under an earlier one (the 3.16 and 4.4 maintainers sent their
//     respins as replies to the rc1 cover): a respin (rc2 or later) that
//     carries an X-KernelTest-Version header agreeing with the subject
//     (Greg's scripts add those headers, mail clients do not), or, with
//     [RecognizeInThread], a cover whose parent (its In-Reply-To, else the
//     last of its References) is an earlier stable-rc cover of the same
//     series that rtbot recorded. A reply to a cover with the cover's own
//     subject has that cover for parent, not an earlier one.
//
// For stable-rc covers the X-KernelTest-Version, -Branch, -Tree, -Patch and
// -Deadline headers win over the body; the body ("Responses should be made
// by", "found in one patch at:", "git tree and branch at:") fills what the
// headers lack. A header that is present but invalid makes the mail KindNone,
// and so does a Message-ID msgid.Check refuses: no report could be
// threaded under it (a mail without one is still recognised, for `rtbot
// announce`; the pipeline does not act on it).
func RecognizeWithLimits(r io.Reader, lim Limits) (Announcement, error) {
	return RecognizeInThread(r, lim, nil)
}

// Earlier looks up an announcement recorded before: the one under
// messageID that rtbot acts on, if any (ok false when there is none).
type Earlier func(messageID string) (a Announcement, ok bool)

// RecognizeInThread is [RecognizeWithLimits] knowing, through earlier, the
// announcements recorded before this mail: a stable-rc cover sent as a
// reply to an earlier rc's cover of the same series is then an
// announcement too. A nil earlier knows none.
func RecognizeInThread(r io.Reader, lim Limits, earlier Earlier) (Announcement, error) {
	lim = lim.withDefaults()
	br := &boundedReader{r: r, total: lim.MaxBytes, header: lim.MaxHeaderBytes, lim: lim}
	buf := bufio.NewReader(br)

	a := Announcement{Kind: KindNone}
	th, err := textproto.ReadHeader(buf)
	if err != nil && !(errors.Is(err, io.EOF) && th.Len() > 0) {
		return a, br.wrap("reading header", err)
	}
	if th.Len() == 0 {
		return a, errors.New("reading header: no header fields")
	}
	headerOnly := err != nil // a header block ended by EOF, without a body
	br.header = -1
	h := mail.Header{Header: message.Header{Header: th}}

	var idErr error
	a.MessageID, idErr = messageID(h)
	a.From = fromAddress(h)
	a.Subject = subject(h)

	c := classify(h, a.Subject, earlier)
	if c.kind != KindNone {
		var body string
		if !headerOnly {
			body = readText(h, buf, lim)
		}
		c = c.extract(h, body)
	}
	// Read to the end so an over-size mail is refused whatever it is, and
	// so the caller's stream is left at the end of this message.
	if _, err := io.Copy(io.Discard, buf); err != nil {
		what := "reading body"
		if a.MessageID != "" {
			what += " of message <" + a.MessageID + ">"
		}
		return a, br.wrap(what, err)
	}

	if c.kind == KindNone {
		a.Reason = c.reason
		return a, nil
	}
	if idErr != nil {
		// The report could not say In-Reply-To: one rtbot cannot send.
		a.Reason = idErr.Error() + ", so no report could answer it"
		return a, nil
	}
	a.Kind, a.Series, a.Version, a.RC = c.kind, c.series, c.version, c.rc
	a.GitURL, a.GitBranch, a.PatchURL, a.Deadline = c.gitURL, c.gitBranch, c.patchURL, c.deadline
	if err := a.Validate(); err != nil {
		return Announcement{Kind: KindNone, MessageID: a.MessageID, From: a.From, Subject: a.Subject,
			Reason: err.Error()}, nil
	}
	return a, nil
}

// boundedReader counts what is read from r and fails once more than total
// bytes (or, while header >= 0, more than header bytes) have been asked for.
type boundedReader struct {
	r        io.Reader
	total    int64 // bytes still allowed in all
	header   int64 // bytes still allowed for the header block; <0: no header limit
	lim      Limits
	exceeded string
}

func (b *boundedReader) Read(p []byte) (int, error) {
	if b.exceeded != "" {
		return 0, ErrTooLarge
	}
	limit := b.total + 1 // read one byte past the limit to tell "exactly" from "more"
	if b.header >= 0 && b.header+1 < limit {
		limit = b.header + 1
	}
	if int64(len(p)) > limit {
		p = p[:limit]
	}
	n, err := b.r.Read(p)
	if int64(n) > b.total {
		b.exceeded = fmt.Sprintf("mail over the limit of %d bytes", b.lim.MaxBytes)
		return 0, ErrTooLarge
	}
	if b.header >= 0 && int64(n) > b.header {
		b.exceeded = fmt.Sprintf("header block over the limit of %d bytes", b.lim.MaxHeaderBytes)
		return 0, ErrTooLarge
	}
	b.total -= int64(n)
	if b.header >= 0 {
		b.header -= int64(n)
	}
	return n, err
}

// wrap names what failed; an over-size mail is reported as such whatever
// error the parser made of it.
func (b *boundedReader) wrap(what string, err error) error {
	if b.exceeded != "" {
		return fmt.Errorf("%s: %s: %w", what, b.exceeded, ErrTooLarge)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// readText returns up to lim.MaxTextBytes of the first inline text/plain
// part of the mail, decoded to UTF-8. It never fails: a body that stops
// decoding part-way (broken base64, a mail cut short by a partial IMAP fetch,
// a truncated multipart) yields the text decoded up to there, an unknown
// charset or transfer encoding yields the raw text, and errors of the input
// itself resurface when the caller drains the rest.
func readText(h mail.Header, body io.Reader, lim Limits) string {
	e, _ := message.New(h.Header, body) // the entity is readable even with an error
	parts := lim.MaxParts
	r := findText(e, 0, &parts, lim)
	if r == nil {
		return ""
	}
	b, _ := io.ReadAll(io.LimitReader(r, lim.MaxTextBytes))
	return string(b)
}

// findText walks multipart entities depth-first for the first inline
// text/plain part, within the part and depth budgets; nil if there is none.
func findText(e *message.Entity, depth int, parts *int, lim Limits) io.Reader {
	if mr := e.MultipartReader(); mr != nil {
		if depth >= lim.MaxDepth {
			return nil
		}
		for *parts > 0 {
			*parts--
			p, err := mr.NextPart()
			if err != nil && (p == nil || !(message.IsUnknownCharset(err) || message.IsUnknownEncoding(err))) {
				return nil // the end, or a broken or truncated multipart
			}
			if r := findText(p, depth+1, parts, lim); r != nil {
				return r
			}
		}
		return nil
	}
	t, _, err := e.Header.ContentType()
	if err != nil && e.Header.Get("Content-Type") != "" {
		return nil // unreadable Content-Type: not text we can trust
	}
	if t != "" && t != "text/plain" {
		return nil
	}
	if d, _, _ := e.Header.ContentDisposition(); d == "attachment" {
		return nil
	}
	return e.Body
}

// candidate is what the subject and headers promise, before validation.
type candidate struct {
	kind      Kind
	reason    string
	series    string
	version   string
	rc        int
	fromV     bool // RT subject had a "v" before the version
	gitURL    string
	gitBranch string
	patchURL  string
	deadline  time.Time
}

func none(format string, args ...any) candidate {
	return candidate{kind: KindNone, reason: fmt.Sprintf(format, args...)}
}

var (
	// A reply or forward prefix at the start of the subject.
	replyRe   = regexp.MustCompile(`(?i)^(re|aw|sv|antw|odp|vs)(\[\d+\])?\s*:`)
	forwardRe = regexp.MustCompile(`(?i)^(fwd?\s*:|\[fwd?\b|\(fwd?\))`)

	// [PATCH 6.1 000/114] 6.1.12-rc1 review  /  [PATCH 4.4 00/20] 4.4.202-stable review
	stableSubjectRe = regexp.MustCompile(`^\[PATCH (\d{1,4}\.\d{1,4}) (\d{1,5})/(\d{1,5})\]\s+(.*)$`)
	stableCoverRe   = regexp.MustCompile(`^(\d{1,4}\.\d{1,4}(?:\.\d{1,5})?)-(?:rc(\d{1,3})|(stable)) review$`)

	// [PATCH RT 0/3] Linux v5.4.143-rt64-rc2
	rtPatchSubjectRe = regexp.MustCompile(`^\[PATCH RT (\d{1,5})/(\d{1,5})\]\s+(.*)$`)
	rtRCCoverRe      = regexp.MustCompile(`^Linux v?(\d{1,4}\.\d{1,4}(?:\.\d{1,5})?-rt\d{1,5})-rc(\d{1,3})$`)

	// [ANNOUNCE] 6.1.79-rt25, [ANNOUNCE] EOL 4.19.312-rt134, [ANNOUNCE] v6.6-rt12
	announceRe = regexp.MustCompile(`^\[ANNOUNCE\]\s+(EOL:?\s+)?(v?)(\d{1,4}\.\d{1,4}(?:\.\d{1,5})?)((?:-rc\d{1,3})?)-rt(\d{1,5})((?:-rc\d{1,3})?)(\s+(?:EOL|\(EOL\)))?$`)

	// Linux 6.12.51
	releaseRe = regexp.MustCompile(`^Linux \d{1,4}\.\d{1,4}(\.\d{1,5})?$`)

	headerVersionRe = regexp.MustCompile(`^(\d{1,4}\.\d{1,4}(?:\.\d{1,5})?)-rc(\d{1,3})$`)
	spaceRe         = regexp.MustCompile(`\s+`)
	rtReleaseOnRe   = regexp.MustCompile(`converted to the next main\s+release on (\d{4}-\d\d-\d\d)\b`)
)

// classify decides from the subject and threading headers what the mail
// claims to be; extract then fills and checks the details.
func classify(h mail.Header, subj string, earlier Earlier) candidate {
	if subj == "" {
		return none("no subject")
	}
	if m := replyRe.FindString(subj); m != "" {
		return none("reply: subject starts with %q", m)
	}
	if m := forwardRe.FindString(subj); m != "" {
		return none("forwarded copy: subject starts with %q", m)
	}

	var c candidate
	switch {
	case stableSubjectRe.MatchString(subj):
		m := stableSubjectRe.FindStringSubmatch(subj)
		if strings.Trim(m[2], "0") != "" {
			return none("patch %s/%s of a series, not the cover", m[2], m[3])
		}
		cm := stableCoverRe.FindStringSubmatch(m[4])
		if cm == nil {
			return none("series cover %s/%s is not a stable review cycle (%q)", m[2], m[3], clip(m[4]))
		}
		c = candidate{kind: KindStableRC, series: m[1], version: cm[1], rc: 1}
		if cm[3] == "" {
			c.rc, _ = strconv.Atoi(cm[2])
		}
	case rtPatchSubjectRe.MatchString(subj):
		m := rtPatchSubjectRe.FindStringSubmatch(subj)
		if strings.Trim(m[1], "0") != "" {
			return none("RT patch %s/%s of a series, not the cover", m[1], m[2])
		}
		cm := rtRCCoverRe.FindStringSubmatch(m[3])
		if cm == nil {
			return none("RT series cover %s/%s is not an RT review cycle (%q)", m[1], m[2], clip(m[3]))
		}
		c = candidate{kind: KindRTRC, version: cm[1]}
		c.rc, _ = strconv.Atoi(cm[2])
	case strings.HasPrefix(subj, "[ANNOUNCE]"):
		m := announceRe.FindStringSubmatch(subj)
		if m == nil {
			return none("announcement is not an RT release (%q)", clip(subj))
		}
		base, mainlineRC, rtN, rtRC := m[3], m[4], m[5], m[6]
		c = candidate{version: base + mainlineRC + "-rt" + rtN, fromV: m[2] == "v"}
		switch {
		case rtRC != "":
			c.kind = KindRTRC
			c.rc, _ = strconv.Atoi(strings.TrimPrefix(rtRC, "-rc"))
		case mainlineRC != "" || c.fromV || strings.Count(base, ".") == 1:
			c.kind = KindRTDevel // may be revised by the body's tree
		default:
			c.kind = KindRTStable // may be revised by the body's tree
		}
	case releaseRe.MatchString(subj):
		return none("subject is a release, not a review cycle")
	default:
		return none("subject is not an announcement")
	}
	if c.series == "" {
		c.series = seriesOf(c.version)
	}

	irt := strings.TrimSpace(h.Get("In-Reply-To"))
	refs := strings.TrimSpace(h.Get("References"))
	if irt == "" && refs == "" {
		return c
	}
	if c.kind == KindStableRC && c.rc >= 2 {
		if hv := strings.TrimSpace(h.Get("X-KernelTest-Version")); hv == fmt.Sprintf("%s-rc%d", c.version, c.rc) {
			return c // a respin threaded under rc1 by the stable scripts
		}
	}
	if c.kind == KindStableRC && c.threadedUnderEarlier(h, earlier) {
		return c
	}
	if irt != "" {
		return none("reply: has In-Reply-To")
	}
	return none("reply: has References")
}

// threadedUnderEarlier reports whether the mail's parent (In-Reply-To,
// else the last of References) is a stable-rc cover earlier recorded, of
// the same series and an earlier version or rc than c.
func (c candidate) threadedUnderEarlier(h mail.Header, earlier Earlier) bool {
	if earlier == nil {
		return false
	}
	parents, _ := h.MsgIDList("In-Reply-To")
	if len(parents) == 0 {
		refs, _ := h.MsgIDList("References")
		parents = refs[max(len(refs)-1, 0):]
	}
	if len(parents) == 0 {
		return false
	}
	e, ok := earlier(parents[0])
	return ok && e.Kind == KindStableRC && e.Series == c.series && before(e.Version, e.RC, c.version, c.rc)
}

// before reports whether stable version v (rc; 0 for a release) comes
// before version w (rc w2) of the same series: a release comes after its
// rcs.
func before(v string, rc int, w string, rc2 int) bool {
	key := func(version string, rc int) (int, int, bool) {
		i := strings.LastIndexByte(version, '.')
		sub, err := strconv.Atoi(version[i+1:])
		if rc == 0 {
			rc = math.MaxInt
		}
		return sub, rc, err == nil && strings.Count(version, ".") == 2
	}
	s1, r1, ok1 := key(v, rc)
	s2, r2, ok2 := key(w, rc2)
	return ok1 && ok2 && (s1 < s2 || s1 == s2 && r1 < r2)
}

// extract fills a candidate from the X-KernelTest headers and the body text.
func (c candidate) extract(h mail.Header, body string) candidate {
	lines := strings.Split(strings.ReplaceAll(body, "\r\n", "\n"), "\n")
	switch c.kind {
	case KindStableRC:
		return c.extractStable(h, lines)
	default:
		return c.extractRT(lines)
	}
}

func (c candidate) extractStable(h mail.Header, lines []string) candidate {
	if v := headerValue(h, "X-KernelTest-Version"); v != "" {
		m := headerVersionRe.FindStringSubmatch(v)
		if m == nil {
			return none("invalid version in X-KernelTest-Version: %q", clip(v))
		}
		rc, _ := strconv.Atoi(m[2])
		if m[1] != c.version || rc != c.rc {
			return none("X-KernelTest-Version %q disagrees with subject (%s-rc%d)", clip(v), c.version, c.rc)
		}
	}

	c.gitURL = headerValue(h, "X-KernelTest-Tree")
	c.gitBranch = headerValue(h, "X-KernelTest-Branch")
	if c.gitURL == "" || c.gitBranch == "" {
		if f := strings.Fields(lineAfter(lines, "git tree and branch at:")); len(f) == 2 {
			if c.gitURL == "" {
				c.gitURL = f[0]
			}
			if c.gitBranch == "" {
				c.gitBranch = f[1]
			}
		}
	}
	if c.patchURL = headerValue(h, "X-KernelTest-Patch"); c.patchURL == "" {
		if f := strings.Fields(lineAfter(lines, "found in one patch at:")); len(f) == 1 {
			c.patchURL = f[0]
		}
	}

	if v := headerValue(h, "X-KernelTest-Deadline"); v != "" {
		t, ok := parseDeadline(v)
		if !ok {
			return none("invalid deadline in X-KernelTest-Deadline: %q", clip(v))
		}
		c.deadline = t
	} else {
		for _, l := range lines {
			if _, rest, ok := strings.Cut(l, "Responses should be made by "); ok {
				if t, ok := parseDeadline(rest); ok {
					c.deadline = t
				}
				break
			}
		}
	}
	return c
}

func (c candidate) extractRT(lines []string) candidate {
	for _, l := range lines {
		f := strings.Fields(l)
		switch {
		case len(f) >= 1 && len(f) <= 2 && strings.HasSuffix(f[0], ".git") && strings.Contains(f[0], "://"):
			if c.gitURL == "" {
				c.gitURL = f[0]
				if len(f) == 2 {
					c.gitBranch = f[1]
				}
			}
		case len(f) == 2 && f[0] == "branch:":
			if c.gitBranch == "" {
				c.gitBranch = f[1]
			}
		case len(f) == 1 && c.patchURL == "" && strings.Contains(f[0], "://"):
			name := "/patch-" + c.version
			if c.kind == KindRTRC {
				name += fmt.Sprintf("-rc%d", c.rc)
			}
			if strings.Contains(f[0], name+".patch.") {
				c.patchURL = f[0]
			}
		}
	}
	if c.kind == KindRTRC {
		// "... this patch will be converted to the next main\nrelease on 2021-09-10."
		if m := rtReleaseOnRe.FindStringSubmatch(strings.Join(lines, "\n")); m != nil {
			if t, err := time.Parse("2006-01-02", m[1]); err == nil {
				c.deadline = t
			}
		}
	}
	if c.kind == KindRTStable || c.kind == KindRTDevel {
		switch {
		case strings.HasSuffix(c.gitURL, "/linux-rt-devel.git"):
			c.kind = KindRTDevel
		case strings.HasSuffix(c.gitURL, "/linux-stable-rt.git"):
			if c.fromV && strings.Count(strings.SplitN(c.version, "-", 2)[0], ".") == 1 {
				return none("RT development version %s announced with the stable-rt tree", c.version)
			}
			c.kind = KindRTStable
		}
	}
	return c
}

// headerValue is a header field's value, unfolded and trimmed.
func headerValue(h mail.Header, key string) string {
	return strings.TrimSpace(spaceRe.ReplaceAllString(h.Get(key), " "))
}

// lineAfter returns the first non-blank line, trimmed, among the three after
// the first line that ends with marker.
func lineAfter(lines []string, marker string) string {
	for i, l := range lines {
		if !strings.HasSuffix(strings.TrimSpace(l), marker) {
			continue
		}
		for j := i + 1; j < len(lines) && j <= i+3; j++ {
			if s := strings.TrimSpace(lines[j]); s != "" {
				return s
			}
		}
		return ""
	}
	return ""
}

// deadlineLayouts are the forms "Responses should be made by" and
// X-KernelTest-Deadline have used.
var deadlineLayouts = []string{
	"2006-01-02T15:04Z07:00",          // X-KernelTest-Deadline: 2023-02-15T14:47+00:00
	"2006-01-02T15:04:05Z07:00",       // RFC 3339
	"Mon, 2 Jan 2006 15:04:05 -0700",  // Wed, 15 Feb 2023 14:46:51 +0000
	"Mon, 2 Jan 2006 15:04:05 MST",    // Wed, 15 Feb 2023 14:46:51 UTC
	"Mon Jan _2 15:04:05 MST 2006",    // date(1): Thu Nov 28 07:03:24 UTC 2019
	"Mon Jan _2 03:04:05 PM MST 2006", // date(1), 12-hour locale: Thu Jun 13 03:36:21 PM UTC 2024
	"Mon, 2 Jan 2006 15:04:05 -0700 (MST)",
	"2006-01-02 15:04:05 -0700",
	"2006-01-02 15:04 MST",
}

// parseDeadline reads a deadline in one of deadlineLayouts, after dropping a
// trailing full stop. Zone abbreviations other than UTC and GMT are refused:
// Go would silently read them as UTC.
func parseDeadline(s string) (time.Time, bool) {
	s = strings.TrimSpace(spaceRe.ReplaceAllString(s, " "))
	s = strings.TrimSuffix(s, ".")
	if len(s) > 64 {
		return time.Time{}, false
	}
	for _, layout := range deadlineLayouts {
		t, err := time.Parse(layout, s)
		if err != nil {
			continue
		}
		if strings.Contains(layout, "MST") {
			if name, _ := t.Zone(); name != "UTC" && name != "GMT" {
				continue
			}
		}
		if t.Year() < 1991 || t.Year() > 2999 {
			return time.Time{}, false
		}
		return t.UTC(), true
	}
	return time.Time{}, false
}

func seriesOf(version string) string {
	base, _, _ := strings.Cut(version, "-")
	parts := strings.SplitN(base, ".", 3)
	if len(parts) < 2 {
		return ""
	}
	return parts[0] + "." + parts[1]
}

// subject is the decoded Subject with whitespace runs (folding included) and
// control characters collapsed to one space.
func subject(h mail.Header) string {
	s, err := h.Subject()
	if err != nil {
		s = h.Get("Subject") // unknown charset: the raw value
	}
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	return strings.TrimSpace(spaceRe.ReplaceAllString(s, " "))
}

var addrRe = regexp.MustCompile(`^[!-;=?-~]{1,254}@[!-;=?-~]{1,254}$`)

// messageID is the Message-ID without angle brackets: "" and no error when
// the mail has none, "" and why when it has one that msgid.Check refuses
// (a report could not name it in In-Reply-To).
func messageID(h mail.Header) (string, error) {
	id, err := h.MessageID()
	if err != nil || id == "" {
		id = strings.TrimSpace(h.Get("Message-Id"))
		id = strings.TrimSuffix(strings.TrimPrefix(id, "<"), ">")
	}
	if id == "" {
		return "", nil
	}
	if err := msgid.Check(id); err != nil {
		return "", err
	}
	return id, nil
}

// fromAddress is the first From address, lower-cased, or "".
func fromAddress(h mail.Header) string {
	var addr string
	if l, err := h.AddressList("From"); err == nil && len(l) > 0 {
		addr = l[0].Address
	} else {
		addr = strings.TrimSpace(h.Get("From"))
		if i := strings.LastIndexByte(addr, '<'); i >= 0 {
			addr = strings.TrimSuffix(addr[i+1:], ">")
		}
	}
	addr = strings.ToLower(strings.TrimSpace(addr))
	if !addrRe.MatchString(addr) {
		return ""
	}
	return addr
}

// Validation patterns for what Recognize extracts (mail is hostile).
var (
	seriesRe        = regexp.MustCompile(`^\d+\.\d+$`)
	stableVersionRe = regexp.MustCompile(`^\d+\.\d+(\.\d+)?$`)
	rtVersionRe     = regexp.MustCompile(`^\d+\.\d+(\.\d+)?-rt\d+$`)
	// RT development releases also follow mainline release candidates.
	rtDevelVersionRe = regexp.MustCompile(`^\d+\.\d+(\.\d+)?(-rc\d+)?-rt\d+$`)
)

// Validate checks every field of an announcement against the strict patterns
// rtbot trusts: Series "X.Y"; Version "X.Y[.Z]" for stable-rc, with "-rtN"
// for RT kinds (and an optional mainline "-rcK" before it for rt-devel) and
// starting with Series; RC 1..999 for review cycles and 0 for releases;
// GitBranch accepted by refname.Branch; GitURL and PatchURL git://, https:// or http://
// with a host and no whitespace or control characters. Empty URL and branch
// fields are allowed. KindNone is valid when it has a Reason.
func (a Announcement) Validate() error {
	switch a.Kind {
	case KindNone:
		if a.Reason == "" {
			return errors.New("kind none without a reason")
		}
		return nil
	case KindStableRC, KindRTStable, KindRTRC, KindRTDevel:
	default:
		return fmt.Errorf("invalid kind %q", clip(string(a.Kind)))
	}
	if !seriesRe.MatchString(a.Series) {
		return fmt.Errorf("invalid series %q", clip(a.Series))
	}
	versionRe := stableVersionRe
	switch a.Kind {
	case KindRTStable, KindRTRC:
		versionRe = rtVersionRe
	case KindRTDevel:
		versionRe = rtDevelVersionRe
	}
	if !versionRe.MatchString(a.Version) {
		return fmt.Errorf("invalid version %q", clip(a.Version))
	}
	if base, _, _ := strings.Cut(a.Version, "-"); base != a.Series && !strings.HasPrefix(base, a.Series+".") {
		return fmt.Errorf("version %q is not in series %q", clip(a.Version), clip(a.Series))
	}
	switch a.Kind {
	case KindStableRC, KindRTRC:
		if a.RC < 1 || a.RC > 999 {
			return fmt.Errorf("invalid rc %d", a.RC)
		}
	default:
		if a.RC != 0 {
			return fmt.Errorf("rc %d on a release", a.RC)
		}
	}
	if a.GitBranch != "" {
		if err := validBranch(a.GitBranch); err != nil {
			return err
		}
	}
	if a.GitURL != "" {
		if err := validURL(a.GitURL); err != nil {
			return fmt.Errorf("invalid git URL: %w", err)
		}
	}
	if a.PatchURL != "" {
		if err := validURL(a.PatchURL); err != nil {
			return fmt.Errorf("invalid patch URL: %w", err)
		}
	}
	return nil
}

func validBranch(b string) error {
	if refname.Branch(b) != nil {
		return fmt.Errorf("invalid git branch %q", clip(b))
	}
	return nil
}

func validURL(s string) error {
	if len(s) > 2048 {
		return fmt.Errorf("%q is %d bytes long", clip(s), len(s))
	}
	q := clip(s)
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 0x7f {
			return fmt.Errorf("%q has whitespace, control or non-ASCII characters", q)
		}
	}
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("%q: %w", q, err)
	}
	switch u.Scheme {
	case "git", "https", "http":
	default:
		return fmt.Errorf("%q: scheme not git, https or http", q)
	}
	if u.Host == "" || u.Opaque != "" || u.User != nil || strings.HasPrefix(u.Host, "-") {
		return fmt.Errorf("%q: no plain host", q)
	}
	return nil
}

// clip shortens hostile text quoted in a Reason or error to 80 bytes.
func clip(s string) string {
	const limit = 80
	if len(s) <= limit {
		return s
	}
	i := limit
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "..."
}
