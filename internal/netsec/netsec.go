// Package netsec is rtbot's connection-security policy: how a connection to
// a mail server is protected (the TLS modes), when it may go without TLS
// (the loopback rule), and the TLS configuration a client starts from.
//
// # The loopback rule
//
// A connection may go without TLS (mode Plain, or an http:// rc patch URL)
// only to this machine, and the configuration must say so plainly: the
// host is "localhost" (in any case) or a loopback IP literal (127.0.0.0/8,
// ::1, or an IPv4-mapped ::ffff:127.x.y.z). [LoopbackHost] is that rule.
// No other name counts, whatever it resolves to: a DNS answer or a hosts
// file is not the configuration, and a name that is loopback today may not
// be tomorrow. Where rtbot dials the connection itself (IMAP and SMTP), the
// peer it reached must be a loopback address too ([LoopbackPeer]), so a
// "localhost" that the resolver maps elsewhere is refused before a password
// crosses it. Credentials for a git remote (a token) follow the same rule:
// https, or plain http to a loopback host only.
//
// # Private CAs
//
// A server whose certificate a private CA signed is trusted through a
// ca_file ([LoadCA]): for IMAP and SMTP its pool is the RootCAs of the
// configuration [ClientConfig] starts from, for https git remotes its
// certificates go to go-git. A connection that fails for want of it says
// which key to set ([ExplainTLS]).
//
// # Secrets in URLs
//
// A remote's URL may carry credentials (https://user:token@host/...).
// [Redact] is the one rule that removes them, from a URL or from any text
// that quotes one, before rtbot writes it anywhere.
package netsec

import (
	"crypto/tls"
	"fmt"
	"net"
	"strings"
)

// Mode is how a connection to a server is protected.
type Mode string

// The modes. Their names are the values of the tls key of [imap] and [smtp].
const (
	TLS      Mode = "tls"      // TLS from the first byte (IMAP 993, SMTP 465); the default
	StartTLS Mode = "starttls" // connect in clear, upgrade before authenticating (IMAP 143, SMTP 587)
	Plain    Mode = "plain"    // no TLS at all; only to this machine (see the loopback rule)
)

// ParseMode returns the mode named s; the empty string is [TLS], the
// default.
func ParseMode(s string) (Mode, error) {
	switch m := Mode(s); m {
	case "":
		return TLS, nil
	case TLS, StartTLS, Plain:
		return m, nil
	}
	return "", fmt.Errorf("unknown TLS mode %q (want %s, %s or %s)", s, TLS, StartTLS, Plain)
}

// LoopbackHost reports whether host names this machine plainly:
// "localhost" in any case, or a loopback IP literal. Other names are not
// resolved; host is a bare host, without port or brackets.
func LoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// LoopbackAddr reports whether the host of addr (host:port, an IPv6
// literal in brackets) satisfies [LoopbackHost].
func LoopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	return err == nil && LoopbackHost(host)
}

// LoopbackPeer reports whether conn's remote end is a loopback address,
// checked after dialing a host that [LoopbackHost] accepted.
func LoopbackPeer(conn net.Conn) bool {
	ra, ok := conn.RemoteAddr().(*net.TCPAddr)
	return ok && ra.IP.IsLoopback()
}

// ClientConfig returns the TLS configuration for a connection to addr
// (host:port): a copy of base, or a new configuration trusting the system
// roots when base is nil, with ServerName set to addr's host when base
// left it empty and MinVersion to TLS 1.2 when base left it zero.
func ClientConfig(base *tls.Config, addr string) *tls.Config {
	cfg := &tls.Config{}
	if base != nil {
		cfg = base.Clone()
	}
	if cfg.ServerName == "" {
		cfg.ServerName, _, _ = net.SplitHostPort(addr)
	}
	if cfg.MinVersion == 0 {
		cfg.MinVersion = tls.VersionTLS12
	}
	return cfg
}
