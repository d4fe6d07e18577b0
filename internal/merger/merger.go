// Package merger rebases a patch queue onto a candidate tree in a git
// repository's object store (package objstore), without a worktree: it
// materialises the queue on its base, replays each patch onto the candidate
// with the hunks (patchqueue.ApplyHunks), a 3-way merge (textmerge) or a
// remembered resolution, and writes one commit per patch. It records what
// happened to every patch, file and hunk and leaves the judgement of what a
// failure means to package triage.
package merger

import (
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/rtbot/rtbot/internal/patchqueue"
)

// Outcome is what the merger did with a file or a patch.
type Outcome string

// The outcomes the merger records.
const (
	// Applied: every hunk applied exactly or at a line offset (or, when fuzz
	// is enabled and Fuzz > 0 on a hunk, with reduced context).
	Applied Outcome = "applied"
	// Merged: the hunks did not apply, and the 3-way merge of pre-image,
	// post-image and candidate was clean.
	Merged Outcome = "merged"
	// Resolved: the 3-way merge conflicted, and a remembered resolution of
	// the same conflict (see Resolutions) resolved it.
	Resolved Outcome = "resolved"
	// Conflict: neither worked; Regions say where.
	Conflict Outcome = "conflict"
	// Missing: the file the patch changes is not in the candidate.
	Missing Outcome = "missing"
	// Present: nothing to do, the candidate already has the patch's result
	// for this file (an added file already there, a deleted one already gone).
	Present Outcome = "present"
	// Malformed: the patch could not be parsed (patch level only).
	Malformed Outcome = "malformed"
	// Failed: an error that is not a conflict, such as a file/directory clash.
	Failed Outcome = "failed"
	// Blocked: the patch could not be tried because it needs an earlier
	// patch that is malformed.
	Blocked Outcome = "blocked"
)

// Clean reports whether the outcome needs no human.
func (o Outcome) Clean() bool { return o == Applied || o == Merged || o == Resolved || o == Present }

// LineRange is a 1-based range of lines; Count 0 means an empty range
// before line Start.
type LineRange struct {
	Start int `json:"start"`
	Count int `json:"count"`
}

// Region is a conflicting region of a 3-way merge: the same place in the
// pre-image (the tree the patch was made for), the candidate, and the
// post-image (the patch's result), with the text of each.
type Region struct {
	Base      LineRange `json:"base"`
	Candidate LineRange `json:"candidate"`
	Patch     LineRange `json:"patch"`
	BaseText  []string  `json:"base_text"`
	CandText  []string  `json:"candidate_text"`
	PatchText []string  `json:"patch_text"`
}

// FileResult is what happened to one file of a patch.
type FileResult struct {
	Op      string  `json:"op"`                // add, modify, delete, rename, copy
	Path    string  `json:"path"`              // the path the patch names (old path for renames)
	NewPath string  `json:"new_path"`          // where the result was written ("" when deleted)
	Outcome Outcome `json:"outcome"`           // see Outcome
	Detail  string  `json:"detail"`            // one sentence for humans
	Renamed string  `json:"renamed,omitempty"` // the candidate's new name for Path, when it moved it
	// Unchanged is set when the result equals the candidate's file: the
	// patch's change to this file is already there.
	Unchanged bool                    `json:"unchanged,omitempty"`
	Hunks     []patchqueue.HunkResult `json:"hunks,omitempty"`
	Regions   []Region                `json:"regions,omitempty"`
	// Resolution names where the remembered resolution came from, when
	// the outcome is Resolved.
	Resolution string `json:"resolution,omitempty"`
	// Conflicted is the file as the 3-way merge left it, with git's
	// conflict markers, when the outcome is Conflict: what Learn records.
	// ConflictKey is the key of its conflicts (see ConflictKey) when the
	// outcome is Conflict or Resolved.
	Conflicted  []byte `json:"-"`
	ConflictKey string `json:"-"`
	// Proposal is the refresh rtbot proposes for a file in conflict
	// (see ProposeFile); NoProposal says why there is none.
	Proposal   *Proposal `json:"proposal,omitempty"`
	NoProposal string    `json:"no_proposal,omitempty"`

	// Blob ids of the three versions, zero when absent, so later stages can
	// read them.
	PreBlob, PostBlob, CandBlob plumbing.Hash `json:"-"`
	// PatchFile is the parsed diff of this file.
	PatchFile *patchqueue.File `json:"-"`
}

// ResultPath is where the file is in the result: NewPath, or Path for a
// file the patch deletes.
func (f *FileResult) ResultPath() string {
	if f.NewPath == "" {
		return f.Path
	}
	return f.NewPath
}

// PatchResult is what happened to one patch of the queue.
type PatchResult struct {
	Patch   *patchqueue.Patch `json:"-"`
	Outcome Outcome           `json:"outcome"`
	// Source is the patch's commit on the base (materialised or from the
	// range); zero when it was applied directly onto the candidate.
	Source plumbing.Hash `json:"-"`
	// Commit is the patch's commit on the result branch; zero when the patch
	// was not committed (it failed, or changed nothing).
	Commit plumbing.Hash `json:"-"`
	// Empty is set when the patch applied but changed nothing: everything it
	// does is already in the candidate.
	Empty bool `json:"empty,omitempty"`
	// BlockedBy names the earlier malformed patch this one needs.
	BlockedBy string       `json:"blocked_by,omitempty"`
	Files     []FileResult `json:"files"`
	Err       string       `json:"error,omitempty"`
	// step is what the patch was replayed from, to replay it again onto
	// the proposed branch (CommitProposals).
	step Step
}

// Stats counts the work a rebase did.
type Stats struct {
	BlobsRead      int64 `json:"blobs_read"`      // blobs read from the repository or memory
	BytesRead      int64 `json:"bytes_read"`      // their total size
	ObjectsCreated int64 `json:"objects_created"` // blobs, trees and commits computed
	ObjectsWritten int64 `json:"objects_written"` // of those, written to the repository
}

// Result is the outcome of rebasing a queue onto a candidate.
type Result struct {
	Base    plumbing.Hash // the queue's base commit; zero without one
	Onto    plumbing.Hash // the candidate commit
	Head    plumbing.Hash // the last commit written (Onto when nothing applied)
	Patches []*PatchResult
	Stats   Stats
}

// Clean reports whether every patch applied or merged.
func (r *Result) Clean() bool {
	for _, p := range r.Patches {
		if !p.Outcome.Clean() {
			return false
		}
	}
	return true
}
