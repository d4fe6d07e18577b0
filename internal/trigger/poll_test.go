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
