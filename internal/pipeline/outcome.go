package pipeline

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/rtbot/rtbot/internal/config"
	"github.com/rtbot/rtbot/internal/mailout"
	"github.com/rtbot/rtbot/internal/netsec"
	"github.com/rtbot/rtbot/internal/report"
	"github.com/rtbot/rtbot/internal/state"
)

// Every announcement ends in an outcome a human can see (docs/operations.md,
// "When something fails"): done (its runs clean or needing a human),
// ignored (with the reason), waiting for its candidate, or failed (with
// the error, mailed to the maintainers). An ignored announcement whose
// reason the configuration decides, and a failed one, are looked at again
// by the pass after their cause changed (the configuration, a tree's
// queue), as long as they are within their Patience; `rtbot rerun` does it
// on purpose at any time.

// How long an announcement is worth acting on by itself, from when rtbot
// first saw it: its review window (the X-KernelTest-Deadline the cover
// names, ReviewWindow when it names none, at most MaxReviewWindow: a
// forged deadline cannot keep it for long), plus PatienceMargin.
const (
	ReviewWindow    = 48 * time.Hour
	MaxReviewWindow = 7 * 24 * time.Hour
	PatienceMargin  = 24 * time.Hour
)

// Patience is until when announcement a is acted on by itself: until then
// a pass waits for its candidate to appear on the remote, and looks at it
// again when the cause it was ignored or failed for changes; after it, a
// candidate still missing fails the announcement (reported to the
// maintainers), and only `rtbot rerun` looks at it again. It is the end of
// its review window plus PatienceMargin: at least a day, at most eight,
// after rtbot first saw the mail.
func Patience(a state.Announcement) time.Time {
	end := a.Deadline
	if end.IsZero() {
		end = a.FirstSeen.Add(ReviewWindow)
	}
	if end.Before(a.FirstSeen) {
		end = a.FirstSeen
	}
	if last := a.FirstSeen.Add(MaxReviewWindow); end.After(last) {
		end = last
	}
	return end.Add(PatienceMargin)
}

// now is the pipeline's clock.
func (p *Pipeline) now() time.Time {
	if p.opts.Now != nil {
		return p.opts.Now()
	}
	return time.Now()
}

// configHash identifies the configuration: an ignored or failed verdict
// made under another one is looked at again (reconsider).
func (p *Pipeline) configHash() string {
	c := *p.cfg
	c.Path = ""
	b, err := json.Marshal(c)
	if err != nil {
		// Not reachable (the configuration is plain data); never equal to
		// a stored hash, so everything is looked at again.
		return "unhashable: " + err.Error()
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}

// repeatOf is the error for an announcement whose candidate another
// announcement (holder) claimed first: it is ignored as a repeat.
type repeatOf struct{ holder state.Announcement }

func (e *repeatOf) Error() string { return repeats(e.holder) }

// claim records that rtbot found the candidate of a and acts on it; a
// *repeatOf when another announcement of the candidate did first.
func (p *Pipeline) claim(ctx context.Context, a state.Announcement) error {
	holder, ok, err := p.store.ClaimAnnouncement(ctx, a.MessageID)
	if err != nil {
		return err
	}
	if !ok {
		return &repeatOf{holder}
	}
	return nil
}

// RunFailed is the error of a run that ended for good in an error: a
// queue that does not read, a repository that is not there, a candidate
// that never came or is gone. The run is recorded with its error, the
// maintainers were mailed an error report (Mail, once the server took it),
// and the announcement is failed. The pass that met it fails; Before says
// the run ended so in an earlier pass, which reported it.
type RunFailed struct {
	Run    int64
	Tree   string
	Err    error
	Mail   string
	Config string // the configuration file, for the command to type
	Before bool
}

func (e *RunFailed) Error() string {
	if e.Before {
		return fmt.Sprintf("run %d of %s failed in an earlier pass: %v", e.Run, e.Tree, e.Err)
	}
	mailed := "the error report was not mailed"
	if e.Mail != "" {
		mailed = fmt.Sprintf("the maintainers were mailed the error report <%s>", e.Mail)
	}
	return fmt.Sprintf("run %d of %s failed: %v; %s; rtbot tries again by itself when the configuration or the queue changes, "+
		"or run `rtbot rerun --config %s %d` once the cause is fixed", e.Run, e.Tree, e.Err, mailed, e.Config, e.Run)
}

// Unwrap returns the run's error.
func (e *RunFailed) Unwrap() error { return e.Err }

// ignore records announcement a ignored for why; configHash is the
// configuration that decided it ("" when none did).
func (p *Pipeline) ignore(ctx context.Context, a state.Announcement, why, configHash string, pass *Pass) error {
	if err := p.store.IgnoreUnder(ctx, a.MessageID, why, configHash); err != nil {
		return err
	}
	p.log.Info("announcement ignored", "message_id", a.MessageID, "candidate", candName(a.Version, a.RC), "reason", why)
	a.Status, a.Reason, a.ConfigHash = state.AnnouncementIgnored, why, configHash
	pass.Ignored = append(pass.Ignored, a)
	return nil
}

// wait records announcement a waiting for its candidate (why says where
// it looked and what is there), until its Patience.
func (p *Pipeline) wait(ctx context.Context, a state.Announcement, why string, pass *Pass) error {
	until := Patience(a)
	if err := p.store.WaitAnnouncement(ctx, a.MessageID, why, until); err != nil {
		return err
	}
	p.log.Warn("announcement waits for its candidate", "message_id", a.MessageID, "candidate", candName(a.Version, a.RC), "why", why)
	a.Status, a.Reason, a.WaitUntil = state.AnnouncementWaiting, why, until
	pass.Waiting = append(pass.Waiting, a)
	return p.fault(FaultWaiting)
}

// fail records announcement a failed for good with the errors of its
// failed runs, under the current configuration.
func (p *Pipeline) fail(ctx context.Context, a state.Announcement, failures []*RunFailed, pass *Pass) error {
	var causes []string
	for _, f := range failures {
		causes = append(causes, fmt.Sprintf("tree %s, run %d: %v", f.Tree, f.Run, f.Err))
	}
	why := strings.Join(causes, "; ")
	hash := p.configHash()
	if err := p.store.FailAnnouncement(ctx, a.MessageID, why, hash); err != nil {
		return err
	}
	a.Status, a.Reason, a.ConfigHash = state.AnnouncementFailed, why, hash
	pass.Failed = append(pass.Failed, a)
	return p.fault(FaultFailed)
}

// reconsider looks again at the announcements ignored for a reason the
// configuration decides, and at the failed ones, whose cause changed since
// (see causeChanged), as long as they are within their Patience: each is
// set back to processing for this pass, or ignored again (under the new
// configuration) when it still is.
func (p *Pipeline) reconsider(ctx context.Context, pass *Pass) error {
	hash, now := p.configHash(), p.now()
	anns, err := p.store.Announcements(ctx, state.AnnouncementFilter{
		Status: []state.AnnouncementStatus{state.AnnouncementIgnored, state.AnnouncementFailed},
		// No announcement is patient for longer.
		SeenSince: now.Add(-MaxReviewWindow - PatienceMargin),
	})
	if err != nil {
		return err
	}
	queues := queueIDs{}
	for _, a := range anns {
		if now.After(Patience(a)) || a.Status == state.AnnouncementIgnored && (a.ConfigHash == "" || a.ConfigHash == hash) {
			continue
		}
		trees, why := p.accepting(a)
		if len(trees) == 0 {
			if a.Status == state.AnnouncementIgnored {
				err = p.store.IgnoreUnder(ctx, a.MessageID, why, hash)
			}
			if err != nil {
				return err
			}
			continue
		}
		changed, redo, err := p.causeChanged(ctx, a, trees, hash, queues)
		if err != nil {
			return err
		}
		if changed {
			if err := p.retry(ctx, a, redo, pass); err != nil {
				return err
			}
		}
	}
	return nil
}

// queueIDs caches the queue identity of each tree, by tree name, for one
// reconsider: "" for a queue that cannot be read.
type queueIDs map[string]string

func (q queueIDs) of(t config.Tree) string {
	id, ok := q[t.Name]
	if !ok {
		id, _ = queueID(t)
		q[t.Name] = id
	}
	return id
}

// causeChanged reports whether announcement a, ignored under another
// configuration or failed, is worth trying again: the configuration
// changed (then redo: its runs that ended in error are redone under their
// ids), or a tree's queue is not the one its last run had (a new run is
// made then).
func (p *Pipeline) causeChanged(ctx context.Context, a state.Announcement, trees []config.Tree, hash string, queues queueIDs) (changed, redo bool, err error) {
	configChanged := a.ConfigHash != hash
	if a.Status == state.AnnouncementIgnored {
		return configChanged, false, nil
	}
	runs, err := p.store.Runs(ctx, state.RunFilter{Announcement: a.MessageID}) // newest first
	if err != nil {
		return false, false, err
	}
	for _, t := range trees {
		qid := queues.of(t)
		i := slices.IndexFunc(runs, func(r state.Run) bool { return r.Tree == t.Name })
		if i < 0 || qid != "" && runs[i].QueueID != qid {
			changed = true
		}
	}
	return changed || configChanged, configChanged, nil
}

// retry sets announcement a back to processing for this pass; with redo,
// its runs that ended in error are redone.
func (p *Pipeline) retry(ctx context.Context, a state.Announcement, redo bool, pass *Pass) error {
	if err := p.store.RetryAnnouncement(ctx, a.MessageID, redo); err != nil {
		return err
	}
	p.log.Info("looking again at an announcement", "message_id", a.MessageID,
		"candidate", candName(a.Version, a.RC), "was", a.Status, "reason", a.Reason)
	pass.Retried = append(pass.Retried, a)
	return p.fault(FaultRetried)
}

// errorReportID is the Message-ID of the error report of tr's run failing
// with cause: the same on every attempt, so the ledger sends it once; a
// run that fails again with another error reports that one too.
func errorReportID(p *Pipeline, tr *treeRun, cause error) string {
	domain := p.cfg.Bot.Email[strings.LastIndexByte(p.cfg.Bot.Email, '@')+1:]
	return mailout.MessageID(domain, "error", tr.t.Name, tr.a.MessageID, tr.runReport.Commit, tr.runReport.QueueID, cause.Error())
}

// errorMail composes the error report of tr's run, which failed for good
// with cause: what failed, that it will not pass by itself, and how to
// try again.
func (p *Pipeline) errorMail(tr *treeRun, cause error, id string) *mailout.Message {
	var b strings.Builder
	// The prose fits in report.Width; the error and the command are
	// quoted whole, indented, for whoever fixes the cause.
	fmt.Fprintf(&b, "rtbot could not run the %s RT queue on %s:\n\n    %s\n\n", tr.t.Name, tr.name, tr.t.Queue)
	for line := range strings.Lines(netsec.Redact(cause.Error())) {
		fmt.Fprintf(&b, "    %s", line)
	}
	b.WriteString("\n\n" + report.Wrap(fmt.Sprintf("This will not pass by itself. rtbot tries the announcement again by itself "+
		"when the configuration or the queue changes (until %s); once the cause is fixed, run",
		Patience(tr.a).UTC().Format("2006-01-02 15:04 MST"))))
	fmt.Fprintf(&b, "\n    rtbot rerun --config %s %d\n\n", p.configFile(), tr.run.ID)
	b.WriteString(report.Wrap("to try again now. `rtbot status` lists what failed."))
	fmt.Fprintf(&b, "\n-- \nrtbot, run %d. Reply to the maintainers, not to this address.\n", tr.run.ID)
	return p.runMail(tr.a, tr.t, id, fmt.Sprintf("[rtbot] %s on %s failed (run %d)", tr.t.Name, tr.name, tr.run.ID), b.String())
}
