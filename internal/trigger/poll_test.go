package trigger

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestPollStaysOnTheServer: Poll follows nothing off the trigger URL's
// server: not a handle elsewhere, not a Jenkins executable URL another
// server's (a CI answer must not send rtbot's read token elsewhere).
func TestPollStaysOnTheServer(t *testing.T) {
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("a request reached the other server: %s %s", r.Method, r.URL)
	}))
	defer other.Close()
	jenkins := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"executable": {"number": 3, "url": "%s/job/rt/3/"}}`, other.URL)
	}))
	defer jenkins.Close()
	t.Setenv("RTBOT_TEST_READ", "read-token")
	spec := Spec{Name: "ci", Type: TypeWebhook, URL: jenkins.URL + "/job/rt/buildWithParameters", Poll: PollJenkins, PollSecretEnv: "RTBOT_TEST_READ"}
	if _, err := Poll(context.Background(), spec, other.URL+"/queue/item/5/"); err == nil || IsTemporary(err) {
		t.Errorf("a handle on another server: %v, want a permanent error", err)
	}
	_, err := Poll(context.Background(), spec, jenkins.URL+"/queue/item/5/")
	if err == nil || !strings.Contains(err.Error(), "not on the trigger's server") {
		t.Errorf("an executable on another server: %v", err)
	}
}

// TestPollHandle: what a 2xx response names to follow.
func TestPollHandle(t *testing.T) {
	gl, _ := http.NewRequest("POST", "https://gl.example/api/v4/projects/42/trigger/pipeline?token=x", nil)
	if h, why := pollHandle(Spec{Poll: PollGitLab}, gl.URL, &http.Response{}, []byte(`{"id": 7}`)); h != "https://gl.example/api/v4/projects/42/pipelines/7" {
		t.Errorf("gitlab handle %q (%s)", h, why)
	}
	if h, why := pollHandle(Spec{Poll: PollGitLab}, gl.URL, &http.Response{}, []byte(`{"message": "403 Forbidden"}`)); h != "" || why == "" {
		t.Errorf("gitlab without an id: %q %q", h, why)
	}
	jk, _ := http.NewRequest("POST", "https://ci.example/job/rt/buildWithParameters", nil)
	resp := &http.Response{Header: http.Header{"Location": {"https://ci.example/queue/item/5"}}, Request: jk}
	if h, why := pollHandle(Spec{Poll: PollJenkins}, jk.URL, resp, nil); h != "https://ci.example/queue/item/5/" {
		t.Errorf("jenkins handle %q (%s)", h, why)
	}
	resp.Header.Set("Location", "https://evil.example/queue/item/5/")
	if h, _ := pollHandle(Spec{Poll: PollJenkins}, jk.URL, resp, nil); h != "" {
		t.Errorf("jenkins handle on another server %q", h)
	}
}

// TestPollArtifact: once the work is finished, Poll reads the results
// artifact where each CI's API serves it (GitLab: GET
// /projects/:id/jobs/:job_id/artifacts/*path, of each job that ran;
// Jenkins: GET {build url}artifact/path), with the read token; a job or
// build without it (HTTP 404) has none; a CI error is temporary.
func TestPollArtifact(t *testing.T) {
	const doc = `{"version": {"major": 5}}`
	for _, tc := range []struct {
		name, poll, handle string
		routes             map[string]string // path -> body; "404", "500" answer that status
		wantFrom           []string
		wantErr            bool
	}{
		{"gitlab two jobs, one has it", PollGitLab, "/api/v4/projects/42/pipelines/7", map[string]string{
			"/api/v4/projects/42/pipelines/7":                         `{"id": 7, "status": "failed"}`,
			"/api/v4/projects/42/pipelines/7/jobs":                    `[{"id": 11, "status": "success"}, {"id": 12, "status": "failed"}, {"id": 13, "status": "skipped"}]`,
			"/api/v4/projects/42/jobs/11/artifacts/out/k%20cidb.json": "404",
			"/api/v4/projects/42/jobs/12/artifacts/out/k%20cidb.json": doc,
		}, []string{"job 12"}, false},
		{"gitlab artifact server error", PollGitLab, "/api/v4/projects/42/pipelines/7", map[string]string{
			"/api/v4/projects/42/pipelines/7":                         `{"id": 7, "status": "success"}`,
			"/api/v4/projects/42/pipelines/7/jobs":                    `[{"id": 11, "status": "success"}]`,
			"/api/v4/projects/42/jobs/11/artifacts/out/k%20cidb.json": "500",
		}, nil, true},
		{"gitlab artifact forbidden", PollGitLab, "/api/v4/projects/42/pipelines/7", map[string]string{
			"/api/v4/projects/42/pipelines/7":                         `{"id": 7, "status": "success"}`,
			"/api/v4/projects/42/pipelines/7/jobs":                    `[{"id": 11, "status": "success"}]`,
			"/api/v4/projects/42/jobs/11/artifacts/out/k%20cidb.json": "403",
		}, []string{"job 11 (HTTP 403)"}, false},
		{"jenkins build has it", PollJenkins, "/queue/item/5/", map[string]string{
			"/queue/item/5/api/json":               `{"executable": {"number": 3, "url": "{srv}/job/rt/3/"}}`,
			"/job/rt/3/api/json":                   `{"building": false, "result": "SUCCESS", "url": "{srv}/job/rt/3/"}`,
			"/job/rt/3/artifact/out/k%20cidb.json": doc,
		}, []string{"build 3"}, false},
		{"jenkins build without it", PollJenkins, "/queue/item/5/", map[string]string{
			"/queue/item/5/api/json": `{"executable": {"number": 3, "url": "{srv}/job/rt/3/"}}`,
			"/job/rt/3/api/json":     `{"building": false, "result": "FAILURE", "url": "{srv}/job/rt/3/"}`,
		}, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var srv *httptest.Server
			srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Header.Get("PRIVATE-TOKEN") != "read-token" && r.Header.Get("Authorization") != "Basic read-token" {
					t.Errorf("%s without the read token", r.URL.EscapedPath())
				}
				body, ok := tc.routes[r.URL.EscapedPath()]
				switch {
				case !ok && strings.Contains(r.URL.Path, "/artifact"):
					if strings.Contains(r.URL.Path, "/jobs/13/") {
						t.Errorf("the artifact of a skipped job was asked for")
					}
					http.NotFound(w, r)
				case !ok:
					t.Errorf("unexpected request %s", r.URL.EscapedPath())
					http.NotFound(w, r)
				case body == "404":
					http.NotFound(w, r)
				case body == "500":
					http.Error(w, "oops", http.StatusInternalServerError)
				case body == "403":
					http.Error(w, "forbidden", http.StatusForbidden)
				default:
					fmt.Fprint(w, strings.ReplaceAll(body, "{srv}", srv.URL))
				}
			}))
			defer srv.Close()
			t.Setenv("RTBOT_TEST_READ", "read-token")
			spec := Spec{Name: "ci", Type: TypeWebhook, URL: srv.URL + "/trigger", Poll: tc.poll, PollSecretEnv: "RTBOT_TEST_READ",
				ResultsArtifact: "out/k cidb.json"}
			res, err := Poll(context.Background(), spec, srv.URL+tc.handle)
			if tc.wantErr {
				if err == nil || !IsTemporary(err) {
					t.Fatalf("Poll = %+v, %v; want a temporary error", res, err)
				}
				return
			}
			if err != nil || !res.Done {
				t.Fatalf("Poll = %+v, %v", res, err)
			}
			var from []string
			for _, a := range res.Artifacts {
				if a.Err != nil {
					if !strings.Contains(a.Err.Error(), "HTTP 403") || a.Data != nil {
						t.Errorf("artifact from %s: %v, %q", a.From, a.Err, a.Data)
					}
					from = append(from, a.From+" (HTTP 403)")
					continue
				}
				from = append(from, a.From)
				if string(a.Data) != doc {
					t.Errorf("artifact from %s: %q", a.From, a.Data)
				}
			}
			if fmt.Sprint(from) != fmt.Sprint(tc.wantFrom) {
				t.Errorf("artifacts from %v, want %v", from, tc.wantFrom)
			}
		})
	}
}
