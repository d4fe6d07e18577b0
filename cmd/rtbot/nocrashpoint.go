//go:build !rtbotcrash

package main

// crashHook is nil in release builds: only a binary built with -tags
// rtbotcrash can be made to crash at a fault point (see crashpoint.go).
func crashHook() func(point string) error { return nil }
