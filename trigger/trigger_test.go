package trigger

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rtbot/rtbot/config"
)

// TestMain lets the test binary play the triggered command.
func TestMain(m *testing.M) {
	switch os.Getenv("RTBOT_TRIGGER_HELPER") {
	case "":
		os.Exit(m.Run())
	case "env":
		for _, kv := range os.Environ() {
			if strings.HasPrefix(kv, "RTBOT_") {
				fmt.Println(kv)
			}
		}
		os.Exit(0)
	case "fail":
		fmt.Fprintln(os.Stderr, "build failed")
		os.Exit(3)
	case "grandchild":
		// A child that sleeps and holds the output pipe.
		c := exec.Command(os.Args[0])
		c.Env = []string{"RTBOT_TRIGGER_HELPER=sleep"}
		c.Stdout = os.Stdout
		c.Start()
		time.Sleep(time.Hour)
	case "sleep":
		time.Sleep(time.Hour)
	}
}

func event() Event {
	return Event{
		Tree: "6.1-rt", Series: "6.1", Version: "6.1.177", RC: 1, Candidate: strings.Repeat("c", 40),
		CandidateURL: "https://git.kernel.org/stable-rc.git", CandidateBranch: "linux-6.1.y", Base: "v6.1.176",
		Branch: "rtbot/6.1-rt/6.1.177-rc1&x=1", Commit: strings.Repeat("d", 40), Repo: "/srv/linux.git",
		Announcement: "cover@linuxfoundation.org", Subject: "[PATCH 6.1 000/9] $(touch pwned); `touch pwned2`\r\nX: y",
		Patches: []Patch{{1, "0001-a.patch", "a", "applied", []byte("patch a\n")}, {2, "0002-b.patch", "b", "merged", []byte("patch b\n")}},
		Time:    time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC),
	}
}

func TestCommand(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	// Fire passes only a fixed environment, so the helper's mode goes
	// through env(1) as an argument: still no shell anywhere.
	env, err := exec.LookPath("env")
	if err != nil {
		t.Skip("no env program")
	}
	run := func(mode string, timeout time.Duration) (Result, error) {
		tr := config.Trigger{Name: "build", Type: config.TriggerCommand, Argv: []string{env, "RTBOT_TRIGGER_HELPER=" + mode, os.Args[0]}}
		tr.Timeout.Duration = timeout
		return Fire(ctx, tr, event(), dir)
	}
	res, err := run("env", time.Minute)
	if err != nil || res.ExitCode != 0 {
		t.Fatalf("Fire = %+v, %v", res, err)
	}
	out, _ := os.ReadFile(res.Output)
	for _, want := range []string{"RTBOT_TREE=6.1-rt", "RTBOT_RC=1", "RTBOT_BRANCH=rtbot/6.1-rt/6.1.177-rc1&x=1",
		"RTBOT_SUBJECT=[PATCH 6.1 000/9] $(touch pwned); `touch pwned2`  X: y", "RTBOT_EVENT=" + dir} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	for _, f := range []string{"pwned", "pwned2"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
			t.Errorf("the subject was executed: %s exists", f)
		}
	}
	if res, err := run("fail", time.Minute); err == nil || IsTemporary(err) || res.ExitCode != 3 {
		t.Errorf("failing command: %+v, %v; want permanent, exit 3", res, err)
	}
	start := time.Now()
	res, err = run("grandchild", 500*time.Millisecond)
	if err == nil || !IsTemporary(err) || !strings.Contains(err.Error(), "timed out") {
		t.Errorf("timeout: %+v, %v; want a temporary timeout", res, err)
	}
	if time.Since(start) > 30*time.Second {
		t.Errorf("a grandchild kept Fire waiting %s", time.Since(start))
	}
}

func TestWebhook(t *testing.T) {
	var got struct {
		method, path, query, auth string
		body                      Event
	}
	status := http.StatusOK
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.method, got.path, got.query, got.auth = r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Get("Authorization")
		b, _ := io.ReadAll(r.Body)
		json.Unmarshal(b, &got.body)
		w.WriteHeader(status)
		io.WriteString(w, "queued")
	}))
	defer srv.Close()
	t.Setenv("RTBOT_TEST_TOKEN", "s3cr&t")
	tr := config.Trigger{Name: "jenkins", Type: config.TriggerWebhook, URL: srv.URL + "/job/rt/buildWithParameters?token={secret}&RT_BRANCH={branch}",
		Method: "PUT", Headers: map[string]string{"Authorization": "Bearer {secret}"}, SecretEnv: "RTBOT_TEST_TOKEN"}
	res, err := Fire(context.Background(), tr, event(), t.TempDir())
	if err != nil || res.HTTPStatus != 200 {
		t.Fatalf("Fire = %+v, %v", res, err)
	}
	if got.method != "PUT" || got.query != "token=s3cr%26t&RT_BRANCH=rtbot%2F6.1-rt%2F6.1.177-rc1%26x%3D1" || got.auth != "Bearer s3cr&t" {
		t.Errorf("request %+v", got)
	}
	if got.body.Commit != event().Commit || len(got.body.Patches) != 2 || got.body.Patches[1].Status != "merged" {
		t.Errorf("body %+v", got.body)
	}
	for _, tc := range []struct {
		status    int
		temporary bool
	}{{500, true}, {429, true}, {404, false}, {403, false}} {
		status = tc.status
		_, err := Fire(context.Background(), tr, event(), t.TempDir())
		if err == nil || IsTemporary(err) != tc.temporary || strings.Contains(err.Error(), "s3cr") {
			t.Errorf("status %d: %v; want temporary=%v and no secret", tc.status, err, tc.temporary)
		}
	}
	os.Unsetenv("RTBOT_TEST_TOKEN")
	if _, err := Fire(context.Background(), tr, event(), t.TempDir()); err == nil || !strings.Contains(err.Error(), "RTBOT_TEST_TOKEN") {
		t.Errorf("missing secret: %v", err)
	}
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { t.Error("followed a redirect to another host") }))
	defer other.Close()
	redir := httptest.NewServer(http.RedirectHandler(other.URL, http.StatusFound))
	defer redir.Close()
	if _, err := Fire(context.Background(), config.Trigger{Name: "r", Type: config.TriggerWebhook, URL: redir.URL}, event(), t.TempDir()); err == nil {
		t.Error("redirect to another host accepted")
	}
}

func TestKCIDB(t *testing.T) {
	ev := event()
	doc, err := KCIDB(ev, "rtbot")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Version   struct{ Major, Minor int }
		Checkouts []struct {
			ID            string                       `json:"id"`
			Origin        string                       `json:"origin"`
			Commit        string                       `json:"git_commit_hash"`
			PatchsetHash  string                       `json:"patchset_hash"`
			PatchsetFiles []struct{ Name, URL string } `json:"patchset_files"`
			Valid         bool                         `json:"valid"`
			LogExcerpt    string                       `json:"log_excerpt"`
		}
	}
	if err := json.Unmarshal(doc, &d); err != nil {
		t.Fatal(err)
	}
	a, b := sha256.Sum256([]byte("patch a\n")), sha256.Sum256([]byte("patch b\n"))
	want := sha256.Sum256([]byte(hex.EncodeToString(a[:]) + "\n" + hex.EncodeToString(b[:]) + "\n"))
	c := d.Checkouts[0]
	if d.Version.Major != 4 || len(d.Checkouts) != 1 || !strings.HasPrefix(c.ID, "rtbot:") || c.Commit != ev.Candidate ||
		c.PatchsetHash != hex.EncodeToString(want[:]) || len(c.PatchsetFiles) != 2 || !c.Valid || !strings.Contains(c.LogExcerpt, "1 merged") {
		t.Errorf("document %s", doc)
	}
	dir := filepath.Join(t.TempDir(), "kcidb")
	res, err := Fire(context.Background(), config.Trigger{Name: "kernelci", Type: config.TriggerKCIDB, Dir: dir}, ev, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	written, err := os.ReadFile(res.Output)
	if err != nil || string(written) != string(doc) || filepath.Dir(res.Output) != dir {
		t.Errorf("written %s: %v", res.Output, err)
	}
}
