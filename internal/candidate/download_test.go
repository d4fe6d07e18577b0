package candidate

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"

	"github.com/rtbot/rtbot/internal/testkit"
)

// TestFromPatchRedacts: an rc patch URL with a token as its user, or as
// its password, is named without it in every error (a refused connection,
// a 404, a refused redirect), and the error still wraps its cause.
func TestFromPatchRedacts(t *testing.T) {
	const token = "glpat-DownloadS3cret"
	fx := newRCFixture(t)
	hs := patchRedirectServer(t, fx.patch)
	refused := "http://" + testkit.ClosedPort(t)
	for _, tc := range []struct{ name, base, path, want string }{
		{"refused, token as user", refused, "/patch.gz", "connection refused"},
		{"refused, token as password", refused, "/patch.gz", "connection refused"},
		{"404, token as user", hs.URL, "/nothing.gz", "404"},
		{"redirect elsewhere, token as user", hs.URL, "/elsewhere.gz", "another host"},
	} {
		user := token + "@"
		if strings.Contains(tc.name, "password") {
			user = "rtbot:" + token + "@"
		}
		src := strings.Replace(tc.base, "http://", "http://"+user, 1) + tc.path
		_, err := FromPatch(context.Background(), openEngine(t, fx.repo.Dir), src, "6.1.12", 1, "refs/rtbot/redacted", PatchOptions{})
		switch {
		case err == nil || !strings.Contains(err.Error(), tc.want):
			t.Errorf("%s: %v; want an error with %q", tc.name, err, tc.want)
		case strings.Contains(err.Error(), token):
			t.Errorf("%s: the error has the token: %v", tc.name, err)
		case tc.want == "connection refused" && !errors.Is(err, syscall.ECONNREFUSED):
			t.Errorf("%s: the error lost its cause: %v", tc.name, err)
		}
	}
}

// TestFromPatchPrivateCA: an https rc patch server whose certificate a
// private CA signed is refused for want of the CA (an error a caller can
// explain: x509.UnknownAuthorityError in its chain) and trusted with it.
func TestFromPatchPrivateCA(t *testing.T) {
	fx := newRCFixture(t)
	serverTLS, roots := testkit.SelfSignedTLS(t, "127.0.0.1")
	hs := httptest.NewUnstartedServer(&files{m: map[string][]byte{"/patch-6.1.12-rc1.gz": gz(t, fx.patch)}})
	hs.TLS = serverTLS
	hs.StartTLS()
	defer hs.Close()
	src, err := PatchSource(hs.URL+"/patch-{version}-rc{rc}.gz", "6.1.12", 1)
	if err != nil {
		t.Fatal(err)
	}
	_, err = FromPatch(context.Background(), openEngine(t, fx.repo.Dir), src, "6.1.12", 1, "refs/rtbot/ca", PatchOptions{})
	var ua x509.UnknownAuthorityError
	if err == nil || !errors.As(err, &ua) {
		t.Fatalf("without the CA: %v; want an unknown authority", err)
	}
	h, err := FromPatch(context.Background(), openEngine(t, fx.repo.Dir), src, "6.1.12", 1, "refs/rtbot/ca", PatchOptions{TLS: &tls.Config{RootCAs: roots}})
	if err != nil || h.IsZero() {
		t.Fatalf("with the CA: %s, %v", h, err)
	}
	if err := Check(openEngine(t, fx.repo.Dir).Repository(), h, "6.1.12", 1); err != nil {
		t.Error(err)
	}
}
