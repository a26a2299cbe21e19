package controller

// Red-team tests, fifth round: each demonstrates a violation of the safety
// rules (controller.go, "The safety rules") on the current code, with the
// real engine (verify.Decide) judging the model ALBs of the simulator.

import (
	"context"
	"strings"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
	"github.com/albrollouts/albrollouts/internal/albannotation"
)

// rt5ForeignAction points the first path of Ingress ing at an action of its
// own (port use-annotation) that forwards 100 % to service:80 — a user's
// hand-written forward action, which the rollout does not write.
func (s *sim) rt5ForeignAction(ing, action, service string) {
	s.t.Helper()
	ctx := context.Background()
	fwd, err := albannotation.Forward([]albannotation.Destination{{Service: service, Port: "80", Weight: 100}}, nil)
	s.must(err)
	var in networkingv1.Ingress
	s.must(s.c.Get(ctx, client.ObjectKey{Namespace: s.ns, Name: ing}, &in))
	in.Spec.Rules[0].HTTP.Paths[0].Backend.Service = &networkingv1.IngressServiceBackend{Name: action, Port: networkingv1.ServiceBackendPort{Name: albannotation.UseAnnotation}}
	if in.Annotations == nil {
		in.Annotations = map[string]string{}
	}
	in.Annotations[albannotation.ActionKey("", action)] = fwd
	s.must(s.c.Update(ctx, &in))
}

// RULE 1 and RULE 2: a Service the rollout no longer names, which an ALB
// Ingress reaches through a forward action of the user's own (not a path
// naming the Service), is released: its selector is widened to every pod of
// the rollout and its old pods are then scaled down under it, before the
// new ones are healthy in that Ingress's target group.
//
// Round four's fix keeps a released Service an ALB Ingress routes to
// (observe.go: obs.kept, releaseServices, keptSelects, the guard's
// guardedServices), but "routes to" is obs.ingressNamed, filled from
// ingressBackends only: the Services named in paths and default backends.
// The same fix counts foreign actions as traffic (foreignForwards), but
// only for rolloutServices (`slices.Contains(mine, f.service)`), so a
// released Service that a hand-written action forwards to is neither kept
// nor guarded: releaseServices removes its hash (the new pods join the
// group unchecked) and the basic canary scales the old pods to 0 at
// promotion.
//
// Sequence: blue-green selector mode, 2 replicas; v1 healthy; the Ingress
// web's path is changed to an action "legacy" forwarding 100 % to
// web-active:80 (a weighted/conditional route written by hand); the load
// balancer of web finds new targets healthy only after 40 passes; the
// strategy is changed to a basic canary (setWeight 50, pause) together
// with v2; promote at the pause.
func TestRedTeam5ReleasedServiceReachedByAForeignActionIsNotKept(t *testing.T) {
	s := newSim(t)
	s.blueGreenRollout(2, bgOptions{})
	s.run(60, "healthy on v1", isHealthy)
	s.rt5ForeignAction("web", "legacy", "web-active")
	s.steps(50) // the action's rule is applied, and v1 long healthy in its group
	s.albHealthLag["web"] = 40
	s.update(func(ro *v1alpha1.Rollout) {
		ro.Spec.Strategy.BlueGreen = nil
		ro.Spec.Strategy.Canary = &v1alpha1.CanaryStrategy{Steps: []v1alpha1.CanaryStep{weightStep(50), pauseStep("")}}
		ro.Spec.Template.Spec.Containers[0].Image = "demo:v2"
	})
	s.run(120, "paused at 50%", paused)
	promoteCLI(s)
	// checkInvariants fails the test when web's action reaches a group
	// with no healthy target. The round-four behaviour for a path (keep
	// web-active and its pods, or stop saying why) is accepted.
	s.run(150, "healthy on v2, or stopped to keep web-active's pods", func(ro *v1alpha1.Rollout) bool {
		return isHealthy(ro) || (strings.Contains(ro.Status.Message, "refused to scale") && strings.Contains(ro.Status.Message, "service ns/web-active"))
	})
	s.steps(60)
}

// RULE 1 and RULE 2: ephemeral metadata relabels pods into the target group
// of a Service that selects on the ephemeral label and that an ALB Ingress
// reaches through a forward action of the user's own, and the pods that
// served that group are scaled down before the relabelled ones are healthy
// in it.
//
// Round four made such a Service an invalid spec when an Ingress path
// names it (metadata.go: `!c.obs.ingressNamed[svc.Name]`), but
// ingressNamed holds only Services named by paths and default backends
// (ingressBackends), not those an action forwards to; and foreignForwards
// records only forwards to the rollout's own Services. So the spec is
// accepted, at promotion the v2 pods get role=stable and join the group,
// and the v1 pods are scaled down after the 30 s delay (scaleDownOld's
// "selected" and the guard's guardedServices do not know web-by-role).
//
// Sequence: canary, 2 replicas, setWeight 50, pause, with canaryMetadata
// role=canary and stableMetadata role=stable; a Service web-by-role
// selecting app=web, role=stable; v1 healthy; an ALB Ingress web-by-role
// whose path names action by-role, forwarding 100 % to web-by-role:80; its
// load balancer finds targets healthy after 60 passes; v2 paused at 50 %;
// promote.
func TestRedTeam5EphemeralLabelMovesPodsIntoAForeignActionsService(t *testing.T) {
	s := newSim(t)
	s.canaryRollout(2, weightStep(50), pauseStep(""))
	svc := s.service("web-stable").DeepCopy()
	svc.ObjectMeta = metav1.ObjectMeta{Namespace: s.ns, Name: "web-by-role"}
	svc.Spec.Selector = map[string]string{"app": "web", "role": "stable"}
	s.must(s.c.Create(context.Background(), svc))
	s.update(func(ro *v1alpha1.Rollout) {
		cs := ro.Spec.Strategy.Canary
		cs.CanaryMetadata = &runtime.RawExtension{Raw: []byte(`{"labels":{"role":"canary"}}`)}
		cs.StableMetadata = &runtime.RawExtension{Raw: []byte(`{"labels":{"role":"stable"}}`)}
	})
	s.run(60, "healthy on v1", isHealthy)
	s.steps(70) // v1's pods relabelled role=stable long ago
	s.albHealthLag["web-by-role"] = 60
	s.ingress("web-by-role", networkingv1.IngressServiceBackend{Name: "web-by-role", Port: networkingv1.ServiceBackendPort{Number: 80}})
	s.rt5ForeignAction("web-by-role", "by-role", "web-by-role")
	s.steps(3)
	setImage(s, "v2")
	s.run(100, "paused at 50%, or the spec refused", func(ro *v1alpha1.Rollout) bool {
		return paused(ro) || strings.Contains(ro.Status.Message, "service ns/web-by-role selects on ephemeral label role")
	})
	promoteCLI(s)
	// checkInvariants fails the test when web-by-role's group has no
	// healthy target.
	s.steps(120)
}
