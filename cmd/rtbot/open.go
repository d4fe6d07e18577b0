package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/rtbot/rtbot/internal/config"
	"github.com/rtbot/rtbot/internal/pipeline"
	"github.com/rtbot/rtbot/internal/state"
	"github.com/spf13/cobra"
)

// openBot loads the configuration (see configPath), takes the lock and
// opens the state database. closeAll releases them in reverse order.
func openBot(e *env, f botFlags) (*config.Config, *state.Store, func(), error) {
	path, err := configPath(f.config, e.getenv, e.exists)
	if err != nil {
		return nil, nil, nil, err
	}
	cfg, err := config.Load(path, pipeline.ConfigRules())
	if err != nil {
		return nil, nil, nil, &notConfigured{err: err}
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

// openState opens the state database of the configuration --config
// (configFlag) names, or the default one, for reading only (status,
// history): any user who may read it can, and nothing is written (no
// migration either: an older file is an error saying so).
func openState(e *env, configFlag string) (*config.Config, *state.Store, error) {
	return openStateWith(e, configFlag, state.OpenReadOnly)
}

// openStateForWrite opens the state database of the configuration
// --config (configFlag) names, or the default one, to change it (action),
// migrating it when it is older than this binary.
func openStateForWrite(e *env, configFlag string) (*config.Config, *state.Store, error) {
	return openStateWith(e, configFlag, state.Open)
}

// openStateWith loads the configuration configFlag names (or the default
// one) and opens its existing state file with open.
func openStateWith(e *env, configFlag string, open func(context.Context, string) (*state.Store, error)) (*config.Config, *state.Store, error) {
	path, err := configPath(configFlag, e.getenv, e.exists)
	if err != nil {
		return nil, nil, err
	}
	cfg, err := config.Load(path, pipeline.ConfigRules())
	if err != nil {
		return nil, nil, &notConfigured{err: err}
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

// checkTree checks that name ("" for every tree) is a tree of cfg: an
// unknown tree is an error (exit 1) that names the trees there are.
func checkTree(cfg *config.Config, name string) error {
	if name == "" {
		return nil
	}
	var names []string
	for _, t := range cfg.Trees {
		if t.Name == name {
			return nil
		}
		names = append(names, t.Name)
	}
	return fmt.Errorf("--tree %s: %s has no [[tree]] named %q (it has %s)", name, cfg.Path, name, strings.Join(names, ", "))
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

// isTerminal reports whether f is a character device (a terminal), where
// fetch progress is worth printing.
func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// completeTrees completes --tree with the trees of the configuration
// --config (configFlag, read when the shell asks) names, or the default
// one; nothing when it does not load.
func completeTrees(e *env, configFlag *string) cobra.CompletionFunc {
	return func(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
		path, err := configPath(*configFlag, e.getenv, e.exists)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		cfg, err := config.Load(path, pipeline.ConfigRules())
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var names []cobra.Completion
		for _, t := range cfg.Trees {
			names = append(names, t.Name)
		}
		return names, cobra.ShellCompDirectiveNoFileComp
	}
}
