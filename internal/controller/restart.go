package controller

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
	"github.com/albrollouts/albrollouts/internal/elbv2"
	"github.com/albrollouts/albrollouts/internal/replicaset"
	"github.com/albrollouts/albrollouts/internal/verify"
)

// restartPods carries out spec.restartAt: every pod created before it is
// evicted (so PodDisruptionBudgets apply), one batch of maxUnavailable (at
// least 1) at a time, and the next batch only once every ReplicaSet is fully
// available again and, when the rollout verifies, gate confirms the
// replacements registered and healthy in their target groups. Then
// status.restartedAt is set to restartAt. It reports whether it is done.
//
// served are the pods of each target group that gets traffic: a pod is
// evicted only while another ready pod of each of its groups stays (a group
// of one pod first gets a second one, see restartSurge).
func (c *rolloutContext) restartPods(ctx context.Context, gate func(context.Context) (bool, error), served ...[]corev1.Pod) (bool, error) {
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
	if len(old) == 0 || c.scaledToZero() {
		// (Scaled to zero, no pod is asked for: the pods still up are on
		// their way out, and none may be health-checked anywhere.)
		c.status.RestartedAt = at.DeepCopy()
		c.normal(v1alpha1.ReasonRolloutRestarted, "Restarted every pod created before %s", at.UTC().Format(time.RFC3339))
		c.progressed = true
		return true, nil
	}
	for _, rs := range c.obs.rss {
		// The pods themselves are counted too: a ReplicaSet's status lags
		// behind an eviction, and would let the next batch go before the
		// last one is replaced.
		want := replicaset.Replicas(rs)
		if ready := readyPods(c.obs.podsOf(replicaset.HashOf(rs))); want > 0 && (!replicaset.Settled(rs) || replicaset.Available(rs) < want || ready < want) {
			c.wait(time.Second, "restarting pods: waiting for ReplicaSet %s to be available (%d/%d, %d pods ready) before the next eviction", rs.Name, replicaset.Available(rs), want, ready)
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
	// Whatever the strategy, the groups that Ingress paths and actions the
	// rollout does not write send to are gated too, and keep a ready pod.
	if ok, err := c.plainGate(ctx); !ok || err != nil {
		return false, err
	}
	for _, name := range slices.Sorted(maps.Keys(c.obs.plainBackends)) {
		if svc := c.obs.services[name]; svc != nil {
			served = append(served, c.obs.podsSelectedBy(svc))
		}
	}
	batch := max(int(intOrPercent(c.maxUnavailable(), c.replicas(), false)), 1)
	evict := pickEvictions(old, len(old), served)
	if len(evict) == 0 {
		c.wait(time.Second, "restarting pods: waiting for a second ready pod in each target group that gets traffic before evicting its last one")
		return false, nil
	}
	n := 0
	for _, p := range evict {
		if n == batch {
			break
		}
		if u := c.vetEviction(&p); u != nil {
			// The guard's backstop: another pod may go first; this one waits.
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
			c.normal(v1alpha1.ReasonRestartingPod, "Evicted pod %s (created before restartAt %s)", p.Name, at.UTC().Format(time.RFC3339))
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

// plainGate verifies that every Service of the rollout that an Ingress
// path or an action the rollout does not write sends traffic to (a
// blue-green preview aside) has the pods it selects registered and healthy
// in each of those groups: the next eviction waits until the last batch's
// replacements serve there too.
func (c *rolloutContext) plainGate(ctx context.Context) (bool, error) {
	if !c.verifying() {
		return true, nil
	}
	for _, name := range slices.Sorted(maps.Keys(c.obs.plainBackends)) {
		svc := c.obs.services[name]
		if svc == nil || len(c.obs.podsSelectedBy(svc)) == 0 {
			continue
		}
		if bg := c.ro.Spec.Strategy.BlueGreen; bg != nil && name == bg.PreviewService {
			continue
		}
		groups, err := c.plainGroups(ctx, svc)
		if err != nil {
			return false, err
		}
		for _, g := range groups {
			spec := plainSpec(g.ings, g.port, verify.RoleStable, svc, svc.Spec.Selector[replicaset.HashLabel], c.obs.podsSelectedBy(svc), true)
			spec.healthOnly = true
			if ok, err := c.probe(ctx, spec, "restarting pods"); !ok || err != nil {
				return false, err
			}
		}
	}
	return true, nil
}

// probe checks spec now, for a decision that moves no traffic (evicting
// the next pods of a restart): health read from now on, and nothing
// recorded in status.verification, which belongs to the traffic's own
// verification. Two checks taking that record in turns would each start
// it again on every pass and end neither (a status write per pass while a
// group is unhealthy); a restart that waits for health waits on its own,
// at the engine's schedule.
func (c *rolloutContext) probe(ctx context.Context, s *verifySpec, purpose string) (bool, error) {
	if !c.verifying() {
		return true, nil
	}
	if c.r.verifier == nil {
		return false, c.errNoVerifier()
	}
	in, err := c.input(s, c.now, nil)
	if err != nil {
		c.specError("cannot verify: %v", err)
		return false, nil
	}
	if why := c.targetsIncomplete(s, in); why != "" {
		c.wait(time.Second, "%s: %s", purpose, why)
		return false, nil
	}
	res := c.callVerifier(ctx, purposeProbe, in, probeReuse)
	if checking(res) {
		c.wait(res.NextCheck, "%s: %s", purpose, res.Message)
		return false, nil
	}
	if res.Outcome == verify.Verified {
		return true, nil
	}
	if failingEverywhere(res) {
		// No target of the groups checked is healthy, and none is still
		// registering: they all fail their health check (the version
		// broke in place). Waiting would protect no healthy target and
		// never end; a restart may heal them, one pod at a time, each
		// group keeping a ready pod.
		c.warning(v1alpha1.ReasonRestartingPod, "Restarting pods although every target checked fails its health check: %s", res.Message)
		return true, nil
	}
	c.wait(max(res.NextCheck, time.Second), "%s: waiting for %s", purpose, res.Message)
	return false, nil
}

// failingEverywhere reports whether a check found targets not healthy only
// in groups where every target fails its health check: each group checked
// is either all healthy, or has no healthy target and every target
// registered and unhealthy (not initial, draining or missing), the rules
// matching.
func failingEverywhere(res verify.Result) bool {
	if res.Outcome != verify.Pending || res.Reason != verify.ReasonTargetsNotHealthy {
		return false
	}
	failing := 0
	for _, g := range res.TargetGroups {
		if !g.HealthChecked || len(g.NotHealthy) == 0 {
			continue
		}
		if g.Healthy > 0 {
			return false
		}
		for _, t := range g.NotHealthy {
			if t.State != elbv2.StateUnhealthy {
				return false
			}
		}
		failing++
	}
	return failing > 0
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
		return c.probe(ctx, spec, "restarting pods")
	}
}

// pickEvictions chooses up to batch pods of old to evict such that every
// group of served keeps at least one ready pod that is not evicted.
func pickEvictions(old []corev1.Pod, batch int, served [][]corev1.Pod) []corev1.Pod {
	left := make([]int32, len(served))
	for g, pods := range served {
		left[g] = readyPods(pods)
	}
	in := func(p corev1.Pod, pods []corev1.Pod) bool {
		for i := range pods {
			if pods[i].Name == p.Name && podReady(&pods[i]) && pods[i].DeletionTimestamp == nil {
				return true
			}
		}
		return false
	}
	var out []corev1.Pod
	for _, p := range old {
		if len(out) == batch {
			break
		}
		ok := true
		for g, pods := range served {
			if in(p, pods) && left[g] <= 1 {
				ok = false
			}
		}
		if !ok {
			continue
		}
		for g, pods := range served {
			if in(p, pods) {
				left[g]--
			}
		}
		out = append(out, p)
	}
	return out
}

// restartPending reports whether spec.restartAt is due and not carried out.
func (c *rolloutContext) restartPending() bool {
	at := c.ro.Spec.RestartAt
	return at != nil && (c.status.RestartedAt == nil || c.status.RestartedAt.Before(at)) && !c.now.Before(at.Time)
}

// restartSurge is the size of a ReplicaSet during a restart: one pod more
// while it is meant to have one and a ready pod of it is still to be
// restarted, so that its target group never loses its only target (the
// extra pod goes once the old one is evicted).
func (c *rolloutContext) restartSurge(rs *appsv1.ReplicaSet, want int32) int32 {
	if want != 1 || rs == nil || !c.restartPending() {
		return want
	}
	at := c.ro.Spec.RestartAt
	for _, p := range c.obs.podsOf(replicaset.HashOf(rs)) {
		if podReady(&p) && p.DeletionTimestamp == nil && p.CreationTimestamp.Before(at) {
			return want + 1
		}
	}
	return want
}
