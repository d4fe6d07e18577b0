// Package candidate checks that a fetched stable candidate is the version
// the announcement named, and builds the candidate from the rc patch
// (patch-X.Y.Z-rcN) when the stable-rc git tree cannot be reached.
package candidate

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/rtbot/rtbot/internal/merger"
	"github.com/rtbot/rtbot/internal/netsec"
	"github.com/rtbot/rtbot/internal/patchqueue"
	"github.com/rtbot/rtbot/internal/refname"
	"github.com/ulikunitz/xz"
)

// Version is what the top-level Makefile says.
type Version struct {
	Version, Patchlevel, Sublevel int
	Extraversion                  string
}

// String returns the version as "6.1.177-rc1".
func (v Version) String() string {
	return fmt.Sprintf("%d.%d.%d%s", v.Version, v.Patchlevel, v.Sublevel, v.Extraversion)
}

// makefileLines is how far into the Makefile the version is looked for.
const makefileLines = 100

// maxNumber bounds VERSION, PATCHLEVEL and SUBLEVEL.
const maxNumber = 100000

// ParseMakefile reads the VERSION, PATCHLEVEL, SUBLEVEL and EXTRAVERSION
// assignments from the first 100 lines of a kernel's top-level Makefile.
// The first assignment of each counts; a "#" starts a comment, as in make.
// The numbers must be plain decimals; EXTRAVERSION may be empty, and is
// otherwise printable ASCII without blanks that does not start with a digit
// (so that String stays unambiguous). The error names the variable that is
// missing or wrong.
func ParseMakefile(data []byte) (Version, error) {
	vars := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 4096), 64<<10)
	for n := 0; n < makefileLines && sc.Scan(); n++ {
		line, _, _ := strings.Cut(sc.Text(), "#")
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		// "VERSION = 6", and the ":=" and "?=" flavours.
		k = strings.TrimSpace(strings.TrimRight(strings.TrimSpace(k), ":?"))
		switch k {
		case "VERSION", "PATCHLEVEL", "SUBLEVEL", "EXTRAVERSION":
			if _, dup := vars[k]; !dup {
				vars[k] = strings.TrimSpace(v)
			}
		}
	}
	if err := sc.Err(); err != nil {
		return Version{}, fmt.Errorf("top-level Makefile: %w", err)
	}
	var v Version
	for _, f := range []struct {
		name string
		dst  *int
	}{{"VERSION", &v.Version}, {"PATCHLEVEL", &v.Patchlevel}, {"SUBLEVEL", &v.Sublevel}} {
		s, ok := vars[f.name]
		if !ok {
			return Version{}, fmt.Errorf("top-level Makefile: no %s in its first %d lines", f.name, makefileLines)
		}
		n, ok := number(s)
		if !ok {
			return Version{}, fmt.Errorf("top-level Makefile: %s = %q is not a number", f.name, s)
		}
		*f.dst = n
	}
	extra, ok := vars["EXTRAVERSION"]
	if !ok {
		return Version{}, fmt.Errorf("top-level Makefile: no EXTRAVERSION in its first %d lines", makefileLines)
	}
	if !validExtra(extra) {
		return Version{}, fmt.Errorf("top-level Makefile: EXTRAVERSION = %q is not a version suffix", extra)
	}
	v.Extraversion = extra
	return v, nil
}

// number parses a plain decimal without sign or leading zeros.
func number(s string) (int, bool) {
	n, err := strconv.Atoi(s)
	return n, err == nil && n >= 0 && n <= maxNumber && strconv.Itoa(n) == s
}

func validExtra(s string) bool {
	return len(s) <= 64 && !strings.ContainsFunc(s, func(r rune) bool { return r <= ' ' || r > '~' }) &&
		(s == "" || s[0] < '0' || s[0] > '9')
}

// versionRe is the shape of Version.String.
var versionRe = regexp.MustCompile(`^([0-9]+)\.([0-9]+)\.([0-9]+)(.*)$`)

// parseVersion is the inverse of Version.String.
func parseVersion(s string) (Version, error) {
	m := versionRe.FindStringSubmatch(s)
	if m == nil {
		return Version{}, fmt.Errorf("version %q: want X.Y.Z[EXTRA]", s)
	}
	var v Version
	for i, dst := range []*int{&v.Version, &v.Patchlevel, &v.Sublevel} {
		n, ok := number(m[i+1])
		if !ok {
			return Version{}, fmt.Errorf("version %q: %q is not a number", s, m[i+1])
		}
		*dst = n
	}
	if !validExtra(m[4]) {
		return Version{}, fmt.Errorf("version %q: %q is not a version suffix", s, m[4])
	}
	v.Extraversion = m[4]
	return v, nil
}

// announced is the version string an announcement names: "6.1.177-rc1",
// or "6.1.177" for rc 0.
func announced(version string, rc int) string {
	if rc == 0 {
		return version
	}
	return fmt.Sprintf("%s-rc%d", version, rc)
}

// Check reads the top-level Makefile of commit and compares it with the
// announced version ("6.1.177") and rc (1 means EXTRAVERSION "-rc1", 0 an
// empty one). A mismatch says both:
// "candidate 1a2b3c4d5e6f: Makefile says 6.1.178-rc1, the announcement says 6.1.177-rc1".
func Check(repo *git.Repository, commit plumbing.Hash, version string, rc int) error {
	v, err := Read(repo, commit)
	if err != nil {
		return err
	}
	if want := announced(version, rc); v.String() != want {
		return fmt.Errorf("candidate %.12s: Makefile says %s, the announcement says %s", commit, v, want)
	}
	return nil
}

// rcExtra is the EXTRAVERSION of a release candidate: "-rc1".
var rcExtra = regexp.MustCompile(`^-rc([1-9][0-9]{0,3})$`)

// RC returns the release candidate number the version is: 1 for
// "6.1.177-rc1", 0 for the release "6.1.177"; ok is false for any other
// EXTRAVERSION.
func (v Version) RC() (rc int, ok bool) {
	if v.Extraversion == "" {
		return 0, true
	}
	m := rcExtra.FindStringSubmatch(v.Extraversion)
	if m == nil {
		return 0, false
	}
	rc, _ = strconv.Atoi(m[1])
	return rc, true
}

// Compare reads the version the top-level Makefile of commit says and
// compares it with the announced version ("6.1.177") and rc (0 for a
// release): 0 when it is the announced one, below 0 when it is an earlier
// one of the same series (the announced candidate is not there yet),
// above 0 when a later one (the branch has moved on). A Makefile that
// cannot be read, of another series or with an EXTRAVERSION that is
// neither empty nor -rcN is an error.
func Compare(repo *git.Repository, commit plumbing.Hash, version string, rc int) (int, Version, error) {
	v, err := Read(repo, commit)
	if err != nil {
		return 0, v, err
	}
	want, err := parseVersion(version)
	if err != nil || want.Extraversion != "" {
		return 0, v, fmt.Errorf("announced version %q: want X.Y.Z", version)
	}
	have, ok := v.RC()
	switch {
	case !ok:
		return 0, v, fmt.Errorf("candidate %.12s: Makefile says %s, which is neither a release nor an rc", commit, v)
	case v.Version != want.Version || v.Patchlevel != want.Patchlevel:
		return 0, v, fmt.Errorf("candidate %.12s: Makefile says %s, not of the series of %s", commit, v, announced(version, rc))
	}
	// A release comes after all its rcs.
	order := func(sub, rc int) [2]int {
		if rc == 0 {
			rc = maxNumber + 1
		}
		return [2]int{sub, rc}
	}
	a, b := order(v.Sublevel, have), order(want.Sublevel, rc)
	switch {
	case a == b:
		return 0, v, nil
	case a[0] < b[0] || a[0] == b[0] && a[1] < b[1]:
		return -1, v, nil
	}
	return 1, v, nil
}

// Read returns the kernel version the top-level Makefile of commit says.
func Read(repo *git.Repository, commit plumbing.Hash) (Version, error) {
	c, err := repo.CommitObject(commit)
	if err != nil {
		return Version{}, fmt.Errorf("candidate %.12s: %w", commit, err)
	}
	f, err := c.File("Makefile")
	if err != nil {
		return Version{}, fmt.Errorf("candidate %.12s: Makefile: %w", commit, err)
	}
	r, err := f.Reader()
	if err != nil {
		return Version{}, fmt.Errorf("candidate %.12s: Makefile: %w", commit, err)
	}
	defer r.Close()
	data, err := io.ReadAll(io.LimitReader(r, 1<<20))
	if err != nil {
		return Version{}, fmt.Errorf("candidate %.12s: Makefile: %w", commit, err)
	}
	v, err := ParseMakefile(data)
	if err != nil {
		return Version{}, fmt.Errorf("candidate %.12s: %w", commit, err)
	}
	return v, nil
}

// PreviousRelease returns the tag of the release before version:
// "6.1.177" gives "v6.1.176", "6.1.1" gives "v6.1". A mainline version
// ("6.1", "6.1.0") has no previous stable release.
func PreviousRelease(version string) (string, error) {
	parts := strings.Split(version, ".")
	if len(parts) != 3 {
		return "", fmt.Errorf("version %q: want MAJOR.MINOR.SUBLEVEL", version)
	}
	nums := make([]int, 3)
	for i, p := range parts {
		n, ok := number(p)
		if !ok {
			return "", fmt.Errorf("version %q: %q is not a number", version, p)
		}
		nums[i] = n
	}
	switch nums[2] {
	case 0:
		return "", fmt.Errorf("version %q has no previous stable release", version)
	case 1:
		return fmt.Sprintf("v%d.%d", nums[0], nums[1]), nil
	}
	return fmt.Sprintf("v%d.%d.%d", nums[0], nums[1], nums[2]-1), nil
}

// announcedVersionRe is what PatchSource accepts as a version: digits and
// dots only, so the expansion cannot change a URL's or path's structure.
var announcedVersionRe = regexp.MustCompile(`^[0-9]{1,6}\.[0-9]{1,6}(\.[0-9]{1,6})?$`)

// PatchSource expands a configured rc patch location for version and rc.
// The template may contain {version} ("6.1.177") and {rc} (1; 0 for a
// release) and no other {placeholder}, and is either an https URL (http
// only for a loopback host, for tests and local mirrors) or a local path,
// for example
// "https://www.kernel.org/pub/linux/kernel/v6.x/stable-review/patch-{version}-rc{rc}.gz".
// Control characters and a leading "-" are refused.
func PatchSource(tmpl, version string, rc int) (string, error) {
	if !announcedVersionRe.MatchString(version) {
		return "", fmt.Errorf("rc patch: version %q: want X.Y.Z", version)
	}
	if rc < 0 || rc > 1000 {
		return "", fmt.Errorf("rc patch: rc %d out of range", rc)
	}
	if tmpl == "" || strings.HasPrefix(tmpl, "-") || strings.ContainsFunc(tmpl, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return "", fmt.Errorf("rc patch %q: not a URL or path", tmpl)
	}
	s := strings.NewReplacer("{version}", version, "{rc}", strconv.Itoa(rc)).Replace(tmpl)
	if strings.ContainsAny(s, "{}") {
		return "", fmt.Errorf("rc patch %q: unknown placeholder; only {version} and {rc} are expanded", tmpl)
	}
	if !strings.Contains(s, "://") {
		return s, nil
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", fmt.Errorf("rc patch %q: %w", tmpl, err)
	}
	switch {
	case u.Scheme == "https" && u.Host != "":
	case u.Scheme == "http" && netsec.LoopbackHost(u.Hostname()):
	default:
		return "", fmt.Errorf("rc patch %q: want an https URL (http only for a loopback host) or a local path", tmpl)
	}
	return s, nil
}

// Limits on the rc patch. Real ones are a few MiB compressed.
const (
	MaxCompressed   = 64 << 20  // bytes read from the URL or file
	MaxUncompressed = 512 << 20 // bytes after gzip or xz
)

// downloadTimeout bounds the whole download of an rc patch.
const downloadTimeout = 10 * time.Minute

// maxRedirects is how many same-host redirects a download follows.
const maxRedirects = 5

type limits struct{ compressed, uncompressed int64 }

func (l limits) String() string {
	return fmt.Sprintf("limits: %s compressed, %s uncompressed", size(l.compressed), size(l.uncompressed))
}

func size(n int64) string {
	if n >= 1<<20 && n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d bytes", n)
}

// PatchOptions are how FromPatch downloads an https rc patch.
type PatchOptions struct {
	// TLS is the TLS configuration the download starts from: one trusting
	// a private CA (netsec.CA.TLSConfig), say. Nil: the system's roots.
	TLS *tls.Config
}

// readSource returns the (still compressed) bytes of src, a URL or a path.
func readSource(ctx context.Context, src string, opts PatchOptions, lim limits) ([]byte, error) {
	var r io.Reader
	if strings.Contains(src, "://") {
		ctx, cancel := context.WithTimeout(ctx, downloadTimeout)
		defer cancel()
		body, err := download(ctx, src, opts, lim)
		if err != nil {
			return nil, redactURLError(err)
		}
		defer body.Close()
		r = body
	} else {
		f, err := os.Open(src)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	data, err := io.ReadAll(io.LimitReader(r, lim.compressed+1))
	if err != nil {
		return nil, redactURLError(err)
	}
	if int64(len(data)) > lim.compressed {
		return nil, fmt.Errorf("more than %s compressed (%s)", size(lim.compressed), lim)
	}
	return data, nil
}

// download GETs src, following same-host redirects, and returns the body
// of its 200 answer for the caller to read within ctx and close.
func download(ctx context.Context, src string, opts PatchOptions, lim limits) (io.ReadCloser, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, src, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", "rtbot")
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DisableKeepAlives = true // one download: no idle connection to leave behind
	if opts.TLS != nil {
		tr.TLSClientConfig = opts.TLS.Clone()
	}
	client := &http.Client{Transport: tr, Timeout: downloadTimeout, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if len(via) > maxRedirects {
			return fmt.Errorf("more than %d redirects", maxRedirects)
		}
		if req.URL.Host != via[0].URL.Host || req.URL.Scheme != via[0].URL.Scheme {
			return fmt.Errorf("redirect to %s refused: another host or scheme", netsec.Redact(req.URL.String()))
		}
		return nil
	}}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (io.ReadCloser, error) {
		resp.Body.Close()
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return fail(fmt.Errorf("GET: %s", resp.Status))
	}
	if resp.ContentLength > lim.compressed {
		return fail(fmt.Errorf("%d bytes, more than %s compressed (%s)", resp.ContentLength, size(lim.compressed), lim))
	}
	return resp.Body, nil
}

// redactURLError removes credentials from the URL of every *url.Error in
// err's chain (net/http's errors quote the URL, and keep a user name that
// may be a token), in place: err keeps its chain for errors.Is and As.
func redactURLError(err error) error {
	for e := err; e != nil; e = errors.Unwrap(e) {
		if ue, ok := e.(*url.Error); ok {
			ue.URL = netsec.Redact(ue.URL)
		}
	}
	return err
}

// decompress undoes gzip or xz, recognised by their magic numbers; other
// data is taken as a plain patch.
func decompress(data []byte, lim limits) ([]byte, error) {
	var r io.Reader
	switch {
	case bytes.HasPrefix(data, []byte{0x1f, 0x8b}):
		zr, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			return nil, err // "gzip: invalid header"
		}
		r = zr
	case bytes.HasPrefix(data, []byte{0xfd, '7', 'z', 'X', 'Z', 0}):
		xr, err := xz.NewReader(bytes.NewReader(data))
		if err != nil {
			return nil, err // "xz: ..."
		}
		r = xr
	default:
		if int64(len(data)) > lim.uncompressed {
			return nil, fmt.Errorf("more than %s uncompressed (%s)", size(lim.uncompressed), lim)
		}
		return data, nil
	}
	out, err := io.ReadAll(io.LimitReader(r, lim.uncompressed+1))
	if err != nil {
		return nil, fmt.Errorf("decompressing: %w", err)
	}
	if int64(len(out)) > lim.uncompressed {
		return nil, fmt.Errorf("more than %s uncompressed (%s)", size(lim.uncompressed), lim)
	}
	return out, nil
}

var diffGit = []byte("diff --git ")

// parseRC parses the rc patch as one patch of many files. patchqueue.Parse
// takes at most patchqueue.MaxPatchSize bytes, which a big rc patch may
// exceed, so a git diff is parsed one "diff --git" section at a time and
// the files are joined; whatever precedes the first section (a mail header,
// a diffstat) is read with the first one.
func parseRC(src string, data []byte) (*patchqueue.Patch, error) {
	var starts []int
	for off := 0; off < len(data); {
		if bytes.HasPrefix(data[off:], diffGit) {
			if len(starts) == 0 {
				starts = append(starts, 0) // the preamble goes with the first section
			} else {
				starts = append(starts, off)
			}
		}
		nl := bytes.IndexByte(data[off:], '\n')
		if nl < 0 {
			break
		}
		off += nl + 1
	}
	if len(starts) <= 1 {
		p := patchqueue.Parse(src, data, 1)
		return p, p.Err
	}
	p := &patchqueue.Patch{Source: src, Strip: 1}
	seen := map[string]bool{}
	line := 1 // the patch file's line where the section starts
	for i, start := range starts {
		end := len(data)
		if i+1 < len(starts) {
			end = starts[i+1]
		}
		sec := data[start:end]
		sp := patchqueue.Parse(src, sec, 1)
		if sp.Err != nil {
			return nil, fmt.Errorf("in the diff at line %d: %w", line, sp.Err)
		}
		for _, f := range sp.Files {
			for _, path := range []string{f.OldPath, f.NewPath} {
				if path != "" && seen[path] && f.Op != patchqueue.OpCopy {
					return nil, fmt.Errorf("line %d: %s is changed twice", line, path)
				}
			}
			seen[f.OldPath], seen[f.NewPath] = true, true
			f.Pos += line - 1
			p.Files = append(p.Files, f)
		}
		line += bytes.Count(sec, []byte("\n"))
	}
	return p, nil
}

// FromPatch builds the candidate from the rc patch at src (a URL from
// PatchSource or a local file; gzip, xz or plain, at most MaxCompressed
// bytes as read and MaxUncompressed decompressed; an https one is
// downloaded with opts). It parses it as one
// patch (strip 1), applies it with eng onto the previous release tag
// (PreviousRelease), writes one commit "Linux X.Y.Z-rcN" on it, persists
// it, checks its Makefile (Check) and then points ref, which must be under
// refs/rtbot/, at it (force-updated). It returns the commit.
//
// Every file must apply: each hunk exactly or at a line offset, with no
// fuzz, no 3-way merge and no rename-following; otherwise the error names
// the file and hunk. The commit's author and committer are eng's committer
// identity, dated now: it is rtbot's reconstruction, not the stable-rc
// tree's commit (whose id it will not match), so it does not claim the
// stable maintainer's name; its message says where it came from.
//
// Errors, and the commit's message, name src without the credentials a
// URL may carry (netsec.Redact), and wrap the failure they report.
func FromPatch(ctx context.Context, eng *merger.Engine, src, version string, rc int, ref string, opts PatchOptions) (plumbing.Hash, error) {
	return fromPatch(ctx, eng, src, version, rc, ref, opts, limits{MaxCompressed, MaxUncompressed})
}

func fromPatch(ctx context.Context, eng *merger.Engine, src, version string, rc int, ref string, opts PatchOptions, lim limits) (plumbing.Hash, error) {
	if !strings.HasPrefix(ref, "refs/rtbot/") || refname.Branch(strings.TrimPrefix(ref, "refs/")) != nil {
		return plumbing.ZeroHash, fmt.Errorf("rc patch: ref %q is not a valid ref under refs/rtbot/", ref)
	}
	if rc < 0 {
		return plumbing.ZeroHash, fmt.Errorf("rc patch: rc %d", rc)
	}
	prev, err := PreviousRelease(version)
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("rc patch: %w", err)
	}
	name := netsec.Redact(src)
	onto, err := eng.RevParse(prev)
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("rc patch %s: the previous release: %w", name, err)
	}
	raw, err := readSource(ctx, src, opts, lim)
	if err == nil {
		raw, err = decompress(raw, lim)
	}
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("rc patch %s: %w", name, err)
	}
	p, err := parseRC(name, raw)
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("rc patch %s: %w", name, err)
	}
	if len(p.Files) == 0 {
		return plumbing.ZeroHash, fmt.Errorf("rc patch %s: no diff in it", name)
	}
	title := "Linux " + announced(version, rc)
	p.Index, p.Name = 1, "patch-"+announced(version, rc)
	p.Subject = title
	p.Body = fmt.Sprintf("Built by rtbot from %s applied to %s, because the stable-rc git tree could not be fetched.", name, prev)
	p.AuthorName, p.AuthorEmail, p.Date, p.Headers = "", "", time.Time{}, nil

	res, err := eng.ApplyOnto(ctx, &patchqueue.Queue{Source: name, Patches: []*patchqueue.Patch{p}}, onto)
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("rc patch %s onto %s: %w", name, prev, err)
	}
	pr := res.Patches[0]
	for i := range pr.Files {
		if why := inexact(&pr.Files[i], prev); why != "" {
			return plumbing.ZeroHash, fmt.Errorf("rc patch %s does not apply to %s: %s", name, prev, why)
		}
	}
	switch {
	case pr.Outcome != merger.Applied:
		return plumbing.ZeroHash, fmt.Errorf("rc patch %s onto %s: %s %s", name, prev, pr.Outcome, pr.Err)
	case pr.Commit.IsZero():
		return plumbing.ZeroHash, fmt.Errorf("rc patch %s changes nothing in %s", name, prev)
	}
	// ApplyOnto persisted the commit; this is a no-op kept for clarity
	// should that ever change.
	if err := eng.Persist(pr.Commit); err != nil {
		return plumbing.ZeroHash, fmt.Errorf("rc patch %s: %w", name, err)
	}
	repo := eng.Repository()
	if err := Check(repo, pr.Commit, version, rc); err != nil {
		return plumbing.ZeroHash, fmt.Errorf("rc patch %s: %w", name, err)
	}
	if err := repo.Storer.SetReference(plumbing.NewHashReference(plumbing.ReferenceName(ref), pr.Commit)); err != nil {
		return plumbing.ZeroHash, fmt.Errorf("rc patch %s: %s: %w", name, ref, err)
	}
	return pr.Commit, nil
}

// inexact says why a file of the rc patch did not apply exactly, or "".
func inexact(f *merger.FileResult, prev string) string {
	hunk := func(h patchqueue.HunkResult) string {
		line := h.Base
		if f.PatchFile != nil && h.Index >= 1 && h.Index <= len(f.PatchFile.Hunks) {
			line = f.PatchFile.Hunks[h.Index-1].OldStart
		}
		return fmt.Sprintf("%s hunk %d (line %d)", f.Path, h.Index, line)
	}
	for _, h := range f.Hunks {
		switch {
		case h.Failed:
			return hunk(h) + fmt.Sprintf(": does not apply (%s: %s)", f.Outcome, f.Detail)
		case h.Fuzz > 0:
			return hunk(h) + fmt.Sprintf(": applies only with fuzz %d", h.Fuzz)
		}
	}
	switch {
	case f.Renamed != "":
		return fmt.Sprintf("%s: not in %s (it is at %s)", f.Path, prev, f.Renamed)
	case f.Outcome == merger.Missing:
		return fmt.Sprintf("%s: not in %s", f.Path, prev)
	case f.Outcome == merger.Present:
		return fmt.Sprintf("%s: %s already has the result (%s)", f.Path, prev, f.Detail)
	case f.Outcome != merger.Applied:
		return fmt.Sprintf("%s: %s (%s)", f.Path, f.Outcome, f.Detail)
	}
	return ""
}
