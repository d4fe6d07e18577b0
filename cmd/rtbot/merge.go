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
	"github.com/rtbot/rtbot/internal/export"
	"github.com/rtbot/rtbot/internal/merger"
	"github.com/rtbot/rtbot/internal/patchqueue"
	"github.com/rtbot/rtbot/internal/pipeline"
	"github.com/rtbot/rtbot/internal/report"
	"github.com/rtbot/rtbot/internal/resolutions"
	"github.com/rtbot/rtbot/internal/triage"
)

func cmdMerge(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("merge", "rtbot merge --repo DIR --queue SRC [--base REV] --onto REV [--branch NAME] [--json] [--export DIR] [--resolutions FILE]", stderr)
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
	exportDir := fs.String("export", "", "write the rebased queue to DIR (new or empty): patches/ (series and format-patch files), patches-X.Y.Z-rtN.tar.xz and patch-X.Y.Z-rtN.patch.xz")
	resFile := fs.String("resolutions", "", "remembered conflict resolutions to use (a file rtbot resolve --export wrote)")
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
	if *exportDir != "" {
		// Fail before the rebase, not after it.
		if err := export.CheckDir(*exportDir, export.Options{}); err != nil {
			fmt.Fprintf(stderr, "rtbot merge: --export: %v\n", err)
			return exitError
		}
	}
	var remembered merger.Resolutions
	if *resFile != "" {
		fh, err := os.Open(*resFile)
		if err != nil {
			fmt.Fprintf(stderr, "rtbot merge: --resolutions: %v\n", err)
			return exitError
		}
		entries, err := resolutions.Read(*resFile, fh)
		fh.Close()
		if err != nil {
			fmt.Fprintf(stderr, "rtbot merge: --resolutions: %v\n", err)
			return exitError
		}
		mem := make(resolutions.Memory, len(entries))
		for i, e := range entries {
			mem[i] = e.Resolution
		}
		remembered = mem
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
	rep, manifest, err := doMerge(ctx, mergeArgs{
		repo: *repo, queue: *queue, base: *base, onto: *onto, branch: *branch, dropApplied: *dropApplied, exportDir: *exportDir,
		opts: merger.Options{Committer: merger.Identity{Name: id.Name, Email: id.Address}, Fuzz: *fuzz, Resolutions: remembered},
	})
	var exportErr *exportError
	if err != nil && !errors.As(err, &exportErr) {
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
	if exportErr != nil {
		fmt.Fprintf(stderr, "rtbot merge: %v\n", exportErr.err)
		return exitError
	}
	if manifest != nil {
		// stdout holds nothing but the JSON document with --json.
		w := stdout
		if *asJSON {
			w = stderr
		}
		printManifest(w, manifest)
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
	exportDir                       string
	opts                            merger.Options
}

// exportError is an export that failed after the rebase worked: the
// report is still printed.
type exportError struct{ err error }

func (e *exportError) Error() string { return e.err.Error() }

// printManifest says where the export went and which patches it left out.
func printManifest(w io.Writer, m *export.Manifest) {
	fmt.Fprintf(w, "\nexported %d of %d patches as %s to %s:\n", len(m.Patches), len(m.Patches)+len(m.Skipped), m.Release, m.Dir)
	for _, p := range []string{m.Series, m.Tarball, m.Combined} {
		fmt.Fprintf(w, "  %s\n", p)
	}
	for _, s := range m.Skipped {
		fmt.Fprintf(w, "skipped %s (%s): %s\n", s.Name, s.Outcome, s.Reason)
	}
}

// doMerge is `rtbot merge` without the flags: pipeline.Merge, then the
// branch update and the export the user asked for. An export that fails
// returns the report and an *exportError.
func doMerge(ctx context.Context, a mergeArgs) (*triage.Report, *export.Manifest, error) {
	start := time.Now()
	eng, err := merger.Open(a.repo, a.opts)
	if err != nil {
		return nil, nil, err
	}
	defer eng.Close()
	// Name the flag when a revision is unknown.
	if _, err := eng.RevParse(a.onto); err != nil {
		return nil, nil, fmt.Errorf("--onto: %w", err)
	}
	if a.base != "" {
		if _, err := eng.RevParse(a.base); err != nil {
			return nil, nil, fmt.Errorf("--base: %w", err)
		}
	}
	var oldBranch plumbing.Hash
	if a.branch != "" {
		if oldBranch, err = eng.BranchHead(a.branch); err != nil {
			return nil, nil, err
		}
	}
	if _, isRange := patchqueue.ParseRange(a.queue); isRange && a.base != "" {
		if _, err := os.Stat(a.queue); err != nil {
			return nil, nil, errors.New("--base is implied by a git range queue; drop one of them")
		}
	}
	rep, res, err := pipeline.Merge(ctx, eng, pipeline.MergeSpec{Queue: a.queue, Base: a.base, Onto: a.onto, DropApplied: a.dropApplied})
	if err != nil {
		return nil, nil, err
	}
	if a.branch != "" {
		if err := eng.UpdateBranch(a.branch, res.Head, oldBranch); err != nil {
			return nil, nil, err
		}
		rep.Result.Branch = a.branch
	}
	var m *export.Manifest
	if a.exportDir != "" {
		if m, err = export.Write(ctx, eng.Repository(), res, a.exportDir, export.Options{}); err != nil {
			err = &exportError{err}
		}
	}
	rep.Elapsed = time.Since(start).Round(time.Millisecond).String()
	return rep, m, err
}
