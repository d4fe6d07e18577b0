package trigger

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
)

// The CI systems whose work a webhook can be followed in (Spec.Poll).
const (
	PollGitLab  = "gitlab"
	PollJenkins = "jenkins"
)

// maxPollResponse bounds one polling response.
const maxPollResponse = 4 << 20

// maxArtifact bounds one results artifact: the size of the largest
// KCIDB document rtbot reads (results.MaxDocumentBytes); a larger one is
// read one byte over and refused there.
const maxArtifact = 16 << 20

// PollResult is what Poll found: whether the work is done and, when it
// is, its outcome as KCIDB statuses.
type PollResult struct {
	Done   bool
	ID     string // the GitLab pipeline id, the Jenkins build number
	Status string // KCIDB status of the whole: PASS, FAIL, ERROR, SKIP
	URL    string // its web page
	Jobs   []PollJob
	// Artifacts are the results documents (Spec.ResultsArtifact) found
	// in the finished work's artifacts: the build's, or each GitLab job's
	// that has one. Their content is not checked here.
	Artifacts []Artifact
}

// Artifact is one results document read from a CI's artifacts, or why
// it could not be read (the CI refused it for good: HTTP 403, ...).
type Artifact struct {
	From string // where: "job 12", "build 3"
	Data []byte
	Err  error // set: not read; Data is nil
}

// PollJob is one job of a GitLab pipeline.
type PollJob struct {
	ID     string
	Name   string
	Stage  string
	Status string // KCIDB status
	URL    string
}

// pollHandle is what a webhook's 2xx response says to follow: GitLab's
// pipeline trigger answers the pipeline ({"id": N, ...}), followed at
// .../projects/:id/pipelines/N next to the trigger URL; Jenkins answers
// the queue item in Location. It returns the handle, or why there is none.
func pollHandle(t Spec, reqURL *url.URL, resp *http.Response, body []byte) (string, string) {
	switch t.Poll {
	case PollGitLab:
		var p struct {
			ID int64 `json:"id"`
		}
		i := strings.Index(reqURL.Path, "/trigger/pipeline")
		if err := json.Unmarshal(body, &p); err != nil || p.ID <= 0 || i < 0 {
			return "", "the GitLab response names no pipeline id (or the URL is not .../trigger/pipeline)"
		}
		u := url.URL{Scheme: reqURL.Scheme, Host: reqURL.Host, Path: reqURL.Path[:i] + "/pipelines/" + strconv.FormatInt(p.ID, 10)}
		return u.String(), ""
	case PollJenkins:
		loc, err := resp.Location()
		if err != nil || !sameOrigin(reqURL, loc) {
			return "", "the Jenkins response has no Location of a queue item on the same server"
		}
		if !strings.HasSuffix(loc.Path, "/") {
			loc.Path += "/"
		}
		loc.RawQuery, loc.User = "", nil
		return loc.String(), ""
	}
	return "", ""
}

// sameOrigin reports whether u is on base's scheme, host and port.
func sameOrigin(base, u *url.URL) bool {
	return u.Scheme == base.Scheme && u.Host == base.Host
}

// Poll looks once at the work a webhook with t.Poll started (handle is
// Result.PollHandle), within t's timeout. Every URL it follows must be on
// the trigger URL's server. GitLab: GET the pipeline, then its jobs once
// it is finished; Jenkins: GET the queue item's api/json, then the
// build's once it started. An error is temporary (the next pass polls
// again) unless it is an *Error with Temporary false.
func Poll(ctx context.Context, t Spec, handle string) (PollResult, error) {
	base, err := url.Parse(t.URL)
	if err != nil {
		return PollResult{}, permanent(t, fmt.Errorf("poll: url: %w", err))
	}
	h, err := url.Parse(handle)
	if err != nil || !sameOrigin(base, h) {
		return PollResult{}, permanent(t, fmt.Errorf("poll: %q is not on the trigger's server", handle))
	}
	ctx, cancel := context.WithTimeout(ctx, timeout(t))
	defer cancel()
	c := poller{t: t, base: base}
	if t.PollSecretEnv != "" {
		c.secret = os.Getenv(t.PollSecretEnv)
		if c.secret == "" {
			return PollResult{}, permanent(t, fmt.Errorf("poll: environment variable %s (poll_secret_env) is not set or empty", t.PollSecretEnv))
		}
	}
	switch t.Poll {
	case PollGitLab:
		return c.gitlab(ctx, handle)
	case PollJenkins:
		return c.jenkins(ctx, handle)
	}
	return PollResult{}, permanent(t, fmt.Errorf("poll: %q is not %q or %q", t.Poll, PollGitLab, PollJenkins))
}

// poller makes the polling requests of one trigger.
type poller struct {
	t      Spec
	base   *url.URL
	secret string
}

// get GETs u (on the trigger's server) and decodes its JSON into v.
func (c poller) get(ctx context.Context, u string, v any) error {
	data, found, err := c.fetch(ctx, u, "application/json", maxPollResponse)
	switch {
	case err != nil:
		return err
	case !found:
		return permanent(c.t, fmt.Errorf("poll GET %s: HTTP %d", pathOf(u), http.StatusNotFound))
	case len(data) > maxPollResponse:
		return permanent(c.t, fmt.Errorf("poll GET %s: larger than %d bytes", pathOf(u), maxPollResponse))
	}
	if err := json.Unmarshal(data, v); err != nil {
		return permanent(c.t, fmt.Errorf("poll GET %s: %v", pathOf(u), err))
	}
	return nil
}

// pathOf is u's path, for messages: a query may hold a token.
func pathOf(u string) string {
	if pu, err := url.Parse(u); err == nil {
		return pu.Path
	}
	return "?"
}

// fetch GETs u (on the trigger's server) with the polling token, and
// returns at most limit+1 bytes of its body (more than limit: the caller
// refuses it); found is false for HTTP 404.
func (c poller) fetch(ctx context.Context, u, accept string, limit int64) (data []byte, found bool, err error) {
	pu, err := url.Parse(u)
	if err != nil || !sameOrigin(c.base, pu) {
		return nil, false, permanent(c.t, fmt.Errorf("poll: %q is not on the trigger's server", u))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, false, permanent(c.t, fmt.Errorf("poll: %w", err))
	}
	req.Header.Set("Accept", accept)
	req.Header.Set("User-Agent", "rtbot")
	if c.secret != "" {
		if c.t.Poll == PollGitLab {
			req.Header.Set("PRIVATE-TOKEN", c.secret)
		} else {
			req.Header.Set("Authorization", "Basic "+c.secret)
		}
	}
	resp, err := (&http.Client{CheckRedirect: checkRedirect}).Do(req)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err // its text has the URL
		}
		return nil, false, temporary(c.t, fmt.Errorf("poll GET %s: %v", pu.Path, err))
	}
	defer resp.Body.Close()
	data, err = io.ReadAll(io.LimitReader(resp.Body, limit+1))
	switch {
	case err != nil:
		return nil, false, temporary(c.t, fmt.Errorf("poll GET %s: %v", pu.Path, err))
	case resp.StatusCode == http.StatusNotFound:
		return nil, false, nil
	case resp.StatusCode == http.StatusRequestTimeout || resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		return nil, false, temporary(c.t, fmt.Errorf("poll GET %s: HTTP %d", pu.Path, resp.StatusCode))
	case resp.StatusCode != http.StatusOK:
		return nil, false, permanent(c.t, fmt.Errorf("poll GET %s: HTTP %d", pu.Path, resp.StatusCode))
	}
	return data, true, nil
}

// artifact reads the results artifact at base + the escaped
// Spec.ResultsArtifact, if the trigger names one and it is there (GitLab
// and Jenkins answer 404 when it is not). from says where it is from. A
// temporary failure is an error (polled again); a permanent one is an
// Artifact with Err, so that the finished work is still recorded.
func (c poller) artifact(ctx context.Context, base, from string) ([]Artifact, error) {
	if c.t.ResultsArtifact == "" {
		return nil, nil
	}
	var parts []string
	for _, el := range strings.Split(c.t.ResultsArtifact, "/") {
		if el == "" || el == "." || el == ".." {
			return nil, permanent(c.t, fmt.Errorf("poll: results_artifact %q is not a relative path", c.t.ResultsArtifact))
		}
		parts = append(parts, url.PathEscape(el))
	}
	data, found, err := c.fetch(ctx, base+strings.Join(parts, "/"), "application/json, */*", maxArtifact)
	switch {
	case err != nil && IsTemporary(err):
		return nil, err // the next pass polls again
	case err != nil:
		// Refused for good (a token without access, ...): the outcome
		// is still recorded, and the artifact as not read.
		return []Artifact{{From: from, Err: err}}, nil
	case !found:
		return nil, nil
	}
	return []Artifact{{From: from, Data: data}}, nil
}

// gitlab polls a pipeline (GET /projects/:id/pipelines/:pid) and, once it
// is finished, its jobs (GET .../pipelines/:pid/jobs).
func (c poller) gitlab(ctx context.Context, handle string) (PollResult, error) {
	var p struct {
		ID     int64  `json:"id"`
		Status string `json:"status"`
		WebURL string `json:"web_url"`
	}
	if err := c.get(ctx, handle, &p); err != nil {
		return PollResult{}, err
	}
	res := PollResult{ID: strconv.FormatInt(p.ID, 10), URL: webURL(p.WebURL)}
	res.Status, res.Done = gitlabStatus(p.Status, true)
	if !res.Done {
		return res, nil
	}
	var jobs []struct {
		ID     int64  `json:"id"`
		Name   string `json:"name"`
		Stage  string `json:"stage"`
		Status string `json:"status"`
		WebURL string `json:"web_url"`
	}
	if err := c.get(ctx, handle+"/jobs?per_page=100", &jobs); err != nil {
		return PollResult{}, err
	}
	i := strings.LastIndex(handle, "/pipelines/")
	if i < 0 {
		return PollResult{}, permanent(c.t, fmt.Errorf("poll: %q is not a GitLab pipeline URL", pathOf(handle)))
	}
	for _, j := range jobs {
		st, _ := gitlabStatus(j.Status, false)
		id := strconv.FormatInt(j.ID, 10)
		res.Jobs = append(res.Jobs, PollJob{ID: id, Name: j.Name, Stage: j.Stage, Status: st, URL: webURL(j.WebURL)})
		if st != "PASS" && st != "FAIL" {
			continue // a job that did not run has no artifacts
		}
		// GET /projects/:id/jobs/:job_id/artifacts/*artifact_path
		a, err := c.artifact(ctx, handle[:i]+"/jobs/"+id+"/artifacts/", "job "+id)
		if err != nil {
			return PollResult{}, err
		}
		res.Artifacts = append(res.Artifacts, a...)
	}
	return res, nil
}

// gitlabStatus maps a GitLab pipeline or job status to a KCIDB status,
// and says whether it is final. A pipeline waiting on manual jobs
// ("manual") does not go on by itself: it counts as finished.
func gitlabStatus(s string, pipeline bool) (string, bool) {
	switch s {
	case "success":
		return "PASS", true
	case "failed":
		return "FAIL", true
	case "canceled", "canceling":
		return "ERROR", true
	case "skipped":
		return "SKIP", true
	case "manual":
		if pipeline {
			return "DONE", true
		}
		return "SKIP", true
	}
	return "MISS", false // created, waiting_for_resource, preparing, pending, running, scheduled
}

// jenkins polls a queue item (GET <item>api/json) and, once it became a
// build, the build (GET <build>api/json) until it is no longer building.
func (c poller) jenkins(ctx context.Context, handle string) (PollResult, error) {
	var item struct {
		Cancelled  bool `json:"cancelled"`
		Executable *struct {
			Number int64  `json:"number"`
			URL    string `json:"url"`
		} `json:"executable"`
	}
	if err := c.get(ctx, handle+"api/json", &item); err != nil {
		return PollResult{}, err
	}
	switch {
	case item.Cancelled:
		return PollResult{Done: true, Status: "ERROR", ID: "cancelled"}, nil
	case item.Executable == nil:
		return PollResult{}, nil // still queued
	}
	u := item.Executable.URL
	if !strings.HasSuffix(u, "/") {
		u += "/"
	}
	var b struct {
		Building bool    `json:"building"`
		Result   *string `json:"result"`
		Number   int64   `json:"number"`
		URL      string  `json:"url"`
	}
	if err := c.get(ctx, u+"api/json", &b); err != nil {
		return PollResult{}, err
	}
	res := PollResult{ID: strconv.FormatInt(item.Executable.Number, 10), URL: webURL(b.URL)}
	if b.Building || b.Result == nil {
		return res, nil
	}
	res.Done = true
	switch *b.Result {
	case "SUCCESS":
		res.Status = "PASS"
	case "FAILURE", "UNSTABLE": // UNSTABLE: the build passed, its tests did not
		res.Status = "FAIL"
	case "NOT_BUILT":
		res.Status = "SKIP"
	default: // ABORTED
		res.Status = "ERROR"
	}
	// GET {build url}artifact/<path>
	a, err := c.artifact(ctx, u+"artifact/", "build "+res.ID)
	if err != nil {
		return PollResult{}, err
	}
	res.Artifacts = a
	return res, nil
}

// webURL keeps an http(s) URL from a CI's answer for a log link, "" for
// anything else.
func webURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || strings.ContainsAny(s, " \t\r\n") {
		return ""
	}
	u.User = nil
	return u.String()
}
