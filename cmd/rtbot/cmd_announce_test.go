package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rtbot/rtbot/internal/testkit"
)

var sharedMails = testkit.MailsDir()

func TestAnnounceJSON(t *testing.T) {
	files := []string{
		sharedMails + "/stable-6.1.12-rc1.eml",
		sharedMails + "/rt-stable-6.1.79-rt25.eml",
		sharedMails + "/rt-rc-v5.4.143-rt64-rc2.eml",
		sharedMails + "/rt-devel-v6.6-rt12.eml",
		sharedMails + "/reply-6.6.21-rc1.eml",
		"../../internal/mailwatch/testdata/stable-6.1.91-rc1-sasha.eml",
	}
	var stdout, stderr bytes.Buffer
	code := announce(context.Background(), append([]string{"--json"}, files...), &stdout, &stderr)
	if code != exitOK {
		t.Fatalf("exit %d, stderr %q", code, stderr.String())
	}
	out := stdout.String()
	var lines []map[string]any
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		lines = append(lines, m)
	}
	if len(lines) != len(files) {
		t.Fatalf("%d lines for %d files", len(lines), len(files))
	}
	want := []map[string]any{
		{"schema": 1.0, "file": files[0], "kind": "stable-rc", "series": "6.1", "version": "6.1.12", "rc": 1.0,
			"git_url":    "git://git.kernel.org/pub/scm/linux/kernel/git/stable/linux-stable-rc.git",
			"git_branch": "linux-6.1.y", "patch_url": "http://kernel.org/pub/linux/kernel/v6.x/stable-review/patch-6.1.12-rc1.gz",
			"deadline": "2023-02-15T14:47:00Z", "message_id": "20230213144742.219399167@linuxfoundation.org"},
		{"schema": 1.0, "file": files[1], "kind": "rt-stable", "series": "6.1", "version": "6.1.79-rt25", "rc": 0.0,
			"git_url":    "git://git.kernel.org/pub/scm/linux/kernel/git/rt/linux-stable-rt.git",
			"git_branch": "v6.1-rt", "patch_url": "https://www.kernel.org/pub/linux/kernel/projects/rt/6.1/patch-6.1.79-rt25.patch.xz",
			"deadline": "", "message_id": "170908535103.421358.4623722558350250768@demetrius"},
		{"schema": 1.0, "file": files[2], "kind": "rt-rc", "series": "5.4", "version": "5.4.143-rt64", "rc": 2.0,
			"git_url": "", "git_branch": "",
			"patch_url": "https://www.kernel.org/pub/linux/kernel/projects/rt/5.4/patch-5.4.143-rt64-rc2.patch.xz",
			"deadline":  "2021-09-10T00:00:00Z", "message_id": "cover.1631027711.git.zanussi@kernel.org"},
		{"schema": 1.0, "file": files[3], "kind": "rt-devel", "series": "6.6", "version": "6.6-rt12", "rc": 0.0,
			"git_url":    "https://git.kernel.org/pub/scm/linux/kernel/git/rt/linux-rt-devel.git",
			"git_branch": "v6.6-rt12", "patch_url": "https://cdn.kernel.org/pub/linux/kernel/projects/rt/6.6/older/patch-6.6-rt12.patch.xz",
			"deadline": "", "message_id": "20231103150416.n8dAWMix@linutronix.de"},
		{"schema": 1.0, "file": files[4], "kind": "none", "series": "", "version": "", "rc": 0.0,
			"git_url": "", "git_branch": "", "patch_url": "", "deadline": "",
			"message_id": "faea3863-e610-45ef-a2c7-9585574c205e@rnnvmail203.nvidia.com",
			"reason":     `reply: subject starts with "Re:"`},
		{"schema": 1.0, "file": files[5], "kind": "stable-rc", "series": "6.1", "version": "6.1.91", "rc": 1.0,
			"git_url":    "git://git.kernel.org/pub/scm/linux/kernel/git/stable/linux-stable-rc.git",
			"git_branch": "linux-6.1.y",
			"patch_url":  "https://git.kernel.org/pub/scm/linux/kernel/git/stable/linux-stable-rc.git/patch/?id=linux-6.1.y&id2=v6.1.90",
			"deadline":   "2024-05-16T12:00:00Z", "message_id": "20240514100951.686412426@kernel.org"},
	}
	for i, w := range want {
		got := lines[i]
		if len(got) != len(w) {
			t.Errorf("line %d has keys %v, want %v", i, keys(got), keys(w))
		}
		for k, v := range w {
			if got[k] != v {
				t.Errorf("line %d (%s): %s = %#v, want %#v", i, filepath.Base(files[i]), k, got[k], v)
			}
		}
	}
	if !strings.Contains(out, "&id2=") {
		t.Errorf("URL was HTML-escaped: %s", out)
	}
}

// announce runs `rtbot announce ARGS...` as main does, and returns its exit
// code.
func announce(ctx context.Context, args []string, stdout, stderr *bytes.Buffer) int {
	return run(ctx, append([]string{"announce"}, args...), stdout, stderr)
}

func keys(m map[string]any) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}

func TestAnnounceText(t *testing.T) {
	var stdout, stderr bytes.Buffer
	files := []string{sharedMails + "/stable-6.12.12-rc2.eml", sharedMails + "/not-rc-6.12.51-release.eml"}
	if code := announce(context.Background(), files, &stdout, &stderr); code != exitOK {
		t.Fatalf("exit %d, stderr %q", code, stderr.String())
	}
	want := files[0] + ": stable-rc 6.12.12-rc2, git://git.kernel.org/pub/scm/linux/kernel/git/stable/linux-stable-rc.git linux-6.12.y, " +
		"patch http://kernel.org/pub/linux/kernel/v6.x/stable-review/patch-6.12.12-rc2.gz, deadline 2025-02-01T14:41:00Z, " +
		"<20250130144136.126780286@linuxfoundation.org>\n" +
		files[1] + ": none: subject is a release, not a review cycle\n"
	if stdout.String() != want {
		t.Errorf("output\n%s\nwant\n%s", stdout.String(), want)
	}
}

func TestAnnounceExitCodes(t *testing.T) {
	dir := t.TempDir()
	big := filepath.Join(dir, "big.eml")
	if err := os.WriteFile(big, []byte("Subject: x\n\n"+strings.Repeat("y", 9<<20)), 0o644); err != nil {
		t.Fatal(err)
	}
	good := sharedMails + "/stable-6.1.12-rc1.eml"
	tests := []struct {
		name   string
		args   []string
		code   int
		lines  int    // JSON lines on stdout
		stderr string // substring
	}{
		{"no files", []string{"--json"}, exitUsage, 0, "no mail files"},
		{"bad flag", []string{"--jsn", good}, exitUsage, 0, "unknown flag: --jsn"},
		{"help", []string{"-h"}, exitOK, 12, ""}, // on stdout: see TestHelp
		{"flags after arguments", []string{good, "--json"}, exitOK, 1, ""},
		{"missing file", []string{"--json", filepath.Join(dir, "nope.eml"), good}, exitError, 1, "nope.eml"},
		{"oversized file", []string{"--json", good, big}, exitError, 1, "big.eml"},
		{"all good", []string{"--json", good, good}, exitOK, 2, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := announce(context.Background(), tt.args, &stdout, &stderr)
			if code != tt.code {
				t.Errorf("exit %d, want %d (stderr %q)", code, tt.code, stderr.String())
			}
			if n := strings.Count(stdout.String(), "\n"); n != tt.lines {
				t.Errorf("%d lines on stdout, want %d: %q", n, tt.lines, stdout.String())
			}
			if !strings.Contains(stderr.String(), tt.stderr) {
				t.Errorf("stderr %q lacks %q", stderr.String(), tt.stderr)
			}
		})
	}
	t.Run("cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		var stdout, stderr bytes.Buffer
		if code := announce(ctx, []string{good}, &stdout, &stderr); code != exitError || stdout.Len() != 0 {
			t.Errorf("exit %d, stdout %q; want 1 and nothing", code, stdout.String())
		}
	})
}
