// Package objstore is rtbot's git object store: it opens a repository
// (bare or not, with its alternates) once, reads blobs and trees straight
// from the repository's packs, reads ahead on another core the blobs a
// rebase is about to need, keeps the objects it writes in memory until they
// are persisted as one pack, rewrites only the trees on edited paths, and
// moves refs with git's lock-file protocol and a compare-and-swap.
//
// It knows nothing of patches or merges: package merger rebases with it.
package objstore

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/go-git/go-billy/v5/osfs"
	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage"
	"github.com/go-git/go-git/v5/storage/filesystem"
	"github.com/rtbot/rtbot/internal/refname"
)

// Options configure a Store.
type Options struct {
	// CacheBytes bounds go-git's object cache; default 64 MiB.
	CacheBytes int64
}

// Store is an open repository's object store. New objects (WriteBlob,
// ApplyEdits, WriteCommit) are kept in memory and readable at once; only
// Persist writes them to the repository. A Store is not safe for concurrent
// use.
type Store struct {
	repo   *git.Repository
	gitDir string
	// warm delivers the prefetcher's own store, opened in the background.
	warm <-chan *filesystem.Storage
	mem  *overlay // new objects, in memory until a result is persisted
	// packs reads packed blobs and trees for the store and the
	// prefetcher; nil when the packs could not be listed.
	packs *packReader
	obj   *objects
	// persisted counts the objects written to the repository.
	persisted int64
}

// Open opens the git repository at path (bare or not) once; every
// operation of the store uses it.
func Open(path string, opts Options) (*Store, error) {
	if opts.CacheBytes <= 0 {
		opts.CacheBytes = 64 << 20
	}
	gitDir, _, err := findGitDir(path)
	if err != nil {
		return nil, err
	}
	fst := filesystem.NewStorageWithOptions(osfs.New(gitDir), cache.NewObjectLRU(cache.FileSize(opts.CacheBytes)), storageOptions())
	var st storage.Storer = fst
	packDir := filepath.Join(gitDir, "objects", "pack")
	packs, _ := openPackReader(packDir) // nil: go-git reads everything
	if packs != nil {
		st = &packedStorage{Storage: fst, packs: packs}
	}
	repo, err := git.Open(st, nil)
	if err != nil {
		packs.Close()
		return nil, fmt.Errorf("repository %s: %w", path, err)
	}
	mem := newOverlay(st, packDir)
	obj := newObjects(mem)
	obj.packs = packs
	return &Store{repo: repo, gitDir: gitDir, warm: warmStore(gitDir), mem: mem, packs: packs, obj: obj}, nil
}

// Close releases the repository's open files.
func (s *Store) Close() error {
	if s.obj.pre == nil {
		go func() {
			if st := <-s.warm; st != nil {
				st.Close()
			}
		}()
	} else {
		// Blobs not yet read ahead are no longer needed; the prefetcher
		// closes its own store when it stops.
		s.obj.pre.cancel()
	}
	s.packs.Close() // waits for a read the prefetcher is doing
	if c, ok := s.repo.Storer.(interface{ Close() error }); ok {
		return c.Close()
	}
	return nil
}

// Repository returns the underlying go-git repository, with every object
// the store persisted visible in it.
func (s *Store) Repository() *git.Repository {
	if s.mem.stale {
		if r, ok := s.repo.Storer.(interface{ Reindex() }); ok {
			r.Reindex()
		}
		s.mem.stale = false
	}
	return s.repo
}

// RevParse turns a revision (tag, branch, commit id) into a commit id, as
// `git rev-parse` does.
func (s *Store) RevParse(rev string) (plumbing.Hash, error) {
	if !refname.Revision(rev) {
		return plumbing.ZeroHash, fmt.Errorf("revision %q: not a valid revision", rev)
	}
	h, err := s.Repository().ResolveRevision(plumbing.Revision(rev))
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("revision %s: %w", rev, err)
	}
	return *h, nil
}

// Commit reads commit h from the repository (not from the objects in
// memory).
func (s *Store) Commit(h plumbing.Hash) (*object.Commit, error) {
	// Through Repository: a commit the store persisted is in a pack the
	// pack reader must be told of, or go-git would load every pack
	// index to look for it (~1 GB at 10 million objects).
	c, err := object.GetCommit(s.Repository().Storer, h)
	if err != nil {
		return nil, fmt.Errorf("commit %s: %w", h, err)
	}
	return c, nil
}

// ExpandBlob resolves a possibly abbreviated blob id, as a diff's "index"
// line gives it, to the one blob of the repository it names; ok is false
// when there is none or more than one.
func (s *Store) ExpandBlob(id string) (h plumbing.Hash, ok bool) {
	if len(id) == 40 {
		h := plumbing.NewHash(id)
		_, err := s.Repository().Storer.EncodedObject(plumbing.BlobObject, h)
		return h, err == nil
	}
	type prefixer interface {
		HashesWithPrefix(prefix []byte) ([]plumbing.Hash, error)
	}
	p, ok := s.repo.Storer.(prefixer)
	if !ok || len(id)%2 != 0 && len(id) < 7 {
		return plumbing.ZeroHash, false
	}
	b := make([]byte, len(id)/2)
	for i := range b {
		if _, err := fmt.Sscanf(id[2*i:2*i+2], "%02x", &b[i]); err != nil {
			return plumbing.ZeroHash, false
		}
	}
	hs, err := p.HashesWithPrefix(b)
	if err != nil {
		return plumbing.ZeroHash, false
	}
	var found []plumbing.Hash
	for _, h := range hs {
		if strings.HasPrefix(h.String(), id) {
			if _, err := s.repo.Storer.EncodedObject(plumbing.BlobObject, h); err == nil {
				found = append(found, h)
			}
		}
	}
	if len(found) != 1 {
		return plumbing.ZeroHash, false
	}
	return found[0], true
}

// Prefetch starts reading, on another core, the blobs at paths in the
// trees of commits, in that order, so that Blob finds them in memory. It is
// an optimisation only, and once per store: later calls do nothing.
func (s *Store) Prefetch(ctx context.Context, commits []plumbing.Hash, paths []string) {
	if s.obj.pre != nil {
		return // one prefetch per store: it owns the warm store
	}
	var roots []plumbing.Hash
	for _, h := range commits {
		if c, err := s.Commit(h); err == nil {
			roots = append(roots, c.TreeHash)
		}
	}
	if len(roots) == 0 || len(paths) == 0 {
		return
	}
	s.obj.pre = startPrefetch(ctx, s.warm, s.packs, roots, paths)
}

// Persist writes the new objects reachable from the given commits into the
// repository, as one pack. Objects that only served a computation are
// never written.
func (s *Store) Persist(heads ...plumbing.Hash) error {
	n, err := s.mem.persist(heads...)
	s.persisted += int64(n)
	return err
}

// Stats counts the work a store did.
type Stats struct {
	BlobsRead      int64 // blobs read from the repository or memory
	BytesRead      int64 // their total size
	ObjectsCreated int64 // blobs, trees and commits computed
	ObjectsWritten int64 // of those, written to the repository
}

// Stats returns the object counts so far.
func (s *Store) Stats() Stats {
	return Stats{BlobsRead: s.obj.blobsRead, BytesRead: s.obj.bytesRead, ObjectsCreated: s.obj.written, ObjectsWritten: s.persisted}
}
