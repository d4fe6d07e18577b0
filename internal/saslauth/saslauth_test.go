package saslauth

import (
	"testing"
	"unicode/utf8"
)

func TestStart(t *testing.T) {
	cases := []struct {
		name, mech, want string
		c                *Client
	}{
		{"xoauth2", XOAuth2, "user=me@example.org\x01auth=Bearer tok\x01\x01", NewClient(XOAuth2, "me@example.org", "tok", "imap.example.org", 993)},
		{"oauthbearer", OAuthBearer, "n,a=me@example.org,\x01host=imap.example.org\x01port=993\x01auth=Bearer tok\x01\x01", NewClient(OAuthBearer, "me@example.org", "tok", "imap.example.org", 993)},
		{"oauthbearer escapes", OAuthBearer, "n,a=a=3Db=2Cc,\x01auth=Bearer tok\x01\x01", NewClient(OAuthBearer, "a=b,c", "tok", "", 0)},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			mech, ir, err := tt.c.Start()
			if err != nil || mech != tt.mech || string(ir) != tt.want {
				t.Errorf("Start() = %q, %q, %v; want %q, %q", mech, ir, err, tt.mech, tt.want)
			}
		})
	}
}

func TestRefusal(t *testing.T) {
	for _, tt := range []struct {
		mech, challenge, refusal, resp string
	}{
		{OAuthBearer, `{"status":"invalid_token","scope":"mail"}`, "status invalid_token (scope mail)", "\x01"},
		{XOAuth2, `{"status":"401","schemes":"bearer"}`, "status 401", "\x01"},
		{XOAuth2, "not json", "not json", "\x01"},
	} {
		c := NewClient(tt.mech, "me", "tok", "", 0)
		resp, err := c.Next([]byte(tt.challenge))
		if err != nil || string(resp) != tt.resp || c.Refusal() != tt.refusal {
			t.Errorf("%s Next(%q) = %q, %v, refusal %q; want %q, refusal %q", tt.mech, tt.challenge, resp, err, c.Refusal(), tt.resp, tt.refusal)
		}
	}
}

func TestChoose(t *testing.T) {
	for _, tt := range []struct {
		offered []string
		want    string
	}{
		{[]string{"PLAIN", "XOAUTH2", "OAUTHBEARER"}, OAuthBearer},
		{[]string{"XOAUTH2"}, XOAuth2},
		{[]string{"PLAIN"}, ""},
	} {
		got := Choose(func(m string) bool {
			for _, o := range tt.offered {
				if o == m {
					return true
				}
			}
			return false
		})
		if got != tt.want {
			t.Errorf("Choose(%q) = %q, want %q", tt.offered, got, tt.want)
		}
	}
}

// FuzzRefusal: whatever a server sends as its error challenge, Next
// answers the dummy response and keeps valid UTF-8.
func FuzzRefusal(f *testing.F) {
	f.Add([]byte(`{"status":"invalid_token","scope":"mail"}`))
	f.Add([]byte("\xff\xfe"))
	f.Fuzz(func(t *testing.T, challenge []byte) {
		c := NewClient(XOAuth2, "u", "t", "", 0)
		resp, err := c.Next(challenge)
		if err != nil || string(resp) != "\x01" || !utf8.ValidString(c.Refusal()) {
			t.Fatalf("Next(%q) = %q, %v, refusal %q", challenge, resp, err, c.Refusal())
		}
	})
}
