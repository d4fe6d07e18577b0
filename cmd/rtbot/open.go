package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/rtbot/rtbot/internal/config"
	"github.com/rtbot/rtbot/internal/pipeline"
	"github.com/rtbot/rtbot/internal/state"
)

// botFlags are the flags of the commands that open the bot with openBot:
// run, watch and resolve.
type botFlags struct {
	config  *string
	verbose *bool
}

// openBot loads the configuration, takes the lock and opens the state
// database. closeAll releases them in reverse order.
func openBot(f botFlags) (*config.Config, *state.Store, func(), error) {
	if *f.config == "" {
		return nil, nil, nil, usagef("--config is required")
	}
	cfg, err := config.Load(*f.config, pipeline.ConfigRules())
	if err != nil {
		return nil, nil, nil, &notConfigured{err}
	}
	if err := os.MkdirAll(cfg.Bot.Workdir, 0o755); err != nil {
		return nil, nil, nil, fmt.Errorf("workdir: %w", err)
	}
	release, err := pipeline.Lock(cfg.Bot.Lock)
	if err != nil {
		return nil, nil, nil, err
	}
	st, err := state.Open(context.Background(), cfg.Bot.State)
	if err != nil {
		release()
		return nil, nil, nil, err
	}
	return cfg, st, func() { st.Close(); release() }, nil
}

// openState opens the state database named by --config for reading only
// (status, history): any user who may read it can, and nothing is written
// (no migration either: an older file is an error saying so).
func openState(configPath string) (*config.Config, *state.Store, error) {
	return openStateWith(configPath, state.OpenReadOnly)
}

// openStateForWrite opens the state database named by --config to change
// it (action), migrating it when it is older than this binary.
func openStateForWrite(configPath string) (*config.Config, *state.Store, error) {
	return openStateWith(configPath, state.Open)
}

// openStateWith loads the configuration named by configPath and opens its
// existing state file with open.
func openStateWith(configPath string, open func(context.Context, string) (*state.Store, error)) (*config.Config, *state.Store, error) {
	if configPath == "" {
		return nil, nil, usagef("--config is required")
	}
	cfg, err := config.Load(configPath, pipeline.ConfigRules())
	if err != nil {
		return nil, nil, err
	}
	if _, err := os.Stat(cfg.Bot.State); err != nil {
		return nil, nil, fmt.Errorf("no state yet at %s (rtbot run has not run)", cfg.Bot.State)
	}
	st, err := open(context.Background(), cfg.Bot.State)
	if err != nil {
		return nil, nil, err
	}
	return cfg, st, nil
}

// exitStuck is pipeline.Options.Stuck for run and watch: a pass still
// running a while after its deadline has a step that ignores it, and
// ending the process is what releases the lock (the kernel drops the
// flock). Nothing is lost: the next pass resumes, as after a crash.
func exitStuck(cmd string, stderr io.Writer) func(error) {
	return func(err error) {
		fmt.Fprintf(stderr, "rtbot %s: %v\n", cmd, err)
		os.Exit(exitError)
	}
}

// logger logs to stderr: every step when verbose, else only problems.
func logger(stderr io.Writer, verbose bool) *slog.Logger {
	level := slog.LevelInfo
	if !verbose {
		level = slog.LevelWarn
	}
	return slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
}

// isTerminal reports whether f is a character device (a terminal), where
// fetch progress is worth printing.
func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
