package config

import (
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Source kinds, the values of [source] kind.
const (
	SourceIMAP        = "imap"         // the [imap] mailbox; the default
	SourceMaildir     = "maildir"      // a Maildir: lei q -o DIR, mbsync, fetchmail, procmail
	SourcePublicInbox = "public-inbox" // a public-inbox v2 archive: lore.kernel.org, or a local inbox
)

// DefaultSeenLimit is [source] seen_limit's default.
const DefaultSeenLimit = 20000

// SourceConfig is the [source] table: where rtbot reads the list from.
// Without it (or with kind = "imap") rtbot reads the [imap] mailbox, as
// it always did; with another kind the [imap] table must be absent.
type SourceConfig struct {
	// Kind is SourceIMAP (the default), SourceMaildir or SourcePublicInbox.
	Kind string `toml:"kind"`
	// Path is the Maildir (kind maildir) or a local inbox directory (kind
	// public-inbox, instead of URL); made absolute.
	Path string `toml:"path"`
	// URL is a public-inbox inbox over http(s), such as
	// "https://lore.kernel.org/stable/" (kind public-inbox, instead of
	// Path). Plain http only to a loopback host.
	URL string `toml:"url"`
	// Since is where a public-inbox first run starts: a date
	// ("2025-06-01") or an RFC 3339 time. Absent: now, reading nothing
	// older than the first run.
	Since string `toml:"since"`
	// SeenLimit bounds a Maildir checkpoint (file names remembered);
	// default DefaultSeenLimit.
	SeenLimit int `toml:"seen_limit"`
	// Poll is how often `rtbot watch` reads the source; default
	// Rules.Defaults.Poll.
	Poll Duration `toml:"poll"`
	// Timeout bounds one network operation of a remote public-inbox;
	// default Rules.Defaults.IMAPTimeout.
	Timeout Duration `toml:"timeout"`
	// CAFile is extra PEM roots for an https inbox.
	CAFile string `toml:"ca_file"`
}

// Where returns the source's path or URL: what names it in the state and
// in messages.
func (s SourceConfig) Where() string {
	if s.URL != "" {
		return s.URL
	}
	return s.Path
}

// SinceTime returns Since as a time; zero when it is not set. Load has
// checked it.
func (s SourceConfig) SinceTime() time.Time {
	t, _ := parseSince(s.Since)
	return t
}

// parseSince reads a date or an RFC 3339 time.
func parseSince(v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.DateOnly, v); err == nil {
		return t, nil
	}
	return time.Parse(time.RFC3339, v)
}

// validateSource checks [source] against [imap] and fills in defaults.
func (c *Config) validateSource(p *problems, base string, r Rules) {
	s := &c.Source
	switch s.Kind {
	case "":
		s.Kind = SourceIMAP
	case SourceIMAP, SourceMaildir, SourcePublicInbox:
	default:
		p.add("source.kind", "%q is not one of %q, %q, %q", s.Kind, SourceIMAP, SourceMaildir, SourcePublicInbox)
		return
	}
	if s.Kind == SourceIMAP {
		if *s != (SourceConfig{Kind: SourceIMAP}) {
			p.add("source", "kind %q reads the [imap] table: the other [source] keys are for kind %q or %q", SourceIMAP, SourceMaildir, SourcePublicInbox)
		}
		c.IMAP.validate(p, base, r)
		return
	}
	if c.IMAP.Addr != "" || c.IMAP.Username != "" {
		p.add("imap", "is set, but source.kind is %q: remove [imap] or set kind = %q", s.Kind, SourceIMAP)
	}
	s.validateKind(p, base, r)
	checkDuration(p, "source.poll", &s.Poll, r.Defaults.Poll, minPoll)
	checkDuration(p, "source.timeout", &s.Timeout, r.Defaults.IMAPTimeout, minTimeout)
}

// validateKind checks the keys of a maildir or public-inbox source.
func (s *SourceConfig) validateKind(p *problems, base string, r Rules) {
	if s.Kind == SourceMaildir {
		if s.URL != "" || s.Since != "" || s.CAFile != "" {
			p.add("source.url", "url, since and ca_file are for kind %q", SourcePublicInbox)
		}
		if s.SeenLimit == 0 {
			s.SeenLimit = DefaultSeenLimit
		} else if s.SeenLimit < 100 {
			p.add("source.seen_limit", "%d: must be at least 100", s.SeenLimit)
		}
	} else if s.SeenLimit != 0 {
		p.add("source.seen_limit", "is for kind %q", SourceMaildir)
	}
	switch {
	case s.Path != "" && s.URL != "":
		p.add("source.url", "set path or url, not both")
	case s.Path == "" && s.URL == "" && s.Kind == SourceMaildir:
		p.add("source.path", "required: the Maildir (the directory holding new/ and cur/)")
	case s.Path == "" && s.URL == "":
		p.add("source.url", `required: the inbox's URL ("https://lore.kernel.org/stable/"), or path, a local inbox`)
	case s.Path != "":
		s.Path = resolvePath(p, "source.path", s.Path, base)
	default:
		s.checkURL(p, r)
	}
	if _, err := parseSince(s.Since); err != nil {
		p.add("source.since", "%q is not a date (2025-06-01) or an RFC 3339 time", s.Since)
	}
	if s.CAFile != "" {
		s.CAFile = resolvePath(p, "source.ca_file", s.CAFile, base)
	}
}

// checkURL checks a public-inbox URL.
func (s *SourceConfig) checkURL(p *problems, r Rules) {
	u, err := url.Parse(s.URL)
	switch {
	case err != nil || u.Host == "":
		p.add("source.url", "%q is not an http(s) URL", r.Redact(s.URL))
	case u.User != nil:
		p.add("source.url", "%q has credentials: a public inbox needs none", r.Redact(s.URL))
	case u.Scheme == "http" && !r.Loopback(u.Hostname()):
		p.add("source.url", "%q: plain http only to a loopback address (localhost, 127.0.0.0/8, ::1); use https", s.URL)
	case u.Scheme != "https" && u.Scheme != "http":
		p.add("source.url", "%q is not an http(s) URL", s.URL)
	}
	if !strings.HasSuffix(s.URL, "/") {
		s.URL += "/"
	}
	if s.CAFile != "" && u != nil && u.Scheme != "https" {
		p.add("source.ca_file", "is for an https URL")
	}
}

// String names the source for messages: "public-inbox https://...".
func (s SourceConfig) String() string {
	if s.Kind == SourceIMAP || s.Kind == "" {
		return SourceIMAP
	}
	return fmt.Sprintf("%s %s", s.Kind, s.Where())
}
