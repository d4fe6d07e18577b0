package candidate

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/rtbot/rtbot/fixtures"
	"github.com/rtbot/rtbot/merger"
	"github.com/rtbot/rtbot/patchqueue"
)

const realMakefileHead = `# SPDX-License-Identifier: GPL-2.0
VERSION = 6
PATCHLEVEL = 1
SUBLEVEL = 177
EXTRAVERSION = -rc1
NAME = Curry Ramen

# *DOCUMENTATION*
# To see a list of typical targets execute "make help"
`

func TestParseMakefile(t *testing.T) {
	for _, tc := range []struct {
		in, want, err string
	}{
		{realMakefileHead, "6.1.177-rc1", ""},
		{strings.Replace(realMakefileHead, "EXTRAVERSION = -rc1", "EXTRAVERSION =", 1), "6.1.177", ""},
		{"VERSION=5\nPATCHLEVEL=10\nSUBLEVEL=0\nEXTRAVERSION=\n", "5.10.0", ""},
		{strings.Replace(realMakefileHead, "SUBLEVEL = 177\n", "", 1), "", "SUBLEVEL"},
		{strings.Replace(realMakefileHead, "SUBLEVEL = 177", "SUBLEVEL = 17x", 1), "", "SUBLEVEL"},
		{strings.Replace(realMakefileHead, "EXTRAVERSION = -rc1", "EXTRAVERSION = -rc1 $(shell x)", 1), "", "EXTRAVERSION"},
		{"", "", "VERSION"},
	} {
		v, err := ParseMakefile([]byte(tc.in))
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseMakefile(%q) = %v, %v; want an error naming %s", tc.in, v, err, tc.err)
			}
			continue
		}
		if err != nil || v.String() != tc.want {
			t.Errorf("ParseMakefile(%q) = %v, %v; want %s", tc.in, v, err, tc.want)
		}
	}
}

func TestPreviousRelease(t *testing.T) {
	for in, want := range map[string]string{"6.1.177": "v6.1.176", "6.1.1": "v6.1", "5.10.2": "v5.10.1", "6.1.0": "", "6.1": "", "6.1.x": "", "6.1.07": ""} {
		got, err := PreviousRelease(in)
		if got != want || (want == "") != (err != nil) {
			t.Errorf("PreviousRelease(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

func TestPatchSource(t *testing.T) {
	for _, tc := range []struct{ tmpl, want string }{
		{"https://www.kernel.org/pub/linux/kernel/v6.x/stable-review/patch-{version}-rc{rc}.gz", "https://www.kernel.org/pub/linux/kernel/v6.x/stable-review/patch-6.1.177-rc1.gz"},
		{"/srv/rc/patch-{version}-rc{rc}", "/srv/rc/patch-6.1.177-rc1"},
		{"http://127.0.0.1:8080/patch-{version}-rc{rc}.xz", "http://127.0.0.1:8080/patch-6.1.177-rc1.xz"},
		{"http://example.org/patch-{version}", ""},
		{"ftp://example.org/patch-{version}", ""},
		{"https://example.org/{evil}", ""},
		{"-rf", ""},
	} {
		got, err := PatchSource(tc.tmpl, "6.1.177", 1)
		if got != tc.want || (tc.want == "") != (err != nil) {
			t.Errorf("PatchSource(%q) = %q, %v; want %q", tc.tmpl, got, err, tc.want)
		}
	}
	if _, err := PatchSource("/x/{version}", "6.1.177/../../etc", 1); err == nil {
		t.Error("a version with a slash was accepted")
	}
}

// rcRepo builds v6.1.11 and the rc patch that makes 6.1.12-rc1 of it, and
// returns the repository, the patch (gzipped) and the expected tree.
func rcRepo(t *testing.T) (string, []byte, fixtures.Tree) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "linux.git")
	r, err := fixtures.Init(dir, true)
	if err != nil {
		t.Fatal(err)
	}
	base := fixtures.Tree{
		"Makefile":      {Content: strings.Replace(strings.Replace(realMakefileHead, "177", "11", 1), "-rc1", "", 1)},
		"kernel/fork.c": {Content: fixtures.Lines("fork", 40)},
		"mm/slab.c":     {Content: fixtures.Lines("slab", 30)},
	}
	b, err := r.Commit(base, "Linux 6.1.11\n")
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Tag("v6.1.11", b); err != nil {
		t.Fatal(err)
	}
	want := base.Clone()
	want["Makefile"] = fixtures.File{Content: strings.Replace(realMakefileHead, "177", "12", 1)}
	want["kernel/fork.c"] = fixtures.File{Content: strings.Replace(base["kernel/fork.c"].Content, "fork 20\n", "fork 20 fixed\n", 1)}
	var changes []patchqueue.FileChange
	for _, p := range []string{"Makefile", "kernel/fork.c"} {
		changes = append(changes, patchqueue.FileChange{Path: p, Old: base[p].Content, New: want[p].Content})
	}
	var text strings.Builder
	if err := patchqueue.WriteFormatPatch(&text, patchqueue.NewPatch("Linux 6.1.12-rc1", "", "Greg", "greg@kroah.com", time.Now(), changes)); err != nil {
		t.Fatal(err)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(text.String()))
	zw.Close()
	return dir, gz.Bytes(), want
}

func TestFromPatch(t *testing.T) {
	ctx := context.Background()
	dir, gz, want := rcRepo(t)
	local := filepath.Join(t.TempDir(), "patch-6.1.12-rc1.gz")
	if err := os.WriteFile(local, gz, 0o644); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/patch-6.1.12-rc1.gz" {
			http.NotFound(w, r)
			return
		}
		w.Write(gz)
	}))
	defer srv.Close()
	url, err := PatchSource(srv.URL+"/patch-{version}-rc{rc}.gz", "6.1.12", 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, src := range []string{local, url} {
		eng, err := merger.Open(dir, merger.Options{})
		if err != nil {
			t.Fatal(err)
		}
		h, err := FromPatch(ctx, eng, src, "6.1.12", 1, "refs/rtbot/candidates/t/6.1.12-rc1")
		eng.Close()
		if err != nil {
			t.Fatalf("FromPatch(%s): %v", src, err)
		}
		r, err := fixtures.Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		got, err := r.Snapshot(h)
		if err != nil {
			t.Fatal(err)
		}
		for p, f := range want {
			if got[p].Content != f.Content {
				t.Errorf("%s: %s differs from the expected rc", src, p)
			}
		}
		ref, err := r.Repo.Reference(plumbing.ReferenceName("refs/rtbot/candidates/t/6.1.12-rc1"), true)
		if err != nil || ref.Hash() != h {
			t.Errorf("ref: %v, %v; want %s", ref, err, h)
		}
		if err := Check(r.Repo, h, "6.1.12", 1); err != nil {
			t.Error(err)
		}
		if err := Check(r.Repo, h, "6.1.12", 2); err == nil || !strings.Contains(err.Error(), "Makefile says 6.1.12-rc1, the announcement says 6.1.12-rc2") {
			t.Errorf("Check against rc2: %v", err)
		}
	}
	// A patch that does not apply names the file.
	eng, err := merger.Open(dir, merger.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	if _, err := FromPatch(ctx, eng, local, "6.1.14", 1, "refs/rtbot/x"); err == nil {
		t.Error("FromPatch onto a missing v6.1.13 succeeded")
	}
	if _, err := FromPatch(ctx, eng, srv.URL+"/nothing.gz", "6.1.12", 1, "refs/rtbot/x"); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("missing URL: %v", err)
	}
	if _, err := FromPatch(ctx, eng, local, "6.1.12", 1, "refs/heads/master"); err == nil {
		t.Error("FromPatch wrote outside refs/rtbot/")
	}
}

func FuzzParseMakefile(f *testing.F) {
	f.Add([]byte(realMakefileHead))
	f.Add([]byte("VERSION=1\nPATCHLEVEL=2\nSUBLEVEL=3\nEXTRAVERSION=-rc4\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := ParseMakefile(data)
		if err != nil {
			return
		}
		again, err := ParseMakefile(fmt.Appendf(nil, "VERSION = %d\nPATCHLEVEL = %d\nSUBLEVEL = %d\nEXTRAVERSION = %s\n", v.Version, v.Patchlevel, v.Sublevel, v.Extraversion))
		if err != nil || again != v {
			t.Fatalf("%v does not re-parse: %v, %v", v, again, err)
		}
	})
}
