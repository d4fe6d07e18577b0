package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/rtbot/rtbot/internal/pipeline"
)

func cmdWatch(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("watch", "rtbot watch --config FILE [-v]", stderr)
	f := botFlags{config: fs.String("config", "", "configuration file (see docs/rtbot.example.toml)"),
		verbose: fs.Bool("v", true, "log every step, not only problems")}
	if code, done := parseFlags(fs, args); done {
		return code
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return exitUsage
	}
	cfg, st, closeAll, code := openBot("watch", f, stderr)
	if cfg == nil {
		return code
	}
	defer closeAll()
	err := pipeline.New(cfg, st, pipeline.Options{Log: logger(stderr, *f.verbose), Fault: crashHook()}).Watch(ctx)
	if err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintf(stderr, "rtbot watch: %v\n", err)
		return exitError
	}
	return exitOK
}
