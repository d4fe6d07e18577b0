package pipeline

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/rtbot/rtbot/internal/config"
	"github.com/rtbot/rtbot/internal/mailout"
	"github.com/rtbot/rtbot/internal/merger"
	"github.com/rtbot/rtbot/internal/patchqueue"
	"github.com/rtbot/rtbot/internal/report"
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
				p.log.Warn("not pushing the partial branch", "tree", t.Name, "remote", t.PushRemote, "branch", branch, "why", errTakenOver)
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
				branch, t.PushRemote, lease)
		}
		return p.pushBranch(ctx, t.Repo, t.PushRemote, branch, head, lease)
	}()
	if err == nil {
		if err := p.fault(FaultPushed); err != nil {
			return err
		}
		p.log.Info("pushed", "tree", t.Name, "remote", t.PushRemote, "branch", branch, "commit", head.String())
	}
	return p.settle(ctx, act, err)
}

// remoteBranch returns where branch is on the tree's push remote (zero:
// absent), and whether that is a commit other than head that rtbot never
// pushed there: someone else's.
func (p *Pipeline) remoteBranch(ctx context.Context, t config.Tree, branch string, head plumbing.Hash) (plumbing.Hash, bool, error) {
	at, err := p.remoteHead(ctx, t.Repo, t.PushRemote, branch)
	if err != nil || at.IsZero() || at == head {
		return at, false, err
	}
	ours, err := p.store.EverDone(ctx, state.ActionPush, branch+"@"+at.String())
	return at, !ours, err
}

// event describes a clean rebase to the testing triggers.
func (p *Pipeline) event(a state.Announcement, t config.Tree, cand plumbing.Hash, triageReport *triage.Report, mergeResult *merger.Result, runReport *RunReport) trigger.Event {
	ev := trigger.Event{
		Tree: t.Name, Series: t.Series, Version: a.Version, RC: a.RC, Candidate: cand.String(),
		CandidateURL: t.CandidateURL, CandidateBranch: t.CandidateBranch, Base: t.QueueBase,
		Branch: runReport.Branch, Commit: mergeResult.Head.String(), Repo: t.Repo, Announcement: a.MessageID,
		Subject: a.Subject, Time: time.Now(),
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

// mailReport mails the triage report to the tree's maintainers, threaded
// under the announcement. The report is sent at most once: a send that was
// interrupted after the message was handed to the server (committing) is
// never repeated and waits for a human (`rtbot status` shows it); one
// interrupted before that is sent again.
func (p *Pipeline) mailReport(ctx context.Context, runID int64, a state.Announcement, t config.Tree, triageReport *triage.Report, runReport *RunReport) (string, error) {
	id := p.reportMessageID(a, t, runReport.Commit, runReport.QueueID)
	act, done, err := p.intend(ctx, runID, state.ActionMail, id, func(committing bool) bool { return !committing })
	if errors.Is(err, state.ErrInterrupted) {
		// The run stays unfinished until a human says what happened.
		return id, fmt.Errorf("report <%s> to %s may have been sent just before an interruption, so it is not sent again: "+
			"check the maintainers' mail, then run `rtbot action --config FILE --done %d` (it arrived) or `--retry %d` (it did not)",
			id, strings.Join(t.Maintainers, ", "), act.ID, act.ID)
	}
	if err != nil || done {
		return id, err
	}
	msg, err := p.reportMail(a, t, triageReport, runReport, id)
	if err != nil {
		return id, p.settle(ctx, act, err)
	}
	srv, err := p.smtpServer()
	if err != nil {
		return id, p.settle(ctx, act, err)
	}
	err = mailout.Send(ctx, srv, msg, mailout.Hooks{BeforeCommit: func() error {
		if err := p.store.Committing(ctx, act.ID); err != nil {
			return err
		}
		return p.fault(FaultMailCommit)
	}})
	if err == nil {
		err = p.fault(FaultMailSent)
		if err != nil {
			// The server has the mail: a crash here must not let the
			// ledger say it failed.
			return id, err
		}
	}
	if mailout.MayHaveBeenSent(err) {
		// The whole message went out and no answer came back: the server
		// may have accepted it. The action stays committing, as after a
		// crash, and the next attempt asks a human instead of sending a
		// second copy. The cause is not wrapped: this is not worth an
		// immediate retry.
		p.log.Error("report mail: no answer to the end of the message; it may have arrived", "message_id", id, "err", err)
		return id, fmt.Errorf("report <%s>: the connection failed after the whole message was sent (%v), so it may have arrived: "+
			"check the maintainers' mail, then run `rtbot action --config FILE --done %d` (it arrived) or `--retry %d` (it did not)",
			id, err, act.ID, act.ID)
	}
	if serr := p.settle(ctx, act, err); serr != nil {
		// Only the server's permanent refusal ends the action for good;
		// anything else (a temporary reply, a failure to record the
		// committing mark, a crash) leaves the run for the next attempt.
		var me *mailout.Error
		if !errors.As(err, &me) || me.Temporary || ctx.Err() != nil {
			return id, serr
		}
		p.log.Error("report mail refused", "message_id", id, "err", err)
		return id, nil
	}
	p.log.Info("report mailed", "tree", t.Name, "message_id", id, "to", strings.Join(t.Maintainers, ", "))
	return id, nil
}

// reportMail composes the triage report mail.
func (p *Pipeline) reportMail(a state.Announcement, t config.Tree, triageReport *triage.Report, runReport *RunReport, id string) (*mailout.Message, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "rtbot rebased the %s RT queue (%s) onto %s\n", t.Name, t.Queue, candName(a.Version, a.RC))
	fmt.Fprintf(&b, "(%s %s, commit %.12s).\n\n", t.CandidateURL, t.CandidateBranch, runReport.Commit)
	fmt.Fprintf(&b, "%d of %d patches need a human; the rest applied.\n", triageReport.Summary.Attention, triageReport.Summary.Total)
	if runReport.Branch != "" {
		fmt.Fprintf(&b, "What did apply is on branch %s (commit %.12s)\nin %s", runReport.Branch, runReport.Result, t.Repo)
		switch {
		case runReport.Pushed != "":
			fmt.Fprintf(&b, "\nand was pushed to %s.\n", t.PushRemote)
			b.WriteString("Apply each conflicting patch below by hand on top of it (git am -3\n" +
				"keeps its subject) and push the branch back: rtbot learns the\n" +
				"resolutions and applies them to the next candidate with the same\n" +
				"conflict.\n")
		case runReport.NotPushed != "":
			fmt.Fprintf(&b, ";\nnot pushed to %s: %s.\n", t.PushRemote, runReport.NotPushed)
		default:
			b.WriteString(".\n")
		}
	}
	b.WriteString("\n")
	if err := report.Text(&b, triageReport); err != nil {
		return nil, err
	}
	fmt.Fprintf(&b, "\n-- \nrtbot, run %d. Reply to the maintainers, not to this address.\n", runReport.RunID)
	subject := fmt.Sprintf("[rtbot] %s on %s: %d of %d patches need attention",
		t.Name, candName(a.Version, a.RC), triageReport.Summary.Attention, triageReport.Summary.Total)
	m := &mailout.Message{
		From: p.cfg.SMTP.From, To: t.Maintainers, Cc: t.Cc, Subject: subject, Body: b.String(),
		MessageID: id, InReplyTo: a.MessageID, References: []string{a.MessageID}, Date: time.Now(),
		Headers: map[string]string{"X-Rtbot-Tree": t.Name, "X-Rtbot-Candidate": candName(a.Version, a.RC)},
	}
	if a.Kind == KindManual || a.Kind == KindRerun {
		// No list mail to thread under.
		m.InReplyTo, m.References = "", nil
	}
	return m, nil
}
