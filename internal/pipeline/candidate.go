package pipeline

import (
	"context"
	"errors"
	"fmt"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/rtbot/rtbot/internal/candidate"
	"github.com/rtbot/rtbot/internal/config"
	"github.com/rtbot/rtbot/internal/merger"
	"github.com/rtbot/rtbot/internal/netsec"
	"github.com/rtbot/rtbot/internal/objstore"
	"github.com/rtbot/rtbot/internal/remote"
	"github.com/rtbot/rtbot/internal/state"
)

// A candidate is trusted only once the remote has the announced version:
// rtbot fetches the configured branch from the configured remote (never a
// URL from the mail) and pins the commit under CandidateRef only when its
// Makefile says the announced version. A branch at an earlier version
// means the rc is not there yet (a mirror that lags, or a forged cover for
// an rc that does not exist): the announcement waits, pins nothing and
// claims nothing, until its Patience runs out. A branch at a later version
// has moved on: that rc is gone from it for good.

// candidateWaiting is the error of a candidate the remote does not have
// yet: the announcement waits for it.
type candidateWaiting struct {
	what string // where the candidate was looked for and what is there instead
}

func (e *candidateWaiting) Error() string { return "not there yet: " + e.what }

// candidateFailed is a candidate that will not come by itself: the branch
// moved on, the wait ran out, the remote refused for good, the repository
// is not there. commit is what the remote has instead (zero: nothing).
type candidateFailed struct {
	commit plumbing.Hash
	cause  error
}

func (e *candidateFailed) Error() string { return e.cause.Error() }

// candidate returns tree t's candidate commit for announcement a, pinned
// under CandidateRef: the one an earlier attempt pinned, or else the rc
// branch fetched from the configured remote when its Makefile says the
// announced version, or else, when rc_patch is configured, the rc patch
// applied to the previous release. When none is the announced candidate
// the error is a *candidateWaiting (an earlier version: not there yet) or
// a *candidateFailed (a later version, a wait past Patience, or a tree
// whose repo is not a repository); any other error (a branch that could
// not be fetched) leaves the announcement for the next pass.
func (p *Pipeline) candidate(ctx context.Context, t config.Tree, a state.Announcement, pass *Pass) (plumbing.Hash, error) {
	ref := CandidateRef(t.Name, a.Version, a.RC)
	// Packed: go-git's own reading of the Makefile would load every pack
	// index of the repository (~400 MB at 10 million objects).
	repo, closeRepo, err := objstore.OpenPacked(t.Repo)
	if err != nil {
		if environmental(err) {
			return plumbing.ZeroHash, err
		}
		return plumbing.ZeroHash, &candidateFailed{cause: fmt.Errorf("repo %s of tree %s: %w", t.Repo, t.Name, err)}
	}
	defer closeRepo()
	pinned, err := p.pinnedCandidate(t, a, repo, ref)
	if err != nil || pinned.ok {
		return pinned.hash, err
	}
	look := p.lookAtBranch(ctx, t, a, repo, pass)
	if look.err == nil && look.cmp == 0 {
		return look.commit, p.pin(t, ref, look.commit, pinned.hash)
	}
	if t.RCPatch != "" && ctx.Err() == nil {
		h, err := p.candidateFromPatch(ctx, t, a, ref, look.err)
		if err == nil {
			return h, nil
		}
		look.patchErr = err
	}
	return plumbing.ZeroHash, p.missing(t, a, look)
}

// pinnedRef is what CandidateRef holds: ok when it is the announced
// candidate.
type pinnedRef struct {
	hash plumbing.Hash
	ok   bool
}

// pinnedCandidate reads the candidate ref an earlier attempt pinned. One
// an interrupted fetch left broken (go-git writes a fetched ref in place)
// is dropped; one that is not the announced version (pinned by an rtbot
// that did not check first) is left to be moved.
func (p *Pipeline) pinnedCandidate(t config.Tree, a state.Announcement, repo *git.Repository, ref string) (pinnedRef, error) {
	if dropped, err := dropBrokenRef(t.Repo, ref); err != nil {
		return pinnedRef{}, err
	} else if dropped {
		p.log.Warn("dropped a candidate ref an interrupted fetch left broken", "tree", t.Name, "ref", ref)
	}
	r, err := repo.Reference(plumbing.ReferenceName(ref), true)
	if err != nil {
		return pinnedRef{}, nil
	}
	if cmp, _, err := candidate.Compare(repo, r.Hash(), a.Version, a.RC); err == nil && cmp == 0 {
		return pinnedRef{hash: r.Hash(), ok: true}, nil
	}
	p.log.Warn("the candidate ref is not the announced version; looking for the candidate again", "tree", t.Name, "ref", ref, "commit", r.Hash().String())
	return pinnedRef{hash: r.Hash()}, nil
}

// branchLook is what the tree's candidate branch holds for an
// announcement.
type branchLook struct {
	commit   plumbing.Hash     // where the branch is (zero when it could not be fetched)
	version  candidate.Version // what its Makefile says
	cmp      int               // the version against the announced one (candidate.Compare)
	err      error             // fetching or reading the branch
	patchErr error             // building the candidate from the rc patch instead
}

// lookAtBranch fetches the tree's candidate branch (once per pass) and
// compares its version with the announced one.
func (p *Pipeline) lookAtBranch(ctx context.Context, t config.Tree, a state.Announcement, repo *git.Repository, pass *Pass) branchLook {
	var l branchLook
	if l.commit, l.err = p.fetchBranch(ctx, t, pass); l.err != nil {
		return l
	}
	objstore.Reindex(repo) // the fetch wrote a pack
	l.cmp, l.version, l.err = candidate.Compare(repo, l.commit, a.Version, a.RC)
	return l
}

// fetchBranch fetches the tree's candidate branch into a ref of its own,
// once per pass: a pass with many announcements waiting fetches it once.
func (p *Pipeline) fetchBranch(ctx context.Context, t config.Tree, pass *Pass) (plumbing.Hash, error) {
	if h, ok := pass.fetched[t.Name]; ok {
		return h, nil
	}
	ref := remote.Namespace + "fetched/" + t.Name
	if dropped, err := dropBrokenRef(t.Repo, ref); err != nil {
		return plumbing.ZeroHash, err
	} else if dropped {
		p.log.Warn("dropped a fetched ref an interrupted fetch left broken", "tree", t.Name, "ref", ref)
	}
	h, err := p.fetchCandidate(ctx, t, ref)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	p.log.Info("fetched the candidate branch", "tree", t.Name, "url", netsec.Redact(t.CandidateURL), "branch", t.CandidateBranch, "commit", h.String())
	if pass.fetched == nil {
		pass.fetched = map[string]plumbing.Hash{}
	}
	pass.fetched[t.Name] = h
	return h, nil
}

// pin points the candidate ref at commit, from where it was (zero: it
// did not exist).
func (p *Pipeline) pin(t config.Tree, ref string, commit, old plumbing.Hash) error {
	eng, err := merger.Open(t.Repo, merger.Options{})
	if err != nil {
		return err
	}
	defer eng.Close()
	return eng.WriteRef(plumbing.ReferenceName(ref), commit, old)
}

// candidateFromPatch builds the candidate from the rc patch, because the
// branch did not give it (why).
func (p *Pipeline) candidateFromPatch(ctx context.Context, t config.Tree, a state.Announcement, ref string, why error) (plumbing.Hash, error) {
	if why == nil {
		why = errors.New("the branch is not at the announced version")
	}
	p.log.Warn("the candidate branch does not give the candidate; building it from the rc patch", "tree", t.Name, "why", why)
	src, err := candidate.PatchSource(t.RCPatch, a.Version, a.RC)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	eng, err := merger.Open(t.Repo, merger.Options{Committer: merger.Identity{Name: p.cfg.Bot.Name, Email: p.cfg.Bot.Email}})
	if err != nil {
		return plumbing.ZeroHash, err
	}
	defer eng.Close()
	opts, err := rcPatchOptions(t)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	h, err := candidate.FromPatch(ctx, eng, src, a.Version, a.RC, ref, opts)
	return h, netsec.ExplainTLS(err, caKey(t, "candidate_auth"))
}

// rcPatchOptions is how the tree's rc patch is downloaded: trusting the
// ca_file of [tree.candidate_auth] besides the system's roots, since the
// rc patch is the candidate's other source. Its token is not sent: it is
// for candidate_url, whose host the rc patch's need not be.
func rcPatchOptions(t config.Tree) (candidate.PatchOptions, error) {
	if t.CandidateAuth.CAFile == "" {
		return candidate.PatchOptions{}, nil
	}
	ca, err := netsec.LoadCA(t.CandidateAuth.CAFile)
	if err != nil {
		return candidate.PatchOptions{}, fmt.Errorf("tree %s candidate_auth: %w", t.Name, err)
	}
	return candidate.PatchOptions{TLS: ca.TLSConfig()}, nil
}

// missing is the error for a candidate neither the branch nor the rc
// patch gave: a branch that could not be fetched (left for the next
// pass), one that does not have the candidate yet (*candidateWaiting), or
// one that will not have it (*candidateFailed: moved on, or waited past
// Patience).
func (p *Pipeline) missing(t config.Tree, a state.Announcement, l branchLook) error {
	where := fmt.Sprintf("%s branch %s", netsec.Redact(t.CandidateURL), t.CandidateBranch)
	withPatch := func(err error) error {
		if l.patchErr != nil {
			return fmt.Errorf("%w; rc patch: %w", err, l.patchErr)
		}
		return err
	}
	name := candName(a.Version, a.RC)
	switch {
	case l.commit.IsZero():
		// Nothing fetched: a network failure, or credentials or a remote
		// that a human fixes (a token is revoked and renewed, say),
		// perhaps without touching the configuration. Every pass tries
		// again, and `rtbot status` says it keeps failing.
		return withPatch(l.err)
	case l.err != nil:
		return &candidateFailed{commit: l.commit, cause: withPatch(fmt.Errorf("%s: %w", where, l.err))}
	case l.cmp > 0:
		return &candidateFailed{commit: l.commit, cause: withPatch(fmt.Errorf("%s has moved on: candidate %.12s: Makefile says %s, the announcement says %s",
			where, l.commit, l.version, name))}
	}
	until := Patience(a)
	if p.now().After(until) {
		return &candidateFailed{commit: l.commit, cause: withPatch(fmt.Errorf("%s never appeared on %s: it still says %s (%.12s) after waiting until %s; "+
			"a forged or withdrawn announcement, or candidate_url is not where the rc is published", name, where, l.version, l.commit,
			until.UTC().Format("2006-01-02 15:04 MST")))}
	}
	return &candidateWaiting{what: fmt.Sprintf("%s says %s (%.12s), not %s; waiting until %s", where, l.version, l.commit, name,
		until.UTC().Format("2006-01-02 15:04 MST"))}
}
