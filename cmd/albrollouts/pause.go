package main

import (
	"github.com/spf13/cobra"

	"github.com/albrollouts/albrollouts/internal/rolloutctl"
)

func init() {
	register(func() *cobra.Command {
		return writeCommand("pause", "Pause a rollout at its current step",
			`pause sets spec.paused: the rollout stops at its current step (no scaling, no
service switch, no step completes) until 'promote' resumes it.`,
			nil, (*rolloutctl.Client).Pause)
	})
}
