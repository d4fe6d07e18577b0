package pipeline

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/rtbot/rtbot/internal/config"
	"github.com/rtbot/rtbot/internal/merger"
	"github.com/rtbot/rtbot/internal/netsec"
	"github.com/rtbot/rtbot/internal/objstore"
	"github.com/rtbot/rtbot/internal/remote"
	"github.com/rtbot/rtbot/internal/state"
)

// Learned is what a pass learnt from one commit a maintainer pushed onto a
// partial branch (see learnFixes).
type Learned struct {
	Tree   string `json:"tree"`
	Branch string `json:"branch"`
	Run    int64  `json:"run"`
	Commit string `json:"commit"`
	// Patch is the queue patch the commit resolves (matched by subject);
	// empty when the commit is not one of the run's conflicting patches.
	Patch string `json:"patch,omitempty"`
	// Files are the files whose resolution was recorded.
	Files []string `json:"files,omitempty"`
	// Diff shows what was learnt: per file, the resolved conflicts as a
	// short unified diff against the candidate's side (see Learnt.Diff).
	Diff string `json:"diff,omitempty"`
	// Replaced names, per file whose resolution replaced a remembered one
	// of the same conflict, the one replaced: when it was recorded and
	// where it came from.
	Replaced []string `json:"replaced,omitempty"`
	// Error says why nothing was learnt from a commit that names a
	// conflicting patch (it still holds conflict markers, say).
	Error string `json:"error,omitempty"`
}

// maxFixCommits bounds the commits read back from a partial branch's tip
// when looking for where rtbot left it.
const maxFixCommits = 200

// FixesRef is the ref under which rtbot remembers how far it has learnt
// from the partial branch it pushed as branch.
func FixesRef(branch string) plumbing.ReferenceName {
	return plumbing.ReferenceName(remote.Namespace + "fixes/" + branch)
}

// fetchedFixRef is where the partial branch's remote tip is fetched to.
func fetchedFixRef(branch string) string {
	return remote.Namespace + "fixes-fetched/" + branch
}

// learnFixes learns resolutions from the partial branches rtbot pushed:
// a maintainer who resolves a conflict applies the patch by hand on top of
// the partial branch (git am -3 keeps the patch's subject) and pushes the
// branch back. Every pass, before it processes announcements (so a fix
// pushed for rc1 already serves rc2 in the same pass), rtbot looks at the
// partial branch of every run that needed a human and was rebased on the
// tree's current queue; for each commit pushed since rtbot last looked,
// oldest first, whose subject is one of the run's conflicting patches, it
// learns the commit's own change (LearnSpec.Since is its parent, or the
// parent of the commits with the same subject right below it: a first
// attempt and its correction are learnt as one). Commits with another
// subject are left alone. How far rtbot has looked is kept
// under FixesRef and moved only after the commits before it were learnt,
// so an interrupted pass learns them again (recording a resolution twice
// replaces it with itself).
//
// A branch that cannot be read (the remote is down, or did not answer
// within its deadline) is logged and tried again next pass; it never holds
// back the announcements, but the pass reports it: learnFixes returns
// every such failure, joined, once it has tried every branch (and at once
// when the context ends or a Fault stops it).
func (p *Pipeline) learnFixes(ctx context.Context, pass *Pass) error {
	var errs []error
	for _, t := range p.cfg.Trees {
		if err := p.learnTreeFixes(ctx, t, pass); err != nil {
			if stopping(ctx, err) {
				return err
			}
			p.log.Warn("could not look for fixes pushed onto partial branches; trying again next pass", "tree", t.Name, "err", err)
			errs = append(errs, fmt.Errorf("tree %s: fixes: %w", t.Name, err))
		}
	}
	return errors.Join(errs...)
}

// learnTreeFixes learns from the partial branches of tree t that
// watchedRuns lists, and returns the failures, joined.
func (p *Pipeline) learnTreeFixes(ctx context.Context, t config.Tree, pass *Pass) error {
	runs, err := p.watchedRuns(ctx, t)
	if err != nil {
		return err
	}
	var errs []error
	for _, run := range runs {
		if err := p.learnBranch(ctx, t, run, pass); err != nil {
			if stopping(ctx, err) {
				return err
			}
			errs = append(errs, fmt.Errorf("partial branch %s (run %d): %w", run.PushedBranch, run.ID, err))
		}
	}
	return errors.Join(errs...)
}

// watchedRuns are the runs of tree t whose partial branches a pass reads
// for fixes: runs that needed a human, pushed their partial branch and
// were rebased on the tree's current queue, the latest run of each
// branch. None when the tree does not push partial branches.
func (p *Pipeline) watchedRuns(ctx context.Context, t config.Tree) ([]state.Run, error) {
	if t.PushRemote == "" || !t.PushPartial {
		return nil, nil
	}
	runs, err := p.store.Runs(ctx, state.RunFilter{Tree: t.Name})
	if err != nil {
		return nil, err
	}
	var out []state.Run
	qid := ""
	seen := map[string]bool{}
	for _, run := range runs { // newest first: the latest run of a branch counts
		if run.Outcome != state.OutcomeManual || run.PushedBranch == "" || run.ResultCommit == "" || seen[run.PushedBranch] {
			continue
		}
		seen[run.PushedBranch] = true
		if qid == "" {
			if qid, err = queueID(t); err != nil {
				return nil, err
			}
		}
		// Redoing an older run's rebase needs its queue; a changed
		// queue is itself the maintainers' answer to its conflicts.
		if run.QueueID == qid {
			out = append(out, run)
		}
	}
	return out, nil
}

// WatchedBranch is a partial branch each pass reads for fixes the
// maintainers push onto it.
type WatchedBranch struct {
	Tree   string `json:"tree"`
	Branch string `json:"branch"`
	Run    int64  `json:"run"`
	// ReadUpTo is the last commit of the branch already learnt from
	// (FixesRef); empty while nothing was pushed onto rtbot's commit.
	ReadUpTo string `json:"read_up_to,omitempty"`
}

// Watched lists the partial branches the next pass reads for fixes, for
// `rtbot status`. It reads only local state: the state file, the queue
// and the tree's repository.
func (p *Pipeline) Watched(ctx context.Context) ([]WatchedBranch, error) {
	var out []WatchedBranch
	for _, t := range p.cfg.Trees {
		runs, err := p.watchedRuns(ctx, t)
		if err != nil {
			return out, fmt.Errorf("tree %s: %w", t.Name, err)
		}
		if len(runs) == 0 {
			continue
		}
		for _, run := range runs {
			w := WatchedBranch{Tree: t.Name, Branch: run.PushedBranch, Run: run.ID}
			h, err := p.readUpTo(t, run.PushedBranch)
			if err != nil {
				return out, fmt.Errorf("tree %s: %w", t.Name, err)
			}
			if !h.IsZero() {
				w.ReadUpTo = h.String()
			}
			out = append(out, w)
		}
	}
	return out, nil
}

// readUpTo returns where FixesRef(branch) points in tree t's repository:
// the last commit of the branch learnt from; zero when none was yet.
func (p *Pipeline) readUpTo(t config.Tree, branch string) (plumbing.Hash, error) {
	repo, err := objstore.OpenRepository(t.Repo)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	r, err := repo.Reference(FixesRef(branch), true)
	switch {
	case errors.Is(err, plumbing.ErrReferenceNotFound):
		return plumbing.ZeroHash, nil
	case err != nil:
		return plumbing.ZeroHash, fmt.Errorf("%s: %w", FixesRef(branch), err)
	}
	return r.Hash(), nil
}

// partialBranch is one run's partial branch as learnBranch reads it.
type partialBranch struct {
	t      config.Tree
	run    state.Run
	name   string        // the branch, run.PushedBranch
	result plumbing.Hash // the commit rtbot pushed there, run.ResultCommit
	done   plumbing.Hash // the last commit learnt from (FixesRef), else result
	tip    plumbing.Hash // where the branch is on the push remote
}

// learnBranch learns from what was pushed onto one run's partial branch.
func (p *Pipeline) learnBranch(ctx context.Context, t config.Tree, run state.Run, pass *Pass) error {
	b, err := p.readPartialBranch(ctx, t, run)
	if err != nil {
		return err
	}
	if b.tip.IsZero() || b.tip == b.result || b.tip == b.done {
		return nil // nothing new: the common case, without opening the engine
	}
	eng, err := merger.Open(t.Repo, merger.Options{})
	if err != nil {
		return err
	}
	defer eng.Close()
	if b.tip, err = p.fetchPushed(ctx, t, b.name, fetchedFixRef(b.name)); err != nil {
		return err
	}
	pushed, builtOn, err := p.pushedCommits(eng.Repository(), b)
	if err != nil {
		return err
	}
	if !builtOn {
		return p.moveFixesRef(eng, b.name, b.tip, b.done, b.result)
	}
	learnt, err := p.learnPushedCommits(ctx, b, pushed, pass)
	if err != nil {
		return err
	}
	if learnt {
		if err := p.rerunIfClean(ctx, t, run, b.name, b.tip, fmt.Sprintf("fixes pushed to %s (%.12s)", b.name, b.tip), pass); err != nil {
			return err
		}
	}
	if err := p.fault(FaultLearnt); err != nil {
		return err
	}
	return p.moveFixesRef(eng, b.name, b.tip, b.done, b.result)
}

// readPartialBranch reads where run's partial branch is on the push
// remote and how far rtbot has learnt from it.
func (p *Pipeline) readPartialBranch(ctx context.Context, t config.Tree, run state.Run) (*partialBranch, error) {
	b := &partialBranch{t: t, run: run, name: run.PushedBranch, result: plumbing.NewHash(run.ResultCommit)}
	var err error
	if b.tip, err = p.pushedHead(ctx, t, b.name); err != nil {
		return nil, err
	}
	if b.done, err = p.readUpTo(t, b.name); err != nil {
		return nil, err
	}
	if b.done.IsZero() {
		b.done = b.result
	}
	return b, nil
}

// pushedCommits returns the commits pushed onto the branch since rtbot
// last looked, oldest first, along first parents. builtOn is false (and
// logged) when the branch no longer builds on that commit: it was
// rewritten or force-pushed, and nothing is learnt from it.
func (p *Pipeline) pushedCommits(repo *git.Repository, b *partialBranch) (pushed []*object.Commit, builtOn bool, err error) {
	c, err := repo.CommitObject(b.tip)
	if err != nil {
		return nil, false, fmt.Errorf("%s at %s: %w", b.name, b.tip, err)
	}
	for c.Hash != b.done && c.Hash != b.result {
		if len(pushed) == maxFixCommits || c.NumParents() == 0 {
			p.log.Warn("the partial branch no longer builds on the commit rtbot pushed or last learnt from "+
				"(rewritten or force-pushed): not learning from it", "tree", b.t.Name, "branch", b.name,
				"tip", b.tip.String(), "pushed", b.result.String())
			return nil, false, nil
		}
		pushed = append(pushed, c)
		if c, err = c.Parent(0); err != nil {
			return nil, false, fmt.Errorf("%s: %w", b.name, err)
		}
	}
	slices.Reverse(pushed)
	return pushed, true, nil
}

// learnPushedCommits learns from each pushed commit, in order, whose
// subject is one of the run's conflicting patches, and says in the pass
// what it learnt. learnt is whether any resolution was.
func (p *Pipeline) learnPushedCommits(ctx context.Context, b *partialBranch, pushed []*object.Commit, pass *Pass) (learnt bool, err error) {
	d, err := p.store.Run(ctx, b.run.ID)
	if err != nil {
		return false, err
	}
	bySubject := map[string]string{}
	for _, pr := range d.Patches {
		if pr.Status == "conflict" {
			bySubject[pr.Subject] = pr.Name
		}
	}
	for _, c := range pushed {
		l := Learned{Tree: b.t.Name, Branch: b.name, Run: b.run.ID, Commit: c.Hash.String(), Patch: bySubject[patchSubject(c.Message)]}
		if l.Patch == "" {
			p.log.Info("a commit on the partial branch is not one of its conflicting patches; left alone",
				"branch", b.name, "commit", c.Hash.String(), "subject", firstLine(c.Message))
			continue
		}
		ok, err := p.learnPushedCommit(ctx, b, c, &l)
		if err != nil {
			return learnt, err
		}
		learnt = learnt || ok
		pass.Learned = append(pass.Learned, l)
	}
	return learnt, nil
}

// learnPushedCommit learns the resolution of patch l.Patch from commit c,
// filling in l, and reports whether it learnt it. A fix that is itself
// wrong is said in l.Error, not returned.
func (p *Pipeline) learnPushedCommit(ctx context.Context, b *partialBranch, c *object.Commit, l *Learned) (bool, error) {
	since, err := fixSince(c, b.result)
	if err != nil {
		return false, fmt.Errorf("%s: %w", b.name, err)
	}
	rs, err := p.Learn(ctx, LearnSpec{Run: b.run.ID, Fix: c.Hash.String(), Since: since.String(),
		Patch: l.Patch, Via: "pushed to " + b.name, Replace: true})
	switch {
	case err == nil:
		for _, r := range rs {
			l.Files = append(l.Files, r.Path)
			l.Diff += r.Diff
			if r.Replaces != nil {
				l.Replaced = append(l.Replaced, r.Path+": "+r.ReplacedText())
			}
		}
		return true, nil
	case ctx.Err() != nil || environmental(err) || errors.Is(err, state.ErrNotFound):
		return false, err
	default:
		// The fix itself is wrong (conflict markers left in, say):
		// said once, in the log and the pass; the maintainer pushes
		// a corrected commit.
		l.Error = err.Error()
		p.log.Error("could not learn a resolution from a commit pushed onto the partial branch",
			"branch", b.name, "commit", c.Hash.String(), "patch", l.Patch, "err", err)
		return false, nil
	}
}

// KindRerun is the kind of the announcement rtbot records for itself when
// the resolutions learnt from a partial branch make its candidate clean:
// the candidate is run again, for the tree that pushed the branch only,
// and this time pushed and tested (see rerunIfClean). Its GitURL and
// GitBranch are the remote (without credentials: netsec.Redact) and the
// partial branch the fix was pushed to.
const KindRerun = "rerun"

// rerunIfClean rebases the run's queue onto its candidate again with the
// resolutions now remembered and, when no patch needs a human any more,
// records a KindRerun announcement for the candidate, which the pass then
// processes like any other: the clean branch is pushed and the tests
// fire, so an rc whose only conflicts the maintainers fixed is tested
// within its review window. Still unclean, nothing is recorded: the
// report already mailed stands. One rerun per pushed tip; what says what
// made the candidate clean, for the announcement's subject.
func (p *Pipeline) rerunIfClean(ctx context.Context, t config.Tree, run state.Run, branch string, tip plumbing.Hash, what string, pass *Pass) error {
	a, err := p.store.Announcement(ctx, run.Announcement)
	if err != nil {
		return err
	}
	eng, err := merger.Open(t.Repo, merger.Options{
		Committer:   merger.Identity{Name: p.cfg.Bot.Name, Email: p.cfg.Bot.Email},
		Resolutions: storeResolutions{ctx, p.store},
	})
	if err != nil {
		return err
	}
	defer eng.Close()
	triageReport, _, err := Merge(ctx, eng, p.mergeSpec(t, run.Candidate))
	if err != nil {
		return err
	}
	if n := triageReport.Summary.Attention; n > 0 {
		p.log.Info("the candidate still needs a human after the fixes learnt; not running it again",
			"tree", t.Name, "candidate", candName(a.Version, a.RC), "attention", n)
		return nil
	}
	rec, dup, err := p.store.RecordAnnouncement(ctx, state.Announcement{
		MessageID: p.messageID(fmt.Sprintf("rerun.%s.%s.%.12s", t.Name, candName(a.Version, a.RC), tip)),
		Kind:      KindRerun, Series: a.Series, Version: a.Version, RC: a.RC,
		GitURL: netsec.Redact(t.PushRemote), GitBranch: branch, From: "rtbot",
		Subject: fmt.Sprintf("%s: %s leave nothing for a human", candName(a.Version, a.RC), what),
		Status:  state.AnnouncementNew,
	})
	if err != nil {
		return err
	}
	if !dup {
		p.log.Info("the fixes learnt make the candidate clean: running it again", "tree", t.Name,
			"candidate", candName(a.Version, a.RC), "announcement", rec.MessageID)
		pass.New = append(pass.New, rec)
	}
	return nil
}

// fixSince is what a fix commit's change is learnt against: its parent,
// or, when the commits right below it carry the same subject (a first
// attempt, then a correction), the parent of the first of them, so the
// correction is learnt together with what it corrects. It never goes
// below result, the commit rtbot pushed.
func fixSince(c *object.Commit, result plumbing.Hash) (plumbing.Hash, error) {
	subject := patchSubject(c.Message)
	for {
		parent, err := c.Parent(0)
		if err != nil {
			return plumbing.ZeroHash, err
		}
		if parent.Hash == result || parent.NumParents() == 0 || patchSubject(parent.Message) != subject {
			return parent.Hash, nil
		}
		c = parent
	}
}

// moveFixesRef records that the partial branch was read up to tip.
func (p *Pipeline) moveFixesRef(eng *merger.Engine, branch string, tip, done, result plumbing.Hash) error {
	old := done
	if done == result {
		old = plumbing.ZeroHash // the ref does not exist yet
	}
	return eng.WriteRef(FixesRef(branch), tip, old)
}

// patchSubject is a commit's subject as the queue's patch would have it:
// its first paragraph joined into one line, as git am makes it.
func patchSubject(msg string) string {
	para, _, _ := strings.Cut(strings.TrimLeft(msg, "\n"), "\n\n")
	return strings.Join(strings.Fields(para), " ")
}
