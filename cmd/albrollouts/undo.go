package main

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/albrollouts/albrollouts/internal/rolloutctl"
)

func init() {
	register(func() *cobra.Command {
		var toRevision int64
		return writeCommand("undo", "Roll back to the pod template of an earlier revision",
			`undo puts the pod template of an earlier ReplicaSet of the rollout back into
spec.template (the previous revision, or --to-revision), which starts an update
to it. It fails when that revision does not exist.`,
			func(cmd *cobra.Command) {
				cmd.Flags().Int64Var(&toRevision, "to-revision", 0, "revision to go back to (default: the previous one)")
			},
			func(cl *rolloutctl.Client, ctx context.Context, name string) (string, error) {
				if toRevision < 0 {
					return "", usageErrorf("--to-revision must be 1 or more (or 0 for the previous revision), got %d", toRevision)
				}
				return cl.Undo(ctx, name, toRevision)
			})
	})
}
