package pipeline

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/rtbot/rtbot/internal/merger"
	"github.com/rtbot/rtbot/internal/triage"
)

// AcceptSpec says which proposed refreshes of a run to accept
// (docs/triage.md, "Accepting a proposal").
type AcceptSpec struct {
	// Run is the run whose proposals are accepted.
	Run int64
	// Patches names the patches: a file name, or its number in the
	// queue ("0040" or "40"); "all" accepts every proposal of the run.
	Patches []string
	// By is who accepts ("Name <email>"), recorded with the resolution.
	By string
	// Replace allows replacing a remembered resolution of the same
	// conflict that resolves it differently (as LearnSpec.Replace).
	Replace bool
}

// Accepted is what Accept did: the resolutions recorded, and whether
// the run's candidate is now clean and set to run again.
type Accepted struct {
	Learnt []Learnt
	// Rerun is the Message-ID of the rerun recorded for the candidate,
	// "" when it still needs a human (or a rerun was recorded before).
	Rerun string
}

// Accept turns the proposed refreshes of spec's patches into remembered
// resolutions, exactly as a maintainer's fix of the same conflicts would
// be (Learn): it redoes the run's rebase, takes each conflicting file's
// proposal as its resolution, and records it with who accepted it and
// when (the resolution's source and recorded time). When nothing else of
// the candidate needs a human then, it records a rerun of the candidate,
// which the next pass pushes and tests like any other.
func (p *Pipeline) Accept(ctx context.Context, spec AcceptSpec) (*Accepted, error) {
	if strings.TrimSpace(spec.By) == "" {
		return nil, fmt.Errorf("accepting needs who accepts (--by)")
	}
	run, t, err := p.learnableRun(ctx, spec.Run)
	if err != nil {
		return nil, err
	}
	eng, err := merger.Open(t.Repo, merger.Options{
		Committer:   merger.Identity{Name: p.cfg.Bot.Name, Email: p.cfg.Bot.Email},
		Now:         func() time.Time { return run.StartedAt },
		Resolutions: storeResolutions{ctx, p.store},
	})
	if err != nil {
		return nil, err
	}
	defer eng.Close()
	triageReport, mergeResult, err := Merge(ctx, eng, p.mergeSpec(t, run.Candidate))
	if err != nil {
		return nil, err
	}
	picked, err := pickProposals(run.ID, triageReport, mergeResult, spec.Patches)
	if err != nil {
		return nil, err
	}
	out := &Accepted{}
	for _, pr := range picked {
		learnt, err := p.acceptOne(ctx, run.ID, pr, spec)
		out.Learnt = append(out.Learnt, learnt...)
		if err != nil {
			return out, err
		}
	}
	a, err := p.store.Announcement(ctx, run.Announcement)
	if err != nil {
		return out, err
	}
	branch, err := t.Branch(a.Version, a.RC)
	if err != nil {
		return out, err
	}
	pass := &Pass{}
	tip := plumbing.ComputeHash(plumbing.BlobObject, []byte(fmt.Sprintf("accept %d %v", run.ID, acceptedKeys(out.Learnt))))
	what := fmt.Sprintf("the refreshes rtbot proposed in run %d, accepted by %s,", run.ID, spec.By)
	if err := p.rerunIfClean(ctx, t, run, branch+"-partial", tip, what, pass); err != nil {
		return out, err
	}
	if len(pass.New) > 0 {
		out.Rerun = pass.New[0].MessageID
	}
	return out, nil
}

// acceptOne records the proposal of one patch as its resolution.
func (p *Pipeline) acceptOne(ctx context.Context, runID int64, pr *merger.PatchResult, spec AcceptSpec) ([]Learnt, error) {
	var rules []string
	for _, f := range pr.Files {
		if f.Proposal != nil {
			rules = append(rules, f.Proposal.Rules...)
		}
	}
	ruleText := strings.TrimSuffix(strings.TrimPrefix(merger.Trailer(rules), merger.TrailerKey+": rtbot ("), ")")
	source := fmt.Sprintf("rtbot resolve --accept: the refresh rtbot proposed (%s) in run %d, accepted by %s", ruleText, runID, spec.By)
	learned, err := merger.Learn(pr, func(f *merger.FileResult) (string, bool, error) {
		if f.Proposal == nil {
			return "", false, fmt.Errorf("no proposed refresh for this file: %s", f.NoProposal)
		}
		return f.Proposal.Text, true, nil
	}, source)
	if err != nil {
		return nil, err
	}
	return p.keepLearnt(ctx, pr, learned, spec.Replace)
}

// pickProposals returns the patches of the redone rebase whose proposals
// names asks for ("all": every one), in queue order. A named patch
// without a proposal is an error saying what it is instead.
func pickProposals(runID int64, r *triage.Report, res *merger.Result, names []string) ([]*merger.PatchResult, error) {
	byIndex := map[int]*merger.PatchResult{}
	for _, pr := range res.Patches {
		byIndex[pr.Patch.Index] = pr
	}
	var proposed []triage.PatchReport
	for _, p := range r.Patches {
		if p.Proposal != nil {
			proposed = append(proposed, p)
		}
	}
	if len(proposed) == 0 {
		return nil, fmt.Errorf("run %d has no proposed refresh to accept (redone now: a patch a remembered resolution resolves has none)", runID)
	}
	var out []*merger.PatchResult
	seen := map[int]bool{}
	for _, name := range names {
		found := false
		for _, p := range r.Patches {
			if !(name == "all" && p.Proposal != nil) && !namesPatch(name, p) {
				continue
			}
			found = true
			if p.Proposal == nil {
				return nil, fmt.Errorf("patch %s of run %d has no proposed refresh: %s/%s, %s", p.Name, runID, p.Status, p.Action, p.Reason)
			}
			if !seen[p.Index] {
				seen[p.Index] = true
				out = append(out, byIndex[p.Index])
			}
		}
		if !found {
			return nil, fmt.Errorf("run %d has no patch %q", runID, name)
		}
	}
	return out, nil
}

// namesPatch reports whether name is p's file name or its number in the
// queue ("0040", "40").
func namesPatch(name string, p triage.PatchReport) bool {
	if name == p.Name || strings.TrimSuffix(name, ".patch") == strings.TrimSuffix(p.Name, ".patch") || strings.HasPrefix(p.Name, name+"-") {
		return true
	}
	n, err := strconv.Atoi(name)
	return err == nil && n == p.Index
}

// acceptedKeys are the keys of the resolutions learnt, to name the rerun
// they lead to.
func acceptedKeys(ls []Learnt) []string {
	keys := make([]string, len(ls))
	for i, l := range ls {
		keys[i] = l.Key
	}
	return keys
}
