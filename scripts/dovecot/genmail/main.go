// Command genmail writes a maildir of synthetic stable-list mail plus the real
// fixture mails, for a test Dovecot (scripts/dovecot/start.sh). Writing files
// is much faster than APPENDing tens of thousands of messages over IMAP.
//
// The mix mirrors the list: stable patches "[PATCH 6.1 042/123] ...",
// replies, LKML patches and tester replies to covers, with a stable-rc cover
// every 250th mail and an RT announcement every 777th. The Message-IDs of the
// mails rtbot's IMAP search must return (those covers and announcements, and
// the stable-* and rt-* fixtures) are written to -expected, one per line.
//
//	go run ./scripts/dovecot/genmail -maildir DIR/Maildir -n 50000 -fixtures internal/fixtures/mails -expected DIR/expected.txt
package main

import (
	"bytes"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/rtbot/rtbot/internal/fixtures"
)

func main() {
	maildir := flag.String("maildir", "", "maildir to create or extend (cur/, new/, tmp/ are made)")
	n := flag.Int("n", 3000, "number of generated mails")
	fixtureDir := flag.String("fixtures", "", "directory of real .eml fixtures to mix in (optional)")
	expected := flag.String("expected", "", "file to write the expected candidates' Message-IDs to (optional)")
	flag.Parse()
	if *maildir == "" {
		log.Fatal("genmail: -maildir is required")
	}
	for _, sub := range []string{"cur", "new", "tmp"} {
		if err := os.MkdirAll(filepath.Join(*maildir, sub), 0o755); err != nil {
			log.Fatal(err)
		}
	}
	var fx []fixtures.ListMail
	if *fixtureDir != "" {
		var err error
		if fx, err = fixtures.LoadMails(*fixtureDir); err != nil {
			log.Fatal(err)
		}
	}
	mails := fixtures.Interleave(fixtures.ListMails(*n), fx)

	// Dovecot assigns UIDs to new maildir files in the order of the
	// timestamps in their names: number them in mailbox order.
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	host, _ := os.Hostname()
	host = strings.NewReplacer("/", "_", ":", "_").Replace(host)
	var want bytes.Buffer
	for i, m := range mails {
		name := fmt.Sprintf("%d.M%dP%d.%s,S=%d:2,", base+int64(i), i, os.Getpid(), host, len(m.Raw))
		if err := os.WriteFile(filepath.Join(*maildir, "cur", name), m.Raw, 0o644); err != nil {
			log.Fatal(err)
		}
		if m.Announcement {
			fmt.Fprintln(&want, m.MessageID)
		}
	}
	if *expected != "" {
		if err := os.WriteFile(*expected, want.Bytes(), 0o644); err != nil {
			log.Fatal(err)
		}
	}
	log.Printf("genmail: wrote %d mails (%d fixtures) to %s, %d expected candidates", len(mails), len(fx), *maildir, bytes.Count(want.Bytes(), []byte("\n")))
}
