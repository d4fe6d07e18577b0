package report

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/rtbot/rtbot/internal/merger"
	"github.com/rtbot/rtbot/internal/patchqueue"
	"github.com/rtbot/rtbot/internal/testkit"
	"github.com/rtbot/rtbot/internal/triage"
)

func TestTextReport(t *testing.T) {
	long := strings.Repeat("lorem ipsum dolor sit amet consectetur ", 10)
	var many []string
	for i := 0; i < 30; i++ {
		many = append(many, "\tline();\n")
	}
	r := &triage.Report{
		Candidate: triage.Rev{Name: "v6.1.177-rc1"},
		Base:      &triage.Rev{Name: "v6.1.176"},
		Queue:     "6.1.176-rt64",
		Result:    triage.ResultRef{Commit: "0123456789abcdef0123456789abcdef01234567", Branch: "rtbot/6.1.177-rc1"},
		Patches: []triage.PatchReport{
			{Index: 1, Name: "0001-ok.patch", Status: triage.Applied},
			{Index: 2, Name: "0002-merged.patch", Status: triage.Merged},
			{Index: 3, Name: "0003-bad.patch", Subject: "sched: thing", Status: triage.Conflict, Action: triage.Refresh, Reason: long,
				CausedBy: []string{"1a2b3c4d5e6f ARM: fix branch predictor hardening"},
				Files: []triage.FileReport{{Path: "arch/arm/mm/fault.c", Status: triage.Conflict,
					Hunks: []patchqueue.HunkResult{{Index: 2, Failed: true, At: 526}},
					Regions: []merger.Region{{Base: merger.LineRange{Start: 526, Count: 1}, Candidate: merger.LineRange{Start: 530, Count: 30}, Patch: merger.LineRange{Start: 526, Count: 0},
						BaseText: []string{"\told();\n"}, CandText: many}}}}},
		},
	}
	r.Summary = triage.Summarise(r.Patches)
	var b strings.Builder
	if err := Text(&b, r); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	first, _, _ := strings.Cut(out, "\n")
	if first != "v6.1.177-rc1 + 6.1.176-rt64: 2 of 3 applied, 1 need attention" {
		t.Errorf("summary line %q", first)
	}
	for _, w := range []string{"0003 0003-bad.patch", "status: conflict    action: refresh", "arch/arm/mm/fault.c:530: conflict",
		"hunk 2 expected near line 526", "--- base, line 526", "--- candidate, lines 530-559", "--- RT patch, (none, before line 526)", "made for v6.1.176",
		"|\told();", "... (18 more lines)", "caused by:", "1a2b3c4d5e6f ARM: fix", "Merged with a 3-way merge", "0002 0002-merged.patch", "on branch rtbot/6.1.177-rc1"} {
		if !strings.Contains(out, w) {
			t.Errorf("report lacks %q:\n%s", w, out)
		}
	}
	if strings.Contains(out, "0001-ok.patch") {
		t.Error("a clean patch got a section")
	}
	for _, l := range strings.Split(out, "\n") {
		if !strings.HasPrefix(l, "    |") && len(l) > 72 {
			t.Errorf("prose line over 72 columns: %q", l)
		}
	}
	// The whole report, as the mail carries it: nothing here varies.
	testkit.Golden(t, filepath.Join("testdata", "text-report.golden"), []byte(out))
}
