package release

import (
	"fmt"
	"net/mail"
	"strings"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/rtbot/rtbot/internal/merger"
)

// GitIdentity returns the identity git's configuration gives the commits
// of repo: user.name and user.email, each from the repository's own
// config, else the user's ($XDG_CONFIG_HOME/git/config, ~/.gitconfig or
// ~/.config/git/config, the first that exists), else the system's
// (/etc/gitconfig), as git resolves them. It reads the files with go-git,
// like the rest of the package (no git binary), so [include] and
// [includeIf] sections are not followed. It fails naming the keys that are
// not set, or an email that is not a plain address.
func GitIdentity(repo *git.Repository) (merger.Identity, error) {
	cfg, err := repo.ConfigScoped(config.SystemScope)
	if err != nil {
		return merger.Identity{}, fmt.Errorf("git config: %w", err)
	}
	id := merger.Identity{Name: strings.TrimSpace(cfg.User.Name), Email: strings.TrimSpace(cfg.User.Email)}
	var missing []string
	if id.Name == "" {
		missing = append(missing, "user.name")
	}
	if id.Email == "" {
		missing = append(missing, "user.email")
	}
	if len(missing) > 0 {
		return merger.Identity{}, fmt.Errorf("git's config (the repository's, ~/.gitconfig, /etc/gitconfig) sets no %s",
			strings.Join(missing, " and no "))
	}
	if a, err := mail.ParseAddress(id.Email); err != nil || a.Address != id.Email {
		return merger.Identity{}, fmt.Errorf("git config user.email %q: want a plain address", id.Email)
	}
	return id, nil
}
