package patchqueue

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/ulikunitz/xz"
)

func simplePatch(subject, file, old, new string) string {
	return "From: RT Dev <rt@example.org>\nDate: Mon, 2 Jan 2023 10:00:00 +0100\nSubject: [PATCH] " + subject +
		"\n\nWhy.\n---\ndiff --git a/" + file + " b/" + file + "\n--- a/" + file + "\n+++ b/" + file +
		"\n@@ -1 +1 @@\n-" + old + "\n+" + new + "\n"
}

func TestParseSeries(t *testing.T) {
	src := "# RT queue\n\n0001-a.patch\n0002-b.patch -p0   # comment\nsub/0003-c.patch -p2\n"
	es, err := ParseSeries("series", strings.NewReader(src))
	if err != nil {
		t.Fatal(err)
	}
	want := []SeriesEntry{{"0001-a.patch", 1, 3}, {"0002-b.patch", 0, 4}, {"sub/0003-c.patch", 2, 5}}
	if len(es) != len(want) {
		t.Fatalf("entries %+v", es)
	}
	for i := range want {
		if es[i] != want[i] {
			t.Errorf("entry %d = %+v, want %+v", i, es[i], want[i])
		}
	}
	for _, bad := range []string{"../escape.patch\n", "/abs.patch\n", "a.patch -R\n", "a.patch -px\n", "./a/../../b\n"} {
		if _, err := ParseSeries("series", strings.NewReader(bad)); err == nil || !strings.Contains(err.Error(), "series:1") {
			t.Errorf("ParseSeries(%q) err = %v, want an error naming series:1", bad, err)
		}
	}
}

func writeQueue(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for n, c := range files {
		p := filepath.Join(dir, n)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestReadDir(t *testing.T) {
	dir := t.TempDir()
	writeQueue(t, dir, map[string]string{
		"patches/series":           "0001-one.patch\nmissing.patch\n0003-three.patch -p0\n",
		"patches/0001-one.patch":   simplePatch("one", "a.c", "a", "A"),
		"patches/0003-three.patch": strings.NewReplacer("a/b.c", "b.c", "b/b.c", "b.c").Replace(simplePatch("three", "b.c", "b", "B")),
	})
	q, err := Open(dir, DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	if len(q.Patches) != 3 {
		t.Fatalf("%d patches", len(q.Patches))
	}
	if p := q.Patches[0]; p.Err != nil || p.Subject != "one" || p.Index != 1 || p.Files[0].Path() != "a.c" {
		t.Errorf("patch 1: %+v", p)
	}
	if p := q.Patches[1]; p.Err == nil || !strings.Contains(p.Err.Error(), "series:2") || !strings.Contains(p.Err.Error(), "missing.patch") {
		t.Errorf("missing patch error = %v", p.Err)
	}
	if p := q.Patches[2]; p.Err != nil || p.Strip != 0 || p.Files[0].Path() != "b.c" {
		t.Errorf("patch 3 (-p0): %+v err %v", p, p.Err)
	}
	if m := q.Malformed(); len(m) != 1 || m[0].Index != 2 {
		t.Errorf("Malformed() = %v", m)
	}
	if _, err := Open(t.TempDir(), DefaultLimits()); err == nil || !strings.Contains(err.Error(), "no series file") {
		t.Errorf("empty dir: %v", err)
	}
}

func tarball(t *testing.T, files map[string]string, compress string) []byte {
	t.Helper()
	var raw bytes.Buffer
	tw := tar.NewWriter(&raw)
	for _, n := range []string{"patches/", "patches/series", "patches/0001-one.patch", "patches/0002-two.patch", "evil"} {
		c, ok := files[n]
		if !ok {
			continue
		}
		h := &tar.Header{Name: n, Mode: 0o644, Size: int64(len(c)), Typeflag: tar.TypeReg}
		if strings.HasSuffix(n, "/") {
			h.Typeflag, h.Size = tar.TypeDir, 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(tw, c); err != nil && h.Size > 0 {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	switch compress {
	case "xz":
		w, err := xz.NewWriter(&out)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(raw.Bytes())
		w.Close()
	case "gz":
		w := gzip.NewWriter(&out)
		w.Write(raw.Bytes())
		w.Close()
	}
	return out.Bytes()
}

func TestReadTarball(t *testing.T) {
	files := map[string]string{
		"patches/":               "",
		"patches/series":         "0001-one.patch\n0002-two.patch\n",
		"patches/0001-one.patch": simplePatch("one", "a.c", "a", "A"),
		"patches/0002-two.patch": simplePatch("two", "b.c", "b", "B"),
	}
	for _, c := range []string{"xz", "gz"} {
		t.Run(c, func(t *testing.T) {
			dir := t.TempDir()
			name := filepath.Join(dir, "patches-6.1.176-rt64.tar."+c)
			if err := os.WriteFile(name, tarball(t, files, c), 0o644); err != nil {
				t.Fatal(err)
			}
			q, err := Open(name, DefaultLimits())
			if err != nil {
				t.Fatal(err)
			}
			if len(q.Patches) != 2 || q.Patches[1].Subject != "two" || q.Patches[1].Err != nil {
				t.Fatalf("patches %+v", q.Patches)
			}
			if !strings.HasSuffix(q.Patches[0].Source, ":patches/0001-one.patch") {
				t.Errorf("source %q does not name the member", q.Patches[0].Source)
			}
		})
	}
	t.Run("escaping member", func(t *testing.T) {
		var raw bytes.Buffer
		tw := tar.NewWriter(&raw)
		tw.WriteHeader(&tar.Header{Name: "../../etc/x", Mode: 0o644, Size: 1, Typeflag: tar.TypeReg})
		tw.Write([]byte("x"))
		tw.Close()
		_, err := ReadTarball("evil.tar", &raw, DefaultLimits())
		if err == nil || !strings.Contains(err.Error(), "escapes") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("over the size limit", func(t *testing.T) {
		_, err := ReadTarball("big.tar.xz", bytes.NewReader(tarball(t, files, "xz")), Limits{MaxPatches: 10, MaxTotalSize: 100})
		if err == nil || !strings.Contains(err.Error(), "exceed") {
			t.Errorf("err = %v", err)
		}
	})
}

func TestReadMbox(t *testing.T) {
	one := "From 1111111111111111111111111111111111111111 Mon Sep 17 00:00:00 2001\n" + simplePatch("one", "a.c", "a", "A") + "-- \n2.39.1\n\n"
	two := "From 2222222222222222222222222222222222222222 Mon Sep 17 00:00:00 2001\n" +
		strings.Replace(simplePatch("two", "b.c", "b", "B"), "Why.\n", "Why.\n>From the archives, a quoted line.\n", 1) + "-- \n2.39.1\n\n"
	three := "From 3333333333333333333333333333333333333333 Mon Sep 17 00:00:00 2001\nFrom: x <x@y.z>\nSubject: [PATCH 3/3] broken\n\n---\n--- a/c.c\n+++ b/c.c\n@@ -1,2 +1,2 @@\n-c\n+C\n"
	dir := t.TempDir()
	name := filepath.Join(dir, "queue.mbox")
	if err := os.WriteFile(name, []byte(one+two+three), 0o644); err != nil {
		t.Fatal(err)
	}
	q, err := Open(name, DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	if len(q.Patches) != 3 {
		t.Fatalf("%d patches", len(q.Patches))
	}
	if q.Patches[0].Name != "0001-one" || q.Patches[1].Subject != "two" {
		t.Errorf("names %q %q", q.Patches[0].Name, q.Patches[1].Subject)
	}
	if !strings.Contains(q.Patches[1].Body, "\nFrom the archives") {
		t.Errorf(">From not unescaped: %q", q.Patches[1].Body)
	}
	if h := q.Patches[0].Files[0].Hunks[0]; len(h.Lines) != 2 {
		t.Errorf("signature leaked into the hunk: %q", h.Lines)
	}
	err3 := q.Patches[2].Err
	if err3 == nil || !strings.HasPrefix(err3.Error(), name+":") || !strings.Contains(err3.Error(), "hunk 1") {
		t.Errorf("broken third patch: %v", err3)
	}
	// The error's line is the hunk header's line in the mbox file.
	wantLine := strings.Count(one+two, "\n") + 8
	if !strings.Contains(err3.Error(), ":"+itoa(wantLine)+":") {
		t.Errorf("error %q should point at mbox line %d", err3, wantLine)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// Mailboxes separate messages with a blank line; after a patch without a
// format-patch signature that line follows the last hunk directly and must
// not be taken for a context line (found on Debian's queue as an mbox).
func TestReadMboxBlankLineAfterLastHunk(t *testing.T) {
	msg := func(n, subject string) string {
		return "From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001\n" +
			"From: RT <rt@example.org>\nSubject: [PATCH " + n + "] " + subject + "\n\nWhy.\n---\n" +
			"--- a/f.c\n+++ b/f.c\n@@ -1,3 +1,3 @@\n a\n-b\n+B\n c\n\n"
	}
	q, err := ReadMbox("q.mbox", []byte(msg("1/2", "one")+msg("2/2", "two")), DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range q.Patches {
		if p.Err != nil {
			t.Errorf("%s: %v", p.Name, p.Err)
			continue
		}
		if h := p.Files[0].Hunks[0]; len(h.Lines) != 4 {
			t.Errorf("%s: hunk has %d lines, want 4: %q", p.Name, len(h.Lines), h.Lines)
		}
	}
	// A blank line inside the counted body is still a context line.
	p := Parse("x.patch", []byte("Subject: x\n\n---\n--- a/f\n+++ b/f\n@@ -1,3 +1,3 @@\n a\n\n-b\n+B\n"), 1)
	if p.Err != nil || len(p.Files[0].Hunks[0].Lines) != 4 {
		t.Errorf("blank context line: %v", p.Err)
	}
}
