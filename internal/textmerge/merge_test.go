package textmerge

import (
	"bytes"
	"testing"

	"github.com/rtbot/rtbot/internal/testkit"
)

func TestLines(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"\n", []string{"\n"}},
		{"a", []string{"a"}},
		{"a\n", []string{"a\n"}},
		{"a\nb", []string{"a\n", "b"}},
		{"a\r\n\r\nb\n", []string{"a\r\n", "\r\n", "b\n"}},
		{"\n\n", []string{"\n", "\n"}},
	}
	for _, tt := range tests {
		got := Lines([]byte(tt.in))
		if len(got) != len(tt.want) {
			t.Errorf("Lines(%q) = %q, want %q", tt.in, got, tt.want)
			continue
		}
		for i := range got {
			if string(got[i]) != tt.want[i] {
				t.Errorf("Lines(%q)[%d] = %q, want %q", tt.in, i, got[i], tt.want[i])
			}
		}
		if j := bytes.Join(got, nil); string(j) != tt.in {
			t.Errorf("Lines(%q) does not round-trip: %q", tt.in, j)
		}
	}
}

type mergeCase struct {
	name               string
	base, ours, theirs string
	clean              bool
	// want is the merge result with markers labelled O/B/T (merge style).
	want string
	// conflicts lists the expected regions (only checked when non-nil).
	conflicts []Conflict
}

var mergeCases = []mergeCase{
	{
		name: "non-overlapping edits",
		base: "a\nb\nc\nd\n", ours: "A\nb\nc\nd\n", theirs: "a\nb\nC\nd\n",
		clean: true, want: "A\nb\nC\nd\n",
	},
	{
		name: "identical edits both sides",
		base: "a\nb\nc\n", ours: "a\nX\nc\n", theirs: "a\nX\nc\n",
		clean: true, want: "a\nX\nc\n",
	},
	{
		name: "identical edit plus an independent edit",
		base: "a\nb\nc\nd\ne\n", ours: "a\nX\nc\nd\nE\n", theirs: "a\nX\nc\nd\ne\n",
		clean: true, want: "a\nX\nc\nd\nE\n",
	},
	{
		name: "overlapping edits conflict",
		base: "a\nb\nc\n", ours: "a\nO\nc\n", theirs: "a\nT\nc\n",
		want: "a\n<<<<<<< O\nO\n=======\nT\n>>>>>>> T\nc\n",
		conflicts: []Conflict{{
			Base: Range{2, 1}, Ours: Range{2, 1}, Theirs: Range{2, 1},
			BaseText: []byte("b\n"), OursText: []byte("O\n"), TheirsText: []byte("T\n"),
		}},
	},
	{
		// Edits of two adjacent lines touch in the base (no unchanged
		// line between them): git treats them as one conflicting region.
		name: "adjacent-line edits conflict",
		base: "a\nb\nc\nd\n", ours: "a\nB\nc\nd\n", theirs: "a\nb\nC\nd\n",
		want: "a\n<<<<<<< O\nB\nc\n=======\nb\nC\n>>>>>>> T\nd\n",
		conflicts: []Conflict{{
			Base: Range{2, 2}, Ours: Range{2, 2}, Theirs: Range{2, 2},
			BaseText: []byte("b\nc\n"), OursText: []byte("B\nc\n"), TheirsText: []byte("b\nC\n"),
		}},
	},
	{
		name: "edits separated by one unchanged line merge",
		base: "a\nb\nc\nd\ne\n", ours: "a\nB\nc\nd\ne\n", theirs: "a\nb\nc\nD\ne\n",
		clean: true, want: "a\nB\nc\nD\ne\n",
	},
	{
		name: "insertions at the same point conflict",
		base: "a\nb\n", ours: "a\nx\nb\n", theirs: "a\ny\nb\n",
		want: "a\n<<<<<<< O\nx\n=======\ny\n>>>>>>> T\nb\n",
		conflicts: []Conflict{{
			Base: Range{2, 0}, Ours: Range{2, 1}, Theirs: Range{2, 1},
			OursText: []byte("x\n"), TheirsText: []byte("y\n"),
		}},
	},
	{
		name: "identical insertions at the same point",
		base: "a\nb\n", ours: "a\nx\nb\n", theirs: "a\nx\nb\n",
		clean: true, want: "a\nx\nb\n",
	},
	{
		name: "insertion adjacent to an edit conflicts",
		base: "a\nb\nc\n", ours: "a\nx\nb\nc\n", theirs: "a\nB\nc\n",
		want: "a\n<<<<<<< O\nx\nb\n=======\nB\n>>>>>>> T\nc\n",
	},
	{
		name: "deletion vs edit",
		base: "a\nb\nc\n", ours: "a\nc\n", theirs: "a\nB\nc\n",
		want: "a\n<<<<<<< O\n=======\nB\n>>>>>>> T\nc\n",
		conflicts: []Conflict{{
			Base: Range{2, 1}, Ours: Range{2, 0}, Theirs: Range{2, 1},
			BaseText: []byte("b\n"), TheirsText: []byte("B\n"),
		}},
	},
	{
		name: "same deletion both sides",
		base: "a\nb\nc\n", ours: "a\nc\n", theirs: "a\nc\n",
		clean: true, want: "a\nc\n",
	},
	{
		name: "edits at file start and end",
		base: "a\nb\nc\nd\n", ours: "X\nb\nc\nd\n", theirs: "a\nb\nc\nY\n",
		clean: true, want: "X\nb\nc\nY\n",
	},
	{
		name: "insertions at start and end",
		base: "a\nb\n", ours: "s\na\nb\n", theirs: "a\nb\ne\n",
		clean: true, want: "s\na\nb\ne\n",
	},
	{
		name: "ours lacks final newline, theirs edits elsewhere",
		base: "a\nb\nc\nd\n", ours: "a\nb\nc\nd", theirs: "A\nb\nc\nd\n",
		clean: true, want: "A\nb\nc\nd",
	},
	{
		name: "theirs lacks final newline, ours edits elsewhere",
		base: "a\nb\nc\nd\n", ours: "A\nb\nc\nd\n", theirs: "a\nb\nc\nd",
		clean: true, want: "A\nb\nc\nd",
	},
	{
		name: "base lacks final newline, both append",
		base: "a\nb", ours: "a\nb\nc", theirs: "z\na\nb",
		clean: true, want: "z\na\nb\nc",
	},
	{
		name: "conflict on unterminated last line",
		base: "a\nb", ours: "a\nO", theirs: "a\nT",
		want: "a\n<<<<<<< O\nO\n=======\nT\n>>>>>>> T\n",
		conflicts: []Conflict{{
			Base: Range{2, 1}, Ours: Range{2, 1}, Theirs: Range{2, 1},
			BaseText: []byte("b"), OursText: []byte("O"), TheirsText: []byte("T"),
		}},
	},
	{
		name: "adding vs keeping the final newline conflicts",
		base: "a\nb", ours: "a\nb\n", theirs: "a\nB",
		want: "a\n<<<<<<< O\nb\n=======\nB\n>>>>>>> T\n",
	},
	{
		name: "empty base, same content added",
		base: "", ours: "x\n", theirs: "x\n",
		clean: true, want: "x\n",
	},
	{
		name: "empty base, different content added",
		base: "", ours: "x\n", theirs: "y\n",
		want: "<<<<<<< O\nx\n=======\ny\n>>>>>>> T\n",
		conflicts: []Conflict{{
			Base: Range{1, 0}, Ours: Range{1, 1}, Theirs: Range{1, 1},
			OursText: []byte("x\n"), TheirsText: []byte("y\n"),
		}},
	},
	{
		name: "all empty",
		base: "", ours: "", theirs: "",
		clean: true, want: "",
	},
	{
		name: "ours empties the file, theirs unchanged",
		base: "a\nb\n", ours: "", theirs: "a\nb\n",
		clean: true, want: "",
	},
	{
		name: "ours empties the file, theirs edits",
		base: "a\nb\n", ours: "", theirs: "a\nB\n",
		want: "<<<<<<< O\n=======\na\nB\n>>>>>>> T\n",
	},
	{
		name: "whitespace-only lines are significant",
		base: "a\n \nb\n", ours: "a\n\t\nb\n", theirs: "a\n  \nb\n",
		want: "a\n<<<<<<< O\n\t\n=======\n  \n>>>>>>> T\nb\n",
	},
	{
		name: "whitespace-only change merges with distant edit",
		base: "a\n\nb\nc\nd\n", ours: "a\n \nb\nc\nd\n", theirs: "a\n\nb\nc\nD\n",
		clean: true, want: "a\n \nb\nc\nD\n",
	},
	{
		name: "zealous refinement keeps common lines out of the conflict",
		base: "a\nb\nc\n", ours: "a\nX\nY\nZ\nc\n", theirs: "a\nX\nQ\nZ\nc\n",
		want: "a\nX\n<<<<<<< O\nY\n=======\nQ\n>>>>>>> T\nZ\nc\n",
		conflicts: []Conflict{{
			Base: Range{2, 1}, Ours: Range{3, 1}, Theirs: Range{3, 1},
			BaseText: []byte("b\n"), OursText: []byte("Y\n"), TheirsText: []byte("Q\n"),
		}},
	},
	{
		name: "overlapping changes that are identical after refinement",
		base: "a\nb\nc\nd\n", ours: "a\nX\nY\nd\n", theirs: "a\nX\nY\nd\n",
		clean: true, want: "a\nX\nY\nd\n",
	},
	{
		name: "CRLF lines and CRLF markers",
		base: "a\r\nb\r\nc\r\n", ours: "a\r\nO\r\nc\r\n", theirs: "a\r\nT\r\nc\r\n",
		want: "a\r\n<<<<<<< O\r\nO\r\n=======\r\nT\r\n>>>>>>> T\r\nc\r\n",
	},
	{
		name: "CRLF clean merge is byte-exact",
		base: "a\r\nb\r\nc\r\nd\r\n", ours: "A\r\nb\r\nc\r\nd\r\n", theirs: "a\r\nb\r\nc\r\nD\n",
		clean: true, want: "A\r\nb\r\nc\r\nD\n",
	},
}

func TestMerge3(t *testing.T) {
	opts := Options{OursLabel: "O", BaseLabel: "B", TheirsLabel: "T"}
	for _, tc := range mergeCases {
		t.Run(tc.name, func(t *testing.T) {
			r := Merge3([]byte(tc.base), []byte(tc.ours), []byte(tc.theirs), opts)
			if r.Clean != tc.clean {
				t.Errorf("Clean = %v, want %v", r.Clean, tc.clean)
			}
			if r.Clean != (len(r.Conflicts) == 0) {
				t.Errorf("Clean = %v but %d conflicts", r.Clean, len(r.Conflicts))
			}
			if string(r.Merged) != tc.want {
				t.Errorf("Merged =\n%q\nwant\n%q", r.Merged, tc.want)
			}
			if tc.conflicts != nil {
				if len(r.Conflicts) != len(tc.conflicts) {
					t.Fatalf("got %d conflicts %+v, want %d", len(r.Conflicts), r.Conflicts, len(tc.conflicts))
				}
				for i, c := range r.Conflicts {
					w := tc.conflicts[i]
					if c.Base != w.Base || c.Ours != w.Ours || c.Theirs != w.Theirs ||
						!bytes.Equal(c.BaseText, w.BaseText) || !bytes.Equal(c.OursText, w.OursText) ||
						!bytes.Equal(c.TheirsText, w.TheirsText) {
						t.Errorf("conflict %d = %+v\nwant %+v", i, c, w)
					}
				}
			}
		})
	}
}

// TestMerge3HandCasesAgreeWithGit double-checks the hand-written
// expectations against git itself.
func TestMerge3HandCasesAgreeWithGit(t *testing.T) {
	testkit.NeedGit(t)
	dir := t.TempDir()
	for _, tc := range mergeCases {
		out, n, err := gitMergeFile(dir, []byte(tc.base), []byte(tc.ours), []byte(tc.theirs))
		if err != nil {
			t.Fatal(err)
		}
		want := bytes.ReplaceAll(out, []byte("<<<<<<< OURS"), []byte("<<<<<<< O"))
		want = bytes.ReplaceAll(want, []byte(">>>>>>> THEIRS"), []byte(">>>>>>> T"))
		if string(want) != tc.want || (n == 0) != tc.clean {
			t.Errorf("%s: git says (clean=%v)\n%q\nhand-written expectation\n%q", tc.name, n == 0, want, tc.want)
		}
	}
}

func TestMerge3Styles(t *testing.T) {
	base := "a\nb\nc\nd\n"
	ours := "a\nX\nY\nd\n"
	theirs := "a\nX\nZ\nd\n"
	tests := []struct {
		opts Options
		want string
	}{
		{Options{Style: StyleDiff3, OursLabel: "O", BaseLabel: "B", TheirsLabel: "T"},
			"a\n<<<<<<< O\nX\nY\n||||||| B\nb\nc\n=======\nX\nZ\n>>>>>>> T\nd\n"},
		{Options{Style: StyleZealousDiff3, OursLabel: "O", BaseLabel: "B", TheirsLabel: "T"},
			"a\nX\n<<<<<<< O\nY\n||||||| B\nb\nc\n=======\nZ\n>>>>>>> T\nd\n"},
		{Options{MarkerSize: 3},
			"a\nX\n<<<\nY\n===\nZ\n>>>\nd\n"},
		{Options{Level: LevelEager},
			"a\n<<<<<<<\nX\nY\n=======\nX\nZ\n>>>>>>>\nd\n"},
	}
	for _, tt := range tests {
		r := Merge3([]byte(base), []byte(ours), []byte(theirs), tt.opts)
		if string(r.Merged) != tt.want || r.Clean {
			t.Errorf("opts %+v: got clean=%v\n%q\nwant\n%q", tt.opts, r.Clean, r.Merged, tt.want)
		}
	}
	// LevelMinimal makes even identical overlapping changes conflict.
	r := Merge3([]byte("a\nb\nc\n"), []byte("a\nX\nc\n"), []byte("a\nX\nc\n"), Options{Level: LevelMinimal})
	if r.Clean || len(r.Conflicts) != 1 {
		t.Errorf("LevelMinimal identical change: clean=%v conflicts=%d, want a conflict", r.Clean, len(r.Conflicts))
	}
}

func TestMerge3Levels(t *testing.T) {
	// Two conflicts separated by a short run of non-alphanumeric lines:
	// merge-file's level joins them, ll-merge's (the default) does not.
	base := "a\nb\n}\n}\n}\n}\nc\nd\n"
	ours := "a\nB1\n}\n}\n}\n}\nC1\nd\n"
	theirs := "a\nB2\n}\n}\n}\n}\nC2\nd\n"
	if r := Merge3([]byte(base), []byte(ours), []byte(theirs), Options{}); len(r.Conflicts) != 2 {
		t.Errorf("LevelZealous: %d conflicts, want 2", len(r.Conflicts))
	}
	r := Merge3([]byte(base), []byte(ours), []byte(theirs), Options{Level: LevelZealousAlnum})
	if len(r.Conflicts) != 1 {
		t.Fatalf("LevelZealousAlnum: %d conflicts, want 1", len(r.Conflicts))
	}
	c := r.Conflicts[0]
	if c.Ours != (Range{2, 6}) || c.Theirs != (Range{2, 6}) || c.Base != (Range{2, 6}) {
		t.Errorf("joined conflict ranges = %+v", c)
	}
}

func TestConflictClassifiers(t *testing.T) {
	r := Merge3([]byte("a\nb\nc\n"), []byte("a\nc\n"), []byte("a\nB\nc\n"), Options{})
	if len(r.Conflicts) != 1 || !r.Conflicts[0].OursDeleted() || r.Conflicts[0].TheirsDeleted() {
		t.Errorf("ours deletion not recognised: %+v", r.Conflicts)
	}
	r = Merge3([]byte("a\nb\nc\n"), []byte("a\nB\nc\n"), []byte("a\nc\n"), Options{})
	if len(r.Conflicts) != 1 || r.Conflicts[0].OursDeleted() || !r.Conflicts[0].TheirsDeleted() {
		t.Errorf("theirs deletion not recognised: %+v", r.Conflicts)
	}
}

func TestAlreadyApplied(t *testing.T) {
	base := "a\nb\nc\nd\ne\nf\n"
	tests := []struct {
		name, ours, theirs string
		want               bool
	}{
		{"same change", "a\nB\nc\nd\ne\nf\n", "a\nB\nc\nd\ne\nf\n", true},
		{"same change plus other ours edits", "a\nB\nc\nd\ne\nF\n", "a\nB\nc\nd\ne\nf\n", true},
		{"not applied", "a\nb\nc\nd\ne\nF\n", "a\nB\nc\nd\ne\nf\n", false},
		{"partially applied", "a\nB\nc\nd\ne\nf\n", "a\nB\nc\nd\nE\nf\n", false},
		{"conflicting", "a\nX\nc\nd\ne\nf\n", "a\nB\nc\nd\ne\nf\n", false},
		{"empty patch", "a\nX\nc\nd\ne\nf\n", base, true},
	}
	for _, tt := range tests {
		if got := AlreadyApplied([]byte(base), []byte(tt.ours), []byte(tt.theirs)); got != tt.want {
			t.Errorf("%s: AlreadyApplied = %v, want %v", tt.name, got, tt.want)
		}
	}
}
