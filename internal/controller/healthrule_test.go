package controller

import (
	"strings"
	"testing"

	"k8s.io/utils/ptr"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
)

// The health rule (package verify, Destination.VerifiedWeight), end to end
// through the controller: a step that lowers the stable group's weight is
// not held back by the stable targets' health, which is reported; a step
// that raises the canary's is, whatever a stale read says.

// The stable version fails its group's health check after the first step
// was verified: the next step gives the stable group less traffic, so it
// completes (holding it would keep more traffic on the failing targets).
func TestStepLoweringStableIsNotHeldByItsHealth(t *testing.T) {
	s := newSim(t)
	s.lenient = true // the stable group fails its check: the world's doing
	s.canaryRollout(4, weightStep(25), pauseStep(""), weightStep(50), pauseStep(""))
	s.run(50, "healthy on v1", isHealthy)
	setImage(s, "v2")
	s.run(80, "paused at 25%", func(ro *v1alpha1.Rollout) bool { return ro.Status.Phase == v1alpha1.RolloutPhasePaused })
	s.unhealthyIn["web-stable"] = "v1"
	promoteCLI(s)
	ro := s.run(80, "paused at 50%", func(ro *v1alpha1.Rollout) bool {
		return ro.Status.Phase == v1alpha1.RolloutPhasePaused && ptr.Deref(ro.Status.CurrentStepIndex, 0) == 3
	})
	if s.albWeights["web-canary"] != 50 {
		t.Fatalf("ALB %v at the second pause", s.albWeights)
	}
	v := ro.Status.Verification
	if v == nil || v.Phase != v1alpha1.VerificationVerified || !strings.Contains(v.Message, "keeps or loses traffic") {
		t.Fatalf("verification of the 50%% step: %+v", v)
	}
	if v.VerifiedBefore == nil || v.Expected == nil {
		t.Fatalf("the step's record keeps no baseline: %+v", v)
	}
	// Each step's input named the stable group's verified weight, and the
	// canary's only where its targets were the same.
	last := s.v.inputs[len(s.v.inputs)-1]
	for _, d := range last.Destinations {
		if d.Service == "web-stable" && (d.VerifiedWeight == nil || *d.VerifiedWeight != 75) {
			t.Fatalf("stable destination of the last check: %+v", d)
		}
	}
}

// The canary breaks in its group after its first step was verified: the
// next step raises its weight, so it is judged on a health read after the
// change and waits (then times out and aborts), never moving on.
func TestStepRaisingCanaryIsHeldByItsHealth(t *testing.T) {
	s := newSim(t)
	s.lenient = true // the canary group fails its check while at 25%: the world's doing
	s.canaryRollout(4, weightStep(25), pauseStep(""), weightStep(50), pauseStep(""))
	s.run(50, "healthy on v1", isHealthy)
	setImage(s, "v2")
	s.run(80, "paused at 25%", func(ro *v1alpha1.Rollout) bool { return ro.Status.Phase == v1alpha1.RolloutPhasePaused })
	s.unhealthyIn["web-canary"] = "v2"
	promoteCLI(s)
	s.run(200, "aborted", func(ro *v1alpha1.Rollout) bool {
		if s.albWeights["web-canary"] > 25 {
			t.Fatalf("pass %d: the canary got weight %d while failing its health check", s.passes, s.albWeights["web-canary"])
		}
		return ro.Status.Abort
	})
}
