package merger

import (
	"context"
	"errors"
	"fmt"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/rtbot/rtbot/internal/objstore"
	"github.com/rtbot/rtbot/internal/patchqueue"
	"github.com/rtbot/rtbot/internal/refname"
)

// Identity is who rtbot commits as.
type Identity struct {
	Name  string
	Email string
}

// Options configure an Engine.
type Options struct {
	// Committer is written as the committer of every commit; the author
	// comes from the patch. Defaults to "rtbot <rtbot@localhost>".
	Committer Identity
	// Now returns the committer time; defaults to time.Now. Tests fix it to
	// make commits reproducible.
	Now func() time.Time
	// Fuzz is the number of context lines a hunk may ignore at each end
	// (GNU patch's --fuzz). 0, the default, is git's behaviour.
	Fuzz int
	// CacheBytes bounds go-git's object cache; default 64 MiB.
	CacheBytes int64
	// Step, when not nil, is called after each patch of a rebase with the
	// number of patches done and the total; an error it returns stops the
	// rebase with that error. Progress displays and crash tests use it.
	Step func(done, total int) error
	// Resolutions, when not nil, are remembered conflict resolutions: a
	// conflict that one of them resolved before is resolved the same way
	// (outcome Resolved) when its changes still fit.
	Resolutions Resolutions
}

// Engine is an open repository and the settings to rebase in it.
type Engine struct {
	store *objstore.Store
	opts  Options
}

// Open opens the git repository at path (bare or not) once; every operation
// of the engine uses it.
func Open(path string, opts Options) (*Engine, error) {
	if opts.Committer.Name == "" {
		opts.Committer = Identity{Name: "rtbot", Email: "rtbot@localhost"}
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	st, err := objstore.Open(path, objstore.Options{CacheBytes: opts.CacheBytes})
	if err != nil {
		return nil, err
	}
	return &Engine{store: st, opts: opts}, nil
}

// Close releases the repository's open files.
func (e *Engine) Close() error { return e.store.Close() }

// Repository returns the underlying go-git repository, with every object
// the engine persisted visible in it.
func (e *Engine) Repository() *git.Repository { return e.store.Repository() }

// RevParse turns a revision (tag, branch, commit id) into a commit id, as
// `git rev-parse` does.
func (e *Engine) RevParse(rev string) (plumbing.Hash, error) { return e.store.RevParse(rev) }

// Step is one patch of a queue materialised as a commit on the queue's base.
type Step struct {
	Patch      *patchqueue.Patch
	Commit     plumbing.Hash // zero for a malformed patch, or without a base
	ParentTree plumbing.Hash
	Tree       plumbing.Hash
	// BlockedBy names the malformed patch this one needs: it did not apply
	// to the base without it (Err says how). Such a step has no commit.
	BlockedBy string
	Err       error
}

// ApplyError says that a queue does not apply to its own base.
type ApplyError struct {
	Patch *patchqueue.Patch
	File  string
	Hunk  int // 1-based, 0 for a file-level problem
	Line  int // the hunk's line in the pre-image
	Err   error
}

// Error names the patch, hunk and place.
func (e *ApplyError) Error() string {
	s := fmt.Sprintf("patch %s", e.Patch.Name)
	if e.Hunk > 0 {
		s += fmt.Sprintf(" hunk %d (%s:%d)", e.Hunk, e.File, e.Line)
	} else if e.File != "" {
		s += fmt.Sprintf(" (%s)", e.File)
	}
	return s + ": " + e.Err.Error()
}

// Unwrap returns the cause.
func (e *ApplyError) Unwrap() error { return e.Err }

// Materialise applies every patch of q exactly (or at a line offset) on top
// of base and writes one commit per patch, giving each patch's true pre- and
// post-image. Malformed patches are skipped (their Step has no commit); a
// patch that does not apply is an *ApplyError, unless a malformed patch came
// before it: then its Step says BlockedBy that patch and the queue goes on.
func (e *Engine) Materialise(ctx context.Context, q *patchqueue.Queue, base plumbing.Hash) ([]Step, error) {
	bc, err := e.store.Commit(base)
	if err != nil {
		return nil, err
	}
	tip, tree := base, bc.TreeHash
	malformed := ""          // the last malformed patch, which later ones may need
	e.Prefetch(ctx, q, base) // no-op when the caller already started one
	steps := make([]Step, 0, len(q.Patches))
	for _, p := range q.Patches {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		st := Step{Patch: p, ParentTree: tree, Tree: tree}
		if p.Err != nil {
			malformed = p.Name
			steps = append(steps, st)
			continue
		}
		edits := map[string]objstore.Edit{}
		var failed error
		for _, f := range p.Files {
			if err := e.applyExact(tree, p, f, edits); err != nil {
				failed = err
				break
			}
		}
		if failed != nil && malformed != "" {
			// Not the queue's fault as such: it most likely needs the
			// patch that could not be read. Record it and go on.
			st.BlockedBy, st.Err = malformed, failed
			steps = append(steps, st)
			continue
		}
		if failed != nil {
			return nil, failed
		}
		nt, err := e.store.ApplyEdits(tree, edits)
		if err != nil {
			return nil, &ApplyError{Patch: p, Err: err}
		}
		c, err := e.writeCommit(p, nt, tip)
		if err != nil {
			return nil, err
		}
		st.Commit, st.Tree = c, nt
		tip, tree = c, nt
		steps = append(steps, st)
	}
	return steps, nil
}

// Prefetch starts reading, on another core, the blobs of every file q
// touches in the given commits (typically the queue's base and the
// candidate), so the rebase finds them in memory. It is an optimisation
// only; Materialise calls it with the base unless the caller already did,
// typically with the base and the candidate.
func (e *Engine) Prefetch(ctx context.Context, q *patchqueue.Queue, commits ...plumbing.Hash) {
	var paths []string
	seen := map[string]bool{}
	for _, p := range q.Patches {
		for _, f := range p.Files {
			if f.OldPath != "" && !seen[f.OldPath] {
				seen[f.OldPath] = true
				paths = append(paths, f.OldPath)
			}
		}
	}
	e.store.Prefetch(ctx, commits, paths)
}

// applyExact applies one file diff with hunks only (no 3-way) and records
// the edit.
func (e *Engine) applyExact(tree plumbing.Hash, p *patchqueue.Patch, f *patchqueue.File, edits map[string]objstore.Edit) error {
	ae := func(hunk, line int, err error) error {
		return &ApplyError{Patch: p, File: f.Path(), Hunk: hunk, Line: line, Err: err}
	}
	cur := ""
	var mode filemode.FileMode = filemode.Regular
	if f.Op != patchqueue.OpAdd {
		en, ok, err := e.store.Lookup(tree, f.OldPath)
		if err != nil {
			return ae(0, 0, err)
		}
		if !ok {
			return ae(0, 0, errors.New("file does not exist"))
		}
		if cur, err = e.store.Blob(en.Hash); err != nil {
			return ae(0, 0, err)
		}
		mode = en.Mode
	} else if _, ok, _ := e.store.Lookup(tree, f.NewPath); ok {
		return ae(0, 0, errors.New("file to be created already exists"))
	}
	out, res, ok := patchqueue.ApplyHunks(cur, f.Hunks, e.opts.Fuzz)
	if !ok {
		for _, r := range res {
			if r.Failed {
				return ae(r.Index, f.Hunks[r.Index-1].OldStart, errors.New("does not apply"))
			}
		}
	}
	if f.NewMode != 0 {
		mode = filemode.FileMode(f.NewMode)
	}
	switch f.Op {
	case patchqueue.OpDelete:
		if out != "" {
			return ae(0, 0, errors.New("deletion patch leaves content behind"))
		}
		edits[f.OldPath] = objstore.Edit{Delete: true}
		return nil
	case patchqueue.OpRename:
		edits[f.OldPath] = objstore.Edit{Delete: true}
	}
	h, err := e.store.WriteBlob(out)
	if err != nil {
		return ae(0, 0, err)
	}
	edits[f.NewPath] = objstore.Edit{Entry: objstore.Entry{Hash: h, Mode: mode}}
	return nil
}

func (e *Engine) signature(id Identity, when time.Time) object.Signature {
	return object.Signature{Name: id.Name, Email: id.Email, When: when}
}

func (e *Engine) writeCommit(p *patchqueue.Patch, tree, parent plumbing.Hash) (plumbing.Hash, error) {
	now := e.opts.Now()
	author := e.signature(Identity{Name: p.AuthorName, Email: p.AuthorEmail}, p.Date)
	if p.AuthorName == "" && p.AuthorEmail == "" {
		author = e.signature(e.opts.Committer, now)
	}
	if p.Date.IsZero() {
		author.When = now
	}
	c := &object.Commit{
		Author:       author,
		Committer:    e.signature(e.opts.Committer, now),
		Message:      p.Message(),
		TreeHash:     tree,
		ParentHashes: []plumbing.Hash{parent},
	}
	return e.store.WriteCommit(c)
}

// Stats returns the object counts so far.
func (e *Engine) Stats() Stats { return Stats(e.store.Stats()) }

// Persist writes the new objects reachable from the given commits into the
// repository, as one pack. Rebase calls it for its result; objects that only
// served the computation (the materialised queue) are never written.
func (e *Engine) Persist(heads ...plumbing.Hash) error { return e.store.Persist(heads...) }

// UpdateBranch points refs/heads/name at h if it still points at old (zero:
// the branch must not exist yet). It moves no other ref.
func (e *Engine) UpdateBranch(name string, h, old plumbing.Hash) error {
	return e.store.UpdateBranch(name, h, old)
}

// BranchHead returns where refs/heads/name points, or zero if it does not exist.
func (e *Engine) BranchHead(name string) (plumbing.Hash, error) { return e.store.BranchHead(name) }

// WriteRef moves ref rn from old to h with git's lock-file protocol; old
// zero means the ref must not exist yet (it is created). Only refs under
// refs/rtbot/ may be written this way.
func (e *Engine) WriteRef(rn plumbing.ReferenceName, h, old plumbing.Hash) error {
	return e.store.WriteRef(rn, h, old)
}

// CreateTag points refs/tags/name at h, an annotated tag object or a
// commit already in the repository, with the same lock-file protocol as
// UpdateBranch. It refuses a tag that exists: a release tag is never moved.
func (e *Engine) CreateTag(name string, h plumbing.Hash) error { return e.store.CreateTag(name, h) }

// TagHead returns where refs/tags/name points (a tag object or a commit),
// or zero if the tag does not exist.
func (e *Engine) TagHead(name string) (plumbing.Hash, error) { return e.store.TagHead(name) }

// Blob returns a blob's content, from the run's memory or the repository.
func (e *Engine) Blob(h plumbing.Hash) (string, error) { return e.store.Blob(h) }

// CheckBranchName accepts the branch names refname.Branch accepts.
func CheckBranchName(name string) error { return refname.Branch(name) }
