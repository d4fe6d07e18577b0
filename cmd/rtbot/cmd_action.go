package main

import (
	"context"
	"fmt"
	"io"
)

// cmdAction implements `rtbot action`: an operator settles an action that
// was interrupted while committing, or has one that failed for good (a
// report the server refused) done again by the next pass.
func cmdAction(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("action", "rtbot action --config FILE (--done | --retry) ID")
	cfgPath := fs.String("config", "", "configuration file")
	done := fs.Bool("done", false, "the action happened (for instance the report did arrive): never do it again")
	retry := fs.Bool("retry", false, "the action did not happen (or failed for good and its cause is fixed): the next pass does it again")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	var id int64
	if fs.NArg() != 1 || *done == *retry {
		return usageOf(fs, "")
	}
	if _, err := fmt.Sscan(fs.Arg(0), &id); err != nil || id <= 0 {
		return usagef("%q is not an action id (see rtbot status)", fs.Arg(0))
	}
	_, st, err := openStateForWrite(*cfgPath)
	if err != nil {
		return err
	}
	defer st.Close()
	if *done {
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
