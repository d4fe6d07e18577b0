package pipeline

import (
	"crypto/tls"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rtbot/rtbot/internal/config"
	"github.com/rtbot/rtbot/internal/state"
	"github.com/rtbot/rtbot/internal/testkit"
)

// TestEndpoints: the auth tables reach package remote's Endpoint, read
// when used, and a problem reading them names the table and the file.
func TestEndpoints(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string, mode os.FileMode) string {
		return testkit.WriteFile(t, filepath.Join(dir, name), content, mode)
	}
	t.Setenv("RTBOT_TEST_TOKEN", "glpat-env")
	tr := config.Tree{Name: "6.1-rt", PushRemote: "git@gitlab.example.org:rt/linux.git", CandidateURL: "https://mirror.example.org/linux.git",
		PushAuth:      config.RemoteAuth{SSHKey: write("id", "KEY", 0o600), KnownHosts: "/etc/rtbot/known_hosts"},
		CandidateAuth: config.RemoteAuth{TokenEnv: "RTBOT_TEST_TOKEN", CAFile: filepath.Join(dir, "ca.pem")}}
	ep, err := pushEndpoint(tr)
	if err != nil || string(ep.SSHKey) != "KEY" || ep.KnownHosts != "/etc/rtbot/known_hosts" || ep.URL != tr.PushRemote || ep.Token != "" {
		t.Errorf("pushEndpoint = %+v, %v", ep, err)
	}
	if _, err := candidateEndpoint(tr); err == nil || !strings.Contains(err.Error(), "tree 6.1-rt candidate_auth: CA file") ||
		!strings.Contains(err.Error(), "ca.pem") {
		t.Errorf("candidateEndpoint with a missing CA file: %v; want an error naming the table and the file", err)
	}
	tr.CandidateAuth.CAFile = ""
	if ep, err := candidateEndpoint(tr); err != nil || ep.Token != "glpat-env" || ep.CA != nil {
		t.Errorf("candidateEndpoint = %+v, %v", ep, err)
	}
	tr.PushAuth.SSHKey = write("id-open", "KEY", 0o644)
	if _, err := pushEndpoint(tr); err == nil || !strings.Contains(err.Error(), "tree 6.1-rt push_auth: ssh key") || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("pushEndpoint with a key others may read: %v", err)
	}
	override := &tls.Config{}
	if got, err := serverTLS(override, config.Server{CAFile: "/nowhere"}, "imap"); got != override || err != nil {
		t.Errorf("serverTLS with an override = %v, %v; want the override", got, err)
	}
	if _, err := serverTLS(nil, config.Server{CAFile: filepath.Join(dir, "none.pem")}, "smtp"); err == nil || !strings.HasPrefix(err.Error(), "smtp.ca_file: CA file") {
		t.Errorf("serverTLS with a missing CA file: %v; want an error naming smtp.ca_file", err)
	}
}

// TestRerunRemoteWithoutCredentials: a rerun records its tree's push
// remote without credentials, and is accepted whether it was recorded so
// or, by an earlier rtbot, with them; a refusal does not quote them.
func TestRerunRemoteWithoutCredentials(t *testing.T) {
	w := newCrashWorld(t)
	w.cfg.Trees[0].PushRemote = "https://bot:t0k3n@git.example.org/rt/linux.git"
	p := New(w.cfg, w.store, Options{})
	for _, tc := range []struct {
		url, branch string
		ok          bool
	}{
		{"https://git.example.org/rt/linux.git", "rtbot/6.1-rt/6.1.12-rc2-partial", true},
		{w.cfg.Trees[0].PushRemote, "rtbot/6.1-rt/6.1.12-rc2-partial", true},
		{w.cfg.Trees[0].PushRemote, "rtbot/6.1-rt/6.1.12-rc3-partial", false},
	} {
		trees, why := p.accepting(state.Announcement{Kind: KindRerun, Series: "6.1", Version: "6.1.12", RC: 2, GitURL: tc.url, GitBranch: tc.branch})
		if (len(trees) == 1) != tc.ok || strings.Contains(why, "t0k3n") {
			t.Errorf("%s %s: accepted by %d trees (%s); want accepted %v, without the token", tc.url, tc.branch, len(trees), why, tc.ok)
		}
	}
}
