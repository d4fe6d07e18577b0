package triage

import (
	"time"

	"github.com/rtbot/rtbot/internal/merger"
	"github.com/rtbot/rtbot/internal/patchqueue"
)

// Report is the triage of one rebased queue: what docs/design.md's `--json`
// prints.
type Report struct {
	Candidate Rev           `json:"candidate"`
	Base      *Rev          `json:"base"`
	Queue     string        `json:"queue"`
	Result    ResultRef     `json:"result"`
	Patches   []PatchReport `json:"patches"`
	Summary   Summary       `json:"summary"`
	// Stats and Elapsed say how much work the rebase did and how long the
	// whole command took (elapsed_seconds in the command's JSON).
	Stats   merger.Stats  `json:"stats"`
	Elapsed time.Duration `json:"-"`
}

// Rev is a revision as the user named it and the commit it resolved to.
type Rev struct {
	Name   string `json:"name"`
	Commit string `json:"commit"`
}

// ResultRef is what the rebase produced.
type ResultRef struct {
	Commit string `json:"commit"`           // the last commit of the result
	Branch string `json:"branch,omitempty"` // the branch moved to it, if any
}

// PatchReport is the verdict on one patch.
type PatchReport struct {
	Index   int          `json:"index"`
	Name    string       `json:"name"`
	Subject string       `json:"subject"`
	Status  Status       `json:"status"`
	Action  Action       `json:"action"`
	Reason  string       `json:"reason,omitempty"`
	Commit  string       `json:"commit,omitempty"` // the patch's commit in the result
	Files   []FileReport `json:"files,omitempty"`
	// CausedBy lists candidate commits that touched the failing lines.
	CausedBy []string `json:"caused_by"`
	// BlockedBy names the earlier patch this one depends on, for blocked.
	BlockedBy string `json:"blocked_by,omitempty"`
	// Dropped is set when --drop-applied left an already-applied patch out.
	Dropped bool   `json:"dropped,omitempty"`
	Error   string `json:"error,omitempty"`
	// Proposal is rtbot's proposed refresh of a conflicting patch (see
	// docs/triage.md, "Proposed refreshes").
	Proposal *PatchProposal `json:"proposal,omitempty"`
}

// FileReport is the verdict on one file of a patch.
type FileReport struct {
	Path    string                  `json:"path"`
	NewPath string                  `json:"new_path,omitempty"`
	Op      string                  `json:"op"`
	Status  Status                  `json:"status"`
	Detail  string                  `json:"detail"`
	Renamed string                  `json:"renamed,omitempty"`
	Hunks   []patchqueue.HunkResult `json:"hunks,omitempty"`
	Regions []merger.Region         `json:"regions,omitempty"`
	// CausedBy lists candidate commits that touched this file's failing lines.
	CausedBy  []string `json:"caused_by,omitempty"`
	BlockedBy string   `json:"blocked_by,omitempty"`
	// Resolution says where the remembered resolution of a resolved file
	// came from.
	Resolution string `json:"resolution,omitempty"`
	// Proposal is the proposed refresh of a conflicting file; NoProposal
	// says why a conflicting file has none.
	Proposal   *FileProposal `json:"proposal,omitempty"`
	NoProposal string        `json:"no_proposal,omitempty"`
}

// Summary counts patches by status.
type Summary struct {
	Total     int            `json:"total"`
	Clean     int            `json:"clean"`
	Attention int            `json:"attention"` // patches that need a human
	Dropped   int            `json:"dropped"`   // already-applied patches left out (--drop-applied)
	ByStatus  map[Status]int `json:"by_status"`
}

// Classify gives every patch of a rebase result its status and action.
func Classify(res *merger.Result) []PatchReport {
	out := make([]PatchReport, 0, len(res.Patches))
	for _, p := range res.Patches {
		pr := PatchReport{
			Index:    p.Patch.Index,
			Name:     p.Patch.Name,
			Subject:  p.Patch.Subject,
			CausedBy: []string{},
		}
		if !p.Commit.IsZero() {
			pr.Commit = p.Commit.String()
		}
		switch {
		case p.Outcome == merger.Malformed:
			pr.Status, pr.Error = Malformed, p.Err
			pr.Reason = "the patch cannot be parsed: " + p.Err
		case p.Outcome == merger.Blocked:
			pr.Status, pr.BlockedBy = Blocked, p.BlockedBy
			pr.Reason = p.Err
		case p.Outcome == merger.Failed:
			pr.Status, pr.Error = Conflict, p.Err
			pr.Reason = p.Err
		default:
			pr.Status = Applied
			all := len(p.Files) > 0
			for _, f := range p.Files {
				s := fileStatus(f)
				detail := f.Detail
				if s == AlreadyApplied && f.Outcome != merger.Present {
					detail = "the change is already in the candidate: merging it leaves the file as it is"
				}
				pr.Files = append(pr.Files, FileReport{
					Path: f.Path, NewPath: f.NewPath, Op: f.Op, Status: s, Detail: detail,
					Renamed: f.Renamed, Hunks: f.Hunks, Regions: f.Regions, Resolution: f.Resolution,
				})
				if s != AlreadyApplied {
					all = false
					pr.Status = Worse(pr.Status, s)
				}
			}
			if p.Empty || all {
				pr.Status = AlreadyApplied
				pr.Reason = "everything the patch changes is already in the candidate"
			}
		}
		pr.Action = ActionFor(pr.Status)
		if pr.Reason == "" {
			pr.Reason = reason(pr, nil)
		}
		out = append(out, pr)
	}
	return out
}

// reason is "path: detail" of the file that decided the patch's status:
// the first with that status, or the first of those decisive says decided
// it (when decisive is not nil and one does).
func reason(p PatchReport, decisive func(i int) bool) string {
	r := ""
	for i, f := range p.Files {
		if f.Status != p.Status {
			continue
		}
		if r == "" {
			r = f.Path + ": " + f.Detail
		}
		if decisive != nil && decisive(i) {
			return f.Path + ": " + f.Detail
		}
	}
	return r
}

// Summarise counts the patches by status.
func Summarise(ps []PatchReport) Summary {
	s := Summary{Total: len(ps), ByStatus: map[Status]int{}}
	for _, p := range ps {
		s.ByStatus[p.Status]++
		if p.Dropped {
			s.Dropped++
			continue
		}
		if p.Status.Clean() {
			s.Clean++
		} else {
			s.Attention++
		}
	}
	return s
}
