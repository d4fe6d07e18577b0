package pipeline

import (
	"github.com/rtbot/rtbot/internal/config"
	"github.com/rtbot/rtbot/internal/trigger"
)

// The adapters below turn the configuration into each package's own
// options. config knows none of those packages (it is a leaf); a zero
// value in an option means the owning package's default.

// triggerSpec is the trigger form of a [[trigger]] table.
func triggerSpec(t config.Trigger) trigger.Spec {
	return trigger.Spec{
		Name: t.Name, Type: triggerType(t.Type), Timeout: t.Timeout.Duration,
		Argv: t.Argv, URL: t.URL, Method: t.Method, Headers: t.Headers, SecretEnv: t.SecretEnv,
		Dir: t.Dir, Origin: t.Origin,
	}
}

// triggerType maps a [[trigger]] type to trigger's; an unknown one is
// passed on for Fire to refuse.
func triggerType(t string) string {
	switch t {
	case config.TriggerCommand:
		return trigger.TypeCommand
	case config.TriggerWebhook:
		return trigger.TypeWebhook
	case config.TriggerKCIDB:
		return trigger.TypeKCIDB
	}
	return t
}
