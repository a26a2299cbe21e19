package controller

// Red-team tests, fourth round: each demonstrates a violation of the safety
// rules (controller.go, "The safety rules") on the current code, with the
// real engine (verify.Decide) judging the model ALBs of the simulator. They
// failed on the code they were written against; each is fixed and kept.

import (
	"context"
	"strings"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
	"github.com/albrollouts/albrollouts/internal/albannotation"
	"github.com/albrollouts/albrollouts/internal/analysis"
)

// RULE 2: a Service the rollout no longer names, which it keeps pinned on
// the old pods because an ALB Ingress routes to it directly, has those pods
// scaled down under it: the Ingress path's target group is left with no
// target at all.
//
// A blue-green rollout in selector mode (Argo's manifests: the Ingress web
// routes to web-active directly) becomes a canary (Argo Rollouts' e2e
// TestBlueGreenToCanary). releaseServices (ownership.go) sees that an ALB
// Ingress names web-active and deliberately keeps its selector on the v1
// hash ("widening it would register pods in a target group under traffic
// before they are healthy there"): the controller knows production traffic
// depends on web-active. But nothing keeps the pods it selects: the write
// guard (vetScale, guardedServices) looks only at the Services the spec
// names and formerServices (those the recorded weights name), not at
// released Services an Ingress routes to (observe.go: plainBackends is
// filled only for rolloutServices), and neither do the strategies' own
// scale-downs (basic.go here; scaleDownOld's "selected" for a canary with
// traffic routing, which counts only the canary and stable Services). At
// the 50 % step the basic canary shrinks v1 to one pod, and at promotion to
// none: every request of the Ingress path then goes to an empty target
// group (503).
//
// Sequence: blue-green selector mode, 2 replicas, Ingress web -> web-active
// (port 80); v1 healthy; the strategy is changed to a basic canary
// (setWeight 50, pause) together with a template change (v2); paused at
// 50 %; promote.
//
// The alb case is the same with a canary that routes through its own ALB
// Ingress web-canary-alb (Services web-stable, web-canary, web-root): v1
// keeps its pods until the promotion is verified, then scaleDownOld finds
// it selected by neither the canary nor the stable Service and scales it to
// 0 after scaleDownDelaySeconds.
func TestRedTeam4ReleasedServiceKeptForItsIngressLosesItsPods(t *testing.T) {
	for _, alb := range []bool{false, true} {
		name := "basic"
		if alb {
			name = "alb"
		}
		t.Run(name, func(t *testing.T) {
			s := newSim(t)
			s.blueGreenRollout(2, bgOptions{})
			if alb {
				for _, n := range []string{"web-stable", "web-canary", "web-root"} {
					svc := s.service("web-active").DeepCopy()
					svc.ObjectMeta = metav1.ObjectMeta{Namespace: s.ns, Name: n}
					svc.Spec.Selector = map[string]string{"app": "web"}
					s.must(s.c.Create(context.Background(), svc))
				}
				s.ingress("web-canary-alb", networkingv1.IngressServiceBackend{Name: "web-root", Port: networkingv1.ServiceBackendPort{Name: albannotation.UseAnnotation}})
			}
			s.run(60, "healthy on v1", isHealthy)
			s.steps(3) // the plain path's group has had a healthy target
			s.update(func(ro *v1alpha1.Rollout) {
				ro.Spec.Strategy.BlueGreen = nil
				ro.Spec.Strategy.Canary = &v1alpha1.CanaryStrategy{Steps: []v1alpha1.CanaryStep{weightStep(50), pauseStep("")}}
				if alb {
					cs := ro.Spec.Strategy.Canary
					cs.CanaryService, cs.StableService = "web-canary", "web-stable"
					cs.ScaleDownDelaySeconds = ptr.To(int32(30))
					cs.TrafficRouting = &v1alpha1.RolloutTrafficRouting{ALB: &v1alpha1.ALBTrafficRouting{Ingress: "web-canary-alb", ServicePort: 80, RootService: "web-root"}}
				}
				ro.Spec.Template.Spec.Containers[0].Image = "demo:v2"
			})
			s.run(120, "paused at 50%", paused)
			promoteCLI(s)
			// checkInvariants fails the test when the path to web-active
			// has no healthy target. The fix keeps web-active's pods: the
			// rollout completes where it need not scale them down (alb:
			// the old ReplicaSet stays for web-active), or stops, saying
			// why, where it would have to (basic: the stable side shrinks
			// to nothing at promotion).
			s.run(150, "healthy on v2, or stopped to keep web-active's pods", func(ro *v1alpha1.Rollout) bool {
				return isHealthy(ro) || (strings.Contains(ro.Status.Message, "refused to scale") && strings.Contains(ro.Status.Message, "service ns/web-active"))
			})
			s.steps(60)
		})
	}
}

// rt4Basic turns the canary rollout of canaryRollout into a basic canary
// (no trafficRouting) that names the canary and stable Services, with the
// Ingress web (the action's) deleted.
func (s *sim) rt4Basic(replicas int32, steps ...v1alpha1.CanaryStep) {
	s.t.Helper()
	s.canaryRollout(replicas, steps...)
	s.must(s.c.Delete(context.Background(), &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Namespace: s.ns, Name: "web"}}))
	s.update(func(ro *v1alpha1.Rollout) {
		cs := ro.Spec.Strategy.Canary
		cs.TrafficRouting, cs.ScaleDownDelaySeconds, cs.AbortScaleDownDelaySeconds = nil, nil, nil
	})
}

// RULE 1: a basic canary (no trafficRouting) whose canary Service an ALB
// Ingress names directly (a tester's way to the canary) re-points that
// Service from the stable pods to the new ones in one write at the first
// step: the path's target group serves with no healthy target.
//
// Round one fixed this for canaries with ALB traffic routing
// (movePlainCanary: widen, check healthy, narrow). The basic canary
// (basic.go, basicServices) still calls switchService straight, as soon as
// the new ReplicaSet has one available pod, and the guard lets it through:
// without trafficRouting there is no action (actionRef nil), so the
// Service is not "weighted", only "plain", and vetSelector lets a plain
// Service move to the ready pods of a fully available ReplicaSet. The
// rollout verifies (VerifyByDefault) and knows the path
// (obs.plainBackends), but basic.go never looks ("No ALB is involved, so
// nothing is verified"). Argo's basic canary names the canary Service for
// exactly this use (an Ingress or a tester's host pointing at it).
//
// Sequence: basic canary, 2 replicas; an ALB Ingress web-canary-direct
// whose path names web-canary; v1 healthy; targets take 2 passes to pass
// the health check; v2 (setWeight 50, pause).
func TestRedTeam4BasicCanaryCanaryServiceWithAPlainPathMovesToUnhealthyTargets(t *testing.T) {
	s := newSim(t)
	s.rt4Basic(2, weightStep(50), pauseStep(""))
	s.ingress("web-canary-direct", networkingv1.IngressServiceBackend{Name: "web-canary", Port: networkingv1.ServiceBackendPort{Number: 80}})
	s.run(60, "healthy on v1", isHealthy)
	s.steps(3)
	s.healthLag = 2
	setImage(s, "v2")
	// checkInvariants fails the test when the path's group has no healthy
	// target.
	s.run(100, "paused at 50%", func(ro *v1alpha1.Rollout) bool { return paused(ro) && s.canaryImage() == "demo:v2" })
	s.steps(5)
}

// RULE 2 (and RULE 1): trafficRouting dropped from a canary's spec while
// the action on its Ingress still forwards a share to the canary group: the
// pods of that group are scaled away in the first pass, and the canary
// Service is re-pointed to the next version's pods, under that weight.
//
// Round two fixed the same hole for one Ingress or one header route
// dropped from the spec (held Ingresses, observe.go heldBy; stale routes,
// routeNames). Dropping the whole of trafficRouting is not covered:
// rolloutAction returns no action for a canary without trafficRouting, so
// heldBy holds nothing, and the guard has no actionRef at all (exposure:
// a == nil, so a Service is exposed only through plain paths). The rollout
// becomes a basic canary (basic.go), which scales every ReplicaSet but the
// new and the stable one to 0 at once (v2, the pods behind the 20 %: the
// guard's vetScale finds no Service exposed), and whose basicServices
// switches the canary Service straight to the new ReplicaSet as soon as it
// has an available pod. The action annotation the controller wrote (20 % to web-canary,
// recorded in managed-alb-annotations) is left on the Ingress, and the load
// balancer keeps forwarding it. (Dropping trafficRouting is how a team
// leaves the ALB integration, or moves a rollout to a basic canary while
// it debugs one.)
//
// Sequence: canary, 2 replicas, steps setWeight 20, pause; v1 healthy; v2
// paused at 20 %; targets take 2 passes to pass the health check; one spec
// edit removes trafficRouting (and the scale-down delays that only apply
// with it) and sets template v3.
func TestRedTeam4TrafficRoutingDroppedKeepsForwarding(t *testing.T) {
	s := newSim(t)
	s.canaryRollout(2, weightStep(20), pauseStep(""))
	s.run(60, "healthy on v1", isHealthy)
	setImage(s, "v2")
	s.run(100, "paused at 20%", func(ro *v1alpha1.Rollout) bool { return paused(ro) && s.albWeights["web-canary"] == 20 })
	s.steps(3)
	s.healthLag = 2
	s.update(func(ro *v1alpha1.Rollout) {
		cs := ro.Spec.Strategy.Canary
		cs.TrafficRouting, cs.ScaleDownDelaySeconds, cs.AbortScaleDownDelaySeconds = nil, nil, nil
		ro.Spec.Template.Spec.Containers[0].Image = "demo:v3"
	})
	// checkInvariants fails the test when the Ingress's 20 % for
	// web-canary reaches a group with no healthy target.
	s.run(100, "paused on v3", func(ro *v1alpha1.Rollout) bool { return paused(ro) && s.canaryImage() == "demo:v3" })
	s.steps(5)
}

// RULE 1: blueGreen.alb dropped from the spec (ALB mode to selector mode)
// while the action on the Ingress still forwards all production traffic
// to the active group: at the next update the active Service is re-pointed
// to the new pods in one write, and that group serves with no healthy
// target.
//
// heldBy (observe.go) says it covers an Ingress dropped from
// "trafficRouting.alb.ingresses, blueGreen.alb", but rolloutAction returns
// no action for a blue-green rollout without blueGreen.alb ingresses, so
// nothing is held. In selector mode the guard sees no action either
// (actionRef nil); the active Service counts as plain (production by
// definition), and vetSelector lets a plain Service move to the ready pods
// of a fully available ReplicaSet. The selector-mode switch widens and
// narrows only with a check on Ingresses whose paths name the active
// Service directly; the Ingress web reaches it through the action the
// controller wrote (100 % web-active, still in managed-alb-annotations),
// which nothing reads any more.
//
// Sequence: blue-green ALB mode, 2 replicas, auto-promotion; v1 healthy;
// targets take 2 passes to pass the health check; one spec edit removes
// blueGreen.alb and sets template v2.
func TestRedTeam4BlueGreenALBDroppedKeepsForwarding(t *testing.T) {
	s := newSim(t)
	s.blueGreenRollout(2, bgOptions{alb: true})
	s.run(80, "healthy on v1", isHealthy)
	s.steps(3)
	s.healthLag = 2
	s.update(func(ro *v1alpha1.Rollout) {
		ro.Spec.Strategy.BlueGreen.ALB = nil
		ro.Spec.Template.Spec.Containers[0].Image = "demo:v2"
	})
	// checkInvariants fails the test when the action's 100 % for web-active
	// reaches a group with no healthy target.
	s.run(200, "healthy on v2", func(ro *v1alpha1.Rollout) bool { return isHealthy(ro) && s.serviceImage("web-active") == "demo:v2" })
	s.steps(60)
}

// RULE 1 and RULE 2: ephemeral metadata relabels pods into the target group
// of a Service that selects on the ephemeral label and that an ALB Ingress
// routes to directly, with no health check, and the pods that served that
// group are then scaled down before the relabelled ones are healthy in it.
//
// syncEphemeralMetadata (metadata.go) refuses a label that the rollout's
// selector or one of the Services it writes (writtenServices) selects on,
// "relabelling pods would move them in or out of a Service, and so of a
// target group, without any check". Any other Service is not looked at,
// although selecting the canary or the stable pods by their ephemeral label
// is what the feature is for (Argo Rollouts' docs: a role=stable label),
// and the controller lists every ALB Ingress of the namespace
// (observe.go: ingressNamed) and so knows that one routes to such a
// Service. At promotion the new pods get role=stable (applyMetadata on the
// new stable ReplicaSet) and join the group of web-by-role at once; the old
// ReplicaSet keeps its role=stable pods only until its scale-down delay
// (30 s), since neither scaleDownOld ("selected": only the canary and
// stable Services) nor the guard (vetScale: guardedServices) knows
// web-by-role. New targets that take longer than the delay to pass the
// health check of that load balancer (a health-check interval of 30 s and
// a healthy threshold of 3, say) leave the path's group with none.
//
// Sequence: canary, 2 replicas, steps setWeight 50, pause, with
// canaryMetadata role=canary and stableMetadata role=stable; a Service
// web-by-role selecting app=web, role=stable, and an ALB Ingress
// web-by-role naming it; v1 healthy; v2 paused at 50 %; targets take 60
// passes to pass the health check; promote.
func TestRedTeam4EphemeralLabelMovesPodsIntoAnIngressRoutedService(t *testing.T) {
	s := newSim(t)
	s.canaryRollout(2, weightStep(50), pauseStep(""))
	svc := s.service("web-stable").DeepCopy()
	svc.ObjectMeta = metav1.ObjectMeta{Namespace: s.ns, Name: "web-by-role"}
	svc.Spec.Selector = map[string]string{"app": "web", "role": "stable"}
	s.must(s.c.Create(context.Background(), svc))
	s.ingress("web-by-role", networkingv1.IngressServiceBackend{Name: "web-by-role", Port: networkingv1.ServiceBackendPort{Number: 80}})
	s.update(func(ro *v1alpha1.Rollout) {
		cs := ro.Spec.Strategy.Canary
		cs.CanaryMetadata = &runtime.RawExtension{Raw: []byte(`{"labels":{"role":"canary"}}`)}
		cs.StableMetadata = &runtime.RawExtension{Raw: []byte(`{"labels":{"role":"stable"}}`)}
	})
	s.albHealthLag["web-by-role"] = 60
	// The fix: a Service an ALB Ingress routes to that selects on an
	// ephemeral label is an invalid spec; the rollout changes nothing (no
	// pod is relabelled) and says why. checkInvariants still runs after
	// every pass.
	ro := s.run(60, "invalid spec naming web-by-role", func(ro *v1alpha1.Rollout) bool {
		return strings.Contains(ro.Status.Message, "service ns/web-by-role selects on ephemeral label role")
	})
	setImage(s, "v2")
	s.steps(80)
	for _, p := range s.pods() {
		if _, relabelled := p.Labels["role"]; relabelled {
			t.Fatalf("pod %s relabelled (%v) though the spec is invalid: %s", p.Name, p.Labels, ro.Status.Message)
		}
	}
}

// RULE 1: a Service that two ALB Ingresses name directly, one by port
// number and one by port name, is narrowed to the new pods once they are
// healthy in the first Ingress's target group only: the second Ingress's
// group loses its old targets while the new ones are still in their initial
// health check there.
//
// movePlain checks, before the narrowing, plainSpec over the Ingresses
// plainIngresses returns, and plainIngresses keeps only those whose backend
// port resolves to the same backendPort as the first one it finds
// (number and name: {80, ""} for port number 80, {80, "http"} for port
// name http). An Ingress that names the same Service port by name, or
// another port of the Service, is left out of the check, though it is an
// ALB path with its own target group (the load balancer controller makes
// one per Ingress and service port) that the narrowing removes the old
// targets from. Each load balancer health-checks its own groups on its own
// schedule (a different interval or threshold on the second Ingress), so
// the first group's health says nothing of the second's.
//
// Sequence: canary, 2 replicas, steps setWeight 50, pause; ALB Ingresses
// web-stable-a (web-stable, port 80) and web-stable-b (web-stable, port
// http), the latter's load balancer finding targets healthy 4 passes later
// than the others; v1 healthy; targets take 2 passes to pass the health
// check; v2; promote at the pause.
func TestRedTeam4PlainServiceNarrowedOnOneIngressPortCheckOnly(t *testing.T) {
	s := newSim(t)
	s.canaryRollout(2, weightStep(50), pauseStep(""))
	s.ingress("web-stable-a", networkingv1.IngressServiceBackend{Name: "web-stable", Port: networkingv1.ServiceBackendPort{Number: 80}})
	s.ingress("web-stable-b", networkingv1.IngressServiceBackend{Name: "web-stable", Port: networkingv1.ServiceBackendPort{Name: "http"}})
	s.run(60, "healthy on v1", isHealthy)
	s.steps(8) // both paths' groups have had a healthy target
	s.healthLag = 2
	s.albHealthLag["web-stable-b"] = 4
	setImage(s, "v2")
	s.run(100, "paused at 50%", paused)
	promoteCLI(s)
	// checkInvariants fails the test when web-stable-b's group has no
	// healthy target.
	s.run(150, "healthy on v2", func(ro *v1alpha1.Rollout) bool { return isHealthy(ro) && s.stableImage() == "demo:v2" })
	s.steps(10)
}

// RULE 1 and RULE 2: an Ingress of an IngressClass that is not named "alb"
// (an IngressClass resource whose controller is ingress.k8s.aws/alb, e.g.
// "internal-alb" with its IngressClassParams) is not seen as an ALB
// Ingress, so a path it has straight to the stable Service is unknown to
// the state machine and to the guard, and the Service is re-pointed from
// the old pods to the new ones in one write at promotion.
//
// isALBIngress (bluegreen_traffic.go) recognises only ingressClassName
// "alb", the legacy kubernetes.io/ingress.class annotation, or an
// alb.ingress.kubernetes.io/ annotation; it never reads the IngressClass.
// The AWS Load Balancer Controller serves every Ingress whose IngressClass
// has spec.controller ingress.k8s.aws/alb (this repository's own emulator,
// internal/localalb isALB, does so too), and clusters with an internal and
// an internet-facing ALB routinely have two such classes with other names,
// their scheme set in IngressClassParams rather than in annotations. So
// observe.go leaves the path out of plainBackends (and ingressNamed), the
// stable Service is not widened first (movePlainStable is not used), and
// vetSelector sees the Service as not exposed beyond the action's weight,
// verified 0 at that point.
//
// Sequence: canary, 2 replicas, steps setWeight 50, pause; an IngressClass
// internal-alb (controller ingress.k8s.aws/alb) and an Ingress
// web-stable-direct of that class naming web-stable, without ALB
// annotations; v1 healthy; targets take 2 passes to pass the health check;
// v2; promote at the pause.
func TestRedTeam4IngressOfAnotherALBClassIsNotSeen(t *testing.T) {
	s := newSim(t)
	s.canaryRollout(2, weightStep(50), pauseStep(""))
	ctx := context.Background()
	s.must(s.c.Create(ctx, &networkingv1.IngressClass{ObjectMeta: metav1.ObjectMeta{Name: "internal-alb"},
		Spec: networkingv1.IngressClassSpec{Controller: "ingress.k8s.aws/alb"}}))
	s.ingress("web-stable-direct", networkingv1.IngressServiceBackend{Name: "web-stable", Port: networkingv1.ServiceBackendPort{Number: 80}})
	var ing networkingv1.Ingress
	s.must(s.c.Get(ctx, client.ObjectKey{Namespace: s.ns, Name: "web-stable-direct"}, &ing))
	ing.Spec.IngressClassName = ptr.To("internal-alb")
	s.must(s.c.Update(ctx, &ing))
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

// RULE 1 and RULE 2: an ALB Ingress of the team's own that reaches the
// stable Service through a forward action of its own (a path whose backend
// is an action with port use-annotation, as for any weighted or
// conditional route written by hand) is invisible: at promotion the stable
// Service is re-pointed from the old pods to the new ones in one write, and
// that Ingress's target group serves with no healthy target.
//
// observe.go fills plainBackends (and ingressNamed) from ingressBackends,
// the Services named in paths and default backends; a path that names an
// action (port use-annotation) is skipped, and the action's forward
// targets are never read unless the action is the rollout's own. The
// guard's exposure reads only the rollout's action on the rollout's
// Ingresses. So a Service that another Ingress's action forwards all of
// its traffic to counts as unexposed once the rollout's own weight for it
// is verified 0, and switchService moves it straight to the new pods.
//
// Sequence: canary, 2 replicas, steps setWeight 50, pause; v1 healthy; an
// ALB Ingress web-legacy whose path names action legacy, forwarding 100 %
// to web-stable:80; targets take 2 passes to pass the health check; v2;
// promote at the pause.
func TestRedTeam4ForeignActionToTheStableServiceIsNotSeen(t *testing.T) {
	s := newSim(t)
	s.canaryRollout(2, weightStep(50), pauseStep(""))
	s.run(60, "healthy on v1", isHealthy)
	action, err := albannotation.Forward([]albannotation.Destination{{Service: "web-stable", Port: "80", Weight: 100}}, nil)
	s.must(err)
	s.ingress("web-legacy", networkingv1.IngressServiceBackend{Name: "legacy", Port: networkingv1.ServiceBackendPort{Name: albannotation.UseAnnotation}})
	ctx := context.Background()
	var ing networkingv1.Ingress
	s.must(s.c.Get(ctx, client.ObjectKey{Namespace: s.ns, Name: "web-legacy"}, &ing))
	ing.Annotations = map[string]string{albannotation.ActionKey("", "legacy"): action}
	s.must(s.c.Update(ctx, &ing))
	s.steps(3) // web-legacy's rule is applied, its group healthy
	s.healthLag = 2
	setImage(s, "v2")
	s.run(100, "paused at 50%", paused)
	promoteCLI(s)
	// checkInvariants fails the test when web-legacy's group has no
	// healthy target.
	s.run(150, "healthy on v2", func(ro *v1alpha1.Rollout) bool { return isHealthy(ro) && s.stableImage() == "demo:v2" })
	s.steps(5)
}

// RULE 4 (and the blue-green contract): in ALB mode, a template change that
// arrives while the active Service (which another Ingress names directly)
// is widened for the previous switch is switched into production with no
// pre-promotion gate and no pause: its pre-promotion analysis, which
// cannot be evaluated and must fail closed, is skipped, and so is the
// BlueGreenPause of autoPromotionEnabled: false. Nothing is ever checked
// on the preview for it either.
//
// blueGreenPromotion returns "promoted" at once when switchStarted, and
// switchStarted counts an active Service that is not pinned (widened) as a
// switch under way unless staleWidening says it selects a third version.
// staleWidening returns false for every ALB-mode rollout (`t.alb`), but
// round three's fix made ALB mode widen too (movePlain, for an active
// Service an Ingress path names directly). So when v3 arrives while the
// active Service is widened over v1 and v2, v3 is taken for a switch under
// way: its ReplicaSet goes to full size, its pods join the widened active
// Service (and the path's group), the active Service is narrowed straight
// to v3 once they are healthy in the path's group, all of the action's
// traffic moves to it, and the rollout reports v3 Healthy. The user who
// asked for a manual promotion and an analysis before any switch never
// gets either.
//
// Sequence: blue-green ALB mode, 2 replicas, autoPromotionEnabled false,
// a prePromotionAnalysis; a second ALB Ingress web-active-direct naming
// web-active; v1 healthy; targets take 3 passes to pass the health check;
// v2, promoted through its gates; once the active Service is widened for
// v2's switch, template v3 (no promotion).
func TestRedTeam4BlueGreenALBWidenedActiveSwitchesANewTemplateWithoutItsGates(t *testing.T) {
	s := newSim(t)
	s.blueGreenRollout(2, bgOptions{alb: true, mutate: func(bg *v1alpha1.BlueGreenStrategy) {
		bg.AutoPromotionEnabled = ptr.To(false)
		bg.PrePromotionAnalysis = analysisRaw()
	}})
	s.ingress("web-active-direct", networkingv1.IngressServiceBackend{Name: "web-active", Port: networkingv1.ServiceBackendPort{Number: 80}})
	s.atomic = false // two ALBs, and a widened Service serves two versions
	s.run(80, "healthy on v1", isHealthy)
	s.steps(3)
	s.healthLag = 3
	s.runPhase[analysis.KindPrePromotion] = v1alpha1.AnalysisPhaseSuccessful
	setImage(s, "v2")
	s.run(300, "widened for v2's switch", func(ro *v1alpha1.Rollout) bool {
		if paused(ro) {
			promoteCLI(s)
		}
		return s.selectorOf("web-active") == "*"
	})
	s.runPhase[analysis.KindPrePromotion] = "" // v3's measures on
	setImage(s, "v3")
	for i := 0; i < 100; i++ {
		s.step()
		ro := s.rollout()
		if s.serviceImage("web-active") == "demo:v3" || (isHealthy(ro) && ro.Status.StableRS == ro.Status.CurrentPodHash) {
			t.Fatalf("pass %d: v3 was switched into production (active service %s, ALB %v, phase %s) without its pre-promotion analysis or the promotion autoPromotionEnabled false asks for; pause conditions %+v\nhistory:\n%s",
				s.passes, s.selectorOf("web-active"), s.albWeights, ro.Status.Phase, ro.Status.PauseConditions, strings.Join(s.history, "\n"))
		}
	}
}
