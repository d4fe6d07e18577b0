package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/rtbot/rtbot/internal/config"
	"github.com/rtbot/rtbot/internal/fixtures"
	"github.com/rtbot/rtbot/internal/pipeline"
	"github.com/rtbot/rtbot/internal/testkit"
)

// cliCase is one rtbot command line, the exit code it must end with and
// what its output (stdout and stderr together) must say: each string of
// want must appear in it, except that one starting with "!" must not
// (the rest of it).
type cliCase struct {
	args []string
	code int
	want []string
}

// runCases runs the cases in order, as a user would one after the other,
// and checks each one's exit code and output.
func runCases(t *testing.T, cases []cliCase) {
	t.Helper()
	for _, tc := range cases {
		var out, errb bytes.Buffer
		code := run(context.Background(), tc.args, &out, &errb)
		all := out.String() + errb.String()
		if code != tc.code {
			t.Errorf("%v: exit %d, want %d: %s", tc.args, code, tc.code, all)
		}
		for _, w := range tc.want {
			if absent, ok := strings.CutPrefix(w, "!"); ok {
				if strings.Contains(all, absent) {
					t.Errorf("%v: output has %q:\n%s", tc.args, absent, all)
				}
			} else if !strings.Contains(all, w) {
				t.Errorf("%v: output lacks %q:\n%s", tc.args, w, all)
			}
		}
	}
}

// demoDir runs `rtbot demo` in a new directory and returns the directory
// and the configuration file it left there.
func demoDir(t *testing.T) (dir, cfg string) {
	t.Helper()
	dir = t.TempDir()
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"demo", "--dir", dir}, &out, &errb); code != exitOK {
		t.Fatalf("demo: exit %d: %s", code, errb.String())
	}
	return dir, filepath.Join(dir, "rtbot.toml")
}

// serialFix commits, in the repository at repoDir, the demo's serial
// conflict resolved by hand on top of its partial branch, with message
// msg, and points branch to at it.
func serialFix(t *testing.T, repoDir, to, msg string) plumbing.Hash {
	t.Helper()
	fix, err := fixtures.CommitDemoFix(repoDir, "rtbot/6.1-rt/6.1.12-rc1-partial", msg)
	if err != nil {
		t.Fatal(err)
	}
	repo, err := fixtures.Open(repoDir)
	if err != nil {
		t.Fatal(err)
	}
	if err := repo.Branch(to, fix); err != nil {
		t.Fatal(err)
	}
	return fix
}

// TestHelp walks every command's help: `rtbot help CMD`, `rtbot CMD -h`
// and `rtbot CMD --help` print the same on stdout and exit 0, and what
// they print is the golden file testdata/help/CMD.golden (rtbot.golden for
// `rtbot --help`); `go test ./cmd/rtbot -run TestHelp -update` rewrites
// them.
func TestHelp(t *testing.T) {
	e := &env{stdout: io.Discard, stderr: io.Discard, getenv: func(string) string { return "" }, exists: func(string) bool { return false }}
	root := newRoot(e)
	root.InitDefaultCompletionCmd()
	names := []string{""}
	for _, c := range root.Commands() {
		if c.IsAvailableCommand() {
			names = append(names, c.Name())
		}
	}
	if len(names) < 15 {
		t.Fatalf("only %d commands: %v", len(names), names)
	}
	for _, name := range names {
		t.Run("rtbot "+name, func(t *testing.T) {
			forms := [][]string{{"help", name}, {name, "-h"}, {name, "--help"}}
			if name == "" {
				forms = [][]string{{"--help"}, {"help"}, {"-h"}}
			}
			var first string
			for _, args := range forms {
				args = slices.DeleteFunc(args, func(s string) bool { return s == "" })
				var out, errb bytes.Buffer
				code := run(t.Context(), args, &out, &errb)
				if code != exitOK || errb.Len() != 0 || out.Len() == 0 {
					t.Errorf("%v: exit %d, stderr %q, stdout %d bytes; want 0, nothing on stderr, the help on stdout", args, code, errb.String(), out.Len())
				}
				if first == "" {
					first = out.String()
					golden := cmp.Or(name, "rtbot")
					testkit.Golden(t, filepath.Join("testdata", "help", golden+".golden"), out.Bytes())
				} else if out.String() != first {
					t.Errorf("%v prints another help than %v", args, forms[0])
				}
				if strings.Contains(out.String(), "(default true)") {
					t.Errorf("%v: a flag says (default true): it cannot be turned off", args)
				}
			}
		})
	}
}

// TestHelpSays: the helps say what the issue asked for.
func TestHelpSays(t *testing.T) {
	runCases(t, []cliCase{
		{[]string{"--help"}, exitOK, []string{"Exit status:", "\n  75  another rtbot holds the lock", "\n  78  ", "$RTBOT_CONFIG",
			"/etc/rtbot/rtbot.toml", "completion"}},
		{[]string{"help", "merge"}, exitOK, []string{"rtbot merge --repo DIR", "--onto string", "-b, --branch string", "!  -onto string"}},
		{[]string{"watch", "-h"}, exitOK, []string{"-q, --quiet", "-v, --verbose", "!(default true)"}},
		{[]string{"run", "-h"}, exitOK, []string{"--log-format string", "--config string"}},
		{[]string{"run", "--log-format", "xml"}, exitUsage, []string{`invalid argument "xml" for "--log-format"`, "auto, text, json, journal"}},
		{[]string{"help", "run", "extra"}, exitUsage, []string{"name one command"}},
		{[]string{"completion", "bash"}, exitOK, []string{"bash completion V2 for rtbot"}},
		{[]string{"completion", "zsh"}, exitOK, []string{"#compdef rtbot"}},
		{[]string{"completion", "fish"}, exitOK, []string{"complete -c rtbot"}},
		{[]string{"__complete", "run", "--log-format", ""}, exitOK, []string{"auto\ntext\njson\njournal\n"}},
	})
	_, cfg := demoDir(t)
	runCases(t, []cliCase{
		{[]string{"__complete", "history", "--config", cfg, "--tree", ""}, exitOK, []string{"6.1-rt\n:4\n"}},
		{[]string{"__complete", "run", "--config", cfg + ".nope", "--tree", ""}, exitOK, []string{"!6.1-rt", ":4\n"}},
	})
}

// TestVersion: --version and `rtbot version` print the module version,
// the VCS revision, time and modified flag of the build, and the Go
// version; "(devel)" and "unknown" when the build does not say.
func TestVersion(t *testing.T) {
	stamped := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/rtbot/rtbot", Version: "v1.2.3"},
		Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "3f3adb3c0ffee"}, {Key: "vcs.time", Value: "2026-12-07T12:00:00Z"},
			{Key: "vcs.modified", Value: "true"}}}
	clean := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"},
		Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "abc"}, {Key: "vcs.modified", Value: "false"}}}
	platform := " " + runtime.GOOS + "/" + runtime.GOARCH + "\n"
	for _, tt := range []struct {
		name string
		bi   buildInfo
		want string
	}{
		{"stamped", buildInfo{ok: true, info: stamped}, "rtbot v1.2.3\nrevision 3f3adb3c0ffee, 2026-12-07T12:00:00Z, modified\ngo1.26.8" + platform},
		{"clean", buildInfo{ok: true, info: clean}, "rtbot (devel)\nrevision abc\ngo1.26.8" + platform},
		{"none", buildInfo{}, "rtbot (devel)\nrevision unknown\n" + runtime.Version() + platform},
	} {
		if got := versionText(tt.bi); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
	var flag, cmd, errb bytes.Buffer
	if code := run(t.Context(), []string{"--version"}, &flag, &errb); code != exitOK || !strings.HasPrefix(flag.String(), "rtbot ") {
		t.Errorf("--version: exit %d, %q, stderr %q", code, flag.String(), errb.String())
	}
	if code := run(t.Context(), []string{"version"}, &cmd, &errb); code != exitOK || cmd.String() != flag.String() {
		t.Errorf("version: exit %d, %q; want what --version says, %q", code, cmd.String(), flag.String())
	}
}

// TestConfigPath: --config, else $RTBOT_CONFIG, else
// $XDG_CONFIG_HOME/rtbot/rtbot.toml (~/.config when unset), else
// /etc/rtbot/rtbot.toml; none is exit 78, naming the places tried.
func TestConfigPath(t *testing.T) {
	tests := []struct {
		name   string
		flag   string
		env    map[string]string
		exists []string
		want   string // "" for an error
		says   []string
	}{
		{"flag first", "/f.toml", map[string]string{"RTBOT_CONFIG": "/e.toml"}, []string{"/etc/rtbot/rtbot.toml"}, "/f.toml", nil},
		{"env next", "", map[string]string{"RTBOT_CONFIG": "/e.toml", "HOME": "/h"}, []string{"/h/.config/rtbot/rtbot.toml"}, "/e.toml", nil},
		{"xdg", "", map[string]string{"XDG_CONFIG_HOME": "/x", "HOME": "/h"}, []string{"/x/rtbot/rtbot.toml", "/etc/rtbot/rtbot.toml"},
			"/x/rtbot/rtbot.toml", nil},
		{"home", "", map[string]string{"HOME": "/h"}, []string{"/h/.config/rtbot/rtbot.toml", "/etc/rtbot/rtbot.toml"},
			"/h/.config/rtbot/rtbot.toml", nil},
		{"relative xdg is ignored", "", map[string]string{"XDG_CONFIG_HOME": "x", "HOME": "/h"}, []string{"/h/.config/rtbot/rtbot.toml"},
			"/h/.config/rtbot/rtbot.toml", nil},
		{"system", "", map[string]string{"XDG_CONFIG_HOME": "/x"}, []string{"/etc/rtbot/rtbot.toml"}, "/etc/rtbot/rtbot.toml", nil},
		{"none", "", map[string]string{"HOME": "/h"}, nil, "",
			[]string{"no --config", "$RTBOT_CONFIG is not set", "/h/.config/rtbot/rtbot.toml", "/etc/rtbot/rtbot.toml"}},
		{"none, no home", "", nil, nil, "", []string{"neither $XDG_CONFIG_HOME nor $HOME is set", "/etc/rtbot/rtbot.toml"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := configPath(tt.flag, func(k string) string { return tt.env[k] },
				func(p string) bool { return slices.Contains(tt.exists, p) })
			if got != tt.want || (err == nil) != (tt.want != "") {
				t.Fatalf("configPath = %q, %v; want %q", got, err, tt.want)
			}
			if err != nil && exitCode(err) != exitConfig {
				t.Errorf("exit %d, want %d", exitCode(err), exitConfig)
			}
			for _, s := range tt.says {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("%q does not say %q", err, s)
				}
			}
		})
	}
}

// TestDefaultConfig: the commands that read a configuration find it
// without --config, through $RTBOT_CONFIG or $XDG_CONFIG_HOME; without
// any, they exit 78.
func TestDefaultConfig(t *testing.T) {
	dir, cfg := demoDir(t)
	xdg := filepath.Join(dir, "xdg")
	if err := os.MkdirAll(xdg, 0o755); err != nil {
		t.Fatal(err)
	}
	// The demo's rtbot.toml names its files relative to itself.
	if err := os.Symlink(dir, filepath.Join(xdg, "rtbot")); err != nil {
		t.Fatal(err)
	}
	nowhere := t.TempDir()
	for _, tt := range []struct {
		name string
		env  map[string]string
		args []string
		code int
		want string
	}{
		{"RTBOT_CONFIG", map[string]string{"RTBOT_CONFIG": cfg}, []string{"history"}, exitOK, "rtbot/6.1-rt/6.1.12-rc1-partial"},
		{"XDG_CONFIG_HOME", map[string]string{"XDG_CONFIG_HOME": xdg}, []string{"status"}, exitOK, "state check: ok"},
		{"HOME", map[string]string{"HOME": dir, "XDG_CONFIG_HOME": xdg}, []string{"resolve", "--list"}, exitOK, "no remembered resolutions"},
		{"none", map[string]string{"HOME": nowhere}, []string{"status"}, exitConfig, "no configuration"},
		{"none for run", map[string]string{"HOME": nowhere}, []string{"run"}, exitConfig, filepath.Join(nowhere, ".config/rtbot/rtbot.toml")},
		{"none for check", map[string]string{"HOME": nowhere}, []string{"check"}, exitConfig, "$RTBOT_CONFIG is not set"},
		{"a configuration that does not load", map[string]string{"RTBOT_CONFIG": filepath.Join(nowhere, "nope.toml")}, []string{"history"},
			exitConfig, "nope.toml"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := runEnv(t.Context(), tt.args, &out, &errb, func(k string) string { return tt.env[k] })
			if all := out.String() + errb.String(); code != tt.code || !strings.Contains(all, tt.want) {
				t.Errorf("%v: exit %d, want %d and %q:\n%s", tt.args, code, tt.code, tt.want, all)
			}
		})
	}
}

// TestLockHeld: every command that takes the lock exits 75 (EX_TEMPFAIL)
// while another rtbot holds it, having done nothing.
func TestLockHeld(t *testing.T) {
	_, cfgPath := demoDir(t)
	cfg, err := config.Load(cfgPath, pipeline.ConfigRules())
	if err != nil {
		t.Fatal(err)
	}
	release, err := pipeline.Lock(cfg.Bot.Lock)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	for _, args := range [][]string{{"run"}, {"run", "--onto", "v6.1.12-rc1"}, {"watch"}, {"rerun", "1"}, {"resolve", "--list"}} {
		args = append(args, "--config", cfgPath)
		runCases(t, []cliCase{{args, exitTempFail, []string{"is held by pid ", "another rtbot is running"}}})
	}
	if err := release(); err != nil {
		t.Fatal(err)
	}
	runCases(t, []cliCase{{[]string{"resolve", "--list", "--config", cfgPath}, exitOK, []string{"no remembered resolutions"}}})
}

// TestUnknownNames: a tree, run or action that does not exist is an error
// (exit 1) that names it, not an empty answer.
func TestUnknownNames(t *testing.T) {
	_, cfg := demoDir(t)
	runCases(t, []cliCase{
		{[]string{"history", "--config", cfg, "--tree", "nosuch"}, exitError, []string{`no [[tree]] named "nosuch" (it has 6.1-rt)`}},
		{[]string{"history", "--config", cfg, "--tree", "6.1-rt"}, exitOK, []string{"rtbot/6.1-rt/6.1.12-rc1-partial"}},
		{[]string{"history", "--config", cfg, "99"}, exitError, []string{"run 99: not found"}},
		{[]string{"history", "--config", cfg, "--run", "99"}, exitError, []string{"run 99: not found"}},
		{[]string{"history", "--config", cfg, "1"}, exitOK, []string{"run 1: tree 6.1-rt"}},
		{[]string{"history", "--config", cfg, "one"}, exitUsage, []string{`"one" is not a run id`}},
		{[]string{"run", "--config", cfg, "--onto", "v6.1.12-rc1", "--tree", "nosuch"}, exitError, []string{`no [[tree]] named "nosuch"`}},
		{[]string{"run", "--config", cfg, "--tree", "6.1-rt"}, exitUsage, []string{"--tree and --force go with --onto"}},
		{[]string{"rerun", "--config", cfg, "99"}, exitError, []string{"run 99: not found"}},
		{[]string{"rerun", "--config", cfg, "nosuch@x"}, exitError, []string{"not found"}},
		{[]string{"action", "--config", cfg, "--done", "99"}, exitError, []string{"action 99", "not found"}},
		{[]string{"action", "--config", cfg, "--retry", "99"}, exitError, []string{"action 99", "not found"}},
		{[]string{"resolve", "--config", cfg, "--run", "99", "--fix", "HEAD"}, exitError, []string{"run 99", "not found"}},
	})
}

// TestFlagsAfterArguments: flags may follow arguments, as in git.
func TestFlagsAfterArguments(t *testing.T) {
	file := sharedMails + "/stable-6.1.12-rc1.eml"
	var out, errb bytes.Buffer
	if code := run(t.Context(), []string{"announce", file, "--json"}, &out, &errb); code != exitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	var line announceLine
	if err := json.Unmarshal(out.Bytes(), &line); err != nil || line.File != file || line.Version != "6.1.12" {
		t.Errorf("announce FILE --json printed %q (%v), want its JSON line", out.String(), err)
	}
	_, cfg := demoDir(t)
	runCases(t, []cliCase{
		{[]string{"history", "1", "--config", cfg, "--json"}, exitOK, []string{`"tree": "6.1-rt"`}},
		{[]string{"action", "99", "--done", "--config", cfg}, exitError, []string{"action 99"}},
	})
}

// TestManPages: `rtbot man DIR` writes rtbot.1 and a page per command;
// rtbot.1 has the exit codes of the one table and the default
// configuration, and man renders it when it is installed.
func TestManPages(t *testing.T) {
	dir := t.TempDir()
	var out, errb bytes.Buffer
	epoch := func(k string) string { return map[string]string{"SOURCE_DATE_EPOCH": "1764547200"}[k] } // 2025-12-01
	if code := runEnv(t.Context(), []string{"man", dir}, &out, &errb, epoch); code != exitOK || !strings.Contains(out.String(), "wrote 16 man page(s)") {
		t.Fatalf("rtbot man: exit %d, %q %q", code, out.String(), errb.String())
	}
	runCases(t, []cliCase{{[]string{"man"}, exitUsage, []string{"name the directory"}}})
	page, err := os.ReadFile(filepath.Join(dir, "rtbot.1"))
	if err != nil {
		t.Fatal(err)
	}
	roff := string(page)
	for _, want := range []string{`.TH "RTBOT" "1" "Dec 2025" "rtbot `, ".SH NAME", ".SH SYNOPSIS", ".SH EXIT STATUS", ".SH FILES", ".SH SEE ALSO",
		"/etc/rtbot/rtbot.toml", "$XDG_CONFIG_HOME/rtbot/rtbot.toml", `\fBrtbot-merge(1)\fP`} {
		if !strings.Contains(roff, want) {
			t.Errorf("rtbot.1 lacks %q", want)
		}
	}
	for _, s := range exitCodes() {
		if !strings.Contains(roff, fmt.Sprintf(".TP\n\\fB%d\\fP\n%s\n", s.Code, roffText(s.What))) {
			t.Errorf("rtbot.1's EXIT STATUS lacks %d", s.Code)
		}
	}
	if strings.Index(roff, ".SH EXIT STATUS") > strings.Index(roff, ".SH SEE ALSO") {
		t.Error("EXIT STATUS comes after SEE ALSO")
	}
	merge, err := os.ReadFile(filepath.Join(dir, "rtbot-merge.1"))
	if err != nil || !strings.Contains(string(merge), `\fB--onto\fP`) {
		t.Errorf("rtbot-merge.1 lacks --onto (%v)", err)
	}
	if _, err := exec.LookPath("man"); err != nil {
		t.Log("man is not installed: the page is not rendered")
		return
	}
	cmd := exec.Command("man", "-l", filepath.Join(dir, "rtbot.1"))
	cmd.Env = append(os.Environ(), "MANWIDTH=80", "MANPAGER=cat", "PAGER=cat")
	text, err := cmd.Output()
	if err != nil {
		t.Fatalf("man -l rtbot.1: %v", err)
	}
	words := strings.Join(strings.Fields(string(text)), " ")
	for _, want := range []string{"EXIT STATUS", "75 another rtbot holds the lock", "FILES", "/etc/rtbot/rtbot.toml"} {
		if !strings.Contains(words, want) {
			t.Errorf("man renders no %q:\n%s", want, text)
		}
	}
}
