package controller

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/runtime"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
)

// A canary whose only traffic router is one albrollouts does not implement
// (Argo's e2e nginx-template.yaml: trafficRouting.nginx, no alb block), from
// its first deploy on: the reconciler must not dereference the missing alb
// block (it did, and panicked on every pass). The rollout is an InvalidSpec,
// condition and one Warning event, and nothing is created until the spec is
// fixed; then it deploys as usual.
func TestOtherRouterOnlyIsInvalidSpecFromFirstDeploy(t *testing.T) {
	routers := map[string]func(tr *v1alpha1.RolloutTrafficRouting){
		"nginx": func(tr *v1alpha1.RolloutTrafficRouting) {
			tr.Nginx = &runtime.RawExtension{Raw: []byte(`{"stableIngress":"web"}`)}
		},
		"istio": func(tr *v1alpha1.RolloutTrafficRouting) {
			tr.Istio = &runtime.RawExtension{Raw: []byte(`{"virtualService":{"name":"web"}}`)}
		},
		"smi": func(tr *v1alpha1.RolloutTrafficRouting) { tr.SMI = &runtime.RawExtension{Raw: []byte(`{}`)} },
		"plugins": func(tr *v1alpha1.RolloutTrafficRouting) {
			tr.Plugins = &runtime.RawExtension{Raw: []byte(`{"x/y":{}}`)}
		},
		"none": func(tr *v1alpha1.RolloutTrafficRouting) {},
	}
	for name, set := range routers {
		t.Run(name, func(t *testing.T) {
			s := newSim(t)
			s.canaryRollout(2, weightStep(50), pauseStep(""))
			var alb *v1alpha1.ALBTrafficRouting
			s.update(func(ro *v1alpha1.Rollout) {
				tr := ro.Spec.Strategy.Canary.TrafficRouting
				alb, tr.ALB = tr.ALB, nil
				set(tr)
			})
			log := &eventLog{s: s}
			s.steps(10)
			ro := s.rollout()
			c := findCondition(ro, v1alpha1.ConditionInvalidSpec)
			if c == nil || c.Status != "True" || ro.Status.Phase != v1alpha1.RolloutPhaseDegraded ||
				!strings.Contains(c.Message, "spec.strategy.canary.trafficRouting.alb") {
				t.Fatalf("phase %s, InvalidSpec condition %+v", ro.Status.Phase, c)
			}
			if rs := s.replicaSets(); len(rs) != 0 {
				t.Fatalf("an invalid spec created %d ReplicaSets", len(rs))
			}
			var warned []string
			for _, e := range log.drain() {
				if strings.HasPrefix(e, "Warning "+v1alpha1.ReasonInvalidSpec+" ") {
					warned = append(warned, e)
				}
			}
			if len(warned) != 1 || !strings.Contains(warned[0], "trafficRouting.alb") {
				t.Fatalf("want one Warning InvalidSpec event naming trafficRouting.alb over 10 passes, got %q", warned)
			}
			s.update(func(ro *v1alpha1.Rollout) {
				ro.Spec.Strategy.Canary.TrafficRouting = &v1alpha1.RolloutTrafficRouting{ALB: alb}
			})
			ro = s.run(60, "healthy once fixed", isHealthy)
			if c := findCondition(ro, v1alpha1.ConditionInvalidSpec); c != nil {
				t.Fatalf("InvalidSpec condition left after the fix: %+v", c)
			}
		})
	}
}

// A spec error found while running (a Service deleted under a rollout) is
// reported by a Warning InvalidSpec event as well as the condition, once
// while the message stays the same.
func TestSpecErrorFoundWhileRunningIsOneEvent(t *testing.T) {
	s := newSim(t)
	s.canaryRollout(2, weightStep(10))
	s.run(60, "healthy", isHealthy)
	log := &eventLog{s: s}
	log.drain()
	log.all = nil
	svc := s.service("web-canary")
	s.must(s.c.Delete(t.Context(), svc))
	s.steps(10)
	ro := s.rollout()
	if c := findCondition(ro, v1alpha1.ConditionInvalidSpec); c == nil || !strings.Contains(c.Message, "web-canary") {
		t.Fatalf("phase %s, InvalidSpec %+v", ro.Status.Phase, c)
	}
	n := 0
	for _, e := range log.drain() {
		if strings.HasPrefix(e, "Warning "+v1alpha1.ReasonInvalidSpec+" ") && strings.Contains(e, "web-canary") {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d Warning InvalidSpec events naming web-canary over 10 passes, want 1: %q", n, log.all)
	}
}
