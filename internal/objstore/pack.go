package objstore

import (
	"bytes"
	"compress/zlib"
	"crypto/sha1"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sync"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/format/idxfile"

	"github.com/rtbot/rtbot/internal/atomicfile"
)

// writePack writes objs as one pack and its index into packDir
// (objects/pack of a repository): undeltified entries compressed at zlib's
// fastest level on every core, then pack-<sha>.pack and pack-<sha>.idx,
// each written to a temporary file and renamed, index last, so a reader
// never sees a pack without its index. The objects are what one rebase
// produced; git gc may delta them later.
func writePack(packDir string, objs []plumbing.EncodedObject) error {
	type entry struct {
		data []byte // header + zlib stream
		crc  uint32
		err  error
	}
	entries := make([]entry, len(objs))
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
				entries[i] = entry{data: data, crc: crc32.ChecksumIEEE(data), err: err}
			}
		}()
	}
	for i := range objs {
		next <- i
	}
	close(next)
	wg.Wait()

	if err := os.MkdirAll(packDir, 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(packDir, "tmp_pack_")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	sum := sha1.New()
	w := io.MultiWriter(tmp, sum)
	idx := new(idxfile.Writer)
	var hdr [12]byte
	copy(hdr[:], "PACK")
	binary.BigEndian.PutUint32(hdr[4:], 2)
	binary.BigEndian.PutUint32(hdr[8:], uint32(len(objs)))
	if _, err := w.Write(hdr[:]); err != nil {
		tmp.Close()
		return err
	}
	if err := idx.OnHeader(uint32(len(objs))); err != nil {
		tmp.Close()
		return err
	}
	pos := int64(len(hdr))
	for i, e := range entries {
		if e.err != nil {
			tmp.Close()
			return fmt.Errorf("object %s: %w", objs[i].Hash(), e.err)
		}
		if _, err := w.Write(e.data); err != nil {
			tmp.Close()
			return err
		}
		idx.Add(objs[i].Hash(), uint64(pos), e.crc)
		pos += int64(len(e.data))
	}
	checksum := plumbing.Hash(sum.Sum(nil))
	if _, err := tmp.Write(checksum[:]); err != nil {
		tmp.Close()
		return err
	}
	// On disk before it is named: a branch may point into it right after,
	// and a power cut must not leave the branch and lose the objects.
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := idx.OnFooter(checksum); err != nil {
		return err
	}
	mi, err := idx.Index()
	if err != nil {
		return err
	}
	var ib bytes.Buffer
	if _, err := idxfile.NewEncoder(&ib).Encode(mi); err != nil {
		return err
	}
	base := filepath.Join(packDir, "pack-"+checksum.String())
	if err := os.Chmod(tmp.Name(), 0o444); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), base+".pack"); err != nil {
		return err
	}
	itmp, err := os.CreateTemp(packDir, "tmp_idx_")
	if err != nil {
		return err
	}
	defer os.Remove(itmp.Name())
	if _, err := itmp.Write(ib.Bytes()); err != nil {
		itmp.Close()
		return err
	}
	if err := itmp.Sync(); err != nil {
		itmp.Close()
		return err
	}
	if err := itmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(itmp.Name(), 0o444); err != nil {
		return err
	}
	if err := os.Rename(itmp.Name(), base+".idx"); err != nil {
		return err
	}
	return atomicfile.SyncDir(packDir)
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
	zw.Reset(&b)
	r, err := obj.Reader()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	if _, err := io.Copy(zw, r); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
