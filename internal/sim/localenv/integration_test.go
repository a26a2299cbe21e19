package localenv

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/albrollouts/albrollouts/internal/sim/poll"
)

func TestInvalidUnpullablePatternRefused(t *testing.T) {
	if _, err := withDefaults(Options{Dir: t.TempDir(), UnpullableImages: "("}); err == nil || !strings.Contains(err.Error(), "unpullable") {
		t.Fatalf("withDefaults with an invalid pattern: %v", err)
	}
	if _, err := withDefaults(Options{Dir: t.TempDir(), Images: "("}); err == nil || !strings.Contains(err.Error(), "image pattern") {
		t.Fatalf("withDefaults with an invalid image pattern: %v", err)
	}
	for _, p := range []string{"", "-", `:broken$`} {
		if _, err := withDefaults(Options{Dir: t.TempDir(), UnpullableImages: p}); err != nil {
			t.Errorf("pattern %q: %v", p, err)
		}
	}
}

// PodDisruptionBudgets work in the whole environment: pods of a ReplicaSet, run and
// made Ready by the node agent, count as healthy for the disruption controller; an
// eviction over budget is refused with 429; one within budget stops the pod (the
// node agent runs its shutdown) and the ReplicaSet replaces it.
func TestEvictionHonoursPDBWithNodeAgentPods(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: starts the local environment")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	env, err := Start(ctx, Options{Dir: t.TempDir(), TimeScale: 0.1, PodCIDR: "127.63.0.0/24"})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := env.Stop(); err != nil {
			t.Error(err)
		}
	}()
	c := env.Client()
	ns := "pdb"
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		t.Fatal(err)
	}
	labels := map[string]string{"app": "web"}
	rs := &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web"},
		Spec: appsv1.ReplicaSetSpec{
			Replicas: ptr.To(int32(2)),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name: "web", Image: "argoproj/rollouts-demo:blue",
					Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}},
					ReadinessProbe: &corev1.Probe{
						ProbeHandler:  corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/", Port: intstr.FromString("http")}},
						PeriodSeconds: 1,
					},
				}}},
			},
		},
	}
	pdb := &policyv1.PodDisruptionBudget{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web"},
		Spec: policyv1.PodDisruptionBudgetSpec{
			MinAvailable: ptr.To(intstr.FromInt32(2)),
			Selector:     &metav1.LabelSelector{MatchLabels: labels},
		},
	}
	for _, o := range []client.Object{rs, pdb} {
		if err := c.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	waitPDB := func(healthy, allowed int32) {
		t.Helper()
		poll.Slow.Eventually(t, 60*time.Second, fmt.Sprintf("PDB currentHealthy %d, disruptionsAllowed %d", healthy, allowed), func() (bool, string) {
			var got policyv1.PodDisruptionBudget
			err := c.Get(ctx, client.ObjectKeyFromObject(pdb), &got)
			return err == nil && got.Status.ObservedGeneration == got.Generation &&
					got.Status.CurrentHealthy == healthy && got.Status.DisruptionsAllowed == allowed,
				"PDB status " + strings.TrimSpace(strings.ReplaceAll(got.Status.String(), "\n", " "))
		})
	}
	waitPDB(2, 0)

	var pods corev1.PodList
	if err := c.List(ctx, &pods, client.InNamespace(ns), client.MatchingLabels(labels)); err != nil || len(pods.Items) != 2 {
		t.Fatalf("pods: %d, %v", len(pods.Items), err)
	}
	victim := pods.Items[0]
	evict := func() error {
		return c.SubResource("eviction").Create(ctx, &victim, &policyv1.Eviction{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: victim.Name}})
	}
	var se *apierrors.StatusError
	if err := evict(); !errors.As(err, &se) || se.ErrStatus.Code != http.StatusTooManyRequests {
		t.Fatalf("eviction over budget: %v, want 429 Too Many Requests", err)
	}

	patch := client.MergeFrom(pdb.DeepCopy())
	pdb.Spec.MinAvailable = ptr.To(intstr.FromInt32(1))
	if err := c.Patch(ctx, pdb, patch); err != nil {
		t.Fatal(err)
	}
	waitPDB(2, 1)
	if err := evict(); err != nil {
		t.Fatalf("eviction within budget: %v", err)
	}
	// The node agent stops the evicted pod and removes it; the ReplicaSet's
	// replacement becomes Ready and the budget is whole again.
	poll.Slow.Until(t, 60*time.Second, "evicted pod "+victim.Name+" removed", func() bool {
		return apierrors.IsNotFound(c.Get(ctx, client.ObjectKeyFromObject(&victim), &corev1.Pod{}))
	})
	waitPDB(2, 1)
}
