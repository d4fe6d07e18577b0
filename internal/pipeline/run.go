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
	"github.com/rtbot/rtbot/internal/remote"
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

// runTree does one tree's run on announcement a. It returns an error only
// when the run must be retried by a later pass (a network failure, a
// temporary SMTP error); a run that ended for good, cleanly or not, is
// recorded and returns nil.
func (p *Pipeline) runTree(ctx context.Context, a state.Announcement, t config.Tree) (*RunReport, error) {
	name := candName(a.Version, a.RC)
	log := p.log.With("tree", t.Name, "candidate", name)
	rr := &RunReport{Announcement: a.MessageID, Tree: t.Name, Candidate: name}

	cand, err := p.candidate(ctx, t, a)
	if err != nil {
		return rr, fmt.Errorf("candidate %s: %w", name, err)
	}
	rr.Commit = cand.String()
	if err := p.fault(FaultFetched); err != nil {
		return rr, err
	}
	// Hashed once per run: a queue tarball or directory is read whole.
	qid, err := queueID(t)
	if err != nil {
		return rr, err
	}
	rr.QueueID = qid
	run, existed, err := p.store.StartRun(ctx, state.RunSpec{
		Announcement: a.MessageID, Tree: t.Name, Candidate: cand.String(), QueueID: qid, Base: t.QueueBase,
	})
	if err != nil {
		return rr, err
	}
	rr.RunID, rr.Resumed = run.ID, existed
	if run.Finished() {
		log.Info("already done", "run", run.ID, "outcome", run.Outcome)
		rr.Outcome, rr.Pushed, rr.Result, rr.Error = run.Outcome, run.PushedBranch, run.ResultCommit, run.Error
		return rr, nil
	}
	finishErr := func(cause error) (*RunReport, error) {
		rr.Outcome, rr.Error = state.OutcomeError, cause.Error()
		log.Error("run failed", "run", run.ID, "err", cause)
		if err := p.store.FinishRun(ctx, run.ID, state.RunResult{Outcome: state.OutcomeError, Error: cause.Error()}); err != nil {
			return rr, err
		}
		return rr, nil
	}

	repo, err := objstore.OpenRepository(t.Repo)
	if err != nil {
		return rr, err
	}
	if err := candidate.Check(repo, cand, a.Version, a.RC); err != nil {
		return finishErr(err)
	}

	eng, err := merger.Open(t.Repo, merger.Options{
		Committer: merger.Identity{Name: p.cfg.Bot.Name, Email: p.cfg.Bot.Email},
		// The run's start time makes a resumed run write the same commits.
		Now:         func() time.Time { return run.StartedAt },
		Step:        func(int, int) error { return p.fault(FaultRebasing) },
		Resolutions: storeResolutions{ctx, p.store},
	})
	if err != nil {
		return rr, err
	}
	defer eng.Close()
	rep, res, err := Merge(ctx, eng, p.mergeSpec(t, cand.String()))
	if err != nil {
		if stopping(ctx, err) || environmental(err) {
			// Not a verdict on the queue or the candidate: the next
			// pass resumes the run.
			return rr, err
		}
		return finishErr(err)
	}
	rep.Candidate.Name = "v" + name
	rr.Report, rr.Result = rep, res.Head.String()
	if err := p.fault(FaultRebased); err != nil {
		return rr, err
	}
	if err := p.store.SavePatchResults(ctx, run.ID, patchResults(rep)); err != nil {
		return rr, err
	}
	if err := p.countUses(ctx, res); err != nil {
		return rr, err
	}
	if err := p.fault(FaultResults); err != nil {
		return rr, err
	}

	clean := rep.Summary.Attention == 0
	branch, err := t.Branch(a.Version, a.RC)
	if err != nil {
		return finishErr(err)
	}
	if !clean {
		branch += "-partial"
	}
	old, err := eng.BranchHead(branch)
	if err != nil {
		return rr, err
	}
	if old != res.Head {
		if err := eng.UpdateBranch(branch, res.Head, old); err != nil {
			return rr, err
		}
	}
	rep.Result.Branch, rr.Branch = branch, branch
	if err := p.fault(FaultBranch); err != nil {
		return rr, err
	}
	log.Info("rebased", "run", run.ID, "patches", rep.Summary.Total, "attention", rep.Summary.Attention, "branch", branch)

	if t.PushRemote != "" && (clean || t.PushPartial) {
		switch err := p.push(ctx, run.ID, t, branch, res.Head, !clean); {
		case errors.Is(err, errTakenOver):
			rr.NotPushed = err.Error()
		case err != nil:
			return rr, err
		default:
			rr.Pushed = branch
		}
	}
	outcome := state.OutcomeClean
	if clean && t.ExportDir != "" {
		// Deterministic and written atomically: a resumed run writes the
		// same files again.
		m, err := export.Write(ctx, eng.Repository(), res, filepath.Join(t.ExportDir, name), export.Options{Overwrite: true})
		switch {
		case err == nil:
			rr.Export = m.Dir
			log.Info("exported the refreshed queue", "dir", m.Dir, "release", m.Release, "patches", len(m.Patches))
		case environmental(err) || ctx.Err() != nil:
			return rr, fmt.Errorf("export to %s: %w", t.ExportDir, err)
		default:
			// Not a reason to withhold the branch from testing.
			log.Error("exporting the refreshed queue failed", "dir", t.ExportDir, "err", err)
		}
	}
	if clean {
		ev := p.event(a, t, cand, rep, res, rr)
		fired, err := p.fireTriggers(ctx, run.ID, t, ev)
		rr.Triggers = fired
		if err != nil {
			return rr, err
		}
	} else {
		outcome = state.OutcomeManual
		id, err := p.mailReport(ctx, run.ID, a, t, rep, rr)
		rr.Mail = id
		if err != nil {
			return rr, err
		}
	}
	rr.Outcome = outcome
	published := rr.Pushed
	if rr.NotPushed != "" {
		// The maintainers' now, built on an earlier run's push: still
		// where this run's fixes are to be pushed and read from.
		published = branch
	}
	if err := p.store.FinishRun(ctx, run.ID, state.RunResult{Outcome: outcome, PushedBranch: published, ResultCommit: rr.Result}); err != nil {
		return rr, err
	}
	return rr, p.fault(FaultFinished)
}

// mergeSpec is the rebase of tree t's queue onto the candidate onto, within
// the configured limits.
func (p *Pipeline) mergeSpec(t config.Tree, onto string) MergeSpec {
	lim := p.cfg.Limits
	return MergeSpec{Queue: t.Queue, Ref: t.QueueKind == config.QueueRef, Base: t.QueueBase, Onto: onto,
		Limits: patchqueue.Limits{MaxPatches: lim.QueuePatches, MaxTotalSize: lim.QueueBytes, MaxPatchBytes: lim.PatchBytes, MaxHunkLines: lim.HunkLines}}
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
	h, ferr := remote.Fetch(ctx, t.Repo, t.CandidateURL, t.CandidateBranch, ref, p.opts.Progress)
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
func patchResults(rep *triage.Report) []state.PatchResult {
	out := make([]state.PatchResult, 0, len(rep.Patches))
	for _, pr := range rep.Patches {
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
