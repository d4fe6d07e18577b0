package patchqueue

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// lines returns n body lines "<op>l<i>\n".
func lines(op string, n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "%sl%d\n", op, i)
	}
	return b.String()
}

// TestParseLimits checks that oversized patches and hunks, and hunk headers
// with absurd numbers, are refused with a *PatchError that locates them.
func TestParseLimits(t *testing.T) {
	hdr := "From: a <a@b.c>\nSubject: x\n\nmsg\n---\n" // the diff starts at line 6
	small := Limits{MaxHunkLines: 5, MaxPatchBytes: 4096}
	tests := []struct {
		name  string
		lim   Limits
		patch string
		want  []string // every substring must be in the error
		line  int      // PatchError.Line; 0 = unknown
	}{
		{"hunk header count over the limit", DefaultLimits(),
			hdr + "--- a/f.c\n+++ b/f.c\n@@ -1,2147483647 +1,2147483647 @@\n a\n",
			[]string{"bad.patch:8: file f.c hunk 1:", "claims 2147483647 old lines", "limit of 200000 lines per hunk"}, 8},
		{"new count over a small limit", small,
			hdr + "--- /dev/null\n+++ b/new.c\n@@ -0,0 +1,6 @@\n" + lines("+", 6),
			[]string{"file new.c hunk 1", "claims 6 new lines", "limit of 5"}, 8},
		{"count overflows int", DefaultLimits(),
			hdr + "--- a/f.c\n+++ b/f.c\n@@ -1,99999999999999999999 +1,1 @@\n-a\n+b\n",
			[]string{"file f.c hunk 1", "old line count", "99999999999999999999 is out of range"}, 8},
		{"start overflows int32", DefaultLimits(),
			hdr + "--- a/f.c\n+++ b/f.c\n@@ -1 +4294967296 @@\n-a\n+b\n",
			[]string{"file f.c hunk 1", "new start line", "4294967296 is out of range"}, 8},
		{"start plus count overflows int32", DefaultLimits(),
			hdr + "--- a/f.c\n+++ b/f.c\n@@ -2147483647,2 +1,2 @@\n a\n b\n",
			[]string{"file f.c hunk 1", "old range 2147483647,2 is out of range"}, 8},
		{"negative count", DefaultLimits(),
			hdr + "--- a/f.c\n+++ b/f.c\n@@ -1,-1 +1,1 @@\n+b\n",
			[]string{"file f.c hunk 1", `"-1" is not a non-negative decimal number`}, 8},
		{"signed start", DefaultLimits(),
			hdr + "--- a/f.c\n+++ b/f.c\n@@ --5,1 +1,1 @@\n-a\n+b\n",
			[]string{"file f.c hunk 1", `"-5" is not a non-negative`}, 8},
		{"body longer than the limit", small,
			hdr + "--- a/f.c\n+++ b/f.c\n@@ -1,1 +1,1 @@\n" + lines("+", 9),
			[]string{"bad.patch:8: file f.c hunk 1:", "longer than the limit of 5 lines per hunk", "line 14 is its line 6"}, 8},
		{"body hides a file header", small, // "---"/"+++" not before "@@ " are body lines
			hdr + "--- a/f.c\n+++ b/f.c\n@@ -1,1 +1,1 @@\n" + lines("+", 3) + "--- x\n+++ y\n" + lines("+", 3),
			[]string{"file f.c hunk 1", "longer than the limit of 5"}, 8},
		{"second hunk of second file", small,
			hdr + "diff --git a/a.c b/a.c\n--- a/a.c\n+++ b/a.c\n@@ -1 +1 @@\n-a\n+b\n" +
				"diff --git a/b.c b/b.c\n--- a/b.c\n+++ b/b.c\n@@ -1 +1 @@\n-a\n+b\n@@ -9,1 +9,1 @@\n" + lines(" ", 6),
			[]string{"bad.patch:18: file b.c hunk 2:", "longer than the limit of 5", "line 24 is its line 6"}, 18},
		{"deleted file", small,
			hdr + "--- a/gone.c\n+++ /dev/null\n@@ -1,9 +0,0 @@\n" + lines("-", 9),
			[]string{"file gone.c hunk 1", "claims 9 old lines"}, 8},
		{"quoted-printable body, line unknown", small,
			"From: a <a@b.c>\nSubject: x\nContent-Transfer-Encoding: quoted-printable\n\nmsg\n---\n--- a/f.c\n+++ b/f.c\n@@ -1,1 +1,1 @@\n" + lines("+", 9),
			[]string{"bad.patch: file f.c hunk 1:", "longer than the limit of 5"}, 0},
		{"patch over the byte limit", small,
			hdr + "--- a/f.c\n+++ b/f.c\n@@ -1 +1 @@\n-a\n+" + strings.Repeat("x", 5000) + "\n",
			[]string{"bad.patch: patch is 5073 bytes, over the limit of 4096 bytes per patch"}, 0},
		{"default byte limit is 64 MiB", Limits{},
			strings.Repeat("x", 64<<20+1),
			[]string{"over the limit of 67108864 bytes per patch"}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := ParseWithLimits("bad.patch", []byte(tc.patch), 1, tc.lim)
			if p.Err == nil {
				t.Fatalf("accepted: %d files", len(p.Files))
			}
			var pe *PatchError
			if !errors.As(p.Err, &pe) {
				t.Fatalf("error %T is not a *PatchError: %v", p.Err, p.Err)
			}
			if pe.Line != tc.line {
				t.Errorf("error %q: line %d, want %d", p.Err, pe.Line, tc.line)
			}
			for _, w := range tc.want {
				if !strings.Contains(p.Err.Error(), w) {
					t.Errorf("error %q lacks %q", p.Err, w)
				}
			}
		})
	}
}

// TestParseLimitsBoundary checks that hunks at the limit still parse, with
// the default limits and with small ones, and that zero limits mean the
// defaults.
func TestParseLimitsBoundary(t *testing.T) {
	const max = 200000
	newFile := func(n int) string {
		return fmt.Sprintf("--- /dev/null\n+++ b/big.c\n@@ -0,0 +1,%d @@\n", n) + lines("+", n)
	}
	p := Parse("ok.patch", []byte(newFile(max)), 1)
	if p.Err != nil {
		t.Fatalf("a %d-line hunk: %v", max, p.Err)
	}
	if got := len(p.Files[0].Hunks[0].Lines); got != max {
		t.Errorf("%d lines parsed, want %d", got, max)
	}
	if p := Parse("big.patch", []byte(newFile(max+1)), 1); p.Err == nil || !strings.Contains(p.Err.Error(), "limit of 200000 lines") {
		t.Errorf("a %d-line hunk: err = %v", max+1, p.Err)
	}

	// Five body lines, a "\ No newline" marker and the blank lines that end
	// an mail are within a limit of five.
	lim := Limits{MaxHunkLines: 5}
	ok := "--- a/f.c\n+++ b/f.c\n@@ -1,3 +1,2 @@\n a\n-b\n-c\n+C\n\\ No newline at end of file\n+D\n\n\n"
	if p := ParseWithLimits("ok.patch", []byte(ok), 1, lim); p.Err != nil {
		t.Errorf("a hunk at the limit: %v", p.Err)
	}
	// A blank line inside the body is a context line and counts.
	blank := "--- a/f.c\n+++ b/f.c\n@@ -1,5 +1,5 @@\n a\n\n b\n\n c\n-d\n+D\n"
	if p := ParseWithLimits("blank.patch", []byte(blank), 1, Limits{MaxHunkLines: 6}); p.Err == nil || !strings.Contains(p.Err.Error(), "its line 7") {
		t.Errorf("7 body lines with blank context lines: err = %v", p.Err)
	}
	if p := ParseWithLimits("ok.patch", []byte(formatPatch), 1, Limits{}); p.Err != nil {
		t.Errorf("zero Limits: %v", p.Err)
	}
}

// TestQueueOversizedPatch reads a quilt queue whose middle patch breaks a
// limit: only that patch is malformed, the queue opens and the patches
// around it parse.
func TestQueueOversizedPatch(t *testing.T) {
	small := Limits{MaxHunkLines: 5, MaxPatchBytes: 2048}
	bigHunk := "From: RT Dev <rt@example.org>\nSubject: [PATCH] big\n\nWhy.\n---\n" +
		"--- a/big.c\n+++ b/big.c\n@@ -1,1 +1,1 @@\n" + lines("+", 8)
	tests := []struct {
		name, bad string
		lim       Limits
		want      []string
	}{
		{"hunk over MaxHunkLines", bigHunk, small,
			[]string{"0002-bad.patch:8: file big.c hunk 1:", "longer than the limit of 5 lines"}},
		{"absurd hunk header", strings.Replace(simplePatch("hdr", "h.c", "a", "b"), "@@ -1 +1 @@", "@@ -1,2147483647 +1,2147483647 @@", 1), DefaultLimits(),
			[]string{"0002-bad.patch:", "file h.c hunk 1:", "claims 2147483647 old lines"}},
		{"file over MaxPatchBytes", simplePatch("big", "big.c", "a", strings.Repeat("x", 4000)), small,
			[]string{"series:2", "0002-bad.patch", "bytes, over the limit of 2048 bytes per patch"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeQueue(t, dir, map[string]string{
				"series":           "0001-one.patch\n0002-bad.patch\n0003-three.patch\n",
				"0001-one.patch":   simplePatch("one", "a.c", "a", "A"),
				"0002-bad.patch":   tc.bad,
				"0003-three.patch": simplePatch("three", "b.c", "b", "B"),
			})
			q, err := Open(dir, tc.lim)
			if err != nil {
				t.Fatal(err)
			}
			if len(q.Patches) != 3 {
				t.Fatalf("%d patches", len(q.Patches))
			}
			for _, i := range []int{0, 2} {
				if p := q.Patches[i]; p.Err != nil || len(p.Files) != 1 || len(p.Files[0].Hunks) != 1 {
					t.Errorf("patch %d: err %v, %d files", i+1, p.Err, len(p.Files))
				}
			}
			bad := q.Patches[1]
			if bad.Err == nil {
				t.Fatal("the oversized patch parsed")
			}
			var pe *PatchError
			if !errors.As(bad.Err, &pe) {
				t.Errorf("error %T is not a *PatchError", bad.Err)
			}
			for _, w := range tc.want {
				if !strings.Contains(bad.Err.Error(), w) {
					t.Errorf("error %q lacks %q", bad.Err, w)
				}
			}
			if m := q.Malformed(); len(m) != 1 || m[0].Index != 2 {
				t.Errorf("Malformed() = %v", m)
			}
		})
	}
}

// TestMboxOversizedHunk checks that the limits apply to each mail of an
// mbox and that the error's line is the mbox file's.
func TestMboxOversizedHunk(t *testing.T) {
	mail := func(subject, diff string) string {
		return "From 2d8f9fe8c2c118a338004f0375b32dc0b2dc9758 Mon Sep 17 00:00:00 2001\nFrom: a <a@b.c>\nSubject: [PATCH] " + subject + "\n\nmsg\n---\n" + diff + "\n"
	}
	ok := "--- a/f.c\n+++ b/f.c\n@@ -1 +1 @@\n-a\n+b\n"
	big := "--- a/g.c\n+++ b/g.c\n@@ -1,1 +1,1 @@\n" + lines("+", 8)
	mbox := mail("one", ok) + mail("two", big) + mail("three", ok)
	name := filepath.Join(t.TempDir(), "q.mbox")
	if err := os.WriteFile(name, []byte(mbox), 0o644); err != nil {
		t.Fatal(err)
	}
	q, err := Open(name, Limits{MaxHunkLines: 5})
	if err != nil {
		t.Fatal(err)
	}
	if len(q.Patches) != 3 || q.Patches[0].Err != nil || q.Patches[2].Err != nil {
		t.Fatalf("patches: %+v", q.Patches)
	}
	// Mail one is 12 lines; mail two's hunk header is its line 9.
	if err := q.Patches[1].Err; err == nil || !strings.Contains(err.Error(), "q.mbox:21: file g.c hunk 1:") {
		t.Errorf("mail two: err = %v", err)
	}
}

// TestParseDiffParserPanic: input that makes the diff parser panic is a
// malformed patch, not a crash (found by FuzzParse).
func TestParseDiffParserPanic(t *testing.T) {
	p := Parse("panic.patch", []byte("diff --git 0  \nold mode \nnew mode "), 1)
	if p.Err == nil || !strings.Contains(p.Err.Error(), "panic.patch") || !strings.Contains(p.Err.Error(), "diff parser failed") {
		t.Errorf("err = %v", p.Err)
	}
}
