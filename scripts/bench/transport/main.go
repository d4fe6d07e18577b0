// Command transport runs one of rtbot's transport operations (package
// remote) by itself, for scripts/bench/scale.sh to time against git:
//
//	transport fetch REPO REMOTE BRANCH REF   # remote.Fetch; prints the commit
//	transport push REPO REMOTE BRANCH COMMIT LEASE  # remote.Push (LEASE 0: absent)
//
// It uses the deadline the pipeline gives these operations by default.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/rtbot/rtbot/internal/remote"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "transport:", err)
		os.Exit(1)
	}
}

// run runs the operation args name.
func run(args []string) error {
	ctx, cancel := context.WithTimeout(context.Background(), remote.DefaultTimeout)
	defer cancel()
	switch {
	case len(args) == 5 && args[0] == "fetch":
		h, err := remote.Fetch(ctx, args[1], remote.Endpoint{URL: args[2]}, args[3], args[4], nil)
		if err != nil {
			return err
		}
		fmt.Println(h)
		return nil
	case len(args) == 6 && args[0] == "push":
		lease := plumbing.ZeroHash
		if args[5] != "0" {
			lease = plumbing.NewHash(args[5])
		}
		return remote.Push(ctx, args[1], remote.Endpoint{URL: args[2]}, args[3], plumbing.NewHash(args[4]), lease, nil)
	}
	return fmt.Errorf("usage: transport fetch REPO REMOTE BRANCH REF | push REPO REMOTE BRANCH COMMIT LEASE")
}
