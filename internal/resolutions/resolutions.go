// Package resolutions reads and writes remembered conflict resolutions as
// a plain file, so that a team of maintainers can share them (`rtbot
// resolve --export` and `--import`), and holds a set of them in memory for
// `rtbot merge --resolutions FILE`.
//
// The file is JSON Lines: one resolution per line, each an object with the
// fields of merger.Resolution plus "recorded_at" (RFC 3339). Files are
// hostile input like any other: every field is checked, and an error names
// the file and line.
package resolutions

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"

	"github.com/rtbot/rtbot/internal/merger"
	"github.com/rtbot/rtbot/internal/patchqueue"
)

// MaxLine bounds one resolution (a conflicted and a resolved file, JSON
// escaped).
const MaxLine = 64 << 20

// Entry is one line of a resolutions file.
type Entry struct {
	merger.Resolution
	RecordedAt time.Time `json:"recorded_at"`
}

var hex64 = regexp.MustCompile(`^[0-9a-f]{64}$`)

// Check reports what is wrong with e, if anything.
func (e Entry) Check() error {
	switch {
	case !hex64.MatchString(e.Key):
		return fmt.Errorf("key %q is not 64 hex digits", e.Key)
	case !hex64.MatchString(e.PatchID):
		return fmt.Errorf("patch_id %q is not 64 hex digits", e.PatchID)
	case strings.TrimSpace(e.Source) == "" || strings.ContainsAny(e.Source, "\r\n"):
		return errors.New("source is empty or spans lines")
	case !strings.Contains(e.Preimage, "<<<<<<<"):
		return errors.New("preimage has no conflict markers")
	case strings.HasPrefix(e.Postimage, "<<<<<<<") || strings.Contains(e.Postimage, "\n<<<<<<<"):
		return errors.New("postimage still has conflict markers")
	}
	if err := patchqueue.CheckPath(e.Path); err != nil {
		return fmt.Errorf("path %q: %w", e.Path, err)
	}
	return nil
}

// Read reads a resolutions file; name is used in errors ("FILE:LINE: ...").
// Blank lines are skipped.
func Read(name string, r io.Reader) ([]Entry, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), MaxLine)
	var out []Entry
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.DisallowUnknownFields()
		var e Entry
		if err := dec.Decode(&e); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, n, err)
		}
		if dec.More() {
			return nil, fmt.Errorf("%s:%d: more than one object on the line", name, n)
		}
		if err := e.Check(); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, n, err)
		}
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			err = fmt.Errorf("a line is longer than %d bytes", MaxLine)
		}
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return out, nil
}

// Write writes entries, one per line.
func Write(w io.Writer, entries []Entry) error {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	for _, e := range entries {
		if err := e.Check(); err != nil {
			return fmt.Errorf("resolution of %s: %w", e.Path, err)
		}
		if err := enc.Encode(e); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// Memory is a set of resolutions in memory; it is a merger.Resolutions.
type Memory []merger.Resolution

// Resolutions returns those recorded for patchID and path.
func (m Memory) Resolutions(patchID, path string) ([]merger.Resolution, error) {
	var out []merger.Resolution
	for _, r := range m {
		if r.PatchID == patchID && r.Path == path {
			out = append(out, r)
		}
	}
	return out, nil
}
