//go:build !unix

package trigger

import "syscall"

func newSession() *syscall.SysProcAttr { return nil }
