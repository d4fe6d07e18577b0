package patchqueue

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/rtbot/rtbot/internal/testkit"
)

func hunk(oldStart, newStart int, lines ...string) *Hunk {
	h := &Hunk{OldStart: oldStart, NewStart: newStart}
	for _, l := range lines {
		text := l[1:]
		if !strings.HasSuffix(text, "$") {
			text += "\n"
		} else {
			text = strings.TrimSuffix(text, "$") // "$" marks a line without newline
		}
		h.Lines = append(h.Lines, Line{Op: l[0], Text: text})
	}
	h.OldLines, h.NewLines = len(h.Old()), len(h.New())
	return h
}

func TestApplyHunks(t *testing.T) {
	file := "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n"
	tests := []struct {
		name    string
		content string
		hunks   []*Hunk
		fuzz    int
		want    string // "" with ok=false expected when wantFail
		fail    bool
		offsets []int
		fuzzes  []int
	}{
		{name: "exact", content: file, hunks: []*Hunk{hunk(4, 4, " 4", "-5", "+five", " 6")},
			want: "1\n2\n3\n4\nfive\n6\n7\n8\n9\n10\n", offsets: []int{0}},
		{name: "offset forward", content: "0a\n0b\n" + file, hunks: []*Hunk{hunk(4, 4, " 4", "-5", "+five", " 6")},
			want: "0a\n0b\n1\n2\n3\n4\nfive\n6\n7\n8\n9\n10\n", offsets: []int{2}},
		{name: "offset backward", content: "3\n4\n5\n6\n7\n8\n9\n10\n", hunks: []*Hunk{hunk(4, 4, " 4", "-5", "+five", " 6")},
			want: "3\n4\nfive\n6\n7\n8\n9\n10\n", offsets: []int{-2}},
		{name: "two hunks, second sees first's line shift", content: file,
			hunks: []*Hunk{hunk(1, 1, "+0", " 1", " 2"), hunk(8, 9, " 8", "-9", " 10")},
			want:  "0\n1\n2\n3\n4\n5\n6\n7\n8\n10\n", offsets: []int{0, 0}},
		{name: "context changed fails", content: strings.Replace(file, "6\n", "six\n", 1), hunks: []*Hunk{hunk(4, 4, " 4", "-5", "+five", " 6")}, fail: true},
		{name: "context changed applies with fuzz 1", content: strings.Replace(file, "6\n", "six\n", 1), fuzz: 1,
			hunks: []*Hunk{hunk(3, 3, " 3", " 4", "-5", "+five", " 6")},
			want:  "1\n2\n3\n4\nfive\nsix\n7\n8\n9\n10\n", fuzzes: []int{1}, offsets: []int{0}},
		{name: "hunk at line 1 must match at the start", content: "x\n" + file, hunks: []*Hunk{hunk(1, 1, "-1", "+one", " 2", " 3")}, fail: true},
		{name: "hunk without trailing context must match at the end", content: file + "11\n", hunks: []*Hunk{hunk(9, 9, " 9", " 10", "+11")}, fail: true},
		{name: "append at end", content: file, hunks: []*Hunk{hunk(9, 9, " 9", " 10", "+11")}, want: file + "11\n", offsets: []int{0}},
		{name: "missing final newline kept", content: "a\nb\nc", hunks: []*Hunk{hunk(1, 1, "-a", "+A", " b", " c$")}, want: "A\nb\nc", offsets: []int{0}},
		{name: "no-newline line does not match a terminated one", content: "a\nb\nc\n", hunks: []*Hunk{hunk(1, 1, "-a", "+A", " b", " c$")}, fail: true},
		{name: "second hunk matches before the first", content: "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\n",
			hunks: []*Hunk{hunk(7, 7, " g", "-h", "+H", " i"), hunk(8, 8, " b", "-c", "+C", " d")},
			want:  "a\nb\nC\nd\ne\nf\ng\nH\ni\nj\n", offsets: []int{0, -6}},
		{name: "create into empty", content: "", hunks: []*Hunk{hunk(0, 1, "+new", "+file")}, want: "new\nfile\n", offsets: []int{0}},
		{name: "no trailing context anchors at the end", content: "x\nctx\nx\nctx\nx\n", hunks: []*Hunk{hunk(3, 3, " ctx", "-x", "+y")},
			want: "x\nctx\nx\nctx\ny\n", offsets: []int{1}},
		{name: "searches forward before backward", content: "c\nx\nq\nc\nx\nq\nc\nx\nq\n", hunks: []*Hunk{hunk(3, 3, " c", "-x", "+y", " q")},
			want: "c\nx\nq\nc\ny\nq\nc\nx\nq\n", offsets: []int{1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, res, ok := ApplyHunks(tc.content, tc.hunks, tc.fuzz)
			if ok == tc.fail {
				t.Fatalf("ok=%v, want %v (results %+v)", ok, !tc.fail, res)
			}
			if len(res) != len(tc.hunks) {
				t.Fatalf("%d results for %d hunks", len(res), len(tc.hunks))
			}
			if tc.fail {
				if !res[0].Failed {
					t.Errorf("failing hunk not marked: %+v", res)
				}
				return
			}
			if got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
			for i, off := range tc.offsets {
				if res[i].Offset != off {
					t.Errorf("hunk %d offset %d, want %d", i+1, res[i].Offset, off)
				}
			}
			for i, f := range tc.fuzzes {
				if res[i].Fuzz != f {
					t.Errorf("hunk %d fuzz %d, want %d", i+1, res[i].Fuzz, f)
				}
			}
		})
	}
}

func TestReverseHunksUndo(t *testing.T) {
	orig := "1\n2\n3\n4\n5\n6\n"
	hs := []*Hunk{hunk(2, 2, " 2", "-3", "-4", "+three", " 5")}
	out, _, ok := ApplyHunks(orig, hs, 0)
	if !ok {
		t.Fatal("forward apply failed")
	}
	back, _, ok := ApplyHunks(out, ReverseHunks(hs), 0)
	if !ok || back != orig {
		t.Fatalf("reverse gave %q ok=%v", back, ok)
	}
}

// FuzzApplyHunks checks that hunk application never panics and that a
// successful application of a diff made from (a, b) onto a yields b.
func FuzzApplyHunks(f *testing.F) {
	// Seeds from the real patch mails of internal/fixtures/mails: the old and
	// new side of each file's hunks, applied to a target with a line
	// changed near them.
	files := testkit.Glob(f, filepath.Join(testkit.MailsDir(), "*.eml"))
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		p := Parse(file, data, 1)
		for _, pf := range p.Files {
			for _, h := range pf.Hunks {
				a, b := strings.Join(h.Old(), ""), strings.Join(h.New(), "")
				f.Add(a, b, "/* stable */\n"+a)
			}
		}
	}
	f.Add("1\n2\n3\n4\n5\n", "1\n2\nthree\n4\n5\n", "0\n1\n2\n3\n4\n5\n")
	f.Add("a\nb", "a\nc", "a\nb")
	f.Add("", "new\n", "")
	f.Fuzz(func(t *testing.T, a, b, target string) {
		if len(a) > 4096 || len(b) > 4096 || len(target) > 4096 {
			return
		}
		hs := MakeHunks(a, b, 3)
		out, _, ok := ApplyHunks(a, hs, 0)
		if !ok || out != b {
			t.Fatalf("diff of a->b does not apply to a: ok=%v got %q want %q", ok, out, b)
		}
		for fz := 0; fz <= 2; fz++ {
			got, gres, gok := ApplyHunks(target, hs, fz) // must not panic
			want, wres, wok := applyHunksRef(target, hs, fz)
			if got != want || gok != wok || !reflect.DeepEqual(gres, wres) {
				t.Fatalf("fuzz %d: ApplyHunks gave %q %v %v, the reference %q %v %v", fz, got, gok, gres, want, wok, wres)
			}
		}
	})
}
