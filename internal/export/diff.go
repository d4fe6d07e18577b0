package export

import (
	"bytes"
	"fmt"
	"io"
	"strconv"
	"strings"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/rtbot/rtbot/internal/patchqueue"
	"github.com/rtbot/rtbot/internal/textmerge"
)

// abbrev is the length of the blob ids on "index" lines, the kernel's
// core.abbrev.
const abbrev = 12

// contextLines is git's default diff context.
const contextLines = 3

// side is one version of a path: absent when mode is 0.
type side struct {
	mode filemode.FileMode
	hash plumbing.Hash
}

// fileDiff is the change of one path between two trees, with both
// contents read and the hunks computed.
type fileDiff struct {
	path     string
	from, to side
	pre      []byte
	hunks    []*patchqueue.Hunk
	added    int
	deleted  int
}

// differ computes git diffs between trees of one repository.
type differ struct {
	repo *git.Repository
}

// treeDiff returns the changes from tree a to tree b (either may be zero
// for an empty tree) in git's order, a type change (file to symlink) as a
// deletion followed by an addition, with hunks of three context lines.
func (d *differ) treeDiff(a, b plumbing.Hash) ([]*fileDiff, error) {
	w := &treeWalk{d: d}
	if err := w.trees("", a, b); err != nil {
		return nil, err
	}
	out := make([]*fileDiff, 0, len(w.changes))
	for _, c := range w.changes {
		fd, err := d.fileDiff(c)
		if err != nil {
			return nil, err
		}
		out = append(out, fd)
	}
	return out, nil
}

// pathChange is a path whose entry differs between two trees: from and
// to are its two versions.
type pathChange struct {
	path     string
	from, to side
}

// treeWalk collects the changed paths between two trees, in git's order.
type treeWalk struct {
	d       *differ
	changes []pathChange
}

// trees walks trees a and b (either zero: empty) at prefix side by side,
// in the order of their sorted entries.
func (w *treeWalk) trees(prefix string, a, b plumbing.Hash) error {
	ea, err := w.d.entries(a)
	if err != nil {
		return err
	}
	eb, err := w.d.entries(b)
	if err != nil {
		return err
	}
	i, j := 0, 0
	for i < len(ea) || j < len(eb) {
		var x, y *object.TreeEntry
		switch {
		case j == len(eb) || i < len(ea) && key(ea[i]) < key(eb[j]):
			x = &ea[i]
			i++
		case i == len(ea) || key(eb[j]) < key(ea[i]):
			y = &eb[j]
			j++
		default:
			x, y = &ea[i], &eb[j]
			i++
			j++
		}
		if err := w.entry(prefix, x, y); err != nil {
			return err
		}
	}
	return nil
}

// entry compares entry x of tree a with entry y of tree b under the same
// key (either nil: absent): unchanged, a directory to walk, or a changed
// path, a type change (file to symlink) as a deletion and an addition.
func (w *treeWalk) entry(prefix string, x, y *object.TreeEntry) error {
	if x != nil && y != nil && x.Hash == y.Hash && x.Mode == y.Mode {
		return nil
	}
	if x != nil && x.Mode == filemode.Dir || y != nil && y.Mode == filemode.Dir {
		// Both are directories here: entries with the same key
		// have the same kind.
		var ha, hb plumbing.Hash
		if x != nil {
			ha = x.Hash
		}
		if y != nil {
			hb = y.Hash
		}
		name := x
		if name == nil {
			name = y
		}
		return w.trees(prefix+name.Name+"/", ha, hb)
	}
	var from, to side
	name := ""
	if x != nil {
		from, name = side{x.Mode, x.Hash}, x.Name
	}
	if y != nil {
		to, name = side{y.Mode, y.Hash}, y.Name
	}
	path := prefix + name
	for _, s := range []side{from, to} {
		if s.mode == filemode.Submodule {
			return fmt.Errorf("%s: submodule changes cannot be exported", path)
		}
	}
	if from.mode != 0 && to.mode != 0 && isLink(from.mode) != isLink(to.mode) {
		w.changes = append(w.changes, pathChange{path, from, side{}}, pathChange{path, side{}, to})
		return nil
	}
	w.changes = append(w.changes, pathChange{path, from, to})
	return nil
}

// fileDiff reads both versions of a changed path and computes its hunks
// and counts.
func (d *differ) fileDiff(c pathChange) (*fileDiff, error) {
	fd := &fileDiff{path: c.path, from: c.from, to: c.to}
	var post []byte
	var err error
	if fd.from.mode != 0 {
		if fd.pre, err = d.blob(c.path, fd.from.hash); err != nil {
			return nil, err
		}
	}
	if fd.to.mode != 0 {
		if post, err = d.blob(c.path, fd.to.hash); err != nil {
			return nil, err
		}
	}
	if fd.from.hash != fd.to.hash {
		fd.hunks = patchqueue.MakeHunks(string(fd.pre), string(post), contextLines)
	}
	for _, h := range fd.hunks {
		for _, l := range h.Lines {
			switch l.Op {
			case '+':
				fd.added++
			case '-':
				fd.deleted++
			}
		}
	}
	return fd, nil
}

// key is an entry's sort key in a git tree: directories sort as "name/".
func key(e object.TreeEntry) string {
	if e.Mode == filemode.Dir {
		return e.Name + "/"
	}
	return e.Name
}

func isLink(m filemode.FileMode) bool { return m == filemode.Symlink }

func (d *differ) entries(h plumbing.Hash) ([]object.TreeEntry, error) {
	if h.IsZero() {
		return nil, nil
	}
	t, err := d.repo.TreeObject(h)
	if err != nil {
		return nil, fmt.Errorf("tree %s: %w", h, err)
	}
	return t.Entries, nil
}

// blob reads a blob, refusing binary content (a NUL in the first 8000
// bytes, git's test): a text patch cannot carry it.
func (d *differ) blob(path string, h plumbing.Hash) ([]byte, error) {
	b, err := d.repo.BlobObject(h)
	if err != nil {
		return nil, fmt.Errorf("%s: blob %s: %w", path, h, err)
	}
	r, err := b.Reader()
	if err != nil {
		return nil, fmt.Errorf("%s: blob %s: %w", path, h, err)
	}
	defer r.Close()
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("%s: blob %s: %w", path, h, err)
	}
	if bytes.IndexByte(data[:min(len(data), 8000)], 0) >= 0 {
		return nil, fmt.Errorf("%s: binary file; a text patch cannot carry it", path)
	}
	return data, nil
}

// writeDiff writes the file diffs in `git diff` form: "diff --git",
// new/deleted/old/new mode lines, "index" with abbreviated ids, the
// ---/+++ names and the hunks with git's default function-name headers.
func writeDiff(w *bytes.Buffer, fds []*fileDiff) {
	for _, fd := range fds {
		a, b := quotePath("a/"+fd.path), quotePath("b/"+fd.path)
		fmt.Fprintf(w, "diff --git %s %s\n", a, b)
		switch {
		case fd.from.mode == 0:
			fmt.Fprintf(w, "new file mode %06o\n", uint32(fd.to.mode))
			fmt.Fprintf(w, "index %s..%s\n", short(plumbing.ZeroHash), short(fd.to.hash))
		case fd.to.mode == 0:
			fmt.Fprintf(w, "deleted file mode %06o\n", uint32(fd.from.mode))
			fmt.Fprintf(w, "index %s..%s\n", short(fd.from.hash), short(plumbing.ZeroHash))
		case fd.from.mode != fd.to.mode:
			fmt.Fprintf(w, "old mode %06o\nnew mode %06o\n", uint32(fd.from.mode), uint32(fd.to.mode))
			if fd.from.hash != fd.to.hash {
				fmt.Fprintf(w, "index %s..%s\n", short(fd.from.hash), short(fd.to.hash))
			}
		default:
			fmt.Fprintf(w, "index %s..%s %06o\n", short(fd.from.hash), short(fd.to.hash), uint32(fd.to.mode))
		}
		if len(fd.hunks) == 0 {
			continue
		}
		from, to := a, b
		if fd.from.mode == 0 {
			from = "/dev/null"
		}
		if fd.to.mode == 0 {
			to = "/dev/null"
		}
		// git ends a name that contains a space with a tab.
		fmt.Fprintf(w, "--- %s%s\n+++ %s%s\n", from, tabIfSpace(from), to, tabIfSpace(to))
		var pre [][]byte
		if len(fd.pre) > 0 {
			pre = textmerge.Lines(fd.pre)
		}
		for _, h := range fd.hunks {
			patchqueue.WriteHunk(w, h, funcName(pre, h))
		}
	}
}

func tabIfSpace(name string) string {
	if strings.Contains(name, " ") {
		return "\t"
	}
	return ""
}

func short(h plumbing.Hash) string { return h.String()[:abbrev] }

// funcName is git's default hunk header: the last line before the hunk's
// first line that starts with a letter, "_" or "$", cut to 80 bytes and
// without trailing white space.
func funcName(pre [][]byte, h *patchqueue.Hunk) string {
	if h.OldLines == 0 {
		return ""
	}
	for i := min(h.OldStart-2, len(pre)-1); i >= 0; i-- {
		l := pre[i]
		if len(l) == 0 {
			continue
		}
		c := l[0]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c == '$') {
			continue
		}
		l = l[:min(len(l), 80)]
		return strings.TrimRight(string(l), " \t\n\v\f\r")
	}
	return ""
}

// quotePath quotes a name the way git does when it has a double quote, a
// backslash, a control character or a byte outside ASCII.
func quotePath(s string) string {
	needs := false
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			needs = true
			break
		}
	}
	if !needs {
		return s
	}
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '\a':
			b.WriteString(`\a`)
		case '\b':
			b.WriteString(`\b`)
		case '\t':
			b.WriteString(`\t`)
		case '\n':
			b.WriteString(`\n`)
		case '\v':
			b.WriteString(`\v`)
		case '\f':
			b.WriteString(`\f`)
		case '\r':
			b.WriteString(`\r`)
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		default:
			if c < 0x20 || c >= 0x7f {
				fmt.Fprintf(&b, `\%03o`, c)
			} else {
				b.WriteByte(c)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}

// writeStat writes git's --stat --summary for a mail (72 columns): one
// line per file with a +/- graph, the totals, then the created, deleted
// and mode-changed files.
func writeStat(w *bytes.Buffer, fds []*fileDiff) {
	if len(fds) == 0 {
		return
	}
	g := statGraphFor(fds)
	files, ins, del := 0, 0, 0
	for _, fd := range fds {
		g.writeLine(w, fd)
		files++
		ins += fd.added
		del += fd.deleted
	}
	writeStatTotals(w, files, ins, del)
	writeSummary(w, fds)
}

// statGraph is the layout of --stat lines: the widths of the name, the
// number and the +/- graph, and the largest change the graph scales.
type statGraph struct {
	nameWidth, numberWidth, graphWidth int
	maxChange                          int
}

// statGraphFor lays out the --stat lines of fds in 72 columns, as git
// does: the graph gets at most 3/8 of the width, the name the rest.
func statGraphFor(fds []*fileDiff) statGraph {
	const width = 72
	maxLen, maxChange := 0, 0
	for _, fd := range fds {
		maxLen = max(maxLen, len(quotePath(fd.path)))
		maxChange = max(maxChange, fd.added+fd.deleted)
	}
	numberWidth := len(strconv.Itoa(maxChange))
	graphWidth, nameWidth := maxChange, maxLen
	if nameWidth+numberWidth+6+graphWidth > width {
		if graphWidth > width*3/8-numberWidth-6 {
			graphWidth = max(width*3/8-numberWidth-6, 6)
		}
		if nameWidth > width-numberWidth-6-graphWidth {
			nameWidth = width - numberWidth - 6 - graphWidth
		} else {
			graphWidth = width - numberWidth - 6 - nameWidth
		}
	}
	return statGraph{nameWidth: nameWidth, numberWidth: numberWidth, graphWidth: graphWidth, maxChange: maxChange}
}

// scale is the length in the graph of n changed lines.
func (g statGraph) scale(n int) int {
	if n == 0 {
		return 0
	}
	return 1 + n*(g.graphWidth-1)/g.maxChange
}

// writeLine writes the --stat line of one file: its name (cut at the
// front with "..." when too long), the lines changed and the graph.
func (g statGraph) writeLine(w *bytes.Buffer, fd *fileDiff) {
	name, prefix := quotePath(fd.path), ""
	if len(name) > g.nameWidth {
		prefix = "..."
		keep := max(g.nameWidth-3, 0)
		name = name[len(name)-keep:]
		if i := strings.IndexByte(name, '/'); i >= 0 {
			name = name[i:]
		}
	}
	pad := max(g.nameWidth-len(prefix)-len(name), 0)
	add, rem := fd.added, fd.deleted
	if g.graphWidth <= g.maxChange {
		total := g.scale(add + rem)
		if total < 2 && add > 0 && rem > 0 {
			total = 2
		}
		if add < rem {
			add = g.scale(add)
			rem = total - add
		} else {
			rem = g.scale(rem)
			add = total - rem
		}
	}
	sep := ""
	if fd.added+fd.deleted > 0 {
		sep = " "
	}
	fmt.Fprintf(w, " %s%s%s | %*d%s%s%s\n", prefix, name, strings.Repeat(" ", pad),
		g.numberWidth, fd.added+fd.deleted, sep, strings.Repeat("+", add), strings.Repeat("-", rem))
}

// writeStatTotals writes the --stat totals line.
func writeStatTotals(w *bytes.Buffer, files, ins, del int) {
	fmt.Fprintf(w, " %d %s changed", files, plural(files, "file", "files"))
	if ins > 0 || del == 0 {
		fmt.Fprintf(w, ", %d %s(+)", ins, plural(ins, "insertion", "insertions"))
	}
	if del > 0 || ins == 0 {
		fmt.Fprintf(w, ", %d %s(-)", del, plural(del, "deletion", "deletions"))
	}
	w.WriteByte('\n')
}

// writeSummary writes the --summary lines: the created, deleted and
// mode-changed files.
func writeSummary(w *bytes.Buffer, fds []*fileDiff) {
	for _, fd := range fds {
		switch {
		case fd.from.mode == 0:
			fmt.Fprintf(w, " create mode %06o %s\n", uint32(fd.to.mode), quotePath(fd.path))
		case fd.to.mode == 0:
			fmt.Fprintf(w, " delete mode %06o %s\n", uint32(fd.from.mode), quotePath(fd.path))
		case fd.from.mode != fd.to.mode:
			fmt.Fprintf(w, " mode change %06o => %06o %s\n", uint32(fd.from.mode), uint32(fd.to.mode), quotePath(fd.path))
		}
	}
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
