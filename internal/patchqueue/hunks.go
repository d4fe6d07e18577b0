package patchqueue

import (
	"github.com/rtbot/rtbot/internal/textmerge"
)

// MakeHunks returns the unified-diff hunks that turn pre into post, with
// the given number of context lines (git's default is 3), as git diff would
// group them: changes closer than 2*context lines share a hunk.
func MakeHunks(pre, post string, context int) []*Hunk {
	a, b := textmerge.Lines([]byte(pre)), textmerge.Lines([]byte(post))
	edits := textmerge.Diff(a, b)
	// Collect the change blocks as [aStart,aEnd) x [bStart,bEnd).
	type block struct{ a0, a1, b0, b1 int }
	var blocks []block
	for i := 0; i < len(edits); i++ {
		e := edits[i]
		if e.Op == textmerge.Equal {
			continue
		}
		bl := block{e.A.Start, e.A.End, e.B.Start, e.B.End}
		if e.Op == textmerge.Delete && i+1 < len(edits) && edits[i+1].Op == textmerge.Insert {
			bl.b0, bl.b1 = edits[i+1].B.Start, edits[i+1].B.End
			i++
		}
		blocks = append(blocks, bl)
	}
	var hunks []*Hunk
	for i := 0; i < len(blocks); {
		j := i
		for j+1 < len(blocks) && blocks[j+1].a0-blocks[j].a1 <= 2*context {
			j++
		}
		a0 := max(blocks[i].a0-context, 0)
		a1 := min(blocks[j].a1+context, len(a))
		b0 := blocks[i].b0 - (blocks[i].a0 - a0)
		h := &Hunk{}
		pa := a0
		for k := i; k <= j; k++ {
			bl := blocks[k]
			for ; pa < bl.a0; pa++ {
				h.Lines = append(h.Lines, Line{Op: ' ', Text: string(a[pa])})
			}
			for x := bl.a0; x < bl.a1; x++ {
				h.Lines = append(h.Lines, Line{Op: '-', Text: string(a[x])})
			}
			for x := bl.b0; x < bl.b1; x++ {
				h.Lines = append(h.Lines, Line{Op: '+', Text: string(b[x])})
			}
			pa = bl.a1
		}
		for ; pa < a1; pa++ {
			h.Lines = append(h.Lines, Line{Op: ' ', Text: string(a[pa])})
		}
		h.OldLines = len(h.Old())
		h.NewLines = len(h.New())
		h.OldStart, h.NewStart = a0+1, b0+1
		if h.OldLines == 0 {
			h.OldStart = a0
		}
		if h.NewLines == 0 {
			h.NewStart = b0
		}
		hunks = append(hunks, h)
		i = j + 1
	}
	return hunks
}
