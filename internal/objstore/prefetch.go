package objstore

import (
	"context"
	"sync"

	"github.com/go-git/go-billy/v5/osfs"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/storage/filesystem"
)

// prefetcher reads, on another core, the blobs a rebase is about to need:
// the base and candidate versions of every file the queue touches. Reading
// a packed blob (inflate, resolve its delta chain) is most of the cost of a
// rebase; the main goroutine meanwhile parses and applies patches. It has
// its own store (own file descriptors and caches) for what the pack
// reader it shares with the store cannot read, so nothing else is shared
// with the store but the results, handed over under a mutex.
//
// Each blob is read once: whoever claims it first reads it. The store
// waits for a blob the prefetcher is reading, and reads itself (and claims)
// one the prefetcher has not reached yet, so both cores work down the same
// list without duplicating work.
type prefetcher struct {
	cancel context.CancelFunc
	mu     sync.Mutex
	slots  map[plumbing.Hash]*slot
}

// slot is one blob's hand-over.
type slot struct {
	byPrefetcher bool          // claimed by the prefetcher (else by the store)
	ready        chan struct{} // closed when the prefetcher's read finished
	content      string
	ok           bool
}

// take returns a blob the prefetcher read, waiting if it is reading it right
// now. ok is false when the caller must read the blob itself; the blob is
// then claimed so the prefetcher skips it.
func (p *prefetcher) take(h plumbing.Hash) (string, bool) {
	if p == nil {
		return "", false
	}
	p.mu.Lock()
	s := p.slots[h]
	if s == nil || !s.byPrefetcher {
		p.slots[h] = &slot{} // claimed by the store
		p.mu.Unlock()
		return "", false
	}
	p.mu.Unlock()
	<-s.ready
	p.mu.Lock()
	delete(p.slots, h)
	p.mu.Unlock()
	return s.content, s.ok
}

// warmStore opens a second store on gitDir for the prefetcher. It reads
// only what the pack reader cannot (loose objects), so its pack indexes,
// which take as long as a tenth of a rebase to load, are loaded only if
// it needs them.
func warmStore(gitDir string) <-chan *filesystem.Storage {
	ch := make(chan *filesystem.Storage, 1)
	go func() {
		ch <- filesystem.NewStorageWithOptions(osfs.New(gitDir), cache.NewObjectLRU(32<<20), storageOptions())
	}()
	return ch
}

// startPrefetch reads the files at paths in the trees roots, in order, until
// done or ctx ends, with the store warm delivers. Errors are not reported
// here: the store reads what the prefetcher could not, and reports then.
func startPrefetch(ctx context.Context, warm <-chan *filesystem.Storage, packs *packReader, roots []plumbing.Hash, paths []string) *prefetcher {
	ctx, cancel := context.WithCancel(ctx)
	p := &prefetcher{cancel: cancel, slots: map[plumbing.Hash]*slot{}}
	go func() {
		st := <-warm
		defer st.Close()
		o := newObjects(st)
		o.packs = packs
		// In the order the store will want them, each blob as soon as
		// its path is looked up: the store needs the first ones at once.
		seen := map[plumbing.Hash]bool{}
		for _, root := range roots {
			for _, path := range paths {
				if ctx.Err() != nil {
					return
				}
				en, ok, err := o.lookup(root, path)
				if err != nil || !ok || seen[en.Hash] {
					continue
				}
				h := en.Hash
				seen[h] = true
				p.mu.Lock()
				if p.slots[h] != nil { // the store has it already
					p.mu.Unlock()
					continue
				}
				s := &slot{byPrefetcher: true, ready: make(chan struct{})}
				p.slots[h] = s
				p.mu.Unlock()
				if ctx.Err() == nil {
					s.content, s.ok = readBlob(o, h)
				}
				close(s.ready)
			}
		}
	}()
	return p
}

func readBlob(o *objects, h plumbing.Hash) (string, bool) {
	b, err := o.blob(h)
	clear(o.blobs) // handed over, not kept twice
	o.blobBytes = 0
	return b, err == nil
}
