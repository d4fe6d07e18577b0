package objstore

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/rtbot/rtbot/internal/atomicfile"
	"github.com/rtbot/rtbot/internal/refname"

	"github.com/go-git/go-git/v5/plumbing"
)

// writeRef moves ref rn from old (zero: it must not exist) to h the way git
// does: under the lock file rn.lock, created exclusively (so git and rtbot
// never update a ref at the same time), with the new value written and
// synced before it is renamed over the ref. A crash at any moment leaves
// the ref at its old value or its new one, never empty; at worst a stale
// lock file, which the next update names.
//
// go-git's own reference update truncates the ref file and then writes
// it, which a crash in between leaves empty, and takes a flock that git
// does not honour.
func (s *Store) writeRef(rn plumbing.ReferenceName, h, old plumbing.Hash) (err error) {
	path := filepath.Join(s.gitDir, filepath.FromSlash(rn.String()))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("ref %s: %w", rn, err)
	}
	lock := path + ".lock"
	f, err := os.OpenFile(lock, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("ref %s: %s exists: another git process is updating the ref, or one was interrupted "+
			"(remove the file if no git process is running)", rn, lock)
	}
	if err != nil {
		return fmt.Errorf("ref %s: %w", rn, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(lock)
		}
	}()
	what := "ref " + rn.String()
	switch {
	case rn.IsBranch():
		what = "branch " + rn.Short()
	case rn.IsTag():
		what = "tag " + rn.Short()
	}
	cur, err := s.repo.Storer.Reference(rn)
	switch {
	case errors.Is(err, plumbing.ErrReferenceNotFound):
		if !old.IsZero() {
			return fmt.Errorf("%s: expected it at %s, but it does not exist", what, old)
		}
	case err != nil:
		return fmt.Errorf("%s: %w", what, err)
	case old.IsZero():
		return fmt.Errorf("%s: exists (at %s); not creating it", what, cur.Hash())
	case cur.Hash() != old:
		return fmt.Errorf("%s: moved to %s meanwhile (expected %s); not updating", what, cur.Hash(), old)
	}
	if _, err := f.WriteString(h.String() + "\n"); err != nil {
		return fmt.Errorf("ref %s: %w", rn, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("ref %s: %w", rn, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("ref %s: %w", rn, err)
	}
	if err := os.Rename(lock, path); err != nil {
		return fmt.Errorf("ref %s: %w", rn, err)
	}
	return atomicfile.SyncDir(filepath.Dir(path))
}

// WriteRef moves ref rn from old to h with git's lock-file protocol; old
// zero means the ref must not exist yet (it is created). Only refs under
// refs/rtbot/ may be written this way.
func (s *Store) WriteRef(rn plumbing.ReferenceName, h, old plumbing.Hash) error {
	if !strings.HasPrefix(rn.String(), "refs/rtbot/") || refname.Branch(strings.TrimPrefix(rn.String(), "refs/")) != nil {
		return fmt.Errorf("ref %q: rtbot writes only valid refs under refs/rtbot/", rn)
	}
	return s.writeRef(rn, h, old)
}

// UpdateBranch points refs/heads/name at h if it still points at old (zero:
// the branch must not exist yet). It moves no other ref.
func (s *Store) UpdateBranch(name string, h, old plumbing.Hash) error {
	if err := refname.Branch(name); err != nil {
		return err
	}
	rn := plumbing.NewBranchReferenceName(name)
	return s.writeRef(rn, h, old)
}

// BranchHead returns where refs/heads/name points, or zero if it does not exist.
func (s *Store) BranchHead(name string) (plumbing.Hash, error) {
	if err := refname.Branch(name); err != nil {
		return plumbing.ZeroHash, err
	}
	ref, err := s.repo.Storer.Reference(plumbing.NewBranchReferenceName(name))
	if errors.Is(err, plumbing.ErrReferenceNotFound) {
		return plumbing.ZeroHash, nil
	}
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("branch %s: %w", name, err)
	}
	return ref.Hash(), nil
}
