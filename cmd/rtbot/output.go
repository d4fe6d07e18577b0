package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/rtbot/rtbot/internal/pipeline"
	"github.com/rtbot/rtbot/internal/report"
	"github.com/rtbot/rtbot/internal/state"
)

// printPass prints what one pass did, one line per new mail and per run.
func printPass(w io.Writer, pass *pipeline.Pass) {
	fmt.Fprintf(w, "scanned %s, %d new\n", report.Plural(pass.Scanned, "matching mail", "matching mails"), len(pass.New))
	for _, l := range pass.Learned {
		if l.Error != "" {
			fmt.Fprintf(w, "  fix      %.12s on %s (%s): not learnt: %s\n", l.Commit, l.Branch, l.Patch, l.Error)
		} else {
			fmt.Fprintf(w, "  fix      %.12s on %s (%s): learnt %s\n", l.Commit, l.Branch, l.Patch, strings.Join(l.Files, ", "))
			printIndentedText(w, "           ", l.Diff)
			for _, r := range l.Replaced {
				fmt.Fprintf(w, "           replacing, for %s\n", r)
			}
		}
	}
	for _, a := range pass.New {
		if a.Status == state.AnnouncementIgnored {
			fmt.Fprintf(w, "  ignored  <%s> %q: %s\n", a.MessageID, a.Subject, a.Reason)
		} else {
			fmt.Fprintf(w, "  new      <%s> %s from %s\n", a.MessageID, candidateName(a), a.From)
		}
	}
	for _, a := range pass.Retried {
		fmt.Fprintf(w, "  retried  <%s> %s, %s before (%s): its cause changed\n", a.MessageID, candidateName(a), a.Status, a.Reason)
	}
	printSettled(w, pass)
	for _, r := range pass.Runs {
		fmt.Fprintf(w, "run %d: %s on %s: %s", r.RunID, r.Tree, r.Candidate, r.Outcome)
		if r.Report != nil {
			fmt.Fprintf(w, " (%d patches, %d need attention)", r.Report.Summary.Total, r.Report.Summary.Attention)
		}
		fmt.Fprintln(w)
		if r.Branch != "" {
			fmt.Fprintf(w, "  branch   %s -> %.12s\n", r.Branch, r.Result)
		}
		if r.Pushed != "" {
			fmt.Fprintf(w, "  pushed   %s\n", r.Pushed)
		}
		if len(r.Triggers) > 0 {
			fmt.Fprintf(w, "  tested   %s\n", strings.Join(r.Triggers, ", "))
		}
		if r.Mail != "" {
			fmt.Fprintf(w, "  mailed   <%s>\n", r.Mail)
		}
		if r.NotMailed != "" {
			fmt.Fprintf(w, "  NOT MAILED: %s\n", r.NotMailed)
		}
		if r.Error != "" {
			fmt.Fprintf(w, "  error    %s\n", r.Error)
		}
	}
	for _, f := range pass.FollowUps {
		if f.Mail != "" {
			fmt.Fprintf(w, "tests of run %d (%s): %s, follow-up mailed <%s>\n", f.RunID, f.Tree, f.Verdict, f.Mail)
		} else {
			fmt.Fprintf(w, "tests of run %d (%s): %s, follow-up NOT MAILED: %s\n", f.RunID, f.Tree, f.Verdict, f.NotMailed)
		}
	}
	if pass.Pending > 0 {
		fmt.Fprintf(w, "%d announcement(s) left for the next pass (see the log above)\n", pass.Pending)
	}
}

// printSettled prints the announcements the pass left waiting, failed or
// ignored while processing them.
func printSettled(w io.Writer, pass *pipeline.Pass) {
	for _, a := range pass.Ignored {
		fmt.Fprintf(w, "  ignored  <%s> %s: %s\n", a.MessageID, candidateName(a), a.Reason)
	}
	for _, a := range pass.Waiting {
		fmt.Fprintf(w, "  waiting  <%s> %s: %s\n", a.MessageID, candidateName(a), a.Reason)
	}
	for _, a := range pass.Failed {
		fmt.Fprintf(w, "  FAILED   <%s> %s: %s\n", a.MessageID, candidateName(a), a.Reason)
	}
}

// candidateName names an announcement's candidate: "6.1.177-rc1", or
// "6.1.177" for a release.
func candidateName(a state.Announcement) string {
	if a.RC == 0 {
		return a.Version
	}
	return fmt.Sprintf("%s-rc%d", a.Version, a.RC)
}

// printIndentedText prints text, line by line, each after indent.
func printIndentedText(w io.Writer, indent, text string) {
	for line := range strings.Lines(text) {
		fmt.Fprintf(w, "%s%s", indent, line)
	}
}

// writeJSON writes v, one of the documents of json.go, to stdout as an
// indented JSON document; "<" and ">" (of Message-IDs in reasons) are
// written as they are.
func writeJSON(stdout io.Writer, v any) error {
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return &bareError{err}
	}
	return nil
}
