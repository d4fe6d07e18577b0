package pipeline

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/rtbot/rtbot/internal/config"
	"github.com/rtbot/rtbot/internal/mailout"
	"github.com/rtbot/rtbot/internal/merger"
	"github.com/rtbot/rtbot/internal/msgid"
	"github.com/rtbot/rtbot/internal/netsec"
	"github.com/rtbot/rtbot/internal/patchqueue"
	"github.com/rtbot/rtbot/internal/state"
	"github.com/rtbot/rtbot/internal/triage"
	"github.com/rtbot/rtbot/internal/trigger"
)

// intend records that an action is about to happen. It returns skip when
// the action is already done. An action an earlier attempt left intended
// is handed out again when redo says it is safe to repeat (given whether it
// was marked committing); otherwise intend returns an error wrapping
// state.ErrInterrupted, and the action waits for a human.
func (p *Pipeline) intend(ctx context.Context, runID int64, kind state.ActionKind, key string, redo func(committing bool) bool) (state.Action, bool, error) {
	act, done, err := p.store.Intend(ctx, runID, kind, key)
	if errors.Is(err, state.ErrInterrupted) {
		if !redo(act.Committing) {
			return act, false, err
		}
		p.log.Warn("redoing an interrupted action", "kind", kind, "key", key)
		if ferr := p.store.Failed(ctx, act.ID, errors.New("interrupted before it could have happened; redone")); ferr != nil {
			return act, false, ferr
		}
		act, done, err = p.store.Intend(ctx, runID, kind, key)
	}
	return act, done, err
}

// settle records the end of an action: done, or failed with err.
func (p *Pipeline) settle(ctx context.Context, act state.Action, err error) error {
	var stop *Stopped
	if errors.As(err, &stop) {
		return err // a simulated crash records nothing
	}
	if err != nil {
		if ferr := p.store.Failed(ctx, act.ID, err); ferr != nil {
			return errors.Join(err, ferr)
		}
		return err
	}
	return p.store.Done(ctx, act.ID)
}

// errTakenOver is the push of a partial branch the maintainers pushed
// onto (see push).
var errTakenOver = errors.New("the maintainers pushed onto the partial branch there; rtbot leaves it to them")

// push pushes branch at head to the tree's push remote with a lease: the
// remote branch must be absent, already at head, or at a commit rtbot
// itself pushed there. A push is safe to repeat, so an interrupted one is
// simply done again. A partial branch the maintainers pushed onto (a fix,
// see learnFixes) is theirs from then on: a later run on the same
// candidate leaves it alone and push returns errTakenOver, recording
// nothing.
func (p *Pipeline) push(ctx context.Context, runID int64, t config.Tree, branch string, head plumbing.Hash, partial bool) error {
	if partial {
		if _, theirs, err := p.remoteBranch(ctx, t, branch, head); err != nil || theirs {
			if theirs {
				p.log.Warn("not pushing the partial branch", "tree", t.Name, "remote", netsec.Redact(t.PushRemote), "branch", branch, "why", errTakenOver)
				err = errTakenOver
			}
			return err
		}
	}
	key := branch + "@" + head.String()
	act, done, err := p.intend(ctx, runID, state.ActionPush, key, func(bool) bool { return true })
	if err != nil || done {
		return err
	}
	err = func() error {
		lease, theirs, err := p.remoteBranch(ctx, t, branch, head)
		if err != nil {
			return err
		}
		if theirs {
			return fmt.Errorf("push %s to %s: the remote branch is at %s, which rtbot did not push; not overwriting it",
				branch, netsec.Redact(t.PushRemote), lease)
		}
		return p.pushBranch(ctx, t, branch, head, lease)
	}()
	if err == nil {
		if err := p.fault(FaultPushed); err != nil {
			return err
		}
		p.log.Info("pushed", "tree", t.Name, "remote", netsec.Redact(t.PushRemote), "branch", branch, "commit", head.String())
	}
	return p.settle(ctx, act, err)
}

// remoteBranch returns where branch is on the tree's push remote (zero:
// absent), and whether that is a commit other than head that rtbot never
// pushed there: someone else's.
func (p *Pipeline) remoteBranch(ctx context.Context, t config.Tree, branch string, head plumbing.Hash) (plumbing.Hash, bool, error) {
	at, err := p.pushedHead(ctx, t, branch)
	if err != nil || at.IsZero() || at == head {
		return at, false, err
	}
	ours, err := p.store.EverDone(ctx, state.ActionPush, branch+"@"+at.String())
	return at, !ours, err
}

// event describes a clean rebase to the testing triggers; repo is the
// tree's repository, where the tags of the candidate and result are.
func (p *Pipeline) event(repo *git.Repository, a state.Announcement, t config.Tree, cand plumbing.Hash, triageReport *triage.Report, mergeResult *merger.Result, runReport *RunReport) trigger.Event {
	ev := trigger.Event{
		Tree: t.Name, Series: t.Series, Version: a.Version, RC: a.RC, Candidate: cand.String(),
		CandidateURL: t.CandidateURL, CandidateBranch: t.CandidateBranch, Base: t.QueueBase,
		Branch: runReport.Branch, Commit: mergeResult.Head.String(), Repo: t.Repo, Announcement: a.MessageID,
		MessageID: reportThread(a), Subject: a.Subject, Time: time.Now(),
	}
	tags := tagsAt(repo, cand, mergeResult.Head)
	ev.CandidateTags, ev.CommitTags = tags[cand], tags[mergeResult.Head]
	for _, pr := range mergeResult.Patches {
		if !pr.Commit.IsZero() {
			ev.Commits++
		}
	}
	if runReport.Pushed != "" {
		ev.PushRemote = t.PushRemote
	}
	ev.QueueID = runReport.QueueID
	for i, pr := range triageReport.Patches {
		tp := trigger.Patch{Index: pr.Index, Name: pr.Name, Subject: pr.Subject, Status: string(pr.Status)}
		if i < len(mergeResult.Patches) && mergeResult.Patches[i].Patch != nil {
			var b strings.Builder
			if patchqueue.WriteFormatPatch(&b, mergeResult.Patches[i].Patch) == nil {
				tp.Text = []byte(b.String())
			}
		}
		ev.Patches = append(ev.Patches, tp)
	}
	return ev
}

// fireTriggers fires the tree's triggers in order. A trigger interrupted
// before it was recorded is fired again: a repeated test costs machine
// time, a lost one costs a missed regression. A permanent failure is
// recorded and the others still fire; a temporary one leaves the run for
// the next pass.
func (p *Pipeline) fireTriggers(ctx context.Context, runID int64, t config.Tree, ev trigger.Event) ([]string, error) {
	var fired []string
	var temporary []error
	dir := filepath.Join(p.cfg.Bot.Workdir, "triggers", t.Name, candName(ev.Version, ev.RC))
	for _, name := range t.Triggers {
		tr, ok := p.cfg.Trigger(name)
		if !ok {
			return fired, fmt.Errorf("trigger %q is not configured", name)
		}
		act, done, err := p.intend(ctx, runID, state.ActionTrigger, name, func(bool) bool { return true })
		if err != nil {
			return fired, err
		}
		if done {
			fired = append(fired, name)
			continue
		}
		fireResult, err := trigger.Fire(ctx, triggerSpec(tr), ev, dir)
		if tr.Type == config.TriggerWebhook && tr.Poll != "" && err == nil {
			if rerr := p.webhookFired(ctx, runID, name, fireResult); rerr != nil {
				return fired, rerr
			}
		}
		if tr.Type == config.TriggerCommand {
			if rerr := p.commandResults(ctx, runID, name, ev, fireResult); rerr != nil {
				return fired, rerr
			}
			if ferr := p.fault(FaultCommandResults); ferr != nil {
				return fired, ferr
			}
		}
		if err == nil {
			if err := p.fault(FaultTriggered); err != nil {
				return fired, err
			}
		}
		if serr := p.settle(ctx, act, err); serr != nil {
			switch {
			case err == nil: // recording failed
				return fired, serr
			case trigger.IsTemporary(err) || ctx.Err() != nil:
				temporary = append(temporary, fmt.Errorf("trigger %s: %w", name, serr))
			default:
				p.log.Error("trigger failed", "tree", t.Name, "trigger", name, "err", err, "output", fireResult.Output)
			}
			continue
		}
		p.log.Info("trigger fired", "tree", t.Name, "trigger", name, "type", tr.Type, "output", fireResult.Output)
		fired = append(fired, name)
	}
	return fired, errors.Join(temporary...)
}

// reportMessageID is the Message-ID of the triage report of one run: the
// same on every attempt, so the ledger recognises it.
func (p *Pipeline) reportMessageID(a state.Announcement, t config.Tree, candidate, queueID string) string {
	domain := p.cfg.Bot.Email[strings.LastIndexByte(p.cfg.Bot.Email, '@')+1:]
	return mailout.MessageID(domain, "report", t.Name, a.MessageID, candidate, queueID)
}

// ReportRefused is the error of a run whose triage report the SMTP server
// refused for good (mailout.Refused: a 5xx reply to the message itself).
// The run finishes without it, its mail action recorded failed with the
// server's words, and no pass sends it again until an operator has fixed
// the cause and says so (`rtbot action --retry`); the pass that met the
// refusal fails, saying all this.
type ReportRefused struct {
	MessageID string
	Action    int64  // the mail action, for `rtbot action`
	Config    string // the configuration file, for the command to type
	Err       error  // the server's refusal
}

func (e *ReportRefused) Error() string {
	return fmt.Sprintf("report <%s> refused by the SMTP server: %v; it is not sent again until you fix the cause "+
		"and run `rtbot action --config %s --retry %d` (or `--done %d` if you sent it yourself)",
		e.MessageID, e.Err, e.Config, e.Action, e.Action)
}

// Unwrap returns the server's refusal.
func (e *ReportRefused) Unwrap() error { return e.Err }

// mailRun mails the report of a run to the tree's maintainers, threaded
// under the announcement: the triage report, or the error report of a run
// that failed; id is its Message-ID and compose writes it. It says in the
// run's report what became of it: Mail once the server accepted it (250 to
// the final dot, in this attempt or an earlier one), NotMailed otherwise.
// An error leaves the run for the next attempt, except a *ReportRefused,
// after which the run is over.
func (p *Pipeline) mailRun(ctx context.Context, tr *treeRun, id string, compose func(id string) (*mailout.Message, error)) error {
	runReport := tr.runReport
	err := p.sendReport(ctx, tr.run.ID, id, tr.t, func() (*mailout.Message, error) { return compose(id) })
	var refused *ReportRefused
	var stop *Stopped
	switch {
	case err == nil:
		runReport.Mail, runReport.NotMailed = id, ""
	case errors.As(err, &stop):
	case errors.As(err, &refused), errors.As(err, new(*reportInDoubt)):
		runReport.NotMailed = err.Error()
	case mailout.IsTemporary(err) || ctx.Err() != nil:
		runReport.NotMailed = err.Error() + "; the next pass tries again"
	default:
		runReport.NotMailed = err.Error() + "; the next pass tries again, but fix the cause: it will not pass by itself"
	}
	return err
}

// sendReport sends the report with Message-ID id, which compose writes, at
// most once: a send that was interrupted after the message was handed to
// the server (committing), or whose end the server never answered, is
// never repeated and waits for a human (`rtbot status` shows it); one interrupted before
// that is sent again. A report the server refused for good is recorded
// failed and returned as a *ReportRefused; anything else that kept it from
// the server (a temporary reply, a network failure, a configuration error
// such as an unset password_env) is recorded failed for the next attempt.
func (p *Pipeline) sendReport(ctx context.Context, runID int64, id string, t config.Tree, compose func() (*mailout.Message, error)) error {
	act, done, err := p.intend(ctx, runID, state.ActionMail, id, func(committing bool) bool { return !committing })
	if errors.Is(err, state.ErrInterrupted) {
		// The run stays unfinished until a human says what happened.
		return p.mayHaveArrived(id, t, act.ID, "may have been sent just before an interruption")
	}
	if err != nil || done {
		return err
	}
	msg, err := compose()
	if err != nil {
		return p.settle(ctx, act, fmt.Errorf("report <%s> not sent: %w", id, err))
	}
	srv, err := p.smtpServer()
	if err != nil {
		return p.settle(ctx, act, fmt.Errorf("report <%s> not sent: %w", id, err))
	}
	err = mailout.Send(ctx, srv, msg, mailout.Hooks{BeforeCommit: func() error {
		if err := p.store.Committing(ctx, act.ID); err != nil {
			return err
		}
		return p.fault(FaultMailCommit)
	}})
	err = netsec.ExplainTLS(err, "smtp.ca_file")
	switch {
	case err == nil:
		// The server has the mail: a crash here must not let the ledger
		// say it failed.
		if err := p.fault(FaultMailSent); err != nil {
			return err
		}
		if err := p.store.Done(ctx, act.ID); err != nil {
			return err
		}
		p.log.Info("report mailed", "tree", t.Name, "message_id", id, "to", strings.Join(t.Maintainers, ", "))
		return nil
	case mailout.MayHaveBeenSent(err):
		// The whole message went out and no answer came back: the server
		// may have accepted it. The action stays committing, as after a
		// crash. The cause is not wrapped: this is not worth an immediate
		// retry.
		p.log.Error("report mail: no answer to the end of the message; it may have arrived", "message_id", id, "err", err)
		return p.mayHaveArrived(id, t, act.ID, fmt.Sprintf("got no answer after the whole message was sent (%v), so it may have arrived", err))
	case mailout.Refused(err) && ctx.Err() == nil:
		if ferr := p.store.Failed(ctx, act.ID, err); ferr != nil {
			return errors.Join(err, ferr)
		}
		p.log.Error("report mail refused", "message_id", id, "err", err)
		return &ReportRefused{MessageID: id, Action: act.ID, Config: p.configFile(), Err: err}
	}
	return p.settle(ctx, act, fmt.Errorf("report <%s> not sent: %w", id, err))
}

// reportInDoubt is the error for a report that may have reached the
// maintainers: it is never sent again until a human says whether it
// arrived.
type reportInDoubt struct{ msg string }

func (e *reportInDoubt) Error() string { return e.msg }

// mayHaveArrived is the *reportInDoubt for report id (why says how it
// came to be in doubt), saying what to do.
func (p *Pipeline) mayHaveArrived(id string, t config.Tree, action int64, why string) error {
	return &reportInDoubt{fmt.Sprintf("report <%s> to %s %s; it is not sent again until you look for it in the maintainers' mail "+
		"and run `rtbot action --config %s --done %d` (it arrived) or `--retry %d` (it did not)",
		id, strings.Join(t.Maintainers, ", "), why, p.configFile(), action, action)}
}

// configFile names the configuration file in commands rtbot tells a human
// to type.
func (p *Pipeline) configFile() string {
	if p.cfg.Path == "" {
		return "FILE"
	}
	return p.cfg.Path
}

// reportThread is the Message-ID the reports of announcement a are
// threaded under: the list mail's, or the one a rerun of it names; "" for
// an announcement made by hand or by rtbot itself, or (recorded by an
// rtbot that did not check) one no header can name, whose reports go out
// unthreaded rather than never.
func reportThread(a state.Announcement) string {
	thread := a.Thread
	if thread == "" && a.Kind != KindManual && a.Kind != KindRerun && a.Kind != KindRedo {
		thread = a.MessageID
	}
	if thread == "" || msgid.Check(thread) != nil {
		return ""
	}
	return thread
}

// runMail is a mail about a run of tree t on announcement a to the tree's
// maintainers, threaded under the announcement (reportThread).
func (p *Pipeline) runMail(a state.Announcement, t config.Tree, id, subject, body string) *mailout.Message {
	m := &mailout.Message{
		From: p.cfg.SMTP.From, To: t.Maintainers, Cc: t.Cc, Subject: subject, Body: body,
		MessageID: id, Date: time.Now(),
		Headers: map[string]string{"X-Rtbot-Tree": t.Name, "X-Rtbot-Candidate": candName(a.Version, a.RC)},
	}
	if thread := reportThread(a); thread != "" {
		m.InReplyTo, m.References = thread, []string{thread}
	}
	return m
}
