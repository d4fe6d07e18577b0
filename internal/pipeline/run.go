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
	"github.com/rtbot/rtbot/internal/config"
	"github.com/rtbot/rtbot/internal/export"
	"github.com/rtbot/rtbot/internal/mailout"
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
	// refused is the *ReportRefused of a run that finished without its
	// report, for the pass to fail with.
	refused error
	// proposed is the head of the run's proposed branch, proposedBranch
	// its name: zero and "" when no patch has a proposed refresh.
	proposed       plumbing.Hash
	proposedBranch string
}

// runFailed is the error of a step that ends the run for good: runTree
// records it as the run's error outcome, mails the maintainers an error
// report and returns a *RunFailed, instead of leaving the run for a later
// pass.
type runFailed struct{ cause error }

func (e *runFailed) Error() string { return e.cause.Error() }

// runTree does one tree's run on announcement a. It returns an error when
// the run must be retried by a later pass (a network failure, a temporary
// SMTP error); a *ReportRefused when it ended without the report the
// server refused; a *RunFailed when it ended for good in an error (this
// pass or an earlier one); a *candidateWaiting when the candidate is not
// there yet and no run started; a *repeatOf when another announcement of
// the candidate claimed it. A run that ended cleanly or needing a human
// returns nil.
func (p *Pipeline) runTree(ctx context.Context, a state.Announcement, t config.Tree, pass *Pass) (*RunReport, error) {
	tr, err := p.startTreeRun(ctx, a, t, pass)
	switch {
	case tr.run.Finished():
		return tr.runReport, p.endedBefore(tr)
	case err == nil:
		err = p.completeTreeRun(ctx, tr)
	}
	var failed *runFailed
	if errors.As(err, &failed) && tr.run.ID != 0 {
		return tr.runReport, p.finishFailedRun(ctx, tr, failed.cause)
	}
	return tr.runReport, err
}

// startTreeRun gets the candidate, claims it for the announcement and
// starts (or resumes) the run of tree t on it. A candidate that will not
// come by itself, or a queue that cannot be read, still starts a run (on
// what the remote has, or "none"), for the error to be recorded and
// reported: the error returned is then a *runFailed. A run that ended in
// an earlier pass is returned finished.
func (p *Pipeline) startTreeRun(ctx context.Context, a state.Announcement, t config.Tree, pass *Pass) (*treeRun, error) {
	name := candName(a.Version, a.RC)
	tr := &treeRun{a: a, t: t, name: name, log: p.log.With("tree", t.Name, "candidate", name),
		runReport: &RunReport{Announcement: a.MessageID, Tree: t.Name, Candidate: name}}
	runReport := tr.runReport
	var failed error
	cand, err := p.candidate(ctx, t, a, pass)
	var cf *candidateFailed
	switch {
	case errors.As(err, &cf):
		tr.cand, failed = cf.commit, cf.cause
	case err != nil:
		return tr, fmt.Errorf("candidate %s: %w", name, err)
	default:
		tr.cand = cand
		if err := p.claim(ctx, a); err != nil {
			return tr, err
		}
	}
	runReport.Commit = tr.cand.String()
	if err := p.fault(FaultFetched); err != nil {
		return tr, err
	}
	// Hashed once per run: a queue tarball or directory is read whole.
	if runReport.QueueID, err = queueID(t); err != nil {
		if environmental(err) {
			return tr, err
		}
		runReport.QueueID, failed = unreadable, errors.Join(failed, err)
	}
	if err := p.startRun(ctx, tr); err != nil || tr.run.Finished() || failed == nil {
		return tr, err
	}
	return tr, &runFailed{failed}
}

// unreadable is what stands for a commit or a queue in the key of a run
// that failed before it could know them.
const unreadable = "none"

// startRun records the start of tr's run, or finds it started. A run
// that ended in error is reopened, to be redone under its id and ledger,
// when its announcement is being retried (state.Announcement.Retry).
func (p *Pipeline) startRun(ctx context.Context, tr *treeRun) error {
	if tr.cand.IsZero() {
		tr.runReport.Commit = unreadable
	}
	run, existed, err := p.store.StartRun(ctx, state.RunSpec{
		Announcement: tr.a.MessageID, Tree: tr.t.Name, Candidate: tr.runReport.Commit, QueueID: tr.runReport.QueueID, Base: tr.t.QueueBase,
	})
	if err != nil {
		return err
	}
	if run.Outcome == state.OutcomeError && tr.a.Retry {
		tr.log.Info("redoing the run that ended in error", "run", run.ID, "err", run.Error)
		if run, err = p.store.ReopenRun(ctx, run.ID); err != nil {
			return err
		}
	}
	tr.run = run
	tr.runReport.RunID, tr.runReport.Resumed = run.ID, existed
	return nil
}

// endedBefore fills in the report of a run that ended in an earlier pass
// from the state: nothing is left to do, and one that failed says so.
func (p *Pipeline) endedBefore(tr *treeRun) error {
	run, runReport := tr.run, tr.runReport
	tr.log.Info("already done", "run", run.ID, "outcome", run.Outcome)
	runReport.Outcome, runReport.Pushed, runReport.Result, runReport.Error = run.Outcome, run.PushedBranch, run.ResultCommit, run.Error
	if run.Outcome != state.OutcomeError {
		return nil
	}
	return &RunFailed{Run: run.ID, Tree: tr.t.Name, Err: errors.New(run.Error), Config: p.configFile(), Before: true}
}

// finishFailedRun records cause as the error that ended the run for good,
// after mailing the maintainers the error report (once: the ledger keeps
// it), and returns the *RunFailed. An error mailing it leaves the run
// unfinished for the next pass, except a report the server refused for
// good, which the run ends without.
func (p *Pipeline) finishFailedRun(ctx context.Context, tr *treeRun, cause error) error {
	tr.runReport.Outcome, tr.runReport.Error = state.OutcomeError, cause.Error()
	tr.log.Error("run failed", "run", tr.run.ID, "err", cause)
	err := p.mailRun(ctx, tr, errorReportID(p, tr, cause), func(id string) (*mailout.Message, error) {
		return p.errorMail(tr, cause, id), nil
	})
	if errors.As(err, new(*ReportRefused)) {
		tr.refused, err = err, nil
	}
	if err != nil {
		tr.runReport.Outcome = ""
		return err
	}
	if err := p.store.FinishRun(ctx, tr.run.ID, state.RunResult{Outcome: state.OutcomeError, Error: cause.Error()}); err != nil {
		return err
	}
	if err := p.fault(FaultFinished); err != nil {
		return err
	}
	return errors.Join(&RunFailed{Run: tr.run.ID, Tree: tr.t.Name, Err: cause, Mail: tr.runReport.Mail, Config: p.configFile()}, tr.refused)
}

// completeTreeRun does a started run: it checks the candidate, rebases the
// queue onto it, moves and pushes the branch, acts on the result (export
// and triggers when clean, the mailed report when not) and finishes the
// run. An error that ends the run for good is a *runFailed.
func (p *Pipeline) completeTreeRun(ctx context.Context, tr *treeRun) error {
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
	if err := p.finishRun(ctx, tr, outcome, branch); err != nil {
		return err
	}
	return tr.refused
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
	if triageReport.Summary.Attention > 0 {
		if err := p.proposeRun(ctx, tr, eng, triageReport, mergeResult); err != nil {
			return nil, nil, err
		}
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
	if err := p.moveProposedBranch(tr, eng); err != nil {
		return "", err
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
	if !clean {
		return p.pushProposedBranch(ctx, tr)
	}
	return nil
}

// actOnRun acts on the rebase and returns the run's outcome: a clean
// result is exported (when configured) and handed to the triggers, an
// unclean one mailed to the maintainers.
func (p *Pipeline) actOnRun(ctx context.Context, tr *treeRun, eng *merger.Engine, triageReport *triage.Report, mergeResult *merger.Result, clean bool) (state.Outcome, error) {
	if !clean {
		err := p.mailRun(ctx, tr, p.reportMessageID(tr.a, tr.t, tr.runReport.Commit, tr.runReport.QueueID),
			func(id string) (*mailout.Message, error) {
				return p.reportMail(tr.a, tr.t, triageReport, tr.runReport, id)
			})
		if errors.As(err, new(*ReportRefused)) {
			// The run is over without its report; the pass still fails.
			tr.refused, err = err, nil
		}
		return state.OutcomeManual, err
	}
	if tr.t.ExportDir != "" {
		if err := p.exportQueue(ctx, tr, eng, mergeResult); err != nil {
			return state.OutcomeClean, err
		}
	}
	ev := p.event(eng.Repository(), tr.a, tr.t, tr.cand, triageReport, mergeResult, tr.runReport)
	if err := p.expectResults(ctx, tr.run.ID, tr.t, ev); err != nil {
		return state.OutcomeClean, err
	}
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
	m, err := export.Write(ctx, eng.Repository(), mergeResult, filepath.Join(tr.t.ExportDir, tr.name), export.Options{Overwrite: true, NextRelease: true})
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
		repo, closeRepo, err := objstore.OpenPacked(t.Repo)
		if err != nil {
			return "", err
		}
		defer closeRepo()
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
