// Command padgen writes a git fast-import stream of a synthetic history, for
// scripts/bench/scale.sh to pad a repository to millions of objects.
//
//	go run ./scripts/bench/padgen -objects 9900000 | git fast-import --quiet
//
// Each commit changes two files in a tree three levels deep (16 top
// directories of 16 subdirectories of up to 32 files, like the shape of a
// kernel tree), so it adds eight objects: two blobs, two trees at each of the
// two lower levels, a new root tree and the commit. Every object is unique and
// reachable from -ref, so a walk over the repository sees all of them.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
)

// objectsPerCommit is how many new objects each generated commit adds.
const objectsPerCommit = 8

func main() {
	objects := flag.Int("objects", 1000000, "about how many objects to generate")
	ref := flag.String("ref", "refs/heads/pad", "the ref the history is written to")
	flag.Parse()
	if err := write(os.Stdout, *objects/objectsPerCommit, *ref); err != nil {
		fmt.Fprintln(os.Stderr, "padgen:", err)
		os.Exit(1)
	}
}

// write writes commits commits onto ref as a fast-import stream.
func write(f *os.File, commits int, ref string) error {
	w := bufio.NewWriterSize(f, 1<<20)
	state := uint64(0x9e3779b97f4a7c15)
	next := func() uint64 { // xorshift64: a fixed, cheap sequence of paths
		state ^= state << 13
		state ^= state >> 7
		state ^= state << 17
		return state
	}
	const epoch = 946684800 // 2000-01-01
	for i := 0; i < commits; i++ {
		when := epoch + i*60
		msg := fmt.Sprintf("pad: commit %d\n", i)
		fmt.Fprintf(w, "commit %s\ncommitter Pad <pad@example.org> %d +0000\ndata %d\n%s", ref, when, len(msg), msg)
		r := next()
		a, b := r%16, (r>>4)%16
		// The second file lives under another top directory, so both
		// lower levels get two new trees each.
		c, d := (a+1+(r>>8)%15)%16, (r>>12)%16
		for k, p := range [2][2]uint64{{a, b}, {c, d}} {
			content := fmt.Sprintf("pad file, commit %d, change %d, seed %x\n", i, k, r)
			fmt.Fprintf(w, "M 100644 inline d%02d/s%02d/f%02d.c\ndata %d\n%s\n", p[0], p[1], (r>>(16+5*k))%32, len(content), content)
		}
	}
	return w.Flush()
}
