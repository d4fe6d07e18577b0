package report

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// Width is the widest line a report has, in columns (runes, a tab
// advancing to the next multiple of 8): what a mail to a kernel list keeps
// to so that it quotes and reads in any client.
const Width = 72

// Markers show where a report left something out.
const (
	cutMark     = " [...]" // the end of an excerpt line was cut
	elisionMark = "..."    // the middle of a path or a name was cut
)

// Columns is how wide s is on a terminal that puts tab stops every 8
// columns, starting at column 0; for a text of several lines, the widest.
func Columns(s string) int {
	widest, col := 0, 0
	for _, r := range s {
		switch r {
		case '\n':
			col = 0
			continue
		case '\t':
			col += 8 - col%8
		default:
			col++
		}
		widest = max(widest, col)
	}
	return widest
}

// cutEnd returns line cut so that it takes at most width columns, ending
// with cutMark when something was cut.
func cutEnd(line string, width int) string {
	if Columns(line) <= width {
		return line
	}
	keep := width - utf8.RuneCountInString(cutMark)
	col := 0
	for i, r := range line {
		next := col + 1
		if r == '\t' {
			next = col + 8 - col%8
		}
		if next > keep {
			return strings.TrimRight(line[:i], " ") + cutMark
		}
		col = next
	}
	return line
}

// cutMiddle returns s (a path or a name, no tabs) in at most width
// columns: when it is wider, its start and its end joined by elisionMark,
// keeping as much of the end (the file name) as of the start.
func cutMiddle(s string, width int) string {
	rs := []rune(s)
	if len(rs) <= width {
		return s
	}
	keep := width - len(elisionMark)
	if keep < 2 {
		return string(rs[len(rs)-max(width, 0):])
	}
	head := keep / 2
	tail := keep - head
	return string(rs[:head]) + elisionMark + string(rs[len(rs)-tail:])
}

// Wrap folds prose s to Width columns, as the report does: each line
// ends with a line end; a path or a name wider than a line is cut in
// the middle with "...".
func Wrap(s string) string { return wrap(s, Width, "") }

// WrapHanging is Wrap with first before the first line and rest before
// the others (a list item: "- ", "  "), counted in the Width.
func WrapHanging(s, first, rest string) string { return wrapHanging(s, Width, first, rest) }

// Fold is WrapHanging that never cuts a word: a word wider than a line
// (a URL, a path, a command) stays whole on a line of its own, for text
// the reader must be able to copy, such as what a problem says to fix.
func Fold(s, first, rest string) string { return fold(s, Width, first, rest, false) }

// wrap folds prose to width columns, each line starting with prefix
// (counted in the width) and ending with a line end. A word wider than a
// line is cut in its middle (cutMiddle): words in a report are paths and
// names, whose start and file name matter.
func wrap(s string, width int, prefix string) string {
	return wrapHanging(s, width, prefix, prefix)
}

// wrapHanging is wrap with first on the first line and rest on the
// others.
func wrapHanging(s string, width int, first, rest string) string {
	return fold(s, width, first, rest, true)
}

// fold folds prose to width columns, first before the first line and
// rest before the others; a word wider than its line is cut in the middle
// when cut, else left whole.
func fold(s string, width int, first, rest string, cut bool) string {
	var b strings.Builder
	prefix, line := first, ""
	flush := func() {
		b.WriteString(prefix + line + "\n")
		prefix, line = rest, ""
	}
	for _, w := range strings.Fields(s) {
		room := width - Columns(prefix)
		if cut {
			w = cutMiddle(w, room)
		}
		switch {
		case line == "":
			line = w
		case len([]rune(line))+1+len([]rune(w)) <= room:
			line += " " + w
		default:
			flush()
			if cut {
				w = cutMiddle(w, width-Columns(prefix))
			}
			line = w
		}
	}
	if line != "" {
		flush()
	}
	return b.String()
}

// Plural is "1 patch", "2 patches": n and the noun, in its plural form
// many when n is not 1.
func Plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}
