package triage

import (
	"fmt"
	"strings"

	"github.com/rtbot/rtbot/internal/merger"
	"github.com/rtbot/rtbot/internal/patchqueue"
)

// PatchProposal is rtbot's proposed refresh of a conflicting patch: every
// conflicting file of it has a proposal (docs/triage.md, "Proposed
// refreshes"). The patch stays a conflict; its action is review.
type PatchProposal struct {
	// Rules are the rules used, one per conflicting region, in order.
	Rules []string `json:"rules"`
	// Branch is the branch the proposal is committed on, once it is.
	Branch string `json:"branch,omitempty"`
	// Commit is the proposal's commit on Branch.
	Commit string `json:"commit,omitempty"`
}

// FileProposal is the proposed refresh of one conflicting file.
type FileProposal struct {
	// Rules are the rules used, one per conflicting region.
	Rules []string `json:"rules"`
	// Diff is what the refresh changes in the patch: a unified diff from
	// the patch's diff of this file to the refreshed patch's.
	Diff string `json:"diff"`
}

// interdiffContext is the number of context lines of a FileProposal's
// Diff: enough to see which hunk changed, short enough for a mail.
const interdiffContext = 2

// propose gives a conflicting patch whose conflicting files all have a
// proposal the action review, the proposal, and a reason saying so; the
// files without one say why.
func (t *triager) propose(p *merger.PatchResult, r *PatchReport) error {
	var rules []string
	all := true
	for i := range p.Files {
		f, fr := &p.Files[i], &r.Files[i]
		if fr.Status != Conflict {
			continue
		}
		if f.Proposal == nil {
			fr.NoProposal = f.NoProposal
			if fr.NoProposal == "" {
				fr.NoProposal = "the 3-way merge has no conflicting region to resolve"
			}
			all = false
			continue
		}
		diff, err := t.interdiff(f)
		if err != nil {
			return fmt.Errorf("%s: %w", f.Path, err)
		}
		fr.Proposal = &FileProposal{Rules: f.Proposal.Rules, Diff: diff}
		rules = append(rules, f.Proposal.Rules...)
	}
	if !all || len(rules) == 0 {
		return nil
	}
	r.Action = Review
	r.Proposal = &PatchProposal{Rules: rules}
	r.Reason = fmt.Sprintf("a refresh is proposed (%s): review it", ruleList(rules))
	return nil
}

// ruleList is "rule both-insert" or "rules both-insert, context-edit".
func ruleList(rules []string) string {
	var uniq []string
	for _, r := range rules {
		if !contains(uniq, r) {
			uniq = append(uniq, r)
		}
	}
	if len(uniq) == 1 {
		return "rule " + uniq[0]
	}
	return "rules " + strings.Join(uniq, ", ")
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// interdiff is the unified diff from the patch's hunks of f to the hunks
// of the refreshed patch (the candidate's file to the proposed one).
func (t *triager) interdiff(f *merger.FileResult) (string, error) {
	cand, err := t.src.Blob(f.CandBlob)
	if err != nil {
		return "", err
	}
	orig := hunkText(f.PatchFile.Hunks)
	refreshed := hunkText(patchqueue.MakeHunks(cand, f.Proposal.Text, 3))
	return hunkText(patchqueue.MakeHunks(orig, refreshed, interdiffContext)), nil
}

// hunkText is hunks in unified diff form.
func hunkText(hunks []*patchqueue.Hunk) string {
	var b strings.Builder
	for _, h := range hunks {
		patchqueue.WriteHunk(&b, h, "")
	}
	return b.String()
}

// ProposedOn records that the proposals of the patches in committed
// (patch index to commit) are on branch; a patch with a proposal that
// is not there goes back to action refresh, with why.
func ProposedOn(ps []PatchReport, branch string, committed map[int]string, skipped map[int]string) {
	for i := range ps {
		p := &ps[i]
		if p.Proposal == nil {
			continue
		}
		if c, ok := committed[p.Index]; ok {
			p.Proposal.Branch, p.Proposal.Commit = branch, c
			p.Reason = fmt.Sprintf("a proposed refresh (%s) is on branch %s", ruleList(p.Proposal.Rules), branch)
			continue
		}
		if why, ok := skipped[p.Index]; ok {
			p.Action = ActionFor(p.Status)
			p.Reason = "the proposed refresh does not apply on top of the result: " + why
			p.Proposal = nil
		}
	}
}
