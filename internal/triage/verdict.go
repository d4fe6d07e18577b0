// Package triage turns the merger's records into the triage vocabulary
// of docs/design.md: a status and a suggested action for every hunk, file and
// patch of a rebased queue.
//
// It does no I/O: it works on the merger.Result it is handed.
package triage

import (
	"github.com/rtbot/rtbot/internal/merger"
)

// Status is the triage verdict for a patch or a file.
type Status string

// The statuses, in order from best to worst; a patch's status is the worst
// of its files' (see Rank).
const (
	Applied        Status = "applied"         // applied exactly or at a line offset
	Merged         Status = "merged"          // needed the 3-way merge; merged cleanly
	Resolved       Status = "resolved"        // conflicted; a remembered resolution resolved it
	Fuzz           Status = "fuzz"            // applied only with reduced context
	AlreadyApplied Status = "already-applied" // the candidate already has the change
	Superseded     Status = "superseded"      // upstream rewrote or removed the lines
	Blocked        Status = "blocked"         // fails because an earlier patch failed
	Conflict       Status = "conflict"        // upstream and the patch change the same lines
	MissingFile    Status = "missing-file"    // a file the patch changes is gone
	Malformed      Status = "malformed"       // the patch cannot be parsed
)

// Action is what a maintainer should do about a status.
type Action string

// The actions docs/design.md names.
const (
	None    Action = "none"
	Review  Action = "review"
	Drop    Action = "drop"
	Refresh Action = "refresh"
	Fix     Action = "fix" // fix the queue (malformed patch)
)

// ActionFor returns the suggested action for a status.
func ActionFor(s Status) Action {
	switch s {
	case Fuzz:
		return Review
	case AlreadyApplied, Superseded:
		return Drop
	case Conflict, MissingFile:
		return Refresh
	case Malformed:
		return Fix
	}
	return None
}

// Rank orders statuses from best (0) to worst. A patch takes the worst
// status of its files; malformed beats everything because nothing of the
// patch could be read, and blocked ranks below conflict so that a patch
// with a genuine conflict of its own is not hidden behind its dependency.
func Rank(s Status) int {
	switch s {
	case Applied:
		return 0
	case Merged:
		return 1
	case Resolved:
		return 2
	case Fuzz:
		return 3
	case AlreadyApplied:
		return 4
	case Superseded:
		return 5
	case Blocked:
		return 6
	case Conflict:
		return 7
	case MissingFile:
		return 8
	case Malformed:
		return 9
	}
	return 10
}

// Clean reports whether a status needs no human before the result can be
// tested. A resolved patch counts as clean: a maintainer resolved the same
// conflict before.
func (s Status) Clean() bool { return s == Applied || s == Merged || s == Resolved }

// Worse returns the worse of two statuses.
func Worse(a, b Status) Status {
	if Rank(b) > Rank(a) {
		return b
	}
	return a
}

// fileStatus maps the merger's outcome for one file to a status.
func fileStatus(f merger.FileResult) Status {
	switch f.Outcome {
	case merger.Applied:
		for _, h := range f.Hunks {
			if h.Fuzz > 0 {
				return Fuzz
			}
		}
		if f.Unchanged {
			return AlreadyApplied
		}
		return Applied
	case merger.Merged:
		if f.Unchanged {
			return AlreadyApplied
		}
		return Merged
	case merger.Resolved:
		return Resolved
	case merger.Present:
		return AlreadyApplied
	case merger.Missing:
		return MissingFile
	case merger.Malformed:
		return Malformed
	}
	return Conflict
}
