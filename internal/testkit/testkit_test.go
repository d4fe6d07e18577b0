package testkit

import (
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestNormalizeMail(t *testing.T) {
	for _, tc := range []struct {
		name, raw string
		oldnew    []string
		want      string
	}{
		{"plain, CRLF",
			"From: a@b\r\nDate: Mon, 07 Dec 2026 13:37:34 +0000\r\n\r\nbody\r\n", nil,
			"From: a@b\nDate: <date>\n\nbody\n"},
		{"quoted-printable, first header",
			"Content-Transfer-Encoding: quoted-printable\nDate: x\n\nin /tmp/T1/d/linux.git=\n and =3D\n", []string{"/tmp/T1/d", "$DIR"},
			"Content-Transfer-Encoding: quoted-printable\nDate: <date>\n\nin $DIR/linux.git and =\n"},
		{"quoted-printable, any case",
			"X: y\ncontent-transfer-encoding: Quoted-Printable\n\na=3Db\n", nil,
			"X: y\ncontent-transfer-encoding: Quoted-Printable\n\na=b\n"},
		{"not encoded: =3D stays",
			"X: y\n\na=3Db commit 0123456789ab\n", []string{"0123456789ab", "<result>"},
			"X: y\n\na=3Db commit <result>\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := string(NormalizeMail(t, []byte(tc.raw), tc.oldnew...)); got != tc.want {
				t.Errorf("got\n%q\nwant\n%q", got, tc.want)
			}
		})
	}
}

func TestFirstDifference(t *testing.T) {
	for _, tc := range []struct{ want, got, diff string }{
		{"a\nb\n", "a\nc\n", "line 2:\n  want \"b\\n\"\n  got  \"c\\n\""},
		{"a\n", "a\nb\n", "line 2:\n  want \"\"\n  got  \"b\\n\""},
		{"a\nb", "a\nb\n", "line 2:\n  want \"b\"\n  got  \"b\\n\""},
	} {
		if d := firstDifference(tc.want, tc.got); d != tc.diff {
			t.Errorf("firstDifference(%q, %q) = %q, want %q", tc.want, tc.got, d, tc.diff)
		}
	}
}

func TestGoldenMatches(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.golden")
	if err := os.WriteFile(path, []byte("same\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	Golden(t, path, []byte("same\n"))
}

func TestGitCommitter(t *testing.T) {
	dir := t.TempDir()
	Git(t, dir, "init", "-q")
	when := time.Date(2026, 2, 2, 2, 2, 2, 0, time.UTC)
	GitWith(t, dir, GitCommitter("rtbot", "rtbot@localhost", when), "commit", "-q", "--allow-empty", "-m", "x")
	if got := Git(t, dir, "log", "-1", "--format=%an <%ae>|%cn <%ce> %cI"); got != IdentityName+" <"+IdentityEmail+">|rtbot <rtbot@localhost> 2026-02-02T02:02:02+00:00" {
		t.Errorf("commit by %q", got)
	}
	if out, err := RunGit(t, dir, nil, "rev-parse", "no-such-rev"); err == nil || !strings.Contains(out, "no-such-rev") {
		t.Errorf("RunGit of a failing command = %q, %v", out, err)
	}
}

func TestServeAndClosedPort(t *testing.T) {
	addr := Serve(t, func(c net.Conn) {
		defer c.Close()
		io.WriteString(c, "hello\n")
	})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if b, err := io.ReadAll(c); err != nil || string(b) != "hello\n" {
		t.Errorf("read %q, %v", b, err)
	}
	if c, err := net.DialTimeout("tcp", ClosedPort(t), time.Second); err == nil {
		c.Close()
		t.Error("dialled the closed port")
	}
}
