package controller

import (
	"context"
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
)

// secondRollout creates the rollout "other" (pods app=other, image
// other:v1) with the given strategy, and the Services it names that do not
// exist yet.
func (s *sim) secondRollout(strategy v1alpha1.RolloutStrategy, services ...string) {
	s.t.Helper()
	ctx := context.Background()
	for _, name := range services {
		var existing corev1.Service
		if err := s.c.Get(ctx, client.ObjectKey{Namespace: s.ns, Name: name}, &existing); err == nil {
			continue
		}
		s.must(s.c.Create(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: s.ns, Name: name}, Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": "other"},
			Ports:    []corev1.ServicePort{{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromString("http")}},
		}}))
	}
	s.must(s.c.Create(ctx, &v1alpha1.Rollout{
		ObjectMeta: metav1.ObjectMeta{Namespace: s.ns, Name: "other", UID: types.UID("other-uid"), Generation: 1},
		Spec: v1alpha1.RolloutSpec{
			Replicas: ptr.To(int32(1)),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "other"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "other"}},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "other:v1",
					Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080, Protocol: corev1.ProtocolTCP}}}}},
			},
			Strategy: strategy,
		},
	}))
}

// stepBoth runs a pass of "web" (checking the invariants), then one of
// "other" followed by the cluster's reaction and the invariants.
func (s *sim) stepBoth() {
	s.t.Helper()
	s.step()
	s.inPass = true
	_, err := s.r.Reconcile(context.Background(), reconcile.Request{NamespacedName: types.NamespacedName{Namespace: s.ns, Name: "other"}})
	s.inPass = false
	if err != nil {
		s.history = append(s.history, fmt.Sprintf("pass %d: reconcile error of other: %v", s.passes, err))
	}
	s.cluster()
	s.checkInvariants()
}

func (s *sim) otherRollout() *v1alpha1.Rollout {
	s.t.Helper()
	var ro v1alpha1.Rollout
	s.must(s.c.Get(context.Background(), client.ObjectKey{Namespace: s.ns, Name: "other"}, &ro))
	return &ro
}

// A second rollout that names a Service the first one manages (its stable,
// canary, active or preview Service) must never write it: before the fix it
// pointed the Service's selector at its own pods, emptying the first
// rollout's weighted target group. It reports InvalidSpec naming the
// Service and the rollout that manages it, with a warning event, as Argo
// Rollouts does; the first rollout goes on undisturbed.
func TestSecondRolloutNamingAManagedServiceIsInvalidSpec(t *testing.T) {
	cases := []struct {
		name    string
		first   func(s *sim)
		shared  string
		second  v1alpha1.RolloutStrategy
		newSvcs []string
	}{
		{"canary stable service as blue-green active", func(s *sim) { s.canaryRollout(2, weightStep(50), pauseStep("")) }, "web-stable",
			v1alpha1.RolloutStrategy{BlueGreen: &v1alpha1.BlueGreenStrategy{ActiveService: "web-stable", PreviewService: "other-preview"}}, []string{"other-preview"}},
		{"canary canary service as canary stable", func(s *sim) { s.canaryRollout(2, weightStep(50), pauseStep("")) }, "web-canary",
			v1alpha1.RolloutStrategy{Canary: &v1alpha1.CanaryStrategy{StableService: "web-canary", CanaryService: "other-canary"}}, []string{"other-canary"}},
		{"blue-green active service as canary stable", func(s *sim) { s.blueGreenRollout(2, bgOptions{}) }, "web-active",
			v1alpha1.RolloutStrategy{Canary: &v1alpha1.CanaryStrategy{StableService: "web-active", CanaryService: "other-canary"}}, []string{"other-canary"}},
		{"blue-green preview service as blue-green active", func(s *sim) { s.blueGreenRollout(2, bgOptions{alb: true}) }, "web-preview",
			v1alpha1.RolloutStrategy{BlueGreen: &v1alpha1.BlueGreenStrategy{ActiveService: "web-preview"}}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newSim(t)
			tc.first(s)
			web := s.run(80, "web healthy on v1", isHealthy)
			v1 := web.Status.StableRS
			if got := s.service(tc.shared).Annotations[ManagedByAnnotation]; got != "web" {
				t.Fatalf("service %s managed by %q after the first deploy, want web", tc.shared, got)
			}
			s.secondRollout(tc.second, tc.newSvcs...)
			for i := 0; i < 20; i++ {
				s.stepBoth()
				if sel := s.selectorOf(tc.shared); sel != v1 {
					t.Fatalf("pass %d: service %s selects %s, want web's %s\nhistory:\n%s", s.passes, tc.shared, sel, v1, strings.Join(s.history, "\n"))
				}
				if got := s.service(tc.shared).Annotations[ManagedByAnnotation]; got != "web" {
					t.Fatalf("pass %d: service %s managed by %q, want web", s.passes, tc.shared, got)
				}
			}
			other := s.otherRollout()
			c := findCondition(other, v1alpha1.ConditionInvalidSpec)
			if other.Status.Phase != v1alpha1.RolloutPhaseDegraded || c == nil || c.Status != corev1.ConditionTrue ||
				!strings.Contains(c.Message, tc.shared) || !strings.Contains(c.Message, "rollout web") {
				t.Fatalf("other: phase %s, InvalidSpec %+v", other.Status.Phase, c)
			}
			ev := eventsText(s)
			if n := strings.Count(ev, "Warning InvalidSpec"); n != 1 || !strings.Contains(ev, "managed by rollout web") {
				t.Fatalf("want one InvalidSpec warning naming rollout web, got %d:\n%s", n, ev)
			}
			for _, rs := range s.replicaSets() {
				if rs.Labels["app"] == "other" {
					t.Fatalf("the rejected rollout created ReplicaSet %s", rs.Name)
				}
			}
			// The first rollout is unaffected: an update goes through.
			setImage(s, "v2")
			if isCanary := s.rollout().Spec.Strategy.Canary != nil; isCanary {
				s.run(100, "web paused at 50%", func(ro *v1alpha1.Rollout) bool {
					return ro.Status.Phase == v1alpha1.RolloutPhasePaused
				})
				s.updateStatus(func(st *v1alpha1.RolloutStatus) { st.PauseConditions = nil })
			}
			s.run(200, "web healthy on v2", func(ro *v1alpha1.Rollout) bool { return isHealthy(ro) && ro.Status.StableRS != v1 })
		})
	}
}

// An annotation naming a rollout that no longer exists, or that no longer
// names the Service, is stale: the rollout that names the Service now takes
// it over.
func TestStaleManagedByAnnotationIsTakenOver(t *testing.T) {
	for _, owner := range []string{"gone", "moved"} {
		t.Run(owner, func(t *testing.T) {
			s := newSim(t)
			if owner == "moved" {
				s.secondRollout(v1alpha1.RolloutStrategy{BlueGreen: &v1alpha1.BlueGreenStrategy{ActiveService: "other-active"}}, "other-active")
				owner = "other"
			}
			s.blueGreenRollout(2, bgOptions{})
			svc := s.service("web-active")
			svc.Annotations = map[string]string{ManagedByAnnotation: owner}
			s.must(s.c.Update(context.Background(), svc))
			ro := s.run(80, "healthy on v1", isHealthy)
			if got := s.service("web-active").Annotations[ManagedByAnnotation]; got != "web" || s.selectorOf("web-active") != ro.Status.StableRS {
				t.Fatalf("web-active managed by %q selecting %s", got, s.selectorOf("web-active"))
			}
			if c := findCondition(ro, v1alpha1.ConditionInvalidSpec); c != nil {
				t.Fatalf("InvalidSpec %+v", c)
			}
		})
	}
}
