package pipeline

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/rtbot/rtbot/internal/config"
	"github.com/rtbot/rtbot/internal/mailwatch"
	"github.com/rtbot/rtbot/internal/report"
	"github.com/rtbot/rtbot/internal/state"
)

// The mail sources that are not an IMAP mailbox ([source] kind "maildir"
// or "public-inbox"; docs/operations.md, "Mail sources"): a pass reads
// what is new since the source's checkpoint (state.SourceCheckpoint),
// records it like IMAP mail (same recognition, sender and tree checks,
// de-duplication by Message-ID), saves the checkpoint, and processes
// what is pending. Nothing is flagged or moved in such a source.

// readsIMAP reports whether the pipeline reads the [imap] mailbox.
func (p *Pipeline) readsIMAP() bool {
	return p.cfg.Source.Kind == "" || p.cfg.Source.Kind == config.SourceIMAP
}

// onceSource is once for a Maildir or public-inbox source.
func (p *Pipeline) onceSource(ctx context.Context, pass *Pass) (*Pass, error) {
	if err := p.readSource(ctx, pass); err != nil {
		return pass, err
	}
	return pass, p.processPending(ctx, pass)
}

// readSource reads the source from its checkpoint, records what it
// found and saves the new checkpoint.
func (p *Pipeline) readSource(ctx context.Context, pass *Pass) error {
	src := p.cfg.Source
	cp, err := p.store.SourceCheckpoint(ctx, src.Kind, src.Where())
	if err != nil {
		return err
	}
	start := time.Now()
	scan, err := p.scanSource(ctx, cp.Position)
	if err != nil {
		return err
	}
	p.log.Debug("read the source", "source", src.String(), "messages", scan.Read, "candidates", len(scan.Candidates),
		"bytes", scan.Bytes, "seconds", time.Since(start).Seconds())
	if scan.Note != "" {
		p.log.Info(scan.Note, "source", src.String())
	}
	if scan.Rewritten {
		p.log.Warn("the archive's history was rewritten (a purge): reading on after the rewritten checkpoint", "source", src.String())
	}
	pass.Scanned += len(scan.Candidates)
	for _, c := range scan.Candidates {
		if err := p.ingestOne(ctx, c, 0, pass, nil); err != nil {
			return err
		}
	}
	if err := p.fault(FaultRecorded); err != nil {
		return err
	}
	if err := p.store.SaveSourceCheckpoint(ctx, state.SourceCheckpoint{Kind: src.Kind, Source: src.Where(), Position: scan.Next}); err != nil {
		return err
	}
	return p.fault(FaultCheckpoint)
}

// scanSource reads the configured source from position.
func (p *Pipeline) scanSource(ctx context.Context, position []byte) (mailwatch.SourceScan, error) {
	src := p.cfg.Source
	filter := mailwatch.SourceFilter{Subjects: mailwatch.DefaultSubjectFilters()}
	readBytes := p.cfg.Limits.MailHeaderBytes + p.cfg.Limits.MailTextBytes
	if src.Kind == config.SourceMaildir {
		return mailwatch.ScanMaildir(ctx, mailwatch.MaildirConfig{Path: src.Path, Filter: filter, SeenLimit: src.SeenLimit, ReadBytes: readBytes}, position)
	}
	icfg, err := p.inboxConfig()
	if err != nil {
		return mailwatch.SourceScan{}, err
	}
	icfg.Filter, icfg.ReadBytes = filter, readBytes
	return mailwatch.ScanPublicInbox(ctx, icfg, position)
}

// inboxConfig is the mailwatch configuration of a public-inbox [source].
// A remote inbox's mirror lives in the work directory.
func (p *Pipeline) inboxConfig() (mailwatch.PublicInboxConfig, error) {
	src := p.cfg.Source
	cfg := mailwatch.PublicInboxConfig{URL: src.Where(), Since: src.SinceTime(), Timeout: src.Timeout.Duration,
		Mirror: filepath.Join(p.cfg.Bot.Workdir, "public-inbox", mailwatch.KeyID(src.Where()))}
	if src.CAFile != "" {
		pem, err := os.ReadFile(src.CAFile)
		if err != nil {
			return cfg, fmt.Errorf("source.ca_file: %w", err)
		}
		cfg.CABundle = pem
	}
	return cfg, nil
}

// watchSource is Watch for a Maildir or public-inbox source: a pass every
// [source] poll, each within [bot] pass_timeout, after the preflight when
// Options.Preflight. A failed pass is logged and the next one tries
// again; only the end of ctx, and a preflight problem that does not pass
// by itself, end it.
func (p *Pipeline) watchSource(ctx context.Context) error {
	if p.opts.Preflight {
		if err := p.awaitPreflight(ctx, watchBackoff(), nil); err != nil {
			return err
		}
	}
	for {
		pctx, end := p.passContext(ctx)
		pass, err := p.onceSource(pctx, &Pass{})
		err = end(err)
		for _, r := range pass.Runs {
			p.log.Info("run", "tree", r.Tree, "candidate", r.Candidate, "outcome", r.Outcome, "branch", r.Branch, "mail", r.Mail)
		}
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			var stop *Stopped
			if errors.As(err, &stop) {
				return err
			}
			p.log.Warn("the pass failed; trying again at the next poll", "source", p.cfg.Source.String(), "err", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(p.cfg.Source.Poll.Duration):
		}
	}
}

// checkMailSource is the preflight step of the mail source: checkIMAP, or
// checkSource for a Maildir or public-inbox.
func (p *Pipeline) checkMailSource(ctx context.Context) Step {
	if p.readsIMAP() {
		return p.checkIMAP(ctx)
	}
	return p.checkSource(ctx)
}

// checkSource checks that the Maildir or public-inbox can be read,
// reading no message.
func (p *Pipeline) checkSource(ctx context.Context) Step {
	const name = "source"
	src := p.cfg.Source
	ctx, cancel := context.WithTimeout(ctx, StepTimeout)
	defer cancel()
	if src.Kind == config.SourceMaildir {
		n, err := mailwatch.ProbeMaildir(src.Path)
		if err != nil {
			return failed(name, Problem{Key: "source.path", What: err.Error(), Fix: "give the Maildir rtbot may read (its new/ and cur/), such as lei q -o's"})
		}
		return Step{Name: name, Found: fmt.Sprintf("Maildir %s readable; %s", src.Path, report.Plural(n, "message", "messages"))}
	}
	icfg, err := p.inboxConfig()
	if err != nil {
		return failed(name, Problem{Key: "source.ca_file", What: err.Error(), Fix: "give a readable PEM file of the CA's certificates"})
	}
	epoch, err := mailwatch.ProbePublicInbox(ctx, icfg)
	if err != nil {
		key, fix := "source.url", "check the inbox's URL (rtbot tries again at the next pass)"
		if src.Path != "" {
			key, fix = "source.path", "give a public-inbox v2 inbox directory (the one holding git/0.git)"
		}
		return failed(name, Problem{Key: key, What: err.Error(), Fix: fix, Transient: src.URL != ""})
	}
	how := "answers"
	if src.Path != "" {
		how = "opens"
	}
	return Step{Name: name, Found: fmt.Sprintf("public-inbox %s %s; newest epoch %d; no message read", src.Where(), how, epoch)}
}
