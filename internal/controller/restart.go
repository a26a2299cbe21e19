package controller

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
	"github.com/albrollouts/albrollouts/internal/replicaset"
)

// restartPods carries out spec.restartAt: every pod created before it is
// evicted (so PodDisruptionBudgets apply), one batch of maxUnavailable (at
// least 1) at a time, and the next batch only once every ReplicaSet is fully
// available again and, when the rollout verifies, gate confirms the
// replacements registered and healthy in their target groups. Then
// status.restartedAt is set to restartAt. It reports whether it is done.
func (c *rolloutContext) restartPods(ctx context.Context, gate func(context.Context) (bool, error)) (bool, error) {
	at := c.ro.Spec.RestartAt
	if at == nil || (c.status.RestartedAt != nil && !c.status.RestartedAt.Before(at)) {
		return true, nil
	}
	if c.now.Before(at.Time) {
		c.after(at.Sub(c.now))
		return true, nil
	}
	var old []corev1.Pod
	for _, p := range c.obs.pods {
		if p.DeletionTimestamp == nil && p.CreationTimestamp.Before(at) {
			old = append(old, p)
		}
	}
	if len(old) == 0 {
		c.status.RestartedAt = at.DeepCopy()
		c.normal("RolloutRestarted", "Restarted every pod created before %s", at.UTC().Format(time.RFC3339))
		c.progressed = true
		return true, nil
	}
	for _, rs := range c.obs.rss {
		if want := replicaset.Replicas(rs); want > 0 && (!replicaset.Settled(rs) || replicaset.Available(rs) < want) {
			c.wait(time.Second, "restarting pods: waiting for ReplicaSet %s to be available (%d/%d) before the next eviction", rs.Name, replicaset.Available(rs), want)
			return false, nil
		}
	}
	for _, p := range c.obs.pods {
		if p.DeletionTimestamp != nil {
			c.wait(time.Second, "restarting pods: waiting for pod %s to terminate", p.Name)
			return false, nil
		}
	}
	if gate != nil {
		if ok, err := gate(ctx); !ok || err != nil {
			return false, err
		}
	}
	batch := max(int(intOrPercent(c.maxUnavailable(), c.replicas(), false)), 1)
	n := 0
	for i := 0; i < len(old) && n < batch; i++ {
		p := old[i]
		if u := c.vetEviction(&p); u != nil {
			// Another pod may go first; this one waits.
			_ = c.refuse(u)
			continue
		}
		n++
		ev := &policyv1.Eviction{ObjectMeta: metav1.ObjectMeta{Namespace: p.Namespace, Name: p.Name}}
		err := c.r.client.SubResource("eviction").Create(ctx, &p, ev)
		if err == nil {
			c.obs.markEvicted(p.Name, c.now)
		}
		switch {
		case apierrors.IsTooManyRequests(err):
			c.wait(5*time.Second, "restarting pods: eviction of %s refused by a PodDisruptionBudget; retrying", p.Name)
			return false, nil
		case apierrors.IsNotFound(err):
		case err != nil:
			return false, fmt.Errorf("evicting pod %s for spec.restartAt: %w", p.Name, err)
		default:
			c.normal("RestartingPod", "Evicted pod %s (created before restartAt %s)", p.Name, at.UTC().Format(time.RFC3339))
		}
	}
	if n == 0 {
		// Every pod left is the last ready one of a Service with traffic
		// (the guard refused it): the rollout goes on meanwhile (a promotion
		// or a weight change frees them), the restart completes later.
		return true, nil
	}
	c.progressed = true
	c.wait(time.Second, "restarting pods: %d left to restart", len(old))
	return false, nil
}

// maxUnavailable is the strategy's maxUnavailable.
func (c *rolloutContext) maxUnavailable() *intstr.IntOrString {
	if cs := c.ro.Spec.Strategy.Canary; cs != nil {
		return cs.MaxUnavailable
	}
	if bg := c.ro.Spec.Strategy.BlueGreen; bg != nil {
		return bg.MaxUnavailable
	}
	return nil
}

// restartGate, for a traffic-routed canary, verifies that the pods of every
// group that gets traffic are registered and healthy in it (the exact pod
// set is part of the fingerprint): evicting the next batch waits until the
// replacements of the last one serve.
func (c *rolloutContext) restartGate(t *trafficState) func(context.Context) (bool, error) {
	return func(ctx context.Context) (bool, error) {
		if !c.verifying() {
			return true, nil
		}
		spec := c.canarySpec(t, t.canaryW, t.stableW, t.routes)
		for i := range spec.dests {
			if spec.dests[i].weight > 0 {
				spec.dests[i].requireHealthy = true
			}
		}
		out, err := c.runVerification(ctx, v1alpha1.VerificationTargetHealth, spec)
		return out == outcomeVerified, err
	}
}
