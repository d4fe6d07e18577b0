package main

import (
	"context"
	"fmt"
	"io"
	"net/mail"
	"os"
	"strings"
	"time"

	"github.com/rtbot/rtbot/internal/atomicfile"
	"github.com/rtbot/rtbot/internal/merger"
	"github.com/rtbot/rtbot/internal/pipeline"
	"github.com/rtbot/rtbot/internal/release"
	"github.com/spf13/cobra"
)

// newReleaseCmd is `rtbot release`: it bumps localversion-rt, commits and
// tags the release and prints the announcement.
func newReleaseCmd(e *env) *cobra.Command {
	var f releaseFlags
	c := &cobra.Command{
		Use:   "release --repo DIR --branch NAME",
		Short: "bump localversion-rt, commit and tag an RT-stable release, print the announcement",
		Long: `Make an RT-stable release on a series branch: bump localversion-rt,
commit "Linux X.Y.Z-rtN", tag it (annotated, unsigned) and print the
[ANNOUNCE] mail and the next steps. Signing, pushing, uploading and
mailing stay with the maintainer's tools (docs/release.md).

When an rtbot configuration is found (--config, $RTBOT_CONFIG, or the
default files), the release is refused unless --force when the rtbot run
that produced the branch's tip has failed or regressed tests or missing
results, or when no run produced it (docs/results.md).`,
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if err := f.check(c); err != nil {
				return err
			}
			return cmdRelease(c.Context(), e, f, c.OutOrStdout())
		},
	}
	f.addFlags(c)
	return c
}

// cmdRelease is `rtbot release` once its command line is checked.
func cmdRelease(ctx context.Context, e *env, f releaseFlags, stdout io.Writer) error {
	eng, err := merger.Open(f.repo, merger.Options{})
	if err != nil {
		return err
	}
	defer eng.Close()
	if f.opts.Identity == (merger.Identity{}) {
		if f.opts.Identity, err = release.GitIdentity(eng.Repository()); err != nil {
			return usagef("no identity: give --name and --email, set RTBOT_COMMITTER=\"Name <email>\", "+
				"or set git's user.name and user.email (git config --global user.name NAME): %v", err)
		}
		fmt.Fprintf(stdout, "identity %s <%s> (from git's user.name and user.email)\n", f.opts.Identity.Name, f.opts.Identity.Email)
	}
	plan, err := release.Prepare(eng, f.opts)
	if err != nil {
		return err
	}
	if err := releaseGate(ctx, e, f, eng, plan, stdout); err != nil {
		return err
	}
	text := release.Announcement(f.info(plan))
	if !f.dryRun {
		if err := applyRelease(eng, plan, f.announce, text); err != nil {
			return err
		}
	}
	printRelease(stdout, f.repo, plan, f.dryRun, f.announce)
	if f.announce == "" || f.dryRun {
		fmt.Fprintf(stdout, "\n----- announcement mail -----\n%s", text)
	}
	return nil
}

// releaseFlags is release's command line.
type releaseFlags struct {
	repo      string
	opts      release.Options
	announce  string // the file for the announcement, "" for stdout
	gitURL    string
	gitBranch string
	signature string
	releaseOn time.Time // the day a release candidate becomes the release
	dryRun    bool
	config    string // --config: where the state with the test results is
	force     bool   // release even when the test results say no
	// name, email and releaseOnFlag are the flags as given, for check.
	name, email, releaseOnFlag string
}

// addFlags adds release's flags to c.
func (f *releaseFlags) addFlags(c *cobra.Command) {
	fs := c.Flags()
	fs.StringVar(&f.repo, "repo", "", "git repository (bare or not) holding the series branch")
	fs.StringVar(&f.opts.Branch, "branch", "", "series branch to release, refs/heads/NAME (e.g. v6.1-rt)")
	fs.BoolVar(&f.opts.RC, "rc", false, "make a release candidate: -rtN -> -rtN+1-rc1, -rtN-rcM -> -rtN-rcM+1")
	fs.StringVar(&f.opts.TagPrefix, "tag-prefix", "v", "prefix of the tag name before X.Y.Z-rtN")
	fs.StringVar(&f.name, "name", "", "author, committer and tagger name (default from RTBOT_COMMITTER, then git's user.name)")
	fs.StringVar(&f.email, "email", "", "author, committer and tagger email (default from RTBOT_COMMITTER, then git's user.email)")
	fs.BoolVar(&f.opts.AllowRCKernel, "allow-rc-kernel", false, "allow a release on a kernel whose Makefile has an EXTRAVERSION")
	fs.StringVar(&f.announce, "announce", "", "write the announcement mail to FILE instead of stdout")
	fs.StringVar(&f.gitURL, "git-url", release.DefaultGitURL, "git tree named in the announcement")
	fs.StringVar(&f.gitBranch, "git-branch", "", "branch named in the announcement (default vX.Y-rt)")
	fs.StringVar(&f.signature, "signature", "", "name signing the announcement (default the --name)")
	fs.StringVar(&f.releaseOnFlag, "release-on", "", "for --rc: day (YYYY-MM-DD) the candidate becomes the release (default in 7 days)")
	fs.BoolVarP(&f.dryRun, "dry-run", "n", false, "compute and print everything, write nothing")
	fs.StringVar(&f.config, "config", "", "rtbot configuration whose state holds the test results (default: $RTBOT_CONFIG, then the default files)")
	fs.BoolVar(&f.force, "force", false, "release even when tests failed, regressed or are missing")
	_ = c.MarkFlagDirname("repo")
	_ = c.MarkFlagFilename("announce")
}

// check checks release's command line and fills in what it derives:
// every error it returns is a usage error.
func (f *releaseFlags) check(c *cobra.Command) error {
	if f.repo == "" || f.opts.Branch == "" {
		return usageOf(c, "--repo and --branch are required")
	}
	if err := merger.CheckBranchName(f.opts.Branch); err != nil {
		return usagef("--branch: %v", err)
	}
	var err error
	if f.opts.Identity, err = releaseIdentity(f.name, f.email, os.Getenv("RTBOT_COMMITTER")); err != nil {
		return usagef("%v", err)
	}
	f.releaseOn = time.Now().AddDate(0, 0, 7)
	if f.releaseOnFlag != "" {
		if !f.opts.RC {
			return usagef("--release-on is for --rc")
		}
		if f.releaseOn, err = time.Parse("2006-01-02", f.releaseOnFlag); err != nil {
			return usagef("--release-on %q: want YYYY-MM-DD", f.releaseOnFlag)
		}
	}
	return nil
}

// info is what the announcement of plan says, with what the flags change.
func (f releaseFlags) info(plan *release.Plan) release.Info {
	info := plan.Info()
	info.GitURL = f.gitURL
	if f.gitBranch != "" {
		info.GitBranch = f.gitBranch
	}
	if f.signature != "" {
		info.Signature = f.signature
	}
	if plan.New.RC > 0 {
		info.ReleaseOn = f.releaseOn
	}
	return info
}

// applyRelease writes the announcement text to the file announce (unless
// it is ""), then makes the release plan in eng's repository. A release is
// never made without its announcement: the file is written first, and
// removed when the release fails.
func applyRelease(eng *merger.Engine, plan *release.Plan, announce, text string) error {
	if announce != "" {
		if err := atomicfile.WriteFile(announce, 0o644, func(w io.Writer) error { _, err := io.WriteString(w, text); return err }); err != nil {
			return fmt.Errorf("--announce: %w", err)
		}
	}
	if err := plan.Apply(eng); err != nil {
		if announce != "" {
			os.Remove(announce)
		}
		return err
	}
	return nil
}

// releaseIdentity takes the identity from --name and --email, or from
// RTBOT_COMMITTER ("Name <email>"); with neither it is the zero Identity,
// and cmdRelease takes git's user.name and user.email.
func releaseIdentity(name, email, env string) (merger.Identity, error) {
	switch {
	case name != "" && email != "":
		if _, err := mail.ParseAddress(email); err != nil || strings.ContainsAny(email, "<> ") {
			return merger.Identity{}, fmt.Errorf("--email %q: want a plain address", email)
		}
		return merger.Identity{Name: name, Email: email}, nil
	case name != "" || email != "":
		return merger.Identity{}, fmt.Errorf("--name and --email go together")
	case env == "":
		return merger.Identity{}, nil
	}
	a, err := mail.ParseAddress(env)
	if err != nil || a.Name == "" {
		return merger.Identity{}, fmt.Errorf("RTBOT_COMMITTER %q: want \"Name <email>\"", env)
	}
	return merger.Identity{Name: a.Name, Email: a.Address}, nil
}

func printRelease(w io.Writer, repo string, p *release.Plan, dryRun bool, announce string) {
	msg := strings.TrimSpace(p.Message)
	if dryRun {
		fmt.Fprintln(w, "dry run: nothing written")
	}
	fmt.Fprintf(w, "release %s on %s: kernel %s, %s %s -> %s\n", p.Version, p.Branch, p.Kernel, release.LocalversionFile, p.Old, p.New)
	verb := func(done, would string) string {
		if dryRun {
			return would
		}
		return done
	}
	fmt.Fprintf(w, "commit  %s %q (parent %.12s)\n", p.Commit, msg, p.Tip)
	if dryRun {
		fmt.Fprintln(w, "        (the real run's commit id differs: it carries that run's time)")
	}
	fmt.Fprintf(w, "branch  %s %s %.12s -> %.12s\n", p.Branch, verb("moved", "would move"), p.Tip, p.Commit)
	fmt.Fprintf(w, "tag     %s %s: annotated, unsigned, tag object %s\n", p.Tag, verb("created", "would be created"), p.TagObject)
	switch {
	case p.ChangesNote != "":
		fmt.Fprintf(w, "changes: none listed (%s)\n", p.ChangesNote)
	default:
		fmt.Fprintf(w, "changes since %s: %d commits\n", p.Previous, len(p.Changes))
	}
	if announce != "" && !dryRun {
		fmt.Fprintf(w, "announcement written to %s\n", announce)
	}
	if dryRun {
		return
	}
	series := fmt.Sprintf("%d.%d", p.Kernel.Version, p.Kernel.Patchlevel)
	pushNote := ""
	if p.New.RC > 0 {
		pushNote = " (a release candidate usually is not: the mail says only the final release is pushed)"
	}
	fmt.Fprintf(w, `
next steps (rtbot does none of them):
  1. sign the tag (rtbot's is unsigned), or sign with your own script:
       git -C %[1]s tag -s -f -m %[2]q %[3]s %[4]s
  2. push the branch and the signed tag%[8]s:
       git -C %[1]s push origin %[5]s %[3]s
  3. upload the patch and the patches tarball (rtbot merge --export), each signed uncompressed, with kup:
       gpg --armor --detach-sign patch-%[6]s.patch
       kup put patch-%[6]s.patch.xz patch-%[6]s.patch.asc /pub/linux/kernel/projects/rt/%[7]s/patch-%[6]s.patch.gz
       gpg --armor --detach-sign patches-%[6]s.tar
       kup put patches-%[6]s.tar.xz patches-%[6]s.tar.asc /pub/linux/kernel/projects/rt/%[7]s/patches-%[6]s.tar.gz
  4. send the announcement with your mailer (docs/release.md)
`, repo, msg, p.Tag, p.Commit, p.Branch, p.Version, series, pushNote)
}

// releaseGate refuses (unless --force) to release a tip whose rtbot run
// has failed, regressed or missing test results (pipeline.ReleaseGate).
// Without any rtbot configuration there are no results to check: it says
// so and lets the release go ahead.
func releaseGate(ctx context.Context, e *env, f releaseFlags, eng *merger.Engine, plan *release.Plan, stdout io.Writer) error {
	if _, err := configPath(f.config, e.getenv, e.exists); err != nil && f.config == "" && e.getenv("RTBOT_CONFIG") == "" {
		fmt.Fprintln(stdout, "test results not checked: no rtbot configuration (give --config to check them)")
		return nil
	}
	problems, err := gateProblems(ctx, e, f.config, eng, plan)
	if err != nil {
		problems = append(problems, err.Error())
	}
	if len(problems) == 0 {
		fmt.Fprintf(stdout, "test results: passed\n")
		return nil
	}
	if f.force {
		fmt.Fprintf(stdout, "releasing anyway (--force), although:\n  %s\n", strings.Join(problems, "\n  "))
		return nil
	}
	return fmt.Errorf("release of %s refused:\n  %s\nfix that, or give --force to release anyway", plan.Branch, strings.Join(problems, "\n  "))
}

// gateProblems opens the state read-only and runs the release gate on
// the plan's tip.
func gateProblems(ctx context.Context, e *env, configFlag string, eng *merger.Engine, plan *release.Plan) ([]string, error) {
	cfg, st, err := openState(e, configFlag)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	g, err := pipeline.New(cfg, st, pipeline.Options{}).ReleaseGate(ctx, eng.Repository(), plan.Tip)
	if err != nil {
		return nil, err
	}
	return g.Problems, nil
}
