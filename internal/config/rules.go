package config

import (
	"errors"
	"reflect"
	"time"
)

// Rules are what config needs from the packages that own a key's meaning:
// whether a value is valid (a git branch name is refname's to judge, an
// IMAP flag mailwatch's, the loopback rule netsec's) and what a key left
// out of the file means (the mail and queue limits are mailwatch's and
// patchqueue's, the trigger timeouts trigger's). config imports none of
// those packages; the caller passes their rules to Load and Parse, which
// apply them as they read the file, so that every problem is still
// reported at load time with its file, line and key. pipeline.ConfigRules
// is the complete set. Every field must be set.
type Rules struct {
	// Branch returns why name is not a valid git branch name, or nil.
	Branch func(name string) error
	// Revision reports whether rev is a valid git revision name.
	Revision func(rev string) bool
	// Range splits a git range "A..B", returning A and whether queue is one.
	Range func(queue string) (base string, ok bool)
	// RCPatch returns why tmpl is not a usable rc_patch location, or nil.
	RCPatch func(tmpl string) error
	// Flag reports whether flag may be set on processed mail.
	Flag func(flag string) bool
	// Loopback reports whether a connection to host may go without TLS.
	Loopback func(host string) bool
	// Redact returns a remote (or any text) without the credentials of
	// its URLs, for messages that quote a configured remote.
	Redact func(s string) string
	// Defaults are the values of the keys left out of the file.
	Defaults Defaults
}

// Defaults are the values Load gives keys that are left out of the file
// and whose defaults other packages own. Every field must be set.
type Defaults struct {
	Mailbox        string        // imap.mailbox
	Poll           time.Duration // imap.poll
	CommandTimeout time.Duration // a command trigger's timeout
	HTTPTimeout    time.Duration // a webhook or kcidb trigger's timeout
	KCIDBOrigin    string        // a kcidb trigger's origin
	Limits         LimitsConfig  // [limits]

	SMTPTimeout time.Duration // smtp.timeout
	// The deadlines (see Deadlines).
	IMAPTimeout    time.Duration // imap.timeout
	GitTimeout     time.Duration // git.timeout
	GitListTimeout time.Duration // git.list_timeout
	PassTimeout    time.Duration // bot.pass_timeout

	ResultsDeadline         time.Duration // results.deadline
	LatencyTolerancePercent float64       // results.latency_tolerance_percent
	LatencyToleranceUS      float64       // results.latency_tolerance_us
}

// ErrIncompleteRules is returned for Rules with a function or a default
// left unset: a program error, not a problem of the file.
var ErrIncompleteRules = errors.New("config: incomplete Rules: every check and default must be set (see pipeline.ConfigRules)")

// complete reports whether every function and every default of r is set.
func (r Rules) complete() bool {
	return allSet(reflect.ValueOf(r))
}

// allSet reports whether no field of the struct v, nested structs
// included, is a zero value.
func allSet(v reflect.Value) bool {
	for i := range v.NumField() {
		f := v.Field(i)
		if f.Kind() == reflect.Struct {
			if !allSet(f) {
				return false
			}
		} else if f.IsZero() {
			return false
		}
	}
	return true
}
