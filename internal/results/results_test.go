package results

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rtbot/rtbot/internal/report"
	"github.com/rtbot/rtbot/internal/testkit"
)

const (
	kcidbSchema = "../trigger/testdata/kcidb-schema-v5.json"
	checkout    = "rtbot:6.1-rt:6.1.177-rc1:4f1c0de5a1b2c3d4e5f60718293a4b5c6d7e8f90"
)

// fakeLookup knows one checkout and the builds listed.
type fakeLookup struct{ builds map[string]string }

func (f fakeLookup) Checkout(id string) (bool, error) { return id == checkout, nil }
func (f fakeLookup) Build(id string) (string, bool, error) {
	c, ok := f.builds[id]
	return c, ok, nil
}

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestImportLabDocument(t *testing.T) {
	data := readTestdata(t, "lab-results.json")
	if err := testkit.ValidateJSON(t, kcidbSchema, data); err != nil {
		t.Fatalf("test data does not validate: %v", err)
	}
	im, err := Import(data, fakeLookup{})
	if err != nil {
		t.Fatal(err)
	}
	if len(im.Refused) != 0 || len(im.Results) != 4 {
		t.Fatalf("got %d results, refused %q; want 4, none", len(im.Results), im.Refused)
	}
	cyc := im.Results[2]
	if cyc.Kind != KindTest || cyc.Path != "rt.cyclictest" || cyc.CheckoutID != checkout || cyc.Machine != "qemu-x86_64" ||
		cyc.Latency == nil || cyc.Latency.MaxUS != 61 || len(cyc.Latency.PerCPUMaxUS) != 2 {
		t.Errorf("cyclictest result = %+v", cyc)
	}
	if im.Results[1].Machine != "qemu-x86_64" || im.Results[0].Machine != "x86_64" {
		t.Errorf("machines: %q %q", im.Results[0].Machine, im.Results[1].Machine)
	}
}

func TestImportRefusesForeignCheckouts(t *testing.T) {
	data := readTestdata(t, "foreign.json")
	if err := testkit.ValidateJSON(t, kcidbSchema, data); err != nil {
		t.Fatalf("test data does not validate: %v", err)
	}
	im, err := Import(data, fakeLookup{})
	if err != nil {
		t.Fatal(err)
	}
	if len(im.Results) != 0 || len(im.Refused) != 4 {
		t.Fatalf("results %+v, refused %q; want none and 4", im.Results, im.Refused)
	}
	// A test of a build stored earlier is taken, unless the document
	// itself has that build, for another checkout.
	im, err = Import(data, fakeLookup{builds: map[string]string{"lab:build-old": checkout, "lab:build-9": checkout}})
	if err != nil {
		t.Fatal(err)
	}
	if len(im.Results) != 1 || im.Results[0].ID != "lab:test-10" || im.Results[0].CheckoutID != checkout {
		t.Fatalf("results %+v", im.Results)
	}
}

func TestImportRejectsBadDocuments(t *testing.T) {
	good := string(readTestdata(t, "lab-results.json"))
	for _, tc := range []struct{ name, doc, want string }{
		{"not json", "{", "kcidb:"},
		{"no version", `{"tests": []}`, "no version"},
		{"version 4", `{"version": {"major": 4, "minor": 0}}`, "version 4.0"},
		{"bad id", strings.Replace(good, `"lab:test-boot-1"`, `"Lab:test"`, 1), "tests[0].id"},
		{"id not of origin", strings.Replace(good, `"lab:test-boot-1"`, `"other:test"`, 1), "does not start with its origin"},
		{"bad status", strings.Replace(good, `"status": "FAIL"`, `"status": "BROKEN"`, 1), "tests[2].status"},
		{"bad path", strings.Replace(good, `"path": "boot"`, `"path": "boot..x"`, 1), "tests[0].path"},
		{"negative latency", strings.Replace(good, `"max_us": 61`, `"max_us": -1`, 1), "negative latency"},
		{"latency of wrong type", strings.Replace(good, `"max_us": 61`, `"max_us": "61"`, 1), "kcidb:"},
		{"status of wrong type", strings.Replace(good, `"status": "FAIL"`, `"status": 1`, 1), "kcidb:"},
		{"log url with space", strings.Replace(good, `https://lab.example.org/ltp-1.log`, `https://lab example`, 1), "log_url"},
		{"trailing data", good + "{}", "data after"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Import([]byte(tc.doc), fakeLookup{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
			// What Import refuses for its form, the schema refuses too,
			// except what rtbot asks more than the schema: ids of their
			// origin, and misc.latency (misc is free-form to KCIDB).
			if !strings.Contains("id not of origin|trailing data|not json|negative latency|latency of wrong type", tc.name) {
				if testkit.ValidateJSON(t, kcidbSchema, []byte(tc.doc)) == nil {
					t.Errorf("the schema accepts what Import refuses")
				}
			}
		})
	}
}

func TestToleranceExceeded(t *testing.T) {
	for _, tc := range []struct {
		tol        Tolerance
		prev, cur  float64
		regression bool
	}{
		{Tolerance{10, 5}, 50, 54, false},   // 8 %
		{Tolerance{10, 5}, 50, 56, true},    // 12 %, 6 us
		{Tolerance{10, 5}, 12, 15, false},   // 25 % but only 3 us
		{Tolerance{10, 0}, 12, 15, true},    // no absolute floor
		{Tolerance{0, 5}, 100, 106, true},   // no relative floor
		{Tolerance{10, 5}, 50, 40, false},   // improvement
		{Tolerance{10, 5}, 0, 6, true},      // from nothing
		{Tolerance{10, 5}, 100, 110, false}, // exactly 10 %: not beyond
	} {
		if got := tc.tol.Exceeded(tc.prev, tc.cur); got != tc.regression {
			t.Errorf("%+v.Exceeded(%v, %v) = %v", tc.tol, tc.prev, tc.cur, got)
		}
	}
}

func TestSummarizeVerdicts(t *testing.T) {
	lat := func(max float64) *Latency { return &Latency{MaxUS: max, P999US: 10} }
	pass := Result{Kind: KindBuild, ID: "lab:b", Status: StatusPass}
	cyc := func(max float64) Result {
		return Result{Kind: KindTest, ID: "lab:t", Path: "rt.cyclictest", Machine: "m1", Status: StatusPass, Latency: lat(max)}
	}
	fail := Result{Kind: KindTest, ID: "lab:f", Path: "boot", Status: StatusFail}
	tol := Tolerance{Percent: 10, Micros: 5}
	for _, tc := range []struct {
		name      string
		cur, prev []Result
		missing   []string
		want      Verdict
	}{
		{"nothing", nil, nil, nil, VerdictIncomplete},
		{"pass", []Result{pass, cyc(50)}, []Result{cyc(48)}, nil, VerdictPassed},
		{"pass, no previous run", []Result{pass, cyc(500)}, nil, nil, VerdictPassed},
		{"regression", []Result{pass, cyc(80)}, []Result{cyc(48)}, nil, VerdictRegressed},
		{"other machine is not compared", []Result{pass, cyc(80)}, []Result{{Kind: KindTest, Path: "rt.cyclictest", Machine: "m2", Latency: lat(10)}}, nil, VerdictPassed},
		{"failure beats regression", []Result{pass, cyc(80), fail}, []Result{cyc(48)}, nil, VerdictFailed},
		{"missing", []Result{pass}, nil, []string{"lab"}, VerdictIncomplete},
		{"regression beats missing", []Result{cyc(80)}, []Result{cyc(48)}, []string{"lab"}, VerdictRegressed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := Summarize(tc.cur, tc.prev, tc.missing, tol)
			if s.Verdict != tc.want {
				t.Errorf("verdict %q, want %q (%s)", s.Verdict, tc.want, s.Line())
			}
		})
	}
}

func TestFollowUpBody(t *testing.T) {
	im, err := Import(readTestdata(t, "lab-results.json"), fakeLookup{})
	if err != nil {
		t.Fatal(err)
	}
	prev := []Result{{Kind: KindTest, Path: "rt.cyclictest", Machine: "qemu-x86_64", Status: StatusPass,
		Latency: &Latency{MaxUS: 40, P999US: 13, PerCPUMaxUS: []float64{40, 33}}}}
	tol := Tolerance{Percent: 10, Micros: 5}
	s := Summarize(im.Results, prev, []string{"jenkins"}, tol)
	body := s.Body("6.1.177-rc1 with the 6.1-rt queue", "6.1.176", tol)
	for i, line := range strings.Split(body, "\n") {
		if report.Columns(line) > report.Width {
			t.Errorf("line %d is wider than %d columns: %q", i+1, report.Width, line)
		}
	}
	testkit.Golden(t, filepath.Join("testdata", "followup.golden"), []byte(body))
}

func FuzzImport(f *testing.F) {
	for _, name := range []string{"lab-results.json", "foreign.json", "finished.json"} {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(`{"version": {"major": 5}, "builds": [{"id": "lab:b", "origin": "lab", "checkout_id": "` + checkout + `"}],
 "tests": [{"id": "lab:t", "origin": "lab", "build_id": "lab:b", "path": "rt.cyclictest",
   "log_excerpt": "T: 0 ( 1234) P:99 I:1000 C: 100000 Min: 1 Act: 2 Avg: 3 Max: 45\n# Max Latencies: 00045\n"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		im, err := Import(data, fakeLookup{builds: map[string]string{"lab:build-old": checkout}})
		if err != nil {
			return
		}
		for _, r := range im.Results {
			if r.CheckoutID != checkout {
				t.Fatalf("result %q of checkout %q taken", r.ID, r.CheckoutID)
			}
			if !idRE.MatchString(r.ID) {
				t.Fatalf("id %q taken", r.ID)
			}
			if err := checkLatency(r.ID, r.Latency); err != nil {
				t.Fatal(err)
			}
		}
	})
}

func TestImportFinishedCheckout(t *testing.T) {
	data := readTestdata(t, "finished.json")
	if err := testkit.ValidateJSON(t, kcidbSchema, data); err != nil {
		t.Fatalf("test data does not validate: %v", err)
	}
	im, err := Import(data, fakeLookup{})
	if err != nil || len(im.Finished) != 1 || im.Finished[0] != checkout || len(im.Refused) != 0 {
		t.Fatalf("Import = %+v, %v", im, err)
	}
	bad := strings.Replace(string(data), "2026-12-07T12:00:00Z", "noon", 1)
	if _, err := Import([]byte(bad), fakeLookup{}); err == nil || !strings.Contains(err.Error(), "origin_tests_finish_time") {
		t.Fatalf("bad finish time: %v", err)
	}
}
