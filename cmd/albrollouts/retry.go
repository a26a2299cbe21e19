package main

import (
	"github.com/spf13/cobra"

	"github.com/albrollouts/albrollouts/internal/rolloutctl"
)

func init() {
	register(func() *cobra.Command {
		return writeCommand("retry", "Start an aborted update again",
			`retry clears status.abort of an aborted rollout: the update starts again from
the first step. It fails when the rollout is not aborted.`,
			nil, (*rolloutctl.Client).Retry)
	})
}
