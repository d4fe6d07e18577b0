//go:build unix

package trigger

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// Limits of a command firing.
const (
	// maxCommandOutput caps the kept stdout+stderr of a command; the rest
	// is read and dropped so that the command never blocks on a full pipe.
	maxCommandOutput = 16 << 20
	// killGrace is how long a timed-out command's process group has
	// between SIGTERM and SIGKILL.
	killGrace = 3 * time.Second
	// waitDelay bounds how long Fire waits for the output pipe to close
	// once the command has exited or been killed: a background process
	// that inherited the pipe cannot keep rtbot waiting longer.
	waitDelay = 2 * killGrace
)

// baseEnv are the variables of rtbot's own environment a command inherits.
var baseEnv = []string{"PATH", "HOME", "LANG", "TZ", "USER", "TMPDIR"}

// fireCommand runs t.Argv without a shell, in its own process group, with
// the base environment plus the RTBOT_* variables, in dir.
func fireCommand(ctx context.Context, t Spec, ev Event, dir string, res *Result) error {
	res.ExitCode = -1
	if len(t.Argv) == 0 || t.Argv[0] == "" {
		return permanent(t, errors.New("no command (argv is empty)"))
	}
	vars, err := envVars(ev)
	if err != nil {
		return permanent(t, err)
	}
	logf, out, eventFile, err := commandFiles(t, ev, dir, res)
	if err != nil {
		return err
	}
	defer logf.Close()
	resultsFile := out.path(".results.json")
	env := append(commandEnv(vars, eventFile),
		"RTBOT_RESULTS="+resultsFile, "RTBOT_CHECKOUT_ID="+CheckoutID(ev, DefaultKCIDBOrigin))

	limit := timeout(t)
	runCtx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	w := &cappedWriter{f: logf, limit: maxCommandOutput}
	cmd, exited := command(runCtx, t.Argv, env, dir, w)
	if err := cmd.Start(); err != nil {
		close(exited)
		w.note("[rtbot: cannot start %s: %v]", t.Argv[0], err)
		if runCtx.Err() != nil {
			return temporary(t, fmt.Errorf("not started: %w", runCtx.Err()))
		}
		return permanent(t, fmt.Errorf("cannot start %s: %w", t.Argv[0], err))
	}
	waitErr := cmd.Wait()
	close(exited)
	if cmd.ProcessState != nil {
		res.ExitCode = cmd.ProcessState.ExitCode()
	}
	if fi, err := os.Lstat(resultsFile); err == nil && fi.Mode().IsRegular() {
		res.Results = resultsFile
	}
	return commandOutcome(ctx, runCtx, t, cmd, waitErr, w, limit, res)
}

// commandFiles creates the firing's log (res.Output, returned open) and
// writes the event's JSON file, whose name it returns with the firing's
// output names.
func commandFiles(t Spec, ev Event, dir string, res *Result) (*os.File, outputs, string, error) {
	doc, err := eventDocument(ev)
	if err != nil {
		return nil, outputs{}, "", permanent(t, fmt.Errorf("event: %w", err))
	}
	out, logf, err := newOutputs(dir, t.Name, res.Started, ".log")
	if err != nil {
		return nil, outputs{}, "", temporary(t, fmt.Errorf("output log: %w", err))
	}
	res.Output = logf.Name()
	eventFile, err := out.writeFile(".event.json", doc)
	if err != nil {
		logf.Close()
		return nil, outputs{}, "", temporary(t, fmt.Errorf("event file: %w", err))
	}
	return logf, out, eventFile, nil
}

// commandEnv is a command's whole environment: the baseEnv variables rtbot
// has, the RTBOT_* variables and RTBOT_EVENT.
func commandEnv(vars []envVar, eventFile string) []string {
	env := make([]string, 0, len(baseEnv)+len(vars)+1)
	for _, k := range baseEnv {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	for _, v := range vars {
		env = append(env, v.key+"="+v.value)
	}
	return append(env, "RTBOT_EVENT="+eventFile)
}

// command prepares argv to run in dir, in a process group of its own,
// writing stdout and stderr to w. When ctx ends the group gets SIGTERM,
// then SIGKILL after killGrace unless the returned channel is closed
// first (the caller closes it once the command has exited).
func command(ctx context.Context, argv, env []string, dir string, w io.Writer) (*exec.Cmd, chan struct{}) {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = env
	cmd.Dir = dir
	cmd.Stdout = w // the same writer: exec shares one pipe, so output interleaves
	cmd.Stderr = w
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	exited := make(chan struct{})
	cmd.Cancel = func() error {
		// The whole group: a test script's children die with it.
		pgid := cmd.Process.Pid
		err := syscall.Kill(-pgid, syscall.SIGTERM)
		go func() {
			timer := time.NewTimer(killGrace)
			defer timer.Stop()
			select {
			case <-timer.C:
				syscall.Kill(-pgid, syscall.SIGKILL)
			case <-exited:
			}
		}()
		return err
	}
	cmd.WaitDelay = waitDelay
	return cmd, exited
}

// commandOutcome classifies how a started command ended: exit status 0 is
// success; a non-zero status or a signal is permanent; a timeout, a
// cancellation or a failure to wait is temporary.
func commandOutcome(ctx, runCtx context.Context, t Spec, cmd *exec.Cmd, waitErr error, w *cappedWriter, limit time.Duration, res *Result) error {
	if runCtx.Err() != nil {
		// Whatever survived SIGTERM and is still in the group.
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		if ctx.Err() == nil {
			w.note("[rtbot: timed out after %v; process group killed]", limit)
			return temporary(t, fmt.Errorf("%s timed out after %v; output in %s", t.Argv[0], limit, res.Output))
		}
		w.note("[rtbot: cancelled (%v); process group killed]", ctx.Err())
		return temporary(t, fmt.Errorf("%s cancelled: %w; output in %s", t.Argv[0], ctx.Err(), res.Output))
	}
	if errors.Is(waitErr, exec.ErrWaitDelay) {
		w.note("[rtbot: output closed after %v: a background process kept it open]", waitDelay)
		waitErr = nil
	}
	switch {
	case res.ExitCode == 0 && waitErr == nil:
		return nil
	case res.ExitCode > 0:
		return permanent(t, fmt.Errorf("%s exited with status %d; output in %s", t.Argv[0], res.ExitCode, res.Output))
	case cmd.ProcessState != nil && !cmd.ProcessState.Exited():
		return permanent(t, fmt.Errorf("%s was killed (%v); output in %s", t.Argv[0], cmd.ProcessState, res.Output))
	default:
		return temporary(t, fmt.Errorf("%s: %v; output in %s", t.Argv[0], waitErr, res.Output))
	}
}

// cappedWriter writes the first limit bytes to f, then a line saying the
// output was truncated, and drops the rest. It never fails, so the command
// never sees a broken pipe on rtbot's account.
type cappedWriter struct {
	f         *os.File
	n, limit  int64
	midline   bool // the last byte written was not a newline
	truncated bool
	err       error // the first write error; later output is dropped
}

func (w *cappedWriter) Write(p []byte) (int, error) {
	if w.truncated || w.err != nil {
		return len(p), nil
	}
	keep := p
	if room := w.limit - w.n; int64(len(keep)) > room {
		keep = keep[:room]
		w.truncated = true
	}
	n, err := w.f.Write(keep)
	w.n += int64(n)
	if n > 0 {
		w.midline = keep[n-1] != '\n'
	}
	if err != nil {
		w.err = err
		return len(p), nil
	}
	if w.truncated {
		w.note("[rtbot: output truncated at %d bytes]", w.limit)
	}
	return len(p), nil
}

// note appends a line of rtbot's own to the log, on a line of its own.
func (w *cappedWriter) note(format string, args ...any) {
	if w.err != nil {
		return
	}
	if w.midline {
		w.f.WriteString("\n")
	}
	n, err := fmt.Fprintf(w.f, format+"\n", args...)
	w.n += int64(n)
	w.midline = false
	w.err = err
}
