package merger

import (
	"context"
	"fmt"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/rtbot/rtbot/internal/textmerge"
)

// CommitRef names a commit for people: its abbreviated id and subject.
type CommitRef struct {
	Hash    string `json:"hash"`
	Subject string `json:"subject"`
}

// String is "1a2b3c4d5e6f subject".
func (c CommitRef) String() string { return c.Hash + " " + c.Subject }

// MaxHistory bounds how many candidate commits Touching walks.
const MaxHistory = 20000

// Touching returns the commits between base (exclusive) and onto
// (inclusive), newest first, that changed lines start..start+count-1 (1-based;
// count 0 means the place before line start) of path as it is in onto,
// following first parents and tracking the lines back through each change.
// A commit that added or deleted the file counts as touching it. Only
// commits that change the file's blob are diffed.
func (e *Engine) Touching(ctx context.Context, base, onto plumbing.Hash, path string, start, count int) ([]CommitRef, error) {
	if base.IsZero() || onto == base {
		return nil, nil
	}
	lo, hi := start-1, start-1+count // 0-based, half-open, in the current commit's lines
	if count == 0 {
		lo, hi = max(start-2, 0), start // the lines around an insertion point
	}
	var out []CommitRef
	h := onto
	for steps := 0; h != base; steps++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if steps >= MaxHistory {
			return out, fmt.Errorf("history of %s: base not within %d first-parent commits", path, MaxHistory)
		}
		c, err := e.store.Commit(h)
		if err != nil {
			return nil, err
		}
		if len(c.ParentHashes) == 0 {
			break
		}
		p, err := e.store.Commit(c.ParentHashes[0])
		if err != nil {
			return nil, err
		}
		touched, added, err := e.traceBack(c, p, path, &lo, &hi)
		if err != nil {
			return nil, err
		}
		if touched {
			out = append(out, CommitRef{Hash: c.Hash.String()[:12], Subject: firstLine(c.Message)})
		}
		if added {
			return out, nil // nothing older to follow
		}
		h = p.Hash
	}
	return out, nil
}

// traceBack follows lines lo..hi (0-based, half-open) of path in commit c
// to where they are in its parent p, and reports whether c touched them:
// changed them, or added or deleted the file (added is set for an added
// file, which has no older lines to follow).
func (e *Engine) traceBack(c, p *object.Commit, path string, lo, hi *int) (touched, added bool, err error) {
	ce, cok, err := e.store.Lookup(c.TreeHash, path)
	if err != nil {
		return false, false, err
	}
	pe, pok, err := e.store.Lookup(p.TreeHash, path)
	if err != nil {
		return false, false, err
	}
	switch {
	case cok && pok && ce.Hash == pe.Hash:
		return false, false, nil
	case cok != pok:
		if !pok {
			return true, true, nil // added here
		}
		// Deleted here: follow the whole file further back.
		text, err := e.store.Blob(pe.Hash)
		if err != nil {
			return false, false, err
		}
		*lo, *hi = 0, len(textmerge.Lines([]byte(text)))
		return true, false, nil
	case cok && pok:
		touched, err := e.traceChange(ce.Hash, pe.Hash, lo, hi)
		return touched, false, err
	}
	return false, false, nil
}

// traceChange maps lines lo..hi of the blob cur back to its older version
// prev through their diff, and reports whether the change touched them.
func (e *Engine) traceChange(cur, prev plumbing.Hash, lo, hi *int) (bool, error) {
	ct, err := e.store.Blob(cur)
	if err != nil {
		return false, err
	}
	pt, err := e.store.Blob(prev)
	if err != nil {
		return false, err
	}
	edits := textmerge.Diff(textmerge.Lines([]byte(pt)), textmerge.Lines([]byte(ct)))
	touched := false
	nlo, nhi := -1, -1
	for _, ed := range edits {
		if ed.Op != textmerge.Equal {
			// A change touches the region if its lines in this
			// commit overlap it, or an insertion/deletion sits
			// inside it.
			if ed.B.Start < *hi && ed.B.End > *lo || ed.B.Len() == 0 && ed.B.Start > *lo && ed.B.Start < *hi {
				touched = true
			}
			continue
		}
		// Map the region's ends through equal runs.
		if nlo < 0 && *lo >= ed.B.Start && *lo < ed.B.End {
			nlo = ed.A.Start + *lo - ed.B.Start
		}
		if *hi > ed.B.Start && *hi <= ed.B.End {
			nhi = ed.A.Start + *hi - ed.B.Start
		}
	}
	if nlo < 0 || nhi < 0 || nhi < nlo {
		// An end fell inside a change: widen to the changed block.
		nlo, nhi = widen(edits, *lo, *hi)
	}
	*lo, *hi = nlo, nhi
	return touched, nil
}

// widen maps a region through edits when an end falls inside a change,
// taking the whole change on the older side.
func widen(edits []textmerge.Edit, lo, hi int) (int, int) {
	nlo, nhi := -1, -1
	for _, ed := range edits {
		if ed.B.End > lo && nlo < 0 || ed.B.Len() == 0 && ed.B.Start >= lo && nlo < 0 {
			nlo = ed.A.Start
			if ed.Op == textmerge.Equal {
				nlo = ed.A.Start + max(lo-ed.B.Start, 0)
			}
		}
		if ed.B.Start <= hi {
			nhi = ed.A.End
			if ed.Op == textmerge.Equal && hi < ed.B.End {
				nhi = ed.A.Start + hi - ed.B.Start
			}
		}
	}
	if nlo < 0 {
		nlo = 0
	}
	if nhi < nlo {
		nhi = nlo
	}
	return nlo, nhi
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return strings.TrimSpace(l)
}
