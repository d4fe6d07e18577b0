package main

import (
	"context"
	"errors"
	"fmt"
	"io"
)

func cmdAction(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("action", "rtbot action --config FILE (--done | --retry) ID", stderr)
	cfgPath := fs.String("config", "", "configuration file")
	done := fs.Bool("done", false, "the action happened (for instance the report did arrive): never do it again")
	retry := fs.Bool("retry", false, "the action did not happen: the next pass does it again")
	if code, stop := parseFlags(fs, args); stop {
		return code
	}
	var id int64
	if fs.NArg() != 1 || *done == *retry {
		fs.Usage()
		return exitUsage
	}
	if _, err := fmt.Sscan(fs.Arg(0), &id); err != nil || id <= 0 {
		fmt.Fprintf(stderr, "rtbot action: %q is not an action id (see rtbot status)\n", fs.Arg(0))
		return exitUsage
	}
	_, st, code := openState("action", *cfgPath, stderr)
	if st == nil {
		return code
	}
	defer st.Close()
	var err error
	if *done {
		err = st.Done(ctx, id)
	} else {
		err = st.Failed(ctx, id, errors.New("an operator asked for a retry"))
	}
	if err != nil {
		fmt.Fprintf(stderr, "rtbot action: %v\n", err)
		return exitError
	}
	return exitOK
}
