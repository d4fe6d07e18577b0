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
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/rtbot/rtbot/internal/fixtures"
	"github.com/rtbot/rtbot/internal/merger"
	"github.com/rtbot/rtbot/internal/patchqueue"
	"github.com/ulikunitz/xz"
)

// realMakefileHead is the start of Linux 6.1.177's top-level Makefile.
const realMakefileHead = `# SPDX-License-Identifier: GPL-2.0
VERSION = 6
PATCHLEVEL = 1
SUBLEVEL = 177
EXTRAVERSION =
NAME = Curry Ramen

# *DOCUMENTATION*
# To see a list of typical targets execute "make help"
# More info can be located in ./README
# Comments in this file are targeted only to the developer, do not
# expect to learn how to build the kernel reading this file.

$(if $(filter __%, $(MAKECMDGOALS)), \
	$(error targets prefixed with '__' are only for internal use))

# That's our default target when none is given on the command line
PHONY := __all
__all:

# We are using a recursive build, so we need to do a little thinking
# to get the ordering right.
#
# Most importantly: sub-Makefiles should only ever modify files in
# their own directory. If in some directory we have a dependency on
# a file in another dir (which doesn't happen often, but it's often
# unavoidable when linking the built-in.a targets which finally
# turn into vmlinux), we will call a sub make in that other dir, and
# after that we are sure that everything which is in that other dir
# is now up to date.
`

// makefile returns the real Makefile head with the given sublevel and
// extraversion.
func makefile(sublevel int, extra string) string {
	s := strings.Replace(realMakefileHead, "SUBLEVEL = 177", "SUBLEVEL = "+strconv.Itoa(sublevel), 1)
	if extra != "" {
		s = strings.Replace(s, "EXTRAVERSION =\n", "EXTRAVERSION = "+extra+"\n", 1)
	}
	return s
}

func TestParseMakefile(t *testing.T) {
	filler := strings.Repeat("# comment\n", 100)
	for _, tc := range []struct {
		name, in string
		want     Version
		err      string // in the error; "" means success
	}{
		{"release", realMakefileHead, Version{6, 1, 177, ""}, ""},
		{"rc", makefile(177, "-rc1"), Version{6, 1, 177, "-rc1"}, ""},
		{"2.6 era", "VERSION = 2\nPATCHLEVEL = 6\nSUBLEVEL = 32\nEXTRAVERSION = .71\nNAME = Man-Eating Seals of Antiquity\n", Version{2, 6, 32, ".71"}, ""},
		{"no blanks", "VERSION=5\nPATCHLEVEL=10\nSUBLEVEL=0\nEXTRAVERSION=\n", Version{5, 10, 0, ""}, ""},
		{"CRLF", strings.ReplaceAll(makefile(12, "-rc3"), "\n", "\r\n"), Version{6, 1, 12, "-rc3"}, ""},
		{"comment after value", strings.Replace(makefile(12, ""), "EXTRAVERSION =\n", "EXTRAVERSION = -rc2 # for testing\n", 1), Version{6, 1, 12, "-rc2"}, ""},
		{"immediate assignment", strings.Replace(realMakefileHead, "SUBLEVEL = 177", "SUBLEVEL := 178", 1), Version{6, 1, 178, ""}, ""},
		{"the first assignment counts", realMakefileHead + "SUBLEVEL = 999\n", Version{6, 1, 177, ""}, ""},
		{"leading blanks", strings.Replace(realMakefileHead, "VERSION = 6", "  VERSION\t=\t6", 1), Version{6, 1, 177, ""}, ""},
		{"empty", "", Version{}, "no VERSION"},
		{"no PATCHLEVEL", strings.Replace(realMakefileHead, "PATCHLEVEL = 1\n", "", 1), Version{}, "no PATCHLEVEL"},
		{"no SUBLEVEL", strings.Replace(realMakefileHead, "SUBLEVEL = 177\n", "", 1), Version{}, "no SUBLEVEL"},
		{"no EXTRAVERSION", strings.Replace(realMakefileHead, "EXTRAVERSION =\n", "", 1), Version{}, "no EXTRAVERSION"},
		{"after line 100", "VERSION = 6\nPATCHLEVEL = 1\n" + filler + "SUBLEVEL = 1\nEXTRAVERSION =\n", Version{}, "no SUBLEVEL in its first 100 lines"},
		{"commented out", strings.Replace(realMakefileHead, "VERSION = 6", "# VERSION = 6", 1), Version{}, "no VERSION"},
		{"not a number", strings.Replace(realMakefileHead, "SUBLEVEL = 177", "SUBLEVEL = 17x", 1), Version{}, `SUBLEVEL = "17x" is not a number`},
		{"leading zero", strings.Replace(realMakefileHead, "SUBLEVEL = 177", "SUBLEVEL = 0177", 1), Version{}, "SUBLEVEL"},
		{"negative", strings.Replace(realMakefileHead, "PATCHLEVEL = 1", "PATCHLEVEL = -1", 1), Version{}, "PATCHLEVEL"},
		{"empty number", strings.Replace(realMakefileHead, "VERSION = 6", "VERSION =", 1), Version{}, "VERSION"},
		{"huge", strings.Replace(realMakefileHead, "VERSION = 6", "VERSION = 99999999999999999999", 1), Version{}, "VERSION"},
		{"shell in EXTRAVERSION", makefile(177, "-rc1 $(shell id)"), Version{}, "EXTRAVERSION"},
		{"EXTRAVERSION starts with a digit", makefile(17, "7"), Version{}, "EXTRAVERSION"},
		{"non-ASCII EXTRAVERSION", makefile(17, "-rc1é"), Version{}, "EXTRAVERSION"},
		{"line too long", strings.Repeat("x", 70<<10) + "\n" + realMakefileHead, Version{}, "too long"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := ParseMakefile([]byte(tc.in))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("ParseMakefile = %v, %v; want an error with %q", v, err, tc.err)
				}
				return
			}
			if err != nil || v != tc.want {
				t.Fatalf("ParseMakefile = %#v, %v; want %#v", v, err, tc.want)
			}
			if back, err := parseVersion(v.String()); err != nil || back != v {
				t.Errorf("%q parses back as %#v, %v", v, back, err)
			}
		})
	}
}

func TestVersionString(t *testing.T) {
	for _, tc := range []struct {
		v    Version
		want string
	}{
		{Version{6, 1, 177, "-rc1"}, "6.1.177-rc1"},
		{Version{6, 1, 177, ""}, "6.1.177"},
		{Version{2, 6, 32, ".71"}, "2.6.32.71"},
		{Version{5, 10, 0, "-rt1"}, "5.10.0-rt1"},
	} {
		if got := tc.v.String(); got != tc.want {
			t.Errorf("%#v.String() = %q, want %q", tc.v, got, tc.want)
		}
	}
}

// commitTree writes a root commit of files into r.
func commitTree(t *testing.T, r *fixtures.Repo, files fixtures.Tree, msg string) plumbing.Hash {
	t.Helper()
	h, err := r.Commit(files, msg)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestCheck(t *testing.T) {
	r, err := fixtures.Init(filepath.Join(t.TempDir(), "linux.git"), true)
	if err != nil {
		t.Fatal(err)
	}
	rc1 := commitTree(t, r, fixtures.Tree{"Makefile": {Content: makefile(177, "-rc1")}}, "Linux 6.1.177-rc1\n")
	rel := commitTree(t, r, fixtures.Tree{"Makefile": {Content: makefile(177, "")}}, "Linux 6.1.177\n")
	next := commitTree(t, r, fixtures.Tree{"Makefile": {Content: makefile(178, "-rc1")}}, "Linux 6.1.178-rc1\n")
	noMakefile := commitTree(t, r, fixtures.Tree{"README": {Content: "Linux\n"}}, "no Makefile\n")
	badMakefile := commitTree(t, r, fixtures.Tree{"Makefile": {Content: "all:\n\ttrue\n"}}, "not a kernel\n")
	for _, tc := range []struct {
		name    string
		commit  plumbing.Hash
		version string
		rc      int
		err     string // the whole message, or a part of it after "~"
	}{
		{"rc matches", rc1, "6.1.177", 1, ""},
		{"release matches", rel, "6.1.177", 0, ""},
		{"wrong sublevel", next, "6.1.177", 1, fmt.Sprintf("candidate %s: Makefile says 6.1.178-rc1, the announcement says 6.1.177-rc1", next.String()[:12])},
		{"wrong rc", rc1, "6.1.177", 2, fmt.Sprintf("candidate %s: Makefile says 6.1.177-rc1, the announcement says 6.1.177-rc2", rc1.String()[:12])},
		{"release expected", rc1, "6.1.177", 0, "~Makefile says 6.1.177-rc1, the announcement says 6.1.177"},
		{"rc expected", rel, "6.1.177", 1, "~Makefile says 6.1.177, the announcement says 6.1.177-rc1"},
		{"no Makefile", noMakefile, "6.1.177", 1, "~Makefile"},
		{"not a kernel Makefile", badMakefile, "6.1.177", 1, "~no VERSION"},
		{"no such commit", plumbing.NewHash("0123456789abcdef0123456789abcdef01234567"), "6.1.177", 1, "~candidate 0123456789ab"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Check(r.Repo, tc.commit, tc.version, tc.rc)
			switch {
			case tc.err == "" && err != nil:
				t.Fatalf("Check: %v", err)
			case tc.err == "":
			case err == nil:
				t.Fatalf("Check passed; want %q", tc.err)
			case strings.HasPrefix(tc.err, "~") && !strings.Contains(err.Error(), tc.err[1:]):
				t.Fatalf("Check: %v; want it to contain %q", err, tc.err[1:])
			case !strings.HasPrefix(tc.err, "~") && err.Error() != tc.err:
				t.Fatalf("Check: %v; want %q", err, tc.err)
			}
		})
	}
}

// TestCompare places the version a candidate's Makefile says before, at
// or after the announced one: an rc not there yet, the one, or a branch
// that has moved on.
func TestCompare(t *testing.T) {
	r, err := fixtures.Init(filepath.Join(t.TempDir(), "linux.git"), true)
	if err != nil {
		t.Fatal(err)
	}
	commit := func(sub int, extra string) plumbing.Hash {
		return commitTree(t, r, fixtures.Tree{"Makefile": {Content: makefile(sub, extra)}}, fmt.Sprintf("Linux %d%s\n", sub, extra))
	}
	rc1, rc2, rel, next := commit(177, "-rc1"), commit(177, "-rc2"), commit(177, ""), commit(178, "-rc1")
	odd := commit(177, "-rt3")
	other := commitTree(t, r, fixtures.Tree{"Makefile": {Content: strings.Replace(makefile(177, ""), "PATCHLEVEL = 1", "PATCHLEVEL = 6", 1)}}, "6.6\n")
	for _, tc := range []struct {
		commit  plumbing.Hash
		version string
		rc      int
		want    int
		err     string
	}{
		{rc1, "6.1.177", 1, 0, ""},
		{rel, "6.1.177", 0, 0, ""},
		{rc1, "6.1.177", 2, -1, ""},
		{rc2, "6.1.177", 1, 1, ""},
		{rel, "6.1.177", 2, 1, ""},
		{rc2, "6.1.177", 0, -1, ""},
		{rel, "6.1.178", 1, -1, ""},
		{next, "6.1.177", 0, 1, ""},
		{odd, "6.1.177", 1, 0, "neither a release nor an rc"},
		{other, "6.1.177", 1, 0, "not of the series of 6.1.177-rc1"},
		{rc1, "6.1", 1, 0, "want X.Y.Z"},
	} {
		got, v, err := Compare(r.Repo, tc.commit, tc.version, tc.rc)
		name := fmt.Sprintf("%s against %s-rc%d", v, tc.version, tc.rc)
		switch {
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%s: %v, want an error saying %q", name, err, tc.err)
		case tc.err == "" && (err != nil || got != tc.want):
			t.Errorf("%s: %d, %v; want %d", name, got, err, tc.want)
		}
	}
}

func TestPreviousRelease(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"6.1.177", "v6.1.176"},
		{"6.1.1", "v6.1"},
		{"6.1.2", "v6.1.1"},
		{"5.10.240", "v5.10.239"},
		{"6.1.10", "v6.1.9"},
		{"6.1.0", ""},
		{"6.1", ""},
		{"6", ""},
		{"", ""},
		{"6.1.x", ""},
		{"6.1.07", ""},
		{"6.1.-1", ""},
		{"6.1.177-rc1", ""},
		{"6.1.1.1", ""},
		{"v6.1.2", ""},
	} {
		got, err := PreviousRelease(tc.in)
		if got != tc.want || (tc.want == "") != (err != nil) {
			t.Errorf("PreviousRelease(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestPatchSource(t *testing.T) {
	for _, tc := range []struct {
		tmpl, version string
		rc            int
		want, err     string
	}{
		{"https://www.kernel.org/pub/linux/kernel/v6.x/stable-review/patch-{version}-rc{rc}.gz", "6.1.177", 1,
			"https://www.kernel.org/pub/linux/kernel/v6.x/stable-review/patch-6.1.177-rc1.gz", ""},
		{"https://cdn.example.org/{version}/{version}-rc{rc}.xz", "5.10.240", 12, "https://cdn.example.org/5.10.240/5.10.240-rc12.xz", ""},
		{"/srv/rc/patch-{version}-rc{rc}", "6.1.177", 1, "/srv/rc/patch-6.1.177-rc1", ""},
		{"rc/patch-{version}-rc{rc}.gz", "6.1.177", 2, "rc/patch-6.1.177-rc2.gz", ""},
		{"/srv/rc/fixed-name.gz", "6.1.177", 1, "/srv/rc/fixed-name.gz", ""},
		{"/srv/patch-{version}", "6.1", 0, "/srv/patch-6.1", ""},
		{"http://127.0.0.1:8080/patch-{version}-rc{rc}.xz", "6.1.177", 1, "http://127.0.0.1:8080/patch-6.1.177-rc1.xz", ""},
		{"http://[::1]/patch-{version}", "6.1.177", 1, "http://[::1]/patch-6.1.177", ""},
		{"http://localhost/patch-{version}", "6.1.177", 1, "http://localhost/patch-6.1.177", ""},
		{"http://LOCALHOST/patch-{version}", "6.1.177", 1, "http://LOCALHOST/patch-6.1.177", ""}, // netsec's loopback rule: any case
		{"http://[::ffff:127.0.0.1]/patch-{version}", "6.1.177", 1, "http://[::ffff:127.0.0.1]/patch-6.1.177", ""},
		{"http://localhost.example.org/patch-{version}", "6.1.177", 1, "", "https"},
		{"http://example.org/patch-{version}", "6.1.177", 1, "", "https"},
		{"http://10.0.0.1/patch-{version}", "6.1.177", 1, "", "https"},
		{"ftp://example.org/patch-{version}", "6.1.177", 1, "", "https"},
		{"file:///srv/patch-{version}", "6.1.177", 1, "", "https"},
		{"https:///patch-{version}", "6.1.177", 1, "", "https"},
		{"https://example.org/{evil}", "6.1.177", 1, "", "placeholder"},
		{"https://example.org/{version", "6.1.177", 1, "", "placeholder"},
		{"https://example.org/{VERSION}", "6.1.177", 1, "", "placeholder"},
		{"-rf", "6.1.177", 1, "", "not a URL or path"},
		{"", "6.1.177", 1, "", "not a URL or path"},
		{"/srv/patch\n{version}", "6.1.177", 1, "", "not a URL or path"},
		{"/x/{version}", "6.1.177/../../etc", 1, "", "version"},
		{"/x/{version}", "6.1.177-rc1", 1, "", "version"},
		{"/x/{version}", "", 1, "", "version"},
		{"/x/{rc}", "6.1.177", -1, "", "rc"},
	} {
		got, err := PatchSource(tc.tmpl, tc.version, tc.rc)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("PatchSource(%q, %q, %d) = %q, %v; want an error with %q", tc.tmpl, tc.version, tc.rc, got, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("PatchSource(%q, %q, %d) = %q, %v; want %q", tc.tmpl, tc.version, tc.rc, got, err, tc.want)
		}
	}
}

// rcFixture is a repository with v6.1.11, the rc patch that makes
// 6.1.12-rc1 of it, and the expected 6.1.12-rc1 tree, built independently.
type rcFixture struct {
	repo      *fixtures.Repo
	base      plumbing.Hash // v6.1.11
	baseTree  fixtures.Tree
	want      plumbing.Hash // the expected tree
	patch     string        // git diff text
	formatted string        // the same as a format-patch mail
}

func newRCFixture(t *testing.T) *rcFixture {
	t.Helper()
	r, err := fixtures.Init(filepath.Join(t.TempDir(), "linux.git"), true)
	if err != nil {
		t.Fatal(err)
	}
	base := fixtures.Tree{
		"Makefile":              {Content: makefile(11, "")},
		"kernel/fork.c":         {Content: fixtures.Lines("fork", 40)},
		"mm/slab.c":             {Content: fixtures.Lines("slab", 30)},
		"drivers/old/gone.c":    {Content: fixtures.Lines("gone", 5)},
		"scripts/checkpatch.pl": {Content: "#!/usr/bin/perl\nprint 1;\n", Mode: 0o100755},
	}
	b := commitTree(t, r, base, "Linux 6.1.11\n")
	if err := r.Tag("v6.1.11", b); err != nil {
		t.Fatal(err)
	}
	want := base.Clone()
	want["Makefile"] = fixtures.File{Content: makefile(12, "-rc1")}
	want["kernel/fork.c"] = fixtures.File{Content: strings.Replace(base["kernel/fork.c"].Content, "fork 20\n", "fork 20 fixed\n", 1)}
	want["mm/slab.c"] = fixtures.File{Content: strings.Replace(strings.Replace(base["mm/slab.c"].Content, "slab 2\n", "", 1), "slab 29\n", "slab 29\nslab 29.5\n", 1)}
	want["drivers/new/new.c"] = fixtures.File{Content: fixtures.Lines("new", 3)}
	delete(want, "drivers/old/gone.c")
	wc := commitTree(t, r, want, "the expected 6.1.12-rc1\n")
	c, err := r.Repo.CommitObject(wc)
	if err != nil {
		t.Fatal(err)
	}

	var changes []patchqueue.FileChange
	for _, p := range []string{"Makefile", "kernel/fork.c", "mm/slab.c"} {
		changes = append(changes, patchqueue.FileChange{Path: p, Old: base[p].Content, New: want[p].Content})
	}
	changes = append(changes,
		patchqueue.FileChange{Path: "drivers/new/new.c", New: want["drivers/new/new.c"].Content, IsNew: true},
		patchqueue.FileChange{Path: "drivers/old/gone.c", Old: base["drivers/old/gone.c"].Content, IsDeleted: true})
	var text strings.Builder
	p := patchqueue.NewPatch("Linux 6.1.12-rc1", "", "Greg Kroah-Hartman", "gregkh@linuxfoundation.org", time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC), changes)
	if err := patchqueue.WriteFormatPatch(&text, p); err != nil {
		t.Fatal(err)
	}
	formatted := text.String()
	// A stable-review patch is a plain git diff: no mail around it.
	i := strings.Index(formatted, "diff --git ")
	diff := strings.TrimSuffix(formatted[i:], "-- \nrtbot\n\n")
	return &rcFixture{repo: r, base: b, baseTree: base, want: c.TreeHash, patch: diff, formatted: formatted}
}

func gz(t *testing.T, s string) []byte {
	t.Helper()
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	if _, err := w.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func xzed(t *testing.T, s string) []byte {
	t.Helper()
	var b bytes.Buffer
	w, err := xz.NewWriter(&b)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func writeFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// files serves path -> content and records the User-Agent of each request.
type files struct {
	mu     sync.Mutex
	m      map[string][]byte
	agents []string
}

func (f *files) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.agents = append(f.agents, r.UserAgent())
	data, ok := f.m[r.URL.Path]
	f.mu.Unlock()
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Write(data)
}

var testIdentity = merger.Identity{Name: "rtbot test", Email: "rtbot@example.org"}

var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func openEngine(t *testing.T, dir string) *merger.Engine {
	t.Helper()
	eng, err := merger.Open(dir, merger.Options{Committer: testIdentity, Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close() })
	return eng
}

func TestFromPatch(t *testing.T) {
	ctx := context.Background()
	fx := newRCFixture(t)
	srv := &files{m: map[string][]byte{
		"/stable-review/patch-6.1.12-rc1.gz": gz(t, fx.patch),
		"/stable-review/patch-6.1.12-rc1.xz": xzed(t, fx.patch),
		"/stable-review/patch-6.1.12-rc1":    []byte(fx.patch),
	}}
	hs := httptest.NewServer(srv)
	defer hs.Close()
	fromURL := func(tmpl string) string {
		u, err := PatchSource(hs.URL+tmpl, "6.1.12", 1)
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	for _, tc := range []struct{ name, src string }{
		{"https-like URL, gzip", fromURL("/stable-review/patch-{version}-rc{rc}.gz")},
		{"URL, xz", fromURL("/stable-review/patch-{version}-rc{rc}.xz")},
		{"URL, plain", fromURL("/stable-review/patch-{version}-rc{rc}")},
		{"local gzip", writeFile(t, "patch-6.1.12-rc1.gz", gz(t, fx.patch))},
		{"local xz", writeFile(t, "patch-6.1.12-rc1.xz", xzed(t, fx.patch))},
		{"local plain", writeFile(t, "patch-6.1.12-rc1", []byte(fx.patch))},
		{"local format-patch mail", writeFile(t, "0001-Linux-6.1.12-rc1.patch", []byte(fx.formatted))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const ref = "refs/rtbot/candidates/6.1-rt/6.1.12-rc1"
			eng := openEngine(t, fx.repo.Dir)
			h, err := FromPatch(ctx, eng, tc.src, "6.1.12", 1, ref, PatchOptions{})
			if err != nil {
				t.Fatalf("FromPatch: %v", err)
			}
			// Read everything back from a fresh view of the repository.
			r, err := fixtures.Open(fx.repo.Dir)
			if err != nil {
				t.Fatal(err)
			}
			c, err := r.Repo.CommitObject(h)
			if err != nil {
				t.Fatalf("the commit is not in the repository: %v", err)
			}
			if c.TreeHash != fx.want {
				got, _ := r.Snapshot(h)
				t.Errorf("tree %s, want %s; got files %v", c.TreeHash, fx.want, keys(got))
			}
			if len(c.ParentHashes) != 1 || c.ParentHashes[0] != fx.base {
				t.Errorf("parents %v, want v6.1.11 %s", c.ParentHashes, fx.base)
			}
			if first, _, _ := strings.Cut(c.Message, "\n"); first != "Linux 6.1.12-rc1" {
				t.Errorf("message %q", c.Message)
			}
			if c.Author.Name != testIdentity.Name || c.Author.Email != testIdentity.Email || c.Committer.Name != testIdentity.Name || !c.Committer.When.Equal(testNow) {
				t.Errorf("author %v, committer %v; want %v at %v", c.Author, c.Committer, testIdentity, testNow)
			}
			got, err := r.Repo.Reference(plumbing.ReferenceName(ref), false)
			if err != nil || got.Hash() != h {
				t.Errorf("%s = %v, %v; want %s", ref, got, err, h)
			}
			if err := Check(r.Repo, h, "6.1.12", 1); err != nil {
				t.Error(err)
			}
		})
	}
	for _, a := range srv.agents {
		if a != "rtbot" {
			t.Errorf("User-Agent %q, want rtbot", a)
		}
	}
	if len(srv.agents) != 3 {
		t.Errorf("%d requests, want 3", len(srv.agents))
	}
}

func keys(t fixtures.Tree) []string {
	var ks []string
	for k := range t {
		ks = append(ks, k)
	}
	return ks
}

// withIndex adds git's "index old..new mode" lines to the diff of each
// modified file in base, so the merger could do a 3-way merge.
func withIndex(t *testing.T, diff string, base, want fixtures.Tree) string {
	t.Helper()
	blob := func(s string) string {
		return plumbing.ComputeHash(plumbing.BlobObject, []byte(s)).String()[:12]
	}
	for _, p := range []string{"Makefile", "kernel/fork.c", "mm/slab.c"} {
		hdr := fmt.Sprintf("diff --git a/%s b/%s\n", p, p)
		if !strings.Contains(diff, hdr) {
			t.Fatalf("no diff of %s", p)
		}
		diff = strings.Replace(diff, hdr, hdr+fmt.Sprintf("index %s..%s 100644\n", blob(base[p].Content), blob(want[p].Content)), 1)
	}
	return diff
}

// TestFromPatchErrors checks that each way of failing to make a candidate
// from an rc patch is reported and leaves the candidate's ref unset, and
// that a same-host redirect is followed.
func TestFromPatchErrors(t *testing.T) {
	ctx := context.Background()
	fx := newRCFixture(t)
	r := fx.repo
	tagMisfitReleases(t, fx)
	hs := patchRedirectServer(t, fx.patch)
	for _, tc := range fromPatchErrorCases(t, fx, hs.URL) {
		t.Run(tc.name, func(t *testing.T) { checkFromPatchFails(t, r.Dir, tc) })
	}

	// A same-host redirect is followed.
	eng := openEngine(t, r.Dir)
	if _, err := FromPatch(ctx, eng, hs.URL+"/here.gz", "6.1.12", 1, "refs/rtbot/redirected", PatchOptions{}); err != nil {
		t.Errorf("same-host redirect: %v", err)
	}
}

// tagMisfitReleases tags, in fx's repository, releases the rc patch of fx
// does not fit, each in its own way.
func tagMisfitReleases(t *testing.T, fx *rcFixture) {
	t.Helper()
	r := fx.repo
	// v6.1.12 changed a context line of the fork.c hunk: the hunk does not
	// apply, though a 3-way merge with the index blobs would be clean.
	t12 := fx.baseTree.Clone()
	t12["kernel/fork.c"] = fixtures.File{Content: strings.Replace(fx.baseTree["kernel/fork.c"].Content, "fork 18\n", "fork 18 upstream\n", 1)}
	if err := r.Tag("v6.1.12", commitTree(t, r, t12, "v6.1.12 with fork.c changed\n")); err != nil {
		t.Fatal(err)
	}
	// v6.1.13 lacks mm/slab.c.
	t13 := fx.baseTree.Clone()
	delete(t13, "mm/slab.c")
	if err := r.Tag("v6.1.13", commitTree(t, r, t13, "v6.1.13 without slab.c\n")); err != nil {
		t.Fatal(err)
	}
	// v6.1.20 is v6.1.11's tree again: the patch applies, but says 6.1.12-rc1.
	if err := r.Tag("v6.1.20", fx.base); err != nil {
		t.Fatal(err)
	}
	// v6.1.30 already has drivers/new/new.c.
	t30 := fx.baseTree.Clone()
	t30["drivers/new/new.c"] = fixtures.File{Content: fixtures.Lines("new", 3)}
	if err := r.Tag("v6.1.30", commitTree(t, r, t30, "v6.1.30 with new.c\n")); err != nil {
		t.Fatal(err)
	}
}

// patchRedirectServer serves patch gzipped at /patch.gz and redirects to
// it from /here.gz, to another host's copy from /elsewhere.gz and to
// itself from /loop.gz; /announced-huge.gz announces more than
// MaxCompressed bytes and /streamed-huge.gz sends them.
func patchRedirectServer(t *testing.T, patch string) *httptest.Server {
	redirects := http.NewServeMux()
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(gz(t, patch)) }))
	t.Cleanup(other.Close)
	redirects.HandleFunc("/elsewhere.gz", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+"/patch.gz", http.StatusFound)
	})
	redirects.HandleFunc("/here.gz", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/patch.gz", http.StatusFound)
	})
	redirects.HandleFunc("/loop.gz", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/loop.gz", http.StatusFound)
	})
	redirects.HandleFunc("/patch.gz", func(w http.ResponseWriter, r *http.Request) { w.Write(gz(t, patch)) })
	redirects.HandleFunc("/announced-huge.gz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(MaxCompressed+1))
		w.WriteHeader(http.StatusOK)
	})
	redirects.HandleFunc("/streamed-huge.gz", func(w http.ResponseWriter, r *http.Request) {
		chunk := make([]byte, 1<<20)
		for i := 0; i <= MaxCompressed>>20; i++ {
			if _, err := w.Write(chunk); err != nil {
				return
			}
			w.(http.Flusher).Flush()
		}
	})
	hs := httptest.NewServer(redirects)
	t.Cleanup(hs.Close)
	return hs
}

// indexedPatch is fx's patch with git's index lines, with which a 3-way
// merge could apply it where its hunks do not.
func indexedPatch(t *testing.T, fx *rcFixture) string {
	t.Helper()
	wantFiles, err := fx.repo.Snapshot(fx.base)
	if err != nil {
		t.Fatal(err)
	}
	wantFiles["kernel/fork.c"] = fixtures.File{Content: strings.Replace(fx.baseTree["kernel/fork.c"].Content, "fork 20\n", "fork 20 fixed\n", 1)}
	return withIndex(t, fx.patch, fx.baseTree, map[string]fixtures.File{
		"Makefile": {Content: makefile(12, "-rc1")}, "kernel/fork.c": wantFiles["kernel/fork.c"],
		"mm/slab.c": {Content: strings.Replace(strings.Replace(fx.baseTree["mm/slab.c"].Content, "slab 2\n", "", 1), "slab 29\n", "slab 29\nslab 29.5\n", 1)},
	})
}

// fromPatchErrorCase is a call of fromPatch that must fail with err.
type fromPatchErrorCase struct {
	name, src, version string
	rc                 int
	ref                string
	lim                limits
	err                string
}

// fromPatchErrorCases are the failing calls on fx's repository, with the
// releases of tagMisfitReleases, and on the patchRedirectServer at srvURL.
func fromPatchErrorCases(t *testing.T, fx *rcFixture, srvURL string) []fromPatchErrorCase {
	plain := writeFile(t, "patch", []byte(fx.patch))
	indexed := writeFile(t, "patch-indexed", []byte(indexedPatch(t, fx)))
	garbage := writeFile(t, "garbage", []byte("this is not a patch\n"))
	badGzip := writeFile(t, "bad.gz", append([]byte{0x1f, 0x8b}, "not gzip at all"...))
	big := gz(t, strings.Repeat(fx.patch, 8))
	def := limits{MaxCompressed, MaxUncompressed}
	return []fromPatchErrorCase{
		{"hunk does not apply", plain, "6.1.13", 1, "", def, "kernel/fork.c hunk 1 (line 17): does not apply"},
		{"3-way merge is not exact", indexed, "6.1.13", 1, "", def, "kernel/fork.c hunk 1 (line 17): does not apply (merged"},
		{"file missing", plain, "6.1.14", 1, "", def, "does not apply to v6.1.13: mm/slab.c: not in v6.1.13"},
		{"added file exists", plain, "6.1.31", 1, "", def, "drivers/new/new.c: v6.1.30 already has the result"},
		{"Makefile disagrees", plain, "6.1.21", 1, "", def, "Makefile says 6.1.12-rc1, the announcement says 6.1.21-rc1"},
		{"another rc", plain, "6.1.12", 2, "", def, "Makefile says 6.1.12-rc1, the announcement says 6.1.12-rc2"},
		{"no previous release", plain, "6.1.41", 1, "", def, "previous release"},
		{"mainline version", plain, "6.1.0", 1, "", def, "no previous stable release"},
		{"ref outside refs/rtbot", plain, "6.1.12", 1, "refs/heads/master", def, "refs/rtbot/"},
		{"ref escaping refs/rtbot", plain, "6.1.12", 1, "refs/rtbot/../heads/x", def, "refs/rtbot/"},
		{"not a patch", garbage, "6.1.12", 1, "", def, "rc patch " + garbage},
		{"bad gzip", badGzip, "6.1.12", 1, "", def, "gzip"},
		{"missing file", filepath.Join(t.TempDir(), "nothing.gz"), "6.1.12", 1, "", def, "no such file"},
		{"404", srvURL + "/nothing.gz", "6.1.12", 1, "", def, "404"},
		{"redirect to another host", srvURL + "/elsewhere.gz", "6.1.12", 1, "", def, "another host"},
		{"redirect loop", srvURL + "/loop.gz", "6.1.12", 1, "", def, "redirects"},
		{"compressed too big", writeFile(t, "big.gz", big), "6.1.12", 1, "", limits{int64(len(big)) - 1, 1 << 20}, fmt.Sprintf("more than %d bytes compressed", len(big)-1)},
		{"uncompressed too big", writeFile(t, "big.gz", big), "6.1.12", 1, "", limits{1 << 20, 1000}, "more than 1000 bytes uncompressed"},
		{"plain too big", plain, "6.1.12", 1, "", limits{1 << 20, 100}, "more than 100 bytes uncompressed"},
		{"announced over 64 MiB", srvURL + "/announced-huge.gz", "6.1.12", 1, "", def, "more than 64 MiB compressed (limits: 64 MiB compressed, 512 MiB uncompressed)"},
		{"streamed over 64 MiB", srvURL + "/streamed-huge.gz", "6.1.12", 1, "", def, "more than 64 MiB compressed"},
	}
}

// checkFromPatchFails checks that tc's call fails as tc.err says, and
// sets no ref.
func checkFromPatchFails(t *testing.T, dir string, tc fromPatchErrorCase) {
	ref := tc.ref
	if ref == "" {
		ref = "refs/rtbot/candidates/test/" + strings.ReplaceAll(tc.name, " ", "-")
	}
	eng := openEngine(t, dir)
	h, err := fromPatch(context.Background(), eng, tc.src, tc.version, tc.rc, ref, PatchOptions{}, tc.lim)
	if err == nil || !strings.Contains(err.Error(), tc.err) {
		t.Fatalf("FromPatch = %s, %v; want an error with %q", h, err, tc.err)
	}
	fresh, err := fixtures.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := fresh.Repo.Reference(plumbing.ReferenceName(ref), false); err == nil {
		t.Errorf("a failed FromPatch set %s to %s", ref, got.Hash())
	}
}

// TestParseRC checks that a git diff is read one file section at a time,
// with positions in the whole patch, and that a file changed twice is
// refused.
func TestParseRC(t *testing.T) {
	fx := newRCFixture(t)
	p, err := parseRC("patch", []byte(fx.patch))
	if err != nil {
		t.Fatal(err)
	}
	whole := patchqueue.Parse("patch", []byte(fx.patch), 1)
	if whole.Err != nil {
		t.Fatal(whole.Err)
	}
	if len(p.Files) != 5 || len(p.Files) != len(whole.Files) {
		t.Fatalf("%d files, want 5 as Parse of the whole reads %d", len(p.Files), len(whole.Files))
	}
	for i, f := range p.Files {
		w := whole.Files[i]
		if f.Op != w.Op || f.OldPath != w.OldPath || f.NewPath != w.NewPath || f.Pos != w.Pos || len(f.Hunks) != len(w.Hunks) {
			t.Errorf("file %d: %v %q %q at %d with %d hunks; whole: %v %q %q at %d with %d hunks",
				i, f.Op, f.OldPath, f.NewPath, f.Pos, len(f.Hunks), w.Op, w.OldPath, w.NewPath, w.Pos, len(w.Hunks))
		}
	}
	// With the format-patch mail around it, the preamble goes with the first file.
	if p, err := parseRC("mail", []byte(fx.formatted)); err != nil || len(p.Files) != 5 {
		t.Errorf("format-patch: %v", err)
	}
	sec := fx.patch[:strings.Index(fx.patch, "diff --git a/kernel/fork.c")]
	if _, err := parseRC("twice", []byte(fx.patch+sec)); err == nil || !strings.Contains(err.Error(), "Makefile is changed twice") {
		t.Errorf("a file changed twice: %v", err)
	}
	broken := strings.Replace(fx.patch, "@@ -1,", "@@ -x,", 1)
	if _, err := parseRC("broken", []byte(broken)); err == nil {
		t.Error("a broken hunk header parsed")
	}
}

// TestFromPatchBeyondParseLimit builds a candidate from an rc patch larger
// than patchqueue.MaxPatchSize, which Parse alone refuses.
func TestFromPatchBeyondParseLimit(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 40 MiB of objects")
	}
	fx := newRCFixture(t)
	var b strings.Builder
	b.WriteString(fx.patch)
	line := strings.Repeat("x", 100) + "\n"
	const files, lines = 40, 10000 // ~1 MiB each
	for i := 0; i < files; i++ {
		fmt.Fprintf(&b, "diff --git a/firmware/f%d.bin.txt b/firmware/f%d.bin.txt\nnew file mode 100644\n--- /dev/null\n+++ b/firmware/f%d.bin.txt\n@@ -0,0 +1,%d @@\n", i, i, i, lines)
		for j := 0; j < lines; j++ {
			b.WriteString("+" + line)
		}
	}
	if b.Len() <= patchqueue.MaxPatchSize {
		t.Fatalf("the patch is only %d bytes", b.Len())
	}
	if p := patchqueue.Parse("whole", []byte(b.String()), 1); p.Err == nil {
		t.Log("patchqueue.Parse now takes the whole patch; this test still checks FromPatch")
	}
	src := writeFile(t, "patch-6.1.12-rc1.gz", gz(t, b.String()))
	eng := openEngine(t, fx.repo.Dir)
	h, err := FromPatch(context.Background(), eng, src, "6.1.12", 1, "refs/rtbot/big", PatchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r, err := fixtures.Open(fx.repo.Dir)
	if err != nil {
		t.Fatal(err)
	}
	got, err := r.Snapshot(h)
	if err != nil {
		t.Fatal(err)
	}
	if want := strings.Repeat(line, lines); got["firmware/f39.bin.txt"].Content != want || got["kernel/fork.c"].Content == fx.baseTree["kernel/fork.c"].Content {
		t.Errorf("the big candidate's files are wrong (%d files)", len(got))
	}
}

func FuzzParseMakefile(f *testing.F) {
	f.Add([]byte(realMakefileHead))
	f.Add([]byte(makefile(12, "-rc1")))
	f.Add([]byte("VERSION=1\nPATCHLEVEL=2\nSUBLEVEL=3\nEXTRAVERSION=-rc4\n"))
	f.Add([]byte("VERSION = 2\nPATCHLEVEL = 6\nSUBLEVEL = 32\nEXTRAVERSION = .71 # x\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := ParseMakefile(data)
		if err != nil {
			return
		}
		again, err := parseVersion(v.String())
		if err != nil || again != v {
			t.Fatalf("%#v: String %q parses back as %#v, %v", v, v.String(), again, err)
		}
		mk := fmt.Appendf(nil, "VERSION = %d\nPATCHLEVEL = %d\nSUBLEVEL = %d\nEXTRAVERSION = %s\n", v.Version, v.Patchlevel, v.Sublevel, v.Extraversion)
		if again, err := ParseMakefile(mk); err != nil || again != v {
			t.Fatalf("%#v written as a Makefile parses back as %#v, %v", v, again, err)
		}
	})
}
