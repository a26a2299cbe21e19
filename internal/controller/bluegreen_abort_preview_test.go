package controller

import (
	"testing"

	"k8s.io/utils/ptr"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
)

// Argo Rollouts' e2e TestBlueGreenAbortAndUpdate, …PrePromotionFail,
// …PostPromotionFail, …KitchenSink: in selector mode an aborted update sends
// the active Service back to stable and leaves the preview Service on the new
// ReplicaSet (it gets no production traffic); the new ReplicaSet still scales
// down after abortScaleDownDelaySeconds, and a retry goes on from there.
func TestBlueGreenSelectorAbortKeepsThePreviewOnTheNewVersion(t *testing.T) {
	for _, promoted := range []bool{false, true} {
		s := newSim(t)
		s.blueGreenRollout(2, bgOptions{mutate: func(bg *v1alpha1.BlueGreenStrategy) {
			bg.AutoPromotionEnabled = ptr.To(false)
			bg.AbortScaleDownDelaySeconds = ptr.To(int32(5))
		}})
		v1 := s.run(60, "healthy on v1", isHealthy).Status.StableRS
		setImage(s, "v2")
		v2 := s.run(80, "paused", isPausedBlueGreen).Status.CurrentPodHash
		if promoted {
			s.updateStatus(func(st *v1alpha1.RolloutStatus) { st.PauseConditions = nil; st.ControllerPause = true })
			s.run(100, "switched to v2", func(ro *v1alpha1.Rollout) bool { return s.selectorOf("web-active") == v2 })
		}
		s.updateStatus(func(st *v1alpha1.RolloutStatus) { st.Abort = true })
		ro := s.run(150, "aborted: active on v1, v2 scaled down", func(ro *v1alpha1.Rollout) bool {
			return ro.Status.Phase == v1alpha1.RolloutPhaseDegraded && s.selectorOf("web-active") == v1 && s.replicasOf(v2) == 0
		})
		if s.selectorOf("web-preview") != v2 || ro.Status.BlueGreen.PreviewSelector != v2 || ro.Status.BlueGreen.ActiveSelector != v1 || ro.Status.StableRS != v1 {
			t.Fatalf("promoted %v: after the abort the preview selects %s (status %s), active %s, stable %s; want preview %s, active and stable %s",
				promoted, s.selectorOf("web-preview"), ro.Status.BlueGreen.PreviewSelector, ro.Status.BlueGreen.ActiveSelector, ro.Status.StableRS, v2, v1)
		}
		if v := ro.Status.Verification; v == nil || v.Kind != v1alpha1.VerificationAbort || v.Phase != v1alpha1.VerificationVerified {
			t.Fatalf("promoted %v: abort verification %+v", promoted, v)
		}
		s.updateStatus(func(st *v1alpha1.RolloutStatus) { st.Abort = false })
		s.run(100, "paused again after retry", func(ro *v1alpha1.Rollout) bool {
			return isPausedBlueGreen(ro) && s.selectorOf("web-preview") == v2 && s.replicasOf(v2) == 2
		})
		s.updateStatus(func(st *v1alpha1.RolloutStatus) { st.PauseConditions = nil; st.ControllerPause = true })
		s.run(150, "healthy on v2", func(ro *v1alpha1.Rollout) bool { return isHealthy(ro) && ro.Status.StableRS == v2 })
	}
}
