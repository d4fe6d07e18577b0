// Package gitpath holds git's rules for the paths a tree may hold: the
// paths `git apply`, `git add` and checkout refuse (verify_path in git's
// read-cache.c) and the tree entry names `git fsck` reports (fsck_tree in
// fsck.c). Besides "." and ".." components and .git itself, they refuse
// the other names a file system gives .git: NTFS's short name git~1, its
// trailing dots and spaces and its alternate data streams (.git. and
// .git::$INDEX_ALLOCATION), and the names HFS+ folds onto .git because it
// ignores some invisible code points (.g\u200cit); and the same names of
// .gitmodules for a symbolic link. A checkout on such a file system would
// write into the repository's own .git directory, or let a link stand for
// .gitmodules.
//
// It is a port of git's functions, as git's master branch has them (the
// tests check it against the git installed, 2.39 here), with both
// core.protectHFS and core.protectNTFS on (as fsck always checks) on
// a build for a system whose only directory separator is "/": the rules
// git applies only on Windows (drive letters, reserved device names,
// backslash as a separator) are not ported. Each function names the git
// function it mirrors. go-git has a port of its own, but in an internal
// package, and with Windows rules mixed in.
//
// gitpath imports no other rtbot package.
package gitpath

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// modeTypeMask, modeSymlink and modeDir are S_IFMT, S_IFLNK and S_IFDIR,
// in git's mode bits.
const (
	modeTypeMask = 0o170000
	modeSymlink  = 0o120000
	modeDir      = 0o040000
)

func isLink(mode uint32) bool { return mode&modeTypeMask == modeSymlink }

// Verify returns an error when git would not let path (slash-separated,
// relative to the top of the tree) into a tree as a file of the given git
// mode (0o100644, 0o100755, 0o120000 for a symbolic link; 0 when unknown):
// an empty or absolute path, an empty, "." or ".." component, .git under
// any of its names, .gitmodules under any of its names for a symbolic
// link, or a NUL byte. The error says which component and why, and names
// the git function that refuses it. Verify applies verify_path's rules
// (verifyPath) and then fsck_tree's to every component (fsckName).
func Verify(path string, mode uint32) error {
	switch {
	case path == "":
		return errors.New("empty path")
	case strings.IndexByte(path, 0) >= 0:
		return errors.New("NUL byte in path")
	}
	if err := verifyPath(path, mode); err != nil {
		return err
	}
	for rest := path; ; {
		name, after, more := strings.Cut(rest, "/")
		m := mode
		if more {
			m = modeDir
		}
		if err := fsckName(name, m); err != nil {
			return err
		}
		if !more {
			return nil
		}
		rest = after
	}
}

// verifyPath ports verify_path_internal (read-cache.c) with protect_hfs
// and protect_ntfs set: at the start of every component it refuses .git
// (is_hfs_dotgit, is_ntfs_dotgit) and, for a symbolic link, .gitmodules
// (is_hfs_dotgitmodules, is_ntfs_dotgitmodules) under any name, and an
// empty component, "." and ".." and .git itself (verify_dotfile); after
// every backslash inside a component, .git and .gitmodules under their
// NTFS names. A path is never a directory here, so a trailing "/" is
// refused (git allows one only for sparse-index directory entries).
func verifyPath(path string, mode uint32) error {
	i := 0 // the start of the component being checked
	for {
		// git's "inside:" label: path[i:] starts a component.
		if err := componentStart(path, i, mode); err != nil {
			return err
		}
		if i == len(path) {
			return errors.New("empty path component")
		}
		c := path[i]
		i++
		if c == '/' {
			if i == 1 {
				return errors.New("absolute path")
			}
			return errors.New("empty path component")
		}
		if c == '.' {
			if err := verifyDotfile(path[i:], mode); err != nil {
				return err
			}
		}
		for ; i < len(path) && path[i] != '/'; i++ {
			if path[i] == '\\' {
				if err := afterBackslash(path[i+1:], mode, "git's verify_path"); err != nil {
					return err
				}
			}
		}
		if i == len(path) {
			return nil
		}
		i++ // past the "/"
	}
}

// componentStart is what verify_path_internal checks where a component
// starts: path[i:] must not be .git, or .gitmodules for a link, under the
// names HFS+ and NTFS give them.
func componentStart(path string, i int, mode uint32) error {
	rest := path[i:]
	switch {
	case isHFSDotGit(rest):
		return dotGit(rest, hfs(".git"), "is_hfs_dotgit")
	case isLink(mode) && isHFSDotGitmodules(rest):
		return dotGitmodules(rest, hfs(".gitmodules"), "is_hfs_dotgitmodules")
	case isNTFSDotGit(rest):
		return dotGit(rest, ntfs(rest, ".git"), "is_ntfs_dotgit")
	case isLink(mode) && isNTFSDotGitmodules(rest):
		return dotGitmodules(rest, ntfs(rest, ".gitmodules"), "is_ntfs_dotgitmodules")
	}
	return nil
}

// afterBackslash checks what follows a backslash inside a component, which
// NTFS takes for a directory separator (the backslash branch of
// verify_path_internal, and fsck_tree's loop over backslashes; fn names
// which).
func afterBackslash(rest string, mode uint32, fn string) error {
	switch {
	case isNTFSDotGit(rest):
		return fmt.Errorf(`a backslash followed by %q is .git on NTFS, which takes "\" for "/" (%s refuses it)`, component(rest), fn)
	case isLink(mode) && isNTFSDotGitmodules(rest):
		return fmt.Errorf(`a backslash followed by %q is .gitmodules on NTFS, which takes "\" for "/", and may not be a symbolic link (%s refuses it)`,
			component(rest), fn)
	}
	return nil
}

// verifyDotfile ports verify_dotfile (read-cache.c): rest follows the '.'
// that starts a component, which must not be ".", "..", .git in any case,
// or .gitmodules in any case for a symbolic link.
func verifyDotfile(rest string, mode uint32) error {
	end := func(k int) bool { return k == len(rest) || rest[k] == '/' }
	switch {
	case end(0):
		return errors.New(`"." component`)
	case rest[0] == '.' && end(1):
		return errors.New(`".." component`)
	case len(rest) >= 3 && equalFoldASCII(rest[:3], "git") && end(3):
		return errors.New("path inside .git")
	case isLink(mode) && len(rest) >= 10 && equalFoldASCII(rest[:10], "gitmodules") && end(10):
		return dotGitmodules("."+rest, "", "verify_dotfile")
	}
	return nil
}

// fsckName ports the checks fsck_tree (fsck.c) makes of each tree entry's
// name: empty, "." and "..", .git under its HFS+ and NTFS names (the
// hasDotgit report), and .gitmodules under those names as a symbolic link
// (gitmodulesSymlink), also after each backslash in the name. fsck only
// notes symbolic links named .gitattributes, .gitignore or .mailmap (at
// its "info" level, even with --strict), so they are allowed here too.
func fsckName(name string, mode uint32) error {
	switch {
	case name == "":
		return errors.New("empty path component")
	case name == "." || name == "..":
		return fmt.Errorf("%q component", name)
	case isHFSDotGit(name) || isNTFSDotGit(name):
		return dotGit(name, ".git on HFS+ or NTFS", "fsck's hasDotgit")
	case isLink(mode) && (isHFSDotGitmodules(name) || isNTFSDotGitmodules(name)):
		return dotGitmodules(name, ".gitmodules on HFS+ or NTFS", "fsck's gitmodulesSymlink")
	}
	for i := strings.IndexByte(name, '\\'); i >= 0; {
		if err := afterBackslash(name[i+1:], mode, "git fsck"); err != nil {
			return err
		}
		j := strings.IndexByte(name[i+1:], '\\')
		if j < 0 {
			break
		}
		i += 1 + j
	}
	return nil
}

// hfs says how a component is target on HFS+.
func hfs(target string) string {
	return target + " on HFS+, which ignores some invisible code points and case"
}

// ntfs says how the component at the start of rest is target on NTFS.
func ntfs(rest, target string) string {
	switch c := component(rest); {
	case strings.Contains(c, "~"):
		return "the NTFS short name of " + target
	case strings.Contains(c, ":"):
		return "a stream of " + target + " on NTFS"
	}
	return target + " on NTFS, which drops trailing dots and spaces"
}

// dotGit is the error for the component at the start of rest, which is
// .git, as how says, by git's function fn.
func dotGit(rest, how, fn string) error {
	c := component(rest)
	if equalFoldASCII(c, ".git") {
		return errors.New("path inside .git")
	}
	return fmt.Errorf("%q is %s (git's %s refuses it)", c, how, fn)
}

// dotGitmodules is the error for the component at the start of rest, which
// is .gitmodules, as how says, in a symbolic link, by git's function fn.
func dotGitmodules(rest, how, fn string) error {
	c := component(rest)
	if equalFoldASCII(c, ".gitmodules") {
		return fmt.Errorf(".gitmodules may not be a symbolic link (git's %s refuses it)", fn)
	}
	return fmt.Errorf("%q is %s, which may not be a symbolic link (git's %s refuses it)", c, how, fn)
}

// component is the component at the start of rest.
func component(rest string) string {
	c, _, _ := strings.Cut(rest, "/")
	return shorten(c)
}

// shorten cuts s for an error message: hostile input may be long.
func shorten(s string) string {
	if len(s) <= 80 {
		return s
	}
	return s[:76] + "..."
}

// isHFSDotGit ports is_hfs_dotgit (utf8.c).
func isHFSDotGit(path string) bool { return isHFSDotGeneric(path, "git") }

// isHFSDotGitmodules ports is_hfs_dotgitmodules (utf8.c).
func isHFSDotGitmodules(path string) bool { return isHFSDotGeneric(path, "gitmodules") }

// isHFSDotGeneric ports is_hfs_dot_generic (utf8.c): whether path starts
// with "." and needle (ASCII, lower case) followed by the end or a "/",
// after HFS+ has dropped the code points it ignores and folded ASCII case.
// Invalid UTF-8 reads as the end, as in git.
func isHFSDotGeneric(path, needle string) bool {
	c, i := nextHFSChar(path, 0)
	if c != '.' {
		return false
	}
	for k := 0; k < len(needle); k++ {
		c, i = nextHFSChar(path, i)
		if c > 127 || rune(lower(byte(c))) != rune(needle[k]) {
			return false
		}
	}
	c, _ = nextHFSChar(path, i)
	return c == 0 || c == '/'
}

// nextHFSChar ports next_hfs_char (utf8.c): the code point of s at i,
// skipping those HFS+ ignores, and where the next one starts; 0 at the end
// of s, at a NUL, or where s is not valid UTF-8 (git's pick_one_utf8_char
// also refuses U+FFFE and U+FFFF, which Go's decoder accepts).
func nextHFSChar(s string, i int) (rune, int) {
	for i < len(s) {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n <= 1 || r == 0xfffe || r == 0xffff {
			return 0, len(s)
		}
		i += n
		switch r {
		case 0x200c, 0x200d, 0x200e, 0x200f, // zero width non-joiner, joiner; left-to-right, right-to-left mark
			0x202a, 0x202b, 0x202c, 0x202d, 0x202e, // directional embeddings and overrides
			0x206a, 0x206b, 0x206c, 0x206d, 0x206e, 0x206f, // symmetric swapping, Arabic form shaping, digit shapes
			0xfeff: // zero width no-break space
			continue
		}
		return r, i
	}
	return 0, i
}

// isNTFSDotGit ports is_ntfs_dotgit (path.c): ".git" or "git~1" in any
// case, followed only by dots and spaces up to the end, a separator ("/"
// or "\"), or ":" (an alternate data stream).
func isNTFSDotGit(name string) bool {
	var rest string
	switch {
	case len(name) >= 4 && name[0] == '.' && equalFoldASCII(name[1:4], "git"):
		rest = name[4:]
	case len(name) >= 5 && equalFoldASCII(name[:3], "git") && name[3:5] == "~1":
		rest = name[5:]
	default:
		return false
	}
	for i := 0; i < len(rest); i++ {
		switch rest[i] {
		case 0, '/', '\\', ':':
			return true
		case '.', ' ':
		default:
			return false
		}
	}
	return true
}

// isNTFSDotGitmodules ports is_ntfs_dotgitmodules (path.c); "gi7eba" is
// the prefix of the short name NTFS makes for .gitmodules when the regular
// one is taken.
func isNTFSDotGitmodules(name string) bool { return isNTFSDotGeneric(name, "gitmodules", "gi7eba") }

// isNTFSDotGeneric ports is_ntfs_dot_generic (path.c): name is "." and
// dotgitName (in any case), or its NTFS short name (the first six
// characters of dotgitName, "~" and 1 to 4), or its fall-back short name
// (shortPrefix, a "~" and digits, eight characters in all), followed only
// by dots and spaces up to the end or a ":".
func isNTFSDotGeneric(name, dotgitName, shortPrefix string) bool {
	onlySpacesAndPeriods := func(i int) bool {
		for ; i < len(name); i++ {
			switch name[i] {
			case 0, ':':
				return true
			case ' ', '.':
			default:
				return false
			}
		}
		return true
	}
	if len(name) > len(dotgitName) && name[0] == '.' && equalFoldASCII(name[1:1+len(dotgitName)], dotgitName) {
		return onlySpacesAndPeriods(len(dotgitName) + 1)
	}
	if len(name) >= 8 && equalFoldASCII(name[:6], dotgitName[:6]) && name[6] == '~' && name[7] >= '1' && name[7] <= '4' {
		return onlySpacesAndPeriods(8)
	}
	i, ok := ntfsFallbackShortName(name, shortPrefix)
	return ok && onlySpacesAndPeriods(i)
}

// ntfsFallbackShortName is the loop of is_ntfs_dot_generic that matches
// a fall-back short name in the first eight characters of name: up to six
// characters of shortPrefix (lower case), then "~", a digit 1 to 9 and
// more digits. It returns where the name goes on.
func ntfsFallbackShortName(name, shortPrefix string) (int, bool) {
	sawTilde := false
	i := 0
	for ; i < 8; i++ {
		switch {
		case i >= len(name) || name[i] == 0:
			return 0, false
		case sawTilde:
			if name[i] < '0' || name[i] > '9' {
				return 0, false
			}
		case name[i] == '~':
			i++
			if i >= len(name) || name[i] < '1' || name[i] > '9' {
				return 0, false
			}
			sawTilde = true
		case i >= 6, name[i]&0x80 != 0, lower(name[i]) != shortPrefix[i]:
			return 0, false
		}
	}
	return i, true
}

// equalFoldASCII is C's strncasecmp(a, b, len(b)) == 0 for len(a) ==
// len(b): only ASCII letters fold.
func equalFoldASCII(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if lower(a[i]) != lower(b[i]) {
			return false
		}
	}
	return true
}

// lower is C's tolower in the C locale.
func lower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}
