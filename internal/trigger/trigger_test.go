package trigger

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// helperArg as os.Args[1] makes the test binary play a triggered command.
// The mode travels in argv, not in the environment: Fire passes the
// command a fixed environment only.
const helperArg = "rtbot-trigger-helper"

// helperPath is the absolute path of the test binary (commands run in the
// output directory, so a relative os.Args[0] would not do).
var helperPath string

func TestMain(m *testing.M) {
	if len(os.Args) > 2 && os.Args[1] == helperArg {
		os.Exit(helper(os.Args[2], os.Args[3:]))
	}
	p, err := filepath.Abs(os.Args[0])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	helperPath = p
	os.Exit(m.Run())
}

// helperReport is what the "env" mode writes to its file.
type helperReport struct {
	Env  []string
	Args []string
	Dir  string
}

// helper is the triggered command: mode with args.
func helper(mode string, args []string) int {
	switch mode {
	case "env": // env FILE [ARGS...]: report environment, arguments, directory
		wd, _ := os.Getwd()
		b, _ := json.Marshal(helperReport{Env: os.Environ(), Args: args[1:], Dir: wd})
		if err := os.WriteFile(args[0], b, 0o644); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		os.Stdout.WriteString("out-1\n")
		os.Stderr.WriteString("err-1\n")
		os.Stdout.WriteString("out-2\n")
		return 0
	case "results": // results N: write $RTBOT_CHECKOUT_ID to $RTBOT_RESULTS, exit N
		os.WriteFile(os.Getenv("RTBOT_RESULTS"), []byte(os.Getenv("RTBOT_CHECKOUT_ID")), 0o644)
		n, _ := strconv.Atoi(args[0])
		return n
	case "exit": // exit N
		fmt.Fprintln(os.Stderr, "failing on purpose")
		n, _ := strconv.Atoi(args[0])
		return n
	case "touch": // touch FILE
		os.WriteFile(args[0], nil, 0o644)
		return 0
	case "sleep":
		time.Sleep(time.Hour)
		return 0
	case "grandchild", "daemon": // MODE PIDFILE: start a sleeping child holding stdout
		c := exec.Command(helperPath0(), helperArg, "sleep")
		c.Stdout = os.Stdout
		c.Stderr = os.Stderr
		if mode == "daemon" {
			c.SysProcAttr = newSession()
		}
		if err := c.Start(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		os.WriteFile(args[0], []byte(strconv.Itoa(c.Process.Pid)), 0o644)
		fmt.Println("started", c.Process.Pid)
		if mode == "daemon" {
			return 0
		}
		time.Sleep(time.Hour)
		return 0
	case "flood": // flood N: write N bytes
		n, _ := strconv.Atoi(args[0])
		buf := []byte(strings.Repeat("0123456789abcdef", 4096))
		for n > 0 {
			k := min(n, len(buf))
			if _, err := os.Stdout.Write(buf[:k]); err != nil {
				return 2
			}
			n -= k
		}
		return 0
	}
	fmt.Fprintln(os.Stderr, "unknown helper mode", mode)
	return 99
}

// helperPath0 is the helper binary from inside the helper.
func helperPath0() string {
	p, _ := filepath.Abs(os.Args[0])
	return p
}

func testEvent() Event {
	return Event{
		Tree: "6.1-rt", Series: "6.1", Version: "6.1.177", RC: 1,
		Candidate:       "1111111111111111111111111111111111111111",
		CandidateURL:    "https://git.kernel.org/pub/scm/linux/kernel/git/stable/linux-stable-rc.git",
		CandidateBranch: "linux-6.1.y", Base: "v6.1.176",
		Branch:       "rtbot/6.1-rt/6.1.177-rc1",
		Commit:       "2222222222222222222222222222222222222222",
		PushRemote:   "https://bot:hunter2@git.example.org/rt/linux-rt.git",
		Repo:         "/srv/linux.git",
		Announcement: "20261122100000.123456789@linuxfoundation.org",
		MessageID:    "20261122100000.123456789@linuxfoundation.org",
		Subject:      "[PATCH 6.1 000/9] 6.1.177-rc1 review",
		QueueID:      "v6.1.176..v6.1.176-rt64@3333333",
		Commits:      3,
		Patches: []Patch{
			{Index: 1, Name: "0001-sched-rt.patch", Subject: "sched: rt", Status: "applied", Text: []byte("From 1\n--- a/x\n+++ b/x\n")},
			{Index: 2, Name: "0002-printk.patch", Subject: "printk: nbcon", Status: "merged", Text: []byte("From 2\n--- a/y\n+++ b/y\n")},
			{Index: 3, Name: "0003-locking.patch", Subject: "locking: rtmutex", Status: "applied", Text: []byte("From 3\n")},
		},
		Time: time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC),
	}
}

func TestEnv(t *testing.T) {
	tests := []struct {
		name    string
		edit    func(*Event)
		want    []string // present, exactly
		missing []string // keys left out
	}{
		{"all", func(*Event) {}, []string{
			"RTBOT_TREE=6.1-rt", "RTBOT_SERIES=6.1", "RTBOT_VERSION=6.1.177", "RTBOT_RC=1",
			"RTBOT_CANDIDATE=1111111111111111111111111111111111111111",
			"RTBOT_CANDIDATE_URL=https://git.kernel.org/pub/scm/linux/kernel/git/stable/linux-stable-rc.git",
			"RTBOT_CANDIDATE_BRANCH=linux-6.1.y", "RTBOT_BASE=v6.1.176", "RTBOT_BRANCH=rtbot/6.1-rt/6.1.177-rc1",
			"RTBOT_COMMIT=2222222222222222222222222222222222222222",
			"RTBOT_PUSH_REMOTE=https://git.example.org/rt/linux-rt.git", // credentials stripped
			"RTBOT_REPO=/srv/linux.git", "RTBOT_ANNOUNCEMENT=20261122100000.123456789@linuxfoundation.org",
			"RTBOT_SUBJECT=[PATCH 6.1 000/9] 6.1.177-rc1 review", "RTBOT_QUEUE_ID=v6.1.176..v6.1.176-rt64@3333333",
		}, nil},
		{"release", func(e *Event) { e.RC = 0 }, []string{"RTBOT_RC=0"}, nil},
		{"subject controls", func(e *Event) { e.Subject = "a\r\nb\tc\x1b[31md\x00e\u0085f" }, []string{"RTBOT_SUBJECT=a  b c [31md e f"}, nil},
		{"branch newline", func(e *Event) { e.Branch = "rtbot/x\nRTBOT_COMMIT=0" }, nil, []string{"RTBOT_BRANCH"}},
		{"announcement NUL", func(e *Event) { e.Announcement = "a\x00b@c" }, nil, []string{"RTBOT_ANNOUNCEMENT"}},
		{"scp remote kept", func(e *Event) { e.PushRemote = "git@example.org:rt/linux.git" }, []string{"RTBOT_PUSH_REMOTE=git@example.org:rt/linux.git"}, nil},
		{"ssh user kept", func(e *Event) { e.PushRemote = "ssh://git@example.org/rt/linux.git" }, []string{"RTBOT_PUSH_REMOTE=ssh://git@example.org/rt/linux.git"}, nil},
		{"ssh password dropped", func(e *Event) { e.PushRemote = "ssh://git:pw@example.org/rt/linux.git" }, []string{"RTBOT_PUSH_REMOTE=ssh://git@example.org/rt/linux.git"}, nil},
		{"https token user dropped", func(e *Event) { e.CandidateURL = "https://ghp_token@github.com/x/y.git" }, []string{"RTBOT_CANDIDATE_URL=https://github.com/x/y.git"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := testEvent()
			tt.edit(&ev)
			env := Env(ev)
			got := map[string]string{}
			for _, kv := range env {
				k, v, _ := strings.Cut(kv, "=")
				got[k] = v
				if strings.ContainsAny(kv, "\x00\r\n") {
					t.Errorf("%q: a control character passed", kv)
				}
			}
			for _, w := range tt.want {
				k, v, _ := strings.Cut(w, "=")
				if g, ok := got[k]; !ok || g != v {
					t.Errorf("%s = %q, want %q", k, g, v)
				}
			}
			for _, k := range tt.missing {
				if _, ok := got[k]; ok {
					t.Errorf("%s passed, want it left out", k)
				}
			}
			if want := 15 - len(tt.missing); len(env) != want {
				t.Errorf("%d variables, want %d: %q", len(env), want, env)
			}
		})
	}
}

func TestError(t *testing.T) {
	inner := errors.New("boom")
	tests := []struct {
		err       error
		temporary bool
		text      string
	}{
		{&Error{Trigger: "jenkins", Temporary: true, Err: inner}, true, "trigger jenkins: boom"},
		{&Error{Trigger: "build", Err: inner}, false, "trigger build: boom"},
		{fmt.Errorf("tree 6.1-rt: %w", &Error{Trigger: "k", Temporary: true, Err: inner}), true, "tree 6.1-rt: trigger k: boom"},
		{inner, false, "boom"},
		{nil, false, ""},
	}
	for _, tt := range tests {
		if got := IsTemporary(tt.err); got != tt.temporary {
			t.Errorf("IsTemporary(%v) = %v, want %v", tt.err, got, tt.temporary)
		}
		if tt.err != nil {
			if tt.err.Error() != tt.text {
				t.Errorf("Error() = %q, want %q", tt.err.Error(), tt.text)
			}
			if _, ok := tt.err.(*Error); ok && !errors.Is(tt.err, inner) {
				t.Errorf("%v does not unwrap to its cause", tt.err)
			}
		}
	}
}

func TestEventDocument(t *testing.T) {
	ev := testEvent()
	ev.Subject = "evil \"quote\" $(rm -rf /)\n"
	b, err := eventDocument(ev)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"tree": "6.1-rt", "series": "6.1", "version": "6.1.177", "rc": 1.0,
		"candidate": ev.Candidate, "candidate_url": ev.CandidateURL, "candidate_branch": "linux-6.1.y",
		"base": "v6.1.176", "branch": ev.Branch, "commit": ev.Commit,
		"push_remote": "https://git.example.org/rt/linux-rt.git", "repo": "/srv/linux.git",
		"announcement": ev.Announcement, "subject": ev.Subject, "queue_id": ev.QueueID,
		"time": "2026-11-22T10:00:00Z",
	}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%s = %#v, want %#v", k, m[k], v)
		}
	}
	patches, _ := m["patches"].([]any)
	if len(patches) != 3 {
		t.Fatalf("patches = %#v", m["patches"])
	}
	p, _ := patches[1].(map[string]any)
	if len(p) != 4 || p["index"] != 2.0 || p["name"] != "0002-printk.patch" || p["subject"] != "printk: nbcon" || p["status"] != "merged" {
		t.Errorf("patch 2 = %#v, want index, name, subject, status only", p)
	}
	if len(m) != len(want)+1 {
		t.Errorf("%d keys, want %d: %s", len(m), len(want)+1, b)
	}

	ev.Patches = nil
	b, _ = eventDocument(ev)
	if !strings.Contains(string(b), `"patches": []`) {
		t.Errorf("no patches: want an empty list, got %s", b)
	}
}

func TestSafeName(t *testing.T) {
	tests := []struct{ in, want string }{
		{"build-test", "build-test"},
		{"../../etc/passwd", "_._.._etc_passwd"},
		{".hidden", "_hidden"},
		{"-rf", "_rf"},
		{"a b/c\x00d", "a_b_c_d"},
		{"", "_"},
	}
	for _, tt := range tests {
		if got := safeName(tt.in); got != tt.want {
			t.Errorf("safeName(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
