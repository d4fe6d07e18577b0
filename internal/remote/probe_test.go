package remote

import (
	"context"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/rtbot/rtbot/internal/fixtures"
	"github.com/rtbot/rtbot/internal/testkit"
)

// TestCheckPush: CheckPush passes where a push would be let in and fails,
// with the server's answer, where it would not, over a path, http with
// and without a token, and ssh with the right key and another one; and
// it pushes nothing.
func TestCheckPush(t *testing.T) {
	ctx := context.Background()
	root, local, _ := served(t)
	published, err := fixtures.Init(filepath.Join(root, "published.git"), true)
	if err != nil {
		t.Fatal(err)
	}
	before := refs(t, published)
	withToken := testkit.ServeGit(t, root, testkit.GitHTTPOptions{User: "bot", Password: token})
	readOnly := testkit.ServeGit(t, root, testkit.GitHTTPOptions{}) // http-backend: no push without a user
	client, keyPEM := newKey(t)
	_, otherPEM := newKey(t)
	ssh := serveSSH(t, root, client.PublicKey())
	hosts := knownHostsFile(t, ssh.addr, ssh.hostKey)
	for _, tc := range []struct {
		name string
		ep   Endpoint
		want error // nil: CheckPush passes
	}{
		{"path", Endpoint{URL: published.Dir}, nil},
		{"file URL", Endpoint{URL: "file://" + published.Dir}, nil},
		{"https token", Endpoint{URL: withUser(withToken.URL, "bot") + "/published.git", Token: token}, nil},
		{"wrong token", Endpoint{URL: withUser(withToken.URL, "bot") + "/published.git", Token: "old"}, transport.ErrAuthenticationRequired},
		{"no token", Endpoint{URL: withToken.URL + "/published.git"}, transport.ErrAuthenticationRequired},
		{"read-only server", Endpoint{URL: readOnly.URL + "/published.git"}, transport.ErrAuthorizationFailed},
		{"no repository", Endpoint{URL: readOnly.URL + "/nope.git"}, transport.ErrRepositoryNotFound},
		{"ssh key", Endpoint{URL: "ssh://git@" + ssh.addr + "/published.git", SSHKey: keyPEM, KnownHosts: hosts}, nil},
		{"another ssh key", Endpoint{URL: "ssh://git@" + ssh.addr + "/published.git", SSHKey: otherPEM, KnownHosts: hosts},
			errors.New("unable to authenticate")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckPush(ctx, local.Dir, tc.ep)
			switch {
			case tc.want == nil && err != nil:
				t.Errorf("CheckPush = %v, want nil", err)
			case tc.want != nil && (err == nil || !strings.Contains(err.Error(), tc.want.Error())):
				t.Errorf("CheckPush = %v, want %v", err, tc.want)
			case err != nil && (strings.Contains(err.Error(), token) || IsTemporary(err)):
				t.Errorf("CheckPush = %v: the token, or taken for temporary", err)
			}
		})
	}
	if after := refs(t, published); !maps.Equal(before, after) {
		t.Errorf("refs moved: %v, then %v", before, after)
	}
}

// TestCheckPushNotWritable: a local repository rtbot's user cannot write
// fails, saying which directory.
func TestCheckPushNotWritable(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root writes everything: run as another user")
	}
	_, local, _ := served(t)
	ro := newRepo(t, "ro.git", true)
	objects := filepath.Join(ro.Dir, "objects")
	if err := os.Chmod(objects, 0o555); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(objects, 0o755) })
	if err := CheckPush(context.Background(), local.Dir, Endpoint{URL: ro.Dir}); err == nil || !strings.Contains(err.Error(), "cannot write "+objects) {
		t.Errorf("CheckPush to a read-only repository = %v", err)
	}
}
