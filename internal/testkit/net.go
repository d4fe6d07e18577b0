package testkit

import (
	"net"
	"testing"
)

// Serve listens on a loopback port and hands every connection to serve,
// each on its own goroutine, until the test ends and the listener closes.
// It returns the address: for fake servers (one that never answers, one
// that greets and echoes). serve owns the connection and closes it.
func Serve(tb testing.TB, serve func(net.Conn)) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go serve(c)
		}
	}()
	return ln.Addr().String()
}

// ClosedPort returns a loopback address nothing listens on (a port that
// was free a moment ago): dialling it is refused at once.
func ClosedPort(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}
