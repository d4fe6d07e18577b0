package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rtbot/rtbot/internal/fixtures"
	"github.com/rtbot/rtbot/internal/merger"
	"github.com/rtbot/rtbot/internal/state"
	"github.com/rtbot/rtbot/internal/testkit"
	"github.com/rtbot/rtbot/internal/triage"
)

// jsonOutput is what one `rtbot ... --json` printed, and a new value of
// the document type docs/json.md says it is.
type jsonOutput struct {
	name string // the golden file's name, and the docs' example's
	out  []byte
	dir  string // the directory the command worked in, "" if none
	// checkOnly is set for an output that is checked but has no golden
	// file (no example in docs/json.md).
	checkOnly bool
}

// jsonDocTypes are the document types, by the name docs/json.md gives
// their examples.
var jsonDocTypes = map[string]func() any{
	"merge":        func() any { return new(mergeJSON) },
	"announce":     func() any { return new(announceLine) },
	"run":          func() any { return new(passJSON) },
	"run-learning": func() any { return new(passJSON) },
	"rerun":        func() any { return new(passJSON) },
	"status":       func() any { return new(statusJSON) },
	"history":      func() any { return new(historyJSON) },
	"history-run":  func() any { return new(historyRunJSON) },
}

// TestJSONOutputs runs every command that has --json through its real
// code path on the fixtures (merge on the demo data, announce on the
// real list mails, run, rerun, status and history on passes over the
// in-process IMAP server) and checks that each output decodes into its
// documented type with unknown fields disallowed, and follows the style
// of docs/json.md: no null anywhere, snake_case keys, "schema": 1 at the
// top, times in RFC 3339 UTC, durations as numbers. The outputs, with
// what changes from run to run replaced, are the golden files
// docs/json.md's examples come from.
func TestJSONOutputs(t *testing.T) {
	outs := append(mergeJSONOutputs(t), announceJSONOutput(t))
	outs = append(outs, passJSONOutputs(t)...)
	for _, o := range outs {
		t.Run(o.name, func(t *testing.T) {
			if err := checkJSON(o.out, jsonDocTypes[o.name]); err != nil {
				t.Fatalf("%v:\n%s", err, o.out)
			}
			if o.checkOnly {
				return
			}
			jsonGolden(t, filepath.Join("testdata", "json", o.name+".json"), normalizeJSON(o.out, o.dir))
		})
	}
}

// rtbotJSON runs rtbot with args and returns its stdout, failing the test
// unless it exits with code.
func rtbotJSON(t *testing.T, code int, args ...string) []byte {
	t.Helper()
	var out, errb bytes.Buffer
	if got := run(context.Background(), args, &out, &errb); got != code {
		t.Fatalf("rtbot %v: exit %d, want %d\n%s%s", args, got, code, out.String(), errb.String())
	}
	return out.Bytes()
}

// mergeJSONOutputs is `rtbot merge --json` on the demo's repository and
// queue (a conflict, an already-applied patch, a 3-way merge), and on
// mergeRepo's (a malformed patch, a branch moved).
func mergeJSONOutputs(t *testing.T) []jsonOutput {
	dir := t.TempDir()
	d, err := fixtures.BuildDemo(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := rtbotJSON(t, exitManual, "merge", "--repo", d.Repo, "--queue", d.Queue, "--base", d.Base, "--onto", d.Onto, "--json")
	// A queue with a malformed patch and a conflict, already-applied
	// patches dropped: the keys the demo does not have.
	repo, queue := mergeRepo(t)
	odd := rtbotJSON(t, exitManual, "merge", "--repo", repo, "--queue", queue, "--base", "v1", "--onto", "v2-rc1", "--drop-applied", "--branch", "rtbot/test", "--json")
	// A conflict with a proposed refresh, committed on T-proposed.
	prepo, pqueue := proposalRepo(t)
	proposed := rtbotJSON(t, exitManual, "merge", "--repo", prepo, "--queue", pqueue, "--base", "v1", "--onto", "v2-rc1", "--branch", "T", "--json")
	return []jsonOutput{{name: "merge", out: out, dir: dir}, {name: "merge", out: odd, checkOnly: true}, {name: "merge", out: proposed, checkOnly: true}}
}

// announceJSONOutput is `rtbot announce --json` on every real list mail.
func announceJSONOutput(t *testing.T) jsonOutput {
	files, err := filepath.Glob(filepath.Join("..", "..", "internal", "fixtures", "mails", "*.eml"))
	if err != nil || len(files) < 10 {
		t.Fatalf("the list mails: %v (%d)", err, len(files))
	}
	return jsonOutput{name: "announce", out: rtbotJSON(t, exitOK, append([]string{"announce", "--json"}, files...)...)}
}

// passJSONOutputs runs the demo's passes over the in-process IMAP server
// (the genuine cover and one for another branch, which is ignored), a
// maintainer's fix pushed and learnt by the next pass, a rerun, history,
// then status with a failed report, a report in doubt and an
// announcement waiting.
func passJSONOutputs(t *testing.T) []jsonOutput {
	dir := newDemo(t)
	imap, smtp := startDemoMail(t, dir)
	cfg := filepath.Join(dir, "rtbot.toml")
	testkit.WriteFile(t, cfg, fmt.Sprintf(demoConfig, dir, imap.Addr, smtp.Addr), 0o644)
	testkit.WriteFile(t, filepath.Join(dir, "lab.sh"), fmt.Sprintf(demoLab, dir), 0o755)

	var outs []jsonOutput
	add := func(name string, code int, cmd string, args ...string) {
		args = append([]string{cmd, "--config", cfg, "--json"}, args...)
		outs = append(outs, jsonOutput{name: name, out: rtbotJSON(t, code, args...), dir: dir})
	}
	add("run", exitOK, "run")
	serialFix(t, filepath.Join(dir, "published.git"), "rtbot/6.1-rt/6.1.12-rc1-partial", "serial: 8250: Use port lock wrappers\n")
	add("run-learning", exitOK, "run", "--onto", "v6.1.11")
	add("rerun", exitOK, "rerun", "1")
	add("history", exitOK, "history")
	add("history-run", exitOK, "history", "--run", "1")
	checkDemoKCIDB(t, dir)
	stuckState(t, cfg)
	add("status", exitManual, "status")
	return outs
}

// checkDemoKCIDB checks the KCIDB documents the demo configuration's
// kernelci trigger wrote in dir/kcidb for its clean runs: each is valid
// against the vendored KCIDB schema v5, and the release tag's (run --onto
// v6.1.11; the demo's rc stays manual, its queue has a patch to drop)
// has no message_id, which only a list announcement has. The pipeline's
// tests validate a clean rc's document.
func checkDemoKCIDB(t *testing.T, dir string) {
	t.Helper()
	docs := testkit.Glob(t, filepath.Join(dir, "kcidb", "*.json"))
	release := 0
	for _, f := range docs {
		data := testkit.ReadFile(t, f)
		if err := testkit.ValidateJSON(t, filepath.Join("..", "..", "internal", "trigger", "testdata", "kcidb-schema-v5.json"), []byte(data)); err != nil {
			t.Errorf("%s does not validate against KCIDB schema v5: %v", f, err)
		}
		if strings.Contains(filepath.Base(f), "-6.1.11-") {
			release++
			if strings.Contains(data, `"message_id"`) {
				t.Errorf("%s: a release-tag run has no list mail, but its document has a message_id", f)
			}
		}
	}
	if release != 1 {
		t.Errorf("KCIDB documents %v: want one for the release tag v6.1.11", docs)
	}
}

// stuckState records, in the state of the configuration at cfg, a report
// the server refused for good, one interrupted while committing and an
// announcement waiting for its candidate, for status to list.
func stuckState(t *testing.T, cfg string) {
	ctx := context.Background()
	st := openConfigState(t, cfg)
	stuckReports(t, st)
	_, _, err := st.RecordAnnouncement(ctx, state.Announcement{MessageID: "future@x", Kind: "stable-rc", Series: "6.1",
		Version: "6.1.14", RC: 1})
	if err := errors.Join(err, st.WaitAnnouncement(ctx, "future@x", "linux-6.1.y says 6.1.12-rc1, not 6.1.14-rc1",
		time.Date(2030, 1, 2, 3, 4, 0, 0, time.UTC))); err != nil {
		t.Fatal(err)
	}
}

// checkJSON checks data, one JSON document or several one after the other
// (announce), against the document type newDoc makes and the style rules.
func checkJSON(data []byte, newDoc func() any) error {
	if newDoc == nil {
		return errors.New("no document type for this output")
	}
	strict := json.NewDecoder(bytes.NewReader(data))
	strict.DisallowUnknownFields()
	loose := json.NewDecoder(bytes.NewReader(data))
	loose.UseNumber()
	for n := 0; ; n++ {
		err := strict.Decode(newDoc())
		if err == io.EOF && n > 0 {
			return nil
		}
		if err != nil {
			return fmt.Errorf("document %d: %w", n+1, err)
		}
		var v any
		if err := loose.Decode(&v); err != nil {
			return err
		}
		top, ok := v.(map[string]any)
		if !ok || top["schema"] != json.Number("1") {
			return fmt.Errorf("document %d: no top-level \"schema\": 1", n+1)
		}
		if err := checkJSONStyle("", v); err != nil {
			return fmt.Errorf("document %d: %w", n+1, err)
		}
	}
}

// jsonDataMaps are the keys whose objects are maps keyed by data (status
// names), not by field names.
var jsonDataMaps = map[string]bool{"announcements": true, "by_status": true}

var (
	snakeCase  = regexp.MustCompile(`^[a-z][a-z0-9]*(_[a-z0-9]+)*$`)
	jsonTimeKV = regexp.MustCompile(`(_at|^deadline|^first_seen|^last_attempt|^wait_until)$`)
)

// checkJSONStyle checks the value v at path (a generic decode, numbers as
// json.Number) and everything in it against docs/json.md's rules.
func checkJSONStyle(path string, v any) error {
	key := path[strings.LastIndex(path, ".")+1:]
	switch v := v.(type) {
	case nil:
		return fmt.Errorf("%s is null", path)
	case map[string]any:
		for k, e := range v {
			if !jsonDataMaps[key] && !snakeCase.MatchString(k) {
				return fmt.Errorf("%s.%s: key not snake_case", path, k)
			}
			if err := checkJSONStyle(path+"."+k, e); err != nil {
				return err
			}
		}
	case []any:
		for i, e := range v {
			if err := checkJSONStyle(fmt.Sprintf("%s[%d]", path, i), e); err != nil {
				return err
			}
		}
	case string:
		if jsonTimeKV.MatchString(key) && v != "" {
			if _, err := time.Parse(time.RFC3339, v); err != nil || !strings.HasSuffix(v, "Z") {
				return fmt.Errorf("%s = %q: not an RFC 3339 time in UTC", path, v)
			}
		}
	}
	if _, isNumber := v.(json.Number); strings.HasSuffix(key, "_seconds") && !isNumber {
		return fmt.Errorf("%s = %v: a duration that is not a number", path, v)
	}
	return nil
}

// jsonTimeVolatile and the rest match what changes from one test run to
// the next in the outputs: replaced, the outputs are the golden files.
var (
	jsonTimeVolatile = regexp.MustCompile(`"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"`)
	jsonElapsed      = regexp.MustCompile(`"elapsed_seconds": [0-9.e-]+`)
	jsonAddr         = regexp.MustCompile(`127\.0\.0\.1:\d+`)
)

// normalizeJSON is out with what changes from one run to the next (times,
// temporary directories, ports, Message-IDs rtbot makes) replaced by
// fixed values. The times of the test run become 2023-02-14T10:00:00Z,
// a day after the demo's cover, so the examples still follow the rules;
// the times of the mails and those the tests set are kept.
func normalizeJSON(out []byte, dir string) []byte {
	s := string(out)
	if dir != "" {
		s = strings.ReplaceAll(s, dir, "/srv/rtbot")
	}
	s = strings.ReplaceAll(s, `"../../`, `"`) // announce's files, as from the top of the repository
	now := time.Now()
	s = jsonTimeVolatile.ReplaceAllStringFunc(s, func(m string) string {
		if t, err := time.Parse(time.RFC3339, strings.Trim(m, `"`)); err == nil && t.After(now.Add(-time.Hour)) && t.Before(now.Add(time.Hour)) {
			return `"2023-02-14T10:00:00Z"`
		}
		return m
	})
	s = jsonElapsed.ReplaceAllString(s, `"elapsed_seconds": 0.042`)
	s = jsonAddr.ReplaceAllString(s, "127.0.0.1:1143")
	return []byte(s)
}

// jsonVolatileID matches the ids that change from one test run to the
// next: the commits rtbot and the test make (their committer time is the
// test's), the configuration's hash (of the test's directory), the
// random part of the Message-IDs rtbot makes.
var jsonVolatileID = regexp.MustCompile(`\b[0-9a-f]{12,40}\b`)

// jsonGolden is testkit.Golden for the JSON outputs, which keeps real ids
// in the golden files: with -update it writes got to path; without, it
// compares got with the file but for the ids jsonVolatileID matches.
func jsonGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if f := flag.Lookup("update"); f != nil && f.Value.String() == "true" {
		testkit.Golden(t, path, got)
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("golden file: %v (run the test with -update to create it)", err)
	}
	wl := strings.Split(jsonVolatileID.ReplaceAllString(string(want), "ID"), "\n")
	gl := strings.Split(jsonVolatileID.ReplaceAllString(string(got), "ID"), "\n")
	for i := range max(len(wl), len(gl)) {
		if i >= len(wl) || i >= len(gl) || wl[i] != gl[i] {
			t.Fatalf("output differs from %s at line %d (run the test with -update to accept it):\n%s", path, i+1, got)
		}
	}
}

// TestMergeJSONNoNullRegionText is a regression test: a conflict region
// one side of which is empty (a patch inserting lines where the candidate
// changed them) has a nil text, which encoded as null.
func TestMergeJSONNoNullRegionText(t *testing.T) {
	rep := &triage.Report{Patches: []triage.PatchReport{{Name: "0001-x.patch", Files: []triage.FileReport{{
		Path: "a.c", Regions: []merger.Region{{CandText: []string{"x\n"}}}}}}}}
	var buf bytes.Buffer
	if err := writeJSON(&buf, toMergeJSON(rep)); err != nil {
		t.Fatal(err)
	}
	if err := checkJSON(buf.Bytes(), jsonDocTypes["merge"]); err != nil {
		t.Fatalf("%v:\n%s", err, buf.Bytes())
	}
}
