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
}

// Learn records the resolutions a maintainer's fix teaches: it redoes the
// run's rebase (same queue, same candidate), takes each conflicting file of
// the patch as the fix has it, and remembers it keyed by the conflict's
// content, so the same conflict on a later candidate resolves itself. It
// returns what was recorded.
func (p *Pipeline) Learn(ctx context.Context, spec LearnSpec) ([]state.Resolution, error) {
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
		return nil, err
	}
	return p.saveResolutions(ctx, pr, learned, source)
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

// saveResolutions records the resolutions learnt from patch pr.
func (p *Pipeline) saveResolutions(ctx context.Context, pr *merger.PatchResult, learned []merger.Resolution, source string) ([]state.Resolution, error) {
	var out []state.Resolution
	for _, l := range learned {
		r := state.Resolution{Key: l.Key, PatchID: l.PatchID, Path: l.Path, Preimage: l.Preimage, Postimage: l.Postimage, Source: l.Source}
		if _, err := p.store.SaveResolution(ctx, r); err != nil {
			return out, err
		}
		p.log.Info("resolution recorded", "patch", pr.Patch.Name, "file", l.Path, "source", source)
		out = append(out, r)
	}
	return out, nil
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
