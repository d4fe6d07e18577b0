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

// botFlags are the flags run and watch share.
type botFlags struct {
	config  *string
	verbose *bool
}

// openBot loads the configuration, takes the lock and opens the state
// database. close releases them in reverse order.
func openBot(name string, f botFlags, stderr io.Writer) (cfg *config.Config, st *state.Store, closeAll func(), code int) {
	if *f.config == "" {
		fmt.Fprintf(stderr, "rtbot %s: --config is required\n", name)
		return nil, nil, nil, exitUsage
	}
	cfg, err := config.Load(*f.config)
	if err != nil {
		fmt.Fprintf(stderr, "rtbot %s: %v\n", name, err)
		return nil, nil, nil, exitError
	}
	if err := os.MkdirAll(cfg.Bot.Workdir, 0o755); err != nil {
		fmt.Fprintf(stderr, "rtbot %s: workdir: %v\n", name, err)
		return nil, nil, nil, exitError
	}
	release, err := pipeline.Lock(cfg.Bot.Lock)
	if err != nil {
		fmt.Fprintf(stderr, "rtbot %s: %v\n", name, err)
		return nil, nil, nil, exitError
	}
	st, err = state.Open(context.Background(), cfg.Bot.State)
	if err != nil {
		release()
		fmt.Fprintf(stderr, "rtbot %s: %v\n", name, err)
		return nil, nil, nil, exitError
	}
	return cfg, st, func() { st.Close(); release() }, 0
}

// openState opens the state database named by --config for reading.
func openState(name string, configPath string, stderr io.Writer) (*config.Config, *state.Store, int) {
	if configPath == "" {
		fmt.Fprintf(stderr, "rtbot %s: --config is required\n", name)
		return nil, nil, exitUsage
	}
	cfg, err := config.Load(configPath)
	if err != nil {
		fmt.Fprintf(stderr, "rtbot %s: %v\n", name, err)
		return nil, nil, exitError
	}
	if _, err := os.Stat(cfg.Bot.State); err != nil {
		fmt.Fprintf(stderr, "rtbot %s: no state yet at %s (rtbot run has not run)\n", name, cfg.Bot.State)
		return nil, nil, exitError
	}
	st, err := state.Open(context.Background(), cfg.Bot.State)
	if err != nil {
		fmt.Fprintf(stderr, "rtbot %s: %v\n", name, err)
		return nil, nil, exitError
	}
	return cfg, st, 0
}

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
