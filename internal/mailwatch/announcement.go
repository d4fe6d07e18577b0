// Package mailwatch recognises kernel release announcements in RFC 5322 mail
// and scans an IMAP mailbox for new ones, incrementally.
//
// It knows nothing about git: its output is an [Announcement], which the bot
// pipeline turns into a candidate to rebase onto.
package mailwatch

import "time"

// Kind is what sort of announcement a mail is.
type Kind string

// The kinds of mail rtbot distinguishes (docs/design.md, "CLI contract").
const (
	KindStableRC Kind = "stable-rc" // a stable review cycle: [PATCH 6.1 000/123] 6.1.177-rc1 review
	KindRTStable Kind = "rt-stable" // a stable-rt release: [ANNOUNCE] 6.1.79-rt25
	KindRTRC     Kind = "rt-rc"     // a stable-rt review cover: [PATCH RT 0/3] Linux v5.4.143-rt64-rc2
	KindRTDevel  Kind = "rt-devel"  // an RT development release: [ANNOUNCE] v6.6-rt12
	KindNone     Kind = "none"      // not an announcement (reply, single patch, release mail, ...)
)

// Announcement is what rtbot learned from one mail. For KindNone only Kind,
// MessageID and Reason are meaningful.
type Announcement struct {
	Kind      Kind      `json:"kind"`
	Series    string    `json:"series,omitempty"`     // "6.1"
	Version   string    `json:"version,omitempty"`    // "6.1.177", or "6.1.79-rt25" for RT releases
	RC        int       `json:"rc,omitempty"`         // 1 for -rc1; 0 when not a release candidate
	GitURL    string    `json:"git_url,omitempty"`    // tree to fetch the candidate from
	GitBranch string    `json:"git_branch,omitempty"` // branch in GitURL
	PatchURL  string    `json:"patch_url,omitempty"`  // the rc patch, when announced
	Deadline  time.Time `json:"deadline,omitzero"`    // when responses are due
	MessageID string    `json:"message_id,omitempty"` // without angle brackets; "" when missing or not one msgid.Check accepts
	From      string    `json:"from,omitempty"`       // sender address, lower-case
	Subject   string    `json:"subject,omitempty"`    // decoded subject
	Reason    string    `json:"reason,omitempty"`     // why Kind is KindNone
}
