package merger

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/rtbot/rtbot/internal/fixtures"
	"github.com/rtbot/rtbot/internal/patchqueue"
	"github.com/rtbot/rtbot/internal/testkit"
)

// Hostile patches for the hostile-queue tests, as git format-patch writes them.
const hostileHeader = "From: Evil <evil@example.org>\nSubject: [PATCH] "

func linkPatch(path, target string) string {
	return hostileHeader + "add link " + path + "\n\nA link.\n---\ndiff --git a/" + path + " b/" + path +
		"\nnew file mode 120000\n--- /dev/null\n+++ b/" + path + "\n@@ -0,0 +1 @@\n+" + target + "\n\\ No newline at end of file\n"
}

func createPatch(path, line string) string {
	return hostileHeader + "create " + path + "\n\nCreate.\n---\ndiff --git a/" + path + " b/" + path +
		"\nnew file mode 100644\n--- /dev/null\n+++ b/" + path + "\n@@ -0,0 +1 @@\n+" + line + "\n"
}

func modifyPatch(path, old, new string) string {
	return hostileHeader + "modify " + path + "\n\nModify.\n---\ndiff --git a/" + path + " b/" + path +
		"\n--- a/" + path + "\n+++ b/" + path + "\n@@ -1 +1 @@\n-" + old + "\n+" + new + "\n"
}

// coreChange is an ordinary patch that must apply whatever came before it.
var coreChange = hostileHeader + "core change\n\nNormal.\n---\ndiff --git a/kernel/core.c b/kernel/core.c\n" +
	"--- a/kernel/core.c\n+++ b/kernel/core.c\n@@ -9,3 +9,3 @@\n line 9\n-line 10\n+rt 10\n line 11\n"

func writeHostileQueue(t *testing.T, patches ...string) *patchqueue.Queue {
	t.Helper()
	q := writeQueue(t, patches...)
	for _, p := range q.Patches {
		if p.Err != nil {
			t.Fatalf("patch %s: %v", p.Name, p.Err)
		}
	}
	return q
}

// writeQueue writes patches as a quilt queue (1.patch, 2.patch, ...) and
// reads it back; patches that do not parse are in it with their error.
func writeQueue(t *testing.T, patches ...string) *patchqueue.Queue {
	t.Helper()
	dir := t.TempDir()
	var series strings.Builder
	for i, p := range patches {
		name := string(rune('1'+i)) + ".patch"
		series.WriteString(name + "\n")
		if err := os.WriteFile(filepath.Join(dir, name), []byte(p), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "series"), []byte(series.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	q, err := patchqueue.Open(dir, patchqueue.DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	return q
}

// symlinkCase is a queue that writes below a symbolic link, and what
// rebasing it must give.
type symlinkCase struct {
	name      string
	candLinks map[string]string // symbolic links the candidate adds to base
	withBase  bool              // rebase from base (Materialise) instead of applying onto the candidate
	baseFiles map[string]string // files the base has besides the usual ones
	patches   []string
	link      string // the link the hostile patch goes through
	noLink    bool   // the link is in the hostile patch, so not in the result
	want      []Outcome
	wantErr   string // in patch 2's error
}

// symlinkCases are the queues of TestWriteThroughSymlink: the link made by
// an earlier patch, by the hostile patch itself or already in the
// candidate, and a file created or modified below it.
func symlinkCases() []symlinkCase {
	passwd := "root:x:0:0:root:/root:/bin/bash"
	owned := "root::0:0:root:/root:/bin/sh"
	return []symlinkCase{
		{name: "patch 1 makes the link, patch 2 creates below it",
			patches: []string{linkPatch("evil", "/etc"), createPatch("evil/passwd", owned), coreChange},
			link:    "evil", want: []Outcome{Applied, Failed, Applied},
			wantErr: "evil/passwd: the path goes through symbolic link evil"},
		{name: "one patch makes the link and creates below it",
			patches: []string{createPatch("README.rt", "rt"), linkPatch("evil", "/etc") + strings.SplitN(createPatch("evil/passwd", owned), "---\n", 2)[1], coreChange},
			link:    "evil", noLink: true, want: []Outcome{Applied, Failed, Applied},
			wantErr: "evil/passwd: the path goes through symbolic link evil"},
		{name: "the candidate has the link, patch 2 creates below it",
			candLinks: map[string]string{"evil": "/etc"},
			patches:   []string{createPatch("README.rt", "rt"), createPatch("evil/passwd", owned), coreChange},
			link:      "evil", want: []Outcome{Applied, Failed, Applied},
			wantErr: "evil/passwd: the path goes through symbolic link evil"},
		{name: "the candidate has the link, a rebased patch creates below it",
			candLinks: map[string]string{"evil": "/etc"}, withBase: true,
			patches: []string{createPatch("README.rt", "rt"), createPatch("evil/passwd", owned), coreChange},
			link:    "evil", want: []Outcome{Applied, Failed, Applied},
			wantErr: "evil/passwd: the path goes through symbolic link evil"},
		{name: "a nested link",
			candLinks: map[string]string{"drivers/evil": "/etc"},
			patches:   []string{createPatch("README.rt", "rt"), createPatch("drivers/evil/x/passwd", owned), coreChange},
			link:      "drivers/evil", want: []Outcome{Applied, Failed, Applied},
			wantErr: "drivers/evil/x/passwd: the path goes through symbolic link drivers/evil"},
		// A file below a link does not exist in the tree; a modification
		// of it fails naming the link rather than passing for a missing
		// file, and nothing is written.
		{name: "patch 1 makes the link, patch 2 modifies below it",
			patches: []string{linkPatch("evil", "/etc"), modifyPatch("evil/passwd", passwd, owned), coreChange},
			link:    "evil", want: []Outcome{Applied, Failed, Applied},
			wantErr: "evil/passwd: the path goes through symbolic link evil"},
		{name: "the candidate has the link, patch 2 modifies below it",
			candLinks: map[string]string{"evil": "/etc"},
			patches:   []string{createPatch("README.rt", "rt"), modifyPatch("evil/passwd", passwd, owned), coreChange},
			link:      "evil", want: []Outcome{Applied, Failed, Applied},
			wantErr: "evil/passwd: the path goes through symbolic link evil"},
		{name: "the candidate replaced the directory by the link, a rebased patch modifies below it",
			candLinks: map[string]string{"evil": "/etc"}, withBase: true, baseFiles: map[string]string{"evil/passwd": passwd + "\n"},
			patches: []string{createPatch("README.rt", "rt"), modifyPatch("evil/passwd", passwd, owned), coreChange},
			link:    "evil", want: []Outcome{Applied, Failed, Applied},
			wantErr: "evil/passwd: the path goes through symbolic link evil"},
	}
}

// TestWriteThroughSymlink rebases queues that write below a symbolic link
// (evil -> /etc), made by an earlier patch or already in the candidate: the
// hostile patch is refused, nothing is written below the link, the link is
// untouched and the next patch still applies.
func TestWriteThroughSymlink(t *testing.T) {
	for _, tc := range symlinkCases() {
		t.Run(tc.name, func(t *testing.T) {
			dir, base, cand := symlinkRepo(t, tc)
			res := rebaseHostile(t, dir, tc, base, cand)
			checkHostilePatchRefused(t, tc, res)
			repo, got, err := resultFiles(dir, res.Head)
			if err != nil {
				t.Fatal(err)
			}
			checkNothingBelowLink(t, tc, got)
			checkLinkUntouched(t, repo, tc, res.Head, got)
		})
	}
}

// symlinkRepo makes a bare repository in a new directory with the base of
// tc (a README, kernel/core.c and tc.baseFiles) and the candidate on it,
// where tc.candLinks replace whatever was at their paths.
func symlinkRepo(t *testing.T, tc symlinkCase) (dir string, base, cand plumbing.Hash) {
	t.Helper()
	bt := fixtures.Tree{
		"README":        {Content: "readme\n"},
		"kernel/core.c": {Content: fixtures.Lines("line", 40)},
	}
	for p, c := range tc.baseFiles {
		bt[p] = fixtures.File{Content: c}
	}
	addLinks := func(ct fixtures.Tree) {
		for l, target := range tc.candLinks {
			for p := range ct {
				if strings.HasPrefix(p, l+"/") {
					delete(ct, p)
				}
			}
			ct[l] = fixtures.File{Content: target, Mode: filemode.Symlink}
		}
	}
	dir = t.TempDir()
	r, err := fixtures.Init(dir, true)
	if err != nil {
		t.Fatal(err)
	}
	base, _, cand, err = r.BuildRT(fixtures.RTRepo{Base: bt, BaseMsg: "base\n", Cand: addLinks, CandMsg: "stable\n"})
	if err != nil {
		t.Fatal(err)
	}
	return dir, base, cand
}

// rebaseHostile rebases tc's queue onto cand in the repository at dir:
// from base when tc.withBase is set, else applied onto cand.
func rebaseHostile(t *testing.T, dir string, tc symlinkCase, base, cand plumbing.Hash) *Result {
	t.Helper()
	q := writeHostileQueue(t, tc.patches...)
	eng, err := Open(dir, Options{Now: func() time.Time { return time.Date(2026, 2, 2, 2, 2, 2, 0, time.UTC) }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close() })
	qb := plumbing.ZeroHash
	if tc.withBase {
		qb = base
	}
	res, err := eng.RebaseQueue(context.Background(), q, qb, cand)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// checkHostilePatchRefused checks the outcome of every patch, that patch 2
// failed naming the link and made no commit, and that patch 3 did.
func checkHostilePatchRefused(t *testing.T, tc symlinkCase, res *Result) {
	t.Helper()
	if len(res.Patches) != len(tc.want) {
		t.Fatalf("%d results", len(res.Patches))
	}
	for i, pr := range res.Patches {
		if pr.Outcome != tc.want[i] {
			t.Errorf("patch %d: %s (%s), want %s", i+1, pr.Outcome, pr.Err, tc.want[i])
		}
	}
	bad := res.Patches[1]
	why := bad.Err
	for _, f := range bad.Files {
		why += "\n" + f.Detail
	}
	if tc.wantErr != "" && !strings.Contains(why, tc.wantErr) {
		t.Errorf("patch 2 error %q lacks %q", why, tc.wantErr)
	}
	if !bad.Commit.IsZero() || res.Patches[2].Commit.IsZero() {
		t.Errorf("commits: patch 2 %s, patch 3 %s", bad.Commit, res.Patches[2].Commit)
	}
}

// resultFiles opens the repository at dir afresh, to see what the engine
// wrote, and returns it with the files of head.
func resultFiles(dir string, head plumbing.Hash) (*fixtures.Repo, fixtures.Tree, error) {
	repo, err := fixtures.Open(dir)
	if err != nil {
		return nil, nil, err
	}
	files, err := repo.Snapshot(head)
	return repo, files, err
}

// checkNothingBelowLink checks that the result's files got have none
// below the link, and patch 3's change.
func checkNothingBelowLink(t *testing.T, tc symlinkCase, got fixtures.Tree) {
	t.Helper()
	for p := range got {
		if strings.HasPrefix(p, tc.link+"/") {
			t.Errorf("the result has %s below the link", p)
		}
	}
	if !strings.Contains(got["kernel/core.c"].Content, "rt 10\n") {
		t.Error("patch 3's change is missing")
	}
}

// checkLinkUntouched checks that the link is in the result (head, whose
// files are got) as it was, in got and as an entry of head's tree; or, when
// the hostile patch made it, that it is not there.
func checkLinkUntouched(t *testing.T, repo *fixtures.Repo, tc symlinkCase, head plumbing.Hash, got fixtures.Tree) {
	t.Helper()
	if tc.noLink {
		if l, ok := got[tc.link]; ok {
			t.Errorf("the result has %s: %+v", tc.link, l)
		}
		return
	}
	if l := got[tc.link]; l.Mode != filemode.Symlink || l.Content != "/etc" {
		t.Errorf("the link is now %+v", l)
	}
	hc, err := repo.Repo.CommitObject(head)
	if err != nil {
		t.Fatal(err)
	}
	tree, err := hc.Tree()
	if err != nil {
		t.Fatal(err)
	}
	le, err := tree.FindEntry(tc.link)
	if err != nil {
		t.Fatal(err)
	}
	if want := plumbing.ComputeHash(plumbing.BlobObject, []byte("/etc")); le.Hash != want || le.Mode != filemode.Symlink {
		t.Errorf("link entry %s %s, want blob %s mode %s", le.Hash, le.Mode, want, filemode.Symlink)
	}
}

// TestMaterialiseThroughSymlink: a queue that writes below its own link
// does not apply to its base, and the error names the link.
func TestMaterialiseThroughSymlink(t *testing.T) {
	dir := t.TempDir()
	r, err := fixtures.Init(dir, true)
	if err != nil {
		t.Fatal(err)
	}
	b, err := r.Commit(fixtures.Tree{"kernel/core.c": {Content: fixtures.Lines("line", 40)}}, "base\n")
	if err != nil {
		t.Fatal(err)
	}
	q := writeHostileQueue(t, linkPatch("evil", "/etc"), createPatch("evil/passwd", "x"), coreChange)
	eng, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	_, err = eng.Materialise(context.Background(), q, b)
	var ae *ApplyError
	if !errors.As(err, &ae) || ae.Patch.Index != 2 || !strings.Contains(err.Error(), "evil/passwd: the path goes through symbolic link evil") {
		t.Errorf("Materialise: %v", err)
	}
}

// gitPathPatches are patches whose paths git refuses, with what the error
// must say: .git under the names NTFS and HFS+ give it, .gitmodules as a
// symbolic link, and absolute names (which -p1 used to strip to a path in
// the tree).
func gitPathPatches() []struct{ patch, want string } {
	abs := hostileHeader + "absolute\n\nAbsolute.\n---\n--- /kernel/core.c\n+++ /kernel/core.c\n@@ -19,3 +19,3 @@\n line 19\n-line 20\n+evil 20\n line 21\n"
	absNew := hostileHeader + "absolute new\n\nAbsolute.\n---\n--- /dev/null\n+++ /abs/path\n@@ -0,0 +1 @@\n+evil\n"
	return []struct{ patch, want string }{
		{createPatch(".git./config", "[core] hooksPath = /tmp"), `".git." is .git on NTFS`},
		{createPatch("git~1/hooks/post-checkout", "evil"), `"git~1" is the NTFS short name of .git`},
		{createPatch("drivers/.g\u200cit/config", "evil"), `".g\u200cit" is .git on HFS+`},
		{linkPatch(".gitmodules", "/etc/passwd"), ".gitmodules may not be a symbolic link"},
		{abs, `"/kernel/core.c": absolute path`},
		{absNew, `"/abs/path": absolute path`},
	}
}

// TestRebaseRefusesGitPaths rebases a queue with patches whose paths git
// refuses, from the queue's base and applied onto the candidate: each is
// malformed, naming the patch, the file and why; nothing of them is in the
// result, the rest of the queue applies, and git fsck --strict finds the
// repository sound.
func TestRebaseRefusesGitPaths(t *testing.T) {
	bad := gitPathPatches()
	patches := []string{createPatch("README.rt", "rt")}
	for _, b := range bad {
		patches = append(patches, b.patch)
	}
	patches = append(patches, coreChange)
	for _, withBase := range []bool{false, true} {
		t.Run(map[bool]string{false: "onto the candidate", true: "from the base"}[withBase], func(t *testing.T) {
			dir, base, cand := symlinkRepo(t, symlinkCase{})
			res := rebaseQueue(t, dir, writeQueue(t, patches...), base, cand, withBase)
			for i, pr := range res.Patches {
				want, why := Applied, ""
				if i >= 1 && i <= len(bad) {
					want, why = Malformed, bad[i-1].want
				}
				if pr.Outcome != want || !strings.Contains(pr.Err, why) || (why != "" && !strings.Contains(pr.Err, pr.Patch.Name)) {
					t.Errorf("patch %s: %s (%s), want %s naming the patch and %q", pr.Patch.Name, pr.Outcome, pr.Err, want, why)
				}
			}
			_, got, err := resultFiles(dir, res.Head)
			if err != nil {
				t.Fatal(err)
			}
			for p := range got {
				if p != "README" && p != "README.rt" && p != "kernel/core.c" {
					t.Errorf("the result has %q", p)
				}
			}
			if c := got["kernel/core.c"].Content; !strings.Contains(c, "rt 10\n") || strings.Contains(c, "evil") {
				t.Errorf("kernel/core.c is\n%s", c)
			}
			fsckStrict(t, dir, res.Head)
		})
	}
}

// rebaseQueue rebases q onto cand in the repository at dir, from base when
// withBase is set, else applied onto cand.
func rebaseQueue(t *testing.T, dir string, q *patchqueue.Queue, base, cand plumbing.Hash, withBase bool) *Result {
	t.Helper()
	eng, err := Open(dir, Options{Now: func() time.Time { return time.Date(2026, 2, 2, 2, 2, 2, 0, time.UTC) }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close() })
	if !withBase {
		base = plumbing.ZeroHash
	}
	res, err := eng.RebaseQueue(context.Background(), q, base, cand)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// fsckStrict points a branch at head and runs git fsck --strict on the
// repository at dir.
func fsckStrict(t *testing.T, dir string, head plumbing.Hash) {
	t.Helper()
	testkit.Git(t, dir, "update-ref", "refs/heads/rtbot/result", head.String())
	testkit.Git(t, dir, "fsck", "--strict", "--no-dangling", "--no-progress")
}

// TestRangeRefusesGitPaths: a git range whose commit writes a path git
// refuses (.git. here, which go-git writes without complaint) is read as a
// malformed patch naming the commit and the path, and the object store
// refuses to write it even when handed the step directly.
func TestRangeRefusesGitPaths(t *testing.T) {
	dir := t.TempDir()
	r, err := fixtures.Init(dir, true)
	if err != nil {
		t.Fatal(err)
	}
	base, _, cand, err := r.BuildRT(fixtures.RTRepo{
		Base: fixtures.Tree{"README": {Content: "readme\n"}}, BaseMsg: "base\n",
		Patches: []fixtures.RTPatch{
			{Msg: "hostile\n", Change: func(t fixtures.Tree) { t[".git./config"] = fixtures.File{Content: "[core]\n"} }},
			{Msg: "fine\n", Change: func(t fixtures.Tree) { t["README"] = fixtures.File{Content: "readme rt\n"} }},
		},
		Cand: func(fixtures.Tree) {}, CandMsg: "stable\n",
	})
	if err != nil {
		t.Fatal(err)
	}
	eng, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	ctx := context.Background()
	_, steps, _, err := eng.ReadRange(ctx, patchqueue.Range{Base: "base", Tip: "rt"})
	if err != nil {
		t.Fatal(err)
	}
	if err := steps[0].Patch.Err; err == nil || !strings.Contains(err.Error(), `path ".git./config": ".git." is .git on NTFS`) {
		t.Errorf("patch 1: %v", err)
	}
	// As if it had been read without the check: the object store refuses.
	steps[0].Patch.Err = nil
	steps[0].Patch.Files = []*patchqueue.File{{Op: patchqueue.OpAdd, NewPath: ".git./config", NewMode: 0o100644,
		Hunks: patchqueue.MakeHunks("", "[core]\n", 3)}}
	res, err := eng.Rebase(ctx, steps, base, cand)
	if err != nil {
		t.Fatal(err)
	}
	if pr := res.Patches[0]; pr.Outcome != Malformed || !strings.Contains(pr.Err, "a path git refuses") || !pr.Commit.IsZero() {
		t.Errorf("patch 1: %s (%s)", pr.Outcome, pr.Err)
	}
	if pr := res.Patches[1]; pr.Outcome != Applied || pr.Commit.IsZero() {
		t.Errorf("patch 2: %s (%s)", pr.Outcome, pr.Err)
	}
	c, err := eng.Repository().CommitObject(res.Head)
	if err != nil {
		t.Fatal(err)
	}
	tree, err := c.Tree()
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range tree.Entries {
		if e.Name != "README" {
			t.Errorf("the result has %q", e.Name)
		}
	}
}
