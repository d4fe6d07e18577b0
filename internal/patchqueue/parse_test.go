package patchqueue

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rtbot/rtbot/internal/gitpath"
	"github.com/rtbot/rtbot/internal/testkit"
)

const formatPatch = `From 2d8f9fe8c2c118a338004f0375b32dc0b2dc9758 Mon Sep 17 00:00:00 2001
From: Sebastian Andrzej Siewior <bigeasy@linutronix.de>
Date: Wed, 22 Jun 2022 12:27:05 +0200
Subject: [PATCH 03/72] sched: Consider task_struct::saved_state in
 wait_task_inactive().
Origin: https://git.kernel.org/cgit/linux/kernel/git/rt/linux-stable-rt.git/commit?id=2d8f9fe8c2c1

Ptrace is using wait_task_inactive() to wait for the tracee.

Signed-off-by: Sebastian Andrzej Siewior <bigeasy@linutronix.de>

Conflicts:
	kernel/sched/core.c
---
 kernel/sched/core.c | 3 ++-
 1 file changed, 2 insertions(+), 1 deletion(-)

diff --git a/kernel/sched/core.c b/kernel/sched/core.c
index 56111b42da2a..6a7f727abb06 100644
--- a/kernel/sched/core.c
+++ b/kernel/sched/core.c
@@ -10,7 +10,8 @@ static int foo(void)
 a
 b
 c
-d
+D
+E
 e
 f
 g
-- 
2.39.1
`

const quiltPatch = `Subject: rt: plain quilt patch
From: Some One <one@example.org>

A quilt patch without diff --git lines.

Index: linux/kernel/fork.c
===================================================================
--- linux.orig/kernel/fork.c	2022-01-01 00:00:00.000000000 +0000
+++ linux/kernel/fork.c	2022-01-01 00:00:01.000000000 +0000
@@ -1,3 +1,3 @@
 one
-two
+TWO
 three
--- linux.orig/kernel/exit.c
+++ linux/kernel/exit.c
@@ -5,2 +5,3 @@
 five
+five and a half
 six
`

const gitFeatures = `From: "Ann Author" <ann@example.org>
Subject: [PATCH] kitchen sink

Every git diff feature.
---
diff --git a/newfile.c b/newfile.c
new file mode 100644
index 0000000..e69de29
--- /dev/null
+++ b/newfile.c
@@ -0,0 +1,2 @@
+int x;
+int y;
diff --git a/gone.c b/gone.c
deleted file mode 100644
index 1111111..0000000
--- a/gone.c
+++ /dev/null
@@ -1 +0,0 @@
-bye
diff --git a/old/name.c b/new/name.c
similarity index 90%
rename from old/name.c
rename to new/name.c
index 2222222..3333333 100644
--- a/old/name.c
+++ b/new/name.c
@@ -1,2 +1,2 @@
 keep
-old
+new
diff --git a/pure/rename.c b/pure/renamed.c
similarity index 100%
rename from pure/rename.c
rename to pure/renamed.c
diff --git a/scripts/run.sh b/scripts/run.sh
old mode 100644
new mode 100755
diff --git a/nonl.c b/nonl.c
index 4444444..5555555 100644
--- a/nonl.c
+++ b/nonl.c
@@ -1,2 +1,2 @@
 first
-last
\ No newline at end of file
+last fixed
\ No newline at end of file
diff --git a/addnl.c b/addnl.c
index 6666666..7777777 100644
--- a/addnl.c
+++ b/addnl.c
@@ -1 +1 @@
-tail
\ No newline at end of file
+tail
`

func TestParseFormatPatch(t *testing.T) {
	p := Parse("0003-sched.patch", []byte(formatPatch), 1)
	if p.Err != nil {
		t.Fatal(p.Err)
	}
	if p.AuthorName != "Sebastian Andrzej Siewior" || p.AuthorEmail != "bigeasy@linutronix.de" {
		t.Errorf("author %q <%s>", p.AuthorName, p.AuthorEmail)
	}
	if got := p.Date.UTC().Format("2006-01-02 15:04"); got != "2022-06-22 10:27" {
		t.Errorf("date %s", got)
	}
	if p.Subject != "sched: Consider task_struct::saved_state in wait_task_inactive()." {
		t.Errorf("subject %q", p.Subject)
	}
	if !strings.Contains(p.Body, "Conflicts:\n\tkernel/sched/core.c") || strings.Contains(p.Body, "1 file changed") {
		t.Errorf("body keeps the Conflicts note and drops the diffstat, got %q", p.Body)
	}
	if p.Headers["Origin"] == "" {
		t.Errorf("Origin header lost: %v", p.Headers)
	}
	if len(p.Files) != 1 {
		t.Fatalf("%d files", len(p.Files))
	}
	f := p.Files[0]
	if f.OldPath != "kernel/sched/core.c" || f.NewPath != "kernel/sched/core.c" || f.Op != OpModify {
		t.Errorf("file %+v", f)
	}
	if f.OldIndex != "56111b42da2a" || f.NewIndex != "6a7f727abb06" || f.NewMode != 0o100644 {
		t.Errorf("index %s..%s mode %o", f.OldIndex, f.NewIndex, f.NewMode)
	}
	h := f.Hunks[0]
	// The "-- " signature must not be read as a removed line.
	if len(h.Lines) != 9 || h.Lines[len(h.Lines)-1].Text != "g\n" {
		t.Errorf("hunk lines %q", h.Lines)
	}
	if h.Pos != 22 || h.Section != "static int foo(void)" {
		t.Errorf("hunk at line %d section %q", h.Pos, h.Section)
	}
	if strings.Join(h.Old(), "") != "a\nb\nc\nd\ne\nf\ng\n" || strings.Join(h.New(), "") != "a\nb\nc\nD\nE\ne\nf\ng\n" {
		t.Errorf("old %q new %q", h.Old(), h.New())
	}
	if !strings.HasPrefix(p.Message(), "sched: Consider") || !strings.HasSuffix(p.Message(), "\n") {
		t.Errorf("message %q", p.Message())
	}
}

func TestParseQuiltPatch(t *testing.T) {
	p := Parse("fork.patch", []byte(quiltPatch), 1)
	if p.Err != nil {
		t.Fatal(p.Err)
	}
	if p.Subject != "rt: plain quilt patch" || p.Body != "A quilt patch without diff --git lines." {
		t.Errorf("subject %q body %q", p.Subject, p.Body)
	}
	if len(p.Files) != 2 || p.Files[0].Path() != "kernel/fork.c" || p.Files[1].Path() != "kernel/exit.c" {
		t.Fatalf("files %+v", p.Files)
	}
	if p.Files[1].Hunks[0].NewLines != 3 || p.Files[1].Pos != 15 {
		t.Errorf("second file %+v", p.Files[1])
	}
}

func TestParseGitFeatures(t *testing.T) {
	p := Parse("sink.patch", []byte(gitFeatures), 1)
	if p.Err != nil {
		t.Fatal(p.Err)
	}
	if p.AuthorName != "Ann Author" {
		t.Errorf("author %q", p.AuthorName)
	}
	type want struct {
		op       Op
		old, new string
		oldMode  uint32
		newMode  uint32
		hunks    int
	}
	wants := []want{
		{OpAdd, "", "newfile.c", 0, 0o100644, 1},
		{OpDelete, "gone.c", "", 0o100644, 0, 1},
		{OpRename, "old/name.c", "new/name.c", 0o100644, 0o100644, 1},
		{OpRename, "pure/rename.c", "pure/renamed.c", 0, 0, 0},
		{OpModify, "scripts/run.sh", "scripts/run.sh", 0o100644, 0o100755, 0},
		{OpModify, "nonl.c", "nonl.c", 0o100644, 0o100644, 1},
		{OpModify, "addnl.c", "addnl.c", 0o100644, 0o100644, 1},
	}
	if len(p.Files) != len(wants) {
		t.Fatalf("%d files, want %d", len(p.Files), len(wants))
	}
	for i, w := range wants {
		f := p.Files[i]
		if f.Op != w.op || f.OldPath != w.old || f.NewPath != w.new || f.OldMode != w.oldMode || f.NewMode != w.newMode || len(f.Hunks) != w.hunks {
			t.Errorf("file %d: got %v %q %q %o %o %d hunks, want %+v", i, f.Op, f.OldPath, f.NewPath, f.OldMode, f.NewMode, len(f.Hunks), w)
		}
	}
	nonl := p.Files[5].Hunks[0]
	if got := strings.Join(nonl.Old(), "|"); got != "first\n|last" {
		t.Errorf("no-newline old side %q", got)
	}
	if got := strings.Join(nonl.New(), "|"); got != "first\n|last fixed" {
		t.Errorf("no-newline new side %q", got)
	}
	addnl := p.Files[6].Hunks[0]
	if strings.Join(addnl.Old(), "") != "tail" || strings.Join(addnl.New(), "") != "tail\n" {
		t.Errorf("adding a final newline: old %q new %q", addnl.Old(), addnl.New())
	}
}

func TestParseRejects(t *testing.T) {
	hdr := "From: a <a@b.c>\nSubject: x\n\nmsg\n---\n"
	tests := []struct {
		name, patch string
		// every substring must be in the error
		want []string
	}{
		{"binary", hdr + "diff --git a/fw.bin b/fw.bin\nindex 1111111..2222222 100644\nGIT binary patch\nliteral 3\nKcmZp0\n\n", []string{"fw.bin", "binary"}},
		{"dot-dot", hdr + "--- a/../../etc/passwd\n+++ b/../../etc/passwd\n@@ -1 +1 @@\n-a\n+b\n", []string{"..", "etc/passwd"}},
		{"absolute path with -p0", hdr + "--- /etc/passwd\n+++ /etc/passwd\n@@ -1 +1 @@\n-a\n+b\n", []string{"absolute", "passwd"}},
		{"into .git", hdr + "--- a/.git/hooks/post-merge\n+++ b/.git/hooks/post-merge\n@@ -1 +1 @@\n-a\n+b\n", []string{".git"}},
		{"rename into .git", hdr + "diff --git a/x b/.git/config\nsimilarity index 100%\nrename from x\nrename to .git/config\n", []string{".git"}},
		{"short hunk", hdr + "--- a/f.c\n+++ b/f.c\n@@ -1,3 +1,3 @@\n a\n-b\n+c\n", []string{"f.c", "hunk 1", ":8:", "header says -1,3 +1,3"}},
		{"long hunk", hdr + "--- a/f.c\n+++ b/f.c\n@@ -1,1 +1,1 @@\n a\n-b\n+c\n", []string{"hunk 1", "header says"}},
		{"bad mode", hdr + "diff --git a/f b/f\nold mode 100644\nnew mode 104777\n", []string{"mode"}},
		{"no diff", hdr + "just words\n", []string{"no diff"}},
		{"overlapping hunks", hdr + "--- a/f.c\n+++ b/f.c\n@@ -5,2 +5,2 @@\n a\n-b\n+c\n@@ -2,2 +2,2 @@\n a\n-b\n+c\n", []string{"hunk 2", "inside or before"}},
		{"nul byte", hdr + "--- a/f\n+++ b/f\n@@ -1 +1 @@\n-a\x00\n+b\n", []string{"NUL"}},
	}
	tests = append(tests, hostilePathCases(hdr)...)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			strip := 1
			if strings.HasPrefix(tc.name, "absolute") {
				strip = 0
			}
			p := Parse("bad.patch", []byte(tc.patch), strip)
			if p.Err == nil {
				for _, f := range p.Files {
					t.Errorf("accepted %s %q -> %q", f.Op, f.OldPath, f.NewPath)
				}
				t.FailNow()
			}
			var pe *PatchError
			if !errors.As(p.Err, &pe) {
				t.Errorf("error %T is not a *PatchError", p.Err)
			}
			msg := p.Err.Error()
			if !strings.HasPrefix(msg, "bad.patch") {
				t.Errorf("error %q does not name the patch file", msg)
			}
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q lacks %q", msg, w)
				}
			}
		})
	}
}

// hostilePathCases are patches whose paths git refuses although they stay
// inside the tree: absolute names at -p1 (git apply would strip the "/" as
// the first component; rtbot refuses them, as its documentation says), and
// the names NTFS or HFS+ take for .git, or for .gitmodules in a symbolic
// link, which git's verify_path and fsck refuse.
func hostilePathCases(hdr string) []struct {
	name, patch string
	want        []string
} {
	modify := func(a, b string) string {
		return hdr + "--- " + a + "\n+++ " + b + "\n@@ -1 +1 @@\n-a\n+b\n"
	}
	create := func(path, mode string) string {
		return hdr + "diff --git a/" + path + " b/" + path + "\nnew file mode " + mode + "\n--- /dev/null\n+++ b/" + path +
			"\n@@ -0,0 +1 @@\n+/etc/passwd\n\\ No newline at end of file\n"
	}
	return []struct {
		name, patch string
		want        []string
	}{
		{"-p1 absolute path", modify("/etc/passwd", "/etc/passwd"), []string{"absolute", `"/etc/passwd"`}},
		{"-p1 absolute new file", modify("/dev/null", "/abs/path"), []string{"absolute", `"/abs/path"`}},
		{"-p1 absolute old name only", modify("/kernel/core.c", "b/kernel/core.c"), []string{"absolute", `"/kernel/core.c"`}},
		{"-p1 absolute after stripping", modify("a//etc/passwd", "b//etc/passwd"), []string{"absolute", `"a//etc/passwd"`}},
		{"-p1 absolute git header", hdr + "diff --git /etc/passwd /etc/passwd\nold mode 100644\nnew mode 100755\n", []string{"absolute", "/etc/passwd"}},
		{"NTFS trailing dot", modify("a/.git./config", "b/.git./config"), []string{`".git."`, "NTFS", "is_ntfs_dotgit"}},
		{"NTFS trailing dots and spaces", modify("a/.git . ./config", "b/.git . ./config"), []string{`".git . ."`, "NTFS"}},
		{"NTFS short name", modify("a/git~1/hooks/post-merge", "b/git~1/hooks/post-merge"), []string{`"git~1"`, "NTFS"}},
		{"NTFS short name upper case", create("GIT~1/config", "100644"), []string{`"GIT~1"`, "NTFS"}},
		{"NTFS stream", modify("a/.git::$INDEX_ALLOCATION/config", "b/.git::$INDEX_ALLOCATION/config"), []string{`".git::$INDEX_ALLOCATION"`, "NTFS"}},
		{"NTFS backslash", create("drivers/x\\.git\\hooks", "100644"), []string{"NTFS", "backslash"}},
		{"upper case .GIT", modify("a/.GIT/config", "b/.GIT/config"), []string{".git"}},
		{"HFS zero-width non-joiner", modify("a/.g\u200cit/config", "b/.g\u200cit/config"), []string{`".g\u200cit"`, "HFS+", "is_hfs_dotgit"}},
		{"HFS marks around it", create("\u200e.GI\ufeffT\u202e/config", "100644"), []string{"HFS+"}},
		{"quoted HFS name", hdr + "--- \"a/.g\\342\\200\\214it/config\"\n+++ \"b/.g\\342\\200\\214it/config\"\n@@ -1 +1 @@\n-a\n+b\n", []string{"HFS+"}},
		{"rename to NTFS short name", hdr + "diff --git a/x b/git~1/config\nsimilarity index 100%\nrename from x\nrename to git~1/config\n", []string{`"git~1"`}},
		{"symbolic link .gitmodules", create(".gitmodules", "120000"), []string{".gitmodules", "symbolic link"}},
		{"symbolic link .gitmodules NTFS", create("sub/GITMOD~1", "120000"), []string{".gitmodules", "symbolic link", "NTFS"}},
		{"symbolic link .gitmodules trailing dot", create(".gitmodules.", "120000"), []string{".gitmodules", "symbolic link"}},
		{"symbolic link .gitmodules HFS", create(".git\u200cmodules", "120000"), []string{".gitmodules", "symbolic link", "HFS+"}},
		{"mode change to symbolic link .gitmodules", hdr + "diff --git a/.gitmodules b/.gitmodules\nold mode 100644\nnew mode 120000\n", []string{".gitmodules", "symbolic link"}},
	}
}

// TestParseAcceptsGitLikeNames: names close to .git that git accepts
// (the kernel has .gitignore, .gitattributes and .mailmap everywhere) are
// not refused.
func TestParseAcceptsGitLikeNames(t *testing.T) {
	for _, path := range []string{".gitignore", ".gitattributes", ".mailmap", ".github/workflows/ci.yml",
		".gitmodules", "git~2/x", "gitx/.git-blame-ignore-revs", ".gitx", "x.git", ".\u0147it/x", "a/b\\c", ".git~1", "GIT~1x"} {
		src := "From: a <a@b.c>\nSubject: x\n\nmsg\n---\n--- a/" + path + "\n+++ b/" + path + "\n@@ -1 +1 @@\n-a\n+b\n"
		if p := Parse("ok.patch", []byte(src), 1); p.Err != nil {
			t.Errorf("%q: %v", path, p.Err)
		} else if p.Files[0].NewPath != path {
			t.Errorf("%q parsed as %q", path, p.Files[0].NewPath)
		}
	}
}

func TestParseNoHeaders(t *testing.T) {
	p := Parse("fix.patch", []byte("Fix the thing\n\nLonger words.\n\n--- a/x.c\n+++ b/x.c\n@@ -1 +1 @@\n-a\n+b\n"), 1)
	if p.Err != nil {
		t.Fatal(p.Err)
	}
	if p.Subject != "Fix the thing" || p.Body != "Longer words." || p.AuthorName != "" {
		t.Errorf("subject %q body %q author %q", p.Subject, p.Body, p.AuthorName)
	}
}

func TestParseEncodedHeaders(t *testing.T) {
	src := "From: =?UTF-8?q?J=C3=B6rg_M=C3=BCller?= <jm@example.org>\nSubject: =?ISO-8859-1?Q?[PATCH]_caf=E9:_fix?=\nContent-Transfer-Encoding: quoted-printable\n\n" +
		"Body line.\n---\n--- a/x.c\n+++ b/x.c\n@@ -1 +1 @@\n-a=3Db\n+a=3Dc\n"
	p := Parse("enc.patch", []byte(src), 1)
	if p.Err != nil {
		t.Fatal(p.Err)
	}
	if p.AuthorName != "Jörg Müller" || p.Subject != "café: fix" {
		t.Errorf("author %q subject %q", p.AuthorName, p.Subject)
	}
	if got := p.Files[0].Hunks[0].New()[0]; got != "a=c\n" {
		t.Errorf("quoted-printable body not decoded: %q", got)
	}
}

func TestCleanSubject(t *testing.T) {
	for in, want := range map[string]string{
		"[PATCH 03/72] sched: fix":          "sched: fix",
		"Re: [PATCH v2 1/3] mm: x":          "mm: x",
		"[PATCH RT] [PATCH] rt:   spaced":   "rt: spaced",
		"plain":                             "plain",
		"[ANNOUNCE] v6.6-rt12":              "v6.6-rt12",
		"Fwd: [PATCH 6.1 001/2] net: thing": "net: thing",
	} {
		if got := CleanSubject(in); got != want {
			t.Errorf("CleanSubject(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseRange(t *testing.T) {
	for in, ok := range map[string]bool{
		"v6.1.176..v6.1.176-rt64": true,
		"a..b":                    true,
		"../q":                    false,
		"a...b":                   false,
		"a..":                     false,
		"a..b;rm":                 false,
		"-x..y":                   false,
		"queue/patches":           false,
	} {
		if _, got := ParseRange(in); got != ok {
			t.Errorf("ParseRange(%q) ok=%v, want %v", in, got, ok)
		}
	}
}

// FuzzParse checks that no input makes Parse panic, and that whatever it
// accepts is self-consistent, stays inside the tree and is a path git
// accepts in a tree with the file's mode: never absolute, never .git under
// any name a file system gives it, never .gitmodules as a symbolic link.
func FuzzParse(f *testing.F) {
	for _, s := range []string{formatPatch, quiltPatch, gitFeatures} {
		f.Add([]byte(s))
	}
	for _, c := range hostilePathCases("From: a <a@b.c>\nSubject: x\n\nmsg\n---\n") {
		f.Add([]byte(c.patch))
	}
	// The real list mails: a stable patch and an RT release mail with a diff.
	for _, n := range testkit.Glob(f, filepath.Join(testkit.MailsDir(), "*.eml")) {
		b, err := os.ReadFile(n)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p := Parse("fuzz.patch", data, 1)
		if p.Err != nil {
			return
		}
		for _, fl := range p.Files {
			for _, side := range []struct {
				path string
				mode uint32
			}{{fl.OldPath, fl.OldMode}, {fl.NewPath, fl.NewMode}} {
				if side.path != "" && (CheckPath(side.path) != nil || gitpath.Verify(side.path, side.mode) != nil) {
					t.Fatalf("accepted unsafe path %q (mode %06o)", side.path, side.mode)
				}
			}
			for _, h := range fl.Hunks {
				if len(h.Old()) != h.OldLines || len(h.New()) != h.NewLines {
					t.Fatalf("hunk counts disagree with body: %+v", h)
				}
			}
		}
	})
}

func TestWriteFormatPatchRoundTrip(t *testing.T) {
	orig := Parse("sink.patch", []byte(gitFeatures), 1)
	if orig.Err != nil {
		t.Fatal(orig.Err)
	}
	var b strings.Builder
	if err := WriteFormatPatch(&b, orig); err != nil {
		t.Fatal(err)
	}
	back := Parse("again.patch", []byte(b.String()), 1)
	if back.Err != nil {
		t.Fatalf("%v\n%s", back.Err, b.String())
	}
	if back.Subject != orig.Subject || back.AuthorName != orig.AuthorName || len(back.Files) != len(orig.Files) {
		t.Fatalf("round trip changed the patch:\n%s", b.String())
	}
	for i := range orig.Files {
		o, n := orig.Files[i], back.Files[i]
		if o.Op != n.Op || o.OldPath != n.OldPath || o.NewPath != n.NewPath || len(o.Hunks) != len(n.Hunks) {
			t.Errorf("file %d: %+v became %+v", i, o, n)
			continue
		}
		for j := range o.Hunks {
			if strings.Join(o.Hunks[j].Old(), "") != strings.Join(n.Hunks[j].Old(), "") ||
				strings.Join(o.Hunks[j].New(), "") != strings.Join(n.Hunks[j].New(), "") {
				t.Errorf("file %d hunk %d differs after the round trip", i, j)
			}
		}
	}
}
