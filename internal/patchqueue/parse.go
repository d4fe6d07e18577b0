package patchqueue

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math"
	"mime/quotedprintable"
	"path"
	"regexp"
	"strconv"
	"strings"

	"github.com/emersion/go-message"
	_ "github.com/emersion/go-message/charset" // decode RFC 2047 words in any charset
	"github.com/emersion/go-message/mail"
	"github.com/emersion/go-message/textproto"
	"github.com/rtbot/rtbot/internal/gitpath"
	"github.com/sourcegraph/go-diff/diff"
)

// MaxPatchSize is the per-patch limit Parse applied before [Limits] had
// MaxPatchBytes; it is no longer enforced. Parse now applies
// DefaultLimits().MaxPatchBytes (64 MiB), and [ParseWithLimits] the limit
// it is given.
const MaxPatchSize = 32 << 20

// Parse parses one patch: optional mail headers (a format-patch mail, a quilt
// patch with From/Subject lines, or none at all), a message, and a unified
// diff. source names the patch in errors; strip is the number of leading
// path components to remove from file names (quilt's -pN, 1 for git diffs).
//
// Parse always returns a Patch. When the patch cannot be used, Patch.Err says
// why, naming source, line, file and hunk; the fields it could read are set.
// Parse applies [DefaultLimits]; see [ParseWithLimits].
func Parse(source string, data []byte, strip int) *Patch {
	return ParseWithLimits(source, data, strip, DefaultLimits())
}

// ParseWithLimits is [Parse] with the per-patch limits of lim:
// a patch longer than lim.MaxPatchBytes, a hunk body of more than
// lim.MaxHunkLines lines and a hunk header whose counts exceed
// lim.MaxHunkLines (or whose numbers are negative or overflow) make
// Patch.Err a *[PatchError]. Zero fields of lim take their [DefaultLimits]
// values. The limits are checked before the hunks are converted, so an
// oversized patch costs no more memory than its bytes.
func ParseWithLimits(source string, data []byte, strip int, lim Limits) *Patch {
	lim = lim.withDefaults()
	p := &Patch{Name: path.Base(source), Source: source, Strip: strip}
	if err := parseInto(p, data, lim); err != nil {
		var pe *PatchError
		if !errors.As(err, &pe) {
			err = &PatchError{Source: source, Err: err}
		}
		p.Err = err
	}
	return p
}

var mboxFrom = regexp.MustCompile(`^From \S+ .*\d\d:\d\d:\d\d.* \d{4}$|^From [0-9a-f]{40} `)

func parseInto(p *Patch, data []byte, lim Limits) error {
	if int64(len(data)) > lim.MaxPatchBytes {
		return &PatchError{Source: p.Source, Err: fmt.Errorf("patch is %d bytes, over the limit of %d bytes per patch", len(data), lim.MaxPatchBytes)}
	}
	if bytes.IndexByte(data, 0) >= 0 {
		return errors.New("patch contains a NUL byte (binary data)")
	}
	lineOffset := 0 // lines consumed before the body, for positions
	// An mbox "From <sha> <date>" line starts format-patch output.
	if first, _, _ := bytes.Cut(data, []byte("\n")); mboxFrom.Match(first) {
		data = data[len(first):]
		if len(data) > 0 {
			data = data[1:]
		}
		lineOffset++
	}

	body := data
	if looksLikeHeader(data) {
		br := bufio.NewReader(bytes.NewReader(data))
		h, err := textproto.ReadHeader(br)
		if err != nil {
			return &PatchError{Source: p.Source, Line: lineOffset + 1, Err: fmt.Errorf("mail header: %w", err)}
		}
		rest, _ := io.ReadAll(br)
		headerBytes := len(data) - len(rest)
		lineOffset += bytes.Count(data[:headerBytes], []byte("\n"))
		body = rest
		if err := p.readHeader(mail.Header{Header: message.Header{Header: h}}); err != nil {
			return &PatchError{Source: p.Source, Line: 1, Err: err}
		}
		switch enc := strings.ToLower(strings.TrimSpace(h.Get("Content-Transfer-Encoding"))); enc {
		case "", "7bit", "8bit", "binary":
		case "quoted-printable":
			dec, err := io.ReadAll(quotedprintable.NewReader(bytes.NewReader(body)))
			if err != nil {
				return &PatchError{Source: p.Source, Line: lineOffset, Err: fmt.Errorf("quoted-printable body: %w", err)}
			}
			body, lineOffset = dec, -1 // line numbers no longer match the file
		case "base64":
			dec, err := io.ReadAll(base64.NewDecoder(base64.StdEncoding, bytes.NewReader(bytes.ReplaceAll(body, []byte("\r\n"), []byte("\n")))))
			if err != nil {
				return &PatchError{Source: p.Source, Line: lineOffset, Err: fmt.Errorf("base64 body: %w", err)}
			}
			body, lineOffset = dec, -1
		default:
			return &PatchError{Source: p.Source, Err: fmt.Errorf("unsupported Content-Transfer-Encoding %q", enc)}
		}
		if ct := strings.ToLower(h.Get("Content-Type")); strings.HasPrefix(ct, "multipart/") {
			return &PatchError{Source: p.Source, Err: errors.New("multipart mail: attach patches inline (git format-patch) instead")}
		}
	}

	diffAt := findDiffStart(body)
	msg := body[:diffAt]
	p.setMessage(string(msg))
	if diffAt == len(body) {
		return &PatchError{Source: p.Source, Err: errors.New("no diff found in patch")}
	}
	diffLine := lineOffset + bytes.Count(body[:diffAt], []byte("\n")) + 1
	if lineOffset < 0 {
		diffLine = 0
	}
	files, err := parseDiff(p.Source, body[diffAt:], diffLine, p.Strip, lim)
	p.Files = files
	return err
}

// looksLikeHeader reports whether data starts with an RFC 5322 header field.
func looksLikeHeader(data []byte) bool {
	line, _, _ := bytes.Cut(data, []byte("\n"))
	name, _, ok := bytes.Cut(line, []byte(":"))
	if !ok || len(name) == 0 {
		return false
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	// A quilt description that starts "Note: this fixes ..." is prose, not a
	// header; real patches start with one of the usual fields.
	switch strings.ToLower(string(name)) {
	case "from", "subject", "date", "message-id", "to", "cc", "return-path",
		"received", "mime-version", "content-type", "origin", "author",
		"x-mailer", "delivered-to", "reply-to", "in-reply-to", "references":
		return true
	}
	return false
}

func (p *Patch) readHeader(h mail.Header) error {
	p.Headers = map[string]string{}
	fields := h.Fields()
	for fields.Next() {
		if _, seen := p.Headers[fields.Key()]; !seen {
			if v, err := fields.Text(); err == nil {
				p.Headers[fields.Key()] = v
			} else {
				p.Headers[fields.Key()] = fields.Value()
			}
		}
	}
	if h.Has("From") {
		addrs, err := h.AddressList("From")
		if err == nil && len(addrs) > 0 {
			p.AuthorName, p.AuthorEmail = addrs[0].Name, addrs[0].Address
		} else {
			// Quilt patches sometimes carry a bare name or a malformed address;
			// keep what is there rather than fail the patch.
			p.AuthorName, p.AuthorEmail = splitAuthor(p.Headers["From"])
		}
	}
	if h.Has("Date") {
		if d, err := h.Date(); err == nil {
			p.Date = d
		}
	}
	if h.Has("Subject") {
		s, err := h.Subject()
		if err != nil {
			s = h.Get("Subject")
		}
		p.Subject = CleanSubject(s)
	}
	return nil
}

var authorRe = regexp.MustCompile(`^\s*(.*?)\s*<([^<>\s]+)>\s*$`)

func splitAuthor(s string) (name, email string) {
	if m := authorRe.FindStringSubmatch(s); m != nil {
		return strings.Trim(m[1], `"`), m[2]
	}
	return strings.TrimSpace(s), ""
}

var subjectPrefix = regexp.MustCompile(`^\s*(?:(?i:re|aw|fwd?)\s*:\s*|\[[^\]]*\]\s*)`)

// CleanSubject removes what git-mailinfo removes from a subject: leading
// "Re:" and bracketed tags such as "[PATCH v2 3/7]", and folds white space.
func CleanSubject(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	for {
		t := subjectPrefix.ReplaceAllString(s, "")
		if t == s {
			return s
		}
		s = t
	}
}

// setMessage splits the text before the diff into subject (when the headers
// gave none) and body, dropping the "---" separator and the diffstat after it.
func (p *Patch) setMessage(msg string) {
	lines := strings.Split(msg, "\n")
	for i, l := range lines {
		if l == "---" || strings.HasPrefix(l, "--- ") && i+1 < len(lines) && strings.HasPrefix(lines[i+1], "+++ ") {
			lines = lines[:i]
			break
		}
		// quilt-style preambles: "Index: path" and the "====" rule before a diff.
		if strings.HasPrefix(l, "Index: ") && i+1 < len(lines) && strings.HasPrefix(lines[i+1], "=====") {
			lines = lines[:i]
			break
		}
	}
	for i := range lines {
		lines[i] = strings.TrimRight(lines[i], " \t\r")
	}
	text := strings.Trim(strings.Join(lines, "\n"), "\n")
	if p.Subject == "" {
		first, rest, _ := strings.Cut(text, "\n\n")
		p.Subject = CleanSubject(first)
		text = rest
	}
	p.Body = strings.Trim(text, "\n")
}

// findDiffStart returns the offset of the first line of the diff: a
// "diff --git" line, or a "--- " line directly followed by "+++ ".
func findDiffStart(b []byte) int {
	off := 0
	for off < len(b) {
		end := bytes.IndexByte(b[off:], '\n')
		var line []byte
		next := len(b)
		if end < 0 {
			line = b[off:]
		} else {
			line = b[off : off+end]
			next = off + end + 1
		}
		if bytes.HasPrefix(line, []byte("diff --git ")) {
			return off
		}
		if bytes.HasPrefix(line, []byte("--- ")) && bytes.HasPrefix(b[next:], []byte("+++ ")) {
			return off
		}
		off = next
	}
	return len(b)
}

// parseDiff parses the diff part of a patch. firstLine is the 1-based line of
// the diff's start in the patch file (0 when unknown).
func parseDiff(source string, d []byte, firstLine, strip int, lim Limits) ([]*File, error) {
	d = trimSignature(d)
	if err := checkHunkSizes(source, d, firstLine, strip, lim.MaxHunkLines); err != nil {
		return nil, err
	}
	headers, hunkLines := scanPositions(d, firstLine)
	fds, err := readFileDiffs(d)
	if err != nil {
		line := 0
		var pe *diff.ParseError
		if errors.As(err, &pe) && firstLine > 0 {
			line = firstLine + pe.Line - 1
		}
		return nil, &PatchError{Source: source, Line: line, Err: fmt.Errorf("unparseable diff: %w", err)}
	}
	if len(fds) == 0 {
		return nil, &PatchError{Source: source, Line: firstLine, Err: errors.New("no file diffs found")}
	}
	var files []*File
	hunkNo := 0
	for i, fd := range fds {
		f, err := convertFile(fd, strip)
		pos := 0
		if len(headers) == len(fds) {
			pos = headers[i]
		}
		if f != nil {
			f.Pos = pos
		}
		if err != nil {
			return files, &PatchError{Source: source, Line: pos, File: nameOf(fd, strip), Err: err}
		}
		for j, h := range f.Hunks {
			trimBlankTail(h)
			if hunkNo < len(hunkLines) {
				h.Pos = hunkLines[hunkNo]
			}
			hunkNo++
			if err := checkHunk(h); err != nil {
				return files, &PatchError{Source: source, Line: h.Pos, File: f.Path(), Hunk: j + 1, Err: err}
			}
		}
		if err := checkHunkOrder(f); err != nil {
			return files, &PatchError{Source: source, Line: pos, File: f.Path(), Err: err}
		}
		files = append(files, f)
	}
	return files, nil
}

// readFileDiffs runs the diff parser on d. The parser panics on some
// malformed input (a "diff --git" line with one-letter names, for one);
// that is an error in d, not a crash.
func readFileDiffs(d []byte) (fds []*diff.FileDiff, err error) {
	defer func() {
		if r := recover(); r != nil {
			fds, err = nil, fmt.Errorf("the diff parser failed: %v", r)
		}
	}()
	return diff.NewMultiFileDiffReader(bytes.NewReader(d)).ReadAllFiles()
}

func nameOf(fd *diff.FileDiff, strip int) string {
	if n, err := stripPath(fd.NewName, strip); err == nil && n != "" {
		return n
	}
	n, _ := stripPath(fd.OrigName, strip)
	return n
}

// trimSignature removes the "-- \n2.39.1\n" trailer git format-patch adds,
// which a line-oriented diff parser would take for a removed line.
func trimSignature(d []byte) []byte {
	i := bytes.LastIndex(d, []byte("\n-- \n"))
	if i < 0 {
		return d
	}
	if tail := d[i+5:]; bytes.Count(tail, []byte("\n")) <= 3 && !bytes.Contains(tail, []byte("@@")) {
		return d[:i+1]
	}
	return d
}

// scanPositions returns the patch-file line numbers of each file header and
// each hunk header, in order.
func scanPositions(d []byte, firstLine int) (files, hunks []int) {
	if firstLine <= 0 {
		return nil, nil
	}
	lines := bytes.Split(d, []byte("\n"))
	git := bytes.HasPrefix(d, []byte("diff --git "))
	for i, l := range lines {
		switch {
		case git && bytes.HasPrefix(l, []byte("diff --git ")):
			files = append(files, firstLine+i)
		case !git && bytes.HasPrefix(l, []byte("--- ")) && i+1 < len(lines) && bytes.HasPrefix(lines[i+1], []byte("+++ ")):
			files = append(files, firstLine+i)
		case bytes.HasPrefix(l, []byte("@@ ")):
			hunks = append(hunks, firstLine+i)
		}
	}
	return files, hunks
}

// checkHunkSizes walks the diff before it is parsed and refuses hunk
// headers with numbers that are not plain non-negative integers, that
// overflow, or whose line counts exceed maxLines, and hunk bodies of more
// than maxLines lines. Nothing is allocated by a header's count. Lines are
// counted the way the diff parser reads a hunk: it ends at a line that
// cannot be in a body, or at a "---"/"+++" pair followed by a hunk header
// (a file header; otherwise the pair is a removed and an added line);
// "\ No newline" markers and trailing empty lines (which trimBlankTail
// drops) are not counted. firstLine is the patch-file line of d's start
// (0 when unknown).
func checkHunkSizes(source string, d []byte, firstLine, strip, maxLines int) error {
	var (
		file    string // the file the current hunks belong to
		hunk    int    // 1-based hunk number within file
		hdrLine int    // patch-file line of the current hunk header
		inHunk  bool
		body    int // body lines counted so far
		blanks  int // empty lines not yet counted
	)
	lineAt := func(i int) int {
		if firstLine <= 0 {
			return 0
		}
		return firstLine + i
	}
	fail := func(line int, err error) error {
		return &PatchError{Source: source, Line: line, File: file, Hunk: hunk, Err: err}
	}
	i := 0
	for off := 0; off < len(d); i++ {
		end := bytes.IndexByte(d[off:], '\n')
		next := len(d)
		line := d[off:]
		if end >= 0 {
			line, next = d[off:off+end], off+end+1
		}
		off = next
		switch {
		case bytes.HasPrefix(line, []byte("---")) && bytes.HasPrefix(d[next:], []byte("+++")) && (!inHunk || secondLineHasPrefix(d[next:], "@@ ")):
			// A file header. Inside a hunk the parser takes "---"/"+++"
			// for removed and added lines unless a hunk header follows.
			newLine, _, _ := bytes.Cut(d[next:], []byte("\n"))
			file = diffName(strings.TrimLeft(string(newLine[3:]), " "), strings.TrimLeft(string(line[3:]), " "), strip)
			hunk, inHunk = 0, false
		case bytes.HasPrefix(line, []byte("@@ ")):
			hunk++
			hdrLine, inHunk, body, blanks = lineAt(i), true, 0, 0
			if err := checkHunkHeader(string(line), maxLines); err != nil {
				return fail(hdrLine, err)
			}
		case !inHunk:
		case len(line) == 0:
			blanks++
		case line[0] == ' ' || line[0] == '-' || line[0] == '+':
			body += blanks + 1
			blanks = 0
			if body > maxLines {
				return fail(hdrLine, fmt.Errorf("hunk body is longer than the limit of %d lines per hunk (line %d is its line %d)", maxLines, lineAt(i), body))
			}
		case line[0] == '\\':
		default:
			inHunk = false
		}
	}
	return nil
}

// secondLineHasPrefix reports whether the second line of b starts with prefix.
func secondLineHasPrefix(b []byte, prefix string) bool {
	_, rest, ok := bytes.Cut(b, []byte("\n"))
	return ok && bytes.HasPrefix(rest, []byte(prefix))
}

// diffName returns the name a "+++ "/"--- " header pair gives a file, for
// errors: the new name with strip components removed, or the old one for a
// deletion, or the raw name when stripping fails.
func diffName(newName, oldName string, strip int) string {
	for _, n := range []string{newName, oldName} {
		if s, err := stripPath(n, strip); err == nil && s != "" {
			return s
		}
	}
	if i := strings.IndexByte(newName, '\t'); i >= 0 {
		newName = newName[:i]
	}
	return newName
}

// checkHunkHeader checks the numbers of "@@ -a[,b] +c[,d] @@ ..." before
// the diff parser reads them into 32-bit fields: each must be a decimal
// number without sign that fits, and the counts b and d at most maxLines.
// A header of another shape is left to the parser to refuse.
func checkHunkHeader(hdr string, maxLines int) error {
	pieces := strings.SplitN(hdr, " ", 5)
	if len(pieces) < 4 || pieces[0] != "@@" || pieces[3] != "@@" {
		return nil
	}
	hdr = shorten(strings.Join(pieces[:4], " ")) // without the section text
	for k, side := range [2]struct{ sign, name string }{{"-", "old"}, {"+", "new"}} {
		r, ok := strings.CutPrefix(pieces[k+1], side.sign)
		if !ok {
			return fmt.Errorf("hunk header %q: range %q does not start with %q", hdr, pieces[k+1], side.sign)
		}
		start, count, hasCount := strings.Cut(r, ",")
		s, err := headerNumber(start)
		if err != nil {
			return fmt.Errorf("hunk header %q: %s start line: %w", hdr, side.name, err)
		}
		n := int64(1)
		if hasCount {
			if n, err = headerNumber(count); err != nil {
				return fmt.Errorf("hunk header %q: %s line count: %w", hdr, side.name, err)
			}
		}
		if n > int64(maxLines) {
			return fmt.Errorf("hunk header %q claims %d %s lines, over the limit of %d lines per hunk", hdr, n, side.name, maxLines)
		}
		if s+n > math.MaxInt32 {
			return fmt.Errorf("hunk header %q: %s range %d,%d is out of range", hdr, side.name, s, n)
		}
	}
	return nil
}

// headerNumber parses a hunk header number: decimal digits only, at most
// math.MaxInt32.
func headerNumber(s string) (int64, error) {
	if s == "" {
		return 0, errors.New("missing number")
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("%q is not a non-negative decimal number", shorten(s))
		}
	}
	n, err := strconv.ParseInt(s, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("%s is out of range (the largest is %d)", shorten(s), math.MaxInt32)
	}
	return n, nil
}

// shorten cuts s for an error message: hostile input may be long.
func shorten(s string) string {
	if len(s) <= 64 {
		return s
	}
	return s[:60] + "..."
}

// stripPath removes n leading components from a diff path and checks that
// the result is a path git accepts in a tree (CheckPath). An absolute name
// is refused whatever n is: `git apply -p1` would take "--- /etc/passwd"
// for etc/passwd (the "/" being the first component), but a diff that
// names absolute paths was not made in a tree, and rtbot applies none of
// it. A name still absolute after stripping ("a//etc/passwd") is refused,
// as git apply refuses it.
func stripPath(p string, n int) (string, error) {
	if i := strings.IndexByte(p, '\t'); i >= 0 {
		p = p[:i]
	}
	if p == "/dev/null" || p == "" {
		return "", nil
	}
	orig := p
	if strings.HasPrefix(p, "/") {
		return "", fmt.Errorf("path %q: absolute path", orig)
	}
	for i := 0; i < n; i++ {
		j := strings.IndexByte(p, '/')
		if j < 0 {
			return "", fmt.Errorf("path %q has fewer than %d components to strip (-p%d)", orig, n, n)
		}
		p = p[j+1:]
	}
	if err := CheckPath(p); err != nil {
		return "", fmt.Errorf("path %q: %w", orig, err)
	}
	return p, nil
}

// CheckPath refuses paths that would write outside the tree or that git
// refuses in a tree: empty, absolute, with an empty, "." or ".."
// component, .git under any name a file system gives it (.GIT, git~1,
// .git., .g\u200cit; see package gitpath), or with a NUL, CR or LF.
func CheckPath(p string) error {
	if strings.ContainsAny(p, "\x00\r\n") {
		return errors.New("control character in path")
	}
	return gitpath.Verify(p, 0)
}

// checkModes refuses what a file's mode makes unsafe: .gitmodules (under
// any of its names) as a symbolic link, which git refuses.
func checkModes(f *File) error {
	if f.OldPath != "" {
		if err := gitpath.Verify(f.OldPath, f.OldMode); err != nil {
			return fmt.Errorf("path %q: %w", f.OldPath, err)
		}
	}
	if f.NewPath != "" {
		if err := gitpath.Verify(f.NewPath, f.NewMode); err != nil {
			return fmt.Errorf("path %q: %w", f.NewPath, err)
		}
	}
	return nil
}

var modeRe = regexp.MustCompile(`^[0-7]{6}$`)

func parseMode(s string) (uint32, error) {
	s = strings.TrimSpace(s)
	if !modeRe.MatchString(s) {
		return 0, fmt.Errorf("bad file mode %q", s)
	}
	m, _ := strconv.ParseUint(s, 8, 32)
	switch m {
	case 0o100644, 0o100755, 0o120000, 0o160000:
		return uint32(m), nil
	}
	return 0, fmt.Errorf("unsupported file mode %06o", m)
}

// convertFile turns one file diff of go-diff into a File: its paths
// stripped, its extended header lines read, renames and copies checked, its
// operation settled and its hunks converted.
func convertFile(fd *diff.FileDiff, strip int) (*File, error) {
	f := &File{Op: OpModify}
	var err error
	if f.OldPath, err = stripPath(fd.OrigName, strip); err != nil {
		return nil, err
	}
	if f.NewPath, err = stripPath(fd.NewName, strip); err != nil {
		return nil, err
	}
	var mv moves
	for _, x := range fd.Extended {
		if err := readExtended(f, x, &mv); err != nil {
			return f, err
		}
	}
	if err := applyMoves(f, mv); err != nil {
		return f, err
	}
	settleOp(f)
	if f.OldPath == "" && f.NewPath == "" {
		return f, errors.New("no file name in diff header")
	}
	if err := checkModes(f); err != nil {
		return f, err
	}
	for _, h := range fd.Hunks {
		f.Hunks = append(f.Hunks, convertHunk(h))
	}
	return f, nil
}

// moves are the rename and copy lines of a git diff's extended header.
type moves struct {
	renameFrom, renameTo, copyFrom, copyTo string
}

// readExtended reads one extended header line x of a git diff into f, or
// into mv for renames and copies.
func readExtended(f *File, x string, mv *moves) error {
	var err error
	key, val, _ := strings.Cut(x, " ")
	switch {
	case strings.HasPrefix(x, "diff --git "):
	case strings.HasPrefix(x, "new file mode "):
		f.Op = OpAdd
		f.NewMode, err = parseMode(strings.TrimPrefix(x, "new file mode "))
	case strings.HasPrefix(x, "deleted file mode "):
		f.Op = OpDelete
		f.OldMode, err = parseMode(strings.TrimPrefix(x, "deleted file mode "))
	case strings.HasPrefix(x, "old mode "):
		f.OldMode, err = parseMode(strings.TrimPrefix(x, "old mode "))
	case strings.HasPrefix(x, "new mode "):
		f.NewMode, err = parseMode(strings.TrimPrefix(x, "new mode "))
	case strings.HasPrefix(x, "rename from "):
		mv.renameFrom = strings.TrimPrefix(x, "rename from ")
	case strings.HasPrefix(x, "rename to "):
		mv.renameTo = strings.TrimPrefix(x, "rename to ")
	case strings.HasPrefix(x, "copy from "):
		mv.copyFrom = strings.TrimPrefix(x, "copy from ")
	case strings.HasPrefix(x, "copy to "):
		mv.copyTo = strings.TrimPrefix(x, "copy to ")
	case strings.HasPrefix(x, "similarity index "):
		f.Similarity, _ = strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(x, "similarity index "), "%"))
	case strings.HasPrefix(x, "dissimilarity index "):
	case key == "index":
		return readIndexLine(f, x, val)
	case strings.HasPrefix(x, "GIT binary patch"), strings.HasPrefix(x, "Binary files "):
		return errors.New("binary patch: rtbot applies text diffs only")
	}
	return err
}

// readIndexLine reads the blob ids and the mode of an "index" line x,
// whose value is val.
func readIndexLine(f *File, x, val string) error {
	ids, mode, _ := strings.Cut(val, " ")
	a, b, ok := strings.Cut(ids, "..")
	if !ok || !isHex(a) || !isHex(b) {
		return fmt.Errorf("bad index line %q", x)
	}
	f.OldIndex, f.NewIndex = a, b
	if mode != "" {
		m, err := parseMode(mode)
		if err != nil {
			return err
		}
		if f.OldMode == 0 {
			f.OldMode = m
		}
		if f.NewMode == 0 {
			f.NewMode = m
		}
	}
	return nil
}

// applyMoves makes f a rename or a copy when the header says so, checking
// both paths.
func applyMoves(f *File, mv moves) error {
	for _, pair := range [][3]any{{&mv.renameFrom, &mv.renameTo, OpRename}, {&mv.copyFrom, &mv.copyTo, OpCopy}} {
		from, to := pair[0].(*string), pair[1].(*string)
		if *from == "" && *to == "" {
			continue
		}
		if *from == "" || *to == "" {
			return errors.New("rename/copy header without both from and to")
		}
		if err := CheckPath(*from); err != nil {
			return fmt.Errorf("path %q: %w", *from, err)
		}
		if err := CheckPath(*to); err != nil {
			return fmt.Errorf("path %q: %w", *to, err)
		}
		f.Op, f.OldPath, f.NewPath = pair[2].(Op), *from, *to
	}
	return nil
}

// settleOp decides a plain modification's operation from its paths, and
// clears the path an added or deleted file does not have.
func settleOp(f *File) {
	if f.Op == OpModify {
		switch {
		case f.OldPath == "" && f.NewPath != "":
			f.Op = OpAdd
		case f.NewPath == "" && f.OldPath != "":
			f.Op = OpDelete
		case f.OldPath != f.NewPath && f.OldPath != "":
			// Plain "--- a/x +++ b/y" without rename headers: patch(1) and
			// quilt write to the new name's path when the old one is gone;
			// treat the old name as authoritative like git apply does for
			// non-git diffs, which uses the name both sides share.
			f.NewPath = f.OldPath
		}
	}
	if f.Op == OpAdd {
		f.OldPath = ""
	}
	if f.Op == OpDelete {
		f.NewPath = ""
	}
}

func isHex(s string) bool {
	if len(s) < 4 || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

func convertHunk(h *diff.Hunk) *Hunk {
	out := &Hunk{
		OldStart: int(h.OrigStartLine), OldLines: int(h.OrigLines),
		NewStart: int(h.NewStartLine), NewLines: int(h.NewLines),
		Section: h.Section,
	}
	body := h.Body
	off := 0
	for off < len(body) {
		end := bytes.IndexByte(body[off:], '\n')
		var raw string
		next := len(body)
		if end < 0 {
			raw = string(body[off:])
		} else {
			raw = string(body[off : off+end+1])
			next = off + end + 1
		}
		op := byte(' ')
		text := raw
		if len(raw) > 0 && (raw[0] == ' ' || raw[0] == '-' || raw[0] == '+') {
			op, text = raw[0], raw[1:]
		} else if raw == "\n" {
			text = "\n" // an empty context line whose space a mailer ate
		}
		// go-diff keeps the "\n" of a removed line that had "\ No newline"
		// and records its offset instead.
		if h.OrigNoNewlineAt > 0 && int32(next) == h.OrigNoNewlineAt && op == '-' {
			text = strings.TrimSuffix(text, "\n")
		}
		out.Lines = append(out.Lines, Line{Op: op, Text: text})
		off = next
	}
	return out
}

// trimBlankTail drops empty lines after a hunk's counted body: the blank
// line that separates messages in an mbox (or ends a mail) follows the last
// hunk directly, and git apply, which counts, never reads it.
func trimBlankTail(h *Hunk) {
	for len(h.Lines) > 0 {
		old, nw := 0, 0
		for _, l := range h.Lines {
			if l.Op != '+' {
				old++
			}
			if l.Op != '-' {
				nw++
			}
		}
		last := h.Lines[len(h.Lines)-1]
		if old <= h.OldLines || nw <= h.NewLines || last.Op != ' ' || last.Text != "\n" {
			return
		}
		h.Lines = h.Lines[:len(h.Lines)-1]
	}
}

// checkHunk verifies the body against the line counts of the header.
func checkHunk(h *Hunk) error {
	old, nw := 0, 0
	for _, l := range h.Lines {
		switch l.Op {
		case ' ':
			old++
			nw++
		case '-':
			old++
		case '+':
			nw++
		}
	}
	if old != h.OldLines || nw != h.NewLines {
		return fmt.Errorf("header says -%d,%d +%d,%d but the body has %d old and %d new lines",
			h.OldStart, h.OldLines, h.NewStart, h.NewLines, old, nw)
	}
	if old == 0 && nw == 0 {
		return errors.New("empty hunk")
	}
	for i, l := range h.Lines {
		if !strings.HasSuffix(l.Text, "\n") && i != len(h.Lines)-1 {
			// Only the last line of each side may lack a newline; a removed
			// line without one must be followed only by added lines.
			rest := h.Lines[i+1:]
			for _, r := range rest {
				if r.Op != '+' || l.Op != '-' {
					return fmt.Errorf("line %d: \"No newline at end of file\" before the end of the hunk", i+1)
				}
			}
		}
	}
	return nil
}

// checkHunkOrder refuses hunks that overlap or go backwards in the pre-image.
func checkHunkOrder(f *File) error {
	end := 0
	for i, h := range f.Hunks {
		if h.OldStart < end {
			return fmt.Errorf("hunk %d starts at line %d, inside or before hunk %d", i+1, h.OldStart, i)
		}
		end = h.OldStart + h.OldLines
	}
	return nil
}
