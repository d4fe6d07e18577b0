package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/rtbot/rtbot/internal/fixtures"
	"github.com/rtbot/rtbot/internal/testkit"
)

// kcidbSchema is the KCIDB I/O JSON schema the trigger package vendors.
const kcidbSchema = "../trigger/testdata/kcidb-schema-v5.json"

// kcidbCheckout reads the one KCIDB document in the world's kcidb
// directory, checks it validates against the KCIDB schema, and returns
// its file name and its checkout.
func kcidbCheckout(t *testing.T, w *world) (string, map[string]any) {
	t.Helper()
	docs := testkit.Glob(t, filepath.Join(w.kcidbDir, "*.json"))
	if len(docs) != 1 {
		t.Fatalf("KCIDB documents %v, want 1", docs)
	}
	doc := []byte(testkit.ReadFile(t, docs[0]))
	if err := testkit.ValidateJSON(t, kcidbSchema, doc); err != nil {
		t.Errorf("%s does not validate against the KCIDB schema:\n%v\n%s", docs[0], err, doc)
	}
	var d struct {
		Checkouts []map[string]any `json:"checkouts"`
	}
	if err := json.Unmarshal(doc, &d); err != nil || len(d.Checkouts) != 1 {
		t.Fatalf("%s: %v, %d checkouts", docs[0], err, len(d.Checkouts))
	}
	return filepath.Base(docs[0]), d.Checkouts[0]
}

// publishRelease publishes the clean rc2 (publishRC2) and, on top of it
// in the stable-rc repository, the release 6.1.12 with the same tree,
// tagged v6.1.12 and on no branch.
func (w *world) publishRelease(t *testing.T) plumbing.Hash {
	t.Helper()
	rc2 := w.publishRC2(t)
	r, err := fixtures.Open(w.demo.StableRC)
	if err != nil {
		t.Fatal(err)
	}
	tree, err := r.Snapshot(rc2)
	if err != nil {
		t.Fatal(err)
	}
	tree["Makefile"] = fixtures.File{Content: strings.Replace(tree["Makefile"].Content, "EXTRAVERSION = -rc2", "EXTRAVERSION =", 1)}
	h, err := r.Commit(tree, "Linux 6.1.12\n", rc2)
	if err == nil {
		err = r.Tag("v6.1.12", h)
	}
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// TestKCIDBReleaseByHand: `rtbot run --onto v6.1.12`, a release tag the
// repository lacks, writes a KCIDB document that validates, named after
// the release (not "6.1.12-rc0"), with no message_id (no mail announced
// it: rtbot's own key for the announcement must not pass for one), the
// candidate's tag, and a git describe-like name of the result.
func TestKCIDBReleaseByHand(t *testing.T) {
	w := newCrashWorld(t)
	release := w.publishRelease(t)
	ctx := context.Background()
	p := New(w.cfg, w.store, Options{Retry: quickRetry})
	a, err := p.Submit(ctx, "", "v6.1.12", false)
	if err != nil {
		t.Fatalf("run --onto v6.1.12: %v", err)
	}
	pass, err := p.ProcessPending(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(pass.Runs) != 1 || pass.Runs[0].Commit != release.String() || len(pass.Runs[0].Triggers) != 1 {
		t.Fatalf("runs %+v; want one clean run on %s, its trigger fired", pass.Runs, release)
	}
	name, c := kcidbCheckout(t, w.world)
	result := pass.Runs[0].Result
	if want := "rtbot-6.1-rt-6.1.12-" + result[:12] + ".json"; name != want {
		t.Errorf("document %s, want %s", name, want)
	}
	if id, ok := c["message_id"]; ok {
		t.Errorf("message_id %q for a release given by hand (announcement <%s>); want none", id, a.MessageID)
	}
	if got, want := c["git_commit_name"], `^v6\.1\.12-[1-9][0-9]*-g`+result[:12]+`$`; !regexp.MustCompile(want).MatchString(fmt.Sprint(got)) {
		t.Errorf("git_commit_name %q, want %s", got, want)
	}
	if _, ok := c["git_commit_tags"]; ok {
		t.Errorf("git_commit_tags %v: no tag points at the result commit", c["git_commit_tags"])
	}
	misc, _ := c["misc"].(map[string]any)
	if tags := fmt.Sprint(misc["candidate_tags"]); tags != "[v6.1.12]" {
		t.Errorf("misc.candidate_tags %s, want [v6.1.12]", tags)
	}
}

// TestTagsAt: the tags of a commit are its lightweight and annotated tags
// in refs/tags and the tags run --onto fetched, sorted; branches and
// other commits' tags are not.
func TestTagsAt(t *testing.T) {
	r, err := fixtures.Init(t.TempDir(), true)
	if err != nil {
		t.Fatal(err)
	}
	a, err := r.Commit(fixtures.Tree{"f": {Content: "a\n"}}, "a\n")
	if err != nil {
		t.Fatal(err)
	}
	b, err := r.Commit(fixtures.Tree{"f": {Content: "b\n"}}, "b\n", a)
	if err != nil {
		t.Fatal(err)
	}
	sig := &git.CreateTagOptions{Tagger: &object.Signature{Name: "T", Email: "t@example.org"}, Message: "v6.1.12\n"}
	if _, err := r.Repo.CreateTag("v6.1.12", a, sig); err != nil { // annotated
		t.Fatal(err)
	}
	for _, ref := range []plumbing.Reference{
		*plumbing.NewHashReference("refs/tags/stable-6.1.12", a),
		*plumbing.NewHashReference(OntoTagNamespace+"v6.1.12-fetched", a),
		*plumbing.NewHashReference("refs/heads/v6.1.12-branch", a),
		*plumbing.NewHashReference("refs/rtbot/onto/v6.1.12-fetched-branch", a),
		*plumbing.NewHashReference("refs/tags/other", b),
	} {
		if err := r.Repo.Storer.SetReference(&ref); err != nil {
			t.Fatal(err)
		}
	}
	tags := tagsAt(r.Repo, a, plumbing.ZeroHash)
	if got := fmt.Sprint(tags[a]); got != "[stable-6.1.12 v6.1.12 v6.1.12-fetched]" {
		t.Errorf("tags of a: %s", got)
	}
	if len(tags[plumbing.ZeroHash]) != 0 || len(tags[b]) != 0 {
		t.Errorf("tags %v: want only a's (b was not asked for)", tags)
	}
}
