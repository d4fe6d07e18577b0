package trigger

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/rtbot/rtbot/internal/testkit"
)

// kcidbOut mirrors the parts of a KCIDB document the tests check, with
// field names spelled as in the kcidb-io schema.
type kcidbOut struct {
	Version struct {
		Major int `json:"major"`
		Minor int `json:"minor"`
	} `json:"version"`
	Checkouts []map[string]json.RawMessage `json:"checkouts"`
}

// wantPatchsetHash computes the KCIDB patchset hash the way the schema
// describes it: sha256sum *.patch | cut -c-64 | sha256sum | cut -c-64.
func wantPatchsetHash(texts ...string) string {
	if len(texts) == 0 {
		return ""
	}
	var list strings.Builder
	for _, text := range texts {
		fmt.Fprintf(&list, "%x\n", sha256.Sum256([]byte(text)))
	}
	sum := sha256.Sum256([]byte(list.String()))
	return hex.EncodeToString(sum[:])
}

// kcidbSchema is the KCIDB I/O JSON schema v5.3, vendored from kcidb-io
// (testdata/README.md says where from).
const kcidbSchema = "testdata/kcidb-schema-v5.json"

// checkKCIDBSchema fails the test when doc does not validate against the
// KCIDB schema, naming every violation.
func checkKCIDBSchema(t *testing.T, doc []byte) {
	t.Helper()
	if err := testkit.ValidateJSON(t, kcidbSchema, doc); err != nil {
		t.Errorf("the KCIDB document does not validate against %s:\n%v\n%s", kcidbSchema, err, doc)
	}
}

func decodeKCIDB(t *testing.T, doc []byte) (kcidbOut, map[string]any) {
	t.Helper()
	var d kcidbOut
	if err := json.Unmarshal(doc, &d); err != nil {
		t.Fatalf("%v\n%s", err, doc)
	}
	if len(d.Checkouts) != 1 {
		t.Fatalf("%d checkouts", len(d.Checkouts))
	}
	c := map[string]any{}
	for k, v := range d.Checkouts[0] {
		var x any
		json.Unmarshal(v, &x)
		c[k] = x
	}
	return d, c
}

// kcidbDocumentCase is an edit of testEvent, the origin to describe it
// with, and what its KCIDB document must hold.
type kcidbDocumentCase struct {
	name   string
	origin string
	edit   func(*Event)
	want   map[string]any // checkout fields; nil: must be absent
	misc   map[string]any
	golden string // the whole document, in testdata
}

// TestKCIDBDocument checks the KCIDB document of an rc, a release and a
// branch kept local: the fields that tell them apart, that nothing leaks
// or strays from the schema, and the whole document against its golden
// file.
func TestKCIDBDocument(t *testing.T) {
	for _, tt := range kcidbDocumentCases() {
		t.Run(tt.name, func(t *testing.T) { checkKCIDBDocument(t, tt) })
	}
}

// kcidbDocumentCases are the events TestKCIDBDocument describes.
func kcidbDocumentCases() []kcidbDocumentCase {
	return []kcidbDocumentCase{
		{
			name: "rc pushed over https", origin: "rt_lab",
			want: map[string]any{
				"id":                        "rt_lab:6.1-rt:6.1.177-rc1:2222222222222222222222222222222222222222",
				"origin":                    "rt_lab",
				"tree_name":                 "6.1-rt",
				"git_repository_url":        "https://git.example.org/rt/linux-rt.git",
				"git_repository_branch":     "rtbot/6.1-rt/6.1.177-rc1",
				"git_repository_branch_tip": true,
				"git_commit_hash":           "2222222222222222222222222222222222222222",
				"patchset_hash":             "",
				"message_id":                "20261122100000.123456789@linuxfoundation.org",
				"start_time":                "2026-11-22T10:00:00Z",
				"valid":                     true,
				"comment":                   "6.1.177-rc1 with the 6.1-rt queue",
				"git_commit_name":           "v6.1.177-rc1-3-g222222222222", // no tag: named after the version
				"git_commit_tags":           nil,
			},
			misc: map[string]any{
				"generator": "rtbot", "candidate": "1111111111111111111111111111111111111111", "version": "6.1.177", "rc": 1.0,
				"base": "v6.1.176", "announcement": "20261122100000.123456789@linuxfoundation.org",
				"candidate_branch": "linux-6.1.y", "push_remote": "https://git.example.org/rt/linux-rt.git",
				"queue_patchset_hash": wantPatchsetHash("From 1\n--- a/x\n+++ b/x\n", "From 2\n--- a/y\n+++ b/y\n", "From 3\n"),
			},
			golden: "kcidb-rc-https.json.golden",
		},
		{
			name: "release by hand (run --onto), ssh remote, default origin",
			edit: func(e *Event) {
				e.RC = 0
				e.PushRemote = "ssh://git@git.example.org/rt/linux-rt.git"
				e.Announcement = "manual.6.1.177.111111111111@test.invalid" // rtbot's own key: an address, but no mail's
				e.MessageID = ""
				e.CandidateTags = []string{"v6.1.177"}
			},
			want: map[string]any{
				"id":                        "rtbot:6.1-rt:6.1.177:2222222222222222222222222222222222222222",
				"origin":                    "rtbot",
				"git_repository_url":        nil, // the schema wants https
				"git_repository_branch_tip": nil,
				"message_id":                nil, // no mail announced it
				"patchset_hash":             "",
				"git_commit_name":           "v6.1.177-3-g222222222222",
				"git_commit_tags":           nil, // the tag is on the candidate, not on the result
			},
			misc:   map[string]any{"rc": 0.0, "push_remote": "ssh://git@git.example.org/rt/linux-rt.git", "candidate_tags": []any{"v6.1.177"}},
			golden: "kcidb-release-ssh.json.golden",
		},
		{
			name: "release, the queue added nothing",
			edit: func(e *Event) {
				e.RC = 0
				e.MessageID = ""
				e.Commit = e.Candidate
				e.Commits = 0
				e.CandidateTags = []string{"stable-6.1.177", "v6.1.177"}
				e.CommitTags = e.CandidateTags
			},
			want: map[string]any{
				"git_commit_name": "v6.1.177", // the version's tag is preferred
				"git_commit_tags": []any{"stable-6.1.177", "v6.1.177"},
				"message_id":      nil,
			},
			golden: "kcidb-release-empty.json.golden",
		},
		{
			name:   "local only, no patches",
			edit:   func(e *Event) { e.PushRemote = ""; e.Patches = nil; e.Commits = 0 },
			want:   map[string]any{"git_repository_url": nil, "git_repository_branch": "rtbot/6.1-rt/6.1.177-rc1"},
			misc:   map[string]any{"queue_patchset_hash": "", "patches": []any{}, "push_remote": nil},
			golden: "kcidb-local.json.golden",
		},
	}
}

// checkKCIDBDocument writes the document of tt's event and checks it.
// Nothing in it varies from run to run (testEvent has a fixed time), so
// its golden file is the document as written.
func checkKCIDBDocument(t *testing.T, tt kcidbDocumentCase) {
	ev := testEvent()
	if tt.edit != nil {
		tt.edit(&ev)
	}
	doc, err := KCIDB(ev, tt.origin)
	if err != nil {
		t.Fatal(err)
	}
	d, c := decodeKCIDB(t, doc)
	if d.Version.Major != 5 || d.Version.Minor != 3 {
		t.Errorf("version %+v, want 5.3", d.Version)
	}
	checkCheckoutFields(t, c, tt.want)
	misc, _ := c["misc"].(map[string]any)
	checkMiscFields(t, misc, tt.misc)
	if strings.Contains(string(doc), "hunter2") || strings.Contains(string(doc), "bot@git.example.org") {
		t.Error("the push remote's credentials are in the document")
	}
	checkKCIDBSchema(t, doc)
	testkit.Golden(t, filepath.Join("testdata", tt.golden), doc)
}

// checkCheckoutFields checks the fields of checkout c that want names:
// equal to want's value, or absent where it is nil.
func checkCheckoutFields(t *testing.T, c, want map[string]any) {
	t.Helper()
	for k, v := range want {
		got, ok := c[k]
		if v == nil {
			if ok {
				t.Errorf("%s = %#v, want it absent", k, got)
			}
			continue
		}
		if !reflect.DeepEqual(got, v) {
			t.Errorf("%s = %#v, want %#v", k, got, v)
		}
	}
}

// checkMiscFields checks the fields of misc that wantMisc names: absent
// where its value is nil, a list of the same length, or equal.
func checkMiscFields(t *testing.T, misc, wantMisc map[string]any) {
	t.Helper()
	for k, v := range wantMisc {
		got, ok := misc[k]
		switch want := v.(type) {
		case nil:
			if ok {
				t.Errorf("misc.%s = %#v, want it absent", k, got)
			}
		case []any:
			if g, _ := got.([]any); len(g) != len(want) || got == nil {
				t.Errorf("misc.%s = %#v, want %#v", k, got, want)
			}
		default:
			if got != v {
				t.Errorf("misc.%s = %#v, want %#v", k, got, v)
			}
		}
	}
}

func TestKCIDBLogExcerpt(t *testing.T) {
	ev := testEvent()
	doc, err := KCIDB(ev, "rtbot")
	if err != nil {
		t.Fatal(err)
	}
	_, c := decodeKCIDB(t, doc)
	excerpt, _ := c["log_excerpt"].(string)
	for _, want := range []string{
		"6.1.177-rc1 + 6.1-rt queue: 3 patches: 2 applied, 1 merged\n",
		"queue base v6.1.176 rebased onto 6.1.177-rc1 111111111111 (linux-6.1.y) as rtbot/6.1-rt/6.1.177-rc1 222222222222\n",
		"merged: 0002 0002-printk.patch\n",
	} {
		if !strings.Contains(excerpt, want) {
			t.Errorf("log_excerpt %q lacks %q", excerpt, want)
		}
	}

	// A huge queue still fits the schema's 16384 characters.
	ev.Patches = nil
	for i := 1; i <= 5000; i++ {
		ev.Patches = append(ev.Patches, Patch{Index: i, Name: fmt.Sprintf("%04d-some-long-patch-name-for-the-test.patch", i), Status: "merged"})
	}
	doc, err = KCIDB(ev, "rtbot")
	if err != nil {
		t.Fatal(err)
	}
	checkKCIDBSchema(t, doc)
	_, c = decodeKCIDB(t, doc)
	excerpt, _ = c["log_excerpt"].(string)
	if len(excerpt) > maxLogExcerpt || !strings.HasSuffix(excerpt, "\n...\n") || !strings.HasPrefix(excerpt, "6.1.177-rc1 + 6.1-rt queue: 5000 patches: 5000 merged\n") {
		t.Errorf("log_excerpt of %d bytes: %q...%q", len(excerpt), excerpt[:80], excerpt[len(excerpt)-40:])
	}
}

func TestKCIDBErrors(t *testing.T) {
	tests := []struct {
		name   string
		origin string
		edit   func(*Event)
		errHas string
	}{
		{"bad origin", "Bad-Origin", nil, "origin"},
		{"short commit", "rtbot", func(e *Event) { e.Commit = "2222222" }, "commit"},
		{"upper-case commit", "rtbot", func(e *Event) { e.Commit = strings.Repeat("A", 40) }, "commit"},
		{"sha256 commit", "rtbot", func(e *Event) { e.Commit = strings.Repeat("a", 64) }, "sha1"},
		{"NUL in a patch name", "rtbot", func(e *Event) { e.Patches[0].Name = "a\x00b" }, "NUL"},
	}
	for _, tt := range tests {
		ev := testEvent()
		if tt.edit != nil {
			tt.edit(&ev)
		}
		if _, err := KCIDB(ev, tt.origin); err == nil || !strings.Contains(err.Error(), tt.errHas) {
			t.Errorf("%s: err = %v, want %q", tt.name, err, tt.errHas)
		}
	}
	ev := testEvent()
	ev.Commit = "bad"
	_, err := Fire(context.Background(), Spec{Name: "k", Type: TypeKCIDB, Dir: t.TempDir()}, ev, t.TempDir())
	if err == nil || IsTemporary(err) {
		t.Errorf("Fire with a bad commit: %v, want a permanent error", err)
	}
}

func TestKCIDBDir(t *testing.T) {
	kdir := filepath.Join(t.TempDir(), "kcidb", "out")
	ev := testEvent()
	want, err := KCIDB(ev, "rt_lab")
	if err != nil {
		t.Fatal(err)
	}
	tr := Spec{Name: "kernelci", Type: TypeKCIDB, Dir: kdir, Origin: "rt_lab"}
	for i := 0; i < 2; i++ { // firing again rewrites the same document
		res, err := Fire(context.Background(), tr, ev, t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		if res.Output != filepath.Join(kdir, "rt_lab-6.1-rt-6.1.177-rc1-222222222222.json") {
			t.Errorf("output %s", res.Output)
		}
		if got := testkit.ReadFile(t, res.Output); got != string(want) {
			t.Errorf("written document differs from KCIDB():\n%s", got)
		}
		checkKCIDBSchema(t, []byte(testkit.ReadFile(t, res.Output)))
	}
	// A release is named after its version, not "-rc0".
	release := testEvent()
	release.RC = 0
	if res, err := Fire(context.Background(), tr, release, t.TempDir()); err != nil ||
		res.Output != filepath.Join(kdir, "rt_lab-6.1-rt-6.1.177-222222222222.json") {
		t.Errorf("release: output %s, %v; want rt_lab-6.1-rt-6.1.177-222222222222.json", res.Output, err)
	}
	os.Remove(filepath.Join(kdir, "rt_lab-6.1-rt-6.1.177-222222222222.json"))
	entries, _ := os.ReadDir(kdir)
	if len(entries) != 1 {
		t.Errorf("%d files in %s, want only the document (no temporary files)", len(entries), kdir)
	}
}

func TestKCIDBURL(t *testing.T) {
	t.Setenv("RTBOT_TEST_KCIDB_TOKEN", "jwt.token.value")
	rec := newRecorder(t)
	tr := Spec{Name: "kernelci", Type: TypeKCIDB, URL: rec.srv.URL + "/submit",
		Headers: map[string]string{"Authorization": "Bearer {secret}"}, SecretEnv: "RTBOT_TEST_KCIDB_TOKEN"}
	ev := testEvent()
	want, _ := KCIDB(ev, "rtbot")
	dir := t.TempDir()
	res, r := rec.fireOne(t, tr, ev, dir)
	if r.method != "POST" || r.path != "/submit" || string(r.body) != string(want) ||
		r.header.Get("Authorization") != "Bearer jwt.token.value" || r.header.Get("Content-Type") != "application/json" {
		t.Errorf("request %s %s %v\n%s", r.method, r.path, r.header, r.body)
	}
	if filepath.Dir(res.Output) != dir || testkit.ReadFile(t, res.Output) != string(want) {
		t.Errorf("copy %s: want the document in %s", res.Output, dir)
	}
	checkKCIDBSchema(t, r.body)

	rec.status.Store(503)
	if _, err := Fire(context.Background(), tr, ev, dir); !IsTemporary(err) || strings.Contains(err.Error(), "jwt.token") {
		t.Errorf("HTTP 503: %v, want temporary without the token", err)
	}
	rec.status.Store(400)
	if _, err := Fire(context.Background(), tr, ev, dir); err == nil || IsTemporary(err) {
		t.Errorf("HTTP 400: %v, want permanent", err)
	}
}

// TestKCIDBSchemaRefuses checks that the schema check really checks: a
// valid document broken in one field at a time fails validation, naming
// the field.
func TestKCIDBSchemaRefuses(t *testing.T) {
	valid, err := KCIDB(testEvent(), "rtbot")
	if err != nil {
		t.Fatal(err)
	}
	checkKCIDBSchema(t, valid)
	tests := []struct {
		name, field string
		edit        func(doc, checkout map[string]any)
	}{
		{"a field the schema lacks", "invented", func(_, c map[string]any) { c["invented"] = "x" }},
		{"an upper-case origin", "origin", func(_, c map[string]any) { c["origin"] = "RTbot" }},
		{"an id without its origin", "id", func(_, c map[string]any) { c["id"] = "6.1-rt:6.1.177" }},
		{"a short commit hash", "git_commit_hash", func(_, c map[string]any) { c["git_commit_hash"] = "2222222" }},
		{"an ssh repository URL", "git_repository_url", func(_, c map[string]any) { c["git_repository_url"] = "ssh://git@example.org/x.git" }},
		{"a message_id that is no address", "message_id", func(_, c map[string]any) { c["message_id"] = "no address" }},
		{"a NUL in the comment", "comment", func(_, c map[string]any) { c["comment"] = "a\x00b" }},
		{"a start_time that is no date", "start_time", func(_, c map[string]any) { c["start_time"] = "yesterday" }},
		{"git_commit_tags not a list", "git_commit_tags", func(_, c map[string]any) { c["git_commit_tags"] = "v6.1.177" }},
		{"a null", "tree_name", func(_, c map[string]any) { c["tree_name"] = nil }},
		{"a log excerpt over 16384 characters", "log_excerpt", func(_, c map[string]any) { c["log_excerpt"] = strings.Repeat("x", 16385) }},
		{"schema major 4", "major", func(d, _ map[string]any) { d["version"] = map[string]any{"major": 4, "minor": 3} }},
		{"a minor newer than 5.3", "minor", func(d, _ map[string]any) { d["version"] = map[string]any{"major": 5, "minor": 4} }},
		{"no id", "id", func(_, c map[string]any) { delete(c, "id") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var doc map[string]any
			if err := json.Unmarshal(valid, &doc); err != nil {
				t.Fatal(err)
			}
			tt.edit(doc, doc["checkouts"].([]any)[0].(map[string]any))
			broken, err := json.Marshal(doc)
			if err != nil {
				t.Fatal(err)
			}
			err = testkit.ValidateJSON(t, kcidbSchema, broken)
			if err == nil || !strings.Contains(err.Error(), tt.field) {
				t.Errorf("validation: %v; want it refused, naming %s", err, tt.field)
			}
		})
	}
}
