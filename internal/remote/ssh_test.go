package remote

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rtbot/rtbot/internal/testkit"
	gossh "golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// sshServer is an ssh server on a loopback port, in the test process
// (golang.org/x/crypto/ssh, the library go-git's ssh transport is built
// on), that runs git's own upload-pack and receive-pack on the
// repositories under root for a client holding the authorized key: the
// real protocol end to end, without an sshd to start as root.
type sshServer struct {
	addr    string
	hostKey gossh.PublicKey
}

// newKey returns a fresh ed25519 key: its signer, and the private key as
// an unencrypted OpenSSH PEM file.
func newKey(t *testing.T) (gossh.Signer, []byte) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := gossh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	block, err := gossh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	return signer, pem.EncodeToMemory(block)
}

// serveSSH serves the repositories under root to the holder of authorized.
func serveSSH(t *testing.T, root string, authorized gossh.PublicKey) *sshServer {
	t.Helper()
	host, _ := newKey(t)
	cfg := &gossh.ServerConfig{PublicKeyCallback: func(_ gossh.ConnMetadata, k gossh.PublicKey) (*gossh.Permissions, error) {
		if bytes.Equal(k.Marshal(), authorized.Marshal()) {
			return nil, nil
		}
		return nil, errors.New("key not authorized")
	}}
	cfg.AddHostKey(host)
	home := t.TempDir()
	addr := testkit.Serve(t, func(c net.Conn) {
		defer c.Close()
		_, chans, reqs, err := gossh.NewServerConn(c, cfg)
		if err != nil {
			return
		}
		go gossh.DiscardRequests(reqs)
		for nc := range chans {
			if nc.ChannelType() != "session" {
				nc.Reject(gossh.UnknownChannelType, "sessions only")
				continue
			}
			ch, creqs, err := nc.Accept()
			if err != nil {
				return
			}
			go serveGitCommand(ch, creqs, root, home)
		}
	})
	return &sshServer{addr: addr, hostKey: host.PublicKey()}
}

// serveGitCommand runs the one command of an ssh session, git-upload-pack
// or git-receive-pack 'PATH', on root/PATH, and reports its exit status.
func serveGitCommand(ch gossh.Channel, reqs <-chan *gossh.Request, root, home string) {
	defer ch.Close()
	for req := range reqs {
		var exec struct{ Command string }
		if req.Type != "exec" || gossh.Unmarshal(req.Payload, &exec) != nil {
			req.Reply(false, nil)
			continue
		}
		prog, path, _ := strings.Cut(exec.Command, " ")
		if prog != "git-upload-pack" && prog != "git-receive-pack" {
			req.Reply(false, nil)
			return
		}
		req.Reply(true, nil)
		cmd := testkit.GitCommand("", home, nil, strings.TrimPrefix(prog, "git-"), filepath.Join(root, strings.Trim(path, "'")))
		cmd.Stdin, cmd.Stdout, cmd.Stderr = ch, ch, ch.Stderr()
		status := uint32(0)
		if err := cmd.Run(); err != nil {
			status = 1
		}
		ch.SendRequest("exit-status", false, gossh.Marshal(struct{ Status uint32 }{status}))
		return
	}
}

// knownHostsFile writes a known_hosts file with key for the server at addr.
func knownHostsFile(t *testing.T, addr string, key gossh.PublicKey) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "known_hosts")
	if err := os.WriteFile(f, []byte(knownhosts.Line([]string{knownhosts.Normalize(addr)}, key)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}
