// Package candidate checks that a fetched stable candidate is the version
// the announcement named, and builds the candidate from the rc patch
// (patch-X.Y.Z-rcN) when the stable-rc git tree cannot be reached.
package candidate

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/rtbot/rtbot/merger"
	"github.com/rtbot/rtbot/patchqueue"
	"github.com/rtbot/rtbot/refname"
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

// ParseMakefile reads the VERSION, PATCHLEVEL, SUBLEVEL and EXTRAVERSION
// assignments from the first 100 lines of a kernel Makefile.
func ParseMakefile(data []byte) (Version, error) {
	vars := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 4096), 64<<10)
	for n := 0; n < 100 && sc.Scan(); n++ {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if !ok {
			continue
		}
		k = strings.TrimSpace(k)
		switch k {
		case "VERSION", "PATCHLEVEL", "SUBLEVEL", "EXTRAVERSION":
			if _, dup := vars[k]; !dup {
				vars[k] = strings.TrimSpace(v)
			}
		}
	}
	var v Version
	for _, f := range []struct {
		name string
		dst  *int
	}{{"VERSION", &v.Version}, {"PATCHLEVEL", &v.Patchlevel}, {"SUBLEVEL", &v.Sublevel}} {
		s, ok := vars[f.name]
		if !ok {
			return Version{}, fmt.Errorf("top-level Makefile: no %s in its first 100 lines", f.name)
		}
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 || n > 100000 || strconv.Itoa(n) != s {
			return Version{}, fmt.Errorf("top-level Makefile: %s = %q is not a number", f.name, s)
		}
		*f.dst = n
	}
	extra, ok := vars["EXTRAVERSION"]
	if !ok {
		return Version{}, errors.New("top-level Makefile: no EXTRAVERSION in its first 100 lines")
	}
	if strings.ContainsFunc(extra, func(r rune) bool { return r <= ' ' || r > '~' }) {
		return Version{}, fmt.Errorf("top-level Makefile: EXTRAVERSION = %q is not a version suffix", extra)
	}
	v.Extraversion = extra
	return v, nil
}

// announced is the version string an announcement names: "6.1.177-rc1".
func announced(version string, rc int) string {
	if rc == 0 {
		return version
	}
	return fmt.Sprintf("%s-rc%d", version, rc)
}

// Check reads the top-level Makefile of commit and compares it with the
// announced version ("6.1.177") and rc (1 means EXTRAVERSION "-rc1", 0 an
// empty one).
func Check(repo *git.Repository, commit plumbing.Hash, version string, rc int) error {
	c, err := repo.CommitObject(commit)
	if err != nil {
		return fmt.Errorf("candidate %.12s: %w", commit, err)
	}
	f, err := c.File("Makefile")
	if err != nil {
		return fmt.Errorf("candidate %.12s: Makefile: %w", commit, err)
	}
	r, err := f.Reader()
	if err != nil {
		return fmt.Errorf("candidate %.12s: Makefile: %w", commit, err)
	}
	defer r.Close()
	data, err := io.ReadAll(io.LimitReader(r, 1<<20))
	if err != nil {
		return fmt.Errorf("candidate %.12s: Makefile: %w", commit, err)
	}
	v, err := ParseMakefile(data)
	if err != nil {
		return fmt.Errorf("candidate %.12s: %w", commit, err)
	}
	if want := announced(version, rc); v.String() != want {
		return fmt.Errorf("candidate %.12s: Makefile says %s, the announcement says %s", commit, v, want)
	}
	return nil
}

// PreviousRelease returns the tag of the release before version:
// "6.1.177" gives "v6.1.176", "6.1.1" gives "v6.1".
func PreviousRelease(version string) (string, error) {
	parts := strings.Split(version, ".")
	if len(parts) != 3 {
		return "", fmt.Errorf("version %q: want MAJOR.MINOR.SUBLEVEL", version)
	}
	nums := make([]int, 3)
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || strconv.Itoa(n) != p {
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

// PatchSource expands a configured rc patch location for version and rc.
// The template may contain {version} and {rc} and is an https URL (http
// only for a loopback host) or a local path, for example
// "https://www.kernel.org/pub/linux/kernel/v6.x/stable-review/patch-{version}-rc{rc}.gz".
func PatchSource(tmpl, version string, rc int) (string, error) {
	if !refname.Revision("v"+version) || strings.ContainsAny(version, "/{}") {
		return "", fmt.Errorf("rc patch: version %q", version)
	}
	s := strings.NewReplacer("{version}", version, "{rc}", strconv.Itoa(rc)).Replace(tmpl)
	if strings.ContainsAny(s, "{}") {
		return "", fmt.Errorf("rc patch %q: unknown placeholder; want {version} and {rc}", tmpl)
	}
	if !strings.Contains(s, "://") {
		if s == "" || strings.HasPrefix(s, "-") {
			return "", fmt.Errorf("rc patch %q: not a path", tmpl)
		}
		return s, nil
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", fmt.Errorf("rc patch %q: %w", tmpl, err)
	}
	switch {
	case u.Scheme == "https" && u.Host != "":
	case u.Scheme == "http" && isLoopback(u.Hostname()):
	default:
		return "", fmt.Errorf("rc patch %q: want an https URL (http only for a loopback host) or a path", tmpl)
	}
	return s, nil
}

func isLoopback(host string) bool {
	ip := net.ParseIP(host)
	return host == "localhost" || ip != nil && ip.IsLoopback()
}

// Limits on the rc patch.
const (
	MaxCompressed   = 64 << 20
	MaxUncompressed = 512 << 20
)

// readSource returns the (still compressed) bytes of src.
func readSource(ctx context.Context, src string) ([]byte, error) {
	var r io.Reader
	if strings.Contains(src, "://") {
		ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, src, nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("User-Agent", "rtbot")
		client := &http.Client{CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if req.URL.Host != via[0].URL.Host || req.URL.Scheme != via[0].URL.Scheme {
				return fmt.Errorf("redirect to %s refused", req.URL.Redacted())
			}
			return nil
		}}
		resp, err := client.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("GET %s: %s", src, resp.Status)
		}
		r = resp.Body
	} else {
		f, err := os.Open(src)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	data, err := io.ReadAll(io.LimitReader(r, MaxCompressed+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxCompressed {
		return nil, fmt.Errorf("larger than %d MiB", MaxCompressed>>20)
	}
	return data, nil
}

// decompress undoes gzip or xz, recognised by their magic numbers.
func decompress(data []byte) ([]byte, error) {
	var r io.Reader
	switch {
	case bytes.HasPrefix(data, []byte{0x1f, 0x8b}):
		zr, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			return nil, err
		}
		r = zr
	case bytes.HasPrefix(data, []byte{0xfd, '7', 'z', 'X', 'Z', 0}):
		xr, err := xz.NewReader(bytes.NewReader(data))
		if err != nil {
			return nil, err
		}
		r = xr
	default:
		return data, nil
	}
	out, err := io.ReadAll(io.LimitReader(r, MaxUncompressed+1))
	if err != nil {
		return nil, err
	}
	if len(out) > MaxUncompressed {
		return nil, fmt.Errorf("larger than %d MiB uncompressed", MaxUncompressed>>20)
	}
	return out, nil
}

// FromPatch builds the candidate from the rc patch at src (a URL from
// PatchSource or a local file; gzip, xz or plain): it applies the patch
// exactly onto the previous release tag, writes one commit "Linux
// X.Y.Z-rcN" (author and committer: eng's identity), points ref (under
// refs/rtbot/) at it and checks its Makefile.
func FromPatch(ctx context.Context, eng *merger.Engine, src, version string, rc int, ref string) (plumbing.Hash, error) {
	if !strings.HasPrefix(ref, "refs/rtbot/") || refname.Branch(strings.TrimPrefix(ref, "refs/")) != nil {
		return plumbing.ZeroHash, fmt.Errorf("rc patch: ref %q is not under refs/rtbot/", ref)
	}
	prev, err := PreviousRelease(version)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	raw, err := readSource(ctx, src)
	if err == nil {
		raw, err = decompress(raw)
	}
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("rc patch %s: %w", src, err)
	}
	p := patchqueue.Parse(src, raw, 1)
	if p.Err != nil {
		return plumbing.ZeroHash, fmt.Errorf("rc patch %s: %w", src, p.Err)
	}
	p.Index, p.Name = 1, "patch-"+announced(version, rc)
	p.Subject, p.Body, p.AuthorName, p.AuthorEmail = "Linux "+announced(version, rc), "", "", ""
	onto, err := eng.Resolve(prev)
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("rc patch %s: previous release: %w", src, err)
	}
	res, err := eng.ApplyOnto(ctx, &patchqueue.Queue{Source: src, Patches: []*patchqueue.Patch{p}}, onto)
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("rc patch %s onto %s: %w", src, prev, err)
	}
	pr := res.Patches[0]
	for _, f := range pr.Files {
		if f.Outcome != merger.Applied {
			return plumbing.ZeroHash, fmt.Errorf("rc patch %s onto %s: %s: %s (%s)", src, prev, f.Path, f.Outcome, f.Detail)
		}
	}
	if pr.Outcome != merger.Applied || pr.Commit.IsZero() {
		return plumbing.ZeroHash, fmt.Errorf("rc patch %s onto %s: %s %s", src, prev, pr.Outcome, pr.Err)
	}
	repo := eng.Repository()
	if err := repo.Storer.SetReference(plumbing.NewHashReference(plumbing.ReferenceName(ref), pr.Commit)); err != nil {
		return plumbing.ZeroHash, fmt.Errorf("rc patch: %s: %w", ref, err)
	}
	if err := Check(repo, pr.Commit, version, rc); err != nil {
		return plumbing.ZeroHash, err
	}
	return pr.Commit, nil
}
