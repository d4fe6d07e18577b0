package pipeline

import (
	"context"
	"errors"

	"github.com/rtbot/rtbot/internal/merger"
	"github.com/rtbot/rtbot/internal/triage"
)

// proposeRun commits the proposed refreshes of an unclean run's patches
// (docs/triage.md, "Proposed refreshes") on top of its result, for the
// branch next to the partial one (moveRunBranch moves it, pushRunBranch
// pushes it with the partial one), and records in the report where each
// is. The commits are the same when a resumed run does it again (the
// engine's time is the run's start).
func (p *Pipeline) proposeRun(ctx context.Context, tr *treeRun, eng *merger.Engine, triageReport *triage.Report, mergeResult *merger.Result) error {
	want := map[int]bool{}
	for _, pr := range triageReport.Patches {
		if pr.Proposal != nil {
			want[pr.Index] = true
		}
	}
	if len(want) == 0 {
		return nil
	}
	branch, err := tr.t.Branch(tr.a.Version, tr.a.RC)
	if err != nil {
		return &runFailed{err}
	}
	branch += merger.ProposedSuffix
	head, done, skipped, err := eng.CommitProposals(ctx, mergeResult, func(pr *merger.PatchResult) bool { return want[pr.Patch.Index] })
	if err != nil {
		return err
	}
	committed, notDone := merger.ProposalOutcomes(done, skipped)
	triage.ProposedOn(triageReport.Patches, branch, committed, notDone)
	if len(done) > 0 {
		tr.proposedBranch, tr.proposed = branch, head
	}
	return nil
}

// moveProposedBranch points the run's proposed branch at its proposals,
// when it has any.
func (p *Pipeline) moveProposedBranch(tr *treeRun, eng *merger.Engine) error {
	if tr.proposed.IsZero() {
		return nil
	}
	old, err := eng.BranchHead(tr.proposedBranch)
	if err != nil || old == tr.proposed {
		return err
	}
	return eng.UpdateBranch(tr.proposedBranch, tr.proposed, old)
}

// pushProposedBranch pushes the run's proposed branch where the partial
// one goes, like it: a proposed branch the maintainers pushed onto is
// theirs and left alone.
func (p *Pipeline) pushProposedBranch(ctx context.Context, tr *treeRun) error {
	if tr.proposed.IsZero() || tr.t.PushRemote == "" || !tr.t.PushPartial {
		return nil
	}
	switch err := p.push(ctx, tr.run.ID, tr.t, tr.proposedBranch, tr.proposed, true); {
	case errors.Is(err, errTakenOver):
		tr.log.Warn("the proposed branch was not pushed", "branch", tr.proposedBranch, "why", err)
	case err != nil:
		return err
	default:
		tr.runReport.ProposedPushed = tr.proposedBranch
	}
	return nil
}
