package controller

// Red-team tests, fourth round: each demonstrates a violation of the safety
// rules (controller.go, "The safety rules") on the current code, with the
// real engine (verify.Decide) judging the model ALBs of the simulator. They
// are expected to FAIL until the controller is fixed.

import (
	"testing"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
)

// RULE 2: a Service the rollout no longer names, which it keeps pinned on
// the old pods because an ALB Ingress routes to it directly, has those pods
// scaled down under it: the Ingress path's target group is left with no
// target at all.
//
// A blue-green rollout in selector mode (Argo's manifests: the Ingress web
// routes to web-active directly) becomes a canary (Argo Rollouts' e2e
// TestBlueGreenToCanary). releaseServices (ownership.go) sees that an ALB
// Ingress names web-active and deliberately keeps its selector on the v1
// hash ("widening it would register pods in a target group under traffic
// before they are healthy there"): the controller knows production traffic
// depends on web-active. But nothing keeps the pods it selects: the canary's
// scaleDownOld only counts the canary and stable Services as "selected",
// and the write guard (vetScale, guardedServices) looks only at the
// Services the spec names and formerServices (those the recorded weights
// name), not at released Services an Ingress routes to
// (observe.go: plainBackends is filled only for rolloutServices). Once
// v2 is promoted, v1 is an old ReplicaSet that "nothing selects", and
// 30 s later it is scaled to 0: every request of the Ingress path goes to
// an empty target group (503).
//
// Sequence: blue-green selector mode, 2 replicas, Ingress web -> web-active
// (port 80); v1 healthy; the strategy is changed to a basic canary
// (setWeight 50, pause) together with a template change (v2); paused at
// 50 %; promote.
func TestRedTeam4ReleasedServiceKeptForItsIngressLosesItsPods(t *testing.T) {
	s := newSim(t)
	s.blueGreenRollout(2, bgOptions{})
	s.run(60, "healthy on v1", isHealthy)
	s.steps(3) // the plain path's group has had a healthy target
	s.update(func(ro *v1alpha1.Rollout) {
		ro.Spec.Strategy.BlueGreen = nil
		ro.Spec.Strategy.Canary = &v1alpha1.CanaryStrategy{Steps: []v1alpha1.CanaryStep{weightStep(50), pauseStep("")}}
		ro.Spec.Template.Spec.Containers[0].Image = "demo:v2"
	})
	s.run(80, "paused at 50%", paused)
	promoteCLI(s)
	// checkInvariants fails the test when the path to web-active has no
	// healthy target.
	s.run(150, "healthy on v2", func(ro *v1alpha1.Rollout) bool { return isHealthy(ro) })
	s.steps(60)
}
