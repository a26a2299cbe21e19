package controller

import (
	"context"
	"fmt"

	"github.com/albrollouts/albrollouts/internal/verify"
)

// blueGreenExpectation is what the ALB should be doing for a blue-green
// rollout now: in ALB mode the forward action's active and preview weights
// with the pods each Service selects; in Service-selector mode all of the
// active Service's rules to its group, with the pods it selects.
func (c *rolloutContext) blueGreenExpectation() (*verifySpec, error) {
	t, ok := c.observeBlueGreen(context.Background())
	if !ok {
		return nil, fmt.Errorf("%s", joinMsgs(c.invalid))
	}
	if t.alb {
		if !t.written {
			return nil, fmt.Errorf("the Ingresses of rollout %s/%s carry no valid action annotation yet", c.ro.Namespace, c.ro.Name)
		}
		return c.bgSpec(t, t.previewW, t.activeW), nil
	}
	if len(t.activeIngs) == 0 {
		return nil, fmt.Errorf("no ALB Ingress of namespace %s routes to the active service %s", c.ro.Namespace, t.activeSvc.Name)
	}
	spec := plainSpec(t.activeIngs, t.activePort, verify.RoleActive, t.activeSvc, t.activeSel, c.servedPods(t.activeSvc, t.activeSel), false)
	if c.forwardedTo(t.activeSvc.Name) {
		spec.onHealth() // an action the rollout does not write: its weights are its writer's
	}
	return spec, nil
}
