// Package patchqueue reads PREEMPT_RT patch queues in the forms they are
// published in — a quilt directory with a series file, a patches-*.tar.xz
// tarball, a single patch or an mbox of format-patch mails — and parses each
// patch into its author, date, message and per-file diffs. It also applies a
// file diff's hunks to a text the way git apply does ([ApplyHunks]), and
// reverses them ([ReverseHunks]).
//
// It never touches a repository: a queue given as a git range is listed by
// the merger, which fills in [Patch] values itself (see [ParseRange]).
package patchqueue

import (
	"fmt"
	"strings"
	"time"

	"github.com/rtbot/rtbot/internal/refname"
)

// Op is what a patch does to one file.
type Op int

// The operations a file diff can perform.
const (
	OpModify Op = iota // change an existing file in place
	OpAdd              // create a new file
	OpDelete           // delete a file
	OpRename           // move a file, possibly changing it too
	OpCopy             // copy a file, possibly changing the copy
)

// String returns the operation's name as used in reports.
func (o Op) String() string {
	switch o {
	case OpAdd:
		return "add"
	case OpDelete:
		return "delete"
	case OpRename:
		return "rename"
	case OpCopy:
		return "copy"
	}
	return "modify"
}

// Line is one line of a hunk body.
type Line struct {
	// Op is ' ' for context, '-' for a removed line and '+' for an added one.
	Op byte
	// Text is the line's content including its "\n" terminator; it has no
	// terminator when the diff marked it "\ No newline at end of file".
	Text string
}

// Hunk is one "@@ -a,b +c,d @@" section of a file diff.
type Hunk struct {
	OldStart, OldLines int    // first line and line count in the pre-image (1-based; 0 for an empty range)
	NewStart, NewLines int    // first line and line count in the post-image
	Section            string // text after the closing "@@", usually a function name
	Lines              []Line // the body in order
	// Pos is the 1-based line of the "@@" header in the patch file, for errors.
	Pos int
}

// Old returns the hunk's pre-image lines: context and removed lines.
func (h *Hunk) Old() []string { return h.side('-') }

// New returns the hunk's post-image lines: context and added lines.
func (h *Hunk) New() []string { return h.side('+') }

func (h *Hunk) side(keep byte) []string {
	out := make([]string, 0, len(h.Lines))
	for _, l := range h.Lines {
		if l.Op == ' ' || l.Op == keep {
			out = append(out, l.Text)
		}
	}
	return out
}

// Leading and Trailing return the number of context lines before the first
// and after the last change in the hunk.
func (h *Hunk) Leading() int {
	n := 0
	for _, l := range h.Lines {
		if l.Op != ' ' {
			break
		}
		n++
	}
	return n
}

// Trailing returns the number of context lines after the last change.
func (h *Hunk) Trailing() int {
	n := 0
	for i := len(h.Lines) - 1; i >= 0; i-- {
		if h.Lines[i].Op != ' ' {
			break
		}
		n++
	}
	return n
}

// File is the part of a patch that changes one file.
type File struct {
	Op      Op
	OldPath string // path in the pre-image with the strip prefix removed; "" for an added file
	NewPath string // path in the post-image; "" for a deleted file
	// OldMode and NewMode are git file modes (0100644, 0100755, 0120000) when
	// the diff states them, 0 otherwise.
	OldMode, NewMode uint32
	// OldIndex and NewIndex are the (possibly abbreviated) blob ids from a git
	// "index" line, "" when the diff has none.
	OldIndex, NewIndex string
	// Similarity is the percentage from a "similarity index" line of a rename or copy.
	Similarity int
	Hunks      []*Hunk
	// Pos is the 1-based line in the patch file where this file's diff starts.
	Pos int
}

// Path returns the path the file has after the patch, or before it for a deletion.
func (f *File) Path() string {
	if f.NewPath != "" {
		return f.NewPath
	}
	return f.OldPath
}

// Patch is one patch of a queue.
type Patch struct {
	Index int    // 1-based position in the queue
	Name  string // the series entry, file name, "mbox:N" or commit id
	// Source says where the patch was read from (a file, a tarball member).
	Source string
	Strip  int // leading path components removed from file names (-pN)

	AuthorName  string
	AuthorEmail string
	Date        time.Time // zero when the patch has no date
	Subject     string    // the subject without "[PATCH n/m]" prefixes
	Body        string    // the message after the subject, without the diffstat
	Headers     map[string]string

	Files []*File

	// Commit is the id of the commit this patch was read from, for a git range.
	Commit string

	// Err is set when the patch could not be parsed; the rest of the queue is
	// still usable and the merger reports this patch as malformed.
	Err error
}

// Message returns the commit message: the subject, a blank line and the body.
func (p *Patch) Message() string {
	msg := p.Subject
	if p.Subject == "" {
		msg = p.Name
	}
	if b := strings.TrimSpace(p.Body); b != "" {
		msg += "\n\n" + b
	}
	return msg + "\n"
}

// Queue is an ordered list of patches read from one source.
type Queue struct {
	Source  string // what was read: a directory, tarball, file or git range
	Patches []*Patch
}

// Malformed returns the patches that could not be parsed.
func (q *Queue) Malformed() []*Patch {
	var out []*Patch
	for _, p := range q.Patches {
		if p.Err != nil {
			out = append(out, p)
		}
	}
	return out
}

// Range is a git revision range "A..B": the commits reachable from Tip and
// not from Base, each of which is one patch.
type Range struct {
	Base, Tip string
}

// ParseRange parses "A..B". It reports ok=false for anything else, so a
// caller can tell a range from a path.
func ParseRange(s string) (Range, bool) {
	a, b, found := strings.Cut(s, "..")
	if !found || a == "" || b == "" || strings.HasPrefix(b, ".") || strings.Contains(b, "..") {
		return Range{}, false
	}
	if !refname.Revision(a) || !refname.Revision(b) {
		return Range{}, false
	}
	return Range{Base: a, Tip: b}, true
}

// PatchError is a problem with one patch, located in the patch file.
type PatchError struct {
	Source string // the file or tarball member
	Line   int    // 1-based line in Source, 0 when unknown
	File   string // the file in the diff the problem concerns, if any
	Hunk   int    // 1-based hunk within File, 0 when not about a hunk
	Err    error
}

// Error formats the location as "source:line: file F hunk N: message".
func (e *PatchError) Error() string {
	loc := e.Source
	if e.Line > 0 {
		loc += fmt.Sprintf(":%d", e.Line)
	}
	var what []string
	if e.File != "" {
		what = append(what, "file "+e.File)
	}
	if e.Hunk > 0 {
		what = append(what, fmt.Sprintf("hunk %d", e.Hunk))
	}
	if len(what) > 0 {
		loc += ": " + strings.Join(what, " ")
	}
	return loc + ": " + e.Err.Error()
}

// Unwrap returns the underlying error.
func (e *PatchError) Unwrap() error { return e.Err }
