package controller

import (
	"context"
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
	"github.com/albrollouts/albrollouts/internal/albannotation"
	"github.com/albrollouts/albrollouts/internal/replicaset"
)

// bgOptions shape a blue-green rollout of the simulator.
type bgOptions struct {
	// alb: the switch is made in the ALB (blueGreen.alb.ingress = web),
	// with rootService web-root; otherwise the Ingress web routes to
	// web-active directly (Argo's manifests).
	alb bool
	// previewIngress adds an Ingress web-preview routing to web-preview
	// directly (selector mode).
	previewIngress bool
	mutate         func(*v1alpha1.BlueGreenStrategy)
}

// blueGreenRollout creates a blue-green rollout web (image demo:v1) with the
// Services web-active and web-preview and the Ingress web.
func (s *sim) blueGreenRollout(replicas int32, o bgOptions) *v1alpha1.Rollout {
	s.t.Helper()
	ctx := context.Background()
	names := []string{"web-active", "web-preview"}
	if o.alb {
		names = append(names, "web-root")
	}
	for _, name := range names {
		svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: s.ns, Name: name}, Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": "web"},
			Ports:    []corev1.ServicePort{{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromString("http")}},
		}}
		s.must(s.c.Create(ctx, svc))
	}
	backend := networkingv1.IngressServiceBackend{Name: "web-active", Port: networkingv1.ServiceBackendPort{Number: 80}}
	if o.alb {
		backend = networkingv1.IngressServiceBackend{Name: "web-root", Port: networkingv1.ServiceBackendPort{Name: albannotation.UseAnnotation}}
	}
	s.ingress("web", backend)
	if o.previewIngress {
		// Test traffic only: the preview moves to the new pods at once, as
		// in Argo Rollouts, and may have no healthy target meanwhile.
		s.exempt["web-preview"] = true
		s.ingress("web-preview", networkingv1.IngressServiceBackend{Name: "web-preview", Port: networkingv1.ServiceBackendPort{Number: 80}})
	}
	bg := &v1alpha1.BlueGreenStrategy{ActiveService: "web-active", PreviewService: "web-preview",
		ScaleDownDelaySeconds: ptr.To(int32(30)), AbortScaleDownDelaySeconds: ptr.To(int32(30))}
	if o.alb {
		bg.ALB = &v1alpha1.BlueGreenALB{Ingress: "web", RootService: "web-root", ServicePort: 80}
		s.atomic = true
	}
	if o.mutate != nil {
		o.mutate(bg)
	}
	ro := &v1alpha1.Rollout{
		ObjectMeta: metav1.ObjectMeta{Namespace: s.ns, Name: "web", UID: types.UID("rollout-uid"), Generation: 1},
		Spec: v1alpha1.RolloutSpec{
			Replicas: ptr.To(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "demo:v1",
					Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080, Protocol: corev1.ProtocolTCP}}}}},
			},
			Strategy: v1alpha1.RolloutStrategy{BlueGreen: bg},
		},
	}
	s.must(s.c.Create(ctx, ro))
	return ro
}

func (s *sim) ingress(name string, backend networkingv1.IngressServiceBackend) {
	s.t.Helper()
	ctx := context.Background()
	ing := &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Namespace: s.ns, Name: name}, Spec: networkingv1.IngressSpec{
		IngressClassName: ptr.To("alb"),
		Rules: []networkingv1.IngressRule{{IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{Paths: []networkingv1.HTTPIngressPath{{
			Path: "/", PathType: ptr.To(networkingv1.PathTypePrefix), Backend: networkingv1.IngressBackend{Service: &backend},
		}}}}}},
	}}
	ing.Status.LoadBalancer.Ingress = []networkingv1.IngressLoadBalancerIngress{{Hostname: "k8s-ns-" + name + "-123.us-east-1.elb.amazonaws.com"}}
	s.must(s.c.Create(ctx, ing))
	s.must(s.c.Status().Update(ctx, ing))
}

func (s *sim) service(name string) *corev1.Service {
	s.t.Helper()
	var svc corev1.Service
	s.must(s.c.Get(context.Background(), client.ObjectKey{Namespace: s.ns, Name: name}, &svc))
	return &svc
}

// selectorOf is the hash a Service selects ("*" when it has no hash label).
func (s *sim) selectorOf(name string) string {
	h, ok := s.service(name).Spec.Selector[replicaset.HashLabel]
	if !ok {
		return "*"
	}
	return h
}

// keepsReplicas fails the test when the ReplicaSet of hash has fewer than
// want replicas; call it from a run condition.
func (s *sim) keepsReplicas(hash string, want int32, why string) {
	s.t.Helper()
	if got := s.replicasOf(hash); got < want {
		s.t.Fatalf("pass %d: ReplicaSet %s scaled down to %d %s\nhistory:\n%s", s.passes, hash, got, why, strings.Join(s.history, "\n"))
	}
}

func isPausedBlueGreen(ro *v1alpha1.Rollout) bool {
	return ro.Status.Phase == v1alpha1.RolloutPhasePaused && len(ro.Status.PauseConditions) == 1 &&
		ro.Status.PauseConditions[0].Reason == v1alpha1.PauseReasonBlueGreenPause
}

// Argo's manifest shape (Ingress → active Service), auto-promotion, health
// checks that take 3 passes: the old pods stay registered until the new ones
// are healthy in the active group, so the ALB always has a healthy target;
// the old ReplicaSet keeps its pods until the switch is verified, then for
// scaleDownDelaySeconds.
func TestBlueGreenSelectorSwitchKeepsAHealthyTarget(t *testing.T) {
	s := newSim(t)
	s.healthLag = 3
	s.blueGreenRollout(3, bgOptions{})
	ro := s.run(60, "healthy on v1", isHealthy)
	v1 := ro.Status.StableRS
	if ro.Status.BlueGreen.ActiveSelector != v1 || ro.Status.BlueGreen.PreviewSelector != v1 {
		t.Fatalf("selectors after the first deploy: %+v", ro.Status.BlueGreen)
	}
	if v := ro.Status.Verification; v == nil || v.Phase != v1alpha1.VerificationVerified || v.Kind != v1alpha1.VerificationBlueGreenSwitch {
		t.Fatalf("first deploy verification %+v", v)
	}
	setImage(s, "v2")
	var v2 string
	overlap := false // old pods healthy while the new ones are registered, not yet healthy
	ro = s.run(120, "healthy on v2", func(ro *v1alpha1.Rollout) bool {
		v2 = ro.Status.CurrentPodHash
		if ro.Status.StableRS == v1 {
			s.keepsReplicas(v1, 3, "before the switch was verified")
		}
		var oldHealthy, newWaiting int
		for ip := range s.registered["web-active"] {
			switch {
			case s.podOfVersion(ip, "v1") && s.healthyIn("web-active", ip):
				oldHealthy++
			case s.podOfVersion(ip, "v2") && !s.healthyIn("web-active", ip):
				newWaiting++
			}
		}
		overlap = overlap || (oldHealthy == 3 && newWaiting == 3)
		return isHealthy(ro) && ro.Status.StableRS != v1
	})
	if s.selectorOf("web-active") != v2 || ro.Status.BlueGreen.ActiveSelector != v2 || ro.Status.BlueGreen.PreviewSelector != v2 {
		t.Fatalf("after the switch: active selects %s, status %+v, want %s", s.selectorOf("web-active"), ro.Status.BlueGreen, v2)
	}
	if s.replicasOf(v1) != 3 {
		t.Fatalf("the old ReplicaSet has %d replicas right after the switch, want 3 until scaleDownDelaySeconds", s.replicasOf(v1))
	}
	if !overlap {
		t.Fatal("the new pods never joined the active group while the old ones still served")
	}
	start := s.now
	s.run(100, "the old ReplicaSet scaled down", func(*v1alpha1.Rollout) bool { return s.replicasOf(v1) == 0 })
	if d := s.now.Sub(start); d < 29e9 {
		t.Fatalf("the old ReplicaSet scaled down %s after the switch, want scaleDownDelaySeconds (30s)", d)
	}
	if !strings.Contains(eventsText(s), "Completed blue-green update") {
		t.Fatalf("no RolloutCompleted event for the blue-green update:\n%s", eventsText(s))
	}
}

// The same model shows the downtime of Argo Rollouts' switch: with the
// verification off the selector moves at once and the active group has no
// healthy target until the new pods pass the health check.
func TestBlueGreenUnverifiedSwitchHasDowntimeInTheModel(t *testing.T) {
	s := newSim(t)
	s.r.opts.VerifyByDefault = false
	s.healthLag = 3
	s.lenient = true
	s.blueGreenRollout(2, bgOptions{})
	v1 := s.run(60, "healthy on v1", isHealthy).Status.StableRS
	s.violations = nil
	setImage(s, "v2")
	s.run(80, "healthy on v2", func(ro *v1alpha1.Rollout) bool { return isHealthy(ro) && ro.Status.StableRS != v1 })
	if len(s.violations) == 0 {
		t.Fatal("the unverified switch never left the active group without a healthy target; the model would not catch the downtime")
	}
}

// A preview behind its own ALB and autoPromotionEnabled false: the rollout
// pauses with the new pods verified healthy in the preview group, and
// switches only when promoted.
func TestBlueGreenSelectorManualPromotionWithPreviewALB(t *testing.T) {
	s := newSim(t)
	s.healthLag = 2
	s.blueGreenRollout(2, bgOptions{previewIngress: true, mutate: func(bg *v1alpha1.BlueGreenStrategy) { bg.AutoPromotionEnabled = ptr.To(false) }})
	v1 := s.run(60, "healthy on v1", isHealthy).Status.StableRS
	setImage(s, "v2")
	ro := s.run(80, "paused with the preview verified", func(ro *v1alpha1.Rollout) bool {
		v := ro.Status.Verification
		return isPausedBlueGreen(ro) && v != nil && v.Phase == v1alpha1.VerificationVerified && strings.Contains(v.Fingerprint, "web-preview@"+ro.Status.CurrentPodHash)
	})
	v2 := ro.Status.CurrentPodHash
	for i := 0; i < 30; i++ {
		s.step()
		if s.selectorOf("web-active") != v1 {
			t.Fatalf("pass %d: the active service moved to %s while paused", s.passes, s.selectorOf("web-active"))
		}
	}
	if !s.rollout().Status.ControllerPause || s.selectorOf("web-preview") != v2 {
		t.Fatalf("paused status %+v, preview selects %s", s.rollout().Status, s.selectorOf("web-preview"))
	}
	s.updateStatus(func(st *v1alpha1.RolloutStatus) { st.PauseConditions = nil })
	ro = s.run(80, "healthy on v2", func(ro *v1alpha1.Rollout) bool { return isHealthy(ro) && ro.Status.StableRS == v2 })
	if ro.Status.ControllerPause || len(ro.Status.PauseConditions) > 0 {
		t.Fatalf("pause state after promotion: %+v %v", ro.Status.PauseConditions, ro.Status.ControllerPause)
	}
}

// A version that passes readiness but fails the ALB health check: it never
// gets the active Service to itself; the switch times out, the rollout is
// aborted back to v1 (verified) and nothing of v1 scales down.
func TestBlueGreenSelectorBadVersionIsSwitchedBack(t *testing.T) {
	s := newSim(t)
	s.healthLag = 1
	s.blueGreenRollout(2, bgOptions{})
	v1 := s.run(60, "healthy on v1", isHealthy).Status.StableRS
	s.unhealthyVersion = "v2"
	setImage(s, "v2")
	var v2 string
	ro := s.run(200, "aborted with v2 scaled down", func(ro *v1alpha1.Rollout) bool {
		v2 = ro.Status.CurrentPodHash
		s.keepsReplicas(v1, 2, "while v2 was tried")
		if sel := s.selectorOf("web-active"); sel == v2 {
			t.Fatalf("pass %d: the active service was narrowed to the unhealthy v2", s.passes)
		}
		return ro.Status.Phase == v1alpha1.RolloutPhaseDegraded && s.replicasOf(v2) == 0
	})
	// The preview stays on v2, as in Argo Rollouts (selector mode: it gets
	// no production traffic).
	if ro.Status.StableRS != v1 || s.selectorOf("web-active") != v1 || s.selectorOf("web-preview") != v2 {
		t.Fatalf("after the abort: stable %s, active %s, preview %s, want %s (preview %s)", ro.Status.StableRS, s.selectorOf("web-active"), s.selectorOf("web-preview"), v1, v2)
	}
	for _, want := range []string{"VerificationTimedOut", "targets 0/2 healthy"} {
		if !strings.Contains(ro.Status.Message, want) {
			t.Fatalf("message %q lacks %q", ro.Status.Message, want)
		}
	}
	if v := ro.Status.Verification; v == nil || v.Kind != v1alpha1.VerificationAbort || v.Phase != v1alpha1.VerificationVerified {
		t.Fatalf("abort verification %+v", v)
	}
}

// The new version breaks right after the active Service was narrowed to it
// (before the switch was verified): the verification times out and the
// abort takes the active Service back to v1 without first asking the broken
// state to verify, by widening it again and narrowing it to v1 once v1 is
// healthy in the group.
func TestBlueGreenSelectorAbortAfterTheNewVersionBreaks(t *testing.T) {
	s := newSim(t)
	s.healthLag = 1
	s.lenient = true // the group has no healthy target while v2 is broken: that is v2's fault
	s.blueGreenRollout(2, bgOptions{})
	v1 := s.run(60, "healthy on v1", isHealthy).Status.StableRS
	setImage(s, "v2")
	s.run(80, "narrowed to v2", func(ro *v1alpha1.Rollout) bool {
		if s.selectorOf("web-active") == ro.Status.CurrentPodHash && ro.Status.StableRS == v1 {
			s.unhealthyVersion = "v2"
			return true
		}
		return false
	})
	ro := s.run(200, "back on v1", func(ro *v1alpha1.Rollout) bool {
		s.keepsReplicas(v1, 2, "while v2 was tried")
		v := ro.Status.Verification
		return ro.Status.Phase == v1alpha1.RolloutPhaseDegraded && s.selectorOf("web-active") == v1 && v != nil &&
			v.Kind == v1alpha1.VerificationAbort && v.Phase == v1alpha1.VerificationVerified
	})
	if ro.Status.StableRS != v1 || !strings.Contains(ro.Status.Message, "VerificationTimedOut") {
		t.Fatalf("stable %s, message %q", ro.Status.StableRS, ro.Status.Message)
	}
}

// previewReplicaCount: one preview pod while paused; promoted, the preview
// grows to full size (scaleUpPreviewCheckPoint) and only then switches.
func TestBlueGreenPreviewReplicaCount(t *testing.T) {
	s := newSim(t)
	s.blueGreenRollout(3, bgOptions{alb: true, mutate: func(bg *v1alpha1.BlueGreenStrategy) {
		bg.AutoPromotionEnabled = ptr.To(false)
		bg.PreviewReplicaCount = ptr.To(int32(1))
	}})
	v1 := s.run(60, "healthy on v1", isHealthy).Status.StableRS
	setImage(s, "v2")
	ro := s.run(80, "paused", isPausedBlueGreen)
	v2 := ro.Status.CurrentPodHash
	if n := s.replicasOf(v2); n != 1 {
		t.Fatalf("preview has %d replicas while paused, want 1", n)
	}
	s.updateStatus(func(st *v1alpha1.RolloutStatus) { st.PauseConditions = nil })
	s.run(80, "checkpoint", func(ro *v1alpha1.Rollout) bool { return ro.Status.BlueGreen.ScaleUpPreviewCheckPoint })
	if s.albWeights["web-preview"] != 0 {
		t.Fatalf("traffic moved before the preview was full size: %v", s.albWeights)
	}
	ro = s.run(80, "healthy on v2", func(ro *v1alpha1.Rollout) bool {
		if s.albWeights["web-preview"] > 0 && s.replicasOf(v2) != 3 {
			t.Fatalf("traffic on the preview with %d replicas", s.replicasOf(v2))
		}
		if ro.Status.StableRS == v1 {
			s.keepsReplicas(v1, 3, "before the switch was verified")
		}
		return isHealthy(ro) && ro.Status.StableRS == v2
	})
	if ro.Status.BlueGreen.ScaleUpPreviewCheckPoint {
		t.Fatal("scaleUpPreviewCheckPoint not reset after the switch")
	}
}

// autoPromotionSeconds: a BlueGreenPause that ends by itself.
func TestBlueGreenAutoPromotionSeconds(t *testing.T) {
	s := newSim(t)
	s.blueGreenRollout(2, bgOptions{mutate: func(bg *v1alpha1.BlueGreenStrategy) { bg.AutoPromotionSeconds = 20 }})
	v1 := s.run(60, "healthy on v1", isHealthy).Status.StableRS
	setImage(s, "v2")
	ro := s.run(80, "paused", isPausedBlueGreen)
	paused := ro.Status.PauseConditions[0].StartTime.Time
	s.run(100, "healthy on v2", func(ro *v1alpha1.Rollout) bool { return isHealthy(ro) && ro.Status.StableRS != v1 })
	if s.now.Sub(paused) < 20e9 {
		t.Fatalf("promoted %s after the pause started, want at least 20s", s.now.Sub(paused))
	}
}

// promote --full skips the pause and previewReplicaCount.
func TestBlueGreenPromoteFull(t *testing.T) {
	s := newSim(t)
	s.blueGreenRollout(2, bgOptions{alb: true, mutate: func(bg *v1alpha1.BlueGreenStrategy) {
		bg.AutoPromotionEnabled = ptr.To(false)
		bg.PreviewReplicaCount = ptr.To(int32(1))
	}})
	v1 := s.run(60, "healthy on v1", isHealthy).Status.StableRS
	setImage(s, "v2")
	s.run(80, "paused", isPausedBlueGreen)
	s.updateStatus(func(st *v1alpha1.RolloutStatus) { st.PromoteFull = true })
	ro := s.run(100, "healthy on v2", func(ro *v1alpha1.Rollout) bool { return isHealthy(ro) && ro.Status.StableRS != v1 })
	if ro.Status.PromoteFull {
		t.Fatal("promoteFull not reset")
	}
	if !strings.Contains(eventsText(s), "Full promotion requested") {
		t.Fatalf("events:\n%s", eventsText(s))
	}
}

// The switch in the ALB: preview verified, one flip 100/0 → 0/100, the active
// Service re-pointed, the weight moved back; clients never see two versions
// (s.atomic), no group ever gets traffic without a healthy target, and the
// old pods stay until the switch is verified.
func TestBlueGreenALBSwitch(t *testing.T) {
	s := newSim(t)
	s.lbLag = 2
	s.healthLag = 2
	s.blueGreenRollout(3, bgOptions{alb: true, mutate: func(bg *v1alpha1.BlueGreenStrategy) { bg.AutoPromotionEnabled = ptr.To(false) }})
	ro := s.run(80, "healthy on v1", isHealthy)
	v1 := ro.Status.StableRS
	if s.albWeights["web-active"] != 100 || s.albWeights["web-preview"] != 0 {
		t.Fatalf("ALB after the first deploy %v", s.albWeights)
	}
	setImage(s, "v2")
	ro = s.run(80, "paused with the preview verified", func(ro *v1alpha1.Rollout) bool {
		v := ro.Status.Verification
		return isPausedBlueGreen(ro) && v != nil && v.Phase == v1alpha1.VerificationVerified && v.Kind == v1alpha1.VerificationTargetHealth &&
			strings.Contains(v.Fingerprint, "+healthy")
	})
	v2 := ro.Status.CurrentPodHash
	if s.selectorOf("web-preview") != v2 || s.selectorOf("web-active") != v1 {
		t.Fatalf("paused: preview %s active %s", s.selectorOf("web-preview"), s.selectorOf("web-active"))
	}
	s.updateStatus(func(st *v1alpha1.RolloutStatus) { st.PauseConditions = nil })
	flipped, repointed := false, false
	ro = s.run(120, "healthy on v2", func(ro *v1alpha1.Rollout) bool {
		if s.albWeights["web-preview"] == 100 {
			flipped = true
		}
		if flipped && s.selectorOf("web-active") == v2 {
			repointed = true
		}
		if ro.Status.StableRS == v1 {
			s.keepsReplicas(v1, 3, "before the switch was verified")
		}
		if s.albWeights["web-active"] > 0 && s.albWeights["web-preview"] > 0 {
			t.Fatalf("pass %d: weights split %v; the flip must be one write", s.passes, s.albWeights)
		}
		return isHealthy(ro) && ro.Status.StableRS == v2
	})
	if !flipped || !repointed {
		t.Fatalf("the switch did not go through the preview group: flipped %t, re-pointed %t", flipped, repointed)
	}
	if s.albWeights["web-active"] != 100 || s.albWeights["web-preview"] != 0 || s.selectorOf("web-active") != v2 {
		t.Fatalf("after the switch: ALB %v, active %s", s.albWeights, s.selectorOf("web-active"))
	}
	if v := ro.Status.Verification; v == nil || v.Kind != v1alpha1.VerificationBlueGreenSwitch || v.Phase != v1alpha1.VerificationVerified ||
		v.DesiredWeights == nil || v.DesiredWeights.Stable != 100 || v.DesiredWeights.Canary != 0 {
		t.Fatalf("final verification %+v", v)
	}
	if ro.Status.Canary.Weights != nil {
		t.Fatalf("a blue-green rollout wrote canary weights: %+v", ro.Status.Canary.Weights)
	}
	s.run(100, "the old ReplicaSet scaled down", func(*v1alpha1.Rollout) bool { return s.replicasOf(v1) == 0 })
}

// Abort before promotion in the ALB: traffic never left v1; the preview goes
// back to v1 and v2 scales down after abortScaleDownDelaySeconds; retry
// pauses again.
func TestBlueGreenALBAbortBeforePromotion(t *testing.T) {
	s := newSim(t)
	s.lbLag = 1
	s.blueGreenRollout(2, bgOptions{alb: true, mutate: func(bg *v1alpha1.BlueGreenStrategy) { bg.AutoPromotionEnabled = ptr.To(false) }})
	v1 := s.run(60, "healthy on v1", isHealthy).Status.StableRS
	setImage(s, "v2")
	v2 := s.run(80, "paused", isPausedBlueGreen).Status.CurrentPodHash
	s.updateStatus(func(st *v1alpha1.RolloutStatus) { st.Abort = true })
	ro := s.run(150, "aborted with v2 scaled down", func(ro *v1alpha1.Rollout) bool {
		if s.albWeights["web-preview"] != 0 {
			t.Fatalf("pass %d: traffic on the preview during an abort before promotion: %v", s.passes, s.albWeights)
		}
		return ro.Status.Phase == v1alpha1.RolloutPhaseDegraded && s.replicasOf(v2) == 0
	})
	if ro.Status.StableRS != v1 || s.selectorOf("web-preview") != v1 || !strings.Contains(ro.Status.Message, "RolloutAborted") {
		t.Fatalf("after the abort: stable %s preview %s message %q", ro.Status.StableRS, s.selectorOf("web-preview"), ro.Status.Message)
	}
	s.updateStatus(func(st *v1alpha1.RolloutStatus) { st.Abort = false })
	s.run(100, "paused again after retry", func(ro *v1alpha1.Rollout) bool {
		return isPausedBlueGreen(ro) && s.selectorOf("web-preview") == v2 && s.replicasOf(v2) == 2
	})
}

// The new pods are healthy in the preview group but fail the active group's
// health check: after the flip the post-switch verification times out, and
// the abort takes traffic back to v1 the same verified way, never showing
// clients two versions.
func TestBlueGreenALBAbortAfterFailedPostSwitchVerification(t *testing.T) {
	s := newSim(t)
	s.lbLag = 1
	s.healthLag = 1
	s.unhealthyIn["web-active"] = "v2"
	s.blueGreenRollout(2, bgOptions{alb: true})
	v1 := s.run(60, "healthy on v1", isHealthy).Status.StableRS
	setImage(s, "v2")
	flipped := false
	ro := s.run(300, "aborted back to v1", func(ro *v1alpha1.Rollout) bool {
		if s.albWeights["web-preview"] == 100 {
			flipped = true
		}
		s.keepsReplicas(v1, 2, "while v2 was tried")
		return ro.Status.Phase == v1alpha1.RolloutPhaseDegraded && s.albWeights["web-active"] == 100 && s.selectorOf("web-active") == v1 &&
			ro.Status.Verification != nil && ro.Status.Verification.Phase == v1alpha1.VerificationVerified
	})
	if !flipped {
		t.Fatal("traffic never reached the preview group")
	}
	if ro.Status.StableRS != v1 || !strings.Contains(ro.Status.Message, "VerificationTimedOut") {
		t.Fatalf("stable %s message %q", ro.Status.StableRS, ro.Status.Message)
	}
}

// v2 breaks (fails every health check) once it has the traffic: right after
// the flip, or after the active Service was re-pointed at it. The abort must
// not wait for the broken state to verify; it takes traffic back to v1, each
// move verified, and v1 never scales down.
func TestBlueGreenALBAbortWhenTheNewVersionBreaks(t *testing.T) {
	for _, when := range []string{"flipped", "re-pointed"} {
		t.Run(when, func(t *testing.T) {
			s := newSim(t)
			s.lbLag = 1
			s.healthLag = 1
			s.lenient = true // the preview group has no healthy target while v2 is broken: that is v2's fault
			s.blueGreenRollout(2, bgOptions{alb: true})
			v1 := s.run(60, "healthy on v1", isHealthy).Status.StableRS
			setImage(s, "v2")
			s.run(80, when, func(ro *v1alpha1.Rollout) bool {
				v2 := ro.Status.CurrentPodHash
				hit := s.albWeights["web-preview"] == 100 && (when == "flipped" || s.selectorOf("web-active") == v2)
				if hit {
					s.unhealthyVersion = "v2"
				}
				return hit
			})
			s.atomic = false
			ro := s.run(300, "back on v1", func(ro *v1alpha1.Rollout) bool {
				s.keepsReplicas(v1, 2, "while v2 was tried")
				v := ro.Status.Verification
				return ro.Status.Phase == v1alpha1.RolloutPhaseDegraded && s.albWeights["web-active"] == 100 && s.selectorOf("web-active") == v1 &&
					v != nil && v.Phase == v1alpha1.VerificationVerified
			})
			if ro.Status.StableRS != v1 || !strings.Contains(ro.Status.Message, "VerificationTimedOut") {
				t.Fatalf("stable %s, message %q", ro.Status.StableRS, ro.Status.Message)
			}
		})
	}
}

// A version that fails the ALB health check never gets traffic in ALB mode:
// the preview check times out and the rollout is aborted before the flip.
func TestBlueGreenALBBadVersionNeverSwitched(t *testing.T) {
	s := newSim(t)
	s.lbLag = 1
	s.blueGreenRollout(2, bgOptions{alb: true})
	s.run(60, "healthy on v1", isHealthy)
	s.unhealthyVersion = "v2"
	setImage(s, "v2")
	ro := s.run(200, "aborted", func(ro *v1alpha1.Rollout) bool {
		if s.albWeights["web-preview"] > 0 {
			t.Fatalf("pass %d: the unhealthy v2 got traffic: %v", s.passes, s.albWeights)
		}
		return ro.Status.Phase == v1alpha1.RolloutPhaseDegraded && ro.Status.Abort
	})
	if c := findCondition(ro, v1alpha1.ConditionTrafficVerified); c == nil || !strings.Contains(ro.Status.Message, "VerificationTimedOut") {
		t.Fatalf("message %q, TrafficVerified %+v", ro.Status.Message, c)
	}
}

// The flip is written but the load balancer never applies it within the
// timeout: the rollout is aborted, traffic stays on v1 (verified), and
// nothing of v1 scales down.
func TestBlueGreenALBFlipTimesOut(t *testing.T) {
	s := newSim(t)
	s.lbLag = 1
	s.blueGreenRollout(2, bgOptions{alb: true})
	v1 := s.run(60, "healthy on v1", isHealthy).Status.StableRS
	setImage(s, "v2")
	s.run(80, "the flip written", func(ro *v1alpha1.Rollout) bool {
		v := ro.Status.Verification
		ok := v != nil && v.Kind == v1alpha1.VerificationBlueGreenSwitch && v.DesiredWeights != nil && v.DesiredWeights.Canary == 100
		if !ok {
			return false
		}
		s.lbLag = 100000 // the load balancer controller stops applying changes
		s.pendingLB = nil
		return true
	})
	ro := s.run(200, "aborted", func(ro *v1alpha1.Rollout) bool {
		s.keepsReplicas(v1, 2, "after a flip that never took effect")
		return ro.Status.Phase == v1alpha1.RolloutPhaseDegraded && ro.Status.Verification != nil &&
			ro.Status.Verification.Kind == v1alpha1.VerificationAbort && ro.Status.Verification.Phase == v1alpha1.VerificationVerified
	})
	if s.albWeights["web-active"] != 100 || !strings.Contains(ro.Status.Message, "VerificationTimedOut") {
		t.Fatalf("ALB %v, message %q", s.albWeights, ro.Status.Message)
	}
	cond := findCondition(ro, v1alpha1.ConditionProgressing)
	if cond == nil || cond.Reason != "RolloutAborted" || !strings.Contains(cond.Message, "preview k8s-ns-webpreview-2 weight 0, want 100") {
		t.Fatalf("Progressing %+v: want the diagnosis of the timed-out flip", cond)
	}
}

// An AWS error during the switch: nothing moves, nothing scales down, the
// rollout is not aborted; it goes on once the error clears.
func TestBlueGreenAWSErrorDuringTheSwitch(t *testing.T) {
	for _, alb := range []bool{false, true} {
		t.Run(fmt.Sprintf("alb=%t", alb), func(t *testing.T) {
			s := newSim(t)
			s.blueGreenRollout(2, bgOptions{alb: alb, previewIngress: !alb, mutate: func(bg *v1alpha1.BlueGreenStrategy) { bg.AutoPromotionEnabled = ptr.To(false) }})
			v1 := s.run(60, "healthy on v1", isHealthy).Status.StableRS
			setImage(s, "v2")
			s.run(80, "paused", isPausedBlueGreen)
			s.failVerify = "AccessDenied"
			s.updateStatus(func(st *v1alpha1.RolloutStatus) { st.PauseConditions = nil })
			for i := 0; i < 120; i++ {
				s.step()
				if s.albWeights["web-preview"] > 0 && alb || s.selectorOf("web-active") != v1 {
					t.Fatalf("pass %d: traffic moved during AccessDenied: ALB %v, active %s", s.passes, s.albWeights, s.selectorOf("web-active"))
				}
				s.keepsReplicas(v1, 2, "during AccessDenied")
			}
			ro := s.rollout()
			if ro.Status.Abort || ro.Status.Phase == v1alpha1.RolloutPhaseDegraded {
				t.Fatalf("an AWS error aborted the rollout: %q", ro.Status.Message)
			}
			if c := findCondition(ro, v1alpha1.ConditionTrafficVerified); c == nil || c.Reason != "AccessDenied" {
				t.Fatalf("TrafficVerified %+v", c)
			}
			s.failVerify = ""
			s.run(100, "healthy on v2", func(ro *v1alpha1.Rollout) bool { return isHealthy(ro) && ro.Status.StableRS != v1 })
		})
	}
}

// Going back to the stable template mid-switch (undo) takes traffic back to
// v1 the safe way and scales v2 down.
func TestBlueGreenALBRollbackMidSwitch(t *testing.T) {
	s := newSim(t)
	s.lbLag = 1
	s.healthLag = 1
	s.blueGreenRollout(2, bgOptions{alb: true})
	v1 := s.run(60, "healthy on v1", isHealthy).Status.StableRS
	setImage(s, "v2")
	v2 := s.run(80, "traffic on the preview", func(*v1alpha1.Rollout) bool { return s.albWeights["web-preview"] == 100 }).Status.CurrentPodHash
	setImage(s, "v1")
	s.run(200, "healthy on v1 with v2 scaled down", func(ro *v1alpha1.Rollout) bool {
		return isHealthy(ro) && ro.Status.StableRS == v1 && s.replicasOf(v2) == 0 && s.albWeights["web-active"] == 100
	})
}

// A pass may die between any two writes: fail the k-th write, for every k,
// in both modes; the rollout still completes and no invariant ever breaks.
func TestBlueGreenCrashAtEveryWrite(t *testing.T) {
	for _, alb := range []bool{false, true} {
		for k := 1; k <= 25; k++ {
			t.Run(fmt.Sprintf("alb=%t/%d", alb, k), func(t *testing.T) {
				s := newSim(t)
				s.lbLag = 1
				s.healthLag = 1
				s.blueGreenRollout(2, bgOptions{alb: alb})
				v1 := s.run(60, "healthy on v1", isHealthy).Status.StableRS
				s.failWriteAt = s.writes + k
				start := s.writes
				setImage(s, "v2")
				s.run(300, "healthy on v2", func(r *v1alpha1.Rollout) bool {
					if r.Status.StableRS == v1 {
						s.keepsReplicas(v1, 2, "before the switch was verified")
					}
					return isHealthy(r) && r.Status.StableRS != v1
				})
				if s.writes < s.failWriteAt {
					t.Skipf("the update made only %d writes; write %d never happened", s.writes-start, k)
				}
			})
		}
	}
}

// A missing preview Service is a spec error, not a panic or a move.
func TestBlueGreenMissingServiceIsInvalidSpec(t *testing.T) {
	s := newSim(t)
	s.blueGreenRollout(2, bgOptions{alb: true})
	s.must(s.c.Delete(context.Background(), &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: s.ns, Name: "web-preview"}}))
	for i := 0; i < 10; i++ {
		s.step()
	}
	ro := s.rollout()
	c := findCondition(ro, v1alpha1.ConditionInvalidSpec)
	if ro.Status.Phase != v1alpha1.RolloutPhaseDegraded || c == nil || !strings.Contains(c.Message, "web-preview") {
		t.Fatalf("phase %s, InvalidSpec %+v", ro.Status.Phase, c)
	}
}

func eventsText(s *sim) string {
	var out []string
	for {
		select {
		case e := <-s.rec.Events:
			out = append(out, e)
		default:
			return strings.Join(out, "\n")
		}
	}
}

// A blue-green rollout turned canary (Argo Rollouts' e2e
// TestBlueGreenToCanary): the old active Service, which the canary no
// longer names, is released: its selector selects the rollout's pods of
// every version again. One an ALB Ingress routes to keeps its selector
// (widening it would register pods before they are healthy there).
func TestBlueGreenToCanaryReleasesTheActiveService(t *testing.T) {
	for _, routed := range []bool{false, true} {
		t.Run(fmt.Sprintf("ingress=%t", routed), func(t *testing.T) {
			s := newSim(t)
			s.blueGreenRollout(2, bgOptions{})
			if !routed {
				s.must(s.c.Delete(context.Background(), &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Namespace: s.ns, Name: "web"}}))
			}
			v1 := s.run(60, "healthy on v1", isHealthy).Status.StableRS
			s.update(func(ro *v1alpha1.Rollout) {
				ro.Spec.Strategy.BlueGreen = nil
				ro.Spec.Strategy.Canary = &v1alpha1.CanaryStrategy{Steps: []v1alpha1.CanaryStep{weightStep(50), pauseStep("")}}
				ro.Spec.Template.Annotations = map[string]string{"foo": "bar"}
			})
			s.run(80, "paused at 50%", paused)
			svc := s.service("web-active")
			if routed {
				if svc.Spec.Selector[replicaset.HashLabel] != v1 {
					t.Fatalf("web-active, routed to by an ALB ingress, selects %v; want it kept on %s", svc.Spec.Selector, v1)
				}
				return
			}
			if _, pinned := svc.Spec.Selector[replicaset.HashLabel]; pinned || svc.Annotations[ManagedByAnnotation] != "" {
				t.Fatalf("web-active after the switch to canary: selector %v, annotations %v; want the hash label and managed-by gone", svc.Spec.Selector, svc.Annotations)
			}
		})
	}
}
