package mailwatch

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/textproto"
	"strings"
	"time"
)

// Kinds of mail source besides an IMAP mailbox (see docs/operations.md,
// "Mail sources").
const (
	SourceIMAP        = "imap"
	SourceMaildir     = "maildir"
	SourcePublicInbox = "public-inbox"
)

// SourceScan is what one read of a Maildir or public-inbox source found:
// the messages whose Subject passed the filter (as an IMAP search would
// have chosen them), and the position to save once they are recorded.
type SourceScan struct {
	// Candidates are the matching messages, oldest first. Their UID is 0
	// and their Key names them within the source.
	Candidates []Candidate
	// Next is the source's new checkpoint (JSON), to save once the
	// candidates are recorded.
	Next []byte
	// Read counts the messages looked at, matching or not.
	Read int
	// Bytes counts what was read: message bytes, and for a remote
	// public-inbox the bytes of the HTTP exchanges.
	Bytes int64
	// Rewritten reports that a public-inbox epoch was rewritten (purged)
	// since the checkpoint: mail after the checkpoint's time was read
	// again, and de-duplication by Message-ID applies.
	Rewritten bool
	// Note says anything else worth a log line ("first run: starting at
	// epoch 3, commit ...").
	Note string
}

// SourceFilter chooses, by Subject, the mail worth classifying, as the
// IMAP search does on the server: a Subject containing one of the
// filters (case-insensitive), and no "Re:" unless IncludeReplies.
type SourceFilter struct {
	Subjects       []string
	IncludeReplies bool
}

// match reports whether the message whose start is raw passes f.
func (f SourceFilter) match(raw []byte) bool {
	subject := strings.ToLower(subjectOf(raw))
	if !f.IncludeReplies && strings.Contains(subject, "re:") {
		return false
	}
	subjects := f.Subjects
	if len(subjects) == 0 {
		subjects = DefaultSubjectFilters()
	}
	for _, s := range subjects {
		if strings.Contains(subject, strings.ToLower(s)) {
			return true
		}
	}
	return false
}

// subjectOf returns the decoded Subject of the message whose start is
// raw, "" if the header cannot be read.
func subjectOf(raw []byte) string {
	h, err := textproto.NewReader(bufio.NewReader(bytes.NewReader(raw))).ReadMIMEHeader()
	if err != nil && len(h) == 0 {
		return ""
	}
	s := h.Get("Subject")
	if d, err := new(mime.WordDecoder).DecodeHeader(s); err == nil {
		return d
	}
	return s
}

// readCandidate reads the start of a message of size bytes from r: up
// to limit bytes, enough to classify it.
func readCandidate(r io.Reader, size, limit int64, key string) (Candidate, error) {
	raw, err := io.ReadAll(io.LimitReader(r, limit))
	if err != nil {
		return Candidate{}, fmt.Errorf("read %s: %w", key, err)
	}
	return Candidate{Key: key, Size: size, Raw: raw, Truncated: int64(len(raw)) < size}, nil
}

// KeyID returns a short stable hexadecimal name for a candidate's Key,
// usable in a made-up Message-ID.
func KeyID(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:8])
}

// DescribePosition says in a few words where a source's checkpoint (its
// JSON, as a scan returned it) stands: "epoch 3, after commit
// 1a2b3c4d5e6f", "1,234 files read". It never fails: a position it cannot
// read is said to be so.
func DescribePosition(kind string, position []byte) string {
	switch kind {
	case SourcePublicInbox:
		var p inboxPosition
		if json.Unmarshal(position, &p) != nil {
			break
		}
		if p.Commit == "" {
			return fmt.Sprintf("epoch %d, from its start", p.Epoch)
		}
		return fmt.Sprintf("epoch %d, after commit %.12s", p.Epoch, p.Commit)
	case SourceMaildir:
		var p maildirPosition
		if json.Unmarshal(position, &p) != nil {
			break
		}
		names := fmt.Sprintf("%d file names read", len(p.Seen))
		if len(p.Seen) == 1 {
			names = "1 file name read"
		}
		if p.Before != 0 {
			return names + ", and every file older than " + time.Unix(0, p.Before).UTC().Format(time.RFC3339)
		}
		return names
	}
	return "unreadable checkpoint"
}
