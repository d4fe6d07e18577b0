package objstore

import (
	"bytes"
	"reflect"
	"sort"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// goGitEncode is the reference encoder the store's own replaces.
func goGitEncode(t testing.TB, es []object.TreeEntry) []byte {
	t.Helper()
	obj := &plumbing.MemoryObject{}
	if err := (&object.Tree{Entries: es}).Encode(obj); err != nil {
		t.Fatal(err)
	}
	r, _ := obj.Reader()
	var b bytes.Buffer
	b.ReadFrom(r)
	return b.Bytes()
}

// goGitDecode is the reference decoder.
func goGitDecode(data []byte) ([]object.TreeEntry, error) {
	t := &object.Tree{}
	if err := t.Decode(&rawObject{typ: plumbing.TreeObject, data: data}); err != nil {
		return nil, err
	}
	return t.Entries, nil
}

func treeFixture() []object.TreeEntry {
	h := func(s string) plumbing.Hash { return plumbing.ComputeHash(plumbing.BlobObject, []byte(s)) }
	return []object.TreeEntry{
		{Name: "a-b", Mode: filemode.Regular, Hash: h("1")},
		{Name: "a", Mode: filemode.Dir, Hash: h("2")},
		{Name: "a.c", Mode: filemode.Executable, Hash: h("3")},
		{Name: "a0", Mode: filemode.Symlink, Hash: h("4")},
		{Name: "ab", Mode: filemode.Submodule, Hash: h("5")},
		{Name: "name with space", Mode: filemode.Regular, Hash: plumbing.ZeroHash},
		{Name: "Z", Mode: filemode.Deprecated, Hash: h("6")},
	}
}

// TestTreeCodecMatchesGoGit checks that the store's tree encoder, sorter
// and decoder give byte for byte and entry for entry what go-git's did:
// tree ids must not change.
func TestTreeCodecMatchesGoGit(t *testing.T) {
	es := treeFixture()
	sortEntries(es)
	want := append([]object.TreeEntry(nil), es...)
	sort.Sort(object.TreeEntrySorter(want))
	if !reflect.DeepEqual(es, want) {
		t.Fatalf("sortEntries:\n got %v\nwant %v", es, want)
	}
	got, err := encodeTree(es)
	if err != nil {
		t.Fatal(err)
	}
	if ref := goGitEncode(t, es); !bytes.Equal(got, ref) {
		t.Fatalf("encodeTree:\n got %q\nwant %q", got, ref)
	}
	dec, ok := decodeTree(plumbing.ZeroHash, got)
	ref, err := goGitDecode(got)
	if !ok || err != nil || !reflect.DeepEqual(dec.Entries, ref) {
		t.Fatalf("decodeTree: ok %v, go-git %v\n got %v\nwant %v", ok, err, dec, ref)
	}
	// A legacy group-writable mode is made canonical, as go-git does.
	legacy := []byte("100664 f\x00" + string(make([]byte, 20)))
	dec, ok = decodeTree(plumbing.ZeroHash, legacy)
	if !ok || dec.Entries[0].Mode != filemode.Regular {
		t.Fatalf("decodeTree(100664): %v %v", ok, dec)
	}
	if _, err := encodeTree([]object.TreeEntry{{Name: "a\x00b"}}); err == nil {
		t.Fatal("encodeTree accepted a name with a NUL")
	}
}

// TestDecodeTreeMalformed checks that the decoder refuses what go-git
// refuses, so that go-git reads it again and gives its error.
func TestDecodeTreeMalformed(t *testing.T) {
	id := string(make([]byte, 20))
	for _, data := range []string{
		"100644",                  // no mode terminator
		" f\x00" + id,             // empty mode
		"1x0644 f\x00" + id,       // not octal
		"100644 \x00" + id,        // empty name
		"100644 f" + id,           // no name terminator
		"100644 f\x00" + id[:19],  // truncated id
		"100644 f\x00" + id + "4", // trailing garbage
		"99999999999 f\x00" + id,  // mode beyond 32 bits
		"+100644 f\x00" + id,      // signed mode
	} {
		_, ok := decodeTree(plumbing.ZeroHash, []byte(data))
		_, err := goGitDecode([]byte(data))
		if ok || err == nil {
			t.Errorf("%q: decodeTree ok %v, go-git error %v: both must refuse it", data, ok, err)
		}
	}
}

// FuzzDecodeTree checks the decoder against go-git's on any input: the
// same verdict, the same entries, and a re-encoding go-git agrees with.
func FuzzDecodeTree(f *testing.F) {
	data, _ := encodeTree(func() []object.TreeEntry { es := treeFixture(); sortEntries(es); return es }())
	f.Add(data)
	f.Add([]byte("100664 f\x00" + string(make([]byte, 20))))
	f.Add([]byte("40000 d\x0012345678901234567890100644 f\x0012345678901234567890"))
	f.Fuzz(func(t *testing.T, data []byte) {
		dec, ok := decodeTree(plumbing.ZeroHash, data)
		ref, err := goGitDecode(data)
		if ok != (err == nil) {
			t.Fatalf("decodeTree ok %v, go-git error %v", ok, err)
		}
		if !ok {
			return
		}
		if len(ref) == 0 {
			ref = []object.TreeEntry{}
		}
		if !reflect.DeepEqual(dec.Entries, ref) {
			t.Fatalf("entries:\n got %v\nwant %v", dec.Entries, ref)
		}
		if !sort.IsSorted(object.TreeEntrySorter(dec.Entries)) {
			return
		}
		got, err := encodeTree(dec.Entries)
		if err != nil {
			t.Fatal(err)
		}
		if want := goGitEncode(t, dec.Entries); !bytes.Equal(got, want) {
			t.Fatalf("re-encoded:\n got %q\nwant %q", got, want)
		}
	})
}
