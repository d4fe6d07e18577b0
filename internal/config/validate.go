package config

import (
	"fmt"
	"net"
	"net/mail"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

var (
	nameRE   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)
	seriesRE = regexp.MustCompile(`^[0-9]+\.[0-9]+$`)
	envRE    = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	originRE = regexp.MustCompile(`^[a-z0-9_]+$`)
)

// minPoll keeps `rtbot watch` from hammering the IMAP server.
const minPoll = time.Second

// minSMTPTimeout: no SMTP server answers every command faster.
const minSMTPTimeout = time.Second

// validate checks c, fills in defaults and makes paths absolute (relative to
// base), recording every problem in p.
func (c *Config) validate(p *problems, base string, r Rules) {
	c.Bot.validate(p, base)
	c.validateSource(p, base, r)
	c.SMTP.validate(p, base, c.Bot, r.Loopback)
	checkDuration(p, "smtp.timeout", &c.SMTP.Timeout, r.Defaults.SMTPTimeout, minSMTPTimeout)

	triggers := map[string]bool{}
	for i := range c.Triggers {
		key := fmt.Sprintf("trigger[%d]", i)
		t := &c.Triggers[i]
		t.validate(p, key, base, r.Defaults)
		if t.Name == "" {
			continue
		}
		if triggers[t.Name] {
			p.add(key+".name", "duplicate trigger name %q", t.Name)
		}
		triggers[t.Name] = true
	}

	if len(c.Trees) == 0 {
		p.add("tree", "at least one [[tree]] table is required")
	}
	trees := map[string]bool{}
	for i := range c.Trees {
		key := fmt.Sprintf("tree[%d]", i)
		t := &c.Trees[i]
		t.validate(p, key, base, triggers, r)
		if t.Name == "" {
			continue
		}
		if trees[t.Name] {
			p.add(key+".name", "duplicate tree name %q", t.Name)
		}
		trees[t.Name] = true
	}
}

func (b *BotConfig) validate(p *problems, base string) {
	checkText(p, "bot.name", b.Name, true)
	if b.Email == "" {
		p.add("bot.email", "required")
	} else if a, err := mail.ParseAddress(b.Email); err != nil || a.Name != "" || a.Address != b.Email {
		p.add("bot.email", "%q is not a bare e-mail address such as rtbot@example.org", b.Email)
	}
	if b.State == "" {
		p.add("bot.state", "required: the path of the state database file")
		return
	}
	b.State = resolvePath(p, "bot.state", b.State, base)
	if b.Lock == "" {
		b.Lock = b.State + ".lock"
	} else {
		b.Lock = resolvePath(p, "bot.lock", b.Lock, base)
	}
	if b.Workdir == "" {
		b.Workdir = filepath.Join(filepath.Dir(b.State), "work")
	} else {
		b.Workdir = resolvePath(p, "bot.workdir", b.Workdir, base)
	}
	if b.Lock == b.State {
		p.add("bot.lock", "must differ from bot.state")
	}
}

// validate checks the [limits] keys written in the file (md says which)
// and fills in the defaults (def) of the others.
func (l *LimitsConfig) validate(p *problems, md toml.MetaData, def LimitsConfig) {
	ints := []struct {
		key string
		v   *int
		def int
	}{
		{"mime_parts", &l.MIMEParts, def.MIMEParts},
		{"mime_depth", &l.MIMEDepth, def.MIMEDepth},
		{"queue_patches", &l.QueuePatches, def.QueuePatches},
		{"hunk_lines", &l.HunkLines, def.HunkLines},
	}
	sizes := []struct {
		key string
		v   *int64
		def int64
	}{
		{"mail_bytes", &l.MailBytes, def.MailBytes},
		{"mail_header_bytes", &l.MailHeaderBytes, def.MailHeaderBytes},
		{"mail_text_bytes", &l.MailTextBytes, def.MailTextBytes},
		{"queue_bytes", &l.QueueBytes, def.QueueBytes},
		{"patch_bytes", &l.PatchBytes, def.PatchBytes},
	}
	check := func(key string, v, def int64) int64 {
		switch {
		case !md.IsDefined("limits", key):
			return def
		case v <= 0:
			p.add("limits."+key, "%d: must be a positive integer (leave the key out for the default, %d)", v, def)
		}
		return v
	}
	for _, k := range ints {
		*k.v = int(check(k.key, int64(*k.v), int64(k.def)))
	}
	for _, k := range sizes {
		*k.v = check(k.key, *k.v, k.def)
	}
}

// validate checks the connection and credential keys of [imap] or [smtp];
// userRequired says whether a username (and so a password) is mandatory,
// loopback whether a host may be reached without TLS.
func (s *Server) validate(p *problems, table, base string, userRequired bool, loopback func(string) bool) {
	host, ok := checkAddr(p, table+".addr", s.Addr)
	switch s.TLS {
	case "":
		s.TLS = TLSImplicit
	case TLSImplicit, TLSStartTLS:
	case TLSPlain:
		if ok && !loopback(host) {
			p.add(table+".tls", "%q (no TLS) is only allowed for a loopback address (localhost, 127.0.0.0/8, ::1), and %q is not one; use %q or %q",
				TLSPlain, host, TLSImplicit, TLSStartTLS)
		}
	default:
		p.add(table+".tls", "%q is not one of %q, %q, %q", s.TLS, TLSImplicit, TLSStartTLS, TLSPlain)
	}
	if s.Auth == AuthOAuth2 {
		s.validateOAuth2(p, table, base)
	} else {
		s.validatePassword(p, table, base, userRequired)
	}
	s.validateCA(p, table, base)
}

// validatePassword checks the keys of auth = "password".
func (s *Server) validatePassword(p *problems, table, base string, userRequired bool) {
	if s.Auth != "" && s.Auth != AuthPassword {
		p.add(table+".auth", "%q is not %q or %q", s.Auth, AuthPassword, AuthOAuth2)
	}
	s.Auth = AuthPassword
	if s.TokenFile != "" || len(s.TokenCommand) > 0 {
		p.add(table+".token_file", "token_file and token_command are for auth = %q", AuthOAuth2)
	}
	if s.Username == "" {
		if userRequired {
			p.add(table+".username", "required")
		} else if s.PasswordFile != "" || s.PasswordEnv != "" {
			p.add(table+".username", "required when password_file or password_env is set")
		}
	} else {
		checkText(p, table+".username", s.Username, true)
		switch {
		case s.PasswordFile != "" && s.PasswordEnv != "":
			p.add(table+".password_env", "set password_file or password_env, not both")
		case s.PasswordFile == "" && s.PasswordEnv == "":
			p.add(table+".password_file", "required: set password_file (a file of mode 0600 holding the password) or password_env (an environment variable holding it)")
		}
	}
	if s.PasswordFile != "" {
		s.PasswordFile = resolvePath(p, table+".password_file", s.PasswordFile, base)
	}
	if s.PasswordEnv != "" && !envRE.MatchString(s.PasswordEnv) {
		p.add(table+".password_env", "%q is not an environment variable name", s.PasswordEnv)
	}
}

// validateOAuth2 checks the keys of auth = "oauth2".
func (s *Server) validateOAuth2(p *problems, table, base string) {
	checkText(p, table+".username", s.Username, true)
	if s.PasswordFile != "" || s.PasswordEnv != "" {
		p.add(table+".password_file", "auth = %q uses an access token: remove password_file and password_env", AuthOAuth2)
	}
	switch {
	case s.TokenFile != "" && len(s.TokenCommand) > 0:
		p.add(table+".token_command", "set token_file or token_command, not both")
	case s.TokenFile != "":
		s.TokenFile = resolvePath(p, table+".token_file", s.TokenFile, base)
	case len(s.TokenCommand) > 0:
		if s.TokenCommand[0] == "" {
			p.add(table+".token_command", "the first element is the program to run, and it is empty")
		}
	default:
		p.add(table+".token_file", "required with auth = %q: set token_file (a file of mode 0600 holding the access token) or token_command (a command printing it)", AuthOAuth2)
	}
}

// validateCA checks ca_file against the TLS mode.
func (s *Server) validateCA(p *problems, table, base string) {
	if s.CAFile != "" {
		s.CAFile = resolvePath(p, table+".ca_file", s.CAFile, base)
		if s.TLS == TLSPlain {
			p.add(table+".ca_file", "is for a TLS connection, and tls is %q", TLSPlain)
		}
	}
}

func (c *IMAPConfig) validate(p *problems, base string, r Rules) {
	c.Server.validate(p, "imap", base, true, r.Loopback)
	if c.Mailbox == "" {
		c.Mailbox = r.Defaults.Mailbox
	}
	checkText(p, "imap.mailbox", c.Mailbox, true)
	if f := c.MarkProcessed; f != "" && !r.Flag(f) {
		p.add("imap.mark_processed", `%q is not a flag: want a keyword such as "$rtbot-done", or \Seen, \Flagged or \Answered`, f)
	}
	if c.MoveProcessed != "" {
		checkText(p, "imap.move_processed", c.MoveProcessed, true)
		if c.MoveProcessed == c.Mailbox {
			p.add("imap.move_processed", "is the mailbox being scanned (%q)", c.Mailbox)
		}
	}
	checkDuration(p, "imap.poll", &c.Poll, r.Defaults.Poll, minPoll)
}

func (c *SMTPConfig) validate(p *problems, base string, bot BotConfig, loopback func(string) bool) {
	c.Server.validate(p, "smtp", base, false, loopback)
	if c.From == "" {
		if a, err := mail.ParseAddress(bot.Email); err != nil || a.Address != bot.Email {
			return // reported under bot.email
		}
		c.From = (&mail.Address{Name: bot.Name, Address: bot.Email}).String()
	}
	if _, err := mail.ParseAddress(c.From); err != nil {
		p.add("smtp.from", "%q is not an e-mail address: %v", c.From, err)
	}
}

func (t *Tree) validate(p *problems, key, base string, triggers map[string]bool, r Rules) {
	t.validBranch = r.Branch
	t.validateIdentity(p, key, base)
	t.validateCandidate(p, key, base, r)
	t.validateQueue(p, key, base, r)
	if t.ExportDir != "" {
		t.ExportDir = resolvePath(p, key+".export_dir", t.ExportDir, base)
	}
	t.validatePeople(p, key)
	t.validateBranch(p, key, base, r)
	t.validateTriggers(p, key, triggers)
	t.CandidateAuth.validateAuth(p, key+".candidate_auth", key+".candidate_url", t.CandidateURL, base, r)
	t.PushAuth.validateAuth(p, key+".push_auth", key+".push_remote", t.PushRemote, base, r)
}

// validateIdentity checks the tree's name, series and repository.
func (t *Tree) validateIdentity(p *problems, key, base string) {
	if t.Name == "" {
		p.add(key+".name", "required")
	} else if !nameRE.MatchString(t.Name) {
		p.add(key+".name", "%q: want letters, digits, '.', '_' and '-', starting with a letter or digit", t.Name)
	}
	if t.Series == "" {
		p.add(key+".series", "required")
	} else if !seriesRE.MatchString(t.Series) {
		p.add(key+".series", "%q is not a stable series such as \"6.1\"", t.Series)
	}
	if t.Repo == "" {
		p.add(key+".repo", "required: the local repository")
	} else {
		t.Repo = resolvePath(p, key+".repo", t.Repo, base)
	}
}

// validateCandidate checks where candidates come from: the remote and its
// branch, the URL announcements name, and the rc patch fallback.
func (t *Tree) validateCandidate(p *problems, key, base string, r Rules) {
	if t.CandidateURL == "" {
		p.add(key+".candidate_url", "required: the stable-rc remote, such as https://git.kernel.org/pub/scm/linux/kernel/git/stable/linux-stable-rc.git")
	} else {
		t.CandidateURL = checkRemote(p, key+".candidate_url", t.CandidateURL, base, r.Redact)
	}
	if t.CandidateBranch == "" && seriesRE.MatchString(t.Series) {
		t.CandidateBranch = "linux-" + t.Series + ".y"
	}
	if t.CandidateBranch != "" && r.Branch(t.CandidateBranch) != nil {
		p.add(key+".candidate_branch", "%q is not a valid branch name", t.CandidateBranch)
	}
	if t.AnnounceURL != "" {
		t.AnnounceURL = checkRemote(p, key+".announce_url", t.AnnounceURL, base, r.Redact)
	}
	if t.RCPatch != "" {
		if err := r.RCPatch(t.RCPatch); err != nil {
			p.add(key+".rc_patch", "%s", r.Redact(err.Error()))
		} else if !strings.Contains(t.RCPatch, "://") {
			t.RCPatch = resolvePath(p, key+".rc_patch", t.RCPatch, base)
		}
	}
}

// validateQueue checks the RT queue, its kind and its base.
func (t *Tree) validateQueue(p *problems, key, base string, r Rules) {
	if t.Queue == "" {
		p.add(key+".queue", "required: a git range A..B, a git ref (with queue_kind = \"ref\"), a quilt directory, a tarball or an mbox file")
		return
	}
	rangeBase, isRange := r.Range(t.Queue)
	if t.QueueKind == "" {
		t.QueueKind = QueuePath
		if isRange {
			t.QueueKind = QueueRange
		}
	}
	switch t.QueueKind {
	case QueueRange:
		if !isRange {
			p.add(key+".queue", "%q is not a git range such as v6.1.176..v6.1.176-rt64", t.Queue)
			return
		}
		if t.QueueBase == "" {
			t.QueueBase = rangeBase
		} else if t.QueueBase != rangeBase {
			p.add(key+".queue_base", "%q differs from the start of the queue range %q", t.QueueBase, t.Queue)
		}
		return
	case QueueRef:
		if !r.Revision(t.Queue) {
			p.add(key+".queue", "%q is not a git revision", t.Queue)
		}
	case QueuePath:
		t.Queue = resolvePath(p, key+".queue", t.Queue, base)
	default:
		p.add(key+".queue_kind", "%q is not one of %q, %q, %q", t.QueueKind, QueueRange, QueueRef, QueuePath)
		return
	}
	if t.QueueBase == "" {
		p.add(key+".queue_base", "required: the revision the queue was made for, such as v6.1.176")
	} else if !r.Revision(t.QueueBase) {
		p.add(key+".queue_base", "%q is not a git revision", t.QueueBase)
	}
}

// validatePeople checks the maintainers, the copies and the senders, and
// reduces the senders to bare lower-case addresses.
func (t *Tree) validatePeople(p *problems, key string) {
	if len(t.Maintainers) == 0 {
		p.add(key+".maintainers", "at least one address is required: triage reports go to the maintainers")
	}
	for i, a := range t.Maintainers {
		checkAddress(p, fmt.Sprintf("%s.maintainers[%d]", key, i), a)
	}
	for i, a := range t.Cc {
		checkAddress(p, fmt.Sprintf("%s.cc[%d]", key, i), a)
	}
	if len(t.Senders) == 0 {
		p.add(key+".senders", "at least one address is required: only announcements from these senders count")
	}
	for i, a := range t.Senders {
		if addr, ok := checkAddress(p, fmt.Sprintf("%s.senders[%d]", key, i), a); ok {
			t.Senders[i] = strings.ToLower(addr.Address)
		}
	}
}

// validateBranch checks where the result branch goes and its template,
// which must expand to a valid branch name (r.Branch says).
func (t *Tree) validateBranch(p *problems, key, base string, r Rules) {
	if t.PushRemote != "" && !nameRE.MatchString(t.PushRemote) {
		t.PushRemote = checkRemote(p, key+".push_remote", t.PushRemote, base, r.Redact)
	}
	if t.PublicURL != "" {
		checkPublicURL(p, key+".public_url", t.PublicURL, r.Redact)
	}
	if t.BranchTemplate == "" {
		t.BranchTemplate = DefaultBranchTemplate
	}
	if err := checkTemplate(t.BranchTemplate); err != nil {
		p.add(key+".branch_template", "%q: %v", t.BranchTemplate, err)
		return
	}
	series, name := t.Series, t.Name
	if !seriesRE.MatchString(series) {
		series = "6.1"
	}
	if !nameRE.MatchString(name) {
		name = "tree"
	}
	sample := expandTemplate(t.BranchTemplate, map[string]string{
		"series": series, "version": series + ".1", "rc": "1", "tree": name,
	})
	if r.Branch(sample) != nil {
		p.add(key+".branch_template", "%q expands to %q, which is not a valid branch name", t.BranchTemplate, sample)
	}
}

// validateTriggers checks that every trigger the tree lists exists, once.
func (t *Tree) validateTriggers(p *problems, key string, triggers map[string]bool) {
	seen := map[string]bool{}
	for i, name := range t.Triggers {
		k := fmt.Sprintf("%s.triggers[%d]", key, i)
		switch {
		case !triggers[name]:
			p.add(k, "no [[trigger]] is named %q", name)
		case seen[name]:
			p.add(k, "trigger %q is listed twice", name)
		}
		seen[name] = true
	}
}

func (t *Trigger) validate(p *problems, key, base string, d Defaults) {
	if t.Name == "" {
		p.add(key+".name", "required")
	} else if !nameRE.MatchString(t.Name) {
		p.add(key+".name", "%q: want letters, digits, '.', '_' and '-', starting with a letter or digit", t.Name)
	}
	switch t.Type {
	case TriggerCommand:
		checkDuration(p, key+".timeout", &t.Timeout, d.CommandTimeout, 0)
		t.unused(p, key, "url", "method", "headers", "secret_env", "dir", "origin", "poll", "poll_secret_env", "results_artifact")
		t.validateCommand(p, key, base)
	case TriggerWebhook:
		checkDuration(p, key+".timeout", &t.Timeout, d.HTTPTimeout, 0)
		t.unused(p, key, "argv", "dir", "origin")
		t.validateWebhook(p, key)
		t.validatePoll(p, key)
	case TriggerKCIDB:
		checkDuration(p, key+".timeout", &t.Timeout, d.HTTPTimeout, 0)
		t.unused(p, key, "argv", "method", "poll", "poll_secret_env", "results_artifact")
		t.validateKCIDB(p, key, base, d.KCIDBOrigin)
	case "":
		p.add(key+".type", "required: %q, %q or %q", TriggerCommand, TriggerWebhook, TriggerKCIDB)
	default:
		p.add(key+".type", "%q is not one of %q, %q, %q", t.Type, TriggerCommand, TriggerWebhook, TriggerKCIDB)
	}
}

// unused reports the keys that are set although the trigger's type does
// not read them.
func (t *Trigger) unused(p *problems, key string, keys ...string) {
	for _, k := range keys {
		var set bool
		switch k {
		case "argv":
			set = len(t.Argv) > 0
		case "url":
			set = t.URL != ""
		case "method":
			set = t.Method != ""
		case "headers":
			set = len(t.Headers) > 0
		case "secret_env":
			set = t.SecretEnv != ""
		case "dir":
			set = t.Dir != ""
		case "origin":
			set = t.Origin != ""
		case "poll":
			set = t.Poll != ""
		case "poll_secret_env":
			set = t.PollSecretEnv != ""
		case "results_artifact":
			set = t.ResultsArtifact != ""
		}
		if set {
			p.add(key+"."+k, "not used by a %s trigger", t.Type)
		}
	}
}

// validateCommand checks a command trigger's argv and resolves a program
// given as a path.
func (t *Trigger) validateCommand(p *problems, key, base string) {
	if len(t.Argv) == 0 || t.Argv[0] == "" {
		p.add(key+".argv", "required: the program and its arguments, such as [\"/usr/local/bin/run-tests\", \"--quick\"]")
		return
	}
	if strings.ContainsRune(t.Argv[0], '/') || strings.HasPrefix(t.Argv[0], "~") {
		t.Argv[0] = resolvePath(p, key+".argv[0]", t.Argv[0], base)
	}
}

// validateWebhook checks a webhook trigger's URL, method and headers.
func (t *Trigger) validateWebhook(p *problems, key string) {
	if t.URL == "" {
		p.add(key+".url", "required")
	} else {
		checkHTTPURL(p, key+".url", t.URL)
	}
	switch t.Method {
	case "":
		t.Method = "POST"
	case "POST", "PUT", "PATCH":
	default:
		p.add(key+".method", "%q: want POST, PUT or PATCH (the request carries a JSON body)", t.Method)
	}
	t.validateHTTP(p, key)
}

// validatePoll checks a webhook's poll keys.
func (t *Trigger) validatePoll(p *problems, key string) {
	switch t.Poll {
	case "", PollGitLab, PollJenkins:
	default:
		p.add(key+".poll", "%q: want %q or %q", t.Poll, PollGitLab, PollJenkins)
	}
	switch {
	case t.PollSecretEnv != "" && t.Poll == "":
		p.add(key+".poll_secret_env", "set, but poll is not")
	case t.PollSecretEnv != "" && !envRE.MatchString(t.PollSecretEnv):
		p.add(key+".poll_secret_env", "%q is not an environment variable name", t.PollSecretEnv)
	}
	switch a := t.ResultsArtifact; {
	case a != "" && t.Poll == "":
		p.add(key+".results_artifact", "set, but poll is not")
	case a != "" && !validArtifactPath(a):
		p.add(key+".results_artifact", "%q: want a relative path inside the artifacts, such as \"kcidb.json\" or \"out/kcidb.json\"", a)
	}
}

// validArtifactPath reports whether a is a clean relative path of a CI's
// artifacts: no leading '/', no "." or ".." element, no empty element,
// no '?', '#', '\\' or control character.
func validArtifactPath(a string) bool {
	if strings.ContainsAny(a, "?#\\") {
		return false
	}
	for _, r := range a {
		if r < ' ' || r == 0x7f {
			return false
		}
	}
	for _, el := range strings.Split(a, "/") {
		if el == "" || el == "." || el == ".." {
			return false
		}
	}
	return true
}

// validateKCIDB checks a kcidb trigger's destination (dir or url) and its
// origin, defaultOrigin when it is not set.
func (t *Trigger) validateKCIDB(p *problems, key, base, defaultOrigin string) {
	switch {
	case t.Dir != "" && t.URL != "":
		p.add(key+".url", "set dir or url, not both")
	case t.Dir != "":
		t.Dir = resolvePath(p, key+".dir", t.Dir, base)
		t.unused(p, key, "headers", "secret_env")
	case t.URL != "":
		checkHTTPURL(p, key+".url", t.URL)
		t.validateHTTP(p, key)
	default:
		p.add(key+".dir", "required: set dir (write KCIDB documents there) or url (POST them)")
	}
	if t.Origin == "" {
		t.Origin = defaultOrigin
	} else if !originRE.MatchString(t.Origin) {
		p.add(key+".origin", "%q: a KCIDB origin is lower-case letters, digits and '_'", t.Origin)
	}
}

// validateHTTP checks the headers and secret of a trigger that makes HTTP requests.
func (t *Trigger) validateHTTP(p *problems, key string) {
	if err := checkURLPlaceholders(t.URL); err != nil {
		p.add(key+".url", "%q: %v", t.URL, err)
	}
	usesSecret := strings.Contains(t.URL, "{secret}")
	for name, v := range t.Headers {
		k := key + ".headers." + toml.Key{name}.String()
		if name == "" || strings.IndexFunc(name, func(r rune) bool { return !isTokenChar(r) }) >= 0 {
			p.add(k, "%q is not an HTTP header name", name)
		}
		if strings.ContainsAny(v, "\r\n\x00") {
			p.add(k, "a header value must be on one line")
		}
		usesSecret = usesSecret || strings.Contains(v, "{secret}")
	}
	switch {
	case t.SecretEnv != "" && !envRE.MatchString(t.SecretEnv):
		p.add(key+".secret_env", "%q is not an environment variable name", t.SecretEnv)
	case t.SecretEnv == "" && usesSecret:
		p.add(key+".secret_env", "required: url or headers use {secret}")
	}
}

// triggerURLVars are the placeholders a trigger URL may use; package
// trigger replaces them (and keeps the same list).
var triggerURLVars = []string{"secret", "tree", "series", "version", "rc", "branch", "commit", "candidate", "checkout"}

// checkURLPlaceholders checks that every brace of a trigger URL belongs to
// a known {name} placeholder.
func checkURLPlaceholders(u string) error {
	for s := u; s != ""; {
		i := strings.IndexAny(s, "{}")
		if i < 0 {
			return nil
		}
		if s[i] == '}' {
			return fmt.Errorf("'}' without '{' (write a literal brace as %%7D)")
		}
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			return fmt.Errorf("'{' without '}' (write a literal brace as %%7B)")
		}
		name := s[i+1 : i+end]
		known := false
		for _, v := range triggerURLVars {
			known = known || v == name
		}
		if !known {
			return fmt.Errorf("unknown placeholder {%s}: want {%s}", name, strings.Join(triggerURLVars, "}, {"))
		}
		s = s[i+end+1:]
	}
	return nil
}

// isTokenChar reports whether r may appear in an HTTP header name (RFC 9110 token).
func isTokenChar(r rune) bool {
	return r < 0x7f && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("!#$%&'*+-.^_`|~", r))
}

// checkText reports an empty required value, and a value with control
// characters (which would break a mail header or a protocol line). It
// reports whether the value is fine.
func checkText(p *problems, key, v string, required bool) bool {
	if v == "" {
		if required {
			p.add(key, "required")
		}
		return !required
	}
	if strings.IndexFunc(v, func(r rune) bool { return r < ' ' || r == 0x7f }) >= 0 {
		p.add(key, "%q contains control characters", v)
		return false
	}
	return true
}

// checkDuration reports a bad duration and fills in the default of an absent one.
func checkDuration(p *problems, key string, d *Duration, def, min time.Duration) {
	switch {
	case !d.set:
		d.Duration = def
	case d.bad:
		p.add(key, "%q is not a duration: want a number and a unit, such as \"90s\", \"5m\" or \"1h30m\"", d.text)
	case d.Duration <= 0:
		p.add(key, "%q: must be positive", d.text)
	case d.Duration < min:
		p.add(key, "%q: must be at least %v", d.text, min)
	}
}

// checkAddr checks a host:port and returns the host.
func checkAddr(p *problems, key, addr string) (string, bool) {
	if addr == "" {
		p.add(key, "required: host:port")
		return "", false
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		p.add(key, "%q is not host:port: %v", addr, err)
		return "", false
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		p.add(key, "%q: port %q is not a number from 1 to 65535", addr, port)
		return "", false
	}
	if host == "" || strings.IndexFunc(host, func(r rune) bool { return r <= ' ' || r >= 0x7f }) >= 0 {
		p.add(key, "%q: missing or invalid host", addr)
		return "", false
	}
	return host, true
}

// checkAddress checks one RFC 5322 address ("Name <user@host>" or user@host).
func checkAddress(p *problems, key, a string) (*mail.Address, bool) {
	addr, err := mail.ParseAddress(a)
	if err != nil {
		p.add(key, "%q is not an e-mail address: %v", a, err)
		return nil, false
	}
	return addr, true
}

// checkHTTPURL checks an http or https URL with a host.
func checkHTTPURL(p *problems, key, v string) {
	u, err := url.Parse(v)
	switch {
	case err != nil:
		p.add(key, "%q is not a URL: %v", v, err)
	case u.Scheme != "https" && u.Scheme != "http":
		p.add(key, "%q: want an http:// or https:// URL", v)
	case u.Host == "":
		p.add(key, "%q: missing host", v)
	}
}

// checkRemote checks a git remote: a git://, http(s)://, ssh:// or file://
// URL, an scp-style [user@]host:path, or a local path, which it resolves.
// Messages quote the remote as redact leaves it: without credentials.
// checkPublicURL checks a URL reports print for anyone to fetch from:
// http, https or git, a host and a path, no user or password (anyone
// reading the list would see them), no query or fragment.
func checkPublicURL(p *problems, key, v string, redact func(string) string) {
	shown := redact(v)
	if strings.ContainsAny(v, " \t\r\n\x00") {
		p.add(key, "%q: a URL must not contain blanks or control characters", shown)
		return
	}
	u, err := url.Parse(v)
	switch {
	case !strings.Contains(v, "://") || err == nil && u.Scheme != "https" && u.Scheme != "http" && u.Scheme != "git":
		p.add(key, "%q: want the https://, http:// or git:// URL readers fetch from, such as https://git.kernel.org/pub/scm/linux/kernel/git/rt/linux-stable-rt.git", shown)
	case err != nil:
		p.add(key, "%q is not a URL: %v", shown, redact(err.Error()))
	case u.User != nil:
		p.add(key, "%q: a public URL must not carry a user or password (every reader of the report sees it); push credentials go in [tree.push_auth]", shown)
	case u.Host == "" || strings.Trim(u.Path, "/") == "":
		p.add(key, "%q: want %s://HOST/PATH", shown, u.Scheme)
	case u.RawQuery != "" || u.Fragment != "" || u.ForceQuery:
		p.add(key, "%q: a fetch URL has no query or fragment", shown)
	}
}

func checkRemote(p *problems, key, v, base string, redact func(string) string) string {
	shown := redact(v)
	if strings.ContainsAny(v, " \t\r\n\x00") {
		p.add(key, "%q: a remote must not contain blanks or control characters", shown)
		return v
	}
	if strings.Contains(v, "://") {
		u, err := url.Parse(v)
		if err != nil {
			p.add(key, "%q is not a URL: %v", shown, redact(err.Error()))
			return v
		}
		switch u.Scheme {
		case "git", "http", "https", "ssh":
			if u.Host == "" || strings.Trim(u.Path, "/") == "" {
				p.add(key, "%q: want %s://HOST/PATH", shown, u.Scheme)
			}
		case "file":
			if u.Path == "" {
				p.add(key, "%q: want file:///PATH", shown)
			}
		default:
			p.add(key, "%q: scheme %q is not one of git, https, http, ssh, file", shown, u.Scheme)
		}
		return v
	}
	if isLocalPath(v) {
		return resolvePath(p, key, v, base)
	}
	// scp-style [user@]host:path; the colon comes before any slash.
	colon, slash := strings.IndexByte(v, ':'), strings.IndexByte(v, '/')
	if colon > 0 && (slash < 0 || colon < slash) && colon < len(v)-1 {
		host := v[:colon]
		if at := strings.LastIndexByte(host, '@'); at >= 0 {
			host = host[at+1:]
		}
		if host != "" {
			return v
		}
	}
	p.add(key, "%q is not a git URL (git://, https://, ssh://, file://), an scp-style host:path, or a path starting with /, ./, ../ or ~/", shown)
	return v
}

func isLocalPath(v string) bool {
	return strings.HasPrefix(v, "/") || strings.HasPrefix(v, "./") || strings.HasPrefix(v, "../") || strings.HasPrefix(v, "~/")
}

// resolvePath expands a leading "~/" and makes a relative path absolute
// against base, the configuration file's directory.
func resolvePath(p *problems, key, v, base string) string {
	if strings.ContainsRune(v, 0) {
		p.add(key, "a path must not contain NUL")
		return v
	}
	switch {
	case v == "~" || strings.HasPrefix(v, "~/"):
		home, err := os.UserHomeDir()
		if err != nil {
			p.add(key, "cannot expand ~: %v", err)
			return v
		}
		return filepath.Join(home, v[1:])
	case strings.HasPrefix(v, "~"):
		p.add(key, "%q: only ~/ (your own home directory) is expanded", v)
		return v
	case filepath.IsAbs(v):
		return filepath.Clean(v)
	}
	return filepath.Join(base, v)
}
