package main

import (
	"context"
	"errors"
	"io"
	"os"

	"github.com/rtbot/rtbot/internal/pipeline"
)

// cmdWatch implements `rtbot watch`: it stays connected and processes
// announcements as they come, until it is interrupted.
func cmdWatch(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("watch", "rtbot watch --config FILE [-v]")
	f := botFlags{config: fs.String("config", "", "configuration file (see docs/rtbot.example.toml)"),
		verbose: fs.Bool("v", true, "log every step, not only problems")}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageOf(fs, "")
	}
	cfg, st, closeAll, err := openBot(f)
	if err != nil {
		return err
	}
	defer closeAll()
	log, err := newLogger(stderr, *f.verbose, logAuto, os.Getenv)
	if err != nil {
		return err
	}
	logWatchStart(log, *f.config, cfg)
	opts := pipeline.Options{Log: log, Fault: crashHook(), Preflight: true, Stuck: exitStuck("watch", stderr)}
	err = pipeline.New(cfg, st, opts).Watch(ctx)
	logWatchStop(ctx, log, err)
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return notConfiguredIf(err)
}
