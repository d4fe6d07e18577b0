package release_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/rtbot/rtbot/internal/fixtures"
	"github.com/rtbot/rtbot/internal/mailwatch"
	"github.com/rtbot/rtbot/internal/merger"
	"github.com/rtbot/rtbot/internal/release"
	"github.com/rtbot/rtbot/internal/testkit"
)

func TestLocalversionBump(t *testing.T) {
	tests := []struct {
		content string
		rc      bool
		want    string // "" with err
		err     string
	}{
		{content: "-rt25\n", want: "-rt26"},
		{content: "-rt25", want: "-rt26"},
		{content: "-rt25\n", rc: true, want: "-rt26-rc1"},
		{content: "-rt25-rc2\n", rc: true, want: "-rt25-rc3"},
		{content: "-rt25-rc2\n", want: "-rt25"},
		{content: "-rt9\n", want: "-rt10"},
		{content: "-rt99-rc9\n", rc: true, want: "-rt99-rc10"},
		{content: "", err: `content ""`},
		{content: "rt25\n", err: `content "rt25\n"`},
		{content: "-rt25\n\n", err: `content "-rt25\n\n"`},
		{content: "-rt25 \n", err: `content "-rt25 \n"`},
		{content: "-rt\n", err: `content "-rt\n"`},
		{content: "-rt25-rc\n", err: `content "-rt25-rc\n"`},
		{content: "-rt25-rt1\n", err: `content "-rt25-rt1\n"`},
		{content: "-rt-5\n", err: `content "-rt-5\n"`},
		{content: "-RT25\n", err: `content "-RT25\n"`},
		{content: "-rt25\r\n", err: `content "-rt25\r\n"`},
		{content: "-rt99999999999999999999\n", err: "out of range"},
	}
	for _, tt := range tests {
		l, err := release.ParseLocalversion(tt.content)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) || !strings.Contains(err.Error(), "localversion-rt") {
				t.Errorf("ParseLocalversion(%q) = %v, %v; want an error naming localversion-rt and %s", tt.content, l, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseLocalversion(%q): %v", tt.content, err)
			continue
		}
		if got := l.Next(tt.rc).String(); got != tt.want {
			t.Errorf("%q rc=%v: next %s, want %s", tt.content, tt.rc, got, tt.want)
		}
	}
}

func makefile(sub int, extra string) string {
	return "# SPDX-License-Identifier: GPL-2.0\nVERSION = 6\nPATCHLEVEL = 1\nSUBLEVEL = " +
		itoa(sub) + "\nEXTRAVERSION =" + extra + "\nNAME = Curry Ramen\n\n# comment\nall:\n"
}

func itoa(n int) string {
	s := ""
	for {
		s = string(rune('0'+n%10)) + s
		if n /= 10; n == 0 {
			return s
		}
	}
}

// rtRepo is a series branch v6.1-rt: the release 6.1.11-rt5 (tagged,
// annotated), a merge of stable 6.1.12, two RT fixes by different authors.
// Other refs: a tag v6.1.12 and a branch "other".
type rtRepo struct {
	dir       string
	r         *fixtures.Repo
	tip, prev plumbing.Hash
	tree      fixtures.Tree
}

func newRTRepo(t *testing.T, bare bool, localversion, mk string) *rtRepo {
	t.Helper()
	dir := t.TempDir()
	r, err := fixtures.Init(dir, bare)
	if err != nil {
		t.Fatal(err)
	}
	tree := fixtures.Tree{
		"Makefile":           {Content: makefile(11, "")},
		"localversion-rt":    {Content: "-rt5\n"},
		"kernel/sched/rt.c":  {Content: fixtures.Lines("rt", 10)},
		"kernel/printk.c":    {Content: fixtures.Lines("printk", 10)},
		"scripts/setver.sh":  {Content: "#!/bin/sh\n", Mode: 0o100755},
		"Documentation/a.md": {Content: "doc\n"},
	}
	c := func(msg, author string, parents ...plumbing.Hash) plumbing.Hash {
		h, err := r.CommitAs(tree, msg, object.Signature{Name: author, Email: "a@example.org"}, parents...)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	base := c("Linux 6.1.11\n", "Greg Kroah-Hartman")
	prev := c("Linux 6.1.11-rt5\n", "Clark Williams", base)
	tree["Makefile"] = fixtures.File{Content: makefile(12, "")}
	stable := c("Linux 6.1.12\n", "Greg Kroah-Hartman", base)
	merge := c("Merge tag 'v6.1.12' into v6.1-rt\n", "Clark Williams", prev, stable)
	tree["kernel/sched/rt.c"] = fixtures.File{Content: strings.Replace(tree["kernel/sched/rt.c"].Content, "rt 3\n", "rt three\n", 1)}
	fix1 := c("sched/rt: Fix three\n\nLonger text.\n", "Zed Author", merge)
	tree["kernel/printk.c"] = fixtures.File{Content: strings.Replace(tree["kernel/printk.c"].Content, "printk 3\n", "printk three\n", 1)}
	tree["localversion-rt"] = fixtures.File{Content: localversion}
	tree["Makefile"] = fixtures.File{Content: mk}
	fix2 := c("printk: Fix three\n", "Ann Author", fix1)
	if err := r.Tag("v6.1.12", stable); err != nil {
		t.Fatal(err)
	}
	if err := r.Branch("v6.1-rt", fix2); err != nil {
		t.Fatal(err)
	}
	if err := r.Branch("other", fix1); err != nil {
		t.Fatal(err)
	}
	// An annotated tag for the previous release, as the maintainers have,
	// and an older, unrelated one that must not be taken.
	testkit.Git(t, dir, "tag", "-a", "-m", "Linux 6.1.11-rt5", "v6.1.11-rt5", prev.String())
	testkit.Git(t, dir, "tag", "-a", "-m", "Linux 6.1.2-rt5", "v6.1.2-rt5", base.String())
	testkit.Git(t, dir, "symbolic-ref", "HEAD", "refs/heads/v6.1-rt")
	return &rtRepo{dir: dir, r: r, tip: fix2, prev: prev, tree: tree}
}

func refs(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, l := range strings.Split(testkit.Git(t, dir, "for-each-ref", "--format=%(refname) %(objectname)"), "\n") {
		if n, h, ok := strings.Cut(l, " "); ok {
			out[n] = h
		}
	}
	return out
}

// objectFiles lists every file under the object store.
func objectFiles(t *testing.T, dir string) []string {
	t.Helper()
	root := filepath.Join(dir, "objects")
	if _, err := os.Stat(filepath.Join(dir, ".git")); err == nil {
		root = filepath.Join(dir, ".git", "objects")
	}
	var files []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

var id = merger.Identity{Name: "Clark Williams", Email: "williams@redhat.com"}

func fixedNow() time.Time { return time.Date(2024, 2, 28, 1, 55, 51, 0, time.UTC) }

func open(t *testing.T, dir string) *merger.Engine {
	t.Helper()
	eng, err := merger.Open(dir, merger.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close() })
	return eng
}

func TestRelease(t *testing.T) {
	for _, bare := range []bool{true, false} {
		t.Run(map[bool]string{true: "bare", false: "worktree"}[bare], func(t *testing.T) {
			rr := newRTRepo(t, bare, "-rt5\n", makefile(12, ""))
			before := refs(t, rr.dir)
			eng := open(t, rr.dir)
			p, err := release.Prepare(eng, release.Options{Branch: "v6.1-rt", TagPrefix: "v", Identity: id, Now: fixedNow})
			if err != nil {
				t.Fatal(err)
			}
			if err := p.Apply(eng); err != nil {
				t.Fatal(err)
			}
			if p.Version != "6.1.12-rt6" || p.Tag != "v6.1.12-rt6" || p.Message != "Linux 6.1.12-rt6\n" {
				t.Errorf("version %q tag %q message %q", p.Version, p.Tag, p.Message)
			}
			checkReleaseCommit(t, rr, p)
			checkOnlyBranchAndTagMoved(t, before, refs(t, rr.dir), p)
			checkReleaseTag(t, rr, p, bare)
			checkReleaseChanges(t, p)
		})
	}
}

// checkReleaseCommit: the branch moved by exactly one commit, which
// changes only localversion-rt, keeps the modes and is the release
// identity's.
func checkReleaseCommit(t *testing.T, rr *rtRepo, p *release.Plan) {
	t.Helper()
	if got := testkit.Git(t, rr.dir, "rev-parse", "v6.1-rt"); got != p.Commit.String() {
		t.Errorf("branch at %s, want %s", got, p.Commit)
	}
	if got := testkit.Git(t, rr.dir, "rev-parse", "v6.1-rt~1"); got != rr.tip.String() {
		t.Errorf("release commit's parent %s, want the old tip %s", got, rr.tip)
	}
	if got := testkit.Git(t, rr.dir, "rev-list", "--count", rr.tip.String()+"..v6.1-rt"); got != "1" {
		t.Errorf("%s commits added, want 1", got)
	}
	if got := testkit.Git(t, rr.dir, "diff-tree", "-r", "--name-only", "--no-commit-id", "v6.1-rt"); got != "localversion-rt" {
		t.Errorf("release commit changes %q, want only localversion-rt", got)
	}
	if got, size := testkit.Git(t, rr.dir, "cat-file", "-p", "v6.1-rt:localversion-rt"), testkit.Git(t, rr.dir, "cat-file", "-s", "v6.1-rt:localversion-rt"); got != "-rt6" || size != "5" {
		t.Errorf("localversion-rt %q (%s bytes), want \"-rt6\\n\"", got, size)
	}
	if got := testkit.Git(t, rr.dir, "ls-tree", "v6.1-rt", "scripts/setver.sh"); !strings.HasPrefix(got, "100755 ") {
		t.Errorf("modes not kept: %q", got)
	}
	if got := testkit.Git(t, rr.dir, "log", "-1", "--format=%an <%ae>|%cn <%ce>|%B", "v6.1-rt"); got != "Clark Williams <williams@redhat.com>|Clark Williams <williams@redhat.com>|Linux 6.1.12-rt6" {
		t.Errorf("commit: %q", got)
	}
}

// checkOnlyBranchAndTagMoved: of the refs before and after the release,
// only the branch and the new tag changed.
func checkOnlyBranchAndTagMoved(t *testing.T, before, after map[string]string, p *release.Plan) {
	t.Helper()
	delete(after, "refs/heads/v6.1-rt")
	delete(before, "refs/heads/v6.1-rt")
	if after["refs/tags/v6.1.12-rt6"] != p.TagObject.String() {
		t.Errorf("tag ref %q, want the tag object %s", after["refs/tags/v6.1.12-rt6"], p.TagObject)
	}
	delete(after, "refs/tags/v6.1.12-rt6")
	if len(after) != len(before) {
		t.Errorf("refs changed:\nbefore %v\nafter  %v", before, after)
	}
	for n, h := range before {
		if after[n] != h {
			t.Errorf("ref %s moved %s -> %s", n, h, after[n])
		}
	}
}

// checkReleaseTag: the tag is annotated, git reads what go-git wrote, and
// no lock file is left.
func checkReleaseTag(t *testing.T, rr *rtRepo, p *release.Plan, bare bool) {
	t.Helper()
	if got := testkit.Git(t, rr.dir, "cat-file", "-t", "v6.1.12-rt6"); got != "tag" {
		t.Errorf("tag type %s", got)
	}
	want := "object " + p.Commit.String() + "\ntype commit\ntag v6.1.12-rt6\n" +
		"tagger Clark Williams <williams@redhat.com> 1709085351 +0000\n\nLinux 6.1.12-rt6"
	if got := testkit.Git(t, rr.dir, "cat-file", "-p", "v6.1.12-rt6"); got != want {
		t.Errorf("git cat-file -p v6.1.12-rt6:\n%s\nwant\n%s", got, want)
	}
	if got := testkit.Git(t, rr.dir, "rev-parse", "v6.1.12-rt6^{commit}"); got != p.Commit.String() {
		t.Errorf("tag peels to %s, want %s", got, p.Commit)
	}
	if out := testkit.Git(t, rr.dir, "fsck", "--strict", "--no-dangling"); out != "" {
		t.Errorf("git fsck: %s", out)
	}
	// No lock file left.
	for _, n := range []string{"refs/heads/v6.1-rt.lock", "refs/tags/v6.1.12-rt6.lock"} {
		gitDir := rr.dir
		if !bare {
			gitDir = filepath.Join(rr.dir, ".git")
		}
		if _, err := os.Stat(filepath.Join(gitDir, n)); !os.IsNotExist(err) {
			t.Errorf("%s left behind", n)
		}
	}
}

// checkReleaseChanges: the changes are the first-parent commits since
// v6.1.11-rt5 (the newest -rt5 of the series), oldest first, without the
// release commits.
func checkReleaseChanges(t *testing.T, p *release.Plan) {
	t.Helper()
	if p.Previous != "v6.1.11-rt5" || p.PreviousVersion != "6.1.11-rt5" || p.ChangesNote != "" {
		t.Errorf("previous %q (%q), note %q", p.Previous, p.PreviousVersion, p.ChangesNote)
	}
	var subjects []string
	for _, c := range p.Changes {
		subjects = append(subjects, c.Author+": "+c.Subject)
	}
	if got, want := strings.Join(subjects, "|"), "Clark Williams: Merge tag 'v6.1.12' into v6.1-rt|Zed Author: sched/rt: Fix three|Ann Author: printk: Fix three"; got != want {
		t.Errorf("changes %q\nwant     %q", got, want)
	}
}

func TestReleaseRC(t *testing.T) {
	tests := []struct {
		lv      string
		rc      bool
		version string
	}{
		{"-rt5\n", true, "6.1.12-rt6-rc1"},
		{"-rt6-rc1\n", true, "6.1.12-rt6-rc2"},
		{"-rt6-rc2\n", false, "6.1.12-rt6"},
	}
	for _, tt := range tests {
		rr := newRTRepo(t, true, tt.lv, makefile(12, ""))
		eng := open(t, rr.dir)
		p, err := release.Prepare(eng, release.Options{Branch: "v6.1-rt", RC: tt.rc, TagPrefix: "", Identity: id, Now: fixedNow})
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Apply(eng); err != nil {
			t.Fatal(err)
		}
		if p.Version != tt.version || p.Tag != tt.version {
			t.Errorf("%q rc=%v: version %s tag %s, want %s", tt.lv, tt.rc, p.Version, p.Tag, tt.version)
		}
		if got := testkit.Git(t, rr.dir, "log", "-1", "--format=%s", tt.version); got != "Linux "+tt.version {
			t.Errorf("tag %s: commit %q", tt.version, got)
		}
		// With an empty prefix the previous release is tag "6.1.*-rt5": none here.
		if p.Previous != "" || p.ChangesNote == "" || len(p.Changes) != 0 {
			t.Errorf("%s: previous %q note %q changes %d", tt.version, p.Previous, p.ChangesNote, len(p.Changes))
		}
	}
}

func TestReleaseRefusals(t *testing.T) {
	tests := []struct {
		name  string
		lv    string
		mk    string
		setup func(t *testing.T, rr *rtRepo)
		opts  func(o *release.Options)
		err   string
	}{
		{name: "bad localversion", lv: "-rt5-foo\n", err: `localversion-rt: content "-rt5-foo\n"`},
		{name: "rc kernel", lv: "-rt5\n", mk: makefile(12, " -rc1"), err: "6.1.12-rc1"},
		{name: "no branch", lv: "-rt5\n", opts: func(o *release.Options) { o.Branch = "v6.2-rt" }, err: "branch v6.2-rt does not exist"},
		{name: "no identity", lv: "-rt5\n", opts: func(o *release.Options) { o.Identity = merger.Identity{} }, err: "identity"},
		{name: "bad prefix", lv: "-rt5\n", opts: func(o *release.Options) { o.TagPrefix = "../" }, err: "tag prefix"},
		{name: "tag exists", lv: "-rt5\n", setup: func(t *testing.T, rr *rtRepo) {
			if err := rr.r.Tag("v6.1.12-rt6", rr.prev); err != nil {
				t.Fatal(err)
			}
		}, err: "tag v6.1.12-rt6 exists already"},
		{name: "no Makefile", lv: "-rt5\n", setup: func(t *testing.T, rr *rtRepo) {
			tree := rr.tree.Clone()
			delete(tree, "Makefile")
			h, err := rr.r.Commit(tree, "x\n", rr.tip)
			if err != nil {
				t.Fatal(err)
			}
			rr.r.Branch("v6.1-rt", h)
		}, err: "no top-level Makefile"},
		{name: "localversion a symlink", lv: "-rt5\n", setup: func(t *testing.T, rr *rtRepo) {
			tree := rr.tree.Clone()
			tree["localversion-rt"] = fixtures.File{Content: "x", Mode: 0o120000}
			h, err := rr.r.Commit(tree, "x\n", rr.tip)
			if err != nil {
				t.Fatal(err)
			}
			rr.r.Branch("v6.1-rt", h)
		}, err: "localversion-rt is not a regular file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mk := tt.mk
			if mk == "" {
				mk = makefile(12, "")
			}
			rr := newRTRepo(t, true, tt.lv, mk)
			if tt.setup != nil {
				tt.setup(t, rr)
			}
			before, objs := refs(t, rr.dir), len(objectFiles(t, rr.dir))
			opts := release.Options{Branch: "v6.1-rt", TagPrefix: "v", Identity: id}
			if tt.opts != nil {
				tt.opts(&opts)
			}
			eng := open(t, rr.dir)
			_, err := release.Prepare(eng, opts)
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("Prepare: %v; want an error containing %q", err, tt.err)
			}
			if after := refs(t, rr.dir); len(after) != len(before) || after["refs/heads/v6.1-rt"] != before["refs/heads/v6.1-rt"] {
				t.Errorf("refs changed on refusal")
			}
			if n := len(objectFiles(t, rr.dir)); n != objs {
				t.Errorf("%d object files, was %d", n, objs)
			}
		})
	}
}

// TestReleaseAllowRCKernel releases on an -rc kernel when asked.
func TestReleaseAllowRCKernel(t *testing.T) {
	rr := newRTRepo(t, true, "-rt5\n", makefile(12, "-rc1"))
	p, err := release.Prepare(open(t, rr.dir), release.Options{Branch: "v6.1-rt", TagPrefix: "v", Identity: id, AllowRCKernel: true})
	if err != nil {
		t.Fatal(err)
	}
	if p.Version != "6.1.12-rc1-rt6" {
		t.Errorf("version %s", p.Version)
	}
}

// TestReleaseBranchMoved: the branch moves between Prepare and Apply; Apply
// refuses and creates no tag.
func TestReleaseBranchMoved(t *testing.T) {
	rr := newRTRepo(t, true, "-rt5\n", makefile(12, ""))
	eng := open(t, rr.dir)
	p, err := release.Prepare(eng, release.Options{Branch: "v6.1-rt", TagPrefix: "v", Identity: id})
	if err != nil {
		t.Fatal(err)
	}
	moved, err := rr.r.Commit(rr.tree, "rt: late fix\n", rr.tip)
	if err != nil {
		t.Fatal(err)
	}
	testkit.Git(t, rr.dir, "update-ref", "refs/heads/v6.1-rt", moved.String(), rr.tip.String())
	err = p.Apply(eng)
	if err == nil || !strings.Contains(err.Error(), "moved to "+moved.String()) {
		t.Fatalf("Apply after the branch moved: %v; want a compare-and-swap refusal", err)
	}
	if got := testkit.Git(t, rr.dir, "rev-parse", "v6.1-rt"); got != moved.String() {
		t.Errorf("branch at %s, want %s (left where the other writer put it)", got, moved)
	}
	if got := testkit.Git(t, rr.dir, "tag", "-l", "v6.1.12-rt6"); got != "" {
		t.Errorf("tag created although the branch was not moved")
	}
}

// TestReleaseTagRace: the tag appears between Prepare and Apply.
func TestReleaseTagRace(t *testing.T) {
	rr := newRTRepo(t, true, "-rt5\n", makefile(12, ""))
	eng := open(t, rr.dir)
	p, err := release.Prepare(eng, release.Options{Branch: "v6.1-rt", TagPrefix: "v", Identity: id})
	if err != nil {
		t.Fatal(err)
	}
	testkit.Git(t, rr.dir, "tag", "v6.1.12-rt6", rr.prev.String())
	if err := p.Apply(eng); err == nil || !strings.Contains(err.Error(), "exists already") {
		t.Fatalf("Apply with the tag made meanwhile: %v", err)
	}
	if got := testkit.Git(t, rr.dir, "rev-parse", "v6.1-rt"); got != rr.tip.String() {
		t.Errorf("branch moved to %s", got)
	}
	if got := testkit.Git(t, rr.dir, "rev-parse", "v6.1.12-rt6"); got != rr.prev.String() {
		t.Errorf("existing tag replaced: %s", got)
	}
}

// TestPrepareWritesNothing: Prepare is the dry run.
func TestPrepareWritesNothing(t *testing.T) {
	rr := newRTRepo(t, false, "-rt5\n", makefile(12, ""))
	before, objs := refs(t, rr.dir), objectFiles(t, rr.dir)
	p, err := release.Prepare(open(t, rr.dir), release.Options{Branch: "v6.1-rt", TagPrefix: "v", Identity: id, Now: fixedNow})
	if err != nil {
		t.Fatal(err)
	}
	after := refs(t, rr.dir)
	if len(after) != len(before) {
		t.Errorf("refs changed: %v -> %v", before, after)
	}
	for n, h := range before {
		if after[n] != h {
			t.Errorf("ref %s moved", n)
		}
	}
	if got := objectFiles(t, rr.dir); strings.Join(got, "\n") != strings.Join(objs, "\n") {
		t.Errorf("object store changed: %d files, was %d", len(got), len(objs))
	}
	// The ids Prepare computed are what Apply writes.
	eng := open(t, rr.dir)
	if err := p.Apply(eng); err != nil {
		t.Fatal(err)
	}
	if got := testkit.Git(t, rr.dir, "rev-parse", "v6.1-rt", "v6.1.12-rt6"); got != p.Commit.String()+"\n"+p.TagObject.String() {
		t.Errorf("written %q, planned %s %s", got, p.Commit, p.TagObject)
	}
}

// fixtureBody returns a real mail's body from the line starting with from
// to the signature line, inclusive.
func fixtureBody(t *testing.T, name, from, sig string) (subject, body string) {
	t.Helper()
	data, err := os.ReadFile(testkit.Mail(t, name))
	if err != nil {
		t.Fatal(err)
	}
	s := string(data)
	for _, l := range strings.Split(s, "\n") {
		if v, ok := strings.CutPrefix(l, "Subject: "); ok {
			subject = v
			break
		}
	}
	i := strings.Index(s, "\n"+from)
	j := strings.Index(s, "\n"+sig+"\n")
	if i < 0 || j < i {
		t.Fatalf("%s: no body from %q to %q", name, from, sig)
	}
	return subject, s[i+1 : j+len(sig)+2]
}

// TestAnnouncementMatchesRealMails renders the values of two real
// announcements and compares the body line by line, down to the signature;
// then checks the changes follow, and that rtbot's own recognizer reads the
// result as the same announcement.
func TestAnnouncementMatchesRealMails(t *testing.T) {
	changes := []release.Change{
		{Author: "Gregor Beck", Subject: "fscache: fix initialisation of cookie hash table raw spinlocks"},
		{Author: "Andrew Halaney", Subject: "locking/rwsem-rt: Remove might_sleep() in __up_read()"},
		{Author: "Gregor Beck", Subject: "fscache: second"},
	}
	tests := []struct {
		file, from, sig string
		info            release.Info
		kind            mailwatch.Kind
		version         string
		rc              int
	}{
		{
			file: "rt-stable-6.1.79-rt25.eml", from: "Hello RT-list!", sig: "Clark",
			info: release.Info{
				Kernel: "6.1.79", RT: 25, GitURL: release.DefaultGitURL, GitBranch: "v6.1-rt",
				Head: "81e82eb9d8977f08af48d28d2e2dd4e91e838209", Previous: "6.1.77-rt24", Signature: "Clark",
			},
			kind: mailwatch.KindRTStable, version: "6.1.79-rt25",
		},
		{
			file: "rt-rc-v5.4.143-rt64-rc2.eml", from: "Dear RT Folks,", sig: "-- Tom",
			info: release.Info{
				Kernel: "5.4.143", RT: 64, RC: 2, Previous: "5.4.143-rt63", Signature: "Tom",
				ReleaseOn: time.Date(2021, 9, 10, 0, 0, 0, 0, time.UTC),
			},
			kind: mailwatch.KindRTRC, version: "5.4.143-rt64", rc: 2,
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			subject, want := fixtureBody(t, tt.file, tt.from, tt.sig)
			tt.info.Changes = changes
			got := release.Announcement(tt.info)
			head, body, ok := strings.Cut(got, "\n\n")
			if !ok || head != "Subject: [ANNOUNCE] "+tt.info.Version() {
				t.Fatalf("header %q", head)
			}
			if tt.info.RC == 0 && "Subject: "+subject != head {
				t.Errorf("subject %q, the real mail's %q", head, subject)
			}
			gl, wl := strings.Split(body, "\n"), strings.Split(want, "\n")
			for i, w := range wl {
				if i >= len(gl) || gl[i] != w {
					g := "<end>"
					if i < len(gl) {
						g = gl[i]
					}
					t.Fatalf("line %d:\n got %q\nwant %q\nbody:\n%s", i+1, g, w, body)
				}
			}
			rest := strings.Join(gl[len(wl)-1:], "\n")
			wantChanges := "\n\nChanges since " + tt.info.Previous + ":\n\n" +
				"Andrew Halaney (1):\n  locking/rwsem-rt: Remove might_sleep() in __up_read()\n\n" +
				"Gregor Beck (2):\n  fscache: fix initialisation of cookie hash table raw spinlocks\n  fscache: second\n"
			if rest != wantChanges {
				t.Errorf("after the signature:\n%q\nwant\n%q", rest, wantChanges)
			}

			a, err := mailwatch.Recognize(strings.NewReader(got))
			if err != nil {
				t.Fatal(err)
			}
			if a.Kind != tt.kind || a.Version != tt.version || a.RC != tt.rc || a.Series != strings.Join(strings.SplitN(tt.info.Kernel, ".", 3)[:2], ".") {
				t.Errorf("recognized as %+v", a)
			}
			wantPatch := "https://www.kernel.org/pub/linux/kernel/projects/rt/" + a.Series + "/patch-" + tt.info.Version() + ".patch.xz"
			if a.PatchURL != wantPatch || a.GitURL != tt.info.GitURL || a.GitBranch != tt.info.GitBranch {
				t.Errorf("recognized patch %q git %q %q", a.PatchURL, a.GitURL, a.GitBranch)
			}
			if tt.info.RC > 0 && !a.Deadline.Equal(tt.info.ReleaseOn) {
				t.Errorf("deadline %v", a.Deadline)
			}
		})
	}
}

func TestAnnouncementVariants(t *testing.T) {
	tests := []struct {
		name    string
		info    release.Info
		has     []string
		hasNot  []string
		subject string
	}{
		{
			name:    "sublevel 0 has no stable patch",
			info:    release.Info{Kernel: "6.6", RT: 1, GitURL: "u", GitBranch: "v6.6-rt", Head: "h", Signature: "S"},
			has:     []string{"  https://www.kernel.org/pub/linux/kernel/v6.x/linux-6.6.tar.xz\n\n  https://www.kernel.org/pub/linux/kernel/projects/rt/6.6/patch-6.6-rt1.patch.xz\n"},
			hasNot:  []string{"/patch-6.6.xz", "Changes"},
			subject: "[ANNOUNCE] 6.6-rt1",
		},
		{
			name:    "rc on a new kernel has no incremental patch",
			info:    release.Info{Kernel: "5.4.144", RT: 65, RC: 1, Previous: "5.4.143-rt64", Signature: "Tom"},
			has:     []string{"patch-5.4.144-rt65-rc1.patch.xz", "v5.x/patch-5.4.144.xz"},
			hasNot:  []string{"incr/", "incremental", "converted to the next main"},
			subject: "[ANNOUNCE] 5.4.144-rt65-rc1",
		},
		{
			name:    "4.19 uses v4.x",
			info:    release.Info{Kernel: "4.19.312", RT: 134, Signature: "D"},
			has:     []string{"kernel/v4.x/linux-4.19.tar.xz", "kernel/v4.x/patch-4.19.312.xz", "projects/rt/4.19/patch-4.19.312-rt134.patch.xz"},
			subject: "[ANNOUNCE] 4.19.312-rt134",
		},
	}
	for _, tt := range tests {
		got := release.Announcement(tt.info)
		if !strings.HasPrefix(got, "Subject: "+tt.subject+"\n\n") {
			t.Errorf("%s: starts %q", tt.name, got[:min(len(got), 60)])
		}
		for _, s := range tt.has {
			if !strings.Contains(got, s) {
				t.Errorf("%s: lacks %q:\n%s", tt.name, s, got)
			}
		}
		for _, s := range tt.hasNot {
			if strings.Contains(got, s) {
				t.Errorf("%s: has %q:\n%s", tt.name, s, got)
			}
		}
	}
}

// TestPlanInfo: the plan fills the announcement with the release's values.
func TestPlanInfo(t *testing.T) {
	rr := newRTRepo(t, true, "-rt5\n", makefile(12, ""))
	p, err := release.Prepare(open(t, rr.dir), release.Options{Branch: "v6.1-rt", TagPrefix: "v", Identity: id})
	if err != nil {
		t.Fatal(err)
	}
	i := p.Info()
	if i.Kernel != "6.1.12" || i.RT != 6 || i.RC != 0 || i.Head != p.Commit.String() || i.GitBranch != "v6.1-rt" ||
		i.GitURL != release.DefaultGitURL || i.Previous != "6.1.11-rt5" || len(i.Changes) != 3 || i.Signature != "Clark Williams" {
		t.Errorf("info %+v", i)
	}
}
