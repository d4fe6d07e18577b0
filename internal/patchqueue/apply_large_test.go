package patchqueue

import (
	"fmt"
	"math/rand"
	"reflect"
	"strings"
	"testing"
)

// BenchmarkApplyHunksLargeFile applies three small hunks to a 3,000-line
// file, as a queue does to the kernel's large sources again and again: the
// cost is splitting and joining the file, not the hunks. "reference" is
// the implementation before the lazy image (apply_ref_test.go).
func BenchmarkApplyHunksLargeFile(b *testing.B) {
	var sb strings.Builder
	for i := 1; i <= 3000; i++ {
		fmt.Fprintf(&sb, "\tline %d of a C source file;\n", i)
	}
	file := sb.String()
	ctx := func(i int) string { return fmt.Sprintf(" \tline %d of a C source file;", i) }
	del := func(i int) string { return fmt.Sprintf("-\tline %d of a C source file;", i) }
	for _, c := range []struct {
		name string
		at   []int
	}{{"top", []int{10, 40, 90}}, {"spread", []int{100, 1500, 2900}}} {
		var hunks []*Hunk
		for _, at := range c.at {
			hunks = append(hunks, hunk(at, at, ctx(at), ctx(at+1), ctx(at+2), del(at+3), "+\tchanged;", ctx(at+4), ctx(at+5), ctx(at+6)))
		}
		for _, impl := range []struct {
			name  string
			apply func(string, []*Hunk, int) (string, []HunkResult, bool)
		}{{"lazy", ApplyHunks}, {"reference", applyHunksRef}} {
			b.Run(c.name+"/"+impl.name, func(b *testing.B) {
				b.SetBytes(int64(len(file)))
				for i := 0; i < b.N; i++ {
					if _, _, ok := impl.apply(file, hunks, 0); !ok {
						b.Fatal("does not apply")
					}
				}
			})
		}
	}
}

// TestApplyHunksLargeMatchesReference compares ApplyHunks with the
// reference on files large enough for the image to skip lines by counting
// (the fuzz target's inputs are too small for that): random edits of a
// many-line file, applied to variants with lines inserted or deleted
// before, between and after the hunks (offsets of a few lines to more
// than the window's margin, hunks matching before the previous one) and
// with repeated lines that match in several places.
func TestApplyHunksLargeMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewSource(15))
	line := func() string {
		if rng.Intn(8) == 0 {
			return "}\n" // repeated lines: several candidate matches
		}
		return fmt.Sprintf("l%d\n", rng.Intn(1<<30))
	}
	for iter := 0; iter < 300; iter++ {
		n := 200 + rng.Intn(3000)
		a := make([]string, n)
		for i := range a {
			a[i] = line()
		}
		b := append([]string(nil), a...)
		for e := rng.Intn(8); e >= 0; e-- { // edits
			at := rng.Intn(len(b))
			switch rng.Intn(3) {
			case 0:
				b[at] = line()
			case 1:
				b = append(b[:at], b[at+1:]...)
			default:
				b = append(b[:at], append([]string{line()}, b[at:]...)...)
			}
		}
		hs := MakeHunks(strings.Join(a, ""), strings.Join(b, ""), 3)
		target := append([]string(nil), a...)
		for e := rng.Intn(4); e > 0; e-- { // shifts
			at := rng.Intn(len(target) + 1)
			k := []int{1, 5, 300, 700}[rng.Intn(4)]
			if rng.Intn(2) == 0 && at+k <= len(target) {
				target = append(target[:at], target[at+k:]...)
				continue
			}
			ins := make([]string, k)
			for i := range ins {
				ins[i] = line()
			}
			target = append(target[:at], append(ins, target[at:]...)...)
		}
		if rng.Intn(4) == 0 && len(target) > 0 {
			target[len(target)-1] = strings.TrimSuffix(target[len(target)-1], "\n")
		}
		src := strings.Join(target, "")
		for fz := 0; fz <= 1; fz++ {
			got, gres, gok := ApplyHunks(src, hs, fz)
			want, wres, wok := applyHunksRef(src, hs, fz)
			if got != want || gok != wok || !reflect.DeepEqual(gres, wres) {
				t.Fatalf("iteration %d, fuzz %d: results differ: ok %v/%v\n got %v\nwant %v", iter, fz, gok, wok, gres, wres)
			}
		}
	}
}
