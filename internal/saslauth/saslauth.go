// Package saslauth is the SASL side of OAuth2 for IMAP and SMTP: clients
// for OAUTHBEARER (RFC 7628) and XOAUTH2 (Google's and Microsoft's older
// mechanism, which go-sasl lacks) that, when the server refuses the token,
// finish the exchange properly (RFC 7628 3.2.3: the client answers the
// error challenge with a dummy response, so that the server ends the
// command with a tagged NO) and keep what the server said.
package saslauth

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/emersion/go-sasl"
)

// Mechanism names.
const (
	OAuthBearer = sasl.OAuthBearer // "OAUTHBEARER"
	XOAuth2     = "XOAUTH2"
)

// Choose returns the OAuth2 mechanism to use with a server that
// advertises the mechanisms for which offers returns true: OAUTHBEARER,
// the standard, else XOAUTH2; "" when it offers neither.
func Choose(offers func(mech string) bool) string {
	for _, m := range []string{OAuthBearer, XOAuth2} {
		if offers(m) {
			return m
		}
	}
	return ""
}

// Client is a SASL client of one OAuth2 mechanism.
type Client struct {
	mech, user, token, host string
	port                    int
	refusal                 string // the server's error challenge, decoded
}

// NewClient returns a client of mech (OAuthBearer or XOAuth2) logging
// user in with the access token; host and port, for OAUTHBEARER, name the
// server (0 and "" leave them out).
func NewClient(mech, user, token, host string, port int) *Client {
	return &Client{mech: mech, user: user, token: token, host: host, port: port}
}

// Start implements sasl.Client: the initial response carries the token.
func (c *Client) Start() (mech string, ir []byte, err error) {
	if c.mech == XOAuth2 {
		return XOAuth2, []byte("user=" + c.user + "\x01auth=Bearer " + c.token + "\x01\x01"), nil
	}
	s := "n,a=" + saslName(c.user) + ","
	if c.host != "" {
		s += "\x01host=" + c.host
	}
	if c.port != 0 {
		s += "\x01port=" + strconv.Itoa(c.port)
	}
	return OAuthBearer, []byte(s + "\x01auth=Bearer " + c.token + "\x01\x01"), nil
}

// Next implements sasl.Client. A challenge after the initial response is
// the server's refusal (a JSON error): it is kept, and answered with
// RFC 7628's dummy response, %x01, so that the server ends the exchange
// with its failure reply. XOAUTH2 asks for an empty response there, but
// go-imap sends an empty response as "=", which Dovecot refuses as bad
// base64 (BAD instead of NO [AUTHENTICATIONFAILED]); the servers end the
// exchange whatever the response says, so XOAUTH2 gets %x01 too.
func (c *Client) Next(challenge []byte) ([]byte, error) {
	c.refusal = describe(challenge)
	return []byte{0x01}, nil
}

// Refusal returns what the server said when it refused the token ("" if
// it said nothing, or did not refuse): the status of its JSON error, such
// as "invalid_token" or "401".
func (c *Client) Refusal() string { return c.refusal }

// describe turns an error challenge into a short text.
func describe(challenge []byte) string {
	var e struct {
		Status  string `json:"status"`
		Scope   string `json:"scope"`
		Schemes string `json:"schemes"`
	}
	if err := json.Unmarshal(challenge, &e); err != nil || e.Status == "" {
		return strings.ToValidUTF8(strings.TrimSpace(string(challenge)), "?")
	}
	if e.Scope != "" {
		return fmt.Sprintf("status %s (scope %s)", e.Status, e.Scope)
	}
	return "status " + e.Status
}

// saslName escapes a user name for a GS2 header (RFC 5801): "," and "=".
func saslName(s string) string {
	return strings.NewReplacer("=", "=3D", ",", "=2C").Replace(s)
}
