package patchqueue

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/ulikunitz/xz"
)

// Limits bound what reading a queue may consume; queues come from the
// network and are not trusted.
// A zero (or negative) field means its DefaultLimits value.
type Limits struct {
	MaxPatches   int   // patches in one queue
	MaxTotalSize int64 // bytes of all patches together (uncompressed)
	// MaxPatchBytes bounds one patch; a larger one is malformed (its
	// Patch.Err says so) and the rest of the queue is still read.
	MaxPatchBytes int64
	// MaxHunkLines bounds the lines of one hunk body (context, removed and
	// added lines together) and each line count of its header; a patch
	// with a larger hunk is malformed.
	MaxHunkLines int
}

// DefaultLimits returns limits generous for real RT queues (about 70
// patches, 1 MiB; the largest hunk a few thousand lines): 5000 patches,
// 512 MiB in all, 64 MiB per patch and 200000 lines per hunk.
func DefaultLimits() Limits {
	return Limits{MaxPatches: 5000, MaxTotalSize: 512 << 20, MaxPatchBytes: 64 << 20, MaxHunkLines: 200000}
}

// withDefaults returns l with its zero or negative fields set to their
// DefaultLimits values.
func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	if l.MaxPatches <= 0 {
		l.MaxPatches = d.MaxPatches
	}
	if l.MaxTotalSize <= 0 {
		l.MaxTotalSize = d.MaxTotalSize
	}
	if l.MaxPatchBytes <= 0 {
		l.MaxPatchBytes = d.MaxPatchBytes
	}
	if l.MaxHunkLines <= 0 {
		l.MaxHunkLines = d.MaxHunkLines
	}
	return l
}

// SeriesEntry is one line of a quilt series file.
type SeriesEntry struct {
	Name  string // patch path relative to the series file's directory
	Strip int    // -pN, default 1
	Line  int    // 1-based line in the series file
}

// ParseSeries parses a quilt series file: one patch per line, optionally
// followed by -pN; blank lines and '#' comments are ignored. name is used in
// errors.
func ParseSeries(name string, r io.Reader) ([]SeriesEntry, error) {
	var out []SeriesEntry
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		if i := strings.Index(line, "#"); i >= 0 {
			line = line[:i]
		}
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		e := SeriesEntry{Name: fields[0], Strip: 1, Line: n}
		if err := CheckPath(path.Clean(e.Name)); err != nil || path.Clean(e.Name) != e.Name {
			return nil, fmt.Errorf("%s:%d: patch name %q must be a relative path inside the queue", name, n, e.Name)
		}
		for _, opt := range fields[1:] {
			switch {
			case strings.HasPrefix(opt, "-p"):
				v, err := strconv.Atoi(opt[2:])
				if err != nil || v < 0 || v > 16 {
					return nil, fmt.Errorf("%s:%d: bad strip option %q", name, n, opt)
				}
				e.Strip = v
			default:
				return nil, fmt.Errorf("%s:%d: unsupported series option %q (only -pN)", name, n, opt)
			}
		}
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return out, nil
}

// Open reads a queue from src: a quilt directory (its series file is
// src/series, src/patches/series or src/debian/patches-rt/series), a
// .tar.xz/.tar.gz/.tgz tarball, or a patch or mbox file. A git range is not
// handled here (see [ParseRange]).
func Open(src string, lim Limits) (*Queue, error) {
	lim = lim.withDefaults()
	st, err := os.Stat(src)
	if err != nil {
		return nil, fmt.Errorf("queue %s: %w", src, err)
	}
	if st.IsDir() {
		return ReadDir(src, lim)
	}
	lower := strings.ToLower(src)
	switch {
	case strings.HasSuffix(lower, ".tar.xz"), strings.HasSuffix(lower, ".txz"),
		strings.HasSuffix(lower, ".tar.gz"), strings.HasSuffix(lower, ".tgz"):
		f, err := os.Open(src)
		if err != nil {
			return nil, fmt.Errorf("queue %s: %w", src, err)
		}
		defer f.Close()
		return ReadTarball(src, f, lim)
	}
	if st.Size() > lim.MaxTotalSize {
		return nil, fmt.Errorf("queue %s: %d bytes, over the %d byte limit", src, st.Size(), lim.MaxTotalSize)
	}
	data, err := os.ReadFile(src)
	if err != nil {
		return nil, fmt.Errorf("queue %s: %w", src, err)
	}
	return ReadMbox(src, data, lim)
}

// ReadDir reads a quilt queue from a directory.
func ReadDir(dir string, lim Limits) (*Queue, error) {
	lim = lim.withDefaults()
	var seriesPath string
	for _, c := range []string{"series", "patches/series", "debian/patches-rt/series"} {
		p := filepath.Join(dir, c)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			seriesPath = p
			break
		}
	}
	if seriesPath == "" {
		return nil, fmt.Errorf("queue %s: no series file (looked for series, patches/series, debian/patches-rt/series)", dir)
	}
	f, err := os.Open(seriesPath)
	if err != nil {
		return nil, fmt.Errorf("queue %s: %w", dir, err)
	}
	entries, err := ParseSeries(seriesPath, f)
	f.Close()
	if err != nil {
		return nil, err
	}
	base := filepath.Dir(seriesPath)
	read := func(name string) ([]byte, error) {
		p := filepath.Join(base, filepath.FromSlash(name))
		st, err := os.Lstat(p)
		if err != nil {
			return nil, err
		}
		if !st.Mode().IsRegular() {
			return nil, errors.New("not a regular file")
		}
		tooBig := fmt.Errorf("over the limit of %d bytes per patch", lim.MaxPatchBytes)
		if st.Size() > lim.MaxPatchBytes {
			return nil, fmt.Errorf("%d bytes, %w", st.Size(), tooBig)
		}
		f, err := os.Open(p)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		// The file may have grown since Lstat; never read more than the limit.
		data, err := io.ReadAll(io.LimitReader(f, lim.MaxPatchBytes+1))
		if err == nil && int64(len(data)) > lim.MaxPatchBytes {
			return nil, tooBig
		}
		return data, err
	}
	return fromSeries(dir, seriesPath, entries, read, lim)
}

func fromSeries(src, seriesName string, entries []SeriesEntry, read func(string) ([]byte, error), lim Limits) (*Queue, error) {
	if len(entries) > lim.MaxPatches {
		return nil, fmt.Errorf("%s: %d patches, over the limit of %d", seriesName, len(entries), lim.MaxPatches)
	}
	q := &Queue{Source: src}
	var total int64
	for i, e := range entries {
		data, err := read(e.Name)
		var p *Patch
		if err != nil {
			p = &Patch{Name: e.Name, Source: e.Name, Strip: e.Strip,
				Err: &PatchError{Source: seriesName, Line: e.Line, Err: fmt.Errorf("patch %s: %w", e.Name, err)}}
		} else {
			total += int64(len(data))
			if total > lim.MaxTotalSize {
				return nil, fmt.Errorf("%s: patches exceed %d bytes", src, lim.MaxTotalSize)
			}
			p = ParseWithLimits(e.Name, data, e.Strip, lim)
			p.Name = e.Name
		}
		p.Index = i + 1
		q.Patches = append(q.Patches, p)
	}
	return q, nil
}

// ReadTarball reads a queue from a tar archive compressed with xz or gzip
// (detected from the data), as kernel.org publishes RT queues:
// patches-X.Y.Z-rtN.tar.xz containing patches/series and the patches. The
// shallowest series file in the archive is used.
func ReadTarball(name string, r io.Reader, lim Limits) (*Queue, error) {
	lim = lim.withDefaults()
	dec, closeDec, err := decompress(name, r)
	if err != nil {
		return nil, err
	}
	defer closeDec()
	files, err := tarMembers(name, dec, lim)
	if err != nil {
		return nil, err
	}
	seriesName := shallowestSeries(files)
	if seriesName == "" {
		return nil, fmt.Errorf("queue %s: no series file in the archive", name)
	}
	entries, err := ParseSeries(name+":"+seriesName, bytes.NewReader(files[seriesName]))
	if err != nil {
		return nil, err
	}
	dir := path.Dir(seriesName)
	read := func(n string) ([]byte, error) {
		full := path.Join(dir, n)
		data, ok := files[full]
		if !ok {
			return nil, fmt.Errorf("not in the archive")
		}
		return data, nil
	}
	q, err := fromSeries(name, name+":"+seriesName, entries, read, lim)
	if err != nil {
		return nil, err
	}
	for _, p := range q.Patches {
		p.Source = name + ":" + path.Join(dir, p.Name)
		if pe, ok := p.Err.(*PatchError); ok && pe.Source == p.Name {
			pe.Source = p.Source
		}
	}
	return q, nil
}

// decompress returns the tar stream of r, compressed with xz or gzip
// (detected from the data) or not at all, and what closes its decompressor.
func decompress(name string, r io.Reader) (io.Reader, func(), error) {
	br := bufio.NewReader(r)
	magic, _ := br.Peek(6)
	switch {
	case bytes.HasPrefix(magic, []byte{0xfd, '7', 'z', 'X', 'Z', 0}):
		x, err := xz.NewReader(br)
		if err != nil {
			return nil, nil, fmt.Errorf("queue %s: xz: %w", name, err)
		}
		return x, func() {}, nil
	case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
		g, err := gzip.NewReader(br)
		if err != nil {
			return nil, nil, fmt.Errorf("queue %s: gzip: %w", name, err)
		}
		return g, func() { g.Close() }, nil
	default:
		return br, func() {}, nil // an uncompressed tar
	}
}

// tarMembers reads the regular files of the tar stream dec by their clean
// paths, refusing a member that escapes the archive and members larger
// than lim.MaxTotalSize together.
func tarMembers(name string, dec io.Reader, lim Limits) (map[string][]byte, error) {
	tr := tar.NewReader(io.LimitReader(dec, lim.MaxTotalSize+1<<20))
	files := map[string][]byte{}
	var total int64
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("queue %s: tar: %w", name, err)
		}
		if h.Typeflag != tar.TypeReg {
			continue // directories, and links that could point anywhere
		}
		clean := path.Clean(strings.TrimPrefix(h.Name, "./"))
		if CheckPath(clean) != nil {
			return nil, fmt.Errorf("queue %s: member %q escapes the archive", name, h.Name)
		}
		total += h.Size
		if total > lim.MaxTotalSize {
			return nil, fmt.Errorf("queue %s: members exceed %d bytes", name, lim.MaxTotalSize)
		}
		data, err := io.ReadAll(io.LimitReader(tr, h.Size))
		if err != nil {
			return nil, fmt.Errorf("queue %s: member %s: %w", name, h.Name, err)
		}
		files[clean] = data
	}
	return files, nil
}

// shallowestSeries returns the series file of files nearest the archive's
// root (the first by name among equals), or "" when there is none.
func shallowestSeries(files map[string][]byte) string {
	seriesName := ""
	for n := range files {
		if path.Base(n) == "series" && (seriesName == "" || strings.Count(n, "/") < strings.Count(seriesName, "/") ||
			strings.Count(n, "/") == strings.Count(seriesName, "/") && n < seriesName) {
			seriesName = n
		}
	}
	return seriesName
}

// ReadMbox reads one patch, or several separated by mbox "From " lines as
// git format-patch --stdout writes them. Lines starting with ">From " are
// unescaped (mboxrd).
func ReadMbox(name string, data []byte, lim Limits) (*Queue, error) {
	lim = lim.withDefaults()
	q := &Queue{Source: name}
	starts := []int{}
	off := 0
	for off < len(data) {
		end := bytes.IndexByte(data[off:], '\n')
		line := data[off:]
		if end >= 0 {
			line = data[off : off+end]
		}
		if mboxFrom.Match(line) {
			starts = append(starts, off)
		}
		if end < 0 {
			break
		}
		off += end + 1
	}
	if len(starts) <= 1 {
		p := ParseWithLimits(name, data, 1, lim)
		p.Index = 1
		q.Patches = []*Patch{p}
		return q, nil
	}
	if starts[0] != 0 && len(bytes.TrimSpace(data[:starts[0]])) > 0 {
		return nil, fmt.Errorf("queue %s: text before the first \"From \" line", name)
	}
	if len(starts) > lim.MaxPatches {
		return nil, fmt.Errorf("queue %s: %d patches, over the limit of %d", name, len(starts), lim.MaxPatches)
	}
	startLine := 1 + bytes.Count(data[:starts[0]], []byte("\n"))
	for i, s := range starts {
		e := len(data)
		if i+1 < len(starts) {
			e = starts[i+1]
		}
		chunk := bytes.ReplaceAll(data[s:e], []byte("\n>From "), []byte("\nFrom "))
		src := fmt.Sprintf("%s@%d", name, startLine)
		p := ParseWithLimits(src, chunk, 1, lim)
		if p.Err != nil {
			// Rebase error lines onto the mbox file.
			var pe *PatchError
			if errors.As(p.Err, &pe) && pe.Line > 0 {
				pe.Source, pe.Line = name, pe.Line+startLine-1
			}
		}
		p.Index = i + 1
		p.Name = fmt.Sprintf("%04d", i+1)
		if p.Subject != "" {
			p.Name = fmt.Sprintf("%04d-%s", i+1, slug(p.Subject))
		}
		q.Patches = append(q.Patches, p)
		startLine += bytes.Count(data[s:e], []byte("\n"))
	}
	return q, nil
}

// slug turns a subject into a file-name-safe word list, like format-patch.
func slug(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range s {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '.' {
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			b.WriteRune(r)
			dash = false
		} else {
			dash = true
		}
		if b.Len() >= 52 {
			break
		}
	}
	return strings.Trim(b.String(), ".-")
}
