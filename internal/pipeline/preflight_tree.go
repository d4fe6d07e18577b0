package pipeline

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"

	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/rtbot/rtbot/internal/config"
	"github.com/rtbot/rtbot/internal/merger"
	"github.com/rtbot/rtbot/internal/netsec"
	"github.com/rtbot/rtbot/internal/objstore"
	"github.com/rtbot/rtbot/internal/patchqueue"
	"github.com/rtbot/rtbot/internal/remote"
)

// The preflight's checks of one tree: its repository, its queue, its two
// remotes and announce_url.

// checkRepo opens the tree's repository, and runs git in it as every
// fetch and push does.
func (p *Pipeline) checkRepo(ctx context.Context, tk treeKeys) Step {
	name := tk.step("repo")
	if _, err := objstore.OpenRepository(tk.t.Repo); err != nil {
		return failed(name, Problem{Key: tk.key("repo"), What: err.Error(),
			Fix: "set repo to the local clone of the kernel (bare or not) that rtbot fetches candidates into and rebases in"})
	}
	ctx, cancel := context.WithTimeout(ctx, StepTimeout)
	defer cancel()
	version, err := remote.CheckLocalGit(ctx, tk.t.Repo)
	if err != nil {
		return failed(name, Problem{Key: tk.key("repo"), What: err.Error(),
			Fix: "install git, and run rtbot as the user the repository belongs to"})
	}
	return Step{Name: name, Found: tk.t.Repo + " opens; " + version + " runs in it"}
}

// checkQueue reads the tree's queue and materialises it on its base in
// memory, as a run does first: nothing is written to the repository.
func (p *Pipeline) checkQueue(ctx context.Context, tk treeKeys) Step {
	name := tk.step("queue")
	eng, err := merger.Open(tk.t.Repo, merger.Options{Committer: merger.Identity{Name: p.cfg.Bot.Name, Email: p.cfg.Bot.Email}})
	if err != nil {
		return failed(name, Problem{Key: tk.key("repo"), What: err.Error()})
	}
	defer eng.Close()
	spec := p.mergeSpec(tk.t, "")
	steps, pr := materialiseQueue(ctx, eng, spec, tk)
	if pr != nil {
		return failed(name, *pr)
	}
	var malformed, blocked int
	for _, s := range steps {
		switch {
		case s.Patch != nil && s.Patch.Err != nil:
			malformed++
		case s.BlockedBy != "":
			blocked++
		}
	}
	found := fmt.Sprintf("%s: %d patches apply to queue_base %s (in memory, nothing written)", spec.Queue, len(steps)-malformed-blocked, spec.Base)
	if malformed+blocked > 0 {
		found += fmt.Sprintf("; %d malformed and %d blocked by them, which every run reports", malformed, blocked)
	}
	return Step{Name: name, Found: found}
}

// materialiseQueue reads the queue spec names and applies it to its base
// with eng, or says which key is wrong.
func materialiseQueue(ctx context.Context, eng *merger.Engine, spec MergeSpec, tk treeKeys) ([]merger.Step, *Problem) {
	const fixBase = "set queue_base to the release the queue was made for (its tag must be in repo)"
	rg, isRange, err := spec.queueRange()
	if err != nil {
		return nil, &Problem{Key: tk.key("queue_base"), What: err.Error(), Fix: fixBase}
	}
	if isRange {
		_, steps, _, err := eng.ReadRange(ctx, rg)
		if err != nil {
			return nil, &Problem{Key: tk.key("queue"), What: fmt.Sprintf("range %s..%s: %v", rg.Base, rg.Tip, err),
				Fix: "both ends must be revisions in repo (fetch them), the end a linear descendant of the start"}
		}
		return steps, nil
	}
	q, err := patchqueue.Open(spec.Queue, spec.Limits)
	if err != nil {
		return nil, &Problem{Key: tk.key("queue"), What: err.Error(),
			Fix: "set queue to a quilt directory with a series file, a .tar.xz or .tar.gz tarball, an mbox, or a git range in repo"}
	}
	base, err := eng.RevParse(spec.Base)
	if err != nil {
		return nil, &Problem{Key: tk.key("queue_base"), What: fmt.Sprintf("revision %s: %v", spec.Base, err), Fix: fixBase}
	}
	steps, err := eng.Materialise(ctx, q, base)
	if err != nil {
		return nil, &Problem{Key: tk.key("queue_base"), What: fmt.Sprintf("the queue does not apply to its base %s: %v", spec.Base, err),
			Fix: fixBase + ", or refresh the patch named"}
	}
	return steps, nil
}

// checkCandidateRemote lists the tree's candidate remote and looks for
// the rc branch.
func (p *Pipeline) checkCandidateRemote(ctx context.Context, tk treeKeys) Step {
	name, t := tk.step("candidate"), tk.t
	ep, pr := remoteEndpoint(tk, "candidate_auth", t.CandidateAuth, candidateEndpoint)
	if pr != nil {
		return failed(name, *pr)
	}
	ctx, cancel := context.WithTimeout(ctx, StepTimeout)
	defer cancel()
	h, err := remote.RemoteHead(ctx, t.Repo, ep, t.CandidateBranch)
	if err != nil {
		return failed(name, remoteProblem(err, tk, "candidate_url", "candidate_auth", t.CandidateAuth))
	}
	if h.IsZero() {
		return failed(name, Problem{Key: tk.key("candidate_branch"), What: fmt.Sprintf("%s has no branch %s", ep.Name(), t.CandidateBranch),
			Fix: fmt.Sprintf("set candidate_branch to the remote's rc branch of series %s (linux-%s.y)", t.Series, t.Series)})
	}
	return Step{Name: name, Found: fmt.Sprintf("%s has branch %s (at %.12s)", ep.Name(), t.CandidateBranch, h)}
}

// checkPushRemote checks that the tree's push remote takes pushes from
// rtbot, pushing nothing (remote.CheckPush).
func (p *Pipeline) checkPushRemote(ctx context.Context, tk treeKeys) Step {
	name, t := tk.step("push"), tk.t
	if t.PushRemote == "" {
		return Step{Name: name, Found: "push_remote is not set: result branches stay in repo"}
	}
	readers := "; public_url is not set: reports name the branch, with no fetch command"
	if t.PublicURL != "" {
		readers = "; reports say git fetch " + t.PublicURL
	}
	ep, pr := remoteEndpoint(tk, "push_auth", t.PushAuth, pushEndpoint)
	if pr != nil {
		return failed(name, *pr)
	}
	ctx, cancel := context.WithTimeout(ctx, StepTimeout)
	defer cancel()
	if err := remote.CheckPush(ctx, t.Repo, ep); err != nil {
		return failed(name, remoteProblem(err, tk, "push_remote", "push_auth", t.PushAuth))
	}
	return Step{Name: name, Found: ep.Name() + " takes pushes from rtbot (its receive-pack answered; nothing pushed)" + readers}
}

// remoteEndpoint is one of tk's remotes as endpoint makes it, with the
// credentials of its auth table a (table names it: "push_auth"), or the
// problem with them.
func remoteEndpoint(tk treeKeys, table string, a config.RemoteAuth, endpoint func(config.Tree) (remote.Endpoint, error)) (remote.Endpoint, *Problem) {
	if pr := authProblem(a, tk.key(table)); pr != nil {
		return remote.Endpoint{}, pr
	}
	ep, err := endpoint(tk.t)
	if err != nil {
		return ep, &Problem{Key: tk.key(table), What: err.Error()}
	}
	return ep, nil
}

// authProblem is the problem with a [tree.push_auth] or
// [tree.candidate_auth] table (at key table) whose files or variables
// cannot be read, or nil.
func authProblem(a config.RemoteAuth, table string) *Problem {
	if _, err := a.Token(); err != nil {
		key := table + ".token_file"
		if a.TokenFile == "" {
			key = table + ".token_env"
		}
		return &Problem{Key: key, What: err.Error()}
	}
	if _, err := a.SSHPrivateKey(); err != nil {
		return &Problem{Key: table + ".ssh_key", What: err.Error()}
	}
	if a.CAFile != "" {
		if _, err := netsec.LoadCA(a.CAFile); err != nil {
			return &Problem{Key: table + ".ca_file", What: err.Error(), Fix: "give a readable PEM file of the CA's certificates"}
		}
	}
	return nil
}

// remoteProblem says which key a failure to reach a tree's remote points
// at: urlKey (candidate_url, push_remote) or a key of its auth table a.
func remoteProblem(err error, tk treeKeys, urlKey, table string, a config.RemoteAuth) Problem {
	caKey := tk.key(table + ".ca_file")
	if explained := netsec.ExplainTLS(err, caKey); explained != err {
		return Problem{Key: caKey, What: explained.Error()}
	}
	credKey, cred := tk.key(table), "set token_env or token_file (https) or ssh_key (ssh) in ["+"tree."+table+"]"
	switch {
	case a.TokenFile != "":
		credKey, cred = tk.key(table+".token_file"), "renew the token in "+a.TokenFile
	case a.TokenEnv != "":
		credKey, cred = tk.key(table+".token_env"), "renew the token in $"+a.TokenEnv
	case a.SSHKey != "":
		credKey, cred = tk.key(table+".ssh_key"), "give the server the public key of "+a.SSHKey
	}
	msg := err.Error()
	switch {
	case errorIs(err, transport.ErrAuthenticationRequired):
		return Problem{Key: credKey, What: msg, Credentials: true, Fix: "the server wants credentials it did not get, or refused them: " + cred}
	case errorIs(err, transport.ErrAuthorizationFailed):
		return Problem{Key: credKey, What: msg, Credentials: true,
			Fix: "the server does not let these credentials do this: give them access (write access for push_remote)"}
	case strings.Contains(msg, "knownhosts"):
		return Problem{Key: tk.key(table + ".known_hosts"), What: msg,
			Fix: "add the server's host key to the known_hosts file rtbot uses (check it first)"}
	case strings.Contains(msg, "ssh: unable to authenticate"):
		return Problem{Key: credKey, What: msg, Credentials: true, Fix: "the server refused the ssh key: " + cred}
	case strings.Contains(msg, "cannot write"):
		return Problem{Key: tk.key(urlKey), What: msg, Fix: "make that repository writable by rtbot's user, or push elsewhere"}
	case remote.IsTemporary(err):
		return Problem{Key: tk.key(urlKey), What: msg, Transient: true,
			Fix: "check the URL and that the server runs (rtbot tries again at the next pass)"}
	}
	return Problem{Key: tk.key(urlKey), What: msg, Fix: "check " + urlKey + " and [tree." + table + "]"}
}

// errorIs is errors.Is, or target's text in err's: some of go-git's
// transports pass errors on without wrapping them.
func errorIs(err, target error) bool {
	return errors.Is(err, target) || strings.Contains(err.Error(), target.Error())
}

// TheStableRCURL is the tree URL the stable list's review announcements
// give, for fixes that name one.
const TheStableRCURL = "git://git.kernel.org/pub/scm/linux/kernel/git/stable/linux-stable-rc.git"

// checkAnnounce checks that announce_url (default candidate_url) names
// the repository candidate_url fetches from: the same host and path
// (config.RepoIdentity, as recognition compares them), or, for a mirror
// on another server or on this machine, the same repository name (the
// last element of the path: a mirror of linux-stable-rc.git is called
// linux-stable-rc.git too). A local mirror is compared through its
// origin remote when it has one (git clone --mirror records it). Any
// other mirror named otherwise passes only when announce_url is the
// stable list's tree (TheStableRCURL), the one announce_url is there for. With
// candidate_url a local mirror, announce_url must be set: no announcement
// names a path on this machine.
func (p *Pipeline) checkAnnounce(tk treeKeys) Step {
	name, t := tk.step("announce"), tk.t
	upstream := t.CandidateURL
	if config.IsLocalRemote(upstream) {
		if origin := originURL(upstream); origin != "" && !config.IsLocalRemote(origin) {
			upstream = origin
		}
	}
	announce := t.AnnounceURL
	switch {
	case announce == "" && config.IsLocalRemote(upstream):
		return failed(name, Problem{Key: tk.key("announce_url"),
			What: fmt.Sprintf("not set, and candidate_url %s is a local mirror, which no announcement names: every announcement would be ignored", t.CandidateURL),
			Fix:  "set announce_url to the tree URL the announcements give (the stable list's: " + TheStableRCURL + ")"})
	case announce == "":
		return Step{Name: name, Found: "announcements must name candidate_url " + netsec.Redact(t.CandidateURL) + " (announce_url is not set)"}
	case config.IsLocalRemote(announce):
		return failed(name, Problem{Key: tk.key("announce_url"), What: announce + " is a local path, which no announcement names",
			Fix: "set announce_url to the tree URL the announcements give (the stable list's: " + TheStableRCURL + ")"})
	}
	a, u := config.RepoIdentity(announce), config.RepoIdentity(upstream)
	aHost, _, _ := strings.Cut(a, "/")
	uHost, _, _ := strings.Cut(u, "/")
	switch {
	case a != "" && a == u:
		return Step{Name: name, Found: netsec.Redact(announce) + " names the repository candidate_url fetches from"}
	case a == "" || aHost != "" && aHost == uHost:
		// The same server, another repository: no mirror.
	case path.Base(a) == path.Base(u):
		return Step{Name: name, Found: fmt.Sprintf("%s names %s; candidate_url %s is a mirror of it", netsec.Redact(announce), path.Base(a), netsec.Redact(t.CandidateURL))}
	case a == config.RepoIdentity(TheStableRCURL) && upstream == t.CandidateURL:
		// Not a local mirror whose origin says what it mirrors.
		return Step{Name: name, Found: fmt.Sprintf("%s names the stable list's tree; candidate_url %s, named otherwise, is taken for a mirror of it", netsec.Redact(announce), netsec.Redact(t.CandidateURL))}
	}
	cand := netsec.Redact(t.CandidateURL)
	if upstream != t.CandidateURL {
		cand += ", a mirror of " + netsec.Redact(upstream)
	}
	return failed(name, Problem{Key: tk.key("announce_url"),
		What: fmt.Sprintf("%s names another repository than candidate_url %s: an announcement counts only when it names announce_url, so rtbot would act on one repository's announcements and fetch candidates from another",
			netsec.Redact(announce), cand),
		Fix: "set announce_url to the tree URL the announcements give for the repository candidate_url mirrors (the stable list's: " + TheStableRCURL + "), or leave it out when candidate_url is that repository"})
}

// originURL is the URL of the origin remote of the local repository at
// local (a path or a file:// URL), or "".
func originURL(local string) string {
	dir := strings.TrimPrefix(local, "file://")
	repo, err := objstore.OpenRepository(dir)
	if err != nil {
		return ""
	}
	r, err := repo.Remote("origin")
	if err != nil || len(r.Config().URLs) == 0 {
		return ""
	}
	return r.Config().URLs[0]
}
