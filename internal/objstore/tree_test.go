package objstore

import (
	"errors"
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
