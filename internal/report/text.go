// Package report renders a triage report for people: a plain-text report
// meant to be read in a mail client, as a list mail is: no line wider
// than 72 columns (Width), long paths and names cut in the middle with
// "...", code excerpts cut at the end with "[...]".
package report

import (
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"

	"github.com/rtbot/rtbot/internal/triage"
)

// Options say who reads a report.
type Options struct {
	// FetchURL is the public URL of the repository the result branch
	// went to (a tree's public_url). With a branch, the report says how to
	// fetch it: "git fetch FetchURL BRANCH". It is shown whole, even when
	// it alone is wider than Width.
	FetchURL string
	// Public says the report is read on other machines (the mail): the
	// queue is named by its last element, never by its local path.
	Public bool
}

// Text writes the report as `rtbot merge` prints it: Render with no
// Options.
func Text(w io.Writer, r *triage.Report) error {
	return Render(w, r, Options{})
}

// Render writes the report: a summary, the counts by status, then one
// section per patch that needs a human, and finally the lists of patches
// that merged or were resolved and should be reviewed. No line is wider
// than Width, but for the FetchURL.
func Render(w io.Writer, r *triage.Report, o Options) error {
	var b strings.Builder
	writeSummary(&b, r, o)
	writeCounts(&b, r.Summary.ByStatus)
	for _, p := range r.Patches {
		if !p.Status.Clean() {
			writePatch(&b, p)
		}
	}
	writeMerged(&b, r.Patches)
	writeResolved(&b, r.Patches)
	_, err := io.WriteString(w, fit(b.String(), o.FetchURL))
	return err
}

// fit cuts every line of s wider than Width (cutEnd); each part of the
// report is laid out to fit already, so this only keeps the promise for
// what nothing foresaw. A line holding keep (the fetch URL) is left whole:
// a cut URL fetches nothing.
func fit(s, keep string) string {
	lines := strings.SplitAfter(s, "\n")
	for i, l := range lines {
		if keep != "" && strings.Contains(l, keep) {
			continue
		}
		if body, ok := strings.CutSuffix(l, "\n"); ok && Columns(body) > Width {
			lines[i] = cutEnd(body, Width) + "\n"
		} else if !ok && Columns(l) > Width {
			lines[i] = cutEnd(l, Width)
		}
	}
	return strings.Join(lines, "")
}

// writeSummary writes the report's first lines: what was rebased onto
// what with how many patches applied, the queue, the result, and how to
// fetch it.
func writeSummary(b *strings.Builder, r *triage.Report, o Options) {
	attention := "need attention"
	if r.Summary.Attention == 1 {
		attention = "needs attention"
	}
	b.WriteString(wrap(fmt.Sprintf("%s + %s: %d of %d applied, %d %s",
		r.Candidate.Name, queueName(r.Queue), r.Summary.Clean, r.Summary.Total, r.Summary.Attention, attention), Width, ""))
	queue := r.Queue
	if o.Public {
		queue = queueName(r.Queue)
	}
	made := "applied directly"
	if r.Base != nil {
		made = "made for " + r.Base.Name
	}
	if line := "queue: " + queue + ", " + made; Columns(line) <= Width {
		b.WriteString(line + "\n")
	} else {
		b.WriteString("queue: " + cutMiddle(queue, Width-len("queue: ")) + "\n")
		b.WriteString(wrap(made, Width, "       "))
	}
	result := "result: " + short(r.Result.Commit)
	if r.Result.Branch != "" {
		result += " on branch " + r.Result.Branch
	}
	b.WriteString(wrapHanging(result, Width, "", "        "))
	if o.FetchURL != "" && r.Result.Branch != "" {
		b.WriteString(FetchCommand(o.FetchURL, r.Result.Branch))
	}
	b.WriteString("\n")
}

// FetchCommand is "git fetch URL BRANCH" laid out for a report: indented
// on one line when it fits in Width, else with the branch on a line of
// its own, else (a URL too long to indent) each word on a line of its
// own; a shell reads every form as the same command.
func FetchCommand(url, branch string) string {
	if line := "  git fetch " + url + " " + branch; Columns(line) <= Width {
		return line + "\n"
	}
	if first := "  git fetch " + url + " \\"; Columns(first) <= Width && Columns("    "+branch) <= Width {
		return first + "\n    " + branch + "\n"
	}
	return "git fetch \\\n" + url + " \\\n" + branch + "\n"
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
	fmt.Fprintf(b, "\n%s\n", strings.Repeat("-", Width))
	fmt.Fprintf(b, "%04d %s\n", p.Index, cutMiddle(p.Name, Width-5))
	if p.Subject != "" {
		b.WriteString(wrap(p.Subject, Width, "     "))
	}
	fmt.Fprintf(b, "status: %s    action: %s\n", p.Status, p.Action)
	if p.Reason != "" {
		b.WriteString(wrap(p.Reason, Width, ""))
	}
	for _, f := range p.Files {
		if !f.Status.Clean() {
			writeFile(b, p, f)
		}
	}
	if p.BlockedBy != "" {
		b.WriteString("\n" + wrapHanging("blocked by: "+p.BlockedBy, Width, "  ", "    "))
	}
	if len(p.CausedBy) > 0 {
		b.WriteString("\n  caused by:\n")
		for _, c := range p.CausedBy {
			// "1a2b3c4d5e6f subject": the subject's lines under its start.
			b.WriteString(wrapHanging(c, Width, "    ", "    "+strings.Repeat(" ", 13)))
		}
	}
}

// writeFile writes a file of patch p in trouble: where and what, the
// detail (unless the patch's reason already says it), the hunks that do
// not apply and the conflicting regions, each side excerpted. A path too
// long for one line with its status gets a line of its own, cut in the
// middle when it is wider than that.
func writeFile(b *strings.Builder, p triage.PatchReport, f triage.FileReport) {
	what := string(f.Status)
	if f.Renamed != "" {
		what += " (renamed to " + f.Renamed + " in the candidate)"
	}
	if line := "  " + f.Path + where(f) + ": " + what; Columns(line) <= Width {
		b.WriteString("\n" + line + "\n")
	} else {
		b.WriteString("\n  " + cutMiddle(f.Path+where(f), Width-3) + ":\n")
		b.WriteString(wrap(what, Width, "    "))
	}
	if f.Detail != "" && !strings.HasPrefix(p.Reason, f.Path+": ") {
		b.WriteString(wrap(f.Detail, Width, "    "))
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
	writeProposal(b, f)
}

// maxProposalDiff is how many lines of a proposal's diff a report shows.
const maxProposalDiff = 40

// writeProposal writes the proposed refresh of a conflicting file, as
// what it changes in the patch (each line cut at Width), or why there is
// none.
func writeProposal(b *strings.Builder, f triage.FileReport) {
	if f.NoProposal != "" {
		b.WriteString(wrap("no proposed refresh: "+f.NoProposal, Width, "    "))
	}
	if f.Proposal == nil {
		return
	}
	rules := "rule "
	if len(f.Proposal.Rules) > 1 {
		rules = "rules "
	}
	b.WriteString(wrap("proposed refresh ("+rules+strings.Join(f.Proposal.Rules, ", ")+"), what it changes in the patch:", Width, "    "))
	diff := strings.Split(strings.TrimSuffix(f.Proposal.Diff, "\n"), "\n")
	for i, l := range diff {
		if i == maxProposalDiff {
			fmt.Fprintf(b, "    ... (%s)\n", Plural(len(diff)-maxProposalDiff, "more line", "more lines"))
			break
		}
		b.WriteString(cutEnd("    "+l, Width) + "\n")
	}
}

// writeMerged lists the patches that merged with a 3-way merge, for
// review.
func writeMerged(b *strings.Builder, patches []triage.PatchReport) {
	var merged []string
	for _, p := range patches {
		if p.Status == triage.Merged {
			merged = append(merged, fmt.Sprintf("  %04d %s", p.Index, cutMiddle(p.Name, Width-7)))
		}
	}
	if len(merged) > 0 {
		b.WriteString("\nMerged with a 3-way merge (clean, listed for review):\n")
		b.WriteString(strings.Join(merged, "\n") + "\n")
	}
}

// writeResolved lists the files a remembered resolution resolved, for
// review: each patch, and under it each file with where its resolution
// came from.
func writeResolved(b *strings.Builder, patches []triage.PatchReport) {
	var resolved strings.Builder
	for _, p := range patches {
		if p.Status != triage.Resolved {
			continue
		}
		fmt.Fprintf(&resolved, "  %04d %s\n", p.Index, cutMiddle(p.Name, Width-7))
		for _, f := range p.Files {
			if f.Status == triage.Resolved {
				resolved.WriteString(wrap(f.Path+", as "+f.Resolution, Width, "       "))
			}
		}
	}
	if resolved.Len() > 0 {
		b.WriteString("\n" + wrap("Resolved as a maintainer resolved the same conflict before (clean, listed for review):", Width, ""))
		b.WriteString(resolved.String())
	}
}

// maxExcerpt is how many lines of each side of a region a report shows.
const maxExcerpt = 12

// excerpt writes one side of a conflicting region under label: its first
// maxExcerpt lines as they are, each cut at Width with "[...]".
func excerpt(b *strings.Builder, label string, text []string) {
	fmt.Fprintf(b, "    --- %s\n", label)
	for i, l := range text {
		if i == maxExcerpt {
			fmt.Fprintf(b, "    | ... (%s)\n", Plural(len(text)-maxExcerpt, "more line", "more lines"))
			break
		}
		b.WriteString(cutEnd("    |"+strings.TrimRight(l, "\n"), Width) + "\n")
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
