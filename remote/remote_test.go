package remote

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/rtbot/rtbot/fixtures"
)

// upstream makes a bare repository with branch linux-6.1.y at two commits
// and returns it with both commits.
func upstream(t *testing.T) (*fixtures.Repo, string, plumbing.Hash, plumbing.Hash) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "up.git")
	r, err := fixtures.Init(dir, true)
	if err != nil {
		t.Fatal(err)
	}
	a, err := r.Commit(fixtures.Tree{"Makefile": {Content: "SUBLEVEL = 11\n"}}, "Linux 6.1.11\n")
	if err != nil {
		t.Fatal(err)
	}
	b, err := r.Commit(fixtures.Tree{"Makefile": {Content: "SUBLEVEL = 12\n"}}, "Linux 6.1.12-rc1\n", a)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Branch("linux-6.1.y", a); err != nil {
		t.Fatal(err)
	}
	return r, dir, a, b
}

func TestFetch(t *testing.T) {
	ctx := context.Background()
	up, upDir, a, b := upstream(t)
	local := filepath.Join(t.TempDir(), "local.git")
	if _, err := fixtures.Init(local, true); err != nil {
		t.Fatal(err)
	}
	for _, url := range []string{upDir, "file://" + upDir} {
		ref := "refs/rtbot/candidates/t/6.1.11-rc1"
		if err := up.Branch("linux-6.1.y", a); err != nil {
			t.Fatal(err)
		}
		h, err := Fetch(ctx, local, url, "linux-6.1.y", ref, nil)
		if err != nil || h != a {
			t.Fatalf("Fetch %s = %s, %v; want %s", url, h, err, a)
		}
		if h, err := Fetch(ctx, local, url, "linux-6.1.y", ref, nil); err != nil || h != a {
			t.Fatalf("second Fetch %s = %s, %v; want %s again", url, h, err, a)
		}
		// The rc branch moved on: the ref follows.
		if err := up.Branch("linux-6.1.y", b); err != nil {
			t.Fatal(err)
		}
		if h, err := Fetch(ctx, local, url, "linux-6.1.y", ref, nil); err != nil || h != b {
			t.Fatalf("Fetch after a move = %s, %v; want %s", h, err, b)
		}
	}
	if _, err := Fetch(ctx, local, upDir, "linux-9.9.y", "refs/rtbot/x", nil); err == nil {
		t.Error("Fetch of a missing branch succeeded")
	}
	for _, ref := range []string{"refs/heads/master", "refs/tags/v1", "refs/rtbot/../heads/x"} {
		if _, err := Fetch(ctx, local, upDir, "linux-6.1.y", ref, nil); err == nil {
			t.Errorf("Fetch into %s succeeded", ref)
		}
	}
	if _, err := Fetch(ctx, local, "--upload-pack=touch /tmp/pwned", "linux-6.1.y", "refs/rtbot/x", nil); err == nil {
		t.Error("Fetch from an option-like URL succeeded")
	}
}

func TestPushLease(t *testing.T) {
	ctx := context.Background()
	_, src, a, b := upstream(t)
	dst := filepath.Join(t.TempDir(), "published.git")
	if _, err := fixtures.Init(dst, true); err != nil {
		t.Fatal(err)
	}
	const br = "rtbot/6.1-rt/6.1.12-rc1"
	head := func() plumbing.Hash {
		h, err := RemoteHead(ctx, src, dst, br)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	if head() != plumbing.ZeroHash {
		t.Fatal("fresh remote has the branch")
	}
	if err := Push(ctx, src, dst, br, a, plumbing.ZeroHash, nil); err != nil || head() != a {
		t.Fatalf("create: %v, remote at %s", err, head())
	}
	if err := Push(ctx, src, dst, br, a, plumbing.ZeroHash, nil); err != nil {
		t.Errorf("the same push again: %v, want success", err)
	}
	if err := Push(ctx, src, dst, br, b, plumbing.ZeroHash, nil); !errors.Is(err, ErrStale) || head() != a {
		t.Errorf("stale lease: %v, remote at %s; want ErrStale and unchanged", err, head())
	}
	if err := Push(ctx, src, dst, br, b, a, nil); err != nil || head() != b {
		t.Errorf("update with the right lease: %v, remote at %s", err, head())
	}
	// Backwards, with the right lease: allowed (rtbot's own branch).
	if err := Push(ctx, src, dst, br, a, b, nil); err != nil || head() != a {
		t.Errorf("force with lease: %v, remote at %s", err, head())
	}
	for _, bad := range []string{"master", "heads/x", "rtbot/../x", "rtbot/a..b"} {
		if err := Push(ctx, src, dst, bad, a, plumbing.ZeroHash, nil); err == nil {
			t.Errorf("Push to %q succeeded", bad)
		}
	}
}
