package testkit

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// PublicInbox is a real public-inbox v2 inbox, made with Debian's
// public-inbox package (public-inbox-init -V2) in a temporary directory.
type PublicInbox struct {
	// Dir is the inbox directory (the one holding git/0.git).
	Dir string
	// Name and Address are the inbox's name and list address.
	Name, Address string

	home string // HOME and PI_CONFIG's directory
}

// NeedPublicInbox skips the test when public-inbox is not installed
// (.ci/run installs it).
func NeedPublicInbox(tb testing.TB) {
	tb.Helper()
	for _, c := range []string{"public-inbox-init", "public-inbox-mda", "public-inbox-purge", "public-inbox-httpd"} {
		if _, err := exec.LookPath(c); err != nil {
			tb.Skipf("%s is not installed (apt-get install public-inbox; .ci/run does)", c)
		}
	}
}

// NewPublicInbox makes an empty v2 inbox for stable@vger.kernel.org.
func NewPublicInbox(tb testing.TB) *PublicInbox {
	tb.Helper()
	NeedPublicInbox(tb)
	root := tb.TempDir()
	pi := &PublicInbox{Dir: filepath.Join(root, "inbox"), Name: "stable", Address: "stable@vger.kernel.org", home: filepath.Join(root, "home")}
	if err := os.MkdirAll(pi.home, 0o700); err != nil {
		tb.Fatal(err)
	}
	// No SpamAssassin here: public-inbox-mda would refuse every mail
	// without spamc.
	WriteFile(tb, pi.config(), "[publicinboxmda]\n\tspamcheck = none\n", 0o600)
	pi.run(tb, nil, "public-inbox-init", "-V2", pi.Name, pi.Dir, "http://127.0.0.1/"+pi.Name, pi.Address)
	return pi
}

func (pi *PublicInbox) config() string { return filepath.Join(pi.home, "config") }

// env is the environment of the public-inbox commands.
func (pi *PublicInbox) env() []string {
	return append(os.Environ(), "HOME="+pi.home, "PI_CONFIG="+pi.config(), "ORIGINAL_RECIPIENT="+pi.Address, "TZ=UTC")
}

func (pi *PublicInbox) run(tb testing.TB, stdin io.Reader, name string, args ...string) {
	tb.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env, cmd.Stdin = pi.env(), stdin
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// Deliver delivers the mail file path as the list's MDA would
// (public-inbox-mda).
func (pi *PublicInbox) Deliver(tb testing.TB, path string) {
	tb.Helper()
	pi.DeliverBytes(tb, []byte(ReadFile(tb, path)))
}

// DeliverBytes delivers one raw mail.
func (pi *PublicInbox) DeliverBytes(tb testing.TB, raw []byte) {
	tb.Helper()
	pi.run(tb, bytes.NewReader(raw), "public-inbox-mda", "--no-precheck")
}

// Purge removes the mail file path from every epoch with
// public-inbox-purge, which rewrites the epochs' history.
func (pi *PublicInbox) Purge(tb testing.TB, path string) {
	tb.Helper()
	pi.run(tb, strings.NewReader(ReadFile(tb, path)), "public-inbox-purge", "--all")
}

// Rollover makes the next delivery start a new epoch, as public-inbox
// does once an epoch holds about 1 GB: a sparse file of that size, named
// like a pack (git ignores a pack without its .idx), is there while the
// next mail is delivered.
func (pi *PublicInbox) Rollover(tb testing.TB, path string) {
	tb.Helper()
	epochs := Glob(tb, filepath.Join(pi.Dir, "git", "*.git"))
	fake := filepath.Join(epochs[len(epochs)-1], "objects", "pack", "pack-rollover.pack")
	if err := os.MkdirAll(filepath.Dir(fake), 0o755); err != nil {
		tb.Fatal(err)
	}
	f, err := os.Create(fake)
	if err != nil {
		tb.Fatal(err)
	}
	err = f.Truncate(1100 << 20)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		tb.Fatal(err)
	}
	pi.Deliver(tb, path)
	if err := os.Remove(fake); err != nil {
		tb.Fatal(err)
	}
	if n := len(Glob(tb, filepath.Join(pi.Dir, "git", "*.git"))); n != len(epochs)+1 {
		tb.Fatalf("public-inbox made %d epochs, want %d", n, len(epochs)+1)
	}
}

// PublicInboxHTTP is public-inbox-httpd serving an inbox on a loopback
// port, behind a proxy that counts what crosses it.
type PublicInboxHTTP struct {
	// URL is the inbox's URL through the proxy, http://127.0.0.1:PORT/NAME/.
	URL string

	mu       sync.Mutex
	requests []string // "METHOD path?query", in order
	bytes    int64    // response bodies and request bodies
}

// Requests returns the requests received since the last call, and the
// bytes they moved (both directions' bodies), and starts counting anew.
func (s *PublicInboxHTTP) Requests() ([]string, int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, b := s.requests, s.bytes
	s.requests, s.bytes = nil, 0
	return r, b
}

// Serve starts public-inbox-httpd for the inbox until the test ends.
func (pi *PublicInbox) Serve(tb testing.TB) *PublicInboxHTTP {
	tb.Helper()
	return pi.ServeTLS(tb, nil)
}

// ServeTLS is Serve with the proxy speaking https with the certificate
// of cfg (SelfSignedTLS's); nil means plain http.
func (pi *PublicInbox) ServeTLS(tb testing.TB, cfg *tls.Config) *PublicInboxHTTP {
	tb.Helper()
	addr := freeLoopbackPort(tb)
	cmd := exec.Command("public-inbox-httpd", "-W0", "-l", "http://"+addr)
	cmd.Env = pi.env()
	cmd.Stdout, cmd.Stderr = logWriter{tb}, logWriter{tb}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	waitHTTP(tb, "http://"+addr+"/")
	backend, err := url.Parse("http://" + addr)
	if err != nil {
		tb.Fatal(err)
	}
	s := &PublicInboxHTTP{}
	proxy := httputil.NewSingleHostReverseProxy(backend)
	front := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cw := &countingWriter{ResponseWriter: w}
		body := &countingBody{r: r.Body}
		r.Body = body
		proxy.ServeHTTP(cw, r)
		s.mu.Lock()
		s.requests = append(s.requests, r.Method+" "+r.URL.RequestURI())
		s.bytes += cw.n + body.n
		s.mu.Unlock()
	}), ReadHeaderTimeout: 10 * time.Second}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	scheme := "http"
	if cfg != nil {
		ln, scheme = tls.NewListener(ln, cfg), "https"
	}
	go func() { _ = front.Serve(ln) }()
	tb.Cleanup(func() { _ = front.Close() })
	s.URL = fmt.Sprintf("%s://%s/%s/", scheme, ln.Addr(), pi.Name)
	return s
}

type countingWriter struct {
	http.ResponseWriter
	n int64
}

func (w *countingWriter) Write(b []byte) (int, error) {
	n, err := w.ResponseWriter.Write(b)
	w.n += int64(n)
	return n, err
}

// Flush passes flushes on: git's smart HTTP streams.
func (w *countingWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

type countingBody struct {
	r io.ReadCloser
	n int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.n += int64(n)
	return n, err
}

func (b *countingBody) Close() error { return b.r.Close() }

// freeLoopbackPort returns a 127.0.0.1 address no one listened on a
// moment ago.
func freeLoopbackPort(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		tb.Fatal(err)
	}
	return addr
}

// waitHTTP waits until u answers, for up to a minute.
func waitHTTP(tb testing.TB, u string) {
	tb.Helper()
	client := &http.Client{Timeout: 5 * time.Second}
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(50 * time.Millisecond) {
		resp, err := client.Get(u)
		if err == nil {
			resp.Body.Close()
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("%s does not answer: %v", u, err)
		}
	}
}

// importScript adds the mail files named after the inbox name to the
// inbox with public-inbox's own writer (PublicInbox::V2Writable), in one
// process: what public-inbox-mda does per mail, fast enough for
// thousands.
const importScript = `use strict; use warnings;
use PublicInbox::Config; use PublicInbox::V2Writable; use PublicInbox::Eml;
my ($name, @files) = @ARGV;
my $ibx = PublicInbox::Config->new->lookup_name($name) or die "no inbox $name\n";
my $w = PublicInbox::V2Writable->new($ibx);
for my $f (@files) {
	open(my $fh, '<', $f) or die "$f: $!\n";
	my $raw = do { local $/; <$fh> };
	$w->add(PublicInbox::Eml->new(\$raw));
}
$w->done;
`

// Import adds many mail files at once (see importScript).
func (pi *PublicInbox) Import(tb testing.TB, files []string) {
	tb.Helper()
	pi.run(tb, nil, "perl", append([]string{"-e", importScript, pi.Name}, files...)...)
}
