package pipeline

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rtbot/rtbot/internal/config"
	"github.com/rtbot/rtbot/internal/testkit"
)

// The tests of this file complete issue 17's matrix: each way results
// come in (command with results file, GitLab, Jenkins, drop directory)
// through the real pass, for pass, fail, latency regression, missing at
// the deadline and a result for a checkout rtbot never wrote. The other
// combinations are in results_test.go.

// foreignCheckout is a well-formed checkout id rtbot never wrote.
var foreignCheckout = "rtbot:6.1-rt:6.1.12-rc2:" + strings.Repeat("0", 40)

// labArtifact is a lab's KCIDB document for checkout: a build and a
// cyclictest on qemu-x86_64 that passed with the given maximum latency.
func labArtifact(t *testing.T, checkout string, max int) string {
	t.Helper()
	doc := fmt.Sprintf(`{"version": {"major": 5, "minor": 3},
 "builds": [{"id": "lab:b1", "origin": "lab", "checkout_id": %q, "status": "PASS", "architecture": "x86_64"}],
 "tests": [{"id": "lab:t1", "origin": "lab", "build_id": "lab:b1", "path": "rt.cyclictest", "status": "PASS",
   "log_url": "https://lab.example.org/t1.log",
   "environment": {"misc": {"platform": "qemu-x86_64"}}, "misc": {"latency": {"max_us": %d, "p99_9_us": 10}}}]}`, checkout, max)
	if err := testkit.ValidateJSON(t, kcidbSchema, []byte(doc)); err != nil {
		t.Fatalf("the lab's artifact does not validate: %v", err)
	}
	return doc
}

// ciTrigger is a webhook trigger "ci" on ci that passes the checkout id
// and is followed (poll) with a read token; artifact names its results
// artifact.
func ciTrigger(ci *fakeCI, poll, artifact string) config.Trigger {
	url := "/api/v4/projects/42/trigger/pipeline?token={secret}&ref=main&variables[RTBOT_CHECKOUT_ID]={checkout}"
	if poll == "jenkins" {
		url = "/job/rt/buildWithParameters?token={secret}&RT_CHECKOUT_ID={checkout}"
	}
	return config.Trigger{Name: "ci", Type: config.TriggerWebhook, URL: ci.srv.URL + url, Method: "POST",
		SecretEnv: "RTBOT_TEST_CI_TOKEN", Poll: poll, PollSecretEnv: "RTBOT_TEST_CI_READ", ResultsArtifact: artifact,
		Timeout: config.Duration{Duration: 10 * time.Second}}
}

// TestResultsPolledArtifact: a GitLab pipeline's job or a Jenkins build
// that archives a KCIDB results document (results_artifact) brings its
// latency figures through the real pass: a rise beyond the tolerance is
// a regression although everything passed; a document about a checkout
// rtbot never wrote is refused (nothing of it recorded, the CI's own
// outcome still is); one that is not KCIDB, or that the CI refuses to
// serve, is an ERROR, not a pass.
func TestResultsPolledArtifact(t *testing.T) {
	const jobs = `[{"id": 11, "name": "build", "stage": "build", "status": "success", "web_url": "https://gl.example/j/11"},
		{"id": 12, "name": "cyclictest", "stage": "test", "status": "success", "web_url": "https://gl.example/j/12"}]`
	type ciCase struct{ poll, outcome, jobs, artifactPath string }
	cis := []ciCase{
		{"gitlab", "success", jobs, "/api/v4/projects/42/jobs/12/artifacts/kcidb.json"},
		{"jenkins", "SUCCESS", "", "/job/rt/3/artifact/kcidb.json"},
	}
	for _, c := range cis {
		for _, tc := range []struct {
			name     string
			artifact func(t *testing.T, checkout string) string
			verdict  string
			bodyHas  string
			lab      bool // the lab's build is recorded
		}{
			{"latency regression", func(t *testing.T, checkout string) string { return labArtifact(t, checkout, 61) },
				"regressed", "max 61 was 40 +52.5% p99.9 10 was 10 +0.0% REGRESSED: max", true},
			{"within tolerance", func(t *testing.T, checkout string) string { return labArtifact(t, checkout, 42) },
				"passed", "max 42 was 40 +5.0%", true},
			{"unknown checkout", func(t *testing.T, _ string) string { return labArtifact(t, foreignCheckout, 61) },
				"passed", "PASSED:", false},
			{"not KCIDB", func(_ *testing.T, _ string) string { return "<html>Not a results file</html>" },
				"failed", "build ci-results: ERROR", false},
			{"artifact forbidden", func(_ *testing.T, _ string) string { return "403" },
				"failed", "build ci-results: ERROR", false},
		} {
			t.Run(c.poll+" "+tc.name, func(t *testing.T) {
				t.Setenv("RTBOT_TEST_CI_TOKEN", "trigger-token")
				t.Setenv("RTBOT_TEST_CI_READ", "read-token")
				ci := newFakeCI(t)
				ci.artifact = func(checkout string) string { return tc.artifact(t, checkout) }
				w := newResultsWorld(t, "ci")
				w.seedPrevious(t, 40)
				w.cfg.Triggers = append(w.cfg.Triggers, ciTrigger(ci, c.poll, "kcidb.json"))
				if pass := w.cleanRC2(t); len(pass.FollowUps) != 0 {
					t.Fatalf("follow-up while the CI runs: %+v", pass.FollowUps)
				}
				ci.finish(c.outcome, c.jobs)
				pass := w.pass(t, w.opts())
				if len(pass.FollowUps) != 1 || pass.FollowUps[0].Verdict != tc.verdict {
					t.Fatalf("follow-ups %+v, want one %s", pass.FollowUps, tc.verdict)
				}
				_, bodies := w.followUps(t)
				if len(bodies) != 1 || !strings.Contains(flat(bodies[0]), tc.bodyHas) {
					t.Fatalf("follow-up lacks %q: %q", tc.bodyHas, bodies)
				}
				if _, ok, err := w.store.BuildCheckout(context.Background(), "lab:b1"); ok != tc.lab || err != nil {
					t.Errorf("the lab's build recorded: %v (%v), want %v", ok, err, tc.lab)
				}
				ci.mu.Lock()
				defer ci.mu.Unlock()
				if got, want := ci.seen[c.artifactPath], map[string]string{"gitlab": "read-token", "jenkins": "Basic read-token"}[c.poll]; got != want {
					t.Errorf("%s carried %q, want %q", c.artifactPath, got, want)
				}
			})
		}
	}
}

// TestResultsPolledArtifactAbsent: a CI whose build archived no results
// artifact (404) counts by its own outcome alone.
func TestResultsPolledArtifactAbsent(t *testing.T) {
	t.Setenv("RTBOT_TEST_CI_TOKEN", "trigger-token")
	t.Setenv("RTBOT_TEST_CI_READ", "read-token")
	ci := newFakeCI(t)
	w := newResultsWorld(t, "ci")
	w.cfg.Triggers = append(w.cfg.Triggers, ciTrigger(ci, "jenkins", "kcidb.json"))
	w.cleanRC2(t)
	ci.finish("FAILURE", "")
	pass := w.pass(t, w.opts())
	w.wantFollowUp(t, pass, "failed", "FAILED: 1 build (1 failed), 0 tests")
}

// TestResultsJenkinsMissingAtDeadline: a Jenkins build that never
// finishes is reported missing once the deadline passed, not before.
func TestResultsJenkinsMissingAtDeadline(t *testing.T) {
	t.Setenv("RTBOT_TEST_CI_TOKEN", "trigger-token")
	t.Setenv("RTBOT_TEST_CI_READ", "read-token")
	ci := newFakeCI(t)
	w := newResultsWorld(t, "ci")
	w.cfg.Triggers = append(w.cfg.Triggers, ciTrigger(ci, "jenkins", "kcidb.json"))
	if pass := w.cleanRC2(t); len(pass.FollowUps) != 0 {
		t.Fatalf("follow-up while the build runs: %+v", pass.FollowUps)
	}
	if pass := w.pass(t, w.opts()); len(pass.FollowUps) != 0 {
		t.Fatalf("follow-up before the deadline: %+v", pass.FollowUps)
	}
	w.missingAtDeadline(t, "ci")
}

// TestResultsCommandUnknownCheckout: a command's results file about a
// checkout rtbot never wrote is refused: none of its builds and tests are
// recorded; the command's exit status still is.
func TestResultsCommandUnknownCheckout(t *testing.T) {
	w := newResultsWorld(t, "build-test")
	testkit.WriteFile(t, filepath.Join(w.lab, "checkout"), foreignCheckout+"\n", 0o644)
	pass := w.cleanRC2(t)
	if len(pass.FollowUps) != 1 || pass.FollowUps[0].Verdict != "passed" {
		t.Fatalf("follow-ups %+v", pass.FollowUps)
	}
	rt, _, err := w.store.TestsOf(context.Background(), pass.FollowUps[0].RunID)
	if err != nil || len(rt.Results) != 1 || rt.Results[0].Path != "build-test" {
		t.Fatalf("results %+v, %v; want only the exit status", rt.Results, err)
	}
	if _, bodies := w.followUps(t); len(bodies) != 1 || !strings.Contains(flat(bodies[0]), "PASSED: 1 build (0 failed), 0 tests (0 failed)") {
		t.Fatalf("follow-up bodies %q", bodies)
	}
}

// TestResultsCommandMissingAtDeadline: a command that dies without an
// exit status (SIGKILL) delivers nothing; the follow-up at the deadline
// names it missing.
func TestResultsCommandMissingAtDeadline(t *testing.T) {
	w := newResultsWorld(t, "build-test")
	w.setLab(t, "40", "0", "killed")
	if pass := w.cleanRC2(t); len(pass.FollowUps) != 0 {
		t.Fatalf("follow-up before the deadline: %+v", pass.FollowUps)
	}
	w.missingAtDeadline(t, "build-test")
}

// dropResults writes a document into the [results] dir as a lab would.
func dropResults(t *testing.T, w *resultsWorld, name string, doc []byte) {
	t.Helper()
	if err := testkit.ValidateJSON(t, kcidbSchema, doc); err != nil {
		t.Fatalf("%s does not validate: %v", name, err)
	}
	if err := os.MkdirAll(w.cfg.Results.Dir, 0o755); err != nil {
		t.Fatal(err)
	}
	testkit.WriteFile(t, filepath.Join(w.cfg.Results.Dir, name), string(doc), 0o644)
}

// TestResultsDropDirectoryPass: a lab's finished document dropped for
// rtbot's checkout completes the run: the follow-up says passed.
func TestResultsDropDirectoryPass(t *testing.T) {
	w := newResultsWorld(t, "kernelci")
	w.cleanRC2(t)
	_, checkout := kcidbCheckout(t, w.world)
	dropResults(t, w, "lava.json", kcidbResults(checkout["id"].(string), "PASS", true))
	pass := w.pass(t, w.opts())
	if len(pass.FollowUps) != 1 || pass.FollowUps[0].Verdict != "passed" {
		t.Fatalf("follow-ups %+v", pass.FollowUps)
	}
	testkit.Glob(t, filepath.Join(w.cfg.Results.Dir, "done", "lava.json"))
	if _, bodies := w.followUps(t); len(bodies) != 1 || !strings.Contains(flat(bodies[0]), "PASSED: 1 build (0 failed), 1 test (0 failed)") {
		t.Fatalf("follow-up bodies %q", bodies)
	}
}

// TestResultsDropDirectoryMissingAtDeadline: a lab that dropped part of
// its results and never said the checkout is finished is named missing
// at the deadline; what it did drop is in the follow-up.
func TestResultsDropDirectoryMissingAtDeadline(t *testing.T) {
	w := newResultsWorld(t, "kernelci")
	w.cleanRC2(t)
	_, checkout := kcidbCheckout(t, w.world)
	dropResults(t, w, "lava.json", kcidbResults(checkout["id"].(string), "PASS", false))
	if pass := w.pass(t, w.opts()); len(pass.FollowUps) != 0 {
		t.Fatalf("follow-up before the deadline: %+v", pass.FollowUps)
	}
	w.clock = w.clock.Add(w.cfg.Results.Deadline.Duration + time.Minute)
	pass := w.pass(t, w.opts())
	if len(pass.FollowUps) != 1 || pass.FollowUps[0].Verdict != "incomplete" {
		t.Fatalf("follow-ups %+v", pass.FollowUps)
	}
	_, bodies := w.followUps(t)
	if len(bodies) != 1 || !strings.Contains(flat(bodies[0]), "INCOMPLETE: no results from kernelci; 1 build (0 failed), 1 test (0 failed)") ||
		!strings.Contains(flat(bodies[0]), "Missing: no results from kernelci before the deadline.") {
		t.Fatalf("follow-up bodies %q", bodies)
	}
	rt, _, err := w.store.TestsOf(context.Background(), pass.FollowUps[0].RunID)
	if err != nil || len(rt.Results) != 2 {
		t.Fatalf("results %+v, %v", rt.Results, err)
	}
}

// TestResultsCyclictestLogExcerpt: a lab that sends cyclictest's own
// output in the test's log_excerpt, without misc.latency, has its figures
// compared like any other: a rise beyond the tolerance is a regression.
func TestResultsCyclictestLogExcerpt(t *testing.T) {
	w := newResultsWorld(t, "kernelci")
	w.seedPrevious(t, 40)
	w.cleanRC2(t)
	_, checkout := kcidbCheckout(t, w.world)
	excerpt := "# /dev/cpu_dma_latency set to 0us\n" +
		"T: 0 (10468) P:99 I:1000 C: 100000 Min:      1 Act:    1 Avg:    2 Max:      38\n" +
		"T: 1 (10469) P:99 I:1500 C:  66667 Min:      1 Act:    1 Avg:    2 Max:      72\n"
	doc := fmt.Sprintf(`{"version": {"major": 5, "minor": 3},
 "checkouts": [{"id": %[1]q, "origin": "rtbot", "origin_tests_finish_time": "2026-12-07T12:00:00Z"}],
 "builds": [{"id": "lava:b1", "origin": "lava", "checkout_id": %[1]q, "status": "PASS"}],
 "tests": [{"id": "lava:t1", "origin": "lava", "build_id": "lava:b1", "path": "rt.cyclictest", "status": "PASS",
   "environment": {"misc": {"platform": "qemu-x86_64"}}, "log_excerpt": %[2]q}]}`, checkout["id"], excerpt)
	dropResults(t, w, "lava.json", []byte(doc))
	pass := w.pass(t, w.opts())
	w.wantFollowUp(t, pass, "regressed", "max 72 was 40 +80.0% cpu0 max 38 cpu1 max 72 REGRESSED: max")
}

// TestResultsPolledCrash: a crash after a GitLab artifact said the
// checkout is finished (completing the kcidb trigger) but before the
// pipeline's results were saved loses nothing: the next pass polls again,
// records every result, and exactly one follow-up is mailed at once, not
// at the deadline.
func TestResultsPolledCrash(t *testing.T) {
	t.Setenv("RTBOT_TEST_CI_TOKEN", "trigger-token")
	t.Setenv("RTBOT_TEST_CI_READ", "read-token")
	ci := newFakeCI(t)
	ci.artifact = func(checkout string) string {
		doc := labArtifact(t, checkout, 40)
		return strings.Replace(doc, `"builds":`, fmt.Sprintf(`"checkouts": [{"id": %q, "origin": "rtbot",
 "origin_tests_finish_time": "2026-12-07T12:00:00Z"}], "builds":`, checkout), 1)
	}
	w := newResultsWorld(t, "kernelci", "ci")
	w.cfg.Triggers = append(w.cfg.Triggers, ciTrigger(ci, "gitlab", "kcidb.json"))
	crashed := false
	opts := w.opts()
	opts.Fault = func(p string) error {
		if p == FaultPolledFinished && !crashed {
			crashed = true
			return errors.New("crash")
		}
		return nil
	}
	w.publishRC2(t)
	w.send(t, rcMail(2, crashRC2))
	if _, err := New(w.cfg, w.store, opts).Once(context.Background()); err != nil {
		t.Fatalf("first pass: %v", err)
	}
	ci.finish("success", `[{"id": 12, "name": "cyclictest", "stage": "test", "status": "success"}]`)
	if _, err := New(w.cfg, w.store, opts).Once(context.Background()); !errors.As(err, new(*Stopped)) {
		t.Fatalf("pass at the crash point: %v", err)
	}
	pass, err := New(w.cfg, w.store, opts).Once(context.Background())
	if err != nil || !crashed {
		t.Fatalf("pass after the crash: %v (crashed %v)", err, crashed)
	}
	if len(pass.FollowUps) != 1 || pass.FollowUps[0].Verdict != "passed" {
		t.Fatalf("follow-ups %+v", pass.FollowUps)
	}
	rt, _, err := w.store.TestsOf(context.Background(), pass.FollowUps[0].RunID)
	// The pipeline, its job, the lab's build and cyclictest.
	if err != nil || len(rt.Results) != 4 || !rt.Complete() {
		t.Fatalf("results %+v (complete %v), %v", rt.Results, rt.Complete(), err)
	}
	if s, _ := w.followUps(t); len(s) != 1 {
		t.Errorf("follow-ups %q, want exactly one", s)
	}
}
