// Package release makes the release of an RT-stable cycle on the series
// branch: it bumps localversion-rt, writes the commit "Linux X.Y.Z-rtN" and
// an annotated, unsigned tag for it, and renders the announcement mail
// (see Announcement). Only go-git objects and merger's lock-file ref
// updates are used: no worktree, no git binary. Signing, pushing, uploading
// and mailing stay with the maintainer.
//
// Prepare reads the branch and computes every object of the release in
// memory (that is a dry run); Apply writes them and moves the refs.
package release

import (
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/rtbot/rtbot/internal/candidate"
	"github.com/rtbot/rtbot/internal/merger"
	"github.com/rtbot/rtbot/internal/refname"
)

// LocalversionFile is the top-level file that holds the RT suffix.
const LocalversionFile = "localversion-rt"

// Localversion is the content of localversion-rt: "-rtN" or "-rtN-rcM".
type Localversion struct {
	RT int // N
	RC int // M; 0 for a release
}

// maxNumber bounds N and M.
const maxNumber = 99999

var localversionRe = regexp.MustCompile(`^-rt([0-9]+)(?:-rc([0-9]+))?\n?$`)

// ParseLocalversion parses the content of localversion-rt. Anything but
// "-rtN" or "-rtN-rcM", with at most one trailing newline, is an error
// that quotes the content.
func ParseLocalversion(content string) (Localversion, error) {
	m := localversionRe.FindStringSubmatch(content)
	if m == nil {
		return Localversion{}, fmt.Errorf("%s: content %.80q is not -rtN or -rtN-rcM", LocalversionFile, content)
	}
	var l Localversion
	for i, dst := range []*int{&l.RT, &l.RC} {
		if m[i+1] == "" {
			continue
		}
		n, err := strconv.Atoi(m[i+1])
		if err != nil || n > maxNumber {
			return Localversion{}, fmt.Errorf("%s: content %.80q: number %.20s out of range", LocalversionFile, content, m[i+1])
		}
		*dst = n
	}
	return l, nil
}

// String is the suffix without newline: "-rt25" or "-rt26-rc1".
func (l Localversion) String() string {
	if l.RC > 0 {
		return fmt.Sprintf("-rt%d-rc%d", l.RT, l.RC)
	}
	return fmt.Sprintf("-rt%d", l.RT)
}

// Next is the version of the next release. Without rc: -rtN becomes
// -rtN+1, and -rtN-rcM becomes -rtN (the final of that rc series). With rc:
// -rtN becomes -rtN+1-rc1, and -rtN-rcM becomes -rtN-rcM+1.
func (l Localversion) Next(rc bool) Localversion {
	switch {
	case rc && l.RC > 0:
		return Localversion{RT: l.RT, RC: l.RC + 1}
	case rc:
		return Localversion{RT: l.RT + 1, RC: 1}
	case l.RC > 0:
		return Localversion{RT: l.RT}
	default:
		return Localversion{RT: l.RT + 1}
	}
}

// Bump is what `rtbot release` makes of a tree: its localversion-rt
// before and after, and the name of the release.
type Bump struct {
	Old, New Localversion
	Version  string // KernelName of the kernel, then New: "6.1.13-rt8"
}

// NextRelease is the release `rtbot release` makes (a release candidate
// with rc) on a tree of kernel whose localversion-rt holds localversion:
// "-rt7\n" on 6.1.13 gives 6.1.13-rt8 (6.1.13-rt8-rc1 with rc). It is the
// one computation of the next release: Prepare makes that release, and
// the export after a pass names the refreshed queue after it
// (export.Options.NextRelease), so the two cannot disagree.
func NextRelease(kernel candidate.Version, localversion string, rc bool) (Bump, error) {
	old, err := ParseLocalversion(localversion)
	if err != nil {
		return Bump{}, err
	}
	b := Bump{Old: old, New: old.Next(rc)}
	b.Version = KernelName(kernel) + b.New.String()
	return b, nil
}

// KernelName is how kernel.org names a kernel version: "6.1.79", "6.1"
// for sublevel 0, with the EXTRAVERSION ("-rc3") appended.
func KernelName(v candidate.Version) string {
	if v.Sublevel == 0 {
		return fmt.Sprintf("%d.%d%s", v.Version, v.Patchlevel, v.Extraversion)
	}
	return v.String()
}

// Options say what to release.
type Options struct {
	// Branch is the series branch, refs/heads/Branch ("v6.1-rt").
	Branch string
	// RC makes a release candidate (see Localversion.Next).
	RC bool
	// TagPrefix goes before the version in the tag name; the RT trees use "v".
	TagPrefix string
	// Identity is the author, committer and tagger. Required.
	Identity merger.Identity
	// AllowRCKernel permits a release on a kernel whose Makefile has an
	// EXTRAVERSION (a mainline or stable -rc).
	AllowRCKernel bool
	// Now gives the commit and tag time; defaults to time.Now.
	Now func() time.Time
}

// Change is one commit of the release, for the announcement's shortlog.
type Change struct {
	Commit  plumbing.Hash
	Author  string
	Subject string
}

// Plan is a release computed and not yet written: the objects are encoded
// in memory, so Commit and TagObject are the ids Apply will write.
type Plan struct {
	Branch string
	// Tip is the branch head the release was computed from; Apply moves
	// the branch only if it is still there.
	Tip      plumbing.Hash
	Old, New Localversion
	// Kernel is what the tip's Makefile says.
	Kernel candidate.Version
	// Version is the release: "6.1.79-rt26", "6.1.79-rt26-rc1".
	Version string
	// Message is the commit's and the tag's message: "Linux 6.1.79-rt26\n".
	Message string
	Commit  plumbing.Hash
	// Tag is the tag name ("v6.1.79-rt26"); TagObject the annotated tag.
	Tag       string
	TagObject plumbing.Hash
	Identity  merger.Identity
	When      time.Time
	// Previous is the tag of the previous release (-rt(N-1), the same
	// series, any sublevel), "" when there is none; PreviousVersion its
	// version ("6.1.79-rt25").
	Previous        string
	PreviousVersion string
	// Changes are the first-parent commits from Previous to Tip, oldest
	// first, without release commits ("Linux X.Y.Z-rtN[-rcM]"). When
	// ChangesNote is set, the list could not be made and says why.
	Changes     []Change
	ChangesNote string

	objects []plumbing.EncodedObject // blob, tree, commit, tag: in write order
}

// maxChanges bounds the first-parent walk to the previous release.
const maxChanges = 10000

// maxLocalversionBytes bounds what is read of localversion-rt.
const maxLocalversionBytes = 256

// maxMakefileBytes is how much of the Makefile is read; the version is in
// its first lines.
const maxMakefileBytes = 64 << 10

// Prepare reads refs/heads/Branch and computes the release on it: the bumped
// localversion-rt, the commit with only that file changed, the annotated tag
// and the changes since the previous release. It writes nothing; a dry run
// is Prepare alone. It refuses a tag that exists already.
func Prepare(eng *merger.Engine, opts Options) (*Plan, error) {
	if opts.Identity.Name == "" || opts.Identity.Email == "" {
		return nil, errors.New("release: an identity (name and email) is required")
	}
	if strings.ContainsAny(opts.Identity.Name+opts.Identity.Email, "<>\n") {
		return nil, fmt.Errorf("release: identity %q <%s> has '<', '>' or a newline", opts.Identity.Name, opts.Identity.Email)
	}
	if opts.TagPrefix != "" && refname.Branch(opts.TagPrefix+"0") != nil {
		return nil, fmt.Errorf("release: tag prefix %.40q is not allowed", opts.TagPrefix)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	tip, err := eng.BranchHead(opts.Branch)
	if err != nil {
		return nil, err
	}
	if tip.IsZero() {
		return nil, fmt.Errorf("branch %s does not exist", opts.Branch)
	}
	repo := eng.Repository()
	tipCommit, err := object.GetCommit(repo.Storer, tip)
	if err != nil {
		return nil, fmt.Errorf("branch %s: commit %s: %w", opts.Branch, tip, err)
	}
	tree, err := object.GetTree(repo.Storer, tipCommit.TreeHash)
	if err != nil {
		return nil, fmt.Errorf("branch %s: tree of %s: %w", opts.Branch, tip, err)
	}
	at := fmt.Sprintf("%s (%.12s)", opts.Branch, tip)

	lvEntry, lvData, err := readTop(repo, tree, LocalversionFile, maxLocalversionBytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", at, err)
	}
	if _, err := ParseLocalversion(string(lvData)); err != nil {
		return nil, fmt.Errorf("%s: %w", at, err)
	}
	_, mk, err := readTop(repo, tree, "Makefile", maxMakefileBytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", at, err)
	}
	kernel, err := candidate.ParseMakefile(mk)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", at, err)
	}
	bump, err := NextRelease(kernel, string(lvData), opts.RC)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", at, err)
	}
	if kernel.Extraversion != "" && !opts.AllowRCKernel {
		return nil, fmt.Errorf("%s: the kernel is %s (EXTRAVERSION %q): not releasing on an -rc kernel without --allow-rc-kernel",
			at, kernel, kernel.Extraversion)
	}

	p := &Plan{
		Branch: opts.Branch, Tip: tip, Old: bump.Old, New: bump.New, Kernel: kernel,
		Identity: opts.Identity, When: opts.Now(), Version: bump.Version,
	}
	p.Message = "Linux " + p.Version + "\n"
	p.Tag = opts.TagPrefix + p.Version
	existing, err := eng.TagHead(p.Tag)
	if err != nil {
		return nil, err
	}
	if !existing.IsZero() {
		return nil, fmt.Errorf("tag %s exists already (at %s); not releasing %s again", p.Tag, existing, p.Version)
	}
	if err := p.encode(tree, lvEntry, tip); err != nil {
		return nil, err
	}
	if err := p.changes(eng, opts.TagPrefix); err != nil {
		return nil, err
	}
	return p, nil
}

// readTop reads the top-level regular file name of tree, at most limit bytes.
func readTop(repo *git.Repository, tree *object.Tree, name string, limit int64) (object.TreeEntry, []byte, error) {
	for _, e := range tree.Entries {
		if e.Name != name {
			continue
		}
		if e.Mode != filemode.Regular && e.Mode != filemode.Executable {
			return e, nil, fmt.Errorf("%s is not a regular file (mode %s)", name, e.Mode)
		}
		b, err := object.GetBlob(repo.Storer, e.Hash)
		if err != nil {
			return e, nil, fmt.Errorf("%s: %w", name, err)
		}
		r, err := b.Reader()
		if err != nil {
			return e, nil, fmt.Errorf("%s: %w", name, err)
		}
		defer r.Close()
		data, err := io.ReadAll(io.LimitReader(r, limit))
		if err != nil {
			return e, nil, fmt.Errorf("%s: %w", name, err)
		}
		return e, data, nil
	}
	return object.TreeEntry{}, nil, fmt.Errorf("no top-level %s", name)
}

// encode builds the blob, tree, commit and tag objects in memory.
func (p *Plan) encode(tree *object.Tree, lv object.TreeEntry, tip plumbing.Hash) error {
	add := func(o interface {
		Encode(plumbing.EncodedObject) error
	}) (plumbing.Hash, error) {
		obj := &plumbing.MemoryObject{}
		if err := o.Encode(obj); err != nil {
			return plumbing.ZeroHash, err
		}
		p.objects = append(p.objects, obj)
		return obj.Hash(), nil
	}
	blob := &plumbing.MemoryObject{}
	blob.SetType(plumbing.BlobObject)
	if _, err := blob.Write([]byte(p.New.String() + "\n")); err != nil {
		return err
	}
	p.objects = append(p.objects, blob)

	entries := make([]object.TreeEntry, len(tree.Entries))
	copy(entries, tree.Entries)
	for i := range entries {
		if entries[i].Name == lv.Name {
			entries[i].Hash = blob.Hash()
		}
	}
	treeHash, err := add(&object.Tree{Entries: entries})
	if err != nil {
		return fmt.Errorf("release tree: %w", err)
	}
	sig := object.Signature{Name: p.Identity.Name, Email: p.Identity.Email, When: p.When}
	if p.Commit, err = add(&object.Commit{
		Author: sig, Committer: sig, Message: p.Message, TreeHash: treeHash, ParentHashes: []plumbing.Hash{tip},
	}); err != nil {
		return fmt.Errorf("release commit: %w", err)
	}
	if p.TagObject, err = add(&object.Tag{
		Name: p.Tag, Tagger: sig, Message: p.Message, TargetType: plumbing.CommitObject, Target: p.Commit,
	}); err != nil {
		return fmt.Errorf("release tag: %w", err)
	}
	return nil
}

// releaseSubjectRe is the subject of a release commit, left out of Changes.
var releaseSubjectRe = regexp.MustCompile(`^Linux [0-9]+\.[0-9]+(\.[0-9]+)?(-rc[0-9]+)?-rt[0-9]+(-rc[0-9]+)?$`)

// changes finds the previous release's tag and the first-parent commits
// since it.
func (p *Plan) changes(eng *merger.Engine, prefix string) error {
	prevRT := p.New.RT - 1
	if prevRT < 1 {
		p.ChangesNote = "no previous release (-rt0)"
		return nil
	}
	suffix := fmt.Sprintf("-rt%d", prevRT)
	series := fmt.Sprintf("%d.%d", p.Kernel.Version, p.Kernel.Patchlevel)
	// The previous release is usually on an older stable kernel of the
	// series: the newest vX.Y[.Z]-rt(N-1) tag wins.
	re := regexp.MustCompile(`^` + regexp.QuoteMeta(prefix+series) + `(?:\.([0-9]+))?` + regexp.QuoteMeta(suffix) + `$`)
	repo := eng.Repository()
	it, err := repo.Storer.IterReferences()
	if err != nil {
		return fmt.Errorf("listing tags: %w", err)
	}
	best, bestSub := "", -1
	var bestRef plumbing.Hash
	err = it.ForEach(func(ref *plumbing.Reference) error {
		if !ref.Name().IsTag() || ref.Type() != plumbing.HashReference {
			return nil
		}
		m := re.FindStringSubmatch(ref.Name().Short())
		if m == nil {
			return nil
		}
		sub := 0
		if m[1] != "" {
			n, err := strconv.Atoi(m[1])
			if err != nil {
				return nil
			}
			sub = n
		}
		if sub > bestSub {
			best, bestSub, bestRef = ref.Name().Short(), sub, ref.Hash()
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("listing tags: %w", err)
	}
	if best == "" {
		p.ChangesNote = fmt.Sprintf("no tag %s%s*%s for the previous release", prefix, series, suffix)
		return nil
	}
	p.Previous, p.PreviousVersion = best, strings.TrimPrefix(best, prefix)
	prev, err := peel(repo, bestRef)
	if err != nil {
		return fmt.Errorf("previous release %s: %w", best, err)
	}
	var list []Change
	h := p.Tip
	for n := 0; h != prev; n++ {
		if n == maxChanges {
			p.ChangesNote = fmt.Sprintf("%s is not within %d first-parent commits of %s", best, maxChanges, p.Branch)
			return nil
		}
		c, err := object.GetCommit(repo.Storer, h)
		if err != nil {
			return fmt.Errorf("changes since %s: commit %s: %w", best, h, err)
		}
		subject, _, _ := strings.Cut(strings.TrimLeft(c.Message, "\n"), "\n")
		if !releaseSubjectRe.MatchString(subject) {
			list = append(list, Change{Commit: h, Author: c.Author.Name, Subject: subject})
		}
		if len(c.ParentHashes) == 0 {
			p.ChangesNote = fmt.Sprintf("%s is not on the first-parent history of %s", best, p.Branch)
			return nil
		}
		h = c.ParentHashes[0]
	}
	for i, j := 0, len(list)-1; i < j; i, j = i+1, j-1 {
		list[i], list[j] = list[j], list[i]
	}
	p.Changes = list
	return nil
}

// peel follows annotated tags to the commit.
func peel(repo *git.Repository, h plumbing.Hash) (plumbing.Hash, error) {
	for range 10 {
		obj, err := repo.Storer.EncodedObject(plumbing.AnyObject, h)
		if err != nil {
			return plumbing.ZeroHash, err
		}
		if obj.Type() != plumbing.TagObject {
			if obj.Type() != plumbing.CommitObject {
				return plumbing.ZeroHash, fmt.Errorf("%s is a %s, not a commit", h, obj.Type())
			}
			return h, nil
		}
		t, err := object.DecodeTag(repo.Storer, obj)
		if err != nil {
			return plumbing.ZeroHash, err
		}
		h = t.Target
	}
	return plumbing.ZeroHash, fmt.Errorf("%s: tags nested too deep", h)
}

// Apply writes the plan's objects and then moves refs/heads/Branch from Tip
// to Commit (compare-and-swap: it fails if the branch moved since Prepare)
// and creates refs/tags/Tag at TagObject (it fails if the tag exists). Both
// refs use git's lock-file protocol. If the tag cannot be created after the
// branch moved, the error says so and how to finish by hand.
func (p *Plan) Apply(eng *merger.Engine) error {
	if h, err := eng.TagHead(p.Tag); err != nil {
		return err
	} else if !h.IsZero() {
		return fmt.Errorf("tag %s exists already (at %s); not releasing %s again", p.Tag, h, p.Version)
	}
	st := eng.Repository().Storer
	for _, obj := range p.objects {
		if _, err := st.SetEncodedObject(obj); err != nil {
			return fmt.Errorf("writing %s %s: %w", obj.Type(), obj.Hash(), err)
		}
	}
	if err := eng.UpdateBranch(p.Branch, p.Commit, p.Tip); err != nil {
		return err
	}
	if err := eng.CreateTag(p.Tag, p.TagObject); err != nil {
		return fmt.Errorf("branch %s now at %s (%s), but %w; create the tag by hand: git tag -a -m %q %s %s",
			p.Branch, p.Commit, strings.TrimSpace(p.Message), err, strings.TrimSpace(p.Message), p.Tag, p.Commit)
	}
	return nil
}

// Info is what the announcement needs to know of this release. GitURL and
// GitBranch get the stable-rt defaults (DefaultGitURL, SeriesBranch).
func (p *Plan) Info() Info {
	return Info{
		Kernel:    KernelName(p.Kernel),
		RT:        p.New.RT,
		RC:        p.New.RC,
		GitURL:    DefaultGitURL,
		GitBranch: SeriesBranch(p.Kernel),
		Head:      p.Commit.String(),
		Previous:  p.PreviousVersion,
		Changes:   p.Changes,
		Signature: p.Identity.Name,
	}
}

// SeriesBranch is the stable-rt branch of a kernel's series: "v6.1-rt".
func SeriesBranch(v candidate.Version) string {
	return fmt.Sprintf("v%d.%d-rt", v.Version, v.Patchlevel)
}

// sortedAuthors returns the changes grouped by author, authors in byte
// order as git shortlog sorts them, each author's subjects oldest first.
func sortedAuthors(changes []Change) ([]string, map[string][]string) {
	by := map[string][]string{}
	var names []string
	for _, c := range changes {
		if _, ok := by[c.Author]; !ok {
			names = append(names, c.Author)
		}
		by[c.Author] = append(by[c.Author], c.Subject)
	}
	sort.Strings(names)
	return names, by
}
