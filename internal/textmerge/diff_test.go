package textmerge

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"testing"

	"github.com/rtbot/rtbot/internal/testkit"
)

func lines(s string) [][]byte { return Lines([]byte(s)) }

func TestDiff(t *testing.T) {
	tests := []struct {
		a, b string
		want []Edit
	}{
		{"", "", nil},
		{"a\n", "a\n", []Edit{{Equal, Span{0, 1}, Span{0, 1}}}},
		{"", "a\nb\n", []Edit{{Insert, Span{0, 0}, Span{0, 2}}}},
		{"a\nb\n", "", []Edit{{Delete, Span{0, 2}, Span{0, 0}}}},
		{"a\nb\nc\n", "a\nB\nc\n", []Edit{
			{Equal, Span{0, 1}, Span{0, 1}},
			{Delete, Span{1, 2}, Span{1, 1}},
			{Insert, Span{2, 2}, Span{1, 2}},
			{Equal, Span{2, 3}, Span{2, 3}},
		}},
		// A missing final newline makes the last line differ.
		{"a\nb", "a\nb\n", []Edit{
			{Equal, Span{0, 1}, Span{0, 1}},
			{Delete, Span{1, 2}, Span{1, 1}},
			{Insert, Span{2, 2}, Span{1, 2}},
		}},
		// Compaction: an ambiguous insertion of a repeated line is slid
		// down as far as possible, as git does.
		{"a\nx\nb\n", "a\nx\nx\nb\n", []Edit{
			{Equal, Span{0, 2}, Span{0, 2}},
			{Insert, Span{2, 2}, Span{2, 3}},
			{Equal, Span{2, 3}, Span{3, 4}},
		}},
	}
	for _, tt := range tests {
		got := Diff(lines(tt.a), lines(tt.b))
		if fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("Diff(%q, %q) =\n%v\nwant\n%v", tt.a, tt.b, got, tt.want)
		}
		checkScript(t, lines(tt.a), lines(tt.b), got)
	}
}

// checkScript verifies that script is a complete, ordered edit script
// from a to b.
func checkScript(t testing.TB, a, b [][]byte, script []Edit) {
	t.Helper()
	pa, pb := 0, 0
	for i, e := range script {
		if e.A.Start != pa || e.B.Start != pb {
			t.Fatalf("edit %d %v does not continue at (%d,%d)", i, e, pa, pb)
		}
		switch e.Op {
		case Equal:
			if e.A.Len() != e.B.Len() || e.A.Len() == 0 {
				t.Fatalf("bad equal edit %v", e)
			}
			for k := 0; k < e.A.Len(); k++ {
				if !bytes.Equal(a[e.A.Start+k], b[e.B.Start+k]) {
					t.Fatalf("equal edit %v covers different lines", e)
				}
			}
		case Delete:
			if e.B.Len() != 0 || e.A.Len() == 0 {
				t.Fatalf("bad delete edit %v", e)
			}
		case Insert:
			if e.A.Len() != 0 || e.B.Len() == 0 {
				t.Fatalf("bad insert edit %v", e)
			}
		}
		if i > 0 && script[i-1].Op == e.Op {
			t.Fatalf("edits %d and %d have the same op %v", i-1, i, e.Op)
		}
		pa, pb = e.A.End, e.B.End
	}
	if pa != len(a) || pb != len(b) {
		t.Fatalf("script ends at (%d,%d), want (%d,%d)", pa, pb, len(a), len(b))
	}
	if got := bytes.Join(Apply(a, b, script), nil); !bytes.Equal(got, bytes.Join(b, nil)) {
		t.Fatalf("Apply gives %q, want %q", got, bytes.Join(b, nil))
	}
}

var hunkRE = regexp.MustCompile(`(?m)^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@`)

// gitDiffChanges runs git's myers diff (no indent heuristic, as in git's
// merge machinery) and returns its hunks as changes. It does not call
// t.Fatal, so it may be used from worker goroutines.
func gitDiffChanges(dir string, a, b []byte) ([]change, error) {
	pa, pb := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	if err := os.WriteFile(pa, a, 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(pb, b, 0o644); err != nil {
		return nil, err
	}
	cmd := testkit.GitCommand(dir, dir, nil, "diff", "--no-index", "--no-color", "-U0", "--no-indent-heuristic",
		"--diff-algorithm=myers", "--no-ext-diff", pa, pb)
	out, err := cmd.Output()
	var ee *exec.ExitError
	if err != nil && !(errors.As(err, &ee) && ee.ExitCode() == 1) {
		return nil, fmt.Errorf("git diff: %v", err)
	}
	var chs []change
	num := func(s string, def int) int {
		if s == "" {
			return def
		}
		n, _ := strconv.Atoi(s) // the regexp guarantees digits
		return n
	}
	for _, m := range hunkRE.FindAllStringSubmatch(string(out), -1) {
		s1, c1, s2, c2 := num(m[1], 0), num(m[2], 1), num(m[3], 0), num(m[4], 1)
		if c1 > 0 {
			s1--
		}
		if c2 > 0 {
			s2--
		}
		chs = append(chs, change{i1: s1, i2: s2, chg1: c1, chg2: c2})
	}
	return chs, nil
}

// TestDiffDifferentialGit compares the hunks of Diff with git's own diff.
func TestDiffDifferentialGit(t *testing.T) {
	cases := differentialCases(t, 3, [2]int{250, 16}, [2]int{50, 3})
	var (
		mu         sync.Mutex
		mismatches int
	)
	onWorkers(t, len(cases), func(dir string, i int) error {
		c := cases[i]
		want, err := gitDiffChanges(dir, c.base, c.ours)
		if err != nil {
			return err
		}
		got := xdiff(Lines(c.base), Lines(c.ours))
		mu.Lock()
		defer mu.Unlock()
		if fmt.Sprint(got) != fmt.Sprint(want) {
			mismatches++
			if mismatches <= 3 {
				t.Errorf("case %d: a=%q b=%q\ngit %v\ngot %v", i, c.base, c.ours, want, got)
			}
		}
		return nil
	})
	for _, c := range cases {
		checkScript(t, Lines(c.base), Lines(c.ours), Diff(Lines(c.base), Lines(c.ours)))
	}
	t.Logf("%d diffs compared with git, %d mismatches", len(cases), mismatches)
}

func FuzzDiff(f *testing.F) {
	f.Add([]byte("a\nb\nc\n"), []byte("a\nB\nc\n"))
	f.Add([]byte(""), []byte("x"))
	f.Add([]byte("a\nb"), []byte("a\nb\n"))
	f.Add([]byte("x\nx\nx\ny\n"), []byte("x\ny\nx\nx\n"))
	f.Fuzz(func(t *testing.T, a, b []byte) {
		la, lb := Lines(a), Lines(b)
		script := Diff(la, lb)
		checkScript(t, la, lb, script)
		if bytes.Equal(a, b) && len(script) > 1 {
			t.Fatalf("identical inputs gave %v", script)
		}
	})
}

// cLikeFile generates a C-like source file of n lines.
func cLikeFile(r *rand.Rand, n int) [][]byte {
	var out [][]byte
	fn := 0
	for len(out) < n {
		fn++
		out = append(out, []byte(fmt.Sprintf("static int func_%d(struct rq *rq, int flags)\n", fn)), []byte("{\n"))
		body := 5 + r.Intn(40)
		for j := 0; j < body; j++ {
			switch r.Intn(6) {
			case 0:
				out = append(out, []byte("\n"))
			case 1:
				out = append(out, []byte("\treturn 0;\n"))
			case 2:
				out = append(out, []byte("\t}\n"))
			default:
				out = append(out, []byte(fmt.Sprintf("\tval_%d = compute(rq, %d);\n", r.Intn(1000), r.Intn(100))))
			}
		}
		out = append(out, []byte("}\n"), []byte("\n"))
	}
	return out[:n]
}

func scatterEdits(r *rand.Rand, in [][]byte, k int) [][]byte {
	out := append([][]byte(nil), in...)
	for e := 0; e < k; e++ {
		pos := r.Intn(len(out))
		switch e % 3 {
		case 0:
			out[pos] = []byte(fmt.Sprintf("\tedited_%d();\n", e))
		case 1:
			out = append(out[:pos], append([][]byte{[]byte(fmt.Sprintf("\tinserted_%d();\n", e))}, out[pos:]...)...)
		case 2:
			out = append(out[:pos], out[pos+1:]...)
		}
	}
	return out
}

func BenchmarkDiff10kLines(b *testing.B) {
	r := rand.New(rand.NewSource(1))
	a := cLikeFile(r, 11000)
	c := scatterEdits(r, a, 20)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		Diff(a, c)
	}
}

func BenchmarkMerge3_10kLines(b *testing.B) {
	r := rand.New(rand.NewSource(2))
	base := cLikeFile(r, 11000)
	ours := bytes.Join(scatterEdits(r, base, 30), nil)
	theirs := bytes.Join(scatterEdits(r, base, 10), nil)
	bb := bytes.Join(base, nil)
	b.SetBytes(int64(len(bb)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		Merge3(bb, ours, theirs, Options{})
	}
}
