package remote

import (
	"context"
	"encoding/base64"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	gitconfig "github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/rtbot/rtbot/internal/fixtures"
	"github.com/rtbot/rtbot/internal/testkit"
)

const token = "tok3n-S3CRET"

// served is upstream's repository under a directory a test serves, and
// a repository to fetch into.
func served(t *testing.T) (root string, local *fixtures.Repo, a plumbing.Hash) {
	t.Helper()
	up, a, _ := upstream(t)
	return filepath.Dir(up.Dir), newRepo(t, "local.git", true), a
}

// withUser puts user information into a server's base URL.
func withUser(base, userinfo string) string {
	scheme, rest, _ := strings.Cut(base, "://")
	return scheme + "://" + userinfo + "@" + rest
}

// TestHTTPCredentials fetches through git http-backend behind basic
// authentication with the token in the URL, beside it, wrong or missing;
// no error names the token.
func TestHTTPCredentials(t *testing.T) {
	ctx := context.Background()
	root, local, a := served(t)
	srv := testkit.ServeGit(t, root, testkit.GitHTTPOptions{User: "bot", Password: token})
	local.Repo.CreateRemote(&gitconfig.RemoteConfig{Name: "up", URLs: []string{withUser(srv.URL, "bot:"+token) + "/up.git"}})
	for _, tc := range []struct {
		name string
		ep   Endpoint
		want string // in the error; "" for success
	}{
		{"token in the URL", Endpoint{URL: withUser(srv.URL, "bot:"+token) + "/up.git"}, ""},
		{"user in the URL, token apart", Endpoint{URL: withUser(srv.URL, "bot") + "/up.git", Token: token}, ""},
		{"a remote of the repository, token in its URL", Endpoint{URL: "up"}, ""},
		{"wrong token in the URL", Endpoint{URL: withUser(srv.URL, "bot:"+token+"-old") + "/up.git"}, "authentication required"},
		{"wrong token", Endpoint{URL: withUser(srv.URL, "bot") + "/up.git", Token: token + "-old"}, "authentication required"},
		{"no token", Endpoint{URL: srv.URL + "/up.git"}, "authentication required"},
		{"token twice", Endpoint{URL: withUser(srv.URL, "bot:"+token) + "/up.git", Token: token}, "give the token once"},
		{"ssh key for https", Endpoint{URL: srv.URL + "/up.git", SSHKey: []byte("key")}, "for ssh remotes"},
		{"CA for plain http", Endpoint{URL: srv.URL + "/up.git", CA: []byte("ca")}, "for https remotes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, err := Fetch(ctx, local.Dir, tc.ep, "linux-6.1.y", "refs/rtbot/c", nil)
			switch {
			case tc.want == "" && (err != nil || h != a):
				t.Fatalf("Fetch = %s, %v; want %s", h, err, a)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("Fetch = %s, %v; want an error with %q", h, err, tc.want)
			case err != nil && (strings.Contains(err.Error(), token) || IsTemporary(err)):
				t.Errorf("error %q names the token or is temporary", err)
			}
		})
	}
	// Head of a missing branch on the repository's remote: no token either.
	if _, err := Fetch(ctx, local.Dir, Endpoint{URL: "up"}, "linux-9.9.y", "refs/rtbot/c", nil); err == nil || strings.Contains(err.Error(), token) {
		t.Errorf("Fetch of a missing branch: %v; want an error without the token", err)
	}
}

// TestTokenUser: a token without a user name in the URL goes as
// DefaultTokenUser's password, and push works with it.
func TestTokenUser(t *testing.T) {
	ctx := context.Background()
	root, local, a := served(t)
	if _, err := fixtures.Init(filepath.Join(root, "published.git"), true); err != nil {
		t.Fatal(err)
	}
	srv := testkit.ServeGit(t, root, testkit.GitHTTPOptions{User: DefaultTokenUser, Password: token})
	ep := Endpoint{URL: srv.URL + "/up.git", Token: token}
	if _, err := Fetch(ctx, local.Dir, ep, "linux-6.1.y", "refs/rtbot/c", nil); err != nil {
		t.Fatal(err)
	}
	want := "Basic " + base64.StdEncoding.EncodeToString([]byte(DefaultTokenUser+":"+token))
	if got := srv.Authorizations(); len(got) == 0 || got[0] != want {
		t.Errorf("Authorization %q, want %q", got, want)
	}
	pub := Endpoint{URL: srv.URL + "/published.git", Token: token}
	if err := Push(ctx, local.Dir, pub, "rtbot/x", a, plumbing.ZeroHash, nil); err != nil {
		t.Fatal(err)
	}
	if h, err := RemoteHead(ctx, local.Dir, pub, "rtbot/x"); err != nil || h != a {
		t.Errorf("pushed branch at %s, %v; want %s", h, err, a)
	}
}

// TestCredentialsNeedTLS: credentials go over plain http to loopback
// only; elsewhere they are refused before anything is sent.
func TestCredentialsNeedTLS(t *testing.T) {
	ctx := context.Background()
	local := newRepo(t, "local.git", true)
	for _, ep := range []Endpoint{
		{URL: "http://192.0.2.1/r.git", Token: token},
		{URL: "http://bot:" + token + "@git.example.org/r.git"},
		{URL: "http://" + token + "@[2001:db8::1]:8080/r.git"},
	} {
		_, err := Fetch(ctx, local.Dir, ep, "main", "refs/rtbot/c", nil)
		if err == nil || !strings.Contains(err.Error(), "use https") || strings.Contains(err.Error(), token) {
			t.Errorf("Fetch %s: %v; want refused, without the token", ep.Name(), err)
		}
	}
	// Loopback is allowed: the error is the connection's, not the rule's.
	_, err := Fetch(ctx, local.Dir, Endpoint{URL: "http://" + testkit.ClosedPort(t) + "/r.git", Token: token}, "main", "refs/rtbot/c", nil)
	if err == nil || strings.Contains(err.Error(), "use https") || !IsTemporary(err) {
		t.Errorf("Fetch from a closed loopback port: %v; want a temporary connection error", err)
	}
}

// TestHTTPSPrivateCA: an https remote whose certificate a private CA
// signed fails without the CA and works with it.
func TestHTTPSPrivateCA(t *testing.T) {
	ctx := context.Background()
	root, local, a := served(t)
	serverTLS, _ := testkit.SelfSignedTLS(t, "127.0.0.1")
	srv := testkit.ServeGit(t, root, testkit.GitHTTPOptions{User: "bot", Password: token, TLS: serverTLS})
	ep := Endpoint{URL: withUser(srv.URL, "bot") + "/up.git", Token: token}
	_, err := Fetch(ctx, local.Dir, ep, "linux-6.1.y", "refs/rtbot/c", nil)
	if err == nil || !strings.Contains(err.Error(), "certificate signed by unknown authority") {
		t.Fatalf("Fetch without the CA: %v; want an unknown authority", err)
	}
	ep.CA = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: serverTLS.Certificates[0].Certificate[0]})
	if h, err := Fetch(ctx, local.Dir, ep, "linux-6.1.y", "refs/rtbot/c", nil); err != nil || h != a {
		t.Fatalf("Fetch with the CA = %s, %v; want %s", h, err, a)
	}
}

// TestSSHKey fetches and pushes over ssh with a key file's key and a
// known_hosts file, and checks that a wrong key, an unknown host and a
// changed host key are refused.
func TestSSHKey(t *testing.T) {
	ctx := context.Background()
	root, local, a := served(t)
	if _, err := fixtures.Init(filepath.Join(root, "published.git"), true); err != nil {
		t.Fatal(err)
	}
	client, keyPEM := newKey(t)
	srv := serveSSH(t, root, client.PublicKey())
	_, otherPEM := newKey(t)
	otherHost, _ := newKey(t)
	hosts := knownHostsFile(t, srv.addr, srv.hostKey)
	url := "ssh://git@" + srv.addr
	ep := Endpoint{URL: url + "/up.git", SSHKey: keyPEM, KnownHosts: hosts}
	if h, err := Fetch(ctx, local.Dir, ep, "linux-6.1.y", "refs/rtbot/c", nil); err != nil || h != a {
		t.Fatalf("Fetch over ssh = %s, %v; want %s", h, err, a)
	}
	pub := Endpoint{URL: url + "/published.git", SSHKey: keyPEM, KnownHosts: hosts}
	if err := Push(ctx, local.Dir, pub, "rtbot/x", a, plumbing.ZeroHash, nil); err != nil {
		t.Fatalf("Push over ssh: %v", err)
	}
	if h, err := RemoteHead(ctx, local.Dir, pub, "rtbot/x"); err != nil || h != a {
		t.Fatalf("pushed over ssh to %s, %v; want %s", h, err, a)
	}
	for _, tc := range []struct {
		name string
		ep   Endpoint
		want string
	}{
		{"wrong key", Endpoint{URL: ep.URL, SSHKey: otherPEM, KnownHosts: hosts}, "unable to authenticate"},
		{"host not known", Endpoint{URL: ep.URL, SSHKey: keyPEM, KnownHosts: knownHostsFile(t, "127.0.0.1:1", srv.hostKey)}, "key is unknown"},
		{"host key changed", Endpoint{URL: ep.URL, SSHKey: keyPEM, KnownHosts: knownHostsFile(t, srv.addr, otherHost.PublicKey())}, "key mismatch"},
		{"no known_hosts file", Endpoint{URL: ep.URL, SSHKey: keyPEM, KnownHosts: hosts + ".missing"}, "no such file"},
		{"not a key", Endpoint{URL: ep.URL, SSHKey: []byte("not a key"), KnownHosts: hosts}, "ssh key"},
		{"token for ssh", Endpoint{URL: ep.URL, Token: token}, "a token is for https remotes"},
		{"password in the URL", Endpoint{URL: "ssh://git:" + token + "@" + srv.addr + "/up.git", SSHKey: keyPEM}, "not a password"},
		{"key for a local path", Endpoint{URL: filepath.Join(root, "up.git"), SSHKey: keyPEM}, "takes no token, ssh key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Fetch(ctx, local.Dir, tc.ep, "linux-6.1.y", "refs/rtbot/c", nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), token) {
				t.Errorf("Fetch: %v; want an error with %q", err, tc.want)
			}
		})
	}
}

func TestMain(m *testing.M) {
	// The ssh agent of whoever runs the tests must not be asked.
	os.Unsetenv("SSH_AUTH_SOCK")
	os.Exit(m.Run())
}
