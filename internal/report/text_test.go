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
	longPath := "drivers/net/ethernet/mellanox/mlx5/core/steering/dr_ste_v1_extremely_long_name.c"
	r := &triage.Report{
		Candidate: triage.Rev{Name: "v6.1.177-rc1"},
		Base:      &triage.Rev{Name: "v6.1.176"},
		Queue:     "/srv/rtbot/queues/debian/linux/6.1.176-1/debian/patches-rt/6.1.176-rt64",
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
			{Index: 4, Name: "0004-debugobjects-locking-Annotate-debug_object_fill_pool-wait-type-violation.patch",
				Subject: "debugobjects,locking: Annotate debug_object_fill_pool() wait type violation",
				Status:  triage.MissingFile, Action: triage.Refresh, Reason: longPath + ": the file is gone in the candidate",
				CausedBy: []string{"ae198021a8f1 net/mlx5: DR, move all the steering code of every device generation into one single file"},
				Files:    []triage.FileReport{{Path: longPath, Status: triage.MissingFile, Renamed: longPath + ".orig"}}},
			{Index: 5, Name: "0005-long-lines.patch", Subject: "x86: long lines", Status: triage.Conflict, Action: triage.Refresh,
				Files: []triage.FileReport{{Path: "arch/x86/kvm/vmx/vmx.c", Status: triage.Conflict, Detail: "upstream and the patch change the same lines",
					Regions: []merger.Region{{Base: merger.LineRange{Start: 10, Count: 1}, Candidate: merger.LineRange{Start: 10, Count: 1}, Patch: merger.LineRange{Start: 10, Count: 1},
						BaseText:  []string{"__attribute__((regparm(0))) void vmread_error_trampoline(unsigned long field, bool fault);\n"},
						CandText:  []string{"\t\t\t/* regparm(0) overrides -mregparm=3 so args are stack-passed, matching asm callers */\n"},
						PatchText: []string{"short\n"}}}}}},
			{Index: 6, Name: "0006-resolved.patch", Status: triage.Resolved,
				Files: []triage.FileReport{{Path: longPath, Status: triage.Resolved, Resolution: "remembered from run 12 (rtbot/6.1-rt/6.1.176-rc1-partial)"}}},
			{Index: 7, Name: "0007-blocked.patch", Status: triage.Blocked, Action: triage.None, BlockedBy: "0004-debugobjects-locking-Annotate-debug_object_fill_pool-wait-type-violation.patch"},
		},
	}
	r.Summary = triage.Summarise(r.Patches)
	for _, tc := range []struct {
		golden string
		opts   Options
		want   []string
		not    []string
	}{
		{"text-report.golden", Options{}, []string{"queue: /srv/rtbot/queues/debian/linux/.../debian/patches-rt/6.1.176-rt64\n       made for v6.1.176\n",
			"result: 0123456789ab on branch rtbot/6.1.177-rc1\n"}, []string{"git fetch"}},
		{"text-report-public.golden", Options{FetchURL: "https://git.example.org/rt/linux-stable-rt.git", Public: true},
			[]string{"queue: 6.1.176-rt64, made for v6.1.176",
				"  git fetch https://git.example.org/rt/linux-stable-rt.git \\\n    rtbot/6.1.177-rc1\n"},
			[]string{"/srv/rtbot"}},
	} {
		t.Run(tc.golden, func(t *testing.T) {
			var b strings.Builder
			if err := Render(&b, r, tc.opts); err != nil {
				t.Fatal(err)
			}
			out := b.String()
			first, _, _ := strings.Cut(out, "\n")
			if first != "v6.1.177-rc1 + 6.1.176-rt64: 3 of 7 applied, 4 need attention" {
				t.Errorf("summary line %q", first)
			}
			for _, w := range append(tc.want, "0003 0003-bad.patch", "status: conflict    action: refresh", "arch/arm/mm/fault.c:530: conflict",
				"hunk 2 expected near line 526", "--- base, line 526", "--- candidate, lines 530-559", "--- RT patch, (none, before line 526)", "made for v6.1.176",
				"|\told();", "... (18 more lines)", "caused by:", "1a2b3c4d5e6f ARM: fix", "Merged with a 3-way merge", "0002 0002-merged.patch",
				"on branch rtbot/6.1.177-rc1", "0004 0004-debugobjects-locking-Annota...l_pool-wait-type-violation.patch",
				"  drivers/net/ethernet/mellanox/mlx...g/dr_ste_v1_extremely_long_name.c:\n    missing-file (renamed to\n",
				"    |__attribute__((regparm(0))) void vmread_error_trampoline(unsi [...]\n",
				"    |\t\t\t/* regparm(0) overrides -mregparm=3 so arg [...]\n",
				"    ae198021a8f1 net/mlx5: DR, move all the steering code of every\n                 device generation",
				"blocked by:", "  0006 0006-resolved.patch\n       drivers/net/ethernet/mellanox/m...r_ste_v1_extremely_long_name.c,\n       as remembered from run 12") {
				if !strings.Contains(out, w) {
					t.Errorf("report lacks %q:\n%s", w, out)
				}
			}
			for _, w := range append(tc.not, "0001-ok.patch", "(s)") {
				if strings.Contains(out, w) {
					t.Errorf("report has %q:\n%s", w, out)
				}
			}
			for _, l := range strings.Split(out, "\n") {
				if Columns(l) > Width {
					t.Errorf("line over %d columns: %q", Width, l)
				}
			}
			// The whole report, as the mail carries it: nothing here varies.
			testkit.Golden(t, filepath.Join("testdata", tc.golden), []byte(out))
		})
	}
}

// TestTextNeedsAttention: the summary line agrees in number.
func TestTextNeedsAttention(t *testing.T) {
	r := &triage.Report{Candidate: triage.Rev{Name: "v6.1.12"}, Queue: "q", Patches: []triage.PatchReport{
		{Index: 1, Name: "a", Status: triage.Applied}, {Index: 2, Name: "b", Status: triage.Conflict}}}
	r.Summary = triage.Summarise(r.Patches)
	var b strings.Builder
	if err := Text(&b, r); err != nil {
		t.Fatal(err)
	}
	if first, _, _ := strings.Cut(b.String(), "\n"); first != "v6.1.12 + q: 1 of 2 applied, 1 needs attention" {
		t.Errorf("summary line %q", first)
	}
}
