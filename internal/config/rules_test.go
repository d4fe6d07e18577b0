package config

import (
	"errors"
	"strings"
	"testing"

	"github.com/rtbot/rtbot/internal/candidate"
	"github.com/rtbot/rtbot/internal/mailwatch"
	"github.com/rtbot/rtbot/internal/netsec"
	"github.com/rtbot/rtbot/internal/patchqueue"
	"github.com/rtbot/rtbot/internal/refname"
	"github.com/rtbot/rtbot/internal/trigger"
)

// testRules are the rules of the packages that own them, as
// pipeline.ConfigRules gives them (the pipeline imports config, so config's
// tests cannot import the pipeline; its own tests check ConfigRules).
func testRules() Rules {
	mail, queue := mailwatch.DefaultLimits(), patchqueue.DefaultLimits()
	return Rules{
		Branch:   refname.Branch,
		Revision: refname.Revision,
		Range: func(q string) (string, bool) {
			r, ok := patchqueue.ParseRange(q)
			return r.Base, ok
		},
		RCPatch: func(tmpl string) error {
			_, err := candidate.PatchSource(tmpl, "6.1.1", 1)
			return err
		},
		Flag:     mailwatch.ValidFlag,
		Loopback: netsec.LoopbackHost,
		Defaults: Defaults{
			Mailbox:        mailwatch.DefaultMailbox,
			Poll:           mailwatch.DefaultPoll,
			CommandTimeout: trigger.DefaultCommandTimeout,
			HTTPTimeout:    trigger.DefaultHTTPTimeout,
			KCIDBOrigin:    trigger.DefaultKCIDBOrigin,
			Limits: LimitsConfig{
				MailBytes: mail.MaxBytes, MailHeaderBytes: mail.MaxHeaderBytes, MailTextBytes: mail.MaxTextBytes,
				MIMEParts: mail.MaxParts, MIMEDepth: mail.MaxDepth,
				QueuePatches: queue.MaxPatches, QueueBytes: queue.MaxTotalSize,
				PatchBytes: queue.MaxPatchBytes, HunkLines: queue.MaxHunkLines,
			},
		},
	}
}

// TestIncompleteRules checks that Parse refuses rules with a check or a
// default missing, rather than skip a validation or fill in a zero.
func TestIncompleteRules(t *testing.T) {
	for name, edit := range map[string]func(*Rules){
		"no branch check":    func(r *Rules) { r.Branch = nil },
		"no loopback rule":   func(r *Rules) { r.Loopback = nil },
		"no mailbox":         func(r *Rules) { r.Defaults.Mailbox = "" },
		"no hunk lines":      func(r *Rules) { r.Defaults.Limits.HunkLines = 0 },
		"no defaults at all": func(r *Rules) { r.Defaults = Defaults{} },
	} {
		r := testRules()
		edit(&r)
		if c, err := Parse("rt.toml", []byte(minimal), r); c != nil || !errors.Is(err, errIncompleteRules) {
			t.Errorf("%s: Parse = %v, %v; want errIncompleteRules", name, c, err)
		}
	}
	if _, err := Parse("rt.toml", []byte(minimal), testRules()); err != nil {
		t.Errorf("complete rules: %v", err)
	}
}

// TestBranchNeedsLoad checks that a Tree made without Load has no rule for
// branch names, and says so instead of returning an unchecked name.
func TestBranchNeedsLoad(t *testing.T) {
	tr := Tree{Name: "6.1-rt", Series: "6.1", BranchTemplate: DefaultBranchTemplate}
	if b, err := tr.Branch("6.1.177", 1); err == nil || !strings.Contains(err.Error(), "not loaded") {
		t.Errorf("Branch of a hand-made Tree = %q, %v; want an error", b, err)
	}
}
