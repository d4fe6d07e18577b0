package remote

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"github.com/go-git/go-git/v5/plumbing/transport"
)

// CheckPush checks, without pushing anything, that rtbot may push to the
// remote at (a remote configured in the repository at repoPath, a URL or
// a path) with at's credentials: it opens the session `git push` opens
// (git-receive-pack), reads the refs the server advertises, and ends the
// session with a flush packet, as `git push` does when everything is up
// to date. No ref moves and no hook runs.
//
// This is how rtbot proves a push remote writable: the servers rtbot
// pushes to decide whether a user may push when that session opens
// (GitHub, GitLab, Gitea and Forgejo, gitolite, git http-backend, which
// needs an authenticated user), so a missing or revoked token, a key
// without write access or a read-only URL fails here with the server's
// answer. A rule that protects only some branch names (rtbot pushes under
// rtbot/) shows only at the push itself. A local repository (a path or
// file://) runs git-receive-pack as rtbot's own user, so its objects and
// refs directories must be writable by that user too. Every push rtbot
// makes carries its lease in the update command itself (see Push), which
// any receive-pack honours: there is no server capability to check.
func CheckPush(ctx context.Context, repoPath string, at Endpoint) error {
	s, err := open(repoPath, at)
	if err != nil {
		return err
	}
	ep, cl, err := s.client()
	if err != nil {
		return &Error{Op: "push", Remote: s.name, Err: err}
	}
	// bounded: go-git's ssh and git:// transports dial without the context.
	err = bounded(ctx, func() error {
		sess, err := cl.NewReceivePackSession(ep, s.auth)
		if err != nil {
			return err
		}
		_, err = sess.AdvertisedReferencesContext(ctx)
		if cerr := sess.Close(); err == nil && cerr != nil && !errors.Is(cerr, transport.ErrEmptyRemoteRepository) {
			err = cerr
		}
		return err
	})
	if err != nil && !errors.Is(err, transport.ErrEmptyRemoteRepository) {
		return wrap("push", s.name, "", err)
	}
	if ep.Protocol == "file" {
		if err := writableRepo(ep.Path); err != nil {
			return &Error{Op: "push", Remote: s.name, Err: err}
		}
	}
	return nil
}

// writableRepo checks that the objects and refs directories of the
// repository at path (bare, or with a .git directory) are writable.
func writableRepo(path string) error {
	gitDir := path
	if st, err := os.Stat(filepath.Join(path, ".git")); err == nil && st.IsDir() {
		gitDir = filepath.Join(path, ".git")
	}
	for _, d := range []string{"objects", "refs"} {
		// access(2) with W_OK, as git itself would meet it.
		if err := syscall.Access(filepath.Join(gitDir, d), 0x2); err != nil {
			return fmt.Errorf("rtbot's user cannot write %s: %w", filepath.Join(gitDir, d), err)
		}
	}
	return nil
}
