package mailwatch

import (
	"context"
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rtbot/rtbot/internal/testkit"
)

// subjects returns the Subjects of the candidates of scan.
func subjects(scan SourceScan) []string {
	var out []string
	for _, c := range scan.Candidates {
		out = append(out, subjectOf(c.Raw))
	}
	return out
}

// TestPublicInbox follows a real public-inbox v2 inbox, read from its
// directory and over HTTP from public-inbox-httpd: a first run starts at
// "now", new mail is read once, an idle pass fetches no pack, a purge
// (which rewrites the epoch) reads no old mail again, and a new epoch is
// followed.
func TestPublicInbox(t *testing.T) {
	for _, mode := range []string{"local", "http"} {
		t.Run(mode, func(t *testing.T) {
			ctx := context.Background()
			pi := testkit.NewPublicInbox(t)
			pi.Deliver(t, testkit.Mail(t, "stable-6.1.12-rc1.eml"))
			pi.Deliver(t, testkit.Mail(t, "not-cover-5.15-patch-068.eml"))
			cfg := PublicInboxConfig{URL: pi.Dir, Timeout: 30 * time.Second}
			var srv *testkit.PublicInboxHTTP
			if mode == "http" {
				srv = pi.Serve(t)
				cfg.URL, cfg.Mirror = srv.URL, filepath.Join(t.TempDir(), "mirror")
			}
			pos := scanInbox(t, ctx, cfg, nil, nil)
			if srv != nil {
				// A first run fetches the newest epoch once, depth 1: one
				// pack request, for the head commit only.
				reqs, _ := srv.Requests()
				posts := 0
				for _, r := range reqs {
					if strings.HasPrefix(r, "POST ") {
						posts++
					}
				}
				if posts != 1 || len(reqs) != 4 {
					t.Errorf("first run: requests %q; want the manifest, one advertisement and one pack of epoch 0, and epoch 1's advertisement", reqs)
				}
			}

			pi.Deliver(t, testkit.Mail(t, "stable-6.12.51-rc1.eml"))
			pi.Deliver(t, testkit.Mail(t, "rt-stable-6.1.79-rt25.eml"))
			pi.Deliver(t, testkit.Mail(t, "reply-6.6.21-rc1.eml"))
			pos = scanInbox(t, ctx, cfg, pos, []string{"[PATCH 6.12 00/10] 6.12.51-rc1 review", "[ANNOUNCE] 6.1.79-rt25"})

			if srv != nil {
				srv.Requests()
			}
			pos = scanInbox(t, ctx, cfg, pos, nil)
			if srv != nil {
				reqs, n := srv.Requests()
				for _, r := range reqs {
					if !strings.HasPrefix(r, "GET ") || !strings.Contains(r, "/info/refs?service=git-upload-pack") {
						t.Errorf("idle pass: request %q, want only ref advertisements", r)
					}
				}
				t.Logf("idle pass over HTTP: %d requests, %d bytes", len(reqs), n)
			}

			pi.Purge(t, testkit.Mail(t, "not-cover-5.15-patch-068.eml"))
			scan := scanRaw(t, ctx, cfg, pos)
			if !scan.Rewritten || len(scan.Candidates) != 0 {
				t.Errorf("after a purge: rewritten %v, candidates %q; want a rewrite detected and no mail read again", scan.Rewritten, subjects(scan))
			}
			pos = scan.Next

			pi.Deliver(t, testkit.Mail(t, "stable-4.4.247-rc1.eml"))
			pi.Rollover(t, testkit.Mail(t, "stable-6.12.12-rc2.eml"))
			pos = scanInbox(t, ctx, cfg, pos, []string{"[PATCH 4.4 00/24] 4.4.247-rc1 review", "[PATCH 6.12 00/41] 6.12.12-rc2 review"})
			var p inboxPosition
			if err := json.Unmarshal(pos, &p); err != nil || p.Epoch != 1 {
				t.Errorf("position after the rollover = %s (%v), want epoch 1", pos, err)
			}
			scanInbox(t, ctx, cfg, pos, nil)
		})
	}
}

// TestPublicInboxSince: a first run with a start date reads the newest
// epoch's mail dated after it.
func TestPublicInboxSince(t *testing.T) {
	ctx := context.Background()
	pi := testkit.NewPublicInbox(t)
	for _, m := range []string{"stable-6.1.12-rc1.eml", "rt-stable-6.1.79-rt25.eml", "stable-6.12.51-rc1.eml"} {
		pi.Deliver(t, testkit.Mail(t, m))
	}
	cfg := PublicInboxConfig{URL: pi.Dir, Since: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)}
	scanInbox(t, ctx, cfg, nil, []string{"[ANNOUNCE] 6.1.79-rt25", "[PATCH 6.12 00/10] 6.12.51-rc1 review"})
	cfg.Since = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	pos := scanInbox(t, ctx, cfg, nil, []string{"[PATCH 6.1 000/114] 6.1.12-rc1 review", "[ANNOUNCE] 6.1.79-rt25", "[PATCH 6.12 00/10] 6.12.51-rc1 review"})
	scanInbox(t, ctx, cfg, pos, nil)

	// A new epoch holding only mail after Since: the first run goes back
	// to the epoch before for the rest.
	pi.Rollover(t, testkit.Mail(t, "stable-6.12.12-rc2.eml"))
	cfg.Since = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	scanInbox(t, ctx, cfg, nil, []string{"[ANNOUNCE] 6.1.79-rt25", "[PATCH 6.12 00/10] 6.12.51-rc1 review", "[PATCH 6.12 00/41] 6.12.12-rc2 review"})
}

func TestPublicInboxNotAnInbox(t *testing.T) {
	_, err := ScanPublicInbox(context.Background(), PublicInboxConfig{URL: t.TempDir()}, nil)
	if err == nil || !strings.Contains(err.Error(), "not a public-inbox v2 inbox") {
		t.Errorf("err = %v, want it to say the directory is not an inbox", err)
	}
}

func scanRaw(t *testing.T, ctx context.Context, cfg PublicInboxConfig, pos []byte) SourceScan {
	t.Helper()
	scan, err := ScanPublicInbox(ctx, cfg, pos)
	if err != nil {
		t.Fatal(err)
	}
	return scan
}

// scanInbox scans from pos, checks the Subjects of the candidates and
// returns the next position.
func scanInbox(t *testing.T, ctx context.Context, cfg PublicInboxConfig, pos []byte, want []string) []byte {
	t.Helper()
	scan := scanRaw(t, ctx, cfg, pos)
	if got := subjects(scan); !slices.Equal(got, want) {
		t.Errorf("scan from %s: candidates %q, want %q", pos, got, want)
	}
	if scan.Rewritten {
		t.Errorf("scan from %s: rewritten, and nothing was", pos)
	}
	return scan.Next
}
