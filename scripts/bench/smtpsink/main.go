// Command smtpsink is an SMTP server on a loopback port that accepts every
// message and writes it to a directory, for timing a real `rtbot run` pass
// (scripts/bench/realpass.sh): the fixtures' in-process server
// (internal/fixtures.StartSMTP) behind a main, so that the rtbot under test
// is the built binary talking to a server in another process.
//
//	smtpsink -dir OUTBOX -addr-file FILE
//
// It writes "127.0.0.1:PORT" to FILE once it listens, each accepted message
// to OUTBOX/NNNN.eml, and runs until SIGINT or SIGTERM.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/rtbot/rtbot/internal/fixtures"
)

func main() {
	dir := flag.String("dir", "", "directory the accepted messages are written to (must exist)")
	addrFile := flag.String("addr-file", "", "file the listening address is written to")
	flag.Parse()
	if err := run(*dir, *addrFile); err != nil {
		fmt.Fprintln(os.Stderr, "smtpsink:", err)
		os.Exit(1)
	}
}

// run serves until a signal arrives.
func run(dir, addrFile string) error {
	if dir == "" || addrFile == "" {
		return fmt.Errorf("usage: smtpsink -dir OUTBOX -addr-file FILE")
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	srv, err := fixtures.StartSMTP(fixtures.SMTPOptions{Dir: dir})
	if err != nil {
		return err
	}
	defer srv.Close()
	if err := os.WriteFile(addrFile, []byte(srv.Addr+"\n"), 0o644); err != nil {
		return fmt.Errorf("address file: %w", err)
	}
	<-sigs
	return nil
}
