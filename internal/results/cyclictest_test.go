package results

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/rtbot/rtbot/internal/testkit"
)

// TestParseCyclictest reads real cyclictest output: the summary lines
// (the last of each thread wins), the histogram footer, threads not
// numbered from 0, and text that is not cyclictest's.
func TestParseCyclictest(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		want       *Latency
	}{
		{"smp", string(readTestdata(t, "cyclictest-smp.txt")),
			&Latency{MaxUS: 22, PerCPUMaxUS: []float64{11, 17, 22, 19, 16, 16, 19, 19}}},
		{"redrawn", string(readTestdata(t, "cyclictest-redraw.txt")),
			&Latency{MaxUS: 365, PerCPUMaxUS: []float64{258, 365}}},
		{"histogram", string(readTestdata(t, "cyclictest-hist.txt")),
			&Latency{MaxUS: 27, PerCPUMaxUS: []float64{27}}},
		{"threads not from 0", string(readTestdata(t, "cyclictest-threads.txt")),
			&Latency{MaxUS: 1220832}},
		{"histogram of four threads", "# Min Latencies: 00006 00006 00006 00006\n# Max Latencies: 15442 07648 14133 07713\n",
			&Latency{MaxUS: 15442, PerCPUMaxUS: []float64{15442, 7648, 14133, 7713}}},
		{"summary lines win over the histogram", "# Max Latencies: 00099\nT: 0 ( 1234) P:99 I:1000 C: 100000 Min: 1 Act: 2 Avg: 3 Max: 45\n",
			&Latency{MaxUS: 45, PerCPUMaxUS: []float64{45}}},
		{"CRLF line ends", "T: 0 ( 1234) P:99 I:1000 C: 100000 Min: 1 Act: 2 Avg: 3 Max: 45\r\n# Max Latencies: 00045\r\n",
			&Latency{MaxUS: 45, PerCPUMaxUS: []float64{45}}},
		{"not cyclictest", "ltp sem01 PASS\nMax: 45\nT: 0 Max: 3\n", nil},
		{"truncated line", "T: 0 ( 1234) P:99 I:1000 C: 100000 Min: 1 Act: 2 Avg: 3 Max:", nil},
		{"huge thread number", "T: 999999 ( 1) P:99 I:1000 C: 1 Min: 1 Act: 2 Avg: 3 Max: 45\n", nil},
		{"empty", "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := ParseCyclictest(tc.text)
			if ok != (tc.want != nil) || fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("ParseCyclictest = %+v, %v; want %+v", got, ok, tc.want)
			}
		})
	}
}

// TestImportLogExcerpt: a test without misc.latency whose log_excerpt
// has cyclictest's summary gets its figures; misc.latency, when given,
// wins; a log_excerpt longer than the schema allows is refused, as the
// schema refuses it.
func TestImportLogExcerpt(t *testing.T) {
	doc := func(misc, excerpt string) []byte {
		ex, _ := json.Marshal(excerpt)
		return []byte(fmt.Sprintf(`{"version": {"major": 5, "minor": 3},
 "builds": [{"id": "lab:b1", "origin": "lab", "checkout_id": %q, "status": "PASS"}],
 "tests": [{"id": "lab:t1", "origin": "lab", "build_id": "lab:b1", "path": "rt.cyclictest", "status": "PASS",
   "environment": {"misc": {"platform": "apu2"}}, %s "log_excerpt": %s}]}`, checkout, misc, ex))
	}
	smp := string(readTestdata(t, "cyclictest-smp.txt"))
	for _, tc := range []struct {
		name, misc, excerpt string
		wantMax             float64 // 0: no latency
	}{
		{"from the log excerpt", "", smp, 22},
		{"misc wins", `"misc": {"latency": {"max_us": 30}},`, smp, 30},
		{"no cyclictest in the excerpt", "", "all good\n", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := doc(tc.misc, tc.excerpt)
			if err := testkit.ValidateJSON(t, kcidbSchema, data); err != nil {
				t.Fatalf("test data does not validate: %v", err)
			}
			im, err := Import(data, fakeLookup{})
			if err != nil || len(im.Results) != 2 {
				t.Fatalf("Import = %+v, %v", im, err)
			}
			l := im.Results[1].Latency
			if (l == nil) != (tc.wantMax == 0) || l != nil && l.MaxUS != tc.wantMax {
				t.Errorf("latency %+v, want max %v", l, tc.wantMax)
			}
		})
	}
	long := doc("", strings.Repeat("é", maxLogExcerpt+1))
	if testkit.ValidateJSON(t, kcidbSchema, long) == nil {
		t.Fatal("the schema takes an over-long log_excerpt")
	}
	if _, err := Import(long, fakeLookup{}); err == nil || !strings.Contains(err.Error(), "tests[0].log_excerpt") {
		t.Errorf("an over-long log_excerpt: %v", err)
	}
	if _, err := Import(doc("", strings.Repeat("é", maxLogExcerpt)), fakeLookup{}); err != nil {
		t.Errorf("a log_excerpt of the schema's maximum length: %v", err)
	}
}

// FuzzParseCyclictest: any text parses without panicking into figures
// that are not negative, whose maximum is the largest per-CPU figure.
func FuzzParseCyclictest(f *testing.F) {
	for _, name := range []string{"cyclictest-smp.txt", "cyclictest-redraw.txt", "cyclictest-hist.txt", "cyclictest-threads.txt"} {
		f.Add(string(readTestdata(f, name)))
	}
	f.Add("T: 0 ( 1234) P:99 I:1000 C: 100000 Min: 1 Act: 2 Avg: 3 Max: 45")
	f.Fuzz(func(t *testing.T, text string) {
		l, ok := ParseCyclictest(text)
		if ok != (l != nil) {
			t.Fatalf("ok %v with %+v", ok, l)
		}
		if l == nil {
			return
		}
		if err := checkLatency("latency", l); err != nil {
			t.Fatal(err)
		}
		top := 0.0
		for _, v := range l.PerCPUMaxUS {
			top = max(top, v)
		}
		if len(l.PerCPUMaxUS) > 0 && top != l.MaxUS {
			t.Fatalf("max %v, largest per-CPU %v", l.MaxUS, top)
		}
	})
}
