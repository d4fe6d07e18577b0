package objstore

import (
	"bytes"
	"encoding/binary"
	"math/rand"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/go-git/go-billy/v5/osfs"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/storage/filesystem"

	"github.com/rtbot/rtbot/internal/testkit"
)

// syntheticIndex writes a version 2 pack index of names (sorted) whose
// i-th object is at offset 12+i, and returns a packFile reading it with
// a fake pack long enough for those offsets.
func syntheticIndex(t *testing.T, names []plumbing.Hash) *packFile {
	t.Helper()
	var b bytes.Buffer
	b.Write([]byte{0xff, 't', 'O', 'c', 0, 0, 0, 2})
	var fan [256]uint32
	for _, h := range names {
		for i := int(h[0]); i < 256; i++ {
			fan[i]++
		}
	}
	binary.Write(&b, binary.BigEndian, fan)
	for _, h := range names {
		b.Write(h[:])
	}
	b.Write(make([]byte, 4*len(names))) // CRCs
	for i := range names {
		binary.Write(&b, binary.BigEndian, uint32(12+i))
	}
	b.Write(make([]byte, 40))
	path := filepath.Join(t.TempDir(), "pack-x.idx")
	if err := os.WriteFile(path, b.Bytes(), 0o444); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	n := len(names)
	p := &packFile{path: path, idx: f, pack: make([]byte, 12+n+20), n: n, names: 8 + 256*4}
	p.fan = fan
	p.offs32 = p.names + n*24
	p.offs64 = p.offs32 + n*4
	return p
}

// TestPackFindSkewed checks the index lookup where interpolation guesses
// badly: names crowded at the ends of their fan-out bucket put the name
// sought outside the first window read, on either side, and absent names
// fall between, before and after all others.
func TestPackFindSkewed(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	var names []plumbing.Hash
	for i := 0; i < 6*findWindow; i++ {
		var h plumbing.Hash
		rng.Read(h[:])
		h[0] = 0x42
		// Two thirds of the bucket just above 0x4200..., one third
		// just below 0x42ff...: a guess from the uniform model lands
		// in the middle, where there is nothing.
		if i%3 == 0 {
			h[1], h[2] = 0xff, 0xff
		} else {
			h[1], h[2] = 0, 0
		}
		names = append(names, h)
	}
	for i := 0; i < 300; i++ { // sparse neighbours in other buckets
		var h plumbing.Hash
		rng.Read(h[:])
		names = append(names, h)
	}
	sort.Slice(names, func(i, j int) bool { return bytes.Compare(names[i][:], names[j][:]) < 0 })
	p := syntheticIndex(t, names)
	for i, h := range names {
		off, ok, err := p.find(h)
		if err != nil || !ok || off != int64(12+i) {
			t.Fatalf("find(%s) = %d, %v, %v; want %d", h, off, ok, err, 12+i)
		}
	}
	absent := []plumbing.Hash{{}, {0x42}, {0x42, 0x80}, {0x42, 0xff, 0xff, 0xff}, {0xff, 0xff, 0xff}}
	for i := 0; i < 200; i++ {
		h := names[rng.Intn(len(names))]
		h[19] ^= 1
		absent = append(absent, h)
	}
	for _, h := range absent {
		i := sort.Search(len(names), func(i int) bool { return bytes.Compare(names[i][:], h[:]) >= 0 })
		if i < len(names) && names[i] == h {
			continue
		}
		if off, ok, err := p.find(h); err != nil || ok {
			t.Fatalf("find(%s) = %d, %v, %v; want absent", h, off, ok, err)
		}
	}
}

// TestPackIndexNotMapped checks that reading objects leaves no page of a
// large pack index in the process: its resident pages grew with the size
// of the repository (150 MB at 10M objects) when it was mapped.
func TestPackIndexNotMapped(t *testing.T) {
	dir := packedRepo(t, false)
	// The test repository's index is small: make it count as large.
	r, err := openPackReaderMapping(filepath.Join(dir, "objects", "pack"), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for _, h := range allObjects(t, dir) {
		if _, _, err := r.read(h); err != nil {
			t.Fatal(err)
		}
	}
	maps, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		t.Skip("no /proc/self/maps:", err)
	}
	for _, l := range strings.Split(string(maps), "\n") {
		if strings.HasSuffix(l, ".idx") && strings.Contains(l, dir) {
			t.Errorf("pack index mapped: %s", l)
		}
	}
	if !strings.Contains(string(maps), filepath.Join(dir, "objects", "pack")) {
		t.Error("the pack itself is not mapped either: the test no longer looks at the right file")
	}
}

// TestHashesWithPrefix checks the store's prefix lookup against go-git's
// on a packed repository with loose objects besides: every prefix of 1 to
// 4 bytes of every object, and prefixes of no object.
func TestHashesWithPrefix(t *testing.T) {
	dir := packedRepoCopy(t, false)
	f := filepath.Join(t.TempDir(), "loose")
	if err := os.WriteFile(f, []byte("a loose blob\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	loose := testkit.Git(t, dir, "hash-object", "-w", f)
	fst := filesystem.NewStorageWithOptions(osfs.New(dir), cache.NewObjectLRUDefault(), storageOptions())
	defer fst.Close()
	hs := append(allObjects(t, dir), plumbing.NewHash(loose))
	for _, mapBelow := range []int64{0, mapIndexBelow} { // read with pread, mapped
		r, err := openPackReaderMapping(filepath.Join(dir, "objects", "pack"), mapBelow)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		checkHashesWithPrefix(t, &packedStorage{Storage: fst, packs: r}, hs, plumbing.NewHash(loose))
	}
}

// checkHashesWithPrefix compares st's answers with go-git's for the
// prefixes of hs, and checks that the loose object is found.
func checkHashesWithPrefix(t *testing.T, st *packedStorage, hs []plumbing.Hash, lh plumbing.Hash) {
	t.Helper()
	fst := st.Storage
	var prefixes [][]byte
	for _, h := range hs {
		for n := 1; n <= 4; n++ {
			prefixes = append(prefixes, h[:n])
		}
		miss := h
		miss[2] ^= 0x55
		prefixes = append(prefixes, miss[:3], miss[:])
	}
	sorted := func(hs []plumbing.Hash) []plumbing.Hash {
		out := append([]plumbing.Hash{}, hs...)
		sort.Slice(out, func(i, j int) bool { return bytes.Compare(out[i][:], out[j][:]) < 0 })
		return out
	}
	for _, p := range prefixes {
		got, err := st.HashesWithPrefix(p)
		if err != nil {
			t.Fatal(err)
		}
		want, err := fst.HashesWithPrefix(p)
		if err != nil {
			t.Fatal(err)
		}
		if g, w := sorted(got), sorted(want); !reflect.DeepEqual(g, w) {
			t.Fatalf("prefix %x: got %v, go-git %v", p, g, w)
		}
	}
	if got, _ := st.HashesWithPrefix(lh[:3]); !slices.Contains(got, lh) {
		t.Fatalf("the loose object is not found by its prefix: %v", got)
	}
}
