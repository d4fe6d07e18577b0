package main

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"
)

// env is what one invocation of rtbot runs with besides its command line:
// where it writes and how it reads its environment. Every command gets it
// from newRoot; nothing of it is package-level, so tests run many rtbots
// side by side, each with its own environment.
type env struct {
	stdout, stderr io.Writer
	// getenv reads an environment variable (os.Getenv in main).
	getenv func(string) string
	// exists reports whether a file exists (for the default configuration).
	exists func(string) bool
}

// rootLong is what `rtbot --help` says before the commands.
const rootLong = `rtbot keeps the PREEMPT_RT patch queue merged onto every Linux stable
release candidate, unattended. It watches the stable list for review
announcements, rebases the RT queue onto each candidate, gives every patch a
status, an action and a cause, and either hands a clean branch to testing
or mails the maintainers a triage report.

Start with 'rtbot demo' (no configuration, no network); then write a
configuration (docs/rtbot.example.toml), check it with 'rtbot check' and run
'rtbot run' from a timer or 'rtbot watch' as a daemon.`

// newRoot builds rtbot's command line: the root command and one
// subcommand per cmd_<name>.go, each writing to e's output.
func newRoot(e *env) *cobra.Command {
	root := &cobra.Command{
		Use:   "rtbot",
		Short: "rebase the PREEMPT_RT queue onto Linux stable release candidates",
		Long:  rootLong + "\n\n" + configHelp + "\n\n" + exitStatusHelp(),
		// rtbot prints errors itself (printError), once, usage errors
		// with the usage.
		SilenceErrors: true,
		SilenceUsage:  true,
		Args:          cobra.ArbitraryArgs,
		RunE:          runRoot,
		Version:       versionText(readBuildInfo()),
		// "did you mean" for a mistyped command: rnu, stauts.
		SuggestionsMinimumDistance: 2,
	}
	root.SetOut(e.stdout)
	root.SetErr(e.stderr)
	root.SetVersionTemplate("{{.Version}}")
	// --version without the -v cobra would add: -v is --verbose.
	root.Flags().Bool("version", false, "print rtbot's version, its VCS revision and the Go version")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return &usageError{msg: err.Error(), usage: c.UsageString()}
	})
	root.AddCommand(
		newMergeCmd(), newDemoCmd(), newAnnounceCmd(), newRunCmd(e), newWatchCmd(e),
		newCheckCmd(e), newHistoryCmd(e), newActionCmd(e), newRerunCmd(e), newResolveCmd(e),
		newStatusCmd(e), newReleaseCmd(e), newResultsCmd(e), newVersionCmd(), newManCmd(e),
	)
	root.SetHelpCommand(newHelpCmd())
	return root
}

// runRoot is `rtbot` without a command, or with one that does not exist:
// a usage error, with suggestions for a mistyped command.
func runRoot(c *cobra.Command, args []string) error {
	if len(args) == 0 {
		return &usageError{usage: c.UsageString()}
	}
	msg := fmt.Sprintf("unknown command %q", args[0])
	if s := c.SuggestionsFor(args[0]); len(s) > 0 {
		msg += "; did you mean " + strings.Join(s, " or ") + "?"
	}
	return &usageError{msg: msg, usage: c.UsageString()}
}

// newHelpCmd is `rtbot help [COMMAND]`: the help of rtbot or of a command,
// on stdout; an unknown command is a usage error.
func newHelpCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "help [COMMAND]",
		Short: "print the help of rtbot or of a command",
		Args:  maxArgs(1, "name one command"),
		ValidArgsFunction: func(c *cobra.Command, args []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
			var names []cobra.Completion
			for _, sub := range c.Root().Commands() {
				if sub.IsAvailableCommand() {
					names = append(names, sub.Name())
				}
			}
			return names, cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(c *cobra.Command, args []string) error {
			target, rest, err := c.Root().Find(args)
			if err != nil || len(rest) > 0 || (target == c.Root() && len(args) > 0) {
				return &usageError{msg: fmt.Sprintf("no command %q (rtbot --help lists them)", strings.Join(args, " "))}
			}
			target.InitDefaultHelpFlag() // as `rtbot CMD --help` shows it
			return target.Help()
		},
	}
}

// noArgs is cobra's Args for a command that takes no arguments: any is a
// usage error.
func noArgs(c *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageOf(c, fmt.Sprintf("unexpected argument %q", args[0]))
	}
	return nil
}

// exactArgs is cobra's Args for a command that takes n arguments; msg says
// what they are when there are not n.
func exactArgs(n int, msg string) cobra.PositionalArgs {
	return func(c *cobra.Command, args []string) error {
		if len(args) != n {
			return usageOf(c, msg)
		}
		return nil
	}
}

// minArgs is cobra's Args for a command that takes at least n arguments.
func minArgs(n int, msg string) cobra.PositionalArgs {
	return func(c *cobra.Command, args []string) error {
		if len(args) < n {
			return usageOf(c, msg)
		}
		return nil
	}
}

// maxArgs is cobra's Args for a command that takes at most n arguments.
func maxArgs(n int, msg string) cobra.PositionalArgs {
	return func(c *cobra.Command, args []string) error {
		if len(args) > n {
			return usageOf(c, msg)
		}
		return nil
	}
}

// botFlags are the flags of the commands that read a configuration:
// --config, and for those that log, -v/--verbose and --log-format.
type botFlags struct {
	config    string
	verbose   bool
	logFormat string
}

// logFormats are the values of --log-format.
func logFormats() []string { return []string{"auto", "text", "json", "journal"} }

// addConfig adds --config to c.
func (f *botFlags) addConfig(c *cobra.Command) {
	c.Flags().StringVar(&f.config, "config", "", "configuration file (default: see Configuration in rtbot --help)")
	_ = c.MarkFlagFilename("config", "toml")
}

// addLog adds -v/--verbose and --log-format to c; verboseHelp says what
// -v does there.
func (f *botFlags) addLog(c *cobra.Command, verboseHelp string) {
	c.Flags().BoolVarP(&f.verbose, "verbose", "v", false, verboseHelp)
	f.logFormat = "auto"
	formats := logFormats()
	c.Flags().Var(&enumValue{v: &f.logFormat, allowed: formats}, "log-format",
		"log as "+strings.Join(formats, ", ")+" (auto: journal under systemd, else text)")
	_ = c.RegisterFlagCompletionFunc("log-format", cobra.FixedCompletions(formats, cobra.ShellCompDirectiveNoFileComp))
}

// enumValue is a string flag that takes one of allowed: another value is
// a usage error when the flag is parsed.
type enumValue struct {
	v       *string
	allowed []string
}

func (e *enumValue) String() string { return *e.v }

func (e *enumValue) Type() string { return "string" }

func (e *enumValue) Set(s string) error {
	if !slices.Contains(e.allowed, s) {
		return fmt.Errorf("want one of %s", strings.Join(e.allowed, ", "))
	}
	*e.v = s
	return nil
}
