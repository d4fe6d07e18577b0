package objstore_test

import (
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/rtbot/rtbot/internal/fixtures"
	"github.com/rtbot/rtbot/internal/objstore"
	"github.com/rtbot/rtbot/internal/testkit"
)

// TestOpenRepositoryAlternates: a repository that borrows its objects from
// another (`git clone --shared` or `--reference`, as kernel maintainers
// keep their trees) opens with OpenRepository as the repository it borrows
// from, whether the borrowed objects are packed or loose: the candidate's
// tag and commit, all borrowed, are found. (That a rebase in it makes the
// same tree and leaves it sound is merger's TestAlternates.)
func TestOpenRepositoryAlternates(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	for _, packed := range []bool{true, false} {
		name := map[bool]string{true: "packed", false: "loose"}[packed]
		t.Run(name, func(t *testing.T) {
			d, err := fixtures.BuildDemo(filepath.Join(t.TempDir(), "demo"))
			if err != nil {
				t.Fatal(err)
			}
			shared := testkit.SharedClone(t, d.Repo, packed)
			repo, err := objstore.OpenRepository(shared)
			if err != nil {
				t.Fatal(err)
			}
			tag, err := repo.Tag("v6.1.12-rc1")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := repo.CommitObject(tag.Hash()); err != nil {
				t.Errorf("OpenRepository: the candidate commit, borrowed: %v", err)
			}
		})
	}
}
