package main

import (
	"context"
	"errors"

	"github.com/rtbot/rtbot/internal/pipeline"
	"github.com/spf13/cobra"
)

// newWatchCmd is `rtbot watch`: it stays connected and processes
// announcements as they come, until it is interrupted. A daemon's log is
// all there is to see of it: it logs every step unless --quiet (-v is
// accepted, and changes nothing).
func newWatchCmd(e *env) *cobra.Command {
	var f botFlags
	var quiet bool
	c := &cobra.Command{
		Use:   "watch",
		Short: "stay connected (IMAP IDLE) and process announcements as they come",
		Long: `The daemon: stay connected to the IMAP server (IDLE) and process
announcements as they come, until interrupted. The preflight runs at start
and after every reconnection; while a server does not answer, rtbot waits
with the reconnection backoff and checks again; a problem only a human can
fix ends it (exit 78, or 77 for credentials a server refused), which the
systemd unit does not restart on. It logs every step unless --quiet.`,
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			f.verbose = !quiet
			return cmdWatch(c.Context(), e, f)
		},
	}
	f.addConfig(c)
	f.addLog(c, "log every step (watch does unless --quiet)")
	c.Flags().BoolVarP(&quiet, "quiet", "q", false, "log only problems, not every step")
	return c
}

// cmdWatch is `rtbot watch` once its command line is checked.
func cmdWatch(ctx context.Context, e *env, f botFlags) error {
	cfg, st, closeAll, err := openBot(e, f)
	if err != nil {
		return err
	}
	defer closeAll()
	log, err := newLogger(e.stderr, f.verbose, f.logFormat, e.getenv)
	if err != nil {
		return err
	}
	logWatchStart(log, cfg.Path, cfg)
	opts := pipeline.Options{Log: log, Fault: crashHook(), Preflight: true, Stuck: exitStuck("watch", e.stderr)}
	err = pipeline.New(cfg, st, opts).Watch(ctx)
	logWatchStop(ctx, log, err)
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return notConfiguredIf(err)
}
