package controller

// Red-team tests: each demonstrates a violation of the product's safety
// rules (or, listed separately, a liveness problem) on the current code.
// They are expected to FAIL until the controller is fixed.

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
	"github.com/albrollouts/albrollouts/internal/albannotation"
	"github.com/albrollouts/albrollouts/internal/elbv2"
)

// RULE 2 (and 7): the canary Service is re-pointed while a header route
// still forwards to its target group.
//
// A managed route whose match changes between steps (setHeaderRoute hdr
// X-Canary=yes, later setHeaderRoute hdr X-Canary=beta: a wider audience)
// is removed when a new template arrives. The removal's verification looks
// for the route's rule with the headers of the FIRST setHeaderRoute step of
// that route (canarySpec → routeConditions), not those the ALB carries
// (X-Canary=beta), so a rule that is still there (load-balancer lag) is
// taken for someone else's: "removed" is verified, the bound forgets the
// route, and the canary Service moves to the new pods, not yet healthy,
// while the ALB still sends X-Canary=beta requests to the canary group.
//
// Sequence: v1 healthy; v2 with steps setCanaryScale 1, setHeaderRoute
// hdr=yes, pause, setHeaderRoute hdr=beta, pause; promote to the second
// pause (route now beta on the ALB); new template v3 (healthLag 2, lbLag 2).
func TestRedTeamHeaderRouteRemovalVerifiedWithTheWrongHeaders(t *testing.T) {
	s := newSim(t)
	s.lbLag = 2
	s.canaryRollout(4, canaryScaleStep(1), headerRouteStep("hdr", "X-Canary", "yes"), pauseStep(""),
		headerRouteStep("hdr", "X-Canary", "beta"), pauseStep(""))
	s.update(withRoutes("hdr"))
	s.run(60, "healthy on v1", isHealthy)
	s.healthLag = 2
	setImage(s, "v2")
	s.run(100, "paused at the first pause with the route", func(ro *v1alpha1.Rollout) bool { return paused(ro) && s.routeHeaders("web")["hdr"] != "" })
	s.updateStatus(func(st *v1alpha1.RolloutStatus) { st.PauseConditions = nil })
	s.run(100, "paused at the second pause with the beta route applied", func(ro *v1alpha1.Rollout) bool {
		return paused(ro) && strings.Contains(s.routeHeaders("web")["hdr"], "beta") && len(s.pendingLB) == 0
	})
	setImage(s, "v3")
	// checkInvariants fails the test if the route forwards to a canary
	// group without a healthy target.
	s.run(200, "paused with the route on v3", func(ro *v1alpha1.Rollout) bool {
		return paused(ro) && s.canaryImage() == "demo:v3" && len(s.routeHeaders("web")) > 0
	})
}

// RULE 2 (and 1): a Service that an Ingress path names directly is
// re-pointed to pods that are not yet healthy in its target group.
//
// A common Argo Rollouts set-up gives testers a direct way to the canary:
// a second ALB Ingress (canary.example.com) whose path names the canary
// Service itself. The controller sees it (observed.plainBackends: the guard
// counts the canary Service as receiving all of that path's traffic), yet
// moves the canary Service's selector from the stable pods straight to the
// new ones as soon as they are Ready (switchService; vetSelector lets a
// plain-path Service move to ready pods of a fully available ReplicaSet).
// The old targets leave that target group at once and the new ones are
// still in the ALB's initial health check: the group serves with no healthy
// target. Blue-green's active Service gets a widened selector for exactly
// this; the canary Service gets nothing.
//
// Sequence: canary rollout v1 healthy, Ingress web-canary-direct → Service
// web-canary; targets take 2 passes to pass the health check; new template v2.
func TestRedTeamCanaryServiceWithAPlainPathMovesToUnhealthyTargets(t *testing.T) {
	s := newSafeSim(t)
	s.canaryRollout(2, weightStep(20), pauseStep(""))
	s.ingress("web-canary-direct", networkingv1.IngressServiceBackend{Name: "web-canary", Port: networkingv1.ServiceBackendPort{Number: 80}})
	s.run(60, "healthy on v1", isHealthy)
	s.steps(3) // the plain path's group has had a healthy target
	s.healthLag = 2
	setImage(s.sim, "v2")
	// checkInvariants fails the test when the path's group has no healthy target.
	s.run(100, "paused at 20%", paused)
}

// LIVENESS: spec.restartAt completes for a blue-green rollout with one
// replica. The only pod is the last ready pod of the active Service, which
// the guard never evicts; as the canary does, the ReplicaSet grows by one pod
// during the restart (restartSurge) so that the active group keeps a healthy
// target while the old pod goes. Before, restartPods reported the restart
// "done for now" forever and status.restartedAt was never set.
func TestRedTeamLivenessBlueGreenRestartWithOneReplicaCompletes(t *testing.T) {
	for _, alb := range []bool{false, true} {
		t.Run(fmt.Sprintf("alb=%t", alb), func(t *testing.T) {
			s := newSim(t)
			s.blueGreenRollout(1, bgOptions{alb: alb})
			s.run(60, "healthy on v1", isHealthy)
			at := metav1.NewTime(s.now.Add(time.Second).Truncate(time.Second))
			s.now = s.now.Add(time.Second)
			s.update(func(ro *v1alpha1.Rollout) { ro.Spec.RestartAt = &at })
			s.run(200, "restarted", func(ro *v1alpha1.Rollout) bool {
				return ro.Status.RestartedAt != nil && !ro.Status.RestartedAt.Before(&at)
			})
		})
	}
}

// RULE 1: with two Ingresses (two ALBs), an abort moved all traffic back to
// the stable group on BOTH load balancers after its targets were seen
// healthy on ONE of them, because reading the other failed.
//
// Going back to stable, moveWeight accepts a check that is not Verified when
// checkedHealthy says the stable pods were seen healthy "in each of its
// target groups"; it looked only at the groups the result lists, and a
// Failed result (ALB B throttled) lists only ALB A's. The guard's healthSeen
// made the same mistake. Both now take a Failed read as proving nothing.
//
// The model simulator plays both ALBs through the real engine: each has its
// own target groups and health checks (albHealthLag), and reads of one can
// fail alone (failIngress). (An earlier two-ALB stand-in verifier listed no
// group of ALB B when ALB A was not verified, which made the second half of
// this test fail for the stand-in's sake, not the controller's.)
//
// Sequence: two Ingresses (web, web2), canary 50 % then pause; promote: the
// stable Service moves to the new pods; user aborts; ALB B cannot be read
// for 60 passes; targets pass ALB B's health check 3 passes after ALB A's.
func TestRedTeamAbortTrustsOneALBWhenTheOtherCannotBeRead(t *testing.T) {
	s := newSim(t)
	s.canaryRollout(4, weightStep(50), pauseStep(""))
	s.ingress("web2", networkingv1.IngressServiceBackend{Name: "web-root", Port: networkingv1.ServiceBackendPort{Name: albannotation.UseAnnotation}})
	s.update(func(ro *v1alpha1.Rollout) {
		alb := ro.Spec.Strategy.Canary.TrafficRouting.ALB
		alb.Ingress, alb.Ingresses = "", []string{"web", "web2"}
	})
	s.run(80, "healthy on v1", isHealthy)
	setImage(s, "v2")
	s.run(120, "paused at 50%", paused)
	s.updateStatus(func(st *v1alpha1.RolloutStatus) { st.PauseConditions = nil })
	s.run(120, "the stable Service on v2", func(*v1alpha1.Rollout) bool { return s.stableImage() == "demo:v2" })
	// From now on targets pass ALB B's health check 3 passes after ALB A's
	// (those registered long ago are healthy in both), and B cannot be read.
	s.albHealthLag["web2"] = 3
	s.updateStatus(func(st *v1alpha1.RolloutStatus) { st.Abort = true })
	s.failIngress["web2"] = elbv2.KindThrottled
	// checkInvariants (every pass) fails the test when a rule of either ALB
	// sends traffic to a group without a healthy target on that ALB.
	// While B cannot be read, nothing proves its stable group healthy (or
	// idle): traffic stays where it was last verified.
	s.steps(60)
	if s.stableImage() != "demo:v2" {
		t.Fatalf("the stable Service moved to %s while ALB B could not be read", s.stableImage())
	}
	// Readable again, the abort completes.
	delete(s.failIngress, "web2")
	s.run(120, "back on the stable pods, verified", func(ro *v1alpha1.Rollout) bool {
		v := ro.Status.Verification
		return s.stableImage() == "demo:v1" && v != nil && v.Kind == v1alpha1.VerificationAbort && v.Phase == v1alpha1.VerificationVerified
	})
	s.steps(5)
}

// RULE 2 (and 7): a weight written but not yet applied is forgotten once
// the weights before it are verified again, and the Service behind it is
// re-pointed while the load balancer controller may still apply it.
//
// The canary's weight is written 0 → 10 and, before the load balancer
// controller applied 10, back to 0 (an abort). The check of "canary 0"
// reads the ALB after the second write, finds canary 0 (the 10 was never
// applied yet) and says Verified; boundVerified resets status.trafficBound
// to canary 0, so the guard no longer counts the 10 that is still in the
// load balancer controller's queue. The canary Service moves at once to
// other pods (back to the stable ones), newly registered in the canary
// group and not yet healthy; then the load balancer controller applies the
// 10 it was working on: 10 % of production goes to a group with no healthy
// target. The guard's own doc says a written, unverified weight counts
// until a later write is verified; "verified" here proves nothing about the
// write still in flight (A→B→A).
//
// Sequence (canary and ping-pong): lbLag 2, healthLag 1, v1 healthy; v2 with
// setWeight 10: abort right after the pass that wrote canary 10.
func TestRedTeamInFlightWeightForgottenWhenTheOldWeightVerifiesAgain(t *testing.T) {
	for _, pingPong := range []bool{false, true} {
		t.Run(fmt.Sprintf("pingPong=%t", pingPong), func(t *testing.T) {
			s := newSafeSim(t)
			s.lbLag = 2
			s.canaryRollout(2, weightStep(10), weightStep(75))
			canary := "web-canary"
			if pingPong {
				s.redTeamPingPong()
				canary = "web-pong"
			}
			s.run(60, "healthy on v1", isHealthy)
			s.healthLag = 1
			setImage(s.sim, "v2")
			s.run(100, "canary weight 10 written", func(*v1alpha1.Rollout) bool {
				var ing networkingv1.Ingress
				s.must(s.c.Get(context.Background(), client.ObjectKey{Namespace: s.ns, Name: "web"}, &ing))
				w, _ := actionWeights(ing.Annotations[albannotation.ActionKey(s.prefix, s.actionName)])
				return w[canary] == 10
			})
			s.updateStatus(func(st *v1alpha1.RolloutStatus) { st.Abort = true })
			// checkInvariants fails the test when the late 10 lands on a
			// canary group without a healthy target.
			s.run(100, "aborted, verified", func(ro *v1alpha1.Rollout) bool {
				v := ro.Status.Verification
				return v != nil && v.Kind == v1alpha1.VerificationAbort && v.Phase == v1alpha1.VerificationVerified && len(s.pendingLB) == 0
			})
		})
	}
}

// redTeamPingPong makes the rollout a ping-pong canary (Services web-ping
// and web-pong; ping is stable after the first deploy).
func (ss *safeSim) redTeamPingPong() {
	ctx := context.Background()
	for _, name := range []string{"web-ping", "web-pong"} {
		svc := ss.service("web-stable").DeepCopy()
		svc.ObjectMeta = metav1.ObjectMeta{Namespace: ss.ns, Name: name}
		ss.must(ss.c.Create(ctx, svc))
	}
	ss.update(func(ro *v1alpha1.Rollout) {
		cs := ro.Spec.Strategy.Canary
		cs.CanaryService, cs.StableService = "", ""
		cs.PingPong = &v1alpha1.PingPongSpec{PingService: "web-ping", PongService: "web-pong"}
	})
}
