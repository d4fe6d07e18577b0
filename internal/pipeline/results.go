package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/rtbot/rtbot/internal/atomicfile"
	"github.com/rtbot/rtbot/internal/config"
	"github.com/rtbot/rtbot/internal/mailout"
	"github.com/rtbot/rtbot/internal/results"
	"github.com/rtbot/rtbot/internal/state"
	"github.com/rtbot/rtbot/internal/trigger"
)

// Result sources that are not triggers.
const (
	SourceImport = "import" // rtbot results import
	SourceDir    = "dir"    // the [results] dir
)

// FollowUp is what a pass did about the test results of one run.
type FollowUp struct {
	RunID   int64  `json:"run_id"`
	Tree    string `json:"tree"`
	Verdict string `json:"verdict"`
	// Mail is the Message-ID of the follow-up, set once the server
	// accepted it; NotMailed says why it was not.
	Mail      string `json:"mail,omitempty"`
	NotMailed string `json:"not_mailed,omitempty"`
}

// storeLookup tells results.Import which checkouts and builds are rtbot's.
type storeLookup struct {
	ctx   context.Context
	store *state.Store
}

func (l storeLookup) Checkout(id string) (bool, error) {
	_, ok, err := l.store.CheckoutRun(l.ctx, id)
	return ok, err
}

func (l storeLookup) Build(id string) (string, bool, error) { return l.store.BuildCheckout(l.ctx, id) }

// expectResults records, before the triggers of a clean run fire, the
// KCIDB checkout ids they are given and which of them deliver results (a
// command through its exit status and RTBOT_RESULTS, a kcidb trigger
// through documents dropped or imported for its checkout), so that a
// result arriving at once is matched. A tree none of whose triggers
// delivers results (webhooks without poll) waits for none: no follow-up.
func (p *Pipeline) expectResults(ctx context.Context, runID int64, t config.Tree, ev trigger.Event) error {
	checkouts := []string{trigger.CheckoutID(ev, trigger.DefaultKCIDBOrigin)}
	var sources []string
	for _, name := range t.Triggers {
		tr, ok := p.cfg.Trigger(name)
		if !ok {
			continue
		}
		switch tr.Type {
		case config.TriggerCommand:
			sources = append(sources, name)
		case config.TriggerWebhook:
			if tr.Poll != "" {
				sources = append(sources, name)
			}
		case config.TriggerKCIDB:
			if id := trigger.CheckoutID(ev, tr.Origin); !slices.Contains(checkouts, id) {
				checkouts = append(checkouts, id)
			}
			sources = append(sources, name)
		}
	}
	if len(sources) == 0 {
		return nil // nothing will report: no follow-up to wait for
	}
	return p.store.ExpectResults(ctx, runID, checkouts, sources, p.now().Add(p.cfg.Results.Deadline.Duration))
}

// commandResults records what a command trigger that ran to its end
// says about the run: its exit status as a build (PASS or FAIL), and the
// KCIDB results file it wrote, if any. Both are saved with the source
// complete in one transaction, before the firing is recorded done: a crash
// in between fires the command again, and the same results replace
// themselves. A results file that is not KCIDB is a failed build of its
// own, not a lost result.
func (p *Pipeline) commandResults(ctx context.Context, runID int64, name string, ev trigger.Event, res trigger.Result) error {
	if res.ExitCode < 0 {
		return nil // killed or never started: fired again
	}
	checkout := trigger.CheckoutID(ev, trigger.DefaultKCIDBOrigin)
	status := results.StatusPass
	if res.ExitCode != 0 {
		status = results.StatusFail
	}
	var finished []string
	saved := []state.TestResult{{Kind: string(results.KindBuild), ID: "rtbot:" + name + ":" + strings.TrimPrefix(checkout, "rtbot:"),
		CheckoutID: checkout, Source: name, Path: name, Status: string(status)}}
	if res.Results != "" {
		im, err := p.readResultsFile(ctx, res.Results)
		if err != nil {
			p.log.Error("command results file refused", "trigger", name, "file", res.Results, "err", err)
			saved = append(saved, state.TestResult{Kind: string(results.KindBuild), ID: "rtbot:" + name + "-results:" + strings.TrimPrefix(checkout, "rtbot:"),
				CheckoutID: checkout, Source: name, Path: name + "-results", Status: string(results.StatusError)})
		} else {
			saved = append(saved, stateResults(im.Results, name)...)
			finished = im.Finished
		}
	}
	if err := p.store.SaveResults(ctx, saved, runID, name); err != nil {
		return err
	}
	for _, c := range finished {
		if err := p.finishCheckout(ctx, c); err != nil {
			return err
		}
	}
	return nil
}

// readResultsFile reads and imports one KCIDB document, logging what it
// refused.
func (p *Pipeline) readResultsFile(ctx context.Context, path string) (results.Imported, error) {
	data, err := readBounded(path, results.MaxDocumentBytes)
	if err != nil {
		return results.Imported{}, err
	}
	im, err := results.Import(data, storeLookup{ctx, p.store})
	if err != nil {
		return im, fmt.Errorf("%s: %w", path, err)
	}
	for _, why := range im.Refused {
		p.log.Warn("result refused", "file", path, "why", why)
	}
	return im, nil
}

// readBounded reads a file of at most limit bytes.
func readBounded(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, limit)
	}
	return data, nil
}

// stateResults converts imported results for the state file.
func stateResults(rs []results.Result, source string) []state.TestResult {
	out := make([]state.TestResult, 0, len(rs))
	for _, r := range rs {
		var latency string
		if r.Latency != nil {
			b, err := json.Marshal(r.Latency)
			if err == nil {
				latency = string(b)
			}
		}
		out = append(out, state.TestResult{Kind: string(r.Kind), ID: r.ID, CheckoutID: r.CheckoutID, BuildID: r.BuildID,
			Source: source, Path: r.Path, Status: string(r.Status), Machine: r.Machine, LogURL: r.LogURL, Latency: latency})
	}
	return out
}

// fromState converts stored results back.
func fromState(rs []state.TestResult) []results.Result {
	out := make([]results.Result, 0, len(rs))
	for _, r := range rs {
		res := results.Result{Kind: results.Kind(r.Kind), ID: r.ID, CheckoutID: r.CheckoutID, BuildID: r.BuildID,
			Path: r.Path, Status: results.Status(r.Status), Machine: r.Machine, LogURL: r.LogURL}
		if r.Latency != "" {
			var l results.Latency
			if json.Unmarshal([]byte(r.Latency), &l) == nil {
				res.Latency = &l
			}
		}
		out = append(out, res)
	}
	return out
}

// ImportedFile is what importing one KCIDB document did.
type ImportedFile struct {
	File     string   `json:"file"`
	Results  int      `json:"results"`
	Refused  []string `json:"refused"`
	Finished []string `json:"finished"`
}

// ImportResults imports the KCIDB document at path for rtbot's checkouts
// (`rtbot results import`, and each file of the [results] dir): the
// builds and tests of checkouts rtbot wrote are saved, anything else is
// refused and listed. A checkout the document says finished
// (origin_tests_finish_time) completes the kcidb triggers that wrote it.
func (p *Pipeline) ImportResults(ctx context.Context, path, source string) (ImportedFile, error) {
	out := ImportedFile{File: path, Refused: []string{}, Finished: []string{}}
	im, err := p.readResultsFile(ctx, path)
	if err != nil {
		return out, err
	}
	out.Results, out.Refused, out.Finished = len(im.Results), append(out.Refused, im.Refused...), append(out.Finished, im.Finished...)
	if len(im.Results) > 0 {
		if err := p.store.SaveResults(ctx, stateResults(im.Results, source), 0, ""); err != nil {
			return out, err
		}
	}
	for _, c := range im.Finished {
		if err := p.finishCheckout(ctx, c); err != nil {
			return out, err
		}
	}
	return out, nil
}

// finishCheckout marks complete the kcidb triggers of the checkout's run
// whose origin wrote checkout.
func (p *Pipeline) finishCheckout(ctx context.Context, checkout string) error {
	runID, ok, err := p.store.CheckoutRun(ctx, checkout)
	if err != nil || !ok {
		return err
	}
	rt, _, err := p.store.TestsOf(ctx, runID)
	if err != nil {
		return err
	}
	for _, src := range rt.Sources {
		tr, ok := p.cfg.Trigger(src.Name)
		if ok && tr.Type == config.TriggerKCIDB && strings.HasPrefix(checkout, tr.Origin+":") && !src.Complete {
			if err := p.store.SaveResults(ctx, nil, runID, src.Name); err != nil {
				return err
			}
		}
	}
	return nil
}

// collectResults is the results step of a pass: import the documents
// dropped in the [results] dir, then mail the follow-up of every run
// whose results are complete or whose deadline passed.
func (p *Pipeline) collectResults(ctx context.Context, pass *Pass) error {
	var errs []error
	if p.cfg.Results.Dir != "" {
		if err := p.importDir(ctx); err != nil {
			if stopping(ctx, err) {
				return err
			}
			errs = append(errs, err)
		}
	}
	if err := p.pollSources(ctx); err != nil {
		if stopping(ctx, err) {
			return err
		}
		errs = append(errs, err)
	}
	if err := p.followUps(ctx, pass); err != nil {
		return errors.Join(append(errs, err)...)
	}
	return errors.Join(errs...)
}

// webhookFired records what a webhook with poll started, so that passes
// follow it (pollSources). A response that names nothing to follow leaves
// the source incomplete: the follow-up says it is missing at the deadline.
func (p *Pipeline) webhookFired(ctx context.Context, runID int64, name string, res trigger.Result) error {
	if res.PollHandle == "" {
		p.log.Error("cannot follow what the webhook started", "trigger", name, "why", res.PollError, "response", res.Output)
		return nil
	}
	return p.store.SetSourceHandle(ctx, runID, name, res.PollHandle)
}

// pollSources looks once at every GitLab pipeline or Jenkins build that a
// run due a follow-up waits for, and records the outcome of those that
// are done as test results: the pipeline or build as a build, each GitLab
// job as a test. A CI that does not answer is polled again next pass.
func (p *Pipeline) pollSources(ctx context.Context) error {
	due, err := p.store.FollowUpDue(ctx)
	if err != nil {
		return err
	}
	for _, rt := range due {
		for _, src := range rt.Sources {
			if src.Complete || src.Handle == "" {
				continue
			}
			if err := p.pollSource(ctx, rt, src); err != nil {
				if stopping(ctx, err) {
					return err
				}
				p.log.Warn("polling a CI failed; the next pass polls again", "run", rt.RunID, "trigger", src.Name, "err", err)
			}
		}
	}
	return nil
}

// pollSource polls one source and saves its results once it is done.
func (p *Pipeline) pollSource(ctx context.Context, rt state.RunTests, src state.ResultSource) error {
	tr, ok := p.cfg.Trigger(src.Name)
	if !ok || tr.Poll == "" {
		return nil
	}
	res, err := trigger.Poll(ctx, triggerSpec(tr), src.Handle)
	if err != nil || !res.Done {
		return err
	}
	checkout := ""
	for _, c := range rt.Checkouts {
		if strings.HasPrefix(c, trigger.DefaultKCIDBOrigin+":") {
			checkout = c
		}
	}
	if checkout == "" {
		return fmt.Errorf("run %d has no rtbot checkout", rt.RunID)
	}
	p.log.Info("CI finished", "run", rt.RunID, "trigger", src.Name, "id", res.ID, "status", res.Status, "artifacts", len(res.Artifacts))
	saved := polledResults(src.Name, checkout, res)
	var finished []string
	for _, a := range res.Artifacts {
		im, err := p.importArtifact(ctx, src.Name, a)
		if err != nil {
			p.log.Error("results artifact refused", "trigger", src.Name, "from", a.From, "file", tr.ResultsArtifact, "err", err)
			saved = append(saved, state.TestResult{Kind: string(results.KindBuild),
				ID:         "rtbot:" + src.Name + "-results:" + testPath(a.From) + ":" + strings.TrimPrefix(checkout, "rtbot:"),
				CheckoutID: checkout, Source: src.Name, Path: src.Name + "-results", Status: string(results.StatusError)})
			continue
		}
		saved = append(saved, stateResults(im.Results, src.Name)...)
		finished = append(finished, im.Finished...)
	}
	// The checkouts an artifact says finished are marked first: once the
	// results are saved this source is complete and never polled again,
	// so a crash in between must not lose them. A crash here polls again.
	for _, c := range finished {
		if err := p.finishCheckout(ctx, c); err != nil {
			return err
		}
	}
	if err := p.fault(FaultPolledFinished); err != nil {
		return err
	}
	return p.store.SaveResults(ctx, saved, rt.RunID, src.Name)
}

// importArtifact reads a results artifact a CI served as a KCIDB
// document, as strictly as any other: the results of rtbot's checkouts
// are taken, the others refused and logged. An artifact the CI refused
// to serve is an error.
func (p *Pipeline) importArtifact(ctx context.Context, name string, a trigger.Artifact) (results.Imported, error) {
	if a.Err != nil {
		return results.Imported{}, a.Err
	}
	im, err := results.Import(a.Data, storeLookup{ctx, p.store})
	if err != nil {
		return im, err
	}
	for _, why := range im.Refused {
		p.log.Warn("result refused", "trigger", name, "from", a.From, "why", why)
	}
	return im, nil
}

// polledResults are the test results of a finished pipeline or build: a
// build for the whole, a test per GitLab job (path <trigger>.<stage>.<job>).
func polledResults(name, checkout string, res trigger.PollResult) []state.TestResult {
	build := "rtbot:" + name + ":" + res.ID + ":" + strings.TrimPrefix(checkout, "rtbot:")
	out := []state.TestResult{{Kind: string(results.KindBuild), ID: build, CheckoutID: checkout, Source: name,
		Path: name, Status: res.Status, LogURL: res.URL}}
	for _, j := range res.Jobs {
		out = append(out, state.TestResult{Kind: string(results.KindTest), ID: build + ":" + j.ID, CheckoutID: checkout,
			BuildID: build, Source: name, Path: testPath(name, j.Stage, j.Name), Status: j.Status, LogURL: j.URL})
	}
	return out
}

// testPath makes a KCIDB test path of names: each part keeps letters,
// digits, '_' and '-', anything else becomes '_'.
func testPath(parts ...string) string {
	var out []string
	for _, s := range parts {
		s = strings.Map(func(r rune) rune {
			if r < 128 && (r == '_' || r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
				return r
			}
			return '_'
		}, s)
		if s != "" {
			out = append(out, s)
		}
	}
	return strings.Join(out, ".")
}

// importDir imports every *.json file of the [results] dir, oldest name
// first, and moves each to done/ (something was taken) or refused/
// (nothing was). A crash before the move imports the file again, which
// changes nothing.
func (p *Pipeline) importDir(ctx context.Context) error {
	dir := p.cfg.Results.Dir
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("results dir: %w", err)
	}
	var names []string
	for _, e := range entries {
		if e.Type().IsRegular() && strings.HasSuffix(e.Name(), ".json") && !strings.HasPrefix(e.Name(), ".") {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	for _, name := range names {
		path := filepath.Join(dir, name)
		im, err := p.ImportResults(ctx, path, SourceDir)
		to := "done"
		switch {
		case err != nil && stopping(ctx, err):
			return err
		case err != nil:
			p.log.Error("results file refused", "file", path, "err", err)
			to = "refused"
		case im.Results == 0 && len(im.Finished) == 0:
			to = "refused"
		default:
			p.log.Info("results imported", "file", path, "results", im.Results, "refused", len(im.Refused))
		}
		if err := p.fault(FaultResultsImported); err != nil {
			return err
		}
		if err := moveInto(path, filepath.Join(dir, to)); err != nil {
			return fmt.Errorf("results dir: %w", err)
		}
	}
	return nil
}

// moveInto moves file into dir (created if missing), under a name not
// taken there.
func moveInto(file, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	base := filepath.Base(file)
	target := filepath.Join(dir, base)
	for i := 2; ; i++ {
		if _, err := os.Lstat(target); errors.Is(err, os.ErrNotExist) {
			break
		}
		target = filepath.Join(dir, fmt.Sprintf("%s.%d", base, i))
	}
	if err := os.Rename(file, target); err != nil {
		return err
	}
	return atomicfile.SyncDir(dir)
}

// followUps mails the follow-up of every run that is due one. A follow-up
// that may have arrived waits for a human, like a report; the others wait
// for the next pass. Either way the pass fails, saying so.
func (p *Pipeline) followUps(ctx context.Context, pass *Pass) error {
	due, err := p.store.FollowUpDue(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, rt := range due {
		if !rt.Complete() && p.now().Before(rt.Deadline) {
			continue
		}
		fu, err := p.followUp(ctx, rt)
		if err != nil {
			if stopping(ctx, err) || errors.As(err, new(*Stopped)) {
				return err
			}
			// In doubt, it waits for a human (rtbot action): every pass
			// fails saying so, as for a report.
			fu.NotMailed = err.Error()
			p.log.Error("results follow-up not mailed", "run", rt.RunID, "err", err)
			errs = append(errs, fmt.Errorf("run %d: results follow-up: %w", rt.RunID, err))
		}
		if fu.Tree != "" {
			pass.FollowUps = append(pass.FollowUps, fu)
		}
	}
	return errors.Join(errs...)
}

// followUp composes and sends the follow-up of one run, at most once.
func (p *Pipeline) followUp(ctx context.Context, rt state.RunTests) (FollowUp, error) {
	d, err := p.store.Run(ctx, rt.RunID)
	if err != nil {
		return FollowUp{}, err
	}
	fu := FollowUp{RunID: rt.RunID, Tree: d.Tree}
	t, err := p.tree(d.Tree)
	if err != nil || d.Tree == "" {
		p.log.Warn("no follow-up: the tree is no longer configured", "run", rt.RunID, "tree", d.Tree)
		return FollowUp{}, nil
	}
	a, err := p.store.Announcement(ctx, d.Announcement)
	if err != nil {
		return fu, err
	}
	summary, prevLabel, err := p.summarize(ctx, d.Run, rt, true)
	if err != nil {
		return fu, err
	}
	fu.Verdict = string(summary.Verdict)
	domain := p.cfg.Bot.Email[strings.LastIndexByte(p.cfg.Bot.Email, '@')+1:]
	id := rt.FollowUp
	if id == "" {
		id = mailout.MessageID(domain, "results", t.Name, a.MessageID, d.Candidate, d.QueueID)
	}
	if err := p.store.SetFollowUp(ctx, rt.RunID, id, fu.Verdict); err != nil {
		return fu, err
	}
	label := candName(a.Version, a.RC)
	tol := p.tolerance()
	err = p.sendReport(ctx, rt.RunID, id, t, func() (*mailout.Message, error) {
		subject := fmt.Sprintf("[rtbot] %s on %s: tests %s", t.Name, label, summary.Verdict)
		body := summary.Body(label+" with the "+t.Name+" queue", prevLabel, tol) +
			fmt.Sprintf("\n-- \nrtbot, run %d. Reply to the maintainers, not to this address.\n", rt.RunID)
		return p.runMail(a, t, id, subject, body), nil
	})
	if err == nil {
		fu.Mail = id
		p.log.Info("results follow-up mailed", "tree", t.Name, "candidate", label, "verdict", fu.Verdict, "message_id", id)
	}
	return fu, err
}

// summarize is what run's results say, compared with the previous clean
// run of its tree that has latency results; prevLabel names that run's
// candidate. atDeadline counts sources that did not deliver as missing
// only once the deadline passed (a follow-up); otherwise always (the
// release gate, status).
func (p *Pipeline) summarize(ctx context.Context, run state.Run, rt state.RunTests, atDeadline bool) (results.Summary, string, error) {
	var prev []results.Result
	prevLabel := ""
	pr, ok, err := p.store.PreviousTested(ctx, run.Tree, run.ID)
	if err != nil {
		return results.Summary{}, "", err
	}
	if ok {
		prt, _, err := p.store.TestsOf(ctx, pr.ID)
		if err != nil {
			return results.Summary{}, "", err
		}
		prev = fromState(prt.Results)
		if a, err := p.store.Announcement(ctx, pr.Announcement); err == nil {
			prevLabel = fmt.Sprintf("%s (run %d)", candName(a.Version, a.RC), pr.ID)
		}
	}
	missing := rt.Missing()
	if atDeadline && p.now().Before(rt.Deadline) {
		missing = nil
	}
	return results.Summarize(fromState(rt.Results), prev, missing, p.tolerance()), prevLabel, nil
}

// tolerance is the configured latency tolerance.
func (p *Pipeline) tolerance() results.Tolerance {
	return results.Tolerance{Percent: p.cfg.Results.LatencyTolerancePercent, Micros: p.cfg.Results.LatencyToleranceUS}
}

// TestState is the test state of a run, as `rtbot status`, `history`
// and `release` show it.
type TestState struct {
	Verdict  results.Verdict `json:"verdict"`
	Line     string          `json:"line"`
	Missing  []string        `json:"missing"`
	Deadline time.Time       `json:"deadline"`
	FollowUp string          `json:"follow_up,omitempty"`
	// Waiting: results are missing and the deadline has not passed.
	Waiting bool            `json:"waiting"`
	Summary results.Summary `json:"-"`
}

// RunTestState returns the test state of run runID; ok is false when the
// run never waited for results (it was not clean, or ran before rtbot
// collected results).
func (p *Pipeline) RunTestState(ctx context.Context, runID int64) (TestState, bool, error) {
	rt, ok, err := p.store.TestsOf(ctx, runID)
	if err != nil || !ok {
		return TestState{}, ok, err
	}
	d, err := p.store.Run(ctx, runID)
	if err != nil {
		return TestState{}, false, err
	}
	s, _, err := p.summarize(ctx, d.Run, rt, false)
	if err != nil {
		return TestState{}, false, err
	}
	return TestState{Verdict: s.Verdict, Line: s.Line(), Missing: rt.Missing(), Deadline: rt.Deadline.UTC(),
		FollowUp: followUpDone(d, rt), Waiting: !rt.Complete() && p.now().Before(rt.Deadline), Summary: s}, true, nil
}

// followUpDone is the follow-up's Message-ID once the ledger says it was
// mailed.
func followUpDone(d state.RunDetail, rt state.RunTests) string {
	for _, a := range d.Actions {
		if a.Kind == state.ActionMail && a.Key == rt.FollowUp && a.State == state.ActionDone {
			return rt.FollowUp
		}
	}
	return ""
}
