package textmerge

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/rtbot/rtbot/internal/testkit"
)

func checkConflictBounds(t *testing.T, base, ours, theirs []byte, r Result) {
	t.Helper()
	lb, lo, lt := Lines(base), Lines(ours), Lines(theirs)
	check := func(name string, rg Range, text []byte, ls [][]byte) {
		if rg.Start < 1 || rg.Count < 0 || rg.Start-1+rg.Count > len(ls) {
			t.Fatalf("%s range %+v out of bounds (%d lines)", name, rg, len(ls))
		}
		if want := bytes.Join(ls[rg.Start-1:rg.Start-1+rg.Count], nil); !bytes.Equal(text, want) {
			t.Fatalf("%s text %q does not match range %+v (%q)", name, text, rg, want)
		}
	}
	prevOurs := 0
	for _, c := range r.Conflicts {
		check("base", c.Base, c.BaseText, lb)
		check("ours", c.Ours, c.OursText, lo)
		check("theirs", c.Theirs, c.TheirsText, lt)
		if c.Ours.Start < prevOurs {
			t.Fatalf("conflicts out of order: %+v", r.Conflicts)
		}
		prevOurs = c.Ours.Start + c.Ours.Count
	}
}

// realHunks returns the old and new sides of the hunks of the real patch
// mails in internal/fixtures/mails (a stable patch, an RT release mail with a
// diff), as seeds: real kernel code, real hunk shapes.
func realHunks(f *testing.F) [][2][]byte {
	files := testkit.Glob(f, filepath.Join(testkit.MailsDir(), "*.eml"))
	var out [][2][]byte
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		var old, nw []byte
		in := false
		flush := func() {
			if in && (len(old) > 0 || len(nw) > 0) {
				out = append(out, [2][]byte{old, nw})
			}
			old, nw, in = nil, nil, false
		}
		for _, line := range bytes.SplitAfter(data, []byte("\n")) {
			switch {
			case bytes.HasPrefix(line, []byte("@@ ")):
				flush()
				in = true
			case !in:
			case bytes.HasPrefix(line, []byte(" ")):
				old, nw = append(old, line[1:]...), append(nw, line[1:]...)
			case bytes.HasPrefix(line, []byte("-")) && !bytes.HasPrefix(line, []byte("---")):
				old = append(old, line[1:]...)
			case bytes.HasPrefix(line, []byte("+")) && !bytes.HasPrefix(line, []byte("+++")):
				nw = append(nw, line[1:]...)
			default:
				flush()
			}
		}
		flush()
	}
	return out
}

func FuzzMerge3(f *testing.F) {
	for i, h := range realHunks(f) {
		// ours: the old side with one line changed, as a stable backport
		// next to the patch would.
		ours := bytes.Replace(h[0], []byte("\n"), []byte(" /* stable */\n"), 1)
		f.Add(h[0], ours, h[1], uint8(i))
	}
	f.Add([]byte("a\nb\nc\n"), []byte("a\nB\nc\n"), []byte("a\nb\nC\n"), uint8(0))
	f.Add([]byte("a\nb\nc\nd\n"), []byte("A\nb\nc\nd\n"), []byte("a\nb\nc\nD"), uint8(1))
	f.Add([]byte(""), []byte("x\n"), []byte("y"), uint8(2))
	f.Add([]byte("a\r\nb\r\n"), []byte("a\r\nX\r\n"), []byte("a\r\nY\r\n"), uint8(3))
	f.Add([]byte("x\nx\nx\n"), []byte("x\ny\nx\nx\n"), []byte("x\nx\ny\nx\n"), uint8(4))
	f.Fuzz(func(t *testing.T, base, ours, theirs []byte, sel uint8) {
		opts := Options{
			Level: Level(sel % 4),
			Style: Style(sel / 4 % 3),
		}
		r := Merge3(base, ours, theirs, opts)
		if r.Clean != (len(r.Conflicts) == 0) {
			t.Fatalf("Clean=%v with %d conflicts", r.Clean, len(r.Conflicts))
		}
		checkConflictBounds(t, base, ours, theirs, r)
		if r.Clean && bytes.Equal(ours, base) && !bytes.Equal(r.Merged, theirs) {
			t.Fatalf("ours==base but merged %q != theirs %q", r.Merged, theirs)
		}
		if bytes.Equal(theirs, base) && (!r.Clean || !bytes.Equal(r.Merged, ours)) {
			t.Fatalf("theirs==base but merged %q (clean=%v) != ours %q", r.Merged, r.Clean, ours)
		}
		if opts.Level != LevelMinimal {
			for _, x := range [][]byte{ours, theirs} {
				s := Merge3(base, x, x, opts)
				if !s.Clean || !bytes.Equal(s.Merged, x) {
					t.Fatalf("Merge3(b, x, x) = %q (clean=%v), want %q", s.Merged, s.Clean, x)
				}
			}
			if !AlreadyApplied(base, ours, ours) {
				t.Fatal("AlreadyApplied(b, x, x) is false")
			}
		}
		// Swapping the sides cannot change whether the merge is clean,
		// nor a clean result (the number of conflicts may differ, as
		// the refining diff of the two sides is not symmetric).
		s := Merge3(base, theirs, ours, opts)
		if s.Clean != r.Clean || (r.Clean && !bytes.Equal(s.Merged, r.Merged)) {
			t.Fatalf("swapping sides changed the outcome: clean %v/%v, %q vs %q", r.Clean, s.Clean, r.Merged, s.Merged)
		}
	})
}
