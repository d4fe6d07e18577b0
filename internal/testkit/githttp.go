package testkit

import (
	"crypto/tls"
	"log"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os/exec"
	"strings"
	"sync"
	"testing"
)

// GitHTTPOptions say how ServeGit serves.
type GitHTTPOptions struct {
	// User and Password are the HTTP basic credentials every request must
	// carry; the server answers 401 to any other. Empty: no
	// authentication, and then git http-backend refuses pushes (it
	// enables receive-pack only for an authenticated user).
	User, Password string
	// TLS, when not nil, is the server's certificate (SelfSignedTLS's):
	// the server speaks https. Otherwise plain http.
	TLS *tls.Config
}

// GitHTTPServer is a git smart-HTTP server on a loopback port: git's own
// http-backend behind the standard library's CGI handler, run in GitEnv,
// with HTTP basic authentication checked by the handler.
type GitHTTPServer struct {
	// URL is the server's base, http://127.0.0.1:PORT (https://... with
	// TLS): the repository root/NAME.git is URL + "/NAME.git".
	URL string

	mu       sync.Mutex
	user, pw string
	refused  int
	auths    []string // the Authorization headers received, in order
}

// ServeGit serves the repositories under root (bare ones, named by their
// path below root) until the test ends.
func ServeGit(tb testing.TB, root string, opts GitHTTPOptions) *GitHTTPServer {
	tb.Helper()
	NeedGit(tb)
	git, err := exec.LookPath("git")
	if err != nil {
		tb.Fatal(err)
	}
	s := &GitHTTPServer{user: opts.User, pw: opts.Password}
	env := []string{"GIT_PROJECT_ROOT=" + root, "GIT_HTTP_EXPORT_ALL=1"}
	if opts.User != "" {
		env = append(env, "REMOTE_USER="+opts.User)
	}
	backend := &cgi.Handler{Path: git, Args: []string{"http-backend"}, Dir: root,
		Env: GitEnv(tb.TempDir(), env...), Stderr: logWriter{tb}}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.authorized(r) {
			w.Header().Set("WWW-Authenticate", `Basic realm="git"`)
			http.Error(w, "authentication required", http.StatusUnauthorized)
			return
		}
		backend.ServeHTTP(w, r)
	}))
	srv.Config.ErrorLog = log.New(logWriter{tb}, "git http server: ", 0)
	if opts.TLS != nil {
		srv.TLS = opts.TLS.Clone()
		srv.StartTLS()
	} else {
		srv.Start()
	}
	tb.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

// authorized records r's credentials and reports whether they are the
// ones the server accepts.
func (s *GitHTTPServer) authorized(r *http.Request) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.auths = append(s.auths, r.Header.Get("Authorization"))
	if s.user == "" {
		return true
	}
	u, p, ok := r.BasicAuth()
	if ok && u == s.user && p == s.pw {
		return true
	}
	s.refused++
	return false
}

// SetPassword changes the password the server accepts from now on: a
// token revoked, or renewed.
func (s *GitHTTPServer) SetPassword(pw string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pw = pw
}

// Refused counts the requests answered 401.
func (s *GitHTTPServer) Refused() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.refused
}

// Authorizations returns the Authorization headers of the requests so
// far, in order ("" for a request without one).
func (s *GitHTTPServer) Authorizations() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.auths...)
}

// logWriter sends what a helper process writes on its standard error to
// the test's log.
type logWriter struct{ tb testing.TB }

func (w logWriter) Write(b []byte) (int, error) {
	w.tb.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}
