package remote

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"

	"github.com/go-git/go-git/v5"
	gitconfig "github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"
	"github.com/rtbot/rtbot/internal/netsec"
	"github.com/rtbot/rtbot/internal/objstore"
	gossh "golang.org/x/crypto/ssh"
)

// DefaultTokenUser is the user name sent with an Endpoint's Token when the
// URL names none. GitHub and GitLab accept it with any token; a server that
// wants a particular name (Gitea and Forgejo want the account's, Bitbucket
// x-token-auth) gets it in the URL: https://NAME@host/path.
const DefaultTokenUser = "x-access-token"

// Endpoint is a remote as rtbot reaches it: where it is, how rtbot
// authenticates to it, and how it authenticates the server.
type Endpoint struct {
	// URL is a remote configured in the repository, a URL or a path. An
	// http(s) URL may carry credentials (https://user:token@host/...):
	// they are taken out of it and sent as HTTP basic authentication, so
	// that no error or log line can repeat them.
	URL string
	// Token, when set, is the password of HTTP basic authentication for
	// an https remote (or http to a loopback host), with the URL's user
	// name or DefaultTokenUser. A URL that carries a password too is
	// refused.
	Token string
	// SSHKey, when set, is the private key (PEM, without a passphrase) an
	// ssh remote is logged in to with; otherwise the ssh agent.
	SSHKey []byte
	// KnownHosts, when set, is the known_hosts file an ssh remote's host
	// key must be in; otherwise ~/.ssh/known_hosts and
	// /etc/ssh/ssh_known_hosts (or the files $SSH_KNOWN_HOSTS lists).
	KnownHosts string
	// CA, when set, are PEM certificates trusted for an https remote
	// besides the system's roots: a private CA.
	CA []byte
}

// Name is the endpoint as messages show it: its URL without credentials.
func (ep Endpoint) Name() string { return netsec.Redact(ep.URL) }

// session is an Endpoint made ready for go-git: an anonymous remote whose
// URL carries no credentials, and the authentication to use with it.
type session struct {
	repo   *git.Repository
	remote *git.Remote
	auth   transport.AuthMethod
	ca     []byte
	name   string   // Endpoint.Name, for messages
	git    localGit // the local repository, for the object work
}

// open opens the repository at repoPath (bare or not) and a session for
// ep: the remote configured under that name, or else the URL or path,
// used through an anonymous remote that is not saved in the repository's
// configuration.
func open(repoPath string, ep Endpoint) (*session, error) {
	s := &session{name: ep.Name(), ca: ep.CA}
	if err := checkRemote(ep.URL, s.name); err != nil {
		return nil, err
	}
	repo, err := objstore.OpenRepository(repoPath)
	if err != nil {
		return nil, err
	}
	s.repo = repo
	s.git = localGit{dir: repoPath}
	url := ep.URL
	if r, err := repo.Remote(ep.URL); err == nil && len(r.Config().URLs) > 0 {
		url = r.Config().URLs[0]
	}
	if url, s.auth, err = authenticate(url, ep); err != nil {
		return nil, fmt.Errorf("remote %s: %w", s.name, err)
	}
	s.remote = git.NewRemote(repo.Storer, &gitconfig.RemoteConfig{Name: "anonymous", URLs: []string{url}})
	return s, nil
}

// authenticate returns url without credentials and the authentication
// method for it, from the credentials in url and those of ep. The
// credentials must suit the transport: a token for http(s), a key and
// known hosts for ssh, none for git:// and local repositories.
func authenticate(url string, ep Endpoint) (string, transport.AuthMethod, error) {
	tep, err := transport.NewEndpoint(url)
	if err != nil {
		return "", nil, errors.New(netsec.Redact(err.Error()))
	}
	switch tep.Protocol {
	case "http", "https":
		auth, err := httpAuth(tep, ep)
		return netsec.Redact(url), auth, err
	case "ssh":
		auth, err := sshAuth(tep, ep)
		return url, auth, err
	}
	if ep.Token != "" || ep.SSHKey != nil || ep.KnownHosts != "" || ep.CA != nil {
		return "", nil, fmt.Errorf("a %s remote takes no token, ssh key, known hosts or CA", tep.Protocol)
	}
	return url, nil, nil
}

// httpAuth is the basic authentication for an http(s) remote: the URL's
// user and password, or its user (else DefaultTokenUser) and ep.Token.
// Credentials go over plain http only to a loopback host (netsec's rule).
func httpAuth(tep *transport.Endpoint, ep Endpoint) (transport.AuthMethod, error) {
	if ep.SSHKey != nil || ep.KnownHosts != "" {
		return nil, errors.New("an ssh key and known hosts are for ssh remotes; an https remote takes a token")
	}
	if ep.CA != nil && tep.Protocol != "https" {
		return nil, errors.New("a CA certificate is for https remotes")
	}
	user, password := tep.User, tep.Password
	if ep.Token != "" {
		if password != "" {
			return nil, errors.New("credentials both in the URL and as a token: give the token once")
		}
		password = ep.Token
		if user == "" {
			user = DefaultTokenUser
		}
	}
	if user == "" && password == "" {
		return nil, nil
	}
	if tep.Protocol == "http" && !netsec.LoopbackHost(strings.Trim(tep.Host, "[]")) {
		return nil, fmt.Errorf("refusing to send credentials over plain http to %s: use https (plain http only to localhost or a loopback address)", tep.Host)
	}
	return &githttp.BasicAuth{Username: user, Password: password}, nil
}

// sshAuth is the authentication for an ssh remote: the key ep.SSHKey, or
// the ssh agent, as the URL's user (else git), with the host key checked
// against ep.KnownHosts or the default known_hosts files. nil (go-git's
// default: the agent and the default files) when ep sets neither.
func sshAuth(tep *transport.Endpoint, ep Endpoint) (transport.AuthMethod, error) {
	switch {
	case ep.Token != "":
		return nil, errors.New("a token is for https remotes; an ssh remote takes an ssh key")
	case ep.CA != nil:
		return nil, errors.New("a CA certificate is for https remotes; an ssh remote's host key is checked against known hosts")
	case tep.Password != "":
		return nil, errors.New("an ssh remote logs in with a key (or the ssh agent), not a password in the URL")
	case ep.SSHKey == nil && ep.KnownHosts == "":
		return nil, nil
	}
	user := tep.User
	if user == "" {
		user = gitssh.DefaultUsername
	}
	hosts, err := knownHosts(ep.KnownHosts)
	if err != nil {
		return nil, err
	}
	port := tep.Port
	if port == 0 {
		port = 22
	}
	helper := gitssh.HostKeyCallbackHelper{
		HostKeyCallback:   hosts.HostKeyCallback(),
		HostKeyAlgorithms: hosts.HostKeyAlgorithms(net.JoinHostPort(strings.Trim(tep.Host, "[]"), strconv.Itoa(port))),
	}
	if ep.SSHKey == nil {
		agent, err := gitssh.NewSSHAgentAuth(user)
		if err != nil {
			return nil, err
		}
		agent.HostKeyCallbackHelper = helper
		return agent, nil
	}
	key, err := gitssh.NewPublicKeys(user, ep.SSHKey, "")
	if err != nil {
		return nil, fmt.Errorf("ssh key: %w (rtbot runs unattended: the key must not have a passphrase)", err)
	}
	key.HostKeyCallbackHelper = helper
	return key, nil
}

// knownHostsDB is what sshAuth needs of a known_hosts database.
type knownHostsDB interface {
	HostKeyCallback() gossh.HostKeyCallback
	HostKeyAlgorithms(hostWithPort string) []string
}

// knownHosts reads the known_hosts file (the default files when file is
// empty), which must exist: go-git skips missing files silently.
func knownHosts(file string) (knownHostsDB, error) {
	if file == "" {
		return gitssh.NewKnownHostsDb()
	}
	if _, err := os.Stat(file); err != nil {
		return nil, fmt.Errorf("known hosts: %w", err)
	}
	db, err := gitssh.NewKnownHostsDb(file)
	if err != nil {
		return nil, fmt.Errorf("known hosts %s: %w", file, err)
	}
	return db, nil
}
