package main

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/rtbot/rtbot/internal/config"
	"github.com/rtbot/rtbot/internal/mailwatch"
	"github.com/rtbot/rtbot/internal/merger"
	"github.com/rtbot/rtbot/internal/pipeline"
	"github.com/rtbot/rtbot/internal/state"
	"github.com/rtbot/rtbot/internal/triage"
)

// The JSON documents of every --json output (docs/json.md, which owns the
// contract). They are views, not the internal types: the internal types
// change with the code, these only with jsonSchema. Every one follows the
// same rules: snake_case keys; a key of these views is always present
// ("", 0 or false when there is nothing to say), except an object that
// does not exist, which is left out; lists are [] and maps {} when empty,
// never null (nothing rtbot prints is null); times are RFC 3339 in UTC
// ("" when unknown); durations are float seconds in keys ending
// "_seconds"; the top level carries "schema". The triage inside merge's
// document keeps the tags of package triage (some keys omitted when
// empty), as it always had.

// jsonSchema is the "schema" of every document: bumped on a change that
// breaks a reader (a key removed, renamed or changing type), not when a
// key is added.
const jsonSchema = 1

// mergeJSON is `rtbot merge --json`: the triage of the rebased queue.
type mergeJSON struct {
	Schema    int        `json:"schema"`
	Candidate triage.Rev `json:"candidate"`
	// Base is left out when the queue was applied without --base.
	Base           *triage.Rev          `json:"base,omitempty"`
	Queue          string               `json:"queue"`
	Result         triage.ResultRef     `json:"result"`
	Patches        []triage.PatchReport `json:"patches"`
	Summary        triage.Summary       `json:"summary"`
	Stats          merger.Stats         `json:"stats"`
	ElapsedSeconds float64              `json:"elapsed_seconds"`
}

// `rtbot announce --json` prints announceLine (cmd_announce.go), one
// document per line.

// passJSON is `rtbot run --json` and `rtbot rerun --json`: what one pass
// did.
type passJSON struct {
	Schema  int                `json:"schema"`
	Scanned int                `json:"scanned"`
	New     []announcementJSON `json:"new"`
	Learned []learnedJSON      `json:"learned"`
	Retried []announcementJSON `json:"retried"`
	Ignored []announcementJSON `json:"ignored"`
	Waiting []announcementJSON `json:"waiting"`
	Failed  []announcementJSON `json:"failed"`
	Runs    []passRunJSON      `json:"runs"`
	Pending int                `json:"pending"`
	// FollowUps are the test results follow-ups the pass mailed or tried
	// to (docs/results.md).
	FollowUps []followUpJSON `json:"follow_ups"`
}

// followUpJSON is one test results follow-up of a pass.
type followUpJSON struct {
	RunID     int64  `json:"run_id"`
	Tree      string `json:"tree"`
	Verdict   string `json:"verdict"`
	Mail      string `json:"mail"`
	NotMailed string `json:"not_mailed"`
}

// announcementJSON is an announcement as the state records it.
type announcementJSON struct {
	ID          int64  `json:"id"`
	MessageID   string `json:"message_id"`
	Kind        string `json:"kind"`
	Series      string `json:"series"`
	Version     string `json:"version"`
	RC          int    `json:"rc"`
	GitURL      string `json:"git_url"`
	GitBranch   string `json:"git_branch"`
	PatchURL    string `json:"patch_url"`
	From        string `json:"from"`
	Subject     string `json:"subject"`
	Deadline    string `json:"deadline"`
	FirstSeen   string `json:"first_seen"`
	UpdatedAt   string `json:"updated_at"`
	Status      string `json:"status"`
	Reason      string `json:"reason"`
	Attempts    int    `json:"attempts"`
	LastError   string `json:"last_error"`
	LastAttempt string `json:"last_attempt"`
	WaitUntil   string `json:"wait_until"`
	ConfigHash  string `json:"config_hash"`
	Claimed     bool   `json:"claimed"`
	Tree        string `json:"tree"`
	Thread      string `json:"thread"`
	Retry       bool   `json:"retry"`
}

// learnedJSON is a commit a pass read on a partial branch.
type learnedJSON struct {
	Tree     string   `json:"tree"`
	Branch   string   `json:"branch"`
	Run      int64    `json:"run"`
	Commit   string   `json:"commit"`
	Patch    string   `json:"patch"`
	Files    []string `json:"files"`
	Diff     string   `json:"diff"`
	Replaced []string `json:"replaced"`
	Error    string   `json:"error"`
}

// passRunJSON is what one run of a pass did.
type passRunJSON struct {
	RunID        int64  `json:"run_id"`
	Announcement string `json:"announcement"`
	Tree         string `json:"tree"`
	Candidate    string `json:"candidate"`
	Commit       string `json:"commit"`
	QueueID      string `json:"queue_id"`
	Outcome      string `json:"outcome"`
	Branch       string `json:"branch"`
	Result       string `json:"result"`
	Pushed       string `json:"pushed"`
	NotPushed    string `json:"not_pushed"`
	// ProposedPushed is the proposed branch pushed next to the partial
	// one, "" when none was.
	ProposedPushed string   `json:"proposed_pushed"`
	Triggers       []string `json:"triggers"`
	Mail           string   `json:"mail"`
	NotMailed      string   `json:"not_mailed"`
	Export         string   `json:"export"`
	Error          string   `json:"error"`
	Resumed        bool     `json:"resumed"`
	// Summary is left out when the run made no triage (it failed first).
	Summary *triage.Summary `json:"summary,omitempty"`
}

// statusJSON is `rtbot status --json`.
type statusJSON struct {
	Schema int `json:"schema"`
	// StateFile is the state file read; StateSchema its own (SQLite)
	// schema version, not this document's.
	StateFile     string             `json:"state_file"`
	StateSchema   int                `json:"state_schema"`
	Announcements map[string]int     `json:"announcements"`
	Waiting       []announcementJSON `json:"waiting"`
	Failed        []announcementJSON `json:"failed"`
	Checkpoints   []checkpointJSON   `json:"checkpoints"`
	// SourceCheckpoints are the Maildir and public-inbox sources'.
	SourceCheckpoints []sourceCheckpointJSON `json:"source_checkpoints"`
	LastRuns          []runJSON              `json:"last_runs"`
	Watched           []watchedJSON          `json:"watched"`
	Pending           []pendingJSON          `json:"pending"`
	Problems          []string               `json:"problems"`
	Attention         []string               `json:"attention"`
}

// checkpointJSON is how far rtbot read a mailbox.
type checkpointJSON struct {
	Server      string `json:"server"`
	Mailbox     string `json:"mailbox"`
	UIDValidity uint32 `json:"uid_validity"`
	LastUID     uint32 `json:"last_uid"`
	UpdatedAt   string `json:"updated_at"`
}

// sourceCheckpointJSON is how far rtbot read a Maildir or public-inbox.
type sourceCheckpointJSON struct {
	Kind      string `json:"kind"`
	Source    string `json:"source"`
	Position  string `json:"position"`
	UpdatedAt string `json:"updated_at"`
}

// watchedJSON is a partial branch rtbot reads for fixes.
type watchedJSON struct {
	Tree     string `json:"tree"`
	Branch   string `json:"branch"`
	Run      int64  `json:"run"`
	ReadUpTo string `json:"read_up_to"`
}

// actionJSON is a push, mail or trigger of a run, as the state records it.
type actionJSON struct {
	ID         int64  `json:"id"`
	RunID      int64  `json:"run_id"`
	Kind       string `json:"kind"`
	Key        string `json:"key"`
	State      string `json:"state"`
	Attempts   int    `json:"attempts"`
	LastError  string `json:"last_error"`
	Committing bool   `json:"committing"`
	CreatedAt  string `json:"created_at"`
	UpdatedAt  string `json:"updated_at"`
}

// pendingJSON is an action not done yet, with what becomes of it.
type pendingJSON struct {
	actionJSON
	Note string `json:"note"`
}

// historyJSON is `rtbot history --json`: the runs, newest first.
type historyJSON struct {
	Schema int       `json:"schema"`
	Runs   []runJSON `json:"runs"`
}

// historyRunJSON is `rtbot history --run ID --json`: one run in full.
type historyRunJSON struct {
	Schema int           `json:"schema"`
	Run    runDetailJSON `json:"run"`
}

// runJSON is a run as the state records it.
type runJSON struct {
	ID           int64     `json:"id"`
	Announcement string    `json:"announcement"`
	Tree         string    `json:"tree"`
	Candidate    string    `json:"candidate"`
	QueueID      string    `json:"queue_id"`
	Base         string    `json:"base"`
	StartedAt    string    `json:"started_at"`
	FinishedAt   string    `json:"finished_at"`
	Attempts     int       `json:"attempts"`
	Outcome      string    `json:"outcome"`
	PushedBranch string    `json:"pushed_branch"`
	ResultCommit string    `json:"result_commit"`
	Error        string    `json:"error"`
	Tests        testsJSON `json:"tests"`
}

// testsJSON is the test state of a run (docs/results.md).
type testsJSON struct {
	// State is none (the run waits for no results), waiting, passed,
	// failed, regressed or incomplete.
	State        string   `json:"state"`
	Line         string   `json:"line"`
	Builds       int      `json:"builds"`
	BuildsFailed int      `json:"builds_failed"`
	Tests        int      `json:"tests"`
	TestsFailed  int      `json:"tests_failed"`
	Failures     []string `json:"failures"`
	Regressions  []string `json:"regressions"`
	Missing      []string `json:"missing"`
	Deadline     string   `json:"deadline"`
	FollowUp     string   `json:"follow_up"`
}

// noTests is the test state of a run that waits for no results.
func noTests() testsJSON {
	return testsJSON{State: "none", Failures: []string{}, Regressions: []string{}, Missing: []string{}}
}

// toTestsJSON is the document of a run's test state.
func toTestsJSON(ts pipeline.TestState) testsJSON {
	j := noTests()
	j.State, j.Line = string(ts.Verdict), ts.Line
	if ts.Waiting {
		j.State = "waiting"
		j.Line = "waiting for results from " + strings.Join(ts.Missing, ", ") + " until the deadline"
	}
	s := ts.Summary
	j.Builds, j.BuildsFailed, j.Tests, j.TestsFailed = s.Builds, s.BuildsFailed, s.Tests, s.TestsFailed
	for _, r := range s.Failures {
		name := r.Path
		if name == "" {
			name = r.ID
		}
		j.Failures = append(j.Failures, string(r.Kind)+" "+name+" "+string(r.Status))
	}
	for _, row := range s.Latency {
		if len(row.Regressed) > 0 {
			j.Regressions = append(j.Regressions, row.Path+" on "+row.Machine+": "+strings.Join(row.Regressed, ", "))
		}
	}
	j.Missing = orEmpty(ts.Missing)
	j.Deadline, j.FollowUp = jsonTime(ts.Deadline), ts.FollowUp
	return j
}

// runDetailJSON is a run with its patches and actions.
type runDetailJSON struct {
	runJSON
	Patches []patchResultJSON `json:"patches"`
	Actions []actionJSON      `json:"actions"`
}

// patchResultJSON is the triage of one patch of a run, as recorded.
type patchResultJSON struct {
	Index   int    `json:"index"`
	Name    string `json:"name"`
	Subject string `json:"subject"`
	Status  string `json:"status"`
	Action  string `json:"action"`
	Reason  string `json:"reason"`
	// CausedBy is the JSON list the run recorded ([] when none).
	CausedBy  json.RawMessage `json:"caused_by"`
	BlockedBy string          `json:"blocked_by"`
}

// jsonTime is t as RFC 3339 in UTC, "" when t is zero.
func jsonTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// orEmpty is s, or an empty list when s is nil: lists are [] in JSON.
func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// toMergeJSON is the document of a merge's triage report.
func toMergeJSON(rep *triage.Report) mergeJSON {
	patches := make([]triage.PatchReport, len(rep.Patches))
	for i, p := range rep.Patches {
		patches[i] = patchReportJSON(p)
	}
	return mergeJSON{
		Schema: jsonSchema, Candidate: rep.Candidate, Base: rep.Base, Queue: rep.Queue, Result: rep.Result,
		Patches: patches, Summary: summaryJSON(rep.Summary), Stats: rep.Stats, ElapsedSeconds: rep.Elapsed.Round(time.Millisecond).Seconds(),
	}
}

// patchReportJSON is p with every list that is always present not nil:
// caused_by, and the texts of each conflict region (a region's side can
// be empty).
func patchReportJSON(p triage.PatchReport) triage.PatchReport {
	p.CausedBy = orEmpty(p.CausedBy)
	files := make([]triage.FileReport, len(p.Files))
	for i, f := range p.Files {
		regions := make([]merger.Region, len(f.Regions))
		for j, r := range f.Regions {
			r.BaseText, r.CandText, r.PatchText = orEmpty(r.BaseText), orEmpty(r.CandText), orEmpty(r.PatchText)
			regions[j] = r
		}
		if f.Regions != nil {
			f.Regions = regions
		}
		files[i] = f
	}
	if p.Files != nil {
		p.Files = files
	}
	return p
}

// summaryJSON is s with its by_status map never null.
func summaryJSON(s triage.Summary) triage.Summary {
	if s.ByStatus == nil {
		s.ByStatus = map[triage.Status]int{}
	}
	return s
}

// toPassJSON is the document of what a pass did.
func toPassJSON(p *pipeline.Pass) passJSON {
	out := passJSON{
		Schema: jsonSchema, Scanned: p.Scanned, Pending: p.Pending,
		New: announcementsJSON(p.New), Retried: announcementsJSON(p.Retried), Ignored: announcementsJSON(p.Ignored),
		Waiting: announcementsJSON(p.Waiting), Failed: announcementsJSON(p.Failed),
		Learned: make([]learnedJSON, 0, len(p.Learned)), Runs: make([]passRunJSON, 0, len(p.Runs)),
		FollowUps: make([]followUpJSON, 0, len(p.FollowUps)),
	}
	for _, f := range p.FollowUps {
		out.FollowUps = append(out.FollowUps, followUpJSON{RunID: f.RunID, Tree: f.Tree, Verdict: f.Verdict, Mail: f.Mail, NotMailed: f.NotMailed})
	}
	for _, l := range p.Learned {
		out.Learned = append(out.Learned, learnedJSON{
			Tree: l.Tree, Branch: l.Branch, Run: l.Run, Commit: l.Commit, Patch: l.Patch,
			Files: orEmpty(l.Files), Diff: l.Diff, Replaced: orEmpty(l.Replaced), Error: l.Error,
		})
	}
	for _, r := range p.Runs {
		out.Runs = append(out.Runs, toPassRunJSON(r))
	}
	return out
}

// toPassRunJSON is the document of one run of a pass.
func toPassRunJSON(r pipeline.RunReport) passRunJSON {
	j := passRunJSON{
		RunID: r.RunID, Announcement: r.Announcement, Tree: r.Tree, Candidate: r.Candidate, Commit: r.Commit,
		QueueID: r.QueueID, Outcome: string(r.Outcome), Branch: r.Branch, Result: r.Result, Pushed: r.Pushed,
		NotPushed: r.NotPushed, ProposedPushed: r.ProposedPushed, Triggers: orEmpty(r.Triggers), Mail: r.Mail, NotMailed: r.NotMailed,
		Export: r.Export, Error: r.Error, Resumed: r.Resumed,
	}
	if r.Report != nil {
		s := summaryJSON(r.Report.Summary)
		j.Summary = &s
	}
	return j
}

// announcementsJSON is the documents of announcements, [] when none.
func announcementsJSON(as []state.Announcement) []announcementJSON {
	out := make([]announcementJSON, 0, len(as))
	for _, a := range as {
		out = append(out, announcementJSON{
			ID: a.ID, MessageID: a.MessageID, Kind: a.Kind, Series: a.Series, Version: a.Version, RC: a.RC,
			GitURL: a.GitURL, GitBranch: a.GitBranch, PatchURL: a.PatchURL, From: a.From, Subject: a.Subject,
			Deadline: jsonTime(a.Deadline), FirstSeen: jsonTime(a.FirstSeen), UpdatedAt: jsonTime(a.UpdatedAt),
			Status: string(a.Status), Reason: a.Reason, Attempts: a.Attempts, LastError: a.LastError,
			LastAttempt: jsonTime(a.LastAttempt), WaitUntil: jsonTime(a.WaitUntil), ConfigHash: a.ConfigHash,
			Claimed: a.Claimed, Tree: a.Tree, Thread: a.Thread, Retry: a.Retry,
		})
	}
	return out
}

// toStatusJSON is the document of `rtbot status` on the state file at
// path.
func toStatusJSON(path string, s statusReport) statusJSON {
	out := statusJSON{
		Schema: jsonSchema, StateFile: path, StateSchema: s.SchemaVersion,
		Announcements: make(map[string]int, len(s.Announcements)),
		Waiting:       announcementsJSON(s.Waiting), Failed: announcementsJSON(s.Failed),
		Checkpoints: make([]checkpointJSON, 0, len(s.Checkpoints)), LastRuns: runsJSON(s.LastRuns, s.tests),
		Watched: make([]watchedJSON, 0, len(s.Watched)), Pending: make([]pendingJSON, 0, len(s.Pending)),
		Problems: orEmpty(s.Problems), Attention: orEmpty(s.Attention),
	}
	for k, n := range s.Announcements {
		out.Announcements[string(k)] = n
	}
	for _, c := range s.Checkpoints {
		out.Checkpoints = append(out.Checkpoints, checkpointJSON{Server: c.Server, Mailbox: c.Mailbox,
			UIDValidity: c.UIDValidity, LastUID: c.LastUID, UpdatedAt: jsonTime(c.UpdatedAt)})
	}
	out.SourceCheckpoints = make([]sourceCheckpointJSON, 0, len(s.SourceCheckpoints))
	for _, c := range s.SourceCheckpoints {
		out.SourceCheckpoints = append(out.SourceCheckpoints, sourceCheckpointJSON{Kind: c.Kind, Source: c.Source,
			Position: mailwatch.DescribePosition(c.Kind, c.Position), UpdatedAt: jsonTime(c.UpdatedAt)})
	}
	for _, b := range s.Watched {
		out.Watched = append(out.Watched, watchedJSON{Tree: b.Tree, Branch: b.Branch, Run: b.Run, ReadUpTo: b.ReadUpTo})
	}
	for _, a := range s.Pending {
		out.Pending = append(out.Pending, pendingJSON{actionJSON: toActionJSON(a), Note: s.notes[a.ID]})
	}
	return out
}

// runsJSON is the documents of runs, [] when none.
func runsJSON(runs []state.Run, tests map[int64]testsJSON) []runJSON {
	out := make([]runJSON, 0, len(runs))
	for _, r := range runs {
		out = append(out, toRunJSON(r, tests))
	}
	return out
}

// toRunJSON is the document of a recorded run.
// tests holds the test states of runs that wait for results.
func toRunJSON(r state.Run, tests map[int64]testsJSON) runJSON {
	t, ok := tests[r.ID]
	if !ok {
		t = noTests()
	}
	return runJSON{
		ID: r.ID, Announcement: r.Announcement, Tree: r.Tree, Candidate: r.Candidate, QueueID: r.QueueID, Base: r.Base,
		StartedAt: jsonTime(r.StartedAt), FinishedAt: jsonTime(r.FinishedAt), Attempts: r.Attempts,
		Outcome: string(r.Outcome), PushedBranch: r.PushedBranch, ResultCommit: r.ResultCommit, Error: r.Error, Tests: t,
	}
}

// runTests reads the test states of runs (those that wait for none are
// left out).
func runTests(ctx context.Context, cfg *config.Config, st *state.Store, runs ...state.Run) (map[int64]testsJSON, error) {
	p := pipeline.New(cfg, st, pipeline.Options{})
	out := map[int64]testsJSON{}
	for _, r := range runs {
		ts, ok, err := p.RunTestState(ctx, r.ID)
		if err != nil {
			return nil, err
		}
		if ok {
			out[r.ID] = toTestsJSON(ts)
		}
	}
	return out, nil
}

// toRunDetailJSON is the document of `rtbot history --run ID`.
func toRunDetailJSON(d state.RunDetail, tests map[int64]testsJSON) historyRunJSON {
	out := runDetailJSON{runJSON: toRunJSON(d.Run, tests),
		Patches: make([]patchResultJSON, 0, len(d.Patches)), Actions: make([]actionJSON, 0, len(d.Actions))}
	for _, p := range d.Patches {
		causedBy := p.CausedBy
		if len(causedBy) == 0 || string(causedBy) == "null" {
			causedBy = json.RawMessage("[]")
		}
		out.Patches = append(out.Patches, patchResultJSON{Index: p.Index, Name: p.Name, Subject: p.Subject,
			Status: p.Status, Action: p.Action, Reason: p.Reason, CausedBy: causedBy, BlockedBy: p.BlockedBy})
	}
	for _, a := range d.Actions {
		out.Actions = append(out.Actions, toActionJSON(a))
	}
	return historyRunJSON{Schema: jsonSchema, Run: out}
}

// toActionJSON is the document of a recorded action.
func toActionJSON(a state.Action) actionJSON {
	return actionJSON{
		ID: a.ID, RunID: a.RunID, Kind: string(a.Kind), Key: a.Key, State: string(a.State), Attempts: a.Attempts,
		LastError: a.LastError, Committing: a.Committing, CreatedAt: jsonTime(a.CreatedAt), UpdatedAt: jsonTime(a.UpdatedAt),
	}
}
