package remote

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/rtbot/rtbot/internal/fixtures"
	"github.com/rtbot/rtbot/internal/testkit"
)

// TestTransferEnvironment: the local git commands a fetch and a push run
// work on the repository they are given, whatever GIT_* variables rtbot's
// own environment has (a GIT_DIR left by a hook or a wrapper script would
// otherwise send the objects elsewhere), and progress, when asked for,
// comes through the side band. Over http: go-git's file transport runs
// git-upload-pack and git-receive-pack in rtbot's environment as it is.
func TestTransferEnvironment(t *testing.T) {
	ctx := context.Background()
	up, a, b := upstream(t)
	if err := up.Branch("linux-6.1.y", b); err != nil {
		t.Fatal(err)
	}
	root := filepath.Dir(up.Dir)
	pub, err := fixtures.Init(filepath.Join(root, "published.git"), true)
	if err != nil {
		t.Fatal(err)
	}
	srv := testkit.ServeGit(t, root, testkit.GitHTTPOptions{User: "bot", Password: token})
	ep := func(name string) Endpoint { return Endpoint{URL: withUser(srv.URL, "bot") + "/" + name, Token: token} }
	local := newRepo(t, "local.git", true)
	decoy := newRepo(t, "decoy.git", true)
	t.Setenv("GIT_DIR", decoy.Dir)
	t.Setenv("GIT_OBJECT_DIRECTORY", filepath.Join(decoy.Dir, "objects"))
	var progress bytes.Buffer
	const ref = "refs/rtbot/candidates/env"
	if h, err := Fetch(ctx, local.Dir, ep("up.git"), "linux-6.1.y", ref, &progress); err != nil || h != b {
		t.Fatalf("Fetch = %s, %v; want %s", h, err, b)
	}
	for _, h := range []plumbing.Hash{a, b} {
		if _, err := testkit.RunGit(t, local.Dir, nil, "cat-file", "-e", h.String()); err != nil {
			t.Errorf("%s is not in the repository fetched into: %v", h, err)
		}
	}
	if out, err := testkit.RunGit(t, decoy.Dir, nil, "count-objects"); err != nil || out != "0 objects, 0 kilobytes\n" {
		t.Errorf("the decoy GIT_DIR got objects: %q, %v", out, err)
	}
	if progress.Len() == 0 {
		t.Error("no progress from the server")
	}
	if err := Push(ctx, local.Dir, ep("published.git"), "rtbot/env", b, plumbing.ZeroHash, nil); err != nil {
		t.Fatalf("Push: %v", err)
	}
	if got := testkit.Git(t, pub.Dir, "rev-parse", "refs/heads/rtbot/env"); got != b.String() {
		t.Errorf("pushed branch at %s, want %s", got, b)
	}
	if _, err := testkit.RunGit(t, pub.Dir, nil, "fsck", "--strict"); err != nil {
		t.Errorf("the published repository does not pass git fsck: %v", err)
	}
}

// TestForeignRepository: a repository that belongs to another user, where
// git refuses to work, fails with an error that says so, not with git's
// advice to edit a global configuration rtbot does not read.
func TestForeignRepository(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give the repository to another user")
	}
	up, _, _ := upstream(t)
	local := newRepo(t, "local.git", true)
	if err := filepath.WalkDir(local.Dir, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, 65534, 65534)
	}); err != nil {
		t.Fatal(err)
	}
	_, err := Fetch(context.Background(), local.Dir, Endpoint{URL: up.Dir}, "linux-6.1.y", "refs/rtbot/c", nil)
	if err == nil || !strings.Contains(err.Error(), "belongs to another user") || strings.Contains(err.Error(), "--global") {
		t.Errorf("Fetch into another user's repository: %v", err)
	}
}

// TestFetchCutShort: a connection that breaks while the pack comes in is a
// temporary failure (a network one), not git index-pack's permanent
// complaint about a truncated pack; and the ref is not written.
func TestFetchCutShort(t *testing.T) {
	root, local, _ := served(t)
	srv := testkit.ServeGit(t, root, testkit.GitHTTPOptions{})
	target, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	cut := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, "/git-upload-pack") {
			proxy.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		proxy.ServeHTTP(rec, r)
		body := rec.Body.Bytes()
		conn, buf, err := w.(http.Hijacker).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		fmt.Fprintf(buf, "HTTP/1.1 200 OK\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n", rec.Header().Get("Content-Type"), len(body))
		buf.Write(body[:len(body)/2]) // then the connection ends
		buf.Flush()
	}))
	t.Cleanup(cut.Close)
	_, err = Fetch(context.Background(), local.Dir, Endpoint{URL: cut.URL + "/up.git"}, "linux-6.1.y", "refs/rtbot/c", nil)
	if err == nil || !IsTemporary(err) {
		t.Errorf("Fetch cut short: %v; want a temporary error", err)
	}
	if got := refs(t, local); len(got) > 1 {
		t.Errorf("a failed fetch left refs: %v", got)
	}
}

// TestSmallPush: a push of a few commits on what the remote has (every
// push of a result) is one whose pack git makes afresh, a push with no
// common history (a new remote) counts every commit, and an unknown
// revision is an error, not a guess.
func TestSmallPush(t *testing.T) {
	ctx := context.Background()
	up, a, b := upstream(t)
	g := localGit{dir: up.Dir}
	for _, tc := range []struct {
		revs string
		want int
	}{
		{b.String() + "\n^" + a.String() + "\n", 1},
		{b.String() + "\n", 2},
		{a.String() + "\n^" + b.String() + "\n", 0},
	} {
		n, err := g.countCommits(ctx, tc.revs)
		if err != nil || n != tc.want {
			t.Errorf("countCommits(%q) = %d, %v; want %d", tc.revs, n, err, tc.want)
		}
		if small, err := g.smallPush(ctx, tc.revs); err != nil || !small {
			t.Errorf("smallPush(%q) = %v, %v; want a small push", tc.revs, small, err)
		}
	}
	if _, err := g.countCommits(ctx, strings.Repeat("f", 40)+"\n"); err == nil {
		t.Error("countCommits of a commit the repository lacks: no error")
	}
}
