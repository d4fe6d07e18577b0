// Package export writes a rebased RT queue out as kernel.org publishes one:
// a quilt directory patches/ (series plus one `git format-patch` mail per
// commit, the diff regenerated from the rebased history), the same
// directory as patches-X.Y.Z-rtN.tar.xz, and the whole queue as one diff,
// patch-X.Y.Z-rtN.patch.xz.
package export

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/rtbot/rtbot/internal/atomicfile"
	"github.com/rtbot/rtbot/internal/candidate"
	"github.com/rtbot/rtbot/internal/merger"
	"github.com/rtbot/rtbot/internal/patchqueue"
	"github.com/rtbot/rtbot/internal/release"
	"github.com/ulikunitz/xz"
)

// Options control Write.
type Options struct {
	// Overwrite allows writing into a directory that is not empty; the
	// files Write produces replace those of the same name, and patches/
	// is replaced as a whole. Other files are left alone.
	Overwrite bool
	// Version is the kernel version ("6.1.12-rc1") to name the files by.
	// When empty it is read from the result tree's top-level Makefile.
	Version string
	// LocalVersion is the RT suffix ("-rt5"). When empty it is read from
	// the result tree's localversion-rt file.
	LocalVersion string
	// NextRelease names the files after the release `rtbot release` makes
	// of the result (release.NextRelease of its Makefile and
	// localversion-rt: a queue whose localversion-rt says -rt7 is exported
	// as -rt8), instead of Version and LocalVersion: the refreshed queue
	// after a pass is the next release's. Without it the files are named
	// as the tree says, as for exporting a branch `rtbot release` bumped.
	NextRelease bool
}

// Manifest says what Write wrote, all paths under Dir.
type Manifest struct {
	Dir      string // the export directory
	Release  string // "6.1.12-rc1-rt5": the version and RT suffix the files are named by
	Series   string // Dir/patches/series
	Tarball  string // Dir/patches-<Release>.tar.xz
	Combined string // Dir/patch-<Release>.patch.xz: the candidate to the result as one diff
	// Patches are the exported patches in series order.
	Patches []Exported
	// Skipped are the patches of the queue that have no commit in the
	// result, in queue order.
	Skipped []Skipped
}

// Exported is one patch written to patches/.
type Exported struct {
	Name    string        // file name under patches/ as the series lists it
	Source  string        // the patch's name in the original queue
	Commit  plumbing.Hash // the rebased commit it was made from
	Subject string
}

// Skipped is a patch of the queue left out of the export.
type Skipped struct {
	Name    string         // the patch's name in the original queue
	Outcome merger.Outcome // what the merger did with it
	Reason  string         // why it has no commit, in a few words
}

// tmpPrefix starts the names of Write's work directories inside Dir.
const tmpPrefix = ".rtbot-export-"

// CheckDir reports whether Write may write into dir with opts: dir is
// missing, empty, or opts.Overwrite is set. Callers use it to fail before
// a long rebase.
func CheckDir(dir string, opts Options) error {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("export directory %s: %w", dir, err)
	}
	if len(ents) > 0 && !opts.Overwrite {
		return fmt.Errorf("export directory %s is not empty", dir)
	}
	return nil
}

// Write exports the rebased queue of res into dir: for every patch with a
// commit, in order, patches/NNNN-<slug>.patch (the original file name when
// the queue had one) in `git format-patch` form, author, date and message
// from the commit and the diff regenerated against its parent in the
// rebased history; patches/series; patches-<release>.tar.xz, a
// deterministic tarball of patches/; and patch-<release>.patch.xz, the
// diff from res.Onto to res.Head. Patches without a commit are listed in
// the Manifest as skipped. Everything is written under temporary names in
// dir and renamed into place, the tarball last.
func Write(ctx context.Context, repo *git.Repository, res *merger.Result, dir string, opts Options) (*Manifest, error) {
	if err := CheckDir(dir, opts); err != nil {
		return nil, err
	}
	d := &differ{repo: repo}
	head, err := repo.CommitObject(res.Head)
	if err != nil {
		return nil, fmt.Errorf("export: result %s: %w", res.Head, err)
	}
	onto, err := repo.CommitObject(res.Onto)
	if err != nil {
		return nil, fmt.Errorf("export: candidate %s: %w", res.Onto, err)
	}
	relName, err := releaseName(d, head, opts)
	if err != nil {
		return nil, err
	}
	m := &Manifest{Dir: dir, Release: relName}
	commits, results, err := patchCommits(repo, res, m)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	tmp, err := os.MkdirTemp(dir, tmpPrefix)
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	defer os.RemoveAll(tmp)
	files, err := writePatches(ctx, d, tmp, commits, results, m)
	if err != nil {
		return nil, err
	}
	combinedName, err := writeCombined(d, tmp, relName, res, onto, head)
	if err != nil {
		return nil, err
	}
	mtime := onto.Committer.When
	if len(commits) > 0 {
		mtime = commits[len(commits)-1].Committer.When
	}
	tarName, err := writeTarball(tmp, relName, files, mtime)
	if err != nil {
		return nil, err
	}
	if err := atomicfile.SyncDir(tmp); err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	if err := moveIntoPlace(ctx, dir, tmp, combinedName, tarName); err != nil {
		return nil, err
	}
	m.Series = filepath.Join(dir, "patches", "series")
	m.Combined = filepath.Join(dir, combinedName)
	m.Tarball = filepath.Join(dir, tarName)
	return m, nil
}

// patchCommits returns the commits of the patches of res that have one,
// with their results, checked to form one line from the candidate to the
// head. The patches without a commit are added to m.Skipped.
func patchCommits(repo *git.Repository, res *merger.Result, m *Manifest) ([]*object.Commit, []*merger.PatchResult, error) {
	var commits []*object.Commit
	var results []*merger.PatchResult
	prev := res.Onto
	for _, pr := range res.Patches {
		if pr.Commit.IsZero() {
			m.Skipped = append(m.Skipped, Skipped{Name: patchName(pr), Outcome: pr.Outcome, Reason: reason(pr)})
			continue
		}
		c, err := repo.CommitObject(pr.Commit)
		if err != nil {
			return nil, nil, fmt.Errorf("export: patch %s: commit %s: %w", patchName(pr), pr.Commit, err)
		}
		if len(c.ParentHashes) != 1 || c.ParentHashes[0] != prev {
			return nil, nil, fmt.Errorf("export: patch %s: commit %s is not on top of %s: the result is not one line of commits", patchName(pr), pr.Commit, prev)
		}
		commits, results, prev = append(commits, c), append(results, pr), pr.Commit
	}
	if prev != res.Head {
		return nil, nil, fmt.Errorf("export: the last patch commit %s is not the result %s", prev, res.Head)
	}
	return commits, results, nil
}

// writePatches writes each commit as a patch, and the series, under
// tmp/patches/, and adds them to m.Patches. It returns the files written,
// by name under patches/.
func writePatches(ctx context.Context, d *differ, tmp string, commits []*object.Commit, results []*merger.PatchResult, m *Manifest) (map[string][]byte, error) {
	names := fileNames(results)
	files := map[string][]byte{} // name under patches/ -> content
	var series bytes.Buffer
	for i, c := range commits {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		var buf bytes.Buffer
		if err := formatPatch(&buf, d, c, i+1, len(commits), results[i].Patch); err != nil {
			return nil, fmt.Errorf("export: patch %s: %w", patchName(results[i]), err)
		}
		files[names[i]] = buf.Bytes()
		series.WriteString(names[i] + "\n")
		subject, _ := splitMessage(c.Message)
		m.Patches = append(m.Patches, Exported{Name: names[i], Source: patchName(results[i]), Commit: c.Hash, Subject: subject})
	}
	files["series"] = series.Bytes()
	for name, data := range files {
		if err := writeFile(filepath.Join(tmp, "patches", filepath.FromSlash(name)), data); err != nil {
			return nil, fmt.Errorf("export: %w", err)
		}
	}
	return files, nil
}

// writeCombined writes the diff from the candidate onto to the result
// head as one xz-compressed patch under tmp, and returns its name.
func writeCombined(d *differ, tmp, relName string, res *merger.Result, onto, head *object.Commit) (string, error) {
	var combined bytes.Buffer
	fds, err := d.treeDiff(onto.TreeHash, head.TreeHash)
	if err != nil {
		return "", fmt.Errorf("export: %s..%s: %w", res.Onto, res.Head, err)
	}
	writeDiff(&combined, fds)
	combinedName := "patch-" + relName + ".patch.xz"
	if err := writeXZ(filepath.Join(tmp, combinedName), combined.Bytes()); err != nil {
		return "", fmt.Errorf("export: %s: %w", combinedName, err)
	}
	return combinedName, nil
}

// writeTarball writes the tarball of files, all with mtime, under tmp and
// returns its name.
func writeTarball(tmp, relName string, files map[string][]byte, mtime time.Time) (string, error) {
	tarball, err := tarPatches(files, mtime)
	if err != nil {
		return "", fmt.Errorf("export: %w", err)
	}
	tarName := "patches-" + relName + ".tar.xz"
	if err := writeXZ(filepath.Join(tmp, tarName), tarball); err != nil {
		return "", fmt.Errorf("export: %s: %w", tarName, err)
	}
	return tarName, nil
}

// moveIntoPlace moves what was written under tmp into dir: patches/ (an
// old one aside first), the combined patch, then the tarball, so a
// tarball under its final name is only ever complete and written after
// the rest.
func moveIntoPlace(ctx context.Context, dir, tmp, combinedName, tarName string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	patchesDir := filepath.Join(dir, "patches")
	if _, err := os.Lstat(patchesDir); err == nil {
		if err := os.Rename(patchesDir, filepath.Join(tmp, "old-patches")); err != nil {
			return fmt.Errorf("export: %w", err)
		}
	}
	for _, name := range []string{"patches", combinedName, tarName} {
		if err := os.Rename(filepath.Join(tmp, name), filepath.Join(dir, name)); err != nil {
			return fmt.Errorf("export: %w", err)
		}
	}
	if err := atomicfile.SyncDir(dir); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	return nil
}

// formatPatch writes commit c as patch n of total in `git format-patch`
// form. src is the patch it was made from, for an Origin header.
func formatPatch(w *bytes.Buffer, d *differ, c *object.Commit, n, total int, src *patchqueue.Patch) error {
	if len(c.ParentHashes) != 1 {
		return fmt.Errorf("commit %s has %d parents", c.Hash, len(c.ParentHashes))
	}
	parent, err := d.repo.CommitObject(c.ParentHashes[0])
	if err != nil {
		return fmt.Errorf("parent of %s: %w", c.Hash, err)
	}
	fds, err := d.treeDiff(parent.TreeHash, c.TreeHash)
	if err != nil {
		return err
	}
	width := len(fmt.Sprint(total))
	var extra []string
	if src != nil {
		// Debian's RT patches name the linux-stable-rt commit they come from.
		if o := src.Headers["Origin"]; o != "" && isASCII(o) && !strings.ContainsAny(o, "\r\n") {
			extra = append(extra, "Origin: "+o)
		}
	}
	writeMail(w, c, fmt.Sprintf("[PATCH %0*d/%d]", width, n, total), extra)
	writeStat(w, fds)
	w.WriteString("\n")
	writeDiff(w, fds)
	w.WriteString("-- \nrtbot\n\n")
	return nil
}

func patchName(pr *merger.PatchResult) string {
	if pr.Patch == nil {
		return pr.Commit.String()
	}
	if pr.Patch.Name != "" {
		return pr.Patch.Name
	}
	return fmt.Sprintf("%04d", pr.Patch.Index)
}

func reason(pr *merger.PatchResult) string {
	switch {
	case pr.Empty:
		return "changes nothing on the candidate (already applied)"
	case pr.BlockedBy != "":
		return "blocked by " + pr.BlockedBy
	case pr.Err != "":
		return pr.Err
	case pr.Outcome.Clean():
		return "no commit"
	}
	var files []string
	for _, f := range pr.Files {
		if !f.Outcome.Clean() {
			files = append(files, string(f.Outcome)+" in "+f.Path)
		}
	}
	if len(files) == 0 {
		return "did not apply"
	}
	return strings.Join(files, ", ")
}

// keepName matches original queue names that are kept: relative paths of
// plain words ending in .patch or .diff.
var keepName = regexp.MustCompile(`^[A-Za-z0-9_+][A-Za-z0-9._+-]*(/[A-Za-z0-9_+][A-Za-z0-9._+-]*)*\.(patch|diff)$`)

// fileNames names each exported patch: its name in the queue when that is
// a safe relative file name, else format-patch's NNNN-<slug>.patch with
// its position in the export.
func fileNames(results []*merger.PatchResult) []string {
	names := make([]string, len(results))
	used := map[string]bool{"series": true}
	for i, pr := range results {
		if p := pr.Patch; p != nil && keepName.MatchString(p.Name) && path.Clean(p.Name) == p.Name &&
			!used[strings.ToLower(p.Name)] && patchqueue.CheckPath(p.Name) == nil {
			names[i] = p.Name
			used[strings.ToLower(p.Name)] = true
		}
	}
	for i, pr := range results {
		if names[i] != "" {
			continue
		}
		subject := ""
		if pr.Patch != nil {
			subject = pr.Patch.Subject
		}
		name := formatPatchName(i+1, subject)
		for n := 2; used[strings.ToLower(name)]; n++ {
			name = strings.TrimSuffix(formatPatchName(i+1, subject), ".patch") + fmt.Sprintf("-%d.patch", n)
		}
		names[i] = name
		used[strings.ToLower(name)] = true
	}
	return names
}

// formatPatchName is git format-patch's file name: the number, then the
// subject with runs of other characters than letters, digits, "_" and "."
// turned into "-" (and runs of "." into one), without trailing "." or
// "-", the whole cut to 64 characters with the suffix.
func formatPatchName(n int, subject string) string {
	var b strings.Builder
	dash := false
	for i := 0; i < len(subject); i++ {
		c := subject[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' {
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			dash = false
			b.WriteByte(c)
			for c == '.' && i+1 < len(subject) && subject[i+1] == '.' {
				i++
			}
		} else {
			dash = true
		}
	}
	slug := strings.TrimRight(b.String(), ".-")
	num := fmt.Sprintf("%04d", n)
	if maxSlug := 64 - len(".patch") - 1 - len(num) - 1; len(slug) > maxSlug {
		slug = slug[:maxSlug]
	}
	if slug == "" {
		return num + ".patch"
	}
	return num + "-" + slug + ".patch"
}

// fileSafe matches a release name that is safe in a file name.
var fileSafe = regexp.MustCompile(`^[A-Za-z0-9._+-]+$`)

// releaseName is "<version><localversion>" from opts or the result tree.
func releaseName(d *differ, head *object.Commit, opts Options) (string, error) {
	tree, err := head.Tree()
	if err != nil {
		return "", fmt.Errorf("export: result tree: %w", err)
	}
	read := func(name string) ([]byte, error) {
		e, err := tree.FindEntry(name)
		if err != nil || !e.Mode.IsFile() {
			return nil, fmt.Errorf("no %s", name)
		}
		return d.blob(name, e.Hash)
	}
	if opts.NextRelease {
		return nextReleaseName(read)
	}
	version := opts.Version
	if version == "" {
		data, err := read("Makefile")
		if err != nil {
			return "", fmt.Errorf("export: the result tree has %v to take the kernel version from, and no version was given", err)
		}
		v, err := candidate.ParseMakefile(data)
		if err != nil {
			return "", fmt.Errorf("export: result tree: %w", err)
		}
		version = v.String()
	}
	local := opts.LocalVersion
	if local == "" {
		data, err := read("localversion-rt")
		if err != nil {
			return "", fmt.Errorf("export: the result tree has %v to take the RT version from, and no RT version was given", err)
		}
		local = strings.TrimSpace(string(data))
		if local == "" {
			return "", errors.New("export: the result tree's localversion-rt is empty")
		}
	}
	return checkReleaseName(version + local)
}

// nextReleaseName is the name of the release `rtbot release` makes of the
// tree whose files read reads.
func nextReleaseName(read func(string) ([]byte, error)) (string, error) {
	mk, err := read("Makefile")
	if err != nil {
		return "", fmt.Errorf("export: the result tree has %v to take the kernel version from", err)
	}
	kernel, err := candidate.ParseMakefile(mk)
	if err != nil {
		return "", fmt.Errorf("export: result tree: %w", err)
	}
	lv, err := read(release.LocalversionFile)
	if err != nil {
		return "", fmt.Errorf("export: the result tree has %v to take the RT version from", err)
	}
	bump, err := release.NextRelease(kernel, string(lv), false)
	if err != nil {
		return "", fmt.Errorf("export: result tree: %w", err)
	}
	return checkReleaseName(bump.Version)
}

// checkReleaseName returns name when it is usable in a file name.
func checkReleaseName(name string) (string, error) {
	if !fileSafe.MatchString(name) || strings.HasPrefix(name, ".") || len(name) > 100 {
		return "", fmt.Errorf("export: release %q is not usable in a file name", name)
	}
	return name, nil
}

// tarPatches returns a tar of files under patches/: sorted names, the
// given mtime, owner 0:0, mode 0644, so the same queue gives the same
// bytes.
func tarPatches(files map[string][]byte, mtime time.Time) ([]byte, error) {
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, n := range names {
		hdr := &tar.Header{
			Typeflag: tar.TypeReg,
			Name:     "patches/" + n,
			Size:     int64(len(files[n])),
			Mode:     0o644,
			ModTime:  mtime.UTC().Truncate(time.Second),
			Format:   tar.FormatPAX,
		}
		if len(hdr.Name) <= 100 {
			hdr.Format = tar.FormatUSTAR
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, fmt.Errorf("tar %s: %w", hdr.Name, err)
		}
		if _, err := tw.Write(files[n]); err != nil {
			return nil, fmt.Errorf("tar %s: %w", hdr.Name, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// writeXZ writes data xz-compressed to name and syncs it.
func writeXZ(name string, data []byte) error {
	var buf bytes.Buffer
	zw, err := xz.NewWriter(&buf)
	if err != nil {
		return err
	}
	if _, err := zw.Write(data); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	return writeFile(name, buf.Bytes())
}

// writeFile creates name (and its directories) with data and syncs it.
func writeFile(name string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, bytes.NewReader(data)); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
