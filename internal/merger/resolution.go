package merger

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash"
	"strings"

	"github.com/rtbot/rtbot/internal/patchqueue"
	"github.com/rtbot/rtbot/internal/textmerge"
)

// Resolution is how a maintainer once resolved the conflicts of one patch
// in one file, remembered so that the same conflict on a later candidate
// resolves itself (the way git's rerere does).
type Resolution struct {
	// PatchID identifies the patch by its changes (see PatchID); Path is
	// the file, as the patch names it.
	PatchID string `json:"patch_id"`
	Path    string `json:"path"`
	// Key identifies the conflict by content: the patch, the file, and
	// the base, candidate and patch text of every conflicting region (see
	// ConflictKey). Line numbers play no part.
	Key string `json:"key"`
	// Preimage is the file as the 3-way merge left it, with git's
	// conflict markers; Postimage is the same file as the maintainer
	// resolved it.
	Preimage  string `json:"preimage"`
	Postimage string `json:"postimage"`
	// Source says where the resolution came from ("rtbot resolve: commit
	// 1a2b3c4d5e6f, run 7"), for the report.
	Source string `json:"source"`
}

// Resolutions is a store of remembered resolutions.
type Resolutions interface {
	// Resolutions returns the resolutions recorded for patchID and path.
	Resolutions(patchID, path string) ([]Resolution, error)
}

// PatchID identifies a patch by what it changes, like `git patch-id
// --stable`: the names of its files and its removed and added lines, not
// its line numbers, context or message. The same patch rebased onto
// another release keeps its PatchID.
func PatchID(p *patchqueue.Patch) string {
	h := sha256.New()
	for _, f := range p.Files {
		field(h, "file", f.OldPath+"\x00"+f.NewPath)
		for _, hk := range f.Hunks {
			for _, l := range hk.Lines {
				if l.Op == '+' || l.Op == '-' {
					field(h, string(l.Op), l.Text)
				}
			}
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

// ConflictKey is the key of the conflicts of the patch patchID in the file
// path: their base, candidate and patch texts, in order.
func ConflictKey(patchID, path string, conflicts []textmerge.Conflict) string {
	h := sha256.New()
	field(h, "patch", patchID)
	field(h, "path", path)
	for _, c := range conflicts {
		field(h, "base", string(c.BaseText))
		field(h, "candidate", string(c.OursText))
		field(h, "patch", string(c.TheirsText))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// field writes a length-prefixed name and value, so no two different
// sequences hash alike.
func field(h hash.Hash, name, value string) {
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(value)))
	h.Write([]byte(name))
	h.Write(n[:])
	h.Write([]byte(value))
}

// conflictMarkers reports whether text has a line that starts a git
// conflict marker block.
func conflictMarkers(text []byte) bool {
	return bytes.HasPrefix(text, []byte("<<<<<<<")) || bytes.Contains(text, []byte("\n<<<<<<<"))
}

// reuse applies a remembered resolution of the conflicts m to the file, if
// one fits: one with the same key whose changes (preimage to postimage)
// merge cleanly into m's conflicted text. It returns the resolved file and
// the resolution's source, or why no remembered resolution fits ("" when
// none was ever recorded for this patch and file).
func (r *rebaser) reuse(p *patchqueue.Patch, path string, m textmerge.Result) (out []byte, source, why string, err error) {
	if r.e.opts.Resolutions == nil {
		return nil, "", "", nil
	}
	id := r.patchID(p)
	all, err := r.e.opts.Resolutions.Resolutions(id, path)
	if err != nil || len(all) == 0 {
		return nil, "", "", err
	}
	key := ConflictKey(id, path, m.Conflicts)
	var tried []string
	for _, res := range all {
		if res.Key != key {
			continue
		}
		mm := textmerge.Merge3([]byte(res.Preimage), m.Merged, []byte(res.Postimage), textmerge.Options{})
		if mm.Clean && !conflictMarkers(mm.Merged) {
			return mm.Merged, res.Source, "", nil
		}
		tried = append(tried, res.Source)
	}
	if len(tried) > 0 {
		return nil, "", fmt.Sprintf("the remembered resolution (%s) no longer fits: the file changed around it", strings.Join(tried, "; ")), nil
	}
	return nil, "", fmt.Sprintf("%d remembered resolution(s) of this patch and file no longer fit: the conflict is not the one resolved", len(all)), nil
}

// patchID returns PatchID(p), computed once per patch.
func (r *rebaser) patchID(p *patchqueue.Patch) string {
	if r.ids == nil {
		r.ids = map[*patchqueue.Patch]string{}
	}
	id, ok := r.ids[p]
	if !ok {
		id = PatchID(p)
		r.ids[p] = id
	}
	return id
}

// Learn returns the resolutions a fix teaches for the conflicting files of
// one patch's result: for every file the 3-way merge left in conflict, the
// file as fixed (fixed is handed the file's result, whose ResultPath
// names it, and returns its content and whether it exists). A fix that
// still holds conflict markers, that deletes a file the patch does not
// delete, or that does not carry the patch's change in the conflicting
// regions (see carriesChange: the candidate's file as it was, say)
// teaches nothing and is an error naming the patch, the file and what is
// wrong.
func Learn(pr *PatchResult, fixed func(f *FileResult) (string, bool, error), source string) ([]Resolution, error) {
	if pr == nil || pr.Patch == nil {
		return nil, fmt.Errorf("no patch result to learn from")
	}
	id := PatchID(pr.Patch)
	var out []Resolution
	for i := range pr.Files {
		f := &pr.Files[i]
		if f.Outcome != Conflict || f.Conflicted == nil {
			continue
		}
		at := f.ResultPath()
		text, ok, err := fixed(f)
		if err != nil {
			return nil, fmt.Errorf("patch %s file %s: %w", pr.Patch.Name, at, err)
		}
		if !ok && f.Op != "delete" {
			return nil, fmt.Errorf("patch %s file %s: the fix does not have the file", pr.Patch.Name, at)
		}
		if conflictMarkers([]byte(text)) {
			return nil, fmt.Errorf("patch %s file %s: the fix still holds conflict markers", pr.Patch.Name, at)
		}
		if ok {
			if err := carriesChange(f, text); err != nil {
				return nil, fmt.Errorf("patch %s file %s: %w", pr.Patch.Name, at, err)
			}
		}
		out = append(out, Resolution{
			PatchID: id, Path: f.Path, Key: f.ConflictKey,
			Preimage: string(f.Conflicted), Postimage: text, Source: source,
		})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("patch %s has no conflicting file to learn a resolution for", pr.Patch.Name)
	}
	return out, nil
}
