package config_test

import (
	"testing"
	"time"

	"github.com/rtbot/rtbot/internal/config"
	"github.com/rtbot/rtbot/internal/mailout"
	"github.com/rtbot/rtbot/internal/pipeline"
)

// TestSMTPTimeout: [smtp] timeout bounds each SMTP reply; left out, it is
// mailout's default; it must be a duration of at least a second.
func TestSMTPTimeout(t *testing.T) {
	if got := mustParse(t, minimal).SMTP.Timeout.Duration; got != mailout.DefaultTimeout {
		t.Errorf("default smtp.timeout %v, want mailout's %v", got, mailout.DefaultTimeout)
	}
	if c, err := config.Load(examplePath, pipeline.ConfigRules()); err != nil || c.SMTP.Timeout.Duration != time.Minute {
		t.Errorf("the example's smtp.timeout: %v, %v; want 1m0s", c, err)
	}
	for _, tc := range []validationCase{
		{"smtp timeout", `tls = "starttls"`, "tls = \"starttls\"\ntimeout = \"90s\"", "", ""},
		{"smtp timeout not a duration", `tls = "starttls"`, "tls = \"starttls\"\ntimeout = \"soon\"", "smtp.timeout", "not a duration"},
		{"smtp timeout negative", `tls = "starttls"`, "tls = \"starttls\"\ntimeout = \"-1s\"", "smtp.timeout", "positive"},
		{"smtp timeout too short", `tls = "starttls"`, "tls = \"starttls\"\ntimeout = \"100ms\"", "smtp.timeout", "at least 1s"},
	} {
		t.Run(tc.name, func(t *testing.T) { checkValidation(t, tc) })
	}
	if c := mustParse(t, edit(t, minimal, `tls = "starttls"`, "tls = \"starttls\"\ntimeout = \"90s\"")); c.SMTP.Timeout.Duration != 90*time.Second {
		t.Errorf("smtp.timeout = %v, want 1m30s", c.SMTP.Timeout.Duration)
	}
}
