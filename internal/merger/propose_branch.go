package merger

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/rtbot/rtbot/internal/objstore"
)

// ProposedSuffix is what the proposed branch's name adds to the result
// branch's: the result on NAME, the result and every proposed refresh on
// NAME-proposed.
const ProposedSuffix = "-proposed"

// TrailerKey is the trailer a proposed refresh's commit carries, with the
// rules used: "Proposed-by: rtbot (rule: both-insert)".
const TrailerKey = "Proposed-by"

// Trailer is the trailer line of a refresh proposed by rules.
func Trailer(rules []string) string {
	seen := map[string]bool{}
	var uniq []string
	for _, r := range rules {
		if !seen[r] {
			seen[r] = true
			uniq = append(uniq, r)
		}
	}
	word := "rule"
	if len(uniq) > 1 {
		word = "rules"
	}
	return fmt.Sprintf("%s: rtbot (%s: %s)", TrailerKey, word, strings.Join(uniq, ", "))
}

// ProposedCommit is one patch's proposed refresh as committed on the
// proposed branch.
type ProposedCommit struct {
	Patch  *PatchResult
	Commit plumbing.Hash
	Rules  []string
	// Files are the patch's files as replayed onto the proposed branch,
	// each conflicting one with its Proposal.
	Files []FileResult
}

// Skipped is a patch CommitProposals was asked for and did not commit,
// and why.
type Skipped struct {
	Patch *PatchResult
	Why   string
}

// ProposalOutcomes maps, by queue index, the patches CommitProposals
// committed to their commit ids and those it skipped to why: what the
// triage shows of a proposed branch (triage.ProposedOn).
func ProposalOutcomes(done []ProposedCommit, skipped []Skipped) (committed, notDone map[int]string) {
	committed, notDone = map[int]string{}, map[int]string{}
	for _, c := range done {
		committed[c.Patch.Patch.Index] = c.Commit.String()
	}
	for _, s := range skipped {
		notDone[s.Patch.Patch.Index] = s.Why
	}
	return committed, notDone
}

// CommitProposals writes the proposed branch's commits: on top of the
// result's head, in queue order, one commit per patch of res that want
// picks, whose files, replayed onto the tree so far, all apply or merge
// or, where they conflict, get a proposal (ProposeFile). Each commit has
// the patch's author and message and the Trailer of its rules. A patch
// that no longer gets a proposal there is skipped, with why. The commits
// are persisted; the caller moves the branch.
func (e *Engine) CommitProposals(ctx context.Context, res *Result, want func(*PatchResult) bool) (plumbing.Hash, []ProposedCommit, []Skipped, error) {
	head := res.Head
	hc, err := e.store.Commit(head)
	if err != nil {
		return plumbing.ZeroHash, nil, nil, err
	}
	r := &rebaser{e: e, base: res.Base, onto: hc}
	tree := hc.TreeHash
	var done []ProposedCommit
	var skipped []Skipped
	for _, pr := range res.Patches {
		if !want(pr) || pr.Patch == nil || pr.Patch.Err != nil {
			continue
		}
		pc, nt, why, err := r.proposeOne(ctx, pr, tree)
		if err != nil {
			return plumbing.ZeroHash, nil, nil, fmt.Errorf("proposed refresh of %s: %w", pr.Patch.Name, err)
		}
		if why != "" {
			skipped = append(skipped, Skipped{Patch: pr, Why: why})
			continue
		}
		if pc.Commit, err = e.writeProposed(pr, nt, head, pc.Rules); err != nil {
			return plumbing.ZeroHash, nil, nil, fmt.Errorf("proposed refresh of %s: %w", pr.Patch.Name, err)
		}
		head, tree = pc.Commit, nt
		done = append(done, pc)
	}
	if err := e.Persist(head); err != nil {
		return plumbing.ZeroHash, nil, nil, err
	}
	return head, done, skipped, nil
}

// proposeOne replays the patch pr onto tree, taking each conflicting
// file's proposal, and returns the new tree, or why it cannot.
func (r *rebaser) proposeOne(ctx context.Context, pr *PatchResult, tree plumbing.Hash) (ProposedCommit, plumbing.Hash, string, error) {
	pc := ProposedCommit{Patch: pr}
	edits := map[string]objstore.Edit{}
	for _, f := range pr.Patch.Files {
		fr, err := r.file(ctx, pr.step, tree, f, edits)
		if err != nil {
			return pc, tree, "", err
		}
		if fr.Outcome == Conflict && fr.Proposal != nil {
			if err := r.recordProposal(&fr, tree, edits); err != nil {
				return pc, tree, "", err
			}
			pc.Rules = append(pc.Rules, fr.Proposal.Rules...)
		} else if !fr.Outcome.Clean() {
			why := fr.NoProposal
			if why == "" {
				why = fr.Detail
			}
			return pc, tree, fmt.Sprintf("%s: %s", fr.Path, why), nil
		}
		pc.Files = append(pc.Files, fr)
	}
	if len(pc.Rules) == 0 {
		return pc, tree, "nothing of it conflicts on the proposed branch", nil
	}
	nt, err := r.e.store.ApplyEdits(tree, edits)
	if err != nil {
		return pc, tree, "", err
	}
	return pc, nt, "", nil
}

// recordProposal records the proposed text of a conflicting file as its
// edit, at the candidate's path and with the candidate's mode.
func (r *rebaser) recordProposal(fr *FileResult, tree plumbing.Hash, edits map[string]objstore.Edit) error {
	src := fr.Path
	if fr.Renamed != "" {
		src = fr.Renamed
	}
	en, ok, err := r.e.store.Lookup(tree, src)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%s is not in the tree", src)
	}
	h, err := r.e.store.WriteBlob(fr.Proposal.Text)
	if err != nil {
		return err
	}
	if fr.NewPath != src {
		edits[src] = objstore.Edit{Delete: true}
	}
	edits[fr.NewPath] = objstore.Edit{Entry: objstore.Entry{Hash: h, Mode: en.Mode}}
	return nil
}

// trailerLine matches a line of a message's trailer block.
var trailerLine = regexp.MustCompile(`^[A-Za-z0-9-]+: `)

// writeProposed writes the commit of a proposed refresh: the patch's
// author and message (as writeCommit writes them) with the Trailer of
// rules added to its trailers.
func (e *Engine) writeProposed(pr *PatchResult, tree, parent plumbing.Hash, rules []string) (plumbing.Hash, error) {
	p, now := pr.Patch, e.opts.Now()
	author := e.signature(Identity{Name: p.AuthorName, Email: p.AuthorEmail}, p.Date)
	if p.AuthorName == "" && p.AuthorEmail == "" {
		author = e.signature(e.opts.Committer, now)
	}
	if p.Date.IsZero() {
		author.When = now
	}
	c := &object.Commit{Author: author, Committer: e.signature(e.opts.Committer, now), TreeHash: tree,
		ParentHashes: []plumbing.Hash{parent}, Message: withTrailer(p.Message(), Trailer(rules))}
	return e.store.WriteCommit(c)
}

// withTrailer is msg with the trailer line added: to its trailer block
// when its last paragraph is one, else as a paragraph of its own.
func withTrailer(msg, trailer string) string {
	msg = strings.TrimRight(msg, "\n")
	lines := strings.Split(msg, "\n")
	if len(lines) == 1 || !trailerLine.MatchString(lines[len(lines)-1]) {
		msg += "\n"
	}
	return msg + "\n" + trailer + "\n"
}
