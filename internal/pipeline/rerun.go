package pipeline

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	"github.com/rtbot/rtbot/internal/state"
)

// KindRedo is the kind of the announcement `rtbot rerun` records to redo,
// on purpose, a run (or every run of an announcement) that ended cleanly
// or needing a human: the same candidate, for the run's tree (Tree), run
// afresh as a new run with its own report, threaded under the original
// announcement (Thread).
const KindRedo = "redo"

// Rerun does, on purpose, what `rtbot rerun RUN|ANNOUNCEMENT` asks, then
// processes the pending announcements as a pass does (without reading the
// mailbox) and returns the pass. target is a run id, or an announcement's
// Message-ID (with or without angle brackets):
//
//   - a run that ended in error, or an announcement that failed: tried
//     again, its error runs on the current queue reopened (a changed queue
//     makes new runs);
//   - an ignored announcement: looked at again as if just arrived (still
//     ignored, it is an error saying why);
//   - a run that ended cleanly or needing a human, or an announcement
//     that is done: done again as new runs on the same candidate (for the
//     run's tree, or every tree), with their own branch pushes, tests and
//     reports (a KindRedo announcement);
//   - anything not finished: processed by this pass as any pass would.
func (p *Pipeline) Rerun(ctx context.Context, target string) (*Pass, error) {
	pass := &Pass{}
	var err error
	if id, perr := strconv.ParseInt(target, 10, 64); perr == nil {
		err = p.rerunRun(ctx, id, pass)
	} else {
		err = p.rerunAnnouncement(ctx, strings.TrimSuffix(strings.TrimPrefix(target, "<"), ">"), pass)
	}
	if err != nil {
		return pass, err
	}
	return pass, p.processPending(ctx, pass)
}

// rerunRun reruns run id (see Rerun).
func (p *Pipeline) rerunRun(ctx context.Context, id int64, pass *Pass) error {
	d, err := p.store.Run(ctx, id)
	if err != nil {
		return err
	}
	a, err := p.store.Announcement(ctx, d.Announcement)
	if err != nil {
		return err
	}
	switch {
	case !d.Finished():
		p.log.Info("the run is unfinished: this pass resumes it", "run", id)
		return nil
	case d.Outcome == state.OutcomeError:
		return p.retryOnPurpose(ctx, a, pass)
	}
	return p.redo(ctx, a, d.Tree, pass)
}

// rerunAnnouncement reruns the announcement recorded under id (see Rerun).
func (p *Pipeline) rerunAnnouncement(ctx context.Context, id string, pass *Pass) error {
	a, err := p.store.Announcement(ctx, id)
	if err != nil {
		return err
	}
	switch a.Status {
	case state.AnnouncementIgnored, state.AnnouncementFailed:
		return p.retryOnPurpose(ctx, a, pass)
	case state.AnnouncementDone:
		return p.redo(ctx, a, "", pass)
	}
	p.log.Info("the announcement is not finished: this pass processes it", "message_id", id, "status", a.Status)
	return nil
}

// retryOnPurpose sets announcement a, failed, ignored or with a run that
// ended in error, back to processing, its error runs to be redone. An
// announcement no tree accepts stays ignored, and the error says why.
func (p *Pipeline) retryOnPurpose(ctx context.Context, a state.Announcement, pass *Pass) error {
	if trees, why := p.accepting(a); len(trees) == 0 {
		return fmt.Errorf("announcement <%s> stays ignored: %s", a.MessageID, why)
	}
	return p.retry(ctx, a, true, pass)
}

// redo records a KindRedo announcement of a's candidate, for tree (""
// for every tree that accepts a), threaded like a's reports.
func (p *Pipeline) redo(ctx context.Context, a state.Announcement, tree string, pass *Pass) error {
	sum := sha256.Sum256([]byte(a.MessageID))
	id, err := p.freshID(ctx, p.messageID(fmt.Sprintf("redo.%s.%s", candName(a.Version, a.RC), hex.EncodeToString(sum[:6]))))
	if err != nil {
		return err
	}
	what := "every tree"
	if tree != "" {
		what = "tree " + tree
	}
	rec, _, err := p.store.RecordAnnouncement(ctx, state.Announcement{
		MessageID: id, Kind: KindRedo, Series: a.Series, Version: a.Version, RC: a.RC, From: "rtbot rerun",
		Subject: fmt.Sprintf("rtbot rerun of <%s> (%s, %s)", a.MessageID, candName(a.Version, a.RC), what),
		Tree:    tree, Thread: reportThread(a), Status: state.AnnouncementNew,
	})
	if err != nil {
		return err
	}
	p.log.Info("running the candidate again on purpose", "announcement", a.MessageID, "as", rec.MessageID, "trees", what)
	pass.New = append(pass.New, rec)
	return p.fault(FaultRetried)
}
