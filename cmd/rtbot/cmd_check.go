package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/rtbot/rtbot/internal/config"
	"github.com/rtbot/rtbot/internal/pipeline"
)

// cmdCheck implements `rtbot check`: the preflight every pass runs first,
// by hand, printing every check. It changes nothing (no lock, no state,
// no mail read, flagged or sent, no ref moved) and exits 0 when every
// check passes, 1 otherwise.
func cmdCheck(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("check", "rtbot check --config FILE")
	cfgPath := fs.String("config", "", "configuration file (see docs/rtbot.example.toml)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageOf(fs, "")
	}
	if *cfgPath == "" {
		return usagef("--config is required")
	}
	return redacting(stdout, func(w io.Writer) error { return check(ctx, *cfgPath, w) })
}

// check runs the checks of the configuration at path and prints, one line
// each, what passed ("ok"), what failed ("FAIL", with the key to change
// and how) and what could not be checked ("skip").
func check(ctx context.Context, path string, w io.Writer) error {
	cfg, err := config.Load(path, pipeline.ConfigRules())
	if err != nil {
		n := printConfigProblems(w, err)
		fmt.Fprintf(w, "%d problem(s) in the configuration: fix them and run rtbot check again\n", n)
		return errReported
	}
	fmt.Fprintf(w, "ok   config: %s loads: %d tree(s)\n", cfg.Path, len(cfg.Trees))
	pf := pipeline.New(cfg, nil, pipeline.Options{}).Preflight(ctx, pipeline.ScopeAll)
	var failed, skipped int
	for _, s := range pf.Steps {
		switch {
		case s.Problem != nil:
			failed++
			fmt.Fprintf(w, "FAIL %s\n", s.Problem)
		case s.Skipped != "":
			skipped++
			fmt.Fprintf(w, "skip %s: %s\n", s.Name, s.Skipped)
		default:
			fmt.Fprintf(w, "ok   %s: %s\n", s.Name, s.Found)
		}
	}
	n := len(pf.Steps) + 1
	if failed+skipped == 0 {
		fmt.Fprintf(w, "all %d checks passed\n", n)
		return nil
	}
	fmt.Fprintf(w, "%d of %d checks failed, %d not run: fix the keys named and run rtbot check again\n", failed, n, skipped)
	return errReported
}

// printConfigProblems prints each problem of a configuration that does not
// load on its line, key first, and returns how many there were.
func printConfigProblems(w io.Writer, err error) int {
	errs := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	}
	for _, e := range errs {
		var ce *config.Error
		if errors.As(e, &ce) && ce.Key != "" {
			where := ce.File
			if ce.Line > 0 {
				where += fmt.Sprintf(":%d", ce.Line)
			}
			fmt.Fprintf(w, "FAIL %s: %v (%s)\n", ce.Key, ce.Err, where)
			continue
		}
		fmt.Fprintf(w, "FAIL %v\n", e)
	}
	return len(errs)
}

// gate runs the preflight of scope before a pass of p, as `rtbot run`
// does: an error that only a human can fix exits 6 (notConfigured), one
// that may pass by itself (a server down) 1.
func gate(ctx context.Context, p *pipeline.Pipeline, scope pipeline.Scope) error {
	return notConfiguredIf(p.Gate(ctx, scope))
}

// notConfiguredIf is err, as a *notConfigured when it is a preflight's
// that does not pass by itself.
func notConfiguredIf(err error) error {
	var pe *pipeline.PreflightError
	if errors.As(err, &pe) && pe.Permanent() {
		return &notConfigured{err}
	}
	return err
}
