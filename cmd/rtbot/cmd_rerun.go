package main

import (
	"context"
	"io"

	"github.com/rtbot/rtbot/internal/pipeline"
)

// cmdRerun implements `rtbot rerun RUN|ANNOUNCEMENT`: an operator redoes a
// run, or an announcement, on purpose (see pipeline.Rerun): a failed one
// once its cause is fixed, an ignored one once the configuration accepts
// it, a finished one as new runs with new reports. It then processes what
// is pending, as `rtbot run` does without reading the mailbox.
func cmdRerun(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("rerun", "rtbot rerun --config FILE [--json] [-v] RUN|ANNOUNCEMENT")
	f := botFlags{config: fs.String("config", "", "configuration file (see docs/rtbot.example.toml)"),
		verbose: fs.Bool("v", false, "log every step, not only problems")}
	asJSON := fs.Bool("json", false, "print what the pass did as one JSON document")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageOf(fs, "name one run id or announcement Message-ID (see rtbot status, rtbot history)")
	}
	cfg, st, closeAll, err := openBot(f)
	if err != nil {
		return err
	}
	defer closeAll()
	opts, err := passOptions(stderr, *f.verbose, logAuto)
	if err != nil {
		return err
	}
	pass, err := pipeline.New(cfg, st, opts).Rerun(ctx, fs.Arg(0))
	return reportPass(stdout, pass, *asJSON, err)
}
