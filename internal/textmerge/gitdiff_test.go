package textmerge

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rtbot/rtbot/internal/testkit"
)

// gitMergeFile runs "git merge-file -p" on the three texts and returns
// its output and exit status (the number of conflicts, capped by git).
// It does not call t.Fatal, so it may be used from worker goroutines.
func gitMergeFile(dir string, base, ours, theirs []byte, extra ...string) ([]byte, int, error) {
	po, pb, pt := filepath.Join(dir, "ours"), filepath.Join(dir, "base"), filepath.Join(dir, "theirs")
	for p, b := range map[string][]byte{po: ours, pb: base, pt: theirs} {
		if err := os.WriteFile(p, b, 0o644); err != nil {
			return nil, 0, err
		}
	}
	args := append([]string{"merge-file", "-p", "-L", "OURS", "-L", "BASE", "-L", "THEIRS"}, extra...)
	args = append(args, po, pb, pt)
	cmd := testkit.GitCommand(dir, dir, []string{"GIT_CEILING_DIRECTORIES=" + filepath.Dir(dir)}, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return out, 0, nil
	case errors.As(err, &ee) && ee.ExitCode() > 0 && ee.ExitCode() < 128:
		return out, ee.ExitCode(), nil
	}
	return nil, 0, fmt.Errorf("git merge-file: %v: %s", err, stderr.String())
}

// randText builds a file from a small alphabet of lines so that repeated
// lines, ambiguous alignments and conflicts are frequent.
func randText(r *rand.Rand, alphabet []string, n int, trailingNL bool) []byte {
	var b bytes.Buffer
	for i := 0; i < n; i++ {
		b.WriteString(alphabet[r.Intn(len(alphabet))])
		b.WriteByte('\n')
	}
	out := b.Bytes()
	if !trailingNL && len(out) > 0 {
		out = out[:len(out)-1]
	}
	return out
}

// mutate derives a variant of text by random line edits.
func mutate(r *rand.Rand, alphabet []string, text []byte) []byte {
	lines := strings.SplitAfter(string(text), "\n")
	if len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	nedits := r.Intn(4)
	for e := 0; e < nedits; e++ {
		pos := 0
		if len(lines) > 0 {
			pos = r.Intn(len(lines) + 1)
		}
		switch r.Intn(3) {
		case 0: // insert
			k := 1 + r.Intn(3)
			var ins []string
			for j := 0; j < k; j++ {
				ins = append(ins, alphabet[r.Intn(len(alphabet))]+"\n")
			}
			lines = append(lines[:pos], append(ins, lines[pos:]...)...)
		case 1: // delete
			k := 1 + r.Intn(3)
			end := min(pos+k, len(lines))
			lines = append(lines[:pos], lines[end:]...)
		case 2: // replace
			if pos < len(lines) {
				lines[pos] = alphabet[r.Intn(len(alphabet))] + "\n"
			}
		}
	}
	out := strings.Join(lines, "")
	// Randomly toggle the final newline.
	if len(out) > 0 && r.Intn(6) == 0 {
		if strings.HasSuffix(out, "\n") {
			out = out[:len(out)-1]
		} else {
			out += "\n"
		}
	}
	return []byte(out)
}

type diffCase struct {
	base, ours, theirs []byte
	style              string // "", "--diff3", "--zdiff3"
}

func genCases(seed int64, n int) []diffCase {
	r := rand.New(rand.NewSource(seed))
	alphabets := [][]string{
		{"a", "b", "c"},
		{"a", "b", "c", "d", "e", "f", "g"},
		{"x", "", "}", "{", "  y;", "\tz();"},
		{"a\r", "b\r", "c\r", "d"},
		{"1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12"},
	}
	styles := []string{"", "", "", "--diff3", "--zdiff3"}
	cases := make([]diffCase, 0, n)
	for i := 0; i < n; i++ {
		alpha := alphabets[r.Intn(len(alphabets))]
		base := randText(r, alpha, r.Intn(12), r.Intn(5) != 0)
		ours := mutate(r, alpha, base)
		theirs := mutate(r, alpha, base)
		if r.Intn(8) == 0 {
			theirs = ours // identical changes on both sides
		}
		cases = append(cases, diffCase{base, ours, theirs, styles[r.Intn(len(styles))]})
	}
	return cases
}

// genLargeCases builds bigger, heavily edited files (hundreds to a few
// thousand lines, many repeated lines plus unique ones) so that xdiff's
// discarding of unmatched/frequent lines and its cost heuristics in the
// middle-snake search are exercised.
func genLargeCases(seed int64, n int) []diffCase {
	r := rand.New(rand.NewSource(seed))
	alpha := []string{"", "}", "{", "\treturn 0;", "\tint i;", "a", "b", "c"}
	uniq := 0
	heavy := func(text []byte, edits int) []byte {
		lines := strings.SplitAfter(string(text), "\n")
		for e := 0; e < edits; e++ {
			pos := r.Intn(len(lines))
			switch r.Intn(4) {
			case 0:
				uniq++
				lines = append(lines[:pos], append([]string{fmt.Sprintf("u%d\n", uniq)}, lines[pos:]...)...)
			case 1:
				lines = append(lines[:pos], append([]string{alpha[r.Intn(len(alpha))] + "\n"}, lines[pos:]...)...)
			case 2:
				end := min(pos+1+r.Intn(4), len(lines)-1)
				lines = append(lines[:pos], lines[end:]...)
			case 3:
				lines[pos] = alpha[r.Intn(len(alpha))] + "\n"
			}
		}
		return []byte(strings.Join(lines, ""))
	}
	// shuffled reorders lines inside many small windows: every line still
	// occurs in both files (so nothing is discarded up front), the edit
	// cost is in the thousands and long unchanged runs separate the
	// windows, which drives xdiff's "good snake" and max-cost heuristics.
	shuffled := func(base []byte) []byte {
		lines := strings.SplitAfter(string(base), "\n")
		for start := r.Intn(30); start+12 < len(lines); start += 30 + r.Intn(40) {
			w := lines[start : start+4+r.Intn(8)]
			r.Shuffle(len(w), func(i, j int) { w[i], w[j] = w[j], w[i] })
		}
		return []byte(strings.Join(lines, ""))
	}
	var cases []diffCase
	for i := 0; i < n; i++ {
		if i%4 == 3 {
			// Every 8th such case is big enough (> 2^16 lines in
			// total) for xdiff's max cost to exceed 256, which is what
			// enables the "good snake" heuristic.
			nl := 4000 + r.Intn(4000)
			if i%8 == 7 {
				nl = 34000
			}
			var b bytes.Buffer
			for j := 0; j < nl; j++ {
				fmt.Fprintf(&b, "l%d\n", j)
			}
			base := b.Bytes()
			cases = append(cases, diffCase{base, shuffled(base), heavy(base, 5), ""})
			continue
		}
		nl := 300 + r.Intn(3000)
		var b bytes.Buffer
		for j := 0; j < nl; j++ {
			if r.Intn(3) == 0 {
				uniq++
				fmt.Fprintf(&b, "line %d\n", uniq)
			} else {
				b.WriteString(alpha[r.Intn(len(alpha))] + "\n")
			}
		}
		base := b.Bytes()
		e1, e2 := 1+r.Intn(nl/2), 1+r.Intn(20)
		if i%2 == 0 {
			e1, e2 = e2, e1
		}
		cases = append(cases, diffCase{base, heavy(base, e1), heavy(base, e2), ""})
	}
	return cases
}

func optsForStyle(style string) Options {
	o := Options{Level: LevelZealousAlnum, OursLabel: "OURS", BaseLabel: "BASE", TheirsLabel: "THEIRS"}
	switch style {
	case "--diff3":
		o.Style = StyleDiff3
	case "--zdiff3":
		o.Style = StyleZealousDiff3
	}
	return o
}

// differentialCases returns the random cases of a test that compares with
// git, failing it when git is missing: counts[0] small cases from seed and
// counts[1] large ones from seed+1, or the short counts under -short.
func differentialCases(t *testing.T, seed int64, counts, short [2]int) []diffCase {
	t.Helper()
	testkit.NeedGit(t)
	if testing.Short() {
		counts = short
	}
	return append(genCases(seed, counts[0]), genLargeCases(seed+1, counts[1])...)
}

// onWorkers calls compare for every case index below n on two goroutines,
// each with its own scratch directory, for the differential tests that
// run git once a case. An error (git could not be run) fails the test and
// stops that worker; compare serialises its own bookkeeping.
func onWorkers(t *testing.T, n int, compare func(dir string, i int) error) {
	t.Helper()
	const workers = 2
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		dir := t.TempDir()
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < n; i += workers {
				if err := compare(dir, i); err != nil {
					t.Error(err)
					return
				}
			}
		}(w)
	}
	wg.Wait()
}

// TestDifferentialGit compares Merge3 with "git merge-file -p" on random
// triples: clean results must be byte-identical, conflicted ones must be
// conflicted with the same number of regions and the same marker output.
func TestDifferentialGit(t *testing.T) {
	cases := differentialCases(t, 1, [2]int{2000, 16}, [2]int{200, 5})
	start := time.Now()
	var (
		mu                                       sync.Mutex
		clean, conflicted, mismatches, countDiff int
		failures                                 []string
	)
	onWorkers(t, len(cases), func(dir string, i int) error {
		c := cases[i]
		var extra []string
		if c.style != "" {
			extra = []string{c.style}
		}
		want, nconf, err := gitMergeFile(dir, c.base, c.ours, c.theirs, extra...)
		if err != nil {
			return err
		}
		got := Merge3(c.base, c.ours, c.theirs, optsForStyle(c.style))
		mu.Lock()
		defer mu.Unlock()
		if nconf == 0 {
			clean++
		} else {
			conflicted++
		}
		bad := ""
		switch {
		case (nconf == 0) != got.Clean:
			bad = fmt.Sprintf("git clean=%v, ours clean=%v", nconf == 0, got.Clean)
		case !bytes.Equal(got.Merged, want):
			bad = "output differs"
		case nconf != len(got.Conflicts):
			countDiff++
			bad = fmt.Sprintf("conflict count git=%d ours=%d", nconf, len(got.Conflicts))
		}
		if bad != "" {
			mismatches++
			if len(failures) < 5 {
				failures = append(failures, fmt.Sprintf("case %d (%s): %s\nbase=%q\nours=%q\ntheirs=%q\ngit:\n%s\ngot:\n%s",
					i, c.style, bad, c.base, c.ours, c.theirs, want, got.Merged))
			}
		}
		return nil
	})
	t.Logf("%d cases (%d clean, %d conflicted per git) in %v; %d mismatches",
		len(cases), clean, conflicted, time.Since(start), mismatches)
	for _, f := range failures {
		t.Error(f)
	}
	if clean == 0 || conflicted == 0 {
		t.Errorf("generator produced no variety: clean=%d conflicted=%d", clean, conflicted)
	}
}
