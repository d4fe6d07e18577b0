package results

import (
	"regexp"
	"strconv"
	"strings"
)

// maxThreads bounds the thread numbers ParseCyclictest takes: no machine
// has more CPUs, and a per-CPU list is built from them.
const maxThreads = 4096

var (
	// cyclictest's summary line of one measuring thread, as it prints it
	// (src/cyclictest/cyclictest.c, print_stat), with its figures in
	// microseconds:
	//   T: 0 (10468) P:99 I:1000 C:   7027 Min:      1 Act:    1 Avg:    1 Max:      11
	// Without --quiet it rewrites the lines in place; the last one of
	// each thread is the final one.
	cyclictestLineRE = regexp.MustCompile(`T:\s*(\d{1,9})\s+\(\s*\d+\)\s+P:\s*\d+\s+I:\s*\d+\s+C:\s*\d+\s+Min:\s*\d+\s+Act:\s*\d+\s+Avg:\s*\d+\s+Max:\s*(\d{1,12})`)
	// The histogram mode's (-h) maximum of each thread:
	//   # Max Latencies: 00011 00017 00022 00019
	cyclictestHistRE = regexp.MustCompile(`(?m)^[ \t]*# Max Latencies:((?:[ \t]+\d{1,12})+)[ \t]*\r?$`)
)

// ParseCyclictest reads the latency figures of cyclictest's standard
// output in text (a test's KCIDB log_excerpt): the maximum over all
// threads, and each thread's maximum when the threads are numbered 0 to
// n-1, as `cyclictest --smp` (or -a -t) makes them, one thread pinned
// per CPU in CPU order. The summary lines ("T: 0 (...) ... Max: 45") are
// read, else the histogram's "# Max Latencies:" line. ok is false when
// text has neither. cyclictest gives no percentile; figures in
// nanoseconds (--nsecs) cannot be told apart and must not be used.
func ParseCyclictest(text string) (l *Latency, ok bool) {
	perThread := map[int]float64{}
	for _, m := range cyclictestLineRE.FindAllStringSubmatch(text, -1) {
		n, err1 := strconv.Atoi(m[1])
		v, err2 := strconv.ParseFloat(m[2], 64)
		if err1 != nil || err2 != nil || n >= maxThreads {
			continue
		}
		perThread[n] = v // a later line of the thread is its final figure
	}
	if len(perThread) == 0 {
		return parseHistogramMax(text)
	}
	lat := &Latency{}
	for _, v := range perThread {
		lat.MaxUS = max(lat.MaxUS, v)
	}
	for i := range len(perThread) {
		v, ok := perThread[i]
		if !ok {
			lat.PerCPUMaxUS = nil // threads not numbered 0..n-1: no per-CPU list
			break
		}
		lat.PerCPUMaxUS = append(lat.PerCPUMaxUS, v)
	}
	return lat, true
}

// parseHistogramMax reads the last "# Max Latencies:" line of
// cyclictest's histogram output.
func parseHistogramMax(text string) (*Latency, bool) {
	all := cyclictestHistRE.FindAllStringSubmatch(text, -1)
	if len(all) == 0 {
		return nil, false
	}
	fields := strings.Fields(all[len(all)-1][1])
	if len(fields) > maxThreads {
		return nil, false
	}
	lat := &Latency{}
	for _, f := range fields {
		v, err := strconv.ParseFloat(f, 64)
		if err != nil {
			return nil, false
		}
		lat.MaxUS = max(lat.MaxUS, v)
		lat.PerCPUMaxUS = append(lat.PerCPUMaxUS, v)
	}
	return lat, true
}
