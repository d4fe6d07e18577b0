package merger

import (
	"context"
	"fmt"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/rtbot/rtbot/internal/gitpath"
	"github.com/rtbot/rtbot/internal/objstore"
	"github.com/rtbot/rtbot/internal/patchqueue"
)

// MaxRange is the most commits a git-range queue may have.
const MaxRange = 5000

// ReadRange lists the commits of rg (first-parent history from Tip back to
// Base, oldest first) as an already materialised queue: each commit is a
// patch whose pre- and post-image are its parent's tree and its own. It
// returns the queue, its steps and the base commit. Merge commits are refused.
func (e *Engine) ReadRange(ctx context.Context, rg patchqueue.Range) (*patchqueue.Queue, []Step, plumbing.Hash, error) {
	base, err := e.RevParse(rg.Base)
	if err != nil {
		return nil, nil, plumbing.ZeroHash, err
	}
	tip, err := e.RevParse(rg.Tip)
	if err != nil {
		return nil, nil, plumbing.ZeroHash, err
	}
	var chain []*object.Commit
	for h := tip; h != base; {
		if err := ctx.Err(); err != nil {
			return nil, nil, plumbing.ZeroHash, err
		}
		c, err := e.store.Commit(h)
		if err != nil {
			return nil, nil, plumbing.ZeroHash, err
		}
		if len(c.ParentHashes) != 1 {
			return nil, nil, plumbing.ZeroHash, fmt.Errorf("range %s..%s: commit %s has %d parents; the queue must be a linear series",
				rg.Base, rg.Tip, c.Hash.String()[:12], len(c.ParentHashes))
		}
		chain = append(chain, c)
		if len(chain) > MaxRange {
			return nil, nil, plumbing.ZeroHash, fmt.Errorf("range %s..%s: %s is not within %d first-parent commits of %s",
				rg.Base, rg.Tip, rg.Base, MaxRange, rg.Tip)
		}
		h = c.ParentHashes[0]
	}
	q := &patchqueue.Queue{Source: rg.Base + ".." + rg.Tip}
	steps := make([]Step, 0, len(chain))
	for i := len(chain) - 1; i >= 0; i-- {
		c := chain[i]
		parent, err := e.store.Commit(c.ParentHashes[0])
		if err != nil {
			return nil, nil, plumbing.ZeroHash, err
		}
		p, err := e.commitPatch(parent, c)
		if err != nil {
			return nil, nil, plumbing.ZeroHash, fmt.Errorf("commit %s: %w", c.Hash.String()[:12], err)
		}
		p.Index = len(q.Patches) + 1
		q.Patches = append(q.Patches, p)
		steps = append(steps, Step{Patch: p, Commit: c.Hash, ParentTree: parent.TreeHash, Tree: c.TreeHash})
	}
	return q, steps, base, nil
}

// commitPatch describes a commit as a Patch: metadata from the commit, file
// diffs computed from the trees with git's diff (textmerge), renames paired
// like git's rename detection.
func (e *Engine) commitPatch(parent, c *object.Commit) (*patchqueue.Patch, error) {
	subject, body, _ := strings.Cut(c.Message, "\n")
	p := &patchqueue.Patch{
		Name:        c.Hash.String()[:12],
		Source:      c.Hash.String(),
		Strip:       1,
		AuthorName:  c.Author.Name,
		AuthorEmail: c.Author.Email,
		Date:        c.Author.When,
		Subject:     strings.TrimSpace(subject),
		Body:        strings.Trim(body, "\n"),
		Commit:      c.Hash.String(),
	}
	changes, err := e.store.Changes(parent.TreeHash, c.TreeHash)
	if err != nil {
		return nil, err
	}
	renames, err := e.pairRenames(changes)
	if err != nil {
		return nil, err
	}
	for i, ch := range changes {
		oldPath, newPath := ch.Path, ch.Path
		if d, ok := renames[i]; ok {
			if d < 0 {
				continue // the deleting side of a rename
			}
			oldPath = changes[d].Path
			ch.From, ch.HasFrom = changes[d].From, true
		}
		f := &patchqueue.File{}
		var pre, post string
		if ch.HasFrom {
			f.OldPath, f.OldMode, f.OldIndex = oldPath, uint32(ch.From.Mode), ch.From.Hash.String()
			if pre, err = e.store.Blob(ch.From.Hash); err != nil {
				return nil, err
			}
		}
		if ch.HasTo {
			f.NewPath, f.NewMode, f.NewIndex = newPath, uint32(ch.To.Mode), ch.To.Hash.String()
			if post, err = e.store.Blob(ch.To.Hash); err != nil {
				return nil, err
			}
		}
		switch {
		case !ch.HasFrom:
			f.Op = patchqueue.OpAdd
		case !ch.HasTo:
			f.Op = patchqueue.OpDelete
		case oldPath != newPath:
			f.Op = patchqueue.OpRename
		}
		if ch.From.Mode == filemode.Submodule || ch.To.Mode == filemode.Submodule {
			p.Err = fmt.Errorf("commit %s: submodule change in %s is not supported", p.Name, f.Path())
			continue
		}
		if strings.IndexByte(pre, 0) >= 0 || strings.IndexByte(post, 0) >= 0 {
			p.Err = fmt.Errorf("commit %s: binary file %s is not supported", p.Name, f.Path())
			continue
		}
		if ch.HasTo {
			// What the commit writes must be a path git accepts, as a
			// parsed patch's paths must (patchqueue.CheckPath).
			if err := gitpath.Verify(newPath, f.NewMode); err != nil {
				p.Err = fmt.Errorf("commit %s: path %q: %w", p.Name, newPath, err)
				continue
			}
		}
		f.Hunks = patchqueue.MakeHunks(pre, post, 3)
		p.Files = append(p.Files, f)
	}
	return p, nil
}

// renameScore is the similarity, in percent of lines, from which a deleted
// and an added file are one file renamed (git's default is 50 %).
const renameScore = 50

// pairRenames pairs deleted and added files of one commit into renames, as
// git's rename detection does: identical blobs first, then the most similar
// pairs scoring at least renameScore. The result maps an added file's index
// to its deleted file's index, and a paired deleted file's index to -1.
func (e *Engine) pairRenames(changes []objstore.Change) (map[int]int, error) {
	var dels, adds []int
	for i, ch := range changes {
		switch {
		case ch.HasFrom && !ch.HasTo:
			dels = append(dels, i)
		case !ch.HasFrom && ch.HasTo:
			adds = append(adds, i)
		}
	}
	pairs := map[int]int{}
	pair := func(a, d int) { pairs[a], pairs[d] = d, -1 }
	for _, a := range adds {
		for _, d := range dels {
			if _, used := pairs[d]; !used && changes[d].From.Hash == changes[a].To.Hash {
				pair(a, d)
				break
			}
		}
	}
	if len(dels)*len(adds) > 1000 {
		return pairs, nil // like git's rename limit: too many to compare
	}
	for _, a := range adds {
		if _, done := pairs[a]; done {
			continue
		}
		best, bestScore := -1, renameScore-1
		for _, d := range dels {
			if _, used := pairs[d]; used {
				continue
			}
			pre, err := e.store.Blob(changes[d].From.Hash)
			if err != nil {
				return nil, err
			}
			post, err := e.store.Blob(changes[a].To.Hash)
			if err != nil {
				return nil, err
			}
			if sc := similarity(pre, post); sc > bestScore {
				best, bestScore = d, sc
			}
		}
		if best >= 0 {
			pair(a, best)
		}
	}
	return pairs, nil
}

// similarity is the share of lines two texts have in common, in percent.
func similarity(a, b string) int {
	la, lb := patchqueue.SplitLines(a), patchqueue.SplitLines(b)
	if len(la)+len(lb) == 0 {
		return 100
	}
	count := make(map[string]int, len(la))
	for _, l := range la {
		count[l]++
	}
	common := 0
	for _, l := range lb {
		if count[l] > 0 {
			count[l]--
			common++
		}
	}
	return 200 * common / (len(la) + len(lb))
}
