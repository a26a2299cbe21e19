package controller

import (
	"testing"

	"k8s.io/utils/ptr"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
	"github.com/albrollouts/albrollouts/internal/replicaset"
)

// dynamicStableScale abort as Argo Rollouts' e2e TestCanaryDynamicStableScale
// runs it: at 75 % on the canary the stable side runs one pod; after the
// abort the stable ReplicaSet scales back up and the canary's weight steps
// down as stable pods turn ready (each step checked healthy first), the
// canary shrinking with it, instead of waiting for every stable pod.
func TestDynamicStableScaleAbortStepsTheWeightDown(t *testing.T) {
	s := newSim(t)
	s.canaryRollout(4, weightStep(25), pauseStep(""), weightStep(75), pauseStep(""))
	s.update(func(ro *v1alpha1.Rollout) {
		ro.Spec.Strategy.Canary.DynamicStableScale = true
		ro.Spec.Strategy.Canary.ScaleDownDelaySeconds = nil
	})
	v1 := s.run(60, "healthy on v1", isHealthy).Status.StableRS
	setImage(s, "v2")
	s.run(100, "paused at 25%", paused)
	s.updateStatus(func(st *v1alpha1.RolloutStatus) { st.PauseConditions = nil })
	ro := s.run(100, "paused at 75%", func(ro *v1alpha1.Rollout) bool {
		return paused(ro) && ptr.Deref(ro.Status.CurrentStepIndex, 0) == 3
	})
	v2 := ro.Status.CurrentPodHash
	if s.replicasOf(v1) != 1 || s.replicasOf(v2) != 3 {
		t.Fatalf("at 75%%: stable %d, canary %d pods; want 1 and 3", s.replicasOf(v1), s.replicasOf(v2))
	}
	s.podReadyLag, s.podReadyStagger = 2, 3 // the new stable pods turn ready one by one
	s.updateStatus(func(st *v1alpha1.RolloutStatus) { st.Abort = true })
	var weights []int32
	s.run(200, "aborted, all on stable", func(ro *v1alpha1.Rollout) bool {
		if w := s.albWeights["web-canary"]; len(weights) == 0 || weights[len(weights)-1] != w {
			weights = append(weights, w)
		}
		return ro.Status.Abort && s.albWeights["web-canary"] == 0 && s.replicasOf(v1) == 4
	})
	// 75 -> at least one intermediate weight -> 0.
	t.Logf("canary weights after the abort: %v", weights)
	if len(weights) < 3 {
		t.Fatalf("canary weights after the abort %v: want it stepped down, not 75 -> 0 at once", weights)
	}
}

// Argo Rollouts' e2e TestCanaryDynamicStableScaleRollbackToStable: undo to
// the stable revision while paused at 25 %: the stable ReplicaSet becomes
// the newest revision (3) and the update is over (no steps to walk again);
// the stable side scales back up to 4, and the canary keeps its pod and
// its weight until the stable pods can take the traffic back.
func TestDynamicStableScaleRollbackToStable(t *testing.T) {
	s := newSim(t)
	s.canaryRollout(4, weightStep(25), pauseStep(""), weightStep(75), pauseStep(""))
	s.update(func(ro *v1alpha1.Rollout) {
		ro.Spec.Strategy.Canary.DynamicStableScale = true
		ro.Spec.Strategy.Canary.ScaleDownDelaySeconds = nil
	})
	v1 := s.run(60, "healthy on v1", isHealthy).Status.StableRS
	setImage(s, "v2")
	v2 := s.run(100, "paused at 25%", paused).Status.CurrentPodHash
	if s.replicasOf(v1) != 3 || s.replicasOf(v2) != 1 {
		t.Fatalf("at 25%%: stable %d, canary %d pods; want 3 and 1", s.replicasOf(v1), s.replicasOf(v2))
	}
	s.podReadyLag = 1000 // the stable side's fourth pod is not ready yet
	setImage(s, "v1")
	s.run(20, "v1 is revision 3, the current hash", func(ro *v1alpha1.Rollout) bool {
		for _, rs := range s.replicaSets() {
			if replicaset.HashOf(&rs) == v1 && replicaset.Revision(&rs) == 3 {
				return ro.Status.CurrentPodHash == v1
			}
		}
		return false
	})
	s.steps(5)
	if s.replicasOf(v2) != 1 || s.albWeights["web-canary"] != 25 || s.replicasOf(v1) != 4 {
		t.Fatalf("v1's fourth pod not ready: stable %d pods, canary %d pods at weight %d; want 4, and 1 at 25", s.replicasOf(v1), s.replicasOf(v2), s.albWeights["web-canary"])
	}
	s.podReadyLag = 0
	s.run(100, "healthy on v1, v2 scaled down", func(ro *v1alpha1.Rollout) bool {
		return isHealthy(ro) && s.replicasOf(v1) == 4 && s.replicasOf(v2) == 0 && s.albWeights["web-canary"] == 0
	})
}
