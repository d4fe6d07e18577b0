package pipeline

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/rtbot/rtbot/internal/candidate"
	"github.com/rtbot/rtbot/internal/config"
	"github.com/rtbot/rtbot/internal/merger"
	"github.com/rtbot/rtbot/internal/state"
)

// KindManual is the kind of an announcement an operator made with `rtbot
// run --onto REV` rather than one read from the list: a final stable
// release, or any candidate to run the queue on by hand.
const KindManual = "manual"

var extraRC = regexp.MustCompile(`^-rc([1-9][0-9]{0,3})$`)

// Submit announces a candidate by hand: the commit rev names in the
// repository of tree (default: the first configured tree), with the
// version its Makefile says ("6.1.177" for a final release, "6.1.177-rc2"
// for an rc). The candidate is pinned under CandidateRef of every tree
// that follows its series, so no remote is asked for it, and the
// announcement is recorded like one from the list: ProcessPending (or the
// next pass) runs it, once per tree, with the same crash safety.
// Submitting the same commit again changes nothing; another commit of the
// same version is recorded as a repeat and ignored.
func (p *Pipeline) Submit(ctx context.Context, treeName, rev string) (state.Announcement, error) {
	var t config.Tree
	for _, c := range p.cfg.Trees {
		if c.Name == treeName || treeName == "" && t.Name == "" {
			t = c
		}
	}
	if t.Name == "" {
		return state.Announcement{}, fmt.Errorf("no [[tree]] is named %q", treeName)
	}
	eng, err := merger.Open(t.Repo, merger.Options{})
	if err != nil {
		return state.Announcement{}, err
	}
	defer eng.Close()
	commit, err := eng.RevParse(rev)
	if err != nil {
		return state.Announcement{}, fmt.Errorf("tree %s: %w", t.Name, err)
	}
	v, err := candidate.Read(eng.Repository(), commit)
	if err != nil {
		return state.Announcement{}, err
	}
	rc := 0
	if v.Extraversion != "" {
		m := extraRC.FindStringSubmatch(v.Extraversion)
		if m == nil {
			return state.Announcement{}, fmt.Errorf("%s (%.12s): EXTRAVERSION %q is neither empty nor -rcN", rev, commit, v.Extraversion)
		}
		rc, _ = strconv.Atoi(m[1])
	}
	version := fmt.Sprintf("%d.%d.%d", v.Version, v.Patchlevel, v.Sublevel)
	series := fmt.Sprintf("%d.%d", v.Version, v.Patchlevel)
	trees := p.cfg.TreesFor(series)
	if len(trees) == 0 {
		return state.Announcement{}, fmt.Errorf("%s is %s: no [[tree]] follows series %s", rev, v, series)
	}
	for _, tr := range trees {
		if tr.Repo != t.Repo {
			return state.Announcement{}, fmt.Errorf("trees %s and %s both follow %s in different repositories; "+
				"rtbot run --onto needs the candidate in one repository", t.Name, tr.Name, series)
		}
	}
	for _, tr := range trees {
		if err := pinCandidate(eng, CandidateRef(tr.Name, version, rc), commit); err != nil {
			return state.Announcement{}, err
		}
	}
	a := state.Announcement{
		MessageID: p.messageID(fmt.Sprintf("manual.%s.%.12s", candName(version, rc), commit)),
		Kind:      KindManual, Series: series, Version: version, RC: rc, From: "rtbot run --onto",
		Subject: fmt.Sprintf("rtbot run --onto %s (%s)", oneLine(rev), v), Status: state.AnnouncementNew,
	}
	first, found, err := p.store.FirstAnnouncement(ctx, KindManual, version, rc)
	if err != nil {
		return state.Announcement{}, err
	}
	if found && first.MessageID != a.MessageID {
		a.Status, a.Reason = state.AnnouncementIgnored, fmt.Sprintf("repeats <%s>, the run on %s already asked for", first.MessageID, candName(version, rc))
	}
	rec, _, err := p.store.RecordAnnouncement(ctx, a)
	return rec, err
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
