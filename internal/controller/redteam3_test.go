package controller

// Red-team tests, third round: each demonstrates a violation of the safety
// rules (controller.go, "The safety rules") on the current code, with the
// real engine (verify.Decide) judging the model ALBs of the simulator. They
// failed on the code they were written against; each is fixed and kept.

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
	"github.com/albrollouts/albrollouts/internal/analysis"
)

// rt3PodsOf lists the live pods of a version (image demo:<v>).
func (s *sim) rt3PodsOf(version string) []corev1.Pod {
	var out []corev1.Pod
	for _, p := range s.pods() {
		if p.DeletionTimestamp == nil && len(p.Spec.Containers) > 0 && p.Spec.Containers[0].Image == "demo:"+version {
			out = append(out, p)
		}
	}
	return out
}

// rt3Replace deletes pods (a node drain, a crash: the ReplicaSet makes new
// ones), runs one pass so that the replacements are created and registered,
// and makes the replacements of version take slowPasses passes more than
// usual to pass the ALB health check (a slow start) in every group.
func (s *sim) rt3Replace(version string, pods []corev1.Pod, slowPasses int) {
	s.t.Helper()
	before := map[string]bool{}
	for _, p := range s.rt3PodsOf(version) {
		before[p.Name] = true
	}
	for i := range pods {
		s.must(s.c.Delete(context.Background(), &pods[i]))
	}
	s.step()
	for _, p := range s.rt3PodsOf(version) {
		if before[p.Name] || p.Status.PodIP == "" {
			continue
		}
		for svc, at := range s.regAt {
			if _, ok := at[p.Status.PodIP]; ok {
				at[p.Status.PodIP] = s.passes + slowPasses
				s.regAt[svc] = at
			}
		}
	}
}

// RULE 4: an analysis step is passed without being evaluated and without a
// user promoting past it, after the steps are edited while the rollout is
// paused at a pause step.
//
// A pause step sets status.controllerPause (with a CanaryPauseStep pause
// condition). An edit of spec.strategy.canary.steps (a new
// status.currentStepHash) sends the rollout back to step 0
// (reconcileCanary) but leaves the pause conditions and controllerPause as
// they were. stepGate (gates.go) reads "no pause condition of mine and
// controllerPause true" as "a user promoted past me" and completes the
// analysis step at its first look: the gate never pauses, and the rollout
// goes on to the next weight. The user added the analysis step to make the
// rollout safer.
//
// Sequence: 4 replicas, steps setWeight 25, pause; v1 healthy; v2 paused at
// the pause; the user edits the steps to setWeight 25, analysis, setWeight
// 75, pause (no promote).
func TestRedTeam3AnalysisStepPassedAfterStepsEditedAtAPause(t *testing.T) {
	s := newSim(t)
	s.canaryRollout(4, weightStep(25), pauseStep(""))
	s.run(60, "healthy on v1", isHealthy)
	setImage(s, "v2")
	s.run(100, "paused at the pause step", pausedBy(v1alpha1.PauseReasonCanaryPauseStep))
	s.steps(3)
	s.runPhase[analysis.KindStep] = v1alpha1.AnalysisPhaseInconclusive
	s.update(func(ro *v1alpha1.Rollout) {
		ro.Spec.Strategy.Canary.Steps = []v1alpha1.CanaryStep{weightStep(25), {Analysis: analysisRaw()}, weightStep(75), pauseStep("")}
	})
	for i := 0; i < 60; i++ {
		s.step()
		ro := s.rollout()
		if got := ptr.Deref(ro.Status.CurrentStepIndex, -1); got > 1 || s.albWeights["web-canary"] > 25 {
			t.Fatalf("pass %d: the analysis step (index 1) was passed without evaluation or promotion: step index %d, ALB weights %v, pause conditions %+v\nhistory:\n%s",
				s.passes, got, s.albWeights, ro.Status.PauseConditions, strings.Join(s.history, "\n"))
		}
	}
	if !pausedBy(v1alpha1.PauseReasonInconclusiveAnalysisRun)(s.rollout()) {
		t.Fatalf("not paused at the analysis gate: %+v", s.rollout().Status.PauseConditions)
	}
}

// RULE 1: blue-green in the ALB, the move of all traffic back to the active
// group after a timed-out flip is written with no health check, and the
// active group's pods were replaced meanwhile: all of production goes to a
// group whose targets are still in their initial health check.
//
// moveBlueGreenWeight skips the health-before-weight check when
// undoingTimedOut: the written weights are those of a verification that
// timed out, and the group the traffic goes back to is assumed to hold the
// pods it had ("whose pods never left it"). But the flip had been applied:
// the active group had weight 0 for the whole timeout, and its pods are not
// immortal (a node drain, a crash: the ReplicaSet replaces them, and the
// replacements start in Elb.InitialHealthChecking). The guard does not catch
// it either: vetIngress counts a blue-green raise from e.base, the highest
// weight written or bound, and the bound still holds the active group's 100
// from before the flip (guard.go says so: "an open limitation").
//
// Sequence: 2 replicas, ALB mode with auto-promotion; v1 healthy; v2; the
// flip (preview 100) is written and applied; one v2 pod is replaced and its
// replacement never passes the health check, so the flip's verification
// times out (30 s) and the rollout aborts; meanwhile both v1 pods (active
// group, weight 0) were replaced by pods that take 60 passes to pass the
// health check.
func TestRedTeam3BlueGreenUndoAfterTimeoutSkipsTheHealthCheck(t *testing.T) {
	s := newSim(t)
	s.blueGreenRollout(2, bgOptions{alb: true})
	s.run(80, "healthy on v1", isHealthy)
	setImage(s, "v2")
	s.run(120, "the flip to the preview group applied", func(*v1alpha1.Rollout) bool {
		return s.rt2ActionWeights("web")["web-preview"] == 100 && s.albWeights["web-preview"] == 100 && len(s.pendingLB) == 0
	})
	// A v2 pod is replaced; its replacement never turns healthy: the flip
	// cannot be verified and times out.
	s.rt3Replace("v2", s.rt3PodsOf("v2")[:1], 100000)
	// The v1 pods, at weight 0 in the active group, are replaced too; their
	// replacements take 60 passes to pass the health check.
	s.rt3Replace("v1", s.rt3PodsOf("v1"), 60)
	// checkInvariants fails the test when the active group gets traffic
	// with no healthy target.
	s.run(200, "aborted, all traffic back on the active group", func(ro *v1alpha1.Rollout) bool {
		return ro.Status.Abort && s.albWeights["web-active"] == 100
	})
	s.steps(5)
}

// RULE 1 and RULE 2: the stable Service of a canary, which an Ingress path
// names directly, is re-pointed at promotion straight from the old pods to
// the new ones: the path's target group serves with no healthy target.
//
// The first round fixed this for the canary Service (movePlainCanary: widen,
// check the new pods healthy in the path's group, narrow). The stable
// Service got nothing: driveTraffic moves all weight to the canary group,
// then switchService points the stable Service at the new pods. The guard
// lets it through: vetSelector sees the stable Service's action weight 0
// verified, so its only traffic is the plain path's (not "weighted"), and a
// plain-path Service may move to ready pods of a fully available
// ReplicaSet. The old targets leave the path's group at once; the new ones
// are in their initial health check. A path straight to the stable Service
// is a common set-up (stable.example.com next to the weighted host, an
// internal Ingress, a health-check endpoint of the "current" version).
//
// Sequence: canary, 2 replicas, steps setWeight 50, pause; a second ALB
// Ingress web-stable-direct whose path names web-stable; v1 healthy; targets
// take 2 passes to pass the health check; v2; promote at the pause.
func TestRedTeam3StableServiceWithAPlainPathMovesToUnhealthyTargets(t *testing.T) {
	s := newSim(t)
	s.canaryRollout(2, weightStep(50), pauseStep(""))
	s.ingress("web-stable-direct", networkingv1.IngressServiceBackend{Name: "web-stable", Port: networkingv1.ServiceBackendPort{Number: 80}})
	s.run(60, "healthy on v1", isHealthy)
	s.steps(3) // the plain path's group has had a healthy target
	s.healthLag = 2
	setImage(s, "v2")
	s.run(100, "paused at 50%", paused)
	promoteCLI(s)
	// checkInvariants fails the test when the path's group has no healthy
	// target.
	s.run(150, "healthy on v2", func(ro *v1alpha1.Rollout) bool { return isHealthy(ro) && s.stableImage() == "demo:v2" })
	s.steps(5)
}

// RULE 1 and RULE 2: blue-green in the ALB, the active Service, which
// another Ingress's path names directly, is re-pointed from the old pods to
// the new ones in one write: that path's target group serves with no
// healthy target.
//
// driveBlueGreenALB moves the active Service once the action's weight 0 on
// the active group is verified (after the flip to the preview group). It
// knows nothing of plain paths (only selector mode and the canary Service,
// movePlainCanary, widen first). The guard's vetSelector counts the plain
// path (exposure.plain) but, the action's weight on the active Service
// being 0, lets a plain-path Service move to the ready pods of a fully
// available ReplicaSet. The path sends all of its traffic to a group whose
// old targets are deregistered and whose new ones are in their initial
// health check. (A path to the active Service is how Argo's blue-green
// manifests route production: a team moving to blueGreen.alb keeps its
// other Ingress, or an internal one.)
//
// Sequence: blue-green ALB mode, 2 replicas, auto-promotion; a second ALB
// Ingress web-active-direct naming web-active; v1 healthy; targets take 2
// passes to pass the health check; v2.
func TestRedTeam3BlueGreenALBActiveServiceWithAPlainPathMovesToUnhealthyTargets(t *testing.T) {
	s := newSim(t)
	s.blueGreenRollout(2, bgOptions{alb: true})
	s.ingress("web-active-direct", networkingv1.IngressServiceBackend{Name: "web-active", Port: networkingv1.ServiceBackendPort{Number: 80}})
	s.atomic = false // two ALBs: each is atomic on its own, not both together
	s.run(80, "healthy on v1", isHealthy)
	s.steps(3)
	s.healthLag = 2
	setImage(s, "v2")
	// checkInvariants fails the test when the path's group has no healthy
	// target.
	s.run(200, "healthy on v2", func(ro *v1alpha1.Rollout) bool {
		return isHealthy(ro) && s.selectorOf("web-active") == ro.Status.StableRS
	})
	s.steps(5)
}

// RULE 2: a canary Service the spec stops naming keeps its weight on the
// ALB, and the pods behind it are scaled down while that weight is still
// applied.
//
// The user renames the canary Service (spec.strategy.canary.canaryService
// web-canary -> web-canary2, a new Service made from the same manifest:
// selector app=web) and aborts. The action on the Ingress still forwards
// 20 % to web-canary: observeTraffic finds it "foreign" (it names a Service
// the spec does not), correctWeights rewrites it to web-canary2 0 /
// web-stable 100, and the aborted ReplicaSet's scale-down
// (scaleCanaryALB, modeAbort) only asks that the canary and stable Services
// of the spec no longer select it by hash and that the action as written
// gives the canary no weight: it starts the abortScaleDownDelaySeconds
// clock at once, whether or not the rewrite was ever applied or verified.
// The guard does not stop it: status.trafficBound still lists web-canary at
// 20, but vetScale (and vetSelector, vetEviction) only look at the Services
// the spec names now (rolloutServices), so web-canary's traffic is
// invisible to it. When the load balancer controller is slow to apply the
// rewrite (down, restarting, behind on its queue for more than the delay),
// the ALB still sends 20 % of production to web-canary's group, whose pods
// are gone.
//
// Sequence: 2 replicas, steps setWeight 20, pause; v1 healthy; v2 paused at
// 20 %; the load balancer controller stops applying changes; the user
// renames the canary Service and aborts; 30 s later the v2 ReplicaSet is
// scaled to 0.
func TestRedTeam3RenamedCanaryServiceScaledDownUnderItsOldWeight(t *testing.T) {
	s := newSim(t)
	s.canaryRollout(2, weightStep(20), pauseStep(""))
	svc := s.service("web-stable").DeepCopy()
	svc.ObjectMeta = metav1.ObjectMeta{Namespace: s.ns, Name: "web-canary2"}
	svc.Spec.Selector = map[string]string{"app": "web"}
	s.must(s.c.Create(context.Background(), svc))
	s.run(60, "healthy on v1", isHealthy)
	setImage(s, "v2")
	s.run(100, "paused at 20%", func(ro *v1alpha1.Rollout) bool { return paused(ro) && s.albWeights["web-canary"] == 20 })
	s.steps(3)
	s.lbStalledUntil = s.passes + 1000
	s.update(func(ro *v1alpha1.Rollout) { ro.Spec.Strategy.Canary.CanaryService = "web-canary2" })
	s.updateStatus(func(st *v1alpha1.RolloutStatus) { st.Abort = true })
	// checkInvariants fails the test when the ALB's 20 % for web-canary
	// reaches a group with no healthy target.
	for i := 0; i < 150; i++ {
		s.step()
	}
}
