package objstore

import (
	"fmt"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
)

// overlay is an object store that keeps new objects in memory in front of
// the repository's. A rebase writes hundreds of intermediate blobs, trees
// and commits (the materialised queue, every patch's step); only those the
// result needs are persisted, in one pack, by persist.
type overlay struct {
	base storer.EncodedObjectStorer
	// packDir is the repository's objects/pack directory; persist writes
	// there, or falls back to loose objects through base when it is "".
	packDir string
	// stale is set when a pack was written that base has not indexed.
	stale bool
	mem   map[plumbing.Hash]plumbing.EncodedObject
	// memBytes is the size of the objects held, bounded by maxOverlayBytes.
	memBytes int64
}

// maxOverlayBytes bounds the new objects a run may hold in memory; a 70-patch
// RT queue on a kernel tree needs about 60 MiB.
const maxOverlayBytes = 1 << 30

func newOverlay(base storer.EncodedObjectStorer, packDir string) *overlay {
	return &overlay{base: base, packDir: packDir, mem: map[plumbing.Hash]plumbing.EncodedObject{}}
}

func (o *overlay) NewEncodedObject() plumbing.EncodedObject { return &plumbing.MemoryObject{} }

func (o *overlay) SetEncodedObject(obj plumbing.EncodedObject) (plumbing.Hash, error) {
	h := obj.Hash()
	if _, ok := o.mem[h]; ok {
		return h, nil
	}
	if o.memBytes+obj.Size() > maxOverlayBytes {
		return plumbing.ZeroHash, fmt.Errorf("new objects exceed %d bytes", int64(maxOverlayBytes))
	}
	o.memBytes += obj.Size()
	o.mem[h] = obj
	return h, nil
}

func (o *overlay) EncodedObject(t plumbing.ObjectType, h plumbing.Hash) (plumbing.EncodedObject, error) {
	if obj, ok := o.mem[h]; ok {
		if t != plumbing.AnyObject && obj.Type() != t {
			return nil, plumbing.ErrObjectNotFound
		}
		return obj, nil
	}
	return o.base.EncodedObject(t, h)
}

func (o *overlay) IterEncodedObjects(t plumbing.ObjectType) (storer.EncodedObjectIter, error) {
	return o.base.IterEncodedObjects(t)
}

func (o *overlay) HasEncodedObject(h plumbing.Hash) error {
	if _, ok := o.mem[h]; ok {
		return nil
	}
	return o.base.HasEncodedObject(h)
}

func (o *overlay) EncodedObjectSize(h plumbing.Hash) (int64, error) {
	if obj, ok := o.mem[h]; ok {
		return obj.Size(), nil
	}
	return o.base.EncodedObjectSize(h)
}

func (o *overlay) AddAlternate(remote string) error { return o.base.AddAlternate(remote) }

// persist writes the in-memory objects reachable from heads into the
// repository as one pack (or loose objects when the store cannot take a
// pack) and returns how many it wrote. Objects already in the repository
// are not rewritten.
func (o *overlay) persist(heads ...plumbing.Hash) (int, error) {
	var order []plumbing.Hash
	seen := map[plumbing.Hash]bool{}
	var walk func(h plumbing.Hash) error
	walk = func(h plumbing.Hash) error {
		obj, ok := o.mem[h]
		if !ok || seen[h] {
			return nil
		}
		seen[h] = true
		order = append(order, h)
		switch obj.Type() {
		case plumbing.CommitObject:
			c := &object.Commit{}
			if err := c.Decode(obj); err != nil {
				return err
			}
			if err := walk(c.TreeHash); err != nil {
				return err
			}
			for _, p := range c.ParentHashes {
				if err := walk(p); err != nil {
					return err
				}
			}
		case plumbing.TreeObject:
			t, err := decodeOverlayTree(obj)
			if err != nil {
				return err
			}
			for _, e := range t.Entries {
				if e.Mode == filemode.Submodule {
					continue
				}
				if err := walk(e.Hash); err != nil {
					return err
				}
			}
		}
		return nil
	}
	for _, h := range heads {
		if err := walk(h); err != nil {
			return 0, fmt.Errorf("collecting new objects: %w", err)
		}
	}
	if len(order) == 0 {
		return 0, nil
	}
	var fresh []plumbing.EncodedObject
	for _, h := range order {
		if o.base.HasEncodedObject(h) != nil {
			fresh = append(fresh, o.mem[h])
		}
	}
	if len(fresh) == 0 {
		return 0, nil
	}
	if o.packDir != "" {
		if err := writePack(o.packDir, fresh); err != nil {
			return 0, fmt.Errorf("writing pack: %w", err)
		}
		// The open store does not see the new pack until it re-reads the
		// pack indexes (see Store.Repository); meanwhile the objects stay
		// readable from memory.
		o.stale = true
		return len(fresh), nil
	}
	for _, obj := range fresh {
		if _, err := o.base.SetEncodedObject(obj); err != nil {
			return 0, fmt.Errorf("writing object %s: %w", obj.Hash(), err)
		}
	}
	return len(fresh), nil
}

// decodeOverlayTree decodes a tree the store wrote (held as its content)
// without go-git's reader, or any other through go-git.
func decodeOverlayTree(obj plumbing.EncodedObject) (*object.Tree, error) {
	if r, ok := obj.(*rawObject); ok {
		if t, ok := decodeTree(r.hash, r.data); ok {
			return t, nil
		}
	}
	t := &object.Tree{}
	if err := t.Decode(obj); err != nil {
		return nil, err
	}
	return t, nil
}
