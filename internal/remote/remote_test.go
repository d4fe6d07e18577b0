package remote

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"
	gitconfig "github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/rtbot/rtbot/internal/fixtures"
	"github.com/rtbot/rtbot/internal/testkit"
)

// upstream makes a bare repository with branch linux-6.1.y at the first of
// two commits and returns it with both commits.
func upstream(t *testing.T) (*fixtures.Repo, plumbing.Hash, plumbing.Hash) {
	t.Helper()
	r, err := fixtures.Init(filepath.Join(t.TempDir(), "up.git"), true)
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
	return r, a, b
}

func newRepo(t *testing.T, name string, bare bool) *fixtures.Repo {
	t.Helper()
	r, err := fixtures.Init(filepath.Join(t.TempDir(), name), bare)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// refs lists every ref of a repository, for checking that nothing else moved.
func refs(t *testing.T, r *fixtures.Repo) map[string]string {
	t.Helper()
	fresh, err := fixtures.Open(r.Dir)
	if err != nil {
		t.Fatal(err)
	}
	it, err := fresh.Repo.References()
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	it.ForEach(func(ref *plumbing.Reference) error {
		m[ref.Name().String()] = ref.Strings()[1]
		return nil
	})
	return m
}

func TestFetch(t *testing.T) {
	ctx := context.Background()
	up, a, b := upstream(t)
	for _, tc := range []struct {
		name string
		bare bool
		url  func(local *fixtures.Repo) string
	}{
		{"path into bare", true, func(*fixtures.Repo) string { return up.Dir }},
		{"file URL into bare", true, func(*fixtures.Repo) string { return "file://" + up.Dir }},
		{"path into non-bare", false, func(*fixtures.Repo) string { return up.Dir }},
		{"configured remote", true, func(local *fixtures.Repo) string {
			if _, err := local.Repo.CreateRemote(&gitconfig.RemoteConfig{Name: "stable-rc", URLs: []string{up.Dir}}); err != nil {
				t.Fatal(err)
			}
			return "stable-rc"
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := up.Branch("linux-6.1.y", a); err != nil {
				t.Fatal(err)
			}
			local := newRepo(t, "local", tc.bare)
			url := tc.url(local)
			cfgBefore, err := local.Repo.Config()
			if err != nil {
				t.Fatal(err)
			}
			remotesBefore := len(cfgBefore.Remotes)
			const ref = "refs/rtbot/candidates/6.1-rt/6.1.12-rc1"
			for i, step := range []struct {
				upstreamAt plumbing.Hash
				want       plumbing.Hash
			}{
				{a, a}, // first fetch creates the ref
				{a, a}, // nothing new: a no-op with the same answer
				{b, b}, // the rc branch moved on: the ref follows
				{a, a}, // and back (forced, as a rebased rc branch is)
			} {
				if err := up.Branch("linux-6.1.y", step.upstreamAt); err != nil {
					t.Fatal(err)
				}
				h, err := Fetch(ctx, local.Dir, Endpoint{URL: url}, "linux-6.1.y", ref, nil)
				if err != nil || h != step.want {
					t.Fatalf("step %d: Fetch = %s, %v; want %s", i, h, err, step.want)
				}
				if got := refs(t, local)[ref]; got != step.want.String() {
					t.Fatalf("step %d: %s is %q, want %s", i, ref, got, step.want)
				}
			}
			got := refs(t, local)
			for name := range got {
				if name != ref && name != "HEAD" {
					t.Errorf("Fetch created %s as well", name)
				}
			}
			cfg, err := local.Repo.Config()
			if err != nil {
				t.Fatal(err)
			}
			if len(cfg.Remotes) != remotesBefore {
				t.Errorf("Fetch changed the configured remotes: %d, want %d", len(cfg.Remotes), remotesBefore)
			}
		})
	}
}

// TestFetchTag fetches a release tag, lightweight or annotated, for
// `rtbot run --onto`: the ref holds what the tag names, and the commit is
// returned.
func TestFetchTag(t *testing.T) {
	ctx := context.Background()
	up, a, b := upstream(t)
	if err := up.Tag("v6.1.11", a); err != nil {
		t.Fatal(err)
	}
	sig := &object.Signature{Name: "Greg", Email: "greg@kernel.org", When: time.Unix(1676300000, 0)}
	tag, err := up.Repo.CreateTag("v6.1.12", b, &git.CreateTagOptions{Tagger: sig, Message: "Linux 6.1.12\n"})
	if err != nil {
		t.Fatal(err)
	}
	local := newRepo(t, "local.git", true)
	for _, tc := range []struct {
		tag       string
		want, ref plumbing.Hash
	}{{"v6.1.11", a, a}, {"v6.1.12", b, tag.Hash()}} {
		got, err := FetchTag(ctx, local.Dir, Endpoint{URL: up.Dir}, tc.tag, "refs/rtbot/onto/"+tc.tag, nil)
		if err != nil || got != tc.want {
			t.Errorf("FetchTag %s = %s, %v; want %s", tc.tag, got, err, tc.want)
		}
		if r := refs(t, local)["refs/rtbot/onto/"+tc.tag]; r != tc.ref.String() {
			t.Errorf("ref of %s at %s, want %s", tc.tag, r, tc.ref)
		}
	}
	if _, err := FetchTag(ctx, local.Dir, Endpoint{URL: up.Dir}, "v9", "refs/rtbot/onto/v9", nil); err == nil ||
		!strings.Contains(err.Error(), "the remote has no tag v9") || IsTemporary(err) {
		t.Errorf("a missing tag: %v", err)
	}
}

func TestFetchErrors(t *testing.T) {
	ctx := context.Background()
	up, _, _ := upstream(t)
	local := newRepo(t, "local.git", true)
	for _, tc := range []struct {
		name, url, branch, ref string
		want                   string // in the error
	}{
		{"missing branch", up.Dir, "linux-9.9.y", "refs/rtbot/x", "the remote has no branch linux-9.9.y"},
		{"missing repository", filepath.Join(t.TempDir(), "nothing.git"), "linux-6.1.y", "refs/rtbot/x", "fetch"},
		{"into a branch", up.Dir, "linux-6.1.y", "refs/heads/master", "refs/rtbot/"},
		{"into a tag", up.Dir, "linux-6.1.y", "refs/tags/v1", "refs/rtbot/"},
		{"out of the namespace", up.Dir, "linux-6.1.y", "refs/rtbot/../heads/x", "refs/rtbot/"},
		{"bare namespace", up.Dir, "linux-6.1.y", "refs/rtbot/", "refs/rtbot/"},
		{"option-like URL", "--upload-pack=touch /tmp/pwned", "linux-6.1.y", "refs/rtbot/x", "not a usable remote"},
		{"control character", up.Dir + "\n", "linux-6.1.y", "refs/rtbot/x", "not a usable remote"},
		{"bad branch", up.Dir, "linux 6.1.y", "refs/rtbot/x", "not allowed"},
		{"option-like branch", up.Dir, "-x", "refs/rtbot/x", "not allowed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, err := Fetch(ctx, local.Dir, Endpoint{URL: tc.url}, tc.branch, tc.ref, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Fetch = %s, %v; want an error with %q", h, err, tc.want)
			}
			if IsTemporary(err) {
				t.Errorf("%v: temporary, want permanent", err)
			}
			if n := len(refs(t, local)); n > 1 {
				t.Errorf("a failed fetch left refs: %v", refs(t, local))
			}
		})
	}
}

func TestPush(t *testing.T) {
	ctx := context.Background()
	src, a, b := upstream(t)
	dst := newRepo(t, "published.git", true)
	if err := dst.Branch("linux-6.1.y", a); err != nil { // a maintainer's branch that must never move
		t.Fatal(err)
	}
	const br = "rtbot/6.1-rt/6.1.12-rc1"
	head := func() plumbing.Hash {
		t.Helper()
		h, err := RemoteHead(ctx, src.Dir, Endpoint{URL: dst.Dir}, br)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	srcRefs := refs(t, src)
	for i, step := range []struct {
		name          string
		remote        string
		commit, lease plumbing.Hash
		stale         bool
		want          plumbing.Hash // the remote branch afterwards
	}{
		{"create", dst.Dir, a, plumbing.ZeroHash, false, a},
		{"same commit again", dst.Dir, a, plumbing.ZeroHash, false, a},
		{"same commit, any lease", dst.Dir, a, b, false, a},
		{"create, but it exists", dst.Dir, b, plumbing.ZeroHash, true, a},
		{"wrong lease", dst.Dir, b, b, true, a},
		{"update with the lease", dst.Dir, b, a, false, b},
		{"backwards with the lease", "file://" + dst.Dir, a, b, false, a},
		{"stale over file URL", "file://" + dst.Dir, b, b, true, a},
	} {
		err := Push(ctx, src.Dir, Endpoint{URL: step.remote}, br, step.commit, step.lease, nil)
		switch {
		case step.stale && !errors.Is(err, ErrStale):
			t.Errorf("step %d %s: %v, want ErrStale", i, step.name, err)
		case step.stale && !strings.Contains(err.Error(), step.want.String()[:12]):
			t.Errorf("step %d %s: %v does not name the remote's commit %s", i, step.name, err, step.want)
		case step.stale && IsTemporary(err):
			t.Errorf("step %d %s: a stale lease is temporary", i, step.name)
		case !step.stale && err != nil:
			t.Errorf("step %d %s: %v", i, step.name, err)
		}
		if got := head(); got != step.want {
			t.Errorf("step %d %s: remote at %s, want %s", i, step.name, got, step.want)
		}
	}
	if got := refs(t, dst)["refs/heads/linux-6.1.y"]; got != a.String() {
		t.Errorf("the maintainer's branch moved to %s", got)
	}
	if got := refs(t, src); fmt.Sprint(got) != fmt.Sprint(srcRefs) {
		t.Errorf("pushing changed the local refs: %v, was %v", got, srcRefs)
	}

	for _, bad := range []string{"master", "heads/x", "refs/heads/rtbot/x", "rtbot/../x", "rtbot/a..b", "rtbot/", "rtbot/x.lock", "rtbot/-x", "linux-6.1.y"} {
		if err := Push(ctx, src.Dir, Endpoint{URL: dst.Dir}, bad, b, plumbing.ZeroHash, nil); err == nil {
			t.Errorf("Push to %q succeeded", bad)
		}
	}
	if got := refs(t, dst); len(got) != 3 { // HEAD, linux-6.1.y, rtbot/...
		t.Errorf("refused pushes left refs: %v", got)
	}
	missing := plumbing.NewHash("0123456789abcdef0123456789abcdef01234567")
	if err := Push(ctx, src.Dir, Endpoint{URL: dst.Dir}, br, missing, a, nil); err == nil || !strings.Contains(err.Error(), "not in") {
		t.Errorf("Push of a commit the repository lacks: %v", err)
	}
	if err := Push(ctx, src.Dir, Endpoint{URL: dst.Dir}, br, plumbing.ZeroHash, a, nil); err == nil || head() != a {
		t.Errorf("Push of no commit (a delete): %v, remote at %s", err, head())
	}
	if err := Push(ctx, src.Dir, Endpoint{URL: "-oops"}, br, b, a, nil); err == nil {
		t.Error("Push to an option-like remote succeeded")
	}
}

func TestRemoteHead(t *testing.T) {
	ctx := context.Background()
	up, a, _ := upstream(t)
	empty := newRepo(t, "empty.git", true)
	local := newRepo(t, "local.git", true)
	for _, tc := range []struct {
		name, remote, branch string
		want                 plumbing.Hash
		err                  bool
	}{
		{"present", up.Dir, "linux-6.1.y", a, false},
		{"present over file URL", "file://" + up.Dir, "linux-6.1.y", a, false},
		{"absent branch", up.Dir, "linux-9.9.y", plumbing.ZeroHash, false},
		{"empty repository", empty.Dir, "rtbot/x", plumbing.ZeroHash, false},
		{"missing repository", filepath.Join(t.TempDir(), "nothing.git"), "rtbot/x", plumbing.ZeroHash, true},
		{"bad branch", up.Dir, "a..b", plumbing.ZeroHash, true},
		{"option-like remote", "-u", "rtbot/x", plumbing.ZeroHash, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, err := RemoteHead(ctx, local.Dir, Endpoint{URL: tc.remote}, tc.branch)
			if h != tc.want || (err != nil) != tc.err {
				t.Errorf("RemoteHead = %s, %v; want %s (error %v)", h, err, tc.want, tc.err)
			}
		})
	}
}

func TestIsTemporary(t *testing.T) {
	ctx := context.Background()
	local := newRepo(t, "local.git", true)

	// A port nothing listens on.
	closed := testkit.ClosedPort(t)
	status := func(code int) string {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, http.StatusText(code), code)
		}))
		t.Cleanup(srv.Close)
		return srv.URL + "/linux.git"
	}
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}))
	defer slow.Close()

	fetch := func(url string, timeout time.Duration) error {
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		_, err := Fetch(ctx, local.Dir, Endpoint{URL: url}, "linux-6.1.y", "refs/rtbot/x", nil)
		return err
	}
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"connection refused", fetch("http://"+closed+"/linux.git", 10*time.Second), true},
		{"service unavailable", fetch(status(http.StatusServiceUnavailable), 10*time.Second), true},
		{"bad gateway", fetch(status(http.StatusBadGateway), 10*time.Second), true},
		{"timeout", fetch(slow.URL+"/linux.git", 200*time.Millisecond), true},
		{"authentication required", fetch(status(http.StatusUnauthorized), 10*time.Second), false},
		{"forbidden", fetch(status(http.StatusForbidden), 10*time.Second), false},
		{"not found", fetch(status(http.StatusNotFound), 10*time.Second), false},
		{"missing local repository", fetch(filepath.Join(t.TempDir(), "nothing.git"), 10*time.Second), false},
		{"stale", fmt.Errorf("push: %w", ErrStale), false},
		{"canceled", context.Canceled, false},
		{"deadline", fmt.Errorf("list: %w", context.DeadlineExceeded), true},
		{"marked temporary", fmt.Errorf("x: %w", &Error{Op: "fetch", Temporary: true, Err: errors.New("eof")}), true},
		{"validation", errors.New(`remote "-x": not a usable remote name, URL or path`), false},
		// syscall.Errno satisfies net.Error; a full disk is still not a
		// network failure.
		{"disk full", fmt.Errorf("fetch: %w", &os.PathError{Op: "write", Path: "objects/pack/tmp", Err: syscall.ENOSPC}), false},
		{"permission", &os.PathError{Op: "open", Path: "objects", Err: syscall.EACCES}, false},
		{"connection refused errno", &net.OpError{Op: "dial", Net: "tcp", Err: &os.SyscallError{Syscall: "connect", Err: syscall.ECONNREFUSED}}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.err == nil && tc.name != "nil" {
				t.Fatal("the operation succeeded")
			}
			if got := IsTemporary(tc.err); got != tc.want {
				t.Errorf("IsTemporary(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}

// TestPushRace covers the window between Push's listing and its push: the
// branch moves (or appears) after the lease was checked. The push itself
// must then refuse, and leave the remote alone.
func TestPushRace(t *testing.T) {
	ctx := context.Background()
	src, a, b := upstream(t)
	side, err := src.Commit(fixtures.Tree{"Makefile": {Content: "SUBLEVEL = 99\n"}}, "someone else's\n")
	if err != nil {
		t.Fatal(err)
	}
	const br = "rtbot/6.1-rt/x"
	for _, tc := range []struct {
		name          string
		moved         plumbing.Hash // where someone put the branch after the check; zero: absent
		commit, lease plumbing.Hash
		want          plumbing.Hash // the remote afterwards
		stale         bool
	}{
		{"moved after the check", side, b, a, side, true},
		{"deleted after the check", plumbing.ZeroHash, b, a, plumbing.ZeroHash, true},
		{"created after the check, not an ancestor", side, b, plumbing.ZeroHash, side, true},
		// The documented residual race: a branch created at an ancestor of
		// commit is fast-forwarded.
		{"created after the check, an ancestor", a, b, plumbing.ZeroHash, b, false},
		{"no race", a, b, a, b, false},
		{"pushed by an earlier attempt", b, b, a, b, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dst := newRepo(t, "published.git", true)
			if !tc.moved.IsZero() {
				// The remote needs the objects: push them first.
				if err := Push(ctx, src.Dir, Endpoint{URL: dst.Dir}, br, tc.moved, plumbing.ZeroHash, nil); err != nil {
					t.Fatal(err)
				}
			}
			s, err := open(src.Dir, Endpoint{URL: dst.Dir})
			if err != nil {
				t.Fatal(err)
			}
			err = s.send(ctx, br, tc.commit, tc.lease, nil)
			if tc.stale != errors.Is(err, ErrStale) || !tc.stale && err != nil {
				t.Errorf("send: %v; want stale %v", err, tc.stale)
			}
			if got, err := RemoteHead(ctx, src.Dir, Endpoint{URL: dst.Dir}, br); err != nil || got != tc.want {
				t.Errorf("remote at %s, %v; want %s", got, err, tc.want)
			}
		})
	}
}
