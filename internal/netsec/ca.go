package netsec

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// maxCAFile bounds what LoadCA reads: a CA bundle is a few hundred KiB at
// most (the whole Mozilla set is about 200 KiB).
const maxCAFile = 4 << 20

// CA is a private certificate authority trusted for one server, from a
// ca_file. Its certificates are trusted in addition to the system's roots
// (as go-git's CABundle adds them; git's http.sslCAInfo would replace
// them), so a server whose certificate a public CA signed still works.
type CA struct {
	File string         // the file it was read from
	PEM  []byte         // its certificates, PEM-encoded, as read
	Pool *x509.CertPool // the system's roots and its certificates
}

// LoadCA reads the PEM certificates in file. Every error names the file:
// one that cannot be read, holds no certificate, or holds a block that is
// not a valid certificate.
func LoadCA(file string) (*CA, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("CA file: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxCAFile+1))
	if err != nil {
		return nil, fmt.Errorf("CA file %s: %w", file, err)
	}
	if len(data) > maxCAFile {
		return nil, fmt.Errorf("CA file %s is larger than %d bytes", file, maxCAFile)
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool() // no system roots here: the CA alone
	}
	n := 0
	for rest := data; ; n++ {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		cert, err := x509.ParseCertificate(b.Bytes)
		if b.Type != "CERTIFICATE" || err != nil {
			return nil, fmt.Errorf("CA file %s: block %d (%s) is not a certificate: %v", file, n+1, b.Type, err)
		}
		pool.AddCert(cert)
	}
	if n == 0 {
		return nil, fmt.Errorf("CA file %s: no PEM certificate in it (want -----BEGIN CERTIFICATE----- blocks)", file)
	}
	return &CA{File: file, PEM: data, Pool: pool}, nil
}

// TLSConfig is the base TLS configuration of a client that trusts ca, for
// ClientConfig: nil (the system's roots) when ca is nil.
func (ca *CA) TLSConfig() *tls.Config {
	if ca == nil {
		return nil
	}
	return &tls.Config{RootCAs: ca.Pool}
}

// ExplainTLS adds to err, when a server's certificate failed because no
// trusted authority signed it, what to do: set key (a ca_file, named as
// the configuration names it) to the private CA's certificate. Other
// errors, nil included, are returned as they are. The result wraps err.
func ExplainTLS(err error, key string) error {
	if err == nil || !unknownAuthority(err) {
		return err
	}
	return fmt.Errorf("%w (the server's certificate is not signed by an authority this machine trusts: "+
		"if it uses a private CA, set %s to the CA's certificate, a PEM file)", err, key)
}

// unknownAuthority reports whether err says a certificate chain ended at
// an authority that is not trusted. Some libraries (go-git's transports)
// do not wrap the errors they pass on, so the text counts too.
func unknownAuthority(err error) bool {
	var ua x509.UnknownAuthorityError
	if errors.As(err, &ua) {
		return true
	}
	return strings.Contains(err.Error(), "certificate signed by unknown authority")
}
