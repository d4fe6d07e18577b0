package pipeline

import (
	"fmt"
	"strings"

	"github.com/rtbot/rtbot/internal/config"
	"github.com/rtbot/rtbot/internal/mailout"
	"github.com/rtbot/rtbot/internal/report"
	"github.com/rtbot/rtbot/internal/state"
	"github.com/rtbot/rtbot/internal/triage"
)

// reportMail composes the triage report mail: what was rebased onto what,
// where what did apply is, what the maintainers are to do, then the
// report itself (report.Render). It is read on the list: no line wider
// than report.Width, no local path, no URL with credentials; the pushed
// branch is named with the command that fetches it from the tree's
// public_url.
func (p *Pipeline) reportMail(a state.Announcement, t config.Tree, triageReport *triage.Report, runReport *RunReport, id string) (*mailout.Message, error) {
	var b strings.Builder
	b.WriteString(report.Wrap(reportOpening(a, t, triageReport, runReport)))
	if runReport.Branch != "" {
		b.WriteString(report.Wrap(branchSentence(triageReport, runReport)))
	}
	b.WriteString(toDo(triageReport, runReport.Pushed != "", runReport.RunID))
	b.WriteString("\n")
	if err := report.Render(&b, triageReport, reportOptions(t, runReport)); err != nil {
		return nil, err
	}
	fmt.Fprintf(&b, "\n-- \nrtbot, run %d. Reply to the maintainers, not to this address.\n", runReport.RunID)
	return p.runMail(a, t, id, reportSubject(a, t, triageReport), b.String()), nil
}

// reportSubject is "[rtbot] TREE on CANDIDATE: N of M patches need
// attention", in the right number, or "...: all M patches applied".
func reportSubject(a state.Announcement, t config.Tree, r *triage.Report) string {
	if r.Summary.Attention == 0 {
		return fmt.Sprintf("[rtbot] %s on %s: all %s applied", t.Name, candName(a.Version, a.RC), report.Plural(r.Summary.Total, "patch", "patches"))
	}
	return fmt.Sprintf("[rtbot] %s on %s: %d of %s %s attention", t.Name, candName(a.Version, a.RC),
		r.Summary.Attention, report.Plural(r.Summary.Total, "patch", "patches"), agree(r.Summary.Attention, "needs", "need"))
}

// reportOpening is the report's first paragraph: the tree, the candidate
// (by its branch and commit; the announcement the mail answers names the
// repository) and how many patches need a human.
func reportOpening(a state.Announcement, t config.Tree, r *triage.Report, runReport *RunReport) string {
	where := fmt.Sprintf("commit %.12s", runReport.Commit)
	if a.Kind != KindManual && t.CandidateBranch != "" {
		where = fmt.Sprintf("%s at %.12s", t.CandidateBranch, runReport.Commit)
	}
	if r.Summary.Attention == 0 {
		return fmt.Sprintf("rtbot rebased the %s RT queue onto %s (%s): all of its %s applied.",
			t.Name, candName(a.Version, a.RC), where, report.Plural(r.Summary.Total, "patch", "patches"))
	}
	return fmt.Sprintf("rtbot rebased the %s RT queue onto %s (%s): %d of %s %s a human; the rest applied.",
		t.Name, candName(a.Version, a.RC), where, r.Summary.Attention, report.Plural(r.Summary.Total, "patch", "patches"),
		agree(r.Summary.Attention, "needs", "need"))
}

// branchSentence says where the result is: pushed, kept back (and why),
// or only in rtbot's repository.
func branchSentence(r *triage.Report, runReport *RunReport) string {
	what := "What did apply"
	if r.Summary.Attention == 0 {
		what = "The result"
	}
	switch {
	case runReport.Pushed != "":
		return fmt.Sprintf("%s was pushed as branch %s (commit %.12s).", what, runReport.Branch, runReport.Result)
	case runReport.NotPushed != "":
		return fmt.Sprintf("%s is on branch %s (commit %.12s), not pushed: %s.", what, runReport.Branch, runReport.Result, runReport.NotPushed)
	}
	return fmt.Sprintf("%s is on branch %s (commit %.12s) in rtbot's repository; it was not pushed.", what, runReport.Branch, runReport.Result)
}

// reportOptions renders the report for the list: the queue by its name,
// and the fetch command when the branch was pushed and the tree has a
// public_url.
func reportOptions(t config.Tree, runReport *RunReport) report.Options {
	o := report.Options{Public: true}
	if runReport.Pushed != "" {
		o.FetchURL = t.PublicURL
	}
	return o
}

// agree is one when n is 1, many otherwise: the verb agreeing with n.
func agree(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// chore is one line of the report's to-do list: what to do with the
// patches of some statuses, worded for one patch and for several.
type chore struct {
	statuses  []triage.Status
	one, many string // "%s" is "1 patch (conflict)", "2 patches (conflict, missing-file)"
	// proposed: the item is for the patches with a proposed refresh
	// (review); the other items are for those without one.
	proposed bool
}

// chores are the to-do items in the order a maintainer does them; the
// refresh item depends on whether the partial branch was pushed (a fix
// pushed onto it teaches rtbot the resolution).
func chores(pushed bool) []chore {
	refresh := chore{statuses: []triage.Status{triage.Conflict, triage.MissingFile},
		one:  "Refresh %s in the queue: it no longer applies to the candidate.",
		many: "Refresh %s in the queue: they no longer apply to the candidate."}
	if pushed {
		refresh.one = "Refresh %s: git am -3 it on top of the branch, resolve the conflict and push the branch back; rtbot learns the resolution and reuses it on the next candidate with the same conflict."
		refresh.many = "Refresh %s: git am -3 each on top of the branch, resolve the conflicts and push the branch back; rtbot learns the resolutions and reuses them on the next candidates with the same conflicts."
	}
	return []chore{
		{statuses: []triage.Status{triage.Malformed}, one: "Fix %s in the queue: it cannot be parsed.", many: "Fix %s in the queue: they cannot be parsed."},
		{statuses: []triage.Status{triage.Conflict}, proposed: true,
			one:  "Review %s: rtbot proposes a refresh (below). Accept it with rtbot resolve --run RUN --accept all, or refresh it by hand.",
			many: "Review %s: rtbot proposes refreshes (below). Accept them with rtbot resolve --run RUN --accept all (or name one), or refresh them by hand."},
		refresh,
		{statuses: []triage.Status{triage.AlreadyApplied}, one: "Drop %s from the queue: the candidate already has its change.",
			many: "Drop %s from the queue: the candidate already has their changes."},
		{statuses: []triage.Status{triage.Superseded}, one: "Drop %s from the queue once you have confirmed that upstream's rewrite of its lines makes it unneeded.",
			many: "Drop %s from the queue once you have confirmed that upstream's rewrite of their lines makes them unneeded."},
		{statuses: []triage.Status{triage.Fuzz}, one: "Review %s: it applied only with reduced context.", many: "Review %s: they applied only with reduced context."},
		{statuses: []triage.Status{triage.Blocked}, one: "Nothing to do for %s: it waits for an earlier patch, and applies once that one is fixed.",
			many: "Nothing to do for %s: they wait for earlier patches, and apply once those are fixed."},
	}
}

// toDo is the list of what the maintainers are to do, only the items
// some patch needs, each saying how many patches of which statuses.
func toDo(r *triage.Report, pushed bool, runID int64) string {
	var b strings.Builder
	for _, c := range chores(pushed) {
		n, names := 0, []string{}
		for _, s := range c.statuses {
			if k := undone(r, s, c.proposed); k > 0 {
				n += k
				names = append(names, string(s))
			}
		}
		if n == 0 {
			continue
		}
		what := fmt.Sprintf("%s (%s)", report.Plural(n, "patch", "patches"), strings.Join(names, ", "))
		text := c.many
		if n == 1 {
			text = c.one
		}
		text = strings.ReplaceAll(text, "RUN", fmt.Sprint(runID))
		b.WriteString(report.WrapHanging(fmt.Sprintf(text, what), "- ", "  "))
	}
	if b.Len() == 0 {
		return ""
	}
	return "\nWhat to do:\n" + b.String()
}

// undone counts the patches of status s that wait for a maintainer (not
// those --drop-applied already left out), with a proposed refresh or
// without one as proposed says.
func undone(r *triage.Report, s triage.Status, proposed bool) int {
	n := 0
	for _, p := range r.Patches {
		if p.Status == s && !p.Dropped && (p.Proposal != nil) == proposed {
			n++
		}
	}
	return n
}
