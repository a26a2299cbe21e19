package controller

import (
	"context"
	"maps"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
	"github.com/albrollouts/albrollouts/internal/replicaset"
)

func TestWorkloadScaleTarget(t *testing.T) {
	for _, tc := range []struct {
		policy                       string
		current, replicas, available int32
		healthy                      bool
		want                         int32
	}{
		{"", 3, 3, 3, true, 3},
		{v1alpha1.ScaleDownNever, 3, 3, 3, true, 3},
		{v1alpha1.ScaleDownOnSuccess, 3, 3, 3, false, 3},
		{v1alpha1.ScaleDownOnSuccess, 3, 3, 3, true, 0},
		{v1alpha1.ScaleDownProgressively, 4, 4, 0, false, 4},
		{v1alpha1.ScaleDownProgressively, 4, 4, 1, false, 3},
		{v1alpha1.ScaleDownProgressively, 4, 4, 4, false, 0},
		{v1alpha1.ScaleDownProgressively, 4, 4, 6, false, 0},
		{v1alpha1.ScaleDownProgressively, 4, 4, 1, true, 0},
		// Never up: a Deployment already lower stays, whatever the rollout lost.
		{v1alpha1.ScaleDownProgressively, 1, 4, 1, false, 1},
		{v1alpha1.ScaleDownProgressively, 0, 4, 0, false, 0},
		// A Deployment larger than the rollout goes down by the rollout's pods.
		{v1alpha1.ScaleDownProgressively, 10, 4, 2, false, 2},
	} {
		if got := workloadScaleTarget(tc.policy, tc.current, tc.replicas, tc.available, tc.healthy); got != tc.want {
			t.Errorf("%q current %d replicas %d available %d healthy %v: %d, want %d", tc.policy, tc.current, tc.replicas, tc.available, tc.healthy, got, tc.want)
		}
	}
}

func TestRolloutWorkloadRefsIndex(t *testing.T) {
	ro := &v1alpha1.Rollout{}
	if got := rolloutWorkloadRefs(ro); got != nil {
		t.Errorf("no workloadRef: %v", got)
	}
	ro.Spec.WorkloadRef = &v1alpha1.ObjectRef{APIVersion: "apps/v1", Kind: "Deployment", Name: "web"}
	if got := rolloutWorkloadRefs(ro); len(got) != 1 || got[0] != "web" {
		t.Errorf("a Deployment: %v", got)
	}
	ro.Spec.WorkloadRef.Kind = "ReplicaSet"
	if got := rolloutWorkloadRefs(ro); got != nil {
		t.Errorf("not a Deployment: %v", got)
	}
}

// webTemplate is the pod template of the sim's rollouts (canaryRollout).
func webTemplate(image string) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: image,
			Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080, Protocol: corev1.ProtocolTCP}}}}},
	}
}

// deployment creates the Deployment web (generation 1) with replicas pods
// of image; syncDeployment plays its controller.
func (s *sim) deployment(replicas int32, image string) {
	s.t.Helper()
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: s.ns, Name: "web", Generation: 1}, Spec: appsv1.DeploymentSpec{
		Replicas: ptr.To(replicas),
		Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
		Template: webTemplate(image),
	}}
	s.must(s.c.Create(context.Background(), d))
	s.syncDeployment()
}

func (s *sim) getDeployment() *appsv1.Deployment {
	s.t.Helper()
	var d appsv1.Deployment
	s.must(s.c.Get(context.Background(), client.ObjectKey{Namespace: s.ns, Name: "web"}, &d))
	return &d
}

// updateDeployment changes the Deployment's spec, bumping its generation.
func (s *sim) updateDeployment(f func(*appsv1.Deployment)) {
	s.t.Helper()
	d := s.getDeployment()
	f(d)
	d.Generation++
	s.must(s.c.Update(context.Background(), d))
}

// syncDeployment is the Deployment controller, reduced to what matters
// here: one ReplicaSet of the Deployment's first template, as large as the
// Deployment (the sim's cluster makes its pods).
func (s *sim) syncDeployment() {
	s.t.Helper()
	ctx := context.Background()
	d := s.getDeployment()
	rs := &appsv1.ReplicaSet{}
	err := s.c.Get(ctx, client.ObjectKey{Namespace: s.ns, Name: "web-dep"}, rs)
	if err != nil {
		tmpl := *d.Spec.Template.DeepCopy()
		tmpl.Labels = maps.Clone(tmpl.Labels)
		tmpl.Labels["pod-template-hash"] = "dep"
		rs = &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Namespace: s.ns, Name: "web-dep", Labels: tmpl.Labels,
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(d, appsv1.SchemeGroupVersion.WithKind("Deployment"))}},
			Spec: appsv1.ReplicaSetSpec{Replicas: d.Spec.Replicas, Selector: &metav1.LabelSelector{MatchLabels: tmpl.Labels}, Template: tmpl}}
		s.must(s.c.Create(ctx, rs))
		return
	}
	if ptr.Deref(rs.Spec.Replicas, 1) != ptr.Deref(d.Spec.Replicas, 1) {
		rs.Spec.Replicas = d.Spec.Replicas
		s.must(s.c.Update(ctx, rs))
	}
}

// wrun steps (with the Deployment controller) until cond holds.
func (s *sim) wrun(n int, what string, cond func(*v1alpha1.Rollout) bool) *v1alpha1.Rollout {
	s.t.Helper()
	for range n {
		s.step()
		s.syncDeployment()
		if ro := s.rollout(); cond(ro) {
			return ro
		}
	}
	ro := s.rollout()
	s.t.Fatalf("after %d passes, not %s: phase %s %q, deployment %d\nhistory:\n%s", n, what, ro.Status.Phase, ro.Status.Message,
		ptr.Deref(s.getDeployment().Spec.Replicas, 1), strings.Join(s.history, "\n"))
	return nil
}

func (s *sim) deploymentReplicas() int32 { return ptr.Deref(s.getDeployment().Spec.Replicas, 1) }

// workloadRollout is canaryRollout taking its template and selector from
// the Deployment web (created here with deployReplicas pods of demo:v1).
func (s *sim) workloadRollout(replicas, deployReplicas int32, scaleDown string, steps ...v1alpha1.CanaryStep) {
	s.t.Helper()
	s.canaryRollout(replicas, steps...)
	s.deployment(deployReplicas, "demo:v1")
	ro := s.rollout()
	ro.Spec.Template, ro.Spec.Selector = corev1.PodTemplateSpec{}, nil
	ro.Spec.WorkloadRef = &v1alpha1.ObjectRef{APIVersion: "apps/v1", Kind: "Deployment", Name: "web", ScaleDown: scaleDown}
	s.must(s.c.Update(context.Background(), ro))
}

func (s *sim) rolloutImages() map[string]string {
	out := map[string]string{}
	for _, rs := range s.replicaSets() {
		if h := replicaset.HashOf(&rs); h != "" && rs.Name != "web-dep" {
			out[h] = rs.Spec.Template.Spec.Containers[0].Image
		}
	}
	return out
}

// The rollout runs the Deployment's pod template, read at every pass and
// never written into the Rollout; a new template in the Deployment is an
// update, verified like any other; the Deployment's generation is recorded
// as Argo Rollouts records it.
func TestWorkloadRefRunsTheDeploymentsTemplate(t *testing.T) {
	s := newSim(t)
	s.workloadRollout(2, 0, "", weightStep(50), pauseStep(""))
	ro := s.wrun(60, "healthy on v1", isHealthy)
	if img := s.rolloutImages()[ro.Status.StableRS]; img != "demo:v1" {
		t.Fatalf("stable ReplicaSet runs %q, want the Deployment's demo:v1", img)
	}
	if ro.Status.WorkloadObservedGeneration != "1" || ro.Annotations[WorkloadGenerationAnnotation] != "1" {
		t.Fatalf("workloadObservedGeneration %q, annotation %q; want 1", ro.Status.WorkloadObservedGeneration, ro.Annotations[WorkloadGenerationAnnotation])
	}
	if ro.Spec.Selector != nil || len(ro.Spec.Template.Spec.Containers) > 0 || ro.Status.Selector != "app=web" {
		t.Fatalf("the resolved template was written into the Rollout (selector %v, template %v), or status.selector is %q", ro.Spec.Selector, ro.Spec.Template, ro.Status.Selector)
	}
	v1 := ro.Status.StableRS
	s.updateDeployment(func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[0].Image = "demo:v2" })
	s.wrun(60, "paused at 50% on v2", paused)
	if s.albWeights["web-canary"] != 50 {
		t.Fatalf("ALB weights %v at the pause, want 50 on the canary", s.albWeights)
	}
	promoteCLI(s)
	ro = s.wrun(100, "healthy on v2", func(ro *v1alpha1.Rollout) bool { return isHealthy(ro) && ro.Status.StableRS != v1 })
	if img := s.rolloutImages()[ro.Status.StableRS]; img != "demo:v2" || ro.Status.WorkloadObservedGeneration != "2" {
		t.Fatalf("stable runs %q with workloadObservedGeneration %q; want demo:v2 and 2", img, ro.Status.WorkloadObservedGeneration)
	}
	if s.deploymentReplicas() != 0 {
		t.Fatalf("scaleDown unset (never) changed the Deployment")
	}
}

// An inline template and a Deployment with the same template have the same
// pod-template hash: switching between them starts no update.
func TestWorkloadRefAndTheSameInlineTemplateAreOneRevision(t *testing.T) {
	s := newSim(t)
	s.canaryRollout(2, weightStep(50), pauseStep(""))
	ro := s.run(60, "healthy inline", isHealthy)
	hash := ro.Status.StableRS
	s.deployment(0, "demo:v1")
	s.update(func(ro *v1alpha1.Rollout) {
		ro.Spec.Template, ro.Spec.Selector = corev1.PodTemplateSpec{}, nil
		ro.Spec.WorkloadRef = &v1alpha1.ObjectRef{APIVersion: "apps/v1", Kind: "Deployment", Name: "web"}
	})
	for range 10 {
		s.step()
		if ro := s.rollout(); ro.Status.CurrentPodHash != hash || ro.Status.Phase != v1alpha1.RolloutPhaseHealthy || len(s.rolloutImages()) != 1 {
			t.Fatalf("switching to workloadRef started an update: current %s (was %s), phase %s, ReplicaSets %v", ro.Status.CurrentPodHash, hash, ro.Status.Phase, s.rolloutImages())
		}
	}
	if ro := s.rollout(); ro.Status.WorkloadObservedGeneration != "1" {
		t.Fatalf("workloadObservedGeneration %q, want 1", ro.Status.WorkloadObservedGeneration)
	}
	s.update(func(ro *v1alpha1.Rollout) {
		ro.Spec.WorkloadRef = nil
		ro.Spec.Template = webTemplate("demo:v1")
		ro.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}
	})
	for range 10 {
		s.step()
		if ro := s.rollout(); ro.Status.CurrentPodHash != hash || ro.Status.Phase != v1alpha1.RolloutPhaseHealthy {
			t.Fatalf("switching back to the inline template started an update: current %s (was %s), phase %s", ro.Status.CurrentPodHash, hash, ro.Status.Phase)
		}
	}
	if ro := s.rollout(); ro.Status.WorkloadObservedGeneration != "" {
		t.Fatalf("workloadObservedGeneration %q without workloadRef, want empty", ro.Status.WorkloadObservedGeneration)
	}
}

func invalidSpecMessage(ro *v1alpha1.Rollout) string {
	for _, c := range ro.Status.Conditions {
		if c.Type == v1alpha1.ConditionInvalidSpec {
			return c.Message
		}
	}
	return ""
}

// What cannot be resolved is an InvalidSpec with a message that says what
// to do, and a Warning event; the rollout makes no change meanwhile.
func TestWorkloadRefInvalid(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(s *sim, ro *v1alpha1.Rollout)
		want   string
	}{
		{"missing Deployment", func(s *sim, ro *v1alpha1.Rollout) { ro.Spec.WorkloadRef.Name = "nope" },
			"Deployment ns/nope not found; the rollout takes its pod template from it: create it"},
		{"template and workloadRef", func(s *sim, ro *v1alpha1.Rollout) { ro.Spec.Template = webTemplate("demo:v1") },
			"template must be empty for workload reference rollout"},
		{"selector that misses the Deployment's pods", func(s *sim, ro *v1alpha1.Rollout) {
			ro.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "other"}}
		}, `selector "app=other" does not match the template's labels (the pod template of Deployment "web", spec.workloadRef)`},
		{"a StatefulSet", func(s *sim, ro *v1alpha1.Rollout) { ro.Spec.WorkloadRef.Kind = "StatefulSet" },
			`spec.workloadRef: Unsupported value: "apps/v1 StatefulSet"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSim(t)
			s.workloadRollout(2, 0, v1alpha1.ScaleDownOnSuccess)
			ro := s.rollout()
			tc.mutate(s, ro)
			s.must(s.c.Update(context.Background(), ro))
			ev := &eventLog{s: s}
			ro = s.wrun(5, "degraded", func(ro *v1alpha1.Rollout) bool { return ro.Status.Phase == v1alpha1.RolloutPhaseDegraded })
			if msg := invalidSpecMessage(ro); !strings.Contains(msg, tc.want) {
				t.Fatalf("InvalidSpec %q, want it to say %q", msg, tc.want)
			}
			s.steps(5)
			if n := len(s.rolloutImages()); n != 0 {
				t.Fatalf("an invalid rollout created %d ReplicaSets", n)
			}
			var warned int
			for _, e := range ev.drain() {
				if strings.HasPrefix(e, "Warning InvalidSpec ") && strings.Contains(e, tc.want) {
					warned++
				}
			}
			if warned != 1 {
				t.Fatalf("%d InvalidSpec warnings saying %q, want 1: %v", warned, tc.want, ev.all)
			}
			if len(ro.Status.Conditions) != 1 {
				t.Fatalf("conditions %v; want InvalidSpec alone (Argo's TestWorkloadRefTemplate)", ro.Status.Conditions)
			}
		})
	}
}

// The missing Deployment, created later, is picked up: the rollout runs it.
func TestWorkloadRefDeploymentCreatedLater(t *testing.T) {
	s := newSim(t)
	s.canaryRollout(2)
	s.update(func(ro *v1alpha1.Rollout) {
		ro.Spec.Template, ro.Spec.Selector = corev1.PodTemplateSpec{}, nil
		ro.Spec.WorkloadRef = &v1alpha1.ObjectRef{APIVersion: "apps/v1", Kind: "Deployment", Name: "web"}
	})
	s.run(5, "degraded", func(ro *v1alpha1.Rollout) bool { return ro.Status.Phase == v1alpha1.RolloutPhaseDegraded })
	s.deployment(0, "demo:v3")
	ro := s.wrun(60, "healthy", isHealthy)
	if img := s.rolloutImages()[ro.Status.StableRS]; img != "demo:v3" || invalidSpecMessage(ro) != "" {
		t.Fatalf("stable runs %q (InvalidSpec %q); want demo:v3", img, invalidSpecMessage(ro))
	}
}

// scaleDown never leaves the Deployment; onsuccess scales it to 0 once the
// rollout is healthy and not before; progressively lowers it as the
// rollout's pods become available.
func TestWorkloadRefScaleDown(t *testing.T) {
	for _, policy := range []string{v1alpha1.ScaleDownNever, v1alpha1.ScaleDownOnSuccess, v1alpha1.ScaleDownProgressively} {
		t.Run(policy, func(t *testing.T) {
			s := newSim(t)
			s.podReadyLag, s.podReadyStagger = 2, 3 // the rollout's pods turn ready one after the other
			s.workloadRollout(4, 4, policy)
			var seen []int32
			s.wrun(120, "healthy", func(ro *v1alpha1.Rollout) bool {
				n := s.deploymentReplicas()
				if len(seen) == 0 || seen[len(seen)-1] != n {
					seen = append(seen, n)
				}
				if n < 4 && policy == v1alpha1.ScaleDownOnSuccess && ro.Status.Phase != v1alpha1.RolloutPhaseHealthy {
					t.Fatalf("onsuccess scaled the Deployment to %d before the rollout was healthy (%s)", n, ro.Status.Phase)
				}
				return isHealthy(ro)
			})
			s.wrun(10, "settled", func(*v1alpha1.Rollout) bool { return s.deploymentReplicas() == 0 || policy == v1alpha1.ScaleDownNever })
			s.steps(5)
			want := int32(0)
			if policy == v1alpha1.ScaleDownNever {
				want = 4
			}
			if got := s.deploymentReplicas(); got != want {
				t.Fatalf("Deployment at %d, want %d (sizes seen %v)", got, want, seen)
			}
			if policy == v1alpha1.ScaleDownProgressively && len(seen) < 3 {
				t.Fatalf("progressively went %v: want steps down as the rollout's pods became available", seen)
			}
			// Scaled back up by someone: onsuccess and progressively take it
			// down again (the rollout is healthy), never leaves it.
			s.updateDeployment(func(d *appsv1.Deployment) { d.Spec.Replicas = ptr.To(int32(2)) })
			s.wrun(20, "settled again", func(*v1alpha1.Rollout) bool { return policy == v1alpha1.ScaleDownNever || s.deploymentReplicas() == 0 })
			if policy == v1alpha1.ScaleDownNever && s.deploymentReplicas() != 2 {
				t.Fatalf("never changed the Deployment to %d", s.deploymentReplicas())
			}
		})
	}
}

// The safety rule: a Service an ALB Ingress routes to that selects the
// Deployment's pods (and the rollout's) keeps the Deployment's pods until
// the rollout's pods are healthy in its target group. Here the rollout is
// healthy (its own Ingress verified) long before its pods pass the health
// check of the other Ingress; the invariant checker fails the test if that
// Ingress's group is ever left without a healthy target.
func TestWorkloadRefScaleDownWaitsForTheRolloutsPodsInARoutedServicesGroup(t *testing.T) {
	for _, policy := range []string{v1alpha1.ScaleDownOnSuccess, v1alpha1.ScaleDownProgressively} {
		t.Run(policy, func(t *testing.T) {
			s := newSim(t)
			// The rollout names a Deployment that does not exist yet: an
			// InvalidSpec, it does nothing while the Deployment serves.
			s.workloadRollout(2, 2, policy)
			ro := s.rollout()
			ro.Spec.WorkloadRef.Name = "later"
			s.must(s.c.Update(context.Background(), ro))
			s.must(s.c.Create(context.Background(), s.serviceFor("web-plain")))
			s.ingress("web-plain", networkingv1.IngressServiceBackend{Name: "web-plain", Port: networkingv1.ServiceBackendPort{Number: 80}})
			s.wrun(60, "the Deployment serving web-plain", func(*v1alpha1.Rollout) bool { return s.plain["web-plain"] && s.passes > 45 })
			s.albHealthLag["web-plain"] = 40 // targets registered from now on take 40 passes more
			s.update(func(ro *v1alpha1.Rollout) { ro.Spec.WorkloadRef.Name = "web" })
			healthyAt := -1
			s.wrun(200, "the Deployment scaled to 0", func(ro *v1alpha1.Rollout) bool {
				if healthyAt < 0 && isHealthy(ro) {
					healthyAt = s.passes
				}
				return s.deploymentReplicas() == 0
			})
			if healthyAt < 0 || s.passes-healthyAt < 20 {
				t.Fatalf("the Deployment went to 0 at pass %d, the rollout healthy at %d: it did not wait for web-plain's health check", s.passes, healthyAt)
			}
			s.steps(20) // checkInvariants: web-plain keeps a healthy target
			if ro := s.rollout(); !isHealthy(ro) || ro.Status.Verification == nil || ro.Status.Verification.Phase != v1alpha1.VerificationVerified {
				t.Fatalf("after the scale-down: phase %s %q, verification %+v", ro.Status.Phase, ro.Status.Message, ro.Status.Verification)
			}
		})
	}
}

// serviceFor is a Service like the sim's (app=web, port 80 → http).
func (s *sim) serviceFor(name string) *corev1.Service {
	svc := s.service("web-stable").DeepCopy()
	svc.ObjectMeta = metav1.ObjectMeta{Namespace: s.ns, Name: name}
	svc.Spec.Selector = map[string]string{"app": "web"}
	return svc
}
