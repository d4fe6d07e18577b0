// Package remote fetches candidates into and pushes results out of a local
// repository with go-git: no git command line is assembled, and nothing is
// added to the repository's configuration.
//
// rtbot moves only refs of its own: fetches land under refs/rtbot/, and
// pushes go to branches under rtbot/ with a lease, so a branch a human
// moved is never overwritten.
//
// Credentials: ssh remotes use the ssh agent (go-git's default), https
// remotes go unauthenticated unless the URL carries credentials, and local
// paths and file:// URLs use git's upload-pack and receive-pack programs,
// as go-git's file transport does.
package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/go-git/go-git/v5"
	gitconfig "github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/rtbot/rtbot/refname"
)

// ErrStale is wrapped by Push's error when the remote branch is not where
// the lease says.
var ErrStale = errors.New("remote branch moved: stale lease")

// Namespace is the prefix of every ref Fetch writes.
const Namespace = "refs/rtbot/"

// BranchNamespace is the prefix of every branch Push moves.
const BranchNamespace = "rtbot/"

// Error is a failed fetch or push.
type Error struct {
	Op     string // "fetch", "push", "list"
	Remote string
	Ref    string
	// Temporary says a later attempt may succeed: the network failed, not
	// the request.
	Temporary bool
	Err       error
}

func (e *Error) Error() string { return fmt.Sprintf("%s %s %s: %v", e.Op, e.Remote, e.Ref, e.Err) }

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// IsTemporary reports whether err is a fetch or push failure worth
// retrying later.
func IsTemporary(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Temporary
}

func wrap(op, remote, ref string, err error) error {
	e := &Error{Op: op, Remote: remote, Ref: ref, Err: err}
	var ne net.Error
	var oe *net.OpError
	switch {
	case errors.Is(err, ErrStale), errors.Is(err, transport.ErrAuthenticationRequired),
		errors.Is(err, transport.ErrAuthorizationFailed), errors.Is(err, transport.ErrRepositoryNotFound),
		errors.Is(err, transport.ErrEmptyRemoteRepository):
	case errors.As(err, &ne), errors.As(err, &oe), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, context.DeadlineExceeded):
		e.Temporary = true
	case strings.Contains(err.Error(), "connection refused"), strings.Contains(err.Error(), "connection reset"),
		strings.Contains(err.Error(), "i/o timeout"), strings.Contains(err.Error(), "no route to host"):
		e.Temporary = true
	}
	return e
}

// checkRemote refuses remote names and URLs that could be taken for
// options or carry control characters.
func checkRemote(s string) error {
	if s == "" || strings.HasPrefix(s, "-") || strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return fmt.Errorf("remote %q: not a usable remote name, URL or path", s)
	}
	return nil
}

// open opens the repository and a remote for s: a configured remote's name,
// or else an anonymous remote for the URL or path s.
func open(repoPath, s string) (*git.Repository, *git.Remote, error) {
	if err := checkRemote(s); err != nil {
		return nil, nil, err
	}
	repo, err := git.PlainOpen(repoPath)
	if err != nil {
		return nil, nil, fmt.Errorf("repository %s: %w", repoPath, err)
	}
	if r, err := repo.Remote(s); err == nil {
		return repo, r, nil
	}
	r := git.NewRemote(repo.Storer, &gitconfig.RemoteConfig{Name: "anonymous", URLs: []string{s}})
	return repo, r, nil
}

// Fetch fetches branch from url into the repository at repoPath as ref (a
// full ref name under refs/rtbot/, force-updated) and returns the fetched
// commit. progress, when not nil, receives the server's progress text.
func Fetch(ctx context.Context, repoPath, url, branch, ref string, progress io.Writer) (plumbing.Hash, error) {
	if !strings.HasPrefix(ref, Namespace) || refname.Branch(strings.TrimPrefix(ref, "refs/")) != nil {
		return plumbing.ZeroHash, fmt.Errorf("fetch into %q: rtbot fetches only into refs under %s", ref, Namespace)
	}
	if err := refname.Branch(branch); err != nil {
		return plumbing.ZeroHash, fmt.Errorf("fetch %s: %w", url, err)
	}
	repo, r, err := open(repoPath, url)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	spec := gitconfig.RefSpec("+refs/heads/" + branch + ":" + ref)
	err = r.FetchContext(ctx, &git.FetchOptions{RemoteName: r.Config().Name, RefSpecs: []gitconfig.RefSpec{spec}, Progress: progress, Tags: git.NoTags})
	if err != nil && !errors.Is(err, git.NoErrAlreadyUpToDate) {
		if errors.Is(err, git.NoMatchingRefSpecError{}) || strings.Contains(err.Error(), "couldn't find remote ref") {
			return plumbing.ZeroHash, &Error{Op: "fetch", Remote: url, Ref: branch, Err: fmt.Errorf("no branch %s there", branch)}
		}
		return plumbing.ZeroHash, wrap("fetch", url, branch, err)
	}
	got, err := repo.Reference(plumbing.ReferenceName(ref), true)
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("fetch %s %s: %s: %w", url, branch, ref, err)
	}
	return got.Hash(), nil
}

// RemoteHead returns the commit branch points at on remote, or the zero
// hash when the remote has no such branch.
func RemoteHead(ctx context.Context, repoPath, remote, branch string) (plumbing.Hash, error) {
	_, r, err := open(repoPath, remote)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	refs, err := r.ListContext(ctx, &git.ListOptions{})
	if err != nil {
		if errors.Is(err, transport.ErrEmptyRemoteRepository) {
			return plumbing.ZeroHash, nil
		}
		return plumbing.ZeroHash, wrap("list", remote, branch, err)
	}
	want := plumbing.NewBranchReferenceName(branch)
	for _, ref := range refs {
		if ref.Name() == want {
			return ref.Hash(), nil
		}
	}
	return plumbing.ZeroHash, nil
}

// Push makes branch (under rtbot/) on remote point at commit, provided the
// remote branch is at lease now (the zero hash: absent). A remote branch
// already at commit is success without a push (a rerun after a crash); one
// anywhere else is an error wrapping ErrStale. The check and the push are
// two requests, and go-git's lease closes the window between them when the
// branch exists; a branch created by someone else in that window makes the
// push fail as non-fast-forward instead.
func Push(ctx context.Context, repoPath, remote, branch string, commit, lease plumbing.Hash, progress io.Writer) error {
	if !strings.HasPrefix(branch, BranchNamespace) || refname.Branch(branch) != nil {
		return fmt.Errorf("push %q: rtbot only pushes valid branch names under %s", branch, BranchNamespace)
	}
	cur, err := RemoteHead(ctx, repoPath, remote, branch)
	if err != nil {
		return err
	}
	if cur == commit {
		return nil
	}
	if cur != lease {
		return &Error{Op: "push", Remote: remote, Ref: branch,
			Err: fmt.Errorf("%w: it is at %s, expected %s", ErrStale, short(cur), short(lease))}
	}
	_, r, err := open(repoPath, remote)
	if err != nil {
		return err
	}
	rn := plumbing.NewBranchReferenceName(branch)
	opts := &git.PushOptions{
		RemoteName: r.Config().Name,
		RefSpecs:   []gitconfig.RefSpec{gitconfig.RefSpec(commit.String() + ":" + rn.String())},
		Progress:   progress,
	}
	if !lease.IsZero() {
		opts.RefSpecs[0] = "+" + opts.RefSpecs[0]
		opts.ForceWithLease = &git.ForceWithLease{RefName: rn, Hash: lease}
	}
	if err := r.PushContext(ctx, opts); err != nil && !errors.Is(err, git.NoErrAlreadyUpToDate) {
		return wrap("push", remote, branch, err)
	}
	return nil
}

func short(h plumbing.Hash) string {
	if h.IsZero() {
		return "nothing (absent)"
	}
	return h.String()[:12]
}
