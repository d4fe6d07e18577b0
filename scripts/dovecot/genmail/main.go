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
//	go run ./scripts/dovecot/genmail -maildir DIR/Maildir -n 50000 -fixtures ../shared/fixtures/mails -expected DIR/expected.txt
package main

import (
	"bytes"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

type mail struct {
	msgID string
	raw   []byte
	want  bool
}

func main() {
	maildir := flag.String("maildir", "", "maildir to create or extend (cur/, new/, tmp/ are made)")
	n := flag.Int("n", 3000, "number of generated mails")
	fixtures := flag.String("fixtures", "", "directory of real .eml fixtures to mix in (optional)")
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
	fx, err := loadFixtures(*fixtures)
	if err != nil {
		log.Fatal(err)
	}
	mails := interleave(generate(*n), fx)

	// Dovecot assigns UIDs to new maildir files in the order of the
	// timestamps in their names: number them in mailbox order.
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	host, _ := os.Hostname()
	host = strings.NewReplacer("/", "_", ":", "_").Replace(host)
	var want bytes.Buffer
	for i, m := range mails {
		name := fmt.Sprintf("%d.M%dP%d.%s,S=%d:2,", base+int64(i), i, os.Getpid(), host, len(m.raw))
		if err := os.WriteFile(filepath.Join(*maildir, "cur", name), m.raw, 0o644); err != nil {
			log.Fatal(err)
		}
		if m.want {
			fmt.Fprintln(&want, m.msgID)
		}
	}
	if *expected != "" {
		if err := os.WriteFile(*expected, want.Bytes(), 0o644); err != nil {
			log.Fatal(err)
		}
	}
	log.Printf("genmail: wrote %d mails (%d fixtures) to %s, %d expected candidates", len(mails), len(fx), *maildir, bytes.Count(want.Bytes(), []byte("\n")))
}

var (
	msgIDRE = regexp.MustCompile(`(?mi)^Message-ID:\s*<([^>]+)>`)
)

// loadFixtures reads the real mails; stable-* and rt-* are expected candidates.
func loadFixtures(dir string) ([]mail, error) {
	if dir == "" {
		return nil, nil
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.eml"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no .eml files in %s", dir)
	}
	var out []mail
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		m := mail{raw: raw}
		if mm := msgIDRE.FindSubmatch(raw); mm != nil {
			m.msgID = string(mm[1])
		}
		base := filepath.Base(f)
		m.want = strings.HasPrefix(base, "stable-") || strings.HasPrefix(base, "rt-")
		out = append(out, m)
	}
	return out, nil
}

// one builds a synthetic list mail (LF line endings, as maildir stores them).
func one(id, subject, inReplyTo string, bodyLines int, want bool) mail {
	var b strings.Builder
	msgID := id + "@rtbot.test"
	fmt.Fprintf(&b, "Return-Path: <stable+bounces@vger.kernel.org>\n")
	fmt.Fprintf(&b, "Received: from vger.kernel.org by mail.example.org with ESMTP id %s; Mon, 13 Feb 2023 15:52:58 +0100\n", id)
	fmt.Fprintf(&b, "From: Some Developer <dev%s@example.org>\n", id)
	fmt.Fprintf(&b, "To: stable@vger.kernel.org\n")
	fmt.Fprintf(&b, "Subject: %s\n", subject)
	fmt.Fprintf(&b, "Date: Mon, 13 Feb 2023 15:47:15 +0100\n")
	fmt.Fprintf(&b, "Message-ID: <%s>\n", msgID)
	if inReplyTo != "" {
		fmt.Fprintf(&b, "In-Reply-To: <%s>\nReferences: <%s>\n", inReplyTo, inReplyTo)
	}
	fmt.Fprintf(&b, "X-stable: review\nList-Id: <stable.vger.kernel.org>\n")
	fmt.Fprintf(&b, "MIME-Version: 1.0\nContent-Type: text/plain; charset=UTF-8\n\n")
	fmt.Fprintf(&b, "From: Some Developer <dev%s@example.org>\n\n[ Upstream commit 1a2b3c4d ]\n\n", id)
	for i := range bodyLines {
		fmt.Fprintf(&b, "+\tret = do_something_%d(dev, %d); /* line %d of a diff in %s */\n", i%17, i, i, id)
	}
	return mail{msgID: msgID, raw: []byte(b.String()), want: want}
}

// generate makes n list mails; keep in step with imapListMails in
// mailwatch/imap_helpers_test.go.
func generate(n int) []mail {
	var out []mail
	for i := range n {
		id := fmt.Sprintf("gen-%06d", i)
		minor := 100 + i/250
		cover := fmt.Sprintf("cover-6.1.%d@rtbot.test", minor)
		switch {
		case i%777 == 776:
			out = append(out, one(id, fmt.Sprintf("[ANNOUNCE] 6.1.%d-rt%d", minor, 40+i/777), "", 20, true))
		case i%250 == 0:
			out = append(out, one(id, fmt.Sprintf("[PATCH 6.1 000/123] 6.1.%d-rc1 review", minor), "", 40, true))
		case i%10 < 6:
			out = append(out, one(id, fmt.Sprintf("[PATCH 6.1 %03d/123] net: sched: fix refcount leak %d", i%123+1, i), cover, 30+i%50, false))
		case i%10 == 6:
			out = append(out, one(id, fmt.Sprintf("Re: [PATCH 6.1 %03d/123] net: sched: fix refcount leak %d", i%123+1, i), cover, 10, false))
		case i%10 == 7:
			out = append(out, one(id, fmt.Sprintf("Re: [PATCH 6.1 000/123] 6.1.%d-rc1 review", minor), cover, 8, false))
		case i%10 == 8:
			out = append(out, one(id, fmt.Sprintf("[PATCH v3 %d/7] mm: page_alloc: tidy up %d", i%7+1, i), "", 40, false))
		default:
			out = append(out, one(id, fmt.Sprintf("RE: [PATCH RT 2/3] sched: fix latency %d", i), "", 8, false))
		}
	}
	return out
}

// interleave spreads the fixtures through the generated mails.
func interleave(gen, fixtures []mail) []mail {
	out := make([]mail, 0, len(gen)+len(fixtures))
	step := len(gen)/(len(fixtures)+1) + 1
	fi := 0
	for i, m := range gen {
		if i%step == step-1 && fi < len(fixtures) {
			out = append(out, fixtures[fi])
			fi++
		}
		out = append(out, m)
	}
	return append(out, fixtures[fi:]...)
}
