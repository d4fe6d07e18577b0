package merger

import (
	"context"
	"fmt"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/rtbot/rtbot/patchqueue"
)

// MaxRange is the most commits a git-range queue may have.
const MaxRange = 5000

// ReadRange lists the commits of rg (first-parent history from Tip back to
// Base, oldest first) as an already materialised queue: each commit is a
// patch whose pre- and post-image are its parent's tree and its own. It
// returns the queue, its steps and the base commit. Merge commits are refused.
func (e *Engine) ReadRange(ctx context.Context, rg patchqueue.Range) (*patchqueue.Queue, []Step, plumbing.Hash, error) {
	base, err := e.Resolve(rg.Base)
	if err != nil {
		return nil, nil, plumbing.ZeroHash, err
	}
	tip, err := e.Resolve(rg.Tip)
	if err != nil {
		return nil, nil, plumbing.ZeroHash, err
	}
	var chain []*object.Commit
	for h := tip; h != base; {
		if err := ctx.Err(); err != nil {
			return nil, nil, plumbing.ZeroHash, err
		}
		c, err := e.commit(h)
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
		parent, err := e.commit(c.ParentHashes[0])
		if err != nil {
			return nil, nil, plumbing.ZeroHash, err
		}
		p, err := e.commitPatch(ctx, parent, c)
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
// diffs computed from the trees with git's diff.
func (e *Engine) commitPatch(ctx context.Context, parent, c *object.Commit) (*patchqueue.Patch, error) {
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
	pt, err := parent.Tree()
	if err != nil {
		return nil, err
	}
	ct, err := c.Tree()
	if err != nil {
		return nil, err
	}
	changes, err := object.DiffTreeWithOptions(ctx, pt, ct, &object.DiffTreeOptions{DetectRenames: true, RenameScore: 50, RenameLimit: 1000})
	if err != nil {
		return nil, err
	}
	for _, ch := range changes {
		f := &patchqueue.File{OldPath: ch.From.Name, NewPath: ch.To.Name}
		var pre, post string
		if ch.From.Name != "" {
			f.OldMode = uint32(ch.From.TreeEntry.Mode)
			f.OldIndex = ch.From.TreeEntry.Hash.String()
			if pre, err = e.obj.blob(ch.From.TreeEntry.Hash); err != nil {
				return nil, err
			}
		}
		if ch.To.Name != "" {
			f.NewMode = uint32(ch.To.TreeEntry.Mode)
			f.NewIndex = ch.To.TreeEntry.Hash.String()
			if post, err = e.obj.blob(ch.To.TreeEntry.Hash); err != nil {
				return nil, err
			}
		}
		switch {
		case ch.From.Name == "":
			f.Op = patchqueue.OpAdd
		case ch.To.Name == "":
			f.Op = patchqueue.OpDelete
		case ch.From.Name != ch.To.Name:
			f.Op = patchqueue.OpRename
		}
		if ch.From.TreeEntry.Mode == filemode.Submodule || ch.To.TreeEntry.Mode == filemode.Submodule {
			p.Err = fmt.Errorf("commit %s: submodule change in %s is not supported", p.Name, f.Path())
			continue
		}
		if strings.IndexByte(pre, 0) >= 0 || strings.IndexByte(post, 0) >= 0 {
			p.Err = fmt.Errorf("commit %s: binary file %s is not supported", p.Name, f.Path())
			continue
		}
		f.Hunks = patchqueue.MakeHunks(pre, post, 3)
		p.Files = append(p.Files, f)
	}
	return p, nil
}
