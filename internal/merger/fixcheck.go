package merger

import (
	"bytes"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/rtbot/rtbot/internal/patchqueue"
	"github.com/rtbot/rtbot/internal/textmerge"
)

// What a fix must carry (docs/resolutions.md, "What a fix must carry").
//
// A fix is learnt only when it holds the patch's change in every
// conflicting region of the file. The check compares the fix with the
// file's candidate side: the file as the patch found it, with the patch's
// hunks that merged cleanly, and the candidate's text in each conflict
// (what the fix would be if nobody applied the patch's conflicting hunks).
// It counts words: runs of letters, digits and underscores, and every
// other character that is not white space, so a fix may re-indent, re-wrap
// or move the patch's lines within the file. In the conflicting regions,
// the patch's change adds some words (the post-image side has more of
// them than the pre-image side) and removes others; the fix must have
// each added word as many more times than the candidate side as the
// patch adds it, and each removed word as many fewer times. A word the
// candidate itself changes in those regions is excused by as much as the
// candidate changes it: upstream renamed, moved or dropped it, and the
// refreshed patch follows upstream.

// candidateSide returns the conflicted file f with each conflict as the
// candidate has it: the file as the patch found it, with the patch's
// hunks that merged cleanly, without its conflicting ones. The regions
// say how many lines each side of each conflict has, so a file with lines
// that look like markers ("=======" in a reStructuredText file) is read
// right.
func candidateSide(f *FileResult) (string, error) {
	return replaceRegions(f, func(k int) string { return strings.Join(f.Regions[k].CandText, "") })
}

// isMarker reports whether line is a label-less conflict marker of c
// (as the merger writes them), with its line end.
func isMarker(line []byte, c byte) bool {
	line = bytes.TrimSuffix(bytes.TrimSuffix(line, []byte("\n")), []byte("\r"))
	return len(line) == textmerge.DefaultMarkerSize && bytes.Count(line, []byte{c}) == len(line)
}

// wordCounts counts the words of texts (see the comment at the top).
type wordCounts map[string]int

// countWords counts the words of the texts.
func countWords(texts ...string) wordCounts {
	n := wordCounts{}
	for _, t := range texts {
		eachWord(t, func(w string) { n[w]++ })
	}
	return n
}

// eachWord calls fn with every word of text, in order.
func eachWord(text string, fn func(string)) {
	for i := 0; i < len(text); {
		r, size := utf8.DecodeRuneInString(text[i:])
		switch {
		case unicode.IsSpace(r):
			i += size
		case isWordRune(r):
			j := i + size
			for j < len(text) {
				r, n := utf8.DecodeRuneInString(text[j:])
				if !isWordRune(r) {
					break
				}
				j += n
			}
			fn(text[i:j])
			i = j
		default:
			fn(text[i : i+size])
			i += size
		}
	}
}

func isWordRune(r rune) bool { return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) }

// fixCheck is what a fix of one file is checked against: the change the
// patch makes in the conflicting regions (words added, positive, and
// removed, negative), how much the candidate changes each word there, and
// the word counts of the candidate side and of the fix.
type fixCheck struct {
	change, excuse, side, fix wordCounts
}

// newFixCheck counts the words of f's conflicting regions, of its
// candidate side and of fixed.
func newFixCheck(f *FileResult, side, fixed string) *fixCheck {
	c := &fixCheck{change: wordCounts{}, excuse: wordCounts{}, side: countWords(side), fix: countWords(fixed)}
	for _, r := range f.Regions {
		base, cand, patch := countWords(r.BaseText...), countWords(r.CandText...), countWords(r.PatchText...)
		for w, n := range patch {
			c.change[w] += n
		}
		for w, n := range base {
			c.change[w] -= n
			c.excuse[w] += abs(cand[w] - n)
		}
		for w, n := range cand {
			if base[w] == 0 {
				c.excuse[w] += n
			}
		}
	}
	return c
}

// short returns, for a word the patch adds, how many times the fix has
// it and how many it needs (got < need when it lacks the patch's).
func (c *fixCheck) short(w string) (got, need int) {
	return c.fix[w], c.side[w] + max(0, c.change[w]-c.excuse[w])
}

// extra returns, for a word the patch removes, how many times the fix
// has it and how many it may (got > limit when it keeps the patch's).
func (c *fixCheck) extra(w string) (got, limit int) {
	return c.fix[w], c.side[w] + min(0, c.change[w]+c.excuse[w])
}

// worst returns the word of line that the fix lacks (adds: the patch
// adds line) or keeps (the patch removes it), the longest such word, with
// the fix's count and the count expected; "" when there is none.
func (c *fixCheck) worst(line string, adds bool) (word string, got, want int) {
	eachWord(line, func(w string) {
		g, n := c.extra(w)
		bad := c.change[w] < 0 && g > n
		if adds {
			g, n = c.short(w)
			bad = c.change[w] > 0 && g < n
		}
		if bad && len(w) > len(word) {
			word, got, want = w, g, n
		}
	})
	return word, got, want
}

// carriesChange returns nil when fixed, the conflicting file f as a fix
// resolved it, carries the patch's change in f's conflicting regions,
// and otherwise an error naming a line of the patch that the fix lacks,
// or that the patch removes and the fix keeps.
func carriesChange(f *FileResult, fixed string) error {
	side, err := candidateSide(f)
	if err != nil {
		return err
	}
	c := newFixCheck(f, side, fixed)
	const lacks = "the fix does not carry the patch's change: "
	for _, adds := range []bool{true, false} {
		for _, r := range f.Regions {
			added, removed := changedLines(r.BaseText, r.PatchText)
			lines := removed
			if adds {
				lines = added
			}
			for _, l := range lines {
				w, got, want := c.worst(l, adds)
				switch {
				case w == "":
				case adds:
					return fmt.Errorf(lacks+"the patch's line %q is missing (%q: %d in the fix, %d expected)", strings.TrimSpace(l), w, got, want)
				default:
					return fmt.Errorf(lacks+"the patch removes the line %q, which is still there (%q: %d in the fix, at most %d expected)", strings.TrimSpace(l), w, got, want)
				}
			}
		}
	}
	return nil
}

// changedLines returns the lines the patch adds to a conflicting region
// (in patch, not in base) and those it removes (in base, not in patch).
func changedLines(base, patch []string) (added, removed []string) {
	a, b := asBytes(base), asBytes(patch)
	for _, e := range textmerge.Diff(a, b) {
		switch e.Op {
		case textmerge.Insert:
			added = append(added, patch[e.B.Start:e.B.End]...)
		case textmerge.Delete:
			removed = append(removed, base[e.A.Start:e.A.End]...)
		}
	}
	return added, removed
}

func asBytes(lines []string) [][]byte {
	out := make([][]byte, len(lines))
	for i, l := range lines {
		out[i] = []byte(l)
	}
	return out
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

// maxDiffLines bounds the lines of a ResolutionDiff: it is for a human
// to glance at before trusting a fix, not a review of a rewritten file.
const maxDiffLines = 40

// ResolutionDiff shows what a fix teaches for the conflicting file f:
// resolved (the file as the fix resolved it) as a unified diff, with two
// lines of context, against f's candidate side (the file as the patch
// found it, with the patch's clean hunks merged and the candidate's text
// in each conflict), so the resolved conflicts read as the refreshed
// hunks. A long diff is cut after maxDiffLines lines, saying how many
// more there are.
func ResolutionDiff(f *FileResult, resolved string) (string, error) {
	side, err := candidateSide(f)
	if err != nil {
		return "", fmt.Errorf("file %s: %w", f.ResultPath(), err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "--- %s (conflict: the candidate's side)\n+++ %s (as resolved)\n", f.ResultPath(), f.ResultPath())
	hunks := patchqueue.MakeHunks(side, resolved, 2)
	if len(hunks) == 0 {
		b.WriteString("(no change)\n")
	}
	var body strings.Builder
	for _, h := range hunks {
		patchqueue.WriteHunk(&body, h, "")
	}
	lines := strings.SplitAfter(body.String(), "\n")
	if n := len(lines) - 1; n > maxDiffLines {
		lines = append(lines[:maxDiffLines], fmt.Sprintf("(%d more line(s))\n", n-maxDiffLines))
	}
	b.WriteString(strings.Join(lines, ""))
	return b.String(), nil
}
