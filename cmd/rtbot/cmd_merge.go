package main

import (
	"context"
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
	"github.com/spf13/cobra"
)

// newMergeCmd is `rtbot merge`: it rebases a queue onto a candidate and
// prints the triage; exit 3 when patches need attention.
func newMergeCmd() *cobra.Command {
	var f mergeFlags
	c := &cobra.Command{
		Use:   "merge --repo DIR --queue SRC [--base REV] --onto REV",
		Short: "rebase an RT queue onto a candidate and triage every patch",
		Long: `Rebase an RT queue onto a candidate and triage every patch: each gets a
status, an action, a reason and, when a human is needed, the candidate
commits that caused it. SRC is a quilt directory, a .tar.xz/.tar.gz
tarball, a patch or mbox file, or a git range A..B. Exit 3 when patches
need attention.`,
		Example: "  rtbot merge --repo linux.git --queue patches-rt --base v6.1.176 --onto v6.1.177 --branch v6.1.177-rt",
		Args:    noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if err := f.check(c); err != nil {
				return err
			}
			return cmdMerge(c.Context(), c.OutOrStdout(), c.ErrOrStderr(), f)
		},
	}
	fs := c.Flags()
	fs.StringVar(&f.repo, "repo", "", "git repository (bare or not) holding the base and the candidate")
	fs.StringVar(&f.queue, "queue", "", "RT queue: quilt dir, .tar.xz/.tar.gz, patch or mbox file, or git range A..B")
	fs.StringVar(&f.base, "base", "", "revision the queue was made for (materialise it there first)")
	fs.StringVar(&f.onto, "onto", "", "candidate revision to rebase onto")
	fs.StringVarP(&f.branch, "branch", "b", "", "move refs/heads/NAME to the result (compare-and-swap)")
	fs.BoolVar(&f.asJSON, "json", false, "print the triage as one JSON document")
	fs.BoolVar(&f.dropApplied, "drop-applied", false, "leave patches already in the candidate out of the patches needing attention, listed as dropped")
	fs.IntVar(&f.opts.Fuzz, "fuzz", 0, "context lines a hunk may ignore at each end (GNU patch fuzz; reported as 'fuzz')")
	fs.StringVar(&f.committer, "committer", "", "committer identity \"Name <email>\" (default $RTBOT_COMMITTER, else \"rtbot <rtbot@localhost>\")")
	fs.StringVar(&f.cpuprofile, "cpuprofile", "", "write a CPU profile to FILE (for benchmarking)")
	fs.StringVarP(&f.exportDir, "export", "o", "", "write the rebased queue to DIR (new or empty): patches/ (series and format-patch files), patches-X.Y.Z-rtN.tar.xz and patch-X.Y.Z-rtN.patch.xz")
	fs.StringVar(&f.resFile, "resolutions", "", "remembered conflict resolutions to use (a file rtbot resolve --export wrote)")
	for _, name := range []string{"repo", "queue", "export"} {
		_ = c.MarkFlagDirname(name)
	}
	_ = c.MarkFlagFilename("cpuprofile")
	_ = c.MarkFlagFilename("resolutions")
	return c
}

// cmdMerge is `rtbot merge` once its flags are checked.
func cmdMerge(ctx context.Context, stdout, stderr io.Writer, f mergeFlags) error {
	var err error
	if f.exportDir != "" {
		// Fail before the rebase, not after it.
		if err := export.CheckDir(f.exportDir, export.Options{}); err != nil {
			return fmt.Errorf("--export: %w", err)
		}
	}
	if f.opts.Resolutions, err = loadResolutions(f.resFile); err != nil {
		return fmt.Errorf("--resolutions: %w", err)
	}
	if f.cpuprofile != "" {
		stop, err := startCPUProfile(f.cpuprofile)
		if err != nil {
			return err
		}
		defer stop()
	}
	rep, manifest, err := doMerge(ctx, f.mergeArgs)
	return finishMerge(stdout, stderr, f.asJSON, rep, manifest, err)
}

// mergeFlags is merge's command line.
type mergeFlags struct {
	mergeArgs
	asJSON                         bool
	cpuprofile, resFile, committer string
}

// check checks merge's command line and fills in the committer: every
// error it returns is a usage error.
func (f *mergeFlags) check(c *cobra.Command) error {
	if f.repo == "" || f.queue == "" || f.onto == "" {
		return usageOf(c, "--repo, --queue and --onto are required")
	}
	if f.opts.Fuzz < 0 || f.opts.Fuzz > 3 {
		return usagef("--fuzz must be between 0 and 3")
	}
	committer := f.committer
	if committer == "" {
		committer = envOr("RTBOT_COMMITTER", "rtbot <rtbot@localhost>")
	}
	id, err := mail.ParseAddress(committer)
	if err != nil || id.Name == "" {
		return usagef("--committer %q: want \"Name <email>\"", committer)
	}
	f.opts.Committer = merger.Identity{Name: id.Name, Email: id.Address}
	if f.branch != "" {
		if err := merger.CheckBranchName(f.branch); err != nil {
			return usagef("%v", err)
		}
	}
	return nil
}

// loadResolutions reads the remembered resolutions in file, a file rtbot
// resolve --export wrote; none when file is "".
func loadResolutions(file string) (merger.Resolutions, error) {
	if file == "" {
		return nil, nil
	}
	fh, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	entries, err := resolutions.Read(file, fh)
	if err != nil {
		return nil, err
	}
	mem := make(resolutions.Memory, len(entries))
	for i, e := range entries {
		mem[i] = e.Resolution
	}
	return mem, nil
}

// startCPUProfile writes a CPU profile to file until stop is called.
func startCPUProfile(file string) (stop func(), err error) {
	f, err := os.Create(file)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// finishMerge prints what doMerge returned: the triage (as JSON or text),
// then where the export went. It returns doMerge's error (after the triage
// when only the export failed), or errNeedsHuman when patches need
// attention.
func finishMerge(stdout, stderr io.Writer, asJSON bool, rep *triage.Report, manifest *export.Manifest, err error) error {
	var exportErr *exportError
	if err != nil && !errors.As(err, &exportErr) {
		return err
	}
	if asJSON {
		if err := writeJSON(stdout, toMergeJSON(rep)); err != nil {
			return err
		}
	} else if err := report.Text(stdout, rep); err != nil {
		return err
	}
	if exportErr != nil {
		return exportErr.err
	}
	if manifest != nil {
		// stdout holds nothing but the JSON document with --json.
		w := stdout
		if asJSON {
			w = stderr
		}
		printManifest(w, manifest)
	}
	if rep.Summary.Attention > 0 {
		return fmt.Errorf("%d patch(es) need attention: %w", rep.Summary.Attention, errNeedsHuman)
	}
	return nil
}

// envOr is the environment variable k, or def when it is unset or empty.
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
		if err := proposeBranch(ctx, eng, rep, res, a.branch+merger.ProposedSuffix); err != nil {
			return nil, nil, err
		}
	}
	var m *export.Manifest
	if a.exportDir != "" {
		if m, err = export.Write(ctx, eng.Repository(), res, a.exportDir, export.Options{}); err != nil {
			err = &exportError{err}
		}
	}
	rep.Elapsed = time.Since(start)
	return rep, m, err
}

// proposeBranch commits the proposed refreshes of rep on the branch name,
// on top of the result (see docs/triage.md, "Proposed refreshes"), when
// there is any, and records where each went in rep.
func proposeBranch(ctx context.Context, eng *merger.Engine, rep *triage.Report, res *merger.Result, name string) error {
	want := map[int]bool{}
	for _, p := range rep.Patches {
		if p.Proposal != nil {
			want[p.Index] = true
		}
	}
	if len(want) == 0 {
		return nil
	}
	old, err := eng.BranchHead(name)
	if err != nil {
		return err
	}
	head, done, skipped, err := eng.CommitProposals(ctx, res, func(p *merger.PatchResult) bool { return want[p.Patch.Index] })
	if err != nil {
		return err
	}
	committed, notDone := merger.ProposalOutcomes(done, skipped)
	if len(done) > 0 {
		if err := eng.UpdateBranch(name, head, old); err != nil {
			return err
		}
	}
	triage.ProposedOn(rep.Patches, name, committed, notDone)
	return nil
}
