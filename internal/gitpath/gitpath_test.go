package gitpath

import (
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rtbot/rtbot/internal/testkit"
)

const (
	regular = 0o100644
	symlink = 0o120000
)

// gitmodulesNames are the names git's own test of is_dotgitmodules
// (t/t0060-path-utils.sh, "match .gitmodules") expects to match, and
// notGitmodulesNames those it expects not to.
var (
	gitmodulesNames = []string{
		".gitmodules", ".git\u200cmodules", ".Gitmodules", ".gitmoduleS",
		".gitmodules ", ".gitmodules.", ".gitmodules  ", ".gitmodules. ", ".gitmodules .", ".gitmodules..",
		".gitmodules   ", ".gitmodules.  ", ".gitmodules . ", ".gitmodules  .",
		".Gitmodules ", ".Gitmodules.", ".Gitmodules  ", ".Gitmodules. ", ".Gitmodules .", ".Gitmodules..",
		".Gitmodules   ", ".Gitmodules.  ", ".Gitmodules . ", ".Gitmodules  .",
		"GITMOD~1", "gitmod~1", "GITMOD~2", "gitmod~3", "GITMOD~4",
		"GITMOD~1 ", "gitmod~2.", "GITMOD~3  ", "gitmod~4. ", "GITMOD~1 .", "gitmod~2   ", "GITMOD~3.  ", "gitmod~4 . ",
		"GI7EBA~1", "gi7eba~9",
		"GI7EB~10", "GI7EB~11", "GI7EB~99", "GI7EB~10", "GI7E~100", "GI7E~101", "GI7E~999", "~1000000", "~9999999",
		".gitmodules:$DATA", "gitmod~4 . :$DATA",
	}
	notGitmodulesNames = []string{
		".gitmodules x", ".gitmodules .x", " .gitmodules", "..gitmodules", "gitmodules", ".gitmodule",
		".gitmodules x ", ".gitmodules .x", "GI7EBA~", "GI7EBA~0", "GI7EBA~~1", "GI7EBA~X", "Gx7EBA~1", "GI7EBX~1",
		"GI7EB~1", "GI7EB~01", "GI7EB~1X", ".gitmodules,:$DATA",
	}
)

// dotGitNames are names that are .git on some file system, from git's
// t/t1450-fsck.sh ("fsck notices .git in trees" and friends) and
// is_ntfs_dotgit's and is_hfs_dotgit's comments; notDotGitNames are close
// to them but are not (t1450's "fsck allows .Ňit" among them).
var (
	dotGitNames = []string{
		".git", ".GIT", ".Git", ".gI\u200cT", "\u200e.git", ".git\u200f", ".\ufeffg\u206ai\u202et",
		"git~1", "GIT~1", "Git~1 ", ".git.", ".git ", ".git. . .", ".git::$INDEX_ALLOCATION", ".git:x",
		".\\.GIT\\foobar", ".git\\foobar", "x\\git~1", "a\\b\\.git.",
	}
	notDotGitNames = []string{
		".\u0147it", ".gitignore", ".gitattributes", ".github", ".gitx", "git~2", "git~10", "git", "x.git", ".g it",
		".git~1", "gi~1", ".gi\u200bt", ".mailmap", ".gitmodules",
	}
)

// TestGitVectors checks the names git's own tests use: .git under any name
// is refused whatever the mode; .gitmodules under any name is refused for a
// symbolic link and allowed for a regular file; names close to them pass.
func TestGitVectors(t *testing.T) {
	for _, n := range dotGitNames {
		for _, mode := range []uint32{regular, symlink} {
			if Verify(n, mode) == nil || Verify("dir/"+n+"/x", mode) == nil {
				t.Errorf("%q (mode %o) is .git and was allowed", n, mode)
			}
		}
	}
	for _, n := range gitmodulesNames {
		if err := Verify(n, symlink); err == nil || !strings.Contains(err.Error(), ".gitmodules") {
			t.Errorf("link %q: %v, want .gitmodules refused", n, err)
		}
		if err := Verify("sub/"+n, regular); err != nil {
			t.Errorf("file %q: %v", n, err)
		}
	}
	for _, n := range append(notGitmodulesNames, notDotGitNames...) {
		for _, mode := range []uint32{regular, symlink} {
			if err := Verify("sub/"+n, mode); err != nil && !(mode == symlink && n == ".gitmodules") {
				t.Errorf("%q (mode %o): %v", n, mode, err)
			}
		}
	}
}

// TestVerifyReasons checks the refusals of paths, not names, and that each
// error says why.
func TestVerifyReasons(t *testing.T) {
	for path, want := range map[string]string{
		"":                       "empty path",
		"/etc/passwd":            "absolute path",
		"a//b":                   "empty path component",
		"a/":                     "empty path component",
		"a/./b":                  `"." component`,
		"../b":                   `".." component`,
		".git/config":            "path inside .git",
		"a/.GIT/hooks/x":         "path inside .git",
		"a/.git./config":         `".git." is .git on NTFS`,
		"drivers/git~1/config":   `"git~1" is the NTFS short name of .git`,
		".g\u200cit/config":      `".g\u200cit" is .git on HFS+`,
		"x\\.git\\config":        `a backslash followed by ".git\\config" is .git on NTFS`,
		"\\.git":                 "a backslash followed by",
		"a\x00b":                 "NUL",
		"a/.git::$INDEX_ALLOC/x": "is_ntfs_dotgit",
	} {
		if err := Verify(path, regular); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Verify(%q) = %v, want %q", path, err, want)
		}
	}
	if err := Verify("lib/.gitmodules.", symlink); err == nil || !strings.Contains(err.Error(), `".gitmodules." is .gitmodules on NTFS`) {
		t.Errorf("link lib/.gitmodules.: %v", err)
	}
}

// TestAgreesWithGit asks the git installed here: every path and name of
// the tests above, as a regular file and as a symbolic link, is refused by
// Verify exactly when git update-index (verify_path, with core.protectHFS
// and core.protectNTFS) or git fsck --strict on a tree with that one entry
// refuses it.
func TestAgreesWithGit(t *testing.T) {
	testkit.NeedGit(t)
	repo := t.TempDir()
	testkit.Git(t, repo, "init", "-q")
	blob := testkit.Git(t, repo, "hash-object", "-w", "--stdin")
	names := append(append(append(append([]string{}, gitmodulesNames...), notGitmodulesNames...), dotGitNames...), notDotGitNames...)
	paths := append([]string{"/etc/passwd", "a//b", "a/", "a/./b", "../b", "a/.git./config", "drivers/git~1/config",
		".g\u200cit/config", "sub/.gitmodules", "a\\..\\b", "x\\.git\\config", ".gitmodules/x"}, names...)
	for _, mode := range []uint32{regular, symlink} {
		trees := map[string]string{} // tree id -> name
		for _, n := range names {
			trees[mktree(t, repo, mode, blob, n)] = n
		}
		refused := fsckRefuses(t, repo, trees)
		for _, p := range paths {
			gitRefuses := updateIndexRefuses(t, repo, mode, blob, p) || refused[p] && !strings.Contains(p, "/")
			if got := Verify(p, mode) != nil; got != gitRefuses {
				t.Errorf("%q mode %o: Verify refuses it %v, git %v (%v)", p, mode, got, gitRefuses, Verify(p, mode))
			}
		}
	}
}

// mktree writes a tree with the one entry name (blob, mode) and returns its
// id.
func mktree(t *testing.T, repo string, mode uint32, blob, name string) string {
	t.Helper()
	cmd := testkit.GitCommand(repo, t.TempDir(), nil, "mktree")
	cmd.Stdin = strings.NewReader(strings.Join([]string{formatMode(mode), "blob", blob}, " ") + "\t" + name + "\n")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("git mktree %q: %v", name, err)
	}
	return strings.TrimSpace(string(out))
}

// fsckRefuses runs git fsck --strict and returns the names whose tree it
// reports as an error. (A symbolic link named .gitignore, .gitattributes
// or .mailmap is only a warning, even with --strict.)
func fsckRefuses(t *testing.T, repo string, trees map[string]string) map[string]bool {
	t.Helper()
	out, _ := testkit.RunGit(t, repo, nil, "fsck", "--strict", "--no-dangling", "--no-progress")
	refused := map[string]bool{}
	for id, n := range trees {
		if strings.Contains(out, "error in tree "+id) {
			refused[n] = true
		}
	}
	return refused
}

// updateIndexRefuses reports whether git update-index refuses path, with
// core.protectHFS and core.protectNTFS, in a new index.
func updateIndexRefuses(t *testing.T, repo string, mode uint32, blob, path string) bool {
	t.Helper()
	index := "GIT_INDEX_FILE=" + filepath.Join(t.TempDir(), "index")
	_, err := testkit.RunGit(t, repo, []string{index}, "-c", "core.protectHFS=true", "-c", "core.protectNTFS=true",
		"update-index", "--add", "--cacheinfo", formatMode(mode)+","+blob+","+path)
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatal(err)
	}
	return err != nil
}

func formatMode(mode uint32) string { return fmt.Sprintf("%06o", mode) }

// FuzzVerify checks that no path makes Verify panic, and that what it
// accepts has no component that is plainly unsafe.
func FuzzVerify(f *testing.F) {
	for _, n := range append(append(append([]string{}, gitmodulesNames...), dotGitNames...), notDotGitNames...) {
		f.Add("dir/"+n, uint32(symlink))
	}
	f.Fuzz(func(t *testing.T, path string, mode uint32) {
		if Verify(path, mode) != nil {
			return
		}
		if strings.HasPrefix(path, "/") {
			t.Fatalf("accepted absolute %q", path)
		}
		for _, c := range strings.Split(path, "/") {
			if c == "" || c == "." || c == ".." || equalFoldASCII(c, ".git") || equalFoldASCII(c, "git~1") ||
				isLink(mode) && equalFoldASCII(c, ".gitmodules") {
				t.Fatalf("accepted %q (mode %o) with component %q", path, mode, c)
			}
		}
	})
}
