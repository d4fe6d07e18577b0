package merger

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/rtbot/rtbot/internal/objstore"
	"github.com/rtbot/rtbot/internal/patchqueue"
	"github.com/rtbot/rtbot/internal/textmerge"
)

// Rebase replays materialised steps onto the candidate commit onto, like
// `git rebase --onto`: per file, the patch's hunks are tried exactly or at
// a line offset, then a 3-way merge of the step's pre-image, post-image and
// the candidate's file. A patch whose every file succeeds becomes a commit
// on top of the previous one; a patch with any failed file is not committed
// (later patches go on without it) and its failures are recorded. base is
// the commit the steps were made on, used to follow files the candidate
// renamed; zero when unknown.
func (e *Engine) Rebase(ctx context.Context, steps []Step, base, onto plumbing.Hash) (*Result, error) {
	oc, err := e.store.Commit(onto)
	if err != nil {
		return nil, err
	}
	r := &rebaser{e: e, base: base, onto: oc}
	res := &Result{Base: base, Onto: onto, Head: onto}
	tip, tree := onto, oc.TreeHash
	for i, st := range steps {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if e.opts.Step != nil && i > 0 {
			if err := e.opts.Step(i, len(steps)); err != nil {
				return nil, err
			}
		}
		pr := &PatchResult{Patch: st.Patch, Source: st.Commit, step: st}
		res.Patches = append(res.Patches, pr)
		if st.Patch.Err != nil {
			pr.Outcome, pr.Err = Malformed, st.Patch.Err.Error()
			continue
		}
		if st.BlockedBy != "" {
			pr.Outcome, pr.BlockedBy = Blocked, st.BlockedBy
			pr.Err = "does not apply to the queue's base without " + st.BlockedBy + ": " + st.Err.Error()
			continue
		}
		edits := map[string]objstore.Edit{}
		pr.Outcome = Applied
		for _, f := range st.Patch.Files {
			fr, err := r.file(ctx, st, tree, f, edits)
			if err != nil {
				return nil, fmt.Errorf("patch %s file %s: %w", st.Patch.Name, f.Path(), err)
			}
			pr.Files = append(pr.Files, fr)
			pr.Outcome = worse(pr.Outcome, fr.Outcome)
		}
		if !pr.Outcome.Clean() {
			continue
		}
		nt, err := e.store.ApplyEdits(tree, edits)
		if errors.Is(err, objstore.ErrDirFile) {
			pr.Outcome, pr.Err = Failed, err.Error()
			continue
		}
		if errors.Is(err, objstore.ErrUnsafePath) {
			// Parsing refuses such paths; a queue read from a git range
			// or any other way in meets the object store's own check.
			pr.Outcome, pr.Err = Malformed, fmt.Sprintf("patch %s: %v", st.Patch.Name, err)
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("patch %s: %w", st.Patch.Name, err)
		}
		if nt == tree {
			pr.Empty = true
			continue
		}
		c, err := e.writeCommit(st.Patch, nt, tip)
		if err != nil {
			return nil, fmt.Errorf("patch %s: %w", st.Patch.Name, err)
		}
		pr.Commit, tip, tree = c, c, nt
	}
	if e.opts.Step != nil && len(steps) > 0 {
		if err := e.opts.Step(len(steps), len(steps)); err != nil {
			return nil, err
		}
	}
	res.Head = tip
	if err := e.Persist(tip); err != nil {
		return nil, err
	}
	res.Stats = e.Stats()
	return res, nil
}

// ApplyOnto applies a queue that has no base directly onto the candidate,
// like `git am -3`: hunks first, and where they fail a 3-way merge whose
// pre-image is the blob named on the patch's "index" line when the
// repository has it.
func (e *Engine) ApplyOnto(ctx context.Context, q *patchqueue.Queue, onto plumbing.Hash) (*Result, error) {
	steps := make([]Step, len(q.Patches))
	for i, p := range q.Patches {
		steps[i] = Step{Patch: p}
	}
	return e.Rebase(ctx, steps, plumbing.ZeroHash, onto)
}

// outcomeRank orders outcomes from best to worst for a patch's summary.
var outcomeRank = map[Outcome]int{Present: 0, Applied: 1, Merged: 2, Resolved: 3, Blocked: 4, Conflict: 5, Missing: 6, Failed: 7, Malformed: 8}

func worse(a, b Outcome) Outcome {
	if outcomeRank[b] > outcomeRank[a] {
		return b
	}
	return a
}

type rebaser struct {
	e       *Engine
	base    plumbing.Hash
	onto    *object.Commit
	renames map[string]string // base path -> candidate path, computed on first need
	ids     map[*patchqueue.Patch]string
}

// version is one side of a file: its content and whether it exists.
type version struct {
	text   string
	exists bool
	hash   plumbing.Hash
	mode   filemode.FileMode
}

func (r *rebaser) read(tree plumbing.Hash, path string) (version, error) {
	v, err := r.peek(tree, path)
	if err != nil || !v.exists {
		return v, err
	}
	return v, r.load(&v)
}

// peek finds a file's blob and mode without reading its content.
func (r *rebaser) peek(tree plumbing.Hash, path string) (version, error) {
	if tree.IsZero() || path == "" {
		return version{}, nil
	}
	en, ok, err := r.e.store.Lookup(tree, path)
	if err != nil || !ok {
		return version{}, err
	}
	if en.Mode == filemode.Submodule {
		return version{}, fmt.Errorf("%s is a submodule", path)
	}
	return version{exists: true, hash: en.Hash, mode: en.Mode}, nil
}

// load reads the content of a version found by peek.
func (r *rebaser) load(v *version) error {
	text, err := r.e.store.Blob(v.hash)
	v.text = text
	return err
}

// preimages returns the pre- and post-image of f: from the materialised
// step when there is one, else from the blob on the diff's index line (the
// post-image is then the pre-image with the hunks applied).
func (r *rebaser) preimages(st Step, f *patchqueue.File) (pre, post version, err error) {
	if !st.Commit.IsZero() {
		if pre, err = r.read(st.ParentTree, f.OldPath); err != nil {
			return
		}
		post, err = r.read(st.Tree, f.NewPath)
		return
	}
	if f.Op == patchqueue.OpAdd {
		pre = version{exists: true}
	} else if f.OldIndex != "" {
		h, ok := r.e.store.ExpandBlob(f.OldIndex)
		if !ok {
			return
		}
		text, err := r.e.store.Blob(h)
		if err != nil {
			return version{}, version{}, nil
		}
		pre = version{text: text, exists: true, hash: h}
	} else {
		return
	}
	if out, _, ok := patchqueue.ApplyHunks(pre.text, f.Hunks, 0); ok {
		post = version{text: out, exists: f.Op != patchqueue.OpDelete}
	} else {
		pre = version{}
	}
	return
}

// renamed returns the candidate's path for a base path the candidate
// renamed, using git's rename detection between base and candidate.
func (r *rebaser) renamed(ctx context.Context, path string) (string, error) {
	if r.base.IsZero() {
		return "", nil
	}
	if r.renames == nil {
		r.renames = map[string]string{}
		bc, err := r.e.store.Commit(r.base)
		if err != nil {
			return "", err
		}
		bt, err := bc.Tree()
		if err != nil {
			return "", err
		}
		ot, err := r.onto.Tree()
		if err != nil {
			return "", err
		}
		changes, err := object.DiffTreeWithOptions(ctx, bt, ot, &object.DiffTreeOptions{DetectRenames: true, RenameScore: 50, RenameLimit: 1000})
		if err != nil {
			return "", fmt.Errorf("rename detection: %w", err)
		}
		for _, c := range changes {
			if c.From.Name != "" && c.To.Name != "" && c.From.Name != c.To.Name {
				r.renames[c.From.Name] = c.To.Name
			}
		}
	}
	return r.renames[path], nil
}

// fileRebase is one file diff being rebased onto a tree: the patch's
// versions of the file, the candidate's, and the result so far.
type fileRebase struct {
	st    Step
	tree  plumbing.Hash
	f     *patchqueue.File
	edits map[string]objstore.Edit // where the result's edit goes
	fr    FileResult
	// pre and post are the patch's pre- and post-image, cand the
	// candidate's file, found at src (f's path, or where the candidate
	// moved it).
	pre, post, cand version
	src             string
}

// file rebases one file diff onto tree, recording the edit on success:
// read the versions, take the post-image when the candidate's file is the
// pre-image, settle what needs no text (already there, missing), apply the
// hunks or merge, and record the result.
func (r *rebaser) file(ctx context.Context, st Step, tree plumbing.Hash, f *patchqueue.File, edits map[string]objstore.Edit) (FileResult, error) {
	x := &fileRebase{st: st, tree: tree, f: f, edits: edits,
		fr: FileResult{Op: f.Op.String(), Path: f.Path(), NewPath: f.NewPath, PatchFile: f}}
	if f.Op == patchqueue.OpRename || f.Op == patchqueue.OpCopy {
		x.fr.Path = f.OldPath
	}
	if err := r.readVersions(ctx, x); err != nil {
		return x.fr, err
	}
	if r.takePostimage(x) {
		return x.fr, nil
	}
	if x.cand.exists {
		if err := r.load(&x.cand); err != nil {
			return x.fr, err
		}
	}
	if done, err := r.settleWithoutText(x); done || err != nil {
		return x.fr, err
	}
	out, done, err := r.applyOrMerge(x)
	if done || err != nil {
		return x.fr, err
	}
	return x.fr, r.record(x, out)
}

// readVersions finds the patch's pre- and post-image and the candidate's
// version of the file the patch starts from, following a rename of it in
// the candidate. Only the pre- and post-image are read.
func (r *rebaser) readVersions(ctx context.Context, x *fileRebase) error {
	var err error
	if x.pre, x.post, err = r.preimages(x.st, x.f); err != nil {
		return err
	}
	x.fr.PreBlob, x.fr.PostBlob = x.pre.hash, x.post.hash
	x.src = x.f.OldPath
	if x.f.Op == patchqueue.OpAdd {
		x.src = x.f.NewPath
	}
	if x.cand, err = r.peek(x.tree, x.src); err != nil {
		return err
	}
	if !x.cand.exists && x.f.Op != patchqueue.OpAdd {
		if err := r.followRename(ctx, x); err != nil {
			return err
		}
	}
	x.fr.CandBlob = x.cand.hash
	return nil
}

// followRename looks for the file the candidate does not have at its path
// under the name the candidate gave it.
func (r *rebaser) followRename(ctx context.Context, x *fileRebase) error {
	moved, err := r.renamed(ctx, x.src)
	if err != nil {
		return err
	}
	if moved == "" && r.base.IsZero() && !x.pre.hash.IsZero() {
		// Without a base, find the pre-image blob under another name,
		// as git am -3's exact rename detection does.
		if moved, err = r.e.store.FindBlob(x.tree, x.pre.hash); err != nil {
			return err
		}
	}
	if moved == "" {
		return nil
	}
	if x.cand, err = r.peek(x.tree, moved); err != nil {
		return err
	}
	if x.cand.exists {
		x.fr.Renamed, x.src = moved, moved
		if x.f.Op == patchqueue.OpModify {
			x.fr.NewPath = moved
		}
	}
	return nil
}

// takePostimage handles the common case: the candidate's file is exactly
// the pre-image (stable did not touch it since the base, or only patches
// of this queue did). The result is the post-image, with no text work at
// all.
func (r *rebaser) takePostimage(x *fileRebase) bool {
	f, pre, post, cand := x.f, x.pre, x.post, x.cand
	if !(cand.exists && pre.exists && post.exists && cand.hash == pre.hash && !pre.hash.IsZero() &&
		(f.Op == patchqueue.OpModify || f.Op == patchqueue.OpRename) && !x.st.Commit.IsZero()) {
		return false
	}
	x.fr.Outcome, x.fr.Detail = Applied, "applied exactly"
	for i, h := range f.Hunks {
		x.fr.Hunks = append(x.fr.Hunks, patchqueue.HunkResult{Index: i + 1, At: h.OldStart, Base: h.OldStart})
	}
	mode := cand.mode
	if f.NewMode != 0 && f.OldMode != f.NewMode {
		mode = filemode.FileMode(f.NewMode)
	}
	noteMode(&x.fr, cand.mode, mode)
	if f.Op == patchqueue.OpRename {
		x.edits[x.src] = objstore.Edit{Delete: true}
	}
	x.edits[x.fr.NewPath] = objstore.Edit{Entry: objstore.Entry{Hash: post.hash, Mode: mode}}
	return true
}

// noteMode adds a mode change from the candidate's mode to the result's to
// the file's detail: a patch that only changes a mode has no hunks to
// describe.
func noteMode(fr *FileResult, from, to filemode.FileMode) {
	if from == 0 || from == to {
		return
	}
	change := fmt.Sprintf("mode changed from %06o to %06o", uint32(from), uint32(to))
	if len(fr.Hunks) == 0 {
		fr.Detail = change
		return
	}
	fr.Detail += "; " + change
}

// settleWithoutText decides the file when the candidate has it where the
// patch adds it, or does not have it where the patch starts from: already
// there (Present), below a symbolic link (Failed) or Missing. An added file
// the candidate has with other content is merged against an empty base, as
// git does; done is false then.
func (r *rebaser) settleWithoutText(x *fileRebase) (done bool, err error) {
	f, fr := x.f, &x.fr
	switch {
	case f.Op == patchqueue.OpAdd && x.cand.exists:
		if x.post.exists && x.cand.text == x.post.text && (f.NewMode == 0 || filemode.FileMode(f.NewMode) == x.cand.mode) {
			fr.Outcome, fr.Unchanged, fr.Detail = Present, true, "the candidate already has this file with the same content"
			return true, nil
		}
		// add/add: merge against an empty base, as git does.
		x.pre = version{exists: true}
	case f.Op == patchqueue.OpDelete && !x.cand.exists:
		fr.Outcome, fr.Unchanged, fr.Detail = Present, true, "the candidate already deleted this file"
		return true, nil
	case !x.cand.exists && f.Op != patchqueue.OpAdd:
		link, err := r.e.store.LinkOnPath(x.tree, x.src)
		if err != nil {
			return true, err
		}
		if link != "" {
			fr.Outcome, fr.Detail = Failed, (&objstore.SymlinkError{Path: x.src, Link: link}).Error()
			return true, nil
		}
		fr.Outcome, fr.Detail = Missing, "the file does not exist in the candidate"
		return true, nil
	}
	return false, nil
}

// applyOrMerge applies the hunks to the candidate's file exactly or at an
// offset, and where they fail merges the pre-image, the candidate and the
// post-image. It returns the result's content; done is set when the file
// ends in a conflict, with nothing to record.
func (r *rebaser) applyOrMerge(x *fileRebase) (out string, done bool, err error) {
	out, hunks, ok := patchqueue.ApplyHunks(x.cand.text, x.f.Hunks, r.e.opts.Fuzz)
	x.fr.Hunks = hunks
	switch {
	case ok:
		x.fr.Outcome, x.fr.Detail = Applied, describeApplied(hunks)
		return out, false, nil
	case x.pre.exists && (x.post.exists || x.f.Op == patchqueue.OpDelete):
		return r.merge(x)
	default:
		x.fr.Outcome = Conflict
		x.fr.Detail = "the hunks do not apply and the patch's pre-image is not available for a 3-way merge"
		return "", true, nil
	}
}

// merge is the 3-way merge of the pre-image, the candidate and the
// post-image; a conflict that a remembered resolution resolved before is
// resolved the same way.
func (r *rebaser) merge(x *fileRebase) (out string, done bool, err error) {
	fr := &x.fr
	m := textmerge.Merge3([]byte(x.pre.text), []byte(x.cand.text), []byte(x.post.text), textmerge.Options{})
	var resolved []byte
	var source, why string
	if !m.Clean {
		if resolved, source, why, err = r.reuse(x.st.Patch, fr.Path, m); err != nil {
			return "", true, fmt.Errorf("remembered resolutions: %w", err)
		}
	}
	switch {
	case m.Clean:
		fr.Outcome, fr.Detail = Merged, "the hunks did not apply; the 3-way merge with the patch's pre-image was clean"
		return string(m.Merged), false, nil
	case resolved != nil:
		fr.Outcome, fr.Resolution = Resolved, source
		fr.ConflictKey = ConflictKey(r.patchID(x.st.Patch), fr.Path, m.Conflicts)
		fr.Detail = fmt.Sprintf("%s in the 3-way merge, resolved as before (%s)", conflictingRegions(len(m.Conflicts)), source)
		return string(resolved), false, nil
	}
	fr.Outcome = Conflict
	fr.Detail = conflictingRegions(len(m.Conflicts)) + " in the 3-way merge"
	fr.Conflicted, fr.ConflictKey = m.Merged, ConflictKey(r.patchID(x.st.Patch), fr.Path, m.Conflicts)
	if why != "" {
		fr.Detail += "; " + why
	}
	fr.Regions = regions(m.Conflicts)
	if x.f.Op == patchqueue.OpModify || x.f.Op == patchqueue.OpRename {
		fr.Proposal, fr.NoProposal = ProposeFile(fr)
	}
	return "", true, nil
}

// regions describes the conflicts of a 3-way merge for the report.
func regions(conflicts []textmerge.Conflict) []Region {
	var out []Region
	for _, c := range conflicts {
		out = append(out, Region{
			Base:      LineRange(c.Base),
			Candidate: LineRange(c.Ours),
			Patch:     LineRange(c.Theirs),
			BaseText:  patchqueue.SplitLines(string(c.BaseText)),
			CandText:  patchqueue.SplitLines(string(c.OursText)),
			PatchText: patchqueue.SplitLines(string(c.TheirsText)),
		})
	}
	return out
}

// record writes the result's content as a blob and records its edit: the
// file at its new path (and the old one gone, for a rename), or the file
// deleted, which a deletion that leaves content behind does not do. The
// file is Unchanged (the patch's change already there) only when the
// result has the candidate's content and mode at the candidate's path: a
// mode change the patch makes lands, and is not already there.
func (r *rebaser) record(x *fileRebase, out string) error {
	f, fr := x.f, &x.fr
	mode := x.cand.mode
	if mode == 0 {
		mode = filemode.Regular
	}
	if f.NewMode != 0 && (f.OldMode != f.NewMode || f.Op == patchqueue.OpAdd) {
		mode = filemode.FileMode(f.NewMode)
	}
	fr.Unchanged = f.Op != patchqueue.OpDelete && x.cand.exists && out == x.cand.text && mode == x.cand.mode && fr.NewPath == x.src
	if f.Op != patchqueue.OpDelete {
		noteMode(fr, x.cand.mode, mode)
	}
	switch f.Op {
	case patchqueue.OpDelete:
		if out != "" {
			fr.Outcome, fr.Detail = Conflict, "the candidate's file has content the deletion does not remove"
			return nil
		}
		x.edits[x.src] = objstore.Edit{Delete: true}
		fr.NewPath = ""
		return nil
	case patchqueue.OpRename:
		x.edits[x.src] = objstore.Edit{Delete: true}
	}
	h, err := r.e.store.WriteBlob(out)
	if err != nil {
		return err
	}
	x.edits[fr.NewPath] = objstore.Edit{Entry: objstore.Entry{Hash: h, Mode: mode}}
	return nil
}

func describeApplied(hs []patchqueue.HunkResult) string {
	var off []string
	for _, h := range hs {
		if h.Offset != 0 || h.Fuzz != 0 {
			s := fmt.Sprintf("hunk %d at offset %+d", h.Index, h.Offset)
			if h.Fuzz > 0 {
				s += fmt.Sprintf(" with fuzz %d", h.Fuzz)
			}
			off = append(off, s)
		}
	}
	if len(off) == 0 {
		return "applied exactly"
	}
	return "applied: " + strings.Join(off, ", ")
}

// RebaseQueue does the whole job for a queue read from files: with a base,
// it materialises the queue there and rebases it onto onto; without one
// (zero base), it applies the queue onto onto like git am -3. Blobs are read
// ahead on another core. A queue that does not apply to its own base is an
// *ApplyError.
func (e *Engine) RebaseQueue(ctx context.Context, q *patchqueue.Queue, base, onto plumbing.Hash) (*Result, error) {
	if base.IsZero() {
		e.Prefetch(ctx, q, onto)
		return e.ApplyOnto(ctx, q, onto)
	}
	e.Prefetch(ctx, q, base, onto)
	steps, err := e.Materialise(ctx, q, base)
	if err != nil {
		return nil, err
	}
	return e.Rebase(ctx, steps, base, onto)
}

// conflictingRegions is "1 conflicting region", "2 conflicting regions".
func conflictingRegions(n int) string {
	if n == 1 {
		return "1 conflicting region"
	}
	return fmt.Sprintf("%d conflicting regions", n)
}
