package config_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rtbot/rtbot/internal/config"
)

const imapTable = "[imap]\naddr = \"imap.example.org:993\"\nusername = \"rtbot\"\npassword_env = \"IMAP_PW\"\n"

// TestSourceValidation checks the [source] table and the OAuth2 keys.
func TestSourceValidation(t *testing.T) {
	lore := "[source]\nkind = \"public-inbox\"\nurl = \"https://lore.kernel.org/stable/\"\n"
	cases := []validationCase{
		{"source imap explicit", "[imap]", "[source]\nkind = \"imap\"\n\n[imap]", "", ""},
		{"source lore", imapTable, lore, "", ""},
		{"source lore with since", imapTable, lore + "since = \"2025-06-01\"\n", "", ""},
		{"source local inbox", imapTable, "[source]\nkind = \"public-inbox\"\npath = \"/srv/lore/stable\"\n", "", ""},
		{"source maildir", imapTable, "[source]\nkind = \"maildir\"\npath = \"/home/rtbot/Maildir\"\n", "", ""},
		{"source kind", imapTable, "[source]\nkind = \"pop3\"\n", "source.kind", "not one of"},
		{"source and imap", "[imap]", lore + "\n[imap]", "imap", "source.kind is"},
		{"source imap with path", "[imap]", "[source]\npath = \"/m\"\n\n[imap]", "source", "other [source] keys"},
		{"source maildir no path", imapTable, "[source]\nkind = \"maildir\"\n", "source.path", "required"},
		{"source maildir url", imapTable, "[source]\nkind = \"maildir\"\npath = \"/m\"\nurl = \"https://x/\"\n", "source.url", "public-inbox"},
		{"source inbox no url", imapTable, "[source]\nkind = \"public-inbox\"\n", "source.url", "required"},
		{"source inbox http", imapTable, "[source]\nkind = \"public-inbox\"\nurl = \"http://lore.kernel.org/stable/\"\n", "source.url", "loopback"},
		{"source inbox http loopback", imapTable, "[source]\nkind = \"public-inbox\"\nurl = \"http://127.0.0.1:8080/stable/\"\n", "", ""},
		{"source inbox credentials", imapTable, "[source]\nkind = \"public-inbox\"\nurl = \"https://u:p@lore.kernel.org/stable/\"\n", "source.url", "credentials"},
		{"source since", imapTable, lore + "since = \"last week\"\n", "source.since", "not a date"},
		{"source seen_limit for inbox", imapTable, lore + "seen_limit = 500\n", "source.seen_limit", "maildir"},
		{"source seen_limit small", imapTable, "[source]\nkind = \"maildir\"\npath = \"/m\"\nseen_limit = 3\n", "source.seen_limit", "at least"},
		{"source poll", imapTable, lore + "poll = \"1ms\"\n", "source.poll", "at least"},
		{"oauth2 token file", `password_env = "IMAP_PW"`, "auth = \"oauth2\"\ntoken_file = \"/etc/rtbot/token\"", "", ""},
		{"oauth2 token command", `password_env = "IMAP_PW"`, "auth = \"oauth2\"\ntoken_command = [\"oama\", \"access\", \"rtbot@example.org\"]", "", ""},
		{"oauth2 no token", `password_env = "IMAP_PW"`, "auth = \"oauth2\"", "imap.token_file", "required"},
		{"oauth2 both", `password_env = "IMAP_PW"`, "auth = \"oauth2\"\ntoken_file = \"t\"\ntoken_command = [\"x\"]", "imap.token_command", "not both"},
		{"oauth2 and password", `password_env = "IMAP_PW"`, "password_env = \"IMAP_PW\"\nauth = \"oauth2\"\ntoken_file = \"t\"", "imap.password_file", "remove"},
		{"oauth2 empty command", `password_env = "IMAP_PW"`, "auth = \"oauth2\"\ntoken_command = [\"\"]", "imap.token_command", "empty"},
		{"token without oauth2", `password_env = "IMAP_PW"`, "password_env = \"IMAP_PW\"\ntoken_file = \"t\"", "imap.token_file", "oauth2"},
		{"auth unknown", `password_env = "IMAP_PW"`, "password_env = \"IMAP_PW\"\nauth = \"kerberos\"", "imap.auth", "not"},
		{"smtp oauth2", `tls = "starttls"`, "tls = \"starttls\"\nusername = \"me\"\nauth = \"oauth2\"\ntoken_command = [\"helper\"]", "", ""},
		{"oauth2 plain to a remote host", `addr = "imap.example.org:993"`, "addr = \"imap.example.org:143\"\ntls = \"plain\"\nauth = \"oauth2\"\ntoken_file = \"t\"", "imap.tls", "loopback"},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) { checkValidation(t, tt) })
	}
}

func TestSourceDefaults(t *testing.T) {
	c := mustParse(t, minimal)
	if c.Source.Kind != config.SourceIMAP {
		t.Errorf("kind = %q, want imap by default", c.Source.Kind)
	}
	c = mustParse(t, strings.Replace(minimal, imapTable, "[source]\nkind = \"public-inbox\"\nurl = \"https://lore.kernel.org/stable\"\nsince = \"2025-06-01\"\n", 1))
	if c.Source.URL != "https://lore.kernel.org/stable/" || c.Source.Poll.Duration <= 0 || c.Source.Timeout.Duration <= 0 {
		t.Errorf("source = %+v; want the URL ending in / and defaults filled in", c.Source)
	}
	if got := c.Source.SinceTime(); !got.Equal(time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("since = %v", got)
	}
}

func TestToken(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	file := filepath.Join(dir, "token")
	if err := os.WriteFile(file, []byte("ya29.file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		s       config.Server
		want    string
		wantErr string
	}{
		{"file", config.Server{TokenFile: file}, "ya29.file", ""},
		{"command", config.Server{TokenCommand: []string{"printf", "%s\\n", "ya29.command"}}, "ya29.command", ""},
		{"no shell", config.Server{TokenCommand: []string{"echo", "$HOME;", "x"}}, "$HOME; x", ""},
		{"command fails", config.Server{TokenCommand: []string{"sh", "-c", "echo expired >&2; exit 3"}}, "", "exit status 3: expired"},
		{"command prints nothing", config.Server{TokenCommand: []string{"true"}}, "", "one line"},
		{"two lines", config.Server{TokenCommand: []string{"printf", "a\\nb\\n"}}, "", "one line"},
		{"no such program", config.Server{TokenCommand: []string{filepath.Join(dir, "missing")}}, "", "token_command"},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.s.Token(ctx)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Token() = %q, %v; want an error containing %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("Token() = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}
