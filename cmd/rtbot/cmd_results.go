package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/rtbot/rtbot/internal/pipeline"
	"github.com/spf13/cobra"
)

// newResultsCmd is `rtbot results`, whose one subcommand, import, reads
// KCIDB test results into the state file.
func newResultsCmd(e *env) *cobra.Command {
	c := &cobra.Command{
		Use:   "results",
		Short: "test results: import KCIDB documents for rtbot's checkouts",
		Long: `Test results reach rtbot as KCIDB documents about the checkouts its
triggers were given (docs/results.md): from a command trigger's
RTBOT_RESULTS file, from the [results] dir, or by hand with
'rtbot results import'.`,
		Args: noArgs,
	}
	c.AddCommand(newResultsImportCmd(e))
	return c
}

// newResultsImportCmd is `rtbot results import FILE...`.
func newResultsImportCmd(e *env) *cobra.Command {
	var f botFlags
	c := &cobra.Command{
		Use:   "import FILE...",
		Short: "import KCIDB result documents (builds and tests of rtbot's checkouts)",
		Long: `Import KCIDB v5 documents: the builds and tests of checkouts rtbot wrote
are recorded (a result imported again replaces itself); anything about
another checkout is refused and listed. The next pass mails the
follow-up of a run whose results are complete. Exit status 1 when a file
is not a KCIDB v5 document or nothing of it was taken.`,
		Args: func(c *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageOf(c, "name at least one KCIDB file")
			}
			return nil
		},
		RunE: func(c *cobra.Command, args []string) error {
			return cmdResultsImport(c.Context(), e, f.config, args, c.OutOrStdout())
		},
	}
	f.addConfig(c)
	return c
}

// cmdResultsImport imports each file and says what became of it.
func cmdResultsImport(ctx context.Context, e *env, cfgPath string, files []string, stdout io.Writer) error {
	cfg, st, err := openStateForWrite(e, cfgPath)
	if err != nil {
		return err
	}
	defer st.Close()
	p := pipeline.New(cfg, st, pipeline.Options{})
	var errs []error
	for _, file := range files {
		im, err := p.ImportResults(ctx, file, pipeline.SourceImport)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		fmt.Fprintf(stdout, "%s: %d imported, %d refused\n", file, im.Results, len(im.Refused))
		for _, why := range im.Refused {
			fmt.Fprintf(stdout, "  refused: %s\n", why)
		}
		for _, c := range im.Finished {
			fmt.Fprintf(stdout, "  finished: %s\n", c)
		}
		if im.Results == 0 && len(im.Finished) == 0 {
			errs = append(errs, fmt.Errorf("%s: nothing for a checkout rtbot wrote", file))
		}
	}
	return errors.Join(errs...)
}
