package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rtbot/rtbot/internal/config"
	"github.com/rtbot/rtbot/internal/pipeline"
	"github.com/rtbot/rtbot/internal/testkit"
)

// withAuth adds keys to the tree of minimal (pushing to push, when not
// "") and a [tree.TABLE] with the auth keys.
func withAuth(push, table, keys string) (old, new string) {
	new = `triggers = ["build"]`
	if push != "" {
		new += "\npush_remote = " + `"` + push + `"`
	}
	if table != "" {
		new += "\n[tree." + table + "]\n" + keys
	}
	return `triggers = ["build"]`, new
}

// authCase is a validationCase for a push remote and its auth table.
func authCase(name, push, table, keys, key, msg string) validationCase {
	old, new := withAuth(push, table, keys)
	return validationCase{name, old, new, key, msg}
}

// validationAuthCases edit a tree's remotes and their [tree.push_auth] and
// [tree.candidate_auth] tables, and the ca_file of the servers.
func validationAuthCases() []validationCase {
	const gl = "https://gitlab.example.org/rt/linux.git"
	return []validationCase{
		authCase("https token", gl, "push_auth", `token_env = "GL_TOKEN"`, "", ""),
		authCase("https token file", gl, "push_auth", `token_file = "gl.token"`, "", ""),
		authCase("token for a remote name", "origin", "push_auth", `token_env = "GL_TOKEN"`, "", ""),
		authCase("token to loopback http", "http://127.0.0.1:8080/rt/linux.git", "push_auth", `token_env = "T"`, "", ""),
		authCase("token both ways", gl, "push_auth", "token_env = \"T\"\ntoken_file = \"t\"", "tree[0].push_auth.token_env", "not both"),
		authCase("token env name", gl, "push_auth", `token_env = "1T"`, "tree[0].push_auth.token_env", "environment variable"),
		authCase("token over http", "http://gitlab.example.org/rt/linux.git", "push_auth", `token_env = "T"`, "tree[0].push_auth.token_env", "use https"),
		authCase("token for ssh", "git@gitlab.example.org:rt/linux.git", "push_auth", `token_env = "T"`, "tree[0].push_auth.token_env", "https remotes"),
		authCase("token and a password in the URL", "https://bot:t0k@gitlab.example.org/rt/linux.git", "push_auth", `token_env = "T"`, "tree[0].push_auth.token_env", "give the token once"),
		authCase("credentials over http", "http://bot:t0k@gitlab.example.org/rt/linux.git", "", "", "tree[0].push_remote", "use https"),
		authCase("ssh key", "git@gitlab.example.org:rt/linux.git", "push_auth", "ssh_key = \"~/.ssh/rtbot\"\nknown_hosts = \"known_hosts\"", "", ""),
		authCase("ssh key for https", gl, "push_auth", `ssh_key = "id"`, "tree[0].push_auth.ssh_key", "ssh remotes"),
		authCase("known hosts for a path", "/srv/published.git", "push_auth", `known_hosts = "kh"`, "tree[0].push_auth.ssh_key", "ssh remotes"),
		authCase("token and ssh key", "origin", "push_auth", "token_env = \"T\"\nssh_key = \"id\"", "tree[0].push_auth.ssh_key", "set one"),
		authCase("CA for https", gl, "push_auth", `ca_file = "ca.pem"`, "", ""),
		authCase("CA for ssh", "ssh://git@gitlab.example.org/rt/linux.git", "push_auth", `ca_file = "ca.pem"`, "tree[0].push_auth.ca_file", "https remotes"),
		authCase("auth without push remote", "", "push_auth", `token_env = "T"`, "tree[0].push_auth", "push_remote is not"),
		authCase("candidate CA", "", "candidate_auth", `ca_file = "ca.pem"`, "", ""),
		authCase("candidate token", "", "candidate_auth", `token_env = "T"`, "", ""), // minimal's candidate is https
		{"candidate token git", `candidate_url = "https://git.kernel.org/pub/scm/linux/kernel/git/stable/linux-stable-rc.git"`,
			"candidate_url = \"git://git.kernel.org/pub/scm/linux/kernel/git/stable/linux-stable-rc.git\"\n[tree.candidate_auth]\ntoken_env = \"T\"",
			"tree[0].candidate_auth.token_env", "https remotes"},
		{"imap CA", `password_env = "IMAP_PW"`, "password_env = \"IMAP_PW\"\nca_file = \"ca.pem\"", "", ""},
		{"smtp CA without TLS", `tls = "starttls"`, "tls = \"plain\"\nca_file = \"ca.pem\"", "smtp.ca_file", "TLS connection"},
	}
}

func TestValidationAuth(t *testing.T) {
	for _, tt := range validationAuthCases() {
		t.Run(tt.name, func(t *testing.T) { checkValidation(t, tt) })
	}
}

// TestAuthPaths: the files of an auth table are resolved like other paths.
func TestAuthPaths(t *testing.T) {
	old, new := withAuth("git@gitlab.example.org:rt/linux.git", "push_auth", "ssh_key = \"keys/rtbot\"\nknown_hosts = \"/etc/ssh/kh\"")
	c := mustParse(t, edit(t, minimal, old, new))
	if a := c.Trees[0].PushAuth; a.SSHKey != "/etc/rtbot/keys/rtbot" || a.KnownHosts != "/etc/ssh/kh" {
		t.Errorf("push_auth = %+v; want the paths resolved against /etc/rtbot", a)
	}
	old, new = withAuth("", "candidate_auth", `ca_file = "ca.pem"`)
	if c := mustParse(t, edit(t, minimal, old, new)); c.Trees[0].CandidateAuth.CAFile != "/etc/rtbot/ca.pem" {
		t.Errorf("candidate_auth.ca_file = %q", c.Trees[0].CandidateAuth.CAFile)
	}
}

// TestNoSecretInConfigErrors: an error about a remote that carries a
// token quotes it without the token.
func TestNoSecretInConfigErrors(t *testing.T) {
	for _, remote := range []string{
		"https://bot:t0k3n@/rt/linux.git",               // no host
		"ftp://bot:t0k3n@example.org/rt/linux.git",      // scheme
		"http://bot:t0k3n@gitlab.example.org/linux.git", // credentials over http
	} {
		old, new := withAuth(remote, "", "")
		_, err := config.Parse("/etc/rtbot/rtbot.toml", []byte(edit(t, minimal, old, new)), pipeline.ConfigRules())
		if err == nil || !strings.Contains(err.Error(), "tree[0].push_remote") || strings.Contains(err.Error(), "t0k3n") {
			t.Errorf("push_remote %s: %v; want an error on push_remote without the token", remote, err)
		}
	}
}

// TestRemoteAuthSecrets reads tokens and keys as passwords are read: from
// files only group and others cannot access, or the environment.
func TestRemoteAuthSecrets(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string, mode os.FileMode) string {
		return testkit.WriteFile(t, filepath.Join(dir, name), content, mode)
	}
	t.Setenv("RTBOT_TEST_TOKEN", "glpat-x")
	for _, tt := range []struct {
		name   string
		a      config.RemoteAuth
		want   string
		errMsg string
	}{
		{"token file", config.RemoteAuth{TokenFile: write("t", "glpat-f\n", 0o600)}, "glpat-f", ""},
		{"token file readable by others", config.RemoteAuth{TokenFile: write("t2", "glpat-f\n", 0o644)}, "", "token file " + dir + "/t2 has mode 0644"},
		{"token env", config.RemoteAuth{TokenEnv: "RTBOT_TEST_TOKEN"}, "glpat-x", ""},
		{"token env unset", config.RemoteAuth{TokenEnv: "RTBOT_TEST_NO_TOKEN"}, "", "RTBOT_TEST_NO_TOKEN (token_env) is not set"},
		{"no token", config.RemoteAuth{}, "", ""},
		{"ssh key", config.RemoteAuth{SSHKey: write("id", "KEY\n", 0o400)}, "KEY\n", ""},
		{"ssh key readable by the group", config.RemoteAuth{SSHKey: write("id2", "KEY\n", 0o640)}, "", "ssh key " + dir + "/id2 has mode 0640"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.a.Token()
			if tt.a.SSHKey != "" {
				var b []byte
				b, err = tt.a.SSHPrivateKey()
				got = string(b)
			}
			switch {
			case tt.errMsg != "" && (err == nil || !strings.Contains(err.Error(), tt.errMsg)):
				t.Fatalf("got %q, %v; want an error containing %q", got, err, tt.errMsg)
			case tt.errMsg == "" && (err != nil || got != tt.want):
				t.Fatalf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}
