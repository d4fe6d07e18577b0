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

// TestWriteThroughSymlink rebases queues that write below a symbolic link
// (evil -> /etc), made by an earlier patch or already in the candidate: the
// hostile patch is refused, nothing is written below the link, the link is
// untouched and the next patch still applies.
func TestWriteThroughSymlink(t *testing.T) {
	ctx := context.Background()
	passwd := "root:x:0:0:root:/root:/bin/bash"
	owned := "root::0:0:root:/root:/bin/sh"
	base := fixtures.Tree{
		"README":        {Content: "readme\n"},
		"kernel/core.c": {Content: fixtures.Lines("line", 40)},
	}
	tests := []struct {
		name      string
		candLinks map[string]string // symbolic links the candidate adds to base
		withBase  bool              // rebase from base (Materialise) instead of applying onto the candidate
		baseFiles map[string]string // files the base has besides the usual ones
		patches   []string
		link      string // the link the hostile patch goes through
		noLink    bool   // the link is in the hostile patch, so not in the result
		want      []Outcome
		wantErr   string // in patch 2's error
	}{
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
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			r, err := fixtures.Init(dir, true)
			if err != nil {
				t.Fatal(err)
			}
			bt := base.Clone()
			for p, c := range tc.baseFiles {
				bt[p] = fixtures.File{Content: c}
			}
			b, err := r.Commit(bt, "base\n")
			if err != nil {
				t.Fatal(err)
			}
			ct := bt.Clone()
			for l, target := range tc.candLinks {
				for p := range ct {
					if strings.HasPrefix(p, l+"/") {
						delete(ct, p)
					}
				}
				ct[l] = fixtures.File{Content: target, Mode: filemode.Symlink}
			}
			cand, err := r.Commit(ct, "stable\n", b)
			if err != nil {
				t.Fatal(err)
			}
			q := writeHostileQueue(t, tc.patches...)
			eng, err := Open(dir, Options{Now: func() time.Time { return time.Date(2026, 2, 2, 2, 2, 2, 0, time.UTC) }})
			if err != nil {
				t.Fatal(err)
			}
			defer eng.Close()
			qb := plumbing.ZeroHash
			if tc.withBase {
				qb = b
			}
			res, err := eng.RebaseQueue(ctx, q, qb, cand)
			if err != nil {
				t.Fatal(err)
			}
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

			// The result: no directory where the link is, the link as it
			// was, the normal change made.
			repo, err := fixtures.Open(dir)
			if err != nil {
				t.Fatal(err)
			}
			got, err := repo.Snapshot(res.Head)
			if err != nil {
				t.Fatal(err)
			}
			for p := range got {
				if strings.HasPrefix(p, tc.link+"/") {
					t.Errorf("the result has %s below the link", p)
				}
			}
			if !strings.Contains(got["kernel/core.c"].Content, "rt 10\n") {
				t.Error("patch 3's change is missing")
			}
			if tc.noLink {
				if l, ok := got[tc.link]; ok {
					t.Errorf("the result has %s: %+v", tc.link, l)
				}
				return
			}
			if l := got[tc.link]; l.Mode != filemode.Symlink || l.Content != "/etc" {
				t.Errorf("the link is now %+v", l)
			}
			hc, err := repo.Repo.CommitObject(res.Head)
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
		})
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
