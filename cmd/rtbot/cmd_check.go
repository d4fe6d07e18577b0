package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/rtbot/rtbot/internal/config"
	"github.com/rtbot/rtbot/internal/pipeline"
	"github.com/spf13/cobra"
)

// newCheckCmd is `rtbot check`: the preflight every pass runs first, by
// hand, printing every check. It changes nothing (no lock, no state, no
// mail read, flagged or sent, no ref moved) and exits 0 when every check
// passes, 1 otherwise.
func newCheckCmd(e *env) *cobra.Command {
	var f botFlags
	c := &cobra.Command{
		Use:   "check",
		Short: "check the configuration, servers, repositories and queues, as every pass does first",
		Long: `Run by hand the checks every pass runs first (the preflight): the
configuration, the IMAP and SMTP servers and credentials, each tree's
repository, queue and remotes. One line per check: ok, FAIL with the key
to change and how, or skip. It changes nothing. Exit 0 when every check
passes, 1 otherwise.`,
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			path, err := configPath(f.config, e.getenv, e.exists)
			if err != nil {
				return err
			}
			return redacting(c.OutOrStdout(), func(w io.Writer) error { return check(c.Context(), path, w) })
		},
	}
	f.addConfig(c)
	return c
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
// does: an error that only a human can fix exits 78 (notConfigured), or 77
// when it is credentials a server refused; one that may pass by itself (a
// server down) 1.
func gate(ctx context.Context, p *pipeline.Pipeline, scope pipeline.Scope) error {
	return notConfiguredIf(p.Gate(ctx, scope))
}

// notConfiguredIf is err, as a *notConfigured when it is a preflight's
// that does not pass by itself; one of credentials refused when those are
// all its problems that do not pass by themselves.
func notConfiguredIf(err error) error {
	var pe *pipeline.PreflightError
	if errors.As(err, &pe) && pe.Permanent() {
		return &notConfigured{err: err, credentials: pe.CredentialsRefused()}
	}
	return err
}
