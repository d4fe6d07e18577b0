package config

import (
	"net/url"
	"strings"
)

// RemoteAuth is a [tree.push_auth] or [tree.candidate_auth] table: how
// rtbot authenticates to a tree's push remote or candidate remote, and how
// it authenticates the server. Every key is optional; without the table an
// ssh remote uses the ssh agent and the default known_hosts files, and an
// https remote goes without credentials unless its URL carries them.
//
// A token is sent as the password of HTTP basic authentication, with the
// user name written in the URL (https://NAME@host/path) or else
// "x-access-token" (which GitHub and GitLab accept with any token). It is
// sent over https, or over plain http to a loopback host only (the rule
// Rules.Loopback gives). Writing the token into the URL
// (https://user:token@host/path) still works, but puts a secret into the
// configuration file; either way rtbot never writes it anywhere
// (logs, state, status, mail, JSON: see netsec.Redact).
type RemoteAuth struct {
	// TokenEnv is the name of an environment variable holding the token;
	// TokenFile a file holding it (trailing newlines ignored, mode 0600 or
	// stricter, as a password file). At most one; https or loopback http
	// remotes only.
	TokenEnv  string `toml:"token_env"`
	TokenFile string `toml:"token_file"`
	// SSHKey is a private key file (OpenSSH or PEM, without a passphrase,
	// mode 0600 or stricter) an ssh remote is logged in to with, instead
	// of the ssh agent. ssh remotes only.
	SSHKey string `toml:"ssh_key"`
	// KnownHosts is the known_hosts file the ssh remote's host key must be
	// in, instead of ~/.ssh/known_hosts and /etc/ssh/ssh_known_hosts. ssh
	// remotes only.
	KnownHosts string `toml:"known_hosts"`
	// CAFile is a file of PEM certificates trusted for an https remote
	// besides the system's roots: a private CA. https remotes only.
	CAFile string `toml:"ca_file"`
}

// IsZero reports whether no key of the table is set.
func (a RemoteAuth) IsZero() bool { return a == RemoteAuth{} }

// hasToken reports whether a token is configured.
func (a RemoteAuth) hasToken() bool { return a.TokenEnv != "" || a.TokenFile != "" }

// remoteTransport is how a configured remote is reached, as far as the
// configuration says: "https", "http", "ssh", "git", "local", or "name" for
// a remote configured in the repository, which only the repository knows.
func remoteTransport(remote string) (transport, host string, u *url.Userinfo) {
	switch {
	case strings.Contains(remote, "://"):
		pu, err := url.Parse(remote)
		if err != nil {
			return "", "", nil
		}
		switch s := strings.ToLower(pu.Scheme); s {
		case "file":
			return "local", "", nil
		default:
			return s, pu.Hostname(), pu.User
		}
	case isLocalPath(remote):
		return "local", "", nil
	case nameRE.MatchString(remote):
		return "name", "", nil
	}
	return "ssh", "", nil // scp-style [user@]host:path
}

// validateAuth checks the [tree.push_auth] or [tree.candidate_auth] table
// (at key) against remote (at remoteKey), the remote it authenticates to,
// and resolves its paths.
func (a *RemoteAuth) validateAuth(p *problems, key, remoteKey, remote, base string, r Rules) {
	a.resolvePaths(p, key, base)
	transport, host, userinfo := remoteTransport(remote)
	password, hasPassword := userinfo.Password()
	if transport == "http" && userinfo != nil && !r.Loopback(host) {
		p.add(remoteKey, "%q: credentials go over plain http only to a loopback address (localhost, 127.0.0.0/8, ::1); use https", r.Redact(remote))
	}
	if a.IsZero() {
		return
	}
	if remote == "" {
		p.add(key, "is set, but %s is not", remoteKey)
		return
	}
	if a.hasToken() {
		switch {
		case transport == "http" && !r.Loopback(host):
			p.add(key+".token_env", "a token goes over plain http only to a loopback address; %s is %q: use https", remoteKey, r.Redact(remote))
		case transport != "https" && transport != "http" && transport != "name":
			p.add(key+".token_env", "a token is for https remotes; %s is %q", remoteKey, r.Redact(remote))
		case hasPassword && password != "":
			p.add(key+".token_env", "%s has credentials in its URL too: give the token once", remoteKey)
		}
	}
	if (a.SSHKey != "" || a.KnownHosts != "") && transport != "ssh" && transport != "name" {
		p.add(key+".ssh_key", "ssh_key and known_hosts are for ssh remotes; %s is %q", remoteKey, r.Redact(remote))
	}
	if a.CAFile != "" && transport != "https" && transport != "name" {
		p.add(key+".ca_file", "ca_file is for https remotes; %s is %q", remoteKey, r.Redact(remote))
	}
}

// resolvePaths checks the token keys and makes the table's paths absolute.
func (a *RemoteAuth) resolvePaths(p *problems, key, base string) {
	switch {
	case a.TokenEnv != "" && a.TokenFile != "":
		p.add(key+".token_env", "set token_file or token_env, not both")
	case a.TokenEnv != "" && !envRE.MatchString(a.TokenEnv):
		p.add(key+".token_env", "%q is not an environment variable name", a.TokenEnv)
	}
	if a.hasToken() && a.SSHKey != "" {
		p.add(key+".ssh_key", "a token is for https remotes and ssh_key for ssh remotes: set one")
	}
	for _, f := range []struct {
		name string
		v    *string
	}{{"token_file", &a.TokenFile}, {"ssh_key", &a.SSHKey}, {"known_hosts", &a.KnownHosts}, {"ca_file", &a.CAFile}} {
		if *f.v != "" {
			*f.v = resolvePath(p, key+"."+f.name, *f.v, base)
		}
	}
}
