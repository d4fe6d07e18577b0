package textmerge

import "bytes"

// Level selects how hard the merge tries to resolve overlapping changes.
// The zero value is git's default for merges of file contents.
type Level int

const (
	// LevelZealous is XDL_MERGE_ZEALOUS, what "git am -3", "git merge"
	// and "git rebase" use (via ll-merge): overlapping changes that are
	// identical are not a conflict, and a conflict is refined by diffing
	// the two sides, so that lines common to both are moved out of it
	// (one overlapping hunk may become several smaller conflicts).
	LevelZealous Level = iota
	// LevelZealousAlnum is XDL_MERGE_ZEALOUS_ALNUM, what
	// "git merge-file" uses: like LevelZealous, but conflicts that are
	// separated only by at most three lines, or only by lines without
	// letters or digits, are joined into one. Clean results are the same
	// as with LevelZealous; only the conflict regions differ.
	LevelZealousAlnum
	// LevelEager is XDL_MERGE_EAGER: identical overlapping changes are
	// clean, other overlaps conflict as a whole.
	LevelEager
	// LevelMinimal is XDL_MERGE_MINIMAL: every overlap is a conflict,
	// even identical changes.
	LevelMinimal
)

// xdl returns git's numeric merge level.
func (l Level) xdl() int {
	switch l {
	case LevelMinimal:
		return 0
	case LevelEager:
		return 1
	case LevelZealousAlnum:
		return 3
	}
	return 2
}

// Style selects the conflict marker format of Result.Merged.
type Style int

const (
	// StyleMerge is git's default "merge" conflict style
	// (<<<<<<< ours, =======, >>>>>>> theirs).
	StyleMerge Style = iota
	// StyleDiff3 adds the base version (after |||||||). As in git, it
	// limits the merge level to LevelEager, so conflicts are not refined.
	StyleDiff3
	// StyleZealousDiff3 is git's "zdiff3": like diff3, but lines common to
	// both sides at the start and end of a conflict are moved out of it.
	StyleZealousDiff3
)

// DefaultMarkerSize is the length of git's conflict markers.
const DefaultMarkerSize = 7

// Options configures Merge3. The zero value merges like "git am -3".
type Options struct {
	Level Level
	Style Style
	// Labels appended to the conflict markers ("<<<<<<< OursLabel",
	// "||||||| BaseLabel", ">>>>>>> TheirsLabel"), like merge-file's -L.
	// An empty label means no label (the marker line has no trailing
	// space), as when git passes a NULL name.
	OursLabel, BaseLabel, TheirsLabel string
	// MarkerSize is the number of marker characters; <= 0 means
	// DefaultMarkerSize.
	MarkerSize int
}

// Range is a region of a file in human (diff hunk header) terms: Start is
// the 1-based number of the first line and Count the number of lines.
// For an empty region (Count == 0), Start is the number the first line
// after the region has (so an empty region at the end of an n-line file
// has Start n+1).
type Range struct {
	Start, Count int
}

// Conflict is one conflicting region of a 3-way merge.
//
// Ours and Theirs are exactly the regions git puts between the conflict
// markers. git does not track the base lines of a refined conflict, so
// Base is derived by mapping the boundaries of the Ours and Theirs regions
// back to the base through the base→ours and base→theirs diffs (a boundary
// inside a changed hunk widens to the whole hunk) and taking the union.
type Conflict struct {
	Base, Ours, Theirs Range
	// The lines of each region, with their original line terminators (the
	// last line of a file may lack "\n"). An empty region yields nil.
	BaseText, OursText, TheirsText []byte
}

// OursDeleted reports whether ours removed the region's base lines
// entirely (and theirs changed them).
func (c Conflict) OursDeleted() bool { return c.Ours.Count == 0 && c.Base.Count > 0 }

// TheirsDeleted reports whether theirs removed the region's base lines
// entirely (and ours changed them).
func (c Conflict) TheirsDeleted() bool { return c.Theirs.Count == 0 && c.Base.Count > 0 }

// Result is the outcome of Merge3.
type Result struct {
	// Merged is the merge result. If the merge is clean it is exactly
	// what git produces; otherwise it contains git's conflict markers
	// (for display; byte-identical to git's output for the same options).
	Merged []byte
	// Clean reports whether there were no conflicts.
	Clean bool
	// Conflicts lists the conflicting regions in file order; it has one
	// entry per marker block in Merged.
	Conflicts []Conflict
}

// xdmerge mirrors xdiff's xdmerge_t. mode: 0 conflict, 1 take ours,
// 2 take theirs, 4 identical change (after refinement).
type xdmerge struct {
	mode     int
	i0, chg0 int // base
	i1, chg1 int // ours
	i2, chg2 int // theirs
}

// Merge3 performs git's 3-way merge of ours and theirs relative to their
// common ancestor base: "git merge-file -p ours base theirs" (with
// opts.Level = LevelZealousAlnum), or the content merge of "git am -3"
// (zero Options), where ours is the tree being patched and theirs the
// patch's post-image.
//
// Semantics, all as in git's xdiff/xmerge.c:
//   - base→ours and base→theirs are diffed (see Diff). Changes whose base
//     ranges are separated by at least one unchanged base line merge
//     cleanly. Changes that overlap or merely touch (no unchanged line
//     between them, e.g. edits of two adjacent lines, or an insertion
//     right at the edge of the other side's change, or two insertions at
//     the same point) form one region, which is a conflict unless both
//     sides made the identical change.
//   - At LevelZealous and above a conflict is refined by diffing its ours
//     and theirs texts: lines common to both are taken as merged, and
//     only the differing parts remain conflicts. If the two sides turn out
//     identical, the region is clean.
//   - If either side is unchanged from base, the other side is returned
//     verbatim.
//
// Files without a final newline and CRLF line endings are handled as
// bytes, exactly as git does (including git's choice of CRLF for marker
// lines when the surrounding lines use CRLF).
func Merge3(base, ours, theirs []byte, opts Options) Result {
	lb, lo, lt := Lines(base), Lines(ours), Lines(theirs)
	x1 := xdiff(lb, lo)
	x2 := xdiff(lb, lt)
	if len(x1) == 0 {
		return Result{Merged: bytes.Clone(theirs), Clean: true}
	}
	if len(x2) == 0 {
		return Result{Merged: bytes.Clone(ours), Clean: true}
	}

	level := opts.Level.xdl()
	if opts.Style != StyleMerge && level > 1 {
		level = 1 // "diff3 -m" output does not make sense beyond EAGER
	}
	ms := doMerge(lb, lo, lt, x1, x2, level)
	if opts.Style == StyleZealousDiff3 {
		refineZdiff3(lo, lt, ms)
	} else if level >= 2 {
		ms = refineConflicts(lo, lt, ms)
		ms = simplifyNonConflicts(lo, ms, level > 2)
	}

	res := Result{Merged: fillMergeBuffer(lb, lo, lt, ms, opts)}
	for _, m := range ms {
		if m.mode != 0 {
			continue
		}
		bs := min(mapStart(x1, m.i1), mapStart(x2, m.i2))
		be := max(mapEnd(x1, m.i1+m.chg1), mapEnd(x2, m.i2+m.chg2))
		res.Conflicts = append(res.Conflicts, Conflict{
			Base:       Range{Start: bs + 1, Count: be - bs},
			Ours:       Range{Start: m.i1 + 1, Count: m.chg1},
			Theirs:     Range{Start: m.i2 + 1, Count: m.chg2},
			BaseText:   join(lb[bs:be]),
			OursText:   join(lo[m.i1 : m.i1+m.chg1]),
			TheirsText: join(lt[m.i2 : m.i2+m.chg2]),
		})
	}
	res.Clean = len(res.Conflicts) == 0
	return res
}

// AlreadyApplied reports whether theirs' change relative to base is
// already present in ours: the merge is clean and leaves ours unchanged.
// This is the "both sides made the same change" case git resolves
// silently (every hunk of theirs is identical to a hunk of ours, or is
// otherwise absorbed without altering ours). It is trivially true when
// theirs equals base.
func AlreadyApplied(base, ours, theirs []byte) bool {
	r := Merge3(base, ours, theirs, Options{})
	return r.Clean && bytes.Equal(r.Merged, ours)
}

func join(lines [][]byte) []byte {
	if len(lines) == 0 {
		return nil
	}
	return bytes.Join(lines, nil)
}

// mapStart maps the position p (a line boundary in the side's file) to
// the base for the start of a region; a boundary inside or at the start
// of a changed hunk maps to the hunk's base start.
func mapStart(chs []change, p int) int {
	delta := 0
	for _, h := range chs {
		end := h.i2 + h.chg2
		if end < p || (end == p && h.chg2 > 0) {
			delta += h.chg2 - h.chg1
			continue
		}
		if h.i2 <= p {
			return h.i1
		}
		break
	}
	return p - delta
}

// mapEnd maps the position e (exclusive end of a region in the side's
// file) to the base; a boundary inside or at the end of a changed hunk
// maps to the hunk's base end.
func mapEnd(chs []change, e int) int {
	delta := 0
	for _, h := range chs {
		if h.i2+h.chg2 <= e {
			delta += h.chg2 - h.chg1
			continue
		}
		if h.i2 < e {
			return h.i1 + h.chg1
		}
		break
	}
	return e - delta
}

// doMerge mirrors the hunk walk of xdl_do_merge.
func doMerge(lb, lo, lt [][]byte, x1, x2 []change, level int) []xdmerge {
	var ms []xdmerge
	add := func(mode, i0, chg0, i1, chg1, i2, chg2 int) {
		if n := len(ms); n > 0 {
			m := &ms[n-1]
			if i1 <= m.i1+m.chg1 || i2 <= m.i2+m.chg2 {
				if mode != m.mode {
					m.mode = 0
				}
				m.chg0 = i0 + chg0 - m.i0
				m.chg1 = i1 + chg1 - m.i1
				m.chg2 = i2 + chg2 - m.i2
				return
			}
		}
		ms = append(ms, xdmerge{mode: mode, i0: i0, chg0: chg0, i1: i1, chg1: chg1, i2: i2, chg2: chg2})
	}
	p1, p2 := 0, 0
	for p1 < len(x1) && p2 < len(x2) {
		s1, s2 := x1[p1], x2[p2]
		if s1.i1+s1.chg1 < s2.i1 {
			add(1, s1.i1, s1.chg1, s1.i2, s1.chg2, s2.i2-s2.i1+s1.i1, s1.chg1)
			p1++
			continue
		}
		if s2.i1+s2.chg1 < s1.i1 {
			add(2, s2.i1, s2.chg1, s1.i2-s1.i1+s2.i1, s2.chg1, s2.i2, s2.chg2)
			p2++
			continue
		}
		if level == 0 || s1.i1 != s2.i1 || s1.chg1 != s2.chg1 || s1.chg2 != s2.chg2 ||
			!linesEqual(lo[s1.i2:s1.i2+s1.chg2], lt[s2.i2:s2.i2+s2.chg2]) {
			off := s1.i1 - s2.i1
			ffo := off + s1.chg1 - s2.chg1
			i0, i1, i2 := s1.i1, s1.i2, s2.i2
			if off > 0 {
				i0 -= off
				i1 -= off
			} else {
				i2 += off
			}
			chg0 := s1.i1 + s1.chg1 - i0
			chg1 := s1.i2 + s1.chg2 - i1
			chg2 := s2.i2 + s2.chg2 - i2
			if ffo < 0 {
				chg0 -= ffo
				chg1 -= ffo
			} else {
				chg2 += ffo
			}
			add(0, i0, chg0, i1, chg1, i2, chg2)
		}
		e1 := s1.i1 + s1.chg1
		e2 := s2.i1 + s2.chg1
		if e1 >= e2 {
			p2++
		}
		if e2 >= e1 {
			p1++
		}
	}
	for ; p1 < len(x1); p1++ {
		s1 := x1[p1]
		add(1, s1.i1, s1.chg1, s1.i2, s1.chg2, s1.i1+len(lt)-len(lb), s1.chg1)
	}
	for ; p2 < len(x2); p2++ {
		s2 := x2[p2]
		add(2, s2.i1, s2.chg1, s2.i1+len(lo)-len(lb), s2.chg1, s2.i2, s2.chg2)
	}
	return ms
}

func linesEqual(a, b [][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}

// refineConflicts mirrors xdl_refine_conflicts.
func refineConflicts(lo, lt [][]byte, ms []xdmerge) []xdmerge {
	out := make([]xdmerge, 0, len(ms))
	for _, m := range ms {
		if m.mode != 0 || m.chg1 == 0 || m.chg2 == 0 {
			out = append(out, m)
			continue
		}
		sub := xdiff(lo[m.i1:m.i1+m.chg1], lt[m.i2:m.i2+m.chg2])
		if len(sub) == 0 {
			m.mode = 4
			out = append(out, m)
			continue
		}
		for _, s := range sub {
			n := m
			n.mode = 0
			n.i1, n.chg1 = s.i1+m.i1, s.chg1
			n.i2, n.chg2 = s.i2+m.i2, s.chg2
			out = append(out, n)
		}
	}
	return out
}

// refineZdiff3 mirrors xdl_refine_zdiff3_conflicts.
func refineZdiff3(lo, lt [][]byte, ms []xdmerge) {
	for k := range ms {
		m := &ms[k]
		if m.mode != 0 {
			continue
		}
		for m.chg1 > 0 && m.chg2 > 0 && bytes.Equal(lo[m.i1], lt[m.i2]) {
			m.chg1--
			m.chg2--
			m.i1++
			m.i2++
		}
		for m.chg1 > 0 && m.chg2 > 0 && bytes.Equal(lo[m.i1+m.chg1-1], lt[m.i2+m.chg2-1]) {
			m.chg1--
			m.chg2--
		}
	}
}

func isASCIIAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

func linesContainAlnum(lines [][]byte) bool {
	for _, l := range lines {
		for _, c := range l {
			if isASCIIAlnum(c) {
				return true
			}
		}
	}
	return false
}

// simplifyNonConflicts mirrors xdl_simplify_non_conflicts: two conflicts
// separated by at most three lines (or, with alnum, by lines containing
// no letter or digit) are joined.
func simplifyNonConflicts(lo [][]byte, ms []xdmerge, alnum bool) []xdmerge {
	for i := 0; i+1 < len(ms); {
		m, next := &ms[i], ms[i+1]
		begin, end := m.i1+m.chg1, next.i1
		if m.mode != 0 || next.mode != 0 ||
			(end-begin > 3 && (!alnum || linesContainAlnum(lo[begin:end]))) {
			i++
			continue
		}
		m.chg1 = next.i1 + next.chg1 - m.i1
		m.chg2 = next.i2 + next.chg2 - m.i2
		ms = append(ms[:i+1], ms[i+2:]...)
	}
	return ms
}

// isEOLCRLF mirrors is_eol_crlf: 1 if line i ends in CRLF (for an
// unterminated last line, judge by the line before), 0 if LF, -1 if
// unknown.
func isEOLCRLF(recs [][]byte, i int) int {
	crlf := func(l []byte) int {
		if len(l) > 1 && l[len(l)-2] == '\r' {
			return 1
		}
		return 0
	}
	if i < len(recs)-1 {
		return crlf(recs[i])
	}
	if len(recs) == 0 {
		return -1
	}
	if l := recs[i]; len(l) > 0 && l[len(l)-1] == '\n' {
		return crlf(l)
	}
	if i == 0 {
		return -1
	}
	return crlf(recs[i-1])
}

// isCRNeeded mirrors is_cr_needed.
func isCRNeeded(lb, lo, lt [][]byte, m *xdmerge) bool {
	prev := func(i int) int {
		if i > 0 {
			return i - 1
		}
		return 0
	}
	needs := isEOLCRLF(lo, prev(m.i1))
	if needs != 0 {
		needs = isEOLCRLF(lt, prev(m.i2))
	}
	if needs != 0 {
		needs = isEOLCRLF(lb, 0)
	}
	return needs > 0
}

// recsCopy mirrors xdl_recs_copy_0.
func recsCopy(buf *bytes.Buffer, lines [][]byte, i, count int, needsCR, addNL bool) {
	if count < 1 {
		return
	}
	for _, l := range lines[i : i+count] {
		buf.Write(l)
	}
	if addNL {
		last := lines[i+count-1]
		if len(last) == 0 || last[len(last)-1] != '\n' {
			if needsCR {
				buf.WriteByte('\r')
			}
			buf.WriteByte('\n')
		}
	}
}

func writeMarker(buf *bytes.Buffer, c byte, size int, label string, needsCR bool) {
	for range size {
		buf.WriteByte(c)
	}
	if label != "" {
		buf.WriteByte(' ')
		buf.WriteString(label)
	}
	if needsCR {
		buf.WriteByte('\r')
	}
	buf.WriteByte('\n')
}

// fillMergeBuffer mirrors xdl_fill_merge_buffer and fill_conflict_hunk.
func fillMergeBuffer(lb, lo, lt [][]byte, ms []xdmerge, opts Options) []byte {
	size := opts.MarkerSize
	if size <= 0 {
		size = DefaultMarkerSize
	}
	var buf bytes.Buffer
	i := 0
	for k := range ms {
		m := &ms[k]
		switch {
		case m.mode == 0:
			needsCR := isCRNeeded(lb, lo, lt, m)
			recsCopy(&buf, lo, i, m.i1-i, false, false)
			writeMarker(&buf, '<', size, opts.OursLabel, needsCR)
			recsCopy(&buf, lo, m.i1, m.chg1, needsCR, true)
			if opts.Style != StyleMerge {
				writeMarker(&buf, '|', size, opts.BaseLabel, needsCR)
				recsCopy(&buf, lb, m.i0, m.chg0, needsCR, true)
			}
			writeMarker(&buf, '=', size, "", needsCR)
			recsCopy(&buf, lt, m.i2, m.chg2, needsCR, true)
			writeMarker(&buf, '>', size, opts.TheirsLabel, needsCR)
		case m.mode&3 != 0:
			recsCopy(&buf, lo, i, m.i1-i, false, false)
			if m.mode&1 != 0 {
				recsCopy(&buf, lo, m.i1, m.chg1, isCRNeeded(lb, lo, lt, m), m.mode&2 != 0)
			}
			if m.mode&2 != 0 {
				recsCopy(&buf, lt, m.i2, m.chg2, false, false)
			}
		default:
			continue
		}
		i = m.i1 + m.chg1
	}
	recsCopy(&buf, lo, i, len(lo)-i, false, false)
	return buf.Bytes()
}
