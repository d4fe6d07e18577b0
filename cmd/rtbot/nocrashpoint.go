//go:build !rtbotcrash

package main

// crashHook is nil in release builds: only a binary built with -tags
// rtbotcrash can be made to crash at a fault point (see crashpoint.go).
func crashHook() func(point string) error { return nil }

// crashSkipsPreflight is false in release builds: every run starts with
// the preflight (see crashpoint.go for the crash tests' exception).
func crashSkipsPreflight() bool { return false }
