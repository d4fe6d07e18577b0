// Package config reads rtbot's configuration file.
//
// The file is TOML (https://toml.io). docs/rtbot.example.toml in the
// repository is the documented example: every key, its default and its rules.
// In short:
//
//	[bot]        who rtbot is (commit and mail identity) and where it keeps its state
//	[imap]       the mailbox the stable list arrives in
//	[smtp]       where triage reports are sent from
//	[[tree]]     one per RT series: repository, candidate remote, RT queue, people, push, triggers
//	[[trigger]]  testing triggers a tree fires after a clean rebase: command, webhook, kcidb
//	[limits]     bounds on what rtbot reads from mail and patch queues (optional)
//	[git]        deadlines of fetches, pushes and listings of remotes (optional)
//
// Reading is strict. A key rtbot does not know is an error that names the key
// and its line, so a misspelt key never silently falls back to a default; keys
// are case-sensitive. A password written into the file is refused: passwords
// come from a file (password_file) or an environment variable (password_env),
// never from the configuration or the command line. The same goes for the
// tokens of https remotes (token_file, token_env); one written into a remote's
// URL is accepted, and never written anywhere by rtbot (Rules.Redact).
//
// Every semantic problem is reported, not just the first: Load and Parse
// return an errors.Join of [*Error] values, each naming the file, the line when
// the key is written in the file, and the key path ("tree[1].series"; arrays of
// tables count from 0).
//
// Paths (bot.state, bot.lock, bot.workdir, the password and CA files, tree.repo,
// a queue that is a path, a kcidb dir, a local push or candidate repository,
// the token, ssh key and known_hosts files of a tree's remotes, and a command
// trigger's program when it contains a slash) may start with "~/"
// for the home directory; other relative paths are relative to the directory
// of the configuration file, not to the working directory, so cron and
// systemd runs read the same files as an interactive one. After Load they are
// all absolute.
//
// config imports nothing of rtbot's, so that any package may depend on it.
// The checks and defaults that belong to other packages (whether a value is
// a valid git branch name, an IMAP flag, a host that may go without TLS;
// what a mail or queue limit or a trigger timeout left out of the file is)
// come in a [Rules] value the caller passes to Load and Parse, which apply
// them while reading, so every problem is reported at load time.
// pipeline.ConfigRules supplies them from their owners, and the pipeline
// turns the loaded Config into each package's own options.
package config

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// Config is a loaded, validated configuration. All paths in it are absolute
// and every default is filled in.
type Config struct {
	// Path is the file the configuration was read from, as given to Load or
	// Parse. It is not a key in the file.
	Path string `toml:"-"`

	Bot BotConfig `toml:"bot"`
	// Source is the [source] table: where the list is read (see
	// SourceConfig); after Load its Kind is set.
	Source SourceConfig `toml:"source"`
	IMAP   IMAPConfig   `toml:"imap"`
	SMTP   SMTPConfig   `toml:"smtp"`
	// Trees are the [[tree]] tables, in file order; there is at least one.
	Trees []Tree `toml:"tree"`
	// Triggers are the [[trigger]] tables, in file order.
	Triggers []Trigger `toml:"trigger"`
	// Limits is the [limits] table. After Load every field is set: a key
	// absent from the file takes its default from Rules.Defaults, so the
	// zero value never reaches callers.
	Limits LimitsConfig `toml:"limits"`
	// Git is the [git] table; after Load every field is set (see Deadlines).
	Git GitConfig `toml:"git"`
	// Results is the [results] table; after Load every field is set.
	Results ResultsConfig `toml:"results"`
}

// LimitsConfig is the [limits] table: how much rtbot reads of what comes
// from the network (mail from the list, RT patch queues) before it gives
// up on it. Every key is optional and must be a positive integer; after
// Load every field holds the key's value or its default, never zero. The
// defaults are those of the packages that read: mailwatch's for the mail
// keys, patchqueue's for the queue keys, passed in Rules.Defaults.Limits.
type LimitsConfig struct {
	// MailBytes is the largest mail recognised, counted on the raw message.
	MailBytes int64 `toml:"mail_bytes"`
	// MailHeaderBytes bounds a mail's header block.
	MailHeaderBytes int64 `toml:"mail_header_bytes"`
	// MailTextBytes bounds the decoded body text kept for examination.
	MailTextBytes int64 `toml:"mail_text_bytes"`
	// MIMEParts bounds how many MIME parts of a mail are opened looking for
	// the text.
	MIMEParts int `toml:"mime_parts"`
	// MIMEDepth bounds multipart nesting.
	MIMEDepth int `toml:"mime_depth"`
	// QueuePatches is the most patches one queue may have.
	QueuePatches int `toml:"queue_patches"`
	// QueueBytes bounds all patches of a queue together (uncompressed).
	QueueBytes int64 `toml:"queue_bytes"`
	// PatchBytes bounds one patch; a larger one is reported as malformed
	// and the rest of the queue goes on.
	PatchBytes int64 `toml:"patch_bytes"`
	// HunkLines bounds the lines of one hunk; a patch with a larger hunk is
	// malformed.
	HunkLines int `toml:"hunk_lines"`
}

// BotConfig is the [bot] table: rtbot's identity and its files.
type BotConfig struct {
	// Name and Email are the identity rtbot commits as (committer of the
	// rebased commits) and mails reports as. Both are required; Email is a
	// bare address such as "rtbot@example.org".
	Name  string `toml:"name"`
	Email string `toml:"email"`
	// State is the SQL state database file (required). It is created on
	// first use.
	State string `toml:"state"`
	// Lock is the lock file that keeps two runs apart; default State+".lock".
	Lock string `toml:"lock"`
	// Workdir is scratch space (downloaded rc patches, trigger output, KCIDB
	// documents before upload); default the directory "work" next to State.
	Workdir string `toml:"workdir"`
	// PassTimeout bounds one pass: `rtbot run`, and each wake-up of `rtbot
	// watch`. See Deadlines.
	PassTimeout Duration `toml:"pass_timeout"`
}

// TLS modes for [imap] and [smtp] tls.
const (
	TLSImplicit = "tls"      // TLS from the first byte (IMAP 993, SMTP 465); the default
	TLSStartTLS = "starttls" // connect in clear and upgrade before authenticating (IMAP 143, SMTP 587)
	TLSPlain    = "plain"    // no TLS; only for a loopback address (localhost, 127.0.0.0/8, ::1)
)

// Authentication methods for [imap] and [smtp] auth.
const (
	AuthPassword = "password" // the default
	AuthOAuth2   = "oauth2"   // SASL OAUTHBEARER or XOAUTH2 with an access token
)

// Server is what [imap] and [smtp] have in common: where the server is and
// how rtbot authenticates to it.
type Server struct {
	// Addr is the server's host:port (required).
	Addr string `toml:"addr"`
	// TLS is TLSImplicit (the default), TLSStartTLS or TLSPlain. TLSPlain is
	// accepted only when Rules.Loopback accepts Addr's host.
	TLS string `toml:"tls"`
	// Username to authenticate as. Required for IMAP; for SMTP an empty
	// Username means no AUTH.
	Username string `toml:"username"`
	// PasswordFile is a file holding the password (trailing newlines are
	// ignored); it must not be accessible to group or others (mode 0600 or
	// stricter). PasswordEnv is the name of an environment variable holding
	// it. Exactly one is set when Username is.
	PasswordFile string `toml:"password_file"`
	PasswordEnv  string `toml:"password_env"`

	// Auth is how rtbot authenticates: AuthPassword (the default: LOGIN
	// or AUTH PLAIN with the password) or AuthOAuth2 (SASL OAUTHBEARER or
	// XOAUTH2 with an access token, for Gmail, Microsoft 365 and their
	// like). With AuthOAuth2 exactly one of TokenFile and TokenCommand is
	// set, and no password key.
	Auth string `toml:"auth"`
	// TokenFile is a file holding the access token (a password file's
	// rules), rewritten by whatever refreshes it; read at each login.
	TokenFile string `toml:"token_file"`
	// TokenCommand is a command printing the access token on its standard
	// output (a token helper that refreshes it: oama, mutt_oauth2.py,
	// gcloud auth print-access-token), run at each login without a shell,
	// its first element the program, within TokenTimeout. rtbot never
	// stores the token.
	TokenCommand []string `toml:"token_command"`

	// CAFile, when set, is a file of PEM certificates trusted for the
	// server besides the system's roots: a private CA. Not with TLSPlain.
	CAFile string `toml:"ca_file"`
}

// IMAPConfig is the [imap] table: the mailbox rtbot watches for announcements.
type IMAPConfig struct {
	Server
	// Mailbox to scan; default Rules.Defaults.Mailbox.
	Mailbox string `toml:"mailbox"`
	// MarkProcessed, when set, is the flag added to processed announcements:
	// a keyword such as "$rtbot-done", or \Seen, \Flagged or \Answered.
	MarkProcessed string `toml:"mark_processed"`
	// MoveProcessed, when set, is the mailbox processed announcements are
	// moved to (after MarkProcessed, if both are set).
	MoveProcessed string `toml:"move_processed"`
	// Poll is how often `rtbot watch` scans when the server has no IDLE, and
	// how often it re-checks while idling; default Rules.Defaults.Poll, at
	// least one second.
	Poll Duration `toml:"poll"`
	// Timeout bounds how long the server may stay silent during a command.
	// See Deadlines.
	Timeout Duration `toml:"timeout"`
}

// Deadlines.
//
// Every network operation has a deadline, so that nothing holds a pass (and
// the lock) for ever; a pass as a whole has one too, for what nobody
// foresaw. Each key is optional, a duration of at least one second (a
// minute for pass_timeout); its default comes from Rules.Defaults, from the
// package that does the waiting.
//
//	[imap] timeout        how long the IMAP server may stay silent during a command
//	[git] timeout         one fetch or push of a remote, over any transport
//	[git] list_timeout    one listing of a remote's branches (ls-remote)
//	[bot] pass_timeout    one pass; longer than every [[trigger]] timeout and [git] timeout;
//	                      by default Rules.Defaults.PassTimeout more than all trigger timeouts together
//
// The SMTP deadlines are [smtp]'s; a trigger's is its own timeout key.

// GitConfig is the [git] table: the deadlines of the remote operations
// (see Deadlines). One table for every tree: a deadline is about the
// network and the servers, which the trees share, not about a series.
type GitConfig struct {
	// Timeout bounds one fetch (a candidate, a partial branch) or push.
	Timeout Duration `toml:"timeout"`
	// ListTimeout bounds one listing of a remote's branches.
	ListTimeout Duration `toml:"list_timeout"`
}

// minTimeout is the shortest network deadline a file may set, and
// minPassTimeout the shortest pass.
const (
	minTimeout     = time.Second
	minPassTimeout = time.Minute
)

// validateDeadlines checks the deadline keys (see Deadlines) and fills in
// their defaults; the triggers' timeouts must be filled in already. The
// pass must outlast each step it may wait on, or a pass that reaches that
// step would be stopped every time: its default is Defaults.PassTimeout
// more than all trigger timeouts together.
func (c *Config) validateDeadlines(p *problems, d Defaults) {
	checkDuration(p, "imap.timeout", &c.IMAP.Timeout, d.IMAPTimeout, minTimeout)
	checkDuration(p, "git.timeout", &c.Git.Timeout, d.GitTimeout, minTimeout)
	checkDuration(p, "git.list_timeout", &c.Git.ListTimeout, d.GitListTimeout, minTimeout)
	def := d.PassTimeout
	for _, t := range c.Triggers {
		def += t.Timeout.Duration
	}
	checkDuration(p, "bot.pass_timeout", &c.Bot.PassTimeout, def, minPassTimeout)
	pass := c.Bot.PassTimeout
	if pass.bad || pass.Duration < minPassTimeout {
		return // reported above
	}
	longer := func(key string, step Duration) {
		if !step.bad && step.Duration >= pass.Duration {
			p.add("bot.pass_timeout", "%v is not longer than %s (%v): a pass that reaches it would be stopped every time",
				pass.Duration, key, step.Duration)
		}
	}
	longer("git.timeout", c.Git.Timeout)
	for i, t := range c.Triggers {
		longer(fmt.Sprintf("trigger[%d].timeout", i), t.Timeout)
	}
}

// SMTPConfig is the [smtp] table: where triage reports are sent.
type SMTPConfig struct {
	Server
	// From is the From: header of reports; default `Bot.Name <Bot.Email>`.
	From string `toml:"from"`

	// Timeout bounds the wait for each reply of the server (the greeting,
	// EHLO, STARTTLS, AUTH, MAIL, RCPT, DATA, the final dot, QUIT);
	// default Rules.Defaults.SMTPTimeout, at least one second.
	Timeout Duration `toml:"timeout"`
}

// Tree is one [[tree]] table: one RT series rtbot maintains.
type Tree struct {
	// Name identifies the tree in state, branch names and mail ("6.1-rt").
	// Letters, digits, '.', '_' and '-'; unique; required.
	Name string `toml:"name"`
	// Series is the stable series whose candidates this tree follows ("6.1").
	Series string `toml:"series"`
	// Repo is the local repository (bare or not) rtbot fetches into and
	// rebases in; required.
	Repo string `toml:"repo"`

	// CandidateURL is the stable-rc remote rtbot fetches candidates from:
	// git://, https://, ssh:// or scp-style user@host:path, or for a local
	// mirror file:// or a path. Required.
	CandidateURL string `toml:"candidate_url"`
	// CandidateBranch is the branch in CandidateURL; default "linux-SERIES.y".
	CandidateBranch string `toml:"candidate_branch"`
	// AnnounceURL is the tree URL announcements must name, when it differs
	// from CandidateURL (a local mirror); default CandidateURL. See
	// [Tree.MatchesCandidate].
	AnnounceURL string `toml:"announce_url"`
	// RCPatch is where the rc patch is when the candidate git tree cannot
	// be fetched: an https URL or a local path, with {version} and {rc}
	// placeholders. The patch is applied to the previous release tag.
	// Empty (the default) means no fallback.
	RCPatch string `toml:"rc_patch"`

	// Queue is the RT queue: a git range "A..B", a git ref, a quilt
	// directory, a .tar.xz/.tar.gz tarball, or an mbox/patch file.
	Queue string `toml:"queue"`
	// QueueKind says how to read Queue: QueueRange, QueueRef or QueuePath.
	// Default: QueueRange when Queue parses as "A..B", QueuePath otherwise;
	// a git ref must be declared with queue_kind = "ref".
	QueueKind string `toml:"queue_kind"`
	// QueueBase is the revision the queue was made for ("v6.1.176").
	// Required, except for a range, whose start it defaults to (and must
	// equal when given).
	QueueBase string `toml:"queue_base"`

	// Maintainers receive triage reports (RFC 5322 addresses, at least one).
	Maintainers []string `toml:"maintainers"`
	// Cc receives copies of triage reports, the mailing list for instance;
	// empty by default, so reports do not go to a list unless configured.
	Cc []string `toml:"cc"`
	// Senders are the addresses whose announcements count (at least one).
	// After Load they are bare lower-case addresses.
	Senders []string `toml:"senders"`

	// PushRemote is where result branches are pushed: a remote name of Repo,
	// a URL, or a path. Empty means the branch stays in Repo.
	PushRemote string `toml:"push_remote"`
	// PublicURL is where readers of the reports fetch the branches rtbot
	// pushes, the public face of PushRemote (such as
	// https://git.kernel.org/pub/scm/linux/kernel/git/rt/linux-stable-rt.git):
	// reports say "git fetch PUBLIC_URL BRANCH". An http://, https:// or
	// git:// URL without a user or password. Empty (the default): reports
	// name the branch only, never a local path or the push URL.
	PublicURL string `toml:"public_url"`
	// BranchTemplate names the result branch; default DefaultBranchTemplate.
	// See [Tree.Branch] for the placeholders and the rtbot/ namespace.
	BranchTemplate string `toml:"branch_template"`
	// PushPartial pushes the branch with the patches that did apply when
	// manual work is needed, for inspection; fixes maintainers push onto
	// it are learnt as resolutions (docs/resolutions.md). Off by default.
	PushPartial bool `toml:"push_partial"`
	// Triggers are the names of [[trigger]] tables fired after a clean
	// rebase, in order.
	Triggers []string `toml:"triggers"`
	// ExportDir, when set, is where the refreshed queue of every clean run
	// is written, as kernel.org publishes a queue (see package export):
	// ExportDir/<candidate>/ holds patches/series, the patches, the
	// patches-*.tar.xz tarball and the patch-*.patch.xz diff.
	ExportDir string `toml:"export_dir"`

	// PushAuth and CandidateAuth are the [tree.push_auth] and
	// [tree.candidate_auth] tables: the credentials for PushRemote and
	// CandidateURL (a token, an ssh key), and how their servers are
	// checked (known hosts, a private CA). See [RemoteAuth].
	PushAuth      RemoteAuth `toml:"push_auth"`
	CandidateAuth RemoteAuth `toml:"candidate_auth"`

	// validBranch is Rules.Branch, which Branch applies to its result.
	validBranch func(name string) error
}

// Queue kinds for [Tree.QueueKind].
const (
	QueueRange = "range" // a git range "A..B" in Repo
	QueueRef   = "ref"   // a git ref in Repo; the queue is QueueBase..Queue
	QueuePath  = "path"  // a quilt directory, a tarball, or an mbox/patch file
)

// Trigger types for [Trigger.Type].
const (
	TriggerCommand = "command"
	TriggerWebhook = "webhook"
	TriggerKCIDB   = "kcidb"
)

// Trigger is one [[trigger]] table: a testing trigger trees refer to by name.
type Trigger struct {
	// Name is what trees list in their triggers key; unique; required.
	Name string `toml:"name"`
	// Type is TriggerCommand, TriggerWebhook or TriggerKCIDB.
	Type string `toml:"type"`
	// Timeout bounds one firing; default Rules.Defaults.CommandTimeout for
	// commands and Rules.Defaults.HTTPTimeout otherwise.
	Timeout Duration `toml:"timeout"`

	// Argv is the command and its arguments (command only; run without a
	// shell). A program containing a slash is a path (resolved like other
	// paths); otherwise it is looked up in PATH.
	Argv []string `toml:"argv"`

	// URL is where a webhook POSTs (webhook only; http or https), or where a
	// kcidb document is POSTed (kcidb; exactly one of URL and Dir). The
	// placeholder {secret} is replaced by the value of SecretEnv.
	URL string `toml:"url"`
	// Method is the webhook's HTTP method: POST (default), PUT or PATCH.
	Method string `toml:"method"`
	// Headers are extra webhook request headers; {secret} in a value is
	// replaced by the value of SecretEnv.
	Headers map[string]string `toml:"headers"`
	// SecretEnv names the environment variable holding the webhook's or
	// kcidb upload's secret (a token), so the secret is not in this file.
	SecretEnv string `toml:"secret_env"`

	// Dir is the directory kcidb documents are written to (kcidb only).
	Dir string `toml:"dir"`
	// Origin is the KCIDB origin the ids are prefixed with; default
	// Rules.Defaults.KCIDBOrigin.
	Origin string `toml:"origin"`

	// Poll makes rtbot follow what a webhook started until it is done,
	// and record its outcome as test results (webhook only): PollGitLab
	// (the pipeline a pipeline trigger created, and its jobs) or
	// PollJenkins (the queue item buildWithParameters created, then the
	// build). Empty (the default): fire and forget.
	Poll string `toml:"poll"`
	// PollSecretEnv names the environment variable holding the token the
	// polling requests carry: GitLab's PRIVATE-TOKEN (a read_api token;
	// a trigger token cannot read pipelines), Jenkins' Basic
	// authorization (base64 of user:apitoken). Empty: no authentication.
	PollSecretEnv string `toml:"poll_secret_env"`
	// ResultsArtifact is the path, inside the finished pipeline's jobs'
	// or the build's artifacts, of a KCIDB results document rtbot reads
	// (webhook with poll only): finer results such as cyclictest
	// figures. Empty (the default): none, only the pass/fail outcome.
	ResultsArtifact string `toml:"results_artifact"`
}

// The values of [Trigger.Poll].
const (
	PollGitLab  = "gitlab"
	PollJenkins = "jenkins"
)

// DefaultBranchTemplate is the branch_template of a tree that sets none.
const DefaultBranchTemplate = "rtbot/{tree}/{version}-rc{rc}"

// Duration is a time.Duration written in the file as a Go duration string
// ("90s", "5m", "1h30m"). An invalid string is reported by Load with its key
// and line, like every other validation problem.
type Duration struct {
	time.Duration
	text string // as written
	set  bool   // the key is in the file
	bad  bool   // text did not parse
}

// UnmarshalText implements encoding.TextUnmarshaler. It never fails: a bad
// duration is reported by validation, so that all problems are reported at once.
func (d *Duration) UnmarshalText(b []byte) error {
	d.text, d.set = string(b), true
	v, err := time.ParseDuration(d.text)
	d.Duration, d.bad = v, err != nil
	return nil
}

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.Duration.String()), nil }

// Error is one problem in a configuration file.
type Error struct {
	File string // the file, as given to Load or Parse
	Line int    // 1-based line of the key in the file; 0 when it is not written there
	Key  string // key path such as "tree[1].series"; "" for a syntax error
	Err  error  // what is wrong
}

// Error formats the problem as "FILE:LINE: KEY: message".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	b.WriteString(": ")
	if e.Key != "" {
		b.WriteString(e.Key)
		b.WriteString(": ")
	}
	b.WriteString(e.Err.Error())
	return b.String()
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// Load reads and validates the configuration file at path, applying rules
// (see [Rules]). On failure the error is an errors.Join of one [*Error] per
// problem.
func Load(path string, rules Rules) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return Parse(path, data, rules)
}

// Parse reads and validates a configuration held in memory. name is the
// file's path: it is used in errors and its directory is the base of
// relative paths. Parse reads nothing from the file system, but it consults
// $HOME to expand "~/". On failure the error is an errors.Join of one
// [*Error] per problem.
func Parse(name string, data []byte, rules Rules) (*Config, error) {
	if !rules.complete() {
		return nil, ErrIncompleteRules
	}
	c := &Config{Path: name}
	md, err := toml.Decode(string(data), c)
	if err != nil {
		return nil, decodeError(name, data, err)
	}
	p := &problems{file: name, lines: keyLines(data)}
	checkKeys(p, md)
	base := filepath.Dir(name)
	if abs, err := filepath.Abs(base); err == nil {
		base = abs
	}
	c.validate(p, base, rules)
	c.Limits.validate(p, md, rules.Defaults.Limits)
	c.Results.validate(p, md, base, rules.Defaults)
	c.validateDeadlines(p, rules.Defaults)
	if err := p.err(); err != nil {
		return nil, err
	}
	return c, nil
}

// problems collects the errors found in one file.
type problems struct {
	file  string
	lines map[string]int // key path → line, from keyLines
	errs  []error
}

// add records a problem with key. The line is the key's, or, for a key that
// is not written in the file, its nearest enclosing table's.
func (p *problems) add(key, format string, args ...any) {
	p.errs = append(p.errs, &Error{File: p.file, Line: p.lineOf(key), Key: key, Err: fmt.Errorf(format, args...)})
}

func (p *problems) lineOf(key string) int {
	for k := key; k != ""; k = parentPath(k) {
		if l, ok := p.lines[k]; ok {
			return l
		}
	}
	return 0
}

// parentPath drops the last element of a key path: "tree[1].series" →
// "tree[1]" → "tree" → "".
func parentPath(k string) string {
	if strings.HasSuffix(k, "]") {
		if i := strings.LastIndexByte(k, '['); i > 0 {
			return k[:i]
		}
	}
	if i := strings.LastIndexByte(k, '.'); i >= 0 {
		return k[:i]
	}
	return ""
}

// err returns the problems, in the order of their lines in the file (those
// without a line last), joined.
func (p *problems) err() error {
	slices.SortStableFunc(p.errs, func(a, b error) int {
		la, lb := a.(*Error).Line, b.(*Error).Line
		if la == 0 {
			la = math.MaxInt
		}
		if lb == 0 {
			lb = math.MaxInt
		}
		return cmp.Compare(la, lb)
	})
	return errors.Join(p.errs...)
}
