package controller

import (
	"testing"

	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
)

func weightStep(w int32) v1alpha1.CanaryStep { return v1alpha1.CanaryStep{SetWeight: ptr.To(w)} }

func pauseStep(d string) v1alpha1.CanaryStep {
	if d == "" {
		return v1alpha1.CanaryStep{Pause: &v1alpha1.RolloutPause{}}
	}
	return v1alpha1.CanaryStep{Pause: &v1alpha1.RolloutPause{Duration: ptr.To(intstr.FromString(d))}}
}

func setImage(s *sim, v string) {
	s.update(func(ro *v1alpha1.Rollout) { ro.Spec.Template.Spec.Containers[0].Image = "demo:" + v })
}

func TestCanaryFullRolloutVerifiesEveryStep(t *testing.T) {
	s := newSim(t)
	s.lbLag = 2
	s.canaryRollout(4, weightStep(10), pauseStep("5s"), weightStep(50), pauseStep(""))
	ro := s.run(50, "healthy on v1", isHealthy)
	v1 := ro.Status.StableRS
	setImage(s, "v2")
	s.run(80, "paused at the indefinite pause", func(ro *v1alpha1.Rollout) bool {
		return ro.Status.Phase == v1alpha1.RolloutPhasePaused && ptr.Deref(ro.Status.CurrentStepIndex, 0) == 3
	})
	if got := s.albWeights["web-canary"]; got != 50 {
		t.Fatalf("at the pause the ALB gives the canary %d, want 50", got)
	}
	s.updateStatus(func(st *v1alpha1.RolloutStatus) { st.PauseConditions = nil })
	ro = s.run(100, "healthy on v2", func(ro *v1alpha1.Rollout) bool { return isHealthy(ro) && ro.Status.StableRS != v1 })
	if s.albWeights["web-stable"] != 100 || s.albWeights["web-canary"] != 0 {
		t.Fatalf("final ALB weights %v", s.albWeights)
	}
	if w := ro.Status.Canary.Weights; w == nil || w.Verified == nil || !*w.Verified || w.Canary.Weight != 0 {
		t.Fatalf("final weights status %+v", w)
	}
}
