package main

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

// newActionCmd is `rtbot action`: an operator settles an action that was
// interrupted while committing, or has one that failed for good (a report
// the server refused) done again by the next pass.
func newActionCmd(e *env) *cobra.Command {
	var f botFlags
	var done, retry bool
	c := &cobra.Command{
		Use:   "action (--done | --retry) ID",
		Short: "settle an interrupted action by hand: --done or --retry",
		Long: `Settle by hand an action rtbot could not: one interrupted at its point of
no return (a report that may have been mailed), or one that failed for
good (a report the server refused). rtbot status lists them, with their
ids and what to do.`,
		Args: exactArgs(1, "name one action id (see rtbot status)"),
		RunE: func(c *cobra.Command, args []string) error {
			if done == retry {
				return usageOf(c, "give one of --done and --retry")
			}
			var id int64
			if _, err := fmt.Sscan(args[0], &id); err != nil || id <= 0 {
				return usagef("%q is not an action id (see rtbot status)", args[0])
			}
			return cmdAction(c.Context(), e, f.config, id, done, c.OutOrStdout())
		},
	}
	f.addConfig(c)
	c.Flags().BoolVar(&done, "done", false, "the action happened (for instance the report did arrive): never do it again")
	c.Flags().BoolVar(&retry, "retry", false, "the action did not happen (or failed for good and its cause is fixed): the next pass does it again")
	return c
}

// cmdAction records action id done, or to retry.
func cmdAction(ctx context.Context, e *env, cfgPath string, id int64, done bool, stdout io.Writer) error {
	_, st, err := openStateForWrite(e, cfgPath)
	if err != nil {
		return err
	}
	defer st.Close()
	if done {
		if err := st.Done(ctx, id); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "action %d: recorded done; it is never done again\n", id)
		return nil
	}
	if err := st.RetryAction(ctx, id); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "action %d: the next pass does it again\n", id)
	return nil
}
