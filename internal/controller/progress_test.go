package controller

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
)

func progressing(ro *v1alpha1.Rollout) *v1alpha1.RolloutCondition {
	return findCondition(ro, v1alpha1.ConditionProgressing)
}

func countEvents(log *eventLog, prefix string) int {
	n := 0
	for _, e := range log.drain() {
		if strings.HasPrefix(e, prefix) {
			n++
		}
	}
	return n
}

// The first deploy is promoted at once (stableRS, "Initial deploy", as in
// Argo Rollouts), but it has not progressed until its pods are available:
// Progressing stays True with reason ReplicaSetUpdated meanwhile, turns
// False with ProgressDeadlineExceeded (phase Degraded) once
// progressDeadlineSeconds pass with no progress, and NewReplicaSetAvailable
// only once the pods are available (Argo's e2e
// Test{BlueGreen,Canary}ProgressDeadlineExceeded*, TestRolloutBadTo*).
func TestFirstDeployExceedsItsProgressDeadlineUntilAvailable(t *testing.T) {
	for _, kind := range []string{"canary-alb", "canary-basic", "bluegreen"} {
		t.Run(kind, func(t *testing.T) {
			s := newSim(t)
			s.podReadyLag = 1000 // the pods do not turn ready until the test says so
			switch kind {
			case "bluegreen":
				s.blueGreenRollout(3, bgOptions{})
			default:
				s.canaryRollout(3, weightStep(20), pauseStep(""))
			}
			s.update(func(ro *v1alpha1.Rollout) {
				ro.Spec.ProgressDeadlineSeconds = ptr.To(int32(5))
				if kind == "canary-basic" {
					cs := ro.Spec.Strategy.Canary
					cs.TrafficRouting, cs.ScaleDownDelaySeconds, cs.AbortScaleDownDelaySeconds = nil, nil, nil
					cs.MaxSurge, cs.MaxUnavailable = ptr.To(intstr.FromInt32(1)), ptr.To(intstr.FromInt32(0))
				}
			})
			log := &eventLog{s: s}
			start := s.now
			ro := s.run(60, "Degraded", func(ro *v1alpha1.Rollout) bool {
				if ro.Status.Phase == v1alpha1.RolloutPhaseDegraded {
					return true
				}
				if c := progressing(ro); c == nil || c.Status != corev1.ConditionTrue || c.Reason != v1alpha1.ReasonReplicaSetUpdated {
					t.Fatalf("first deploy, no pod ready yet: Progressing %+v, want True ReplicaSetUpdated", c)
				}
				if ro.Status.Phase == v1alpha1.RolloutPhaseHealthy {
					t.Fatalf("first deploy with no pod ready is Healthy")
				}
				return false
			})
			// The pass that finds the deadline passed runs at most one
			// requeue (5 s in the simulator) after it.
			if el := s.now.Sub(start).Seconds(); el < 5 || el > 11 {
				t.Fatalf("Degraded %.1fs after the deploy, want the 5 s deadline", el)
			}
			if c := progressing(ro); c == nil || c.Status != corev1.ConditionFalse || c.Reason != v1alpha1.ReasonProgressDeadlineExceeded ||
				!strings.HasPrefix(ro.Status.Message, v1alpha1.ReasonProgressDeadlineExceeded) {
				t.Fatalf("Progressing %+v, message %q; want False ProgressDeadlineExceeded", c, ro.Status.Message)
			}
			s.steps(10) // it stays so, and says it once
			if ro := s.rollout(); ro.Status.Phase != v1alpha1.RolloutPhaseDegraded || ro.Status.Abort {
				t.Fatalf("phase %s, abort %v after the deadline, want Degraded, no abort", ro.Status.Phase, ro.Status.Abort)
			}
			if n := countEvents(log, "Warning "+v1alpha1.ReasonProgressDeadlineExceeded+" "); n != 1 {
				t.Fatalf("%d Warning ProgressDeadlineExceeded events, want 1", n)
			}
			s.podReadyLag = 0 // the pods turn ready
			ro = s.run(60, "Healthy", isHealthy)
			if c := progressing(ro); c == nil || c.Status != corev1.ConditionTrue || c.Reason != v1alpha1.ReasonNewReplicaSetAvailable {
				t.Fatalf("Healthy with Progressing %+v, want True NewReplicaSetAvailable", c)
			}
		})
	}
}

// A first deploy whose pods turn ready within the deadline never degrades,
// and its Progressing condition says NewReplicaSetAvailable only once they
// are available.
func TestFirstDeployReadyWithinItsDeadlineNeverDegrades(t *testing.T) {
	s := newSim(t)
	s.podReadyLag = 3
	s.canaryRollout(3, weightStep(20), pauseStep(""))
	s.update(func(ro *v1alpha1.Rollout) { ro.Spec.ProgressDeadlineSeconds = ptr.To(int32(30)) })
	for i := 0; i < 40; i++ {
		s.step()
		ro := s.rollout()
		if ro.Status.Phase == v1alpha1.RolloutPhaseDegraded {
			t.Fatalf("pass %d: Degraded: %s", i, ro.Status.Message)
		}
		if c := progressing(ro); c != nil && c.Reason == v1alpha1.ReasonNewReplicaSetAvailable && ro.Status.AvailableReplicas < 3 {
			t.Fatalf("pass %d: NewReplicaSetAvailable with %d of 3 pods available", i, ro.Status.AvailableReplicas)
		}
	}
	if ro := s.rollout(); !isHealthy(ro) {
		t.Fatalf("not Healthy: %s %q", ro.Status.Phase, ro.Status.Message)
	}
}

// progressDeadlineAbort turned on for an update already past its deadline
// (Degraded, ProgressDeadlineExceeded) aborts it on the next pass; the
// deadline is not waited for again (Argo's e2e
// TestBlueGreenExceedProgressDeadlineAbort).
func TestProgressDeadlineAbortSetAfterTheDeadlineAborts(t *testing.T) {
	s := newSim(t)
	s.blueGreenRollout(1, bgOptions{mutate: func(bg *v1alpha1.BlueGreenStrategy) {
		bg.PreviewService = ""
		bg.AbortScaleDownDelaySeconds = ptr.To(int32(2))
	}})
	v1 := s.run(60, "healthy on v1", isHealthy).Status.StableRS
	s.podReadyLag = 1000 // the new version's pod never turns ready
	s.update(func(ro *v1alpha1.Rollout) {
		ro.Spec.ProgressDeadlineSeconds = ptr.To(int32(1))
		ro.Spec.Template.Spec.Containers[0].Image = "demo:v2"
	})
	ro := s.run(60, "Degraded", func(ro *v1alpha1.Rollout) bool { return ro.Status.Phase == v1alpha1.RolloutPhaseDegraded })
	v2 := ro.Status.CurrentPodHash
	s.steps(5)
	if ro := s.rollout(); ro.Status.Abort || s.replicasOf(v2) != 1 {
		t.Fatalf("without progressDeadlineAbort: abort %v, %d pods of v2; want no abort, 1 pod", ro.Status.Abort, s.replicasOf(v2))
	}
	s.update(func(ro *v1alpha1.Rollout) { ro.Spec.ProgressDeadlineAbort = true })
	s.step()
	ro = s.rollout()
	if !ro.Status.Abort {
		t.Fatalf("progressDeadlineAbort set past the deadline: no abort on the next pass: %s %q", ro.Status.Phase, ro.Status.Message)
	}
	if c := progressing(ro); c == nil || c.Status != corev1.ConditionFalse || c.Reason != v1alpha1.ReasonRolloutAborted {
		t.Fatalf("Progressing %+v, want False RolloutAborted", c)
	}
	s.run(30, "v2 scaled down", func(ro *v1alpha1.Rollout) bool { return s.replicasOf(v2) == 0 })
	if ro := s.rollout(); ro.Status.Phase != v1alpha1.RolloutPhaseDegraded || ro.Status.StableRS != v1 || ro.Status.BlueGreen.ActiveSelector != v1 {
		t.Fatalf("after the abort: phase %s, stable %s, active %s; want Degraded on %s", ro.Status.Phase, ro.Status.StableRS, ro.Status.BlueGreen.ActiveSelector, v1)
	}
}
