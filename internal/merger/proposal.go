package merger

import (
	"fmt"
	"slices"
	"strings"

	"github.com/rtbot/rtbot/internal/textmerge"
)

// Proposed refreshes (docs/triage.md, "Proposed refreshes").
//
// A conflicting region of a recognisable shape gets the resolution a
// maintainer writes by hand for it: both changes side by side. The shape
// is read from the region's three sides (base, candidate, patch), and
// only two shapes qualify, each taken from a real refresh; every other
// region gets no proposal, and a file gets one only when every region of
// it does.

// The rules a region's proposal comes from.
const (
	// RuleBothInsert: the candidate and the patch only insert lines, at
	// the same place. The proposal is the candidate's lines, then the
	// patch's: the candidate's change is upstream's and stays where
	// upstream put it, the RT patch's follows it (Debian's refresh of
	// "ARM: enable irq in translation/section permission fault handlers"
	// for 6.1.177).
	RuleBothInsert = "both-insert"
	// RuleContextEdit: the candidate changes lines that the patch keeps
	// as its context, and the patch inserts lines on one side of them.
	// The proposal is the candidate's version of those lines with the
	// patch's insertion on the same side (a stable backport changes a
	// signature line, and the RT patch adds a line right after it).
	RuleContextEdit = "context-edit"
)

// Proposal is a proposed refresh of one conflicting file: the file as
// the proposal's rules resolve every conflicting region of it.
type Proposal struct {
	// Rules names the rule used for each region, in order.
	Rules []string `json:"rules"`
	// Text is the proposed file.
	Text string `json:"-"`
}

// ProposeRegion proposes a resolution of one conflicting region from its
// base, candidate and patch lines (each with its line end). It returns the
// proposed lines and the rule used, or no lines and why the region's
// shape gets no proposal.
func ProposeRegion(base, cand, patch []string) (lines []string, rule, why string) {
	switch {
	case len(cand) == 0 && len(base) > 0:
		return nil, "", "the candidate deletes lines the patch changes"
	case len(patch) == 0 && len(base) > 0:
		return nil, "", "the patch deletes lines the candidate changes"
	case len(cand) == 0 || len(patch) == 0:
		return nil, "", "one side of the region is empty"
	case len(base) == 0:
		return joinSides(cand, patch), RuleBothInsert, ""
	}
	before, after, kept := insertedAround(base, patch)
	switch {
	case !kept:
		return nil, "", "both the candidate and the patch change the same lines"
	case len(before) > 0 && len(after) > 0:
		return nil, "", "the patch adds lines on both sides of lines the candidate changes"
	case len(before) > 0:
		return joinSides(before, cand), RuleContextEdit, ""
	}
	return joinSides(cand, after), RuleContextEdit, ""
}

// insertedAround reports whether patch is base with lines inserted
// before and after it (and nothing else changed), and those lines.
func insertedAround(base, patch []string) (before, after []string, kept bool) {
	for i := 0; i+len(base) <= len(patch); i++ {
		if slices.Equal(patch[i:i+len(base)], base) {
			return patch[:i], patch[i+len(base):], true
		}
	}
	return nil, nil, false
}

// joinSides is a then b, or nil when a's last line has no line end (the
// end of a file without a final newline: b cannot follow it).
func joinSides(a, b []string) []string {
	if last := a[len(a)-1]; !strings.HasSuffix(last, "\n") {
		return nil
	}
	return append(slices.Clone(a), b...)
}

// ProposeFile proposes a refresh of a file the 3-way merge left in
// conflict: its conflicted text with every region resolved by
// ProposeRegion. It returns nil and why when some region gets no
// proposal.
func ProposeFile(f *FileResult) (*Proposal, string) {
	if f.Outcome != Conflict || f.Conflicted == nil || len(f.Regions) == 0 {
		return nil, "the file has no conflicting region of the 3-way merge"
	}
	p := &Proposal{}
	resolved := make([][]string, len(f.Regions))
	for i, r := range f.Regions {
		lines, rule, why := ProposeRegion(r.BaseText, r.CandText, r.PatchText)
		if lines == nil {
			if why == "" {
				why = "a side of the region has no line end"
			}
			return nil, fmt.Sprintf("region %d: %s", i+1, why)
		}
		resolved[i] = lines
		p.Rules = append(p.Rules, rule)
	}
	text, err := replaceRegions(f, func(k int) string { return strings.Join(resolved[k], "") })
	if err != nil {
		return nil, err.Error()
	}
	p.Text = text
	return p, ""
}

// replaceRegions returns the conflicted file f with the k-th conflict
// block (markers and both sides) replaced by with(k). The regions say
// how many lines each side of each conflict has, so a file with lines
// that look like markers is read right.
func replaceRegions(f *FileResult, with func(k int) string) (string, error) {
	lines := textmerge.Lines(f.Conflicted)
	var b strings.Builder
	k := 0
	for i := 0; i < len(lines); i++ {
		if k == len(f.Regions) || !isMarker(lines[i], '<') {
			b.Write(lines[i])
			continue
		}
		r := f.Regions[k]
		sep, end := i+len(r.CandText)+1, i+len(r.CandText)+len(r.PatchText)+2
		if end >= len(lines) || !isMarker(lines[sep], '=') || !isMarker(lines[end], '>') {
			return "", fmt.Errorf("conflict %d of the 3-way merge is not where its markers are", k+1)
		}
		b.WriteString(with(k))
		i, k = end, k+1
	}
	if k != len(f.Regions) {
		return "", fmt.Errorf("the 3-way merge has %d conflict(s), its markers %d", len(f.Regions), k)
	}
	return b.String(), nil
}
