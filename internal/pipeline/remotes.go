package pipeline

import (
	"context"
	"fmt"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/rtbot/rtbot/internal/config"
	"github.com/rtbot/rtbot/internal/netsec"
	"github.com/rtbot/rtbot/internal/remote"
)

// A tree's two remotes, reached with the credentials of [tree.push_auth]
// and [tree.candidate_auth]. Package remote names a remote without its
// credentials in every error; these add, when a server's certificate
// comes from an authority this machine does not trust, the ca_file to set;
// each runs within its [git] deadline (deadline.go).

// fetchCandidate fetches the tree's candidate branch into ref.
func (p *Pipeline) fetchCandidate(ctx context.Context, t config.Tree, ref string) (plumbing.Hash, error) {
	ep, err := candidateEndpoint(t)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	ctx, done := p.gitTimeout(ctx)
	h, err := remote.Fetch(ctx, t.Repo, ep, t.CandidateBranch, ref, p.opts.Progress)
	return h, netsec.ExplainTLS(done(err), caKey(t, "candidate_auth"))
}

// fetchPushed fetches branch from the tree's push remote into ref.
func (p *Pipeline) fetchPushed(ctx context.Context, t config.Tree, branch, ref string) (plumbing.Hash, error) {
	ep, err := pushEndpoint(t)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	ctx, done := p.gitTimeout(ctx)
	h, err := remote.Fetch(ctx, t.Repo, ep, branch, ref, p.opts.Progress)
	return h, netsec.ExplainTLS(done(err), caKey(t, "push_auth"))
}

// pushedHead is where branch is on the tree's push remote (zero: absent).
func (p *Pipeline) pushedHead(ctx context.Context, t config.Tree, branch string) (plumbing.Hash, error) {
	ep, err := pushEndpoint(t)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	ctx, done := p.gitListTimeout(ctx)
	h, err := remote.RemoteHead(ctx, t.Repo, ep, branch)
	return h, netsec.ExplainTLS(done(err), caKey(t, "push_auth"))
}

// pushBranch pushes head to branch on the tree's push remote, with lease
// (see remote.Push).
func (p *Pipeline) pushBranch(ctx context.Context, t config.Tree, branch string, head, lease plumbing.Hash) error {
	ep, err := pushEndpoint(t)
	if err != nil {
		return err
	}
	ctx, done := p.gitTimeout(ctx)
	err = remote.Push(ctx, t.Repo, ep, branch, head, lease, p.opts.Progress)
	return netsec.ExplainTLS(done(err), caKey(t, "push_auth"))
}

// caKey names the ca_file of one of tree t's auth tables, for messages.
func caKey(t config.Tree, table string) string {
	return fmt.Sprintf("ca_file in [tree.%s] of tree %s", table, t.Name)
}
