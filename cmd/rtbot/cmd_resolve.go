package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"

	"github.com/rtbot/rtbot/internal/atomicfile"
	"github.com/rtbot/rtbot/internal/merger"
	"github.com/rtbot/rtbot/internal/pipeline"
	"github.com/rtbot/rtbot/internal/resolutions"
	"github.com/rtbot/rtbot/internal/state"
	"github.com/spf13/cobra"
)

// newResolveCmd is `rtbot resolve`: it records, lists, exports and
// imports remembered conflict resolutions (docs/resolutions.md).
func newResolveCmd(e *env) *cobra.Command {
	var f resolveFlags
	c := &cobra.Command{
		Use:   "resolve (--run ID --fix REV [--patch NAME] [--since REV] [--replace] | --run ID --accept PATCH|all [--by WHO] | --list | --export FILE | --import FILE)",
		Short: "remember how a conflict was resolved; list, export or import resolutions",
		Long: `Remember how a conflict was resolved (--run ID --fix REV: the fix, a
commit on top of the run's partial branch, must carry the patch's
change), so that the same conflict resolves itself on the next
candidates; or accept the refreshes rtbot proposed in a run (--run ID
--accept 0040, or all), which remembers them the same way and, when
nothing else needs a human, has the next pass run the candidate again;
or list, export (to share) and import remembered resolutions
(docs/resolutions.md, docs/triage.md). A run that does not exist is an
error.`,
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if err := f.check(c); err != nil {
				return err
			}
			return cmdResolve(c.Context(), e, f, c.OutOrStdout())
		},
	}
	f.bot.addConfig(c)
	f.bot.addLog(c, "log every step")
	fs := c.Flags()
	fs.Int64Var(&f.learn.Run, "run", 0, "the run whose conflict the fix resolves, or whose proposals --accept accepts")
	fs.StringVar(&f.learn.Fix, "fix", "", "revision (commit or branch) in the tree's repository that carries the resolved files")
	fs.StringVar(&f.learn.Patch, "patch", "", "the conflicting patch the fix resolves (its file name); needed when several conflict")
	fs.StringVar(&f.learn.Since, "since", "", "learn only what changed from this revision to --fix (default: the run's partial branch, when --fix builds on it)")
	fs.BoolVar(&f.learn.Replace, "replace", false, "replace a remembered resolution of the same conflict that resolves it differently")
	fs.StringSliceVar(&f.accept, "accept", nil, "accept the refresh rtbot proposed for PATCH (file name or number, e.g. 0040; repeatable), or all")
	fs.StringVar(&f.by, "by", "", "who accepts, recorded with the resolution (default: git's user.name <user.email>, else $USER)")
	fs.BoolVar(&f.list, "list", false, "list the remembered resolutions")
	fs.StringVar(&f.export, "export", "", "write every resolution to FILE (JSON Lines; - for stdout) to share with other maintainers")
	fs.StringVar(&f.imp, "import", "", "add the resolutions of FILE (as --export writes it)")
	_ = c.MarkFlagFilename("export")
	_ = c.MarkFlagFilename("import")
	return c
}

// cmdResolve does what resolve's checked command line f asks.
func cmdResolve(ctx context.Context, e *env, f resolveFlags, stdout io.Writer) error {
	cfg, st, closeAll, err := openBot(e, f.bot)
	if err != nil {
		return err
	}
	defer closeAll()
	switch {
	case len(f.accept) > 0:
		log, err := newLogger(e.stderr, f.bot.verbose, f.bot.logFormat, e.getenv)
		if err != nil {
			return err
		}
		p := pipeline.New(cfg, st, pipeline.Options{Log: log})
		return acceptProposals(ctx, stdout, p, pipeline.AcceptSpec{Run: f.learn.Run, Patches: f.accept,
			By: acceptor(f.by, e.getenv), Replace: f.learn.Replace})
	case f.learn.Fix != "":
		log, err := newLogger(e.stderr, f.bot.verbose, f.bot.logFormat, e.getenv)
		if err != nil {
			return err
		}
		p := pipeline.New(cfg, st, pipeline.Options{Log: log})
		return learnFix(ctx, stdout, p, f.learn)
	case f.list:
		return listResolutions(ctx, stdout, st)
	case f.export != "":
		return exportResolutions(ctx, stdout, st, f.export)
	default:
		return importResolutions(ctx, stdout, st, f.imp)
	}
}

// resolveFlags is resolve's command line: one of learn (a fix), list,
// export or import.
type resolveFlags struct {
	bot    botFlags
	learn  pipeline.LearnSpec
	list   bool
	export string
	imp    string
	accept []string // --accept
	by     string
}

// check checks that resolve's command line asks for one thing; every
// error it returns is a usage error.
func (f resolveFlags) check(c *cobra.Command) error {
	accept := len(f.accept) > 0
	learn := f.learn.Run != 0 || f.learn.Fix != "" || accept
	modes := 0
	for _, on := range []bool{learn, f.list, f.export != "", f.imp != ""} {
		if on {
			modes++
		}
	}
	if modes != 1 || f.learn.Run == 0 && learn || (f.learn.Fix != "") == accept && learn || (f.learn.Replace && !learn) {
		return usageOf(c, "give --run and --fix, or --run and --accept, or one of --list, --export and --import")
	}
	if f.by != "" && !accept {
		return usageOf(c, "--by goes with --accept")
	}
	return nil
}

// learnFix learns the resolution spec's fix carries and says what it
// remembered: per file, the diff of what is learnt and the resolution it
// replaces. A fix refused for replacing a remembered resolution without
// --replace shows the same, then the refusal.
func learnFix(ctx context.Context, w io.Writer, p *pipeline.Pipeline, spec pipeline.LearnSpec) error {
	learned, err := p.Learn(ctx, spec)
	if rep := (*pipeline.ReplaceError)(nil); errors.As(err, &rep) {
		printLearnt(w, rep.Learnt, "replaces")
	}
	if err != nil {
		return err
	}
	printLearnt(w, learned, "replacing")
	for _, r := range learned {
		verb := "remembered"
		if r.Known {
			verb = "already remembered"
		}
		fmt.Fprintf(w, "%s %s (patch %.12s, key %.12s): %s\n", verb, r.Path, r.PatchID, r.Key, r.Source)
	}
	return nil
}

// printLearnt prints what each resolution teaches, as a diff, and the
// resolution it replaces, after verb.
func printLearnt(w io.Writer, learned []pipeline.Learnt, verb string) {
	for _, r := range learned {
		fmt.Fprintf(w, "%s", r.Diff)
		if r.Replaces != nil {
			fmt.Fprintf(w, "%s %s\n", verb, r.ReplacedText())
		}
	}
}

// listResolutions lists the remembered resolutions.
func listResolutions(ctx context.Context, w io.Writer, st *state.Store) error {
	all, err := st.Resolutions(ctx, "", "")
	if err != nil {
		return err
	}
	if len(all) == 0 {
		fmt.Fprintln(w, "no remembered resolutions")
	}
	for _, r := range all {
		fmt.Fprintf(w, "%.12s %s, recorded %s, used %d time(s): %s\n", r.Key, r.Path, r.RecordedAt.Format("2006-01-02 15:04"), r.Used, r.Source)
	}
	return nil
}

// exportResolutions writes every remembered resolution to file, or to
// stdout when file is "-".
func exportResolutions(ctx context.Context, stdout io.Writer, st *state.Store, file string) error {
	all, err := st.Resolutions(ctx, "", "")
	if err != nil {
		return err
	}
	entries := make([]resolutions.Entry, len(all))
	for i, r := range all {
		entries[i] = resolutions.Entry{Resolution: merger.Resolution{PatchID: r.PatchID, Path: r.Path, Key: r.Key,
			Preimage: r.Preimage, Postimage: r.Postimage, Source: r.Source}, RecordedAt: r.RecordedAt}
	}
	if file == "-" {
		return resolutions.Write(stdout, entries)
	}
	if err := atomicfile.WriteFile(file, 0o644, func(w io.Writer) error { return resolutions.Write(w, entries) }); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %d resolution(s) to %s\n", len(entries), file)
	return nil
}

// importResolutions adds the resolutions of file, as exportResolutions
// writes it, to the state.
func importResolutions(ctx context.Context, stdout io.Writer, st *state.Store, file string) error {
	fh, err := os.Open(file)
	if err != nil {
		return err
	}
	entries, err := resolutions.Read(file, fh)
	fh.Close()
	if err != nil {
		return err
	}
	added, replaced := 0, 0
	for _, e := range entries {
		rep, err := st.SaveResolution(ctx, state.Resolution{Key: e.Key, PatchID: e.PatchID, Path: e.Path,
			Preimage: e.Preimage, Postimage: e.Postimage, Source: e.Source, RecordedAt: e.RecordedAt})
		if err != nil {
			return err
		}
		if rep {
			replaced++
		} else {
			added++
		}
	}
	fmt.Fprintf(stdout, "imported %s: %d resolution(s) added or already known, %d replaced by the file's version\n",
		file, added, replaced)
	return nil
}

// acceptProposals accepts the proposed refreshes spec names and says what
// it remembered, and whether the candidate runs again.
func acceptProposals(ctx context.Context, w io.Writer, p *pipeline.Pipeline, spec pipeline.AcceptSpec) error {
	acc, err := p.Accept(ctx, spec)
	if rep := (*pipeline.ReplaceError)(nil); errors.As(err, &rep) {
		printLearnt(w, rep.Learnt, "replaces")
	}
	if err != nil {
		return err
	}
	printLearnt(w, acc.Learnt, "replacing")
	for _, r := range acc.Learnt {
		verb := "remembered"
		if r.Known {
			verb = "already remembered"
		}
		fmt.Fprintf(w, "%s %s (patch %.12s, key %.12s): %s\n", verb, r.Path, r.PatchID, r.Key, r.Source)
	}
	if acc.Rerun != "" {
		fmt.Fprintf(w, "nothing else of run %d needs a human: the next pass runs the candidate again (%s)\n", spec.Run, acc.Rerun)
	}
	return nil
}

// acceptor is who accepts a proposal: by when given, else git's
// "user.name <user.email>", else $USER.
func acceptor(by string, getenv func(string) string) string {
	if by != "" {
		return by
	}
	gitConfig := func(key string) string {
		out, err := exec.Command("git", "config", "--get", key).Output()
		if err != nil {
			return ""
		}
		return strings.TrimSpace(string(out))
	}
	if name, email := gitConfig("user.name"), gitConfig("user.email"); name != "" && email != "" {
		return name + " <" + email + ">"
	}
	return getenv("USER")
}
