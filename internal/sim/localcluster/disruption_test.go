package localcluster_test

// PodDisruptionBudgets: kube-controller-manager's disruption controller computes
// their status, and kube-apiserver's eviction subresource honours it.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/albrollouts/albrollouts/internal/sim/poll"
)

// evict asks the API server to evict a pod, as `kubectl drain` does.
func evict(ctx context.Context, c client.Client, ns, name string) error {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	return c.SubResource("eviction").Create(ctx, pod, &policyv1.Eviction{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
	})
}

// waitPDB polls the budget until the disruption controller has observed its latest
// spec and reports the given counts.
func waitPDB(t *testing.T, c client.Client, key client.ObjectKey, healthy, allowed int32) {
	t.Helper()
	poll.Slow.Eventually(t, 60*time.Second, fmt.Sprintf("PDB %s currentHealthy %d, disruptionsAllowed %d", key, healthy, allowed), func() (bool, string) {
		var pdb policyv1.PodDisruptionBudget
		err := c.Get(context.Background(), key, &pdb)
		return err == nil && pdb.Status.ObservedGeneration == pdb.Generation &&
				pdb.Status.CurrentHealthy == healthy && pdb.Status.DisruptionsAllowed == allowed,
			fmt.Sprintf("get: %v; generation %d, status %+v", err, pdb.Generation, pdb.Status)
	})
}

// isHTTP429 reports whether err is an API error with HTTP status 429.
func isHTTP429(err error) bool {
	var se *apierrors.StatusError
	return errors.As(err, &se) && se.ErrStatus.Code == http.StatusTooManyRequests
}

// An eviction that would take the pods under the budget is refused with 429 Too Many
// Requests; once the budget allows a disruption the eviction deletes the pod, and
// the budget counts it spent.
func TestEvictionHonoursPodDisruptionBudget(t *testing.T) {
	c := newClient(t)
	ctx := context.Background()
	ns := newNamespace(t, c, "pdb")
	labels := map[string]string{"app": "pdb"}
	readyPod(t, c, ns, "a", "198.18.9.1", labels)
	readyPod(t, c, ns, "b", "198.18.9.2", labels)
	pdb := &policyv1.PodDisruptionBudget{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "pdb"},
		Spec: policyv1.PodDisruptionBudgetSpec{
			MinAvailable: ptr(intstr.FromInt32(2)),
			Selector:     &metav1.LabelSelector{MatchLabels: labels},
		},
	}
	if err := c.Create(ctx, pdb); err != nil {
		t.Fatal(err)
	}
	key := client.ObjectKeyFromObject(pdb)
	waitPDB(t, c, key, 2, 0)

	if err := evict(ctx, c, ns, "a"); !isHTTP429(err) {
		t.Fatalf("eviction over budget: got %v, want 429 Too Many Requests", err)
	}
	var pod corev1.Pod
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "a"}, &pod); err != nil || pod.DeletionTimestamp != nil {
		t.Fatalf("pod a after a refused eviction: err %v, deletionTimestamp %v", err, pod.DeletionTimestamp)
	}

	// Allow one disruption: the eviction goes through and spends it.
	patch := client.MergeFrom(pdb.DeepCopy())
	pdb.Spec.MinAvailable = ptr(intstr.FromInt32(1))
	if err := c.Patch(ctx, pdb, patch); err != nil {
		t.Fatal(err)
	}
	waitPDB(t, c, key, 2, 1)
	if err := evict(ctx, c, ns, "a"); err != nil {
		t.Fatalf("eviction within budget: %v", err)
	}
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "a"}, &pod); err == nil && pod.DeletionTimestamp == nil {
		t.Fatal("pod a was evicted but is not being deleted")
	}
	if err := evict(ctx, c, ns, "b"); !isHTTP429(err) {
		t.Fatalf("second eviction with the budget spent: got %v, want 429 Too Many Requests", err)
	}
}
