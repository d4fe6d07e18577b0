package objstore

import (
	"errors"
	"fmt"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/rtbot/rtbot/internal/refname"
)

// CreateTag points refs/tags/name at h, an annotated tag object or a
// commit already in the repository, with the same lock-file protocol as
// UpdateBranch. It refuses a tag that exists: a release tag is never moved.
func (s *Store) CreateTag(name string, h plumbing.Hash) error {
	if refname.Branch(name) != nil {
		return fmt.Errorf("tag name %.80q is not allowed", name)
	}
	if h.IsZero() {
		return fmt.Errorf("tag %s: no object to point at", name)
	}
	obj, err := s.Repository().Storer.EncodedObject(plumbing.AnyObject, h)
	if err != nil {
		return fmt.Errorf("tag %s: object %s: %w", name, h, err)
	}
	if t := obj.Type(); t != plumbing.TagObject && t != plumbing.CommitObject {
		return fmt.Errorf("tag %s: object %s is a %s, not a tag or a commit", name, h, t)
	}
	rn := plumbing.NewTagReferenceName(name)
	cur, err := s.repo.Storer.Reference(rn)
	switch {
	case err == nil:
		return fmt.Errorf("tag %s: exists (at %s); not replacing it", name, cur.Hash())
	case !errors.Is(err, plumbing.ErrReferenceNotFound):
		return fmt.Errorf("tag %s: %w", name, err)
	}
	if err := s.writeRef(rn, h, plumbing.ZeroHash); err != nil {
		return fmt.Errorf("tag %s: %w", name, err)
	}
	return nil
}

// TagHead returns where refs/tags/name points (a tag object or a commit),
// or zero if the tag does not exist.
func (s *Store) TagHead(name string) (plumbing.Hash, error) {
	if refname.Branch(name) != nil {
		return plumbing.ZeroHash, fmt.Errorf("tag name %.80q is not allowed", name)
	}
	ref, err := s.repo.Storer.Reference(plumbing.NewTagReferenceName(name))
	if errors.Is(err, plumbing.ErrReferenceNotFound) {
		return plumbing.ZeroHash, nil
	}
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("tag %s: %w", name, err)
	}
	return ref.Hash(), nil
}
