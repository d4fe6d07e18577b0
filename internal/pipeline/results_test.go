package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rtbot/rtbot/internal/config"
	"github.com/rtbot/rtbot/internal/state"
	"github.com/rtbot/rtbot/internal/testkit"
)

// labScript is a command trigger, run as a real process, that writes
// KCIDB results to $RTBOT_RESULTS for $RTBOT_CHECKOUT_ID (or the checkout
// in the file "checkout" next to it, if any): a build of its own and a
// cyclictest whose maximum latency is in the file "max", and exits with
// the status in the file "exit" ("skip" in the file "results" makes it
// write none, "killed" makes it die of SIGKILL before writing anything).
const labScript = `#!/bin/sh
dir=%q
[ "$(cat "$dir/results")" = killed ] && kill -9 $$
checkout=$(cat "$dir/checkout" 2>/dev/null)
[ -n "$checkout" ] || checkout=$RTBOT_CHECKOUT_ID
if [ "$(cat "$dir/results")" != skip ]; then
cat > "$RTBOT_RESULTS" <<EOF
{"version": {"major": 5, "minor": 3},
 "builds": [{"id": "lab:b-$RTBOT_COMMIT", "origin": "lab", "checkout_id": "$checkout", "status": "PASS", "architecture": "x86_64"}],
 "tests": [{"id": "lab:t-$RTBOT_COMMIT", "origin": "lab", "build_id": "lab:b-$RTBOT_COMMIT", "path": "rt.cyclictest", "status": "PASS",
   "log_url": "https://lab.example.org/cyclictest.log",
   "environment": {"misc": {"platform": "qemu-x86_64"}}, "misc": {"latency": {"max_us": $(cat "$dir/max"), "p99_9_us": 10}}}]}
EOF
fi
exit $(cat "$dir/exit")
`

// resultsWorld is a crash world whose tree fires the given triggers: the
// KCIDB one of the world ("kernelci") and/or "build-test", labScript; it
// has a [results] dir and a clock the test moves.
type resultsWorld struct {
	*crashWorld
	lab   string // labScript's directory
	clock time.Time
}

func newResultsWorld(t *testing.T, triggers ...string) *resultsWorld {
	t.Helper()
	w := &resultsWorld{crashWorld: newCrashWorld(t), clock: time.Now()}
	w.lab = filepath.Join(w.dir, "lab")
	if err := os.MkdirAll(w.lab, 0o755); err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(w.lab, "lab.sh")
	if err := os.WriteFile(script, fmt.Appendf(nil, labScript, w.lab), 0o755); err != nil {
		t.Fatal(err)
	}
	w.setLab(t, "40", "0", "")
	w.cfg.Triggers = append(w.cfg.Triggers, config.Trigger{Name: "build-test", Type: config.TriggerCommand,
		Argv: []string{script}, Timeout: config.Duration{Duration: time.Minute}})
	w.cfg.Trees[0].Triggers = triggers
	w.cfg.Results.Dir = filepath.Join(w.dir, "results")
	return w
}

// setLab sets what labScript reports next.
func (w *resultsWorld) setLab(t *testing.T, max, exit, results string) {
	t.Helper()
	for name, v := range map[string]string{"max": max, "exit": exit, "results": results} {
		if err := os.WriteFile(filepath.Join(w.lab, name), []byte(v+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func (w *resultsWorld) opts() Options {
	return Options{Retry: quickRetry, Now: func() time.Time { return w.clock }}
}

// cleanRC2 announces the clean rc2 and runs a pass.
func (w *resultsWorld) cleanRC2(t *testing.T) *Pass {
	t.Helper()
	w.publishRC2(t)
	w.send(t, rcMail(2, crashRC2))
	return w.pass(t, w.opts())
}

// followUps returns the follow-up mails the SMTP server got: their
// subjects and bodies, checked fit for the list.
func (w *resultsWorld) followUps(t *testing.T) (subjects, bodies []string) {
	t.Helper()
	for _, m := range w.smtp.Messages() {
		h, body := checkListMail(t, m.Data, w.dir)
		s, _ := h.Subject()
		if !strings.Contains(s, ": tests ") {
			continue
		}
		if got := h.Get("In-Reply-To"); got != "<"+crashRC2+">" {
			t.Errorf("follow-up In-Reply-To %q, want the announcement's", got)
		}
		subjects, bodies = append(subjects, s), append(bodies, body)
	}
	return subjects, bodies
}

// wantFollowUp checks that pass mailed one follow-up, with verdict, and
// that it is the only one the SMTP server got, saying text.
func (w *resultsWorld) wantFollowUp(t *testing.T, pass *Pass, verdict, text string) {
	t.Helper()
	if len(pass.FollowUps) != 1 || pass.FollowUps[0].Verdict != verdict {
		t.Fatalf("follow-ups %+v, want one %s", pass.FollowUps, verdict)
	}
	if _, bodies := w.followUps(t); len(bodies) != 1 || !strings.Contains(flat(bodies[0]), text) {
		t.Fatalf("follow-up bodies %q, want one saying %q", bodies, text)
	}
}

// missingAtDeadline runs a pass once the results deadline is over and
// checks that it mailed one follow-up naming trigger as missing.
func (w *resultsWorld) missingAtDeadline(t *testing.T, trigger string) {
	t.Helper()
	w.clock = w.clock.Add(w.cfg.Results.Deadline.Duration + time.Minute)
	w.wantFollowUp(t, w.pass(t, w.opts()), "incomplete", "Missing: no results from "+trigger+" before the deadline.")
}

// seedPrevious records a finished clean run of the tree before any other,
// whose cyclictest on qemu-x86_64 measured max microseconds.
func (w *resultsWorld) seedPrevious(t *testing.T, max float64) {
	t.Helper()
	ctx := context.Background()
	a, _, err := w.store.RecordAnnouncement(ctx, state.Announcement{MessageID: "prev@linuxfoundation.org", Kind: "stable-rc",
		Series: "6.1", Version: "6.1.11", RC: 1, Subject: "6.1.11-rc1"})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.store.SetAnnouncementStatus(ctx, a.MessageID, state.AnnouncementDone); err != nil {
		t.Fatal(err)
	}
	run, _, err := w.store.StartRun(ctx, state.RunSpec{Announcement: a.MessageID, Tree: "6.1-rt", Candidate: "c0", QueueID: "q0"})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.store.FinishRun(ctx, run.ID, state.RunResult{Outcome: state.OutcomeClean}); err != nil {
		t.Fatal(err)
	}
	if err := w.store.ExpectResults(ctx, run.ID, []string{"rtbot:prev"}, nil, w.clock); err != nil {
		t.Fatal(err)
	}
	lat := fmt.Sprintf(`{"max_us":%v,"p99_9_us":10}`, max)
	if err := w.store.SaveResults(ctx, []state.TestResult{{Kind: "test", ID: "lab:prev", CheckoutID: "rtbot:prev",
		Path: "rt.cyclictest", Status: "PASS", Machine: "qemu-x86_64", Latency: lat}}, run.ID, ""); err != nil {
		t.Fatal(err)
	}
	if err := w.store.SetFollowUp(ctx, run.ID, "old@rtbot", "passed"); err != nil {
		t.Fatal(err)
	}
	act, _, err := w.store.Intend(ctx, run.ID, state.ActionMail, "old@rtbot")
	if err == nil {
		err = w.store.Done(ctx, act.ID)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// TestResultsCommand: a command trigger's exit status and results file,
// through the real pass, give the follow-up its verdict: passed, failed
// (exit status), regressed (latency beyond the tolerance over the
// previous run, although every test passed).
func TestResultsCommand(t *testing.T) {
	for _, tc := range []struct {
		name, max, exit string
		prev            float64
		verdict         string
		bodyHas         []string
	}{
		{"pass", "40", "0", 0, "passed", []string{"PASSED: 2 builds (0 failed), 1 test (0 failed)", "rt.cyclictest on qemu-x86_64"}},
		{"fail", "40", "1", 0, "failed", []string{"FAILED: 2 builds (1 failed)", "build build-test: FAIL"}},
		{"latency regression", "61", "0", 40, "regressed", []string{"LATENCY REGRESSION: 1 latency test rose", "against 6.1.11-rc1",
			"max                  61  was         40  +52.5%", "REGRESSED: max"}},
		{"small rise within tolerance", "43", "0", 40, "passed", []string{"was         40  +7.5%"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newResultsWorld(t, "build-test")
			if tc.prev > 0 {
				w.seedPrevious(t, tc.prev)
			}
			w.setLab(t, tc.max, tc.exit, "")
			pass := w.cleanRC2(t)
			if len(pass.FollowUps) != 1 || pass.FollowUps[0].Verdict != tc.verdict || pass.FollowUps[0].Mail == "" {
				t.Fatalf("follow-ups %+v, want one mailed, %s", pass.FollowUps, tc.verdict)
			}
			subjects, bodies := w.followUps(t)
			if len(subjects) != 1 || subjects[0] != "[rtbot] 6.1-rt on 6.1.12-rc2: tests "+tc.verdict {
				t.Fatalf("follow-up mails %q", subjects)
			}
			for _, want := range tc.bodyHas {
				if !strings.Contains(flat(bodies[0]), flat(want)) {
					t.Errorf("follow-up lacks %q:\n%s", want, bodies[0])
				}
			}
			// What the lab wrote, rtbot read: valid KCIDB.
			for _, f := range testkit.Glob(t, filepath.Join(w.cfg.Bot.Workdir, "triggers", "6.1-rt", "*", "build-test-*.results.json")) {
				if err := testkit.ValidateJSON(t, kcidbSchema, []byte(testkit.ReadFile(t, f))); err != nil {
					t.Errorf("%s does not validate: %v", f, err)
				}
			}
			// Nothing is mailed twice.
			if pass := w.pass(t, w.opts()); len(pass.FollowUps) != 0 {
				t.Errorf("second pass follow-ups %+v", pass.FollowUps)
			}
			if s, _ := w.followUps(t); len(s) != 1 {
				t.Errorf("%d follow-ups after a second pass", len(s))
			}
		})
	}
}

// kcidbResults is a lab's KCIDB document for checkout: one build, one
// cyclictest, and the checkout repeated as finished when finished.
func kcidbResults(checkout string, status string, finished bool) []byte {
	doc := fmt.Sprintf(`{"version": {"major": 5, "minor": 3},
 "builds": [{"id": "lava:b1", "origin": "lava", "checkout_id": %q, "status": "PASS"}],
 "tests": [{"id": "lava:t1", "origin": "lava", "build_id": "lava:b1", "path": "boot", "status": %q,
   "log_url": "https://lava.example.org/t1.log"}]`, checkout, status)
	if finished {
		doc += fmt.Sprintf(`, "checkouts": [{"id": %q, "origin": "rtbot", "origin_tests_finish_time": "2026-12-07T12:00:00Z"}]`, checkout)
	}
	return []byte(doc + "}\n")
}

// TestResultsDropDirectory: KCIDB documents dropped in the [results] dir
// are imported by the next pass and moved to done/; one about a checkout
// rtbot never wrote is refused (moved to refused/, nothing recorded);
// the follow-up waits until the lab says the checkout is finished.
func TestResultsDropDirectory(t *testing.T) {
	w := newResultsWorld(t, "kernelci")
	if pass := w.cleanRC2(t); len(pass.FollowUps) != 0 {
		t.Fatalf("follow-up before any result: %+v", pass.FollowUps)
	}
	_, checkout := kcidbCheckout(t, w.world)
	id := checkout["id"].(string)
	drop := func(name string, doc []byte) {
		t.Helper()
		if err := testkit.ValidateJSON(t, kcidbSchema, doc); err != nil {
			t.Fatalf("%s does not validate: %v", name, err)
		}
		if err := os.MkdirAll(w.cfg.Results.Dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(w.cfg.Results.Dir, name), doc, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	drop("a-partial.json", kcidbResults(id, "PASS", false))
	drop("b-unknown.json", kcidbResults("rtbot:6.1-rt:6.1.12-rc2:"+strings.Repeat("0", 40), "PASS", true))
	if pass := w.pass(t, w.opts()); len(pass.FollowUps) != 0 {
		t.Fatalf("follow-up before the lab finished: %+v", pass.FollowUps)
	}
	testkit.Glob(t, filepath.Join(w.cfg.Results.Dir, "done", "a-partial.json"))
	testkit.Glob(t, filepath.Join(w.cfg.Results.Dir, "refused", "b-unknown.json"))
	drop("c-final.json", kcidbResults(id, "FAIL", true))
	pass := w.pass(t, w.opts())
	if len(pass.FollowUps) != 1 || pass.FollowUps[0].Verdict != "failed" {
		t.Fatalf("follow-ups %+v", pass.FollowUps)
	}
	_, bodies := w.followUps(t)
	if len(bodies) != 1 || !strings.Contains(bodies[0], "test boot: FAIL") || !strings.Contains(bodies[0], "log: https://lava.example.org/t1.log") {
		t.Fatalf("follow-up bodies %q", bodies)
	}
	// Only the one result of rtbot's checkout (updated by the second
	// document) and its build are recorded.
	rt, _, err := w.store.TestsOf(context.Background(), pass.FollowUps[0].RunID)
	if err != nil || len(rt.Results) != 2 {
		t.Fatalf("results %+v, %v", rt.Results, err)
	}
}

// TestResultsMissingAtDeadline: a run whose lab never reports gets, once
// the deadline passed, a follow-up naming what is missing; not before.
func TestResultsMissingAtDeadline(t *testing.T) {
	w := newResultsWorld(t, "kernelci", "build-test")
	w.setLab(t, "40", "0", "skip")
	if pass := w.cleanRC2(t); len(pass.FollowUps) != 0 {
		t.Fatalf("follow-up before the deadline: %+v", pass.FollowUps)
	}
	w.clock = w.clock.Add(w.cfg.Results.Deadline.Duration + time.Minute)
	pass := w.pass(t, w.opts())
	if len(pass.FollowUps) != 1 || pass.FollowUps[0].Verdict != "incomplete" {
		t.Fatalf("follow-ups %+v", pass.FollowUps)
	}
	_, bodies := w.followUps(t)
	if len(bodies) != 1 || !strings.Contains(flat(bodies[0]), "INCOMPLETE: no results from kernelci") ||
		!strings.Contains(bodies[0], "Missing: no results from kernelci before the deadline.") {
		t.Fatalf("follow-up bodies %q", bodies)
	}
}

// TestResultsImportRefusesUnknownCheckout: `rtbot results import` of a
// document about a checkout rtbot never wrote records nothing.
func TestResultsImportRefusesUnknownCheckout(t *testing.T) {
	w := newResultsWorld(t, "kernelci")
	w.cleanRC2(t)
	path := filepath.Join(w.dir, "foreign.json")
	if err := os.WriteFile(path, kcidbResults("other:abc", "PASS", false), 0o644); err != nil {
		t.Fatal(err)
	}
	p := New(w.cfg, w.store, w.opts())
	im, err := p.ImportResults(context.Background(), path, SourceImport)
	if err != nil || im.Results != 0 || len(im.Refused) != 2 {
		t.Fatalf("ImportResults = %+v, %v", im, err)
	}
	if _, ok, _ := w.store.BuildCheckout(context.Background(), "lava:b1"); ok {
		t.Fatal("a build of a foreign checkout was recorded")
	}
	if err := os.WriteFile(path, []byte(`{"version": {"major": 4}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := p.ImportResults(context.Background(), path, SourceImport); err == nil {
		t.Fatal("a KCIDB v4 document was imported")
	}
}

// TestResultsCrash: a crash at each new step (the command's results saved
// but the firing not recorded; a dropped file imported but not moved;
// the follow-up at the end of its transmission and after it was
// accepted) loses no result and mails no follow-up twice.
func TestResultsCrash(t *testing.T) {
	for _, point := range []string{FaultCommandResults, FaultResultsImported, FaultMailCommit, FaultMailSent} {
		t.Run(point, func(t *testing.T) {
			w := newResultsWorld(t, "kernelci", "build-test")
			crashed := false
			opts := w.opts()
			opts.Fault = func(p string) error {
				if p == point && !crashed {
					crashed = true
					return errors.New("crash")
				}
				return nil
			}
			w.publishRC2(t)
			w.send(t, rcMail(2, crashRC2))
			// Passes until one gets through (a crash ends a pass).
			run := func() {
				for i := 0; i < 4; i++ {
					_, err := New(w.cfg, w.store, opts).Once(context.Background())
					if err == nil {
						return
					}
					if !errors.As(err, new(*Stopped)) && !errors.As(err, new(*reportInDoubt)) && !strings.Contains(err.Error(), "may have") {
						t.Fatalf("pass: %v", err)
					}
				}
			}
			run()
			_, checkout := kcidbCheckout(t, w.world)
			if err := os.MkdirAll(w.cfg.Results.Dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(w.cfg.Results.Dir, "lab.json"), kcidbResults(checkout["id"].(string), "PASS", true), 0o644); err != nil {
				t.Fatal(err)
			}
			run()
			run()
			if !crashed {
				t.Fatalf("never reached %s", point)
			}
			runs, err := w.store.Runs(context.Background(), state.RunFilter{})
			if err != nil || len(runs) != 1 {
				t.Fatalf("runs %v, %v", runs, err)
			}
			rt, _, err := w.store.TestsOf(context.Background(), runs[0].ID)
			if err != nil {
				t.Fatal(err)
			}
			// build-test's exit status, its build and cyclictest, the lab's build and boot.
			if len(rt.Results) != 5 || !rt.Complete() {
				t.Errorf("results %d (complete %v), want 5, complete", len(rt.Results), rt.Complete())
			}
			subjects, _ := w.followUps(t)
			if point == FaultMailCommit || point == FaultMailSent {
				// In doubt after a crash at the point of no return: never
				// sent again by itself. A crash after it was accepted: once.
				if len(subjects) > 1 {
					t.Errorf("follow-ups %q: sent twice", subjects)
				}
				return
			}
			if len(subjects) != 1 {
				t.Errorf("follow-ups %q, want exactly one", subjects)
			}
		})
	}
}

// flat is s with every run of white space one space, so that a test
// does not depend on where the mail's lines wrap.
func flat(s string) string { return strings.Join(strings.Fields(s), " ") }

// fakeCI is a GitLab or Jenkins on loopback that speaks the documented
// API: GitLab's pipeline trigger answers the pipeline, then
// /projects/:id/pipelines/:pid and .../jobs; Jenkins' buildWithParameters
// answers 201 with the queue item in Location, then the item's and the
// build's api/json. The pipeline or build runs until done is set.
type fakeCI struct {
	srv     *httptest.Server
	mu      sync.Mutex
	done    bool
	outcome string            // GitLab pipeline status or Jenkins result once done
	jobs    string            // GitLab jobs JSON
	seen    map[string]string // path -> the token header it carried
	// checkout is the KCIDB checkout id the trigger request passed
	// (GitLab variables[RTBOT_CHECKOUT_ID], Jenkins RT_CHECKOUT_ID).
	checkout string
	// artifact, when set, is the content of kcidb.json in the artifacts
	// of the build, or of GitLab job 12, given checkout ("403": refused);
	// others: 404.
	artifact func(checkout string) string
}

func newFakeCI(t *testing.T) *fakeCI {
	t.Helper()
	ci := &fakeCI{seen: map[string]string{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v4/projects/42/trigger/pipeline", func(w http.ResponseWriter, r *http.Request) {
		ci.mu.Lock()
		ci.checkout = r.URL.Query().Get("variables[RTBOT_CHECKOUT_ID]")
		ci.mu.Unlock()
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, `{"id": 7, "status": "created", "ref": "main", "web_url": "%s/rt/linux/-/pipelines/7"}`, ci.srv.URL)
	})
	mux.HandleFunc("GET /api/v4/projects/42/pipelines/7", func(w http.ResponseWriter, r *http.Request) {
		ci.mu.Lock()
		defer ci.mu.Unlock()
		ci.seen[r.URL.Path] = r.Header.Get("PRIVATE-TOKEN")
		status := "running"
		if ci.done {
			status = ci.outcome
		}
		fmt.Fprintf(w, `{"id": 7, "status": %q, "web_url": "%s/rt/linux/-/pipelines/7"}`, status, ci.srv.URL)
	})
	mux.HandleFunc("GET /api/v4/projects/42/pipelines/7/jobs", func(w http.ResponseWriter, r *http.Request) {
		ci.mu.Lock()
		defer ci.mu.Unlock()
		io.WriteString(w, ci.jobs)
	})
	mux.HandleFunc("POST /job/rt/buildWithParameters", func(w http.ResponseWriter, r *http.Request) {
		ci.mu.Lock()
		ci.checkout = r.URL.Query().Get("RT_CHECKOUT_ID")
		ci.mu.Unlock()
		w.Header().Set("Location", ci.srv.URL+"/queue/item/5/")
		w.WriteHeader(http.StatusCreated)
	})
	mux.HandleFunc("GET /queue/item/5/api/json", func(w http.ResponseWriter, r *http.Request) {
		ci.mu.Lock()
		defer ci.mu.Unlock()
		ci.seen[r.URL.Path] = r.Header.Get("Authorization")
		fmt.Fprintf(w, `{"_class": "hudson.model.Queue$LeftItem", "cancelled": false, "executable": {"number": 3, "url": "%s/job/rt/3/"}}`, ci.srv.URL)
	})
	mux.HandleFunc("GET /job/rt/3/api/json", func(w http.ResponseWriter, r *http.Request) {
		ci.mu.Lock()
		defer ci.mu.Unlock()
		if !ci.done {
			fmt.Fprintf(w, `{"building": true, "result": null, "number": 3, "url": "%s/job/rt/3/"}`, ci.srv.URL)
			return
		}
		fmt.Fprintf(w, `{"building": false, "result": %q, "number": 3, "url": "%s/job/rt/3/"}`, ci.outcome, ci.srv.URL)
	})
	// GET /projects/:id/jobs/:job_id/artifacts/*artifact_path and
	// GET {build url}artifact/<path>: the file, or 404.
	serveArtifact := func(w http.ResponseWriter, r *http.Request) {
		ci.mu.Lock()
		defer ci.mu.Unlock()
		ci.seen[r.URL.Path] = r.Header.Get("PRIVATE-TOKEN") + r.Header.Get("Authorization")
		if ci.artifact == nil || !ci.done || (r.PathValue("job") != "" && r.PathValue("job") != "12") {
			http.NotFound(w, r)
			return
		}
		body := ci.artifact(ci.checkout)
		if body == "403" { // a token that may not read artifacts
			http.Error(w, `{"message": "403 Forbidden"}`, http.StatusForbidden)
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		io.WriteString(w, body)
	}
	mux.HandleFunc("GET /api/v4/projects/42/jobs/{job}/artifacts/kcidb.json", serveArtifact)
	mux.HandleFunc("GET /job/rt/3/artifact/kcidb.json", serveArtifact)
	ci.srv = httptest.NewServer(mux)
	t.Cleanup(ci.srv.Close)
	return ci
}

func (ci *fakeCI) finish(outcome, jobs string) {
	ci.mu.Lock()
	defer ci.mu.Unlock()
	ci.done, ci.outcome, ci.jobs = true, outcome, jobs
}

// TestResultsPolled: a webhook with poll is followed through the real
// pass: the pipeline or build is still running after the first pass (no
// follow-up), done at the second, whose follow-up has its verdict; the
// polling requests carry the read token.
func TestResultsPolled(t *testing.T) {
	const jobs = `[{"id": 11, "name": "build", "stage": "build", "status": "success", "web_url": "https://gl.example/j/11"},
		{"id": 12, "name": "cyclictest x86", "stage": "test", "status": "failed", "web_url": "https://gl.example/j/12"}]`
	for _, tc := range []struct {
		name, poll, url, outcome, jobs, verdict, bodyHas, tokenPath, token string
	}{
		{"gitlab failed job", "gitlab", "/api/v4/projects/42/trigger/pipeline?token={secret}&ref=main&variables[RTBOT_CHECKOUT_ID]={checkout}",
			"failed", jobs, "failed", "test ci.test.cyclictest_x86: FAIL log: https://gl.example/j/12", "/api/v4/projects/42/pipelines/7", "read-token"},
		{"gitlab success", "gitlab", "/api/v4/projects/42/trigger/pipeline?token={secret}&ref=main",
			"success", `[{"id": 11, "name": "build", "stage": "build", "status": "success"}]`, "passed", "PASSED: 1 build (0 failed), 1 test (0 failed)", "/api/v4/projects/42/pipelines/7", "read-token"},
		{"jenkins unstable", "jenkins", "/job/rt/buildWithParameters?token={secret}&RT_CHECKOUT_ID={checkout}",
			"UNSTABLE", "", "failed", "build ci: FAIL", "/queue/item/5/api/json", "Basic read-token"},
		{"jenkins success", "jenkins", "/job/rt/buildWithParameters?token={secret}",
			"SUCCESS", "", "passed", "PASSED: 1 build (0 failed), 0 tests (0 failed)", "/queue/item/5/api/json", "Basic read-token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("RTBOT_TEST_CI_TOKEN", "trigger-token")
			t.Setenv("RTBOT_TEST_CI_READ", "read-token")
			ci := newFakeCI(t)
			w := newResultsWorld(t, "ci")
			w.cfg.Triggers = append(w.cfg.Triggers, config.Trigger{Name: "ci", Type: config.TriggerWebhook, URL: ci.srv.URL + tc.url,
				Method: "POST", SecretEnv: "RTBOT_TEST_CI_TOKEN", Poll: tc.poll, PollSecretEnv: "RTBOT_TEST_CI_READ",
				Timeout: config.Duration{Duration: 10 * time.Second}})
			if pass := w.cleanRC2(t); len(pass.FollowUps) != 0 {
				t.Fatalf("follow-up while the CI runs: %+v", pass.FollowUps)
			}
			ci.finish(tc.outcome, tc.jobs)
			pass := w.pass(t, w.opts())
			if len(pass.FollowUps) != 1 || pass.FollowUps[0].Verdict != tc.verdict {
				t.Fatalf("follow-ups %+v, want one %s", pass.FollowUps, tc.verdict)
			}
			_, bodies := w.followUps(t)
			if len(bodies) != 1 || !strings.Contains(flat(bodies[0]), tc.bodyHas) {
				t.Fatalf("follow-up lacks %q: %q", tc.bodyHas, bodies)
			}
			ci.mu.Lock()
			defer ci.mu.Unlock()
			if got := ci.seen[tc.tokenPath]; got != tc.token {
				t.Errorf("%s carried %q, want %q", tc.tokenPath, got, tc.token)
			}
		})
	}
}

// TestResultsPolledMissingAtDeadline: a pipeline that never finishes is
// reported missing once the deadline passed.
func TestResultsPolledMissingAtDeadline(t *testing.T) {
	t.Setenv("RTBOT_TEST_CI_TOKEN", "trigger-token")
	ci := newFakeCI(t)
	w := newResultsWorld(t, "ci")
	w.cfg.Triggers = append(w.cfg.Triggers, config.Trigger{Name: "ci", Type: config.TriggerWebhook,
		URL: ci.srv.URL + "/api/v4/projects/42/trigger/pipeline?token={secret}&ref=main", Method: "POST",
		SecretEnv: "RTBOT_TEST_CI_TOKEN", Poll: "gitlab", Timeout: config.Duration{Duration: 10 * time.Second}})
	if pass := w.cleanRC2(t); len(pass.FollowUps) != 0 {
		t.Fatalf("follow-up while the CI runs: %+v", pass.FollowUps)
	}
	w.missingAtDeadline(t, "ci")
}

// TestResultsDropDirectoryLatency: a lab's cyclictest dropped as KCIDB
// is compared with the previous clean run: a rise beyond the tolerance is
// a regression although the test passed.
func TestResultsDropDirectoryLatency(t *testing.T) {
	w := newResultsWorld(t, "kernelci")
	w.seedPrevious(t, 40)
	w.cleanRC2(t)
	_, checkout := kcidbCheckout(t, w.world)
	doc := fmt.Sprintf(`{"version": {"major": 5, "minor": 3},
 "checkouts": [{"id": %[1]q, "origin": "rtbot", "origin_tests_finish_time": "2026-12-07T12:00:00Z"}],
 "builds": [{"id": "lava:b1", "origin": "lava", "checkout_id": %[1]q, "status": "PASS"}],
 "tests": [{"id": "lava:t1", "origin": "lava", "build_id": "lava:b1", "path": "rt.cyclictest", "status": "PASS",
   "environment": {"misc": {"platform": "qemu-x86_64"}}, "misc": {"latency": {"max_us": 70}}}]}`, checkout["id"])
	if err := testkit.ValidateJSON(t, kcidbSchema, []byte(doc)); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(w.cfg.Results.Dir, 0o755); err != nil {
		t.Fatal(err)
	}
	testkit.WriteFile(t, filepath.Join(w.cfg.Results.Dir, "lava.json"), doc, 0o644)
	pass := w.pass(t, w.opts())
	w.wantFollowUp(t, pass, "regressed", "max 70 was 40 +75.0%")
}

// TestResultsNoSource: a clean run none of whose triggers reports results
// waits for none: no follow-up, not even at the deadline.
func TestResultsNoSource(t *testing.T) {
	w := newResultsWorld(t)
	if pass := w.cleanRC2(t); len(pass.Runs) != 1 || pass.Runs[0].Outcome != state.OutcomeClean || len(pass.FollowUps) != 0 {
		t.Fatalf("runs %+v, follow-ups %+v", pass.Runs, pass.FollowUps)
	}
	w.clock = w.clock.Add(w.cfg.Results.Deadline.Duration + time.Minute)
	if pass := w.pass(t, w.opts()); len(pass.FollowUps) != 0 {
		t.Fatalf("follow-ups %+v", pass.FollowUps)
	}
	if _, ok, err := w.store.TestsOf(context.Background(), 1); ok || err != nil {
		t.Fatalf("the run waits for results: %v", err)
	}
}
