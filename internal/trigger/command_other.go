//go:build !unix

package trigger

import (
	"context"
	"errors"
)

// fireCommand needs process groups, which only Unix systems have.
func fireCommand(ctx context.Context, t Spec, ev Event, dir string, res *Result) error {
	res.ExitCode = -1
	return permanent(t, errors.New("command triggers need a Unix system"))
}
