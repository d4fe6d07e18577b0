package merger

import (
	"strings"
	"testing"

	"github.com/rtbot/rtbot/internal/textmerge"
)

// lines is text with one line per element, each ended with "\n".
func lines(l ...string) string {
	if len(l) == 0 {
		return ""
	}
	return strings.Join(l, "\n") + "\n"
}

// conflictOf is the FileResult the merger records for the 3-way merge of
// base, cand and patch, which must conflict.
func conflictOf(t *testing.T, base, cand, patch string) *FileResult {
	t.Helper()
	m := textmerge.Merge3([]byte(base), []byte(cand), []byte(patch), textmerge.Options{})
	if m.Clean {
		t.Fatalf("the merge is clean, the test needs a conflict:\n%s", m.Merged)
	}
	return &FileResult{Path: "f.c", Outcome: Conflict, Conflicted: m.Merged, Regions: regions(m.Conflicts)}
}

func TestProposeFile(t *testing.T) {
	head := []string{"int f(void)", "{", "\tint a;", "", "\ta = 1;"}
	tail := []string{"\treturn a;", "}", "", "int g(void)", "{", "\treturn 0;", "}"}
	with := func(mid ...string) string {
		return lines(append(append(append([]string{}, head...), mid...), tail...)...)
	}
	base := with("\tdo_it(a);")
	tests := []struct {
		name        string
		cand, patch string
		want        string // "" for no proposal
		rules       string
		why         string // part of why there is none
	}{{
		// 6.1.177's fault.c: stable and the RT patch both insert after
		// the same line; the candidate's block comes first.
		name:  "both insert at the same place",
		cand:  with("\tdo_it(a);", "\tif (a)", "\t\tharden();"),
		patch: with("\tdo_it(a);", "\tif (irqs(a))", "\t\tirq_enable();"),
		want:  with("\tdo_it(a);", "\tif (a)", "\t\tharden();", "\tif (irqs(a))", "\t\tirq_enable();"),
		rules: "both-insert",
	}, {
		name:  "candidate edits a context line, patch inserts after it",
		cand:  with("\tdo_it(a, 0);"),
		patch: with("\tdo_it(a);", "\tmight_sleep();"),
		want:  with("\tdo_it(a, 0);", "\tmight_sleep();"),
		rules: "context-edit",
	}, {
		name:  "candidate edits a context line, patch inserts before it",
		cand:  with("\tdo_it(a, 0);"),
		patch: with("\tmight_sleep();", "\tdo_it(a);"),
		want:  with("\tmight_sleep();", "\tdo_it(a, 0);"),
		rules: "context-edit",
	}, {
		name:  "overlapping edits of the same line",
		cand:  with("\tdo_it(a, 0);"),
		patch: with("\tdo_it_rt(a);"),
		why:   "both the candidate and the patch change the same lines",
	}, {
		name:  "candidate deletes what the patch edits",
		cand:  with(),
		patch: with("\tdo_it_rt(a);"),
		why:   "the candidate deletes lines the patch changes",
	}, {
		name:  "patch deletes what the candidate edits",
		cand:  with("\tdo_it(a, 0);"),
		patch: with(),
		why:   "the patch deletes lines the candidate changes",
	}, {
		name:  "edits on both sides of the same context line",
		cand:  with("\tdo_it(a, 0);"),
		patch: with("\tlock();", "\tdo_it(a);", "\tunlock();"),
		why:   "the patch adds lines on both sides of lines the candidate changes",
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := conflictOf(t, base, tc.cand, tc.patch)
			p, why := ProposeFile(f)
			if tc.want == "" {
				if p != nil {
					t.Fatalf("proposal %q, want none", p.Text)
				}
				if !strings.Contains(why, tc.why) {
					t.Fatalf("why = %q, want it to say %q", why, tc.why)
				}
				return
			}
			if p == nil {
				t.Fatalf("no proposal: %s", why)
			}
			if p.Text != tc.want {
				t.Errorf("proposal:\n%s\nwant:\n%s", p.Text, tc.want)
			}
			if got := strings.Join(p.Rules, ","); got != tc.rules {
				t.Errorf("rules = %s, want %s", got, tc.rules)
			}
		})
	}
}

func TestProposeFileAllRegions(t *testing.T) {
	// Two regions: one of a known shape, one not. The file gets no
	// proposal: half a refresh is a guess.
	base := lines("a", "b", "c", "d", "e", "f", "g", "h", "i")
	cand := lines("a", "B1", "c", "d", "e", "f", "g", "H1", "i")
	patch := lines("a", "b", "x", "c", "d", "e", "f", "g", "H2", "i")
	p, why := ProposeFile(conflictOf(t, base, cand, patch))
	if p != nil || !strings.HasPrefix(why, "region 2: ") {
		t.Fatalf("proposal %v, why %q; want none for region 2", p, why)
	}
}

func TestProposeRegionNoFinalNewline(t *testing.T) {
	if l, _, _ := ProposeRegion(nil, []string{"x"}, []string{"y\n"}); l != nil {
		t.Fatalf("proposal %q after a line without a line end", l)
	}
}

func TestTrailer(t *testing.T) {
	if got := Trailer([]string{"both-insert"}); got != "Proposed-by: rtbot (rule: both-insert)" {
		t.Errorf("Trailer = %q", got)
	}
	if got := Trailer([]string{"both-insert", "context-edit", "both-insert"}); got != "Proposed-by: rtbot (rules: both-insert, context-edit)" {
		t.Errorf("Trailer = %q", got)
	}
	for msg, want := range map[string]string{
		"subject\n":                         "subject\n\nT: x\n",
		"subject\n\nbody\n":                 "subject\n\nbody\n\nT: x\n",
		"subject\n\nSigned-off-by: a <b>\n": "subject\n\nSigned-off-by: a <b>\nT: x\n",
	} {
		if got := withTrailer(msg, "T: x"); got != want {
			t.Errorf("withTrailer(%q) = %q, want %q", msg, got, want)
		}
	}
}
