package controller

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
	"github.com/albrollouts/albrollouts/internal/verify"
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
	// Each raise was preceded by a health-only check of the group that gains
	// (canary 10, canary 50, then stable at promotion), and every write by a
	// full verification.
	var gains []string
	full := 0
	for _, in := range s.v.inputs {
		if !in.HealthOnly {
			full++
			continue
		}
		for _, d := range in.Destinations {
			if d.RequireHealthy {
				gains = append(gains, d.Service)
			}
		}
	}
	if !slices.Contains(gains, "web-canary") || !slices.Contains(gains, "web-stable") || full == 0 {
		t.Fatalf("health-only checks required %v, %d full checks", gains, full)
	}
}

func TestCanaryAbortReturnsTrafficBeforeScalingDown(t *testing.T) {
	s := newSim(t)
	s.lbLag = 2
	s.canaryRollout(4, weightStep(50), pauseStep(""))
	v1 := s.run(50, "healthy on v1", isHealthy).Status.StableRS
	setImage(s, "v2")
	ro := s.run(80, "paused at 50%", func(ro *v1alpha1.Rollout) bool { return ro.Status.Phase == v1alpha1.RolloutPhasePaused })
	v2 := ro.Status.CurrentPodHash
	if s.albWeights["web-canary"] != 50 {
		t.Fatalf("ALB %v at the pause", s.albWeights)
	}
	s.updateStatus(func(st *v1alpha1.RolloutStatus) { st.Abort = true })
	ro = s.run(200, "aborted with the canary scaled down", func(ro *v1alpha1.Rollout) bool {
		return ro.Status.Phase == v1alpha1.RolloutPhaseDegraded && s.replicasOf(v2) == 0
	})
	if s.albWeights["web-canary"] != 0 || s.albWeights["web-stable"] != 100 {
		t.Fatalf("ALB after abort %v", s.albWeights)
	}
	if !strings.Contains(ro.Status.Message, "RolloutAborted") || ro.Status.StableRS != v1 {
		t.Fatalf("status after abort: %q stable %s", ro.Status.Message, ro.Status.StableRS)
	}
	if v := ro.Status.Verification; v == nil || v.Kind != v1alpha1.VerificationAbort || v.Phase != v1alpha1.VerificationVerified {
		t.Fatalf("abort verification %+v", v)
	}
	// Retry starts the steps again.
	s.updateStatus(func(st *v1alpha1.RolloutStatus) { st.Abort = false })
	s.run(100, "paused at 50% again", func(ro *v1alpha1.Rollout) bool {
		return ro.Status.Phase == v1alpha1.RolloutPhasePaused && s.albWeights["web-canary"] == 50
	})
}

func TestCanaryBadVersionNeverGetsTraffic(t *testing.T) {
	s := newSim(t)
	s.lbLag = 1
	s.canaryRollout(2, weightStep(20), pauseStep(""))
	s.run(50, "healthy on v1", isHealthy)
	s.unhealthyVersion = "v2"
	maxCanary := int32(0)
	setImage(s, "v2")
	ro := s.run(200, "aborted", func(ro *v1alpha1.Rollout) bool {
		maxCanary = max(maxCanary, s.albWeights["web-canary"])
		return ro.Status.Phase == v1alpha1.RolloutPhaseDegraded
	})
	if maxCanary != 0 {
		t.Fatalf("the unhealthy canary got weight %d", maxCanary)
	}
	if !strings.Contains(ro.Status.Message, "VerificationTimedOut") {
		t.Fatalf("message %q", ro.Status.Message)
	}
	cond := findCondition(ro, v1alpha1.ConditionTrafficVerified)
	if cond == nil || cond.Reason != "VerificationTimedOut" || !strings.Contains(cond.Message, "targets 0/1 healthy") {
		t.Fatalf("TrafficVerified condition %+v", cond)
	}
}

func TestCanaryAWSErrorNeverMovesTheRollout(t *testing.T) {
	s := newSim(t)
	s.canaryRollout(2, weightStep(20), weightStep(60), pauseStep(""))
	s.run(50, "healthy on v1", isHealthy)
	setImage(s, "v2")
	s.run(80, "at 20%", func(ro *v1alpha1.Rollout) bool { return s.albWeights["web-canary"] == 20 })
	s.failVerify = "AccessDenied"
	replicas := map[string]int32{}
	for i := 0; i < 120; i++ { // well past the 30 s timeout
		s.step()
		if w := s.albWeights["web-canary"]; w != 20 {
			t.Fatalf("pass %d: the ALB weight moved to %d during AccessDenied", i, w)
		}
		for _, rs := range s.replicaSets() {
			if prev, ok := replicas[rs.Name]; ok && ptr.Deref(rs.Spec.Replicas, 1) < prev {
				t.Fatalf("pass %d: %s scaled down during AccessDenied", i, rs.Name)
			}
			replicas[rs.Name] = ptr.Deref(rs.Spec.Replicas, 1)
		}
	}
	ro := s.rollout()
	if ro.Status.Abort || ro.Status.Phase == v1alpha1.RolloutPhaseDegraded {
		t.Fatalf("an AWS error aborted the rollout: %q", ro.Status.Message)
	}
	if c := findCondition(ro, v1alpha1.ConditionTrafficVerified); c == nil || c.Reason != "AccessDenied" {
		t.Fatalf("TrafficVerified %+v", c)
	}
	s.failVerify = ""
	s.run(100, "at the pause after the fault cleared", func(ro *v1alpha1.Rollout) bool {
		return ro.Status.Phase == v1alpha1.RolloutPhasePaused && s.albWeights["web-canary"] == 60
	})
}

func TestCanaryTemplateChangeMidRollout(t *testing.T) {
	s := newSim(t)
	s.lbLag = 1
	s.canaryRollout(4, weightStep(50), pauseStep(""))
	s.run(50, "healthy on v1", isHealthy)
	setImage(s, "v2")
	s.run(80, "paused at 50%", func(ro *v1alpha1.Rollout) bool { return ro.Status.Phase == v1alpha1.RolloutPhasePaused })
	setImage(s, "v3")
	ro := s.run(150, "paused at 50% on v3", func(ro *v1alpha1.Rollout) bool {
		return ro.Status.Phase == v1alpha1.RolloutPhasePaused && ro.Status.CurrentPodHash != "" && s.albWeights["web-canary"] == 50 && s.canaryImage() == "demo:v3"
	})
	s.updateStatus(func(st *v1alpha1.RolloutStatus) { st.PauseConditions = nil })
	s.run(150, "healthy on v3", func(r *v1alpha1.Rollout) bool { return isHealthy(r) && r.Status.StableRS == ro.Status.CurrentPodHash })
}

func TestCanaryRollbackToStableMidRollout(t *testing.T) {
	s := newSim(t)
	s.lbLag = 1
	s.canaryRollout(4, weightStep(50), pauseStep(""))
	v1 := s.run(50, "healthy on v1", isHealthy).Status.StableRS
	setImage(s, "v2")
	ro := s.run(80, "paused at 50%", func(ro *v1alpha1.Rollout) bool { return ro.Status.Phase == v1alpha1.RolloutPhasePaused })
	v2 := ro.Status.CurrentPodHash
	setImage(s, "v1")
	s.run(150, "healthy on v1 again with v2 scaled down", func(r *v1alpha1.Rollout) bool {
		return isHealthy(r) && r.Status.StableRS == v1 && s.replicasOf(v2) == 0 && s.albWeights["web-canary"] == 0
	})
}

func TestCanaryPromoteFullVerifiesTheFinalState(t *testing.T) {
	s := newSim(t)
	s.lbLag = 1
	s.canaryRollout(2, weightStep(10), pauseStep(""), weightStep(50), pauseStep(""))
	v1 := s.run(50, "healthy on v1", isHealthy).Status.StableRS
	setImage(s, "v2")
	s.run(80, "paused at 10%", func(ro *v1alpha1.Rollout) bool { return ro.Status.Phase == v1alpha1.RolloutPhasePaused })
	s.updateStatus(func(st *v1alpha1.RolloutStatus) { st.PromoteFull = true })
	ro := s.run(150, "healthy on v2", func(r *v1alpha1.Rollout) bool { return isHealthy(r) && r.Status.StableRS != v1 })
	if ro.Status.PromoteFull {
		t.Fatal("promoteFull not reset")
	}
	if v := ro.Status.Verification; v == nil || v.Kind != v1alpha1.VerificationPromotion || v.Phase != v1alpha1.VerificationVerified {
		t.Fatalf("final verification %+v", v)
	}
}

func TestCanaryManualPauseStopsSteps(t *testing.T) {
	s := newSim(t)
	s.canaryRollout(2, weightStep(10), weightStep(50))
	s.run(50, "healthy on v1", isHealthy)
	s.update(func(ro *v1alpha1.Rollout) {
		ro.Spec.Paused = true
		ro.Spec.Template.Spec.Containers[0].Image = "demo:v2"
	})
	for i := 0; i < 40; i++ {
		s.step()
	}
	ro := s.rollout()
	if ro.Status.Phase != v1alpha1.RolloutPhasePaused || s.albWeights["web-canary"] != 0 || ptr.Deref(ro.Status.CurrentStepIndex, 0) != 0 {
		t.Fatalf("paused rollout moved: phase %s, ALB %v, step %v", ro.Status.Phase, s.albWeights, ro.Status.CurrentStepIndex)
	}
	s.update(func(ro *v1alpha1.Rollout) { ro.Spec.Paused = false })
	s.run(100, "healthy on v2", func(r *v1alpha1.Rollout) bool { return isHealthy(r) && s.canaryImage() == "demo:v2" })
}

func TestCanaryMissingServiceIsInvalidSpec(t *testing.T) {
	s := newSim(t)
	s.canaryRollout(2, weightStep(10))
	s.must(s.c.Delete(context.Background(), &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: s.ns, Name: "web-canary"}}))
	for i := 0; i < 10; i++ {
		s.step()
	}
	ro := s.rollout()
	c := findCondition(ro, v1alpha1.ConditionInvalidSpec)
	if ro.Status.Phase != v1alpha1.RolloutPhaseDegraded || c == nil || !strings.Contains(c.Message, "web-canary") {
		t.Fatalf("phase %s, InvalidSpec %+v", ro.Status.Phase, c)
	}
}

// A pass may die between any two writes (a crash, a conflict, a network
// error). Fail the k-th write of a rollout, for every k, and check the
// rollout still completes without ever breaking an invariant.
func TestCanaryCrashAtEveryWrite(t *testing.T) {
	for k := 1; k <= 30; k++ {
		t.Run(fmt.Sprint(k), func(t *testing.T) {
			s := newSim(t)
			s.lbLag = 1
			s.canaryRollout(2, weightStep(30), pauseStep("2s"), weightStep(60))
			v1 := s.run(50, "healthy on v1", isHealthy).Status.StableRS
			s.failWriteAt = s.writes + k
			setImage(s, "v2")
			start := s.writes
			s.run(300, "healthy on v2", func(r *v1alpha1.Rollout) bool { return isHealthy(r) && r.Status.StableRS != v1 })
			if s.writes < s.failWriteAt {
				t.Skipf("the rollout made only %d writes; write %d never happened", s.writes-start, k)
			}
		})
	}
}

func findCondition(ro *v1alpha1.Rollout, t string) *v1alpha1.RolloutCondition {
	for i := range ro.Status.Conditions {
		if ro.Status.Conditions[i].Type == t {
			return &ro.Status.Conditions[i]
		}
	}
	return nil
}

func TestRestartAtEvictsOneBatchAtATime(t *testing.T) {
	s := newSim(t)
	s.canaryRollout(4, weightStep(50))
	s.run(50, "healthy on v1", isHealthy)
	var before []string
	for _, p := range s.pods() {
		before = append(before, p.Name)
	}
	at := metav1.NewTime(s.now.Add(time.Second).Truncate(time.Second))
	s.now = s.now.Add(time.Second)
	s.update(func(ro *v1alpha1.Rollout) { ro.Spec.RestartAt = &at })
	// Never more than one pod (25% of 4) away at a time.
	ro := s.run(200, "restarted", func(ro *v1alpha1.Rollout) bool {
		if n := len(s.pods()); n < 3 {
			t.Fatalf("%d of 4 pods left during the restart", n)
		}
		return ro.Status.RestartedAt != nil && !ro.Status.RestartedAt.Before(&at)
	})
	for _, p := range s.pods() {
		if slices.Contains(before, p.Name) {
			t.Fatalf("pod %s survived the restart", p.Name)
		}
	}
	if !isHealthy(ro) {
		t.Fatalf("not healthy after the restart: %s", ro.Status.Message)
	}
}

func TestExpectationIsWhatTheControllerVerifies(t *testing.T) {
	s := newSim(t)
	s.canaryRollout(2, weightStep(30), pauseStep(""))
	s.run(50, "healthy on v1", isHealthy)
	setImage(s, "v2")
	ro := s.run(80, "paused at 30%", func(ro *v1alpha1.Rollout) bool { return ro.Status.Phase == v1alpha1.RolloutPhasePaused })
	in, err := Expectation(context.Background(), s.c, ro, s.now, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if len(in.Destinations) != 2 || in.Destinations[0].Service != "web-canary" || in.Destinations[0].Weight != 30 ||
		in.Destinations[1].Service != "web-stable" || in.Destinations[1].Weight != 70 || len(in.Destinations[0].Targets) != 1 || len(in.Destinations[1].Targets) != 2 {
		t.Fatalf("expectation %+v", in.Destinations)
	}
	if in.ActionName != "web-root" || len(in.Ingresses) != 1 || in.Ingresses[0].Hostname == "" {
		t.Fatalf("expectation %+v", in)
	}
	// And the verifier agrees the ALB does it.
	if res := s.v.Verify(context.Background(), in); res.Outcome != verify.Verified {
		t.Fatalf("verify %s: %s", res.Outcome, res.Message)
	}
}

func TestCanaryMaxTrafficWeightStickinessAndPrefix(t *testing.T) {
	s := newSim(t)
	s.prefix = "custom.example.com"
	ro := s.canaryRollout(4, weightStep(50), pauseStep(""))
	s.update(func(ro *v1alpha1.Rollout) {
		tr := ro.Spec.Strategy.Canary.TrafficRouting
		tr.MaxTrafficWeight = ptr.To(int32(200))
		tr.ALB.AnnotationPrefix = s.prefix
		tr.ALB.StickinessConfig = &v1alpha1.StickinessConfig{Enabled: true, DurationSeconds: 300}
	})
	_ = ro
	s.run(50, "healthy on v1", isHealthy)
	setImage(s, "v2")
	s.run(80, "paused at 50 of 200", func(ro *v1alpha1.Rollout) bool { return ro.Status.Phase == v1alpha1.RolloutPhasePaused })
	if s.albWeights["web-canary"] != 50 || s.albWeights["web-stable"] != 150 {
		t.Fatalf("ALB weights %v, want canary 50 and stable 150 of 200", s.albWeights)
	}
	var ing networkingv1.Ingress
	s.must(s.c.Get(context.Background(), client.ObjectKey{Namespace: s.ns, Name: "web"}, &ing))
	a := ing.Annotations["custom.example.com/actions.web-root"]
	if !strings.Contains(a, `"TargetGroupStickinessConfig":{"Enabled":true,"DurationSeconds":300}`) {
		t.Fatalf("action %s", a)
	}
	if _, ok := ing.Annotations["alb.ingress.kubernetes.io/actions.web-root"]; ok {
		t.Fatal("the default prefix was written too")
	}
	if m := ing.Annotations["rollouts.argoproj.io/managed-alb-annotations"]; m != `{"web":["custom.example.com/actions.web-root"]}` {
		t.Fatalf("bookkeeping %s", m)
	}
	if n := s.replicasOf(s.rollout().Status.CurrentPodHash); n != 1 {
		t.Fatalf("canary at 50 of 200 with 4 replicas: %d pods, want 1", n)
	}
}

func TestCanaryFollowsReplicasChangesMidRollout(t *testing.T) {
	s := newSim(t)
	s.canaryRollout(4, weightStep(50), pauseStep(""))
	v1 := s.run(50, "healthy on v1", isHealthy).Status.StableRS
	setImage(s, "v2")
	ro := s.run(80, "paused at 50%", func(ro *v1alpha1.Rollout) bool { return ro.Status.Phase == v1alpha1.RolloutPhasePaused })
	v2 := ro.Status.CurrentPodHash
	s.update(func(ro *v1alpha1.Rollout) { ro.Spec.Replicas = ptr.To(int32(8)) }) // the HPA scales up
	ro = s.run(30, "scaled to 8", func(ro *v1alpha1.Rollout) bool {
		return s.replicasOf(v1) == 8 && s.replicasOf(v2) == 4 && ro.Status.HPAReplicas == 12
	})
	if ro.Status.HPAReplicas != 12 || ro.Status.Selector != "app=web" {
		t.Fatalf("scale subresource status: HPAReplicas %d, selector %q", ro.Status.HPAReplicas, ro.Status.Selector)
	}
}

func TestBasicCanaryWithoutTrafficRouting(t *testing.T) {
	s := newSim(t)
	s.canaryRollout(4, weightStep(25), pauseStep(""))
	s.update(func(ro *v1alpha1.Rollout) {
		cs := ro.Spec.Strategy.Canary
		cs.TrafficRouting, cs.ScaleDownDelaySeconds, cs.AbortScaleDownDelaySeconds = nil, nil, nil
		cs.MaxSurge, cs.MaxUnavailable = ptr.To(intstr.FromInt32(1)), ptr.To(intstr.FromInt32(0))
	})
	v1 := s.run(50, "healthy on v1", isHealthy).Status.StableRS
	setImage(s, "v2")
	ro := s.run(80, "paused at 25%", func(ro *v1alpha1.Rollout) bool { return ro.Status.Phase == v1alpha1.RolloutPhasePaused })
	if c, st := s.replicasOf(ro.Status.CurrentPodHash), s.replicasOf(v1); c != 1 || st != 3 {
		t.Fatalf("25%% of 4 by pods: canary %d, stable %d", c, st)
	}
	s.updateStatus(func(st *v1alpha1.RolloutStatus) { st.PauseConditions = nil })
	s.run(80, "healthy on v2", func(r *v1alpha1.Rollout) bool {
		return isHealthy(r) && r.Status.StableRS != v1 && s.replicasOf(v1) == 0
	})
}

// Without verification, status.alb is still filled (Argo Rollouts leaves it
// empty then), and nothing waits for the ALB.
func TestStatusALBWithoutVerification(t *testing.T) {
	s := newSim(t)
	s.r.opts.VerifyByDefault = false
	s.canaryRollout(2, weightStep(50), pauseStep(""))
	ro := s.run(50, "healthy on v1", isHealthy)
	if ro.Status.ALB == nil || ro.Status.ALB.LoadBalancer.Name == "" || ro.Status.ALB.StableTargetGroup.Name == "" {
		t.Fatalf("status.alb %+v", ro.Status.ALB)
	}
	if ro.Status.Verification != nil || ro.Status.Canary.Weights == nil || ro.Status.Canary.Weights.Verified != nil {
		t.Fatalf("verification status without verification: %+v %+v", ro.Status.Verification, ro.Status.Canary.Weights)
	}
	calls := s.v.calls
	for i := 0; i < 20; i++ {
		s.step()
	}
	if s.v.calls != calls {
		t.Fatalf("%d more ELBv2 lookups once status.alb was known", s.v.calls-calls)
	}
}

// A canary that breaks after its weight was verified: the abort must still
// move the traffic back to stable (needing only stable healthy) and scale
// the canary down.
func TestCanaryAbortFromABrokenCanary(t *testing.T) {
	s := newSim(t)
	s.lbLag = 1
	s.canaryRollout(4, weightStep(50), pauseStep(""))
	s.run(50, "healthy on v1", isHealthy)
	setImage(s, "v2")
	ro := s.run(80, "paused at 50%", func(ro *v1alpha1.Rollout) bool { return ro.Status.Phase == v1alpha1.RolloutPhasePaused })
	v2 := ro.Status.CurrentPodHash
	s.lenient = true // the ALB fails open on the broken canary meanwhile; that is what the abort is for
	s.unhealthyVersion = "v2"
	s.updateStatus(func(st *v1alpha1.RolloutStatus) { st.Abort = true })
	s.run(200, "aborted with the canary scaled down", func(ro *v1alpha1.Rollout) bool {
		return ro.Status.Phase == v1alpha1.RolloutPhaseDegraded && s.replicasOf(v2) == 0
	})
	if s.albWeights["web-canary"] != 0 || s.albWeights["web-stable"] != 100 {
		t.Fatalf("ALB after abort %v", s.albWeights)
	}
}
