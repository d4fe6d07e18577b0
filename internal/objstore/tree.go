package objstore

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unsafe"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
	"github.com/rtbot/rtbot/internal/gitpath"
)

// objects reads and writes git objects without a worktree. Decoded trees are
// cached by id (they are small and the same root and top-level trees are
// read for every patch); blobs are not cached here.
type objects struct {
	s     storer.EncodedObjectStorer
	trees map[plumbing.Hash]*object.Tree
	// blobs caches blob contents by id: a patch series touches the same
	// few files again and again, and packed blobs cost a zlib inflate and
	// a delta chain to read.
	blobs     map[plumbing.Hash]string
	blobBytes int64
	// pre, when set, holds blobs read ahead on another goroutine.
	pre *prefetcher
	// packs, when set, reads packed blobs and trees faster than s; s
	// reads what it cannot.
	packs *packReader
	// blobsRead and bytesRead count what was read, for benchmarks.
	blobsRead, bytesRead int64
	written              int64
}

func newObjects(s storer.EncodedObjectStorer) *objects {
	return &objects{s: s, trees: map[plumbing.Hash]*object.Tree{}, blobs: map[plumbing.Hash]string{}}
}

// maxTreeCache bounds the decoded-tree cache; a rebase of a 70-patch queue
// touches a few hundred trees.
const maxTreeCache = 1 << 14

func (o *objects) tree(h plumbing.Hash) (*object.Tree, error) {
	if t, ok := o.trees[h]; ok {
		return t, nil
	}
	if h == emptyTree {
		return &object.Tree{Hash: emptyTree}, nil
	}
	typ, data, err := o.packs.read(h)
	t, ok := (*object.Tree)(nil), false
	if err == nil && typ == plumbing.TreeObject {
		t, ok = decodeTree(h, data)
	}
	if !ok {
		// Not packed, not a tree, or malformed: go-git says what it is.
		obj, err := o.s.EncodedObject(plumbing.TreeObject, h)
		if err != nil {
			return nil, fmt.Errorf("tree %s: %w", h, err)
		}
		t = &object.Tree{}
		if err := t.Decode(obj); err != nil {
			return nil, fmt.Errorf("tree %s: %w", h, err)
		}
	}
	if len(o.trees) >= maxTreeCache {
		clear(o.trees)
	}
	o.trees[h] = t
	return t, nil
}

// emptyTree is the id of the tree with no entries.
var emptyTree = plumbing.NewHash("4b825dc642cb6eb9a060e54bf8d69288fbee4904")

// Entry is a file in a tree: its blob and mode.
type Entry struct {
	Hash plumbing.Hash
	Mode filemode.FileMode
}

// lookup finds path in the tree root. ok is false when there is no file
// there (a directory at path counts as no file).
func (o *objects) lookup(root plumbing.Hash, path string) (e Entry, ok bool, err error) {
	t, err := o.tree(root)
	if err != nil {
		return Entry{}, false, err
	}
	parts := strings.Split(path, "/")
	for i, name := range parts {
		te, found := findEntry(t, name)
		if !found {
			return Entry{}, false, nil
		}
		if i == len(parts)-1 {
			if te.Mode == filemode.Dir || te.Mode == filemode.Submodule {
				return Entry{}, false, nil
			}
			return Entry{te.Hash, te.Mode}, true, nil
		}
		if te.Mode != filemode.Dir {
			return Entry{}, false, nil
		}
		if t, err = o.tree(te.Hash); err != nil {
			return Entry{}, false, err
		}
	}
	return Entry{}, false, nil
}

func findEntry(t *object.Tree, name string) (object.TreeEntry, bool) {
	// Entries are in git order; a linear scan is as fast as anything for
	// the few hundred entries of the largest kernel directories.
	for _, e := range t.Entries {
		if e.Name == name {
			return e, true
		}
	}
	return object.TreeEntry{}, false
}

// maxBlobCache bounds the blob cache in bytes.
const maxBlobCache = 256 << 20

func (o *objects) cacheBlob(h plumbing.Hash, b string) {
	if o.blobBytes+int64(len(b)) > maxBlobCache {
		clear(o.blobs)
		o.blobBytes = 0
	}
	o.blobs[h] = b
	o.blobBytes += int64(len(b))
}

// blob reads a blob's content.
func (o *objects) blob(h plumbing.Hash) (string, error) {
	o.blobsRead++
	if b, ok := o.blobs[h]; ok {
		o.bytesRead += int64(len(b))
		return b, nil
	}
	if b, ok := o.pre.take(h); ok {
		o.bytesRead += int64(len(b))
		o.cacheBlob(h, b)
		return b, nil
	}
	if typ, data, err := o.packs.read(h); err == nil && typ == plumbing.BlobObject {
		// The pack reader's buffers are never written again: the string
		// can share them.
		b := unsafe.String(unsafe.SliceData(data), len(data))
		o.bytesRead += int64(len(b))
		o.cacheBlob(h, b)
		return b, nil
	}
	obj, err := o.s.EncodedObject(plumbing.BlobObject, h)
	if err != nil {
		return "", fmt.Errorf("blob %s: %w", h, err)
	}
	r, err := obj.Reader()
	if err != nil {
		return "", fmt.Errorf("blob %s: %w", h, err)
	}
	defer r.Close()
	// Read straight into a string of the known size: no growth copies and
	// no []byte-to-string copy.
	var sb strings.Builder
	sb.Grow(int(obj.Size()))
	if _, err := io.Copy(&sb, r); err != nil {
		return "", fmt.Errorf("blob %s: %w", h, err)
	}
	b := sb.String()
	o.bytesRead += int64(len(b))
	o.cacheBlob(h, b)
	return b, nil
}

// writeBlob stores content as a blob.
func (o *objects) writeBlob(content string) (plumbing.Hash, error) {
	// Hashed from the string's memory: io.WriteString would copy it.
	h := plumbing.ComputeHash(plumbing.BlobObject, unsafe.Slice(unsafe.StringData(content), len(content)))
	o.written++
	h, err := o.s.SetEncodedObject(&blobObject{hash: h, content: content})
	if err == nil {
		o.cacheBlob(h, content)
	}
	return h, err
}

// blobObject is a blob held as a string, so that writing a computed file
// costs no copy; it is read-only.
type blobObject struct {
	hash    plumbing.Hash
	content string
}

func (b *blobObject) Hash() plumbing.Hash             { return b.hash }
func (b *blobObject) Type() plumbing.ObjectType       { return plumbing.BlobObject }
func (b *blobObject) SetType(plumbing.ObjectType)     {}
func (b *blobObject) Size() int64                     { return int64(len(b.content)) }
func (b *blobObject) SetSize(int64)                   {}
func (b *blobObject) Writer() (io.WriteCloser, error) { return nil, errors.New("blob is read-only") }
func (b *blobObject) Reader() (io.ReadCloser, error) {
	return io.NopCloser(strings.NewReader(b.content)), nil
}

func (o *objects) writeTree(t *object.Tree) (plumbing.Hash, error) {
	sortEntries(t.Entries)
	data, err := encodeTree(t.Entries)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	o.written++
	h, err := o.s.SetEncodedObject(&rawObject{hash: plumbing.ComputeHash(plumbing.TreeObject, data), typ: plumbing.TreeObject, data: data})
	if err != nil {
		return h, err
	}
	t.Hash = h
	o.trees[h] = t
	return h, nil
}

func (o *objects) writeCommit(c *object.Commit) (plumbing.Hash, error) {
	obj := o.s.NewEncodedObject()
	if err := c.Encode(obj); err != nil {
		return plumbing.ZeroHash, err
	}
	o.written++
	return o.s.SetEncodedObject(obj)
}

// sortEntries puts entries in git's tree order: by name, with directories
// compared as if their name ended in '/'.
func sortEntries(es []object.TreeEntry) {
	if !slices.IsSortedFunc(es, compareEntries) {
		slices.SortStableFunc(es, compareEntries)
	}
}

// compareEntries orders tree entries as git does, without building the
// names with a '/' appended.
func compareEntries(a, b object.TreeEntry) int {
	n := min(len(a.Name), len(b.Name))
	if c := strings.Compare(a.Name[:n], b.Name[:n]); c != 0 {
		return c
	}
	return cmp.Compare(entryByte(a, n), entryByte(b, n))
}

// entryByte is the byte at i of e's sort name (its name, with '/'
// appended for a directory), or -1 past its end.
func entryByte(e object.TreeEntry, i int) int {
	switch {
	case i < len(e.Name):
		return int(e.Name[i])
	case i == len(e.Name) && e.Mode == filemode.Dir:
		return '/'
	}
	return -1
}

// encodeTree encodes sorted entries as a git tree object's content, as
// go-git's Tree.Encode does ("%o %s\x00" and the id for each entry), in one
// buffer of the right size.
func encodeTree(es []object.TreeEntry) ([]byte, error) {
	n := 0
	for _, e := range es {
		if strings.IndexByte(e.Name, 0) >= 0 {
			return nil, fmt.Errorf("malformed filename %q", e.Name)
		}
		n += 7 + 1 + len(e.Name) + 1 + len(e.Hash)
	}
	b := make([]byte, 0, n)
	for _, e := range es {
		b = strconv.AppendUint(b, uint64(e.Mode), 8)
		b = append(b, ' ')
		b = append(b, e.Name...)
		b = append(b, 0)
		b = append(b, e.Hash[:]...)
	}
	return b, nil
}

// decodeTree decodes a tree object's content, as go-git's Tree.Decode does
// (modes made canonical), with names that share data, which must never
// be modified. ok is false when data is not a well-formed tree; go-git
// then reads it again and says why.
func decodeTree(h plumbing.Hash, data []byte) (t *object.Tree, ok bool) {
	t = &object.Tree{Hash: h, Entries: make([]object.TreeEntry, 0, bytes.Count(data, []byte{0}))}
	for len(data) > 0 {
		sp := bytes.IndexByte(data, ' ')
		if sp <= 0 {
			return nil, false
		}
		m, err := strconv.ParseUint(unsafe.String(&data[0], sp), 8, 32)
		if err != nil {
			return nil, false
		}
		data = data[sp+1:]
		nul := bytes.IndexByte(data, 0)
		if nul <= 0 || len(data)-nul-1 < len(plumbing.Hash{}) {
			return nil, false
		}
		e := object.TreeEntry{Name: unsafe.String(&data[0], nul), Mode: canonicalMode(filemode.FileMode(m))}
		data = data[nul+1:]
		copy(e.Hash[:], data)
		data = data[len(e.Hash):]
		t.Entries = append(t.Entries, e)
	}
	return t, true
}

// canonicalMode is the mode go-git's Tree.Decode gives an entry.
func canonicalMode(m filemode.FileMode) filemode.FileMode {
	switch m & 0o170000 {
	case 0o040000:
		return filemode.Dir
	case 0o100000:
		if m&0o111 != 0 {
			return filemode.Executable
		}
		return filemode.Regular
	case 0o120000:
		return filemode.Symlink
	}
	return filemode.Submodule
}

// Edit is a change to one path of a tree: a new Entry, or a deletion when
// Delete is set.
type Edit struct {
	Entry  Entry
	Delete bool
}

// ErrDirFile says that an edit would put a file and a directory at the
// same path (see ApplyEdits).
var ErrDirFile = errors.New("a file and a directory would have the same path")

// SymlinkError is an edit to a path below a symbolic link, such as
// evil/passwd when evil is a link to /etc. A git tree cannot hold a link
// and a directory at one path, and a checkout would write through the link,
// so the edit is refused; errors.Is(err, ErrDirFile) holds.
type SymlinkError struct {
	Path string // the edited path
	Link string // the symbolic link on the way to it
}

// Error names the path and the link.
func (e *SymlinkError) Error() string {
	return fmt.Sprintf("%s: the path goes through symbolic link %s", e.Path, e.Link)
}

// Unwrap returns ErrDirFile: a link is a file where a directory would be.
func (e *SymlinkError) Unwrap() error { return ErrDirFile }

// ErrUnsafePath says that an edit would write a path that git refuses in
// a tree (see ApplyEdits).
var ErrUnsafePath = errors.New("a path git refuses in a tree")

// applyEdits writes the trees for root with the edits applied and returns
// the new root. Only the trees on the edited paths are rewritten.
func (o *objects) applyEdits(root plumbing.Hash, edits map[string]Edit) (plumbing.Hash, error) {
	if len(edits) == 0 {
		return root, nil
	}
	if err := checkPaths(edits); err != nil {
		return plumbing.ZeroHash, err
	}
	return o.editTree(root, "", edits)
}

// checkPaths refuses edits that write a path git refuses in a tree
// (gitpath.Verify: .git under any name, .gitmodules as a symbolic link,
// empty, "." and ".." components), naming the least such path. Patch
// parsing refuses them first; this is the last line, for any other way a
// path may come in. A deletion writes nothing and is not checked.
func checkPaths(edits map[string]Edit) error {
	bad, why := "", error(nil)
	for p, e := range edits {
		if e.Delete || bad != "" && p > bad {
			continue
		}
		if err := gitpath.Verify(p, uint32(e.Entry.Mode)); err != nil {
			bad, why = p, err
		}
	}
	if bad != "" {
		return fmt.Errorf("%q: %w: %v", bad, ErrUnsafePath, why)
	}
	return nil
}

func (o *objects) editTree(h plumbing.Hash, prefix string, edits map[string]Edit) (plumbing.Hash, error) {
	old, err := o.tree(h)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	t := &object.Tree{Entries: append([]object.TreeEntry(nil), old.Entries...)}
	// Group the edits by their first path component.
	leaf := map[string]Edit{}
	sub := map[string]map[string]Edit{}
	for p, e := range edits {
		first, rest, deeper := strings.Cut(p, "/")
		if !deeper {
			leaf[first] = e
			continue
		}
		if sub[first] == nil {
			sub[first] = map[string]Edit{}
		}
		sub[first][rest] = e
	}
	index := func(name string) int {
		for i, e := range t.Entries {
			if e.Name == name {
				return i
			}
		}
		return -1
	}
	for name, e := range leaf {
		i := index(name)
		if i >= 0 && t.Entries[i].Mode == filemode.Dir {
			if _, alsoSub := sub[name]; !(e.Delete && !alsoSub) {
				return plumbing.ZeroHash, fmt.Errorf("%s%s: %w", prefix, name, ErrDirFile)
			}
		}
		switch {
		case e.Delete && i >= 0:
			t.Entries = append(t.Entries[:i], t.Entries[i+1:]...)
		case e.Delete:
		case i >= 0:
			t.Entries[i] = object.TreeEntry{Name: name, Mode: e.Entry.Mode, Hash: e.Entry.Hash}
		default:
			t.Entries = append(t.Entries, object.TreeEntry{Name: name, Mode: e.Entry.Mode, Hash: e.Entry.Hash})
		}
	}
	for name, es := range sub {
		i := index(name)
		child := emptyTree
		if i >= 0 {
			if t.Entries[i].Mode == filemode.Symlink {
				return plumbing.ZeroHash, &SymlinkError{Path: prefix + name + "/" + firstPath(es), Link: prefix + name}
			}
			if t.Entries[i].Mode != filemode.Dir {
				return plumbing.ZeroHash, fmt.Errorf("%s%s: %w", prefix, name, ErrDirFile)
			}
			child = t.Entries[i].Hash
		}
		nh, err := o.editTree(child, prefix+name+"/", es)
		if err != nil {
			return plumbing.ZeroHash, err
		}
		switch {
		case nh == emptyTree && i >= 0:
			t.Entries = append(t.Entries[:i], t.Entries[i+1:]...)
		case nh == emptyTree:
		case i >= 0:
			t.Entries[i].Hash = nh
		default:
			t.Entries = append(t.Entries, object.TreeEntry{Name: name, Mode: filemode.Dir, Hash: nh})
		}
	}
	if len(t.Entries) == 0 {
		return emptyTree, nil
	}
	return o.writeTree(t)
}

// linkOnPath returns the first directory on the way to path in root that
// is a symbolic link, or "" when there is none.
func (o *objects) linkOnPath(root plumbing.Hash, path string) (string, error) {
	for i := strings.IndexByte(path, '/'); i >= 0; {
		en, ok, err := o.lookup(root, path[:i])
		if err != nil {
			return "", err
		}
		if !ok {
			return "", nil
		}
		if en.Mode == filemode.Symlink {
			return path[:i], nil
		}
		j := strings.IndexByte(path[i+1:], '/')
		if j < 0 {
			break
		}
		i += 1 + j
	}
	return "", nil
}

// firstPath returns the least path edited, so that errors are reproducible.
func firstPath(edits map[string]Edit) string {
	first := ""
	for p := range edits {
		if first == "" || p < first {
			first = p
		}
	}
	return first
}

// findBlob returns the first path (in tree order) under root whose blob is h,
// or "" when there is none.
func (o *objects) findBlob(root plumbing.Hash, prefix string, h plumbing.Hash) (string, error) {
	t, err := o.tree(root)
	if err != nil {
		return "", err
	}
	for _, e := range t.Entries {
		switch {
		case e.Mode == filemode.Dir:
			p, err := o.findBlob(e.Hash, prefix+e.Name+"/", h)
			if err != nil || p != "" {
				return p, err
			}
		case e.Hash == h && e.Mode != filemode.Submodule:
			return prefix + e.Name, nil
		}
	}
	return "", nil
}

// Change is a path whose file differs between two trees; a side that
// has no file there is absent (HasFrom or HasTo false).
type Change struct {
	Path     string
	From, To Entry
	HasFrom  bool
	HasTo    bool
}

// changes lists the files that differ between trees a and b, in path
// order, descending only into subtrees whose ids differ.
func (o *objects) changes(a, b plumbing.Hash, prefix string, out []Change) ([]Change, error) {
	if a == b {
		return out, nil
	}
	var ta, tb *object.Tree
	var err error
	if !a.IsZero() {
		if ta, err = o.tree(a); err != nil {
			return nil, err
		}
	} else {
		ta = &object.Tree{}
	}
	if !b.IsZero() {
		if tb, err = o.tree(b); err != nil {
			return nil, err
		}
	} else {
		tb = &object.Tree{}
	}
	names := map[string][2]*object.TreeEntry{}
	for i := range ta.Entries {
		e := &ta.Entries[i]
		n := names[e.Name]
		n[0] = e
		names[e.Name] = n
	}
	for i := range tb.Entries {
		e := &tb.Entries[i]
		n := names[e.Name]
		n[1] = e
		names[e.Name] = n
	}
	keys := make([]string, 0, len(names))
	for k := range names {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		ea, eb := names[k][0], names[k][1]
		path := prefix + k
		var subA, subB plumbing.Hash
		fc := Change{Path: path}
		if ea != nil {
			if ea.Mode == filemode.Dir {
				subA = ea.Hash
			} else {
				fc.From, fc.HasFrom = Entry{ea.Hash, ea.Mode}, true
			}
		}
		if eb != nil {
			if eb.Mode == filemode.Dir {
				subB = eb.Hash
			} else {
				fc.To, fc.HasTo = Entry{eb.Hash, eb.Mode}, true
			}
		}
		if (fc.HasFrom || fc.HasTo) && fc.From != fc.To {
			out = append(out, fc)
		}
		if !subA.IsZero() || !subB.IsZero() {
			if out, err = o.changes(subA, subB, path+"/", out); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// Lookup finds path in the tree root. ok is false when there is no file
// there (a directory at path counts as no file).
func (s *Store) Lookup(root plumbing.Hash, path string) (e Entry, ok bool, err error) {
	return s.obj.lookup(root, path)
}

// Blob returns a blob's content, from memory or the repository.
func (s *Store) Blob(h plumbing.Hash) (string, error) { return s.obj.blob(h) }

// WriteBlob stores content as a blob, in memory until Persist.
func (s *Store) WriteBlob(content string) (plumbing.Hash, error) { return s.obj.writeBlob(content) }

// WriteCommit stores c as a commit, in memory until Persist.
func (s *Store) WriteCommit(c *object.Commit) (plumbing.Hash, error) { return s.obj.writeCommit(c) }

// ApplyEdits writes the trees for root with the edits (by path) applied and
// returns the new root; only the trees on the edited paths are rewritten,
// and directories left empty disappear. An edit that would put a file and a
// directory at one path, or write below a symbolic link, is an error for
// which errors.Is(err, ErrDirFile) holds; one that would write a path git
// refuses in a tree (package gitpath) is an error for which
// errors.Is(err, ErrUnsafePath) holds, and nothing is written.
func (s *Store) ApplyEdits(root plumbing.Hash, edits map[string]Edit) (plumbing.Hash, error) {
	return s.obj.applyEdits(root, edits)
}

// LinkOnPath returns the first directory on the way to path in root that
// is a symbolic link, or "" when there is none.
func (s *Store) LinkOnPath(root plumbing.Hash, path string) (string, error) {
	return s.obj.linkOnPath(root, path)
}

// FindBlob returns the first path (in tree order) under root whose blob is
// h, or "" when there is none.
func (s *Store) FindBlob(root, h plumbing.Hash) (string, error) { return s.obj.findBlob(root, "", h) }

// Changes lists the files that differ between trees a and b (zero for no
// tree), in path order, descending only into subtrees whose ids differ.
func (s *Store) Changes(a, b plumbing.Hash) ([]Change, error) { return s.obj.changes(a, b, "", nil) }
