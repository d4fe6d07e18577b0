package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp/capability"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp/sideband"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/plumbing/transport/client"
)

// maxHaves is how many of the local repository's newest ref tips a fetch
// offers the server as objects it has. They are tips only, not their
// history: the candidate is a few commits on top of a release the local
// repository has, so one of its newest tags or rtbot's last fetch is
// common, and no walk over the local history (go-git's getHaves decodes
// every pack index for it) is needed to find it. Were none of them known
// to the server, it would send the branch's whole history, as to a clone.
const maxHaves = 256

// errNoRef is fetchPack's error when the remote does not have the ref.
var errNoRef = errors.New("no such ref")

// client returns the go-git transport endpoint and client of s's remote.
func (s *session) client() (*transport.Endpoint, transport.Transport, error) {
	ep, err := transport.NewEndpoint(s.remote.Config().URLs[0])
	if err != nil {
		return nil, nil, err
	}
	ep.CaBundle = s.ca
	cl, err := client.NewClient(ep)
	if err != nil {
		return nil, nil, err
	}
	return ep, cl, nil
}

// fetchPack asks the remote for what the ref name points at and, unless
// the local repository has it already, has git index-pack write the
// received pack (thin against the local objects) into the repository. It
// returns what name points at on the remote; it moves no local ref.
func (s *session) fetchPack(ctx context.Context, g localGit, name plumbing.ReferenceName, progress io.Writer) (plumbing.Hash, error) {
	ep, cl, err := s.client()
	if err != nil {
		return plumbing.ZeroHash, err
	}
	sess, err := cl.NewUploadPackSession(ep, s.auth)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	defer sess.Close()
	adv, err := sess.AdvertisedReferencesContext(ctx)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	want, ok := adv.References[name.String()]
	if !ok {
		return plumbing.ZeroHash, errNoRef
	}
	if t, err := g.objectType(ctx, want); err != nil || t != "" {
		return want, err // already here (a rerun), or git failed
	}
	haves, err := g.tips(ctx)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	req := packp.NewUploadPackRequestFromCapabilities(adv.Capabilities)
	req.Wants, req.Haves = []plumbing.Hash{want}, haves
	if progress == nil && adv.Capabilities.Supports(capability.NoProgress) {
		_ = req.Capabilities.Set(capability.NoProgress)
	}
	resp, err := sess.UploadPack(ctx, req)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	defer resp.Close()
	if err := g.indexPack(ctx, demux(req.Capabilities, resp, progress)); err != nil {
		return plumbing.ZeroHash, err
	}
	return want, nil
}

// demux separates the pack from the progress messages on a side-band
// connection.
func demux(caps *capability.List, r io.Reader, progress io.Writer) io.Reader {
	var d *sideband.Demuxer
	switch {
	case caps.Supports(capability.Sideband64k):
		d = sideband.NewDemuxer(sideband.Sideband64k, r)
	case caps.Supports(capability.Sideband):
		d = sideband.NewDemuxer(sideband.Sideband, r)
	default:
		return r
	}
	d.Progress = progress
	return d
}

// tips returns the commits (or other objects) the local repository's
// newest refs point at, peeled, at most maxHaves.
func (g localGit) tips(ctx context.Context) ([]plumbing.Hash, error) {
	out, err := g.run(ctx, nil, "for-each-ref", "--sort=-creatordate", fmt.Sprintf("--count=%d", maxHaves),
		"--format=%(if)%(*objectname)%(then)%(*objectname)%(else)%(objectname)%(end)")
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var hs []plumbing.Hash
	for _, line := range strings.Fields(string(out)) {
		if len(line) == 40 && !seen[line] {
			seen[line] = true
			hs = append(hs, plumbing.NewHash(line))
		}
	}
	return hs, nil
}

// indexPack writes the pack read from r into the repository: git
// index-pack checks every object, completes a thin pack with the bases it
// refers to, and writes the pack and its index.
// When reading the pack from the remote failed (a connection reset, a
// deadline), that error is returned rather than git's "early EOF", so that
// it is classified as the network failure it is.
func (g localGit) indexPack(ctx context.Context, r io.Reader) error {
	in := &readErr{r: r}
	if _, err := g.run(ctx, in, "index-pack", "--stdin", "--fix-thin"); err != nil {
		if in.err != nil && in.err != io.EOF {
			return fmt.Errorf("receiving the pack: %w", in.err)
		}
		return err
	}
	return nil
}

// readErr is a reader that remembers its first error.
type readErr struct {
	r   io.Reader
	err error
}

func (r *readErr) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if err != nil && r.err == nil {
		r.err = err
	}
	return n, err
}

// sendPack pushes commit to the branch rn through go-git's receive-pack
// session, with a pack git pack-objects makes of what commit has that the
// refs the remote advertises (those the local repository has) do not:
// git's own walk, bounded by those refs and sped up by the local bitmaps
// and commit-graph, where go-git walks every tree of their history.
//
// The lease is checked against this session's own advertisement, and the
// update command carries the branch's advertised value as its old value,
// which receive-pack applies only if the branch is still there: lease not
// zero, the branch must be at lease; lease zero, it must be absent or an
// ancestor of commit (a fast-forward). A branch already at commit is
// success without a pack.
func (s *session) sendPack(ctx context.Context, g localGit, rn plumbing.ReferenceName, commit, lease plumbing.Hash, progress io.Writer) error {
	ep, cl, err := s.client()
	if err != nil {
		return err
	}
	sess, err := cl.NewReceivePackSession(ep, s.auth)
	if err != nil {
		return err
	}
	defer sess.Close()
	adv, err := sess.AdvertisedReferencesContext(ctx)
	if err != nil {
		return err
	}
	cur := adv.References[rn.String()]
	switch {
	case cur == commit:
		return nil
	case !lease.IsZero() && cur != lease:
		return fmt.Errorf("remote ref %s is at %s, the lease requires %s", rn, cur, lease)
	case lease.IsZero() && !cur.IsZero() && !g.isAncestor(ctx, cur, commit):
		return fmt.Errorf("non-fast-forward update: %s", rn)
	}
	req := updateRequest(adv.Capabilities, progress)
	req.Commands = []*packp.Command{{Name: rn, Old: cur, New: commit}}
	var advertised []plumbing.Hash
	for _, h := range adv.References {
		advertised = append(advertised, h)
	}
	if ep.Protocol == "file" {
		// A local repository's refs may name objects it lacks (a
		// broken or half-copied repository): send those too, as
		// go-git's push did, rather than have receive-pack refuse the
		// pack for missing objects. A network remote is taken at its
		// word, as git push takes it.
		if advertised, err = (localGit{dir: ep.Path}).present(ctx, advertised); err != nil {
			return err
		}
	}
	return g.sendWithPack(ctx, sess, req, commit, advertised, adv.Capabilities)
}

// smallPushCommits is the most commits a push may send for its pack to be
// made afresh (smallPush).
const smallPushCommits = 2000

// smallPush reports whether the push of revs (pack-objects' --revs input)
// sends at most smallPushCommits commits, as every push of a result does:
// the candidate's commits and the queue's. pack-objects then makes its
// pack afresh (--no-reuse-object: it deltifies the few hundred objects
// itself) instead of copying them out of the repository's packs, which
// needs the packs' reverse index: git 2.39 builds it in memory when the
// pack has no .rev file, 474 MiB and 1.0 s for a release's changes in a
// 10-million-object pack, against 181 MiB and 0.12 s afresh, for a pack
// of the same size (docs/performance.md). A large push (a new remote)
// copies, as git push does.
func (g localGit) smallPush(ctx context.Context, revs string) (bool, error) {
	n, err := g.countCommits(ctx, revs)
	return n <= smallPushCommits, err
}

// countCommits counts the commits revs (rev-list's --stdin input) select;
// it walks commits only, no trees.
func (g localGit) countCommits(ctx context.Context, revs string) (int, error) {
	out, err := g.run(ctx, strings.NewReader(revs), "rev-list", "--count", "--stdin")
	if err != nil {
		return 0, err
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil {
		return 0, fmt.Errorf("git rev-list --count: %q: %w", out, err)
	}
	return n, nil
}

// updateRequest is a reference update request for a server advertising
// caps, with progress on a side band when progress is not nil.
func updateRequest(caps *capability.List, progress io.Writer) *packp.ReferenceUpdateRequest {
	req := packp.NewReferenceUpdateRequestFromCapabilities(caps)
	if progress != nil {
		req.Progress = progress
		if caps.Supports(capability.Sideband64k) {
			_ = req.Capabilities.Set(capability.Sideband64k)
		} else if caps.Supports(capability.Sideband) {
			_ = req.Capabilities.Set(capability.Sideband)
		}
	}
	return req
}

// sendWithPack sends req with the pack of what commit has that the
// advertised refs do not, made by git pack-objects as git push makes it
// (thin unless the server says no-thin, offset deltas where it takes
// them), and returns the server's verdict. advertised are the remote's
// ref values known to be there.
func (g localGit) sendWithPack(ctx context.Context, sess transport.ReceivePackSession, req *packp.ReferenceUpdateRequest,
	commit plumbing.Hash, advertised []plumbing.Hash, caps *capability.List) error {
	have, err := g.present(ctx, advertised)
	if err != nil {
		return err
	}
	revs := commit.String() + "\n"
	for _, h := range have {
		revs += "^" + h.String() + "\n"
	}
	// No bitmaps: rtbot sends a few hundred commits on top of what the
	// remote has, which the commit walk (with the commit-graph) finds at
	// once, while loading the bitmaps and the reverse index costs ~400 MiB
	// and 0.3 s at 10 million objects (docs/performance.md).
	args := []string{"-c", "pack.useBitmaps=false", "pack-objects", "--stdout", "--revs", "-q"}
	small, err := g.smallPush(ctx, revs)
	if err != nil {
		return err
	}
	if small {
		args = append(args, "--no-reuse-object")
	}
	if !caps.Supports(capability.Capability("no-thin")) {
		args = append(args, "--thin")
	}
	if caps.Supports(capability.OFSDelta) {
		args = append(args, "--delta-base-offset")
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return err
	}
	defer pr.Close()
	cmd := g.command(ctx, args...)
	stderr := &cappedBuffer{max: maxGitStderr}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = strings.NewReader(revs), pw, stderr
	err = cmd.Start()
	pw.Close()
	if err != nil {
		return fmt.Errorf("git pack-objects: %w", err)
	}
	req.Packfile = pr
	rs, rerr := sess.ReceivePack(ctx, req)
	pr.Close() // a pack-objects still writing gets EPIPE
	werr := cmd.Wait()
	switch {
	case rerr != nil && werr != nil && ctx.Err() == nil:
		return fmt.Errorf("%w (%v)", rerr, g.fail(ctx, args, stderr, werr))
	case rerr != nil:
		return rerr
	case werr != nil:
		return g.fail(ctx, args, stderr, werr)
	case rs != nil:
		return rs.Error()
	}
	return nil
}
