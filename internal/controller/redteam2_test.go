package controller

// Red-team tests, second round: each demonstrates a violation of the safety
// rules (controller.go, "The safety rules") on the current code, with the
// real engine (verify.Decide) judging the model ALBs of the simulator. They
// are expected to FAIL until the controller is fixed.

import (
	"context"
	"slices"
	"strings"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
	"github.com/albrollouts/albrollouts/internal/albannotation"
)

// rt2ActionWeights reads the action annotation of an Ingress as written.
func (s *sim) rt2ActionWeights(ingress string) map[string]int32 {
	var ing networkingv1.Ingress
	s.must(s.c.Get(context.Background(), client.ObjectKey{Namespace: s.ns, Name: ingress}, &ing))
	w, _ := actionWeights(ing.Annotations[albannotation.ActionKey(s.prefix, s.actionName)])
	return w
}

// RULE 2 and RULE 6: a status write lost after an Ingress write (a crash
// right after the patch, or simply the optimistic-lock conflict a user's
// `abort` causes when it lands during the pass: writeStatus patches with
// MergeFromWithOptimisticLock and Reconcile drops the pass's status on a
// conflict) makes the controller forget a weight that is still in the load
// balancer controller's queue.
//
// The defence against A -> B -> A (see the fixed
// TestRedTeamInFlightWeightForgottenWhenTheOldWeightVerifiesAgain) lives only
// in status.trafficBound: notePending records B as Pending, and writing A
// over it marks the bound Superseded, so that a check of A that reads the ALB
// before B landed stays unsettled (guard.go: notePending, unsettled). Both
// are kept only in the pass's status. When that status write is lost, the
// next pass finds the annotation at B but no Pending B: writing A again
// leaves Superseded false (notePending compares A with the Pending of before
// B, nil since the earlier write was verified). The check of A reads the ALB
// before B landed and says Verified; boundVerified resets the bound; the
// Service of the group B raised moves at once to other pods (canary: the
// canary Service to the stable pods; blue-green ALB mode: the preview
// Service back to the stable pods), newly registered and in their initial
// health check; then the load balancer controller applies B: production
// traffic to a group with no healthy target.
//
// Sequence: lbLag 3, healthLag 2; canary (setWeight 10, pause) or blue-green
// in ALB mode (auto-promotion); v1 healthy; v2; in the pass that writes B
// (canary 10, or the flip: preview 100) the user aborts and the
// controller's status write is lost (the status is put back to what it was
// before the pass, plus abort: what the API server holds after the conflict).
func TestRedTeam2LostStatusWriteForgetsTheInFlightWeight(t *testing.T) {
	for _, tc := range []struct {
		name    string
		setup   func(*sim)
		service string
		weight  int32
	}{
		{"canary", func(s *sim) { s.canaryRollout(2, weightStep(10), pauseStep("")) }, "web-canary", 10},
		{"bluegreen-alb", func(s *sim) { s.blueGreenRollout(2, bgOptions{alb: true}) }, "web-preview", 100},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSim(t)
			s.lbLag = 3
			tc.setup(s)
			s.run(60, "healthy on v1", isHealthy)
			s.healthLag = 2
			setImage(s, "v2")
			lost := false
			for i := 0; i < 100 && !lost; i++ {
				before := s.rollout().Status.DeepCopy()
				s.rolloutAtIngressWrite = nil
				s.step()
				if s.rt2ActionWeights("web")[tc.service] == tc.weight {
					// The pass wrote B; its status write at the end of the
					// pass is lost to the user's abort (conflict), which
					// lands instead. What the pass stored before it wrote
					// the Ingress (the write-ahead record of the traffic
					// bound) was stored: the API server keeps it.
					if w := s.rolloutAtIngressWrite; w != nil {
						before = w.Status.DeepCopy()
					}
					s.updateStatus(func(st *v1alpha1.RolloutStatus) {
						*st = *before
						st.Abort = true
					})
					lost = true
				}
			}
			if !lost {
				t.Fatalf("%s %d never written\nhistory:\n%s", tc.service, tc.weight, strings.Join(s.history, "\n"))
			}
			// checkInvariants fails the test when the late B lands on a
			// group without a healthy target.
			s.run(100, "aborted, verified, nothing in flight", func(ro *v1alpha1.Rollout) bool {
				v := ro.Status.Verification
				return v != nil && v.Kind == v1alpha1.VerificationAbort && v.Phase == v1alpha1.VerificationVerified && len(s.pendingLB) == 0
			})
			s.steps(5)
		})
	}
}

// rt2CheckShares fails the test when a group that gets traffic from a rule
// of an applied ALB has fewer healthy targets than its share of
// spec.replicas (weight × replicas / the rule's total, at least 1): the
// simulation's invariant "scaled-down-under-traffic" (simulation_test.go,
// invariant 3), applied to every group at every pass.
func (s *sim) rt2CheckShares(replicas int32) {
	s.t.Helper()
	for _, tr := range s.trafficRules() {
		var total int32
		for _, g := range tr.rule.rule.Forward {
			total += g.Weight
		}
		for _, g := range tr.rule.rule.Forward {
			if g.Weight == 0 || total == 0 {
				continue
			}
			need := max(1, int(int64(g.Weight)*int64(replicas)/int64(total)))
			if have := s.healthyTargets(g.ARN); have < need {
				s.t.Fatalf("pass %d: %s gives %s (%s) weight %d of %d, a share of %d of %d replicas, and it has %d healthy target(s)\nhistory:\n%s",
					s.passes, tr, s.tgs[g.ARN].tg.Name, s.tgs[g.ARN].service, g.Weight, total, need, replicas, have, strings.Join(s.history, "\n"))
			}
		}
	}
}

// RULE 2: the canary is scaled down while the ALB still sends it the share
// its pods were sized for, after spec.strategy.canary.trafficRouting.
// maxTrafficWeight is raised mid-step (100 -> 200).
//
// The controller compares weights as absolute numbers, not as shares of the
// total they were written out of. At a pause at setWeight 50 (canary 50,
// stable 50: 50 %, 2 of 4 pods) maxTrafficWeight goes to 200. The action
// now sums to 100, not 200: it is "foreign" (t.written false), so
// scaleCanaryALB (canary.go) no longer counts the canary's traffic
// (canaryHasTraffic needs t.written), and writtenVerified is true because
// the fingerprint of "canary 50, stable 50" is the one verified at the pause
// (verifySpec.fingerprint carries the weights, not their total). The canary
// is sized for the goal, ceilShare(50, 4, 200) = 1 pod, at once. The guard
// agrees: vetScale's need is ceilShare(50, 4, e.a.total=200) = 1 (guard.go:
// need divides the written weight by the NEW total). The canary goes from 2
// pods to 1 in the pass that writes the correction (50/150), while the load
// balancer still applies 50/50: half of production on one pod of four.
//
// Sequence: 4 replicas, steps setWeight 50, pause; v1 healthy; v2 paused at
// 50 %; maxTrafficWeight set to 200.
func TestRedTeam2MaxTrafficWeightRaisedScalesTheCanaryUnderItsShare(t *testing.T) {
	s := newSim(t)
	s.lbLag = 2
	s.canaryRollout(4, weightStep(50), pauseStep(""))
	s.run(60, "healthy on v1", isHealthy)
	setImage(s, "v2")
	s.run(100, "paused at 50%", func(ro *v1alpha1.Rollout) bool { return paused(ro) && s.albWeights["web-canary"] == 50 })
	s.steps(3)
	s.update(func(ro *v1alpha1.Rollout) {
		ro.Spec.Strategy.Canary.TrafficRouting.MaxTrafficWeight = ptr.To(int32(200))
	})
	for i := 0; i < 40; i++ {
		s.step()
		s.rt2CheckShares(4)
	}
}

// RULE 1 and RULE 2: a traffic source the controller wrote (a header route,
// or the action on an Ingress) stays on the Ingress after the spec stops
// naming it, and the controller (and its guard) stop seeing it: the canary
// Service is re-pointed to the next version's pods while that source still
// forwards production requests to the canary group.
//
// Only what the spec names is ever read: observeTraffic (canary_traffic.go)
// computes t.routes and t.routed from trafficRouting.managedRoutes and the
// weights from alb.ingresses; the guard's exposure (guard.go) reads the
// actions of actionRef().ingresses and actionRef().routes, the same lists;
// boundVerified drops a route service from status.trafficBound once a check
// verifies a spec without it. What the controller wrote stays as it was
// (it even records it in the managed-alb-annotations bookkeeping of each
// Ingress, albannotation.Managed, which nothing reads back), so with the
// route (or the Ingress) out of the spec the canary Service moves as soon as
// the canary's weight 0 is verified on the Ingresses still named.
//
// Sequences, each with one spec edit that also sets template v3, and
// targets that pass the health check 2 passes after registration:
//   - header-route: 2 replicas, steps setCanaryScale replicas 1,
//     setHeaderRoute hdr X-Canary=yes, pause; v2 paused with the route
//     applied; the edit removes route hdr (managedRoutes and its step;
//     steps setWeight 20, pause).
//   - ingress: alb.ingresses [web, web-b], steps setWeight 20, pause; v2
//     paused at 20 % on both ALBs; the edit sets alb.ingresses [web].
func TestRedTeam2TrafficSourceDroppedFromTheSpecKeepsForwarding(t *testing.T) {
	t.Run("header-route", func(t *testing.T) {
		s := newSim(t)
		s.canaryRollout(2, canaryScaleStep(1), headerRouteStep("hdr", "X-Canary", "yes"), pauseStep(""))
		s.update(withRoutes("hdr"))
		s.run(60, "healthy on v1", isHealthy)
		setImage(s, "v2")
		s.run(100, "paused with the route applied", func(ro *v1alpha1.Rollout) bool {
			return paused(ro) && slices.ContainsFunc(s.trafficRules(), func(tr trafficRule) bool { return tr.rule.route })
		})
		s.steps(3)
		s.healthLag = 2
		s.update(func(ro *v1alpha1.Rollout) {
			cs := ro.Spec.Strategy.Canary
			cs.TrafficRouting.ManagedRoutes = nil
			cs.Steps = []v1alpha1.CanaryStep{weightStep(20), pauseStep("")}
			ro.Spec.Template.Spec.Containers[0].Image = "demo:v3"
		})
		// checkInvariants fails the test when the header route forwards to
		// a canary group without a healthy target.
		s.run(100, "paused at 20% on v3", func(ro *v1alpha1.Rollout) bool {
			return paused(ro) && s.canaryImage() == "demo:v3" && s.albWeights["web-canary"] == 20
		})
		s.steps(5)
	})
	t.Run("ingress", func(t *testing.T) {
		s := newSim(t)
		s.canaryRollout(2, weightStep(20), pauseStep(""))
		s.ingress("web-b", networkingv1.IngressServiceBackend{Name: "web-root", Port: networkingv1.ServiceBackendPort{Name: albannotation.UseAnnotation}})
		s.update(func(ro *v1alpha1.Rollout) {
			alb := ro.Spec.Strategy.Canary.TrafficRouting.ALB
			alb.Ingress, alb.Ingresses = "", []string{"web", "web-b"}
		})
		s.run(80, "healthy on v1", isHealthy)
		setImage(s, "v2")
		s.run(100, "paused at 20%", func(ro *v1alpha1.Rollout) bool { return paused(ro) && s.albWeights["web-canary"] == 20 })
		s.steps(3)
		s.healthLag = 2
		s.update(func(ro *v1alpha1.Rollout) {
			ro.Spec.Strategy.Canary.TrafficRouting.ALB.Ingresses = []string{"web"}
			ro.Spec.Template.Spec.Containers[0].Image = "demo:v3"
		})
		// checkInvariants fails the test when web-b's ALB sends its 20 % to
		// a canary group without a healthy target.
		s.run(100, "paused at 20% on v3", func(ro *v1alpha1.Rollout) bool {
			return paused(ro) && s.canaryImage() == "demo:v3" && s.albWeights["web-canary"] == 20
		})
		s.steps(5)
	})
}

// rt2RouteWritten reports whether the Ingress web carries the action of
// header route name.
func (s *sim) rt2RouteWritten(name string) bool {
	var ing networkingv1.Ingress
	s.must(s.c.Get(context.Background(), client.ObjectKey{Namespace: s.ns, Name: "web"}, &ing))
	_, ok := ing.Annotations[albannotation.ActionKey(s.prefix, name)]
	return ok
}

// RULE 1 and RULE 2: a header route written and removed again before the
// load balancer controller applied it (an abort right after the route step)
// is verified "removed" by a check that reads the ALB before the add lands;
// the canary Service then moves to the stable pods, which the add, landing
// late, finds still in their initial health check: matching requests go to
// a canary group with no healthy target.
//
// The A -> B -> A defence (status.trafficBound: Pending, Superseded,
// unsettled; guard.go) only looks at the action's weights: notePending
// records actionWeights of the action annotation and marks the bound
// Superseded only when they differ from the pending ones. A route write
// leaves the action as it is, so adding a route and removing it again never
// sets Superseded; unsettled() then lets the first check of "route removed"
// count, boundVerified drops the canary Service from RouteServices, and
// vetSelector lets the canary Service move (nothing "routes" to it any
// more). The add is still in the load balancer controller's queue.
//
// Sequence: lbLag 2, healthLag 1, 3 replicas, steps setCanaryScale replicas
// 1, setHeaderRoute hdr X-Canary=yes, pause; v1 healthy; v2; the user aborts
// right after the pass that writes the route.
func TestRedTeam2HeaderRouteAddedThenRemovedBeforeItLands(t *testing.T) {
	s := newSim(t)
	s.lbLag = 2
	s.canaryRollout(3, canaryScaleStep(1), headerRouteStep("hdr", "X-Canary", "yes"), pauseStep(""))
	s.update(withRoutes("hdr"))
	s.run(60, "healthy on v1", isHealthy)
	s.healthLag = 1
	setImage(s, "v2")
	s.run(100, "route written", func(*v1alpha1.Rollout) bool { return s.rt2RouteWritten("hdr") })
	s.updateStatus(func(st *v1alpha1.RolloutStatus) { st.Abort = true })
	// checkInvariants fails the test when the late route lands on a canary
	// group without a healthy target.
	s.run(100, "aborted, verified, nothing in flight", func(ro *v1alpha1.Rollout) bool {
		v := ro.Status.Verification
		return v != nil && v.Kind == v1alpha1.VerificationAbort && v.Phase == v1alpha1.VerificationVerified && len(s.pendingLB) == 0
	})
	s.steps(5)
}
