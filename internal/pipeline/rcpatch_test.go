package pipeline

import (
	"bytes"
	"context"
	"encoding/pem"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rtbot/rtbot/internal/fixtures"
	"github.com/rtbot/rtbot/internal/remote"
	"github.com/rtbot/rtbot/internal/state"
	"github.com/rtbot/rtbot/internal/testkit"
)

// TestRCPatchTokenNeverWritten: an rc_patch URL with a token as its user
// (https://TOKEN@host/..., as some mirrors want) is tried when the rc
// branch does not give the candidate, and fails: first refused while the
// candidate remote is down (a temporary failure, still classified as one),
// then answering 500 until the wait runs out (the failure is mailed). The
// token is in none of the log, the errors, the state file and the mails.
func TestRCPatchTokenNeverWritten(t *testing.T) {
	const token = "glpat-RcPatchS3cret"
	w := newCrashWorld(t)
	tree := &w.cfg.Trees[0]
	goodCand := tree.CandidateURL
	w.send(t, coverOf("6.1.13", 1, forged13))
	// The rc patch goes onto v6.1.12, which it needs to be downloaded at all.
	r, err := fixtures.Open(w.demo.Repo)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Tag("v6.1.12", w.rc1(t)); err != nil {
		t.Fatal(err)
	}

	tree.CandidateURL = "http://" + testkit.ClosedPort(t) + "/linux-stable-rc.git"
	tree.RCPatch = "http://" + token + "@" + testkit.ClosedPort(t) + "/patch-{version}-rc{rc}.gz"
	log1, err1 := w.rcPatchPass(t, time.Now)
	if err1 == nil || !remote.IsTemporary(err1) || !strings.Contains(err1.Error(), "rc patch") {
		t.Fatalf("pass with both refused: %v; want a temporary failure naming the rc patch\n%s", err1, log1)
	}

	failing := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		http.Error(rw, "no", http.StatusInternalServerError)
	}))
	defer failing.Close()
	tree.CandidateURL = goodCand
	tree.RCPatch = strings.Replace(failing.URL, "http://", "http://"+token+"@", 1) + "/patch-{version}-rc{rc}.gz"
	later := func() time.Time { return time.Now().Add(MaxReviewWindow + PatienceMargin + time.Hour) }
	log2, err2 := w.rcPatchPass(t, later)
	if err2 == nil || !strings.Contains(err2.Error(), "500") {
		t.Fatalf("pass after the wait: %v; want the forged rc failed with the rc patch's 500\n%s", err2, log2)
	}
	texts := map[string]string{"log": log1 + log2, "errors": err1.Error() + err2.Error()}
	for _, f := range testkit.Glob(t, w.cfg.Bot.State+"*") {
		texts[f] = testkit.ReadFile(t, f)
	}
	mails := w.smtp.Messages()
	for i, m := range mails {
		// Decoded: a quoted-printable soft break could split the token.
		texts[fmt.Sprintf("mail %d", i+1)] = string(testkit.NormalizeMail(t, m.Data))
	}
	if len(mails) != 1 || !strings.Contains(texts["mail 1"], "500 Internal Server Error") {
		t.Errorf("%d mails; want the failure report naming the rc patch's 500", len(mails))
	}
	for what, text := range texts {
		if i := strings.Index(text, token); i >= 0 {
			t.Errorf("%s has the token: %q", what, text[max(i-80, 0):min(i+40, len(text))])
		}
	}
}

// rcPatchPass runs one pass at the clock now and returns its log and error.
func (w *crashWorld) rcPatchPass(t *testing.T, now func() time.Time) (string, error) {
	t.Helper()
	var log bytes.Buffer
	_, err := New(w.cfg, w.store, Options{Retry: quickRetry, Now: now, Log: slog.New(slog.NewTextHandler(&log, nil))}).Once(context.Background())
	return log.String(), err
}

// TestRCPatchCAFile: an https rc patch whose server a private CA signed
// fails, without [tree.candidate_auth] ca_file, with an error naming that
// key; with it the download goes through (and the patch, a 404 here, is
// what fails).
func TestRCPatchCAFile(t *testing.T) {
	w := newCrashWorld(t)
	serverTLS, _ := testkit.SelfSignedTLS(t, "127.0.0.1")
	hs := httptest.NewUnstartedServer(http.NotFoundHandler())
	hs.TLS = serverTLS
	hs.StartTLS()
	defer hs.Close()
	tree := w.cfg.Trees[0]
	tree.RCPatch = hs.URL + "/patch-{version}-rc{rc}.gz"
	a := state.Announcement{Version: "6.1.12", RC: 1}
	ref := CandidateRef(tree.Name, a.Version, a.RC)
	p := New(w.cfg, w.store, Options{})
	_, err := p.candidateFromPatch(context.Background(), tree, a, ref, nil)
	if err == nil || !strings.Contains(err.Error(), "set ca_file in [tree.candidate_auth] of tree "+tree.Name) {
		t.Fatalf("without ca_file: %v; want an error naming candidate_auth's ca_file", err)
	}
	tree.CandidateAuth.CAFile = filepath.Join(w.dir, "ca.pem")
	cert := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: serverTLS.Certificates[0].Certificate[0]})
	if err := os.WriteFile(tree.CandidateAuth.CAFile, cert, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := p.candidateFromPatch(context.Background(), tree, a, ref, nil); err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("with ca_file: %v; want the server's 404", err)
	}
}
