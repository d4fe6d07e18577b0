package testkit

import (
	"bytes"
	"io"
	"mime/quotedprintable"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
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

// dateHeader is the Date header line, the one header a mail composed now
// always varies in.
var dateHeader = regexp.MustCompile(`(?m)^Date: .*$`)

// NormalizeMail returns raw, one RFC 5322 message as it was mailed, in the
// form its golden file keeps. Each normalisation is explicit:
//
//   - line ends become "\n" (the wire's CRLF is mailout's own concern, and
//     tested there);
//   - the Date header's value becomes "<date>" (the time of sending);
//   - a quoted-printable body is decoded (its soft line breaks move with
//     the length of anything replaced below, such as a temporary
//     directory); the Content-Transfer-Encoding header stays, so the
//     encoding chosen is still checked;
//   - then every oldnew pair is replaced, as strings.NewReplacer does, in
//     header and body: what only the caller knows varies, such as the
//     test's temporary directory ("$DIR") or the id of a commit rtbot made
//     (its committer date is the time of the run: "<result>").
//
// The rest, Message-ID included (rtbot derives it from the content), is
// kept as it is.
func NormalizeMail(tb testing.TB, raw []byte, oldnew ...string) []byte {
	tb.Helper()
	raw = bytes.ReplaceAll(raw, []byte("\r\n"), []byte("\n"))
	head, body, ok := bytes.Cut(raw, []byte("\n\n"))
	if !ok {
		tb.Fatalf("mail without a body:\n%s", raw)
	}
	head = dateHeader.ReplaceAll(head, []byte("Date: <date>"))
	if bytes.Contains(bytes.ToLower(append([]byte("\n"), head...)), []byte("\ncontent-transfer-encoding: quoted-printable")) {
		dec, err := io.ReadAll(quotedprintable.NewReader(bytes.NewReader(body)))
		if err != nil {
			tb.Fatalf("mail body is not quoted-printable: %v", err)
		}
		body = dec
	}
	out := string(head) + "\n\n" + string(body)
	if len(oldnew) > 0 {
		out = strings.NewReplacer(oldnew...).Replace(out)
	}
	return []byte(out)
}
