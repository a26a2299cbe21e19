package controller

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
	"github.com/albrollouts/albrollouts/internal/replicaset"
)

// Ephemeral metadata as Argo Rollouts' e2e TestEphemeralMetadata checks it:
// the canary's pods carry canaryMetadata while they are the canary and
// stableMetadata once promoted; the stable pods carry stableMetadata.
func TestEphemeralMetadataFollowsTheRole(t *testing.T) {
	s := newSim(t)
	s.canaryRollout(2, weightStep(50), pauseStep(""))
	s.update(func(ro *v1alpha1.Rollout) {
		cs := ro.Spec.Strategy.Canary
		cs.CanaryMetadata = &runtime.RawExtension{Raw: []byte(`{"labels":{"role":"canary","canary-only":"yes"}}`)}
		cs.StableMetadata = &runtime.RawExtension{Raw: []byte(`{"labels":{"role":"stable"},"annotations":{"team/stable":"true"}}`)}
	})
	v1 := s.run(60, "healthy on v1", isHealthy).Status.StableRS
	check := func(hash string, want map[string]string, absent ...string) {
		t.Helper()
		var rs *appsv1.ReplicaSet
		for _, r := range s.replicaSets() {
			if r.Labels[replicaset.HashLabel] == hash {
				rs = &r
			}
		}
		if rs == nil {
			t.Fatalf("no ReplicaSet %s", hash)
		}
		n := 0
		for _, p := range s.pods() {
			if p.Labels[replicaset.HashLabel] != hash || p.DeletionTimestamp != nil {
				continue
			}
			n++
			for k, v := range want {
				if p.Labels[k] != v || rs.Spec.Template.Labels[k] != v {
					t.Fatalf("pod %s / ReplicaSet %s: label %s = %q / %q, want %q", p.Name, rs.Name, k, p.Labels[k], rs.Spec.Template.Labels[k], v)
				}
			}
			for _, k := range absent {
				if _, ok := p.Labels[k]; ok {
					t.Fatalf("pod %s still has label %s", p.Name, k)
				}
			}
		}
		if n == 0 {
			t.Fatalf("no pod of %s", hash)
		}
	}
	check(v1, map[string]string{"role": "stable"}, "canary-only")
	setImage(s, "v2")
	ro := s.run(100, "paused at 50%", paused)
	v2 := ro.Status.CurrentPodHash
	check(v2, map[string]string{"role": "canary", "canary-only": "yes"})
	check(v1, map[string]string{"role": "stable"})
	s.updateStatus(func(st *v1alpha1.RolloutStatus) { st.PauseConditions = nil })
	s.run(100, "healthy on v2", func(ro *v1alpha1.Rollout) bool { return isHealthy(ro) && ro.Status.StableRS == v2 })
	check(v2, map[string]string{"role": "stable"}, "canary-only")
	// An edit that drops a key (Argo's `role: null`) takes it off the pods.
	s.update(func(ro *v1alpha1.Rollout) {
		ro.Spec.Strategy.Canary.StableMetadata = &runtime.RawExtension{Raw: []byte(`{"labels":{"role2":"stable2"}}`)}
	})
	s.steps(3)
	check(v2, map[string]string{"role2": "stable2"}, "role", "canary-only")
}

// A Service of the rollout that selects on an ephemeral label is an invalid
// spec: relabelling would move pods in and out of its target group.
func TestEphemeralLabelSelectedByAServiceIsRefused(t *testing.T) {
	s := newSim(t)
	s.canaryRollout(2, weightStep(50), pauseStep(""))
	svc := s.service("web-canary")
	svc.Spec.Selector["role"] = "canary"
	s.must(s.c.Update(t.Context(), svc))
	s.update(func(ro *v1alpha1.Rollout) {
		ro.Spec.Strategy.Canary.CanaryMetadata = &runtime.RawExtension{Raw: []byte(`{"labels":{"role":"canary"}}`)}
	})
	s.run(60, "invalid spec", func(ro *v1alpha1.Rollout) bool {
		for _, c := range ro.Status.Conditions {
			if c.Type == v1alpha1.ConditionInvalidSpec && c.Status == "True" {
				return true
			}
		}
		return false
	})
}

// A canary whose only traffic router is one albrollouts does not implement
// (Argo's nginx-template.yaml) is an invalid spec: the controller changes
// nothing, and never dereferences the missing alb block.
func TestCanaryWithAnotherRouterOnlyIsInvalidSpec(t *testing.T) {
	s := newSim(t)
	s.canaryRollout(2, weightStep(50), pauseStep(""))
	s.update(func(ro *v1alpha1.Rollout) {
		tr := ro.Spec.Strategy.Canary.TrafficRouting
		tr.ALB, tr.Nginx = nil, &runtime.RawExtension{Raw: []byte(`{"stableIngress":"web"}`)}
	})
	s.run(20, "invalid spec", func(ro *v1alpha1.Rollout) bool {
		for _, c := range ro.Status.Conditions {
			if c.Type == v1alpha1.ConditionInvalidSpec && c.Status == "True" {
				return true
			}
		}
		return false
	})
}
