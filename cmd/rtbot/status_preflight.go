package main

import (
	"context"
	"fmt"

	"github.com/rtbot/rtbot/internal/state"
)

// preflightAttention is what `rtbot status` says about the problems the
// preflights of the last passes found and that are not over: each stops
// every pass until it is fixed. cfg is the configuration file, for the
// command to type.
func preflightAttention(ctx context.Context, cfg string, st *state.Store) ([]string, error) {
	problems, err := st.PreflightProblems(ctx)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, pr := range problems {
		mailed := "not mailed yet"
		if pr.Mailed() {
			mailed = "mailed to the maintainers " + pr.MailedAt.Format("2006-01-02 15:04")
		}
		out = append(out, fmt.Sprintf("PREFLIGHT PROBLEM since %s (%s): %s; no pass reads mail until it is fixed: "+
			"`rtbot check --config %s` checks again", pr.FirstSeen.Format("2006-01-02 15:04"), mailed, pr.Text, cfg))
	}
	return out, nil
}
