//go:build unix

package trigger

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rtbot/rtbot/internal/testkit"
)

func newSession() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setsid: true} }

// commandTrigger runs the test binary in helper mode with args.
func commandTrigger(timeout time.Duration, args ...string) Spec {
	tr := Spec{Name: "build-test", Type: TypeCommand, Argv: append([]string{helperPath, helperArg}, args...)}
	tr.Timeout = timeout
	return tr
}

// gone reports whether process pid has ended (or is a zombie nobody reaped).
func gone(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return true
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return os.IsNotExist(err)
	}
	// pid (comm) S ...: the state follows the last ')'.
	s := string(stat)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && (s[i+2] == 'Z' || s[i+2] == 'X')
}

func waitGone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !gone(pid) {
		if time.Now().After(deadline) {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("process %d survived", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func readPID(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("pid file: %v", err)
	}
	pid, err := strconv.Atoi(string(b))
	if err != nil || pid <= 1 {
		t.Fatalf("pid file %q", b)
	}
	return pid
}

// TestCommandEnvironment checks that the command gets exactly the base
// environment and the RTBOT_* variables, that hostile text arrives as data,
// and that output is kept interleaved.
func TestCommandEnvironment(t *testing.T) {
	t.Setenv("RTBOT_CANARY_SECRET", "must-not-leak")
	t.Setenv("LANG", "C.UTF-8")
	for _, tt := range commandEnvironmentCases() {
		t.Run(tt.name, func(t *testing.T) { checkCommandEnvironment(t, tt) })
	}
}

// commandEnvironmentCase is a subject for the event, the RTBOT_SUBJECT the
// command must get for it, and arguments for the command.
type commandEnvironmentCase struct {
	name    string
	subject string
	want    string // RTBOT_SUBJECT
	args    []string
}

// commandEnvironmentCases are a plain subject, and hostile ones.
func commandEnvironmentCases() []commandEnvironmentCase {
	hostile := "[PATCH 6.1 000/9] $(touch pwned1); `touch pwned2`; touch pwned3 | touch pwned4 && x\ty"
	return []commandEnvironmentCase{
		{"plain", "[PATCH 6.1 000/9] 6.1.177-rc1 review", "[PATCH 6.1 000/9] 6.1.177-rc1 review", nil},
		{"shell syntax", hostile, strings.ReplaceAll(hostile, "\t", " "), []string{"; touch pwned5", "$(touch pwned6)", "*"}},
		{"line breaks", "a\r\nRTBOT_COMMIT=0\x00", "a  RTBOT_COMMIT=0 ", nil},
	}
}

// checkCommandEnvironment fires the helper's env mode with tt's subject
// and arguments, and checks what the command got and what Fire kept.
func checkCommandEnvironment(t *testing.T, tt commandEnvironmentCase) {
	dir := filepath.Join(t.TempDir(), "out") // Fire creates it
	report := filepath.Join(t.TempDir(), "report.json")
	ev := testEvent()
	ev.Subject = tt.subject
	tr := commandTrigger(time.Minute, append([]string{"env", report}, tt.args...)...)
	res, err := Fire(context.Background(), tr, ev, dir)
	if err != nil {
		t.Fatalf("Fire: %v", err)
	}
	if res.ExitCode != 0 || res.Trigger != "build-test" || res.Type != "command" || res.Finished.Before(res.Started) {
		t.Errorf("result %+v", res)
	}
	var rep helperReport
	if err := json.Unmarshal([]byte(testkit.ReadFile(t, report)), &rep); err != nil {
		t.Fatal(err)
	}
	checkCommandEnv(t, rep, ev, tt, dir)
	if !slices.Equal(rep.Args, tt.args) && !(len(rep.Args) == 0 && len(tt.args) == 0) {
		t.Errorf("arguments %q, want %q verbatim", rep.Args, tt.args)
	}
	if rep.Dir != dir {
		t.Errorf("ran in %s, want %s", rep.Dir, dir)
	}
	checkNoShellRan(t, dir, filepath.Dir(report), ".")
	if out := testkit.ReadFile(t, res.Output); out != "out-1\nerr-1\nout-2\n" {
		t.Errorf("log %q, want stdout and stderr interleaved", out)
	}
	if filepath.Dir(res.Output) != dir || !strings.HasPrefix(filepath.Base(res.Output), "build-test-") {
		t.Errorf("output %s: want build-test-TIMESTAMP.log in %s", res.Output, dir)
	}
}

// commandEnvWant is the environment a command must get for ev: the base
// environment, then Env(ev) with subject as RTBOT_SUBJECT.
func commandEnvWant(ev Event, subject string) []string {
	var env []string
	for _, k := range baseEnv {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	for _, kv := range Env(ev) {
		if strings.HasPrefix(kv, "RTBOT_SUBJECT=") {
			kv = "RTBOT_SUBJECT=" + subject
		}
		env = append(env, kv)
	}
	return env
}

// checkCommandEnv checks that rep's environment is commandEnvWant's plus
// RTBOT_EVENT, which names a file in dir that holds ev with tt's subject.
func checkCommandEnv(t *testing.T, rep helperReport, ev Event, tt commandEnvironmentCase, dir string) {
	t.Helper()
	var eventFile, resultsFile string
	var got []string
	for _, kv := range rep.Env {
		if v, ok := strings.CutPrefix(kv, "RTBOT_EVENT="); ok {
			eventFile = v
			continue
		}
		if v, ok := strings.CutPrefix(kv, "RTBOT_RESULTS="); ok {
			resultsFile = v
			continue
		}
		got = append(got, kv)
	}
	if filepath.Dir(resultsFile) != dir || !strings.HasSuffix(resultsFile, ".results.json") {
		t.Errorf("RTBOT_RESULTS = %q, want a .results.json file in %s", resultsFile, dir)
	}
	want := append(commandEnvWant(ev, tt.want), "RTBOT_CHECKOUT_ID="+CheckoutID(ev, "rtbot"))
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("environment\n got %q\nwant %q", got, want)
	}
	if !slices.Contains(want, "RTBOT_PUSH_REMOTE=https://git.example.org/rt/linux-rt.git") {
		t.Errorf("push remote credentials not stripped: %q", want)
	}
	if filepath.Dir(eventFile) != dir {
		t.Errorf("RTBOT_EVENT = %q, want a file in %s", eventFile, dir)
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(testkit.ReadFile(t, eventFile)), &doc); err != nil || doc["subject"] != tt.subject || doc["commit"] != ev.Commit {
		t.Errorf("event file: %v, subject %q commit %v", err, doc["subject"], doc["commit"])
	}
}

// checkNoShellRan checks that none of the files the hostile subject and
// arguments would make, pwned1 to pwned6, is in dirs.
func checkNoShellRan(t *testing.T, dirs ...string) {
	t.Helper()
	for i := 1; i <= 6; i++ {
		for _, d := range dirs {
			if _, err := os.Stat(filepath.Join(d, "pwned"+strconv.Itoa(i))); err == nil {
				t.Errorf("pwned%d exists in %s: something ran a shell", i, d)
			}
		}
	}
}

// commandFailureCase is a trigger that must fail, an edit of testEvent,
// and how the failure must look.
type commandFailureCase struct {
	name      string
	trigger   func(dir string) Spec
	edit      func(*Event)
	exit      int
	temporary bool
	errHas    []string
	logHas    string
	notRun    bool // the marker file must not exist
}

// TestCommandFailures checks how a command trigger fails: its exit
// status, a program missing, an event unfit for the environment, a type
// unknown.
func TestCommandFailures(t *testing.T) {
	for _, tt := range commandFailureCases() {
		t.Run(tt.name, func(t *testing.T) { checkCommandFailure(t, tt) })
	}
}

// commandFailureCases are the failures TestCommandFailures checks.
func commandFailureCases() []commandFailureCase {
	return []commandFailureCase{
		{
			name:    "exit status",
			trigger: func(string) Spec { return commandTrigger(time.Minute, "exit", "3") },
			exit:    3, errHas: []string{"status 3", ".log"}, logHas: "failing on purpose",
		},
		{
			name:    "exit status 1",
			trigger: func(string) Spec { return commandTrigger(time.Minute, "exit", "1") },
			exit:    1, errHas: []string{"status 1"},
		},
		{
			name: "no such program",
			trigger: func(string) Spec {
				return Spec{Name: "x", Type: TypeCommand, Argv: []string{"/nonexistent/rtbot-test"}}
			},
			exit: -1, errHas: []string{"cannot start", "/nonexistent/rtbot-test"},
		},
		{
			name: "newline in branch",
			trigger: func(dir string) Spec {
				return commandTrigger(time.Minute, "touch", filepath.Join(dir, "ran"))
			},
			edit: func(e *Event) { e.Branch = "rtbot/x\nLD_PRELOAD=/tmp/evil.so" },
			exit: -1, errHas: []string{"RTBOT_BRANCH", "line break"}, notRun: true,
		},
		{
			name: "NUL in commit",
			trigger: func(dir string) Spec {
				return commandTrigger(time.Minute, "touch", filepath.Join(dir, "ran"))
			},
			edit: func(e *Event) { e.Commit = "2222\x00" },
			exit: -1, errHas: []string{"RTBOT_COMMIT"}, notRun: true,
		},
		{
			name:    "unknown type",
			trigger: func(string) Spec { return Spec{Name: "x", Type: "email"} },
			errHas:  []string{`unknown trigger type "email"`},
		},
	}
}

// checkCommandFailure fires tt's trigger and checks its error, exit code
// and log, and that a command not to run did not.
func checkCommandFailure(t *testing.T, tt commandFailureCase) {
	dir := t.TempDir()
	marker := t.TempDir()
	ev := testEvent()
	if tt.edit != nil {
		tt.edit(&ev)
	}
	res, err := Fire(context.Background(), tt.trigger(marker), ev, dir)
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("err = %v, want an *Error", err)
	}
	if IsTemporary(err) != tt.temporary {
		t.Errorf("temporary = %v, want %v: %v", IsTemporary(err), tt.temporary, err)
	}
	if res.ExitCode != tt.exit {
		t.Errorf("exit code %d, want %d", res.ExitCode, tt.exit)
	}
	for _, s := range tt.errHas {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q lacks %q", err, s)
		}
	}
	if tt.logHas != "" && !strings.Contains(testkit.ReadFile(t, res.Output), tt.logHas) {
		t.Errorf("log lacks %q", tt.logHas)
	}
	if _, err := os.Stat(filepath.Join(marker, "ran")); tt.notRun && err == nil {
		t.Error("the command ran")
	}
}

// TestCommandTimeout checks that a command that outlives its timeout is
// killed with its whole process group, including a grandchild that holds
// the output pipe, and that Fire reports a temporary failure promptly.
func TestCommandTimeout(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	start := time.Now()
	// Long enough for the helper to start its grandchild on a loaded machine.
	res, err := Fire(context.Background(), commandTrigger(2*time.Second, "grandchild", pidFile), testEvent(), t.TempDir())
	elapsed := time.Since(start)
	if err == nil || !IsTemporary(err) || !strings.Contains(err.Error(), "timed out after 2s") {
		t.Errorf("err = %v, want a temporary time-out", err)
	}
	if elapsed > 20*time.Second {
		t.Errorf("Fire took %v: the grandchild kept it waiting", elapsed)
	}
	if res.ExitCode != -1 {
		t.Errorf("exit code %d, want -1 (killed)", res.ExitCode)
	}
	waitGone(t, readPID(t, pidFile))
	if log := testkit.ReadFile(t, res.Output); !strings.Contains(log, "started ") || !strings.Contains(log, "[rtbot: timed out after 2s; process group killed]\n") {
		t.Errorf("log %q", log)
	}
}

func TestCommandCancel(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	ctx, cancel := context.WithCancel(context.Background())
	go func() { // cancel once the grandchild runs
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			if b, _ := os.ReadFile(pidFile); len(b) > 0 {
				break
			}
		}
		cancel()
	}()
	_, err := Fire(ctx, commandTrigger(time.Hour, "grandchild", pidFile), testEvent(), t.TempDir())
	if err == nil || !IsTemporary(err) || !strings.Contains(err.Error(), "cancelled") {
		t.Errorf("err = %v, want a temporary cancellation", err)
	}
	waitGone(t, readPID(t, pidFile))

	// Not even started when the context is already done.
	dir := t.TempDir()
	_, err = Fire(ctx, commandTrigger(time.Hour, "touch", filepath.Join(dir, "ran")), testEvent(), t.TempDir())
	if !IsTemporary(err) {
		t.Errorf("cancelled context: %v, want temporary", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "ran")); err == nil {
		t.Error("the command ran with a cancelled context")
	}
}

// TestCommandBackground checks that a command that exits successfully but
// leaves a process in another session holding the output pipe does not
// keep Fire waiting beyond waitDelay.
func TestCommandBackground(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	start := time.Now()
	res, err := Fire(context.Background(), commandTrigger(time.Hour, "daemon", pidFile), testEvent(), t.TempDir())
	pid := readPID(t, pidFile)
	defer syscall.Kill(pid, syscall.SIGKILL)
	if err != nil || res.ExitCode != 0 {
		t.Errorf("Fire = %+v, %v; want success", res, err)
	}
	if elapsed := time.Since(start); elapsed > waitDelay+15*time.Second {
		t.Errorf("Fire took %v", elapsed)
	}
	if log := testkit.ReadFile(t, res.Output); !strings.Contains(log, "background process kept it open") {
		t.Errorf("log %q", log)
	}
}

func TestCommandOutputCap(t *testing.T) {
	res, err := Fire(context.Background(), commandTrigger(time.Minute, "flood", strconv.Itoa(maxCommandOutput+1<<20)), testEvent(), t.TempDir())
	if err != nil {
		t.Fatalf("Fire: %v (the command must not see a broken pipe)", err)
	}
	log := testkit.ReadFile(t, res.Output)
	note := "[rtbot: output truncated at 16777216 bytes]\n"
	if !strings.HasSuffix(log, "\n"+note) || len(log) != maxCommandOutput+1+len(note) {
		t.Errorf("log of %d bytes ending %q; want %d bytes of output and the note", len(log), log[max(0, len(log)-80):], maxCommandOutput)
	}
}

// TestCommandOutputNames checks that two firings in the same second keep
// separate logs.
func TestCommandOutputNames(t *testing.T) {
	dir := t.TempDir()
	a, err1 := Fire(context.Background(), commandTrigger(time.Minute, "exit", "0"), testEvent(), dir)
	b, err2 := Fire(context.Background(), commandTrigger(time.Minute, "exit", "0"), testEvent(), dir)
	if err1 != nil || err2 != nil || a.Output == b.Output {
		t.Errorf("outputs %s and %s (%v, %v): want two files", a.Output, b.Output, err1, err2)
	}
}

// TestCommandResultsFile: a command writes its KCIDB results where
// RTBOT_RESULTS says, about the checkout RTBOT_CHECKOUT_ID names, and
// Fire hands the file back whatever the exit status; a command that
// writes none leaves Results empty.
func TestCommandResultsFile(t *testing.T) {
	ev := testEvent()
	for _, tc := range []struct {
		args    []string
		exit    int
		written bool
	}{
		{[]string{"results", "0"}, 0, true},
		{[]string{"results", "3"}, 3, true},
		{[]string{"exit", "0"}, 0, false},
	} {
		dir := t.TempDir()
		res, err := Fire(context.Background(), commandTrigger(time.Minute, tc.args...), ev, dir)
		if (err == nil) != (tc.exit == 0) || res.ExitCode != tc.exit {
			t.Errorf("%q: exit %d, err %v", tc.args, res.ExitCode, err)
		}
		if !tc.written {
			if res.Results != "" {
				t.Errorf("%q: results %q from a command that wrote none", tc.args, res.Results)
			}
			continue
		}
		if filepath.Dir(res.Results) != dir {
			t.Fatalf("%q: results file %q, want one in %s", tc.args, res.Results, dir)
		}
		if got, want := testkit.ReadFile(t, res.Results), "rtbot:6.1-rt:6.1.177-rc1:"+ev.Commit; got != want {
			t.Errorf("%q: RTBOT_CHECKOUT_ID was %q, want %q", tc.args, got, want)
		}
	}
}
