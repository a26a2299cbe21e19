package controller

import (
	"strings"
	"testing"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
)

// switchBackWritten reports whether the last step of an ALB-mode switch is
// written and not yet verified: the active Service on the new pods, all
// weight written back to the active group.
func switchBackWritten(s *sim, ro *v1alpha1.Rollout) bool {
	v := ro.Status.Verification
	return s.selectorOf("web-active") == ro.Status.CurrentPodHash && ro.Status.StableRS != ro.Status.CurrentPodHash &&
		v != nil && v.Kind == v1alpha1.VerificationBlueGreenSwitch && v.Phase == v1alpha1.VerificationPending &&
		v.DesiredWeights != nil && v.DesiredWeights.Stable == 100 && v.DesiredWeights.Canary == 0
}

// An abort (or a verification timeout) while the weight written back to the
// active group is not yet verified: the abort moves the preview Service to
// v1 and flips the weight to the preview group; the active Service may move
// back to v1 only once the ALB is seen sending it nothing. Before the fix the
// active Service was re-pointed right after the flip was written, while the
// ALB still sent everything to the active group, whose targets were then
// v2 draining and v1 initial.
func TestBlueGreenALBAbortDuringTheLastSwitchStep(t *testing.T) {
	for _, how := range []string{"abort", "timeout"} {
		t.Run(how, func(t *testing.T) {
			s := newSim(t)
			s.lbLag = 3
			s.healthLag = 2
			s.blueGreenRollout(2, bgOptions{alb: true})
			v1 := s.run(80, "healthy on v1", isHealthy).Status.StableRS
			setImage(s, "v2")
			s.run(120, "the weight written back to the active group", func(ro *v1alpha1.Rollout) bool {
				if !switchBackWritten(s, ro) {
					return false
				}
				if how == "abort" {
					s.updateStatus(func(st *v1alpha1.RolloutStatus) { st.Abort = true })
				} else {
					// The load balancer controller applies this write only
					// after the verification timed out (30 s).
					s.pendingLB[len(s.pendingLB)-1].at += 40
				}
				return true
			})
			ro := s.run(300, "aborted back to v1", func(ro *v1alpha1.Rollout) bool {
				s.keepsReplicas(v1, 2, "while v2 was tried")
				v := ro.Status.Verification
				return ro.Status.Phase == v1alpha1.RolloutPhaseDegraded && s.selectorOf("web-active") == v1 && s.albWeights["web-active"] == 100 &&
					v != nil && v.Kind == v1alpha1.VerificationAbort && v.Phase == v1alpha1.VerificationVerified
			})
			if ro.Status.StableRS != v1 || s.selectorOf("web-preview") != v1 {
				t.Fatalf("after the abort: stable %s, preview %s, want %s", ro.Status.StableRS, s.selectorOf("web-preview"), v1)
			}
			if how == "timeout" && !strings.Contains(ro.Status.Message, "VerificationTimedOut") {
				t.Fatalf("message %q", ro.Status.Message)
			}
		})
	}
}
