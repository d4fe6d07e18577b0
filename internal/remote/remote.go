// Package remote fetches candidates into and pushes results out of a local
// repository: go-git speaks to the remote (the connection, the
// authentication, the ref advertisement, the lease), and git does the
// object work on the local repository (git index-pack writes a fetched
// pack, git pack-objects makes the pack a push sends), against its mapped
// pack indexes, bitmaps and commit-graph: at 10 million objects go-git's
// own fetch decoded every pack index into ~1 GB of memory and its push
// walked every tree of the remote's history for 16-18 minutes
// (docs/performance.md). The local git commands run in the repository,
// with no system or global configuration, no prompt and no credential: a
// remote URL or a credential is never on their command line, and nothing
// is added to the repository's configuration (a URL or path is used
// through an anonymous remote).
//
// rtbot moves only refs of its own: fetches land under refs/rtbot/, and
// pushes go to branches under rtbot/ with a lease, so a branch a human
// moved is never overwritten.
//
// Transports and credentials ([Endpoint]): ssh remotes log in with a key
// file's key or the ssh agent, and their host key is checked against a
// known_hosts file; https remotes send a token (or the credentials written
// in the URL, https://user:token@host/...) as HTTP basic authentication,
// and trust a private CA when given one; plain http sends credentials only
// to a loopback host; git:// has none. Credentials never stay in the URL
// go-git sees, and every message names a remote by [Endpoint.Name], so no
// error, log line or state row repeats them. Local paths and file:// URLs
// use go-git's file transport, which
// runs git's own git-upload-pack and git-receive-pack programs with the
// path as their only argument (found on PATH or under `git --exec-path`),
// so those need git installed; the network transports are pure Go.
//
// Deadlines come from the context: every operation ends when its context
// does, whatever the remote does (DefaultTimeout and DefaultListTimeout
// are what the pipeline gives them unless configured otherwise). go-git's
// http transport and every transport's reads once connected follow the
// context; its ssh and git:// transports connect (dial, and for ssh the
// handshake) without it, so a server that accepts the connection and
// never answers would hold the operation for ever. Each operation runs on
// its own goroutine: when the context ends it returns at once (after a
// short grace for go-git to notice), and a connection attempt still
// blocked is abandoned, to end when its connection does; it can write
// nothing by then, since everything it would read comes through the
// ended context. No go-git client is installed (that is package-level
// state in go-git): its default clients serve, bounded by the context.
package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	"github.com/rtbot/rtbot/internal/refname"
)

// Default deadlines for the operations of this package, for callers to
// bound their contexts with: a fetch or a push, which transfers objects,
// and a listing of the remote's branches, which does not.
const (
	DefaultTimeout     = 5 * time.Minute
	DefaultListTimeout = time.Minute
)

// abandonGrace is how long an operation whose context ended is given to
// return by itself before it is abandoned.
const abandonGrace = 2 * time.Second

// ErrStale is wrapped by Push's error when the remote branch is neither
// where the lease says nor already at the commit being pushed.
var ErrStale = errors.New("stale lease: the remote branch is not where rtbot left it")

// Namespace is the prefix of every ref Fetch writes.
const Namespace = "refs/rtbot/"

// BranchNamespace is the prefix of every branch Push moves.
const BranchNamespace = "rtbot/"

// Error is a failed fetch, list or push: the remote said no, or could not
// be reached.
type Error struct {
	Op     string // "fetch", "list", "push"
	Remote string // the remote name, URL or path, without credentials (Endpoint.Name)
	Ref    string // the branch
	// Temporary says a later attempt may succeed: the network failed or
	// the server was unavailable, not the request.
	Temporary bool
	Err       error
}

func (e *Error) Error() string {
	if e.Ref == "" {
		return fmt.Sprintf("%s %s: %v", e.Op, e.Remote, e.Err)
	}
	return fmt.Sprintf("%s %s %s: %v", e.Op, e.Remote, e.Ref, e.Err)
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// IsTemporary reports whether err is worth retrying later: network
// failures, timeouts and a server that is unavailable (HTTP 5xx, 429) are
// temporary; authentication and authorisation failures, a missing
// repository or branch, ErrStale, invalid arguments and cancellation are
// not.
func IsTemporary(err error) bool {
	if err == nil {
		return false
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Temporary
	}
	return temporary(err)
}

// temporary classifies a transport error.
func temporary(err error) bool {
	switch {
	case errors.Is(err, ErrStale), errors.Is(err, context.Canceled),
		errors.Is(err, transport.ErrAuthenticationRequired), errors.Is(err, transport.ErrAuthorizationFailed),
		errors.Is(err, transport.ErrInvalidAuthMethod), errors.Is(err, transport.ErrRepositoryNotFound),
		errors.Is(err, transport.ErrEmptyRemoteRepository), errors.Is(err, git.NoMatchingRefSpecError{}):
		return false
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.ETIMEDOUT), errors.Is(err, syscall.EHOSTUNREACH),
		errors.Is(err, syscall.ENETUNREACH), errors.Is(err, syscall.EPIPE):
		return true
	}
	// go-git's plumbing errors do not unwrap; look inside by hand.
	for e := err; e != nil; {
		var ne net.Error
		var he *githttp.Err
		var ue *plumbing.UnexpectedError
		var pe *plumbing.PermanentError
		var errno syscall.Errno
		switch {
		case errors.As(e, &errno):
			// syscall.Errno satisfies net.Error too; the network ones
			// were caught above. A full disk or a permission error is
			// not a network failure and does not pass by itself.
			return false
		case errors.As(e, &he):
			c := he.StatusCode()
			return c >= 500 || c == http.StatusTooManyRequests || c == http.StatusRequestTimeout
		case errors.As(e, &ne):
			return true // dial, DNS, timeouts
		case errors.As(e, &pe):
			return false
		case errors.As(e, &ue):
			e = ue.Err
			continue
		}
		break
	}
	// ssh and the git protocol report some failures as text only.
	msg := err.Error()
	for _, s := range []string{"connection refused", "connection reset", "i/o timeout", "no route to host",
		"network is unreachable", "broken pipe", "TLS handshake timeout", "temporary failure in name resolution"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

func wrap(op, remote, ref string, err error) error {
	return &Error{Op: op, Remote: remote, Ref: ref, Err: err, Temporary: temporary(err)}
}

// bounded runs op, a go-git call given ctx, on its own goroutine and
// returns its error; once ctx has ended, it waits abandonGrace at most
// for op to return and then returns ctx's error without it (see the
// package documentation). When ctx has ended the error says so first:
// the transport's own error is its consequence.
func bounded(ctx context.Context, op func() error) error {
	done := make(chan error, 1)
	go func() { done <- op() }()
	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		t := time.NewTimer(abandonGrace)
		defer t.Stop()
		select {
		case err = <-done:
		case <-t.C:
			err = errors.New("no answer from the remote; connection abandoned")
		}
	}
	if cerr := ctx.Err(); cerr != nil && err != nil && !errors.Is(err, cerr) {
		err = fmt.Errorf("%w (%v)", cerr, err)
	}
	return err
}

// checkRemote refuses remote names, URLs and paths that a transport could
// take for an option (the file transport passes the path to
// git-upload-pack as an argument) or that carry control characters. name
// is s as messages show it.
func checkRemote(s, name string) error {
	if s == "" || strings.HasPrefix(s, "-") || strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return fmt.Errorf("remote %q: not a usable remote name, URL or path", name)
	}
	return nil
}

// Fetch fetches branch from the remote from (a URL, a local path or a
// remote configured in the repository) into the repository at repoPath as
// ref, a full ref name under refs/rtbot/ that is force-updated, and
// returns the fetched commit. A fetch with nothing new is not an error.
// progress, when not nil, receives the server's progress text.
func Fetch(ctx context.Context, repoPath string, from Endpoint, branch, ref string, progress io.Writer) (plumbing.Hash, error) {
	s, h, err := fetchRef(ctx, repoPath, from, "branch", branch, ref, progress)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	switch t, err := s.git.objectType(ctx, h); {
	case err != nil:
		return plumbing.ZeroHash, fmt.Errorf("fetch %s %s: %w", s.name, branch, err)
	case t != "commit":
		return plumbing.ZeroHash, fmt.Errorf("fetch %s %s: %s is not a commit", s.name, branch, h)
	}
	return h, nil
}

// FetchTag is Fetch for the tag named tag ("v6.1.177"): ref holds what the
// tag names (a tag object or a commit), and the commit it names is
// returned.
func FetchTag(ctx context.Context, repoPath string, from Endpoint, tag, ref string, progress io.Writer) (plumbing.Hash, error) {
	s, h, err := fetchRef(ctx, repoPath, from, "tag", tag, ref, progress)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	t, err := s.git.objectType(ctx, h)
	switch {
	case err != nil:
		return plumbing.ZeroHash, fmt.Errorf("fetch %s tag %s: %w", s.name, tag, err)
	case t == "commit":
		return h, nil
	case t != "tag":
		return plumbing.ZeroHash, fmt.Errorf("fetch %s tag %s: %s is not a commit", s.name, tag, h)
	}
	c, err := s.git.peelCommit(ctx, h)
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("fetch %s tag %s: %s does not name a commit: %w", s.name, tag, h, err)
	}
	return c, nil
}

// orNil is err's text, or nothing for nil.
func orNil(err error) string {
	if err == nil {
		return ""
	}
	return ": " + err.Error()
}

// fetchRef fetches the branch or tag (kind) name from the remote into
// ref, and returns what ref holds now. The objects come through go-git's
// upload-pack session and go into the repository through git index-pack
// (see fetchPack): nothing decodes the repository's pack indexes.
func fetchRef(ctx context.Context, repoPath string, from Endpoint, kind, name, ref string, progress io.Writer) (*session, plumbing.Hash, error) {
	if !strings.HasPrefix(ref, Namespace) || refname.Branch(strings.TrimPrefix(ref, "refs/")) != nil {
		return nil, plumbing.ZeroHash, fmt.Errorf("fetch into %q: rtbot fetches only into valid refs under %s", ref, Namespace)
	}
	if err := refname.Branch(name); err != nil {
		return nil, plumbing.ZeroHash, fmt.Errorf("fetch %s: %w", from.Name(), err)
	}
	s, err := open(repoPath, from)
	if err != nil {
		return nil, plumbing.ZeroHash, err
	}
	src := plumbing.NewBranchReferenceName(name)
	if kind == "tag" {
		src = plumbing.NewTagReferenceName(name)
	}
	var h plumbing.Hash
	err = bounded(ctx, func() (err error) {
		h, err = s.fetchPack(ctx, s.git, src, progress)
		return err
	})
	switch {
	case err == nil:
	case errors.Is(err, errNoRef):
		return nil, plumbing.ZeroHash, &Error{Op: "fetch", Remote: s.name, Ref: name, Err: fmt.Errorf("the remote has no %s %s", kind, name)}
	default:
		return nil, plumbing.ZeroHash, wrap("fetch", s.name, name, err)
	}
	if err := s.repo.Storer.SetReference(plumbing.NewHashReference(plumbing.ReferenceName(ref), h)); err != nil {
		return nil, plumbing.ZeroHash, fmt.Errorf("fetch %s %s: %s: %w", s.name, name, ref, err)
	}
	return s, h, nil
}

// RemoteHead returns the commit branch points at on the remote at (a
// remote configured in the repository at repoPath, a URL or a path), or
// the zero hash when the remote has no such branch.
func RemoteHead(ctx context.Context, repoPath string, at Endpoint, branch string) (plumbing.Hash, error) {
	if err := refname.Branch(branch); err != nil {
		return plumbing.ZeroHash, fmt.Errorf("list %s: %w", at.Name(), err)
	}
	s, err := open(repoPath, at)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	return s.head(ctx, branch)
}

func (s *session) head(ctx context.Context, branch string) (plumbing.Hash, error) {
	var refs []*plumbing.Reference
	err := bounded(ctx, func() (err error) {
		refs, err = s.remote.ListContext(ctx, &git.ListOptions{Auth: s.auth, CABundle: s.ca})
		return err
	})
	if err != nil {
		if errors.Is(err, transport.ErrEmptyRemoteRepository) {
			return plumbing.ZeroHash, nil
		}
		return plumbing.ZeroHash, wrap("list", s.name, branch, err)
	}
	want := plumbing.NewBranchReferenceName(branch)
	for _, ref := range refs {
		if ref.Name() == want && ref.Type() == plumbing.HashReference {
			return ref.Hash(), nil
		}
	}
	return plumbing.ZeroHash, nil
}

// Push makes branch (a short name under rtbot/; rtbot never moves anyone
// else's branch) on the remote to point at commit, with a lease: the
// remote branch must be at lease now (the zero hash: it must not exist). A
// remote branch already at commit is success without a push (a rerun after
// a crash); one anywhere else is an error wrapping ErrStale that names both
// commits. to is a remote configured in the repository at repoPath, a URL
// or a path; commit must be in the repository at repoPath.
//
// Push lists the remote (the idempotence and lease check, with a clear
// error) and then pushes requiring, in the push's own ref advertisement,
// that the branch is at lease; the update command carries that old value,
// and git's receive-pack applies it only if the branch is still there.
// The pack holds what commit has that the remote's advertised refs do not
// (git pack-objects, thin, as git push sends it; see sendPack). For a new
// branch one small race remains: a branch created by someone else between
// the listing and the push is overwritten only if commit is a descendant
// of it (a fast-forward); otherwise the push is refused and reported as
// stale.
func Push(ctx context.Context, repoPath string, to Endpoint, branch string, commit, lease plumbing.Hash, progress io.Writer) error {
	if !strings.HasPrefix(branch, BranchNamespace) || refname.Branch(branch) != nil {
		return fmt.Errorf("push %q: rtbot only pushes valid branch names under %s", branch, BranchNamespace)
	}
	if commit.IsZero() {
		return fmt.Errorf("push %s: no commit (rtbot does not delete branches)", branch)
	}
	s, err := open(repoPath, to)
	if err != nil {
		return err
	}
	if t, err := s.git.objectType(ctx, commit); err != nil || t != "commit" {
		return fmt.Errorf("push %s: commit %s is not in %s%s", branch, commit, repoPath, orNil(err))
	}
	cur, err := s.head(ctx, branch)
	if err != nil {
		return err
	}
	if cur == commit {
		return nil
	}
	if cur != lease {
		return stale(s.name, branch, cur, lease, commit)
	}
	return s.send(ctx, branch, commit, lease, progress)
}

// send pushes commit to branch, which the ref advertisement of the push
// itself must show at lease (absent for the zero hash, where only a
// non-fast-forward is refused), and says stale when it was not.
func (s *session) send(ctx context.Context, branch string, commit, lease plumbing.Hash, progress io.Writer) error {
	rn := plumbing.NewBranchReferenceName(branch)
	perr := bounded(ctx, func() error { return s.sendPack(ctx, s.git, rn, commit, lease, progress) })
	if perr == nil {
		return nil
	}
	// Refused or failed: say stale when the branch moved meanwhile, and
	// succeed when it is at commit after all (the push got through before
	// the connection broke). Not once the deadline has passed.
	if ctx.Err() != nil {
		return wrap("push", s.name, branch, perr)
	}
	if now, err := s.head(ctx, branch); err == nil {
		if now == commit {
			return nil
		}
		if now != lease {
			return stale(s.name, branch, now, lease, commit)
		}
	}
	return wrap("push", s.name, branch, perr)
}

func stale(remote, branch string, cur, lease, commit plumbing.Hash) error {
	return &Error{Op: "push", Remote: remote, Ref: branch,
		Err: fmt.Errorf("%w: it is at %s, the lease expected %s (not pushing %s)", ErrStale, short(cur), short(lease), short(commit))}
}

func short(h plumbing.Hash) string {
	if h.IsZero() {
		return "nothing (absent)"
	}
	return h.String()[:12]
}
