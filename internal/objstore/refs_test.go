package objstore_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/rtbot/rtbot/internal/fixtures"
	"github.com/rtbot/rtbot/internal/objstore"
	"github.com/rtbot/rtbot/internal/testkit"
)

// TestUpdateBranchLockProtocol checks UpdateBranch speaks git's lock-file
// protocol: it refuses while git holds the ref's lock, leaves no lock
// behind, writes what git reads, and updates a branch git packed.
func TestUpdateBranchLockProtocol(t *testing.T) {
	dir := t.TempDir()
	r, err := fixtures.Init(dir, true)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := r.Commit(fixtures.Tree{"f": {Content: "a\n"}}, "a\n")
	b, _ := r.Commit(fixtures.Tree{"f": {Content: "b\n"}}, "b\n", a)
	st, err := objstore.Open(dir, objstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()

	if err := st.UpdateBranch("rtbot/x", a, plumbing.ZeroHash); err != nil {
		t.Fatal(err)
	}
	ref := filepath.Join(dir, "refs", "heads", "rtbot", "x")
	if got := testkit.Git(t, dir, "rev-parse", "refs/heads/rtbot/x"); got != a.String() {
		t.Errorf("git reads %s, want %s", got, a)
	}
	if _, err := os.Stat(ref + ".lock"); !os.IsNotExist(err) {
		t.Errorf("lock file left behind: %v", err)
	}

	// git (or an interrupted git) holds the lock: rtbot waits its turn.
	if err := os.WriteFile(ref+".lock", nil, 0o644); err != nil {
		t.Fatal(err)
	}
	err = st.UpdateBranch("rtbot/x", b, a)
	if err == nil || !strings.Contains(err.Error(), ref+".lock exists") {
		t.Errorf("update under git's lock: %v; want a refusal naming the lock file", err)
	}
	if got := testkit.Git(t, dir, "rev-parse", "refs/heads/rtbot/x"); got != a.String() {
		t.Errorf("the branch moved under git's lock: %s", got)
	}
	if _, err := os.Stat(ref + ".lock"); err != nil {
		t.Errorf("rtbot removed a lock it did not take: %v", err)
	}
	os.Remove(ref + ".lock")

	// A packed branch: the loose ref written over it wins, as in git.
	testkit.Git(t, dir, "pack-refs", "--all")
	if _, err := os.Stat(ref); !os.IsNotExist(err) {
		t.Fatalf("git pack-refs left the loose ref: %v", err)
	}
	if err := st.UpdateBranch("rtbot/x", b, b); err == nil {
		t.Error("a stale expectation on a packed ref was accepted")
	}
	if err := st.UpdateBranch("rtbot/x", b, a); err != nil {
		t.Fatal(err)
	}
	if got := testkit.Git(t, dir, "rev-parse", "refs/heads/rtbot/x"); got != b.String() {
		t.Errorf("git reads %s after updating the packed branch, want %s", got, b)
	}
	if out := testkit.Git(t, dir, "fsck", "--no-dangling"); strings.Contains(out, "error") {
		t.Errorf("git fsck: %s", out)
	}
}
