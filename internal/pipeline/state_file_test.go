package pipeline

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/rtbot/rtbot/internal/state"
)

// TestTruncatedStateIsNoFreshStart: the state file is cut to zero bytes
// after a pass mailed its report. Taking it for a new database would redo
// every announcement still in the mailbox and mail the report again;
// opening it is an error naming the file instead, and nothing is sent.
func TestTruncatedStateIsNoFreshStart(t *testing.T) {
	w := newCrashWorld(t)
	w.deliver(t, 0)
	if o := w.recovers(t, "the first time"); o.reports != 1 {
		t.Fatalf("first pass: %v", o)
	}
	path := w.cfg.Bot.State
	w.store.Close()
	for _, f := range []string{path + "-wal", path + "-shm"} {
		os.Remove(f)
	}
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	st, err := state.Open(context.Background(), path)
	if err == nil {
		defer st.Close()
		_, perr := New(w.cfg, st, Options{Retry: quickRetry}).Once(context.Background())
		t.Fatalf("a 0-byte state file was opened as a new one; the pass (%v) sent %d mail(s)", perr, len(w.smtp.Messages()))
	}
	if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "empty") {
		t.Errorf("Open = %v; want an error naming %s and saying it is empty", err, path)
	}
	if fi, _ := os.Stat(path); fi == nil || fi.Size() != 0 {
		t.Errorf("the state file was changed: %v", fi)
	}
}
