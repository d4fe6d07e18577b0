package trigger

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
)

// maxResponse caps the kept HTTP response body.
const maxResponse = 64 << 10

// maxRedirects bounds the same-host redirects a request follows.
const maxRedirects = 5

// urlPlaceholders are the placeholders a trigger URL may use, replaced by
// [expandURL]. config/validate.go (checkURLPlaceholders) knows the same list.
var urlPlaceholders = []string{"secret", "tree", "series", "version", "rc", "branch", "commit", "candidate", "checkout"}

// fireWebhook sends ev as JSON to t.URL.
func fireWebhook(ctx context.Context, t Spec, ev Event, dir string, res *Result) error {
	method := t.Method
	if method == "" {
		method = http.MethodPost
	}
	target, err := prepareHTTP(t, ev, method)
	if err != nil {
		return err
	}
	body, err := eventDocument(ev)
	if err != nil {
		return permanent(t, fmt.Errorf("event: %w", err))
	}
	_, f, err := newOutputs(dir, t.Name, res.Started, ".response")
	if err != nil {
		return temporary(t, fmt.Errorf("response file: %w", err))
	}
	defer f.Close()
	res.Output = f.Name()
	return send(ctx, t, target, body, f, res)
}

// httpTarget is a prepared request: where and how, and what to hide.
type httpTarget struct {
	method string
	tmpl   string // t.URL as configured: what error messages show
	url    string // the expanded URL; never shown
	header http.Header
	secret string // the secret's value, redacted from anything kept or shown
}

// prepareHTTP expands t's URL and headers for ev. Only the placeholders
// listed in urlPlaceholders are known; {secret} is the value of the
// environment variable t.SecretEnv, and header values know only {secret}.
func prepareHTTP(t Spec, ev Event, method string) (httpTarget, error) {
	target := httpTarget{method: method, tmpl: t.URL, header: http.Header{}}
	names, err := placeholders(t.URL)
	if err != nil {
		return target, permanent(t, fmt.Errorf("url %q: %w", t.URL, err))
	}
	usesSecret := false
	for _, n := range names {
		usesSecret = usesSecret || n == "secret"
	}
	for _, v := range t.Headers {
		usesSecret = usesSecret || strings.Contains(v, "{secret}")
	}
	if t.SecretEnv != "" {
		target.secret = os.Getenv(t.SecretEnv)
	}
	if usesSecret {
		switch {
		case t.SecretEnv == "":
			return target, permanent(t, errors.New("url or headers use {secret}, but secret_env is not set"))
		case target.secret == "":
			return target, permanent(t, fmt.Errorf("environment variable %s (secret_env) is not set or empty", t.SecretEnv))
		}
	}
	vars := map[string]string{
		"secret": target.secret, "tree": ev.Tree, "series": ev.Series, "version": ev.Version,
		"rc": strconv.Itoa(ev.RC), "branch": ev.Branch, "commit": ev.Commit, "candidate": ev.Candidate, "checkout": CheckoutID(ev, DefaultKCIDBOrigin),
	}
	target.url, err = expandURL(t.URL, vars)
	if err != nil {
		return target, permanent(t, fmt.Errorf("url %q: %w", t.URL, err))
	}
	u, err := url.Parse(target.url)
	switch {
	case err != nil:
		return target, permanent(t, fmt.Errorf("url %q does not expand to a URL", t.URL))
	case u.Scheme != "http" && u.Scheme != "https":
		return target, permanent(t, fmt.Errorf("url %q: want http:// or https://", t.URL))
	case u.Host == "":
		return target, permanent(t, fmt.Errorf("url %q: missing host", t.URL))
	}

	target.header.Set("Content-Type", "application/json")
	target.header.Set("User-Agent", "rtbot")
	for name, v := range t.Headers {
		v = strings.ReplaceAll(v, "{secret}", target.secret)
		if strings.ContainsAny(v, "\x00\r\n") {
			return target, permanent(t, fmt.Errorf("header %s: the value (after {secret}) contains a NUL or a line break", name))
		}
		target.header.Set(name, v)
	}
	return target, nil
}

// placeholders returns the names of the {name} placeholders of tmpl, and
// an error for an unknown name or an unmatched brace.
func placeholders(tmpl string) ([]string, error) {
	var names []string
	for s := tmpl; s != ""; {
		i := strings.IndexAny(s, "{}")
		if i < 0 {
			break
		}
		if s[i] == '}' {
			return nil, errors.New("'}' without '{'")
		}
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			return nil, errors.New("'{' without '}'")
		}
		name := s[i+1 : i+end]
		known := false
		for _, p := range urlPlaceholders {
			known = known || p == name
		}
		if !known {
			return nil, fmt.Errorf("unknown placeholder {%s}: want one of {%s}", name, strings.Join(urlPlaceholders, "}, {"))
		}
		names = append(names, name)
		s = s[i+end+1:]
	}
	return names, nil
}

// expandURL replaces the placeholders of tmpl by their values in vars,
// escaped for where they stand: url.PathEscape before the query,
// url.QueryEscape in the query (and fragment).
func expandURL(tmpl string, vars map[string]string) (string, error) {
	if _, err := placeholders(tmpl); err != nil {
		return "", err
	}
	var b strings.Builder
	query := false
	for s := tmpl; s != ""; {
		i := strings.IndexByte(s, '{')
		if i < 0 {
			b.WriteString(s)
			break
		}
		query = query || strings.ContainsAny(s[:i], "?#")
		b.WriteString(s[:i])
		end := i + strings.IndexByte(s[i:], '}')
		v := vars[s[i+1:end]]
		if query {
			b.WriteString(url.QueryEscape(v))
		} else {
			b.WriteString(url.PathEscape(v))
		}
		s = s[end+1:]
	}
	return b.String(), nil
}

// redirectError is a redirect send refused to follow.
type redirectError struct{ host, reason string }

func (e *redirectError) Error() string {
	return "redirect to " + e.host + " refused: " + e.reason
}

// checkRedirect follows a redirect only to the same host and port as the
// original request, and never from https to http: the URL and the headers
// may carry a secret.
func checkRedirect(req *http.Request, via []*http.Request) error {
	first := via[0].URL
	switch {
	case len(via) > maxRedirects:
		return &redirectError{host: req.URL.Host, reason: fmt.Sprintf("more than %d redirects", maxRedirects)}
	case !strings.EqualFold(req.URL.Host, first.Host):
		return &redirectError{host: req.URL.Host, reason: "another host than " + first.Host}
	case first.Scheme == "https" && req.URL.Scheme != "https":
		return &redirectError{host: req.URL.Host, reason: "from https to " + req.URL.Scheme}
	}
	return nil
}

// send makes the request of target with body, keeps the response body in
// respFile and classifies the outcome: 2xx is success; 408, 429, 5xx, a
// network error and a timeout are temporary; anything else is permanent.
// Error messages show the URL template, never the expanded URL.
func send(ctx context.Context, t Spec, target httpTarget, body []byte, respFile *os.File, res *Result) error {
	limit := timeout(t)
	reqCtx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	what := target.method + " " + target.tmpl
	req, err := http.NewRequestWithContext(reqCtx, target.method, target.url, bytes.NewReader(body))
	if err != nil {
		return permanent(t, fmt.Errorf("%s: cannot make the request", what))
	}
	req.Header = target.header.Clone()
	client := &http.Client{CheckRedirect: checkRedirect}
	resp, err := client.Do(req)
	if err != nil {
		if resp != nil {
			res.HTTPStatus = resp.StatusCode
		}
		var rerr *redirectError
		switch {
		case errors.As(err, &rerr):
			return permanent(t, fmt.Errorf("%s: %s", what, target.redact(rerr.Error())))
		case reqCtx.Err() != nil && ctx.Err() == nil:
			return temporary(t, fmt.Errorf("%s: timed out after %v", what, limit))
		case ctx.Err() != nil:
			return temporary(t, fmt.Errorf("%s: cancelled: %v", what, ctx.Err()))
		}
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err // url.Error's text has the expanded URL
		}
		return temporary(t, fmt.Errorf("%s: %s", what, target.redact(err.Error())))
	}
	defer resp.Body.Close()
	res.HTTPStatus = resp.StatusCode
	data, readErr := io.ReadAll(io.LimitReader(resp.Body, maxResponse+1))
	kept := []byte(target.redact(string(data)))
	if len(data) > maxResponse {
		kept = append([]byte(target.redact(string(data[:maxResponse]))), fmt.Sprintf("\n[rtbot: response truncated at %d bytes]\n", maxResponse)...)
	}
	if readErr != nil {
		kept = append(kept, fmt.Sprintf("\n[rtbot: reading the response: %s]\n", target.redact(readErr.Error()))...)
	}
	where := "response in " + respFile.Name()
	if _, err := respFile.Write(kept); err != nil {
		where = "response not kept: " + err.Error()
	}

	code := resp.StatusCode
	status := fmt.Sprintf("HTTP %d %s", code, http.StatusText(code))
	switch {
	case code >= 200 && code < 300:
		// Accepted: the firing happened even if the response was cut short.
		if t.Poll != "" {
			res.PollHandle, res.PollError = pollHandle(t, req.URL, resp, data)
		}
		return nil
	case code == http.StatusRequestTimeout || code == http.StatusTooManyRequests || code >= 500:
		return temporary(t, fmt.Errorf("%s: %s; %s", what, status, where))
	default:
		return permanent(t, fmt.Errorf("%s: %s; %s", what, status, where))
	}
}

// redact replaces the secret, plain or escaped, with "{secret}".
func (h httpTarget) redact(s string) string {
	if h.secret == "" {
		return s
	}
	for _, v := range []string{h.secret, url.QueryEscape(h.secret), url.PathEscape(h.secret)} {
		s = strings.ReplaceAll(s, v, "{secret}")
	}
	return s
}
