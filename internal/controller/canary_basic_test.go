package controller

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
	"github.com/albrollouts/albrollouts/internal/replicaset"
)

func TestPodSplitApproximatesTheWeightAsArgoRolloutsDoes(t *testing.T) {
	for _, tc := range []struct {
		replicas, weight, surge int32
		canary, stable          int32
	}{
		{replicas: 1, weight: 25, surge: 1, canary: 1, stable: 1}, // through the surge pod
		{replicas: 1, weight: 50, surge: 1, canary: 1, stable: 1},
		{replicas: 1, weight: 25, surge: 0, canary: 0, stable: 1}, // one pod: nearest is none
		{replicas: 1, weight: 75, surge: 0, canary: 1, stable: 0},
		{replicas: 4, weight: 25, surge: 1, canary: 1, stable: 3},
		{replicas: 3, weight: 50, surge: 1, canary: 2, stable: 2}, // halfway: the surge gives 2 of 4
		{replicas: 3, weight: 50, surge: 0, canary: 2, stable: 1}, // halfway: the larger count
		{replicas: 10, weight: 5, surge: 1, canary: 1, stable: 10},
		{replicas: 10, weight: 95, surge: 1, canary: 10, stable: 1},
		{replicas: 10, weight: 95, surge: 0, canary: 9, stable: 1},
		{replicas: 5, weight: 0, surge: 1, canary: 0, stable: 5},
		{replicas: 5, weight: 100, surge: 1, canary: 5, stable: 0},
		{replicas: 0, weight: 50, surge: 1, canary: 0, stable: 0},
	} {
		c, s := podSplit(tc.replicas, tc.weight, 100, tc.surge)
		if c != tc.canary || s != tc.stable {
			t.Errorf("%d replicas at %d%% (surge %d): canary %d, stable %d; want %d and %d", tc.replicas, tc.weight, tc.surge, c, s, tc.canary, tc.stable)
		}
	}
}

// A canary without traffic routing and a single replica keeps a stable pod
// beside the canary one at every partial weight (Argo Rollouts' e2e
// TestRolloutScalingWhenPaused), and an abort points the canary Service
// back at the stable pods (TestCanaryScaleDownOnAbortNoTrafficRouting).
func TestBasicCanarySingleReplicaSurgesAndAbortRepointsTheCanaryService(t *testing.T) {
	s := newSim(t)
	s.canaryRollout(1, weightStep(25), pauseStep(""), weightStep(50), pauseStep(""))
	s.update(func(ro *v1alpha1.Rollout) {
		cs := ro.Spec.Strategy.Canary
		cs.TrafficRouting, cs.ScaleDownDelaySeconds, cs.AbortScaleDownDelaySeconds = nil, nil, nil
		cs.MaxSurge, cs.MaxUnavailable = ptr.To(intstr.FromInt32(1)), ptr.To(intstr.FromInt32(0))
	})
	v1 := s.run(50, "healthy on v1", isHealthy).Status.StableRS
	setImage(s, "v2")
	for _, step := range []int32{1, 3} {
		ro := s.run(80, "paused", func(ro *v1alpha1.Rollout) bool {
			return ro.Status.Phase == v1alpha1.RolloutPhasePaused && ptr.Deref(ro.Status.CurrentStepIndex, 0) == step
		})
		if c, st := s.replicasOf(ro.Status.CurrentPodHash), s.replicasOf(v1); c != 1 || st != 1 {
			t.Fatalf("step %d of 1 replica: canary %d, stable %d; want 1 and 1", step, c, st)
		}
		if step == 1 {
			s.updateStatus(func(st *v1alpha1.RolloutStatus) { st.PauseConditions = nil })
		}
	}
	v2 := s.rollout().Status.CurrentPodHash
	if got := s.service("web-canary").Spec.Selector[replicaset.HashLabel]; got != v2 {
		t.Fatalf("canary Service selects %q before the abort, want %q", got, v2)
	}
	s.updateStatus(func(st *v1alpha1.RolloutStatus) { st.Abort = true })
	s.run(80, "aborted, canary Service on the stable pods, canary scaled down", func(ro *v1alpha1.Rollout) bool {
		return ro.Status.Phase == v1alpha1.RolloutPhaseDegraded &&
			s.service("web-canary").Spec.Selector[replicaset.HashLabel] == v1 && s.replicasOf(v2) == 0
	})
}

// Argo Rollouts' e2e TestCanaryWithPausedRollout: without traffic routing,
// an update replaced before its pod turned ready leaves no pod behind; the
// next update gets the canary pod.
func TestBasicCanaryReplacedUpdateScalesItsUnreadyPodsDown(t *testing.T) {
	s := newSim(t)
	s.canaryRollout(3, weightStep(20), pauseStep(""))
	s.update(func(ro *v1alpha1.Rollout) {
		cs := ro.Spec.Strategy.Canary
		cs.TrafficRouting, cs.ScaleDownDelaySeconds, cs.AbortScaleDownDelaySeconds = nil, nil, nil
	})
	v1 := s.run(50, "healthy on v1", isHealthy).Status.StableRS
	s.podReadyLag = 1000 // the next pods never turn ready in this test
	setImage(s, "v2")
	v2 := s.run(50, "v2 has its canary pod", func(ro *v1alpha1.Rollout) bool {
		return ro.Status.CurrentPodHash != v1 && s.replicasOf(ro.Status.CurrentPodHash) == 1
	}).Status.CurrentPodHash
	setImage(s, "v3")
	s.run(50, "v2 gone, v3 has its canary pod, v1 whole", func(ro *v1alpha1.Rollout) bool {
		return ro.Status.CurrentPodHash != v2 && s.replicasOf(v2) == 0 && s.replicasOf(ro.Status.CurrentPodHash) == 1 && s.replicasOf(v1) == 3
	})
}

// Argo Rollouts' e2e TestCanaryWithPausedRollout with pods that turn
// ready: the canary Service selects the replaced update's ready pod, which
// it keeps until the Service moves onto the next update's pod; that pod
// does not wait for maxSurge room the held one takes (it waited forever).
func TestBasicCanaryReplacedReadyUpdateHandsTheCanaryServiceOver(t *testing.T) {
	s := newSim(t)
	s.canaryRollout(3, weightStep(20), pauseStep(""))
	s.update(func(ro *v1alpha1.Rollout) {
		cs := ro.Spec.Strategy.Canary
		cs.TrafficRouting, cs.ScaleDownDelaySeconds, cs.AbortScaleDownDelaySeconds = nil, nil, nil
	})
	v1 := s.run(50, "healthy on v1", isHealthy).Status.StableRS
	setImage(s, "v2")
	v2 := s.run(50, "paused with v2's canary pod", func(ro *v1alpha1.Rollout) bool {
		return paused(ro) && ro.Status.CurrentPodHash != v1 && s.replicasOf(ro.Status.CurrentPodHash) == 1
	}).Status.CurrentPodHash
	setImage(s, "v3")
	s.run(80, "paused, v2 gone, v3 has its canary pod and the canary Service, v1 whole", func(ro *v1alpha1.Rollout) bool {
		v3 := ro.Status.CurrentPodHash
		return paused(ro) && v3 != v2 && s.replicasOf(v2) == 0 && s.replicasOf(v3) == 1 && s.replicasOf(v1) == 3 &&
			s.service("web-canary").Spec.Selector[replicaset.HashLabel] == v3
	})
}

// Argo Rollouts' e2e TestRolloutScalingWhenPaused: paused at 25 % without
// traffic routing, spec.replicas 1 → 8 → 4 gives 1+1, then 2 canary + 6
// stable, then 1 + 3.
func TestBasicCanaryScalingWhilePausedFollowsTheWeight(t *testing.T) {
	s := newSim(t)
	s.canaryRollout(1, weightStep(25), pauseStep(""))
	s.update(func(ro *v1alpha1.Rollout) {
		cs := ro.Spec.Strategy.Canary
		cs.TrafficRouting, cs.ScaleDownDelaySeconds, cs.AbortScaleDownDelaySeconds = nil, nil, nil
	})
	v1 := s.run(50, "healthy on v1", isHealthy).Status.StableRS
	setImage(s, "v2")
	v2 := s.run(80, "paused at 25%", paused).Status.CurrentPodHash
	for _, tc := range []struct{ replicas, canary, stable int32 }{{1, 1, 1}, {8, 2, 6}, {4, 1, 3}} {
		s.update(func(ro *v1alpha1.Rollout) { ro.Spec.Replicas = ptr.To(tc.replicas) })
		s.run(80, "scaled", func(ro *v1alpha1.Rollout) bool {
			return s.replicasOf(v2) == tc.canary && s.replicasOf(v1) == tc.stable
		})
	}
}

// Argo Rollouts' e2e TestRolloutBadToGoodUpdate: a canary without traffic
// routing whose stable pods never turned ready (a crash loop) is updated to
// a version that works, maxSurge 1, maxUnavailable 0. The stable side's
// unready pods count for nothing that maxUnavailable protects: they make
// room for the canary one by one as its pods turn ready, within maxSurge
// (before, the stable side waited for availability it never had, and the
// update never progressed). A canary that fails too leaves them be
// (TestRolloutBadToBadUpdate).
func TestBasicCanaryReplacesAStableSideThatNeverTurnedReady(t *testing.T) {
	for _, good := range []bool{true, false} {
		t.Run(map[bool]string{true: "good", false: "bad"}[good], func(t *testing.T) {
			s := newSim(t)
			s.podReadyLag = 1000 // v1 crash-loops
			s.canaryRollout(4)
			s.update(func(ro *v1alpha1.Rollout) {
				cs := ro.Spec.Strategy.Canary
				cs.TrafficRouting, cs.ScaleDownDelaySeconds, cs.AbortScaleDownDelaySeconds = nil, nil, nil
				cs.MaxSurge, cs.MaxUnavailable = ptr.To(intstr.FromInt32(1)), ptr.To(intstr.FromInt32(0))
			})
			v1 := s.run(20, "v1 with 4 pods", func(ro *v1alpha1.Rollout) bool {
				return ro.Status.StableRS != "" && s.replicasOf(ro.Status.StableRS) == 4
			}).Status.StableRS
			for name := range s.podBorn {
				s.podBorn[name] = 1 << 30 // v1's pods stay unready whatever comes next
			}
			if good {
				s.podReadyLag = 1
			}
			setImage(s, "v2")
			check := func(ro *v1alpha1.Rollout) {
				if n := s.replicasOf(ro.Status.CurrentPodHash) + s.replicasOf(v1); ro.Status.CurrentPodHash != v1 && n > 5 {
					t.Fatalf("%d pods, more than spec.replicas + maxSurge (5): %s", n, s.replicaSetSizes())
				}
			}
			if !good {
				s.steps(30)
				ro := s.rollout()
				check(ro)
				if c, st := s.replicasOf(ro.Status.CurrentPodHash), s.replicasOf(v1); c != 1 || st != 4 {
					t.Fatalf("a bad canary over a bad stable side: canary %d, stable %d; want 1 and 4", c, st)
				}
				return
			}
			ro := s.run(80, "healthy on v2", func(ro *v1alpha1.Rollout) bool {
				check(ro)
				return isHealthy(ro) && ro.Status.StableRS != v1
			})
			if c, st := s.replicasOf(ro.Status.StableRS), s.replicasOf(v1); c != 4 || st != 0 {
				t.Fatalf("healthy with v2 %d, v1 %d pods; want 4 and 0", c, st)
			}
		})
	}
}

// basicCanary makes the sim's rollout a canary without traffic routing with
// these maxSurge and maxUnavailable.
func basicCanary(s *sim, surge, unavailable int32) {
	s.update(func(ro *v1alpha1.Rollout) {
		cs := ro.Spec.Strategy.Canary
		cs.TrafficRouting, cs.ScaleDownDelaySeconds, cs.AbortScaleDownDelaySeconds = nil, nil, nil
		cs.MaxSurge, cs.MaxUnavailable = ptr.To(intstr.FromInt32(surge)), ptr.To(intstr.FromInt32(unavailable))
	})
}

// Argo Rollouts' e2e TestRolloutScalingDuringUpdate: no steps, maxSurge 2,
// maxUnavailable 0, an update whose pods never turn ready. 4 replicas give
// 2 canary pods beside the 4 stable ones; scaled to 8, the canary takes
// the surge (6 + 4); back to 4, the canary gives back what exceeds
// maxSurge, its unready pods first (2 + 4), never the stable ones.
func TestBasicCanaryScalingDuringAnUpdateHonoursMaxSurge(t *testing.T) {
	s := newSim(t)
	s.canaryRollout(4)
	basicCanary(s, 2, 0)
	v1 := s.run(50, "healthy on v1", isHealthy).Status.StableRS
	s.podReadyLag = 1000 // v2 never turns ready
	setImage(s, "v2")
	for _, tc := range []struct{ replicas, canary, stable int32 }{{4, 2, 4}, {8, 6, 4}, {4, 2, 4}} {
		s.update(func(ro *v1alpha1.Rollout) { ro.Spec.Replicas = ptr.To(tc.replicas) })
		s.steps(15)
		ro := s.rollout()
		if c, st := s.replicasOf(ro.Status.CurrentPodHash), s.replicasOf(v1); c != tc.canary || st != tc.stable {
			t.Fatalf("%d replicas: canary %d, stable %d; want %d and %d\n%s", tc.replicas, c, st, tc.canary, tc.stable, strings.Join(s.history, "\n"))
		}
	}
}

// Argo Rollouts' e2e TestReduceWeightAndHonorMaxUnavailable: maxSurge 2,
// maxUnavailable 0, 3 replicas. From setWeight 100 to 0, and on an abort
// from 100, the stable side grows within maxSurge (2 pods beside the 3
// canary ones), and the canary shrinks only as stable pods turn
// available: never more than 5 pods, never fewer than 3 available.
func TestBasicCanaryLoweringTheWeightHonoursMaxSurgeAndMaxUnavailable(t *testing.T) {
	for _, abort := range []bool{false, true} {
		t.Run(map[bool]string{false: "setWeight 0", true: "abort"}[abort], func(t *testing.T) {
			s := newSim(t)
			s.canaryRollout(3, weightStep(100), pauseStep(""), weightStep(0), pauseStep(""))
			basicCanary(s, 2, 0)
			v1 := s.run(50, "healthy on v1", isHealthy).Status.StableRS
			s.podReadyLag = 3 // pods turn ready 3 passes after they start
			setImage(s, "v2")
			v2 := s.run(80, "paused at setWeight 100", func(ro *v1alpha1.Rollout) bool {
				return paused(ro) && ptr.Deref(ro.Status.CurrentStepIndex, 0) == 1
			}).Status.CurrentPodHash
			if c, st := s.replicasOf(v2), s.replicasOf(v1); c != 3 || st != 0 {
				t.Fatalf("at setWeight 100: canary %d, stable %d; want 3 and 0", c, st)
			}
			if abort {
				s.updateStatus(func(st *v1alpha1.RolloutStatus) { st.Abort = true })
			} else {
				s.updateStatus(func(st *v1alpha1.RolloutStatus) { st.PauseConditions = nil; st.ControllerPause = true })
			}
			sawSurge := false
			s.run(80, "back on v1", func(ro *v1alpha1.Rollout) bool {
				c, st := s.replicasOf(v2), s.replicasOf(v1)
				if c+st > 5 {
					t.Fatalf("canary %d + stable %d pods, more than 3 + maxSurge 2", c, st)
				}
				var avail int32
				for _, rs := range s.replicaSets() {
					avail += rs.Status.AvailableReplicas
				}
				if avail < 3 {
					t.Fatalf("%d pods available, fewer than 3 - maxUnavailable 0: %s", avail, s.replicaSetSizes())
				}
				sawSurge = sawSurge || (c == 3 && st == 2)
				return c == 0 && st == 3
			})
			if !sawSurge {
				t.Fatalf("never at canary 3 + stable 2 (the stable side within maxSurge):\n%s", strings.Join(s.history, "\n"))
			}
		})
	}
}
