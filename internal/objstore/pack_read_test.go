package objstore

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-git/go-billy/v5/osfs"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/plumbing/format/packfile"
	"github.com/go-git/go-git/v5/storage/filesystem"
	"github.com/rtbot/rtbot/internal/fixtures"
	"github.com/rtbot/rtbot/internal/patchqueue"
	"github.com/rtbot/rtbot/internal/testkit"
)

// packedRepos are the packed test repositories, one per variant (OFS_DELTA
// or REF_DELTA chains), each built once per test run by the first test
// that asks for it, under the directory TestMain makes. Tests read them and
// must not change them: packedRepoCopy gives a test a copy it may write.
var packedRepos struct {
	root     string // removed when the tests end
	variants [2]struct {
		once sync.Once
		dir  string
		err  error
	}
}

func TestMain(m *testing.M) {
	root, err := os.MkdirTemp("", "objstore-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	packedRepos.root = root
	code := m.Run()
	os.RemoveAll(root)
	os.Exit(code)
}

// packedRepo returns the packed test repository (see buildPackedRepo),
// built on the first call of the run and shared: the caller must not
// change it.
func packedRepo(t testing.TB, refDeltas bool) string {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	i, name := 0, "ofs-delta"
	if refDeltas {
		i, name = 1, "ref-delta"
	}
	v := &packedRepos.variants[i]
	v.once.Do(func() {
		v.dir = filepath.Join(packedRepos.root, name)
		v.err = buildPackedRepo(t, v.dir, refDeltas)
	})
	if v.err != nil {
		t.Fatalf("packed test repository %s: %v", name, v.err)
	}
	return v.dir
}

// packedRepoCopy returns a copy of the packed test repository that the
// caller may change.
func packedRepoCopy(t testing.TB, refDeltas bool) string {
	t.Helper()
	src := packedRepo(t, refDeltas)
	dst := t.TempDir()
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		to := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(to, info.Mode().Perm())
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(to, data, info.Mode().Perm())
	})
	if err != nil {
		t.Fatalf("copying the packed test repository: %v", err)
	}
	return dst
}

// buildPackedRepo builds in dir a history in which files change a little
// at a time (so that git deltifies them against each other), including a
// file larger than a delta copy can cover at once, a binary file and an
// empty one, and packs it with git gc --aggressive: OFS_DELTA chains, one
// pack. When refDeltas is set the pack is rewritten with
// repack.useDeltaBaseOffset false (pack-objects without
// --delta-base-offset), so its deltas name their bases by id (REF_DELTA).
func buildPackedRepo(t testing.TB, dir string, refDeltas bool) error {
	t.Helper()
	r, err := fixtures.Init(dir, true)
	if err != nil {
		return err
	}
	rnd := rand.New(rand.NewSource(1))
	big := fixtures.Lines("a rather long line of a large generated source file", 4000) // ~230 KB
	bin := make([]byte, 20000)
	rnd.Read(bin)
	tree := fixtures.Tree{
		"Makefile":               {Content: "all:\n\tcc -o x x.c\n"},
		"kernel/sched/core.c":    {Content: fixtures.Lines("sched core", 3000)},
		"kernel/sched/fair.c":    {Content: fixtures.Lines("fair", 1500)},
		"kernel/printk/printk.c": {Content: fixtures.Lines("printk", 800)},
		"drivers/big.c":          {Content: big},
		"firmware/blob.bin":      {Content: string(bin)},
		"empty":                  {Content: ""},
	}
	var parent []plumbing.Hash
	for i := 0; i < 30; i++ {
		for _, p := range []string{"kernel/sched/core.c", "kernel/sched/fair.c", "kernel/printk/printk.c", "drivers/big.c"} {
			lines := strings.SplitAfter(tree[p].Content, "\n")
			for k := 0; k < 3; k++ {
				j := rnd.Intn(len(lines))
				lines[j] = fmt.Sprintf("changed %d %d %s", i, k, lines[j])
			}
			if i%7 == 3 {
				lines = append(lines[:10], lines[40:]...) // a deletion
			}
			tree[p] = fixtures.File{Content: strings.Join(lines, "")}
		}
		b := []byte(tree["firmware/blob.bin"].Content)
		b[rnd.Intn(len(b))] ^= 0xff
		tree["firmware/blob.bin"] = fixtures.File{Content: string(b)}
		tree[fmt.Sprintf("Documentation/v%d.txt", i)] = fixtures.File{Content: fixtures.Lines(fmt.Sprintf("release %d", i), 50+i)}
		h, err := r.Commit(tree, fmt.Sprintf("release %d\n", i), parent...)
		if err != nil {
			return err
		}
		parent = []plumbing.Hash{h}
	}
	if err := r.Branch("main", parent[0]); err != nil {
		return err
	}
	if err := r.Tag("v1", parent[0]); err != nil {
		return err
	}
	steps := [][]string{{"gc", "-q", "--aggressive", "--prune=now"}}
	if refDeltas {
		steps = append(steps, []string{"-c", "repack.useDeltaBaseOffset=false", "repack", "-q", "-a", "-d", "-f", "--depth=50", "--window=50"})
	}
	for _, args := range steps {
		if out, err := testkit.RunGit(t, dir, nil, args...); err != nil {
			return fmt.Errorf("git %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	return nil
}

// allObjects lists every object id in the repository, as git sees it.
func allObjects(t testing.TB, dir string) []plumbing.Hash {
	t.Helper()
	out := testkit.Git(t, dir, "cat-file", "--batch-all-objects", "--batch-check=%(objectname)")
	var hs []plumbing.Hash
	for _, l := range strings.Fields(out) {
		hs = append(hs, plumbing.NewHash(l))
	}
	if len(hs) == 0 {
		t.Fatal("no objects")
	}
	return hs
}

type gitObject struct {
	typ  plumbing.ObjectType
	data []byte
}

// goGitObjects reads objects through go-git, the reference.
func goGitObjects(t testing.TB, dir string, hs []plumbing.Hash) map[plumbing.Hash]gitObject {
	t.Helper()
	st := filesystem.NewStorage(osfs.New(dir), cache.NewObjectLRUDefault())
	defer st.Close()
	want := map[plumbing.Hash]gitObject{}
	for _, h := range hs {
		obj, err := st.EncodedObject(plumbing.AnyObject, h)
		if err != nil {
			t.Fatalf("go-git: %s: %v", h, err)
		}
		r, err := obj.Reader()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(r)
		r.Close()
		if err != nil {
			t.Fatal(err)
		}
		if int64(len(b)) != obj.Size() {
			t.Fatalf("go-git: %s: size %d, read %d", h, obj.Size(), len(b))
		}
		want[h] = gitObject{obj.Type(), b}
	}
	return want
}

func openTestReader(t testing.TB, dir string) *packReader {
	t.Helper()
	r, err := openPackReader(filepath.Join(dir, "objects", "pack"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// entryTypes counts the pack entries of each type in r's packs.
func entryTypes(t testing.TB, r *packReader) map[byte]int {
	t.Helper()
	n := map[byte]int{}
	for _, p := range r.packs {
		for i := 0; i < p.n; i++ {
			off, err := p.offset(i)
			if err != nil {
				t.Fatal(err)
			}
			e, err := p.header(off)
			if err != nil {
				t.Fatal(err)
			}
			n[e.typ]++
		}
	}
	return n
}

// maxChain returns the longest delta chain in r's packs.
func maxChain(t testing.TB, r *packReader) int {
	t.Helper()
	longest := 0
	for _, p := range r.packs {
		for i := 0; i < p.n; i++ {
			off, err := p.offset(i)
			if err != nil {
				t.Fatal(err)
			}
			d := 0
			for {
				e, err := p.header(off)
				if err != nil {
					t.Fatal(err)
				}
				if e.typ == packOFSDelta {
					off = e.base
				} else if e.typ == packREFDelta {
					if _, off, err = r.find(e.ref); err != nil {
						t.Fatal(err)
					}
				} else {
					break
				}
				d++
			}
			longest = max(longest, d)
		}
	}
	return longest
}

func checkObject(t testing.TB, r *packReader, h plumbing.Hash, want gitObject) {
	t.Helper()
	typ, data, err := r.read(h)
	if err != nil {
		t.Fatalf("%s: %v", h, err)
	}
	if typ != want.typ || !bytes.Equal(data, want.data) {
		t.Fatalf("%s: read %s of %d bytes, go-git reads %s of %d bytes", h, typ, len(data), want.typ, len(want.data))
	}
}

// TestPackReaderMatchesGoGit reads every object of packs git wrote, with
// OFS_DELTA and with REF_DELTA chains, through the pack reader and through
// go-git: same type, size and content.
func TestPackReaderMatchesGoGit(t *testing.T) {
	for _, ref := range []bool{false, true} {
		name := "ofs-delta"
		if ref {
			name = "ref-delta"
		}
		t.Run(name, func(t *testing.T) {
			dir := packedRepo(t, ref)
			hs := allObjects(t, dir)
			want := goGitObjects(t, dir, hs)
			r := openTestReader(t, dir)
			if len(r.packs) != 1 {
				t.Fatalf("%d packs, want 1", len(r.packs))
			}
			types := entryTypes(t, r)
			deltaType, other := byte(packOFSDelta), byte(packREFDelta)
			if ref {
				deltaType, other = other, deltaType
			}
			t.Logf("%d objects; entries by type: %v", len(hs), types)
			if types[deltaType] < len(hs)/3 || types[other] != 0 {
				t.Fatalf("entries by type %v: want mostly type %d deltas", types, deltaType)
			}
			if d := maxChain(t, r); d < 3 {
				t.Fatalf("longest delta chain %d, want some depth", d)
			}
			for _, h := range hs {
				checkObject(t, r, h, want[h])
			}
			// Again, now with bases in the cache, in another order.
			for i := len(hs) - 1; i >= 0; i-- {
				checkObject(t, r, hs[i], want[hs[i]])
			}
			// And with no cache at all.
			r.bases.init(0)
			for _, h := range hs {
				checkObject(t, r, h, want[h])
			}
		})
	}
}

// TestPackReader64BitOffsets re-indexes a pack with every offset past the
// first entries in the index's 64-bit table, as in packs over 2 GiB.
func TestPackReader64BitOffsets(t *testing.T) {
	dir := packedRepoCopy(t, false)
	hs := allObjects(t, dir)
	want := goGitObjects(t, dir, hs)
	packs, _ := filepath.Glob(filepath.Join(dir, "objects", "pack", "*.pack"))
	if len(packs) != 1 {
		t.Fatalf("packs: %v", packs)
	}
	idx := strings.TrimSuffix(packs[0], ".pack") + ".idx"
	if err := os.Remove(idx); err != nil {
		t.Fatal(err)
	}
	testkit.Git(t, dir, "index-pack", "--index-version=2,1000", "-o", idx, packs[0])
	r := openTestReader(t, dir)
	if len(r.packs) != 1 || r.packs[0].n64 == 0 || r.packs[0].n64 == r.packs[0].n {
		t.Fatalf("want a pack with both 32- and 64-bit offsets, got %d packs", len(r.packs))
	}
	t.Logf("%d of %d offsets in the 64-bit table", r.packs[0].n64, r.packs[0].n)
	for _, h := range hs {
		checkObject(t, r, h, want[h])
	}
	// go-git reads the same index the same way.
	if got := goGitObjects(t, dir, hs); len(got) != len(want) {
		t.Fatal("go-git lost objects")
	}
}

// mainTip opens the repository at dir and returns it with the tip of its
// main branch and that commit's files.
func mainTip(t *testing.T, dir string) (*fixtures.Repo, *plumbing.Hash, fixtures.Tree) {
	t.Helper()
	r, err := fixtures.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	tip, err := r.Repo.ResolveRevision("main")
	if err != nil {
		t.Fatal(err)
	}
	snap, err := r.Snapshot(*tip)
	if err != nil {
		t.Fatal(err)
	}
	return r, tip, snap
}

// TestPackReaderSeveralPacks: objects spread over packs are all found, and
// loose objects are not (go-git reads those).
func TestPackReaderSeveralPacks(t *testing.T) {
	dir := packedRepoCopy(t, false)
	r0, tip, snap := mainTip(t, dir)
	snap["kernel/sched/core.c"] = fixtures.File{Content: snap["kernel/sched/core.c"].Content + "one more line\n"}
	second, err := r0.Commit(snap, "second pack\n", *tip)
	if err != nil {
		t.Fatal(err)
	}
	if err := r0.Branch("main", second); err != nil {
		t.Fatal(err)
	}
	testkit.Git(t, dir, "repack", "-q", "-d") // a second pack with the new objects
	snap["loose"] = fixtures.File{Content: "not packed\n"}
	loose, err := r0.Commit(snap, "loose\n", second)
	if err != nil {
		t.Fatal(err)
	}
	hs := allObjects(t, dir)
	want := goGitObjects(t, dir, hs)
	r := openTestReader(t, dir)
	if len(r.packs) != 2 {
		t.Fatalf("%d packs, want 2", len(r.packs))
	}
	packed := 0
	for _, h := range hs {
		typ, data, err := r.read(h)
		if errors.Is(err, errNotPacked) {
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", h, err)
		}
		packed++
		if typ != want[h].typ || !bytes.Equal(data, want[h].data) {
			t.Fatalf("%s differs from go-git's", h)
		}
	}
	if packed != len(hs)-3 { // the loose commit, its tree, its blob
		t.Errorf("%d of %d objects packed, want all but 3", packed, len(hs))
	}
	if _, _, err := r.read(loose); !errors.Is(err, errNotPacked) {
		t.Errorf("loose commit: %v, want errNotPacked", err)
	}
}

// TestPackReaderMissing: an object in no pack says so.
func TestPackReaderMissing(t *testing.T) {
	dir := packedRepo(t, false)
	r := openTestReader(t, dir)
	for _, h := range []plumbing.Hash{
		plumbing.NewHash("0000000000000000000000000000000000000000"),
		plumbing.NewHash("ffffffffffffffffffffffffffffffffffffffff"),
		plumbing.NewHash("1234567890123456789012345678901234567890"),
	} {
		if _, _, err := r.read(h); !errors.Is(err, errNotPacked) {
			t.Errorf("%s: %v, want errNotPacked", h, err)
		}
		if found, absent := r.has(h); found || !absent {
			t.Errorf("%s: has says found %v, absent %v", h, found, absent)
		}
	}
	var nilReader *packReader
	if _, _, err := nilReader.read(plumbing.ZeroHash); !errors.Is(err, errNotPacked) {
		t.Errorf("nil reader: %v", err)
	}
	r.Close()
	if _, _, err := r.read(allObjects(t, dir)[0]); err == nil {
		t.Error("read after Close succeeded")
	}
	// A directory with no packs at all.
	empty, err := openPackReader(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := empty.read(plumbing.ZeroHash); !errors.Is(err, errNotPacked) {
		t.Errorf("no packs: %v", err)
	}
}

// TestPackReaderConcurrent reads every object from several goroutines at
// once through one reader with a small cache (so that bases are evicted
// while others use them); run it with -race.
func TestPackReaderConcurrent(t *testing.T) {
	dir := packedRepo(t, false)
	hs := allObjects(t, dir)
	want := goGitObjects(t, dir, hs)
	r := openTestReader(t, dir)
	r.bases.init(256 << 10)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(seed int64) {
			defer wg.Done()
			order := append([]plumbing.Hash(nil), hs...)
			rand.New(rand.NewSource(seed)).Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
			for _, h := range order {
				typ, data, err := r.read(h)
				if err != nil {
					errs <- err
					return
				}
				if typ != want[h].typ || !bytes.Equal(data, want[h].data) {
					errs <- fmt.Errorf("%s differs from go-git's", h)
					return
				}
			}
		}(int64(g))
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// corruptCopy returns a reader over r's only pack with its bytes replaced
// by data (the index is kept): not mapped, so not to be closed.
func corruptCopy(r *packReader, data []byte) *packReader {
	p := *r.packs[0]
	p.pack = data
	c := &packReader{packs: []*packFile{&p}}
	c.bases.init(maxBaseCache)
	return c
}

// entryExtents returns each object's entry as [start, end) in the pack.
func entryExtents(t testing.TB, p *packFile) map[plumbing.Hash][2]int64 {
	t.Helper()
	type ent struct {
		h   plumbing.Hash
		off int64
	}
	var es []ent
	for i := 0; i < p.n; i++ {
		off, err := p.offset(i)
		if err != nil {
			t.Fatal(err)
		}
		var h plumbing.Hash
		if err := p.readIdx(h[:], p.names+20*i); err != nil {
			t.Fatal(err)
		}
		es = append(es, ent{h, off})
	}
	sort.Slice(es, func(i, j int) bool { return es[i].off < es[j].off })
	out := map[plumbing.Hash][2]int64{}
	for i, e := range es {
		end := int64(len(p.pack)) - 20
		if i+1 < len(es) {
			end = es[i+1].off
		}
		out[e.h] = [2]int64{e.off, end}
	}
	return out
}

// TestPackReaderCorrupt: truncated packs and damaged zlib streams give
// errors, never a panic or wrong content.
func TestPackReaderCorrupt(t *testing.T) {
	dir := packedRepo(t, false)
	hs := allObjects(t, dir)
	want := goGitObjects(t, dir, hs)
	r := openTestReader(t, dir)

	t.Run("truncated", func(t *testing.T) {
		checkTruncatedInMemory(t, r, hs, want)
		checkTruncatedOnDisk(t, r, hs)
	})
	t.Run("bad-zlib", func(t *testing.T) { checkBadZlib(t, r, hs) })
	t.Run("random", func(t *testing.T) { checkRandomDamage(r, hs) })
}

// checkTruncatedInMemory reads every object hs of r's only pack cut at
// several lengths: each read fails or gives go-git's content (want), and
// at each length some fail.
func checkTruncatedInMemory(t *testing.T, r *packReader, hs []plumbing.Hash, want map[plumbing.Hash]gitObject) {
	t.Helper()
	orig := r.packs[0].pack
	for _, cut := range []int64{12, 100, int64(len(orig)) / 3, int64(len(orig)) / 2, int64(len(orig)) - 21} {
		c := corruptCopy(r, append([]byte(nil), orig[:cut]...))
		failed := 0
		for _, h := range hs {
			typ, data, err := c.read(h)
			if err != nil {
				failed++
				continue
			}
			if typ != want[h].typ || !bytes.Equal(data, want[h].data) {
				t.Fatalf("cut at %d: %s read wrong content without an error", cut, h)
			}
		}
		if failed == 0 {
			t.Errorf("cut at %d: every object read", cut)
		}
	}
}

// checkTruncatedOnDisk copies r's only pack, cut in half, and its index to
// a new repository: the pack no longer matches its index and is left out,
// so the first object of hs is not read.
func checkTruncatedOnDisk(t *testing.T, r *packReader, hs []plumbing.Hash) {
	t.Helper()
	d := t.TempDir()
	os.MkdirAll(filepath.Join(d, "objects", "pack"), 0o755)
	for _, f := range []string{".idx", ".pack"} {
		src := strings.TrimSuffix(r.packs[0].path, ".pack") + f
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if f == ".pack" {
			b = b[:len(b)/2]
		}
		if err := os.WriteFile(filepath.Join(d, "objects", "pack", filepath.Base(src)), b, 0o444); err != nil {
			t.Fatal(err)
		}
	}
	tr := openTestReader(t, d)
	if len(tr.packs) != 0 {
		t.Fatal("a truncated pack was opened")
	}
	if _, _, err := tr.read(hs[0]); err == nil {
		t.Fatal("read from a truncated pack")
	}
}

// checkBadZlib damages the deflate data, then the zlib header, of each
// object hs in r's only pack that has enough data: reading it fails.
func checkBadZlib(t *testing.T, r *packReader, hs []plumbing.Hash) {
	t.Helper()
	orig := r.packs[0].pack
	ext := entryExtents(t, r.packs[0])
	damaged := 0
	for _, h := range hs {
		x := ext[h]
		e, err := r.packs[0].header(x[0])
		if err != nil {
			t.Fatal(err)
		}
		if x[1]-e.data < 8 {
			continue
		}
		b := append([]byte(nil), orig...)
		b[e.data+(x[1]-e.data)/2] ^= 0x55 // inside the deflate data
		c := corruptCopy(r, b)
		if _, _, err := c.read(h); err == nil {
			t.Errorf("%s: damaged zlib data read without an error", h)
		}
		damaged++
		b = append([]byte(nil), orig...)
		b[e.data] = 0 // the zlib header
		if _, _, err := corruptCopy(r, b).read(h); err == nil {
			t.Errorf("%s: bad zlib header read without an error", h)
		}
	}
	if damaged < len(hs)/2 {
		t.Fatalf("only %d objects damaged", damaged)
	}
}

// checkRandomDamage reads every object hs from copies of r's only pack
// with a few random bytes changed: it must not panic.
func checkRandomDamage(r *packReader, hs []plumbing.Hash) {
	orig := r.packs[0].pack
	rnd := rand.New(rand.NewSource(2))
	for i := 0; i < 150; i++ {
		b := append([]byte(nil), orig...)
		for k := 0; k < 1+rnd.Intn(4); k++ {
			b[12+rnd.Intn(len(b)-32)] = byte(rnd.Intn(256))
		}
		c := corruptCopy(r, b)
		for _, h := range hs {
			c.read(h) // must not panic
		}
	}
}

// TestApplyDeltaMatchesGoGit applies deltas go-git computes and damaged
// ones, with this package's applyDelta and go-git's PatchDelta.
func TestApplyDeltaMatchesGoGit(t *testing.T) {
	rnd := rand.New(rand.NewSource(3))
	text := fixtures.Lines("x", 30000) // large enough for 64 KiB copies
	for i := 0; i < 50; i++ {
		lines := strings.SplitAfter(text, "\n")
		for k := 0; k < rnd.Intn(20); k++ {
			j := rnd.Intn(len(lines))
			lines[j] = fmt.Sprintf("edit %d\n", rnd.Int())
		}
		target := []byte(strings.Join(lines[rnd.Intn(100):], ""))
		base := []byte(text)
		delta := packfile.DiffDelta(base, target)
		got, err := applyDelta(base, delta)
		if err != nil || !bytes.Equal(got, target) {
			t.Fatalf("delta %d: %v", i, err)
		}
		ref, err := packfile.PatchDelta(base, delta)
		if err != nil || !bytes.Equal(ref, got) {
			t.Fatalf("delta %d: go-git: %v", i, err)
		}
		for k := 0; k < 20; k++ {
			bad := append([]byte(nil), delta...)
			bad[rnd.Intn(len(bad))] ^= byte(1 + rnd.Intn(255))
			if rnd.Intn(3) == 0 {
				bad = bad[:rnd.Intn(len(bad))]
			}
			got, err := applyDelta(base, bad)
			ref, refErr := packfile.PatchDelta(base, bad)
			if (err == nil) != (refErr == nil) || err == nil && !bytes.Equal(got, ref) {
				t.Fatalf("damaged delta: applyDelta %v, go-git %v", err, refErr)
			}
		}
	}
}

// FuzzApplyDelta: applyDelta accepts what go-git's PatchDelta accepts, with
// the same result, and never panics; like git (DELTA_SIZE_MIN) and unlike
// go-git it refuses deltas shorter than 4 bytes.
func FuzzApplyDelta(f *testing.F) {
	base := []byte(fixtures.Lines("base", 100))
	f.Add(base, packfile.DiffDelta(base, []byte(fixtures.Lines("base", 90)+"more\n")))
	f.Add([]byte("abc"), []byte{3, 3, 0x90, 3})
	f.Add([]byte("abc"), []byte{3, 5, 0x91, 1, 2, 3, 'x', 'y', 'z'})
	f.Fuzz(func(t *testing.T, base, delta []byte) {
		got, err := applyDelta(base, delta)
		ref, refErr := packfile.PatchDelta(base, delta)
		if len(delta) < 4 {
			if err == nil {
				t.Fatalf("applyDelta accepted a %d-byte delta", len(delta))
			}
			return
		}
		if len(base) > 0 && (err == nil) != (refErr == nil) {
			t.Fatalf("applyDelta %v, go-git %v", err, refErr)
		}
		if err == nil && refErr == nil && !bytes.Equal(got, ref) {
			t.Fatal("results differ")
		}
	})
}

// TestStoreReadsThroughPackReader: the store's blob and tree reads, and
// the prefetcher's, come from the pack reader on a packed repository, and
// new objects after Persist are still read (from memory or go-git).
func TestStoreReadsThroughPackReader(t *testing.T) {
	dir := packedRepoCopy(t, false)
	e, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if e.packs == nil || len(e.packs.packs) != 1 {
		t.Fatal("no pack reader")
	}
	tip, err := e.RevParse("main")
	if err != nil {
		t.Fatal(err)
	}
	c, err := e.Commit(tip)
	if err != nil {
		t.Fatal(err)
	}
	en, ok, err := e.obj.lookup(c.TreeHash, "kernel/sched/core.c")
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	text, err := e.Blob(en.Hash)
	if err != nil {
		t.Fatal(err)
	}
	if e.packs.bases.bytes == 0 {
		t.Error("the pack reader read nothing")
	}
	// A new blob and tree, persisted as a pack the reader has not seen.
	h, err := e.obj.writeBlob(text + "new line\n")
	if err != nil {
		t.Fatal(err)
	}
	nt, err := e.obj.applyEdits(c.TreeHash, map[string]Edit{"kernel/sched/core.c": {Entry: Entry{Hash: h, Mode: en.Mode}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Persist(nt); err != nil {
		t.Fatal(err)
	}
	clear(e.obj.blobs)
	clear(e.obj.trees)
	got, err := e.Blob(h)
	if err != nil || got != text+"new line\n" {
		t.Fatalf("new blob after Persist: %v", err)
	}
	if en2, ok, err := e.obj.lookup(nt, "kernel/sched/core.c"); err != nil || !ok || en2.Hash != h {
		t.Fatalf("new tree after Persist: %v %v", ok, err)
	}
	// A fresh store sees the new pack through its reader.
	e2, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer e2.Close()
	if found, _ := e2.packs.has(h); len(e2.packs.packs) != 2 || !found {
		t.Fatalf("a new store has %d packs", len(e2.packs.packs))
	}
	if got, err := e2.Blob(h); err != nil || got != text+"new line\n" {
		t.Fatalf("new blob from a new store: %v", err)
	}
	// Errors are go-git's: a missing blob, a tree read as a blob.
	if _, err := e2.Blob(plumbing.NewHash("1234567890123456789012345678901234567890")); !errors.Is(err, plumbing.ErrObjectNotFound) {
		t.Errorf("missing blob: %v", err)
	}
	if _, err := e2.Blob(nt); !errors.Is(err, plumbing.ErrObjectNotFound) {
		t.Errorf("tree read as a blob: %v", err)
	}
	if _, err := e2.obj.tree(h); !errors.Is(err, plumbing.ErrObjectNotFound) {
		t.Errorf("blob read as a tree: %v", err)
	}
}

// TestPackedStorageAnswersAsGoGit: the store's go-git store (go-git with the
// pack reader in front) reads and finds objects as go-git alone does:
// packed, loose, missing, of the wrong type, in a pack the reader cannot
// use, and in a pack written after it was opened (visible after Reindex).
func TestPackedStorageAnswersAsGoGit(t *testing.T) {
	dir := packedRepoCopy(t, false)
	r0, tip, snap := mainTip(t, dir)
	snap["loose.txt"] = fixtures.File{Content: "a loose blob\n"}
	loose, err := r0.Commit(snap, "loose\n", *tip)
	if err != nil {
		t.Fatal(err)
	}
	hs := allObjects(t, dir)
	missing := plumbing.NewHash("1234567890123456789012345678901234567890")
	ps, plain := openPackedStorage(t, dir)
	defer plain.Close()
	if !ps.packs.complete {
		t.Fatal("reader not complete")
	}
	checkPackedReads(t, ps, hs, goGitObjects(t, dir, hs))
	checkPackedNotFound(t, ps, loose, tip, missing)
	blob := checkNewPackAfterReindex(t, dir, ps)
	indexVersion1(t, dir, ps, blob)
	checkVersion1AsGoGit(t, dir, blob, missing, hs)
}

// openPackedStorage opens the repository at dir twice: as the store's
// go-git store, closed when the test ends, and as go-git alone, which
// the caller closes.
func openPackedStorage(t *testing.T, dir string) (*packedStorage, *filesystem.Storage) {
	t.Helper()
	fst := filesystem.NewStorage(osfs.New(dir), cache.NewObjectLRUDefault())
	t.Cleanup(func() { fst.Close() })
	return &packedStorage{Storage: fst, packs: openTestReader(t, dir)}, filesystem.NewStorage(osfs.New(dir), cache.NewObjectLRUDefault())
}

// checkPackedReads finds and reads every object hs through ps: go-git's
// type, size and content (want).
func checkPackedReads(t *testing.T, ps *packedStorage, hs []plumbing.Hash, want map[plumbing.Hash]gitObject) {
	t.Helper()
	for _, h := range hs {
		if err := ps.HasEncodedObject(h); err != nil {
			t.Fatalf("%s: %v", h, err)
		}
		obj, err := ps.EncodedObject(plumbing.AnyObject, h)
		if err != nil {
			t.Fatalf("%s: %v", h, err)
		}
		rd, _ := obj.Reader()
		b, _ := io.ReadAll(rd)
		rd.Close()
		if obj.Type() != want[h].typ || obj.Size() != int64(len(b)) || !bytes.Equal(b, want[h].data) || obj.Hash() != h {
			t.Fatalf("%s differs from go-git's", h)
		}
	}
}

// checkPackedNotFound: through ps, the loose commit is read, and the
// missing object and the commit tip read as a blob are not found.
func checkPackedNotFound(t *testing.T, ps *packedStorage, loose plumbing.Hash, tip *plumbing.Hash, missing plumbing.Hash) {
	t.Helper()
	if _, err := ps.EncodedObject(plumbing.CommitObject, loose); err != nil {
		t.Errorf("loose commit: %v", err)
	}
	if err := ps.HasEncodedObject(missing); !errors.Is(err, plumbing.ErrObjectNotFound) {
		t.Errorf("missing: %v", err)
	}
	if _, err := ps.EncodedObject(plumbing.AnyObject, missing); !errors.Is(err, plumbing.ErrObjectNotFound) {
		t.Errorf("missing: %v", err)
	}
	if _, err := ps.EncodedObject(plumbing.BlobObject, *tip); !errors.Is(err, plumbing.ErrObjectNotFound) {
		t.Errorf("commit read as a blob: %v", err)
	}
}

// checkNewPackAfterReindex writes a pack of one new blob, which it
// returns, into the repository at dir: ps does not see it (go-git's index
// is a snapshot too) until Reindex.
func checkNewPackAfterReindex(t *testing.T, dir string, ps *packedStorage) *blobObject {
	t.Helper()
	blob := &blobObject{content: "written after the store was opened\n"}
	hsr := plumbing.NewHasher(plumbing.BlobObject, int64(len(blob.content)))
	io.WriteString(hsr, blob.content)
	blob.hash = hsr.Sum()
	if err := writePack(filepath.Join(dir, "objects", "pack"), []plumbing.EncodedObject{blob}); err != nil {
		t.Fatal(err)
	}
	if err := ps.HasEncodedObject(blob.hash); !errors.Is(err, plumbing.ErrObjectNotFound) {
		t.Errorf("new pack before Reindex: %v", err)
	}
	ps.Reindex()
	if err := ps.HasEncodedObject(blob.hash); err != nil {
		t.Errorf("new pack after Reindex: %v", err)
	}
	if typ, data, err := ps.packs.read(blob.hash); err != nil || typ != plumbing.BlobObject || string(data) != blob.content {
		t.Errorf("new pack after Reindex: %v", err)
	}
	return blob
}

// indexVersion1 replaces the index of the pack that ps found blob in by
// one of version 1, which the pack reader cannot use.
func indexVersion1(t *testing.T, dir string, ps *packedStorage, blob *blobObject) {
	t.Helper()
	newest := ""
	for _, p := range ps.packs.packs {
		if _, ok, _ := p.find(blob.hash); ok {
			newest = p.path
		}
	}
	if newest == "" {
		t.Fatal("the new pack is not there")
	}
	idx := strings.TrimSuffix(newest, ".pack") + ".idx"
	os.Remove(idx)
	testkit.Git(t, dir, "index-pack", "--index-version=1", "-o", idx, newest)
}

// checkVersion1AsGoGit opens the repository at dir, where blob's pack has
// an index of version 1: the pack reader leaves that pack out and go-git
// answers, which cannot read that index either; what it says, the store
// says, of blob and of the missing object. The objects of the pack the
// reader can read, such as the first of hs, are still found.
func checkVersion1AsGoGit(t *testing.T, dir string, blob *blobObject, missing plumbing.Hash, hs []plumbing.Hash) {
	t.Helper()
	ps, plain2 := openPackedStorage(t, dir)
	plain2.Close()
	if ps.packs.complete || len(ps.packs.packs) != 1 {
		t.Fatalf("reader complete %v with %d packs, want the version 1 index left out", ps.packs.complete, len(ps.packs.packs))
	}
	// Each question to a new store: go-git keeps a partial index after
	// the error.
	for _, h := range []plumbing.Hash{blob.hash, missing} {
		ps, plain := openPackedStorage(t, dir)
		got, wantErr := ps.HasEncodedObject(h), plain.HasEncodedObject(h)
		if wantErr == nil || fmt.Sprint(got) != fmt.Sprint(wantErr) {
			t.Errorf("%s: HasEncodedObject %v, go-git %v", h, got, wantErr)
		}
		plain.Close()
		ps, plain = openPackedStorage(t, dir)
		_, got = ps.EncodedObject(plumbing.AnyObject, h)
		_, wantErr = plain.EncodedObject(plumbing.AnyObject, h)
		if wantErr == nil || fmt.Sprint(got) != fmt.Sprint(wantErr) {
			t.Errorf("%s: EncodedObject %v, go-git %v", h, got, wantErr)
		}
		plain.Close()
	}
	if err := ps.HasEncodedObject(hs[0]); err != nil {
		t.Errorf("%s: %v", hs[0], err)
	}
}

// labPackRepo returns the lab repository, or skips.
func labPackRepo(tb testing.TB) (lab, repo string) {
	tb.Helper()
	lab = os.Getenv("RTBOT_LAB")
	if lab == "" {
		tb.Skip("RTBOT_LAB is not set: build the real-kernel lab with scripts/lab/build.sh and point RTBOT_LAB at it")
	}
	repo = filepath.Join(lab, "linux.git")
	if _, err := os.Stat(repo); err != nil {
		tb.Skipf("RTBOT_LAB=%s has no linux.git: %v", lab, err)
	}
	return lab, repo
}

// labQueueBlobs returns the trees and blobs a rebase of the 6.1.174 queue
// from v6.1.174 onto v6.1.176 reads: every directory and file on the paths
// the queue touches, in both releases, looked up through go-git.
func labQueueBlobs(tb testing.TB) (repo string, trees, blobs []plumbing.Hash) {
	tb.Helper()
	lab, repo := labPackRepo(tb)
	q, err := patchqueue.Open(filepath.Join(lab, "queues", "6.1.174"), patchqueue.DefaultLimits())
	if err != nil {
		tb.Fatal(err)
	}
	st := filesystem.NewStorage(osfs.New(repo), cache.NewObjectLRUDefault())
	defer st.Close()
	o := newObjects(st)
	seen := map[plumbing.Hash]bool{}
	for _, rev := range []string{"v6.1.174", "v6.1.176"} {
		ref, err := st.Reference(plumbing.NewTagReferenceName(rev))
		if err != nil {
			tb.Fatal(err)
		}
		h := ref.Hash()
		cobj, err := st.EncodedObject(plumbing.AnyObject, h)
		for err == nil && cobj.Type() == plumbing.TagObject {
			if h, err = headerHash(cobj, "object "); err == nil {
				cobj, err = st.EncodedObject(plumbing.AnyObject, h)
			}
		}
		if err != nil {
			tb.Fatal(err)
		}
		root, err := headerHash(cobj, "tree ")
		if err != nil {
			tb.Fatal(err)
		}
		for _, p := range q.Patches {
			for _, f := range p.Files {
				for _, path := range []string{f.OldPath, f.NewPath} {
					if path == "" {
						continue
					}
					dirs := strings.Split(path, "/")
					for i := range dirs[:len(dirs)-1] {
						d := strings.Join(dirs[:i+1], "/")
						if en, ok, err := treeAt(o, root, d); err == nil && ok && !seen[en] {
							seen[en] = true
							trees = append(trees, en)
						}
					}
					en, ok, err := o.lookup(root, path)
					if err != nil {
						tb.Fatal(err)
					}
					if ok && !seen[en.Hash] {
						seen[en.Hash] = true
						blobs = append(blobs, en.Hash)
					}
				}
			}
		}
		if !seen[root] {
			seen[root] = true
			trees = append(trees, root)
		}
	}
	return repo, trees, blobs
}

// treeAt returns the id of the directory at path in root.
func treeAt(o *objects, root plumbing.Hash, path string) (plumbing.Hash, bool, error) {
	t, err := o.tree(root)
	if err != nil {
		return plumbing.ZeroHash, false, err
	}
	parts := strings.Split(path, "/")
	for i, name := range parts {
		te, ok := findEntry(t, name)
		if !ok || te.Mode.IsFile() {
			return plumbing.ZeroHash, false, nil
		}
		if i == len(parts)-1 {
			return te.Hash, true, nil
		}
		if t, err = o.tree(te.Hash); err != nil {
			return plumbing.ZeroHash, false, err
		}
	}
	return plumbing.ZeroHash, false, nil
}

// headerHash returns the id on an object's header line starting with key.
func headerHash(obj plumbing.EncodedObject, key string) (plumbing.Hash, error) {
	r, err := obj.Reader()
	if err != nil {
		return plumbing.ZeroHash, err
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, key) {
			return plumbing.NewHash(strings.TrimPrefix(l, key)), nil
		}
	}
	return plumbing.ZeroHash, fmt.Errorf("%s: no %q line", obj.Hash(), key)
}

// TestLabPackReader reads every tree and blob the 6.1.174 queue touches in
// v6.1.174 and v6.1.176 through the pack reader and through go-git.
func TestLabPackReader(t *testing.T) {
	repo, trees, blobs := labQueueBlobs(t)
	hs := append(append([]plumbing.Hash(nil), trees...), blobs...)
	want := goGitObjects(t, repo, hs)
	r := openTestReader(t, repo)
	size := 0
	for _, h := range hs {
		checkObject(t, r, h, want[h])
		size += len(want[h].data)
	}
	t.Logf("%d trees and %d blobs, %d MB, identical", len(trees), len(blobs), size>>20)
}

// cpuTime is the process's user and system time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU adds the CPU time per iteration since start, which a busy
// machine disturbs less than the wall time.
func reportCPU(b *testing.B, start time.Duration) {
	b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
}

// BenchmarkLabBlobRead reads the blobs of TestLabPackReader once per
// iteration, with a new store each time (as one rebase does): the pack
// reader against go-git.
func BenchmarkLabBlobRead(b *testing.B) {
	repo, _, blobs := labQueueBlobs(b)
	b.Run("pack-reader", func(b *testing.B) {
		defer reportCPU(b, cpuTime())
		for i := 0; i < b.N; i++ {
			r, err := openPackReader(filepath.Join(repo, "objects", "pack"))
			if err != nil {
				b.Fatal(err)
			}
			for _, h := range blobs {
				if _, _, err := r.read(h); err != nil {
					b.Fatal(err)
				}
			}
			r.Close()
		}
	})
	b.Run("go-git", func(b *testing.B) {
		defer reportCPU(b, cpuTime())
		for i := 0; i < b.N; i++ {
			st := filesystem.NewStorageWithOptions(osfs.New(repo), cache.NewObjectLRU(64<<20), filesystem.Options{KeepDescriptors: true})
			o := newObjects(st)
			for _, h := range blobs {
				if _, err := o.blob(h); err != nil {
					b.Fatal(err)
				}
			}
			st.Close()
		}
	})
}
