package remote

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
)

// gitWaitDelay is how long a local git command is given, once its context
// has ended and its process group was killed, for its pipes to close.
const gitWaitDelay = 2 * time.Second

// maxGitStderr bounds how much of a local git command's standard error an
// error message quotes.
const maxGitStderr = 4 << 10

// localGit runs git on the local repository at dir (bare, or a work
// tree): the object work of a fetch or a push (git pack-objects, git
// index-pack, git cat-file), which git does against its mapped pack
// indexes, bitmaps and commit-graph where go-git would decode every pack
// index into memory (about 1 GB at 10 million objects) and walk every tree
// of the remote's history (minutes). The network side stays go-git's.
type localGit struct{ dir string }

// gitEnv is the environment of a local git command: rtbot's own, without
// any GIT_* variable (a GIT_DIR or GIT_OBJECT_DIRECTORY of the caller must
// not redirect it), without the system and global configuration (only the
// repository's own applies), and with no terminal prompt or askpass.
func gitEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "GIT_") || strings.HasPrefix(kv, "SSH_ASKPASS=") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null",
		"GIT_TERMINAL_PROMPT=0", "GIT_ASKPASS=", "LC_ALL=C")
}

// command returns git with args in g's repository, in a process group of
// its own that is killed when ctx ends.
func (g localGit) command(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "git", append([]string{"-C", g.dir}, args...)...)
	cmd.Env = gitEnv()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = gitWaitDelay
	return cmd
}

// run runs git with args, stdin as its input (nil: none), and returns its
// standard output; a failure names the command and quotes git's message.
func (g localGit) run(ctx context.Context, stdin io.Reader, args ...string) ([]byte, error) {
	cmd := g.command(ctx, args...)
	var out bytes.Buffer
	stderr := &cappedBuffer{max: maxGitStderr}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, &out, stderr
	if err := cmd.Run(); err != nil {
		return out.Bytes(), g.fail(ctx, args, stderr, err)
	}
	return out.Bytes(), nil
}

// fail is the error of a git command that failed with err.
func (g localGit) fail(ctx context.Context, args []string, stderr *cappedBuffer, err error) error {
	name := subcommand(args)
	if cerr := ctx.Err(); cerr != nil {
		return fmt.Errorf("git %s in %s: %w", name, g.dir, cerr)
	}
	msg := strings.TrimSpace(stderr.String())
	if strings.Contains(msg, "dubious ownership") {
		// git's advice (safe.directory in the global configuration)
		// does not apply: rtbot reads none.
		return fmt.Errorf("git %s in %s: %w: the repository belongs to another user than rtbot's; git works only in repositories of its own user (rtbot reads no global git configuration, so safe.directory does not apply)", name, g.dir, err)
	}
	if msg == "" {
		return fmt.Errorf("git %s in %s: %w", name, g.dir, err)
	}
	return fmt.Errorf("git %s in %s: %w: %s", name, g.dir, err, msg)
}

// subcommand is the git command args run, after any "-c key=value".
func subcommand(args []string) string {
	for len(args) > 2 && args[0] == "-c" {
		args = args[2:]
	}
	return args[0]
}

// objectType returns the type of object h ("commit", "tag", ...), or ""
// when the repository does not have it.
func (g localGit) objectType(ctx context.Context, h plumbing.Hash) (string, error) {
	out, err := g.run(ctx, strings.NewReader(h.String()+"\n"), "cat-file", "--batch-check=%(objecttype)")
	if err != nil {
		return "", err
	}
	t := strings.TrimSpace(string(out))
	if strings.HasSuffix(t, " missing") {
		return "", nil
	}
	return t, nil
}

// peelCommit returns the commit that h (a commit, or a tag of one) names.
func (g localGit) peelCommit(ctx context.Context, h plumbing.Hash) (plumbing.Hash, error) {
	out, err := g.run(ctx, nil, "rev-parse", "--verify", "--quiet", "--end-of-options", h.String()+"^{commit}")
	if err != nil {
		return plumbing.ZeroHash, errors.New("it names no commit")
	}
	return plumbing.NewHash(strings.TrimSpace(string(out))), nil
}

// present returns those of hs the repository has, in order.
func (g localGit) present(ctx context.Context, hs []plumbing.Hash) ([]plumbing.Hash, error) {
	if len(hs) == 0 {
		return nil, nil
	}
	var in strings.Builder
	for _, h := range hs {
		in.WriteString(h.String() + "\n")
	}
	out, err := g.run(ctx, strings.NewReader(in.String()), "cat-file", "--batch-check=%(objectname)")
	if err != nil {
		return nil, err
	}
	var have []plumbing.Hash
	for _, line := range strings.Split(string(out), "\n") {
		if len(line) == 40 {
			have = append(have, plumbing.NewHash(line))
		}
	}
	return have, nil
}

// isAncestor reports whether a is an ancestor of b (false when the
// repository lacks a).
func (g localGit) isAncestor(ctx context.Context, a, b plumbing.Hash) bool {
	_, err := g.run(ctx, nil, "merge-base", "--is-ancestor", a.String(), b.String())
	return err == nil
}

// cappedBuffer keeps the first max bytes written to it.
type cappedBuffer struct {
	buf bytes.Buffer
	max int
}

func (b *cappedBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.buf.Len(); room > 0 {
		b.buf.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func (b *cappedBuffer) String() string { return b.buf.String() }

// CheckLocalGit checks that git, which does the object work of every
// fetch and push, runs in the repository at repoPath as rtbot runs it:
// git is installed, and the repository belongs to rtbot's user. It
// returns git's version on success.
func CheckLocalGit(ctx context.Context, repoPath string) (string, error) {
	if _, err := exec.LookPath("git"); err != nil {
		return "", fmt.Errorf("git is not installed (%w): rtbot runs git for the object work of every fetch and push", err)
	}
	g := localGit{dir: repoPath}
	if _, err := g.run(ctx, nil, "rev-parse", "--git-dir"); err != nil {
		return "", err
	}
	out, err := g.run(ctx, nil, "version")
	return strings.TrimSpace(string(out)), err
}
