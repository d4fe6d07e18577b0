package mailwatch

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/rtbot/rtbot/internal/testkit"
)

// ldaMaildir is a Maildir that Dovecot's LDA (dovecot-lda) delivers to.
type ldaMaildir struct {
	dir, conf string
	cred      *syscall.Credential // nil: deliver as ourselves
}

const dovecotLDA = "/usr/lib/dovecot/dovecot-lda"

// newLDAMaildir makes a Maildir and a dovecot-lda configuration writing
// to it. Without -d (which needs the auth server) the LDA delivers as the
// user it runs as, and refuses to run as root: as root it runs as nobody.
func newLDAMaildir(t *testing.T) *ldaMaildir {
	t.Helper()
	if _, err := os.Stat(dovecotLDA); err != nil {
		t.Skipf("%s is not installed (apt-get install dovecot-core; .ci/run does)", dovecotLDA)
	}
	root := t.TempDir()
	for _, d := range []string{filepath.Dir(root), root} { // the LDA's user must reach them
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	m := &ldaMaildir{dir: filepath.Join(root, "Maildir"), conf: filepath.Join(root, "lda.conf")}
	testkit.WriteFile(t, m.conf, "mail_location = maildir:"+m.dir+"\nlog_path = /dev/stderr\nssl = no\nmail_fsync = never\n", 0o644)
	if err := os.Mkdir(m.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if os.Getuid() == 0 {
		m.cred = &syscall.Credential{Uid: 65534, Gid: 65534}
		if err := os.Chown(m.dir, 65534, 65534); err != nil {
			t.Fatal(err)
		}
	}
	return m
}

func (m *ldaMaildir) deliver(t *testing.T, mail string) {
	t.Helper()
	f, err := os.Open(testkit.Mail(t, mail))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd := exec.Command(dovecotLDA, "-c", m.conf, "-f", "list@example.org")
	cmd.Stdin = f
	cmd.Env = []string{"HOME=" + filepath.Dir(m.dir), "USER=rtbot", "PATH=/usr/bin:/bin"}
	if m.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: m.cred}
		cmd.Env[1] = "USER=nobody"
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("dovecot-lda %s: %v\n%s", mail, err, out)
	}
}

// files lists the message files of the Maildir.
func (m *ldaMaildir) files(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, sub := range []string{"new", "cur"} {
		got, err := filepath.Glob(filepath.Join(m.dir, sub, "*"))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, got...)
	}
	slices.Sort(out)
	return out
}

func scanMaildir(t *testing.T, cfg MaildirConfig, pos []byte, want []string) []byte {
	t.Helper()
	scan, err := ScanMaildir(context.Background(), cfg, pos)
	if err != nil {
		t.Fatal(err)
	}
	if got := subjects(scan); !slices.Equal(got, want) {
		t.Errorf("scan from %s: candidates %q, want %q", pos, got, want)
	}
	return scan.Next
}

// TestMaildir reads a Maildir that dovecot-lda delivers to, incrementally:
// a restart from the saved position reads nothing twice, a file a mail
// reader moved to cur/ and flagged is not new, and no file is touched.
func TestMaildir(t *testing.T) {
	m := newLDAMaildir(t)
	m.deliver(t, "stable-6.1.12-rc1.eml")
	m.deliver(t, "not-cover-5.15-patch-068.eml")
	cfg := MaildirConfig{Path: m.dir}
	pos := scanMaildir(t, cfg, nil, []string{"[PATCH 6.1 000/114] 6.1.12-rc1 review"})
	pos = scanMaildir(t, cfg, pos, nil)

	before := m.files(t)
	moved := strings.Replace(before[0], "/new/", "/cur/", 1) + ":2,S"
	if err := os.Rename(before[0], moved); err != nil {
		t.Fatal(err)
	}
	m.deliver(t, "stable-6.12.51-rc1.eml")
	m.deliver(t, "rt-stable-6.1.79-rt25.eml")
	before = m.files(t)
	pos = scanMaildir(t, cfg, pos, []string{"[PATCH 6.12 00/10] 6.12.51-rc1 review", "[ANNOUNCE] 6.1.79-rt25"})
	scanMaildir(t, cfg, pos, nil)
	if after := m.files(t); !slices.Equal(after, before) {
		t.Errorf("reading changed the Maildir: %q, was %q", after, before)
	}
}

// TestMaildirSeenBound: the checkpoint keeps at most SeenLimit names, and
// the time mark covers the others, so nothing is read twice.
func TestMaildirSeenBound(t *testing.T) {
	m := newLDAMaildir(t)
	for _, mail := range []string{"stable-6.1.12-rc1.eml", "stable-4.4.247-rc1.eml", "stable-6.12.12-rc2.eml"} {
		m.deliver(t, mail)
	}
	cfg := MaildirConfig{Path: m.dir, SeenLimit: 1}
	pos := scanMaildir(t, cfg, nil, []string{"[PATCH 6.1 000/114] 6.1.12-rc1 review", "[PATCH 4.4 00/24] 4.4.247-rc1 review", "[PATCH 6.12 00/41] 6.12.12-rc2 review"})
	var p maildirPosition
	if err := json.Unmarshal(pos, &p); err != nil || len(p.Seen) > 1 || p.Before == 0 {
		t.Errorf("position %s (%v): want at most one name and a time mark", pos, err)
	}
	pos = scanMaildir(t, cfg, pos, nil)
	m.deliver(t, "stable-6.12.51-rc1.eml")
	scanMaildir(t, cfg, pos, []string{"[PATCH 6.12 00/10] 6.12.51-rc1 review"})
}

func TestMaildirMissing(t *testing.T) {
	_, err := ScanMaildir(context.Background(), MaildirConfig{Path: t.TempDir()}, nil)
	if err == nil || !strings.Contains(err.Error(), "new/ and cur/") {
		t.Errorf("err = %v, want it to say what a Maildir is", err)
	}
}
