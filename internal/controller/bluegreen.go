package controller

import "context"

// reconcileBlueGreen runs one pass of a blue-green rollout.
func (c *rolloutContext) reconcileBlueGreen(ctx context.Context) error {
	c.specError("the blue-green strategy is not available in this build")
	return nil
}
