package textmerge_test

import (
	"fmt"

	"github.com/rtbot/rtbot/internal/textmerge"
)

// Diff turns one text into another as git diff does: Equal, Delete and
// Insert edits over line indices, a replaced line being a Delete followed
// by an Insert.
func ExampleDiff() {
	a := textmerge.Lines([]byte("lock();\nwork();\nunlock();\n"))
	b := textmerge.Lines([]byte("lock();\nwork_rt();\nunlock();\nyield();\n"))
	for _, e := range textmerge.Diff(a, b) {
		fmt.Printf("%-6s a[%d:%d] b[%d:%d]\n", e.Op, e.A.Start, e.A.End, e.B.Start, e.B.End)
	}
	fmt.Printf("%q\n", textmerge.Apply(a, b, textmerge.Diff(a, b)))
	// Output:
	// equal  a[0:1] b[0:1]
	// delete a[1:2] b[1:1]
	// insert a[2:2] b[1:2]
	// equal  a[2:3] b[2:3]
	// insert a[3:3] b[3:4]
	// ["lock();\n" "work_rt();\n" "unlock();\n" "yield();\n"]
}

// Merge3 with zero Options is the content merge of git am -3: ours is the
// file being patched, theirs the patch's result. Changes to lines apart
// merge cleanly.
func ExampleMerge3() {
	base := []byte("a\nb\nc\nd\ne\n")
	ours := []byte("a\nB\nc\nd\ne\n")   // upstream changed b
	theirs := []byte("a\nb\nc\nd\nE\n") // the patch changes e
	res := textmerge.Merge3(base, ours, theirs, textmerge.Options{})
	fmt.Printf("clean %v\n%s", res.Clean, res.Merged)
	// Output:
	// clean true
	// a
	// B
	// c
	// d
	// E
}

// Changes to the same line conflict: Merged carries git's markers, and each
// Conflict says where its region lies in base, ours and theirs.
func ExampleMerge3_conflict() {
	base := []byte("int r = x + 3;\n")
	ours := []byte("int r = x + 3 + quirk(x);\n")
	theirs := []byte("int r = lock_irqsave(x, 3);\n")
	res := textmerge.Merge3(base, ours, theirs, textmerge.Options{OursLabel: "candidate", TheirsLabel: "patch"})
	fmt.Printf("clean %v\n%s", res.Clean, res.Merged)
	for _, c := range res.Conflicts {
		fmt.Printf("conflict: base line %d, ours line %d, theirs line %d\n", c.Base.Start, c.Ours.Start, c.Theirs.Start)
	}
	// Output:
	// clean false
	// <<<<<<< candidate
	// int r = x + 3 + quirk(x);
	// =======
	// int r = lock_irqsave(x, 3);
	// >>>>>>> patch
	// conflict: base line 1, ours line 1, theirs line 1
}
