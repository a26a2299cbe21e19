package controller

import (
	"testing"

	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
)

// Argo Rollouts' e2e TestCanaryPromoteFull: `promote --full` of an aborted
// canary (status.promoteFull on top of status.abort) clears the abort and
// promotes, verified like any promotion.
func TestCanaryPromoteFullOfAnAbortedUpdatePromotes(t *testing.T) {
	s := newSim(t)
	s.lbLag = 1
	s.canaryRollout(2, weightStep(50), pauseStep(""))
	v1 := s.run(50, "healthy on v1", isHealthy).Status.StableRS
	setImage(s, "v2")
	v2 := s.run(80, "paused at 50%", func(ro *v1alpha1.Rollout) bool { return ro.Status.Phase == v1alpha1.RolloutPhasePaused }).Status.CurrentPodHash
	s.updateStatus(func(st *v1alpha1.RolloutStatus) { st.Abort = true })
	s.run(200, "aborted with the canary scaled down", func(ro *v1alpha1.Rollout) bool {
		return ro.Status.Phase == v1alpha1.RolloutPhaseDegraded && s.replicasOf(v2) == 0
	})
	s.updateStatus(func(st *v1alpha1.RolloutStatus) { st.PromoteFull = true })
	ro := s.run(200, "healthy on v2", func(r *v1alpha1.Rollout) bool { return isHealthy(r) && r.Status.StableRS == v2 })
	if ro.Status.Abort || ro.Status.AbortedAt != nil || ro.Status.PromoteFull {
		t.Fatalf("abort %v abortedAt %v promoteFull %v after the full promotion", ro.Status.Abort, ro.Status.AbortedAt, ro.Status.PromoteFull)
	}
	if s.albWeights["web-stable"] != 100 || s.replicasOf(v2) != 2 || ro.Status.StableRS == v1 {
		t.Fatalf("ALB %v, v2 replicas %d", s.albWeights, s.replicasOf(v2))
	}
	if v := ro.Status.Verification; v == nil || v.Kind != v1alpha1.VerificationPromotion || v.Phase != v1alpha1.VerificationVerified {
		t.Fatalf("final verification %+v", v)
	}
}

// The same without traffic routing (the e2e test's own rollout).
func TestBasicCanaryPromoteFullOfAnAbortedUpdatePromotes(t *testing.T) {
	s := newSim(t)
	s.canaryRollout(1, pauseStep(""), pauseStep(""))
	s.update(func(ro *v1alpha1.Rollout) {
		cs := ro.Spec.Strategy.Canary
		cs.TrafficRouting, cs.ScaleDownDelaySeconds, cs.AbortScaleDownDelaySeconds = nil, nil, nil
		cs.MaxSurge, cs.MaxUnavailable = ptr.To(intstr.FromInt32(1)), ptr.To(intstr.FromInt32(0))
	})
	s.run(50, "healthy on v1", isHealthy)
	setImage(s, "v2")
	v2 := s.run(80, "paused", func(ro *v1alpha1.Rollout) bool { return ro.Status.Phase == v1alpha1.RolloutPhasePaused }).Status.CurrentPodHash
	s.updateStatus(func(st *v1alpha1.RolloutStatus) { st.Abort = true })
	s.run(80, "aborted", func(ro *v1alpha1.Rollout) bool { return ro.Status.Phase == v1alpha1.RolloutPhaseDegraded })
	s.updateStatus(func(st *v1alpha1.RolloutStatus) { st.PromoteFull = true })
	ro := s.run(150, "healthy on v2", func(r *v1alpha1.Rollout) bool { return isHealthy(r) && r.Status.StableRS == v2 })
	if ro.Status.Abort || ro.Status.PromoteFull {
		t.Fatalf("abort %v promoteFull %v after the full promotion", ro.Status.Abort, ro.Status.PromoteFull)
	}
}

// And on blue-green, in both modes: the aborted update is promoted, the
// switch verified.
func TestBlueGreenPromoteFullOfAnAbortedUpdatePromotes(t *testing.T) {
	for _, alb := range []bool{false, true} {
		s := newSim(t)
		s.blueGreenRollout(2, bgOptions{alb: alb, mutate: func(bg *v1alpha1.BlueGreenStrategy) {
			bg.AutoPromotionEnabled = ptr.To(false)
			bg.AbortScaleDownDelaySeconds = ptr.To(int32(2))
		}})
		s.run(60, "healthy on v1", isHealthy)
		setImage(s, "v2")
		v2 := s.run(100, "paused with the preview up", paused).Status.CurrentPodHash
		s.updateStatus(func(st *v1alpha1.RolloutStatus) { st.Abort = true })
		s.run(100, "aborted, v2 scaled down", func(ro *v1alpha1.Rollout) bool { return ro.Status.Abort && s.replicasOf(v2) == 0 })
		s.updateStatus(func(st *v1alpha1.RolloutStatus) { st.PromoteFull = true })
		ro := s.run(150, "healthy on v2", func(ro *v1alpha1.Rollout) bool { return isHealthy(ro) && ro.Status.StableRS == v2 })
		if ro.Status.Abort || ro.Status.PromoteFull || ro.Status.BlueGreen.ActiveSelector != v2 {
			t.Fatalf("alb %v: abort %v promoteFull %v active %s", alb, ro.Status.Abort, ro.Status.PromoteFull, ro.Status.BlueGreen.ActiveSelector)
		}
	}
}

// An abort after a promote --full (here before any pass saw either) cancels
// the full promotion: the later of the two wins, and an abort always does
// what it says.
func TestCanaryAbortAfterPromoteFullAborts(t *testing.T) {
	s := newSim(t)
	s.lbLag = 1
	s.canaryRollout(2, weightStep(50), pauseStep(""))
	v1 := s.run(50, "healthy on v1", isHealthy).Status.StableRS
	setImage(s, "v2")
	v2 := s.run(80, "paused at 50%", func(ro *v1alpha1.Rollout) bool { return ro.Status.Phase == v1alpha1.RolloutPhasePaused }).Status.CurrentPodHash
	s.updateStatus(func(st *v1alpha1.RolloutStatus) { st.PromoteFull = true; st.Abort = true })
	ro := s.run(200, "aborted with the canary scaled down", func(ro *v1alpha1.Rollout) bool {
		return ro.Status.Phase == v1alpha1.RolloutPhaseDegraded && s.replicasOf(v2) == 0
	})
	if ro.Status.StableRS != v1 || ro.Status.PromoteFull || s.albWeights["web-canary"] != 0 {
		t.Fatalf("stable %s promoteFull %v ALB %v", ro.Status.StableRS, ro.Status.PromoteFull, s.albWeights)
	}
}
