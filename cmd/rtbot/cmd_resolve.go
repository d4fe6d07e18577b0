package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/rtbot/rtbot/internal/atomicfile"
	"github.com/rtbot/rtbot/internal/merger"
	"github.com/rtbot/rtbot/internal/pipeline"
	"github.com/rtbot/rtbot/internal/resolutions"
	"github.com/rtbot/rtbot/internal/state"
)

// cmdResolve records, lists, exports and imports remembered conflict
// resolutions (docs/resolutions.md).
func cmdResolve(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("resolve", "rtbot resolve --config FILE (--run ID --fix REV [--patch NAME] [--since REV] | --list | --export FILE | --import FILE)")
	f := botFlags{config: fs.String("config", "", "configuration file"), verbose: fs.Bool("v", false, "log every step")}
	runID := fs.Int64("run", 0, "the run whose conflict the fix resolves")
	fix := fs.String("fix", "", "revision (commit or branch) in the tree's repository that carries the resolved files")
	patch := fs.String("patch", "", "the conflicting patch the fix resolves (its file name); needed when several conflict")
	since := fs.String("since", "", "learn only what changed from this revision to --fix (default: the run's partial branch, when --fix builds on it)")
	list := fs.Bool("list", false, "list the remembered resolutions")
	export := fs.String("export", "", "write every resolution to FILE (JSON Lines; - for stdout) to share with other maintainers")
	imp := fs.String("import", "", "add the resolutions of FILE (as --export writes it)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	modes := 0
	for _, on := range []bool{*runID != 0 || *fix != "", *list, *export != "", *imp != ""} {
		if on {
			modes++
		}
	}
	if fs.NArg() > 0 || modes != 1 || (*runID != 0) != (*fix != "") {
		return usageOf(fs, "")
	}
	cfg, st, closeAll, err := openBot(f)
	if err != nil {
		return err
	}
	defer closeAll()
	switch {
	case *fix != "":
		p := pipeline.New(cfg, st, pipeline.Options{Log: logger(stderr, *f.verbose)})
		learned, err := p.Learn(ctx, pipeline.LearnSpec{Run: *runID, Fix: *fix, Patch: *patch, Since: *since})
		if err != nil {
			return err
		}
		for _, r := range learned {
			fmt.Fprintf(stdout, "remembered %s (patch %.12s, key %.12s): %s\n", r.Path, r.PatchID, r.Key, r.Source)
		}
		return nil
	case *list:
		all, err := st.Resolutions(ctx, "", "")
		if err != nil {
			return err
		}
		if len(all) == 0 {
			fmt.Fprintln(stdout, "no remembered resolutions")
		}
		for _, r := range all {
			fmt.Fprintf(stdout, "%.12s %s, recorded %s, used %d time(s): %s\n", r.Key, r.Path, r.RecordedAt.Format("2006-01-02 15:04"), r.Used, r.Source)
		}
		return nil
	case *export != "":
		all, err := st.Resolutions(ctx, "", "")
		if err != nil {
			return err
		}
		entries := make([]resolutions.Entry, len(all))
		for i, r := range all {
			entries[i] = resolutions.Entry{Resolution: merger.Resolution{PatchID: r.PatchID, Path: r.Path, Key: r.Key,
				Preimage: r.Preimage, Postimage: r.Postimage, Source: r.Source}, RecordedAt: r.RecordedAt}
		}
		if *export == "-" {
			if err := resolutions.Write(stdout, entries); err != nil {
				return err
			}
			return nil
		}
		if err := atomicfile.WriteFile(*export, 0o644, func(w io.Writer) error { return resolutions.Write(w, entries) }); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "wrote %d resolution(s) to %s\n", len(entries), *export)
		return nil
	default:
		fh, err := os.Open(*imp)
		if err != nil {
			return err
		}
		entries, err := resolutions.Read(*imp, fh)
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
			*imp, added, replaced)
		return nil
	}
}
