package config_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rtbot/rtbot/internal/config"
	"github.com/rtbot/rtbot/internal/mailwatch"
	"github.com/rtbot/rtbot/internal/patchqueue"
	"github.com/rtbot/rtbot/internal/pipeline"
	"github.com/rtbot/rtbot/internal/remote"
	"github.com/rtbot/rtbot/internal/results"
	"github.com/rtbot/rtbot/internal/trigger"
)

const examplePath = "../../docs/rtbot.example.toml"

// minimal is a small valid configuration the table tests edit. Line numbers
// matter to TestUnknownKeys and TestValidationLines.
const minimal = `[bot]
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
triggers = ["build"]

[[trigger]]
name = "build"
type = "command"
argv = ["make", "-j8"]
`

// secondTree is appended to minimal to have a tree[1]; its first line is
// line 30 of the result.
const secondTree = `
[[tree]]
name = "5.15-rt"
series = "5.15"
repo = "/srv/linux.git"
candidate_url = "git://git.kernel.org/pub/scm/linux/kernel/git/stable/linux-stable-rc.git"
queue = "v5.15.1..v5.15.1-rt1"
maintainers = ["rt@example.org"]
senders = ["gregkh@linuxfoundation.org"]
`

// problemsOf flattens the errors.Join returned by Parse into its *Errors.
func problemsOf(t *testing.T, err error) []*config.Error {
	t.Helper()
	if err == nil {
		return nil
	}
	var errs []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	} else {
		errs = []error{err}
	}
	var out []*config.Error
	for _, e := range errs {
		var ce *config.Error
		if !errors.As(e, &ce) {
			t.Fatalf("error %q is not a *config.Error", e)
		}
		out = append(out, ce)
	}
	return out
}

// edit replaces old by new in s, exactly once, failing the test when old is
// not there (so a table entry cannot silently test nothing).
func edit(t *testing.T, s, old, new string) string {
	t.Helper()
	if strings.Count(s, old) != 1 {
		t.Fatalf("edit: %q occurs %d times", old, strings.Count(s, old))
	}
	return strings.Replace(s, old, new, 1)
}

func mustParse(t *testing.T, data string) *config.Config {
	t.Helper()
	c, err := config.Parse("/etc/rtbot/rtbot.toml", []byte(data), pipeline.ConfigRules())
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return c
}

func TestExampleLoads(t *testing.T) {
	c, err := config.Load(examplePath, pipeline.ConfigRules())
	if err != nil {
		t.Fatalf("the documented example does not load:\n%v", err)
	}
	if len(c.Trees) != 1 || len(c.Triggers) != 3 {
		t.Fatalf("got %d trees and %d triggers, want 1 and 3", len(c.Trees), len(c.Triggers))
	}
	tr := c.Trees[0]
	checks := []struct{ name, got, want string }{
		{"tree name", tr.Name, "6.1-rt"},
		{"series", tr.Series, "6.1"},
		{"queue kind", tr.QueueKind, config.QueueRange},
		{"queue base", tr.QueueBase, "v6.1.176"},
		{"candidate branch", tr.CandidateBranch, "linux-6.1.y"},
		{"sender", tr.Senders[0], "gregkh@linuxfoundation.org"},
		{"imap tls", c.IMAP.TLS, config.TLSImplicit},
		{"smtp tls", c.SMTP.TLS, config.TLSStartTLS},
		{"imap password file", c.IMAP.PasswordFile, "/etc/rtbot/imap.password"},
		{"webhook method", c.Triggers[1].Method, "POST"},
		{"kcidb dir", c.Triggers[2].Dir, "/var/lib/rtbot/kcidb"},
		{"header", c.Triggers[1].Headers["X-Requested-By"], "rtbot"},
		{"push ssh key", tr.PushAuth.SSHKey, "/etc/rtbot/id_ed25519"},
		{"public url", tr.PublicURL, "https://git.kernel.org/pub/scm/linux/kernel/git/rt/linux-stable-rt.git"},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s = %q, want %q", ch.name, ch.got, ch.want)
		}
	}
	if c.IMAP.Poll.Duration != 5*time.Minute || c.Triggers[0].Timeout.Duration != 2*time.Hour {
		t.Errorf("poll %v, build timeout %v; want 5m0s and 2h0m0s", c.IMAP.Poll.Duration, c.Triggers[0].Timeout.Duration)
	}
	if c.Bot.PassTimeout.Duration != 3*time.Hour+time.Minute || c.IMAP.Timeout.Duration != time.Minute {
		t.Errorf("pass timeout %v, imap timeout %v; want the documented 3h1m0s and 1m0s", c.Bot.PassTimeout.Duration, c.IMAP.Timeout.Duration)
	}
	if b, err := tr.Branch("6.1.177", 1); err != nil || b != "rtbot/6.1-rt/6.1.177-rc1" {
		t.Errorf("Branch = %q, %v", b, err)
	}
	for _, name := range tr.Triggers {
		if _, ok := c.Trigger(name); !ok {
			t.Errorf("trigger %q not found", name)
		}
	}
}

// TestExampleDocumentsEveryKey checks that the example mentions every key
// the Go types accept, so new keys get documented.
func TestExampleDocumentsEveryKey(t *testing.T) {
	data, err := os.ReadFile(examplePath)
	if err != nil {
		t.Fatal(err)
	}
	keys := []string{"name", "email", "state", "lock", "workdir", "addr", "tls", "username",
		"password_file", "password_env", "mailbox", "mark_processed", "move_processed", "poll",
		"from", "series", "repo", "candidate_url", "candidate_branch", "announce_url", "rc_patch", "queue",
		"queue_kind", "queue_base", "maintainers", "cc", "senders", "push_remote", "public_url",
		"branch_template", "push_partial", "triggers", "type", "timeout", "argv", "url",
		"method", "headers", "secret_env", "dir", "origin",
		"mail_bytes", "mail_header_bytes", "mail_text_bytes", "mime_parts", "mime_depth",
		"queue_patches", "queue_bytes", "patch_bytes", "hunk_lines",
		"ca_file", "token_env", "token_file", "ssh_key", "known_hosts",
		"pass_timeout", "list_timeout", "deadline", "latency_tolerance_percent", "latency_tolerance_us", "poll", "poll_secret_env",
		"results_artifact", "kind", "path", "since", "seen_limit", "auth", "token_command"}
	for _, k := range keys {
		if !strings.Contains(string(data), "\n"+k+" =") && !strings.Contains(string(data), "# "+k+" =") {
			t.Errorf("the example does not show key %q", k)
		}
	}
}

func TestMinimalDefaults(t *testing.T) {
	c := mustParse(t, minimal)
	tr := c.Trees[0]
	checks := []struct{ name, got, want string }{
		{"lock", c.Bot.Lock, "/var/lib/rtbot/state.db.lock"},
		{"workdir", c.Bot.Workdir, "/var/lib/rtbot/work"},
		{"imap tls", c.IMAP.TLS, config.TLSImplicit},
		{"mailbox", c.IMAP.Mailbox, mailwatch.DefaultMailbox},
		{"smtp from", c.SMTP.From, `"rtbot" <rtbot@example.org>`},
		{"candidate branch", tr.CandidateBranch, "linux-6.1.y"},
		{"queue kind", tr.QueueKind, config.QueueRange},
		{"queue base", tr.QueueBase, "v6.1.176"},
		{"branch template", tr.BranchTemplate, config.DefaultBranchTemplate},
		{"argv[0] looked up in PATH", c.Triggers[0].Argv[0], "make"},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s = %q, want %q", ch.name, ch.got, ch.want)
		}
	}
	if c.Results.Dir != "" || c.Results.Deadline.Duration != results.DefaultDeadline ||
		c.Results.LatencyTolerancePercent != results.DefaultTolerancePercent || c.Results.LatencyToleranceUS != results.DefaultToleranceUS {
		t.Errorf("[results] = %+v: defaults not applied", c.Results)
	}
	if c.IMAP.Poll.Duration != mailwatch.DefaultPoll || c.Triggers[0].Timeout.Duration != trigger.DefaultCommandTimeout {
		t.Errorf("poll %v, timeout %v: defaults not applied", c.IMAP.Poll.Duration, c.Triggers[0].Timeout.Duration)
	}
	if c.IMAP.Timeout.Duration != mailwatch.DefaultTimeout || c.Git.Timeout.Duration != remote.DefaultTimeout ||
		c.Git.ListTimeout.Duration != remote.DefaultListTimeout ||
		c.Bot.PassTimeout.Duration != pipeline.DefaultPassTimeout+trigger.DefaultCommandTimeout {
		t.Errorf("imap timeout %v, git %v and %v, pass %v: deadline defaults not applied",
			c.IMAP.Timeout.Duration, c.Git.Timeout.Duration, c.Git.ListTimeout.Duration, c.Bot.PassTimeout.Duration)
	}
}

// validationCase is an edit of minimal and the error Parse must report
// for the result.
type validationCase struct {
	name     string
	old, new string // edit of minimal (old "" appends new)
	key      string // the key the error must name; "" means valid
	msg      string // part of the message
}

// TestValidation parses minimal with one edit after another and checks
// the error that names the key at fault, or that the result is valid.
func TestValidation(t *testing.T) {
	cases := slices.Concat(validationBotAndMailCases(), validationTreeSourceCases(),
		validationTreeOutputCases(), validationTriggerCases(), validationDeadlineCases())
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) { checkValidation(t, tt) })
	}
}

// validationBotAndMailCases edit the [bot], [imap] and [smtp] tables.
func validationBotAndMailCases() []validationCase {
	return []validationCase{
		{"email with name", `email = "rtbot@example.org"`, `email = "Bot <rtbot@example.org>"`, "bot.email", "bare"},
		{"name with newline", "\nname = \"rtbot\"", "\nname = \"rt\\nbot\"", "bot.name", "control"},
		{"no state", `state = "/var/lib/rtbot/state.db"`, ``, "bot.state", "required"},
		{"tls mode", `addr = "imap.example.org:993"`, "addr = \"imap.example.org:993\"\ntls = \"ssl\"", "imap.tls", "not one of"},
		{"plain to a remote host", `addr = "imap.example.org:993"`, "addr = \"imap.example.org:143\"\ntls = \"plain\"", "imap.tls", "loopback"},
		{"smtp starttls to 10.0.0.1", `addr = "smtp.example.org:587"`, "addr = \"10.0.0.1:25\"", "", ""},
		{"smtp plain to a remote host", `tls = "starttls"`, `tls = "plain"`, "smtp.tls", "loopback"},
		{"plain to 127.0.0.1", `addr = "imap.example.org:993"`, "addr = \"127.0.0.1:143\"\ntls = \"plain\"", "", ""},
		{"plain to ::1", `addr = "imap.example.org:993"`, "addr = \"[::1]:143\"\ntls = \"plain\"", "", ""},
		{"plain to localhost", `addr = "imap.example.org:993"`, "addr = \"localhost:143\"\ntls = \"plain\"", "", ""},
		{"addr without port", `addr = "imap.example.org:993"`, `addr = "imap.example.org"`, "imap.addr", "host:port"},
		{"addr bad port", `addr = "imap.example.org:993"`, `addr = "imap.example.org:99999"`, "imap.addr", "port"},
		{"no imap addr", `addr = "imap.example.org:993"`, ``, "imap.addr", "required"},
		{"no imap username", `username = "rtbot"`, ``, "imap.username", "required"},
		{"both password sources", `password_env = "IMAP_PW"`, "password_env = \"IMAP_PW\"\npassword_file = \"pw\"", "imap.password_env", "not both"},
		{"no password source", `password_env = "IMAP_PW"`, ``, "imap.password_file", "password_env"},
		{"bad env name", `password_env = "IMAP_PW"`, `password_env = "1-PW"`, "imap.password_env", "environment variable"},
		{"smtp password without user", `tls = "starttls"`, "tls = \"starttls\"\npassword_env = \"PW\"", "smtp.username", "required"},
		{"smtp user without password", `tls = "starttls"`, "tls = \"starttls\"\nusername = \"me\"", "smtp.password_file", "required"},
		{"smtp from", `tls = "starttls"`, "tls = \"starttls\"\nfrom = \"not an address\"", "smtp.from", "not an e-mail address"},
		{"poll not a duration", `password_env = "IMAP_PW"`, "password_env = \"IMAP_PW\"\npoll = \"5 minutes\"", "imap.poll", "not a duration"},
		{"poll negative", `password_env = "IMAP_PW"`, "password_env = \"IMAP_PW\"\npoll = \"-1m\"", "imap.poll", "positive"},
		{"poll integer", `password_env = "IMAP_PW"`, "password_env = \"IMAP_PW\"\npoll = 300", "imap.poll", "not a duration"},
		{"poll empty", `password_env = "IMAP_PW"`, "password_env = \"IMAP_PW\"\npoll = \"\"", "imap.poll", "not a duration"},
		{"poll too short", `password_env = "IMAP_PW"`, "password_env = \"IMAP_PW\"\npoll = \"10ms\"", "imap.poll", "at least"},
		{"flag", `password_env = "IMAP_PW"`, "password_env = \"IMAP_PW\"\nmark_processed = \"two words\"", "imap.mark_processed", "not a flag"},
		{"move to the scanned mailbox", `password_env = "IMAP_PW"`, "password_env = \"IMAP_PW\"\nmove_processed = \"INBOX\"", "imap.move_processed", "scanned"},
	}
}

// validationTreeSourceCases edit where a [[tree]] takes its candidates
// and its queue from.
func validationTreeSourceCases() []validationCase {
	return []validationCase{
		{"bad series", `series = "6.1"`, `series = "6.1.5"`, "tree[0].series", "not a stable series"},
		{"series word", `series = "6.1"`, `series = "six"`, "tree[0].series", "not a stable series"},
		{"tree name with blank", `name = "6.1-rt"`, `name = "6 1"`, "tree[0].name", "letters"},
		{"no tree", "[[tree]]\nname = \"6.1-rt\"", "[xtree]\nname = \"6.1-rt\"", "tree", "at least one"},
		{"no series", `series = "6.1"`, ``, "tree[0].series", "required"},
		{"no repo", `repo = "/srv/linux.git"`, ``, "tree[0].repo", "required"},
		{"no candidate", `candidate_url = "https://git.kernel.org/pub/scm/linux/kernel/git/stable/linux-stable-rc.git"`, ``, "tree[0].candidate_url", "required"},
		{"ftp candidate", `candidate_url = "https://git.kernel.org/pub/scm/linux/kernel/git/stable/linux-stable-rc.git"`, `candidate_url = "ftp://example.org/linux.git"`, "tree[0].candidate_url", "scheme"},
		{"candidate no path", `candidate_url = "https://git.kernel.org/pub/scm/linux/kernel/git/stable/linux-stable-rc.git"`, `candidate_url = "https://git.kernel.org/"`, "tree[0].candidate_url", "HOST/PATH"},
		{"candidate word", `candidate_url = "https://git.kernel.org/pub/scm/linux/kernel/git/stable/linux-stable-rc.git"`, `candidate_url = "linux-stable-rc"`, "tree[0].candidate_url", "not a git URL"},
		{"candidate scp", `candidate_url = "https://git.kernel.org/pub/scm/linux/kernel/git/stable/linux-stable-rc.git"`, `candidate_url = "git@example.org:stable/linux.git"`, "", ""},
		{"candidate ssh", `candidate_url = "https://git.kernel.org/pub/scm/linux/kernel/git/stable/linux-stable-rc.git"`, `candidate_url = "ssh://git@example.org/stable/linux.git"`, "", ""},
		{"candidate branch", `queue = "v6.1.176..v6.1.176-rt64"`, "queue = \"v6.1.176..v6.1.176-rt64\"\ncandidate_branch = \"linux 6.1.y\"", "tree[0].candidate_branch", "branch name"},
		{"no queue", `queue = "v6.1.176..v6.1.176-rt64"`, ``, "tree[0].queue", "required"},
		{"rc patch https", `queue = "v6.1.176..v6.1.176-rt64"`, "queue = \"v6.1.176..v6.1.176-rt64\"\nrc_patch = \"https://cdn.kernel.org/patch-{version}-rc{rc}.xz\"", "", ""},
		{"rc patch path", `queue = "v6.1.176..v6.1.176-rt64"`, "queue = \"v6.1.176..v6.1.176-rt64\"\nrc_patch = \"rc/patch-{version}-rc{rc}.gz\"", "", ""},
		{"rc patch http", `queue = "v6.1.176..v6.1.176-rt64"`, "queue = \"v6.1.176..v6.1.176-rt64\"\nrc_patch = \"http://example.org/patch-{version}\"", "tree[0].rc_patch", "https"},
		{"rc patch placeholder", `queue = "v6.1.176..v6.1.176-rt64"`, "queue = \"v6.1.176..v6.1.176-rt64\"\nrc_patch = \"https://example.org/{sublevel}\"", "tree[0].rc_patch", "placeholder"},
		{"rc patch loopback http", `queue = "v6.1.176..v6.1.176-rt64"`, "queue = \"v6.1.176..v6.1.176-rt64\"\nrc_patch = \"http://127.0.0.1:8080/patch-{version}-rc{rc}.gz\"", "", ""},
		{"rc patch ftp", `queue = "v6.1.176..v6.1.176-rt64"`, "queue = \"v6.1.176..v6.1.176-rt64\"\nrc_patch = \"ftp://example.org/patch-{version}-rc{rc}.gz\"", "tree[0].rc_patch", "https"},
		{"rc patch unclosed", `queue = "v6.1.176..v6.1.176-rt64"`, "queue = \"v6.1.176..v6.1.176-rt64\"\nrc_patch = \"https://example.org/patch-{version\"", "tree[0].rc_patch", "placeholder"},
		{"rc patch option-like", `queue = "v6.1.176..v6.1.176-rt64"`, "queue = \"v6.1.176..v6.1.176-rt64\"\nrc_patch = \"-patch-{version}\"", "tree[0].rc_patch", "not a URL or path"},
		{"rc patch control", `queue = "v6.1.176..v6.1.176-rt64"`, "queue = \"v6.1.176..v6.1.176-rt64\"\nrc_patch = \"rc/patch\\n-{version}\"", "tree[0].rc_patch", "not a URL or path"},
		{"path queue without base", `queue = "v6.1.176..v6.1.176-rt64"`, `queue = "patches-rt"`, "tree[0].queue_base", "required"},
		{"path queue with base", `queue = "v6.1.176..v6.1.176-rt64"`, "queue = \"patches-rt\"\nqueue_base = \"v6.1.176\"", "", ""},
		{"ref queue without base", `queue = "v6.1.176..v6.1.176-rt64"`, "queue = \"v6.1-rt\"\nqueue_kind = \"ref\"", "tree[0].queue_base", "required"},
		{"ref queue bad rev", `queue = "v6.1.176..v6.1.176-rt64"`, "queue = \"v6.1 rt\"\nqueue_kind = \"ref\"\nqueue_base = \"v6.1.176\"", "tree[0].queue", "not a git revision"},
		{"range base differs", `queue = "v6.1.176..v6.1.176-rt64"`, "queue = \"v6.1.176..v6.1.176-rt64\"\nqueue_base = \"v6.1.175\"", "tree[0].queue_base", "differs"},
		{"range kind not a range", `queue = "v6.1.176..v6.1.176-rt64"`, "queue = \"patches\"\nqueue_kind = \"range\"", "tree[0].queue", "not a git range"},
		{"queue kind", `queue = "v6.1.176..v6.1.176-rt64"`, "queue = \"v6.1.176..v6.1.176-rt64\"\nqueue_kind = \"svn\"", "tree[0].queue_kind", "not one of"},
		{"duplicate tree", "", strings.ReplaceAll(secondTree, `"5.15-rt"`, `"6.1-rt"`), "tree[1].name", "duplicate tree name"},
		{"tilde user", `repo = "/srv/linux.git"`, `repo = "~bob/linux.git"`, "tree[0].repo", "only ~/"},
	}
}

// validationTreeOutputCases edit where a [[tree]] sends its results: its
// mail, its branch and its triggers.
func validationTreeOutputCases() []validationCase {
	return []validationCase{
		{"no maintainers", `maintainers = ["rt@example.org"]`, ``, "tree[0].maintainers", "at least one"},
		{"bad maintainer", `maintainers = ["rt@example.org"]`, `maintainers = ["rt@example.org", "not an address"]`, "tree[0].maintainers[1]", "not an e-mail address"},
		{"bad cc", `maintainers = ["rt@example.org"]`, "maintainers = [\"rt@example.org\"]\ncc = [\"@\"]", "tree[0].cc[0]", "not an e-mail address"},
		{"no senders", `senders = ["gregkh@linuxfoundation.org"]`, ``, "tree[0].senders", "at least one"},
		{"bad sender", `senders = ["gregkh@linuxfoundation.org"]`, `senders = ["greg"]`, "tree[0].senders[0]", "not an e-mail address"},
		{"push remote name", `triggers = ["build"]`, "triggers = [\"build\"]\npush_remote = \"origin\"", "", ""},
		{"push remote blank", `triggers = ["build"]`, "triggers = [\"build\"]\npush_remote = \"my remote\"", "tree[0].push_remote", "blanks"},
		{"public url", `triggers = ["build"]`, "triggers = [\"build\"]\npublic_url = \"https://git.kernel.org/pub/scm/linux/kernel/git/rt/linux-stable-rt.git\"", "", ""},
		{"public url git", `triggers = ["build"]`, "triggers = [\"build\"]\npublic_url = \"git://git.example.org/rt.git\"", "", ""},
		{"public url ssh", `triggers = ["build"]`, "triggers = [\"build\"]\npublic_url = \"ssh://git.example.org/rt.git\"", "tree[0].public_url", "https://, http:// or git://"},
		{"public url scp", `triggers = ["build"]`, "triggers = [\"build\"]\npublic_url = \"git@gitlab.example.org:rt/linux.git\"", "tree[0].public_url", "https://, http:// or git://"},
		{"public url path", `triggers = ["build"]`, "triggers = [\"build\"]\npublic_url = \"/srv/git/rt.git\"", "tree[0].public_url", "https://, http:// or git://"},
		{"public url user", `triggers = ["build"]`, "triggers = [\"build\"]\npublic_url = \"https://bot@git.example.org/rt.git\"", "tree[0].public_url", "must not carry a user or password"},
		{"public url no path", `triggers = ["build"]`, "triggers = [\"build\"]\npublic_url = \"https://git.example.org/\"", "tree[0].public_url", "want https://HOST/PATH"},
		{"public url query", `triggers = ["build"]`, "triggers = [\"build\"]\npublic_url = \"https://git.example.org/rt.git?x=1\"", "tree[0].public_url", "no query"},
		{"public url blank", `triggers = ["build"]`, "triggers = [\"build\"]\npublic_url = \"https://git.example.org/r t.git\"", "tree[0].public_url", "blanks"},
		{"template outside namespace", `triggers = ["build"]`, "triggers = [\"build\"]\nbranch_template = \"linux-{version}\"", "tree[0].branch_template", `must start with "rtbot/"`},
		{"template placeholder first", `triggers = ["build"]`, "triggers = [\"build\"]\nbranch_template = \"{tree}/x\"", "tree[0].branch_template", `must start with "rtbot/"`},
		{"template unknown placeholder", `triggers = ["build"]`, "triggers = [\"build\"]\nbranch_template = \"rtbot/{branch}\"", "tree[0].branch_template", "unknown placeholder {branch}"},
		{"template unclosed", `triggers = ["build"]`, "triggers = [\"build\"]\nbranch_template = \"rtbot/{version\"", "tree[0].branch_template", "without '}'"},
		{"template stray brace", `triggers = ["build"]`, "triggers = [\"build\"]\nbranch_template = \"rtbot/x}\"", "tree[0].branch_template", "without '{'"},
		{"template bad ref", `triggers = ["build"]`, "triggers = [\"build\"]\nbranch_template = \"rtbot/{version}..rc{rc}\"", "tree[0].branch_template", "not a valid branch name"},
		{"template lock", `triggers = ["build"]`, "triggers = [\"build\"]\nbranch_template = \"rtbot/{series}.lock\"", "tree[0].branch_template", "not a valid branch name"},
		{"template all placeholders", `triggers = ["build"]`, "triggers = [\"build\"]\nbranch_template = \"rtbot/{series}/{tree}/{version}-rc{rc}\"", "", ""},
		{"missing trigger", `triggers = ["build"]`, `triggers = ["build", "boot"]`, "tree[0].triggers[1]", `no [[trigger]] is named "boot"`},
		{"trigger twice", `triggers = ["build"]`, `triggers = ["build", "build"]`, "tree[0].triggers[1]", "twice"},
	}
}

// validationTriggerCases edit the [[trigger]] tables. A case named
// "kcidb..." or "webhook..." edits a trigger of that type.
func validationTriggerCases() []validationCase {
	return []validationCase{
		{"trigger type", `type = "command"`, `type = "email"`, "trigger[0].type", "not one of"},
		{"trigger no type", `type = "command"`, ``, "trigger[0].type", "required"},
		{"trigger no name", `name = "build"`, ``, "trigger[0].name", "required"},
		{"command without argv", `argv = ["make", "-j8"]`, ``, "trigger[0].argv", "required"},
		{"command timeout", `argv = ["make", "-j8"]`, "argv = [\"make\"]\ntimeout = \"soon\"", "trigger[0].timeout", "not a duration"},
		{"command with url", `argv = ["make", "-j8"]`, "argv = [\"make\"]\nurl = \"https://ci.example.org/\"", "trigger[0].url", "not used by a command trigger"},
		{"webhook ftp", `type = "command"`, "type = \"webhook\"\nurl = \"ftp://ci.example.org/\"", "trigger[0].url", "http"},
		{"webhook with argv", `type = "command"`, "type = \"webhook\"\nurl = \"https://ci.example.org/\"", "trigger[0].argv", "not used by a webhook trigger"},
		{"webhook method", `argv = ["make", "-j8"]`, "url = \"https://ci.example.org/\"\nmethod = \"GET\"", "trigger[0].method", "POST, PUT or PATCH"},
		{"webhook poll", `argv = ["make", "-j8"]`, "url = \"https://ci.example.org/\"\npoll = \"gitlab\"\npoll_secret_env = \"GL_READ\"", "", ""},
		{"webhook poll unknown", `argv = ["make", "-j8"]`, "url = \"https://ci.example.org/\"\npoll = \"buildbot\"", "trigger[0].poll", "want \"gitlab\" or \"jenkins\""},
		{"webhook poll secret without poll", `argv = ["make", "-j8"]`, "url = \"https://ci.example.org/\"\npoll_secret_env = \"GL_READ\"", "trigger[0].poll_secret_env", "poll is not"},
		{"webhook results artifact", `argv = ["make", "-j8"]`, "url = \"https://ci.example.org/\"\npoll = \"jenkins\"\nresults_artifact = \"out/kcidb.json\"", "", ""},
		{"webhook results artifact without poll", `argv = ["make", "-j8"]`, "url = \"https://ci.example.org/\"\nresults_artifact = \"kcidb.json\"", "trigger[0].results_artifact", "poll is not"},
		{"webhook results artifact absolute", `argv = ["make", "-j8"]`, "url = \"https://ci.example.org/\"\npoll = \"gitlab\"\nresults_artifact = \"/kcidb.json\"", "trigger[0].results_artifact", "relative path"},
		{"webhook results artifact dot-dot", `argv = ["make", "-j8"]`, "url = \"https://ci.example.org/\"\npoll = \"gitlab\"\nresults_artifact = \"a/../../kcidb.json\"", "trigger[0].results_artifact", "relative path"},
		{"webhook results artifact query", `argv = ["make", "-j8"]`, "url = \"https://ci.example.org/\"\npoll = \"gitlab\"\nresults_artifact = \"k.json?x=1\"", "trigger[0].results_artifact", "relative path"},
		{"command with results artifact", `argv = ["make", "-j8"]`, "argv = [\"make\"]\nresults_artifact = \"kcidb.json\"", "trigger[0].results_artifact", "not used by a command trigger"},
		{"command with poll", `argv = ["make", "-j8"]`, "argv = [\"make\"]\npoll = \"gitlab\"", "trigger[0].poll", "not used by a command trigger"},
		{"webhook secret without env", `argv = ["make", "-j8"]`, "url = \"https://ci.example.org/?token={secret}\"", "trigger[0].secret_env", "{secret}"},
		{"webhook header name", `argv = ["make", "-j8"]`, "url = \"https://ci.example.org/\"\nheaders = { \"Bad Header\" = \"x\" }", `trigger[0].headers."Bad Header"`, "header name"},
		{"webhook ok", `argv = ["make", "-j8"]`, "url = \"https://ci.example.org/?token={secret}\"\nsecret_env = \"TOKEN\"\nheaders = { Authorization = \"Bearer {secret}\" }", "", ""},
		{"webhook all placeholders", `argv = ["make", "-j8"]`, "url = \"https://ci.example.org/job/{tree}/buildWithParameters?token={secret}&B={branch}&V={version}-rc{rc}&S={series}&C={commit}&K={candidate}\"\nsecret_env = \"TOKEN\"", "", ""},
		{"webhook unknown placeholder", `argv = ["make", "-j8"]`, "url = \"https://ci.example.org/?b={branch}&s={sublevel}\"", "trigger[0].url", "unknown placeholder {sublevel}"},
		{"webhook unclosed placeholder", `argv = ["make", "-j8"]`, "url = \"https://ci.example.org/?b={branch\"", "trigger[0].url", "without '}'"},
		{"kcidb url unknown placeholder", `argv = ["make", "-j8"]`, "url = \"https://kcidb.example.org/submit?x={subject}\"", "trigger[0].url", "unknown placeholder {subject}"},
		{"kcidb neither", `argv = ["make", "-j8"]`, ``, "trigger[0].dir", "required"},
		{"kcidb both", `argv = ["make", "-j8"]`, "dir = \"/tmp/k\"\nurl = \"https://kcidb.example.org/\"", "trigger[0].url", "not both"},
		{"kcidb origin", `argv = ["make", "-j8"]`, "dir = \"/tmp/k\"\norigin = \"Bad-Origin\"", "trigger[0].origin", "KCIDB origin"},
		{"kcidb dir secret", `argv = ["make", "-j8"]`, "dir = \"/tmp/k\"\nsecret_env = \"X\"", "trigger[0].secret_env", "not used"},
		{"duplicate trigger", "", "\n[[trigger]]\nname = \"build\"\ntype = \"command\"\nargv = [\"x\"]\n", "trigger[1].name", "duplicate trigger name"},
	}
}

// validationDeadlineCases edit the deadline keys: [imap] timeout, [git]
// and [bot] pass_timeout.
func validationDeadlineCases() []validationCase {
	const state, pw = `state = "/var/lib/rtbot/state.db"`, `password_env = "IMAP_PW"`
	return []validationCase{
		{"imap timeout", pw, pw + "\ntimeout = \"2m\"", "", ""},
		{"imap timeout not a duration", pw, pw + "\ntimeout = \"soon\"", "imap.timeout", "not a duration"},
		{"imap timeout too short", pw, pw + "\ntimeout = \"10ms\"", "imap.timeout", "at least 1s"},
		{"git timeouts", "", "\n[git]\ntimeout = \"10m\"\nlist_timeout = \"30s\"\n", "", ""},
		{"git timeout negative", "", "\n[git]\ntimeout = \"-1m\"\n", "git.timeout", "positive"},
		{"git list_timeout too short", "", "\n[git]\nlist_timeout = \"1ms\"\n", "git.list_timeout", "at least 1s"},
		{"git unknown key", "", "\n[git]\nfetch_timeout = \"1m\"\n", "git.fetch_timeout", "unknown key"},
		{"pass timeout", state, state + "\npass_timeout = \"45m\"", "", ""},
		{"pass timeout too short", state, state + "\npass_timeout = \"30s\"", "bot.pass_timeout", "at least 1m"},
		{"pass timeout under a trigger's", state, state + "\npass_timeout = \"20m\"", "bot.pass_timeout", "not longer than trigger[0].timeout (30m0s)"},
		{"default pass timeout under git's", "", "\n[git]\ntimeout = \"2h\"\n", "bot.pass_timeout", "1h30m0s is not longer than git.timeout (2h0m0s)"},
		{"results", "", "\n[results]\ndir = \"drop\"\ndeadline = \"6h\"\nlatency_tolerance_percent = 15\nlatency_tolerance_us = 2.5\n", "", ""},
		{"results deadline too short", "", "\n[results]\ndeadline = \"10s\"\n", "results.deadline", "at least 1m"},
		{"results negative tolerance", "", "\n[results]\nlatency_tolerance_us = -1\n", "results.latency_tolerance_us", "0 or more"},
		{"results unknown key", "", "\n[results]\ntolerance = 1\n", "results.tolerance", "unknown key"},
	}
}

// validationConfig is minimal with tt's edit, and the trigger's type
// changed as tt's name says.
func validationConfig(t *testing.T, tt validationCase) string {
	t.Helper()
	data := minimal + tt.new
	if tt.old != "" {
		data = edit(t, minimal, tt.old, tt.new)
	}
	if strings.HasPrefix(tt.name, "kcidb") {
		data = edit(t, data, `type = "command"`, `type = "kcidb"`)
	}
	if strings.HasPrefix(tt.name, "webhook") && !strings.Contains(data, `type = "webhook"`) {
		data = edit(t, data, `type = "command"`, `type = "webhook"`)
	}
	return data
}

// checkValidation parses tt's configuration and checks that it is valid,
// or that an error names the file, tt.key and tt.msg.
func checkValidation(t *testing.T, tt validationCase) {
	data := validationConfig(t, tt)
	c, err := config.Parse("/etc/rtbot/rtbot.toml", []byte(data), pipeline.ConfigRules())
	if tt.key == "" {
		if err != nil || c == nil {
			t.Fatalf("want valid, got %v", err)
		}
		return
	}
	if c != nil {
		t.Errorf("Parse returned a config along with errors")
	}
	errs := problemsOf(t, err)
	for _, e := range errs {
		if e.Key == tt.key && strings.Contains(e.Err.Error(), tt.msg) {
			if e.File != "/etc/rtbot/rtbot.toml" || !strings.Contains(e.Error(), tt.key+": ") {
				t.Errorf("error %q does not name the file and key", e)
			}
			return
		}
	}
	t.Fatalf("no error for %s containing %q; got:\n%v", tt.key, tt.msg, err)
}

// TestAllProblemsReported checks that validation does not stop at the first
// problem and that each problem is a separate *Error.
func TestAllProblemsReported(t *testing.T) {
	_, err := config.Parse("empty.toml", nil, pipeline.ConfigRules())
	errs := problemsOf(t, err)
	want := []string{"bot.name", "bot.email", "bot.state", "imap.addr", "imap.username", "smtp.addr", "tree"}
	got := map[string]bool{}
	for _, e := range errs {
		got[e.Key] = true
	}
	for _, k := range want {
		if !got[k] {
			t.Errorf("no error for %s; got:\n%v", k, err)
		}
	}
}

func TestValidationLines(t *testing.T) {
	data := minimal + edit(t, secondTree, `series = "5.15"`, `series = "5.15.2"`)
	_, err := config.Parse("rt.toml", []byte(data), pipeline.ConfigRules())
	errs := problemsOf(t, err)
	if len(errs) != 1 {
		t.Fatalf("want exactly 1 error, got:\n%v", err)
	}
	if e := errs[0]; e.Key != "tree[1].series" || e.Line != 32 {
		t.Errorf("got key %q line %d, want tree[1].series line 32", e.Key, e.Line)
	}
	if s := errs[0].Error(); !strings.HasPrefix(s, "rt.toml:32: tree[1].series: ") {
		t.Errorf("error text %q", s)
	}

	// A required key that is absent is located at its table's header.
	data = minimal + edit(t, secondTree, "repo = \"/srv/linux.git\"\n", "")
	_, err = config.Parse("rt.toml", []byte(data), pipeline.ConfigRules())
	errs = problemsOf(t, err)
	if len(errs) != 1 || errs[0].Key != "tree[1].repo" || errs[0].Line != 30 {
		t.Errorf("missing repo: want tree[1].repo at line 30 (the [[tree]] header), got:\n%v", err)
	}
}

func TestUnknownKeys(t *testing.T) {
	tests := []struct {
		name     string
		old, new string
		key      string
		line     int
		msg      string
	}{
		{"top level", "[bot]\n", "colour = \"red\"\n[bot]\n", "colour", 1, "unknown key"},
		{"in imap", `password_env = "IMAP_PW"`, "password_env = \"IMAP_PW\"\nmailboxx = \"INBOX\"", "imap.mailboxx", 10, "unknown key"},
		{"in second tree", "", edit(t, secondTree, `repo = "/srv/linux.git"`, "repo = \"/srv/linux.git\"\nqueue_bse = \"v5.15\""), "tree[1].queue_bse", 34, "unknown key"},
		{"in trigger", `argv = ["make", "-j8"]`, "argv = [\"make\"]\nshell = true", "trigger[0].shell", 29, "unknown key"},
		{"unknown table", "[smtp]\n", "[extra]\nkey = 1\n\n[smtp]\n", "extra", 11, "unknown table"},
		{"case differs", "\nname = \"rtbot\"", "\nName = \"rtbot\"", "bot.Name", 2, "case-sensitive; did you mean \"name\""},
		{"imap password", `password_env = "IMAP_PW"`, `password = "hunter2"`, "imap.password", 9, "must not be written in the configuration file"},
		{"smtp password", `tls = "starttls"`, "tls = \"starttls\"\nusername = \"u\"\npassword = \"hunter2\"", "smtp.password", 15, "password_file"},
		{"tree password", `senders = ["gregkh@linuxfoundation.org"]`, "senders = [\"gregkh@linuxfoundation.org\"]\nPassword = \"x\"", "tree[0].Password", 23, "must not be written"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := minimal + tt.new
			if tt.old != "" {
				data = edit(t, minimal, tt.old, tt.new)
			}
			_, err := config.Parse("rt.toml", []byte(data), pipeline.ConfigRules())
			for _, e := range problemsOf(t, err) {
				if e.Key == tt.key {
					if !strings.Contains(e.Err.Error(), tt.msg) || e.Line != tt.line {
						t.Errorf("got %q (line %d), want line %d and %q", e, e.Line, tt.line, tt.msg)
					}
					if strings.Contains(e.Error(), "hunter2") {
						t.Errorf("the error repeats the password: %q", e)
					}
					return
				}
			}
			t.Fatalf("no error naming %s; got:\n%v", tt.key, err)
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		name, data string
		line       int
		key        string
	}{
		{"syntax", minimal + "\nbad = = 1\n", 30, ""},
		{"unclosed header", minimal + "\n[[tree]\n", 0, ""},
		{"unterminated string", edit(t, minimal, "\nname = \"rtbot\"", "\nname = \"rtbot"), 2, ""},
		{"bool as string", edit(t, minimal, `triggers = ["build"]`, "triggers = [\"build\"]\npush_partial = \"yes\""), 24, "tree[0].push_partial"},
		{"list as string", edit(t, minimal, `senders = ["gregkh@linuxfoundation.org"]`, `senders = "gregkh@linuxfoundation.org"`), 22, "tree[0].senders"},
		{"table as string", "smtp = \"x\"\n" + edit(t, minimal, "[smtp]\naddr = \"smtp.example.org:587\"\ntls = \"starttls\"\n", ""), 1, "smtp"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := config.Parse("rt.toml", []byte(tt.data), pipeline.ConfigRules())
			errs := problemsOf(t, err)
			if len(errs) != 1 {
				t.Fatalf("want one error, got %v", err)
			}
			e := errs[0]
			if !strings.HasPrefix(e.Error(), "rt.toml") {
				t.Errorf("error %q does not name the file", e)
			}
			if tt.line > 0 && (e.Line != tt.line || !strings.HasPrefix(e.Error(), "rt.toml:"+strconv.Itoa(tt.line)+": ")) {
				t.Errorf("error %q: line %d, want %d", e, e.Line, tt.line)
			}
			if tt.key != "" && e.Key != tt.key {
				t.Errorf("error %q: key %q, want %q", e, e.Key, tt.key)
			}
		})
	}
}

func TestPassword(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil { // umask-proof
			t.Fatal(err)
		}
		return p
	}
	t.Setenv("RTBOT_TEST_PW", "from env")
	t.Setenv("RTBOT_TEST_EMPTY", "")
	tests := []struct {
		name   string
		s      config.Server
		want   string
		errMsg string
	}{
		{"file", config.Server{PasswordFile: write("ok", "s3cret\n", 0o600)}, "s3cret", ""},
		{"file crlf", config.Server{PasswordFile: write("crlf", "s3cret\r\n\n", 0o400)}, "s3cret", ""},
		{"file keeps inner blanks", config.Server{PasswordFile: write("blank", " a b \n", 0o600)}, " a b ", ""},
		{"group readable", config.Server{PasswordFile: write("group", "x\n", 0o640)}, "", "chmod 600"},
		{"world readable", config.Server{PasswordFile: write("world", "x\n", 0o604)}, "", "must not be accessible"},
		{"empty file", config.Server{PasswordFile: write("empty", "\n", 0o600)}, "", "empty"},
		{"missing file", config.Server{PasswordFile: filepath.Join(dir, "nope")}, "", "no such file"},
		{"env", config.Server{PasswordEnv: "RTBOT_TEST_PW"}, "from env", ""},
		{"env unset", config.Server{PasswordEnv: "RTBOT_TEST_UNSET_VARIABLE"}, "", "not set"},
		{"env empty", config.Server{PasswordEnv: "RTBOT_TEST_EMPTY"}, "", "empty"},
		{"none", config.Server{}, "", "no password configured"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.s.Password()
			if tt.errMsg != "" {
				if err == nil || !strings.Contains(err.Error(), tt.errMsg) {
					t.Fatalf("got %q, %v; want an error containing %q", got, err, tt.errMsg)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}

	// Through a loaded configuration: the method is promoted to IMAPConfig.
	cfg := filepath.Join(dir, "rtbot.toml")
	write("imap.pw", "hunter2\n", 0o600)
	if err := os.WriteFile(cfg, []byte(edit(t, minimal, `password_env = "IMAP_PW"`, `password_file = "imap.pw"`)), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := config.Load(cfg, pipeline.ConfigRules())
	if err != nil {
		t.Fatal(err)
	}
	if pw, err := c.IMAP.Password(); err != nil || pw != "hunter2" {
		t.Errorf("IMAP.Password() = %q, %v", pw, err)
	}
}

func TestRelativePaths(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	dir := filepath.Join(t.TempDir(), "etc")
	data := minimal
	data = edit(t, data, `state = "/var/lib/rtbot/state.db"`, "state = \"state/rtbot.db\"\nworkdir = \"~/rtbot-work\"")
	data = edit(t, data, `password_env = "IMAP_PW"`, `password_file = "./secrets/imap.pw"`)
	data = edit(t, data, `repo = "/srv/linux.git"`, `repo = "../linux.git"`)
	data = edit(t, data, `queue = "v6.1.176..v6.1.176-rt64"`, "queue = \"patches-rt\"\nqueue_base = \"v6.1.176\"\npush_remote = \"./push.git\"\nrc_patch = \"rc/patch-{version}-rc{rc}.gz\"")
	data = edit(t, data, `argv = ["make", "-j8"]`, `argv = ["bin/test", "bin/not-a-path-argument"]`)
	data += "\n[[trigger]]\nname = \"k\"\ntype = \"kcidb\"\ndir = \"kcidb\"\n"
	c, err := config.Parse(filepath.Join(dir, "rtbot.toml"), []byte(data), pipeline.ConfigRules())
	if err != nil {
		t.Fatal(err)
	}
	parent := filepath.Dir(dir)
	checks := []struct{ name, got, want string }{
		{"state", c.Bot.State, filepath.Join(dir, "state/rtbot.db")},
		{"lock", c.Bot.Lock, filepath.Join(dir, "state/rtbot.db.lock")},
		{"workdir", c.Bot.Workdir, filepath.Join(home, "rtbot-work")},
		{"password file", c.IMAP.PasswordFile, filepath.Join(dir, "secrets/imap.pw")},
		{"repo", c.Trees[0].Repo, filepath.Join(parent, "linux.git")},
		{"queue", c.Trees[0].Queue, filepath.Join(dir, "patches-rt")},
		{"push remote", c.Trees[0].PushRemote, filepath.Join(dir, "push.git")},
		{"rc patch, placeholders kept", c.Trees[0].RCPatch, filepath.Join(dir, "rc/patch-{version}-rc{rc}.gz")},
		{"rc patch URL untouched", mustParse(t, edit(t, minimal, `queue = "v6.1.176..v6.1.176-rt64"`, "queue = \"v6.1.176..v6.1.176-rt64\"\nrc_patch = \"https://cdn.kernel.org/v6.x/patch-{version}-rc{rc}.xz\"")).Trees[0].RCPatch, "https://cdn.kernel.org/v6.x/patch-{version}-rc{rc}.xz"},
		{"argv[0]", c.Triggers[0].Argv[0], filepath.Join(dir, "bin/test")},
		{"argv[1] untouched", c.Triggers[0].Argv[1], "bin/not-a-path-argument"},
		{"kcidb dir", c.Triggers[1].Dir, filepath.Join(dir, "kcidb")},
		{"range queue untouched", mustParse(t, minimal).Trees[0].Queue, "v6.1.176..v6.1.176-rt64"},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s = %q, want %q", ch.name, ch.got, ch.want)
		}
	}

	// Load resolves against the file's directory, not the working directory.
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "rtbot.toml"), []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Chdir(home)
	rel, err := filepath.Rel(home, filepath.Join(dir, "rtbot.toml"))
	if err != nil {
		t.Fatal(err)
	}
	c, err = config.Load(rel, pipeline.ConfigRules())
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, "state/rtbot.db"); c.Bot.State != want {
		t.Errorf("Load: state = %q, want %q", c.Bot.State, want)
	}
}

func TestBranch(t *testing.T) {
	tr := mustParse(t, minimal).Trees[0]
	tests := []struct {
		template, version string
		rc                int
		want              string // "" means an error
	}{
		{config.DefaultBranchTemplate, "6.1.177", 1, "rtbot/6.1-rt/6.1.177-rc1"},
		{config.DefaultBranchTemplate, "6.1.177", 0, "rtbot/6.1-rt/6.1.177"}, // a final release
		{"rtbot/{series}/{version}-rc{rc}", "6.1.177", 2, "rtbot/6.1/6.1.177-rc2"},
		{"rtbot/latest", "6.1.177", 1, "rtbot/latest"},
		{config.DefaultBranchTemplate, "../main", 1, ""},
		{config.DefaultBranchTemplate, "6.1..177", 1, ""},
		{config.DefaultBranchTemplate, "", 1, ""},
		{"main", "6.1.177", 1, ""},
	}
	for _, tt := range tests {
		tr.BranchTemplate = tt.template
		got, err := tr.Branch(tt.version, tt.rc)
		if tt.want == "" {
			if err == nil {
				t.Errorf("Branch(%q) with %q = %q, want an error", tt.version, tt.template, got)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("Branch(%q) with %q = %q, %v; want %q", tt.version, tt.template, got, err, tt.want)
		}
	}
}

func TestMatchesCandidate(t *testing.T) {
	tr := mustParse(t, minimal).Trees[0]
	const kernel = "git.kernel.org/pub/scm/linux/kernel/git/stable/linux-stable-rc"
	tests := []struct {
		url, branch string
		want        bool
	}{
		{"https://" + kernel + ".git", "linux-6.1.y", true},
		{"git://" + kernel + ".git", "linux-6.1.y", true},
		{"git://" + kernel, "linux-6.1.y", true},
		{"https://GIT.kernel.org/pub/scm/linux/kernel/git/stable/linux-stable-rc/", "linux-6.1.y", true},
		{"git://" + kernel + ".git", "linux-6.6.y", false},
		{"git://" + kernel + ".git", "", false},
		{"git://evil.example.org/pub/scm/linux/kernel/git/stable/linux-stable-rc.git", "linux-6.1.y", false},
		{"git://git.kernel.org/pub/scm/linux/kernel/git/stable/linux-stable.git", "linux-6.1.y", false},
		{"", "linux-6.1.y", false},
	}
	for _, tt := range tests {
		if got := tr.MatchesCandidate(tt.url, tt.branch); got != tt.want {
			t.Errorf("MatchesCandidate(%q, %q) = %v, want %v", tt.url, tt.branch, got, tt.want)
		}
	}
	// A local mirror: announcements must name announce_url.
	c := mustParse(t, edit(t, minimal,
		`candidate_url = "https://git.kernel.org/pub/scm/linux/kernel/git/stable/linux-stable-rc.git"`,
		"candidate_url = \"/srv/mirror/linux-stable-rc.git\"\nannounce_url = \"git://"+kernel+".git\""))
	if !c.Trees[0].MatchesCandidate("https://"+kernel, "linux-6.1.y") {
		t.Errorf("announce_url not used")
	}
	if c.Trees[0].MatchesCandidate("/srv/mirror/linux-stable-rc.git", "linux-6.1.y") {
		t.Errorf("a mail naming the local mirror must not match when announce_url is set")
	}
}

func TestAcceptsSender(t *testing.T) {
	c := mustParse(t, edit(t, minimal, `senders = ["gregkh@linuxfoundation.org"]`,
		`senders = ["Greg KH <GregKH@LinuxFoundation.org>", "sashal@kernel.org"]`))
	tr := c.Trees[0]
	if tr.Senders[0] != "gregkh@linuxfoundation.org" {
		t.Errorf("senders not normalised: %q", tr.Senders)
	}
	for from, want := range map[string]bool{
		"gregkh@linuxfoundation.org":                      true,
		"Greg Kroah-Hartman <gregkh@linuxfoundation.org>": true,
		"SASHAL@kernel.org":                               true,
		"mallory@example.org":                             false,
		"not an address":                                  false,
	} {
		if got := tr.AcceptsSender(from); got != want {
			t.Errorf("AcceptsSender(%q) = %v, want %v", from, got, want)
		}
	}
	if got := c.TreesFor("6.1"); len(got) != 1 || got[0].Name != "6.1-rt" {
		t.Errorf("TreesFor(6.1) = %v", got)
	}
	if got := c.TreesFor("5.10"); len(got) != 0 {
		t.Errorf("TreesFor(5.10) = %v, want none", got)
	}
}

func FuzzParse(f *testing.F) {
	example, err := os.ReadFile(examplePath)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(example)
	f.Add([]byte(minimal))
	f.Add([]byte(minimal + secondTree))
	f.Add([]byte("[[tree]]\n[[tree.x]]\n[tree.x.y]\nz = \"\"\"\n"))
	f.Add([]byte("a = [\n{b = 1},\n]\n'q.k' = 1\n\"x\\\"y\" = 2\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := config.Parse("/etc/rtbot/fuzz.toml", data, pipeline.ConfigRules())
		if err != nil {
			if c != nil {
				t.Fatal("config and error both returned")
			}
			for _, e := range problemsOf(t, err) {
				if e.File != "/etc/rtbot/fuzz.toml" || e.Line < 0 {
					t.Fatalf("bad error %#v", e)
				}
			}
			return
		}
		if len(c.Trees) == 0 || !filepath.IsAbs(c.Bot.State) || !filepath.IsAbs(c.Trees[0].Repo) {
			t.Fatalf("accepted an incomplete configuration: %+v", c)
		}
		for _, tr := range c.Trees {
			if _, err := tr.Branch(tr.Series+".1", 1); err != nil {
				t.Fatalf("accepted a template that cannot expand: %v", err)
			}
		}
	})
}

// defaultLimits is the [limits] table with every key absent, as the
// configuration documentation states it.
var defaultLimits = config.LimitsConfig{
	MailBytes: 8388608, MailHeaderBytes: 262144, MailTextBytes: 262144,
	MIMEParts: 64, MIMEDepth: 8,
	QueuePatches: 5000, QueueBytes: 536870912, PatchBytes: 67108864, HunkLines: 200000,
}

// TestLimitsDefaults checks that a file without [limits] gets every default
// filled in, and that the queue defaults are patchqueue's.
func TestLimitsDefaults(t *testing.T) {
	c := mustParse(t, minimal)
	if c.Limits != defaultLimits {
		t.Errorf("limits %+v, want %+v", c.Limits, defaultLimits)
	}
	pq := patchqueue.DefaultLimits()
	if int(c.Limits.QueuePatches) != pq.MaxPatches || c.Limits.QueueBytes != pq.MaxTotalSize ||
		c.Limits.PatchBytes != pq.MaxPatchBytes || c.Limits.HunkLines != pq.MaxHunkLines {
		t.Errorf("queue limits %+v differ from patchqueue.DefaultLimits() %+v", c.Limits, pq)
	}
	// An empty table and one with some keys: the others are defaults.
	if c := mustParse(t, minimal+"\n[limits]\n"); c.Limits != defaultLimits {
		t.Errorf("empty [limits]: %+v", c.Limits)
	}
	c = mustParse(t, minimal+"\n[limits]\nmail_bytes = 1000\nhunk_lines = 7\n")
	want := defaultLimits
	want.MailBytes, want.HunkLines = 1000, 7
	if c.Limits != want {
		t.Errorf("limits %+v, want %+v", c.Limits, want)
	}
}

// TestExampleLimitsAreDefaults uncomments the example's [limits] section
// and checks that the values it shows are the defaults.
func TestExampleLimitsAreDefaults(t *testing.T) {
	data, err := os.ReadFile(examplePath)
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	i := strings.Index(text, "\n# [limits]\n")
	if i < 0 {
		t.Fatal("the example has no commented [limits] section")
	}
	lines := strings.Split(text[i+1:], "\n")
	n := 0
	for j, l := range lines {
		if rest, ok := strings.CutPrefix(l, "# "); ok && (rest == "[limits]" || strings.Contains(rest, " = ")) {
			lines[j] = rest
			n++
		}
	}
	if n != 10 {
		t.Fatalf("uncommented %d lines, want the header and 9 keys", n)
	}
	c, err := config.Parse(examplePath, []byte(text[:i+1]+strings.Join(lines, "\n")), pipeline.ConfigRules())
	if err != nil {
		t.Fatal(err)
	}
	if c.Limits != defaultLimits {
		t.Errorf("the example shows %+v, the defaults are %+v", c.Limits, defaultLimits)
	}
}

// TestLimitsValidation checks that a [limits] value that is not a positive
// integer is refused, naming the key and its line.
func TestLimitsValidation(t *testing.T) {
	// minimal is 28 lines: [limits] is line 30, its first key line 31.
	tests := []struct {
		name, table string
		key         string
		line        int
		msg         string
	}{
		{"zero", "[limits]\nmail_bytes = 0\n", "limits.mail_bytes", 31, "0: must be a positive integer (leave the key out for the default, 8388608)"},
		{"negative", "[limits]\nmail_bytes = -1\n", "limits.mail_bytes", 31, "-1: must be a positive integer"},
		{"negative count", "[limits]\nmail_bytes = 10\nmime_depth = -3\n", "limits.mime_depth", 32, "-3: must be a positive integer (leave the key out for the default, 8)"},
		{"string", "[limits]\nmail_bytes = \"8M\"\n", "limits.mail_bytes", 31, "type string"},
		{"float", "[limits]\nmail_bytes = 1.5\n", "limits.mail_bytes", 31, "type float"},
		{"inline table", "limits = { mail_bytes = 0 }\n", "limits.mail_bytes", 1, "must be a positive integer"}, // goes first
		{"unknown key", "[limits]\nmail_byte = 5\n", "limits.mail_byte", 31, "unknown key"},
		{"case differs", "[limits]\nMail_bytes = 5\n", "limits.Mail_bytes", 31, `did you mean "mail_bytes"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := minimal + "\n" + tt.table
			if strings.HasPrefix(tt.table, "limits =") {
				data = tt.table + minimal // a top-level key must come before the tables
			}
			c, err := config.Parse("rt.toml", []byte(data), pipeline.ConfigRules())
			if c != nil {
				t.Errorf("Parse returned a config along with errors")
			}
			for _, e := range problemsOf(t, err) {
				if e.Key == tt.key {
					if e.Line != tt.line || !strings.Contains(e.Err.Error(), tt.msg) {
						t.Errorf("got %q (line %d), want line %d and %q", e, e.Line, tt.line, tt.msg)
					}
					if prefix := "rt.toml:" + strconv.Itoa(tt.line) + ": " + tt.key + ": "; !strings.HasPrefix(e.Error(), prefix) {
						t.Errorf("error %q does not start with %q", e, prefix)
					}
					return
				}
			}
			t.Fatalf("no error naming %s; got:\n%v", tt.key, err)
		})
	}

	// Every bad value is reported, not just the first.
	_, err := config.Parse("rt.toml", []byte(minimal+"\n[limits]\nmail_bytes = 0\nqueue_patches = -1\npatch_bytes = 0\n"), pipeline.ConfigRules())
	var got []string
	for _, e := range problemsOf(t, err) {
		got = append(got, e.Key+":"+strconv.Itoa(e.Line))
	}
	if want := "limits.mail_bytes:31 limits.queue_patches:32 limits.patch_bytes:33"; strings.Join(got, " ") != want {
		t.Errorf("errors %v, want %s", got, want)
	}
}

// TestPublicURLPasswordNotShown: the error about a public_url with a
// password names the key without repeating the password.
func TestPublicURLPasswordNotShown(t *testing.T) {
	data := validationConfig(t, validationCase{old: `triggers = ["build"]`,
		new: "triggers = [\"build\"]\npublic_url = \"https://bot:hunter2@git.example.org/rt.git\""})
	_, err := config.Parse("/etc/rtbot/rtbot.toml", []byte(data), pipeline.ConfigRules())
	if err == nil || !strings.Contains(err.Error(), "tree[0].public_url") || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("Parse = %v; want an error naming tree[0].public_url without the password", err)
	}
}
