package main

import (
	"context"
	"io"

	"github.com/rtbot/rtbot/internal/pipeline"
	"github.com/spf13/cobra"
)

// newRerunCmd is `rtbot rerun RUN|ANNOUNCEMENT`: an operator redoes a
// run, or an announcement, on purpose (see pipeline.Rerun): a failed one
// once its cause is fixed, an ignored one once the configuration accepts
// it, a finished one as new runs with new reports. It then processes what
// is pending, as `rtbot run` does without reading the mailbox.
func newRerunCmd(e *env) *cobra.Command {
	var f botFlags
	var asJSON bool
	c := &cobra.Command{
		Use:   "rerun RUN|ANNOUNCEMENT",
		Short: "redo a run or an announcement on purpose (a failed one once fixed, a finished one afresh)",
		Long: `Redo on purpose a run (by id) or an announcement (by Message-ID): a failed
one is tried again, an ignored one looked at again, a finished one run
afresh as new runs with new reports. Then process what is pending, as
rtbot run does without reading the mailbox, with run's output and exit
codes. A run or announcement that does not exist is an error.`,
		Args: exactArgs(1, "name one run id or announcement Message-ID (see rtbot status, rtbot history)"),
		RunE: func(c *cobra.Command, args []string) error {
			return cmdRerun(c.Context(), e, f, asJSON, args[0], c.OutOrStdout())
		},
	}
	f.addConfig(c)
	f.addLog(c, "log every step, not only problems")
	c.Flags().BoolVar(&asJSON, "json", false, "print what the pass did as one JSON document")
	return c
}

// cmdRerun reruns target, a run id or a Message-ID.
func cmdRerun(ctx context.Context, e *env, f botFlags, asJSON bool, target string, stdout io.Writer) error {
	cfg, st, closeAll, err := openBot(e, f)
	if err != nil {
		return err
	}
	defer closeAll()
	opts, err := passOptions(e, f)
	if err != nil {
		return err
	}
	pass, err := pipeline.New(cfg, st, opts).Rerun(ctx, target)
	return reportPass(stdout, pass, asJSON, err)
}
