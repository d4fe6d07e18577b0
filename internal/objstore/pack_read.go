package objstore

import (
	"bytes"
	"container/list"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/storage/filesystem"
	"github.com/klauspost/compress/zlib"
)

// packReader reads objects straight from a repository's packs
// (objects/pack/*.idx and *.pack, index version 2), for the objects a
// rebase reads most: blobs and trees. go-git decodes a whole pack index
// into memory before its first lookup (87k entries for a kernel tree, once
// per store) and inflates into growing buffers; this reader maps the files,
// finds an object by binary search in the raw index, inflates into a buffer
// of the size the entry header gives and keeps recently resolved delta
// bases, which the versions of one file in a delta chain share.
//
// It is safe for concurrent use: the store and the prefetcher share one.
// Objects it cannot read (loose ones, those in packs written since it was
// opened or refreshed, or in a pack with a version 1 index, a REF_DELTA
// base outside the packs, huge objects) are errors, and its callers then
// read through go-git as before. Files are mapped, not read: a lookup
// touches a few pages of the index, and a pack that git gc deletes
// meanwhile stays readable until Close.
type packReader struct {
	// mu is held for reading during every read and for writing by Close,
	// which unmaps the files: no read ever sees them unmapped.
	mu     sync.RWMutex
	closed bool
	// dirs are the objects/pack directories read: the repository's, then
	// those of its alternates (objects/info/alternates), as git reads them.
	dirs  []string
	packs []*packFile
	// complete is set when every pack in dir was opened: an object
	// in none of packs is then in no pack go-git would read either.
	complete bool
	bases    baseCache
	zpool    sync.Pool // *inflater
	// mapIndexBelow is the size under which an index is mapped.
	mapIndexBelow int64
}

// packFile is one pack, mapped, and its index, read with pread when it
// is large.
//
// A large index is not mapped: a lookup's probes would fault in 64 KiB of
// it around each page they touch (the kernel's fault-around, which
// MADV_RANDOM does not stop when the index is in the page cache), so the
// resident index grew with the repository: 22 of 28 MB at 1M objects,
// ~150 MB at 10M. Read with pread, a lookup costs two system calls and
// leaves nothing of the index in the process. A small index (the packs
// each run adds) is mapped: it costs no open file and no system call to
// look past, and all of it is little.
type packFile struct {
	path    string   // the .pack file, for errors
	idx     *os.File // the .idx file, when it is read with pread
	idxMap  []byte   // the whole .idx file, when it is mapped
	idxSize int64
	fan     [256]uint32
	pack    []byte // the whole .pack file
	n       int    // objects
	// Where the tables start in idx, and the entries of the 64-bit
	// offset table.
	names, offs32, offs64, n64 int
}

var (
	// errNotPacked says that an object is in none of the reader's packs.
	errNotPacked = errors.New("object not in the packs")
	// errPackUnsupported says that the reader does not read this object
	// (it is too large, or its delta base is outside the packs).
	errPackUnsupported = errors.New("object not readable from the packs")
	errReaderClosed    = errors.New("pack reader closed")
)

const (
	// maxPackedObject is the largest object the reader inflates; go-git
	// reads larger ones.
	maxPackedObject = 512 << 20
	// maxDeltaChain bounds a delta chain (git's own limit is 4095), which
	// also stops REF_DELTA cycles in a corrupt pack.
	maxDeltaChain = 10000
	// maxBaseCache bounds the delta-base cache in bytes.
	maxBaseCache = 64 << 20
)

// Object types in a pack entry header.
const (
	packOFSDelta = 6
	packREFDelta = 7
)

// openPackReader maps every usable pack in dir (a repository's
// objects/pack) and in the pack directories of the repository's
// alternates. A pack it cannot use is left out: go-git reads its objects.
func openPackReader(dir string) (*packReader, error) {
	return openPackReaderMapping(dir, mapIndexBelow)
}

// openPackReaderMapping is openPackReader with the size under which an
// index is mapped.
func openPackReaderMapping(dir string, mapBelow int64) (*packReader, error) {
	dirs, err := alternatePackDirs(filepath.Dir(dir), 0, nil)
	if err != nil {
		return nil, err
	}
	r := &packReader{dirs: append([]string{dir}, dirs...), mapIndexBelow: mapBelow}
	r.bases.init(maxBaseCache)
	if err := r.addPacks(); err != nil {
		return nil, err
	}
	return r, nil
}

// maxAlternateDepth bounds a chain of alternates, as git's own limit does.
const maxAlternateDepth = 5

// alternatePackDirs returns the objects/pack directories of the object
// directories objects/info/alternates in objectsDir names (one per line,
// absolute or relative to objectsDir, "#" comments), and of theirs in
// turn, each once. seen holds the object directories already listed.
func alternatePackDirs(objectsDir string, depth int, seen map[string]bool) ([]string, error) {
	data, err := os.ReadFile(filepath.Join(objectsDir, "info", "alternates"))
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if depth >= maxAlternateDepth {
		return nil, fmt.Errorf("%s: alternates nested deeper than %d", objectsDir, maxAlternateDepth)
	}
	if seen == nil {
		seen = map[string]bool{filepath.Clean(objectsDir): true}
	}
	var dirs []string
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if !filepath.IsAbs(line) {
			line = filepath.Join(objectsDir, line)
		}
		line = filepath.Clean(line)
		if seen[line] {
			continue
		}
		seen[line] = true
		dirs = append(dirs, filepath.Join(line, "pack"))
		more, err := alternatePackDirs(line, depth+1, seen)
		if err != nil {
			return nil, err
		}
		dirs = append(dirs, more...)
	}
	return dirs, nil
}

// addPacks opens the packs of r.dirs not open yet (all, the first time),
// as go-git lists them: pack-*.pack files, each with its .idx.
func (r *packReader) addPacks() error {
	open := map[string]bool{}
	for _, p := range r.packs {
		open[p.path] = true
	}
	r.complete = true
	for _, dir := range r.dirs {
		ents, err := os.ReadDir(dir)
		if err != nil && !os.IsNotExist(err) {
			return err
		}
		for _, e := range ents {
			n := e.Name()
			if !strings.HasPrefix(n, "pack-") || !strings.HasSuffix(n, ".pack") {
				continue
			}
			path := filepath.Join(dir, n)
			if open[path] {
				continue
			}
			p, err := openPackFile(strings.TrimSuffix(path, ".pack")+".idx", path, r.mapIndexBelow)
			if err != nil {
				r.complete = false
				continue
			}
			r.packs = append(r.packs, p)
		}
	}
	return nil
}

// refresh opens the packs written since the reader was opened.
func (r *packReader) refresh() {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.closed {
		_ = r.addPacks()
	}
}

// mapIndexBelow is the size under which a pack index is mapped rather
// than read with pread: 1 MiB, an index of ~37k objects.
const mapIndexBelow = 1 << 20

func openPackFile(idxPath, packPath string, mapBelow int64) (*packFile, error) {
	p := &packFile{path: packPath}
	idx, err := os.Open(idxPath)
	if err != nil {
		return nil, err
	}
	st, err := idx.Stat()
	if err != nil {
		idx.Close()
		return nil, err
	}
	p.idx, p.idxSize = idx, st.Size()
	if p.idxSize < mapBelow {
		idx.Close()
		p.idx = nil
		if p.idxMap, err = mapFile(idxPath); err != nil {
			return nil, err
		}
		p.idxSize = int64(len(p.idxMap))
	}
	if p.pack, err = mapFile(packPath); err != nil {
		p.unmap()
		return nil, err
	}
	if err := p.check(); err != nil {
		p.unmap()
		return nil, err
	}
	return p, nil
}

// mapFile maps a whole file read-only.
func mapFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	size := st.Size()
	if size <= 0 || int64(int(size)) != size {
		return nil, fmt.Errorf("%s: cannot map %d bytes", path, size)
	}
	b, err := syscall.Mmap(int(f.Fd()), 0, int(size), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return b, nil
}

func unmap(b []byte) {
	if b != nil {
		_ = syscall.Munmap(b)
	}
}

func (p *packFile) unmap() {
	if p.idx != nil {
		p.idx.Close()
	}
	unmap(p.idxMap)
	unmap(p.pack)
	p.idx, p.idxMap, p.pack = nil, nil, nil
}

// readIdx reads len(b) bytes of the index at off; a short read is an
// error (the index was checked to be this long when opened).
func (p *packFile) readIdx(b []byte, off int) error {
	if p.idxMap != nil {
		if off < 0 || off+len(b) > len(p.idxMap) {
			return fmt.Errorf("%s: reading the pack index: %w", p.path, io.ErrUnexpectedEOF)
		}
		copy(b, p.idxMap[off:])
		return nil
	}
	if _, err := p.idx.ReadAt(b, int64(off)); err != nil {
		return fmt.Errorf("%s: reading the pack index: %w", p.path, err)
	}
	return nil
}

// check validates the index's layout (version 2 only), its fan-out table
// and the pack header, so that lookups need no further size checks.
func (p *packFile) check() error {
	bad := func(what string) error { return fmt.Errorf("%s: %s", p.path, what) }
	size := p.idxSize
	var head [8 + 256*4]byte
	var trailer [40]byte
	if size < int64(len(head)+len(trailer)) || p.readIdx(head[:], 0) != nil || p.readIdx(trailer[:], int(size)-len(trailer)) != nil ||
		!bytes.Equal(head[:8], []byte{0xff, 't', 'O', 'c', 0, 0, 0, 2}) {
		return bad("not a version 2 pack index")
	}
	prev := uint32(0)
	for i := 0; i < 256; i++ {
		v := binary.BigEndian.Uint32(head[8+4*i:])
		if v < prev {
			return bad("pack index fan-out table is not sorted")
		}
		p.fan[i], prev = v, v
	}
	n := int64(prev)
	rest := size - (8 + 256*4 + 40) - n*28
	if rest < 0 || rest%8 != 0 {
		return bad("pack index size does not match its object count")
	}
	p.n = int(n)
	p.names = 8 + 256*4
	p.offs32 = p.names + p.n*24 // after the names and the CRCs
	p.offs64 = p.offs32 + p.n*4
	p.n64 = int(rest / 8)
	pk := p.pack
	if len(pk) < 12+20 || string(pk[:4]) != "PACK" {
		return bad("not a pack")
	}
	if v := binary.BigEndian.Uint32(pk[4:]); v != 2 && v != 3 {
		return bad("unsupported pack version")
	}
	if int64(binary.BigEndian.Uint32(pk[8:])) != n {
		return bad("pack and index disagree on the object count")
	}
	if !bytes.Equal(pk[len(pk)-20:], trailer[:20]) {
		return bad("pack and index checksums differ")
	}
	return nil
}

// findWindow is how many names of the index a lookup reads at once
// (10 KiB): SHA-1s are uniform, so the name sought is within a few
// hundred entries of where interpolation puts it (the standard deviation
// is half the square root of the fan-out bucket's size, ~100 entries at
// 10M objects), and one read finds it nearly always.
const findWindow = 512

// find returns the offset of h in the pack, or ok false: interpolation in
// h's fan-out bucket, one read of the names around the guess, and
// bisection by windows in the rare case that h is outside it.
func (p *packFile) find(h plumbing.Hash) (off int64, ok bool, err error) {
	lo := 0
	if h[0] > 0 {
		lo = int(p.fan[h[0]-1])
	}
	hi := int(p.fan[h[0]])
	// h's place in the bucket, from its next 8 bytes.
	frac := float64(binary.BigEndian.Uint64(h[1:9])) / (1 << 64)
	guess := lo + int(frac*float64(hi-lo))
	var buf [findWindow * 20]byte
	for lo < hi {
		a := max(lo, min(guess-findWindow/2, hi-findWindow))
		b := min(hi, a+findWindow)
		names := buf[:20*(b-a)]
		if err := p.readIdx(names, p.names+20*a); err != nil {
			return 0, false, err
		}
		j := sort.Search(b-a, func(k int) bool { return bytes.Compare(names[20*k:20*k+20], h[:]) >= 0 })
		switch {
		case j < b-a && bytes.Equal(names[20*j:20*j+20], h[:]):
			off, err := p.offset(a + j)
			return off, err == nil, err
		case j > 0 && j < b-a:
			return 0, false, nil // between two neighbours
		case j == 0:
			hi = a
		default:
			lo = b
		}
		guess = int(uint(lo+hi) >> 1)
	}
	return 0, false, nil
}

// withPrefix appends to out the names of the pack that start with prefix
// (at least one byte): a bisection for the first, then the names after it.
func (p *packFile) withPrefix(prefix []byte, out []plumbing.Hash) ([]plumbing.Hash, error) {
	lo := 0
	if prefix[0] > 0 {
		lo = int(p.fan[prefix[0]-1])
	}
	hi := int(p.fan[prefix[0]])
	var h plumbing.Hash
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if err := p.readIdx(h[:], p.names+20*m); err != nil {
			return out, err
		}
		if bytes.Compare(h[:], prefix) < 0 {
			lo = m + 1
		} else {
			hi = m
		}
	}
	for i := lo; i < p.n; i++ {
		if err := p.readIdx(h[:], p.names+20*i); err != nil {
			return out, err
		}
		if !bytes.HasPrefix(h[:], prefix) {
			break
		}
		out = append(out, h)
	}
	return out, nil
}

// offset returns the pack offset of the i-th object of the index.
func (p *packFile) offset(i int) (int64, error) {
	var b [8]byte
	if err := p.readIdx(b[:4], p.offs32+4*i); err != nil {
		return 0, err
	}
	o := binary.BigEndian.Uint32(b[:4])
	off := int64(o)
	if o&0x80000000 != 0 {
		j := int(o & 0x7fffffff)
		if j >= p.n64 {
			return 0, fmt.Errorf("%s: corrupt pack index: bad 64-bit offset entry", p.path)
		}
		if err := p.readIdx(b[:], p.offs64+8*j); err != nil {
			return 0, err
		}
		u := binary.BigEndian.Uint64(b[:])
		if u > uint64(len(p.pack)) {
			return 0, fmt.Errorf("%s: corrupt pack index: offset %d out of the pack", p.path, u)
		}
		off = int64(u)
	}
	if off < 12 || off >= int64(len(p.pack))-20 {
		return 0, fmt.Errorf("%s: corrupt pack index: offset %d out of the pack", p.path, off)
	}
	return off, nil
}

// entryHdr is a pack entry's header.
type entryHdr struct {
	typ  byte  // 1-4 (commit, tree, blob, tag), packOFSDelta or packREFDelta
	size int64 // of the object, or of the delta
	data int64 // where the zlib stream starts
	base int64 // packOFSDelta: the base's offset
	ref  plumbing.Hash
}

// header parses the entry header at off.
func (p *packFile) header(off int64) (entryHdr, error) {
	end := int64(len(p.pack)) - 20 // the trailing checksum
	bad := func(what string) (entryHdr, error) {
		return entryHdr{}, fmt.Errorf("%s: corrupt pack entry at %d: %s", p.path, off, what)
	}
	if off < 12 || off >= end {
		return bad("offset out of the pack")
	}
	pos := off
	c := p.pack[pos]
	pos++
	e := entryHdr{typ: (c >> 4) & 7, size: int64(c & 0x0f)}
	for shift := uint(4); c&0x80 != 0; shift += 7 {
		if pos >= end || shift > 56 {
			return bad("bad size")
		}
		c = p.pack[pos]
		pos++
		e.size |= int64(c&0x7f) << shift
	}
	switch e.typ {
	case 1, 2, 3, 4:
	case packOFSDelta:
		if pos >= end {
			return bad("truncated")
		}
		c = p.pack[pos]
		pos++
		rel := int64(c & 0x7f)
		for c&0x80 != 0 {
			if pos >= end || rel >= 1<<55 {
				return bad("bad delta base offset")
			}
			c = p.pack[pos]
			pos++
			rel = (rel+1)<<7 | int64(c&0x7f)
		}
		if rel <= 0 || rel > off-12 {
			return bad("delta base offset out of the pack")
		}
		e.base = off - rel
	case packREFDelta:
		if pos+20 > end {
			return bad("truncated")
		}
		copy(e.ref[:], p.pack[pos:pos+20])
		pos += 20
	default:
		return bad(fmt.Sprintf("unknown type %d", e.typ))
	}
	if pos >= end {
		return bad("truncated")
	}
	e.data = pos
	return e, nil
}

// inflater is a zlib reader and its source, reused through a pool.
type inflater struct {
	src bytes.Reader
	z   io.ReadCloser
}

// inflate decompresses the zlib stream at e.data, which must be exactly
// e.size bytes long, into a new buffer.
func (r *packReader) inflate(p *packFile, e entryHdr) ([]byte, error) {
	avail := int64(len(p.pack)) - 20 - e.data
	if e.size > maxPackedObject {
		return nil, errPackUnsupported
	}
	// zlib cannot expand more than about 1032 to 1.
	if e.size > avail*1032+64 {
		return nil, fmt.Errorf("%s: corrupt pack entry at %d: size %d beyond its data", p.path, e.data, e.size)
	}
	in, _ := r.zpool.Get().(*inflater)
	if in == nil {
		in = &inflater{}
	}
	in.src.Reset(p.pack[e.data : int64(len(p.pack))-20])
	var err error
	if in.z == nil {
		in.z, err = zlib.NewReader(&in.src)
	} else {
		err = in.z.(zlib.Resetter).Reset(&in.src, nil)
	}
	if err != nil {
		// A reader that failed to reset is not reused.
		return nil, fmt.Errorf("%s: entry data at %d: %w", p.path, e.data, err)
	}
	buf := make([]byte, e.size)
	_, err = io.ReadFull(in.z, buf)
	if err == nil {
		// Read to the end of the stream, which checks its checksum.
		var one [1]byte
		var n int
		n, err = io.ReadFull(in.z, one[:])
		switch {
		case err == io.EOF:
			err = nil
		case err == nil && n > 0:
			err = errors.New("more data than the entry header says")
		}
	} else if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		return nil, fmt.Errorf("%s: entry data at %d: %w", p.path, e.data, err)
	}
	r.zpool.Put(in)
	return buf, nil
}

// has reports whether h is in one of the packs. absent is set when it
// is certainly in none of the repository's packs: not found, and every
// pack was opened.
func (r *packReader) has(h plumbing.Hash) (found, absent bool) {
	if r == nil {
		return false, false
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.closed {
		return false, false
	}
	_, _, err := r.find(h)
	return err == nil, errors.Is(err, errNotPacked) && r.complete
}

// hashesWithPrefix returns the ids in the packs that start with prefix
// (1 to 20 bytes), each once; ok is false when the reader cannot answer
// for every pack of the repository (not all opened, or closed).
func (r *packReader) hashesWithPrefix(prefix []byte) (hs []plumbing.Hash, ok bool, err error) {
	if r == nil || len(prefix) == 0 || len(prefix) > len(plumbing.ZeroHash) {
		return nil, false, nil
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.closed || !r.complete {
		return nil, false, nil
	}
	for _, p := range r.packs {
		if hs, err = p.withPrefix(prefix, hs); err != nil {
			return nil, false, err
		}
	}
	slices.SortFunc(hs, func(a, b plumbing.Hash) int { return bytes.Compare(a[:], b[:]) })
	return slices.Compact(hs), true, nil
}

// objectDirs returns the object directories whose packs the reader reads:
// the repository's and its alternates'.
func (r *packReader) objectDirs() []string {
	dirs := make([]string, len(r.dirs))
	for i, d := range r.dirs {
		dirs[i] = filepath.Dir(d)
	}
	return dirs
}

// find returns the pack and offset of h; errNotPacked when it is in none.
func (r *packReader) find(h plumbing.Hash) (*packFile, int64, error) {
	for _, p := range r.packs {
		off, ok, err := p.find(h)
		if err != nil {
			return nil, 0, err
		}
		if ok {
			return p, off, nil
		}
	}
	return nil, 0, errNotPacked
}

// read returns the type and content of object h. The content may be
// shared with other callers and must not be modified. The error is
// errNotPacked when h is in none of the packs.
func (r *packReader) read(h plumbing.Hash) (plumbing.ObjectType, []byte, error) {
	if r == nil {
		return plumbing.InvalidObject, nil, errNotPacked
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.closed {
		return plumbing.InvalidObject, nil, errReaderClosed
	}
	p, off, err := r.find(h)
	if err != nil {
		return plumbing.InvalidObject, nil, err
	}
	typ, data, err := r.readAt(p, off)
	if err != nil {
		return plumbing.InvalidObject, nil, fmt.Errorf("object %s: %w", h, err)
	}
	return typ, data, nil
}

// readAt reads the object at off, resolving its delta chain: down the
// chain to an undeltified entry or a cached base, then each delta applied
// on the way back up, every intermediate result cached.
func (r *packReader) readAt(p *packFile, off int64) (plumbing.ObjectType, []byte, error) {
	type link struct {
		p *packFile
		e entryHdr
		k baseKey
	}
	var chainBuf [16]link
	chain := chainBuf[:0]
	var typ plumbing.ObjectType
	var data []byte
	for {
		k := baseKey{p, off}
		if c, ok := r.bases.get(k); ok {
			typ, data = c.typ, c.data
			break
		}
		e, err := p.header(off)
		if err != nil {
			return plumbing.InvalidObject, nil, err
		}
		if e.typ != packOFSDelta && e.typ != packREFDelta {
			if data, err = r.inflate(p, e); err != nil {
				return plumbing.InvalidObject, nil, err
			}
			typ = plumbing.ObjectType(e.typ)
			r.bases.put(k, typ, data)
			break
		}
		if len(chain) >= maxDeltaChain {
			return plumbing.InvalidObject, nil, fmt.Errorf("%s: delta chain at %d longer than %d", p.path, off, maxDeltaChain)
		}
		chain = append(chain, link{p, e, k})
		if e.typ == packOFSDelta {
			off = e.base
			continue
		}
		bp, boff, err := r.find(e.ref)
		if errors.Is(err, errNotPacked) {
			return plumbing.InvalidObject, nil, errPackUnsupported
		}
		if err != nil {
			return plumbing.InvalidObject, nil, err
		}
		p, off = bp, boff
	}
	for i := len(chain) - 1; i >= 0; i-- {
		l := chain[i]
		delta, err := r.inflate(l.p, l.e)
		if err != nil {
			return plumbing.InvalidObject, nil, err
		}
		if data, err = applyDelta(data, delta); err != nil {
			return plumbing.InvalidObject, nil, fmt.Errorf("%s: delta at %d: %w", l.p.path, l.k.off, err)
		}
		r.bases.put(l.k, typ, data)
	}
	return typ, data, nil
}

// Close unmaps the packs once no read is in progress; later reads fail.
func (r *packReader) Close() error {
	if r == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil
	}
	r.closed = true
	for _, p := range r.packs {
		p.unmap()
	}
	r.packs, r.complete = nil, false
	r.bases.init(maxBaseCache)
	return nil
}

var errBadDelta = errors.New("invalid delta")

// applyDelta applies a git delta to base into a new buffer of the target
// size the delta declares.
func applyDelta(base, delta []byte) ([]byte, error) {
	if len(delta) < 4 {
		// git's DELTA_SIZE_MIN: patch_delta refuses anything shorter.
		return nil, fmt.Errorf("%w: %d bytes, shorter than any delta git writes", errBadDelta, len(delta))
	}
	srcSize, delta, ok := deltaSize(delta)
	if !ok || srcSize != uint64(len(base)) {
		return nil, fmt.Errorf("%w: base size", errBadDelta)
	}
	dstSize, delta, ok := deltaSize(delta)
	if !ok || dstSize > maxPackedObject {
		return nil, fmt.Errorf("%w: target size", errBadDelta)
	}
	out := make([]byte, dstSize)
	w := 0
	for len(delta) > 0 {
		cmd := delta[0]
		delta = delta[1:]
		switch {
		case cmd&0x80 != 0: // copy from the base
			var off, n uint64
			for i := uint(0); i < 4; i++ {
				if cmd&(1<<i) != 0 {
					if len(delta) == 0 {
						return nil, errBadDelta
					}
					off |= uint64(delta[0]) << (8 * i)
					delta = delta[1:]
				}
			}
			for i := uint(0); i < 3; i++ {
				if cmd&(0x10<<i) != 0 {
					if len(delta) == 0 {
						return nil, errBadDelta
					}
					n |= uint64(delta[0]) << (8 * i)
					delta = delta[1:]
				}
			}
			if n == 0 {
				n = 0x10000
			}
			if off+n > uint64(len(base)) || n > uint64(len(out)-w) {
				return nil, fmt.Errorf("%w: copy out of range", errBadDelta)
			}
			w += copy(out[w:], base[off:off+n])
		case cmd != 0: // insert the next cmd bytes
			n := int(cmd)
			if n > len(delta) || n > len(out)-w {
				return nil, fmt.Errorf("%w: insert out of range", errBadDelta)
			}
			w += copy(out[w:], delta[:n])
			delta = delta[n:]
		default:
			return nil, fmt.Errorf("%w: reserved command 0", errBadDelta)
		}
	}
	if w != len(out) {
		return nil, fmt.Errorf("%w: %d bytes short of the target size", errBadDelta, len(out)-w)
	}
	return out, nil
}

// deltaSize decodes one of the two sizes at the start of a delta.
//
// Like git's get_delta_hdr_size (and go-git), a size cut short by the end
// of the delta is what its bytes so far say (0 for none): such a delta can
// only be empty from there on, and is then valid.
func deltaSize(b []byte) (uint64, []byte, bool) {
	var v uint64
	for i, shift := 0, uint(0); i < len(b); i, shift = i+1, shift+7 {
		if shift > 57 { // would overflow 64 bits, as go-git refuses too
			return 0, nil, false
		}
		v |= uint64(b[i]&0x7f) << shift
		if b[i]&0x80 == 0 {
			return v, b[i+1:], true
		}
	}
	return v, nil, true
}

// baseKey is an entry of one pack.
type baseKey struct {
	p   *packFile
	off int64
}

type cachedObject struct {
	k    baseKey
	typ  plumbing.ObjectType
	data []byte
}

// baseCache keeps the most recently resolved objects, up to max bytes:
// the bases of the next delta chains.
type baseCache struct {
	mu    sync.Mutex
	max   int64
	bytes int64
	m     map[baseKey]*list.Element
	lru   list.List
}

func (c *baseCache) init(max int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.max, c.bytes = max, 0
	c.m = map[baseKey]*list.Element{}
	c.lru.Init()
}

func (c *baseCache) get(k baseKey) (*cachedObject, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.m[k]
	if !ok {
		return nil, false
	}
	c.lru.MoveToFront(el)
	return el.Value.(*cachedObject), true
}

func (c *baseCache) put(k baseKey, typ plumbing.ObjectType, data []byte) {
	n := int64(len(data))
	if n > c.max/8 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[k]; ok {
		return
	}
	for c.bytes+n > c.max {
		last := c.lru.Back()
		old := c.lru.Remove(last).(*cachedObject)
		delete(c.m, old.k)
		c.bytes -= int64(len(old.data))
	}
	c.m[k] = c.lru.PushFront(&cachedObject{k, typ, data})
	c.bytes += n
}

// rawObject is an object read by a packReader, as a go-git object for
// decoders such as object.Tree.Decode; it is read-only.
type rawObject struct {
	hash plumbing.Hash
	typ  plumbing.ObjectType
	data []byte
}

func (o *rawObject) Hash() plumbing.Hash             { return o.hash }
func (o *rawObject) Type() plumbing.ObjectType       { return o.typ }
func (o *rawObject) SetType(plumbing.ObjectType)     {}
func (o *rawObject) Size() int64                     { return int64(len(o.data)) }
func (o *rawObject) SetSize(int64)                   {}
func (o *rawObject) Writer() (io.WriteCloser, error) { return nil, errors.New("object is read-only") }
func (o *rawObject) Reader() (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(o.data)), nil
}

// packedStorage is the store's go-git store with a packReader in front:
// commits, tags, trees and blobs that are packed are read without go-git,
// which then never loads its copy of the pack indexes on a packed
// repository. Everything else is go-git's.
type packedStorage struct {
	*filesystem.Storage
	packs *packReader
}

// EncodedObject reads h from the packs, or through go-git, which also
// gives the errors (a missing object, an unreadable one). A packed object
// of another type than t is not found, as go-git answers, without asking
// go-git: go-git would load every pack index to say so (resolving an
// annotated tag asks for a commit first; ~280 MiB at 10M objects).
func (s *packedStorage) EncodedObject(t plumbing.ObjectType, h plumbing.Hash) (plumbing.EncodedObject, error) {
	if typ, data, err := s.packs.read(h); err == nil {
		if t != plumbing.AnyObject && t != typ {
			return nil, plumbing.ErrObjectNotFound
		}
		return &rawObject{hash: h, typ: typ, data: data}, nil
	}
	return s.Storage.EncodedObject(t, h)
}

// HasEncodedObject answers as go-git does (a loose object, or one in a
// pack of the repository as it was when the store first looked), without
// loading go-git's pack indexes when the pack reader knows the answer.
func (s *packedStorage) HasEncodedObject(h plumbing.Hash) error {
	found, absent := s.packs.has(h)
	if found {
		return nil
	}
	if absent {
		_, err := s.LooseObjectTime(h)
		if err == nil {
			return nil
		}
		if os.IsNotExist(err) {
			return plumbing.ErrObjectNotFound
		}
	}
	return s.Storage.HasEncodedObject(h)
}

// HashesWithPrefix returns the ids of the repository's objects (packed or
// loose, its own or its alternates') that start with prefix. go-git's
// decodes every pack index and compares each of its entries (at 10M objects
// ~1 GB of memory and seconds of CPU for each abbreviated id a patch's
// "index" line gives); here a bisection in each index finds them, and a
// listing of one loose-object directory per object directory.
func (s *packedStorage) HashesWithPrefix(prefix []byte) ([]plumbing.Hash, error) {
	hs, ok, err := s.packs.hashesWithPrefix(prefix)
	if err != nil || !ok {
		return s.Storage.HashesWithPrefix(prefix)
	}
	fan := hex.EncodeToString(prefix[:1])
	for _, dir := range s.packs.objectDirs() {
		ents, err := os.ReadDir(filepath.Join(dir, fan))
		if err != nil && !os.IsNotExist(err) {
			return nil, err
		}
		for _, e := range ents {
			var h plumbing.Hash
			if len(e.Name()) != 38 {
				continue // not a loose object
			}
			if _, err := hex.Decode(h[:], []byte(fan+e.Name())); err != nil {
				continue
			}
			if bytes.HasPrefix(h[:], prefix) && !slices.Contains(hs, h) {
				hs = append(hs, h)
			}
		}
	}
	return hs, nil
}

// Reindex makes packs written since the store was opened visible, to
// go-git and to the pack reader.
func (s *packedStorage) Reindex() {
	s.Storage.Reindex()
	s.packs.refresh()
}
