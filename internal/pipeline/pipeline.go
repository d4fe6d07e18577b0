// Package pipeline is rtbot's unattended job (docs/design.md, "What a run does"):
// it reads announcements from the IMAP mailbox, records them, and for every
// configured tree that follows the announced series fetches the candidate,
// rebases the RT queue onto it, triages the result and acts on it: push the
// branch and fire the testing triggers when every patch is clean, or mail
// the triage report (threaded under the announcement) when a human is
// needed.
//
// Every step is recorded in the state database before and after it
// happens, so a pass that is interrupted anywhere is resumed by the next one
// and nothing is done twice: announcements are deduplicated by Message-ID,
// runs by (announcement, tree, candidate, queue), side effects by the
// actions ledger, and the rebased commits are reproducible because their
// committer time is the run's start time.
package pipeline

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/rtbot/rtbot/internal/config"
	"github.com/rtbot/rtbot/internal/mailout"
	"github.com/rtbot/rtbot/internal/mailwatch"
	"github.com/rtbot/rtbot/internal/netsec"
	"github.com/rtbot/rtbot/internal/remote"
	"github.com/rtbot/rtbot/internal/state"
	"github.com/rtbot/rtbot/internal/triage"
	"github.com/rtbot/rtbot/internal/trigger"
)

// Options tune a Pipeline. The zero value is what `rtbot run` uses.
type Options struct {
	// Log receives what the pipeline does; nil discards it.
	Log *slog.Logger
	// Progress, when not nil, receives fetch and push progress (a terminal).
	Progress io.Writer
	// IMAPTLS and SMTPTLS, when not nil, replace the system trust settings
	// for the servers, and the ca_file of [imap] and [smtp] (the demo's
	// self-signed servers, a test's).
	IMAPTLS, SMTPTLS *tls.Config
	// Fault, when not nil, is called at each named step of the pipeline
	// (see the Fault* constants); an error it returns stops the pass there,
	// as a crash would. Crash-safety tests use it.
	Fault func(point string) error
	// Retry says how a pass retries a run that failed for a reason that
	// may pass by itself (a network error, a 4xx SMTP reply); the zero
	// value means DefaultRetry.
	Retry Retry
	// Preflight makes Watch run the preflight (Gate) when it starts and
	// after every reconnection, as `rtbot watch` does (`rtbot run` calls
	// Gate itself).
	Preflight bool
	// PreflightGrace is how long a transient preflight problem lasts
	// before Gate mails the maintainers about it; zero means
	// TransientGrace.
	PreflightGrace time.Duration
	// Now, when not nil, is the clock that decides how long an
	// announcement waits for its candidate (see Patience) and when the
	// deadline of missing test results passes; tests move it.
	Now func() time.Time
	// Stuck, when not nil, is called if a pass is still running a while
	// after its deadline ([bot] pass_timeout), which means a step that
	// does not look at its context; the commands print the error and exit,
	// so that the lock is released. See deadline.go.
	Stuck func(error)
}

// Retry bounds the retries of a run within one pass: up to Attempts tries
// in all, waiting Min after the first failure and twice as long after each
// next one, at most Max. What still fails is recorded against the
// announcement and left for the next pass.
type Retry struct {
	Attempts int
	Min, Max time.Duration
}

// DefaultRetry is the Retry of `rtbot run` and `rtbot watch`: three tries,
// 10 s then 20 s apart.
var DefaultRetry = Retry{Attempts: 3, Min: 10 * time.Second, Max: time.Minute}

// The steps Options.Fault is called at, in the order a pass reaches them.
const (
	FaultRecorded        = "recorded"         // announcements of a scan recorded, checkpoint not yet saved
	FaultLearnt          = "learnt"           // resolutions learnt from a pushed partial branch (and a rerun recorded), its fixes ref not yet moved
	FaultCheckpoint      = "checkpoint"       // checkpoint saved
	FaultRetried         = "retried"          // an ignored or failed announcement whose cause changed set back for this pass
	FaultFetched         = "fetched"          // candidate fetched, checked, pinned and claimed; run not yet started
	FaultRebasing        = "rebasing"         // after each patch of the rebase, before anything is written
	FaultRebased         = "rebased"          // run started and rebased, results not yet saved
	FaultResults         = "results"          // patch results saved, branch not yet moved
	FaultBranch          = "branch"           // local branch moved, nothing pushed
	FaultPushed          = "pushed"           // pushed, push not yet recorded done
	FaultTriggered       = "triggered"        // a trigger fired, not yet recorded done
	FaultMailCommit      = "mail-commit"      // report transmitted, final "." not yet sent
	FaultMailSent        = "mail-sent"        // report accepted by the server, not yet recorded done
	FaultFinished        = "finished"         // run finished, announcement not yet done
	FaultWaiting         = "waiting"          // announcement recorded waiting for its candidate
	FaultFailed          = "failed"           // announcement recorded failed, its error report mailed
	FaultAnnounced       = "announced"        // announcement done, mail not yet flagged
	FaultMarkedFlags     = "marked"           // processed mail flagged or moved
	FaultResultsImported = "results-imported" // a dropped results file imported, not yet moved to done/
	FaultCommandResults  = "command-results"  // a command trigger's results saved, the firing not yet recorded done
	FaultPolledFinished  = "polled-finished"  // a polled CI's artifact completed kcidb triggers, the CI's results not yet saved
)

// Pipeline is the unattended job for one configuration and state file.
type Pipeline struct {
	cfg   *config.Config
	store *state.Store
	opts  Options
	log   *slog.Logger
}

// New returns the pipeline for cfg, recording in store.
func New(cfg *config.Config, store *state.Store, opts Options) *Pipeline {
	log := opts.Log
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if opts.Retry.Attempts <= 0 {
		opts.Retry = DefaultRetry
	}
	return &Pipeline{cfg: cfg, store: store, opts: opts, log: log}
}

// Stopped is the error of a pass that Options.Fault stopped. Nothing is
// recorded about the step it stopped at, as after a crash.
type Stopped struct {
	Point string
	Err   error
}

func (e *Stopped) Error() string { return fmt.Sprintf("stopped at %s: %v", e.Point, e.Err) }

// Unwrap returns the error Fault returned.
func (e *Stopped) Unwrap() error { return e.Err }

// stopping reports whether err ends the pass: the context is done, or
// Options.Fault stopped it.
func stopping(ctx context.Context, err error) bool {
	var stop *Stopped
	return ctx.Err() != nil || errors.As(err, &stop)
}

func (p *Pipeline) fault(point string) error {
	if p.opts.Fault == nil {
		return nil
	}
	if err := p.opts.Fault(point); err != nil {
		return &Stopped{Point: point, Err: err}
	}
	return nil
}

// Pass is what one pass did.
type Pass struct {
	// Scanned counts the messages the IMAP search matched and rtbot read.
	Scanned int `json:"scanned"`
	// New are the announcements recorded for the first time, including
	// ignored ones (with their reason).
	New []state.Announcement `json:"new"`
	// Runs are the runs this pass worked on, in order.
	Runs []RunReport `json:"runs"`
	// Pending counts announcements left for a later pass (a temporary
	// failure, said in the log and by `rtbot status`).
	Pending int `json:"pending"`
	// Learned lists the commits maintainers pushed onto partial branches
	// that the pass read, and what it learnt from each.
	Learned []Learned `json:"learned,omitempty"`
	// Retried are the announcements ignored or failed before that this
	// pass looked at again, their cause having changed (the configuration,
	// the queue).
	Retried []state.Announcement `json:"retried,omitempty"`
	// Waiting are the announcements this pass left waiting for their
	// candidate, Failed those it found failed for good (each with its
	// Reason), Ignored those it ignored while processing them (a repeat,
	// a configuration that no longer accepts them).
	Waiting []state.Announcement `json:"waiting,omitempty"`
	Failed  []state.Announcement `json:"failed,omitempty"`
	Ignored []state.Announcement `json:"ignored,omitempty"`
	// FollowUps are the runs whose test results this pass reported (or
	// tried to): see docs/results.md.
	FollowUps []FollowUp `json:"follow_ups,omitempty"`

	// fetched holds the candidate branch of each tree, by tree name, as
	// this pass fetched it: fetched once per pass, however many
	// announcements wait for it.
	fetched map[string]plumbing.Hash
}

// RunReport is what one run of a tree on a candidate did.
type RunReport struct {
	RunID        int64         `json:"run_id"`
	Announcement string        `json:"announcement"`
	Tree         string        `json:"tree"`
	Candidate    string        `json:"candidate"` // "6.1.177-rc1"
	Commit       string        `json:"commit"`    // candidate commit
	QueueID      string        `json:"queue_id"`  // identity of the queue's content and base
	Outcome      state.Outcome `json:"outcome"`
	Branch       string        `json:"branch,omitempty"`
	Pushed       string        `json:"pushed,omitempty"`
	// NotPushed says why a branch to be pushed was not (the maintainers
	// pushed onto the partial branch).
	NotPushed string `json:"not_pushed,omitempty"`
	// ProposedPushed is the proposed branch pushed next to the partial
	// one (docs/triage.md, "Proposed refreshes").
	ProposedPushed string `json:"proposed_pushed,omitempty"`
	Result         string `json:"result,omitempty"`
	// Mail is the Message-ID of the triage report, set only once the SMTP
	// server accepted it (250 to the final dot), in this pass or before.
	Mail string `json:"mail,omitempty"`
	// NotMailed says why a report that was due is not mailed, naming it,
	// and what becomes of it: the next pass sends it, or it waits for a
	// human (`rtbot status` says which).
	NotMailed string         `json:"not_mailed,omitempty"`
	Triggers  []string       `json:"triggers,omitempty"`
	Export    string         `json:"export,omitempty"` // where the refreshed queue was written
	Error     string         `json:"error,omitempty"`
	Resumed   bool           `json:"resumed,omitempty"`
	Report    *triage.Report `json:"-"`
}

// Once does one pass: it scans the mailbox from the saved checkpoint,
// records what it finds, processes every announcement not yet done, and
// flags processed mail if configured. Announcements a temporary failure
// held back stay pending for the next pass; the returned error says why.
// The pass ends by [bot] pass_timeout at the latest (see deadline.go).
func (p *Pipeline) Once(ctx context.Context) (*Pass, error) {
	ctx, end := p.passContext(ctx)
	pass, err := p.once(ctx)
	return pass, end(err)
}

// once is Once within the pass deadline.
func (p *Pipeline) once(ctx context.Context) (*Pass, error) {
	pass := &Pass{}
	if !p.readsIMAP() {
		return p.onceSource(ctx, pass)
	}
	icfg, err := p.imapConfig()
	if err != nil {
		return pass, err
	}
	sc, err := mailwatch.Dial(ctx, icfg)
	if err != nil {
		return pass, netsec.ExplainTLS(imapError(p.cfg, err), "imap.ca_file")
	}
	defer sc.Close()
	cp, err := p.store.Checkpoint(ctx, p.cfg.IMAP.Addr, icfg.Mailbox)
	if err != nil {
		return pass, err
	}
	uids := map[string][]uint32{}
	var uidValidity uint32
	for {
		scan, err := sc.Scan(ctx, mailwatch.Checkpoint{UIDValidity: cp.UIDValidity, LastUID: cp.LastUID})
		if err != nil {
			return pass, imapError(p.cfg, err)
		}
		if err := p.ingest(ctx, scan, pass, uids); err != nil {
			return pass, err
		}
		cp.UIDValidity, cp.LastUID = scan.Next.UIDValidity, scan.Next.LastUID
		uidValidity = scan.Next.UIDValidity
		if !scan.More {
			break
		}
	}
	perr := p.processPending(ctx, pass)
	if err := p.markProcessed(ctx, sc, uidValidity, uids); err != nil {
		var stop *Stopped
		if errors.As(err, &stop) {
			return pass, errors.Join(perr, err)
		}
		// The flag is a convenience for humans reading the mailbox; state
		// already says the mail was processed.
		p.log.Warn("flagging processed mail failed", "err", imapError(p.cfg, err))
	}
	return pass, perr
}

// ingest records the announcements of one scan and saves its checkpoint.
// uids collects the UIDs of each recorded Message-ID, for markProcessed.
func (p *Pipeline) ingest(ctx context.Context, scan mailwatch.ScanResult, pass *Pass, uids map[string][]uint32) error {
	pass.Scanned += len(scan.Candidates)
	for _, c := range scan.Candidates {
		if err := p.ingestOne(ctx, c, scan.Next.UIDValidity, pass, uids); err != nil {
			return err
		}
	}
	if err := p.fault(FaultRecorded); err != nil {
		return err
	}
	if err := p.store.SaveCheckpoint(ctx, state.Checkpoint{
		Server: p.cfg.IMAP.Addr, Mailbox: p.mailbox(), UIDValidity: scan.Next.UIDValidity, LastUID: scan.Next.LastUID,
	}); err != nil {
		return err
	}
	return p.fault(FaultCheckpoint)
}

// ingestOne records one message of a scan (its mailbox's UIDVALIDITY
// uidValidity, for IMAP) and adds it to pass; uids, when not nil, collects
// the UIDs of each recorded Message-ID.
func (p *Pipeline) ingestOne(ctx context.Context, c mailwatch.Candidate, uidValidity uint32, pass *Pass, uids map[string][]uint32) error {
	rec, dup, err := p.recordMail(ctx, c, uidValidity)
	if err != nil || rec.MessageID == "" {
		return err
	}
	if uids != nil {
		uids[rec.MessageID] = append(uids[rec.MessageID], c.UID)
	}
	if dup {
		return nil
	}
	pass.New = append(pass.New, rec)
	if rec.Status == state.AnnouncementIgnored {
		p.log.Info("ignored mail", "uid", c.UID, "key", c.Key, "message_id", rec.MessageID, "subject", rec.Subject, "reason", rec.Reason)
	} else {
		p.log.Info("announcement", "message_id", rec.MessageID, "version", candName(rec.Version, rec.RC), "from", rec.From)
	}
	return nil
}

// unparsedID is the Message-ID a mail without a usable one is recorded
// under: made from its position in the mailbox or source.
func (p *Pipeline) unparsedID(c mailwatch.Candidate, uidValidity uint32) string {
	if c.Key != "" {
		return fmt.Sprintf("unparsed.%s@%s.rtbot", mailwatch.KeyID(p.cfg.Source.Where()+"\x00"+c.Key), p.cfg.Source.Kind)
	}
	return fmt.Sprintf("unparsed.%d.%d@%s", uidValidity, c.UID, hostOnly(p.cfg.IMAP.Addr))
}

// recordMail classifies one message and records it: an announcement some
// tree accepts as new, anything else that looked like one as ignored with
// the reason. A message that cannot be parsed at all, or has no Message-ID
// a report could name (msgid.Check), is recorded under a Message-ID made
// from its mailbox position, so it is reported once and never retried.
func (p *Pipeline) recordMail(ctx context.Context, c mailwatch.Candidate, uidValidity uint32) (state.Announcement, bool, error) {
	a, err := p.recognize(ctx, c)
	var bad *malformedMail
	if err != nil && !errors.As(err, &bad) {
		return state.Announcement{}, false, err
	}
	if bad != nil || a.MessageID == "" {
		reason := "malformed mail: no Message-ID"
		switch {
		case bad != nil:
			reason = "malformed mail: " + bad.err.Error()
		case a.Kind == mailwatch.KindNone:
			reason = a.Reason // an unusable Message-ID, or not an announcement anyway
		}
		a = mailwatch.Announcement{
			Kind:      mailwatch.KindNone,
			MessageID: p.unparsedID(c, uidValidity),
			From:      a.From, Subject: a.Subject, Reason: reason,
		}
	}
	rec := state.Announcement{
		MessageID: a.MessageID, Kind: string(a.Kind), Series: a.Series, Version: a.Version, RC: a.RC,
		GitURL: a.GitURL, GitBranch: a.GitBranch, PatchURL: a.PatchURL, From: a.From, Subject: oneLine(a.Subject),
		Deadline: a.Deadline, Status: state.AnnouncementNew,
	}
	if _, why := p.accepting(rec); why != "" {
		rec.Status, rec.Reason = state.AnnouncementIgnored, why
		if a.Kind == mailwatch.KindStableRC {
			// The configuration decides: looked at again when it changes.
			rec.ConfigHash = p.configHash()
		}
	} else {
		// One candidate, one run: a second announcement of an rc rtbot
		// already acts on (a resend, or a forgery that passes the sender
		// check) would mail the maintainers the same report again. Only
		// an announcement that found its candidate counts (see
		// ClaimAnnouncement): one for an rc that does not exist yet
		// blocks nothing.
		first, found, err := p.store.ClaimingAnnouncement(ctx, rec.Kind, rec.Version, rec.RC)
		if err != nil {
			return state.Announcement{}, false, err
		}
		if found && first.MessageID != rec.MessageID {
			rec.Status, rec.Reason = state.AnnouncementIgnored, repeats(first)
		}
	}
	if a.Kind == mailwatch.KindNone && a.Reason != "" {
		rec.Reason = a.Reason
	}
	return p.store.RecordAnnouncement(ctx, rec)
}

// repeats is the reason an announcement of the candidate first acts on is
// ignored.
func repeats(first state.Announcement) string {
	return fmt.Sprintf("repeats the announcement <%s> of %s, which rtbot acts on", first.MessageID, candName(first.Version, first.RC))
}

// malformedMail is what recognize says of a mail it cannot read.
type malformedMail struct{ err error }

func (e *malformedMail) Error() string { return e.err.Error() }

// recognize classifies one message within the configured limits, knowing
// the announcements recorded before it: a stable-rc cover threaded under
// an earlier one rtbot acts on is an announcement too. A mail that cannot
// be read is a *malformedMail; any other error is the state's.
func (p *Pipeline) recognize(ctx context.Context, c mailwatch.Candidate) (mailwatch.Announcement, error) {
	lim := p.cfg.Limits
	var lookupErr error
	earlier := func(id string) (mailwatch.Announcement, bool) {
		e, err := p.store.Announcement(ctx, id)
		if err != nil {
			if !errors.Is(err, state.ErrNotFound) {
				lookupErr = err
			}
			return mailwatch.Announcement{}, false
		}
		if e.Status == state.AnnouncementIgnored {
			return mailwatch.Announcement{}, false
		}
		return mailwatch.Announcement{Kind: mailwatch.Kind(e.Kind), Series: e.Series, Version: e.Version, RC: e.RC}, true
	}
	a, err := mailwatch.RecognizeInThread(bytes.NewReader(c.Raw), mailLimits(lim), earlier)
	if err == nil && lim.MailBytes > 0 && c.Size > lim.MailBytes {
		// Only the start of the mail was downloaded; its size is the
		// server's word.
		err = fmt.Errorf("%w: %d bytes, over the limit of %d ([limits] mail_bytes)", mailwatch.ErrTooLarge, c.Size, lim.MailBytes)
	}
	switch {
	case lookupErr != nil:
		return a, lookupErr
	case err != nil:
		return a, &malformedMail{err}
	}
	return a, nil
}

// accepting returns the trees that act on announcement a, or why none does.
// Only stable-rc announcements from a tree's senders, naming the tree's
// candidate remote and branch, count, an operator's `rtbot run --onto` and
// `rtbot rerun`, and rtbot's own reruns after fixes (KindRerun).
func (p *Pipeline) accepting(a state.Announcement) ([]config.Tree, string) {
	if a.Kind == KindManual || a.Kind == KindRedo {
		// An operator's: every tree of the series, or the one named.
		var trees []config.Tree
		for _, t := range p.cfg.TreesFor(a.Series) {
			if a.Tree == "" || a.Tree == t.Name {
				trees = append(trees, t)
			}
		}
		switch {
		case len(trees) > 0:
			return trees, ""
		case a.Tree != "":
			return nil, fmt.Sprintf("no [[tree]] named %s follows series %s", a.Tree, a.Series)
		}
		return nil, fmt.Sprintf("no [[tree]] follows series %s", a.Series)
	}
	if a.Kind == KindRerun {
		// rtbot's own, after fixes pushed onto a partial branch: the
		// tree that pushed that branch there.
		for _, t := range p.cfg.TreesFor(a.Series) {
			// Recorded without credentials (and by earlier versions
			// with them).
			if b, err := t.Branch(a.Version, a.RC); err == nil && netsec.Redact(t.PushRemote) == netsec.Redact(a.GitURL) && b+"-partial" == a.GitBranch {
				return []config.Tree{t}, ""
			}
		}
		return nil, fmt.Sprintf("no [[tree]] pushes %s to %s any more", a.GitBranch, netsec.Redact(a.GitURL))
	}
	if a.Kind != string(mailwatch.KindStableRC) {
		return nil, fmt.Sprintf("a %s mail: rtbot acts on stable-rc review announcements only", a.Kind)
	}
	trees := p.cfg.TreesFor(a.Series)
	if len(trees) == 0 {
		return nil, fmt.Sprintf("no [[tree]] follows series %s", a.Series)
	}
	var ok []config.Tree
	var why []string
	for _, t := range trees {
		switch {
		case !t.AcceptsSender(a.From):
			why = append(why, fmt.Sprintf("tree %s: sender %q is not one of its senders", t.Name, a.From))
		case !t.MatchesCandidate(a.GitURL, a.GitBranch):
			why = append(why, fmt.Sprintf("tree %s: the mail names %q branch %q, not the configured candidate %s branch %s",
				t.Name, a.GitURL, a.GitBranch, netsec.Redact(t.CandidateURL), t.CandidateBranch))
		default:
			ok = append(ok, t)
		}
	}
	if len(ok) == 0 {
		return nil, strings.Join(why, "; ")
	}
	return ok, ""
}

// processPending learns from the fixes pushed onto partial branches,
// looks again at the announcements ignored or failed for a cause that has
// changed since, then processes every announcement that is new, was left
// processing or waits for its candidate: the new and interrupted ones
// oldest first, then the waiting ones newest first (of two announcements
// of one rc that both waited for it, the later one is the genuine cover
// more likely than one sent before the rc existed). It goes on past a
// failed one and returns the failures joined: those that leave an
// announcement for the next pass, and those that settled it for good but
// fail the pass (a run that failed and was reported, a report the server
// refused).
func (p *Pipeline) processPending(ctx context.Context, pass *Pass) error {
	var errs []error
	if err := p.learnFixes(ctx, pass); err != nil {
		if stopping(ctx, err) {
			return err
		}
		errs = append(errs, err) // and go on: fixes never hold announcements back
	}
	if err := p.reconsider(ctx, pass); err != nil {
		return err
	}
	anns, err := p.pending(ctx)
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	for _, a := range anns {
		settled, err := p.process(ctx, a, pass)
		if settled != nil {
			errs = append(errs, fmt.Errorf("announcement <%s> (%s): %w", a.MessageID, candName(a.Version, a.RC), settled))
		}
		if err != nil {
			if stopping(ctx, err) {
				return errors.Join(append(errs, err)...)
			}
			pass.Pending++
			p.log.Error("announcement left for the next pass", "message_id", a.MessageID,
				"version", candName(a.Version, a.RC), "attempts", a.Attempts+1, "err", err)
			if ferr := p.store.AnnouncementFailed(ctx, a.MessageID, err); ferr != nil {
				errs = append(errs, ferr)
			}
			errs = append(errs, fmt.Errorf("announcement <%s> (%s): %w", a.MessageID, candName(a.Version, a.RC), err))
		}
	}
	if err := p.collectResults(ctx, pass); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// pending lists the announcements a pass processes, in the order it
// processes them (see processPending).
func (p *Pipeline) pending(ctx context.Context) ([]state.Announcement, error) {
	anns, err := p.store.Announcements(ctx, state.AnnouncementFilter{
		Status: []state.AnnouncementStatus{state.AnnouncementNew, state.AnnouncementProcessing},
	})
	if err != nil {
		return nil, err
	}
	waiting, err := p.store.Announcements(ctx, state.AnnouncementFilter{Status: []state.AnnouncementStatus{state.AnnouncementWaiting}})
	if err != nil {
		return nil, err
	}
	slices.Reverse(waiting)
	return append(anns, waiting...), nil
}

// treeOutcomes collects what the runs of one announcement's trees came to.
type treeOutcomes struct {
	waits    []string     // why a tree waits for its candidate
	failures []*RunFailed // runs that failed for good
	settled  []error      // what fails the pass though the announcement is settled
	errs     []error      // what leaves the announcement for the next pass
	repeat   *repeatOf
}

// process runs every accepting tree on one announcement and records what
// it came to: done, waiting for its candidate, failed for good, or
// ignored (a repeat of another announcement of its candidate, or one the
// configuration no longer accepts). err leaves the announcement for the
// next pass; settled are the errors of a pass that settled it but must
// fail: a run that failed and was reported, a report the server refused
// for good (*ReportRefused).
func (p *Pipeline) process(ctx context.Context, a state.Announcement, pass *Pass) (settled, err error) {
	trees, why := p.accepting(a)
	if len(trees) == 0 {
		// The configuration changed since the mail was recorded.
		return nil, p.ignore(ctx, a, why, p.configHash(), pass)
	}
	var o treeOutcomes
	for _, t := range trees {
		runReport, err := p.runTreeRetrying(ctx, a, t, pass)
		if err != nil {
			err = fmt.Errorf("tree %s: %w", t.Name, err)
		}
		if runReport != nil && !errors.As(err, new(*candidateWaiting)) && !errors.As(err, new(*repeatOf)) {
			pass.Runs = append(pass.Runs, unfinished(*runReport, err))
		}
		if o.add(err) {
			break
		}
	}
	switch {
	case o.repeat != nil:
		return errors.Join(o.settled...), p.ignore(ctx, a, repeats(o.repeat.holder), "", pass)
	case len(o.errs) > 0:
		return errors.Join(o.settled...), errors.Join(o.errs...)
	case len(o.waits) > 0:
		return errors.Join(o.settled...), p.wait(ctx, a, strings.Join(o.waits, "; "), pass)
	case len(o.failures) > 0:
		return errors.Join(o.settled...), p.fail(ctx, a, o.failures, pass)
	}
	if err := p.store.SetAnnouncementStatus(ctx, a.MessageID, state.AnnouncementDone); err != nil {
		return errors.Join(o.settled...), err
	}
	return errors.Join(o.settled...), p.fault(FaultAnnounced)
}

// add sorts the error of one tree's run; stop says the announcement is a
// repeat and the other trees are not to be run.
func (o *treeOutcomes) add(err error) (stop bool) {
	var waiting *candidateWaiting
	var failed *RunFailed
	switch {
	case err == nil:
	case errors.As(err, &o.repeat):
		return true
	case errors.As(err, &waiting):
		o.waits = append(o.waits, err.Error())
	case errors.As(err, &failed):
		o.failures = append(o.failures, failed)
		if !failed.Before {
			o.settled = append(o.settled, err)
		}
	case errors.As(err, new(*ReportRefused)):
		o.settled = append(o.settled, err)
	default:
		o.errs = append(o.errs, err)
	}
	return false
}

// OutcomeUnfinished is the Outcome of a RunReport whose run this pass left
// for the next one (a temporary failure, a configuration error, an action
// waiting for a human): its Error, or NotMailed, says why. The state has
// no outcome for such a run; this one is only ever reported.
const OutcomeUnfinished state.Outcome = "unfinished"

// unfinished returns r with its outcome set when err left its run
// unfinished, so that every run a pass reports has one.
func unfinished(r RunReport, err error) RunReport {
	if err == nil || r.Outcome != "" {
		return r
	}
	r.Outcome = OutcomeUnfinished
	if r.NotMailed == "" {
		r.Error = err.Error()
	}
	return r
}

// runTreeRetrying runs a tree on an announcement, trying again as
// Options.Retry says when it fails for a reason that may pass, but not
// when a deadline ended it: a server that did not answer for the whole of
// its deadline is asked again by the next pass, not at once. Each try
// resumes the run where the last one stopped.
func (p *Pipeline) runTreeRetrying(ctx context.Context, a state.Announcement, t config.Tree, pass *Pass) (*RunReport, error) {
	delay := p.opts.Retry.Min
	for attempt := 1; ; attempt++ {
		runReport, err := p.runTree(ctx, a, t, pass)
		if err == nil || attempt >= p.opts.Retry.Attempts || !Temporary(err) || timedOut(err) {
			return runReport, err
		}
		p.log.Warn("temporary failure; retrying", "tree", t.Name, "candidate", candName(a.Version, a.RC),
			"attempt", attempt, "of", p.opts.Retry.Attempts, "in", delay, "err", err)
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			return runReport, err
		}
		delay = min(2*delay, max(p.opts.Retry.Max, p.opts.Retry.Min))
	}
}

// Temporary reports whether err is a failure that may pass by itself: a
// network error fetching or pushing, a temporary SMTP reply, a trigger's
// temporary failure. A simulated crash, an interrupted action or a report
// in doubt waiting for a human, a refused report, a run that failed for
// good, a candidate that is not there yet, a repeated announcement and a
// full disk are not: retrying at once does not help them.
func Temporary(err error) bool {
	var stop *Stopped
	if err == nil || errors.As(err, &stop) || errors.Is(err, state.ErrInterrupted) ||
		errors.As(err, new(*reportInDoubt)) || errors.As(err, new(*ReportRefused)) || errors.As(err, new(*RunFailed)) ||
		errors.As(err, new(*candidateWaiting)) || errors.As(err, new(*repeatOf)) {
		return false
	}
	return remote.IsTemporary(err) || mailout.IsTemporary(err) || trigger.IsTemporary(err)
}

// markProcessed flags (or moves) the mail of announcements that are done,
// ignored or failed (and reported), when the configuration asks for it.
func (p *Pipeline) markProcessed(ctx context.Context, sc *mailwatch.Scanner, uidValidity uint32, uids map[string][]uint32) error {
	if p.cfg.IMAP.MarkProcessed == "" && p.cfg.IMAP.MoveProcessed == "" {
		return nil
	}
	var done []uint32
	for id, us := range uids {
		a, err := p.store.Announcement(ctx, id)
		if err != nil {
			return err
		}
		switch a.Status {
		case state.AnnouncementDone, state.AnnouncementIgnored, state.AnnouncementFailed:
			done = append(done, us...)
		}
	}
	if len(done) == 0 {
		return nil
	}
	if err := sc.MarkProcessed(ctx, uidValidity, done); err != nil {
		return err
	}
	return p.fault(FaultMarkedFlags)
}

func (p *Pipeline) mailbox() string {
	if p.cfg.IMAP.Mailbox == "" {
		return mailwatch.DefaultMailbox
	}
	return p.cfg.IMAP.Mailbox
}

// Watch stays connected to the mailbox (IMAP IDLE, or polling every
// [imap] poll) and processes announcements as they arrive, until ctx ends.
// Connection failures, a server that stopped answering included, are
// retried with backoff on a new connection; a failed announcement is
// retried at the next wake-up. Each wake-up is a pass, within [bot]
// pass_timeout; one that runs out of it is retried on a new connection.
// With Options.Preflight the preflight runs first and after every
// reconnection (watchGated).
func (p *Pipeline) Watch(ctx context.Context) error {
	if !p.readsIMAP() {
		return p.watchSource(ctx)
	}
	if p.opts.Preflight {
		return p.watchGated(ctx)
	}
	return p.watchMail(ctx, nil)
}

// watchMail is Watch without a preflight. connected, when not nil, is
// called before each scan is handled, with the connection it came on; an
// error it returns ends watchMail.
func (p *Pipeline) watchMail(ctx context.Context, connected func(context.Context, *mailwatch.Scanner) error) error {
	icfg, err := p.imapConfig()
	if err != nil {
		return err
	}
	cp, err := p.store.Checkpoint(ctx, p.cfg.IMAP.Addr, icfg.Mailbox)
	if err != nil {
		return err
	}
	poll := p.cfg.IMAP.Poll.Duration
	if poll <= 0 {
		poll = mailwatch.DefaultPoll
	}
	opts := mailwatch.WatchOptions{
		Poll:    poll,
		Backoff: watchBackoff(),
		Report: func(attempt int, err error, next time.Duration) {
			p.log.Warn("reconnecting to the IMAP server after a failure", "attempt", attempt+1, "err", netsec.ExplainTLS(imapError(p.cfg, err), "imap.ca_file"), "next", next)
		},
	}
	return mailwatch.Watch(ctx, icfg, opts, mailwatch.Checkpoint{UIDValidity: cp.UIDValidity, LastUID: cp.LastUID},
		func(ctx context.Context, sc *mailwatch.Scanner, scan mailwatch.ScanResult) error {
			if connected != nil {
				if err := connected(ctx, sc); err != nil {
					return err
				}
			}
			ctx, end := p.passContext(ctx)
			return end(p.wakeUp(ctx, sc, scan))
		})
}

// wakeUp is one pass of Watch: it records what the scan found, processes
// what is pending and flags processed mail. Only a failure to record, and
// the end of ctx, are errors; the rest is logged and left for the next
// wake-up.
func (p *Pipeline) wakeUp(ctx context.Context, sc *mailwatch.Scanner, scan mailwatch.ScanResult) error {
	p.log.Debug("wake-up", "mails", len(scan.Candidates), "uid_validity", scan.Next.UIDValidity, "last_uid", scan.Next.LastUID, "rescanned", scan.Rescanned)
	pass := &Pass{}
	uids := map[string][]uint32{}
	if err := p.ingest(ctx, scan, pass, uids); err != nil {
		return err
	}
	if err := p.processPending(ctx, pass); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("%w (%w)", ctx.Err(), err)
		}
		p.log.Warn("some announcements wait for the next wake-up", "err", err)
	}
	for _, r := range pass.Runs {
		p.log.Info("run", "tree", r.Tree, "candidate", r.Candidate, "outcome", r.Outcome, "branch", r.Branch, "mail", r.Mail)
	}
	if err := p.markProcessed(ctx, sc, scan.Next.UIDValidity, uids); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		p.log.Warn("flagging processed mail failed", "err", imapError(p.cfg, err))
	}
	return nil
}

// oneLine replaces control characters (a hostile subject's CR/LF) by spaces.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

// hostOnly returns the host of a host:port address.
func hostOnly(addr string) string {
	if host, _, err := net.SplitHostPort(addr); err == nil {
		return host
	}
	return addr
}
