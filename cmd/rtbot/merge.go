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
	"github.com/rtbot/rtbot/pipeline"
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

// doMerge is `rtbot merge` without the flags: pipeline.Merge, then the
// branch update the user asked for.
func doMerge(ctx context.Context, a mergeArgs) (*conflicts.Report, error) {
	start := time.Now()
	eng, err := merger.Open(a.repo, a.opts)
	if err != nil {
		return nil, err
	}
	defer eng.Close()
	// Name the flag when a revision is unknown.
	if _, err := eng.Resolve(a.onto); err != nil {
		return nil, fmt.Errorf("--onto: %w", err)
	}
	if a.base != "" {
		if _, err := eng.Resolve(a.base); err != nil {
			return nil, fmt.Errorf("--base: %w", err)
		}
	}
	var oldBranch plumbing.Hash
	if a.branch != "" {
		if oldBranch, err = eng.BranchHead(a.branch); err != nil {
			return nil, err
		}
	}
	if _, isRange := patchqueue.ParseRange(a.queue); isRange && a.base != "" {
		if _, err := os.Stat(a.queue); err != nil {
			return nil, errors.New("--base is implied by a git range queue; drop one of them")
		}
	}
	rep, res, err := pipeline.Merge(ctx, eng, pipeline.MergeSpec{Queue: a.queue, Base: a.base, Onto: a.onto, DropApplied: a.dropApplied})
	if err != nil {
		return nil, err
	}
	if a.branch != "" {
		if err := eng.UpdateBranch(a.branch, res.Head, oldBranch); err != nil {
			return nil, err
		}
		rep.Result.Branch = a.branch
	}
	rep.Elapsed = time.Since(start).Round(time.Millisecond).String()
	return rep, nil
}
