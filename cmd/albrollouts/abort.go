package main

import (
	"github.com/spf13/cobra"

	"github.com/albrollouts/albrollouts/internal/rolloutctl"
)

func init() {
	register(func() *cobra.Command {
		return writeCommand("abort", "Abort the update: send all traffic back to the stable version",
			`abort sets status.abort: the controller moves all traffic back to the stable
ReplicaSet (verifying it on the ALB) and scales the new one down after
abortScaleDownDelaySeconds. The rollout is then Degraded until 'retry' or a new
update. It fails when no update is in progress.`,
			nil, (*rolloutctl.Client).Abort)
	})
}
