package pipeline

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/rtbot/rtbot/internal/merger"
	"github.com/rtbot/rtbot/internal/patchqueue"
	"github.com/rtbot/rtbot/internal/triage"
)

// MergeSpec says which queue to rebase onto which candidate.
type MergeSpec struct {
	// Queue is a quilt directory, a tarball, a patch or mbox file, or a git
	// range "A..B" in the engine's repository.
	Queue string
	// Ref, when set, makes Queue a git revision: the queue is Base..Queue.
	Ref bool
	// Base is the revision the queue was made for. It is implied by a
	// range and required for a ref.
	Base string
	// Onto is the candidate revision.
	Onto string
	// DropApplied lists patches already in the candidate as dropped.
	DropApplied bool
	// Limits bound reading a queue from files; zero fields mean
	// patchqueue.DefaultLimits (patchqueue.Open fills them in).
	Limits patchqueue.Limits
}

// Merge rebases the queue spec names onto its candidate with eng and
// triages the result. The report's Result names the rebased commit; no
// branch is moved and nothing is persisted: that is the caller's decision.
func Merge(ctx context.Context, eng *merger.Engine, spec MergeSpec) (*triage.Report, *merger.Result, error) {
	start := time.Now()
	// Read a queue from files while the first object lookup loads the
	// repository's pack index: both take tens of milliseconds.
	type queued struct {
		q   *patchqueue.Queue
		err error
	}
	qch := make(chan queued, 1)
	rg, isRange, err := spec.queueRange()
	if err != nil {
		return nil, nil, err
	}
	if !isRange {
		go func() {
			q, err := patchqueue.Open(spec.Queue, spec.Limits)
			qch <- queued{q, err}
		}()
	}
	ontoHash, err := eng.RevParse(spec.Onto)
	if err != nil {
		return nil, nil, fmt.Errorf("candidate %s: %w", spec.Onto, err)
	}
	triageReport := &triage.Report{Candidate: triage.Rev{Name: spec.Onto, Commit: ontoHash.String()}, Queue: spec.Queue}
	var mergeResult *merger.Result
	if isRange {
		if spec.Base != "" && spec.Base != rg.Base {
			return nil, nil, fmt.Errorf("base %s differs from the start of the queue range %s", spec.Base, spec.Queue)
		}
		_, steps, baseHash, err := eng.ReadRange(ctx, rg)
		if err != nil {
			return nil, nil, err
		}
		triageReport.Base = &triage.Rev{Name: rg.Base, Commit: baseHash.String()}
		if mergeResult, err = eng.Rebase(ctx, steps, baseHash, ontoHash); err != nil {
			return nil, nil, err
		}
	} else {
		qd := <-qch
		if qd.err != nil {
			return nil, nil, qd.err
		}
		var baseHash plumbing.Hash
		if spec.Base != "" {
			if baseHash, err = eng.RevParse(spec.Base); err != nil {
				return nil, nil, fmt.Errorf("base %s: %w", spec.Base, err)
			}
			triageReport.Base = &triage.Rev{Name: spec.Base, Commit: baseHash.String()}
		}
		if mergeResult, err = eng.RebaseQueue(ctx, qd.q, baseHash, ontoHash); err != nil {
			var ae *merger.ApplyError
			if errors.As(err, &ae) {
				return nil, nil, fmt.Errorf("queue does not apply to its base %s: %w", spec.Base, err)
			}
			return nil, nil, err
		}
	}
	if triageReport.Patches, err = triage.Triage(ctx, mergeResult, eng, triage.Options{DropApplied: spec.DropApplied}); err != nil {
		return nil, nil, err
	}
	triageReport.Summary = triage.Summarise(triageReport.Patches)
	triageReport.Result = triage.ResultRef{Commit: mergeResult.Head.String()}
	triageReport.Stats = mergeResult.Stats
	triageReport.Elapsed = time.Since(start)
	return triageReport, mergeResult, nil
}

// queueRange returns the git range spec's queue is, when it is one: a
// range "A..B" that names no file or directory, or a ref (Base..Queue).
func (spec MergeSpec) queueRange() (rg patchqueue.Range, isRange bool, err error) {
	if spec.Ref {
		if spec.Base == "" {
			return rg, false, fmt.Errorf("queue %s is a git revision: its base is required", spec.Queue)
		}
		return patchqueue.Range{Base: spec.Base, Tip: spec.Queue}, true, nil
	}
	rg, isRange = patchqueue.ParseRange(spec.Queue)
	return rg, isRange && !exists(spec.Queue), nil
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
