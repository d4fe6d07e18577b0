package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/rtbot/rtbot/internal/config"
)

// Log formats (--log-format). "auto" is journal when stderr is connected
// to the systemd journal (JOURNAL_STREAM names it), else text.
const (
	logAuto    = "auto"
	logText    = "text"
	logJSON    = "json"
	logJournal = "journal"
)

// logLevelEnv names the environment variable that sets the log level
// (debug, info, warn, error), whatever -v says: RTBOT_LOG_LEVEL=debug shows
// the debug lines (watch's wake-ups), which no flag shows.
const logLevelEnv = "RTBOT_LOG_LEVEL"

// newLogger returns the logger of a command that logs to stderr: every
// step when verbose, else only problems, unless getenv(RTBOT_LOG_LEVEL)
// names a level. format is one of "auto" (or ""), "text", "json" and
// "journal" (docs/operations.md, "Logs"):
//
//   - text: slog's key=value lines, with durations rounded (966ms, not
//     965.975737ms);
//   - journal: the same without the time, which journald records itself,
//     each line prefixed with its syslog priority as sd-daemon(3) says
//     (<7> debug, <6> info, <4> warn, <3> error);
//   - json: slog's JSON lines, durations rounded (in nanoseconds, slog's
//     encoding);
//   - auto: journal when getenv("JOURNAL_STREAM") names stderr's device
//     and inode, as systemd sets it for a service whose stderr is the
//     journal; else text. Only stderr itself can match: a writer that is
//     not an *os.File never does, and neither does a stderr redirected
//     elsewhere by a child of a service (the variable is inherited).
func newLogger(stderr io.Writer, verbose bool, format string, getenv func(string) string) (*slog.Logger, error) {
	level, err := logLevel(verbose, getenv(logLevelEnv))
	if err != nil {
		return nil, err
	}
	if format == "" || format == logAuto {
		format = logText
		if isJournalStream(stderr, getenv("JOURNAL_STREAM")) {
			format = logJournal
		}
	}
	opts := &slog.HandlerOptions{Level: level, ReplaceAttr: roundDurations}
	switch format {
	case logText:
		return slog.New(slog.NewTextHandler(stderr, opts)), nil
	case logJSON:
		return slog.New(slog.NewJSONHandler(stderr, opts)), nil
	case logJournal:
		return slog.New(newJournalHandler(stderr, level)), nil
	}
	return nil, usagef("--log-format: unknown format %q: auto, text, json or journal", format)
}

// logLevel is the lowest level logged: env (RTBOT_LOG_LEVEL) when set,
// else info when verbose and warn otherwise.
func logLevel(verbose bool, env string) (slog.Level, error) {
	if env != "" {
		var l slog.Level
		if err := l.UnmarshalText([]byte(env)); err != nil {
			return 0, fmt.Errorf("%s=%q: not a log level (debug, info, warn or error)", logLevelEnv, env)
		}
		return l, nil
	}
	if verbose {
		return slog.LevelInfo, nil
	}
	return slog.LevelWarn, nil
}

// isJournalStream reports whether stream, the value of JOURNAL_STREAM
// ("DEVICE:INODE", decimal), names w's device and inode: w is then the
// stream systemd connected to the journal (systemd.exec(5)).
func isJournalStream(w io.Writer, stream string) bool {
	devS, inoS, ok := strings.Cut(stream, ":")
	if !ok {
		return false
	}
	dev, err1 := strconv.ParseUint(devS, 10, 64)
	ino, err2 := strconv.ParseUint(inoS, 10, 64)
	f, isFile := w.(*os.File)
	if err1 != nil || err2 != nil || !isFile {
		return false
	}
	fi, err := f.Stat()
	if err != nil {
		return false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && uint64(st.Dev) == dev && uint64(st.Ino) == ino
}

// roundDurations is a slog ReplaceAttr that rounds every duration to what
// a human reads (roundDuration).
func roundDurations(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() == slog.KindDuration {
		a.Value = slog.DurationValue(roundDuration(a.Value.Duration()))
	}
	return a
}

// roundDuration rounds d to three or four significant digits at most:
// microseconds below a millisecond, milliseconds below a second,
// hundredths of a second below a minute, seconds above.
func roundDuration(d time.Duration) time.Duration {
	abs := d.Abs()
	switch {
	case abs < time.Millisecond:
		return d.Round(time.Microsecond)
	case abs < time.Second:
		return d.Round(time.Millisecond)
	case abs < time.Minute:
		return d.Round(10 * time.Millisecond)
	}
	return d.Round(time.Second)
}

// journalHandler writes slog's text lines without their time, each
// prefixed with its sd-daemon priority, in one Write per record.
type journalHandler struct {
	out  io.Writer
	mu   *sync.Mutex   // guards buf; shared with the handlers derived from this one
	buf  *bytes.Buffer // where text writes a record
	text slog.Handler  // a TextHandler writing to buf
}

// newJournalHandler returns a journalHandler writing to out the records
// at level and above.
func newJournalHandler(out io.Writer, level slog.Leveler) *journalHandler {
	buf := new(bytes.Buffer)
	text := slog.NewTextHandler(buf, &slog.HandlerOptions{Level: level, ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
		if len(groups) == 0 && a.Key == slog.TimeKey {
			return slog.Attr{} // journald records the time itself
		}
		return roundDurations(groups, a)
	}})
	return &journalHandler{out: out, mu: new(sync.Mutex), buf: buf, text: text}
}

// Enabled implements slog.Handler.
func (h *journalHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.text.Enabled(ctx, l)
}

// Handle implements slog.Handler: "<N>" and the text line.
func (h *journalHandler) Handle(ctx context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.buf.Reset()
	fmt.Fprintf(h.buf, "<%d>", journalPriority(r.Level))
	if err := h.text.Handle(ctx, r); err != nil {
		return err
	}
	_, err := h.out.Write(h.buf.Bytes())
	return err
}

// WithAttrs implements slog.Handler.
func (h *journalHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &journalHandler{out: h.out, mu: h.mu, buf: h.buf, text: h.text.WithAttrs(attrs)}
}

// WithGroup implements slog.Handler.
func (h *journalHandler) WithGroup(name string) slog.Handler {
	return &journalHandler{out: h.out, mu: h.mu, buf: h.buf, text: h.text.WithGroup(name)}
}

// journalPriority is the syslog priority of a slog level, as sd-daemon(3)
// numbers them: 7 debug, 6 info, 4 warning, 3 error.
func journalPriority(l slog.Level) int {
	switch {
	case l < slog.LevelInfo:
		return 7
	case l < slog.LevelWarn:
		return 6
	case l < slog.LevelError:
		return 4
	}
	return 3
}

// logWatchStart logs that `rtbot watch` starts: rtbot's version, the
// configuration file and the trees it serves.
func logWatchStart(log *slog.Logger, configPath string, cfg *config.Config) {
	trees := make([]string, 0, len(cfg.Trees))
	for _, t := range cfg.Trees {
		trees = append(trees, t.Name)
	}
	log.Info("watch started", "version", logVersion(), "config", configPath, "trees", strings.Join(trees, ","), "pid", os.Getpid())
}

// logWatchStop logs why `rtbot watch` stops: ctx is the context Watch
// ran under (its cause names the signal that ended it), err what Watch
// returned.
func logWatchStop(ctx context.Context, log *slog.Logger, err error) {
	if ctx.Err() != nil {
		log.Info("watch stopped", "reason", context.Cause(ctx).Error())
		return
	}
	log.Error("watch stopped", "reason", "error", "err", err)
}

// logVersion is rtbot's version as the build recorded it: the main
// module's version (for a build from a git checkout, a pseudo-version
// naming the commit, "+dirty" when it had changes), and the VCS revision
// when the version does not name it.
func logVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := bi.Main.Version
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 && !strings.Contains(v, s.Value[:12]) {
			v += " " + s.Value[:12]
		}
	}
	return v
}
