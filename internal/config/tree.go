package config

import (
	"errors"
	"fmt"
	"net/mail"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
)

// BranchNamespace is the prefix of every branch rtbot creates or moves. A
// branch template must start with it literally, so no expansion can name a
// maintainer's branch.
const BranchNamespace = "rtbot/"

// Branch returns the result branch for candidate version (such as "6.1.177")
// and rc number of t: BranchTemplate with its placeholders replaced.
//
// The placeholders are {series} (Series, "6.1"), {version} (the announced
// version, "6.1.177"), {rc} (the rc number, "1") and {tree} (Name, "6.1-rt").
// For a final release (rc 0, see `rtbot run --onto`) the text "-rc{rc}"
// is left out of the template. The template must start with
// BranchNamespace and the result must be a valid branch name; Load checks
// the template, Branch checks the result with the Rules.Branch t was
// loaded with (a Tree that Load did not make has none, and gets an error).
func (t Tree) Branch(version string, rc int) (string, error) {
	if t.validBranch == nil {
		return "", fmt.Errorf("tree %s: not loaded by config.Load or Parse: no rule for branch names", t.Name)
	}
	if version == "" || strings.ContainsRune(version, '/') {
		return "", fmt.Errorf("tree %s: version %q cannot be part of a branch name", t.Name, version)
	}
	if err := checkTemplate(t.BranchTemplate); err != nil {
		return "", fmt.Errorf("tree %s: branch template %q: %w", t.Name, t.BranchTemplate, err)
	}
	tmpl := t.BranchTemplate
	if rc == 0 {
		// A final release: "6.1.12", not "6.1.12-rc0".
		tmpl = strings.ReplaceAll(tmpl, "-rc{rc}", "")
	}
	b := expandTemplate(tmpl, map[string]string{
		"series": t.Series, "version": version, "rc": strconv.Itoa(rc), "tree": t.Name,
	})
	if t.validBranch(b) != nil || !strings.HasPrefix(b, BranchNamespace) {
		return "", fmt.Errorf("tree %s: branch template %q gives %q, which is not a valid branch name under %s", t.Name, t.BranchTemplate, b, BranchNamespace)
	}
	return b, nil
}

// templateVars are the placeholders a branch template may use.
var templateVars = []string{"series", "version", "rc", "tree"}

// checkTemplate checks a branch template's placeholders and namespace.
func checkTemplate(tmpl string) error {
	if !strings.HasPrefix(tmpl, BranchNamespace) {
		return fmt.Errorf("must start with %q: rtbot only moves branches in its own namespace", BranchNamespace)
	}
	for s := tmpl; s != ""; {
		i := strings.IndexAny(s, "{}")
		if i < 0 {
			break
		}
		if s[i] == '}' {
			return errors.New("'}' without '{'")
		}
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			return errors.New("'{' without '}'")
		}
		name := s[i+1 : i+end]
		known := false
		for _, v := range templateVars {
			known = known || v == name
		}
		if !known {
			return fmt.Errorf("unknown placeholder {%s}: want {series}, {version}, {rc} or {tree}", name)
		}
		s = s[i+end+1:]
	}
	return nil
}

// expandTemplate replaces the placeholders of a checked template.
func expandTemplate(tmpl string, vars map[string]string) string {
	var b strings.Builder
	for s := tmpl; s != ""; {
		i := strings.IndexByte(s, '{')
		end := strings.IndexByte(s, '}')
		if i < 0 || end < i {
			b.WriteString(s)
			break
		}
		b.WriteString(s[:i])
		b.WriteString(vars[s[i+1:end]])
		s = s[end+1:]
	}
	return b.String()
}

// MatchesCandidate reports whether an announcement's tree URL and branch
// name t's candidate: the branch must equal CandidateBranch, and the URL must
// name the same host and repository path as AnnounceURL (CandidateURL when
// that is empty), whatever the scheme and trailing ".git" or "/". So
// git://git.kernel.org/.../linux-stable-rc.git matches
// https://git.kernel.org/.../linux-stable-rc. rtbot fetches from CandidateURL
// only, never from a URL taken from mail.
func (t Tree) MatchesCandidate(gitURL, branch string) bool {
	want := t.AnnounceURL
	if want == "" {
		want = t.CandidateURL
	}
	a, b := repoIdentity(gitURL), repoIdentity(want)
	return branch != "" && branch == t.CandidateBranch && a != "" && a == b
}

// repoIdentity reduces a git remote to host/path, lower-case host, without
// the scheme, user, port, trailing "/" and ".git".
func repoIdentity(remote string) string {
	var host, path string
	if strings.Contains(remote, "://") {
		u, err := url.Parse(remote)
		if err != nil {
			return ""
		}
		host, path = strings.ToLower(u.Hostname()), u.Path
	} else if filepath.IsAbs(remote) {
		path = remote
	} else if h, pth, ok := strings.Cut(remote, ":"); ok {
		if at := strings.LastIndexByte(h, '@'); at >= 0 {
			h = h[at+1:]
		}
		host, path = strings.ToLower(h), "/"+pth
	} else {
		return ""
	}
	path = strings.TrimSuffix(strings.TrimRight(path, "/"), ".git")
	path = strings.TrimRight(path, "/")
	if path == "" {
		return ""
	}
	return host + path
}

// AcceptsSender reports whether an announcement from address from (a bare
// address or "Name <address>", any case) counts for t.
func (t Tree) AcceptsSender(from string) bool {
	a, err := mail.ParseAddress(from)
	if err != nil {
		return false
	}
	addr := strings.ToLower(a.Address)
	for _, s := range t.Senders {
		if strings.ToLower(s) == addr {
			return true
		}
	}
	return false
}

// Trigger returns the [[trigger]] named name.
func (c *Config) Trigger(name string) (Trigger, bool) {
	for _, t := range c.Triggers {
		if t.Name == name {
			return t, true
		}
	}
	return Trigger{}, false
}

// TreesFor returns the trees that follow stable series ("6.1").
func (c *Config) TreesFor(series string) []Tree {
	var out []Tree
	for _, t := range c.Trees {
		if t.Series == series {
			out = append(out, t)
		}
	}
	return out
}
