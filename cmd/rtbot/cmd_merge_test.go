package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/rtbot/rtbot/internal/fixtures"
)

// mergeRepo builds a repository with a base v1, a candidate v2-rc1 that
// changes line 1 and line 30, and a quilt queue of three patches: one that
// applies at an offset-free place, one that conflicts with the candidate's
// change to line 30, and one malformed.
func mergeRepo(t *testing.T) (repo, queue string) {
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
	cand := strings.Replace(strings.Replace(core, "line 1\n", "stable 1\n", 1), "line 30\n", "stable 30\n", 1)
	c, err := r.Commit(fixtures.Tree{"kernel/core.c": {Content: cand}}, "v2-rc1\n", b)
	if err != nil {
		t.Fatal(err)
	}
	r.Tag("v1", b)
	r.Tag("v2-rc1", c)
	queue = filepath.Join(t.TempDir(), "patches")
	os.MkdirAll(queue, 0o755)
	patch := func(subject, old, new string, at int) string {
		return "From: RT <rt@example.org>\nSubject: [PATCH] " + subject + "\n\nmsg\n---\n" +
			"--- a/kernel/core.c\n+++ b/kernel/core.c\n" +
			"@@ -" + itoa(at-1) + ",3 +" + itoa(at-1) + ",3 @@\n line " + itoa(at-1) + "\n-" + old + "\n+" + new + "\n line " + itoa(at+1) + "\n"
	}
	files := map[string]string{
		"series":              "0001-ok.patch\n0002-conflict.patch\n0003-bad.patch\n",
		"0001-ok.patch":       patch("rt: ten", "line 10", "rt 10", 10),
		"0002-conflict.patch": patch("rt: thirty", "line 30", "rt 30", 30),
		"0003-bad.patch":      "Subject: broken\n\n---\n--- a/kernel/core.c\n+++ b/kernel/core.c\n@@ -1,5 +1,5 @@\n-x\n",
	}
	for n, c := range files {
		if err := os.WriteFile(filepath.Join(queue, n), []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return repo, queue
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestMergeJSONAndExitCodes(t *testing.T) {
	repo, queue := mergeRepo(t)
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"merge", "--repo", repo, "--queue", queue, "--base", "v1", "--onto", "v2-rc1", "--branch", "rtbot/test", "--json"}, &out, &errb)
	if code != exitManual {
		t.Fatalf("exit %d, want %d; stderr %s", code, exitManual, errb.String())
	}
	var doc struct {
		Candidate struct{ Name, Commit string }
		Base      struct{ Name, Commit string }
		Queue     string
		Result    struct{ Commit, Branch string }
		Patches   []struct {
			Index    int
			Name     string
			Subject  string
			Status   string
			Action   string
			Files    []struct{ Path, Status string }
			CausedBy []string `json:"caused_by"`
		}
		Summary struct {
			Total, Clean, Attention int
			ByStatus                map[string]int `json:"by_status"`
		}
	}
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out.String())
	}
	if doc.Candidate.Name != "v2-rc1" || len(doc.Candidate.Commit) != 40 || doc.Base.Name != "v1" || doc.Result.Branch != "rtbot/test" {
		t.Errorf("header fields: %+v %+v %+v", doc.Candidate, doc.Base, doc.Result)
	}
	want := []struct{ status, action string }{{"applied", "none"}, {"conflict", "refresh"}, {"malformed", "fix"}}
	if len(doc.Patches) != 3 {
		t.Fatalf("%d patches", len(doc.Patches))
	}
	for i, w := range want {
		p := doc.Patches[i]
		if p.Status != w.status || p.Action != w.action || p.Index != i+1 {
			t.Errorf("patch %d: %s/%s, want %s/%s", i+1, p.Status, p.Action, w.status, w.action)
		}
	}
	if doc.Patches[0].Subject != "rt: ten" || doc.Patches[1].Files[0].Path != "kernel/core.c" {
		t.Errorf("patch details: %+v", doc.Patches[:2])
	}
	if doc.Summary.Total != 3 || doc.Summary.Clean != 1 || doc.Summary.Attention != 2 || doc.Summary.ByStatus["conflict"] != 1 {
		t.Errorf("summary %+v", doc.Summary)
	}
	// The branch holds what applied: the candidate plus patch 1.
	r, _ := fixtures.Open(repo)
	head, err := r.Repo.Reference("refs/heads/rtbot/test", true)
	if err != nil || head.Hash().String() != doc.Result.Commit {
		t.Fatalf("branch: %v %v", head, err)
	}
	snap, _ := r.Snapshot(head.Hash())
	if c := snap["kernel/core.c"].Content; !strings.Contains(c, "rt 10\n") || !strings.Contains(c, "stable 30\n") {
		t.Errorf("branch content:\n%s", c)
	}

	// A second run with the branch already there must refuse to clobber it
	// only if it moved; here it did not move, so it is updated in place.
	out.Reset()
	if code := run(context.Background(), []string{"merge", "--repo", repo, "--queue", queue, "--base", "v1", "--onto", "v2-rc1"}, &out, &errb); code != exitManual {
		t.Fatalf("text run exit %d", code)
	}
	text := out.String()
	for _, w := range []string{"v2-rc1 + patches: 1 of 3 applied", "1 of 3 applied, 2 need attention", "0002 0002-conflict.patch", "action: refresh", "--- base, line 30", "|line 30", "|stable 30", "|rt 30"} {
		if !strings.Contains(text, w) {
			t.Errorf("text report lacks %q:\n%s", w, text)
		}
	}
}

func TestMergeCleanExitsZero(t *testing.T) {
	repo, queue := mergeRepo(t)
	os.WriteFile(filepath.Join(queue, "series"), []byte("0001-ok.patch\n"), 0o644)
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"merge", "--repo", repo, "--queue", queue, "--base", "v1", "--onto", "v2-rc1"}, &out, &errb); code != exitOK {
		t.Fatalf("exit %d: %s%s", code, out.String(), errb.String())
	}
	if !strings.Contains(out.String(), "1 of 1 applied, 0 need attention") {
		t.Errorf("report: %s", out.String())
	}
}

func TestMergeErrors(t *testing.T) {
	repo, queue := mergeRepo(t)
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no args", []string{"merge"}, exitUsage, "required"},
		{"bad branch", []string{"merge", "--repo", repo, "--queue", queue, "--onto", "v2-rc1", "--branch", "../HEAD"}, exitUsage, "not allowed"},
		{"bad fuzz", []string{"merge", "--repo", repo, "--queue", queue, "--onto", "v2-rc1", "--fuzz", "9"}, exitUsage, "--fuzz"},
		{"not a repo", []string{"merge", "--repo", t.TempDir(), "--queue", queue, "--onto", "v2-rc1"}, exitError, "not a git repository"},
		{"unknown rev", []string{"merge", "--repo", repo, "--queue", queue, "--onto", "v9"}, exitError, "--onto"},
		{"shell in rev", []string{"merge", "--repo", repo, "--queue", queue, "--onto", "v1;id"}, exitError, "not a valid revision"},
		{"queue missing", []string{"merge", "--repo", repo, "--queue", filepath.Join(queue, "nope"), "--onto", "v2-rc1"}, exitError, "nope"},
		{"unknown command", []string{"frobnicate"}, exitUsage, "unknown command"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(context.Background(), tc.args, &out, &errb)
			if code != tc.code || !strings.Contains(errb.String(), tc.want) {
				t.Errorf("exit %d stderr %q; want %d and %q", code, errb.String(), tc.code, tc.want)
			}
		})
	}
}

func TestMergeBaseMismatchNamesPatchAndHunk(t *testing.T) {
	repo, queue := mergeRepo(t)
	// Materialising on the candidate instead of the base: patch 2 does not apply.
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"merge", "--repo", repo, "--queue", queue, "--base", "v2-rc1", "--onto", "v2-rc1"}, &out, &errb)
	if code != exitError || !strings.Contains(errb.String(), "patch 0002-conflict.patch hunk 1 (kernel/core.c:29)") {
		t.Errorf("exit %d stderr %q", code, errb.String())
	}
}

// TestMergeMalformedThenDependent: a malformed patch does not stop the run,
// and a later patch that needs it is reported blocked by it, not as an
// error of the whole queue.
func TestMergeMalformedThenDependent(t *testing.T) {
	repo, queue := mergeRepo(t)
	files := map[string]string{
		"series": "0001-bad.patch\n0002-needs-bad.patch\n0003-ok.patch\n",
		// Counts say 3 lines but the body has 4: malformed.
		"0001-bad.patch": "Subject: [PATCH] rt: bad\n\n---\n--- a/kernel/core.c\n+++ b/kernel/core.c\n@@ -4,3 +4,3 @@\n line 4\n-line 5\n+rt 5\n line 6\n line 7\n",
		// Needs "rt 5", which only the malformed patch adds.
		"0002-needs-bad.patch": "Subject: [PATCH] rt: needs bad\n\n---\n--- a/kernel/core.c\n+++ b/kernel/core.c\n@@ -4,3 +4,3 @@\n line 4\n-rt 5\n+rt 5 again\n line 6\n",
		"0003-ok.patch":        "Subject: [PATCH] rt: ok\n\n---\n--- a/kernel/core.c\n+++ b/kernel/core.c\n@@ -19,3 +19,3 @@\n line 19\n-line 20\n+rt 20\n line 21\n",
	}
	for n, c := range files {
		if err := os.WriteFile(filepath.Join(queue, n), []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"merge", "--repo", repo, "--queue", queue, "--base", "v1", "--onto", "v2-rc1", "--json"}, &out, &errb)
	if code != exitManual {
		t.Fatalf("exit %d, want %d: %s", code, exitManual, errb.String())
	}
	var doc struct {
		Patches []struct {
			Name, Status, Action string
			BlockedBy            string `json:"blocked_by"`
		}
	}
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	want := []struct{ status, blockedBy string }{{"malformed", ""}, {"blocked", "0001-bad.patch"}, {"applied", ""}}
	for i, w := range want {
		p := doc.Patches[i]
		if p.Status != w.status || p.BlockedBy != w.blockedBy {
			t.Errorf("patch %d: %s blocked_by %q, want %s %q", i+1, p.Status, p.BlockedBy, w.status, w.blockedBy)
		}
	}
}

// TestMergeExport: --export writes the patches that were committed, says
// which were skipped and where the files went; it refuses a non-empty
// directory before rebasing, and a tree without a kernel version is an
// error after the report.
func TestMergeExport(t *testing.T) {
	repo, queue := mergeRepo(t)
	addKernelRelease(t, repo, queue)
	t.Run("text", func(t *testing.T) {
		dir := checkExportText(t, repo, queue)
		checkExportedFiles(t, dir)
		checkExportRefusesNonEmpty(t, repo, queue, dir)
	})
	t.Run("json", func(t *testing.T) { checkExportJSON(t, repo, queue) })
	t.Run("no kernel version", func(t *testing.T) { checkExportWithoutKernelVersion(t, repo, queue) })
}

// addKernelRelease adds to mergeRepo's repository and queue what makes an
// export have a release name: a candidate v2.0.3-rc1 with a kernel
// Makefile, and a queue patch that adds localversion-rt.
func addKernelRelease(t *testing.T, repo, queue string) {
	t.Helper()
	r, err := fixtures.Open(repo)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := r.Repo.ResolveRevision("v2-rc1")
	if err != nil {
		t.Fatal(err)
	}
	snap, err := r.Snapshot(*rc)
	if err != nil {
		t.Fatal(err)
	}
	snap["Makefile"] = fixtures.File{Content: "VERSION = 2\nPATCHLEVEL = 0\nSUBLEVEL = 3\nEXTRAVERSION = -rc1\n"}
	kc, err := r.Commit(snap, "Linux 2.0.3-rc1\n", *rc)
	if err != nil {
		t.Fatal(err)
	}
	r.Tag("v2.0.3-rc1", kc)
	lv := "From: RT <rt@example.org>\nSubject: [PATCH] Add localversion for RT release\n\n---\n" +
		"diff --git a/localversion-rt b/localversion-rt\nnew file mode 100644\n--- /dev/null\n+++ b/localversion-rt\n@@ -0,0 +1 @@\n+-rt1\n"
	os.WriteFile(filepath.Join(queue, "0004-localversion.patch"), []byte(lv), 0o644)
	os.WriteFile(filepath.Join(queue, "series"), []byte("0001-ok.patch\n0002-conflict.patch\n0003-bad.patch\n0004-localversion.patch\n"), 0o644)
}

// checkExportText exports to a new directory, which it returns, and checks
// that the report says what was exported, where, and what was skipped.
func checkExportText(t *testing.T, repo, queue string) (dir string) {
	t.Helper()
	dir = filepath.Join(t.TempDir(), "out")
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"merge", "--repo", repo, "--queue", queue, "--base", "v1", "--onto", "v2.0.3-rc1", "--export", dir}, &out, &errb)
	if code != exitManual {
		t.Fatalf("exit %d, want %d: %s", code, exitManual, errb.String())
	}
	text := out.String()
	for _, w := range []string{
		"2 of 4 applied",
		"exported 2 of 4 patches as 2.0.3-rc1-rt1 to " + dir,
		filepath.Join(dir, "patches", "series"),
		filepath.Join(dir, "patches-2.0.3-rc1-rt1.tar.xz"),
		filepath.Join(dir, "patch-2.0.3-rc1-rt1.patch.xz"),
		"skipped 0002-conflict.patch (conflict)",
		"skipped 0003-bad.patch (malformed)",
	} {
		if !strings.Contains(text, w) {
			t.Errorf("output lacks %q:\n%s", w, text)
		}
	}
	return dir
}

// checkExportedFiles checks what the export wrote to dir: the series of
// the committed patches, the patches, and the two xz archives.
func checkExportedFiles(t *testing.T, dir string) {
	t.Helper()
	series, err := os.ReadFile(filepath.Join(dir, "patches", "series"))
	if err != nil || string(series) != "0001-ok.patch\n0004-localversion.patch\n" {
		t.Errorf("series %q, %v", series, err)
	}
	p, err := os.ReadFile(filepath.Join(dir, "patches", "0001-ok.patch"))
	if err != nil || !strings.Contains(string(p), "Subject: [PATCH 1/2] rt: ten\n") || !strings.Contains(string(p), "-line 10\n+rt 10\n") {
		t.Errorf("0001-ok.patch (%v):\n%s", err, p)
	}
	for _, f := range []string{"patches-2.0.3-rc1-rt1.tar.xz", "patch-2.0.3-rc1-rt1.patch.xz"} {
		if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
}

// checkExportRefusesNonEmpty exports to dir again: refused before any
// rebase.
func checkExportRefusesNonEmpty(t *testing.T, repo, queue, dir string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"merge", "--repo", repo, "--queue", queue, "--base", "v1", "--onto", "v2.0.3-rc1", "--export", dir}, &out, &errb)
	if code != exitError || !strings.Contains(errb.String(), "not empty") || out.Len() != 0 {
		t.Errorf("non-empty export dir: exit %d, stdout %q, stderr %q", code, out.String(), errb.String())
	}
}

// checkExportJSON: with --json, stdout is the JSON document alone and the
// export's summary goes to stderr.
func checkExportJSON(t *testing.T, repo, queue string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "out")
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"merge", "--repo", repo, "--queue", queue, "--base", "v1", "--onto", "v2.0.3-rc1", "--json", "--export", dir}, &out, &errb)
	if code != exitManual {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	var doc map[string]any
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Errorf("stdout is not one JSON document: %v\n%s", err, out.String())
	}
	if !strings.Contains(errb.String(), "exported 2 of 4 patches") {
		t.Errorf("stderr lacks the export summary: %s", errb.String())
	}
}

// checkExportWithoutKernelVersion: onto a tree without a kernel Makefile
// the report comes, then an error, and nothing is left behind.
func checkExportWithoutKernelVersion(t *testing.T, repo, queue string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "out")
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"merge", "--repo", repo, "--queue", queue, "--base", "v1", "--onto", "v2-rc1", "--export", dir}, &out, &errb)
	if code != exitError || !strings.Contains(errb.String(), "no Makefile") || !strings.Contains(out.String(), "2 of 4 applied") {
		t.Errorf("exit %d, stdout %q, stderr %q; want the report and an error naming the Makefile", code, out.String(), errb.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "patches")); err == nil {
		t.Error("a failed export left patches/ behind")
	}
}
