package remote

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/rtbot/rtbot/internal/testkit"
	"golang.org/x/crypto/ssh/agent"
)

// silentServer accepts connections, reads what read reads and then never
// answers. It returns the address.
func silentServer(t *testing.T, read func(net.Conn)) string {
	t.Helper()
	return testkit.Serve(t, func(c net.Conn) {
		defer c.Close()
		read(c)
		io.Copy(io.Discard, c) // until the client goes away
	})
}

// readRequestLine reads the start of an HTTP request.
func readRequestLine(c net.Conn) { bufio.NewReader(c).ReadString('\n') }

// fakeAgent serves an ssh agent with one key and an empty known_hosts
// file, through the environment go-git's ssh transport reads
// (SSH_AUTH_SOCK, SSH_KNOWN_HOSTS), so that it gets as far as the
// connection.
func fakeAgent(t *testing.T) {
	dir := t.TempDir()
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	keyring := agent.NewKeyring()
	if err := keyring.Add(agent.AddedKey{PrivateKey: key}); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "agent.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); agent.ServeAgent(keyring, c) }()
		}
	}()
	hosts := filepath.Join(dir, "known_hosts")
	if err := os.WriteFile(hosts, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SSH_AUTH_SOCK", sock)
	t.Setenv("SSH_KNOWN_HOSTS", hosts)
}

// TestSilentRemote: a remote that accepts the connection and never
// answers ends every operation by its context's deadline, with a
// temporary error that names the remote, over every network transport.
// go-git's ssh transport connects without looking at the context: its
// handshake with a silent server used to hang for ever.
func TestSilentRemote(t *testing.T) {
	fakeAgent(t)
	nothing := func(net.Conn) {}
	urls := map[string]string{
		"http":  "http://" + silentServer(t, readRequestLine) + "/linux.git", // after the request
		"https": "https://" + silentServer(t, nothing) + "/linux.git",        // no TLS handshake
		"ssh":   "ssh://git@" + silentServer(t, nothing) + "/linux.git",      // no version exchange
	}
	local := newRepo(t, "local.git", true)
	up, a, _ := upstream(t)
	for name, url := range urls {
		for op, f := range map[string]func(ctx context.Context) error{
			"fetch": func(ctx context.Context) error {
				_, err := Fetch(ctx, local.Dir, Endpoint{URL: url}, "linux-6.1.y", "refs/rtbot/candidates/t/6.1.12-rc1", nil)
				return err
			},
			"list": func(ctx context.Context) error {
				_, err := RemoteHead(ctx, local.Dir, Endpoint{URL: url}, "linux-6.1.y")
				return err
			},
			"push": func(ctx context.Context) error {
				return Push(ctx, up.Dir, Endpoint{URL: url}, "rtbot/x", a, plumbing.ZeroHash, nil)
			},
			"fetch tag": func(ctx context.Context) error {
				_, err := FetchTag(ctx, local.Dir, Endpoint{URL: url}, "v6.1.12", "refs/rtbot/onto/v6.1.12", nil)
				return err
			},
			"check push": func(ctx context.Context) error {
				return CheckPush(ctx, up.Dir, Endpoint{URL: url})
			},
		} {
			t.Run(name+"/"+op, func(t *testing.T) {
				t.Parallel()
				checkSilent(t, f, url)
			})
		}
	}
}

// checkSilent runs f with a short deadline and checks how it failed.
func checkSilent(t *testing.T, f func(ctx context.Context) error, url string) {
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	done := make(chan error, 1)
	go func() { done <- f(ctx) }()
	var err error
	select {
	case err = <-done:
	case <-time.After(20 * time.Second):
		t.Fatalf("still waiting for %s after 20s: the deadline was not kept", url)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("took %v, want about the 300ms deadline", took)
	}
	var e *Error
	if !errors.As(err, &e) || !IsTemporary(err) || !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), url) {
		t.Errorf("error %v; want a temporary *Error naming %s, wrapping context.DeadlineExceeded", err, url)
	}
}
