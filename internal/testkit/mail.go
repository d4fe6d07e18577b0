package testkit

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// MailsDir is the directory of real list mails that the repository carries
// (internal/fixtures/mails; its README.md says where each comes from).
func MailsDir() string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		panic("testkit: no caller information to find the fixture mails")
	}
	return filepath.Join(filepath.Dir(file), "..", "fixtures", "mails")
}

// Mail returns the path of the real list mail name in MailsDir, failing the
// test if it is not there.
func Mail(tb testing.TB, name string) string {
	tb.Helper()
	p := filepath.Join(MailsDir(), name)
	if _, err := os.Stat(p); err != nil {
		tb.Fatalf("fixture mail: %v", err)
	}
	return p
}
