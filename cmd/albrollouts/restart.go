package main

import (
	"context"
	"time"

	"github.com/spf13/cobra"

	"github.com/albrollouts/albrollouts/internal/rolloutctl"
)

func init() {
	register(func() *cobra.Command {
		var in time.Duration
		return writeCommand("restart", "Replace every pod of a rollout",
			`restart sets spec.restartAt to now (UTC): the controller replaces, within
maxUnavailable and the PodDisruptionBudgets, every pod created before then.`,
			func(cmd *cobra.Command) {
				cmd.Flags().DurationVar(&in, "in", 0, "restart this long from now instead (e.g. 30s, 5m)")
			},
			func(cl *rolloutctl.Client, ctx context.Context, name string) (string, error) {
				if in < 0 {
					return "", usageErrorf("--in must not be negative, got %s", in)
				}
				return cl.Restart(ctx, name, in)
			})
	})
}
