package pipeline

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/rtbot/rtbot/internal/config"
	"github.com/rtbot/rtbot/internal/mailout"
	"github.com/rtbot/rtbot/internal/mailwatch"
	"github.com/rtbot/rtbot/internal/netsec"
)

// The preflight: before a pass reads any mail, rtbot checks that what the
// pass needs works, so that a configuration mistake is found and named at
// once, not as an error at the first announcement (or, worse, an
// announcement silently ignored): the configuration loads (the caller),
// the IMAP server answers and takes the login and the mailbox exists, the
// SMTP server answers and takes the login, and for each tree its
// repository opens, its queue reads and applies to its queue_base, its
// candidate remote answers and has the rc branch, its push remote takes
// pushes, and announce_url names the repository candidate_url fetches
// from. Nothing is written anywhere: no mail is selected or flagged, no
// mail is sent, no ref moves and the queue's commits stay in memory.
//
// Every problem names the configuration key to change and says how, on one
// line. `rtbot check` prints every step; `rtbot run` and `rtbot watch`
// run the preflight first (Gate).

// StepTimeout bounds each step of a preflight that goes to the network.
const StepTimeout = 2 * time.Minute

// Scope says what a preflight checks.
type Scope int

const (
	// ScopeAll checks everything a pass needs: the mail servers and
	// every tree. `rtbot check`, `rtbot run` and `rtbot watch` use it.
	ScopeAll Scope = iota
	// ScopeTrees checks the trees only: `rtbot run --onto` reads no mail,
	// and a report it cannot mail waits for the next pass as always.
	ScopeTrees
)

// Preflight is what a preflight checked and found, one Step per check in
// the order they ran.
type Preflight struct {
	Steps []Step
}

// Step is one check of a preflight.
type Step struct {
	// Name names the check: "imap", "smtp", "tree 6.1-rt queue". It is
	// stable: the state remembers problems by it.
	Name string
	// Found says what the check found, when it passed.
	Found string
	// Problem is what is wrong, when it did not pass.
	Problem *Problem
	// Skipped says why the check did not run (a check it needs failed);
	// "" when it ran.
	Skipped string
}

// Problem is one thing a preflight found wrong.
type Problem struct {
	// Key is the configuration key to change, as config names keys in
	// its errors: "imap.password_file", "tree[0].queue_base".
	Key string
	// What says what is wrong, on one line, without credentials.
	What string
	// Fix says what to do; "" when What says it already.
	Fix string
	// Transient says the problem may pass by itself (a server down, the
	// network): `rtbot watch` waits and checks again.
	Transient bool
	// Credentials says a server refused rtbot's credentials (a login, a
	// token, an ssh key): rtbot exits 77 (EX_NOPERM) on it.
	Credentials bool
}

// String is the problem on one line: the key, what is wrong, the fix.
func (p Problem) String() string {
	s := p.Key + ": " + strings.TrimSpace(oneLine(p.What))
	if p.Fix != "" {
		s += "; " + p.Fix
	}
	return strings.Join(strings.Fields(oneLine(netsec.Redact(s))), " ")
}

// Problems returns the problems found, in order.
func (pf Preflight) Problems() []Problem {
	var out []Problem
	for _, s := range pf.Steps {
		if s.Problem != nil {
			out = append(out, *s.Problem)
		}
	}
	return out
}

// OK reports whether every check ran and passed.
func (pf Preflight) OK() bool {
	for _, s := range pf.Steps {
		if s.Problem != nil || s.Skipped != "" {
			return false
		}
	}
	return true
}

// Ran returns the names of the checks that ran, passed or not.
func (pf Preflight) Ran() []string {
	var out []string
	for _, s := range pf.Steps {
		if s.Skipped == "" {
			out = append(out, s.Name)
		}
	}
	return out
}

// add appends s and returns it.
func (pf *Preflight) add(s Step) Step {
	pf.Steps = append(pf.Steps, s)
	return s
}

// Preflight runs the checks of scope and returns what each found. It
// reads the configuration and what it names, and changes nothing: it does
// not use the state, so `rtbot check` runs it on a Pipeline without one.
func (p *Pipeline) Preflight(ctx context.Context, scope Scope) Preflight {
	var pf Preflight
	if scope == ScopeAll {
		pf.add(p.checkMailSource(ctx))
		pf.add(p.checkSMTP(ctx))
	}
	for i, t := range p.cfg.Trees {
		p.checkTree(ctx, &pf, treeKeys{i: i, t: t})
	}
	return pf
}

// checkTree adds the checks of one tree. Those that need its repository
// are skipped when it does not open.
func (p *Pipeline) checkTree(ctx context.Context, pf *Preflight, tk treeKeys) {
	repo := pf.add(p.checkRepo(ctx, tk))
	for _, c := range []struct {
		name  string
		check func(context.Context, treeKeys) Step
	}{{"queue", p.checkQueue}, {"candidate", p.checkCandidateRemote}, {"push", p.checkPushRemote}} {
		if repo.Problem != nil {
			pf.add(Step{Name: tk.step(c.name), Skipped: "not checked: " + tk.key("repo") + " does not open"})
			continue
		}
		pf.add(c.check(ctx, tk))
	}
	pf.add(p.checkAnnounce(tk))
}

// treeKeys names a tree's keys and checks in messages.
type treeKeys struct {
	i int
	t config.Tree
}

// key is the path of the tree's key k: "tree[0].queue".
func (tk treeKeys) key(k string) string { return fmt.Sprintf("tree[%d].%s", tk.i, k) }

// step names the tree's check c: "tree 6.1-rt queue".
func (tk treeKeys) step(c string) string { return "tree " + tk.t.Name + " " + c }

// failed is the Step name failed with problem pr.
func failed(name string, pr Problem) Step { return Step{Name: name, Problem: &pr} }

// passwordKey is the key that holds the password of [table] s.
func passwordKey(table string, s config.Server) string {
	switch {
	case s.Auth == config.AuthOAuth2 && s.TokenFile != "":
		return table + ".token_file"
	case s.Auth == config.AuthOAuth2:
		return table + ".token_command"
	}
	if s.PasswordFile != "" {
		return table + ".password_file"
	}
	return table + ".password_env"
}

// passwordPlace says where the password of s comes from, for fixes.
func passwordPlace(s config.Server) string {
	switch {
	case s.Auth == config.AuthOAuth2 && s.TokenFile != "":
		return "the access token in " + s.TokenFile + " (expired? refreshed by what writes it?)"
	case s.Auth == config.AuthOAuth2:
		return "the access token token_command prints (expired? for another account?)"
	}
	if s.PasswordFile != "" {
		return "the password in " + s.PasswordFile
	}
	return "the password in $" + s.PasswordEnv
}

// serverSecrets is the problem with what [table] s reads from files and
// the environment (the password, when a username is set; the ca_file,
// unless override replaces it), or nil.
func serverSecrets(table string, s config.Server, override *tls.Config) *Problem {
	if s.Username != "" && s.Auth != config.AuthOAuth2 {
		if _, err := s.Password(); err != nil {
			return &Problem{Key: passwordKey(table, s), What: err.Error(), Fix: "rtbot cannot log in to the server without it"}
		}
	}
	if _, err := serverTLS(override, s, table); err != nil {
		return &Problem{Key: table + ".ca_file", What: err.Error(), Fix: "give a readable PEM file of the CA's certificates"}
	}
	return nil
}

// checkIMAP logs in to the IMAP server, checks the mailboxes and logs out.
func (p *Pipeline) checkIMAP(ctx context.Context) Step {
	const name = "imap"
	s := p.cfg.IMAP.Server
	if pr := serverSecrets(name, s, p.opts.IMAPTLS); pr != nil {
		return failed(name, *pr)
	}
	icfg, err := p.imapConfig()
	if err != nil {
		return failed(name, Problem{Key: "imap", What: err.Error()})
	}
	ctx, cancel := context.WithTimeout(ctx, StepTimeout)
	defer cancel()
	if err := mailwatch.Probe(ctx, icfg); err != nil {
		return failed(name, p.imapProblem(err))
	}
	found := fmt.Sprintf("%s answers (tls = %q); logged in as %s; mailbox %s exists", s.Addr, tlsName(s.TLS), s.Username, icfg.Mailbox)
	if mb := p.cfg.IMAP.MoveProcessed; mb != "" {
		found += "; and " + mb + " (move_processed)"
	}
	return Step{Name: name, Found: found}
}

// tlsName is the tls key's value, its default filled in.
func tlsName(mode string) string {
	if mode == "" {
		return config.TLSImplicit
	}
	return mode
}

// imapProblem says which [imap] key a failed Probe points at.
func (p *Pipeline) imapProblem(err error) Problem {
	s := p.cfg.IMAP.Server
	if pr, ok := tlsProblem(err, "imap", s); ok {
		return pr
	}
	var me *mailwatch.Error
	op := ""
	if errors.As(err, &me) {
		op = me.Op
	}
	switch {
	case errors.Is(err, mailwatch.ErrNoMailbox):
		key := "imap.mailbox"
		if me != nil && me.Mailbox != p.mailbox() {
			key = "imap.move_processed"
		}
		return Problem{Key: key, What: err.Error(), Fix: "create that mailbox for " + s.Username + ", or set " + key + " to one that exists"}
	case op == "token":
		return Problem{Key: passwordKey("imap", s), What: err.Error(), Transient: true,
			Fix: "rtbot could not get an access token: check " + passwordPlace(s)}
	case op == "login" && mailwatch.IsPermanent(err):
		return Problem{Key: passwordKey("imap", s), What: err.Error(), Credentials: true,
			Fix: "the server refused the login: check imap.username and " + passwordPlace(s)}
	case mailwatch.IsPermanent(err):
		return Problem{Key: "imap.addr", What: err.Error(), Fix: "check [imap] addr and tls"}
	}
	return Problem{Key: "imap.addr", What: err.Error(), Transient: true,
		Fix: "check that the server runs and that addr is its host:port (rtbot tries again at the next pass)"}
}

// checkSMTP greets the SMTP server and logs in, sending nothing.
func (p *Pipeline) checkSMTP(ctx context.Context) Step {
	const name = "smtp"
	s := p.cfg.SMTP.Server
	if pr := serverSecrets(name, s, p.opts.SMTPTLS); pr != nil {
		return failed(name, *pr)
	}
	srv, err := p.smtpServer()
	if err != nil {
		return failed(name, Problem{Key: "smtp", What: err.Error()})
	}
	ctx, cancel := context.WithTimeout(ctx, StepTimeout)
	defer cancel()
	if err := mailout.Hello(ctx, srv); err != nil {
		return failed(name, p.smtpProblem(err))
	}
	login := "no AUTH (no username)"
	if s.Username != "" {
		login = "logged in as " + s.Username
	}
	return Step{Name: name, Found: fmt.Sprintf("%s answers (tls = %q); %s; nothing sent", s.Addr, tlsName(s.TLS), login)}
}

// smtpProblem says which [smtp] key a failed Hello points at.
func (p *Pipeline) smtpProblem(err error) Problem {
	s := p.cfg.SMTP.Server
	if pr, ok := tlsProblem(err, "smtp", s); ok {
		return pr
	}
	var me *mailout.Error
	if !errors.As(err, &me) {
		return Problem{Key: "smtp.addr", What: err.Error(), Transient: mailout.IsTemporary(err)}
	}
	switch {
	case me.Stage == "auth" && me.Code == 0 && !me.Temporary:
		return Problem{Key: "smtp.username", What: err.Error(),
			Fix: "leave username out for a server that needs no AUTH, or use tls or starttls so that it offers AUTH PLAIN"}
	case me.Stage == "auth":
		return Problem{Key: passwordKey("smtp", s), What: err.Error(), Transient: me.Temporary, Credentials: !me.Temporary,
			Fix: "the server refused the login: check smtp.username and " + passwordPlace(s)}
	case me.Stage == "tls":
		return Problem{Key: "smtp.tls", What: err.Error(),
			Fix: `set tls to what the server speaks on this port: "tls" (usually 465) or "starttls" (usually 587)`}
	case me.Temporary:
		return Problem{Key: "smtp.addr", What: err.Error(), Transient: true,
			Fix: "check that the server runs and that addr is its submission host:port (rtbot tries again at the next pass)"}
	}
	return Problem{Key: "smtp.addr", What: err.Error(), Fix: "check that addr is the submission server's host:port"}
}

// tlsProblem is the problem of a TLS failure talking to [table] s, when
// err is one: a certificate no trusted authority signed (set ca_file), one
// for another host, or a server that does not speak TLS there.
func tlsProblem(err error, table string, s config.Server) (Problem, bool) {
	key := table + ".ca_file"
	if explained := netsec.ExplainTLS(err, key); explained != err {
		return Problem{Key: key, What: explained.Error()}, true
	}
	msg := err.Error()
	switch {
	case strings.Contains(msg, "x509: certificate is valid for"), strings.Contains(msg, "x509: certificate is not valid for any names"):
		return Problem{Key: table + ".addr", What: msg, Fix: "set addr to a host name the server's certificate names"}, true
	case strings.Contains(msg, "first record does not look like a TLS handshake"):
		return Problem{Key: table + ".tls", What: msg,
			Fix: fmt.Sprintf("the server does not speak TLS from the first byte on %s: set tls = \"starttls\", or addr to its TLS port", s.Addr)}, true
	}
	return Problem{}, false
}
