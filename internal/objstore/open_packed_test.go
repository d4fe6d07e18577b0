package objstore

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
)

// TestOpenPackedReadsWithoutGoGitIndex: a repository opened with
// OpenPacked reads a packed commit and a file of its tree through the pack
// reader, never through go-git's copy of the pack indexes (go-git decodes
// every index in full at its first packed read: at 10 million objects a
// pass's candidate check took ~400 MB for it). The indexes are taken away
// after opening, where go-git would load them: a repository whose reads
// reached go-git fails.
func TestOpenPackedReadsWithoutGoGitIndex(t *testing.T) {
	dir := packedRepoCopy(t, false)
	_, tip, snap := mainTip(t, dir)
	repo, closeRepo, err := OpenPacked(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer closeRepo()
	idxs, err := filepath.Glob(filepath.Join(dir, "objects", "pack", "*.idx"))
	if err != nil || len(idxs) == 0 {
		t.Fatalf("no pack index: %v", err)
	}
	for _, idx := range idxs {
		if err := os.Remove(idx); err != nil {
			t.Fatal(err)
		}
	}
	c, err := repo.CommitObject(*tip)
	if err != nil {
		t.Fatalf("commit: %v", err)
	}
	f, err := c.File("kernel/sched/core.c")
	if err != nil {
		t.Fatalf("file: %v", err)
	}
	got, err := f.Contents()
	if err != nil || got != snap["kernel/sched/core.c"].Content {
		t.Fatalf("kernel/sched/core.c differs (%v)", err)
	}
	// An object of another type than asked is not found, as go-git says,
	// without asking go-git: resolving an annotated tag (v6.1.176) asks
	// for a commit first.
	if _, err := repo.CommitObject(c.TreeHash); !errors.Is(err, plumbing.ErrObjectNotFound) {
		t.Errorf("a tree read as a commit: %v, want %v", err, plumbing.ErrObjectNotFound)
	}
}

// TestOpenPackedReindex: a pack written after OpenPacked (a fetch) is read
// once Reindex was called.
func TestOpenPackedReindex(t *testing.T) {
	dir := packedRepoCopy(t, false)
	repo, closeRepo, err := OpenPacked(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer closeRepo()
	if _, ok := repo.Storer.(*packedStorage); !ok {
		t.Fatalf("store %T, want the pack reader in front", repo.Storer)
	}
	blob := &blobObject{content: "written after the repository was opened\n"}
	hsr := plumbing.NewHasher(plumbing.BlobObject, int64(len(blob.content)))
	io.WriteString(hsr, blob.content)
	blob.hash = hsr.Sum()
	if err := writePack(filepath.Join(dir, "objects", "pack"), []plumbing.EncodedObject{blob}); err != nil {
		t.Fatal(err)
	}
	Reindex(repo)
	if err := repo.Storer.HasEncodedObject(blob.hash); err != nil {
		t.Fatalf("new blob: %v", err)
	}
	b, err := repo.BlobObject(blob.hash)
	if err != nil {
		t.Fatalf("new blob: %v", err)
	}
	if _, _, err := repo.Storer.(*packedStorage).packs.read(blob.hash); err != nil {
		t.Errorf("the pack reader does not read the new pack: %v", err)
	}
	if b.Size != int64(len(blob.content)) {
		t.Errorf("new blob: %d bytes", b.Size)
	}
}

// TestPersistedCommitWithoutGoGitIndex: a commit the store persisted (the
// result, then read again as the parent of the proposed branch's commits)
// is read through the pack reader, which is told of the new pack, not
// through go-git, which would load every pack index to find it (~270 MiB
// for a pass at 10 million objects). The repository's own indexes are
// taken away after the persist, where go-git would load them.
func TestPersistedCommitWithoutGoGitIndex(t *testing.T) {
	dir := packedRepoCopy(t, false)
	_, tip, _ := mainTip(t, dir)
	old, err := filepath.Glob(filepath.Join(dir, "objects", "pack", "*.idx"))
	if err != nil || len(old) == 0 {
		t.Fatalf("no pack index: %v", err)
	}
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	parent, err := s.Commit(*tip)
	if err != nil {
		t.Fatal(err)
	}
	c := *parent
	c.Message, c.ParentHashes = "written by the store\n", []plumbing.Hash{*tip}
	h, err := s.WriteCommit(&c)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Persist(h); err != nil {
		t.Fatal(err)
	}
	for _, idx := range old {
		if err := os.Remove(idx); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Commit(h)
	if err != nil || got.Message != c.Message {
		t.Fatalf("persisted commit: %v, %v", got, err)
	}
}
