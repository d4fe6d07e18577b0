package pipeline

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/rtbot/rtbot/internal/config"
	"github.com/rtbot/rtbot/internal/mailwatch"
	"github.com/rtbot/rtbot/internal/netsec"
	"github.com/rtbot/rtbot/internal/patchqueue"
	"github.com/rtbot/rtbot/internal/trigger"
)

// adaptConfig is a small valid configuration TestConfigRules edits.
const adaptConfig = `[bot]
name = "rtbot"
email = "rtbot@example.org"
state = "/var/lib/rtbot/state.db"

[imap]
addr = "imap.example.org:993"
username = "rtbot"
password_env = "IMAP_PW"

[smtp]
addr = "smtp.example.org:587"
tls = "starttls"

[[tree]]
name = "6.1-rt"
series = "6.1"
repo = "/srv/linux.git"
candidate_url = "https://git.kernel.org/pub/scm/linux/kernel/git/stable/linux-stable-rc.git"
queue = "v6.1.176..v6.1.176-rt64"
maintainers = ["rt@example.org"]
senders = ["gregkh@linuxfoundation.org"]
triggers = ["build", "hook", "kcidb"]

[[trigger]]
name = "build"
type = "command"
argv = ["make", "-j8"]

[[trigger]]
name = "hook"
type = "webhook"
url = "https://ci.example.org/build"

[[trigger]]
name = "kcidb"
type = "kcidb"
dir = "/var/lib/rtbot/kcidb"
`

// TestConfigRules checks that each check ConfigRules hands config is the
// owner's: a configuration that breaks it is refused with config's message,
// at the key, and one that keeps it is accepted.
func TestConfigRules(t *testing.T) {
	tests := []struct {
		name, old, new string
		key, msg       string // "": accepted
	}{
		{"branch", `queue = "v6.1.176..v6.1.176-rt64"`, "queue = \"v6.1.176..v6.1.176-rt64\"\ncandidate_branch = \"linux 6.1.y\"", "tree[0].candidate_branch", `"linux 6.1.y" is not a valid branch name`},
		{"branch template", `triggers = [`, "branch_template = \"rtbot/{series}.lock\"\ntriggers = [", "tree[0].branch_template", "not a valid branch name"},
		{"revision", `queue = "v6.1.176..v6.1.176-rt64"`, "queue = \"v6.1 rt\"\nqueue_kind = \"ref\"\nqueue_base = \"v6.1.176\"", "tree[0].queue", "not a git revision"},
		{"range base", `queue = "v6.1.176..v6.1.176-rt64"`, "queue = \"v6.1.176..v6.1.176-rt64\"\nqueue_base = \"v6.1.175\"", "tree[0].queue_base", "differs"},
		{"rc patch", `queue = "v6.1.176..v6.1.176-rt64"`, "queue = \"v6.1.176..v6.1.176-rt64\"\nrc_patch = \"http://example.org/patch-{version}\"", "tree[0].rc_patch", "want an https URL"},
		{"rc patch loopback", `queue = "v6.1.176..v6.1.176-rt64"`, "queue = \"v6.1.176..v6.1.176-rt64\"\nrc_patch = \"http://LOCALHOST:8080/patch-{version}\"", "", ""},
		{"flag", `password_env = "IMAP_PW"`, "password_env = \"IMAP_PW\"\nmark_processed = \"two words\"", "imap.mark_processed", "not a flag"},
		{"plain remote", `addr = "imap.example.org:993"`, "addr = \"imap.example.org:143\"\ntls = \"plain\"", "imap.tls", "only allowed for a loopback address"},
		{"plain loopback", `addr = "imap.example.org:993"`, "addr = \"[::1]:143\"\ntls = \"plain\"", "", ""},
	}
	for _, tt := range tests {
		if !strings.Contains(adaptConfig, tt.old) {
			t.Fatalf("%s: %q is not in the configuration", tt.name, tt.old)
		}
		data := strings.Replace(adaptConfig, tt.old, tt.new, 1)
		_, err := config.Parse("/etc/rtbot/rtbot.toml", []byte(data), ConfigRules())
		switch {
		case tt.key == "" && err != nil:
			t.Errorf("%s: refused: %v", tt.name, err)
		case tt.key != "" && (err == nil || !strings.Contains(err.Error(), tt.key+": ") || !strings.Contains(err.Error(), tt.msg)):
			t.Errorf("%s: Parse = %v; want %s: ...%s", tt.name, err, tt.key, tt.msg)
		}
	}
}

// TestConfigDefaults checks that a configuration that leaves the keys out
// gets the owning packages' defaults, and that the adapters hand them on
// unchanged: what config fills in is what the packages would use anyway.
func TestConfigDefaults(t *testing.T) {
	c, err := config.Parse("/etc/rtbot/rtbot.toml", []byte(adaptConfig), ConfigRules())
	if err != nil {
		t.Fatal(err)
	}
	if got, want := mailLimits(c.Limits), mailwatch.DefaultLimits(); got != want {
		t.Errorf("mail limits %+v, want mailwatch's %+v", got, want)
	}
	if got, want := queueLimits(c.Limits), patchqueue.DefaultLimits(); got != want {
		t.Errorf("queue limits %+v, want patchqueue's %+v", got, want)
	}
	if c.IMAP.Mailbox != mailwatch.DefaultMailbox || c.IMAP.Poll.Duration != mailwatch.DefaultPoll {
		t.Errorf("mailbox %q, poll %v; want mailwatch's %q and %v", c.IMAP.Mailbox, c.IMAP.Poll.Duration, mailwatch.DefaultMailbox, mailwatch.DefaultPoll)
	}
	specs := map[string]trigger.Spec{}
	for _, tr := range c.Triggers {
		specs[tr.Name] = triggerSpec(tr)
	}
	if got := specs["build"].Timeout; got != trigger.DefaultCommandTimeout {
		t.Errorf("command timeout %v, want trigger's %v", got, trigger.DefaultCommandTimeout)
	}
	if got := specs["hook"].Timeout; got != trigger.DefaultHTTPTimeout {
		t.Errorf("webhook timeout %v, want trigger's %v", got, trigger.DefaultHTTPTimeout)
	}
	if got := specs["kcidb"].Origin; got != trigger.DefaultKCIDBOrigin {
		t.Errorf("kcidb origin %q, want trigger's %q", got, trigger.DefaultKCIDBOrigin)
	}
}

// TestConfigWords checks that config's words for TLS modes and trigger
// types map to the packages' own, and that an unknown word is passed on
// for the package to refuse.
func TestConfigWords(t *testing.T) {
	modes := map[string]netsec.Mode{
		config.TLSImplicit: netsec.TLS, config.TLSStartTLS: netsec.StartTLS, config.TLSPlain: netsec.Plain, "ssl": "ssl",
	}
	for in, want := range modes {
		if got := tlsMode(in); got != want {
			t.Errorf("tlsMode(%q) = %q, want %q", in, got, want)
		}
	}
	types := map[string]string{
		config.TriggerCommand: trigger.TypeCommand, config.TriggerWebhook: trigger.TypeWebhook, config.TriggerKCIDB: trigger.TypeKCIDB, "email": "email",
	}
	for in, want := range types {
		if got := triggerType(in); got != want {
			t.Errorf("triggerType(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestTriggerSpec checks that triggerSpec carries every field of a
// [[trigger]] table over.
func TestTriggerSpec(t *testing.T) {
	c := config.Trigger{
		Name: "hook", Type: config.TriggerWebhook, Argv: []string{"/bin/true"},
		URL: "https://ci.example.org/{tree}", Method: "PUT", Headers: map[string]string{"X-Token": "{secret}"},
		SecretEnv: "TOKEN", Dir: "/srv/kcidb", Origin: "rt_lab", Poll: config.PollGitLab, PollSecretEnv: "READ", ResultsArtifact: "out/kcidb.json",
	}
	if err := c.Timeout.UnmarshalText([]byte("90s")); err != nil {
		t.Fatal(err)
	}
	want := trigger.Spec{
		Name: "hook", Type: trigger.TypeWebhook, Timeout: 90 * time.Second, Argv: []string{"/bin/true"},
		URL: "https://ci.example.org/{tree}", Method: "PUT", Headers: map[string]string{"X-Token": "{secret}"},
		SecretEnv: "TOKEN", Dir: "/srv/kcidb", Origin: "rt_lab", Poll: trigger.PollGitLab, PollSecretEnv: "READ", ResultsArtifact: "out/kcidb.json",
	}
	got := triggerSpec(c)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("triggerSpec = %+v, want %+v", got, want)
	}
	for i := range reflect.TypeFor[trigger.Spec]().NumField() {
		if reflect.ValueOf(got).Field(i).IsZero() {
			t.Errorf("trigger.Spec.%s is not set from the table", reflect.TypeFor[trigger.Spec]().Field(i).Name)
		}
	}
}
