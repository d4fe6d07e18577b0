package pipeline

import (
	"context"
	"fmt"
	"strings"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/rtbot/rtbot/internal/results"
)

// gateDepth is how many first-parent commits below a branch tip the
// release gate looks for the commit an rtbot run produced (the
// maintainers' own commits on top of it: a fix, a merge).
const gateDepth = 64

// Gate is what the release gate found about a branch tip.
type Gate struct {
	// RunID is the clean run whose result the tip is, or builds on; 0
	// when there is none.
	RunID  int64
	Commit string // that run's result commit
	Tests  TestState
	// Problems say why the release is refused: failed, regressed or
	// missing results; none when it may go ahead.
	Problems []string
}

// ReleaseGate checks the test results of the run that produced tip, a
// branch about to be released: the newest clean run whose result commit
// is tip or one of its first gateDepth first-parent ancestors. Failed or
// regressed tests, missing results, or no such run are Problems.
func (p *Pipeline) ReleaseGate(ctx context.Context, repo *git.Repository, tip plumbing.Hash) (Gate, error) {
	var g Gate
	h := tip
	for i := 0; i < gateDepth && !h.IsZero(); i++ {
		runs, err := p.store.CleanRunsWithResult(ctx, h.String())
		if err != nil {
			return g, err
		}
		if len(runs) > 0 {
			g.RunID, g.Commit = runs[0].ID, h.String()
			break
		}
		c, err := repo.CommitObject(h)
		if err != nil {
			return g, fmt.Errorf("release gate: commit %s: %w", h, err)
		}
		if len(c.ParentHashes) == 0 {
			break
		}
		h = c.ParentHashes[0]
	}
	if g.RunID == 0 {
		g.Problems = append(g.Problems, fmt.Sprintf("no clean rtbot run produced %.12s or one of the %d commits below it: no test results", tip, gateDepth-1))
		return g, nil
	}
	ts, ok, err := p.RunTestState(ctx, g.RunID)
	if err != nil {
		return g, err
	}
	if !ok {
		g.Problems = append(g.Problems, fmt.Sprintf("run %d (result %.12s) has no test results: it waited for none", g.RunID, g.Commit))
		return g, nil
	}
	g.Tests = ts
	if ts.Verdict != results.VerdictPassed {
		g.Problems = append(g.Problems, fmt.Sprintf("run %d (result %.12s): %s", g.RunID, g.Commit, ts.Line))
	}
	for _, r := range ts.Summary.Failures {
		g.Problems = append(g.Problems, fmt.Sprintf("%s %s %s", r.Kind, orID(r), r.Status))
	}
	for _, row := range ts.Summary.Latency {
		if len(row.Regressed) > 0 {
			g.Problems = append(g.Problems, fmt.Sprintf("latency of %s on %s rose: %s", row.Path, row.Machine, strings.Join(row.Regressed, ", ")))
		}
	}
	return g, nil
}

// orID is a result's path, or its id when it has none.
func orID(r results.Result) string {
	if r.Path != "" {
		return r.Path
	}
	return r.ID
}
