package main

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/albrollouts/albrollouts/internal/rolloutctl"
)

func init() {
	register(func() *cobra.Command {
		var full bool
		return writeCommand("promote", "Resume a paused rollout, or skip its current canary step",
			`promote resumes a rollout: it clears spec.paused and the pause conditions (a
pause step, a blue-green pause before the switch). A canary rollout that is not
paused at a step has its current step skipped instead. --full skips every
remaining step, pause and verification wait and promotes the new version at once.
It fails when there is nothing to promote.`,
			func(cmd *cobra.Command) {
				cmd.Flags().BoolVar(&full, "full", false, "skip all remaining steps and pauses and promote the new version now")
			},
			func(cl *rolloutctl.Client, ctx context.Context, name string) (string, error) {
				return cl.Promote(ctx, name, full)
			})
	})
}
