package pipeline

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/rtbot/rtbot/internal/candidate"
	"github.com/rtbot/rtbot/internal/config"
	"github.com/rtbot/rtbot/internal/merger"
	"github.com/rtbot/rtbot/internal/netsec"
	"github.com/rtbot/rtbot/internal/refname"
	"github.com/rtbot/rtbot/internal/remote"
	"github.com/rtbot/rtbot/internal/state"
)

// KindManual is the kind of an announcement an operator made with `rtbot
// run --onto REV` rather than one read from the list: a final stable
// release, or any candidate to run the queue on by hand.
const KindManual = "manual"

// Submit announces a candidate by hand: the commit rev names in the
// repository of tree (default: the first configured tree), with the
// version its Makefile says ("6.1.177" for a final release, "6.1.177-rc2"
// for an rc). A rev the repository lacks is fetched from the tree's
// candidate_url, as a tag or else a branch. The candidate is pinned under
// CandidateRef of every tree that follows its series, so no remote is
// asked for it again, and the announcement is recorded like one from the
// list: ProcessPending (or the next pass) runs it, once per tree and
// queue, with the same crash safety.
//
// Runs are keyed by the queue's content: submitting the same commit again
// after a tree's queue changed makes the announcement run again (a new run
// on the new queue); with the same queues it changes nothing (its status
// says what it came to), unless force, which records a new announcement of
// the candidate whose runs are made afresh. Another commit of the same
// version is recorded as a repeat and ignored, unless force.
func (p *Pipeline) Submit(ctx context.Context, treeName, rev string, force bool) (state.Announcement, error) {
	t, err := p.tree(treeName)
	if err != nil {
		return state.Announcement{}, err
	}
	c, err := p.resolveOnto(ctx, t, rev)
	if err != nil {
		return state.Announcement{}, err
	}
	trees := p.cfg.TreesFor(c.series)
	if len(trees) == 0 {
		return state.Announcement{}, fmt.Errorf("%s is %s: no [[tree]] follows series %s", rev, c.v, c.series)
	}
	if err := p.pinOnto(t, trees, c); err != nil {
		return state.Announcement{}, err
	}
	a := state.Announcement{
		MessageID: p.messageID(fmt.Sprintf("manual.%s.%.12s", candName(c.version, c.rc), c.commit)),
		Kind:      KindManual, Series: c.series, Version: c.version, RC: c.rc, From: "rtbot run --onto",
		Subject: fmt.Sprintf("rtbot run --onto %s (%s)", oneLine(rev), c.v), Status: state.AnnouncementNew,
	}
	return p.recordOnto(ctx, a, trees, force)
}

// tree returns the tree named name, or the first one for "".
func (p *Pipeline) tree(name string) (config.Tree, error) {
	for _, c := range p.cfg.Trees {
		if c.Name == name || name == "" {
			return c, nil
		}
	}
	return config.Tree{}, fmt.Errorf("no [[tree]] is named %q", name)
}

// ontoCandidate is a candidate given by hand.
type ontoCandidate struct {
	commit          plumbing.Hash
	v               candidate.Version
	version, series string
	rc              int
	repo            string
}

// resolveOnto finds the commit rev names in tree t's repository, fetching
// it from candidate_url when the repository lacks it, and its version.
func (p *Pipeline) resolveOnto(ctx context.Context, t config.Tree, rev string) (ontoCandidate, error) {
	eng, err := merger.Open(t.Repo, merger.Options{})
	if err != nil {
		return ontoCandidate{}, err
	}
	defer eng.Close()
	commit, err := eng.RevParse(rev)
	if err != nil {
		var ferr error
		if commit, ferr = p.fetchOnto(ctx, t, rev); ferr != nil {
			return ontoCandidate{}, fmt.Errorf("tree %s: %w; from candidate_url: %w", t.Name, err, ferr)
		}
	}
	v, err := candidate.Read(eng.Repository(), commit)
	if err != nil {
		return ontoCandidate{}, err
	}
	rc, ok := v.RC()
	if !ok {
		return ontoCandidate{}, fmt.Errorf("%s (%.12s): EXTRAVERSION %q is neither empty nor -rcN", rev, commit, v.Extraversion)
	}
	return ontoCandidate{commit: commit, v: v, rc: rc, repo: t.Repo,
		version: fmt.Sprintf("%d.%d.%d", v.Version, v.Patchlevel, v.Sublevel), series: fmt.Sprintf("%d.%d", v.Version, v.Patchlevel)}, nil
}

// fetchOnto fetches rev from tree t's candidate_url: the tag rev, or else
// the branch rev, each within [git] timeout (run --onto submits it before
// the pass, outside [bot] pass_timeout).
func (p *Pipeline) fetchOnto(ctx context.Context, t config.Tree, rev string) (plumbing.Hash, error) {
	if refname.Branch(rev) != nil {
		return plumbing.ZeroHash, fmt.Errorf("%q is not a tag or branch name to fetch", rev)
	}
	ep, err := candidateEndpoint(t)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	tctx, tdone := p.gitTimeout(ctx)
	h, terr := remote.FetchTag(tctx, t.Repo, ep, rev, OntoTagNamespace+rev, p.opts.Progress)
	if terr = tdone(terr); terr == nil {
		return h, nil
	}
	bctx, bdone := p.gitTimeout(ctx)
	h, berr := remote.Fetch(bctx, t.Repo, ep, rev, remote.Namespace+"onto/"+rev, p.opts.Progress)
	if berr = bdone(berr); berr != nil {
		return plumbing.ZeroHash, netsec.ExplainTLS(errors.Join(terr, berr), caKey(t, "candidate_auth"))
	}
	return h, nil
}

// OntoTagNamespace is where `rtbot run --onto TAG` keeps a tag it fetched
// from candidate_url (refs/rtbot/tags/v6.1.177; a branch it fetched goes
// under refs/rtbot/onto/): outside refs/tags, which belong to the
// maintainers, yet known as a tag of the candidate (see tagsAt).
const OntoTagNamespace = remote.Namespace + "tags/"

// tagsAt returns, for each of commits, the names of the tags pointing at
// it, sorted: the repository's own (refs/tags/) and those `rtbot run
// --onto` fetched (OntoTagNamespace); an annotated tag counts for the
// commit it names. One walk of the references serves every commit (a
// kernel repository has thousands of tags). The tags are a description,
// never a reason to fail: a commit no tag points at, or every commit when
// the references do not read, has none.
func tagsAt(repo *git.Repository, commits ...plumbing.Hash) map[plumbing.Hash][]string {
	tags := map[plumbing.Hash][]string{}
	refs, err := repo.References()
	if err != nil {
		return tags
	}
	defer refs.Close()
	seen := map[string]bool{}
	_ = refs.ForEach(func(r *plumbing.Reference) error {
		name, ok := strings.CutPrefix(r.Name().String(), "refs/tags/")
		if !ok {
			name, ok = strings.CutPrefix(r.Name().String(), OntoTagNamespace)
		}
		if !ok || r.Type() != plumbing.HashReference || seen[name] {
			return nil
		}
		h := r.Hash()
		if tag, err := repo.TagObject(h); err == nil {
			if h = tag.Target; tag.TargetType != plumbing.CommitObject {
				return nil
			}
		}
		if slices.Contains(commits, h) {
			seen[name] = true
			tags[h] = append(tags[h], name)
		}
		return nil
	})
	for _, t := range tags {
		sort.Strings(t)
	}
	return tags
}

// pinOnto pins the candidate under CandidateRef of every tree of its
// series, which must share t's repository.
func (p *Pipeline) pinOnto(t config.Tree, trees []config.Tree, c ontoCandidate) error {
	for _, tr := range trees {
		if tr.Repo != t.Repo {
			return fmt.Errorf("trees %s and %s both follow %s in different repositories; "+
				"rtbot run --onto needs the candidate in one repository", t.Name, tr.Name, c.series)
		}
	}
	eng, err := merger.Open(t.Repo, merger.Options{})
	if err != nil {
		return err
	}
	defer eng.Close()
	for _, tr := range trees {
		if err := pinCandidate(eng, CandidateRef(tr.Name, c.version, c.rc), c.commit); err != nil {
			return err
		}
	}
	return nil
}

// recordOnto records a, the announcement of a candidate given by hand to
// trees, or finds it recorded; see Submit.
func (p *Pipeline) recordOnto(ctx context.Context, a state.Announcement, trees []config.Tree, force bool) (state.Announcement, error) {
	old, err := p.store.Announcement(ctx, a.MessageID)
	switch {
	case errors.Is(err, state.ErrNotFound):
	case err != nil:
		return state.Announcement{}, err
	case force:
		if a.MessageID, err = p.freshID(ctx, a.MessageID); err != nil {
			return state.Announcement{}, err
		}
	default:
		return p.againOnto(ctx, old, trees)
	}
	if !force {
		first, found, err := p.store.FirstAnnouncement(ctx, KindManual, a.Version, a.RC)
		if err != nil {
			return state.Announcement{}, err
		}
		if found && first.MessageID != a.MessageID {
			a.Status, a.Reason = state.AnnouncementIgnored, fmt.Sprintf("repeats <%s>, the run on %s already asked for; --force runs it anyway",
				first.MessageID, candName(a.Version, a.RC))
		}
	}
	rec, _, err := p.store.RecordAnnouncement(ctx, a)
	return rec, err
}

// freshID is id, or when an announcement is recorded under it, id with
// the first ".N" (2, 3, ...) before its "@" that none is: a new
// announcement of the same candidate.
func (p *Pipeline) freshID(ctx context.Context, id string) (string, error) {
	local, domain, _ := strings.Cut(id, "@")
	for n := 1; ; n++ {
		cand := fmt.Sprintf("%s.%d@%s", local, n, domain)
		if n == 1 {
			cand = id
		}
		_, err := p.store.Announcement(ctx, cand)
		switch {
		case errors.Is(err, state.ErrNotFound):
			return cand, nil
		case err != nil:
			return "", err
		}
	}
}

// againOnto is Submit of a candidate already submitted (old): when a
// tree's queue is not the one it last ran on, the announcement is set
// back to processing for a new run; otherwise it is returned as it is.
func (p *Pipeline) againOnto(ctx context.Context, old state.Announcement, trees []config.Tree) (state.Announcement, error) {
	switch old.Status {
	case state.AnnouncementNew, state.AnnouncementProcessing, state.AnnouncementWaiting:
		return old, nil // the next pass runs it
	case state.AnnouncementIgnored:
		if strings.HasPrefix(old.Reason, "repeats") {
			return old, nil
		}
	}
	changed, _, err := p.causeChanged(ctx, state.Announcement{MessageID: old.MessageID, Status: state.AnnouncementDone,
		ConfigHash: p.configHash()}, trees, p.configHash(), queueIDs{})
	if err != nil || !changed {
		return old, err
	}
	if err := p.store.RetryAnnouncement(ctx, old.MessageID, false); err != nil {
		return old, err
	}
	return p.store.Announcement(ctx, old.MessageID)
}

// messageID is the Message-ID (without angle brackets) of an announcement
// rtbot records itself: local at the domain of the bot's address.
func (p *Pipeline) messageID(local string) string {
	return local + "@" + p.cfg.Bot.Email[strings.LastIndexByte(p.cfg.Bot.Email, '@')+1:]
}

// pinCandidate points ref at commit, once: a ref already there is left as
// it is, so a resumed run keeps its candidate.
func pinCandidate(eng *merger.Engine, ref string, commit plumbing.Hash) error {
	r, err := eng.Repository().Reference(plumbing.ReferenceName(ref), true)
	if err == nil {
		if r.Hash() != commit {
			return fmt.Errorf("%s already pins %.12s, not %.12s", ref, r.Hash(), commit)
		}
		return nil
	}
	return eng.WriteRef(plumbing.ReferenceName(ref), commit, plumbing.ZeroHash)
}

// ProcessPending processes the announcements not yet done, without
// reading the mailbox: what `rtbot run --onto` does after Submit. It is a
// pass, within [bot] pass_timeout.
func (p *Pipeline) ProcessPending(ctx context.Context) (*Pass, error) {
	ctx, end := p.passContext(ctx)
	pass := &Pass{}
	err := p.processPending(ctx, pass)
	return pass, end(err)
}
