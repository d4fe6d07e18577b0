package pipeline

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/rtbot/rtbot/internal/config"
	"github.com/rtbot/rtbot/internal/merger"
	"github.com/rtbot/rtbot/internal/state"
	"github.com/rtbot/rtbot/internal/textmerge"
)

// storeResolutions is the state database as a merger.Resolutions.
type storeResolutions struct {
	ctx   context.Context
	store *state.Store
}

func (s storeResolutions) Resolutions(patchID, path string) ([]merger.Resolution, error) {
	rs, err := s.store.Resolutions(s.ctx, patchID, path)
	if err != nil {
		return nil, err
	}
	out := make([]merger.Resolution, len(rs))
	for i, r := range rs {
		out[i] = merger.Resolution{PatchID: r.PatchID, Path: r.Path, Key: r.Key, Preimage: r.Preimage, Postimage: r.Postimage, Source: r.Source}
	}
	return out, nil
}

// countResolutionUses records one use of every remembered resolution a
// rebase applied.
func (p *Pipeline) countResolutionUses(ctx context.Context, mergeResult *merger.Result) error {
	for _, pr := range mergeResult.Patches {
		for _, f := range pr.Files {
			if f.Outcome == merger.Resolved {
				if err := p.store.ResolutionUsed(ctx, f.ConflictKey); err != nil && !errors.Is(err, state.ErrNotFound) {
					return err
				}
			}
		}
	}
	return nil
}

// LearnSpec says what fix to learn resolutions from.
type LearnSpec struct {
	// Run is the run whose conflicts the fix resolves.
	Run int64
	// Fix is a revision in the tree's repository (a commit, or a branch a
	// maintainer pushed) whose files are the resolved ones: typically the
	// run's partial branch with the conflicting patch applied by hand.
	Fix string
	// Patch names the patch resolved (its file name in the queue); it may
	// be empty when only one patch of the run conflicts.
	Patch string
	// Since, when set, is the revision the fix builds on (the fix commit's
	// parent, or the run's partial branch): only what changed from Since
	// to Fix is learnt, merged into each file as the conflicting patch
	// found it, so the patches the partial branch already carries after
	// the conflicting one do not leak into its resolution. Empty means the
	// run's partial branch when Fix descends from it, and otherwise the
	// fix's files taken whole.
	Since string
	// Via says how the fix reached rtbot, for the resolution's source;
	// empty means "rtbot resolve".
	Via string
	// Replace allows the fix to replace a remembered resolution of the
	// same conflict that resolves it differently; without it Learn
	// refuses with a *ReplaceError and records nothing. `rtbot resolve`
	// sets it with --replace; a fix pushed onto the partial branch always
	// replaces (the maintainers pushed it after the one it replaces), and
	// the pass says so.
	Replace bool
}

// Learnt is one resolution Learn recorded (or, refused, would have).
type Learnt struct {
	state.Resolution
	// Diff shows what is learnt (merger.ResolutionDiff): the file as the
	// fix resolved it, as a short unified diff against the candidate's
	// side of the conflict.
	Diff string
	// Replaces is the remembered resolution of the same conflict that
	// this one replaces; nil when there was none, or it was the same.
	Replaces *state.Resolution
	// Known is set when the very same resolution was remembered already
	// (learnt again, it changes nothing): Resolution is then the one
	// remembered, with its source.
	Known bool
}

// ReplacedText says which resolution l replaces: when it was recorded and
// where it came from; "" when it replaces none.
func (l Learnt) ReplacedText() string {
	if l.Replaces == nil {
		return ""
	}
	return fmt.Sprintf("the resolution recorded %s from %s", l.Replaces.RecordedAt.Format("2006-01-02 15:04"), l.Replaces.Source)
}

// A ReplaceError is Learn's refusal to replace remembered resolutions
// when LearnSpec.Replace is not set. Learnt is what the fix would teach,
// each with the resolution it would replace.
type ReplaceError struct {
	Learnt []Learnt
}

func (e *ReplaceError) Error() string {
	var what []string
	for _, l := range e.Learnt {
		if l.Replaces != nil {
			what = append(what, fmt.Sprintf("for %s it replaces %s", l.Path, l.ReplacedText()))
		}
	}
	return fmt.Sprintf("the fix resolves a remembered conflict differently: %s; nothing recorded: "+
		"check the diff and, if the fix is the better one, learn it again with --replace", strings.Join(what, "; "))
}

// Learn records the resolutions a maintainer's fix teaches: it redoes the
// run's rebase (same queue, same candidate), takes each conflicting file of
// the patch as the fix has it, and remembers it keyed by the conflict's
// content, so the same conflict on a later candidate resolves itself. A
// fix without the patch's change in the conflicting regions (see
// merger.Learn) teaches nothing, and neither does one that would replace a
// remembered resolution without spec.Replace (a *ReplaceError, with what
// it would teach). It returns what was recorded, each with its diff and
// the resolution it replaced.
func (p *Pipeline) Learn(ctx context.Context, spec LearnSpec) ([]Learnt, error) {
	run, t, err := p.learnableRun(ctx, spec.Run)
	if err != nil {
		return nil, err
	}
	eng, err := merger.Open(t.Repo, merger.Options{
		Committer: merger.Identity{Name: p.cfg.Bot.Name, Email: p.cfg.Bot.Email},
		Now:       func() time.Time { return run.StartedAt },
	})
	if err != nil {
		return nil, err
	}
	defer eng.Close()
	fix, err := readFix(eng, spec, run.ResultCommit)
	if err != nil {
		return nil, err
	}
	_, mergeResult, err := Merge(ctx, eng, p.mergeSpec(t, run.Candidate))
	if err != nil {
		return nil, err
	}
	pr, err := resolvedPatch(run.ID, mergeResult, spec.Patch)
	if err != nil {
		return nil, err
	}
	via := spec.Via
	if via == "" {
		via = "rtbot resolve"
	}
	source := fmt.Sprintf("%s: commit %.12s %q, run %d", via, fix.hash, firstLine(fix.commit.Message), run.ID)
	learned, err := merger.Learn(pr, fix.resolvedFile(eng), source)
	if err != nil {
		return nil, fix.explain(err, spec, run)
	}
	return p.keepLearnt(ctx, pr, learned, spec.Replace)
}

// keepLearnt saves the resolutions learned from pr, unless one would
// replace a remembered resolution and replace is false: then it saves
// nothing and returns a *ReplaceError listing them.
func (p *Pipeline) keepLearnt(ctx context.Context, pr *merger.PatchResult, learned []merger.Resolution, replace bool) ([]Learnt, error) {
	out, err := p.preview(ctx, pr, learned)
	if err != nil {
		return nil, err
	}
	for _, l := range out {
		if l.Replaces != nil && !replace {
			return out, &ReplaceError{Learnt: out}
		}
	}
	return out, p.saveResolutions(ctx, pr, out)
}

// explain adds to why a fix teaches nothing the likely mistake when the
// fix is the run's partial branch itself: it has the files as the patch
// found them, without the patch.
func (lf *learnFix) explain(err error, spec LearnSpec, run state.Run) error {
	if lf.hash.String() != run.ResultCommit {
		return err
	}
	return fmt.Errorf("%w; --fix %s is the run's partial branch itself (commit %.12s), which lacks the patch: "+
		"apply the patch on top of it (git am -3), resolve, commit, and name that commit", err, spec.Fix, lf.hash)
}

// preview adds to each resolution learnt from patch pr its diff and the
// remembered resolution of the same conflict it would replace.
func (p *Pipeline) preview(ctx context.Context, pr *merger.PatchResult, learned []merger.Resolution) ([]Learnt, error) {
	out := make([]Learnt, len(learned))
	for i, l := range learned {
		out[i].Resolution = state.Resolution{Key: l.Key, PatchID: l.PatchID, Path: l.Path, Preimage: l.Preimage, Postimage: l.Postimage, Source: l.Source}
		for j := range pr.Files {
			if f := &pr.Files[j]; f.Path == l.Path && f.ConflictKey == l.Key {
				diff, err := merger.ResolutionDiff(f, l.Postimage)
				if err != nil {
					return nil, fmt.Errorf("patch %s: %w", pr.Patch.Name, err)
				}
				out[i].Diff = diff
			}
		}
		old, err := p.store.Resolutions(ctx, l.PatchID, l.Path)
		if err != nil {
			return nil, err
		}
		for _, o := range old {
			switch {
			case o.Key != l.Key:
			case o.Preimage != l.Preimage || o.Postimage != l.Postimage:
				out[i].Replaces = &o
			default:
				out[i].Resolution, out[i].Known = o, true
			}
		}
	}
	return out, nil
}

// learnableRun returns run id and its tree, refusing a run whose tree is
// no longer configured or whose queue changed since: its rebase cannot be
// redone.
func (p *Pipeline) learnableRun(ctx context.Context, id int64) (state.Run, config.Tree, error) {
	d, err := p.store.Run(ctx, id)
	if err != nil {
		return state.Run{}, config.Tree{}, err
	}
	run := d.Run
	var t config.Tree
	for _, c := range p.cfg.Trees {
		if c.Name == run.Tree {
			t = c
		}
	}
	if t.Name == "" {
		return run, t, fmt.Errorf("run %d is of tree %q, which is not configured any more", run.ID, run.Tree)
	}
	qid, err := queueID(t)
	if err != nil {
		return run, t, err
	}
	if qid != run.QueueID {
		return run, t, fmt.Errorf("the queue of tree %s changed since run %d: its conflicts cannot be redone; "+
			"the next run on the new queue shows whether the change resolved them", t.Name, run.ID)
	}
	return run, t, nil
}

// learnFix is the fix Learn learns from: its commit and tree, and the
// tree of what it builds on (LearnSpec.Since) when only its own change is
// learnt.
type learnFix struct {
	hash      plumbing.Hash
	commit    *object.Commit
	tree      *object.Tree
	since     plumbing.Hash
	sinceTree *object.Tree // nil: the fix's files are taken whole
}

// readFix reads the fix spec names and what it builds on; result is the
// run's result commit (its partial branch).
func readFix(eng *merger.Engine, spec LearnSpec, result string) (*learnFix, error) {
	fix, err := eng.RevParse(spec.Fix)
	if err != nil {
		return nil, fmt.Errorf("fix %s: %w", spec.Fix, err)
	}
	fc, err := eng.Repository().CommitObject(fix)
	if err != nil {
		return nil, fmt.Errorf("fix %s: %w", spec.Fix, err)
	}
	ft, err := fc.Tree()
	if err != nil {
		return nil, fmt.Errorf("fix %s: %w", spec.Fix, err)
	}
	since, err := learnSince(eng, spec.Since, result, fix)
	if err != nil {
		return nil, err
	}
	lf := &learnFix{hash: fix, commit: fc, tree: ft, since: since}
	if !since.IsZero() {
		sc, err := eng.Repository().CommitObject(since)
		if err != nil {
			return nil, fmt.Errorf("since %s: %w", spec.Since, err)
		}
		if lf.sinceTree, err = sc.Tree(); err != nil {
			return nil, fmt.Errorf("since %s: %w", spec.Since, err)
		}
	}
	return lf, nil
}

// resolvedPatch picks the patch of the redone rebase that the fix
// resolves: the one named, or the only one with a 3-way merge conflict.
func resolvedPatch(runID int64, mergeResult *merger.Result, name string) (*merger.PatchResult, error) {
	var conflicting []*merger.PatchResult
	var names []string
	for _, pr := range mergeResult.Patches {
		for _, f := range pr.Files {
			if f.Outcome == merger.Conflict && f.Conflicted != nil {
				conflicting = append(conflicting, pr)
				names = append(names, pr.Patch.Name)
				break
			}
		}
	}
	switch {
	case len(conflicting) == 0:
		return nil, fmt.Errorf("run %d has no patch with a 3-way merge conflict to learn from", runID)
	case name == "" && len(conflicting) > 1:
		return nil, fmt.Errorf("run %d has %d conflicting patches (%s): name the one the fix resolves", runID, len(conflicting), strings.Join(names, ", "))
	case name == "":
		return conflicting[0], nil
	}
	var pr *merger.PatchResult
	for _, c := range conflicting {
		if c.Patch.Name == name {
			pr = c
		}
	}
	if pr == nil {
		return nil, fmt.Errorf("patch %s has no 3-way merge conflict in run %d (conflicting: %s)", name, runID, strings.Join(names, ", "))
	}
	return pr, nil
}

// resolvedFile is the merger.Learn callback: a conflicting file's resolved
// text as the fix has it, or, when the fix builds on sinceTree, only the
// fix's own change merged into the file as the patch found it.
func (lf *learnFix) resolvedFile(eng *merger.Engine) func(f *merger.FileResult) (string, bool, error) {
	return func(f *merger.FileResult) (string, bool, error) {
		path := f.ResultPath()
		text, ok, err := treeFile(lf.tree, path)
		if err != nil || lf.sinceTree == nil || !ok {
			return text, ok, err
		}
		// Only the fix's own change, merged into the file as the patch
		// found it.
		old, _, err := treeFile(lf.sinceTree, path)
		if err != nil {
			return "", false, err
		}
		found := ""
		if !f.CandBlob.IsZero() {
			if found, err = eng.Blob(f.CandBlob); err != nil {
				return "", false, err
			}
		}
		m := textmerge.Merge3([]byte(old), []byte(found), []byte(text), textmerge.Options{})
		if !m.Clean {
			return "", false, fmt.Errorf("the fix's change (%.12s..%.12s) does not merge cleanly into the file as the patch found it "+
				"(what the fix builds on changes the same lines); learn from a commit that carries only this patch's change", lf.since, lf.hash)
		}
		return string(m.Merged), true, nil
	}
}

// saveResolutions records the resolutions learnt from patch pr, and logs
// each with its diff, and the resolution it replaced (a warning: a
// remembered fix changed).
func (p *Pipeline) saveResolutions(ctx context.Context, pr *merger.PatchResult, learned []Learnt) error {
	for _, l := range learned {
		if _, err := p.store.SaveResolution(ctx, l.Resolution); err != nil {
			return err
		}
		p.log.Info("resolution recorded", "patch", pr.Patch.Name, "file", l.Path, "source", l.Source, "diff", l.Diff)
		if l.Replaces != nil {
			p.log.Warn("the resolution recorded replaces the one remembered for the same conflict", "patch", pr.Patch.Name,
				"file", l.Path, "source", l.Source, "replaced", l.Replaces.Source, "recorded", l.Replaces.RecordedAt.Format(time.RFC3339))
		}
	}
	return nil
}

// learnSince is the revision LearnSpec.Since names, or else the run's
// result (its partial branch) when fix descends from it, or else none
// (the zero hash).
func learnSince(eng *merger.Engine, since, result string, fix plumbing.Hash) (plumbing.Hash, error) {
	if since != "" {
		h, err := eng.RevParse(since)
		if err != nil {
			return plumbing.ZeroHash, fmt.Errorf("since %s: %w", since, err)
		}
		return h, nil
	}
	if result == "" {
		return plumbing.ZeroHash, nil
	}
	r := eng.Repository()
	rc, err := r.CommitObject(plumbing.NewHash(result))
	if err != nil {
		// The partial branch's commits are not in this repository (pushed
		// elsewhere and collected since): learn from the whole files.
		return plumbing.ZeroHash, nil
	}
	fc, err := r.CommitObject(fix)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	if fix == rc.Hash {
		return plumbing.ZeroHash, nil
	}
	if ok, err := rc.IsAncestor(fc); err != nil || !ok {
		return plumbing.ZeroHash, err
	}
	return rc.Hash, nil
}

// treeFile returns the text of path in tree, and whether it is there.
func treeFile(tree *object.Tree, path string) (string, bool, error) {
	f, err := tree.File(path)
	if errors.Is(err, object.ErrFileNotFound) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	text, err := f.Contents()
	return text, err == nil, err
}

// firstLine is the first line of a commit message.
func firstLine(msg string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(msg), "\n")
	return line
}
