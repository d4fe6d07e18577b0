package objstore

import (
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/storage/memory"
)

// TestApplyEditsBelowSymlink checks the tree editor's errors directly: a
// link in the way is named, a regular file in the way keeps the plain
// message, and both are ErrDirFile.
func TestApplyEditsBelowSymlink(t *testing.T) {
	o := newObjects(memory.NewStorage())
	h, err := o.writeBlob("/etc")
	if err != nil {
		t.Fatal(err)
	}
	f, err := o.writeBlob("data\n")
	if err != nil {
		t.Fatal(err)
	}
	root, err := o.applyEdits(emptyTree, map[string]Edit{
		"a/evil": {Entry: Entry{h, filemode.Symlink}},
		"a/file": {Entry: Entry{f, filemode.Regular}},
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path, want string
		link       bool
	}{
		{"a/evil/passwd", "a/evil/passwd: the path goes through symbolic link a/evil", true},
		{"a/evil/x/y", "a/evil/x/y: the path goes through symbolic link a/evil", true},
		{"a/file/x", "a/file: a file and a directory would have the same path", false},
	}
	for _, tc := range tests {
		_, err := o.applyEdits(root, map[string]Edit{tc.path: {Entry: Entry{f, filemode.Regular}}, "a/z": {Entry: Entry{f, filemode.Regular}}})
		if !errors.Is(err, ErrDirFile) {
			t.Errorf("%s: %v is not ErrDirFile", tc.path, err)
		}
		var se *SymlinkError
		if errors.As(err, &se) != tc.link {
			t.Errorf("%s: %T, SymlinkError %v", tc.path, err, tc.link)
		}
		if err == nil || err.Error() != tc.want {
			t.Errorf("%s: error %v, want %q", tc.path, err, tc.want)
		}
	}
	// Replacing the link by a directory in one patch is allowed.
	nr, err := o.applyEdits(root, map[string]Edit{"a/evil": {Delete: true}, "a/evil/passwd": {Entry: Entry{f, filemode.Regular}}})
	if err != nil {
		t.Fatal(err)
	}
	if e, ok, err := o.lookup(nr, "a/evil/passwd"); err != nil || !ok || e.Mode != filemode.Regular {
		t.Errorf("after replacing the link: %+v %v %v", e, ok, err)
	}
}

// TestApplyEditsRefusesGitPaths: the tree editor refuses to write a path
// that git refuses (verify_path, fsck), whoever hands it one: .git under
// any of the names NTFS or HFS+ give it, .gitmodules as a symbolic link,
// and the empty, "." and ".." components. Names close to them are written.
func TestApplyEditsRefusesGitPaths(t *testing.T) {
	o := newObjects(memory.NewStorage())
	f, err := o.writeBlob("data\n")
	if err != nil {
		t.Fatal(err)
	}
	refused := []struct {
		path string
		mode filemode.FileMode
	}{
		{".git/config", filemode.Regular}, {"a/.GIT/hooks/x", filemode.Executable},
		{".git./config", filemode.Regular}, {"git~1/config", filemode.Regular},
		{".git::$INDEX_ALLOCATION/config", filemode.Regular}, {"x\\.git\\config", filemode.Regular},
		{".g\u200cit/config", filemode.Regular}, {"a/\u200e.git", filemode.Symlink},
		{".gitmodules", filemode.Symlink}, {"sub/GITMOD~1", filemode.Symlink}, {".gitmodules .", filemode.Symlink},
		{"a/../b", filemode.Regular}, {"a/./b", filemode.Regular}, {"a//b", filemode.Regular}, {"/etc/passwd", filemode.Regular},
	}
	for _, tc := range refused {
		_, err := o.applyEdits(emptyTree, map[string]Edit{tc.path: {Entry: Entry{f, tc.mode}}, "ok": {Entry: Entry{f, filemode.Regular}}})
		if !errors.Is(err, ErrUnsafePath) || !strings.HasPrefix(err.Error(), strconv.Quote(tc.path)) {
			t.Errorf("%q (%s): %v, want ErrUnsafePath naming the path", tc.path, tc.mode, err)
		}
	}
	root, err := o.applyEdits(emptyTree, map[string]Edit{
		".gitignore": {Entry: Entry{f, filemode.Regular}}, ".gitmodules": {Entry: Entry{f, filemode.Regular}},
		"git~2/x": {Entry: Entry{f, filemode.Regular}}, ".github/x": {Entry: Entry{f, filemode.Symlink}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, err := o.lookup(root, "git~2/x"); !ok || err != nil {
		t.Errorf("git~2/x: %v %v", ok, err)
	}
}
