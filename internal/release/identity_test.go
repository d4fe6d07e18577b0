package release

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	git "github.com/go-git/go-git/v5"
	"github.com/rtbot/rtbot/internal/merger"
)

// TestGitIdentity: the identity comes from the repository's config, then
// the user's, key by key as git resolves them; with neither, the error
// names the keys to set.
func TestGitIdentity(t *testing.T) {
	tests := []struct {
		name          string
		local, global string // [user] section bodies; "" for none
		want          merger.Identity
		errHas        string
	}{
		{name: "repository", local: "name = Local L\nemail = l@example.org", global: "name = Global G\nemail = g@example.org",
			want: merger.Identity{Name: "Local L", Email: "l@example.org"}},
		{name: "global", global: "name = Global G\nemail = g@example.org", want: merger.Identity{Name: "Global G", Email: "g@example.org"}},
		{name: "key by key", local: "name = Local L", global: "name = Global G\nemail = g@example.org",
			want: merger.Identity{Name: "Local L", Email: "g@example.org"}},
		{name: "neither", errHas: "sets no user.name and no user.email"},
		{name: "no email", global: "name = Global G", errHas: "sets no user.email"},
		{name: "not an address", local: "name = L\nemail = Someone <s@example.org>", errHas: "plain address"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			home := t.TempDir()
			t.Setenv("HOME", home)
			t.Setenv("XDG_CONFIG_HOME", "")
			if tt.global != "" {
				if err := os.WriteFile(filepath.Join(home, ".gitconfig"), []byte("[user]\n"+tt.global+"\n"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			dir := t.TempDir()
			if _, err := git.PlainInit(dir, true); err != nil {
				t.Fatal(err)
			}
			if tt.local != "" {
				f, err := os.OpenFile(filepath.Join(dir, "config"), os.O_APPEND|os.O_WRONLY, 0)
				if err == nil {
					_, err = f.WriteString("[user]\n" + tt.local + "\n")
					f.Close()
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			repo, err := git.PlainOpen(dir)
			if err != nil {
				t.Fatal(err)
			}
			got, err := GitIdentity(repo)
			switch {
			case tt.errHas != "":
				if err == nil || !strings.Contains(err.Error(), tt.errHas) {
					t.Errorf("GitIdentity = %+v, %v; want an error saying %q", got, err, tt.errHas)
				}
			case err != nil || got != tt.want:
				t.Errorf("GitIdentity = %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}
