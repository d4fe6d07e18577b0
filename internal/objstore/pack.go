package objstore

import (
	"bytes"
	"crypto/sha1"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"unsafe"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/format/idxfile"
	"github.com/klauspost/compress/zlib"

	"github.com/rtbot/rtbot/internal/atomicfile"
)

// writePack writes objs as one pack and its index into packDir
// (objects/pack of a repository): undeltified entries compressed at zlib's
// fastest level on every core (klauspost/compress: twice the speed of the
// standard library's BestSpeed on kernel sources, for slightly smaller
// streams; compressing was most of the CPU of a first run), then pack-<sha>.pack and pack-<sha>.idx,
// each written to a temporary file and renamed, index last, so a reader
// never sees a pack without its index. The objects are what one rebase
// produced; git gc may delta them later.
func writePack(packDir string, objs []plumbing.EncodedObject) error {
	entries := compressEntries(objs)
	if err := os.MkdirAll(packDir, 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(packDir, "tmp_pack_")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	checksum, idx, err := writePackFile(tmp, objs, entries)
	if err != nil {
		return err
	}
	index, err := encodeIndex(idx, checksum)
	if err != nil {
		return err
	}
	base := filepath.Join(packDir, "pack-"+checksum.String())
	if err := os.Chmod(tmp.Name(), 0o444); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), base+".pack"); err != nil {
		return err
	}
	if err := writeReadOnly(packDir, "tmp_idx_", base+".idx", index); err != nil {
		return err
	}
	return atomicfile.SyncDir(packDir)
}

// packedEntry is one object's pack entry: its header and zlib stream.
type packedEntry struct {
	data []byte // header + zlib stream
	crc  uint32
	err  error
}

// compressEntries encodes the pack entries of objs on every core.
func compressEntries(objs []plumbing.EncodedObject) []packedEntry {
	entries := make([]packedEntry, len(objs))
	var wg sync.WaitGroup
	next := make(chan int)
	for w := 0; w < runtime.GOMAXPROCS(0); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// One zlib writer per worker, reset for each object: a new
			// writer allocates about 1 MB.
			zw, _ := zlib.NewWriterLevel(io.Discard, zlib.BestSpeed)
			for i := range next {
				data, err := packEntry(zw, objs[i])
				entries[i] = packedEntry{data: data, crc: crc32.ChecksumIEEE(data), err: err}
			}
		}()
	}
	for i := range objs {
		next <- i
	}
	close(next)
	wg.Wait()
	return entries
}

// writePackFile writes the pack of objs, whose entries are given, to f,
// syncs and closes it, and returns the pack's checksum and its index so
// far.
func writePackFile(f *os.File, objs []plumbing.EncodedObject, entries []packedEntry) (plumbing.Hash, *idxfile.Writer, error) {
	checksum, idx, err := writePackData(f, objs, entries)
	if err == nil {
		// On disk before it is named: a branch may point into it right
		// after, and a power cut must not leave the branch and lose the
		// objects.
		err = f.Sync()
	}
	if err != nil {
		f.Close()
		return plumbing.ZeroHash, nil, err
	}
	return checksum, idx, f.Close()
}

// writePackData writes the pack header, the entries and the checksum to
// w, indexing the entries.
func writePackData(w io.Writer, objs []plumbing.EncodedObject, entries []packedEntry) (plumbing.Hash, *idxfile.Writer, error) {
	sum := sha1.New()
	hw := io.MultiWriter(w, sum)
	idx := new(idxfile.Writer)
	var hdr [12]byte
	copy(hdr[:], "PACK")
	binary.BigEndian.PutUint32(hdr[4:], 2)
	binary.BigEndian.PutUint32(hdr[8:], uint32(len(objs)))
	if _, err := hw.Write(hdr[:]); err != nil {
		return plumbing.ZeroHash, nil, err
	}
	if err := idx.OnHeader(uint32(len(objs))); err != nil {
		return plumbing.ZeroHash, nil, err
	}
	pos := int64(len(hdr))
	for i, e := range entries {
		if e.err != nil {
			return plumbing.ZeroHash, nil, fmt.Errorf("object %s: %w", objs[i].Hash(), e.err)
		}
		if _, err := hw.Write(e.data); err != nil {
			return plumbing.ZeroHash, nil, err
		}
		idx.Add(objs[i].Hash(), uint64(pos), e.crc)
		pos += int64(len(e.data))
	}
	checksum := plumbing.Hash(sum.Sum(nil))
	if _, err := w.Write(checksum[:]); err != nil {
		return plumbing.ZeroHash, nil, err
	}
	return checksum, idx, nil
}

// encodeIndex finishes the index of the pack with the given checksum and
// encodes it (version 2).
func encodeIndex(idx *idxfile.Writer, checksum plumbing.Hash) ([]byte, error) {
	if err := idx.OnFooter(checksum); err != nil {
		return nil, err
	}
	mi, err := idx.Index()
	if err != nil {
		return nil, err
	}
	var ib bytes.Buffer
	if _, err := idxfile.NewEncoder(&ib).Encode(mi); err != nil {
		return nil, err
	}
	return ib.Bytes(), nil
}

// writeReadOnly writes data to a temporary file in dir named after
// pattern, syncs it, makes it read-only and renames it to path.
func writeReadOnly(dir, pattern, path string, data []byte) error {
	tmp, err := os.CreateTemp(dir, pattern)
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o444); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// packEntry encodes one undeltified pack entry: the type-and-size header
// and the zlib-compressed content.
func packEntry(zw *zlib.Writer, obj plumbing.EncodedObject) ([]byte, error) {
	var b bytes.Buffer
	size := obj.Size()
	c := byte(obj.Type()<<4) | byte(size&0x0f)
	size >>= 4
	for size > 0 {
		b.WriteByte(c | 0x80)
		c = byte(size & 0x7f)
		size >>= 7
	}
	b.WriteByte(c)
	b.Grow(int(obj.Size()/3) + 64)
	zw.Reset(&b)
	if err := writeContent(zw, obj); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// writeContent writes obj's content to w; the blobs and objects the store
// holds in memory are written without a copy.
func writeContent(w io.Writer, obj plumbing.EncodedObject) error {
	switch o := obj.(type) {
	case *blobObject:
		_, err := w.Write(unsafe.Slice(unsafe.StringData(o.content), len(o.content)))
		return err
	case *rawObject:
		_, err := w.Write(o.data)
		return err
	}
	r, err := obj.Reader()
	if err != nil {
		return err
	}
	defer r.Close()
	_, err = io.Copy(w, r)
	return err
}
