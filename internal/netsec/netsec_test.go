package netsec

import (
	"crypto/tls"
	"net"
	"strings"
	"testing"
)

func TestLoopbackHost(t *testing.T) {
	tests := []struct {
		host string
		want bool
	}{
		{"127.0.0.1", true},
		{"127.5.6.7", true},
		{"::1", true},
		{"0:0:0:0:0:0:0:1", true},
		{"::ffff:127.0.0.1", true}, // IPv4-mapped IPv6 loopback
		{"localhost", true},
		{"LocalHost", true},
		{"10.0.0.1", false},
		{"192.0.2.1", false},
		{"2001:db8::1", false},
		{"::ffff:10.0.0.1", false},
		{"0.0.0.0", false},
		{"::", false},
		{"mail.example.org", false},
		{"ip6-localhost", false}, // a name is not resolved, even one that is loopback in /etc/hosts
		{"localhost.", false},
		{"localhost.example.org", false},
		{"127.0.0.1.nip.io", false},
		{"[::1]", false}, // a bare host has no brackets
		{"127.0.0.1:25", false},
		{"::1%lo", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := LoopbackHost(tt.host); got != tt.want {
			t.Errorf("LoopbackHost(%q) = %v, want %v", tt.host, got, tt.want)
		}
	}
}

func TestLoopbackAddr(t *testing.T) {
	tests := []struct {
		addr string
		want bool
	}{
		{"127.0.0.1:25", true},
		{"127.5.6.7:143", true},
		{"[::1]:25", true},
		{"[::ffff:127.0.0.1]:25", true},
		{"localhost:587", true},
		{"LOCALHOST:587", true},
		{"10.0.0.1:25", false},
		{"[2001:db8::1]:25", false},
		{"mail.example.org:25", false},
		{":25", false}, // an empty host
		{"127.0.0.1", false},
		{"::1", false}, // not host:port
		{"", false},
	}
	for _, tt := range tests {
		if got := LoopbackAddr(tt.addr); got != tt.want {
			t.Errorf("LoopbackAddr(%q) = %v, want %v", tt.addr, got, tt.want)
		}
	}
}

// peerConn is a connection whose only property is its remote address.
type peerConn struct {
	net.Conn
	remote net.Addr
}

func (c peerConn) RemoteAddr() net.Addr { return c.remote }

func TestLoopbackPeer(t *testing.T) {
	tcp := func(s string) net.Addr { return &net.TCPAddr{IP: net.ParseIP(s), Port: 25} }
	tests := []struct {
		name   string
		remote net.Addr
		want   bool
	}{
		{"127.0.0.1", tcp("127.0.0.1"), true},
		{"127.5.6.7", tcp("127.5.6.7"), true},
		{"::1", tcp("::1"), true},
		{"mapped", tcp("::ffff:127.0.0.1"), true},
		{"10.0.0.1", tcp("10.0.0.1"), false},
		{"2001:db8::1", tcp("2001:db8::1"), false},
		{"no IP", &net.TCPAddr{Port: 25}, false},
		{"not TCP", &net.UnixAddr{Name: "/run/smtp.sock", Net: "unix"}, false},
	}
	for _, tt := range tests {
		if got := LoopbackPeer(peerConn{remote: tt.remote}); got != tt.want {
			t.Errorf("LoopbackPeer(%s) = %v, want %v", tt.name, got, tt.want)
		}
	}

	// A real connection over loopback.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if !LoopbackPeer(c) {
		t.Errorf("LoopbackPeer(connection to %s) = false", l.Addr())
	}
}

func TestParseMode(t *testing.T) {
	tests := []struct {
		in   string
		want Mode
		err  string
	}{
		{"", TLS, ""},
		{"tls", TLS, ""},
		{"starttls", StartTLS, ""},
		{"plain", Plain, ""},
		{"TLS", "", `unknown TLS mode "TLS" (want tls, starttls or plain)`},
		{"ssl", "", `unknown TLS mode "ssl"`},
		{" tls", "", "unknown TLS mode"},
	}
	for _, tt := range tests {
		got, err := ParseMode(tt.in)
		switch {
		case tt.err == "" && (err != nil || got != tt.want):
			t.Errorf("ParseMode(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("ParseMode(%q) = %q, %v; want an error with %q", tt.in, got, err, tt.err)
		}
	}
}

func TestClientConfig(t *testing.T) {
	c := ClientConfig(nil, "mail.example.org:465")
	if c.ServerName != "mail.example.org" || c.MinVersion != tls.VersionTLS12 || c.RootCAs != nil {
		t.Errorf("ClientConfig(nil) = ServerName %q, MinVersion %#x, RootCAs %v", c.ServerName, c.MinVersion, c.RootCAs)
	}
	if c := ClientConfig(nil, "[::1]:993"); c.ServerName != "::1" {
		t.Errorf("ClientConfig(nil, [::1]:993): ServerName %q", c.ServerName)
	}

	base := &tls.Config{ServerName: "smtp.internal", MinVersion: tls.VersionTLS13}
	c = ClientConfig(base, "127.0.0.1:465")
	if c == base || c.ServerName != "smtp.internal" || c.MinVersion != tls.VersionTLS13 {
		t.Errorf("ClientConfig(base) = %p (base %p), ServerName %q, MinVersion %#x", c, base, c.ServerName, c.MinVersion)
	}
	c.ServerName = "changed"
	if base.ServerName != "smtp.internal" {
		t.Error("ClientConfig changed its base")
	}

	c = ClientConfig(&tls.Config{}, "imap.example.org:993")
	if c.ServerName != "imap.example.org" || c.MinVersion != tls.VersionTLS12 {
		t.Errorf("ClientConfig(empty base) = ServerName %q, MinVersion %#x", c.ServerName, c.MinVersion)
	}
}

func TestRedact(t *testing.T) {
	tests := []struct{ in, want string }{
		{"https://rtbot:tok3n@gitlab.example.org/rt/linux.git", "https://gitlab.example.org/rt/linux.git"},
		{"https://ghp_tok3n@github.com/x/y.git", "https://github.com/x/y.git"},
		{"HTTP://u:tok3n@127.0.0.1:8080/r.git", "HTTP://127.0.0.1:8080/r.git"},
		{"https://a@b:tok3n@host/r", "https://host/r"}, // an unescaped "@": up to the last one, as url.Parse
		{"https://u:p%40tok3n@host", "https://host"},
		{"ssh://git:tok3n@example.org/rt/linux.git", "ssh://git@example.org/rt/linux.git"},
		{"ssh://git@example.org/rt/linux.git", "ssh://git@example.org/rt/linux.git"},
		{"git@gitlab.example.org:rt/linux.git", "git@gitlab.example.org:rt/linux.git"},
		{"/srv/git/linux.git", "/srv/git/linux.git"},
		{"https://git.kernel.org/pub/scm/linux.git", "https://git.kernel.org/pub/scm/linux.git"},
		{"https://host/path?to=a@b", "https://host/path?to=a@b"}, // an "@" after the authority
		{"https://host/x mail rt@example.org", "https://host/x mail rt@example.org"},
		// In text: every URL, nothing else.
		{`push https://u:tok3n@h1/a.git rtbot/x: 401; fetch "http://tok3n@h2/b.git"; mail rt@example.org`,
			`push https://h1/a.git rtbot/x: 401; fetch "http://h2/b.git"; mail rt@example.org`},
		{`Get "https://x-access-token:***@host/r.git/info/refs": EOF`, `Get "https://host/r.git/info/refs": EOF`},
		{"", ""},
	}
	for _, tt := range tests {
		if got := Redact(tt.in); got != tt.want {
			t.Errorf("Redact(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func FuzzRedact(f *testing.F) {
	f.Add("push https://u:tok3n@h1/a.git and ssh://git:tok3n@h2/b")
	f.Fuzz(func(t *testing.T, s string) {
		r := Redact(s)
		if Redact(r) != r {
			t.Errorf("Redact is not idempotent on %q: %q, then %q", s, r, Redact(r))
		}
		if len(r) > len(s) {
			t.Errorf("Redact(%q) = %q grew", s, r)
		}
	})
}
