package export_test

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/rtbot/rtbot/internal/export"
	"github.com/rtbot/rtbot/internal/fixtures"
	"github.com/rtbot/rtbot/internal/merger"
	"github.com/rtbot/rtbot/internal/patchqueue"
	"github.com/rtbot/rtbot/internal/release"
	"github.com/rtbot/rtbot/internal/testkit"
	"github.com/ulikunitz/xz"
)

// now is the merger's committer time, and git am's in the round trips,
// so that git am can recreate rtbot's commits exactly.
var now = time.Date(2026, 2, 2, 2, 2, 2, 0, time.UTC)

func fixedNow() time.Time { return now }

// amEnv makes git am commit as the merger does (rtbot <rtbot@localhost> at
// now), so that it can recreate rtbot's commits exactly.
func amEnv() []string { return testkit.GitCommitter("rtbot", "rtbot@localhost", now) }

func makefile(sub int, extra string) string {
	return fmt.Sprintf("# SPDX-License-Identifier: GPL-2.0\nVERSION = 6\nPATCHLEVEL = 1\nSUBLEVEL = %d\nEXTRAVERSION =%s\nNAME = Curry Ramen\n", sub, extra)
}

func sig(name, email string, when time.Time) object.Signature {
	return object.Signature{Name: name, Email: email, When: when}
}

// queueSpec is the synthetic RT queue: every kind of change a queue
// makes (modify at an offset, 3-way merge, add, delete, mode change, a
// file without final newline, a rename), one patch that conflicts with
// the candidate, and localversion-rt.
func queueSpec() (base fixtures.Tree, patches []fixtures.RTPatch, cand func(fixtures.Tree)) {
	cest := time.FixedZone("", 2*3600)
	pst := time.FixedZone("", -8*3600)
	core := fixtures.Lines("core line", 80)
	base = fixtures.Tree{
		"Makefile":        {Content: makefile(11, "")},
		"kernel/core.c":   {Content: "int main(void)\n{\n" + core + "}\n"},
		"drivers/old.c":   {Content: fixtures.Lines("old", 10)},
		"scripts/run.sh":  {Content: "#!/bin/sh\necho hi\n"},
		"init/Kconfig":    {Content: "config A\n\tbool\nconfig B\n\tbool\nconfig LAST\n\tbool \"last\""},
		"lib/a.c":         {Content: fixtures.Lines("lib line", 40)},
		"mm/slab.c":       {Content: fixtures.Lines("slab", 30)},
		"lib/keep file.c": {Content: fixtures.Lines("spaced", 8)},
	}
	patches = []fixtures.RTPatch{
		{Author: sig("Thomas Gleixner", "tglx@linutronix.de", time.Date(2022, 8, 7, 18, 15, 38, 0, cest)),
			Msg:    "sched: Change core line 60\n\nThe RT change,\nover two lines.\n\nSigned-off-by: Thomas Gleixner <tglx@linutronix.de>\nLink: https://lkml.kernel.org/r/1@example.org\n",
			Change: func(t fixtures.Tree) { t.Edit("kernel/core.c", "core line 60\n", "rt line 60\n") }},
		{Author: sig("Jörg Rödel", "joro@example.org", time.Date(2023, 1, 12, 9, 0, 1, 0, pst)),
			Msg: "rt: Add localversion and rt/new.c for the naïve café\n\nSigned-off-by: Jörg Rödel <joro@example.org>\n",
			Change: func(t fixtures.Tree) {
				t["localversion-rt"] = fixtures.File{Content: "-rt5\n"}
				t["kernel/rt/new.c"] = fixtures.File{Content: "int rt;\n"}
			}},
		{Author: sig("Sebastian Andrzej Siewior", "bigeasy@linutronix.de", time.Date(2021, 3, 4, 5, 6, 7, 0, time.UTC)),
			Msg:    "drivers: Remove old.c\n\nSigned-off-by: Sebastian Andrzej Siewior <bigeasy@linutronix.de>\n",
			Change: func(t fixtures.Tree) { delete(t, "drivers/old.c") }},
		{Author: sig("Clark Williams", "williams@redhat.com", time.Date(2024, 12, 31, 23, 59, 59, 0, cest)),
			Msg: "scripts: Make run.sh executable\n\nSigned-off-by: Clark Williams <williams@redhat.com>\n",
			Change: func(t fixtures.Tree) {
				f := t["scripts/run.sh"]
				f.Mode = filemode.Executable
				t["scripts/run.sh"] = f
			}},
		{Author: sig("Yadi.hu", "yadi.hu@windriver.com", time.Date(2020, 2, 2, 2, 2, 2, 0, cest)),
			Msg:    "Kconfig: Change the last line, which has no newline\n\nSigned-off-by: Yadi.hu <yadi.hu@windriver.com>\n",
			Change: func(t fixtures.Tree) { t.Edit("init/Kconfig", "\tbool \"last\"", "\tbool \"last RT\"") }},
		{Author: sig("Mike Galbraith", "umgwanakikbuti@gmail.com", time.Date(2019, 5, 6, 7, 8, 9, 0, cest)),
			Msg: "lib: Rename a.c to b.c and change it while at it, with a subject long enough to be folded over two header lines\n\nSigned-off-by: Mike Galbraith <umgwanakikbuti@gmail.com>\n",
			Change: func(t fixtures.Tree) {
				f := t["lib/a.c"]
				delete(t, "lib/a.c")
				f.Content = strings.Replace(f.Content, "lib line 20\n", "rt lib line 20\n", 1)
				t["lib/b.c"] = f
			}},
		{Author: sig("Peter Zijlstra", "peterz@infradead.org", time.Date(2022, 1, 1, 0, 0, 0, 0, time.UTC)),
			Msg:    "mm: Conflict with the candidate\n\nSigned-off-by: Peter Zijlstra <peterz@infradead.org>\n",
			Change: func(t fixtures.Tree) { t.Edit("mm/slab.c", "slab 15\n", "rt slab 15\n") }},
		{Author: sig("John Ogness", "john.ogness@linutronix.de", time.Date(2023, 6, 7, 8, 9, 10, 0, cest)),
			Msg: "printk: Change core line 30 and a spaced file\n\nThe candidate changed the context: this one needs the 3-way merge.\n\nSigned-off-by: John Ogness <john.ogness@linutronix.de>\nReviewed-by: Petr Mladek <pmladek@suse.com>\n",
			Change: func(t fixtures.Tree) {
				t.Edit("kernel/core.c", "core line 30\n", "rt line 30\n")
				t.Edit("lib/keep file.c", "spaced 8\n", "spaced eight\n")
			}},
	}
	cand = func(t fixtures.Tree) {
		t["Makefile"] = fixtures.File{Content: makefile(12, " -rc1")}
		t.Edit("kernel/core.c", "core line 2\n", "core line 2\nstable a\nstable b\n")
		t.Edit("kernel/core.c", "core line 28\n", "stable line 28\n")
		t.Edit("mm/slab.c", "slab 15\n", "stable slab 15\n")
	}
	return base, patches, cand
}

type built struct {
	dir       string // non-bare repository; tags base, cand; branch rt
	base, cnd plumbing.Hash
	queueDir  string // git format-patch -M of base..rt, with a series file
}

func build(t testing.TB) built {
	t.Helper()
	dir := t.TempDir()
	r, err := fixtures.Init(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	baseTree, patches, candEdit := queueSpec()
	base, _, cnd, err := r.BuildRT(fixtures.RTRepo{Base: baseTree, BaseMsg: "Linux 6.1.11\n", Patches: patches, Cand: candEdit, CandMsg: "Linux 6.1.12-rc1\n"})
	if err != nil {
		t.Fatal(err)
	}
	b := built{dir: dir, base: base, cnd: cnd, queueDir: testkit.QuiltQueue(t, dir, "base..rt", "-M")}
	return b
}

// forms rebase the queue in its two shapes: a quilt directory (patch
// names to keep) and a git range (names to make up).
var forms = []struct {
	name   string
	rebase func(ctx context.Context, eng *merger.Engine, b built) (*merger.Result, error)
}{
	{"quilt dir", func(ctx context.Context, eng *merger.Engine, b built) (*merger.Result, error) {
		q, err := patchqueue.Open(b.queueDir, patchqueue.DefaultLimits())
		if err != nil {
			return nil, err
		}
		return eng.RebaseQueue(ctx, q, b.base, b.cnd)
	}},
	{"git range", func(ctx context.Context, eng *merger.Engine, b built) (*merger.Result, error) {
		_, steps, base, err := eng.ReadRange(ctx, patchqueue.Range{Base: "base", Tip: "rt"})
		if err != nil {
			return nil, err
		}
		return eng.Rebase(ctx, steps, base, b.cnd)
	}},
}

func TestWriteRoundTrips(t *testing.T) {
	testkit.NeedGit(t)
	b := build(t)
	for _, form := range forms {
		t.Run(form.name, func(t *testing.T) {
			eng, err := merger.Open(b.dir, merger.Options{Now: fixedNow})
			if err != nil {
				t.Fatal(err)
			}
			defer eng.Close()
			rt := exportForm(t, b, eng, form.name, form.rebase)
			t.Run("git am", rt.amRecreatesCommits)
			t.Run("quilt push", rt.quiltPushRecreatesTree)
			t.Run("tarball", rt.tarballHoldsPatches)
			t.Run("combined patch", rt.combinedPatchApplies)
			t.Run("headers", rt.headersRoundTrip)
			t.Run("refuses a non-empty directory", rt.refusesNonEmptyDir)
		})
	}
}

// roundTrip is the export of one form of the queue, which the subtests
// of TestWriteRoundTrips read back.
type roundTrip struct {
	b        built
	eng      *merger.Engine
	res      *merger.Result
	headTree plumbing.Hash
	out      string           // the export directory
	m        *export.Manifest // what Write wrote there
	names    []string         // the exported patches in series order
}

// exportForm rebases the queue in one form, exports the result and checks
// the manifest: names, release, what was left out.
func exportForm(t *testing.T, b built, eng *merger.Engine, form string,
	rebase func(context.Context, *merger.Engine, built) (*merger.Result, error)) *roundTrip {
	t.Helper()
	res, err := rebase(context.Background(), eng, b)
	if err != nil {
		t.Fatal(err)
	}
	var outcomes []merger.Outcome
	for _, p := range res.Patches {
		outcomes = append(outcomes, p.Outcome)
	}
	want := []merger.Outcome{merger.Applied, merger.Applied, merger.Applied, merger.Applied, merger.Applied, merger.Applied, merger.Conflict, merger.Merged}
	if fmt.Sprint(outcomes) != fmt.Sprint(want) {
		t.Fatalf("rebase outcomes %v, want %v", outcomes, want)
	}
	rt := &roundTrip{b: b, eng: eng, res: res, headTree: treeOf(t, eng, res.Head), out: filepath.Join(t.TempDir(), "export")}
	if rt.m, err = export.Write(context.Background(), eng.Repository(), res, rt.out, export.Options{}); err != nil {
		t.Fatal(err)
	}
	m := rt.m
	if m.Release != "6.1.12-rc1-rt5" || filepath.Base(m.Tarball) != "patches-6.1.12-rc1-rt5.tar.xz" ||
		filepath.Base(m.Combined) != "patch-6.1.12-rc1-rt5.patch.xz" || m.Series != filepath.Join(rt.out, "patches", "series") {
		t.Errorf("manifest names: %+v", m)
	}
	if len(m.Skipped) != 1 || m.Skipped[0].Name != res.Patches[6].Patch.Name || m.Skipped[0].Outcome != merger.Conflict {
		t.Errorf("skipped %+v, want patch 7 (%s) as conflict", m.Skipped, res.Patches[6].Patch.Name)
	}
	if len(m.Patches) != 7 {
		t.Fatalf("%d patches exported, want 7", len(m.Patches))
	}
	rt.names = checkExportedNames(t, m, res, form)
	return rt
}

// checkExportedNames checks each exported patch's source and file name
// (the queue's own in a quilt directory, format-patch's for a git range)
// and the series, and returns the names.
func checkExportedNames(t *testing.T, m *export.Manifest, res *merger.Result, form string) []string {
	t.Helper()
	series := testkit.ReadFile(t, m.Series)
	var names []string
	for i, p := range m.Patches {
		names = append(names, p.Name)
		src := sourceOf(res, p.Commit)
		if p.Source != src.Patch.Name {
			t.Errorf("patch %d: source %q, want %q", i+1, p.Source, src.Patch.Name)
		}
		wantName := src.Patch.Name // format-patch's own name in the quilt dir
		if form == "git range" {
			wantName = fmt.Sprintf("%04d-", i+1)
		}
		if !strings.HasPrefix(p.Name, wantName) || !strings.HasSuffix(p.Name, ".patch") {
			t.Errorf("patch %d named %q, want %q...", i+1, p.Name, wantName)
		}
	}
	if series != strings.Join(names, "\n")+"\n" {
		t.Errorf("series:\n%s\nwant the exported names %v", series, names)
	}
	return names
}

// amRecreatesCommits: git am of the exported patches on the candidate
// makes the result's tree, and its very commits.
func (rt *roundTrip) amRecreatesCommits(t *testing.T) {
	b, res, headTree := rt.b, rt.res, rt.headTree
	wt := checkout(t, b.dir, "cand")
	args := []string{"am", "-q"}
	for _, n := range rt.names {
		args = append(args, filepath.Join(rt.out, "patches", n))
	}
	testkit.GitWith(t, wt, amEnv(), args...)
	if got := testkit.Git(t, wt, "rev-parse", "HEAD^{tree}"); got != headTree.String() {
		t.Errorf("git am made tree %s, want the result's %s", got, headTree)
	}
	// Author, date, message and committer all round-trip: git am
	// recreates rtbot's very commits.
	if got := testkit.Git(t, wt, "rev-parse", "HEAD"); got != res.Head.String() {
		t.Errorf("git am made commit %s, want the result %s:\n%s\n%s", got, res.Head,
			testkit.Git(t, wt, "cat-file", "-p", "HEAD"), testkit.Git(t, b.dir, "cat-file", "-p", res.Head.String()))
	}
}

// quiltPushRecreatesTree: quilt push -a of patches/ on the candidate
// makes the result's tree and files.
func (rt *roundTrip) quiltPushRecreatesTree(t *testing.T) {
	if _, err := exec.LookPath("quilt"); err != nil {
		t.Skip("quilt not installed (apt-get install quilt)")
	}
	wt := checkout(t, rt.b.dir, "cand")
	copyDir(t, filepath.Join(rt.out, "patches"), filepath.Join(wt, "patches"))
	quiltPush(t, wt)
	if got := worktreeTree(t, wt); got != rt.headTree.String() {
		t.Errorf("quilt push made tree %s, want the result's %s", got, rt.headTree)
	}
	compareFiles(t, rt.eng, rt.res.Head, wt)
}

// tarballHoldsPatches: the tarball holds patches/ as written, with fixed
// owners, modes and times, readable by the system's tar, and the same
// export twice gives the same bytes.
func (rt *roundTrip) tarballHoldsPatches(t *testing.T) {
	m, out, res, repo := rt.m, rt.out, rt.res, rt.eng.Repository()
	members := untar(t, m.Tarball)
	onDisk := readTree(t, filepath.Join(out, "patches"))
	if len(members) != len(onDisk) {
		t.Errorf("tarball has %d files, patches/ %d", len(members), len(onDisk))
	}
	last, _ := repo.CommitObject(res.Head)
	for name, mem := range members {
		if want, ok := onDisk[strings.TrimPrefix(name, "patches/")]; !ok || want != mem.data {
			t.Errorf("tarball member %s differs from patches/ (on disk: %v)", name, ok)
		}
		if mem.hdr.Mode != 0o644 || mem.hdr.Uid != 0 || mem.hdr.Gid != 0 || !mem.hdr.ModTime.Equal(last.Committer.When.Truncate(time.Second)) {
			t.Errorf("%s: mode %o uid %d gid %d mtime %v, want 0644 0 0 %v", name, mem.hdr.Mode, mem.hdr.Uid, mem.hdr.Gid, mem.hdr.ModTime, last.Committer.When)
		}
	}
	// The system's tar and xz read it too.
	if _, err := exec.LookPath("xz"); err == nil {
		x := t.TempDir()
		if out, err := testkit.RunCommand(t, x, nil, "tar", "-xJf", m.Tarball); err != nil {
			t.Fatalf("tar -xJf: %v\n%s", err, out)
		}
		if got := readTree(t, filepath.Join(x, "patches")); fmt.Sprint(got) != fmt.Sprint(onDisk) {
			t.Error("tar -xJf gives other files than patches/")
		}
	}
	// Twice the same export: the same bytes.
	again := filepath.Join(t.TempDir(), "again")
	m2, err := export.Write(context.Background(), repo, res, again, export.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, pair := range [][2]string{{m.Tarball, m2.Tarball}, {m.Combined, m2.Combined}} {
		if !bytes.Equal([]byte(testkit.ReadFile(t, pair[0])), []byte(testkit.ReadFile(t, pair[1]))) {
			t.Errorf("%s differs between two runs", filepath.Base(pair[0]))
		}
	}
	if fmt.Sprint(readTree(t, filepath.Join(again, "patches"))) != fmt.Sprint(onDisk) {
		t.Error("patches/ differs between two runs")
	}
}

// combinedPatchApplies: git apply of the combined patch on the candidate
// makes the result's tree.
func (rt *roundTrip) combinedPatchApplies(t *testing.T) {
	wt := checkout(t, rt.b.dir, "cand")
	diff := filepath.Join(t.TempDir(), "rt.patch")
	if err := os.WriteFile(diff, []byte(unxz(t, rt.m.Combined)), 0o644); err != nil {
		t.Fatal(err)
	}
	testkit.Git(t, wt, "apply", "--index", diff)
	if got := strings.TrimSpace(testkit.Git(t, wt, "write-tree")); got != rt.headTree.String() {
		t.Errorf("git apply of the combined patch made tree %s, want %s", got, rt.headTree)
	}
}

// headersRoundTrip: each exported patch parses back to its source's
// author, date, subject and body, in format-patch's mail form.
func (rt *roundTrip) headersRoundTrip(t *testing.T) {
	for i, p := range rt.m.Patches {
		data := testkit.ReadFile(t, filepath.Join(rt.out, "patches", p.Name))
		got := patchqueue.Parse(p.Name, []byte(data), 1)
		src := sourceOf(rt.res, p.Commit).Patch
		if got.Err != nil {
			t.Errorf("%s does not parse: %v", p.Name, got.Err)
			continue
		}
		if got.AuthorName != src.AuthorName || got.AuthorEmail != src.AuthorEmail ||
			got.Date.Format(time.RFC1123Z) != src.Date.Format(time.RFC1123Z) ||
			got.Subject != src.Subject || got.Body != src.Body {
			t.Errorf("%s: headers\n got  %q <%s> %v %q\n%q\nwant %q <%s> %v %q\n%q", p.Name,
				got.AuthorName, got.AuthorEmail, got.Date, got.Subject, got.Body,
				src.AuthorName, src.AuthorEmail, src.Date, src.Subject, src.Body)
		}
		prefix := fmt.Sprintf("Subject: [PATCH %d/7] ", i+1)
		if !strings.Contains(data, "\n"+prefix) || !strings.HasPrefix(data, "From "+p.Commit.String()+" Mon Sep 17 00:00:00 2001\n") {
			t.Errorf("%s: mail lines:\n%s", p.Name, data[:min(len(data), 400)])
		}
	}
}

// refusesNonEmptyDir: Write refuses the export directory now that it is
// not empty, and with Overwrite replaces patches/ and writes the same
// tarball, leaving no work directory behind.
func (rt *roundTrip) refusesNonEmptyDir(t *testing.T) {
	ctx, repo, res, out, m := context.Background(), rt.eng.Repository(), rt.res, rt.out, rt.m
	if _, err := export.Write(ctx, repo, res, out, export.Options{}); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Errorf("second Write into %s: %v, want a not-empty error", out, err)
	}
	stale := filepath.Join(out, "patches", "stale.patch")
	if err := os.WriteFile(stale, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	tarball := testkit.ReadFile(t, m.Tarball)
	if _, err := export.Write(ctx, repo, res, out, export.Options{Overwrite: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); err == nil {
		t.Error("Overwrite kept a file of the old patches/")
	}
	if testkit.ReadFile(t, m.Tarball) != tarball {
		t.Error("Overwrite wrote another tarball")
	}
	left, _ := filepath.Glob(filepath.Join(out, ".rtbot-export-*"))
	if len(left) > 0 {
		t.Errorf("work directories left behind: %v", left)
	}
}

// TestWriteNames: the files are named from the Makefile and
// localversion-rt, or from Options; without either, the error says what
// is missing.
func TestWriteNames(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name    string
		files   fixtures.Tree
		opts    export.Options
		release string
		err     string
	}{
		{"tree", fixtures.Tree{"Makefile": {Content: makefile(176, "")}, "localversion-rt": {Content: "-rt64\n"}}, export.Options{}, "6.1.176-rt64", ""},
		{"rc", fixtures.Tree{"Makefile": {Content: makefile(12, " -rc1")}, "localversion-rt": {Content: "-rt5\n"}}, export.Options{}, "6.1.12-rc1-rt5", ""},
		{"options win", fixtures.Tree{"Makefile": {Content: makefile(12, "")}, "localversion-rt": {Content: "-rt5\n"}}, export.Options{Version: "6.1.13", LocalVersion: "-rt6"}, "6.1.13-rt6", ""},
		{"no makefile", fixtures.Tree{"localversion-rt": {Content: "-rt5\n"}}, export.Options{}, "", "no Makefile"},
		{"no makefile, version given", fixtures.Tree{"localversion-rt": {Content: "-rt5\n"}}, export.Options{Version: "6.1.1"}, "6.1.1-rt5", ""},
		{"no localversion", fixtures.Tree{"Makefile": {Content: makefile(12, "")}}, export.Options{}, "", "no localversion-rt"},
		{"bad makefile", fixtures.Tree{"Makefile": {Content: "VERSION = 6\n"}, "localversion-rt": {Content: "-rt5\n"}}, export.Options{}, "", "PATCHLEVEL"},
		{"unsafe suffix", fixtures.Tree{"Makefile": {Content: makefile(12, "")}, "localversion-rt": {Content: "-rt5/../../x\n"}}, export.Options{}, "", "not usable in a file name"},
		// After a pass: the release rtbot release will make.
		{"next release", fixtures.Tree{"Makefile": {Content: makefile(176, "")}, "localversion-rt": {Content: "-rt64\n"}}, export.Options{NextRelease: true}, "6.1.176-rt65", ""},
		{"next release of an rc queue", fixtures.Tree{"Makefile": {Content: makefile(176, "")}, "localversion-rt": {Content: "-rt65-rc2\n"}}, export.Options{NextRelease: true}, "6.1.176-rt65", ""},
		{"next release on an rc kernel", fixtures.Tree{"Makefile": {Content: makefile(177, " -rc1")}, "localversion-rt": {Content: "-rt64\n"}}, export.Options{NextRelease: true, LocalVersion: "-rt1"}, "6.1.177-rc1-rt65", ""},
		{"next release, odd localversion", fixtures.Tree{"Makefile": {Content: makefile(176, "")}, "localversion-rt": {Content: "-rt5-foo\n"}}, export.Options{NextRelease: true}, "", "is not -rtN or -rtN-rcM"},
		{"next release, no localversion", fixtures.Tree{"Makefile": {Content: makefile(176, "")}}, export.Options{NextRelease: true}, "", "no localversion-rt"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			r, err := fixtures.Init(dir, true)
			if err != nil {
				t.Fatal(err)
			}
			c, err := r.Commit(tc.files, "candidate\n")
			if err != nil {
				t.Fatal(err)
			}
			res := &merger.Result{Onto: c, Head: c}
			out := filepath.Join(t.TempDir(), "out")
			m, err := export.Write(ctx, r.Repo, res, out, tc.opts)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				if _, err := os.Stat(out); err == nil {
					t.Error("a failed Write left the directory behind")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if m.Release != tc.release || filepath.Base(m.Tarball) != "patches-"+tc.release+".tar.xz" || len(m.Patches) != 0 {
				t.Errorf("manifest %+v, want release %s", m, tc.release)
			}
			if s := testkit.ReadFile(t, m.Series); s != "" {
				t.Errorf("series of an empty queue: %q", s)
			}
		})
	}
}

// TestMatchesGitFormatPatch: each exported patch is byte for byte what
// `git format-patch` (12-digit ids, no rename detection) writes for the
// rebased commit, but for the signature; and made-up names are
// format-patch's: a git range has no names to keep.
func TestMatchesGitFormatPatch(t *testing.T) {
	testkit.NeedGit(t)
	ctx := context.Background()
	b := build(t)
	eng, err := merger.Open(b.dir, merger.Options{Now: fixedNow})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	res, err := forms[1].rebase(ctx, eng, b)
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	m, err := export.Write(ctx, eng.Repository(), res, out, export.Options{})
	if err != nil {
		t.Fatal(err)
	}
	gitDir := t.TempDir()
	testkit.Git(t, b.dir, "-c", "core.abbrev=12", "-c", "diff.renames=false", "format-patch", "-q", "-o", gitDir, "cand.."+res.Head.String())
	gitNames, _ := filepath.Glob(filepath.Join(gitDir, "*.patch"))
	sort.Strings(gitNames)
	if len(gitNames) != len(m.Patches) {
		t.Fatalf("git format-patch wrote %d patches, the export %d", len(gitNames), len(m.Patches))
	}
	unsign := func(s string) string {
		i := strings.LastIndex(s, "\n-- \n")
		if i < 0 {
			t.Fatalf("no signature in\n%s", s)
		}
		return s[:i]
	}
	for i, p := range m.Patches {
		if want := filepath.Base(gitNames[i]); p.Name != want {
			t.Errorf("patch %d named %q, git format-patch says %q", i+1, p.Name, want)
		}
		got, want := unsign(testkit.ReadFile(t, filepath.Join(out, "patches", p.Name))), unsign(testkit.ReadFile(t, gitNames[i]))
		if got != want {
			t.Errorf("patch %d differs from git format-patch's:\n--- git\n%s\n--- export\n%s", i+1, want, got)
		}
	}
}

func sourceOf(res *merger.Result, commit plumbing.Hash) *merger.PatchResult {
	for _, p := range res.Patches {
		if p.Commit == commit {
			return p
		}
	}
	panic("no patch for commit " + commit.String())
}

func treeOf(t testing.TB, eng *merger.Engine, h plumbing.Hash) plumbing.Hash {
	t.Helper()
	c, err := eng.Repository().CommitObject(h)
	if err != nil {
		t.Fatal(err)
	}
	return c.TreeHash
}

// checkout clones repo into a new directory, checked out (detached) at
// rev, with patches/ and .pc/ ignored.
func checkout(t testing.TB, repo, rev string) string {
	t.Helper()
	wt := filepath.Join(t.TempDir(), "wt")
	testkit.Git(t, "", "clone", "-q", "--shared", "--no-checkout", repo, wt)
	testkit.Git(t, wt, "checkout", "-q", "--detach", rev)
	f, err := os.OpenFile(filepath.Join(wt, ".git", "info", "exclude"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(f, "/patches/\n/.pc/")
	f.Close()
	return wt
}

// quiltPush applies patches/ in wt with quilt, exactly (no fuzz).
func quiltPush(t testing.TB, wt string) {
	t.Helper()
	if out, err := testkit.RunCommand(t, wt, []string{"QUILT_PATCHES=patches"}, "quilt", "--quiltrc=-", "push", "-a", "-q", "--fuzz=0"); err != nil {
		t.Fatalf("quilt push: %v\n%s", err, out)
	}
}

// worktreeTree is the tree id of wt's files as they are (git add -A).
func worktreeTree(t testing.TB, wt string) string {
	t.Helper()
	testkit.Git(t, wt, "add", "-A")
	return testkit.Git(t, wt, "write-tree")
}

// compareFiles checks every file of commit h against wt: content and the
// executable bit, and that wt has no other files.
func compareFiles(t testing.TB, eng *merger.Engine, h plumbing.Hash, wt string) {
	t.Helper()
	c, err := eng.Repository().CommitObject(h)
	if err != nil {
		t.Fatal(err)
	}
	tree, err := c.Tree()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	err = tree.Files().ForEach(func(f *object.File) error {
		want[f.Name] = true
		content, err := f.Contents()
		if err != nil {
			return err
		}
		p := filepath.Join(wt, filepath.FromSlash(f.Name))
		st, err := os.Lstat(p)
		if err != nil {
			t.Errorf("%s: %v", f.Name, err)
			return nil
		}
		if f.Mode == filemode.Symlink {
			if got, _ := os.Readlink(p); got != content {
				t.Errorf("%s: link to %q, want %q", f.Name, got, content)
			}
			return nil
		}
		if got := testkit.ReadFile(t, p); got != content {
			t.Errorf("%s differs from the result", f.Name)
		}
		if isExec := st.Mode()&0o100 != 0; isExec != (f.Mode == filemode.Executable) {
			t.Errorf("%s: executable %v, want mode %v", f.Name, isExec, f.Mode)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	_ = filepath.WalkDir(wt, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(wt, p)
		if d.IsDir() {
			if rel == ".git" || rel == ".pc" || rel == "patches" {
				return filepath.SkipDir
			}
			return nil
		}
		if !want[filepath.ToSlash(rel)] {
			t.Errorf("%s is not in the result", rel)
		}
		return nil
	})
}

func copyDir(t testing.TB, from, to string) {
	t.Helper()
	for name, data := range readTree(t, from) {
		p := filepath.Join(to, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// readTree reads every file under dir: slash path -> content.
func readTree(t testing.TB, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		out[filepath.ToSlash(rel)] = testkit.ReadFile(t, p)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func unxz(t testing.TB, p string) string {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := xz.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

type member struct {
	hdr  *tar.Header
	data string
}

func untar(t testing.TB, p string) map[string]member {
	t.Helper()
	tr := tar.NewReader(strings.NewReader(unxz(t, p)))
	out := map[string]member{}
	var prev string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Name <= prev {
			t.Errorf("tarball entries not sorted: %s after %s", h.Name, prev)
		}
		prev = h.Name
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		out[h.Name] = member{h, string(b)}
	}
	return out
}

// TestNextReleaseAgreesWithRelease: the export after a pass is named
// after the very release `rtbot release` makes of the same commit (one
// computation, release.NextRelease, behind both).
func TestNextReleaseAgreesWithRelease(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		makefile, localversion string
	}{
		{makefile(176, ""), "-rt64\n"},
		{makefile(176, ""), "-rt64-rc3\n"},
		{makefile(0, ""), "-rt1"},
		{makefile(12, " -rc1"), "-rt5\n"},
	} {
		dir := t.TempDir()
		r, err := fixtures.Init(dir, true)
		if err != nil {
			t.Fatal(err)
		}
		c, err := r.Commit(fixtures.Tree{"Makefile": {Content: tc.makefile}, "localversion-rt": {Content: tc.localversion}}, "result\n")
		if err == nil {
			err = r.Branch("v6.1-rt", c)
		}
		if err != nil {
			t.Fatal(err)
		}
		m, err := export.Write(ctx, r.Repo, &merger.Result{Onto: c, Head: c}, filepath.Join(t.TempDir(), "out"), export.Options{NextRelease: true})
		if err != nil {
			t.Fatal(err)
		}
		eng, err := merger.Open(dir, merger.Options{})
		if err != nil {
			t.Fatal(err)
		}
		plan, err := release.Prepare(eng, release.Options{Branch: "v6.1-rt", TagPrefix: "v", AllowRCKernel: true,
			Identity: merger.Identity{Name: "N", Email: "n@example.org"}})
		eng.Close()
		if err != nil {
			t.Fatal(err)
		}
		if m.Release != plan.Version {
			t.Errorf("localversion-rt %q: export names %s, rtbot release makes %s", tc.localversion, m.Release, plan.Version)
		}
	}
}
