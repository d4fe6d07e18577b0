package netsec

import (
	"crypto/tls"
	"encoding/pem"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rtbot/rtbot/internal/testkit"
)

func TestLoadCA(t *testing.T) {
	dir := t.TempDir()
	server, _ := testkit.SelfSignedTLS(t, "127.0.0.1")
	cert := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: server.Certificates[0].Certificate[0]})
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tt := range []struct {
		name string
		file string
		want string // in the error; "" for success
	}{
		{"one certificate", write("ca.pem", cert), ""},
		{"a bundle with text around", write("bundle.pem", append(append([]byte("# my CA\n"), cert...), cert...)), ""},
		{"missing", filepath.Join(dir, "nope.pem"), "no such file"},
		{"empty", write("empty.pem", nil), "no PEM certificate"},
		{"DER, not PEM", write("ca.der", server.Certificates[0].Certificate[0]), "no PEM certificate"},
		{"a key", write("key.pem", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1}})), "block 1 (PRIVATE KEY) is not a certificate"},
		{"a broken certificate", write("bad.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{1, 2}})), "is not a certificate"},
	} {
		ca, err := LoadCA(tt.file)
		switch {
		case tt.want == "" && (err != nil || ca.File != tt.file || ca.Pool == nil):
			t.Errorf("%s: LoadCA = %+v, %v", tt.name, ca, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), tt.file)):
			t.Errorf("%s: LoadCA: %v; want an error naming %s with %q", tt.name, err, tt.file, tt.want)
		}
	}
}

// TestCAHandshake: a TLS server a private CA signed is refused without
// the CA, with an error ExplainTLS turns into what to set, and trusted
// with it.
func TestCAHandshake(t *testing.T) {
	server, _ := testkit.SelfSignedTLS(t, "127.0.0.1")
	addr := testkit.Serve(t, func(c net.Conn) {
		tc := tls.Server(c, server)
		tc.Handshake()
		tc.Close()
	})
	file := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: server.Certificates[0].Certificate[0]}), 0o644); err != nil {
		t.Fatal(err)
	}
	dial := func(base *tls.Config) error {
		c, err := tls.Dial("tcp", addr, ClientConfig(base, addr))
		if err == nil {
			c.Close()
		}
		return err
	}
	err := ExplainTLS(dial(nil), "imap.ca_file")
	if err == nil || !strings.Contains(err.Error(), "set imap.ca_file to the CA's certificate") {
		t.Fatalf("without the CA: %v; want an error saying to set imap.ca_file", err)
	}
	var cve *tls.CertificateVerificationError
	if !errors.As(err, &cve) {
		t.Errorf("ExplainTLS lost the error's chain: %v", err)
	}
	ca, err := LoadCA(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := dial(ca.TLSConfig()); err != nil {
		t.Fatalf("with the CA: %v", err)
	}
	var none *CA
	if none.TLSConfig() != nil {
		t.Error("a nil CA's TLS configuration is not nil (the system's roots)")
	}
	for _, other := range []error{nil, errors.New("connection refused")} {
		if got := ExplainTLS(other, "imap.ca_file"); got != other {
			t.Errorf("ExplainTLS(%v) = %v; want it unchanged", other, got)
		}
	}
}
