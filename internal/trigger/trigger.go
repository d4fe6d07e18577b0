// Package trigger fires rtbot's testing triggers after a clean rebase has
// been pushed: a local command, an HTTP webhook, or a KCIDB checkout
// document written to a directory or POSTed to a KCIDB submission URL.
//
// A firing never involves a shell. Values derived from mail (the
// announcement's subject and Message-ID, the version) reach a trigger only
// as environment variables, JSON strings or query-escaped URL parameters.
//
// Fire does not retry. It classifies a failure as temporary (a timeout, a
// network error, HTTP 408, 429 or 5xx, a cancelled context, a local I/O
// error) or permanent (the command failed, HTTP 4xx, a configuration
// problem); the caller records the firing and fires temporary failures again
// on its next run. See docs/triggers.md.
package trigger

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/rtbot/rtbot/internal/netsec"
)

// Trigger types, the values of [Spec].Type.
const (
	TypeCommand = "command" // run a local program
	TypeWebhook = "webhook" // send the event as JSON to a URL
	TypeKCIDB   = "kcidb"   // write a KCIDB checkout document, or POST it
)

// Defaults for the zero fields of a [Spec].
const (
	DefaultCommandTimeout = 30 * time.Minute
	DefaultHTTPTimeout    = 30 * time.Second
	DefaultKCIDBOrigin    = "rtbot"
)

// Spec is one trigger: what Fire does and its bounds. rtbot's [[trigger]]
// tables describe it (see package config); each field is read only by the
// types named in its comment.
type Spec struct {
	// Name identifies the trigger in results, errors and output file names.
	Name string
	// Type is TypeCommand, TypeWebhook or TypeKCIDB.
	Type string
	// Timeout bounds one firing; zero means DefaultCommandTimeout for a
	// command and DefaultHTTPTimeout otherwise.
	Timeout time.Duration
	// Argv is the program and its arguments (command), run without a shell.
	Argv []string
	// URL is where the event is sent (webhook) or the document POSTed
	// (kcidb, instead of Dir). Its {placeholders} are expanded; {secret} is
	// the value of SecretEnv.
	URL string
	// Method is the webhook's HTTP method; empty means POST.
	Method string
	// Headers are extra request headers (webhook, kcidb with URL); {secret}
	// in a value is expanded.
	Headers map[string]string
	// SecretEnv names the environment variable holding {secret}.
	SecretEnv string
	// Dir is where KCIDB documents are written (kcidb, instead of URL).
	Dir string
	// Origin is the KCIDB origin (kcidb); empty means DefaultKCIDBOrigin.
	Origin string
	// Poll is PollGitLab or PollJenkins for a webhook whose outcome is
	// followed (see Poll); empty: none.
	Poll string
	// PollSecretEnv names the environment variable holding the token of
	// the polling requests; empty: none.
	PollSecretEnv string
	// ResultsArtifact is the relative path of a KCIDB results document in
	// the artifacts of what a webhook with Poll started, read once it is
	// finished; empty: none.
	ResultsArtifact string
}

// Event describes the rebased candidate a trigger fires for.
type Event struct {
	Tree            string    // "6.1-rt"
	Series          string    // "6.1"
	Version         string    // "6.1.177"
	RC              int       // 1; 0 for a release
	Candidate       string    // candidate commit (40 hex)
	CandidateURL    string    // stable-rc remote
	CandidateBranch string    // "linux-6.1.y"
	Base            string    // the queue's base revision name, "v6.1.176"
	Branch          string    // the pushed result branch "rtbot/6.1-rt/6.1.177-rc1"
	Commit          string    // result commit (40 hex)
	PushRemote      string    // where Branch was pushed; empty: only in the local repo
	Repo            string    // local repository path
	Announcement    string    // rtbot's key of the announcement: the list mail's Message-ID, or its own for `run --onto` and reruns
	MessageID       string    // Message-ID of the list mail that announced the candidate (no brackets); "" when none did (run --onto)
	CandidateTags   []string  // tags pointing at the candidate commit ("v6.1.177"), sorted; none known: nil
	CommitTags      []string  // tags pointing at the result commit, sorted (the candidate's when Commits is 0)
	Commits         int       // commits the queue added on top of the candidate (0: Commit is Candidate)
	Subject         string    // announcement subject (hostile text: never put in a shell, only in env/JSON)
	QueueID         string    // identifies the RT queue that was rebased
	Patches         []Patch   // the rebased queue, in order
	Time            time.Time // when the rebase finished
}

// Patch is one patch of the rebased queue.
type Patch struct {
	Index   int    `json:"index"`
	Name    string `json:"name"`
	Subject string `json:"subject"`
	Status  string `json:"status"` // "applied", "merged", ...
	Text    []byte `json:"-"`      // the format-patch text; used for the KCIDB patchset hash
}

// Result is what one firing did.
type Result struct {
	Trigger           string
	Type              string // "command", "webhook", "kcidb"
	Started, Finished time.Time
	ExitCode          int    // command: the exit status (-1 if killed)
	HTTPStatus        int    // webhook / kcidb url
	Output            string // path of the file holding the kept output (command stdout+stderr, HTTP response body, or the KCIDB document)
	// Results is the KCIDB results file a command wrote where
	// RTBOT_RESULTS said (command); "" when it wrote none. Fire does not
	// read it.
	Results string
	// PollHandle is what Poll follows for a webhook with Spec.Poll: the
	// GitLab pipeline's API URL, the Jenkins queue item's URL; "" when
	// the response did not name one (PollError says why).
	PollHandle, PollError string
}

// Error is a failed firing.
type Error struct {
	Trigger string
	// Temporary reports that firing again later may succeed (a timeout, a
	// network error, HTTP 408, 429 or 5xx, cancellation, a local I/O
	// error). A permanent failure needs a human (the test failed, the
	// receiver refused the request, the configuration is wrong).
	Temporary bool
	Err       error
}

func (e *Error) Error() string {
	if e.Trigger == "" {
		return e.Err.Error()
	}
	return "trigger " + e.Trigger + ": " + e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

// IsTemporary reports whether err is, or wraps, an *Error whose firing may
// succeed when tried again later.
func IsTemporary(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Temporary
}

// Fire fires trigger t for ev and waits for it to finish or time out
// (t.Timeout, or its default when zero). dir is a directory
// owned by rtbot where the output is kept (created 0755 if missing); file
// names are made of the trigger name and the start time. Fire returns the
// Result even on error, with what it has; the error is an *Error.
func Fire(ctx context.Context, t Spec, ev Event, dir string) (Result, error) {
	res := Result{Trigger: t.Name, Type: t.Type, Started: time.Now()}
	err := fire(ctx, t, ev, dir, &res)
	res.Finished = time.Now()
	if err != nil {
		var e *Error
		if !errors.As(err, &e) {
			err = &Error{Trigger: t.Name, Err: err}
		}
	}
	return res, err
}

func fire(ctx context.Context, t Spec, ev Event, dir string, res *Result) error {
	if err := ctx.Err(); err != nil {
		return temporary(t, fmt.Errorf("not fired: %w", err))
	}
	if dir == "" {
		return permanent(t, errors.New("no output directory"))
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return temporary(t, fmt.Errorf("output directory: %w", err))
	}
	switch t.Type {
	case TypeCommand:
		return fireCommand(ctx, t, ev, dir, res)
	case TypeWebhook:
		return fireWebhook(ctx, t, ev, dir, res)
	case TypeKCIDB:
		return fireKCIDB(ctx, t, ev, dir, res)
	default:
		return permanent(t, fmt.Errorf("unknown trigger type %q", t.Type))
	}
}

func permanent(t Spec, err error) *Error {
	return &Error{Trigger: t.Name, Err: err}
}

func temporary(t Spec, err error) *Error {
	return &Error{Trigger: t.Name, Temporary: true, Err: err}
}

// timeout returns t's time limit, its type's default when it is unset.
func timeout(t Spec) time.Duration {
	switch {
	case t.Timeout > 0:
		return t.Timeout
	case t.Type == TypeCommand:
		return DefaultCommandTimeout
	default:
		return DefaultHTTPTimeout
	}
}

// envVar is one RTBOT_* variable.
type envVar struct {
	key, value string
}

// envVars returns the RTBOT_* variables of ev, in a fixed order, and the
// first whose value cannot be passed (a NUL or a line break).
func envVars(ev Event) ([]envVar, error) {
	vars := []envVar{
		{"RTBOT_TREE", ev.Tree},
		{"RTBOT_SERIES", ev.Series},
		{"RTBOT_VERSION", ev.Version},
		{"RTBOT_RC", strconv.Itoa(ev.RC)},
		{"RTBOT_CANDIDATE", ev.Candidate},
		{"RTBOT_CANDIDATE_URL", netsec.Redact(ev.CandidateURL)},
		{"RTBOT_CANDIDATE_BRANCH", ev.CandidateBranch},
		{"RTBOT_BASE", ev.Base},
		{"RTBOT_BRANCH", ev.Branch},
		{"RTBOT_COMMIT", ev.Commit},
		{"RTBOT_PUSH_REMOTE", netsec.Redact(ev.PushRemote)},
		{"RTBOT_REPO", ev.Repo},
		{"RTBOT_ANNOUNCEMENT", ev.Announcement},
		{"RTBOT_SUBJECT", oneLine(ev.Subject)},
		{"RTBOT_QUEUE_ID", ev.QueueID},
	}
	var bad error
	for _, v := range vars {
		if strings.ContainsAny(v.value, "\x00\r\n") && bad == nil {
			bad = fmt.Errorf("%s %q contains a NUL or a line break: refusing to pass it", v.key, v.value)
		}
	}
	return vars, bad
}

// Env returns the RTBOT_* environment variables describing ev, as
// "KEY=value": RTBOT_TREE, RTBOT_SERIES, RTBOT_VERSION, RTBOT_RC,
// RTBOT_CANDIDATE, RTBOT_CANDIDATE_URL, RTBOT_CANDIDATE_BRANCH, RTBOT_BASE,
// RTBOT_BRANCH, RTBOT_COMMIT, RTBOT_PUSH_REMOTE, RTBOT_REPO,
// RTBOT_ANNOUNCEMENT, RTBOT_SUBJECT and RTBOT_QUEUE_ID. RTBOT_SUBJECT has
// its control characters replaced by spaces; URLs lose their credentials
// (netsec.Redact).
// A variable whose value contains a NUL or a line break is left out (Fire
// refuses to run a command then). RTBOT_EVENT, the path of the event's JSON
// file, is added by Fire.
func Env(ev Event) []string {
	vars, _ := envVars(ev)
	env := make([]string, 0, len(vars))
	for _, v := range vars {
		if !strings.ContainsAny(v.value, "\x00\r\n") {
			env = append(env, v.key+"="+v.value)
		}
	}
	return env
}

// oneLine replaces control characters (including line breaks, tabs and
// escape sequences' ESC) with spaces.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
}

// eventJSON is the JSON form of an Event: the webhook body and the file
// RTBOT_EVENT names. docs/triggers.md documents it.
type eventJSON struct {
	Tree            string  `json:"tree"`
	Series          string  `json:"series"`
	Version         string  `json:"version"`
	RC              int     `json:"rc"`
	Candidate       string  `json:"candidate"`
	CandidateURL    string  `json:"candidate_url"`
	CandidateBranch string  `json:"candidate_branch"`
	Base            string  `json:"base"`
	Branch          string  `json:"branch"`
	Commit          string  `json:"commit"`
	PushRemote      string  `json:"push_remote"`
	Repo            string  `json:"repo"`
	Announcement    string  `json:"announcement"`
	Subject         string  `json:"subject"`
	QueueID         string  `json:"queue_id"`
	Patches         []Patch `json:"patches"`
	Time            string  `json:"time"`
}

// eventDocument returns the JSON form of ev.
func eventDocument(ev Event) ([]byte, error) {
	doc := eventJSON{
		Tree: ev.Tree, Series: ev.Series, Version: ev.Version, RC: ev.RC,
		Candidate: ev.Candidate, CandidateURL: netsec.Redact(ev.CandidateURL),
		CandidateBranch: ev.CandidateBranch, Base: ev.Base, Branch: ev.Branch,
		Commit: ev.Commit, PushRemote: netsec.Redact(ev.PushRemote), Repo: ev.Repo,
		Announcement: ev.Announcement, Subject: ev.Subject, QueueID: ev.QueueID,
		Patches: ev.Patches,
	}
	if doc.Patches == nil {
		doc.Patches = []Patch{}
	}
	if !ev.Time.IsZero() {
		doc.Time = ev.Time.UTC().Format(time.RFC3339)
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// outputs names the files of one firing: base plus a suffix each.
type outputs struct {
	base string // dir/NAME-TIMESTAMP[-N]
}

// newOutputs reserves a base name for a firing of trigger name in dir by
// creating its first file (base+first) exclusively, and returns that file.
// The name is made of the trigger name (sanitised) and the UTC time.
func newOutputs(dir, name string, now time.Time, first string) (outputs, *os.File, error) {
	stem := filepath.Join(dir, safeName(name)+"-"+now.UTC().Format("20060102T150405Z"))
	for i := 1; i <= 100; i++ {
		base := stem
		if i > 1 {
			base = stem + "-" + strconv.Itoa(i)
		}
		f, err := os.OpenFile(base+first, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err == nil {
			return outputs{base: base}, f, nil
		}
		if !errors.Is(err, os.ErrExist) {
			return outputs{}, nil, err
		}
	}
	return outputs{}, nil, fmt.Errorf("%s%s: too many firings in one second", stem, first)
}

// path returns the name of the firing's file with suffix.
func (o outputs) path(suffix string) string { return o.base + suffix }

// create creates the firing's file with suffix.
func (o outputs) create(suffix string) (*os.File, error) {
	return os.OpenFile(o.path(suffix), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
}

// writeFile writes the firing's file with suffix and returns its name.
func (o outputs) writeFile(suffix string, data []byte) (string, error) {
	f, err := o.create(suffix)
	if err != nil {
		return "", err
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return f.Name(), err
}

// safeName maps s to a file name component: ASCII letters, digits, '.',
// '_' and '-' are kept, anything else becomes '_', and it never starts
// with '.' or '-' nor is empty.
func safeName(s string) string {
	b := []byte(s)
	if len(b) > 64 {
		b = b[:64]
	}
	for i, c := range b {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_':
		case c == '.' || c == '-':
			if i == 0 {
				b[i] = '_'
			}
		default:
			b[i] = '_'
		}
	}
	if len(b) == 0 {
		return "_"
	}
	return string(b)
}
