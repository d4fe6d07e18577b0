package pipeline

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	gitconfig "github.com/go-git/go-git/v5/config"
	"github.com/rtbot/rtbot/internal/config"
	"github.com/rtbot/rtbot/internal/fixtures"
	"github.com/rtbot/rtbot/internal/report"
	"github.com/rtbot/rtbot/internal/state"
)

// gateWorld is the test world with the genuine 6.1.12-rc1 cover in the
// mailbox, and its IMAP and SMTP servers behind fault proxies, to stop
// and start them.
type gateWorld struct {
	*world
	imap, smtp *fixtures.FaultProxy
	log        bytes.Buffer
}

func newGateWorld(t *testing.T) *gateWorld {
	t.Helper()
	srv, err := fixtures.StartIMAP("rtbot", "pw", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	if err := srv.Deliver(fixtures.DemoMail); err != nil {
		t.Fatal(err)
	}
	imap, err := fixtures.StartFaultProxy(srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { imap.Close() })
	g := &gateWorld{world: newWorld(t, imapSection{addr: imap.Addr, user: srv.User, password: srv.Password, mailbox: "INBOX"}), imap: imap}
	if g.smtp, err = fixtures.StartFaultProxy(g.world.smtp.Addr); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.smtp.Close() })
	g.cfg.SMTP.Addr = g.smtp.Addr
	return g
}

// pipeline is the world's pipeline, logging into g.log.
func (g *gateWorld) pipeline(opts Options) *Pipeline {
	opts.Log = slog.New(slog.NewTextHandler(&g.log, nil))
	return New(g.cfg, g.store, opts)
}

// breakQueue takes the series file out of the queue (true) or puts it
// back (false).
func (g *gateWorld) breakQueue(t *testing.T, broken bool) {
	t.Helper()
	series := filepath.Join(g.dir, "patches-rt", "series")
	from, to := series+".away", series
	if broken {
		from, to = to, from
	}
	if err := os.Rename(from, to); err != nil {
		t.Fatal(err)
	}
}

// gate runs the gate and checks the keys of the problems it found, and
// whether they are permanent.
func (g *gateWorld) gate(t *testing.T, p *Pipeline, permanent bool, keys ...string) {
	t.Helper()
	err := p.Gate(context.Background(), ScopeAll)
	var pe *PreflightError
	if len(keys) == 0 {
		if err != nil {
			t.Fatalf("Gate = %v, want nil", err)
		}
		return
	}
	if !errors.As(err, &pe) || pe.Permanent() != permanent || len(pe.Problems) != len(keys) {
		t.Fatalf("Gate = %v, want a preflight error (permanent %v) with %d problem(s)", err, permanent, len(keys))
	}
	for i, k := range keys {
		if pe.Problems[i].Key != k {
			t.Errorf("problem %d: %s, want key %s", i, pe.Problems[i], k)
		}
	}
}

// mails checks that the SMTP server took n mails, and returns them.
func (g *gateWorld) mails(t *testing.T, n int) []fixtures.ReceivedMail {
	t.Helper()
	got := g.world.smtp.Messages()
	if len(got) != n {
		t.Fatalf("%d mail(s) sent, want %d; log:\n%s", len(got), n, g.log.String())
	}
	return got
}

// TestGateMailsOncePerProblem: a queue without series stops every pass
// and is mailed to the maintainers once; once fixed it is forgotten, and
// mailed again if it comes back. Before the preflight, the pass ran, the
// run ended in error, and nobody was told.
func TestGateMailsOncePerProblem(t *testing.T) {
	g := newGateWorld(t)
	p := g.pipeline(Options{})
	g.breakQueue(t, true)
	g.gate(t, p, true, "tree[0].queue")
	g.gate(t, p, true, "tree[0].queue")
	m := g.mails(t, 1)[0]
	body := string(m.Data)
	words := strings.Join(strings.Fields(body), " ") // the problem is folded
	if len(m.To) != 1 || m.To[0] != "rt@test.invalid" || !strings.Contains(words, "- tree[0].queue: queue ") || !strings.Contains(words, "no series file") {
		t.Errorf("mail to %v:\n%s", m.To, body)
	}
	checkProblemMail(t, body)
	if anns, _ := g.store.Announcements(context.Background(), state.AnnouncementFilter{}); len(anns) != 0 {
		t.Errorf("the gate read mail: %v", anns)
	}
	g.breakQueue(t, false)
	g.gate(t, p, false)
	if ps, err := g.store.PreflightProblems(context.Background()); err != nil || len(ps) != 0 {
		t.Errorf("problems remembered after a clean preflight: %v, %v", ps, err)
	}
	g.breakQueue(t, true)
	g.gate(t, p, true, "tree[0].queue")
	g.mails(t, 2)
}

// checkProblemMail checks a problem mail as the maintainers read it: its
// subject counts right, and its body keeps to report.Width but for a line
// that is one word (a key, a path) too long to fold, or a command quoted
// whole to be copied.
func checkProblemMail(t *testing.T, mail string) {
	t.Helper()
	if !strings.Contains(mail, "\nSubject: [rtbot] 1 problem stops every pass: tree[0].queue\r\n") {
		t.Errorf("problem mail's subject is not about 1 problem:\n%s", mail)
	}
	_, body, _ := strings.Cut(mail, "\r\n\r\n")
	for line := range strings.Lines(body) {
		line = strings.TrimRight(line, "\r\n")
		command := strings.HasPrefix(line, "    rtbot ")
		if report.Columns(line) > report.Width && strings.Contains(strings.TrimSpace(line), " ") && !command {
			t.Errorf("problem mail line of %d columns: %q", report.Columns(line), line)
		}
	}
}

// TestPreflightNeedsGit: every fetch and push runs git in the tree's
// repository, so a machine without git stops every pass at the repo
// check, saying so, instead of failing at the first fetch.
func TestPreflightNeedsGit(t *testing.T) {
	g := newGateWorld(t)
	p := g.pipeline(Options{})
	t.Setenv("PATH", t.TempDir())
	pf := p.Preflight(context.Background(), ScopeTrees)
	probs := pf.Problems()
	if len(probs) != 1 || probs[0].Key != "tree[0].repo" || !strings.Contains(probs[0].What, "git is not installed") || probs[0].Transient {
		t.Errorf("preflight without git: %v; want one permanent tree[0].repo problem naming git", probs)
	}
}

// TestGateSMTPDown: with the SMTP server down nothing can be mailed; the
// log says so, and the first gate that can mails what is still wrong.
func TestGateSMTPDown(t *testing.T) {
	g := newGateWorld(t)
	p := g.pipeline(Options{})
	g.breakQueue(t, true)
	g.smtp.Refuse(true)
	g.gate(t, p, true, "smtp.addr", "tree[0].queue")
	g.mails(t, 0)
	if !strings.Contains(g.log.String(), "the SMTP server is one of the problems") {
		t.Errorf("the log does not say why nothing was mailed:\n%s", g.log.String())
	}
	g.smtp.Refuse(false)
	g.gate(t, p, true, "tree[0].queue")
	g.mails(t, 1)
}

// TestGateTransientGrace: a server that does not answer is mailed about
// only once it has lasted the grace; the gate's error says it may pass.
func TestGateTransientGrace(t *testing.T) {
	g := newGateWorld(t)
	g.imap.Refuse(true)
	p := g.pipeline(Options{})
	g.gate(t, p, false, "imap.addr")
	g.gate(t, p, false, "imap.addr")
	g.mails(t, 0)
	if !strings.Contains(g.log.String(), "the list cannot be read") {
		t.Errorf("the log does not say the list cannot be read:\n%s", g.log.String())
	}
	g.gate(t, g.pipeline(Options{PreflightGrace: time.Nanosecond}), false, "imap.addr")
	if body := string(g.mails(t, 1)[0].Data); !strings.Contains(body, "imap.addr: ") {
		t.Errorf("mail:\n%s", body)
	}
}

// TestWatchPreflight: watch waits while the IMAP server is down, reads
// mail once it is up, checks again after a reconnection, and stops on a
// problem that will not pass by itself.
func TestWatchPreflight(t *testing.T) {
	g := newGateWorld(t)
	g.imap.Refuse(true)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- g.pipeline(Options{Preflight: true}).Watch(ctx) }()
	time.Sleep(1500 * time.Millisecond)
	g.imap.Refuse(false)
	for len(g.world.smtp.Messages()) == 0 && ctx.Err() == nil {
		time.Sleep(50 * time.Millisecond) // until the report of 6.1.12-rc1 is mailed
	}
	g.breakQueue(t, true)
	g.imap.Drop()
	var pe *PreflightError
	if err := <-done; !errors.As(err, &pe) || !pe.Permanent() || pe.Problems[0].Key != "tree[0].queue" {
		t.Fatalf("Watch = %v, want the queue's preflight error after the reconnection", err)
	}
	if !strings.Contains(g.log.String(), "reconnected to the IMAP server: checking again") {
		t.Errorf("log:\n%s", g.log.String())
	}
}

// TestCheckAnnounce: announce_url must name the repository candidate_url
// fetches from, or one it mirrors; a local mirror needs it set.
func TestCheckAnnounce(t *testing.T) {
	const kernelOrg = "https://git.kernel.org/pub/scm/linux/kernel/git/stable/linux-stable-rc.git"
	mirror, err := fixtures.Init(filepath.Join(t.TempDir(), "stable.git"), true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mirror.Repo.CreateRemote(&gitconfig.RemoteConfig{Name: "origin", URLs: []string{"https://github.com/gregkh/linux.git"}}); err != nil {
		t.Fatal(err)
	}
	plain := filepath.Join(t.TempDir(), "linux-stable-rc.git")
	for _, tc := range []struct {
		candidate, announce string
		ok                  bool
	}{
		{kernelOrg, "", true},
		{kernelOrg, TheStableRCURL, true}, // the same host and path
		{"https://mirror.example.org/linux-stable-rc", TheStableRCURL, true}, // a mirror, by its name
		{"https://mirror.example.org/stable.git", TheStableRCURL, true},      // named otherwise, of the list's tree
		{plain, TheStableRCURL, true},
		{plain, "", false},                                                                          // forgotten: no announcement names a path
		{kernelOrg, "git://git.kernel.org/pub/scm/linux/kernel/git/stable/linux-stable.git", false}, // the same server, another tree
		{"https://mirror.example.org/linux-stable-rc", "https://github.com/gregkh/linux.git", false},
		{mirror.Dir, TheStableRCURL, false}, // its origin is another tree
		{mirror.Dir, "https://github.com/gregkh/linux", true},
		{kernelOrg, plain, false},
	} {
		s := (&Pipeline{}).checkAnnounce(treeKeys{t: config.Tree{Name: "6.1-rt", CandidateURL: tc.candidate, AnnounceURL: tc.announce}})
		if ok := s.Problem == nil; ok != tc.ok || !ok && s.Problem.Key != "tree[0].announce_url" {
			t.Errorf("candidate_url %s, announce_url %q: %+v %v; want ok %v", tc.candidate, tc.announce, s, s.Problem, tc.ok)
		}
	}
}
