package pipeline

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rtbot/rtbot/internal/mailout"
	"github.com/rtbot/rtbot/internal/mailwatch"
	"github.com/rtbot/rtbot/internal/netsec"
	"github.com/rtbot/rtbot/internal/report"
	"github.com/rtbot/rtbot/internal/state"
)

// A pass starts with its preflight (Gate): while a check fails, no mail is
// read and nothing is processed, and the maintainers are told once per
// problem, not at every pass.
//
// What is mailed: every problem the state does not remember as mailed
// (state.RecordPreflight), once. A problem is the same problem while its
// key and its text (digits aside: ports, line numbers, times) stay the
// same and no preflight in between found it gone; one that comes back
// after it was fixed is mailed again. A transient problem (a server that
// does not answer) is mailed only once it has lasted TransientGrace, so
// that a server's restart mails nobody. Nothing can be mailed while the
// SMTP server is itself one of the problems: the log says so, `rtbot
// status` lists the problems, and they are mailed by the first pass that
// can. The mail goes to the maintainers of the trees the problems are in
// (of every tree for the mail servers'), never to cc. A crash between the
// server's acceptance and the record sends it again: it is a warning, and
// twice is better than never.

// TransientGrace is how long a transient preflight problem (a server that
// does not answer) lasts before the maintainers are mailed about it.
const TransientGrace = time.Hour

// PreflightError is the error of a pass whose preflight found problems:
// it read no mail and did nothing.
type PreflightError struct {
	Problems []Problem
	// Config is the configuration file, for the command to type.
	Config string
}

func (e *PreflightError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "preflight: %s; rtbot reads no mail and does nothing until they are fixed (`rtbot check --config %s` checks again):", report.Plural(len(e.Problems), "problem", "problems"), e.Config)
	for _, p := range e.Problems {
		b.WriteString("\n  " + p.String())
	}
	return b.String()
}

// Permanent reports whether a problem will not pass by itself: a human
// must change the configuration, or what it names.
func (e *PreflightError) Permanent() bool {
	return slices.ContainsFunc(e.Problems, func(p Problem) bool { return !p.Transient })
}

// CredentialsRefused reports whether the problems that will not pass by
// themselves are all credentials a server refused (Problem.Credentials).
func (e *PreflightError) CredentialsRefused() bool {
	permanent := 0
	for _, p := range e.Problems {
		if p.Transient {
			continue
		}
		if !p.Credentials {
			return false
		}
		permanent++
	}
	return permanent > 0
}

// Gate runs the preflight of scope before a pass: it logs every problem,
// remembers them in the state, mails the maintainers about those they
// were not told of (see above), and returns a *PreflightError when any
// check failed (nil when every check passed). A failure to record or to
// mail is logged, not returned: the preflight's verdict stands.
func (p *Pipeline) Gate(ctx context.Context, scope Scope) error {
	pf := p.Preflight(ctx, scope)
	problems := pf.Problems()
	for _, s := range pf.Steps {
		switch {
		case s.Problem != nil:
			p.log.Error("preflight: "+s.Problem.String(), "check", s.Name, "transient", s.Problem.Transient)
		case s.Skipped != "":
			p.log.Warn("preflight: "+s.Skipped, "check", s.Name)
		default:
			p.log.Info("preflight: ok", "check", s.Name, "found", netsec.Redact(s.Found))
		}
	}
	if err := p.rememberPreflight(ctx, pf); err != nil {
		p.log.Error("preflight: recording the problems failed", "err", err)
	}
	if pf.OK() {
		return nil
	}
	if len(problems) == 0 {
		// Only skipped checks: cannot happen (a check is skipped because
		// another failed), but a pass must not run on unchecked ground.
		problems = []Problem{{Key: "preflight", What: "checks did not run"}}
	}
	if slices.ContainsFunc(problems, func(pr Problem) bool { return strings.HasPrefix(pr.Key, "imap.") }) {
		p.log.Error("preflight: the IMAP server is one of the problems: the list cannot be read until it is fixed")
	}
	return &PreflightError{Problems: problems, Config: p.configFile()}
}

// rememberPreflight records what pf found and mails what is due.
func (p *Pipeline) rememberPreflight(ctx context.Context, pf Preflight) error {
	var found []state.PreflightProblem
	for _, s := range pf.Steps {
		if pr := s.Problem; pr != nil {
			found = append(found, state.PreflightProblem{ID: problemID(*pr), Step: s.Name, Key: pr.Key, Text: pr.String(), Transient: pr.Transient})
		}
	}
	now, gone, err := p.store.RecordPreflight(ctx, pf.Ran(), found)
	if err != nil {
		return err
	}
	for _, g := range gone {
		p.log.Info("preflight: problem gone", "problem", g.Text)
	}
	grace := p.opts.PreflightGrace
	if grace <= 0 {
		grace = TransientGrace
	}
	var due []state.PreflightProblem
	for _, pr := range now {
		if !pr.Mailed() && (!pr.Transient || pr.LastSeen.Sub(pr.FirstSeen) >= grace) {
			due = append(due, pr)
		}
	}
	if len(due) == 0 {
		return nil
	}
	if slices.ContainsFunc(found, func(pr state.PreflightProblem) bool { return strings.HasPrefix(pr.Key, "smtp") }) {
		p.log.Error("preflight: the SMTP server is one of the problems, so the maintainers cannot be mailed about them; "+
			"they are in this log and in `rtbot status`, and the first pass that can mails them", "problems", len(due))
		return nil
	}
	if err := p.mailProblems(ctx, due); err != nil {
		p.log.Error("preflight: mailing the maintainers about the problems failed; the next pass tries again", "err", netsec.ExplainTLS(err, "smtp.ca_file"))
		return nil
	}
	ids := make([]string, len(due))
	for i, pr := range due {
		ids[i] = pr.ID
	}
	return p.store.PreflightMailed(ctx, ids)
}

// digits are what may change in a problem's text from one pass to the
// next while it stays the same problem: ports, line numbers, times.
var digits = regexp.MustCompile(`[0-9]+`)

// problemID is the identity of a problem: its key and its text, digits
// aside.
func problemID(pr Problem) string {
	h := sha256.Sum256([]byte(pr.Key + "\x00" + strconv.FormatBool(pr.Transient) + "\x00" + digits.ReplaceAllString(pr.String(), "#")))
	return hex.EncodeToString(h[:])
}

// mailProblems mails the maintainers about the problems due.
func (p *Pipeline) mailProblems(ctx context.Context, due []state.PreflightProblem) error {
	srv, err := p.smtpServer()
	if err != nil {
		return err
	}
	ids := make([]string, len(due))
	var b strings.Builder
	// Within report.Width, as every mail rtbot sends; a problem's words
	// (keys, paths, URLs) and the command stay whole, to be copied.
	b.WriteString(report.Wrap("rtbot checks its configuration, its servers, repositories and queues " +
		"before every pass (its preflight), and reads no list mail while a check fails. " +
		theseProblems(len(due))))
	b.WriteString("\n")
	for i, pr := range due {
		ids[i] = pr.ID
		b.WriteString(report.Fold(pr.Text, "- ", "  "))
		fmt.Fprintf(&b, "  (found first %s)\n\n", pr.FirstSeen.Format(time.RFC3339))
	}
	b.WriteString(report.Wrap("Each problem is mailed once: rtbot mails again only about a new one, or " +
		"one that comes back after it was fixed. This runs the checks and says what passes:"))
	fmt.Fprintf(&b, "\n    rtbot check --config %s\n\n", p.configFile())
	b.WriteString(report.Wrap("`rtbot status` lists the problems."))
	b.WriteString("\n-- \nrtbot. Reply to the maintainers, not to this address.\n")
	domain := p.cfg.Bot.Email[strings.LastIndexByte(p.cfg.Bot.Email, '@')+1:]
	m := &mailout.Message{
		From: p.cfg.SMTP.From, To: p.problemRecipients(due),
		Subject:   fmt.Sprintf("[rtbot] %s %s every pass: %s", report.Plural(len(due), "problem", "problems"), stops(len(due)), due[0].Key),
		Body:      b.String(),
		MessageID: mailout.MessageID(domain, append([]string{"preflight"}, ids...)...),
		Date:      time.Now(), Headers: map[string]string{"X-Rtbot-Preflight": strconv.Itoa(len(due))},
	}
	ctx, cancel := context.WithTimeout(ctx, StepTimeout)
	defer cancel()
	return mailout.Send(ctx, srv, m, mailout.Hooks{})
}

// theseProblems introduces the list of n problems.
func theseProblems(n int) string {
	if n == 1 {
		return "This problem stops it now:"
	}
	return "These problems stop it now:"
}

// stops is the verb "stop" agreeing with n subjects.
func stops(n int) string {
	if n == 1 {
		return "stops"
	}
	return "stop"
}

// treeIndex matches the tree index of a key: "tree[2].queue".
var treeIndex = regexp.MustCompile(`^tree\[([0-9]+)\]`)

// problemRecipients are the maintainers of the trees the problems are in,
// and of every tree for a problem outside the trees, each once.
func (p *Pipeline) problemRecipients(due []state.PreflightProblem) []string {
	var to []string
	add := func(ms []string) {
		for _, m := range ms {
			if !slices.Contains(to, m) {
				to = append(to, m)
			}
		}
	}
	for _, pr := range due {
		m := treeIndex.FindStringSubmatch(pr.Key)
		if m == nil {
			for _, t := range p.cfg.Trees {
				add(t.Maintainers)
			}
			continue
		}
		if i, err := strconv.Atoi(m[1]); err == nil && i < len(p.cfg.Trees) {
			add(p.cfg.Trees[i].Maintainers)
		}
	}
	return to
}

// awaitPreflight runs the gate until it passes, waiting as backoff says
// after each transient failure (failed, when not nil, is one that just
// happened: it waits first). It returns nil once the gate passes, and the
// *PreflightError of a problem that will not pass by itself.
func (p *Pipeline) awaitPreflight(ctx context.Context, backoff mailwatch.Backoff, failed error) error {
	err := failed
	for attempt := 0; ; attempt++ {
		if err != nil {
			d := backoff.Delay(attempt)
			p.log.Warn("preflight failed on a problem that may pass by itself; checking again", "in", d, "err", err)
			select {
			case <-time.After(d):
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		err = p.Gate(ctx, ScopeAll)
		var pe *PreflightError
		if err == nil || !errors.As(err, &pe) || pe.Permanent() {
			return err
		}
	}
}
