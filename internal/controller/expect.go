package controller

import (
	"context"
	"fmt"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
	"github.com/albrollouts/albrollouts/internal/replicaset"
	"github.com/albrollouts/albrollouts/internal/verify"
)

// Expectation is what the ALB should be doing for a rollout right now, as
// the controller would verify it: the weights written on its Ingresses, the
// pods each Service selects as targets, the header routes. It reads the
// rollout's objects through c (a plain client is enough; nothing is
// written), for a one-shot check from an operator's machine (`albrollouts
// verify`). desiredAt is the freshness bound of the check.
func Expectation(ctx context.Context, c client.Client, ro *v1alpha1.Rollout, desiredAt time.Time, timeout time.Duration) (verify.Input, error) {
	r := New(c, nil, nil, Options{VerifyByDefault: true, VerifyTimeout: timeout})
	obs, err := r.observe(ctx, ro)
	if err != nil {
		return verify.Input{}, err
	}
	rc := newRolloutContext(r, ro, obs)
	rc.newHash = replicaset.PodTemplateHash(&ro.Spec.Template, ro.Status.CollisionCount)
	var spec *verifySpec
	switch {
	case ro.Spec.Strategy.Canary != nil && ro.Spec.Strategy.Canary.TrafficRouting != nil && ro.Spec.Strategy.Canary.TrafficRouting.ALB != nil:
		t, ok := rc.observeTraffic()
		if !ok {
			return verify.Input{}, fmt.Errorf("%s", joinMsgs(rc.invalid))
		}
		if !t.written {
			return verify.Input{}, fmt.Errorf("the Ingresses of rollout %s/%s carry no valid action annotation for %s and %s yet", ro.Namespace, ro.Name, t.canaryName, t.stableName)
		}
		spec = rc.canarySpec(t, t.canaryW, t.stableW, t.routes)
	case ro.Spec.Strategy.BlueGreen != nil:
		spec, err = rc.blueGreenExpectation()
		if err != nil {
			return verify.Input{}, err
		}
	default:
		return verify.Input{}, fmt.Errorf("rollout %s/%s has no ALB traffic routing to verify", ro.Namespace, ro.Name)
	}
	if spec == nil {
		return verify.Input{}, fmt.Errorf("rollout %s/%s has nothing to verify on an ALB", ro.Namespace, ro.Name)
	}
	return rc.input(spec, desiredAt, nil)
}
