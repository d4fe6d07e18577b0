package pipeline

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/rtbot/rtbot/internal/candidate"
	"github.com/rtbot/rtbot/internal/config"
	"github.com/rtbot/rtbot/internal/export"
	"github.com/rtbot/rtbot/internal/merger"
	"github.com/rtbot/rtbot/internal/objstore"
	"github.com/rtbot/rtbot/internal/patchqueue"
	"github.com/rtbot/rtbot/internal/state"
	"github.com/rtbot/rtbot/internal/triage"
)

// CandidateRef is the ref rtbot keeps a tree's candidate under: fetched
// once per announcement and never moved by a later fetch of the rc branch,
// so a resumed run rebases onto the same commit.
func CandidateRef(tree, version string, rc int) string {
	return fmt.Sprintf("refs/rtbot/candidates/%s/%s", tree, candName(version, rc))
}

// candName names a candidate: "6.1.177-rc1", or "6.1.177" for a final
// release (rc 0).
func candName(version string, rc int) string {
	if rc == 0 {
		return version
	}
	return fmt.Sprintf("%s-rc%d", version, rc)
}

// treeRun is one run of a tree on a candidate while runTree does it: what
// its steps share.
type treeRun struct {
	a         state.Announcement
	t         config.Tree
	name      string // the candidate's name, candName
	log       *slog.Logger
	cand      plumbing.Hash
	run       state.Run
	runReport *RunReport
}

// runFailed is the error of a step that ends the run for good: runTree
// records it as the run's error outcome instead of leaving the run for a
// later pass.
type runFailed struct{ cause error }

func (e *runFailed) Error() string { return e.cause.Error() }

// runTree does one tree's run on announcement a. It returns an error only
// when the run must be retried by a later pass (a network failure, a
// temporary SMTP error); a run that ended for good, cleanly or not, is
// recorded and returns nil.
func (p *Pipeline) runTree(ctx context.Context, a state.Announcement, t config.Tree) (*RunReport, error) {
	tr, finished, err := p.startTreeRun(ctx, a, t)
	if err != nil || finished {
		return tr.runReport, err
	}
	err = p.completeTreeRun(ctx, tr)
	var failed *runFailed
	if errors.As(err, &failed) {
		return tr.runReport, p.finishFailedRun(ctx, tr, failed.cause)
	}
	return tr.runReport, err
}

// startTreeRun gets the candidate and starts (or resumes) the run of tree
// t on it. finished says the run already ended in an earlier pass: its
// report is filled in from the state and there is nothing left to do.
func (p *Pipeline) startTreeRun(ctx context.Context, a state.Announcement, t config.Tree) (tr *treeRun, finished bool, err error) {
	name := candName(a.Version, a.RC)
	tr = &treeRun{a: a, t: t, name: name, log: p.log.With("tree", t.Name, "candidate", name),
		runReport: &RunReport{Announcement: a.MessageID, Tree: t.Name, Candidate: name}}
	runReport := tr.runReport
	if tr.cand, err = p.candidate(ctx, t, a); err != nil {
		return tr, false, fmt.Errorf("candidate %s: %w", name, err)
	}
	runReport.Commit = tr.cand.String()
	if err := p.fault(FaultFetched); err != nil {
		return tr, false, err
	}
	// Hashed once per run: a queue tarball or directory is read whole.
	if runReport.QueueID, err = queueID(t); err != nil {
		return tr, false, err
	}
	run, existed, err := p.store.StartRun(ctx, state.RunSpec{
		Announcement: a.MessageID, Tree: t.Name, Candidate: tr.cand.String(), QueueID: runReport.QueueID, Base: t.QueueBase,
	})
	if err != nil {
		return tr, false, err
	}
	tr.run = run
	runReport.RunID, runReport.Resumed = run.ID, existed
	if run.Finished() {
		tr.log.Info("already done", "run", run.ID, "outcome", run.Outcome)
		runReport.Outcome, runReport.Pushed, runReport.Result, runReport.Error = run.Outcome, run.PushedBranch, run.ResultCommit, run.Error
		return tr, true, nil
	}
	return tr, false, nil
}

// finishFailedRun records cause as the error that ended the run for good.
func (p *Pipeline) finishFailedRun(ctx context.Context, tr *treeRun, cause error) error {
	tr.runReport.Outcome, tr.runReport.Error = state.OutcomeError, cause.Error()
	tr.log.Error("run failed", "run", tr.run.ID, "err", cause)
	return p.store.FinishRun(ctx, tr.run.ID, state.RunResult{Outcome: state.OutcomeError, Error: cause.Error()})
}

// completeTreeRun does a started run: it checks the candidate, rebases the
// queue onto it, moves and pushes the branch, acts on the result (export
// and triggers when clean, the mailed report when not) and finishes the
// run. An error that ends the run for good is a *runFailed.
func (p *Pipeline) completeTreeRun(ctx context.Context, tr *treeRun) error {
	if err := p.checkCandidate(tr); err != nil {
		return err
	}
	eng, err := merger.Open(tr.t.Repo, merger.Options{
		Committer: merger.Identity{Name: p.cfg.Bot.Name, Email: p.cfg.Bot.Email},
		// The run's start time makes a resumed run write the same commits.
		Now:         func() time.Time { return tr.run.StartedAt },
		Step:        func(int, int) error { return p.fault(FaultRebasing) },
		Resolutions: storeResolutions{ctx, p.store},
	})
	if err != nil {
		return err
	}
	defer eng.Close()
	triageReport, mergeResult, err := p.rebaseRun(ctx, tr, eng)
	if err != nil {
		return err
	}
	clean := triageReport.Summary.Attention == 0
	branch, err := p.moveRunBranch(tr, eng, triageReport, mergeResult.Head, clean)
	if err != nil {
		return err
	}
	if err := p.pushRunBranch(ctx, tr, branch, mergeResult.Head, clean); err != nil {
		return err
	}
	outcome, err := p.actOnRun(ctx, tr, eng, triageReport, mergeResult, clean)
	if err != nil {
		return err
	}
	return p.finishRun(ctx, tr, outcome, branch)
}

// checkCandidate checks that the candidate commit is the announced
// version; one that is not ends the run.
func (p *Pipeline) checkCandidate(tr *treeRun) error {
	repo, err := objstore.OpenRepository(tr.t.Repo)
	if err != nil {
		return err
	}
	if err := candidate.Check(repo, tr.cand, tr.a.Version, tr.a.RC); err != nil {
		return &runFailed{err}
	}
	return nil
}

// rebaseRun rebases the tree's queue onto the candidate, triages the
// result and records the patches' results and the remembered resolutions
// it used.
func (p *Pipeline) rebaseRun(ctx context.Context, tr *treeRun, eng *merger.Engine) (*triage.Report, *merger.Result, error) {
	triageReport, mergeResult, err := Merge(ctx, eng, p.mergeSpec(tr.t, tr.cand.String()))
	if err != nil {
		if stopping(ctx, err) || environmental(err) {
			// Not a verdict on the queue or the candidate: the next
			// pass resumes the run.
			return nil, nil, err
		}
		return nil, nil, &runFailed{err}
	}
	triageReport.Candidate.Name = "v" + tr.name
	tr.runReport.Report, tr.runReport.Result = triageReport, mergeResult.Head.String()
	if err := p.fault(FaultRebased); err != nil {
		return nil, nil, err
	}
	if err := p.store.SavePatchResults(ctx, tr.run.ID, patchResults(triageReport)); err != nil {
		return nil, nil, err
	}
	if err := p.countResolutionUses(ctx, mergeResult); err != nil {
		return nil, nil, err
	}
	if err := p.fault(FaultResults); err != nil {
		return nil, nil, err
	}
	return triageReport, mergeResult, nil
}

// moveRunBranch points the run's local branch at head: the tree's branch
// for the candidate, with "-partial" when a patch needs a human.
func (p *Pipeline) moveRunBranch(tr *treeRun, eng *merger.Engine, triageReport *triage.Report, head plumbing.Hash, clean bool) (string, error) {
	branch, err := tr.t.Branch(tr.a.Version, tr.a.RC)
	if err != nil {
		return "", &runFailed{err}
	}
	if !clean {
		branch += "-partial"
	}
	old, err := eng.BranchHead(branch)
	if err != nil {
		return "", err
	}
	if old != head {
		if err := eng.UpdateBranch(branch, head, old); err != nil {
			return "", err
		}
	}
	triageReport.Result.Branch, tr.runReport.Branch = branch, branch
	if err := p.fault(FaultBranch); err != nil {
		return "", err
	}
	tr.log.Info("rebased", "run", tr.run.ID, "patches", triageReport.Summary.Total,
		"attention", triageReport.Summary.Attention, "branch", branch)
	return branch, nil
}

// pushRunBranch pushes the branch when the tree pushes it: a clean one, or
// a partial one with push_partial.
func (p *Pipeline) pushRunBranch(ctx context.Context, tr *treeRun, branch string, head plumbing.Hash, clean bool) error {
	if tr.t.PushRemote == "" || !clean && !tr.t.PushPartial {
		return nil
	}
	switch err := p.push(ctx, tr.run.ID, tr.t, branch, head, !clean); {
	case errors.Is(err, errTakenOver):
		tr.runReport.NotPushed = err.Error()
	case err != nil:
		return err
	default:
		tr.runReport.Pushed = branch
	}
	return nil
}

// actOnRun acts on the rebase and returns the run's outcome: a clean
// result is exported (when configured) and handed to the triggers, an
// unclean one mailed to the maintainers.
func (p *Pipeline) actOnRun(ctx context.Context, tr *treeRun, eng *merger.Engine, triageReport *triage.Report, mergeResult *merger.Result, clean bool) (state.Outcome, error) {
	if !clean {
		id, err := p.mailReport(ctx, tr.run.ID, tr.a, tr.t, triageReport, tr.runReport)
		tr.runReport.Mail = id
		return state.OutcomeManual, err
	}
	if tr.t.ExportDir != "" {
		if err := p.exportQueue(ctx, tr, eng, mergeResult); err != nil {
			return state.OutcomeClean, err
		}
	}
	ev := p.event(tr.a, tr.t, tr.cand, triageReport, mergeResult, tr.runReport)
	fired, err := p.fireTriggers(ctx, tr.run.ID, tr.t, ev)
	tr.runReport.Triggers = fired
	return state.OutcomeClean, err
}

// exportQueue writes the refreshed queue of a clean run under the tree's
// export directory. Only a failure of the machine is an error: a queue
// that cannot be exported is logged and still tested.
func (p *Pipeline) exportQueue(ctx context.Context, tr *treeRun, eng *merger.Engine, mergeResult *merger.Result) error {
	// Deterministic and written atomically: a resumed run writes the
	// same files again.
	m, err := export.Write(ctx, eng.Repository(), mergeResult, filepath.Join(tr.t.ExportDir, tr.name), export.Options{Overwrite: true})
	switch {
	case err == nil:
		tr.runReport.Export = m.Dir
		tr.log.Info("exported the refreshed queue", "dir", m.Dir, "release", m.Release, "patches", len(m.Patches))
	case environmental(err) || ctx.Err() != nil:
		return fmt.Errorf("export to %s: %w", tr.t.ExportDir, err)
	default:
		// Not a reason to withhold the branch from testing.
		tr.log.Error("exporting the refreshed queue failed", "dir", tr.t.ExportDir, "err", err)
	}
	return nil
}

// finishRun records the run's outcome and where its branch was published.
func (p *Pipeline) finishRun(ctx context.Context, tr *treeRun, outcome state.Outcome, branch string) error {
	runReport := tr.runReport
	runReport.Outcome = outcome
	published := runReport.Pushed
	if runReport.NotPushed != "" {
		// The maintainers' now, built on an earlier run's push: still
		// where this run's fixes are to be pushed and read from.
		published = branch
	}
	if err := p.store.FinishRun(ctx, tr.run.ID, state.RunResult{Outcome: outcome, PushedBranch: published, ResultCommit: runReport.Result}); err != nil {
		return err
	}
	return p.fault(FaultFinished)
}

// mergeSpec is the rebase of tree t's queue onto the candidate onto, within
// the configured limits.
func (p *Pipeline) mergeSpec(t config.Tree, onto string) MergeSpec {
	return MergeSpec{Queue: t.Queue, Ref: t.QueueKind == config.QueueRef, Base: t.QueueBase, Onto: onto,
		Limits: queueLimits(p.cfg.Limits)}
}

// candidate returns the tree's candidate commit for announcement a: the
// one recorded under CandidateRef by an earlier attempt, or else the rc
// branch fetched from the configured remote (never from a URL in the
// mail), or, when that fails and rc_patch is configured, the rc patch
// applied to the previous release.
func (p *Pipeline) candidate(ctx context.Context, t config.Tree, a state.Announcement) (plumbing.Hash, error) {
	ref := CandidateRef(t.Name, a.Version, a.RC)
	repo, err := objstore.OpenRepository(t.Repo)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	// go-git writes a fetched ref in place: a crash in the middle of the
	// first fetch leaves it empty (and every later fetch fails on it). No
	// run used it yet (a run starts after the fetch), so it is dropped and
	// fetched again.
	if dropped, err := dropBrokenRef(t.Repo, ref); err != nil {
		return plumbing.ZeroHash, err
	} else if dropped {
		p.log.Warn("dropped a candidate ref an interrupted fetch left broken", "tree", t.Name, "ref", ref)
	}
	if r, err := repo.Reference(plumbing.ReferenceName(ref), true); err == nil {
		return r.Hash(), nil
	}
	h, ferr := p.fetch(ctx, t.Repo, t.CandidateURL, t.CandidateBranch, ref)
	if ferr == nil {
		p.log.Info("fetched candidate", "tree", t.Name, "url", t.CandidateURL, "branch", t.CandidateBranch, "commit", h.String())
		return h, nil
	}
	if t.RCPatch == "" || ctx.Err() != nil {
		return plumbing.ZeroHash, ferr
	}
	p.log.Warn("fetching the candidate failed; building it from the rc patch", "tree", t.Name, "err", ferr)
	src, err := candidate.PatchSource(t.RCPatch, a.Version, a.RC)
	if err != nil {
		return plumbing.ZeroHash, errors.Join(ferr, err)
	}
	eng, err := merger.Open(t.Repo, merger.Options{Committer: merger.Identity{Name: p.cfg.Bot.Name, Email: p.cfg.Bot.Email}})
	if err != nil {
		return plumbing.ZeroHash, err
	}
	defer eng.Close()
	h, err = candidate.FromPatch(ctx, eng, src, a.Version, a.RC, ref)
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("fetch: %w; rc patch: %w", ferr, err)
	}
	return h, nil
}

// environmental reports whether err comes from the machine rather than
// from the queue or the candidate: a full disk, an exceeded quota, an I/O
// or permission error. Such a run is left for the next pass, not finished
// as an error.
func environmental(err error) bool {
	for _, e := range []syscall.Errno{syscall.ENOSPC, syscall.EDQUOT, syscall.EIO, syscall.EROFS,
		syscall.EACCES, syscall.EPERM, syscall.EMFILE, syscall.ENFILE, syscall.ENOMEM} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// dropBrokenRef removes the loose file of ref (one of rtbot's, under
// refs/rtbot/) from the repository at repoPath, bare or not, when it does
// not hold an object id.
func dropBrokenRef(repoPath, ref string) (bool, error) {
	if !strings.HasPrefix(ref, "refs/rtbot/") || strings.Contains(ref, "..") {
		return false, fmt.Errorf("not checking %s: not one of rtbot's refs", ref)
	}
	gitDir := repoPath
	if st, err := os.Stat(filepath.Join(repoPath, ".git")); err == nil && st.IsDir() {
		gitDir = filepath.Join(repoPath, ".git")
	}
	path := filepath.Join(gitDir, filepath.FromSlash(ref))
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if s := strings.TrimSpace(string(data)); len(s) == 40 && plumbing.IsHash(s) || strings.HasPrefix(s, "ref: ") {
		return false, nil
	}
	return true, os.Remove(path)
}

// queueID identifies the content of a tree's queue and its base: the
// commits of a range or ref, or the bytes of a queue directory, tarball or
// mbox. A changed queue makes a new run; the same queue never runs twice on
// the same candidate.
func queueID(t config.Tree) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "kind %s\n", t.QueueKind)
	switch t.QueueKind {
	case config.QueueRange, config.QueueRef:
		repo, err := objstore.OpenRepository(t.Repo)
		if err != nil {
			return "", err
		}
		tip := t.Queue
		if rg, ok := patchqueue.ParseRange(t.Queue); ok && t.QueueKind == config.QueueRange {
			tip = rg.Tip
		}
		for _, rev := range []string{t.QueueBase, tip} {
			c, err := repo.ResolveRevision(plumbing.Revision(rev))
			if err != nil {
				return "", fmt.Errorf("queue %s: revision %s: %w", t.Queue, rev, err)
			}
			fmt.Fprintf(h, "%s %s\n", rev, c)
		}
	default:
		fmt.Fprintf(h, "base %s\n", t.QueueBase)
		if err := hashPath(h, t.Queue); err != nil {
			return "", fmt.Errorf("queue %s: %w", t.Queue, err)
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// hashPath writes the names and contents of the regular files under root
// (or of root itself) to w, in a stable order.
func hashPath(w io.Writer, root string) error {
	var files []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		return err
	}
	sort.Strings(files)
	for _, f := range files {
		rel, _ := filepath.Rel(root, f)
		fh, err := os.Open(f)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "file %q\n", rel)
		_, err = io.Copy(w, fh)
		fh.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// patchResults is the state form of a triage.
func patchResults(triageReport *triage.Report) []state.PatchResult {
	out := make([]state.PatchResult, 0, len(triageReport.Patches))
	for _, pr := range triageReport.Patches {
		r := state.PatchResult{
			Index: pr.Index, Name: pr.Name, Subject: pr.Subject, Status: string(pr.Status),
			Action: string(pr.Action), Reason: pr.Reason, BlockedBy: pr.BlockedBy,
		}
		if len(pr.CausedBy) > 0 {
			r.CausedBy, _ = json.Marshal(pr.CausedBy)
		}
		out = append(out, r)
	}
	return out
}
