package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/rtbot/rtbot/internal/testkit"
)

// systemdDir holds the units, sysusers.d and tmpfiles.d files a package
// installs.
const systemdDir = "../../docs/systemd"

// unitValues returns the values of key in unit text (every "key=value"
// line, comments aside), each split into words.
func unitValues(text, key string) [][]string {
	var vals [][]string
	for _, line := range strings.Split(text, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), key+"="); ok {
			vals = append(vals, strings.Fields(v))
		}
	}
	return vals
}

// TestSystemdUnitsContract: the units work from a package: the state
// directory is systemd's (StateDirectory=), nothing names a path that
// may not exist (ReadWritePaths= only below it), the documentation is
// the man page, the daemon is not restarted on exits only a human can fix
// (77 credentials refused, 78 configuration error), and a pass that found
// the lock held (75) or mailed the maintainers (3) is no failed unit.
func TestSystemdUnitsContract(t *testing.T) {
	units := map[string]string{}
	for _, name := range []string{"rtbot.service", "rtbot-watch.service", "rtbot.timer"} {
		units[name] = testkit.ReadFile(t, filepath.Join(systemdDir, name))
	}
	for name, text := range units {
		if !slices.ContainsFunc(unitValues(text, "Documentation"), func(v []string) bool { return slices.Contains(v, "man:rtbot(1)") }) {
			t.Errorf("%s: no Documentation=man:rtbot(1)", name)
		}
		if strings.HasSuffix(name, ".timer") {
			continue
		}
		for _, key := range []string{"StateDirectory", "User", "Group"} {
			if v := unitValues(text, key); len(v) != 1 || !slices.Equal(v[0], []string{"rtbot"}) {
				t.Errorf("%s: %s=%v, want rtbot", name, key, v)
			}
		}
		for _, v := range unitValues(text, "ReadWritePaths") {
			for _, p := range v {
				if p != "/var/lib/rtbot" && !strings.HasPrefix(strings.TrimPrefix(p, "-"), "/var/lib/rtbot/") {
					t.Errorf("%s: ReadWritePaths=%s: not below StateDirectory=rtbot, and nothing creates it", name, p)
				}
			}
		}
		for _, key := range []string{"NoNewPrivileges", "ProtectSystem", "ProtectHome", "PrivateTmp"} {
			if len(unitValues(text, key)) != 1 {
				t.Errorf("%s: no %s=", name, key)
			}
		}
	}
	if v := unitValues(units["rtbot-watch.service"], "RestartPreventExitStatus"); len(v) != 1 || !slices.Equal(v[0], []string{"77", "78"}) {
		t.Errorf("rtbot-watch.service: RestartPreventExitStatus=%v, want 77 78", v)
	}
	if v := unitValues(units["rtbot.service"], "SuccessExitStatus"); len(v) != 1 || !slices.Equal(v[0], []string{"3", "75"}) {
		t.Errorf("rtbot.service: SuccessExitStatus=%v, want 3 75", v)
	}
}

// TestExampleConfigInStateDirectory: every path docs/rtbot.example.toml
// has rtbot write is in /var/lib/rtbot, the one directory the units let
// it write (StateDirectory=rtbot under ProtectSystem=strict).
func TestExampleConfigInStateDirectory(t *testing.T) {
	written := regexp.MustCompile(`(?m)^(state|lock|workdir|repo|export_dir|dir) = "([^"]*)"`)
	matches := written.FindAllStringSubmatch(testkit.ReadFile(t, "../../docs/rtbot.example.toml"), -1)
	if len(matches) < 5 {
		t.Fatalf("found %d written paths in the example, want state, lock, workdir, repo, export_dir, dir", len(matches))
	}
	for _, m := range matches {
		if !strings.HasPrefix(m[2], "/var/lib/rtbot/") {
			t.Errorf("%s = %q: not in /var/lib/rtbot, which the units make writable", m[1], m[2])
		}
	}
}

// TestSystemdAnalyzeVerify: systemd-analyze verify finds nothing to say
// about the units (an unknown key or a wrong value is only a warning, so
// any line naming them fails). ExecStart= must name an executable: the
// copies verified name this test's binary instead of /usr/bin/rtbot.
// --man=no: the man page is generated, not installed here.
func TestSystemdAnalyzeVerify(t *testing.T) {
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Skip("systemd-analyze is not installed (Debian package systemd)")
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	names := []string{"rtbot.service", "rtbot-watch.service", "rtbot.timer"}
	for _, name := range names {
		text := testkit.ReadFile(t, filepath.Join(systemdDir, name))
		if strings.HasSuffix(name, ".service") {
			text = testkit.ReplaceOnce(t, text, "ExecStart=/usr/bin/rtbot ", "ExecStart="+self+" ")
		}
		testkit.WriteFile(t, filepath.Join(dir, name), text, 0o644)
	}
	out, err := testkit.RunCommand(t, dir, nil, "systemd-analyze", append([]string{"verify", "--man=no"}, names...)...)
	if err != nil {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "rtbot") {
			t.Errorf("systemd-analyze verify: %s", line)
		} else if line != "" {
			t.Logf("systemd-analyze verify (not about rtbot's units): %s", line)
		}
	}
}

// TestSysusersTmpfiles: on an empty root, systemd-sysusers makes the
// rtbot user with its home in /var/lib/rtbot, and systemd-tmpfiles then
// makes /var/lib/rtbot and /var/log/rtbot (owned by rtbot) and /etc/rtbot
// (readable by root and rtbot's group only).
func TestSysusersTmpfiles(t *testing.T) {
	for _, tool := range []string{"systemd-sysusers", "systemd-tmpfiles"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed (Debian package systemd)", tool)
		}
	}
	root := t.TempDir()
	if err := os.Mkdir(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	sysusers, _ := filepath.Abs(filepath.Join(systemdDir, "sysusers.d", "rtbot.conf"))
	if out, err := testkit.RunCommand(t, "", nil, "systemd-sysusers", "--root="+root, sysusers); err != nil {
		t.Fatalf("systemd-sysusers: %v\n%s", err, out)
	}
	passwd := testkit.ReadFile(t, filepath.Join(root, "etc", "passwd"))
	user := regexp.MustCompile(`(?m)^rtbot:x:(\d+):(\d+):[^:]*:/var/lib/rtbot:`).FindStringSubmatch(passwd)
	if user == nil {
		t.Fatalf("no rtbot user with home /var/lib/rtbot in /etc/passwd:\n%s", passwd)
	}
	if os.Geteuid() != 0 {
		t.Skip("systemd-tmpfiles --create chowns what it creates: only root can")
	}
	tmpfiles, _ := filepath.Abs(filepath.Join(systemdDir, "tmpfiles.d", "rtbot.conf"))
	if out, err := testkit.RunCommand(t, "", nil, "systemd-tmpfiles", "--root="+root, "--create", tmpfiles); err != nil {
		t.Fatalf("systemd-tmpfiles: %v\n%s", err, out)
	}
	for _, c := range []struct {
		path     string
		uid, gid string
		mode     os.FileMode
	}{
		{"var/lib/rtbot", user[1], user[2], 0o750},
		{"etc/rtbot", "0", user[2], 0o750},
		{"var/log/rtbot", user[1], user[2], 0o750},
	} {
		fi, err := os.Stat(filepath.Join(root, c.path))
		if err != nil {
			t.Fatal(err)
		}
		st := fi.Sys().(*syscall.Stat_t)
		if !fi.IsDir() || fi.Mode().Perm() != c.mode || strconv.FormatUint(uint64(st.Uid), 10) != c.uid || strconv.FormatUint(uint64(st.Gid), 10) != c.gid {
			t.Errorf("/%s: %v owned by %d:%d, want a directory %v owned by %s:%s", c.path, fi.Mode(), st.Uid, st.Gid, c.mode, c.uid, c.gid)
		}
	}
}
