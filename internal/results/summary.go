package results

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/rtbot/rtbot/internal/report"
)

// Tolerance is how far a latency figure may rise over the previous run's
// before it is a regression: a rise is a regression when it is more than
// Percent of the previous figure AND more than Micros microseconds (so a
// 3 µs jitter on a 12 µs maximum is not one). A zero bound does not
// count.
type Tolerance struct {
	Percent float64
	Micros  float64
}

// Exceeded reports whether cur rose over prev by more than t.
func (t Tolerance) Exceeded(prev, cur float64) bool {
	rise := cur - prev
	if rise <= 0 {
		return false
	}
	return rise > prev*t.Percent/100 && rise > t.Micros
}

// LatencyRow compares one latency test on one machine with the previous
// run's.
type LatencyRow struct {
	Machine   string
	Path      string
	Cur       Latency
	Prev      *Latency // nil: the previous run has no such test
	Regressed []string // what rose beyond the tolerance: "max", "p99.9", "cpu3 max"
}

// Verdict is the one-word result of a run's tests.
type Verdict string

// The verdicts, worst first.
const (
	VerdictFailed     Verdict = "failed"     // a build or test failed
	VerdictRegressed  Verdict = "regressed"  // a latency figure rose beyond the tolerance
	VerdictIncomplete Verdict = "incomplete" // results are missing
	VerdictPassed     Verdict = "passed"     // complete, nothing failed or regressed
)

// Summary is what a run's results say.
type Summary struct {
	Builds, BuildsFailed int
	Tests, TestsFailed   int
	Failures             []Result // failed builds and tests, builds first
	Latency              []LatencyRow
	Missing              []string // sources whose results never came (trigger names)
	Verdict              Verdict
}

// Summarize summarizes cur, comparing its latency tests with prev (the
// previous clean run of the tree; nil when none) within tol; missing
// names the sources that did not deliver.
func Summarize(cur, prev []Result, missing []string, tol Tolerance) Summary {
	s := Summary{Missing: append([]string{}, missing...), Failures: []Result{}, Latency: []LatencyRow{}}
	sorted := append([]Result{}, cur...)
	sort.SliceStable(sorted, func(i, j int) bool {
		if sorted[i].Kind != sorted[j].Kind {
			return sorted[i].Kind == KindBuild
		}
		return sorted[i].Path < sorted[j].Path
	})
	for _, r := range sorted {
		switch r.Kind {
		case KindBuild:
			s.Builds++
			if r.Status.Failed() {
				s.BuildsFailed++
				s.Failures = append(s.Failures, r)
			}
		case KindTest:
			s.Tests++
			if r.Status.Failed() {
				s.TestsFailed++
				s.Failures = append(s.Failures, r)
			}
		}
	}
	s.Latency = compare(sorted, prev, tol)
	s.Verdict = verdict(s)
	return s
}

// verdict is the worst thing s says.
func verdict(s Summary) Verdict {
	switch {
	case len(s.Failures) > 0:
		return VerdictFailed
	}
	for _, row := range s.Latency {
		if len(row.Regressed) > 0 {
			return VerdictRegressed
		}
	}
	if len(s.Missing) > 0 || s.Builds+s.Tests == 0 {
		return VerdictIncomplete
	}
	return VerdictPassed
}

// compare pairs every latency test of cur with the same test path on the
// same machine in prev.
func compare(cur, prev []Result, tol Tolerance) []LatencyRow {
	before := map[[2]string]*Latency{}
	for _, r := range prev {
		if r.Kind == KindTest && r.Latency != nil {
			before[[2]string{r.Machine, r.Path}] = r.Latency
		}
	}
	rows := []LatencyRow{}
	for _, r := range cur {
		if r.Kind != KindTest || r.Latency == nil {
			continue
		}
		row := LatencyRow{Machine: r.Machine, Path: r.Path, Cur: *r.Latency, Prev: before[[2]string{r.Machine, r.Path}]}
		if p := row.Prev; p != nil {
			row.Regressed = regressions(*p, row.Cur, tol)
		}
		rows = append(rows, row)
	}
	sort.SliceStable(rows, func(i, j int) bool {
		if rows[i].Machine != rows[j].Machine {
			return rows[i].Machine < rows[j].Machine
		}
		return rows[i].Path < rows[j].Path
	})
	return rows
}

// regressions lists the figures of cur that rose beyond tol over prev.
func regressions(prev, cur Latency, tol Tolerance) []string {
	var out []string
	if tol.Exceeded(prev.MaxUS, cur.MaxUS) {
		out = append(out, "max")
	}
	if prev.P999US > 0 && tol.Exceeded(prev.P999US, cur.P999US) {
		out = append(out, "p99.9")
	}
	for i, v := range cur.PerCPUMaxUS {
		if i < len(prev.PerCPUMaxUS) && tol.Exceeded(prev.PerCPUMaxUS[i], v) {
			out = append(out, "cpu"+strconv.Itoa(i)+" max")
		}
	}
	return out
}

// Line is the one-line verdict of s, as the follow-up mail and `rtbot
// release` say it.
func (s Summary) Line() string {
	counts := report.Plural(s.Builds, "build", "builds") + " (" + strconv.Itoa(s.BuildsFailed) + " failed), " +
		report.Plural(s.Tests, "test", "tests") + " (" + strconv.Itoa(s.TestsFailed) + " failed)"
	switch s.Verdict {
	case VerdictFailed:
		return "FAILED: " + counts
	case VerdictRegressed:
		n := 0
		for _, row := range s.Latency {
			if len(row.Regressed) > 0 {
				n++
			}
		}
		return "LATENCY REGRESSION: " + report.Plural(n, "latency test", "latency tests") + " rose beyond the tolerance; " + counts
	case VerdictIncomplete:
		if len(s.Missing) == 0 {
			return "INCOMPLETE: no results arrived"
		}
		return "INCOMPLETE: no results from " + strings.Join(s.Missing, ", ") + "; " + counts
	}
	return "PASSED: " + counts
}

// Body is the body of the follow-up mail: the verdict, the counts, the
// failures with their logs, the latency table against prevLabel (the
// previous run, "6.1.176-rc1"; "" when there is none) and what is
// missing. Every line fits report.Width columns.
func (s Summary) Body(label, prevLabel string, tol Tolerance) string {
	var b strings.Builder
	b.WriteString(report.Wrap("Test results for " + label + ": " + s.Line() + "."))
	if len(s.Failures) > 0 {
		b.WriteString("\nFailed:\n")
		for _, r := range s.Failures {
			name := string(r.Kind) + " " + orID(r)
			if r.Machine != "" {
				name += " on " + r.Machine
			}
			b.WriteString(report.WrapHanging(name+": "+string(r.Status), "  ", "    "))
			if r.LogURL != "" {
				b.WriteString(report.WrapHanging("log: "+r.LogURL, "    ", "    "))
			}
		}
	}
	if len(s.Latency) > 0 {
		b.WriteString("\n")
		b.WriteString(latencyTable(s.Latency, label, prevLabel, tol))
	}
	if len(s.Missing) > 0 {
		b.WriteString("\n")
		b.WriteString(report.Wrap("Missing: no results from " + strings.Join(s.Missing, ", ") + " before the deadline."))
	}
	return b.String()
}

// orID is a result's path, or its id when it has none.
func orID(r Result) string {
	if r.Path != "" {
		return r.Path
	}
	return r.ID
}

// latencyTable is the latency comparison, one block per machine and test.
func latencyTable(rows []LatencyRow, label, prevLabel string, tol Tolerance) string {
	var b strings.Builder
	b.WriteString(report.Wrap(fmt.Sprintf("Latency in microseconds, %s against %s (tolerance %s %% and %s us):",
		label, orNone(prevLabel), num(tol.Percent), num(tol.Micros))))
	for _, row := range rows {
		b.WriteString(report.WrapHanging(row.Path+" on "+orNone(row.Machine), "  ", "    "))
		line := func(what string, cur float64, prev *float64) {
			s := fmt.Sprintf("    %-12s %10s", what, num(cur))
			if prev != nil {
				s += fmt.Sprintf("  was %10s  %s", num(*prev), change(*prev, cur))
			}
			b.WriteString(strings.TrimRight(s, " ") + "\n")
		}
		var pm, pp *float64
		if row.Prev != nil {
			pm, pp = &row.Prev.MaxUS, &row.Prev.P999US
		}
		line("max", row.Cur.MaxUS, pm)
		if row.Cur.P999US > 0 {
			line("p99.9", row.Cur.P999US, pp)
		}
		for i, v := range row.Cur.PerCPUMaxUS {
			var pc *float64
			if row.Prev != nil && i < len(row.Prev.PerCPUMaxUS) {
				pc = &row.Prev.PerCPUMaxUS[i]
			}
			line("cpu"+strconv.Itoa(i)+" max", v, pc)
		}
		if len(row.Regressed) > 0 {
			b.WriteString(report.WrapHanging("REGRESSED: "+strings.Join(row.Regressed, ", "), "    ", "    "))
		}
	}
	return b.String()
}

// change is the relative change from prev to cur, "+12.5%".
func change(prev, cur float64) string {
	if prev == 0 {
		return ""
	}
	return fmt.Sprintf("%+.1f%%", (cur-prev)/prev*100)
}

// num writes a figure without needless decimals.
func num(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// The defaults of the [results] keys.
const (
	DefaultDeadline         = 24 * time.Hour // results.deadline
	DefaultTolerancePercent = 10.0           // results.latency_tolerance_percent
	DefaultToleranceUS      = 5.0            // results.latency_tolerance_us
)
