package mailwatch

import (
	"cmp"
	"compress/gzip"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-git/go-git/v5"
	gitconfig "github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/transport"
)

// publicInboxRef is the branch of a public-inbox v2 epoch.
const publicInboxRef = plumbing.ReferenceName("refs/heads/master")

// maxManifest bounds the manifest.js.gz read (decompressed).
const maxManifest = 16 << 20

// epochRE finds the epoch numbers in a manifest's keys and in a local
// inbox's git/ directory.
var epochRE = regexp.MustCompile(`(?:^|/)git/([0-9]+)\.git$`)

// PublicInboxConfig says which public-inbox v2 archive to follow and how.
type PublicInboxConfig struct {
	// URL is the inbox: an http(s) URL such as
	// "https://lore.kernel.org/stable/", or a local inbox directory (the
	// one holding git/0.git).
	URL string
	// Mirror is the directory rtbot keeps its bare copies of a remote
	// inbox's epochs in (one N.git each). Unused for a local inbox.
	Mirror string
	// Since is where a first run starts: zero means "now" (the newest
	// message of the newest epoch is the checkpoint, nothing is read);
	// otherwise the messages committed (dated, by public-inbox) after it
	// are read, in older epochs too when the newest starts after it.
	Since time.Time
	// Filter chooses the mail worth classifying.
	Filter SourceFilter
	// ReadBytes bounds what is read of one message; 0 means
	// DefaultFetchHeaderBytes + DefaultFetchTextBytes.
	ReadBytes int64
	// Timeout bounds each network operation (a fetch, a listing, the
	// manifest); 0 means DefaultTimeout.
	Timeout time.Duration
	// CABundle is extra PEM roots for an https inbox.
	CABundle []byte
}

// remote reports whether the inbox is reached over HTTP(S).
func (cfg PublicInboxConfig) remote() bool {
	return strings.HasPrefix(cfg.URL, "https://") || strings.HasPrefix(cfg.URL, "http://")
}

// epochURL returns where epoch n is: a URL or a local directory.
func (cfg PublicInboxConfig) epochURL(n int) string {
	if cfg.remote() {
		return strings.TrimSuffix(cfg.URL, "/") + "/git/" + strconv.Itoa(n) + ".git"
	}
	return filepath.Join(cfg.URL, "git", strconv.Itoa(n)+".git")
}

// inboxPosition is a public-inbox checkpoint: the epoch and the last
// commit read in it, with that commit's author and committer times, which
// public-inbox-purge keeps when it rewrites the commit: after a purge they
// find the commit's rewritten counterpart.
type inboxPosition struct {
	Epoch      int    `json:"epoch"`
	Commit     string `json:"commit"` // "": nothing read in the epoch yet
	AuthorTime int64  `json:"author_time,omitempty"`
	CommitTime int64  `json:"commit_time,omitempty"`
}

// ScanPublicInbox reads the messages added to the archive since position
// (nil: a first run, see PublicInboxConfig.Since), oldest first, moving
// on to newer epochs as they appear. For a remote inbox only the epoch of
// the checkpoint is fetched, and the next one looked for; a pass with
// nothing new transfers the two ref advertisements and no pack.
func ScanPublicInbox(ctx context.Context, cfg PublicInboxConfig, position []byte) (SourceScan, error) {
	cfg.Timeout = cmp.Or(cfg.Timeout, DefaultTimeout)
	cfg.ReadBytes = cmp.Or(cfg.ReadBytes, DefaultFetchHeaderBytes+DefaultFetchTextBytes)
	var scan SourceScan
	var pos inboxPosition
	opened := map[int]*git.Repository{} // each epoch is fetched once per scan
	if len(position) == 0 {
		first, note, err := firstPosition(ctx, cfg, opened)
		if err != nil {
			return SourceScan{}, fmt.Errorf("public-inbox %s: %w", cfg.URL, err)
		}
		pos, scan.Note = first, note
	} else if err := json.Unmarshal(position, &pos); err != nil {
		return SourceScan{}, fmt.Errorf("public-inbox %s: checkpoint: %w", cfg.URL, err)
	}
	for {
		next, err := scanEpoch(ctx, cfg, pos, &scan, opened)
		if err != nil {
			return SourceScan{}, fmt.Errorf("public-inbox %s epoch %d: %w", cfg.URL, pos.Epoch, err)
		}
		pos = next
		more, err := epochExists(ctx, cfg, pos.Epoch+1)
		if err != nil {
			return SourceScan{}, fmt.Errorf("public-inbox %s epoch %d: %w", cfg.URL, pos.Epoch+1, err)
		}
		if !more {
			break
		}
		pos = inboxPosition{Epoch: pos.Epoch + 1}
	}
	var err error
	scan.Next, err = json.Marshal(pos)
	return scan, err
}

// firstPosition is where a first run starts: at the head of the newest
// epoch ("now"), or, with Since, before the first message dated after it
// (the messages from there on are read by the scan), going back to older
// epochs while every message of one is dated after Since.
func firstPosition(ctx context.Context, cfg PublicInboxConfig, opened map[int]*git.Repository) (inboxPosition, string, error) {
	epoch, err := newestEpoch(ctx, cfg)
	if err != nil {
		return inboxPosition{}, "", err
	}
	if !cfg.Since.IsZero() {
		return sincePosition(ctx, cfg, epoch, opened)
	}
	repo, err := openEpoch(ctx, cfg, epoch, true, opened)
	if err != nil {
		return inboxPosition{}, "", err
	}
	head, err := epochHead(repo)
	if err != nil || head == nil {
		return inboxPosition{Epoch: epoch}, fmt.Sprintf("first run: epoch %d is empty; reading it from its start", epoch), err
	}
	return positionOf(epoch, head), fmt.Sprintf("first run: starting now, at epoch %d commit %s", epoch, head.Hash), nil
}

// sincePosition is firstPosition with Since: the position after the
// newest commit dated at or before Since, in the newest epoch that has
// one; the start of epoch 0 when none has.
func sincePosition(ctx context.Context, cfg PublicInboxConfig, newest int, opened map[int]*git.Repository) (inboxPosition, string, error) {
	for epoch := newest; ; epoch-- {
		note := fmt.Sprintf("first run: reading from %s, from epoch %d on", cfg.Since.UTC().Format(time.RFC3339), epoch)
		repo, err := openEpoch(ctx, cfg, epoch, false, opened)
		if err != nil {
			return inboxPosition{}, "", err
		}
		head, err := epochHead(repo)
		if err != nil {
			return inboxPosition{}, "", err
		}
		var last *object.Commit
		if head != nil {
			err = walkBack(repo, head, func(c *object.Commit) bool {
				if !c.Committer.When.After(cfg.Since) {
					last = c
					return false
				}
				return true
			})
		}
		switch {
		case err != nil:
			return inboxPosition{}, "", err
		case last != nil:
			return positionOf(epoch, last), note, nil
		case epoch == 0:
			return inboxPosition{Epoch: 0}, note, nil
		}
	}
}

// positionOf is the checkpoint after commit c of epoch.
func positionOf(epoch int, c *object.Commit) inboxPosition {
	return inboxPosition{Epoch: epoch, Commit: c.Hash.String(), AuthorTime: c.Author.When.Unix(), CommitTime: c.Committer.When.Unix()}
}

// scanEpoch reads the messages of epoch pos.Epoch after pos.Commit and
// returns the position after the last one.
func scanEpoch(ctx context.Context, cfg PublicInboxConfig, pos inboxPosition, scan *SourceScan, opened map[int]*git.Repository) (inboxPosition, error) {
	repo, err := openEpoch(ctx, cfg, pos.Epoch, false, opened)
	if err != nil {
		return pos, err
	}
	head, err := epochHead(repo)
	if err != nil || head == nil || head.Hash.String() == pos.Commit {
		return pos, err
	}
	commits, rewritten, err := commitsSince(repo, head, pos)
	if err != nil {
		return pos, err
	}
	scan.Rewritten = scan.Rewritten || rewritten
	for _, c := range commits {
		if err := ctx.Err(); err != nil {
			return pos, err
		}
		if err := readInboxMessage(cfg, pos.Epoch, c, scan); err != nil {
			return pos, err
		}
	}
	return positionOf(pos.Epoch, head), nil
}

// commitsSince returns the commits after pos.Commit up to head, oldest
// first. When pos.Commit is not in head's history the epoch was rewritten
// (public-inbox-purge): the commits after its counterpart, the one with
// the same author and committer times, are returned, and rewritten is
// true; without a counterpart, those dated after pos.CommitTime.
func commitsSince(repo *git.Repository, head *object.Commit, pos inboxPosition) (commits []*object.Commit, rewritten bool, err error) {
	found := pos.Commit == ""
	err = walkBack(repo, head, func(c *object.Commit) bool {
		if c.Hash.String() == pos.Commit {
			found = true
			return false
		}
		commits = append(commits, c)
		return true
	})
	if err != nil {
		return nil, false, err
	}
	if !found {
		commits = afterCounterpart(commits, pos)
		rewritten = true
	}
	slices.Reverse(commits)
	return commits, rewritten, nil
}

// afterCounterpart keeps, of commits (newest first), those newer than
// pos's rewritten counterpart, or else those dated after it.
func afterCounterpart(commits []*object.Commit, pos inboxPosition) []*object.Commit {
	for i, c := range commits {
		if c.Author.When.Unix() == pos.AuthorTime && c.Committer.When.Unix() == pos.CommitTime {
			return commits[:i]
		}
	}
	return slices.DeleteFunc(commits, func(c *object.Commit) bool { return c.Committer.When.Unix() <= pos.CommitTime })
}

// walkBack calls f on head and its first-parent ancestors, newest first,
// while f returns true. The history of a shallow copy ends at its
// boundary.
func walkBack(repo *git.Repository, head *object.Commit, f func(*object.Commit) bool) error {
	for c := head; c != nil; {
		if !f(c) || c.NumParents() == 0 {
			return nil
		}
		p, err := repo.CommitObject(c.ParentHashes[0])
		if errors.Is(err, plumbing.ErrObjectNotFound) {
			return nil // the boundary of a shallow fetch
		}
		if err != nil {
			return fmt.Errorf("commit %s: %w", c.ParentHashes[0], err)
		}
		c = p
	}
	return nil
}

// readInboxMessage adds the message of commit c (its blob "m"; a commit
// without one deletes or purges a message) to scan.
func readInboxMessage(cfg PublicInboxConfig, epoch int, c *object.Commit, scan *SourceScan) error {
	tree, err := c.Tree()
	if err != nil {
		return fmt.Errorf("commit %s: %w", c.Hash, err)
	}
	f, err := tree.File("m")
	if errors.Is(err, object.ErrFileNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("commit %s: %w", c.Hash, err)
	}
	r, err := f.Reader()
	if err != nil {
		return fmt.Errorf("commit %s: %w", c.Hash, err)
	}
	defer r.Close()
	m, err := readCandidate(r, f.Size, cfg.ReadBytes, fmt.Sprintf("epoch %d commit %s", epoch, c.Hash))
	if err != nil {
		return err
	}
	scan.Read++
	scan.Bytes += int64(len(m.Raw))
	if cfg.Filter.match(m.Raw) {
		scan.Candidates = append(scan.Candidates, m)
	}
	return nil
}

// epochHead returns the newest commit of the epoch; nil when it has none.
func epochHead(repo *git.Repository) (*object.Commit, error) {
	ref, err := repo.Reference(publicInboxRef, true)
	if errors.Is(err, plumbing.ErrReferenceNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return repo.CommitObject(ref.Hash())
}

// openEpoch opens epoch n: the inbox's own repository when it is local,
// else rtbot's mirror of it, fetched first (only a depth-1 history when
// shallow and the mirror is new), once per scan: opened holds the epochs
// this scan opened.
func openEpoch(ctx context.Context, cfg PublicInboxConfig, n int, shallow bool, opened map[int]*git.Repository) (*git.Repository, error) {
	if repo, ok := opened[n]; ok {
		return repo, nil
	}
	repo, err := fetchEpoch(ctx, cfg, n, shallow)
	if err == nil {
		opened[n] = repo
	}
	return repo, err
}

// fetchEpoch opens epoch n for openEpoch.
func fetchEpoch(ctx context.Context, cfg PublicInboxConfig, n int, shallow bool) (*git.Repository, error) {
	if !cfg.remote() {
		return git.PlainOpen(cfg.epochURL(n))
	}
	dir := filepath.Join(cfg.Mirror, strconv.Itoa(n)+".git")
	repo, err := git.PlainOpen(dir)
	isNew := errors.Is(err, git.ErrRepositoryNotExists)
	if isNew {
		if err := os.MkdirAll(cfg.Mirror, 0o700); err != nil {
			return nil, err
		}
		repo, err = git.PlainInit(dir, true)
	}
	if err != nil {
		return nil, fmt.Errorf("mirror %s: %w", dir, err)
	}
	rem := git.NewRemote(repo.Storer, &gitconfig.RemoteConfig{Name: "origin", URLs: []string{cfg.epochURL(n)}})
	opts := &git.FetchOptions{
		RefSpecs: []gitconfig.RefSpec{"+" + gitconfig.RefSpec(publicInboxRef) + ":" + gitconfig.RefSpec(publicInboxRef)},
		Tags:     git.NoTags,
		CABundle: cfg.CABundle,
	}
	if shallow && isNew {
		opts.Depth = 1
	}
	fctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	if err := rem.FetchContext(fctx, opts); err != nil && !errors.Is(err, git.NoErrAlreadyUpToDate) {
		return nil, fmt.Errorf("fetch %s: %w", cfg.epochURL(n), err)
	}
	return repo, nil
}

// epochExists reports whether epoch n exists: a directory, or a remote
// repository that answers a listing.
func epochExists(ctx context.Context, cfg PublicInboxConfig, n int) (bool, error) {
	if !cfg.remote() {
		_, err := os.Stat(cfg.epochURL(n))
		if errors.Is(err, os.ErrNotExist) {
			return false, nil
		}
		return err == nil, err
	}
	rem := git.NewRemote(nil, &gitconfig.RemoteConfig{Name: "origin", URLs: []string{cfg.epochURL(n)}})
	lctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	_, err := rem.ListContext(lctx, &git.ListOptions{CABundle: cfg.CABundle})
	if errors.Is(err, transport.ErrRepositoryNotFound) {
		return false, nil
	}
	return err == nil, err
}

// newestEpoch returns the number of the newest epoch: from the listing of
// git/ for a local inbox, from manifest.js.gz for a remote one.
func newestEpoch(ctx context.Context, cfg PublicInboxConfig) (int, error) {
	var names []string
	if cfg.remote() {
		m, err := fetchManifest(ctx, cfg)
		if err != nil {
			return 0, err
		}
		names = m
	} else {
		entries, err := os.ReadDir(filepath.Join(cfg.URL, "git"))
		if err != nil {
			return 0, fmt.Errorf("not a public-inbox v2 inbox: %w", err)
		}
		for _, e := range entries {
			names = append(names, "git/"+e.Name())
		}
	}
	newest := -1
	for _, name := range names {
		if m := epochRE.FindStringSubmatch(name); m != nil {
			if n, err := strconv.Atoi(m[1]); err == nil && n > newest {
				newest = n
			}
		}
	}
	if newest < 0 {
		return 0, errors.New("no epoch (git/N.git) found: not a public-inbox v2 inbox")
	}
	return newest, nil
}

// fetchManifest returns the repository names of the inbox's
// manifest.js.gz (grokmirror's format, which public-inbox-httpd serves).
func fetchManifest(ctx context.Context, cfg PublicInboxConfig) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	u := strings.TrimSuffix(cfg.URL, "/") + "/manifest.js.gz"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	client, err := httpClient(cfg.CABundle)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("manifest %s: %s", u, resp.Status)
	}
	zr, err := gzip.NewReader(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("manifest %s: %w", u, err)
	}
	var m map[string]json.RawMessage
	if err := json.NewDecoder(io.LimitReader(zr, maxManifest)).Decode(&m); err != nil {
		return nil, fmt.Errorf("manifest %s: %w", u, err)
	}
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	return names, nil
}

// httpClient is the client of the manifest request: the system roots,
// plus caBundle's.
func httpClient(caBundle []byte) (*http.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if len(caBundle) > 0 {
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(caBundle) {
			return nil, errors.New("CA bundle holds no PEM certificate")
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return &http.Client{Transport: tr}, nil
}

// ProbePublicInbox checks that the inbox can be followed, reading no
// message: it finds the newest epoch (the manifest of a remote inbox) and
// lists its branch. It returns the newest epoch's number.
func ProbePublicInbox(ctx context.Context, cfg PublicInboxConfig) (int, error) {
	cfg.Timeout = cmp.Or(cfg.Timeout, DefaultTimeout)
	epoch, err := newestEpoch(ctx, cfg)
	if err != nil {
		return 0, fmt.Errorf("public-inbox %s: %w", cfg.URL, err)
	}
	ok, err := epochExists(ctx, cfg, epoch)
	if err == nil && !ok {
		err = errors.New("not found")
	}
	if err == nil && !cfg.remote() {
		_, err = git.PlainOpen(cfg.epochURL(epoch))
	}
	if err != nil {
		return 0, fmt.Errorf("public-inbox %s epoch %d: %w", cfg.URL, epoch, err)
	}
	return epoch, nil
}
