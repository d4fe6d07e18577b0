package pipeline

import (
	"context"
	"crypto/tls"
	"fmt"

	"github.com/rtbot/rtbot/internal/candidate"
	"github.com/rtbot/rtbot/internal/config"
	"github.com/rtbot/rtbot/internal/mailout"
	"github.com/rtbot/rtbot/internal/mailwatch"
	"github.com/rtbot/rtbot/internal/netsec"
	"github.com/rtbot/rtbot/internal/patchqueue"
	"github.com/rtbot/rtbot/internal/refname"
	"github.com/rtbot/rtbot/internal/remote"
	"github.com/rtbot/rtbot/internal/results"
	"github.com/rtbot/rtbot/internal/trigger"
)

// This file is where the configuration meets the packages it configures.
// config imports none of them (it is a leaf): ConfigRules hands it their
// checks and defaults for loading, and the functions below turn the loaded
// configuration into each package's own options, one function per package.
// A zero value in an option means the owning package's default.

// ConfigRules are the checks and defaults config applies when it loads a
// file, each from the package that owns it: branch and revision names from
// refname, queue ranges and limits from patchqueue, the rc patch location
// from candidate, the IMAP flag, mailbox, poll and mail limits from
// mailwatch, the loopback rule and the redaction of credentials in URLs
// from netsec, trigger timeouts and the KCIDB origin from trigger, the SMTP
// timeout from mailout, the IMAP command deadline from mailwatch, the git
// deadlines from remote and the pass deadline from this package.
func ConfigRules() config.Rules {
	mail, queue := mailwatch.DefaultLimits(), patchqueue.DefaultLimits()
	return config.Rules{
		Branch:   refname.Branch,
		Revision: refname.Revision,
		Range: func(q string) (string, bool) {
			r, ok := patchqueue.ParseRange(q)
			return r.Base, ok
		},
		// Any valid version and rc will do: the template is what is checked.
		RCPatch: func(tmpl string) error {
			_, err := candidate.PatchSource(tmpl, "6.1.1", 1)
			return err
		},
		Flag:     mailwatch.ValidFlag,
		Loopback: netsec.LoopbackHost,
		Redact:   netsec.Redact,
		Defaults: config.Defaults{
			Mailbox:        mailwatch.DefaultMailbox,
			Poll:           mailwatch.DefaultPoll,
			CommandTimeout: trigger.DefaultCommandTimeout,
			HTTPTimeout:    trigger.DefaultHTTPTimeout,
			KCIDBOrigin:    trigger.DefaultKCIDBOrigin,
			SMTPTimeout:    mailout.DefaultTimeout,
			IMAPTimeout:    mailwatch.DefaultTimeout,
			GitTimeout:     remote.DefaultTimeout,
			GitListTimeout: remote.DefaultListTimeout,
			PassTimeout:    DefaultPassTimeout,

			ResultsDeadline:         results.DefaultDeadline,
			LatencyTolerancePercent: results.DefaultTolerancePercent,
			LatencyToleranceUS:      results.DefaultToleranceUS,
			Limits: config.LimitsConfig{
				MailBytes: mail.MaxBytes, MailHeaderBytes: mail.MaxHeaderBytes, MailTextBytes: mail.MaxTextBytes,
				MIMEParts: mail.MaxParts, MIMEDepth: mail.MaxDepth,
				QueuePatches: queue.MaxPatches, QueueBytes: queue.MaxTotalSize,
				PatchBytes: queue.MaxPatchBytes, HunkLines: queue.MaxHunkLines,
			},
		},
	}
}

// tlsMode is the netsec form of the tls key of [imap] and [smtp]. config
// has the same words; one it did not know (it refuses them) is passed on
// for mailwatch and mailout to refuse.
func tlsMode(s string) netsec.Mode {
	switch s {
	case config.TLSImplicit:
		return netsec.TLS
	case config.TLSStartTLS:
		return netsec.StartTLS
	case config.TLSPlain:
		return netsec.Plain
	}
	return netsec.Mode(s)
}

// imapConfig is the mailwatch configuration of [imap]. The fetch bounds
// are the recognition limits: a header or text cut shorter than
// Recognize reads would be a mail it never sees whole, and a section
// larger than the largest mail recognised is refused unread.
func (p *Pipeline) imapConfig() (mailwatch.IMAPConfig, error) {
	var pw string
	var token func(context.Context) (string, error)
	if p.cfg.IMAP.Auth == config.AuthOAuth2 {
		token = p.cfg.IMAP.Token
	} else {
		var err error
		if pw, err = p.cfg.IMAP.Password(); err != nil {
			return mailwatch.IMAPConfig{}, fmt.Errorf("imap: %w", err)
		}
	}
	tc, err := serverTLS(p.opts.IMAPTLS, p.cfg.IMAP.Server, "imap")
	if err != nil {
		return mailwatch.IMAPConfig{}, err
	}
	return mailwatch.IMAPConfig{
		MaxHeaderBytes: p.cfg.Limits.MailHeaderBytes, MaxTextBytes: p.cfg.Limits.MailTextBytes,
		MaxLiteralBytes: p.cfg.Limits.MailBytes, Timeout: p.cfg.IMAP.Timeout.Duration,
		Addr: p.cfg.IMAP.Addr, TLS: tlsMode(p.cfg.IMAP.TLS), TLSConfig: tc,
		Username: p.cfg.IMAP.Username, Password: pw, Token: token, Mailbox: p.mailbox(),
		ProcessedFlag: p.cfg.IMAP.MarkProcessed, ProcessedMailbox: p.cfg.IMAP.MoveProcessed,
	}, nil
}

// mailLimits are the [limits] mail keys as mailwatch's recognition limits.
func mailLimits(l config.LimitsConfig) mailwatch.Limits {
	return mailwatch.Limits{
		MaxBytes: l.MailBytes, MaxHeaderBytes: l.MailHeaderBytes, MaxTextBytes: l.MailTextBytes,
		MaxParts: l.MIMEParts, MaxDepth: l.MIMEDepth,
	}
}

// queueLimits are the [limits] queue keys as patchqueue's.
func queueLimits(l config.LimitsConfig) patchqueue.Limits {
	return patchqueue.Limits{MaxPatches: l.QueuePatches, MaxTotalSize: l.QueueBytes, MaxPatchBytes: l.PatchBytes, MaxHunkLines: l.HunkLines}
}

// smtpServer is the mailout form of [smtp].
func (p *Pipeline) smtpServer() (mailout.Server, error) {
	tc, err := serverTLS(p.opts.SMTPTLS, p.cfg.SMTP.Server, "smtp")
	if err != nil {
		return mailout.Server{}, err
	}
	s := mailout.Server{Addr: p.cfg.SMTP.Addr, TLS: tlsMode(p.cfg.SMTP.TLS), Username: p.cfg.SMTP.Username, TLSConfig: tc,
		Timeout: p.cfg.SMTP.Timeout.Duration}
	if s.Username != "" && p.cfg.SMTP.Auth == config.AuthOAuth2 {
		s.Token = p.cfg.SMTP.Token
	} else if s.Username != "" {
		pw, err := p.cfg.SMTP.Password()
		if err != nil {
			return s, fmt.Errorf("smtp: %w", err)
		}
		s.Password = pw
	}
	return s, nil
}

// triggerSpec is the trigger form of a [[trigger]] table.
func triggerSpec(t config.Trigger) trigger.Spec {
	return trigger.Spec{
		Name: t.Name, Type: triggerType(t.Type), Timeout: t.Timeout.Duration,
		Argv: t.Argv, URL: t.URL, Method: t.Method, Headers: t.Headers, SecretEnv: t.SecretEnv,
		Dir: t.Dir, Origin: t.Origin, Poll: t.Poll, PollSecretEnv: t.PollSecretEnv,
		ResultsArtifact: t.ResultsArtifact,
	}
}

// triggerType maps a [[trigger]] type to trigger's; an unknown one is
// passed on for Fire to refuse.
func triggerType(t string) string {
	switch t {
	case config.TriggerCommand:
		return trigger.TypeCommand
	case config.TriggerWebhook:
		return trigger.TypeWebhook
	case config.TriggerKCIDB:
		return trigger.TypeKCIDB
	}
	return t
}

// pushEndpoint is the remote form of the tree's push remote, with the
// credentials of [tree.push_auth] read now (a token or key replaced since
// the last pass is the one used).
func pushEndpoint(t config.Tree) (remote.Endpoint, error) {
	return endpoint(t.PushRemote, t.PushAuth, "tree "+t.Name+" push_auth")
}

// candidateEndpoint is the remote form of the tree's candidate remote,
// with the credentials of [tree.candidate_auth].
func candidateEndpoint(t config.Tree) (remote.Endpoint, error) {
	return endpoint(t.CandidateURL, t.CandidateAuth, "tree "+t.Name+" candidate_auth")
}

// endpoint is url with the credentials and CA of a, whose table names it
// in errors.
func endpoint(url string, a config.RemoteAuth, table string) (remote.Endpoint, error) {
	ep := remote.Endpoint{URL: url, KnownHosts: a.KnownHosts}
	var err error
	if ep.Token, err = a.Token(); err != nil {
		return ep, fmt.Errorf("%s: %w", table, err)
	}
	if ep.SSHKey, err = a.SSHPrivateKey(); err != nil {
		return ep, fmt.Errorf("%s: %w", table, err)
	}
	if a.CAFile != "" {
		ca, err := netsec.LoadCA(a.CAFile)
		if err != nil {
			return ep, fmt.Errorf("%s: %w", table, err)
		}
		ep.CA = ca.PEM
	}
	return ep, nil
}

// serverTLS is the TLS configuration an IMAP or SMTP client starts from:
// override (Options.IMAPTLS or SMTPTLS: the demo's, a test's) when set,
// else one trusting the server's ca_file besides the system's roots, else
// nil (the system's roots). table names the server in errors.
func serverTLS(override *tls.Config, s config.Server, table string) (*tls.Config, error) {
	if override != nil || s.CAFile == "" {
		return override, nil
	}
	ca, err := netsec.LoadCA(s.CAFile)
	if err != nil {
		return nil, fmt.Errorf("%s.ca_file: %w", table, err)
	}
	return ca.TLSConfig(), nil
}
