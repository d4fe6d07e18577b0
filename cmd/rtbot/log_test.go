package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// envOf is a getenv over a map.
func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// journalStreamOf is JOURNAL_STREAM as systemd would set it for f.
func journalStreamOf(t *testing.T, f *os.File) string {
	t.Helper()
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	return fmt.Sprintf("%d:%d", st.Dev, st.Ino)
}

// logAll logs one line at each level, with a duration (the backoff of a
// reconnection), through a logger derived with With and WithGroup.
func logAll(l *slog.Logger) {
	next := 965975737 * time.Nanosecond
	l.Debug("wake-up", "mails", 2)
	l.Info("watch started", "config", "/etc/rtbot/rtbot.toml")
	l.With("tree", "6.1-rt").Warn("reconnecting to the IMAP server after a failure", "next", next)
	l.WithGroup("g").Error("watch stopped", "err", "line one\nline two")
}

// journalLines are the lines logAll writes in the journal format, at
// level info.
func journalLines() []string {
	return []string{
		"<6>level=INFO msg=\"watch started\" config=/etc/rtbot/rtbot.toml\n",
		"<4>level=WARN msg=\"reconnecting to the IMAP server after a failure\" tree=6.1-rt next=966ms\n",
		"<3>level=ERROR msg=\"watch stopped\" g.err=\"line one\\nline two\"\n",
	}
}

// TestNewLogger: each format writes what its readers expect: text with
// times, journal with sd-daemon priorities and no times (when asked, and
// when JOURNAL_STREAM names stderr), JSON lines; all with rounded
// durations and the level -v and RTBOT_LOG_LEVEL say.
func TestNewLogger(t *testing.T) {
	tmp, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	defer tmp.Close()
	other, err := os.Create(filepath.Join(t.TempDir(), "other"))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	stream := journalStreamOf(t, tmp)
	journal := journalLines()
	text := []string{
		" level=INFO msg=\"watch started\" config=/etc/rtbot/rtbot.toml\n",
		" level=WARN msg=\"reconnecting to the IMAP server after a failure\" tree=6.1-rt next=966ms\n",
		" level=ERROR msg=\"watch stopped\" g.err=\"line one\\nline two\"\n",
	}
	cases := []struct {
		name    string
		file    bool // log to tmp (an *os.File), not a buffer
		verbose bool
		format  string
		env     map[string]string
		want    []string // the lines, each after "time=..." for text
	}{
		{name: "text", verbose: true, format: "text", want: text},
		{name: "journal asked", verbose: true, format: "journal", want: journal},
		{name: "auto, JOURNAL_STREAM names stderr", file: true, verbose: true, format: "auto", env: map[string]string{"JOURNAL_STREAM": stream}, want: journal},
		{name: "empty format, JOURNAL_STREAM names stderr", file: true, verbose: true, env: map[string]string{"JOURNAL_STREAM": stream}, want: journal},
		{name: "auto, JOURNAL_STREAM names another file", file: true, verbose: true, format: "auto", env: map[string]string{"JOURNAL_STREAM": journalStreamOf(t, other)}, want: text},
		{name: "auto, JOURNAL_STREAM garbage", file: true, verbose: true, format: "auto", env: map[string]string{"JOURNAL_STREAM": "8:x"}, want: text},
		{name: "auto, stderr no file", verbose: true, format: "auto", env: map[string]string{"JOURNAL_STREAM": stream}, want: text},
		{name: "auto, no JOURNAL_STREAM", file: true, verbose: true, format: "auto", want: text},
		{name: "journal, not verbose", format: "journal", want: journal[1:]},
		{name: "journal, debug", format: "journal", env: map[string]string{"RTBOT_LOG_LEVEL": "debug"}, want: append([]string{"<7>level=DEBUG msg=wake-up mails=2\n"}, journal...)},
		{name: "text, RTBOT_LOG_LEVEL error", verbose: true, format: "text", env: map[string]string{"RTBOT_LOG_LEVEL": "ERROR"}, want: text[2:]},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got string
			if tc.file {
				if err := tmp.Truncate(0); err != nil {
					t.Fatal(err)
				}
				if _, err := tmp.Seek(0, 0); err != nil {
					t.Fatal(err)
				}
				l, err := newLogger(tmp, tc.verbose, tc.format, envOf(tc.env))
				if err != nil {
					t.Fatal(err)
				}
				logAll(l)
				b, err := os.ReadFile(tmp.Name())
				if err != nil {
					t.Fatal(err)
				}
				got = string(b)
			} else {
				var b bytes.Buffer
				l, err := newLogger(&b, tc.verbose, tc.format, envOf(tc.env))
				if err != nil {
					t.Fatal(err)
				}
				logAll(l)
				got = b.String()
			}
			lines := strings.SplitAfter(got, "\n")
			lines = lines[:len(lines)-1]
			if len(lines) != len(tc.want) {
				t.Fatalf("%d lines, want %d:\n%s", len(lines), len(tc.want), got)
			}
			for i, line := range lines {
				if strings.HasPrefix(tc.want[i], "<") {
					if line != tc.want[i] {
						t.Errorf("line %d:\n got %q\nwant %q", i, line, tc.want[i])
					}
					continue
				}
				ts, rest, ok := strings.Cut(line, " ")
				if !strings.HasPrefix(ts, "time=") || !ok || " "+rest != tc.want[i] {
					t.Errorf("line %d:\n got %q\nwant time=... %q", i, line, tc.want[i])
				}
			}
		})
	}
}

// TestNewLoggerJSON: --log-format json writes slog's JSON lines, one
// object per record, durations rounded.
func TestNewLoggerJSON(t *testing.T) {
	var b bytes.Buffer
	l, err := newLogger(&b, true, "json", envOf(map[string]string{"JOURNAL_STREAM": "1:1"}))
	if err != nil {
		t.Fatal(err)
	}
	logAll(l)
	dec := json.NewDecoder(&b)
	var recs []map[string]any
	for dec.More() {
		var r map[string]any
		if err := dec.Decode(&r); err != nil {
			t.Fatal(err)
		}
		recs = append(recs, r)
	}
	if len(recs) != 3 {
		t.Fatalf("%d records, want 3: %v", len(recs), recs)
	}
	warn := recs[1]
	if warn["level"] != "WARN" || warn["tree"] != "6.1-rt" || warn["next"] != float64(966*time.Millisecond) || warn["time"] == nil {
		t.Errorf("warn record: %v", warn)
	}
	if g, ok := recs[2]["g"].(map[string]any); !ok || g["err"] != "line one\nline two" {
		t.Errorf("error record: %v", recs[2])
	}
}

// TestNewLoggerErrors: an unknown format is a usage error (exit 2), a
// level RTBOT_LOG_LEVEL does not name an error naming the variable.
func TestNewLoggerErrors(t *testing.T) {
	_, err := newLogger(&bytes.Buffer{}, true, "syslog", envOf(nil))
	if err == nil || exitCode(err) != exitUsage || !strings.Contains(err.Error(), `"syslog"`) {
		t.Errorf("unknown format: %v (exit %d)", err, exitCode(err))
	}
	_, err = newLogger(&bytes.Buffer{}, true, "text", envOf(map[string]string{"RTBOT_LOG_LEVEL": "loud"}))
	if err == nil || !strings.Contains(err.Error(), "RTBOT_LOG_LEVEL") {
		t.Errorf("bad level: %v", err)
	}
}

func TestRoundDuration(t *testing.T) {
	cases := []struct {
		in   time.Duration
		want string
	}{
		{965975737 * time.Nanosecond, "966ms"},
		{1234567 * time.Nanosecond, "1ms"},
		{123456 * time.Nanosecond, "123µs"},
		{12345678901 * time.Nanosecond, "12.35s"},
		{133456789012 * time.Nanosecond, "2m13s"},
		{5 * time.Minute, "5m0s"},
		{-965975737 * time.Nanosecond, "-966ms"},
		{0, "0s"},
	}
	for _, tc := range cases {
		if got := roundDuration(tc.in).String(); got != tc.want {
			t.Errorf("roundDuration(%v) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

// syncBuffer is a bytes.Buffer for several goroutines that calls seen
// once when a line containing mark was written.
type syncBuffer struct {
	mu   sync.Mutex
	b    bytes.Buffer
	mark string
	seen func()
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.seen != nil && bytes.Contains(p, []byte(s.mark)) {
		s.seen()
		s.seen = nil
	}
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestWatchLogsStartAndStop: `rtbot watch` logs when it starts (version,
// configuration file, trees), each wake-up at debug level, and why it
// stops.
func TestWatchLogsStartAndStop(t *testing.T) {
	w := newSecretWorld(t, "tok3n")
	t.Setenv("RTBOT_LOG_LEVEL", "debug")
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	ctx, stop := context.WithTimeout(ctx, 2*time.Minute)
	defer stop()
	errb := &syncBuffer{mark: "msg=wake-up", seen: func() { cancel(errors.New("terminated signal received")) }}
	var out bytes.Buffer
	code := run(ctx, []string{"watch", "--config", w.cfg}, &out, errb)
	log := errb.String()
	if code != exitOK {
		t.Fatalf("watch: exit %d, want %d:\n%s%s", code, exitOK, out.String(), log)
	}
	for _, want := range []string{
		"level=INFO msg=\"watch started\" version=",
		" config=" + w.cfg + " trees=6.1-rt pid=",
		"level=DEBUG msg=wake-up mails=2 ",
		"level=INFO msg=\"watch stopped\" reason=\"terminated signal received\"\n",
	} {
		if !strings.Contains(log, want) {
			t.Errorf("the log lacks %q:\n%s", want, log)
		}
	}
}

// FuzzJournalStream: JOURNAL_STREAM comes from the environment; whatever
// it holds, isJournalStream does not panic, and it says yes only for the
// file's own device and inode.
func FuzzJournalStream(f *testing.F) {
	file, err := os.Create(filepath.Join(f.TempDir(), "stderr"))
	if err != nil {
		f.Fatal(err)
	}
	defer file.Close()
	fi, err := file.Stat()
	if err != nil {
		f.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	for _, s := range []string{fmt.Sprintf("%d:%d", st.Dev, st.Ino), "", ":", "8:", "1:2:3", "-1:5", "18446744073709551616:1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !isJournalStream(file, s) {
			return
		}
		var dev, ino uint64
		if n, err := fmt.Sscanf(s, "%d:%d", &dev, &ino); n != 2 || err != nil || dev != uint64(st.Dev) || ino != st.Ino {
			t.Errorf("isJournalStream(%q) for %d:%d", s, st.Dev, st.Ino)
		}
	})
}
