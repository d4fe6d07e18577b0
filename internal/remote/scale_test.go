package remote

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/rtbot/rtbot/internal/testkit"
)

// TestAtScale fetches a candidate into, and pushes a result out of, a
// repository of millions of objects (issue 15): RTBOT_SCALE_REPO names one
// that scripts/bench/scale.sh --build-only made (the real-kernel lab padded
// to 10M objects, with branch linux-6.1.y). Skipped without it. The
// repositories are hard-linked clones of it, so nothing there changes.
func TestAtScale(t *testing.T) {
	big := os.Getenv("RTBOT_SCALE_REPO")
	if big == "" {
		t.Skip("RTBOT_SCALE_REPO unset: see scripts/bench/scale.sh --build-only")
	}
	// The deadline the pipeline gives a fetch or a push: go-git's push
	// took 16-18 minutes at 10M objects.
	ctx, cancel := context.WithTimeout(context.Background(), DefaultTimeout)
	defer cancel()
	dir := t.TempDir()
	up, local, pub := filepath.Join(dir, "up.git"), filepath.Join(dir, "local.git"), filepath.Join(dir, "published.git")
	for _, r := range []string{up, local, pub} {
		testkit.Git(t, "", "clone", "-q", "--bare", "--local", big, r)
	}
	cand := newCommit(t, up, testkit.Git(t, up, "rev-parse", "linux-6.1.y"), "candidate")
	testkit.Git(t, up, "update-ref", "refs/heads/linux-6.1.y", cand.String())

	const ref = "refs/rtbot/candidates/scale"
	if h, err := Fetch(ctx, local, Endpoint{URL: up}, "linux-6.1.y", ref, nil); err != nil || h != cand {
		t.Fatalf("Fetch = %s, %v; want %s", h, err, cand)
	}
	if got := testkit.Git(t, local, "cat-file", "-p", ref+":rtbot-scale-candidate.txt"); got != "candidate" {
		t.Errorf("fetched candidate's file: %q", got)
	}

	// The published repository lacks the candidate: the push must carry it.
	result := newCommit(t, local, cand.String(), "result")
	const br = "rtbot/6.1-rt/scale"
	if err := Push(ctx, local, Endpoint{URL: pub}, br, result, plumbing.ZeroHash, nil); err != nil {
		t.Fatalf("Push: %v", err)
	}
	for _, f := range []string{"candidate", "result"} {
		if got := testkit.Git(t, pub, "cat-file", "-p", "refs/heads/"+br+":rtbot-scale-"+f+".txt"); got != f {
			t.Errorf("pushed %s file: %q", f, got)
		}
	}
	// The lease holds: a push that expects the branch absent is stale, one
	// that expects it at result moves it.
	next := newCommit(t, local, result.String(), "next")
	if err := Push(ctx, local, Endpoint{URL: pub}, br, next, plumbing.ZeroHash, nil); !errors.Is(err, ErrStale) {
		t.Errorf("Push over an existing branch with no lease: %v, want ErrStale", err)
	}
	if err := Push(ctx, local, Endpoint{URL: pub}, br, next, result, nil); err != nil {
		t.Errorf("Push with the lease: %v", err)
	}
	if got := testkit.Git(t, pub, "rev-parse", "refs/heads/"+br); got != next.String() {
		t.Errorf("published branch at %s, want %s", got, next)
	}
}

// newCommit writes, in the repository repo, a commit on parent whose tree
// is parent's plus the file rtbot-scale-NAME.txt holding name.
func newCommit(t *testing.T, repo, parent, name string) plumbing.Hash {
	t.Helper()
	blob := gitInput(t, repo, name, "hash-object", "-w", "--stdin")
	entries := testkit.Git(t, repo, "ls-tree", parent+"^{tree}")
	tree := gitInput(t, repo, entries+"\n100644 blob "+blob+"\trtbot-scale-"+name+".txt\n", "mktree")
	return plumbing.NewHash(testkit.Git(t, repo, "commit-tree", "-p", parent, "-m", name, tree))
}

// gitInput runs git with args in dir with input on its standard input, and
// returns its output trimmed.
func gitInput(t *testing.T, dir, input string, args ...string) string {
	t.Helper()
	cmd := testkit.GitCommand(dir, t.TempDir(), nil, args...)
	cmd.Stdin = strings.NewReader(input)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("git %s: %v", strings.Join(args, " "), err)
	}
	return strings.TrimSpace(string(out))
}
