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
	for _, p := range q.Patches {
		if p.Err != nil {
			t.Fatalf("patch %s: %v", p.Name, p.Err)
		}
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
