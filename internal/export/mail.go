package export

import (
	"bytes"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/go-git/go-git/v5/plumbing/object"
)

// dateLayout is git's RFC 2822 date: the day of the month is not padded.
const dateLayout = "Mon, 2 Jan 2006 15:04:05 -0700"

// maxHeaderLine is where git format-patch folds the Subject.
const maxHeaderLine = 78

// splitMessage splits a commit message as git format-patch does: the
// first paragraph, its lines joined by spaces, is the subject; the rest,
// after the blank lines that separate it, is the body.
func splitMessage(msg string) (subject, body string) {
	msg = strings.TrimLeft(msg, "\n")
	head, rest, _ := strings.Cut(msg, "\n\n")
	subject = strings.Join(strings.Fields(head), " ")
	body = strings.TrimLeft(rest, "\n")
	if body != "" && !strings.HasSuffix(body, "\n") {
		body += "\n"
	}
	return subject, body
}

// writeMail writes c's mail header and message as `git format-patch`
// does, with the subject prefix given ("[PATCH 03/72]") and extra header
// lines (already formatted) after the Subject, up to and including the
// "---" line that separates the message from the diffstat.
func writeMail(w *bytes.Buffer, c *object.Commit, prefix string, extra []string) {
	subject, body := splitMessage(c.Message)
	fmt.Fprintf(w, "From %s Mon Sep 17 00:00:00 2001\n", c.Hash)
	w.WriteString(fromHeader(c.Author.Name, c.Author.Email))
	fmt.Fprintf(w, "Date: %s\n", c.Author.When.Format(dateLayout))
	start := "Subject: " + prefix
	if needsEncoding(subject) {
		w.WriteString(rfc2047(start+" ", subject, false) + "\n")
	} else {
		w.WriteString(foldHeader(start, subject))
	}
	for _, h := range extra {
		w.WriteString(h + "\n")
	}
	// git marks the mail 8-bit when the commit message is.
	if !isASCII(c.Message) {
		w.WriteString("MIME-Version: 1.0\nContent-Type: text/plain; charset=UTF-8\nContent-Transfer-Encoding: 8bit\n")
	}
	w.WriteString("\n")
	w.WriteString(body)
	w.WriteString("---\n")
}

// fromHeader is git's From field: the name RFC 2047 encoded when it is
// not ASCII, quoted when it has RFC 822 specials, the address on a line
// of its own when the field would be too long.
func fromHeader(name, email string) string {
	maxLen := maxHeaderLine
	var line string
	switch {
	case needsEncoding(name):
		line = rfc2047("From: ", name, true)
		maxLen = 76
	case strings.ContainsAny(name, `()<>[]:;@,."\`):
		line = "From: \"" + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(name) + `"`
	default:
		line = "From: " + name
	}
	last := line[strings.LastIndexByte(line, '\n')+1:]
	if len(last)+len(" <")+len(email)+len(">") > maxLen {
		line += "\n"
	}
	return line + " <" + email + ">\n"
}

// needsEncoding is git's test for an RFC 2047 encoded header: a byte
// outside ASCII, a newline, or "=?".
func needsEncoding(s string) bool {
	return !isASCII(s) || strings.Contains(s, "\n") || strings.Contains(s, "=?")
}

// rfc2047 returns start followed by s as git encodes it: UTF-8 "Q" words
// that never split a character, a space as "=20", folded so that no
// line is longer than 76 characters. In an address (a name before
// "<email>") only letters, digits and "!*+-/" stay as they are.
func rfc2047(start, s string, address bool) string {
	const maxEncoded = 76
	const open = "=?UTF-8?q?"
	var b strings.Builder
	b.WriteString(start + open)
	lineLen := len(start) + len(open)
	for len(s) > 0 {
		_, n := utf8.DecodeRuneInString(s)
		ch := s[0]
		special := n > 1 || ch < 0x20 || ch >= 0x7f || ch == ' ' || ch == '=' || ch == '?' || ch == '_' ||
			address && !(ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' || strings.IndexByte("!*+-/", ch) >= 0)
		enc := 1
		if special {
			enc = 3 * n
		}
		if lineLen+enc+2 > maxEncoded {
			b.WriteString("?=\n " + open)
			lineLen = len(open) + 1
		}
		for i := 0; i < n; i++ {
			if special {
				fmt.Fprintf(&b, "=%02X", s[i])
			} else {
				b.WriteByte(s[i])
			}
		}
		lineLen += enc
		s = s[n:]
	}
	b.WriteString("?=")
	return b.String()
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// foldHeader returns start (the field name and the subject prefix) and
// the words of value as one header field, folded at spaces so that lines
// stay within 78 columns where the words allow, continuation lines
// starting with one space, as git does for the Subject.
func foldHeader(start, value string) string {
	var b strings.Builder
	line, words := start, 0
	for _, word := range strings.Fields(value) {
		if len(line)+1+len(word) > maxHeaderLine && words > 0 {
			b.WriteString(line + "\n")
			line = " " + word
			continue
		}
		line += " " + word
		words++
	}
	b.WriteString(line + "\n")
	return b.String()
}
