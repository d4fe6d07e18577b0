package main

import (
	"flag"
	"io"
	"strings"
)

// newFlags returns a flag set for subcommand name whose usage is
// usageLine and the flags. It prints nothing itself: parseFlags and
// usageOf hand what it would print to run, in a usage error.
func newFlags(name, usageLine string) *flag.FlagSet {
	fs := flag.NewFlagSet("rtbot "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {
		io.WriteString(fs.Output(), "usage: "+usageLine+"\n")
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args. For -h, or a flag that is wrong, it returns a
// usage error that prints what the flag package says (for -h, the usage;
// else what is wrong, then the usage).
func parseFlags(fs *flag.FlagSet, args []string) error {
	var said strings.Builder
	fs.SetOutput(&said)
	defer fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		return &usageError{usage: said.String(), err: err}
	}
	return nil
}

// usageText is fs's usage, as fs.Usage prints it.
func usageText(fs *flag.FlagSet) string {
	var b strings.Builder
	out := fs.Output()
	fs.SetOutput(&b)
	defer fs.SetOutput(out)
	fs.Usage()
	return b.String()
}
