package triage

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"unicode"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/rtbot/rtbot/internal/merger"
	"github.com/rtbot/rtbot/internal/patchqueue"
)

// Source is what triage reads: blob contents, and the candidate commits
// that changed given lines of a file since the queue's base. *merger.Engine
// is one.
type Source interface {
	Blob(h plumbing.Hash) (string, error)
	Touching(ctx context.Context, base, onto plumbing.Hash, path string, start, count int) ([]merger.CommitRef, error)
}

// Options change what Triage decides.
type Options struct {
	// DropApplied leaves patches judged already-applied out of the count of
	// patches that need a human; they are listed as dropped.
	DropApplied bool
}

// Triage gives every patch of a rebase result its status, action, reason
// and causes, deciding from the content of each failed file whether the
// change is already in the candidate, was superseded upstream, conflicts,
// or only failed because an earlier patch did. See docs/design.md, "Triage
// vocabulary".
func Triage(ctx context.Context, res *merger.Result, src Source, opts Options) ([]PatchReport, error) {
	reports := Classify(res)
	t := &triager{ctx: ctx, res: res, src: src, added: map[string][]addedBy{}}
	for i, p := range res.Patches {
		r := &reports[i]
		if p.Outcome == merger.Malformed || p.Outcome == merger.Failed || p.Outcome == merger.Blocked {
			continue
		}
		if !p.Outcome.Clean() {
			if err := t.patch(p, r); err != nil {
				return nil, fmt.Errorf("triage of patch %s: %w", p.Patch.Name, err)
			}
		}
		if opts.DropApplied && r.Status == AlreadyApplied {
			r.Dropped = true
			r.Action = "dropped"
		}
		if r.Status == Conflict {
			if err := t.propose(p, r); err != nil {
				return nil, fmt.Errorf("proposed refresh of patch %s: %w", p.Patch.Name, err)
			}
		}
		// Remember what an unclean patch would have added, to recognise
		// later patches that only fail because of it.
		if !r.Status.Clean() && !r.Dropped {
			for _, f := range p.Patch.Files {
				for _, h := range f.Hunks {
					for _, l := range h.Lines {
						if l.Op == '+' && significant(l.Text) {
							t.added[f.Path()] = append(t.added[f.Path()], addedBy{line: norm(l.Text), patch: p.Patch.Name})
						}
					}
				}
			}
		}
	}
	return reports, nil
}

type addedBy struct{ line, patch string }

type triager struct {
	ctx   context.Context
	res   *merger.Result
	src   Source
	added map[string][]addedBy // path -> lines added by earlier unclean patches
}

// patch re-decides the status of an unclean patch from its files.
func (t *triager) patch(p *merger.PatchResult, r *PatchReport) error {
	status := Applied
	allPresent := true
	seen := map[string]bool{}
	r.Reason = ""
	for i, f := range p.Files {
		fr := &r.Files[i]
		switch f.Outcome {
		case merger.Conflict:
			if err := t.conflict(f, fr); err != nil {
				return err
			}
		case merger.Missing:
			fr.Status = MissingFile
			fr.Detail = "the file does not exist in the candidate and no rename of it was found"
			causes, err := t.src.Touching(t.ctx, t.res.Base, t.res.Onto, f.Path, 1, 0)
			if err != nil {
				return err
			}
			if len(causes) > 0 {
				fr.CausedBy = []string{causes[0].String()}
				fr.Detail = "the file was deleted or renamed in the candidate by " + causes[0].Hash
			}
		}
		if fr.Status != AlreadyApplied {
			allPresent = false
			status = Worse(status, fr.Status)
		}
		for _, c := range fr.CausedBy {
			if !seen[c] {
				seen[c] = true
				r.CausedBy = append(r.CausedBy, c)
			}
		}
		if fr.BlockedBy != "" && r.BlockedBy == "" {
			r.BlockedBy = fr.BlockedBy
		}
	}
	if allPresent && len(p.Files) > 0 {
		status = AlreadyApplied
	}
	r.Status, r.Action = status, ActionFor(status)
	if status != Blocked {
		r.BlockedBy = ""
	}
	// The reason comes from a file whose content was examined (it failed
	// to merge) rather than one that merged unchanged.
	r.Reason = reason(*r, func(i int) bool {
		return p.Files[i].Outcome == merger.Conflict || p.Files[i].Outcome == merger.Missing
	})
	if status == AlreadyApplied && r.Reason == "" {
		r.Reason = "everything the patch changes is already in the candidate"
	}
	return nil
}

// hunkFacts is what the candidate says about one hunk of the patch.
type hunkFacts struct {
	added, removed, context   int // significant lines of each kind
	addedIn, removedIn, ctxIn int // of those, found near the place in the candidate
	oldLines                  []string
	center                    int // 0-based line in the candidate where the hunk belongs
}

// conflict decides what a file that failed to apply or merge is, from its
// content in the candidate, trying each verdict in turn: already applied
// exactly, or in substance; blocked by an earlier patch that failed;
// superseded upstream; already applied in another form; and else a real
// conflict.
func (t *triager) conflict(f merger.FileResult, fr *FileReport) error {
	cand, err := t.src.Blob(f.CandBlob)
	if err != nil {
		return err
	}
	hunks := f.PatchFile.Hunks
	// Exactly already there: the patch reverse-applies.
	if reverseApplies(cand, hunks) {
		fr.Status = AlreadyApplied
		fr.Detail = "the patch reverse-applies to the candidate: this exact change is already there"
		return t.cause(f, fr, nil)
	}
	lines := normLines(cand)
	ff := examineFile(f, hunks, lines)
	if ff.substance {
		fr.Status = AlreadyApplied
		fr.Detail = fmt.Sprintf("already applied in substance: all %d added lines are in the candidate near the place, and %d removed lines are gone", ff.addTot, ff.remTot)
		return t.cause(f, fr, ff.facts)
	}
	// Failing only because an earlier patch of the queue failed?
	if t.blockedByEarlier(f, ff.facts, lines, fr) {
		return nil
	}
	if supersededUpstream(f, hunks, ff.facts) {
		fr.Status = Superseded
		fr.Detail = fmt.Sprintf("upstream removed the lines the patch changes and its additions are not there (%d of %d removed lines and %d of %d added lines are in the candidate)",
			ff.remIn, ff.remTot, ff.addIn, ff.addTot)
		return t.cause(f, fr, ff.facts)
	}
	// The same change made in another form: most identifiers the patch
	// introduces are in the candidate near the place.
	if in, tot := introduced(hunks, lines, ff.facts); tot >= 3 && 10*in >= 6*tot {
		fr.Status = AlreadyApplied
		fr.Detail = fmt.Sprintf("already applied in substance, in another form: %d of %d identifiers the patch introduces (%d%%) are in the candidate near the place; %d of %d added lines are there verbatim",
			in, tot, 100*in/tot, ff.addIn, ff.addTot)
		return t.cause(f, fr, ff.facts)
	}
	fr.Status = Conflict
	if len(f.Regions) > 0 {
		fr.Detail = "upstream and the patch change the same lines (1 region)"
		if n := len(f.Regions); n != 1 {
			fr.Detail = fmt.Sprintf("upstream and the patch change the same lines (%d regions)", n)
		}
	} else {
		fr.Detail = "the hunks do not apply and there is no pre-image for a 3-way merge"
	}
	return t.cause(f, fr, ff.facts)
}

// reverseApplies reports whether the hunks reverse-apply to cand: the
// exact change is already there.
func reverseApplies(cand string, hunks []*patchqueue.Hunk) bool {
	if len(hunks) == 0 {
		return false
	}
	_, _, ok := patchqueue.ApplyHunks(cand, patchqueue.ReverseHunks(hunks), 0)
	return ok
}

// normLines is text split into lines, each normalised (norm).
func normLines(text string) []string {
	lines := strings.Split(text, "\n")
	for i := range lines {
		lines[i] = norm(lines[i])
	}
	return lines
}

// fileFacts is what the candidate says about every hunk of a file, and
// the totals of their significant added and removed lines.
type fileFacts struct {
	facts         []hunkFacts
	addTot, addIn int // added lines, and of those found near the place
	remTot, remIn int // removed lines, and of those found near the place
	// substance: every hunk adds or removes something, all its additions
	// are near the place and none of its removals.
	substance bool
}

// examineFile examines each hunk of the patch's file near its place in
// the candidate's lines: where the apply found it, or the one conflicting
// region of a single hunk, or else where the patch expected it.
func examineFile(f merger.FileResult, hunks []*patchqueue.Hunk, lines []string) fileFacts {
	ff := fileFacts{facts: make([]hunkFacts, len(hunks)), substance: len(hunks) > 0}
	for i, h := range hunks {
		center := h.OldStart - 1
		if i < len(f.Hunks) && f.Hunks[i].At > 0 {
			center = f.Hunks[i].At - 1
		}
		if len(f.Regions) > 0 && len(hunks) == 1 {
			center = f.Regions[0].Candidate.Start - 1
		}
		ff.facts[i] = examine(h, lines, center)
		fc := ff.facts[i]
		ff.addTot, ff.addIn, ff.remTot, ff.remIn = ff.addTot+fc.added, ff.addIn+fc.addedIn, ff.remTot+fc.removed, ff.remIn+fc.removedIn
		if fc.added+fc.removed == 0 || fc.addedIn < fc.added || fc.removedIn > 0 {
			ff.substance = false
		}
	}
	return ff
}

// blockedByEarlier reports whether a failed hunk of f needs a line that an
// earlier unclean patch of the queue adds and the candidate lacks; if so
// it marks fr blocked by that patch.
func (t *triager) blockedByEarlier(f merger.FileResult, facts []hunkFacts, lines []string, fr *FileReport) bool {
	inCand := make(map[string]bool, len(lines))
	for _, l := range lines {
		inCand[l] = true
	}
	for i, h := range f.Hunks {
		if !h.Failed || i >= len(facts) {
			continue
		}
		for _, l := range facts[i].oldLines {
			for _, a := range t.added[f.Path] {
				if a.line == l && !inCand[l] {
					fr.Status, fr.BlockedBy = Blocked, a.patch
					fr.Detail = fmt.Sprintf("hunk %d needs %q, which earlier patch %s adds and which did not apply", i+1, strings.TrimSpace(l), a.patch)
					return true
				}
			}
		}
	}
	return false
}

// supersededUpstream reports whether upstream deleted what the patch changes (the
// candidate's side of a conflicting region is empty, or without a 3-way
// merge, the removed and context lines are gone) and its result is not
// there.
func supersededUpstream(f merger.FileResult, hunks []*patchqueue.Hunk, facts []hunkFacts) bool {
	superseded := false
	for _, rg := range f.Regions {
		if rg.Candidate.Count == 0 && rg.Base.Count > 0 {
			superseded = true
		}
	}
	if len(f.Regions) == 0 {
		superseded = len(hunks) > 0
		for i, fc := range facts {
			if i < len(f.Hunks) && !f.Hunks[i].Failed {
				continue
			}
			gone := fc.removedIn == 0 && (fc.context == 0 || 2*fc.ctxIn < fc.context)
			if !gone || fc.added > 0 && fc.addedIn == fc.added {
				superseded = false
			}
		}
	}
	return superseded
}

// cause finds the candidate commits that touched the failing place.
func (t *triager) cause(f merger.FileResult, fr *FileReport, facts []hunkFacts) error {
	path := f.Path
	if f.Renamed != "" {
		path = f.Renamed
	}
	type span struct{ start, count int }
	var spans []span
	for _, r := range f.Regions {
		spans = append(spans, span{r.Candidate.Start, r.Candidate.Count})
	}
	if len(spans) == 0 {
		for i, fc := range facts {
			if i < len(f.Hunks) && !f.Hunks[i].Failed && fr.Status != AlreadyApplied {
				continue
			}
			n := len(fc.oldLines)
			spans = append(spans, span{max(fc.center+1, 1), max(n, 1)})
		}
	}
	seen := map[string]bool{}
	for _, s := range spans {
		refs, err := t.src.Touching(t.ctx, t.res.Base, t.res.Onto, path, s.start, s.count)
		if err != nil {
			return err
		}
		for _, r := range refs {
			if !seen[r.Hash] {
				seen[r.Hash] = true
				fr.CausedBy = append(fr.CausedBy, r.String())
			}
		}
	}
	return nil
}

// window is how far from the expected place a line may be found.
const window = 120

func examine(h *patchqueue.Hunk, lines []string, center int) hunkFacts {
	fc := hunkFacts{center: center}
	lo, hi := max(center-window, 0), min(center+len(h.Lines)+window, len(lines))
	near := map[string]int{}
	for _, l := range lines[lo:hi] {
		near[l]++
	}
	added := map[string]bool{}
	for _, l := range h.Lines {
		if l.Op == '+' {
			added[norm(l.Text)] = true
		}
	}
	for _, l := range h.Lines {
		n := norm(l.Text)
		if l.Op != '+' {
			fc.oldLines = append(fc.oldLines, n)
		}
		if !significant(l.Text) {
			continue
		}
		switch l.Op {
		case '+':
			fc.added++
			if near[n] > 0 {
				fc.addedIn++
			}
		case '-':
			if added[n] {
				continue // moved or re-indented, not removed
			}
			fc.removed++
			if near[n] > 0 {
				fc.removedIn++
			}
		case ' ':
			fc.context++
			if near[n] > 0 {
				fc.ctxIn++
			}
		}
	}
	return fc
}

var identRe = regexp.MustCompile(`[A-Za-z_][A-Za-z0-9_]{3,}`)

// introduced counts the identifiers the hunks add (in added lines, not in
// their removed or context lines) and how many of them appear in the
// candidate near each hunk's place.
func introduced(hunks []*patchqueue.Hunk, lines []string, facts []hunkFacts) (in, total int) {
	for i, h := range hunks {
		old := map[string]bool{}
		for _, l := range h.Lines {
			if l.Op != '+' {
				for _, id := range identRe.FindAllString(l.Text, -1) {
					old[id] = true
				}
			}
		}
		fresh := map[string]bool{}
		for _, l := range h.Lines {
			if l.Op == '+' {
				for _, id := range identRe.FindAllString(l.Text, -1) {
					if !old[id] {
						fresh[id] = true
					}
				}
			}
		}
		if len(fresh) == 0 {
			continue
		}
		center := facts[i].center
		lo, hi := max(center-window, 0), min(center+len(h.Lines)+window, len(lines))
		near := map[string]bool{}
		for _, l := range lines[lo:hi] {
			for _, id := range identRe.FindAllString(l, -1) {
				near[id] = true
			}
		}
		for id := range fresh {
			total++
			if near[id] {
				in++
			}
		}
	}
	return in, total
}

// norm compares lines ignoring leading and trailing white space.
func norm(s string) string { return strings.TrimSpace(s) }

// significant says whether a line carries meaning on its own: braces,
// blank lines and bare keywords match anywhere and prove nothing.
func significant(s string) bool {
	s = strings.TrimSpace(s)
	if len(s) < 4 {
		return false
	}
	switch s {
	case "break;", "else {", "} else {", "return;", "return 0;", "#endif", "#else", "default:":
		return false
	}
	return strings.IndexFunc(s, func(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }) >= 0
}
