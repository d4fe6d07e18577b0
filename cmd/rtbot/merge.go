package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"os"
	"runtime/pprof"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/rtbot/rtbot/conflicts"
	"github.com/rtbot/rtbot/merger"
	"github.com/rtbot/rtbot/patchqueue"
	"github.com/rtbot/rtbot/report"
)

func cmdMerge(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("merge", "rtbot merge --repo DIR --queue SRC [--base REV] --onto REV [--branch NAME] [--json]", stderr)
	repo := fs.String("repo", "", "git repository (bare or not) holding the base and the candidate")
	queue := fs.String("queue", "", "RT queue: quilt dir, .tar.xz/.tar.gz, patch or mbox file, or git range A..B")
	base := fs.String("base", "", "revision the queue was made for (materialise it there first)")
	onto := fs.String("onto", "", "candidate revision to rebase onto")
	branch := fs.String("branch", "", "move refs/heads/NAME to the result (compare-and-swap)")
	asJSON := fs.Bool("json", false, "print the triage as one JSON document")
	dropApplied := fs.Bool("drop-applied", false, "leave patches already in the candidate out of the patches needing attention, listed as dropped")
	fuzz := fs.Int("fuzz", 0, "context lines a hunk may ignore at each end (GNU patch fuzz; reported as 'fuzz')")
	committer := fs.String("committer", envOr("RTBOT_COMMITTER", "rtbot <rtbot@localhost>"), "committer identity \"Name <email>\" (env RTBOT_COMMITTER)")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile to FILE (for benchmarking)")
	if code, done := parseFlags(fs, args); done {
		return code
	}
	if *repo == "" || *queue == "" || *onto == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "rtbot merge: --repo, --queue and --onto are required")
		fs.Usage()
		return exitUsage
	}
	if *fuzz < 0 || *fuzz > 3 {
		fmt.Fprintln(stderr, "rtbot merge: --fuzz must be between 0 and 3")
		return exitUsage
	}
	id, err := mail.ParseAddress(*committer)
	if err != nil || id.Name == "" {
		fmt.Fprintf(stderr, "rtbot merge: --committer %q: want \"Name <email>\"\n", *committer)
		return exitUsage
	}
	if *branch != "" {
		if err := merger.CheckBranchName(*branch); err != nil {
			fmt.Fprintf(stderr, "rtbot merge: %v\n", err)
			return exitUsage
		}
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fmt.Fprintf(stderr, "rtbot merge: %v\n", err)
			return exitError
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintf(stderr, "rtbot merge: %v\n", err)
			return exitError
		}
		defer pprof.StopCPUProfile()
	}
	rep, err := doMerge(ctx, mergeArgs{
		repo: *repo, queue: *queue, base: *base, onto: *onto, branch: *branch, dropApplied: *dropApplied,
		opts: merger.Options{Committer: merger.Identity{Name: id.Name, Email: id.Address}, Fuzz: *fuzz},
	})
	if err != nil {
		fmt.Fprintf(stderr, "rtbot merge: %v\n", err)
		return exitError
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			fmt.Fprintf(stderr, "rtbot merge: %v\n", err)
			return exitError
		}
	} else if err := report.Text(stdout, rep); err != nil {
		fmt.Fprintf(stderr, "rtbot merge: %v\n", err)
		return exitError
	}
	if rep.Summary.Attention > 0 {
		return exitManual
	}
	return exitOK
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

type mergeArgs struct {
	repo, queue, base, onto, branch string
	dropApplied                     bool
	opts                            merger.Options
}

func doMerge(ctx context.Context, a mergeArgs) (*conflicts.Report, error) {
	start := time.Now()
	eng, err := merger.Open(a.repo, a.opts)
	if err != nil {
		return nil, err
	}
	defer eng.Close()
	// Read a queue from files while the first object lookup loads the
	// repository's pack index: both take tens of milliseconds.
	type queued struct {
		q   *patchqueue.Queue
		err error
	}
	qch := make(chan queued, 1)
	rg, isRange := patchqueue.ParseRange(a.queue)
	isRange = isRange && !exists(a.queue)
	if !isRange {
		go func() {
			q, err := patchqueue.Open(a.queue, patchqueue.DefaultLimits())
			qch <- queued{q, err}
		}()
	}
	ontoHash, err := eng.Resolve(a.onto)
	if err != nil {
		return nil, fmt.Errorf("--onto: %w", err)
	}
	var oldBranch plumbing.Hash
	if a.branch != "" {
		if oldBranch, err = eng.BranchHead(a.branch); err != nil {
			return nil, err
		}
	}
	rep := &conflicts.Report{Candidate: conflicts.Rev{Name: a.onto, Commit: ontoHash.String()}, Queue: a.queue}
	var res *merger.Result
	if isRange {
		if a.base != "" {
			return nil, errors.New("--base is implied by a git range queue; drop one of them")
		}
		_, steps, baseHash, err := eng.ReadRange(ctx, rg)
		if err != nil {
			return nil, err
		}
		rep.Base = &conflicts.Rev{Name: rg.Base, Commit: baseHash.String()}
		if res, err = eng.Rebase(ctx, steps, baseHash, ontoHash); err != nil {
			return nil, err
		}
	} else {
		qd := <-qch
		if qd.err != nil {
			return nil, qd.err
		}
		q := qd.q
		var baseHash plumbing.Hash
		if a.base != "" {
			if baseHash, err = eng.Resolve(a.base); err != nil {
				return nil, fmt.Errorf("--base: %w", err)
			}
			rep.Base = &conflicts.Rev{Name: a.base, Commit: baseHash.String()}
		}
		if res, err = eng.RebaseQueue(ctx, q, baseHash, ontoHash); err != nil {
			var ae *merger.ApplyError
			if errors.As(err, &ae) {
				return nil, fmt.Errorf("queue does not apply to its base %s: %w", a.base, err)
			}
			return nil, err
		}
	}
	if rep.Patches, err = conflicts.Triage(ctx, res, eng, conflicts.Options{DropApplied: a.dropApplied}); err != nil {
		return nil, err
	}
	rep.Summary = conflicts.Summarise(rep.Patches)
	rep.Result = conflicts.ResultRef{Commit: res.Head.String()}
	if a.branch != "" {
		if err := eng.UpdateBranch(a.branch, res.Head, oldBranch); err != nil {
			return nil, err
		}
		rep.Result.Branch = a.branch
	}
	rep.Stats = res.Stats
	rep.Elapsed = time.Since(start).Round(time.Millisecond).String()
	return rep, nil
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
