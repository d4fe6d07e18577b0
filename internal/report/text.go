// Package report renders a triage report for people: a plain-text report
// meant to be read in a mail client, at most 72 columns of prose, with code
// excerpts as they are.
package report

import (
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"

	"github.com/rtbot/rtbot/internal/triage"
)

// Text writes the report: a summary line, the counts by status, then one
// section per patch that needs a human, and finally the list of patches that
// merged and should be reviewed.
func Text(w io.Writer, r *triage.Report) error {
	var b strings.Builder
	writeSummary(&b, r)
	writeCounts(&b, r.Summary.ByStatus)
	for _, p := range r.Patches {
		if !p.Status.Clean() {
			writePatch(&b, p)
		}
	}
	writeMerged(&b, r.Patches)
	writeResolved(&b, r.Patches)
	_, err := io.WriteString(w, b.String())
	return err
}

// writeSummary writes the report's first lines: what was rebased onto
// what with how many patches applied, the queue, and the result.
func writeSummary(b *strings.Builder, r *triage.Report) {
	fmt.Fprintf(b, "%s + %s: %d of %d applied, %d need attention\n",
		r.Candidate.Name, queueName(r.Queue), r.Summary.Clean, r.Summary.Total, r.Summary.Attention)
	if r.Base != nil {
		fmt.Fprintf(b, "queue: %s, made for %s\n", r.Queue, r.Base.Name)
	} else {
		fmt.Fprintf(b, "queue: %s, applied directly\n", r.Queue)
	}
	fmt.Fprintf(b, "result: %s", short(r.Result.Commit))
	if r.Result.Branch != "" {
		fmt.Fprintf(b, " on branch %s", r.Result.Branch)
	}
	b.WriteString("\n\n")
}

// writeCounts writes the number of patches of each status, the worst
// first.
func writeCounts(b *strings.Builder, byStatus map[triage.Status]int) {
	var keys []string
	for s := range byStatus {
		keys = append(keys, string(s))
	}
	sort.Slice(keys, func(i, j int) bool {
		return triage.Rank(triage.Status(keys[i])) < triage.Rank(triage.Status(keys[j]))
	})
	for _, k := range keys {
		fmt.Fprintf(b, "  %-16s %d\n", k, byStatus[triage.Status(k)])
	}
}

// writePatch writes the section of a patch that needs a human: its
// status, action and reason, each of its files in trouble, and what
// blocked or caused it.
func writePatch(b *strings.Builder, p triage.PatchReport) {
	fmt.Fprintf(b, "\n%s\n", strings.Repeat("-", 72))
	fmt.Fprintf(b, "%04d %s\n", p.Index, p.Name)
	if p.Subject != "" {
		fmt.Fprintf(b, "     %s\n", p.Subject)
	}
	fmt.Fprintf(b, "status: %s    action: %s\n", p.Status, p.Action)
	if p.Reason != "" {
		b.WriteString(wrap(p.Reason, 72))
	}
	for _, f := range p.Files {
		if !f.Status.Clean() {
			writeFile(b, p, f)
		}
	}
	if p.BlockedBy != "" {
		fmt.Fprintf(b, "\n  blocked by: %s\n", p.BlockedBy)
	}
	if len(p.CausedBy) > 0 {
		b.WriteString("\n  caused by:\n")
		for _, c := range p.CausedBy {
			fmt.Fprintf(b, "    %s\n", c)
		}
	}
}

// writeFile writes a file of patch p in trouble: where and what, the
// detail (unless the patch's reason already says it), the hunks that do
// not apply and the conflicting regions, each side excerpted.
func writeFile(b *strings.Builder, p triage.PatchReport, f triage.FileReport) {
	fmt.Fprintf(b, "\n  %s%s: %s", f.Path, where(f), f.Status)
	if f.Renamed != "" {
		fmt.Fprintf(b, " (renamed to %s in the candidate)", f.Renamed)
	}
	b.WriteString("\n")
	if f.Detail != "" && !strings.HasPrefix(p.Reason, f.Path+": ") {
		b.WriteString(indent(wrap(f.Detail, 68), "    "))
	}
	for _, h := range f.Hunks {
		if h.Failed && f.Status != triage.AlreadyApplied {
			fmt.Fprintf(b, "    hunk %d expected near line %d: does not apply\n", h.Index, h.At)
		}
	}
	for i, rg := range f.Regions {
		fmt.Fprintf(b, "    region %d\n", i+1)
		excerpt(b, "base, "+lines(rg.Base.Start, rg.Base.Count), rg.BaseText)
		excerpt(b, "candidate, "+lines(rg.Candidate.Start, rg.Candidate.Count), rg.CandText)
		excerpt(b, "RT patch, "+lines(rg.Patch.Start, rg.Patch.Count), rg.PatchText)
	}
}

// writeMerged lists the patches that merged with a 3-way merge, for
// review.
func writeMerged(b *strings.Builder, patches []triage.PatchReport) {
	var merged []string
	for _, p := range patches {
		if p.Status == triage.Merged {
			merged = append(merged, fmt.Sprintf("  %04d %s", p.Index, p.Name))
		}
	}
	if len(merged) > 0 {
		b.WriteString("\nMerged with a 3-way merge (clean, listed for review):\n")
		b.WriteString(strings.Join(merged, "\n") + "\n")
	}
}

// writeResolved lists the files a remembered resolution resolved, for
// review.
func writeResolved(b *strings.Builder, patches []triage.PatchReport) {
	var resolved []string
	for _, p := range patches {
		if p.Status != triage.Resolved {
			continue
		}
		for _, f := range p.Files {
			if f.Status == triage.Resolved {
				resolved = append(resolved, fmt.Sprintf("  %04d %s: %s, as %s", p.Index, p.Name, f.Path, f.Resolution))
			}
		}
	}
	if len(resolved) > 0 {
		b.WriteString("\nResolved as a maintainer resolved the same conflict before (clean, listed for review):\n")
		b.WriteString(strings.Join(resolved, "\n") + "\n")
	}
}

const maxExcerpt = 12

func excerpt(b *strings.Builder, label string, text []string) {
	fmt.Fprintf(b, "    --- %s\n", label)
	for i, l := range text {
		if i == maxExcerpt {
			fmt.Fprintf(b, "    | ... (%d more lines)\n", len(text)-maxExcerpt)
			break
		}
		fmt.Fprintf(b, "    |%s\n", strings.TrimRight(l, "\n"))
	}
}

func lines(start, count int) string {
	if count == 0 {
		return fmt.Sprintf("(none, before line %d)", start)
	}
	if count == 1 {
		return fmt.Sprintf("line %d", start)
	}
	return fmt.Sprintf("lines %d-%d", start, start+count-1)
}

// queueName shortens a queue path to its last element for the summary line.
func queueName(q string) string {
	if strings.Contains(q, "..") && !strings.Contains(q, "/") {
		return q // a git range
	}
	return filepath.Base(strings.TrimRight(q, "/"))
}

func short(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

// where is ":LINE" for the place in the candidate a file's trouble is, or
// "" when there is none (a missing file).
func where(f triage.FileReport) string {
	if len(f.Regions) > 0 {
		return fmt.Sprintf(":%d", max(f.Regions[0].Candidate.Start, 1))
	}
	for _, h := range f.Hunks {
		if h.Failed || f.Status == triage.Fuzz && h.Fuzz > 0 {
			return fmt.Sprintf(":%d", max(h.At, 1))
		}
	}
	return ""
}

// indent prefixes every line of s.
func indent(s, prefix string) string {
	var b strings.Builder
	for _, l := range strings.SplitAfter(s, "\n") {
		if l != "" {
			b.WriteString(prefix + l)
		}
	}
	return b.String()
}

// wrap folds prose to width columns.
func wrap(s string, width int) string {
	var b strings.Builder
	col := 0
	for _, w := range strings.Fields(s) {
		if col > 0 && col+1+len(w) > width {
			b.WriteString("\n")
			col = 0
		} else if col > 0 {
			b.WriteString(" ")
			col++
		}
		b.WriteString(w)
		col += len(w)
	}
	if col > 0 {
		b.WriteString("\n")
	}
	return b.String()
}
