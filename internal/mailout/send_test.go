package mailout

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/textproto"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/rtbot/rtbot/internal/netsec"
	"github.com/rtbot/rtbot/internal/testkit"
)

// scripted is an SMTP server of a few lines for what go-smtp's server
// cannot be made to do: it greets with greeting (nothing when it is ""),
// answers every command as a willing server would (offering STARTTLS and
// AUTH PLAIN, accepting everything), and falls silent, holding the
// connection open, on the command whose verb is stall ("." is the end of
// the message).
func scripted(t *testing.T, greeting, stall string) string {
	t.Helper()
	return testkit.Serve(t, func(c net.Conn) {
		defer c.Close()
		hold := func() { io.Copy(io.Discard, c) } // until the client hangs up
		if greeting == "" {
			hold()
			return
		}
		io.WriteString(c, greeting+"\r\n")
		r := bufio.NewReader(c)
		inData := false
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			verb, _, _ := strings.Cut(strings.ToUpper(strings.TrimRight(line, "\r\n")), " ")
			if inData && verb != "." {
				continue
			}
			if verb == stall {
				hold()
				return
			}
			reply := map[string]string{"EHLO": "250-fake\r\n250-STARTTLS\r\n250 AUTH PLAIN", "AUTH": "235 2.7.0 ok",
				"DATA": "354 go on", ".": "250 2.0.0 queued", "QUIT": "221 bye"}[verb]
			if reply == "" {
				reply = "250 ok"
			}
			inData = verb == "DATA"
			io.WriteString(c, reply+"\r\n")
		}
	})
}

// TestSendNotSMTP: a server that does not speak SMTP (another protocol's
// banner on the port, garbage, a reply code SMTP does not use there) is a
// temporary failure naming the server and what it said, never the
// permanent refusal that would drop the report.
func TestSendNotSMTP(t *testing.T) {
	for _, tc := range []struct{ name, greeting, said string }{
		{"IMAP banner", "* OK [CAPABILITY IMAP4rev1] Dovecot ready.", `"* OK [CAPABILITY IMAP4rev1] Dovecot ready."`},
		{"HTTP", "HTTP/1.1 400 Bad Request", `"HTTP/1.1 400 Bad Request"`},
		{"garbage", "\x00\x01\xff garbage", `"\x00\x01\xff garbage"`},
		{"a line over 2000 bytes", strings.Repeat("x", 3000), "line"},
		{"250 for a greeting", "250 hello", "250 hello"},
	} {
		for _, mode := range []string{"plain", "starttls"} {
			t.Run(tc.name+"/"+mode, func(t *testing.T) {
				addr := scripted(t, tc.greeting, "")
				err := Send(context.Background(), Server{Addr: addr, TLS: netsec.Mode(mode), Timeout: 5 * time.Second}, report(), Hooks{})
				var e *Error
				if !errors.As(err, &e) || !e.Temporary || !IsTemporary(err) || e.Stage != "greeting" {
					t.Fatalf("Send = %v; want a temporary failure at the greeting", err)
				}
				if msg := err.Error(); !strings.HasPrefix(msg, "smtp "+addr+": greeting: ") || !strings.Contains(msg, tc.said) {
					t.Errorf("Error() = %q; want the server and what it said (%s)", msg, tc.said)
				}
			})
		}
	}
}

// TestSendDeadlines: a server that falls silent at any step of a
// submission ends Send within Server.Timeout of it. Silent before the end
// of the message is a temporary failure saying how long rtbot waited;
// silent after the final dot leaves it unknown whether the message was
// taken (MayHaveBeenSent); silent after accepting it, at QUIT, is a
// success.
func TestSendDeadlines(t *testing.T) {
	const timeout = 200 * time.Millisecond
	for _, tc := range []struct{ stall, mode, stage string }{
		{"", "plain", "greeting"}, // silent from the start
		{"", "starttls", "greeting"},
		{"", "tls", "tls"},
		{"EHLO", "plain", "greeting"},
		{"EHLO", "starttls", "greeting"},
		{"STARTTLS", "starttls", "greeting"},
		{"AUTH", "plain", "auth"},
		{"MAIL", "plain", "mail"},
		{"RCPT", "plain", "rcpt"},
		{"DATA", "plain", "data"},
		{".", "plain", "commit"},
		{"QUIT", "plain", ""},
	} {
		t.Run(tc.stall+"/"+tc.mode, func(t *testing.T) {
			greeting := "220 fake ESMTP"
			if tc.stall == "" {
				greeting = ""
			}
			srv := Server{Addr: scripted(t, greeting, tc.stall), TLS: netsec.Mode(tc.mode), Timeout: timeout}
			if tc.stall == "AUTH" {
				srv.Username, srv.Password = "bot", "pw"
			}
			start := time.Now()
			err := Send(context.Background(), srv, report(), Hooks{})
			if d := time.Since(start); d > 10*timeout {
				t.Errorf("Send returned after %v, with a timeout of %v", d, timeout)
			}
			checkStalled(t, err, tc.stage)
		})
	}
}

// checkStalled checks what Send returned for a server silent at stage ("":
// after it took the message).
func checkStalled(t *testing.T, err error, stage string) {
	t.Helper()
	var e *Error
	switch {
	case stage == "":
		if err != nil {
			t.Errorf("Send = %v; the server took the message", err)
		}
	case !errors.As(err, &e) || e.Stage != stage || !e.Temporary:
		t.Errorf("Send = %v; want a temporary failure at %s", err, stage)
	case stage == "commit" && !MayHaveBeenSent(err):
		t.Errorf("Send = %v; silent after the final dot, the message may have been taken", err)
	case !strings.Contains(err.Error(), "no reply within 200ms"):
		t.Errorf("Send = %v; want it to say how long it waited", err)
	}
}

func TestRefusedAndTemporary(t *testing.T) {
	reply := func(code int) error { return &smtp.SMTPError{Code: code, Message: "x"} }
	for _, tc := range []struct {
		stage              string
		err                error
		refused, temporary bool
	}{
		{"commit", reply(554), true, false},
		{"data", reply(554), true, false},
		{"rcpt", reply(550), true, false},
		{"mail", reply(553), true, false},
		{"commit", reply(451), false, true},
		{"rcpt", reply(452), false, true},
		{"greeting", reply(554), false, false}, // no service here: nothing about the message
		{"auth", reply(535), false, false},     // a wrong password
		{"greeting", reply(250), false, true},  // a code that makes no sense there
		{"commit", reply(354), false, true},
		{"greeting", textproto.ProtocolError(`short response: "* OK"`), false, true},
		{"greeting", smtp.ErrTooLongLine, false, true},
		{"commit", io.EOF, false, true},
	} {
		err := classify("h:25", tc.stage, tc.err)
		if Refused(err) != tc.refused || IsTemporary(err) != tc.temporary {
			t.Errorf("%s %v: refused %v, temporary %v; want %v, %v", tc.stage, tc.err, Refused(err), IsTemporary(err), tc.refused, tc.temporary)
		}
	}
	if Refused(errors.New("smtp: 550")) || Refused(nil) {
		t.Error("Refused is true for something that is not an *Error")
	}
}
