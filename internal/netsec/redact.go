package netsec

import (
	"regexp"
	"strings"
)

// urlUserinfo matches the scheme and user information of a URL written in
// text: "https://user:token@". The user information runs to the last "@"
// before the end of the authority (a "/", "?", "#", a blank or a quote),
// as url.Parse reads it.
var urlUserinfo = regexp.MustCompile(`(?i)\b([a-z][a-z0-9+.-]*)://([^\s/?#"'<>\\]*)@`)

// Redact returns s with the credentials of every URL in it removed: s may
// be one URL (a configured remote) or any text (an error message, a log
// line, a report). It is the one rule for secrets in URLs, applied to
// every remote rtbot writes anywhere: logs, the state file, `rtbot
// status` and `history`, mail, JSON, trigger events and KCIDB documents.
//
// For http and https the whole user information goes, user name included:
// a token often stands as the user name (https://TOKEN@github.com/...),
// and what remains is a URL anyone may use with their own credentials.
// For other schemes only the password goes: ssh://git@host/path keeps its
// user, which is not a secret and says how to log in. Text without a
// URL, scp-style remotes (git@host:path, which carry no password) and
// local paths are returned as they are.
func Redact(s string) string {
	if !strings.Contains(s, "@") {
		return s
	}
	return urlUserinfo.ReplaceAllStringFunc(s, func(m string) string {
		scheme, rest, _ := strings.Cut(m, "://")
		info := strings.TrimSuffix(rest, "@")
		switch user, _, hasPassword := strings.Cut(info, ":"); {
		case strings.EqualFold(scheme, "http") || strings.EqualFold(scheme, "https"):
			return scheme + "://"
		case hasPassword:
			return scheme + "://" + user + "@"
		}
		return m
	})
}
