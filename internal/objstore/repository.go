package objstore

import (
	"fmt"
	"path/filepath"

	"github.com/go-git/go-billy/v5"
	"github.com/go-git/go-billy/v5/osfs"
	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/storage"
	"github.com/go-git/go-git/v5/storage/filesystem"
)

// findGitDir returns the git directory of the repository at path (bare,
// or with a .git directory) and its worktree (nil when bare).
func findGitDir(path string) (dir string, worktree billy.Filesystem, err error) {
	dir = path
	if st, err := osfs.New(path).Stat(".git"); err == nil && st.IsDir() {
		dir, worktree = path+"/.git", osfs.New(path)
	}
	if _, err := osfs.New(dir).Stat("objects"); err != nil {
		return "", nil, fmt.Errorf("repository %s: not a git repository", path)
	}
	return dir, worktree, nil
}

// storageOptions are the options of every go-git store rtbot opens.
// Alternates (objects/info/alternates, as `git clone --reference` and
// `--shared` write them, with absolute paths) are read from the root of
// the file system: go-git's default confines them to the git directory,
// where an absolute path to another repository is not found.
func storageOptions() filesystem.Options {
	return filesystem.Options{KeepDescriptors: true, AlternatesFS: osfs.New("/")}
}

// OpenRepository opens the repository at path (bare, or with a .git
// directory) as git.PlainOpen does, except that objects borrowed from
// another repository through alternates are found.
func OpenRepository(path string) (*git.Repository, error) {
	dir, wt, err := findGitDir(path)
	if err != nil {
		return nil, err
	}
	st := filesystem.NewStorageWithOptions(osfs.New(dir), cache.NewObjectLRUDefault(), storageOptions())
	repo, err := git.Open(st, wt)
	if err != nil {
		return nil, fmt.Errorf("repository %s: %w", path, err)
	}
	return repo, nil
}

// OpenPacked opens the repository at path as OpenRepository does, with
// rtbot's pack reader in front of go-git's store (as a Store has it): a
// packed commit, tag, tree or blob is read without go-git loading its copy
// of the pack indexes, which it does in full at the first object it reads
// from a pack (at 10 million objects ~170 MB of heap, ~280 MiB more RSS,
// for one commit). closeRepo releases the packs; objects of a pack written into
// the repository after it was opened (a fetch) are read once Reindex(repo)
// was called.
func OpenPacked(path string) (repo *git.Repository, closeRepo func() error, err error) {
	dir, wt, err := findGitDir(path)
	if err != nil {
		return nil, nil, err
	}
	fst := filesystem.NewStorageWithOptions(osfs.New(dir), cache.NewObjectLRUDefault(), storageOptions())
	var st storage.Storer = fst
	packs, _ := openPackReader(filepath.Join(dir, "objects", "pack")) // nil: go-git reads everything
	if packs != nil {
		st = &packedStorage{Storage: fst, packs: packs}
	}
	closeRepo = func() error {
		packs.Close()
		return fst.Close()
	}
	if repo, err = git.Open(st, wt); err != nil {
		closeRepo()
		return nil, nil, fmt.Errorf("repository %s: %w", path, err)
	}
	return repo, closeRepo, nil
}

// Reindex makes the objects of packs written into repo's repository since
// it was opened readable through repo, without reading them yet.
func Reindex(repo *git.Repository) {
	if r, ok := repo.Storer.(interface{ Reindex() }); ok {
		r.Reindex()
	}
}
