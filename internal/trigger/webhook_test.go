package trigger

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rtbot/rtbot/internal/testkit"
)

// secretValue has characters that need escaping in a query.
const secretValue = "s3cr&t/t0k en+x"

// recorded is one request a test server saw.
type recorded struct {
	method, path string
	query        map[string][]string
	header       http.Header
	body         []byte
}

// recorder is an httptest server that records requests and answers with
// status and a body echoing the request (as a careless server might).
type recorder struct {
	srv    *httptest.Server
	mu     sync.Mutex
	reqs   []recorded
	status atomic.Int32
}

func newRecorder(t *testing.T) *recorder {
	r := &recorder{}
	r.status.Store(http.StatusOK)
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.reqs = append(r.reqs, recorded{req.Method, req.URL.Path, req.URL.Query(), req.Header.Clone(), body})
		r.mu.Unlock()
		w.WriteHeader(int(r.status.Load()))
		io.WriteString(w, "request "+req.URL.String()+" auth "+req.Header.Get("Authorization"))
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *recorder) requests() []recorded {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]recorded(nil), r.reqs...)
}

// fireOne fires tr for ev into dir and returns the result and the one
// request the recorder saw; a failure, another status than 200 or another
// number of requests fails the test.
func (r *recorder) fireOne(t *testing.T, tr Spec, ev Event, dir string) (Result, recorded) {
	t.Helper()
	res, err := Fire(context.Background(), tr, ev, dir)
	if err != nil || res.HTTPStatus != 200 {
		t.Fatalf("Fire = %+v, %v", res, err)
	}
	reqs := r.requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests", len(reqs))
	}
	return res, reqs[0]
}

// webhookRequestCase is a webhook's URL, method and headers, and the
// request the server must see.
type webhookRequestCase struct {
	name      string
	url       string // after the server's base URL
	method    string
	headers   map[string]string
	wantPath  string
	wantQuery map[string]string
	wantHdr   map[string]string
}

// TestWebhookRequest checks the requests that Jenkins- and GitLab-style
// webhooks, and one with its own method and headers, make for an event
// whose branch needs escaping.
func TestWebhookRequest(t *testing.T) {
	t.Setenv("RTBOT_TEST_TOKEN", secretValue)
	ev := testEvent()
	ev.Branch = "rtbot/6.1-rt/6.1.177-rc1&evil=1 #x"
	for _, tt := range webhookRequestCases(ev) {
		t.Run(tt.name, func(t *testing.T) { checkWebhookRequest(t, ev, tt) })
	}
}

// webhookRequestCases are the webhooks TestWebhookRequest fires for ev.
func webhookRequestCases(ev Event) []webhookRequestCase {
	return []webhookRequestCase{
		{
			name:     "jenkins",
			url:      "/job/{tree}/buildWithParameters?token={secret}&RT_BRANCH={branch}&RT_VERSION={version}-rc{rc}",
			wantPath: "/job/6.1-rt/buildWithParameters",
			wantQuery: map[string]string{
				"token": secretValue, "RT_BRANCH": ev.Branch, "RT_VERSION": "6.1.177-rc1",
			},
			wantHdr: map[string]string{"Content-Type": "application/json", "User-Agent": "rtbot"},
		},
		{
			name:     "gitlab",
			url:      "/api/v4/projects/42/trigger/pipeline?token={secret}&ref=main&variables[RTBOT_BRANCH]={branch}&variables[RTBOT_COMMIT]={commit}&variables[RTBOT_CANDIDATE]={candidate}&variables[RTBOT_SERIES]={series}&variables[RTBOT_CHECKOUT_ID]={checkout}",
			wantPath: "/api/v4/projects/42/trigger/pipeline",
			wantQuery: map[string]string{
				"token": secretValue, "ref": "main", "variables[RTBOT_BRANCH]": ev.Branch,
				"variables[RTBOT_COMMIT]": ev.Commit, "variables[RTBOT_CANDIDATE]": ev.Candidate, "variables[RTBOT_SERIES]": "6.1",
				"variables[RTBOT_CHECKOUT_ID]": "rtbot:6.1-rt:6.1.177-rc1:" + ev.Commit,
			},
		},
		{
			name:     "put with headers",
			url:      "/hook/{branch}",
			method:   "PUT",
			headers:  map[string]string{"Authorization": "Bearer {secret}", "X-Requested-By": "rtbot {branch}"},
			wantPath: "/hook/" + ev.Branch, // path-escaped on the wire, decoded by the server
			wantHdr:  map[string]string{"Authorization": "Bearer " + secretValue, "X-Requested-By": "rtbot {branch}"},
		},
	}
}

// checkWebhookRequest fires tt's webhook for ev and checks the request the
// server saw and the response Fire kept.
func checkWebhookRequest(t *testing.T, ev Event, tt webhookRequestCase) {
	rec := newRecorder(t)
	tr := Spec{Name: "jenkins", Type: TypeWebhook, URL: rec.srv.URL + tt.url,
		Method: tt.method, Headers: tt.headers, SecretEnv: "RTBOT_TEST_TOKEN"}
	res, r := rec.fireOne(t, tr, ev, t.TempDir())
	wantMethod := tt.method
	if wantMethod == "" {
		wantMethod = "POST"
	}
	if r.method != wantMethod || r.path != tt.wantPath {
		t.Errorf("%s %s, want %s %s", r.method, r.path, wantMethod, tt.wantPath)
	}
	checkWebhookQuery(t, r.query, tt.wantQuery)
	for k, v := range tt.wantHdr {
		if got := r.header.Get(k); got != v {
			t.Errorf("header %s = %q, want %q", k, got, v)
		}
	}
	checkWebhookBody(t, r.body, ev)
	kept := testkit.ReadFile(t, res.Output)
	if !strings.HasPrefix(kept, "request ") || strings.Contains(kept, "s3cr") {
		t.Errorf("kept response %q: want it with the secret redacted", kept)
	}
}

// checkWebhookQuery checks that query has want's values, and only those
// when want is not nil.
func checkWebhookQuery(t *testing.T, query map[string][]string, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if got := query[k]; len(got) != 1 || got[0] != v {
			t.Errorf("query %s = %q, want [%q]", k, got, v)
		}
	}
	if want != nil && len(query) != len(want) {
		t.Errorf("query %v: want only %v (an unescaped value would add keys)", query, want)
	}
}

// checkWebhookBody checks that raw, a webhook's body, is ev as JSON
// without the push remote's password.
func checkWebhookBody(t *testing.T, raw []byte, ev Event) {
	t.Helper()
	var body map[string]any
	if err := json.Unmarshal(raw, &body); err != nil {
		t.Fatalf("body: %v\n%s", err, raw)
	}
	for k, v := range map[string]any{"tree": "6.1-rt", "rc": 1.0, "branch": ev.Branch, "commit": ev.Commit,
		"subject": ev.Subject, "announcement": ev.Announcement, "push_remote": "https://git.example.org/rt/linux-rt.git"} {
		if body[k] != v {
			t.Errorf("body %s = %#v, want %#v", k, body[k], v)
		}
	}
	if p, _ := body["patches"].([]any); len(p) != 3 {
		t.Errorf("body patches = %#v", body["patches"])
	}
	if strings.Contains(string(raw), "hunter2") {
		t.Error("the push remote's password is in the body")
	}
}

func TestWebhookStatus(t *testing.T) {
	t.Setenv("RTBOT_TEST_TOKEN", secretValue)
	rec := newRecorder(t)
	tr := Spec{Name: "jenkins", Type: TypeWebhook, URL: rec.srv.URL + "/b?token={secret}&B={branch}",
		Headers: map[string]string{"Authorization": "Bearer {secret}"}, SecretEnv: "RTBOT_TEST_TOKEN"}
	tests := []struct {
		status    int
		ok        bool
		temporary bool
	}{
		{200, true, false},
		{201, true, false},
		{204, true, false},
		{400, false, false},
		{401, false, false},
		{404, false, false},
		{408, false, true},
		{429, false, true},
		{500, false, true},
		{502, false, true},
		{503, false, true},
	}
	for _, tt := range tests {
		rec.status.Store(int32(tt.status))
		res, err := Fire(context.Background(), tr, testEvent(), t.TempDir())
		if (err == nil) != tt.ok || IsTemporary(err) != tt.temporary || res.HTTPStatus != tt.status {
			t.Errorf("HTTP %d: status %d, err %v; want ok=%v temporary=%v", tt.status, res.HTTPStatus, err, tt.ok, tt.temporary)
		}
		if err != nil {
			msg := err.Error()
			for _, leak := range []string{"s3cr", "t0k", "%26t"} {
				if strings.Contains(msg, leak) {
					t.Errorf("HTTP %d: error %q shows the secret", tt.status, msg)
				}
			}
			if !strings.Contains(msg, "token={secret}") || !strings.Contains(msg, res.Output) {
				t.Errorf("HTTP %d: error %q: want the URL template and the response file", tt.status, msg)
			}
		}
		if kept := testkit.ReadFile(t, res.Output); tt.status != 204 && (strings.Contains(kept, "s3cr") || !strings.Contains(kept, "token={secret}")) {
			t.Errorf("HTTP %d: kept response %q: want the secret redacted", tt.status, kept)
		}
	}
}

func TestWebhookRefused(t *testing.T) {
	rec := newRecorder(t)
	other := newRecorder(t)
	away := httptest.NewServer(http.RedirectHandler(other.srv.URL+"/stolen", http.StatusTemporaryRedirect))
	defer away.Close()
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()

	tests := []struct {
		name      string
		url       string
		secretEnv string
		setEnv    bool
		temporary bool
		errHas    string
	}{
		{"secret variable unset", rec.srv.URL + "/?t={secret}", "RTBOT_TEST_UNSET_TOKEN", false, false, "RTBOT_TEST_UNSET_TOKEN"},
		{"secret variable empty", rec.srv.URL + "/?t={secret}", "RTBOT_TEST_EMPTY_TOKEN", true, false, "RTBOT_TEST_EMPTY_TOKEN"},
		{"no secret_env", rec.srv.URL + "/?t={secret}", "", false, false, "secret_env"},
		{"unknown placeholder", rec.srv.URL + "/?s={subject}", "", false, false, "unknown placeholder {subject}"},
		{"unclosed brace", rec.srv.URL + "/?b={branch", "", false, false, "without '}'"},
		{"not http", "ftp://example.org/{tree}", "", false, false, "http"},
		{"redirect to another host", away.URL + "/hook", "", false, false, "refused"},
		{"connection refused", closed.URL + "/hook", "", false, true, "POST " + closed.URL + "/hook"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.setEnv {
				t.Setenv(tt.secretEnv, "")
			}
			tr := Spec{Name: "hook", Type: TypeWebhook, URL: tt.url, SecretEnv: tt.secretEnv}
			_, err := Fire(context.Background(), tr, testEvent(), t.TempDir())
			if err == nil || IsTemporary(err) != tt.temporary || !strings.Contains(err.Error(), tt.errHas) {
				t.Errorf("err = %v; want temporary=%v and %q", err, tt.temporary, tt.errHas)
			}
		})
	}
	if n := len(rec.requests()) + len(other.requests()); n != 0 {
		t.Errorf("%d requests reached a server", n)
	}
}

func TestWebhookSameHostRedirect(t *testing.T) {
	mux := http.NewServeMux()
	var hits atomic.Int32
	mux.Handle("/old", http.RedirectHandler("/new", http.StatusPermanentRedirect))
	mux.HandleFunc("/new", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if r.Method == "POST" && json.Valid(b) && len(b) > 0 {
			hits.Add(1)
		}
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	res, err := Fire(context.Background(), Spec{Name: "hook", Type: TypeWebhook, URL: srv.URL + "/old"}, testEvent(), t.TempDir())
	if err != nil || res.HTTPStatus != 200 || hits.Load() != 1 {
		t.Errorf("Fire = %+v, %v, %d hits; want the redirect on the same host followed with the body", res, err, hits.Load())
	}
}

func TestWebhookTimeout(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body) // so the server notices the client hanging up
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	}))
	defer srv.Close()
	tr := Spec{Name: "slow", Type: TypeWebhook, URL: srv.URL}
	tr.Timeout = 200 * time.Millisecond
	start := time.Now()
	_, err := Fire(context.Background(), tr, testEvent(), t.TempDir())
	if err == nil || !IsTemporary(err) || !strings.Contains(err.Error(), "timed out after 200ms") {
		t.Errorf("err = %v, want a temporary time-out", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Errorf("Fire took %v", time.Since(start))
	}
}

func TestWebhookResponseCap(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, strings.Repeat("x", 3*maxResponse))
	}))
	defer srv.Close()
	res, err := Fire(context.Background(), Spec{Name: "big", Type: TypeWebhook, URL: srv.URL}, testEvent(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	kept := testkit.ReadFile(t, res.Output)
	if !strings.HasPrefix(kept, strings.Repeat("x", maxResponse)+"\n[rtbot: response truncated") || len(kept) > maxResponse+100 {
		t.Errorf("kept %d bytes", len(kept))
	}
}

func TestExpandURL(t *testing.T) {
	vars := map[string]string{"secret": "a b&c/d", "tree": "6.1-rt", "series": "6.1", "version": "6.1.177", "rc": "1",
		"branch": "rtbot/6.1-rt/x y", "commit": "c0", "candidate": "c1"}
	tests := []struct {
		tmpl, want, err string
	}{
		{"https://h/p?t={secret}", "https://h/p?t=a+b%26c%2Fd", ""},
		{"https://h/{branch}?b={branch}", "https://h/rtbot%2F6.1-rt%2Fx%20y?b=rtbot%2F6.1-rt%2Fx+y", ""},
		{"https://h/{tree}/{series}/{version}/{rc}/{commit}/{candidate}", "https://h/6.1-rt/6.1/6.1.177/1/c0/c1", ""},
		{"https://h/x#{rc}", "https://h/x#1", ""},
		{"https://h/{nope}", "", "unknown placeholder {nope}"},
		{"https://h/{", "", "'{' without '}'"},
		{"https://h/}", "", "'}' without '{'"},
		{"https://h/{}", "", "unknown placeholder {}"},
	}
	for _, tt := range tests {
		got, err := expandURL(tt.tmpl, vars)
		if got != tt.want || (err == nil) != (tt.err == "") || err != nil && !strings.Contains(err.Error(), tt.err) {
			t.Errorf("expandURL(%q) = %q, %v; want %q, %q", tt.tmpl, got, err, tt.want, tt.err)
		}
	}
}
