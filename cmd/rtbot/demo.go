package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/rtbot/rtbot/fixtures"
	"github.com/rtbot/rtbot/mailwatch"
	"github.com/rtbot/rtbot/merger"
	"github.com/rtbot/rtbot/report"
)

// cmdDemo runs the pipeline on an embedded default: a real announcement
// mail, a generated repository with a stable release and its rc, and an RT
// queue with clean, offset, 3-way, conflicting and already-backported
// patches. It needs no configuration and no network.
func cmdDemo(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("demo", "rtbot demo [--dir DIR]", stderr)
	dir := fs.String("dir", "", "where to build the demo (default: a new temporary directory, kept)")
	if code, done := parseFlags(fs, args); done {
		return code
	}
	if *dir == "" {
		d, err := os.MkdirTemp("", "rtbot-demo-")
		if err != nil {
			fmt.Fprintf(stderr, "rtbot demo: %v\n", err)
			return exitError
		}
		*dir = d
	}
	if err := runDemo(ctx, *dir, stdout); err != nil {
		fmt.Fprintf(stderr, "rtbot demo: %v\n", err)
		return exitError
	}
	return exitOK
}

func runDemo(ctx context.Context, dir string, w io.Writer) error {
	ann, err := mailwatch.Recognize(bytes.NewReader(fixtures.DemoMail))
	if err != nil {
		return fmt.Errorf("embedded announcement: %w", err)
	}
	if ann.Kind != mailwatch.KindStableRC {
		return fmt.Errorf("embedded announcement recognised as %q: %s", ann.Kind, ann.Reason)
	}
	fmt.Fprintf(w, "1. mail      %q\n             from %s, Message-ID <%s>\n", ann.Subject, ann.From, ann.MessageID)
	fmt.Fprintf(w, "             -> %s %s-rc%d, tree %s branch %s\n", ann.Kind, ann.Version, ann.RC, ann.GitURL, ann.GitBranch)

	d, err := fixtures.BuildDemo(dir)
	if err != nil {
		return err
	}
	onto := fmt.Sprintf("v%s-rc%d", ann.Version, ann.RC)
	if onto != d.Onto {
		return fmt.Errorf("demo repository has %s, the mail announced %s", d.Onto, onto)
	}
	fmt.Fprintf(w, "2. candidate %s in %s (base %s)\n", onto, d.Repo, d.Base)
	fmt.Fprintf(w, "   queue     %s\n", d.Queue)
	branch := fmt.Sprintf("rtbot/%s-rc%d", ann.Version, ann.RC)
	rep, err := doMerge(ctx, mergeArgs{repo: d.Repo, queue: d.Queue, base: d.Base, onto: onto, branch: branch,
		opts: merger.Options{Committer: merger.Identity{Name: "rtbot demo", Email: "rtbot@localhost"}}})
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "3. rebased   %d patches in %s; branch %s -> %.12s\n", rep.Summary.Total, rep.Elapsed, branch, rep.Result.Commit)
	var text bytes.Buffer
	if err := report.Text(&text, rep); err != nil {
		return err
	}
	reportPath := filepath.Join(dir, "report.txt")
	if err := os.WriteFile(reportPath, text.Bytes(), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(w, "4. report    %s\n\n", reportPath)
	if _, err := w.Write(text.Bytes()); err != nil {
		return err
	}
	fmt.Fprintf(w, "\nInspect the result with:\n  git --git-dir=%s log --oneline %s..%s\n", d.Repo, onto, branch)
	return nil
}
