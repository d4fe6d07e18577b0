package merger

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
// its own store (own file descriptors and caches), so nothing is shared
// with the engine but the results, handed over under a mutex.
type prefetcher struct {
	cancel context.CancelFunc
	mu     sync.Mutex
	got    map[plumbing.Hash]string
	done   chan struct{}
}

// take returns a prefetched blob, once.
func (p *prefetcher) take(h plumbing.Hash) (string, bool) {
	if p == nil {
		return "", false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	b, ok := p.got[h]
	if ok {
		delete(p.got, h)
	}
	return b, ok
}

// warmStore opens a second store on gitDir and loads its pack indexes in
// the background (the first object access does that, and it takes as long
// as a tenth of a rebase), so that the prefetcher can start at once.
func warmStore(gitDir string) <-chan *filesystem.Storage {
	ch := make(chan *filesystem.Storage, 1)
	go func() {
		st := filesystem.NewStorageWithOptions(osfs.New(gitDir), cache.NewObjectLRU(32<<20), filesystem.Options{KeepDescriptors: true})
		_ = st.HasEncodedObject(plumbing.ZeroHash)
		ch <- st
	}()
	return ch
}

// startPrefetch reads the files at paths in the trees roots, in order, until
// done or ctx ends, with the store warm delivers. Errors are ignored: the
// engine reads what is missing itself and reports errors then.
func startPrefetch(ctx context.Context, warm <-chan *filesystem.Storage, roots []plumbing.Hash, paths []string) *prefetcher {
	ctx, cancel := context.WithCancel(ctx)
	p := &prefetcher{cancel: cancel, got: map[plumbing.Hash]string{}, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		st := <-warm
		defer st.Close()
		o := newObjects(st)
		seen := map[plumbing.Hash]bool{}
		for _, path := range paths {
			for _, root := range roots {
				if ctx.Err() != nil {
					return
				}
				en, ok, err := o.lookup(root, path)
				if err != nil || !ok || seen[en.Hash] {
					continue
				}
				seen[en.Hash] = true
				b, err := o.blob(en.Hash)
				if err != nil {
					continue
				}
				clear(o.blobs) // handed over, not kept twice
				o.blobBytes = 0
				p.mu.Lock()
				p.got[en.Hash] = b
				p.mu.Unlock()
			}
		}
	}()
	return p
}
