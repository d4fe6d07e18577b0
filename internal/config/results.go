package config

import (
	"math"
	"time"

	"github.com/BurntSushi/toml"
)

// ResultsConfig is the [results] table: how rtbot collects the test
// results of its clean runs and when it reports them (docs/results.md).
// Every key is optional; after Load every field holds the key's value or
// its default.
type ResultsConfig struct {
	// Dir is a directory where CIs drop KCIDB documents for rtbot's
	// checkouts; each pass imports what is there. Empty (the default):
	// none.
	Dir string `toml:"dir"`
	// Deadline is how long after its triggers fired a run waits for
	// missing results before the follow-up mail names them; default
	// Rules.Defaults.ResultsDeadline, at least a minute.
	Deadline Duration `toml:"deadline"`
	// LatencyTolerancePercent and LatencyToleranceUS: a latency figure
	// that rose by more than both over the previous run's is a
	// regression; 0 leaves a bound out. Defaults
	// Rules.Defaults.LatencyTolerancePercent and LatencyToleranceUS.
	LatencyTolerancePercent float64 `toml:"latency_tolerance_percent"`
	LatencyToleranceUS      float64 `toml:"latency_tolerance_us"`
}

// validate checks the [results] keys and fills in the defaults of the
// absent ones.
func (r *ResultsConfig) validate(p *problems, md toml.MetaData, base string, d Defaults) {
	if r.Dir != "" {
		r.Dir = resolvePath(p, "results.dir", r.Dir, base)
	}
	checkDuration(p, "results.deadline", &r.Deadline, d.ResultsDeadline, time.Minute)
	tolerances := []struct {
		key string
		v   *float64
		def float64
	}{
		{"latency_tolerance_percent", &r.LatencyTolerancePercent, d.LatencyTolerancePercent},
		{"latency_tolerance_us", &r.LatencyToleranceUS, d.LatencyToleranceUS},
	}
	for _, t := range tolerances {
		switch {
		case !md.IsDefined("results", t.key):
			*t.v = t.def
		case *t.v < 0 || math.IsNaN(*t.v) || math.IsInf(*t.v, 0):
			p.add("results."+t.key, "%v: want a number, 0 or more", *t.v)
		}
	}
}
