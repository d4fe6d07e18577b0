//go:build !unix

package trigger

import (
	"context"
	"errors"

	"github.com/rtbot/rtbot/internal/config"
)

// fireCommand needs process groups, which only Unix systems have.
func fireCommand(ctx context.Context, t config.Trigger, ev Event, dir string, res *Result) error {
	res.ExitCode = -1
	return permanent(t, errors.New("command triggers need a Unix system"))
}
