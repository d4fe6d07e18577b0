package config_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/rtbot/rtbot/internal/config"
	"github.com/rtbot/rtbot/internal/pipeline"
)

func TestIncompleteRules(t *testing.T) {
	for name, edit := range map[string]func(*config.Rules){
		"no branch check":    func(r *config.Rules) { r.Branch = nil },
		"no loopback rule":   func(r *config.Rules) { r.Loopback = nil },
		"no mailbox":         func(r *config.Rules) { r.Defaults.Mailbox = "" },
		"no hunk lines":      func(r *config.Rules) { r.Defaults.Limits.HunkLines = 0 },
		"no defaults at all": func(r *config.Rules) { r.Defaults = config.Defaults{} },
	} {
		r := pipeline.ConfigRules()
		edit(&r)
		if c, err := config.Parse("rt.toml", []byte(minimal), r); c != nil || !errors.Is(err, config.ErrIncompleteRules) {
			t.Errorf("%s: Parse = %v, %v; want ErrIncompleteRules", name, c, err)
		}
	}
	if _, err := config.Parse("rt.toml", []byte(minimal), pipeline.ConfigRules()); err != nil {
		t.Errorf("complete rules: %v", err)
	}
}

// TestBranchNeedsLoad checks that a Tree made without Load has no rule for
// branch names, and says so instead of returning an unchecked name.
func TestBranchNeedsLoad(t *testing.T) {
	tr := config.Tree{Name: "6.1-rt", Series: "6.1", BranchTemplate: config.DefaultBranchTemplate}
	if b, err := tr.Branch("6.1.177", 1); err == nil || !strings.Contains(err.Error(), "not loaded") {
		t.Errorf("Branch of a hand-made Tree = %q, %v; want an error", b, err)
	}
}
