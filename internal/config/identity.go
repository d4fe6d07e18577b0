package config

// RepoIdentity is a git remote as MatchesCandidate compares remotes: the
// host (lower case) and the path, without the scheme, user, port,
// trailing "/" and ".git"; for a local path, the path. It is "" for what
// it cannot read as a repository's place: a remote name, an unparsable
// URL.
func RepoIdentity(remote string) string { return repoIdentity(remote) }

// IsLocalRemote reports whether a remote, as a loaded configuration has
// it, is a repository on this machine: a path or a file:// URL.
func IsLocalRemote(remote string) bool {
	transport, _, _ := remoteTransport(remote)
	return transport == "local"
}
