package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rtbot/rtbot/internal/fixtures"
)

// proposalRepo is a repository whose candidate v2-rc1 edits line 20 of
// kernel/core.c, and a queue for v1 of two patches: 0001 inserts a line
// after line 20 (a conflict of the context-edit shape: rtbot proposes
// a refresh), 0002 changes line 5 (applies).
func proposalRepo(t *testing.T) (repo, queue string) {
	t.Helper()
	repo = t.TempDir()
	r, err := fixtures.Init(repo, true)
	if err != nil {
		t.Fatal(err)
	}
	core := fixtures.Lines("line", 40)
	b, err := r.Commit(fixtures.Tree{"kernel/core.c": {Content: core}}, "v1\n")
	if err != nil {
		t.Fatal(err)
	}
	c, err := r.Commit(fixtures.Tree{"kernel/core.c": {Content: strings.Replace(core, "line 20\n", "stable 20\n", 1)}}, "v2-rc1\n", b)
	if err != nil {
		t.Fatal(err)
	}
	r.Tag("v1", b)
	r.Tag("v2-rc1", c)
	queue = filepath.Join(t.TempDir(), "patches")
	os.MkdirAll(queue, 0o755)
	files := map[string]string{
		"series": "0001-insert.patch\n0002-five.patch\n",
		"0001-insert.patch": "From: RT Author <rt@example.org>\nSubject: [PATCH] rt: after twenty\n\nWhy.\n\nSigned-off-by: RT Author <rt@example.org>\n---\n" +
			"--- a/kernel/core.c\n+++ b/kernel/core.c\n@@ -19,3 +19,4 @@\n line 19\n line 20\n+rt after 20\n line 21\n",
		"0002-five.patch": "From: RT Author <rt@example.org>\nSubject: [PATCH] rt: five\n\nmsg\n---\n" +
			"--- a/kernel/core.c\n+++ b/kernel/core.c\n@@ -4,3 +4,3 @@\n line 4\n-line 5\n+rt 5\n line 6\n",
	}
	for n, c := range files {
		if err := os.WriteFile(filepath.Join(queue, n), []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return repo, queue
}

// TestMergeProposedBranch: the proposal is reported (conflict/review),
// never on the result branch, and committed with its trailer on
// NAME-proposed on top of the result.
func TestMergeProposedBranch(t *testing.T) {
	repo, queue := proposalRepo(t)
	out := rtbotJSON(t, exitManual, "merge", "--repo", repo, "--queue", queue, "--base", "v1", "--onto", "v2-rc1", "--branch", "T", "--json")
	var doc struct {
		Summary struct{ Clean, Attention int }
		Patches []struct {
			Name, Status, Action, Reason string
			Proposal                     *struct {
				Rules          []string
				Branch, Commit string
			}
			Files []struct {
				Proposal *struct{ Rules []string }
			}
		}
	}
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatal(err)
	}
	p := doc.Patches[0]
	if p.Status != "conflict" || p.Action != "review" || p.Proposal == nil || p.Proposal.Branch != "T-proposed" ||
		strings.Join(p.Proposal.Rules, ",") != "context-edit" || p.Files[0].Proposal == nil {
		t.Fatalf("0001: %+v, want conflict/review with a context-edit proposal on T-proposed", p)
	}
	if doc.Summary.Attention != 1 || doc.Summary.Clean != 1 {
		t.Errorf("summary %+v: a proposal is never clean", doc.Summary)
	}
	git := func(args ...string) string {
		b, err := exec.Command("git", append([]string{"--git-dir", repo}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, b)
		}
		return string(b)
	}
	if result := git("show", "T:kernel/core.c"); strings.Contains(result, "rt after 20") || !strings.Contains(result, "rt 5\n") {
		t.Errorf("the result branch has the proposal, or lacks 0002:\n%s", result)
	}
	if got := git("show", "T-proposed:kernel/core.c"); !strings.Contains(got, "stable 20\nrt after 20\nline 21\n") || !strings.Contains(got, "rt 5\n") {
		t.Errorf("T-proposed's file:\n%s", got)
	}
	if parent := strings.TrimSpace(git("rev-parse", "T-proposed^")); parent != strings.TrimSpace(git("rev-parse", "T")) {
		t.Errorf("T-proposed^ is %s, want T", parent)
	}
	msg := git("log", "-1", "--format=%an <%ae>%n%B", "T-proposed")
	want := "RT Author <rt@example.org>\nrt: after twenty\n\nWhy.\n\nSigned-off-by: RT Author <rt@example.org>\nProposed-by: rtbot (rule: context-edit)\n"
	if strings.TrimSpace(msg) != strings.TrimSpace(want) {
		t.Errorf("proposed commit:\n%s\nwant:\n%s", msg, want)
	}
	// The text report shows the proposal within 72 columns.
	var text strings.Builder
	if code := run(context.Background(), []string{"merge", "--repo", repo, "--queue", queue, "--base", "v1", "--onto", "v2-rc1"}, &text, &text); code != exitManual {
		t.Fatalf("exit %d:\n%s", code, text.String())
	}
	if !strings.Contains(text.String(), "proposed refresh (rule context-edit), what it changes in the patch:") || !strings.Contains(text.String(), "+ stable 20\n") {
		t.Errorf("text report without the proposal:\n%s", text.String())
	}
}
