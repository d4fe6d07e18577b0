package pipeline

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ErrLocked is wrapped by the error Lock returns when another rtbot holds
// the lock.
var ErrLocked = errors.New("another rtbot is running")

// Lock takes the lock file at path (an advisory flock, released by the
// kernel when the process ends, however it ends) and writes this process's
// id and start time into it. A second run while the lock is held fails at
// once with an error wrapping ErrLocked that names the holder.
func Lock(path string) (release func() error, err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder, _ := os.ReadFile(path)
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			who := strings.TrimSpace(string(holder))
			if who == "" {
				who = "unknown process"
			}
			return nil, fmt.Errorf("lock %s is held by %s: %w; this run exits without doing anything", path, who, ErrLocked)
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if err := f.Truncate(0); err == nil {
		f.WriteAt([]byte("pid "+strconv.Itoa(os.Getpid())+" since "+time.Now().UTC().Format(time.RFC3339)+"\n"), 0)
	}
	return func() error {
		f.Truncate(0)
		return f.Close() // closing releases the flock
	}, nil
}
