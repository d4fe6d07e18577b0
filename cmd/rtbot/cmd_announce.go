package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/rtbot/rtbot/internal/mailwatch"
	"github.com/spf13/cobra"
)

// announceLine is one line of `rtbot announce --json` (docs/json.md, "rtbot
// announce"). Every key is always present, empty when unknown, except reason,
// which only a "none" line has.
type announceLine struct {
	Schema    int    `json:"schema"` // jsonSchema (json.go)
	File      string `json:"file"`
	Kind      string `json:"kind"`
	Series    string `json:"series"`
	Version   string `json:"version"`
	RC        int    `json:"rc"`
	GitURL    string `json:"git_url"`
	GitBranch string `json:"git_branch"`
	PatchURL  string `json:"patch_url"`
	Deadline  string `json:"deadline"` // RFC 3339, UTC
	MessageID string `json:"message_id"`
	Reason    string `json:"reason,omitempty"`
}

// newAnnounceCmd is `rtbot announce [--json] FILE...`: it classifies each
// mail file offline and prints one line per file. Exit 2 on a usage error, 1
// if any file could not be read (the others are still classified), else 0.
func newAnnounceCmd() *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "announce [--json] FILE...",
		Short: "classify mail files as stable-rc / RT announcements",
		Long: `Classify mail files offline, as the watcher does, one line per file: the
kind (stable-rc, rt-stable, rt-rc, rt-devel or none, with the reason),
the version, the git tree and branch, the patch, the deadline and the
Message-ID. Exit 1 if a file could not be read (the others are still
classified).`,
		Args: minArgs(1, "no mail files given"),
		RunE: func(c *cobra.Command, args []string) error {
			return cmdAnnounce(c.Context(), args, asJSON, c.OutOrStdout(), c.ErrOrStderr())
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print one JSON object per file, one per line")
	return c
}

// cmdAnnounce classifies each mail file of files and prints one line per
// file.
func cmdAnnounce(ctx context.Context, files []string, asJSON bool, stdout, stderr io.Writer) error {
	enc := json.NewEncoder(stdout)
	enc.SetEscapeHTML(false)
	unread := 0
	for _, file := range files {
		if err := ctx.Err(); err != nil {
			return err
		}
		a, err := announceFile(file)
		if err != nil {
			// The line of a file that cannot be read goes to stderr, in
			// its place among the other files' lines, and the rest go on.
			fmt.Fprintf(stderr, "rtbot announce: %v\n", err)
			unread++
			continue
		}
		if asJSON {
			err = enc.Encode(toAnnounceLine(file, a))
		} else {
			_, err = fmt.Fprintln(stdout, announceText(file, a))
		}
		if err != nil {
			return fmt.Errorf("writing output: %w", err)
		}
	}
	if unread > 0 {
		return fmt.Errorf("%d of %d file(s) could not be read: %w", unread, len(files), errReported)
	}
	return nil
}

// announceFile recognises the mail in file.
func announceFile(file string) (mailwatch.Announcement, error) {
	f, err := os.Open(file)
	if err != nil {
		return mailwatch.Announcement{}, err
	}
	defer f.Close()
	a, err := mailwatch.Recognize(f)
	if err != nil {
		return a, fmt.Errorf("%s: %w", file, err)
	}
	return a, nil
}

func toAnnounceLine(file string, a mailwatch.Announcement) announceLine {
	l := announceLine{
		Schema: jsonSchema, File: file, Kind: string(a.Kind), Series: a.Series, Version: a.Version, RC: a.RC,
		GitURL: a.GitURL, GitBranch: a.GitBranch, PatchURL: a.PatchURL, MessageID: a.MessageID,
	}
	if !a.Deadline.IsZero() {
		l.Deadline = a.Deadline.UTC().Format(time.RFC3339)
	}
	if a.Kind == mailwatch.KindNone {
		l.Reason = a.Reason
	}
	return l
}

// announceText is the human-readable line for one file, e.g.
//
//	mail.eml: stable-rc 6.1.12-rc1, git://... linux-6.1.y, deadline 2023-02-15T14:47:00Z, <id@host>
func announceText(file string, a mailwatch.Announcement) string {
	if a.Kind == mailwatch.KindNone {
		return fmt.Sprintf("%s: none: %s", file, a.Reason)
	}
	v := a.Version
	if a.RC > 0 {
		v += fmt.Sprintf("-rc%d", a.RC)
	}
	parts := []string{fmt.Sprintf("%s %s", a.Kind, v)}
	if a.GitURL != "" {
		parts = append(parts, strings.TrimSpace(a.GitURL+" "+a.GitBranch))
	}
	if a.PatchURL != "" {
		parts = append(parts, "patch "+a.PatchURL)
	}
	if !a.Deadline.IsZero() {
		parts = append(parts, "deadline "+a.Deadline.UTC().Format(time.RFC3339))
	}
	if a.MessageID != "" {
		parts = append(parts, "<"+a.MessageID+">")
	}
	return file + ": " + strings.Join(parts, ", ")
}
