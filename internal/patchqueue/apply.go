package patchqueue

import "strings"

// HunkResult says where and how one hunk applied, or that it did not.
type HunkResult struct {
	Index  int  `json:"index"`            // 1-based hunk number in the file diff
	Failed bool `json:"failed,omitempty"` // did not apply exactly, at an offset or with the allowed fuzz
	// Offset is the line offset from the position the hunk header names.
	Offset int `json:"offset,omitempty"`
	// Fuzz is the number of context lines ignored at each end (0 unless fuzz is enabled).
	Fuzz int `json:"fuzz,omitempty"`
	// At is the 1-based line in the target file (the candidate, during a
	// rebase) where the hunk applied, or where it was expected when it failed.
	At int `json:"at"`
	// Base is the hunk's first line in the patch's pre-image (the queue's
	// base with the earlier patches applied).
	Base int `json:"base"`
}

// SplitLines splits text into lines that keep their "\n"; the last line may
// lack one (the lines of a file as hunks see them).
func SplitLines(s string) []string {
	if s == "" {
		return nil
	}
	n := strings.Count(s, "\n")
	if !strings.HasSuffix(s, "\n") {
		n++
	}
	out := make([]string, 0, n)
	for len(s) > 0 {
		i := strings.IndexByte(s, '\n')
		if i < 0 {
			out = append(out, s)
			break
		}
		out = append(out, s[:i+1])
		s = s[i+1:]
	}
	return out
}

// ApplyHunks applies the hunks of one file diff to content the way
// `git apply` does: each hunk is searched at the line its header names and
// then alternately one line further and one line back, the whole context
// must match, a hunk that starts at line 1 must match at the start of the
// file and one without trailing context at its end. With fuzz > 0, a hunk
// that does not match is retried ignoring up to fuzz context lines at each
// end, as GNU patch does.
//
// It returns the new content and one result per hunk; ok is false when any
// hunk failed, in which case the content is meaningless.
func ApplyHunks(content string, hunks []*Hunk, fuzz int) (out string, res []HunkResult, ok bool) {
	img := newImage(content)
	ok = true
	for i, h := range hunks {
		pre, post := h.Old(), h.New()
		leading, trailing := h.Leading(), h.Trailing()
		matchBegin := h.OldStart <= 1
		matchEnd := trailing == 0
		hint := h.NewStart - 1
		if h.NewStart == 0 {
			hint = 0
		}
		r := HunkResult{Index: i + 1, Base: h.OldStart}
		pos := -1
		for f := 0; f <= fuzz; f++ {
			cut := func(n int) int { return min(n, f) }
			lo, hi := cut(leading), cut(trailing)
			if f > 0 && lo == 0 && hi == 0 {
				break // no context left to ignore
			}
			p := pre[lo : len(pre)-hi]
			q := post[lo : len(post)-hi]
			// Ignoring context lifts the anchoring at file start and end,
			// as GNU patch does once it fuzzes.
			mb := matchBegin && lo == 0
			me := matchEnd && hi == 0
			pos = findPos(img, p, hint+lo, mb, me)
			if pos >= 0 {
				r.Fuzz = f
				r.Offset = pos - (hint + lo)
				r.At = pos + 1
				img.splice(pos, len(p), q)
				break
			}
			if fuzz == 0 {
				break
			}
		}
		if pos < 0 {
			r.Failed, r.At, ok = true, hint+1, false
		}
		res = append(res, r)
	}
	if !ok {
		return "", res, false
	}
	return img.String(), res, true
}

// image is a file being patched. Hunks come in order, so it is kept as
// the part before a cursor, already patched, as pieces of output (runs of
// the original src and lines of the patch), followed by the original from
// its line next on. Lines of the original are cut only in a window around
// where a hunk is sought: the lines before it are skipped by counting
// newlines, which a kernel source of thousands of lines patched in a few
// places makes much cheaper than cutting (and later joining) every line.
// A hunk sought or spliced before the cursor (git lets a hunk match
// earlier than the previous one) turns the image into a plain list of
// lines (slow) for the rest of the file.
type image struct {
	src   string
	total int // lines in src

	pieces []string // the image before the cursor
	nDone  int      // its lines
	next   int      // the original's line at the cursor
	off    int      // where it starts in src

	// The original's lines winStart.. start at win[0].., and the line
	// after the last of them at winEnd; winStart >= next.
	win      []int
	winStart int
	winEnd   int

	slow []string // when set, the whole image as lines
}

// windowMargin is how many lines before the line a hunk is sought at the
// window starts: findPos tries lines alternately after and before it.
const windowMargin = 256

func newImage(src string) *image {
	total := strings.Count(src, "\n")
	if src != "" && src[len(src)-1] != '\n' {
		total++
	}
	return &image{src: src, total: total}
}

func (m *image) len() int {
	if m.slow != nil {
		return len(m.slow)
	}
	return m.nDone + m.total - m.next
}

// at returns line i of the image.
func (m *image) at(i int) string {
	if m.slow == nil && i < m.nDone {
		m.toSlow()
	}
	if m.slow != nil {
		return m.slow[i]
	}
	j := m.next + i - m.nDone
	m.cover(j)
	k := j - m.winStart
	end := m.winEnd
	if k+1 < len(m.win) {
		end = m.win[k+1]
	}
	return m.src[m.win[k]:end]
}

// lineOffset returns where the original's line j (next <= j <= total)
// starts in src.
func (m *image) lineOffset(j int) int {
	if j == m.total {
		return len(m.src)
	}
	m.cover(j)
	return m.win[j-m.winStart]
}

// cover makes the window hold the original's line j (next <= j < total).
func (m *image) cover(j int) {
	if j < m.winStart {
		m.win, m.winStart, m.winEnd = m.win[:0], m.next, m.off
	}
	if last := m.winStart + len(m.win); j-last > 2*windowMargin {
		// Skip to a little before j, counting newlines.
		to := j - windowMargin
		m.winEnd = m.skipLines(m.winEnd, to-last)
		m.win, m.winStart = m.win[:0], to
	}
	for m.winStart+len(m.win) <= j {
		m.win = append(m.win, m.winEnd)
		i := strings.IndexByte(m.src[m.winEnd:], '\n')
		if i < 0 {
			m.winEnd = len(m.src)
		} else {
			m.winEnd += i + 1
		}
	}
}

// skipLines returns where the line n lines after the one at off starts.
func (m *image) skipLines(off, n int) int {
	const chunk = 4096
	for n > 0 {
		c := m.src[off:min(off+chunk, len(m.src))]
		if k := strings.Count(c, "\n"); k < n {
			off += len(c)
			n -= k
			continue
		}
		for ; n > 0; n-- {
			off += strings.IndexByte(m.src[off:], '\n') + 1
		}
	}
	return off
}

// splice replaces n lines at line at with repl.
func (m *image) splice(at, n int, repl []string) {
	if m.slow == nil && at < m.nDone {
		m.toSlow()
	}
	if m.slow != nil {
		m.slow = splice(m.slow, at, n, repl)
		return
	}
	j := m.next + at - m.nDone // the original's first line replaced
	from, to := m.lineOffset(j), m.lineOffset(j+n)
	if from > m.off {
		m.pieces = append(m.pieces, m.src[m.off:from])
	}
	m.pieces = append(m.pieces, repl...)
	m.nDone += at - m.nDone + len(repl)
	m.next, m.off = j+n, to
	if m.next >= m.winStart+len(m.win) {
		m.win = m.win[:0]
		m.winStart, m.winEnd = m.next, m.off
	} else if m.next > m.winStart {
		m.win = m.win[m.next-m.winStart:]
		m.winStart = m.next
	}
}

// toSlow turns the image into a list of its lines.
func (m *image) toSlow() {
	lines := make([]string, 0, m.len())
	for _, p := range m.pieces {
		lines = append(lines, SplitLines(p)...)
	}
	m.slow = append(lines, SplitLines(m.src[m.off:])...)
	m.pieces, m.win = nil, nil
}

// String joins the lines into the file's content.
func (m *image) String() string {
	parts := m.slow
	if parts == nil {
		parts = append(m.pieces, m.src[m.off:])
	}
	size := 0
	for _, p := range parts {
		size += len(p)
	}
	var b strings.Builder
	b.Grow(size)
	for _, p := range parts {
		b.WriteString(p)
	}
	return b.String()
}

func splice(img []string, at, n int, repl []string) []string {
	out := make([]string, 0, len(img)-n+len(repl))
	out = append(out, img[:at]...)
	out = append(out, repl...)
	return append(out, img[at+n:]...)
}

// findPos is git apply's find_pos: the line where pre matches img, searched
// from line outward (one forward, one back, ...), or -1.
func findPos(img *image, pre []string, line int, matchBegin, matchEnd bool) int {
	n := img.len()
	if len(pre) > n {
		return -1
	}
	switch {
	case matchBegin:
		line = 0
	case matchEnd:
		line = n - len(pre)
	}
	if line > n {
		line = n
	}
	if line < 0 {
		line = 0
	}
	back, fwd := line, line
	try := line
	for i := 0; ; i++ {
		if matchAt(img, pre, try, matchBegin, matchEnd) {
			return try
		}
		for {
			if back == 0 && fwd == n {
				return -1
			}
			if i&1 == 1 {
				if back == 0 {
					i++
					continue
				}
				back--
				try = back
			} else {
				if fwd == n {
					i++
					continue
				}
				fwd++
				try = fwd
			}
			break
		}
	}
}

func matchAt(img *image, pre []string, at int, matchBegin, matchEnd bool) bool {
	if matchBegin && at != 0 {
		return false
	}
	n := img.len()
	if at+len(pre) > n {
		return false
	}
	if matchEnd && at+len(pre) != n {
		return false
	}
	for i, l := range pre {
		if img.at(at+i) != l {
			return false
		}
	}
	return true
}

// ReverseHunks returns hunks that undo the given ones: applying them to a
// file that has the change removes it.
func ReverseHunks(hunks []*Hunk) []*Hunk {
	out := make([]*Hunk, len(hunks))
	for i, h := range hunks {
		r := &Hunk{OldStart: h.NewStart, OldLines: h.NewLines, NewStart: h.OldStart, NewLines: h.OldLines, Section: h.Section, Pos: h.Pos}
		for _, l := range h.Lines {
			switch l.Op {
			case '+':
				l.Op = '-'
			case '-':
				l.Op = '+'
			}
			r.Lines = append(r.Lines, l)
		}
		// Within a change block removed lines come before added ones.
		r.Lines = reorderBlocks(r.Lines)
		out[i] = r
	}
	return out
}

func reorderBlocks(lines []Line) []Line {
	out := make([]Line, 0, len(lines))
	for i := 0; i < len(lines); {
		if lines[i].Op == ' ' {
			out = append(out, lines[i])
			i++
			continue
		}
		j := i
		for j < len(lines) && lines[j].Op != ' ' {
			j++
		}
		for _, l := range lines[i:j] {
			if l.Op == '-' {
				out = append(out, l)
			}
		}
		for _, l := range lines[i:j] {
			if l.Op == '+' {
				out = append(out, l)
			}
		}
		i = j
	}
	return out
}
