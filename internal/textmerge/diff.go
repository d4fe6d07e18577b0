// Package textmerge implements a line diff and a 3-way merge that
// reproduce git's xdiff library byte for byte.
//
// rtbot uses it when a patch does not apply exactly or at an offset: it
// merges (base = the patch's pre-image, ours = the candidate's file,
// theirs = the patch's post-image) the way "git am -3" and
// "git merge-file -p ours base theirs" do. For a clean merge, Merge3
// returns exactly the bytes git would produce; for a conflicted merge it
// returns structured conflict regions (and, for display, git's marker
// output).
//
// The diff is a port of xdiff's default "myers" algorithm, including the
// parts that make it differ from a textbook shortest edit script: the
// common prefix/suffix trim, the discarding of lines that have no match
// (or very many matches) in the other file, the cost-limiting heuristics
// in the middle-snake search and the change-group compaction that slides
// ambiguous insertions/deletions. The indent heuristic is deliberately
// not implemented: git enables it for "git diff" output but not for its
// merge machinery (merge-file, ll-merge), which is what this package must
// match. Lines compare as raw bytes (no whitespace or CR/LF folding).
//
// Only the myers algorithm is implemented: it is what "git merge-file"
// and git's ll-merge use unless a diff algorithm is configured. Note that
// git's merge-ort backend ("git merge", "git rebase", "git cherry-pick"
// since git 2.34) hardcodes the histogram algorithm instead, so in rare
// ambiguous cases its results can differ from this package's.
//
// Binary content is merged as lines like any text; git would refuse
// (merge-file) or fall back to a binary "take ours and conflict" merge
// (ll-merge), so callers should detect binary files (e.g. a NUL byte in
// the first 8000 bytes, as git does) before calling Merge3.
package textmerge

import "bytes"

// Lines splits b into lines, each keeping its "\n" terminator; the last
// line lacks one when b does not end in "\n". The lines alias b. An empty
// input yields no lines. Concatenating the result gives back b exactly.
func Lines(b []byte) [][]byte {
	if len(b) == 0 {
		return nil
	}
	n := bytes.Count(b, []byte{'\n'})
	if b[len(b)-1] != '\n' {
		n++
	}
	lines := make([][]byte, 0, n)
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n') + 1
		if i == 0 {
			i = len(b)
		}
		lines = append(lines, b[:i:i])
		b = b[i:]
	}
	return lines
}

// Op is the kind of an Edit.
type Op int

const (
	// Equal: A and B cover the same number of identical lines.
	Equal Op = iota
	// Delete: the lines A of a are removed; B is the empty span at the
	// position in b where they were.
	Delete
	// Insert: the lines B of b are added; A is the empty span at the
	// position in a where they go.
	Insert
)

// String returns "equal", "delete" or "insert".
func (o Op) String() string {
	switch o {
	case Equal:
		return "equal"
	case Delete:
		return "delete"
	case Insert:
		return "insert"
	}
	return "Op(?)"
}

// Span is a half-open range [Start, End) of 0-based line indices.
type Span struct {
	Start, End int
}

// Len returns the number of lines in the span.
func (s Span) Len() int { return s.End - s.Start }

// Edit is one step of an edit script turning a into b.
type Edit struct {
	Op Op
	A  Span // lines of a
	B  Span // lines of b
}

// Diff computes the line edit script from a to b that git's default
// (myers) diff computes, after git's change compaction (without the
// indent heuristic). The script covers both inputs completely and in
// order: Equal, Delete and Insert edits alternate, and a replaced block
// appears as a Delete immediately followed by an Insert. Applying it to a
// (see Apply) yields b.
//
// Runtime is O((N+M)·D) in the worst case like Myers' algorithm, with
// xdiff's heuristics capping the cost for very different inputs; for
// large files with few changes it is close to linear.
func Diff(a, b [][]byte) []Edit {
	return editsFromChanges(xdiff(a, b), len(a), len(b))
}

func editsFromChanges(chs []change, na, nb int) []Edit {
	var out []Edit
	pa, pb := 0, 0
	for _, c := range chs {
		if c.i1 > pa {
			out = append(out, Edit{Op: Equal, A: Span{pa, c.i1}, B: Span{pb, c.i2}})
		}
		if c.chg1 > 0 {
			out = append(out, Edit{Op: Delete, A: Span{c.i1, c.i1 + c.chg1}, B: Span{c.i2, c.i2}})
		}
		if c.chg2 > 0 {
			out = append(out, Edit{Op: Insert, A: Span{c.i1 + c.chg1, c.i1 + c.chg1}, B: Span{c.i2, c.i2 + c.chg2}})
		}
		pa, pb = c.i1+c.chg1, c.i2+c.chg2
	}
	if pa < na || pb < nb {
		out = append(out, Edit{Op: Equal, A: Span{pa, na}, B: Span{pb, nb}})
	}
	return out
}

// Apply applies an edit script produced by Diff(a, b) to a, using the
// inserted lines from b, and returns the resulting lines. It is mainly a
// tool for checking edit scripts: for a valid script the result equals b.
func Apply(a, b [][]byte, script []Edit) [][]byte {
	var out [][]byte
	for _, e := range script {
		switch e.Op {
		case Equal:
			out = append(out, a[e.A.Start:e.A.End]...)
		case Insert:
			out = append(out, b[e.B.Start:e.B.End]...)
		}
	}
	return out
}
