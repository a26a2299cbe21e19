package controller

import (
	"context"
	"strings"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
	"github.com/albrollouts/albrollouts/internal/albannotation"
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

// neverRegistered fails the test when a pod of one of the versions is
// registered in the service's target group (selected by the Service).
func (s *sim) neverRegistered(service string, versions ...string) {
	s.t.Helper()
	for ip := range s.registered[service] {
		for _, v := range versions {
			if s.podOfVersion(ip, v) {
				s.t.Fatalf("pass %d: pod %s of %s is registered in the group of %s (selector %s)\nhistory:\n%s",
					s.passes, ip, v, service, s.selectorOf(service), strings.Join(s.history, "\n"))
			}
		}
	}
}

// Selector mode: v1 is kept for scaleDownDelaySeconds after the switch to
// v2, and v3 comes within that delay. The switch to v3 must not widen the
// active selector over v1's pods (before the fix every pod of the rollout
// re-registered in the active group, v1 included, and served).
func TestBlueGreenSelectorSwitchNeverSelectsARetiredVersion(t *testing.T) {
	s := newSim(t)
	s.healthLag = 2
	s.blueGreenRollout(2, bgOptions{})
	v1 := s.run(60, "healthy on v1", isHealthy).Status.StableRS
	setImage(s, "v2")
	v2 := s.run(120, "healthy on v2", func(ro *v1alpha1.Rollout) bool { return isHealthy(ro) && ro.Status.StableRS != v1 }).Status.StableRS
	if s.replicasOf(v1) != 2 {
		t.Fatalf("v1 has %d replicas right after the switch, want 2 (scaleDownDelaySeconds)", s.replicasOf(v1))
	}
	setImage(s, "v3")
	s.run(200, "healthy on v3", func(ro *v1alpha1.Rollout) bool {
		s.neverRegistered("web-active", "v1")
		return isHealthy(ro) && ro.Status.StableRS != v1 && ro.Status.StableRS != v2
	})
	if s.selectorOf("web-active") != s.rollout().Status.StableRS {
		t.Fatalf("active selects %s", s.selectorOf("web-active"))
	}
}

// Selector mode: v2 is aborted at the pause and waits
// abortScaleDownDelaySeconds; v3 comes meanwhile. The switch to v3 must not
// select the aborted v2's pods.
func TestBlueGreenSelectorSwitchNeverSelectsAnAbortedVersion(t *testing.T) {
	s := newSim(t)
	s.healthLag = 2
	s.blueGreenRollout(2, bgOptions{mutate: func(bg *v1alpha1.BlueGreenStrategy) { bg.AutoPromotionEnabled = ptr.To(false) }})
	v1 := s.run(60, "healthy on v1", isHealthy).Status.StableRS
	setImage(s, "v2")
	v2 := s.run(80, "paused", isPausedBlueGreen).Status.CurrentPodHash
	s.updateStatus(func(st *v1alpha1.RolloutStatus) { st.Abort = true })
	s.run(40, "aborted", func(ro *v1alpha1.Rollout) bool {
		return ro.Status.Phase == v1alpha1.RolloutPhaseDegraded && s.selectorOf("web-active") == v1
	})
	if s.replicasOf(v2) == 0 {
		t.Fatal("v2 scaled down at once; the test needs it kept for abortScaleDownDelaySeconds")
	}
	setImage(s, "v3")
	s.run(80, "paused on v3", func(ro *v1alpha1.Rollout) bool {
		s.neverRegistered("web-active", "v2")
		return isPausedBlueGreen(ro) && ro.Status.CurrentPodHash != v2
	})
	s.updateStatus(func(st *v1alpha1.RolloutStatus) { st.PauseConditions = nil })
	s.run(200, "healthy on v3", func(ro *v1alpha1.Rollout) bool {
		s.neverRegistered("web-active", "v2")
		return isHealthy(ro) && ro.Status.StableRS != v1
	})
}

// Selector mode: v3 comes while the active selector is widened for the
// switch to v2. v2 is no longer wanted and v3 has not been previewed: the
// active Service must not select v3's pods before its own switch, nor keep
// v2's once v3 is the new version.
func TestBlueGreenSelectorNewTemplateWhileWidened(t *testing.T) {
	s := newSim(t)
	s.healthLag = 3
	s.blueGreenRollout(2, bgOptions{mutate: func(bg *v1alpha1.BlueGreenStrategy) { bg.AutoPromotionEnabled = ptr.To(false) }})
	v1 := s.run(60, "healthy on v1", isHealthy).Status.StableRS
	setImage(s, "v2")
	s.run(80, "paused", isPausedBlueGreen)
	s.updateStatus(func(st *v1alpha1.RolloutStatus) { st.PauseConditions = nil })
	s.run(80, "widened", func(*v1alpha1.Rollout) bool { return s.selectorOf("web-active") == "*" })
	setImage(s, "v3")
	ro := s.run(80, "paused on v3", func(ro *v1alpha1.Rollout) bool {
		s.neverRegistered("web-active", "v3")
		return isPausedBlueGreen(ro)
	})
	if ro.Status.StableRS != v1 || s.selectorOf("web-active") != v1 {
		t.Fatalf("paused on v3: stable %s, active selects %s, want %s", ro.Status.StableRS, s.selectorOf("web-active"), v1)
	}
	s.neverRegistered("web-active", "v2")
	s.updateStatus(func(st *v1alpha1.RolloutStatus) { st.PauseConditions = nil })
	s.run(200, "healthy on v3", func(ro *v1alpha1.Rollout) bool {
		s.neverRegistered("web-active", "v2")
		return isHealthy(ro) && ro.Status.StableRS != v1
	})
}

// The same with promote --full right after v3 comes: the stale widening is
// still undone first (v3's pods never join the group next to v2's), and the
// rollout completes.
func TestBlueGreenSelectorPromoteFullWhileWidened(t *testing.T) {
	s := newSim(t)
	s.healthLag = 3
	s.blueGreenRollout(2, bgOptions{mutate: func(bg *v1alpha1.BlueGreenStrategy) { bg.AutoPromotionEnabled = ptr.To(false) }})
	v1 := s.run(60, "healthy on v1", isHealthy).Status.StableRS
	setImage(s, "v2")
	s.run(80, "paused", isPausedBlueGreen)
	s.updateStatus(func(st *v1alpha1.RolloutStatus) { st.PauseConditions = nil })
	s.run(80, "widened", func(*v1alpha1.Rollout) bool { return s.selectorOf("web-active") == "*" })
	v2 := s.rollout().Status.CurrentPodHash
	setImage(s, "v3")
	s.run(5, "on v3", func(ro *v1alpha1.Rollout) bool { return ro.Status.CurrentPodHash != v2 })
	s.updateStatus(func(st *v1alpha1.RolloutStatus) { st.PromoteFull = true })
	s.run(300, "healthy on v3", func(ro *v1alpha1.Rollout) bool {
		v2, v3 := false, false
		for ip := range s.registered["web-active"] {
			v2 = v2 || s.podOfVersion(ip, "v2")
			v3 = v3 || s.podOfVersion(ip, "v3")
		}
		if v2 && v3 {
			t.Fatalf("pass %d: v2 and v3 both registered in the active group\nhistory:\n%s", s.passes, strings.Join(s.history, "\n"))
		}
		return isHealthy(ro) && ro.Status.StableRS != v1
	})
}

// A blue-green rollout back on a ReplicaSet made under another collision
// count keeps its pause (and an abort) instead of starting over every pass:
// the new-update check compares the reused ReplicaSet's own hash.
func TestBlueGreenReusedReplicaSetOfAnotherCollisionCountKeepsItsPause(t *testing.T) {
	s := newSim(t)
	s.blueGreenRollout(2, bgOptions{alb: true, mutate: func(bg *v1alpha1.BlueGreenStrategy) { bg.AutoPromotionEnabled = ptr.To(false) }})
	s.run(60, "healthy on v1", isHealthy)
	promoteTo := func(v string) string {
		setImage(s, v)
		s.run(80, "paused on "+v, isPausedBlueGreen)
		s.updateStatus(func(st *v1alpha1.RolloutStatus) { st.PauseConditions = nil })
		return s.run(120, "healthy on "+v, func(ro *v1alpha1.Rollout) bool {
			return isHealthy(ro) && s.selectorOf("web-active") == ro.Status.StableRS && ro.Status.StableRS == ro.Status.CurrentPodHash
		}).Status.StableRS
	}
	v2 := promoteTo("v2")
	s.updateStatus(func(st *v1alpha1.RolloutStatus) { st.CollisionCount = ptr.To(int32(1)) })
	promoteTo("v3")
	setImage(s, "v2")
	ro := s.run(80, "paused on the reused v2", isPausedBlueGreen)
	if ro.Status.CurrentPodHash != v2 {
		t.Fatalf("current %s, want the reused %s", ro.Status.CurrentPodHash, v2)
	}
	s.updateStatus(func(st *v1alpha1.RolloutStatus) { st.Abort = true })
	for i := 0; i < 10; i++ {
		s.step()
	}
	if ro := s.rollout(); !ro.Status.Abort || ro.Status.AbortedAt == nil {
		t.Fatalf("the abort did not hold on the reused ReplicaSet: abort %v, abortedAt %v, phase %s", ro.Status.Abort, ro.Status.AbortedAt, ro.Status.Phase)
	}
}

// Found by the randomized simulation (seed 5): a blue-green rollout with
// previewReplicaCount, paused by spec.paused once the preview had scaled up
// for the switch, flapped its new ReplicaSet between the preview count and
// full size on every pass (the pause made the preview count apply again,
// the scale-down re-armed the checkpoint), a write per pass. spec.paused
// stops scaling.
func TestBlueGreenManualPauseStopsScaling(t *testing.T) {
	s := newSim(t)
	s.blueGreenRollout(4, bgOptions{alb: true, mutate: func(bg *v1alpha1.BlueGreenStrategy) {
		bg.PreviewReplicaCount = ptr.To(int32(1))
		bg.AutoPromotionEnabled = ptr.To(false)
	}})
	s.run(60, "healthy on v1", isHealthy)
	setImage(s, "v2")
	ro := s.run(80, "paused on v2", isPausedBlueGreen)
	v2 := ro.Status.CurrentPodHash
	s.updateStatus(func(st *v1alpha1.RolloutStatus) { st.PauseConditions = nil })
	s.run(40, "the preview scaling up for the switch", func(ro *v1alpha1.Rollout) bool { return s.replicasOf(v2) == 4 })
	s.update(func(ro *v1alpha1.Rollout) { ro.Spec.Paused = true })
	for i := 0; i < 20; i++ {
		s.step()
		if got := s.replicasOf(v2); got != 4 {
			t.Fatalf("pass %d: the new ReplicaSet was scaled to %d while the rollout is paused", s.passes, got)
		}
	}
	s.update(func(ro *v1alpha1.Rollout) { ro.Spec.Paused = false })
	s.run(120, "healthy on v2", func(ro *v1alpha1.Rollout) bool { return isHealthy(ro) && ro.Status.StableRS == v2 })
}

// An action written over an unverified one (A -> B -> A), as the
// randomized simulation found it (seed 48, replayed by TestSimulation;
// TestGuardBoundSettlesASupersededWrite shows the rule): promote --full
// writes canary 100 (B) while the load balancer controller lags, and a new
// template at once writes the canary back to 0 (A). The rollout must stay
// safe (checkInvariants) and go on to the new template's first step once B
// can no longer land.
func TestActionWrittenOverAnUnverifiedOneSettlesFirst(t *testing.T) {
	s := newSim(t)
	s.canaryRollout(2, weightStep(50), pauseStep(""))
	s.run(50, "healthy on v1", isHealthy)
	setImage(s, "v2")
	s.run(80, "paused at 50%", func(ro *v1alpha1.Rollout) bool {
		return ro.Status.Phase == v1alpha1.RolloutPhasePaused && s.albWeights["web-canary"] == 50
	})
	s.lbLag = 4
	s.updateStatus(func(st *v1alpha1.RolloutStatus) { st.PromoteFull = true })
	s.run(20, "canary 100 written", func(*v1alpha1.Rollout) bool {
		var ing networkingv1.Ingress
		s.must(s.c.Get(context.Background(), client.ObjectKey{Namespace: s.ns, Name: "web"}, &ing))
		return strings.Contains(ing.Annotations[albannotation.ActionKey(s.prefix, s.actionName)], `"ServiceName":"web-canary","ServicePort":"80","Weight":100`)
	})
	setImage(s, "v3") // checkInvariants fails the test if B lands on an empty canary group
	s.run(200, "paused at 50% on v3", func(ro *v1alpha1.Rollout) bool {
		return ro.Status.Phase == v1alpha1.RolloutPhasePaused && s.albWeights["web-canary"] == 50 && s.canaryImage() == "demo:v3"
	})
}

// Found by the randomized simulation (seed 53): an update of a blue-green
// rollout scaled to zero never completed ("waiting for ReplicaSet ... (0/0
// available) to be available before pointing service web-active at it").
// With no pod anywhere the Services move straight to the new hash.
func TestBlueGreenUpdateAtZeroReplicasCompletes(t *testing.T) {
	for _, alb := range []bool{false, true} {
		s := newSim(t)
		s.blueGreenRollout(2, bgOptions{alb: alb})
		s.run(60, "healthy on v1", isHealthy)
		// Scaled to zero by the user: the groups have no target at all,
		// whatever the controller does.
		s.lenient = true
		s.update(func(ro *v1alpha1.Rollout) { ro.Spec.Replicas = ptr.To(int32(0)) })
		s.run(60, "scaled to zero", func(ro *v1alpha1.Rollout) bool { return len(s.pods()) == 0 })
		setImage(s, "v2")
		ro := s.run(60, "the update complete", func(ro *v1alpha1.Rollout) bool {
			return ro.Status.StableRS == ro.Status.CurrentPodHash && s.selectorOf("web-active") == ro.Status.CurrentPodHash
		})
		s.update(func(ro *v1alpha1.Rollout) { ro.Spec.Replicas = ptr.To(int32(2)) })
		v2 := ro.Status.CurrentPodHash
		s.run(60, "pods back", func(*v1alpha1.Rollout) bool { return readyPods(s.pods()) == 2 })
		s.lenient, s.violations = false, nil
		s.run(120, "healthy on v2 with pods", func(ro *v1alpha1.Rollout) bool {
			return isHealthy(ro) && ro.Status.StableRS == v2 && len(s.pods()) == 2
		})
	}
}

// Found by the randomized simulation (seed 1122): a hand edit sends the
// stable group nothing (canary 71, stable 0: weights that do not add up);
// the controller's correction wrote the stable group 100 unchecked, since
// an earlier action had given it as much (the bound is the most a Service
// may get, not the least). A raise now counts from the least any Ingress
// carries, and the correction checks the stable targets first.
func TestCorrectionOfAHandEditedActionChecksTheGroupItRaises(t *testing.T) {
	s := newSim(t)
	s.canaryRollout(4, weightStep(20), pauseStep(""))
	s.run(50, "healthy on v1", isHealthy)
	setImage(s, "v2")
	s.run(80, "paused at 20%", func(ro *v1alpha1.Rollout) bool {
		return ro.Status.Phase == v1alpha1.RolloutPhasePaused && s.albWeights["web-stable"] == 80
	})
	var ing networkingv1.Ingress
	s.must(s.c.Get(context.Background(), client.ObjectKey{Namespace: s.ns, Name: "web"}, &ing))
	ing.Annotations[albannotation.ActionKey(s.prefix, s.actionName)] = `{"Type":"forward","ForwardConfig":{"TargetGroups":[{"ServiceName":"web-canary","ServicePort":"80","Weight":71},{"ServiceName":"web-stable","ServicePort":"80","Weight":0}]}}`
	s.must(s.c.Update(context.Background(), &ing))
	// The stable group's health check fails meanwhile: until the hand edit
	// lands it still has weight (the user's and the health check's doing,
	// not the controller's), so the sim only records; from the moment the
	// load balancer sends it nothing, any weight it gets is the controller's.
	s.unhealthyIn["web-stable"] = "v1"
	s.lenient = true
	for i := 0; i < 40; i++ {
		s.step()
		s.must(s.c.Get(context.Background(), client.ObjectKey{Namespace: s.ns, Name: "web"}, &ing))
		if w, ok := actionWeights(ing.Annotations[albannotation.ActionKey(s.prefix, s.actionName)]); ok && w["web-stable"] > 0 {
			t.Fatalf("pass %d: the correction wrote the unhealthy stable group weight %d", s.passes, w["web-stable"])
		}
	}
	s.lenient, s.violations = false, nil
	delete(s.unhealthyIn, "web-stable")
	s.run(80, "the action corrected to 20/80", func(*v1alpha1.Rollout) bool {
		return s.albWeights["web-stable"] == 80 && s.albWeights["web-canary"] == 20
	})
}
