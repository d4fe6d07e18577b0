package merger

import (
	"strings"

	"github.com/rtbot/rtbot/patchqueue"
)

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

// splitLines splits text into lines that keep their "\n"; the last line may
// lack one.
func splitLines(s string) []string {
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

// applyHunks applies the hunks of one file diff to content the way
// `git apply` does: each hunk is searched at the line its header names and
// then alternately one line further and one line back, the whole context
// must match, a hunk that starts at line 1 must match at the start of the
// file and one without trailing context at its end. With fuzz > 0, a hunk
// that does not match is retried ignoring up to fuzz context lines at each
// end, as GNU patch does.
//
// It returns the new content and one result per hunk; ok is false when any
// hunk failed, in which case the content is meaningless.
func applyHunks(content string, hunks []*patchqueue.Hunk, fuzz int) (out string, res []HunkResult, ok bool) {
	img := splitLines(content)
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
				img = splice(img, pos, len(p), q)
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
	return strings.Join(img, ""), res, true
}

func splice(img []string, at, n int, repl []string) []string {
	out := make([]string, 0, len(img)-n+len(repl))
	out = append(out, img[:at]...)
	out = append(out, repl...)
	return append(out, img[at+n:]...)
}

// findPos is git apply's find_pos: the line where pre matches img, searched
// from line outward (one forward, one back, ...), or -1.
func findPos(img, pre []string, line int, matchBegin, matchEnd bool) int {
	if len(pre) > len(img) {
		return -1
	}
	switch {
	case matchBegin:
		line = 0
	case matchEnd:
		line = len(img) - len(pre)
	}
	if line > len(img) {
		line = len(img)
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
			if back == 0 && fwd == len(img) {
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
				if fwd == len(img) {
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

func matchAt(img, pre []string, at int, matchBegin, matchEnd bool) bool {
	if matchBegin && at != 0 {
		return false
	}
	if at+len(pre) > len(img) {
		return false
	}
	if matchEnd && at+len(pre) != len(img) {
		return false
	}
	for i, l := range pre {
		if img[at+i] != l {
			return false
		}
	}
	return true
}

// reverseHunks returns hunks that undo the given ones.
func reverseHunks(hunks []*patchqueue.Hunk) []*patchqueue.Hunk {
	out := make([]*patchqueue.Hunk, len(hunks))
	for i, h := range hunks {
		r := &patchqueue.Hunk{OldStart: h.NewStart, OldLines: h.NewLines, NewStart: h.OldStart, NewLines: h.OldLines, Section: h.Section, Pos: h.Pos}
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

func reorderBlocks(lines []patchqueue.Line) []patchqueue.Line {
	out := make([]patchqueue.Line, 0, len(lines))
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

// ApplyHunks applies hunks to content with git apply's rules (see the
// merger's documentation) and, with fuzz > 0, GNU patch's fuzz. ok is false
// when a hunk does not apply; results say which.
func ApplyHunks(content string, hunks []*patchqueue.Hunk, fuzz int) (out string, results []HunkResult, ok bool) {
	return applyHunks(content, hunks, fuzz)
}

// ReverseHunks returns hunks that undo the given ones: applying them to a
// file that has the change removes it.
func ReverseHunks(hunks []*patchqueue.Hunk) []*patchqueue.Hunk { return reverseHunks(hunks) }
