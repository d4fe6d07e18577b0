package trigger

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/mail"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/rtbot/rtbot/internal/atomicfile"
	"github.com/rtbot/rtbot/internal/netsec"
)

// The KCIDB I/O schema version KCIDB documents follow (kcidb-io v5.3).
const (
	kcidbMajor = 5
	kcidbMinor = 3
)

// maxLogExcerpt is the schema's maxLength of a checkout's log_excerpt.
const maxLogExcerpt = 16384

var (
	originRE = regexp.MustCompile(`^[a-z0-9_]+$`)   // the schema's origin pattern
	commitRE = regexp.MustCompile(`^[0-9a-f]{40}$`) // the schema's git_commit_hash: a full sha1 hash
)

// statusOrder is the order log excerpts count patch statuses in: the
// triage vocabulary of docs/triage.md, clean ones first.
var statusOrder = []string{"applied", "merged", "fuzz", "already-applied", "superseded", "conflict", "missing-file", "blocked", "malformed"}

type kcidbVersion struct {
	Major int `json:"major"`
	Minor int `json:"minor"`
}

type kcidbDocument struct {
	Version   kcidbVersion    `json:"version"`
	Checkouts []kcidbCheckout `json:"checkouts"`
}

// kcidbCheckout is a checkout object of the KCIDB I/O schema.
//
// The checked-out source is the result commit, which already contains the
// rebased queue: so patchset_hash is "" (no patches applied on top of it,
// as the schema defines the field) and the queue's own patchset hash is in
// misc.queue_patchset_hash.
type kcidbCheckout struct {
	ID                     string    `json:"id"`
	Origin                 string    `json:"origin"`
	TreeName               string    `json:"tree_name,omitempty"`
	GitRepositoryURL       string    `json:"git_repository_url,omitempty"`
	GitRepositoryBranch    string    `json:"git_repository_branch,omitempty"`
	GitRepositoryBranchTip *bool     `json:"git_repository_branch_tip,omitempty"`
	GitCommitHash          string    `json:"git_commit_hash"`
	GitCommitName          string    `json:"git_commit_name,omitempty"`
	GitCommitTags          []string  `json:"git_commit_tags,omitempty"`
	PatchsetHash           string    `json:"patchset_hash"`
	MessageID              string    `json:"message_id,omitempty"`
	Comment                string    `json:"comment,omitempty"`
	StartTime              string    `json:"start_time,omitempty"`
	Valid                  bool      `json:"valid"`
	LogExcerpt             string    `json:"log_excerpt,omitempty"`
	Misc                   kcidbMisc `json:"misc"`
}

// kcidbMisc is the free-form misc object of rtbot's checkouts.
type kcidbMisc struct {
	Generator         string   `json:"generator"`
	Series            string   `json:"series,omitempty"`
	Version           string   `json:"version,omitempty"`
	RC                int      `json:"rc"`
	Candidate         string   `json:"candidate,omitempty"`
	CandidateURL      string   `json:"candidate_url,omitempty"`
	CandidateBranch   string   `json:"candidate_branch,omitempty"`
	CandidateTags     []string `json:"candidate_tags,omitempty"`
	Base              string   `json:"base,omitempty"`
	PushRemote        string   `json:"push_remote,omitempty"`
	Announcement      string   `json:"announcement,omitempty"`
	QueueID           string   `json:"queue_id,omitempty"`
	QueuePatchsetHash string   `json:"queue_patchset_hash"`
	Patches           []Patch  `json:"patches"`
}

// KCIDB returns the KCIDB I/O schema (v5.3) document describing ev: one
// checkout of the result commit, with the candidate, the queue and its
// patchset hash in misc. origin is the KCIDB origin ("rtbot" when empty);
// ids are "<origin>:<tree>:<version>[-rc<rc>]:<commit>". docs/triggers.md
// has an example.
func KCIDB(ev Event, origin string) ([]byte, error) {
	if origin == "" {
		origin = DefaultKCIDBOrigin
	}
	if !originRE.MatchString(origin) {
		return nil, fmt.Errorf("kcidb: origin %q: want lower-case letters, digits and '_'", origin)
	}
	if !commitRE.MatchString(ev.Commit) {
		return nil, fmt.Errorf("kcidb: result commit %q is not a full lower-case sha1 commit hash (40 hex digits), "+
			"the only kind KCIDB schema v5 takes", ev.Commit)
	}
	if err := noNUL(ev); err != nil {
		return nil, fmt.Errorf("kcidb: %w", err)
	}
	label := versionLabel(ev)
	c := kcidbCheckout{
		ID:                  CheckoutID(ev, origin),
		Origin:              origin,
		TreeName:            ev.Tree,
		GitRepositoryBranch: ev.Branch,
		GitCommitHash:       ev.Commit,
		GitCommitName:       commitName(ev),
		GitCommitTags:       ev.CommitTags,
		PatchsetHash:        "",
		Comment:             label + " with the " + ev.Tree + " queue",
		Valid:               true,
		LogExcerpt:          logExcerpt(ev, label),
		Misc: kcidbMisc{
			Generator: "rtbot", Series: ev.Series, Version: ev.Version, RC: ev.RC,
			Candidate: ev.Candidate, CandidateURL: netsec.Redact(ev.CandidateURL), CandidateBranch: ev.CandidateBranch,
			CandidateTags: ev.CandidateTags, Base: ev.Base, PushRemote: netsec.Redact(ev.PushRemote), Announcement: ev.Announcement,
			QueueID: ev.QueueID, QueuePatchsetHash: patchsetHash(ev.Patches), Patches: ev.Patches,
		},
	}
	if c.Misc.Patches == nil {
		c.Misc.Patches = []Patch{}
	}
	// The schema wants the shortest https:// URL of the repository the
	// commit is in: only a pushed branch on an https remote qualifies.
	if u, err := url.Parse(netsec.Redact(ev.PushRemote)); err == nil && u.Scheme == "https" && u.Host != "" && ev.Branch != "" {
		tip := true
		c.GitRepositoryURL = u.String()
		c.GitRepositoryBranchTip = &tip
	}
	// Only the list mail's Message-ID: a candidate given by hand has
	// none, and rtbot's own key for it must not pass for one.
	if isMessageID(ev.MessageID) {
		c.MessageID = ev.MessageID
	}
	if !ev.Time.IsZero() {
		c.StartTime = ev.Time.UTC().Format(time.RFC3339)
	}
	doc := kcidbDocument{Version: kcidbVersion{kcidbMajor, kcidbMinor}, Checkouts: []kcidbCheckout{c}}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("kcidb: %w", err)
	}
	return append(b, '\n'), nil
}

// CheckoutID is the id of the KCIDB checkout of ev with origin:
// "<origin>:<tree>:<version>[-rc<rc>]:<commit>". KCIDB writes it, and a
// command gets it as RTBOT_CHECKOUT_ID (origin "rtbot"); test results come
// back to the run through it.
func CheckoutID(ev Event, origin string) string {
	return origin + ":" + ev.Tree + ":" + versionLabel(ev) + ":" + ev.Commit
}

// patchsetHash returns the KCIDB patchset hash of patches: the sha256 hex
// digest of the newline-terminated sha256 hex digests of each patch's Text,
// in order ("sha256sum *.patch | cut -c-64 | sha256sum | cut -c-64"), or
// "" when there are no patches.
func patchsetHash(patches []Patch) string {
	if len(patches) == 0 {
		return ""
	}
	h := sha256.New()
	for _, p := range patches {
		sum := sha256.Sum256(p.Text)
		h.Write([]byte(hex.EncodeToString(sum[:]) + "\n"))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// commitName is the git describe-like name of the result commit (the
// schema's git_commit_name): the candidate's name, then, when the queue
// added commits, "-<count>-g<commit[:12]>" as git describe writes it
// ("v6.1.177-rc1-42-g4f1c0de5a1b2"). The candidate's name is its tag
// ("v"+version preferred when several point at it) or, without one (an
// rc fetched from a stable-rc branch), "v"+version as its tag would be
// named; "" when the version is unknown.
func commitName(ev Event) string {
	name := ""
	if ev.Version != "" {
		name = "v" + versionLabel(ev)
	}
	if len(ev.CandidateTags) > 0 && !contains(ev.CandidateTags, name) {
		name = ev.CandidateTags[0]
	}
	if name == "" || ev.Commits <= 0 {
		return name
	}
	return fmt.Sprintf("%s-%d-g%s", name, ev.Commits, short(ev.Commit))
}

// versionLabel is "6.1.177-rc1", or "6.1.177" for a release.
func versionLabel(ev Event) string {
	if ev.RC > 0 {
		return ev.Version + "-rc" + strconv.Itoa(ev.RC)
	}
	return ev.Version
}

// logExcerpt summarises the rebase: the counts by status, where it came
// from and went, and the patches a human may want to review. At most
// maxLogExcerpt bytes, cut at a line.
func logExcerpt(ev Event, label string) string {
	counts := map[string]int{}
	for _, p := range ev.Patches {
		counts[p.Status]++
	}
	var statuses []string
	for _, s := range statusOrder {
		if counts[s] > 0 {
			statuses = append(statuses, s)
		}
	}
	var other []string
	for s := range counts {
		if !contains(statusOrder, s) {
			other = append(other, s)
		}
	}
	sort.Strings(other)
	statuses = append(statuses, other...)

	var b strings.Builder
	fmt.Fprintf(&b, "%s + %s queue: ", label, ev.Tree)
	if len(ev.Patches) == 0 {
		b.WriteString("no patches\n")
	} else {
		fmt.Fprintf(&b, "%d patches: ", len(ev.Patches))
		for i, s := range statuses {
			if i > 0 {
				b.WriteString(", ")
			}
			name := s
			if s == "" {
				name = "no status"
			}
			fmt.Fprintf(&b, "%d %s", counts[s], name)
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "queue base %s rebased onto %s %s (%s) as %s %s\n",
		orNone(ev.Base), label, short(ev.Candidate), orNone(ev.CandidateBranch), orNone(ev.Branch), short(ev.Commit))
	for _, p := range ev.Patches {
		if p.Status != "applied" {
			line := fmt.Sprintf("%s: %04d %s\n", orNone(p.Status), p.Index, oneLine(p.Name))
			if b.Len()+len(line) > maxLogExcerpt-len("...\n") {
				b.WriteString("...\n")
				break
			}
			b.WriteString(line)
		}
	}
	s := b.String()
	if len(s) > maxLogExcerpt { // only with absurdly long names in the first lines
		s = strings.ToValidUTF8(s[:maxLogExcerpt], "")
	}
	return s
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return oneLine(s)
}

// short abbreviates a commit hash to 12 characters.
func short(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return orNone(h)
}

// isMessageID reports whether id can stand as the schema's message_id (an
// e-mail address format).
func isMessageID(id string) bool {
	if id == "" || strings.ContainsAny(id, " <>\t\r\n\x00") {
		return false
	}
	a, err := mail.ParseAddress(id)
	return err == nil && a.Address == id
}

// noNUL reports a NUL in any string of ev: the schema forbids it.
func noNUL(ev Event) error {
	fields := []struct{ name, v string }{
		{"tree", ev.Tree}, {"series", ev.Series}, {"version", ev.Version}, {"candidate", ev.Candidate},
		{"candidate URL", ev.CandidateURL}, {"candidate branch", ev.CandidateBranch}, {"base", ev.Base},
		{"branch", ev.Branch}, {"push remote", ev.PushRemote}, {"announcement", ev.Announcement},
		{"queue id", ev.QueueID}, {"candidate tags", strings.Join(ev.CandidateTags, " ")},
		{"commit tags", strings.Join(ev.CommitTags, " ")},
	}
	for _, p := range ev.Patches {
		fields = append(fields, struct{ name, v string }{"patch " + strconv.Itoa(p.Index), p.Name + p.Subject + p.Status})
	}
	for _, f := range fields {
		if strings.ContainsRune(f.v, 0) {
			return fmt.Errorf("%s contains a NUL", f.name)
		}
	}
	return nil
}

// kcidbFileName is "<origin>-<tree>-<version>[-rc<rc>]-<commit[:12]>.json":
// "rtbot-6.1-rt-6.1.177-rc1-4f1c0de5a1b2.json" for an rc,
// "rtbot-6.1-rt-6.1.177-4f1c0de5a1b2.json" for a release.
func kcidbFileName(origin string, ev Event) string {
	return safeName(origin) + "-" + safeName(ev.Tree) + "-" + safeName(versionLabel(ev)) + "-" + safeName(short(ev.Commit)) + ".json"
}

// fireKCIDB writes the KCIDB document of ev into t.Dir, or POSTs it to t.URL
// (keeping a copy in dir).
func fireKCIDB(ctx context.Context, t Spec, ev Event, dir string, res *Result) error {
	origin := t.Origin
	if origin == "" {
		origin = DefaultKCIDBOrigin
	}
	doc, err := KCIDB(ev, origin)
	if err != nil {
		return permanent(t, err)
	}
	switch {
	case t.Dir != "":
		if err := os.MkdirAll(t.Dir, 0o755); err != nil {
			return temporary(t, err)
		}
		path := filepath.Join(t.Dir, kcidbFileName(origin, ev))
		if err := atomicfile.WriteFile(path, 0o644, func(w io.Writer) error { _, err := w.Write(doc); return err }); err != nil {
			return temporary(t, err)
		}
		res.Output = path
		return nil
	case t.URL != "":
		target, err := prepareHTTP(t, ev, http.MethodPost)
		if err != nil {
			return err
		}
		out, f, err := newOutputs(dir, t.Name, res.Started, ".kcidb.json")
		if err != nil {
			return temporary(t, fmt.Errorf("document copy: %w", err))
		}
		_, err = f.Write(doc)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return temporary(t, fmt.Errorf("document copy: %w", err))
		}
		res.Output = f.Name()
		rf, err := out.create(".response")
		if err != nil {
			return temporary(t, fmt.Errorf("response file: %w", err))
		}
		defer rf.Close()
		return send(ctx, t, target, doc, rf, res)
	default:
		return permanent(t, errors.New("a kcidb trigger needs dir or url"))
	}
}
