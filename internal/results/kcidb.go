// Package results reads test results as KCIDB I/O (schema v5) documents,
// matches them to the checkouts rtbot wrote, compares latency figures with
// an earlier run and renders the follow-up mail (docs/results.md).
//
// It does not validate documents with the JSON schema itself (the schema
// is GPL test data, not built into rtbot): it decodes strictly the fields it
// uses, with the schema's types, and checks every id, origin, status and
// path against the schema's patterns. The tests check that what it accepts
// validates against the vendored schema.
package results

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"
)

// MaxDocumentBytes bounds one KCIDB document rtbot reads.
const MaxDocumentBytes = 16 << 20

var (
	idRE     = regexp.MustCompile(`^[a-z0-9_]+:[^\x00]*$`)                  // the schema's origin_id_pattern
	originRE = regexp.MustCompile(`^[a-z0-9_]+$`)                           // the schema's origin pattern
	pathRE   = regexp.MustCompile(`^([a-zA-Z0-9_-]+(\.[a-zA-Z0-9_-]+)*)?$`) // the schema's test path
)

// Status is a KCIDB build or test status.
type Status string

// The KCIDB statuses (schema v5 $defs/status); "" means not given.
const (
	StatusFail  Status = "FAIL"
	StatusError Status = "ERROR"
	StatusMiss  Status = "MISS"
	StatusPass  Status = "PASS"
	StatusDone  Status = "DONE"
	StatusSkip  Status = "SKIP"
)

func (s Status) valid() bool {
	switch s {
	case "", StatusFail, StatusError, StatusMiss, StatusPass, StatusDone, StatusSkip:
		return true
	}
	return false
}

// Failed reports whether s says the tested code is faulty or the test
// could not complete (FAIL, ERROR).
func (s Status) Failed() bool { return s == StatusFail || s == StatusError }

// Kind says whether a Result is a build or a test.
type Kind string

// The result kinds.
const (
	KindBuild Kind = "build"
	KindTest  Kind = "test"
)

// Latency is what a latency test (cyclictest, rteval) measured, in
// microseconds: a test's misc.latency object.
type Latency struct {
	MaxUS       float64   `json:"max_us"`
	P999US      float64   `json:"p99_9_us,omitempty"`
	PerCPUMaxUS []float64 `json:"per_cpu_max_us,omitempty"`
}

// Result is one build or test of a checkout rtbot wrote.
type Result struct {
	Kind       Kind
	ID         string // the KCIDB id
	CheckoutID string
	BuildID    string // tests: the build it ran on
	Path       string // tests: the dot-separated test path ("rt.cyclictest"); builds: the config name
	Status     Status
	Machine    string // tests: environment.misc.platform, else environment.comment; builds: architecture
	LogURL     string
	Latency    *Latency // tests with misc.latency
}

// Lookup tells Import which checkouts rtbot wrote and which builds it
// already holds.
type Lookup interface {
	// Checkout reports whether rtbot wrote the checkout with this id.
	Checkout(id string) (bool, error)
	// Build returns the checkout of a build stored earlier.
	Build(id string) (checkout string, ok bool, err error)
}

// Imported is what one document brought: the results for rtbot's
// checkouts, why the others were refused, and the checkouts whose
// testing the document says is over.
type Imported struct {
	Results []Result
	Refused []string
	// Finished lists rtbot's checkouts the document repeats with
	// origin_tests_finish_time set: KCIDB's way to say that all tests of
	// the checkout are done, so nothing more is to come.
	Finished []string
}

type document struct {
	Version *struct {
		Major *int `json:"major"`
		Minor int  `json:"minor"`
	} `json:"version"`
	Checkouts []struct {
		ID                    string `json:"id"`
		Origin                string `json:"origin"`
		OriginTestsFinishTime string `json:"origin_tests_finish_time"`
	} `json:"checkouts"`
	Builds []build `json:"builds"`
	Tests  []test  `json:"tests"`
}

type build struct {
	ID           string `json:"id"`
	Origin       string `json:"origin"`
	CheckoutID   string `json:"checkout_id"`
	Status       Status `json:"status"`
	Architecture string `json:"architecture"`
	ConfigName   string `json:"config_name"`
	LogURL       string `json:"log_url"`
}

type test struct {
	ID          string `json:"id"`
	Origin      string `json:"origin"`
	BuildID     string `json:"build_id"`
	Path        string `json:"path"`
	Status      Status `json:"status"`
	LogURL      string `json:"log_url"`
	Environment struct {
		Comment string `json:"comment"`
		Misc    struct {
			Platform string `json:"platform"`
		} `json:"misc"`
	} `json:"environment"`
	Misc struct {
		Latency *Latency `json:"latency"`
	} `json:"misc"`
	// LogExcerpt is the part of the test's log most relevant to its
	// outcome, inline: cyclictest's summary is read from it when misc
	// has no latency (never from log_url or output_files, which would
	// mean fetching an arbitrary URL).
	LogExcerpt string `json:"log_excerpt"`
}

// maxLogExcerpt is the schema's maxLength of log_excerpt, in characters.
const maxLogExcerpt = 16384

// Import reads one KCIDB v5 document and returns its builds and tests
// that belong to checkouts rtbot wrote (lookup). A document that is not
// KCIDB v5, or has an object that breaks the schema, is an error and
// nothing of it is taken; a build of another checkout, or a test of a
// build nobody knows, is refused (listed in Refused) and the rest taken.
func Import(data []byte, lookup Lookup) (Imported, error) {
	doc, err := decode(data)
	if err != nil {
		return Imported{}, err
	}
	var im Imported
	builds := map[string]string{} // build id -> checkout id; "" for a build refused
	for _, c := range doc.Checkouts {
		if ok, err := lookup.Checkout(c.ID); err != nil {
			return Imported{}, err
		} else if !ok {
			im.Refused = append(im.Refused, fmt.Sprintf("checkout %q: not a checkout rtbot wrote", c.ID))
		} else if c.OriginTestsFinishTime != "" {
			im.Finished = append(im.Finished, c.ID)
		}
	}
	for _, b := range doc.Builds {
		ok, err := lookup.Checkout(b.CheckoutID)
		if err != nil {
			return Imported{}, err
		}
		if !ok {
			im.Refused = append(im.Refused, fmt.Sprintf("build %q: checkout %q is not a checkout rtbot wrote", b.ID, b.CheckoutID))
			builds[b.ID] = ""
			continue
		}
		builds[b.ID] = b.CheckoutID
		im.Results = append(im.Results, Result{Kind: KindBuild, ID: b.ID, CheckoutID: b.CheckoutID, Path: oneLine(b.ConfigName),
			Status: b.Status, Machine: oneLine(b.Architecture), LogURL: b.LogURL})
	}
	for _, t := range doc.Tests {
		// A build of this document decides, even if refused: a build
		// stored earlier under the same id cannot adopt its tests.
		checkout, inDoc := builds[t.BuildID]
		ok := inDoc && checkout != ""
		if !inDoc {
			if checkout, ok, err = lookup.Build(t.BuildID); err != nil {
				return Imported{}, err
			}
		}
		if !ok {
			im.Refused = append(im.Refused, fmt.Sprintf("test %q: build %q is not a build of a checkout rtbot wrote", t.ID, t.BuildID))
			continue
		}
		machine := t.Environment.Misc.Platform
		if machine == "" {
			machine = t.Environment.Comment
		}
		im.Results = append(im.Results, Result{Kind: KindTest, ID: t.ID, CheckoutID: checkout, BuildID: t.BuildID,
			Path: t.Path, Status: t.Status, Machine: oneLine(machine), LogURL: t.LogURL, Latency: t.latency()})
	}
	return im, nil
}

// latency is what the test measured: misc.latency, else the figures of
// cyclictest's output in log_excerpt, else nil.
func (t test) latency() *Latency {
	if t.Misc.Latency != nil || t.LogExcerpt == "" {
		return t.Misc.Latency
	}
	l, _ := ParseCyclictest(t.LogExcerpt)
	return l
}

// decode parses and checks a document: the fields Import uses must have
// the schema's types and forms.
func decode(data []byte) (*document, error) {
	if len(data) > MaxDocumentBytes {
		return nil, fmt.Errorf("kcidb: document of %d bytes is larger than %d", len(data), MaxDocumentBytes)
	}
	var doc document
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("kcidb: %w", err)
	}
	if dec.More() {
		return nil, errors.New("kcidb: data after the document")
	}
	if doc.Version == nil || doc.Version.Major == nil {
		return nil, errors.New("kcidb: no version: not a KCIDB document")
	}
	if *doc.Version.Major != 5 {
		return nil, fmt.Errorf("kcidb: schema version %d.%d: rtbot reads version 5", *doc.Version.Major, doc.Version.Minor)
	}
	var errs []error
	for i, c := range doc.Checkouts {
		where := fmt.Sprintf("checkouts[%d]", i)
		errs = append(errs, checkObject(where, c.ID, c.Origin, "", ""))
		if c.OriginTestsFinishTime != "" {
			if _, err := time.Parse(time.RFC3339, c.OriginTestsFinishTime); err != nil {
				errs = append(errs, fmt.Errorf("%s.origin_tests_finish_time %q: not an RFC 3339 time", where, c.OriginTestsFinishTime))
			}
		}
	}
	for i, b := range doc.Builds {
		where := fmt.Sprintf("builds[%d]", i)
		errs = append(errs, checkObject(where, b.ID, b.Origin, b.Status, b.LogURL), checkID(where+".checkout_id", b.CheckoutID))
	}
	for i, t := range doc.Tests {
		where := fmt.Sprintf("tests[%d]", i)
		errs = append(errs, checkObject(where, t.ID, t.Origin, t.Status, t.LogURL), checkID(where+".build_id", t.BuildID))
		if !pathRE.MatchString(t.Path) {
			errs = append(errs, fmt.Errorf("%s.path %q: want dot-separated names of letters, digits, '_' and '-'", where, t.Path))
		}
		errs = append(errs, checkLatency(where+".misc.latency", t.Misc.Latency))
		if n := utf8.RuneCountInString(t.LogExcerpt); n > maxLogExcerpt || strings.ContainsRune(t.LogExcerpt, 0) {
			errs = append(errs, fmt.Errorf("%s.log_excerpt: %d characters or a NUL: want at most %d, no NUL", where, n, maxLogExcerpt))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("kcidb: %w", err)
	}
	return &doc, nil
}

// checkObject checks the id, origin, status and log URL of an object.
func checkObject(where, id, origin string, status Status, logURL string) error {
	var errs []error
	errs = append(errs, checkID(where+".id", id))
	if !originRE.MatchString(origin) {
		errs = append(errs, fmt.Errorf("%s.origin %q: want lower-case letters, digits and '_'", where, origin))
	} else if !strings.HasPrefix(id, origin+":") {
		errs = append(errs, fmt.Errorf("%s.id %q does not start with its origin %q", where, id, origin))
	}
	if !status.valid() {
		errs = append(errs, fmt.Errorf("%s.status %q: want FAIL, ERROR, MISS, PASS, DONE or SKIP", where, status))
	}
	if logURL != "" {
		if u, err := url.Parse(logURL); err != nil || u.Scheme == "" || strings.ContainsAny(logURL, " \t\r\n\x00") {
			errs = append(errs, fmt.Errorf("%s.log_url %q: not a URL", where, logURL))
		}
	}
	return errors.Join(errs...)
}

// checkID checks an id against the schema's "<origin>:<anything>".
func checkID(where, id string) error {
	if !idRE.MatchString(id) {
		return fmt.Errorf("%s %q: want <origin>:<id> (origin of lower-case letters, digits and '_')", where, id)
	}
	return nil
}

// checkLatency refuses negative figures.
func checkLatency(where string, l *Latency) error {
	if l == nil {
		return nil
	}
	if l.MaxUS < 0 || l.P999US < 0 {
		return fmt.Errorf("%s: negative latency", where)
	}
	for _, v := range l.PerCPUMaxUS {
		if v < 0 {
			return fmt.Errorf("%s: negative latency", where)
		}
	}
	return nil
}

// oneLine replaces control characters by spaces: machine names end up in
// mail.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}
