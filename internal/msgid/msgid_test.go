package msgid

import (
	"strings"
	"testing"

	"github.com/emersion/go-message/mail"
)

func TestCheck(t *testing.T) {
	for _, id := range []string{
		"20230213144742.219399167@linuxfoundation.org",
		"2025100618-chili-criteria-8b18@gregkh",
		"cover.1631027711.git.zanussi@kernel.org",
		"9dd0c0b1-6b0e-4c01-b706-c21dd185a836@sirena.org.uk",
		"a.b+c@[127.0.0.1]",
		"a@[]",
		"!#$%&'*+/=?^_`{|}~-@x",
		strings.Repeat("a", MaxLen-2) + "@x",
	} {
		if err := Check(id); err != nil {
			t.Errorf("Check(%q) = %v, want nil", id, err)
		}
	}
	for _, id := range []string{
		"", "abc", "@x", "a@", "a@b@c", `a"b(c)@x`, "a b@x", "a\t@x", "<a@b>", "a@b>", "a@b\r\nBcc: x@y",
		".a@x", "a.@x", "a..b@x", "a@x.", "a@.x", "a@x..y", "ä@b", "a@[x]y", "a@[x[y]", `a@[x\y]`, "a@[x y]",
		"a(comment)@x", `"quoted"@x`, strings.Repeat("a", MaxLen-1) + "@x",
	} {
		if err := Check(id); err == nil {
			t.Errorf("Check(%q) = nil, want an error", id)
		}
	}
}

func FuzzCheck(f *testing.F) {
	f.Add("20230213144742.219399167@linuxfoundation.org")
	f.Add(`a"b(c)@x`)
	f.Add("a@[127.0.0.1]")
	f.Fuzz(func(t *testing.T, id string) {
		if Check(id) != nil {
			return
		}
		// What passes is printable ASCII without spaces or the msg-id's
		// brackets, and reads back as itself from a References header.
		for _, c := range []byte(id) {
			if c <= ' ' || c >= 0x7f || c == '<' || c == '>' {
				t.Fatalf("Check(%q) = nil with %q in it", id, c)
			}
		}
		var h mail.Header
		h.SetMsgIDList("References", []string{id, id})
		if got, err := h.MsgIDList("References"); err != nil || len(got) != 2 || got[0] != id || got[1] != id {
			t.Fatalf("Check(%q) = nil, but References reads back as %q, %v", id, got, err)
		}
	})
}
