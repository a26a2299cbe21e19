package controller

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
	"github.com/albrollouts/albrollouts/internal/replicaset"
	"github.com/albrollouts/albrollouts/internal/verify"
)

// syncReplicaSets finds or creates the ReplicaSet of the current template
// and finds the stable one. A first deploy makes the new ReplicaSet stable at
// once ("Initial deploy"), as Argo Rollouts does.
func (c *rolloutContext) syncReplicaSets(ctx context.Context) error {
	rs := replicaset.FindByTemplate(c.obs.rss, &c.ro.Spec.Template, c.newHash)
	maxRev := replicaset.MaxRevision(c.obs.rss)
	switch {
	case rs == nil:
		created, err := c.createReplicaSet(ctx, maxRev+1)
		if err != nil || created == nil {
			return err
		}
		rs = created
	case replicaset.HashOf(rs) != c.newHash:
		// Made from this template under another collision count: keep using it.
		c.newHash = replicaset.HashOf(rs)
	}
	if rev := replicaset.Revision(rs); rev < maxRev {
		// Rollback to an earlier template: the ReplicaSet is reused and becomes
		// the newest revision.
		n := rs.DeepCopy()
		n.Annotations = replicaset.WithRevision(n.Annotations, maxRev+1)
		if err := c.r.client.Patch(ctx, n, client.MergeFromWithOptions(rs, client.MergeFromWithOptimisticLock{})); err != nil {
			return fmt.Errorf("moving ReplicaSet %s to revision %d: %w", rs.Name, maxRev+1, err)
		}
		*rs = *n
		c.normal(v1alpha1.ReasonNewReplicaSetCreated, "Reusing ReplicaSet %s for revision %d (rollback)", rs.Name, maxRev+1)
	}
	c.newRS = rs
	if c.status.StableRS != "" {
		c.stableRS = replicaset.FindByHash(c.obs.rss, c.status.StableRS)
	}
	if c.stableRS == nil {
		reason := "Initial deploy"
		if c.status.StableRS != "" {
			reason = fmt.Sprintf("stable ReplicaSet %s-%s no longer exists", c.ro.Name, c.status.StableRS)
		}
		if cs := c.ro.Spec.Strategy.Canary; c.status.StableRS == "" && cs != nil && cs.PingPong != nil && c.status.Canary.StablePingPong == "" {
			// The first version goes to ping, as in Argo Rollouts (the
			// first update then moves traffic to pong).
			c.status.Canary.StablePingPong = "ping"
		}
		c.status.StableRS = c.newHash
		c.stableRS = rs
		c.normal(v1alpha1.ReasonRolloutCompleted, "Rollout completed update to revision %d (%s): %s", replicaset.Revision(rs), c.newHash, reason)
		c.progressed = true
	}
	return nil
}

// createReplicaSet creates the ReplicaSet of the current template with no
// pods (the strategy scales it). A name taken by a ReplicaSet of another
// template bumps status.collisionCount, as the Deployment controller does.
func (c *rolloutContext) createReplicaSet(ctx context.Context, revision int64) (*appsv1.ReplicaSet, error) {
	rs := replicaset.New(c.ro, c.newHash, revision, 0)
	err := c.r.client.Create(ctx, rs)
	if apierrors.IsAlreadyExists(err) {
		var existing appsv1.ReplicaSet
		if gerr := c.r.client.Get(ctx, client.ObjectKeyFromObject(rs), &existing); gerr == nil && replicaset.Owned(&existing, c.ro) && replicaset.TemplateEqual(&existing, &c.ro.Spec.Template) {
			c.obs.rss = append(c.obs.rss, &existing)
			return &existing, nil
		}
		n := ptr.Deref(c.status.CollisionCount, 0) + 1
		c.status.CollisionCount = &n
		c.normal(v1alpha1.ReasonHashCollision, "ReplicaSet name %s is taken by another template; retrying with collision count %d", rs.Name, n)
		c.after(100 * time.Millisecond)
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("creating ReplicaSet %s: %w", rs.Name, err)
	}
	c.obs.rss = append(c.obs.rss, rs)
	c.normal(v1alpha1.ReasonNewReplicaSetCreated, "Created ReplicaSet %s (revision %d)", rs.Name, revision)
	c.progressed = true
	return rs, nil
}

// scale sets a ReplicaSet's spec.replicas.
func (c *rolloutContext) scale(ctx context.Context, rs *appsv1.ReplicaSet, replicas int32) error {
	from := replicaset.Replicas(rs)
	desired := strconv.Itoa(int(c.replicas()))
	_, deadline := rs.Annotations[replicaset.ScaleDownDeadlineAnnotation]
	// A ReplicaSet wanted with pods (reused while its scale-down deadline
	// was pending) loses the deadline even when its size does not change:
	// left, it would cut the delay short the next time nothing selects it.
	// One scaled to zero has nothing left to scale down (Argo Rollouts
	// drops the deadline then too).
	if from == replicas && rs.Annotations[replicaset.DesiredReplicasAnnotation] == desired && !deadline {
		return nil
	}
	if u := c.vetScale(rs, replicas); u != nil {
		// Not scaled; the pass goes on (the verification that allows it
		// may run further on).
		_ = c.refuse(u)
		return nil
	}
	n := rs.DeepCopy()
	n.Spec.Replicas = ptr.To(replicas)
	if n.Annotations == nil {
		n.Annotations = map[string]string{}
	}
	n.Annotations[replicaset.DesiredReplicasAnnotation] = desired
	delete(n.Annotations, replicaset.ScaleDownDeadlineAnnotation)
	if err := c.r.client.Patch(ctx, n, client.MergeFromWithOptions(rs, client.MergeFromWithOptimisticLock{})); err != nil {
		return fmt.Errorf("scaling ReplicaSet %s to %d: %w", rs.Name, replicas, err)
	}
	*rs = *n
	if from != replicas {
		dir := "up"
		if replicas < from {
			dir = "down"
		}
		c.normal(v1alpha1.ReasonScalingReplicaSet, "Scaled %s ReplicaSet %s from %d to %d", dir, replicaset.Describe(rs), from, replicas)
		c.progressed = true
	}
	return nil
}

// scaleDownAfter scales a ReplicaSet that nothing depends on any more to zero
// once its scale-down deadline (set now + delay on first sight) has passed.
// delay < 0 keeps it running.
func (c *rolloutContext) scaleDownAfter(ctx context.Context, rs *appsv1.ReplicaSet, delay time.Duration) error {
	if replicaset.Replicas(rs) == 0 || delay < 0 {
		return nil
	}
	deadline, ok := replicaset.ScaleDownDeadline(rs)
	if !ok {
		n := rs.DeepCopy()
		if n.Annotations == nil {
			n.Annotations = map[string]string{}
		}
		deadline = c.now.Add(delay)
		n.Annotations[replicaset.ScaleDownDeadlineAnnotation] = replicaset.FormatDeadline(deadline)
		if err := c.r.client.Patch(ctx, n, client.MergeFromWithOptions(rs, client.MergeFromWithOptimisticLock{})); err != nil {
			return fmt.Errorf("setting the scale-down deadline of ReplicaSet %s: %w", rs.Name, err)
		}
		*rs = *n
	}
	if c.now.Before(deadline) {
		c.after(deadline.Sub(c.now))
		return nil
	}
	return c.scale(ctx, rs, 0)
}

// scaleDownOld scales down the ReplicaSets that are neither new nor stable
// once delay has passed since nothing selects them (selected: a Service of
// the rollout selects it; its delay then starts afresh later). With
// scaleDownDelayRevisionLimit, only that many of them, the newest, wait out
// the delay; older ones scale down at once (the write guard still keeps any
// pod that traffic depends on). The new and the stable ReplicaSet keep no
// scale-down deadline from an earlier role (a ReplicaSet reused by a
// rollback, a retried abort): a stale, passed deadline would scale it down
// the moment it stops being one of them. During an abort, the new one's
// deadline is the abort's own.
func (c *rolloutContext) scaleDownOld(ctx context.Context, delay time.Duration, revisionLimit *int32, selected func(*appsv1.ReplicaSet) bool) error {
	if c.stableRS != nil {
		if err := c.keepScaleDown(ctx, c.stableRS); err != nil {
			return err
		}
	}
	if c.newRS != nil && c.mode != modeAbort {
		if err := c.keepScaleDown(ctx, c.newRS); err != nil {
			return err
		}
	}
	var old []*appsv1.ReplicaSet
	for _, rs := range c.obs.rss {
		if rs == c.newRS || rs == c.stableRS || replicaset.HashOf(rs) == c.newHash || replicaset.HashOf(rs) == c.status.StableRS {
			continue
		}
		old = append(old, rs)
	}
	replicaset.SortByRevision(old)
	slices.Reverse(old) // newest first
	waiting := int32(0)
	for _, rs := range old {
		if selected(rs) || c.keptSelects(rs) {
			if err := c.keepScaleDown(ctx, rs); err != nil {
				return err
			}
			continue
		}
		if replicaset.Replicas(rs) > 0 {
			// A Service that Ingress paths (or actions the rollout does
			// not write) send traffic to and that selects other pods too
			// (a root Service, one widened on its way): those other pods
			// must be healthy in its groups before these go.
			if ok, err := c.plainServedWithout(ctx, rs, false); !ok || err != nil {
				if err := c.keepScaleDown(ctx, rs); err != nil {
					return err
				}
				continue
			}
		}
		if replicaset.Replicas(rs) > 0 && delay > 0 {
			waiting++
			if revisionLimit != nil && waiting > *revisionLimit {
				if err := c.scale(ctx, rs, 0); err != nil {
					return err
				}
				continue
			}
		}
		if err := c.scaleDownAfter(ctx, rs, delay); err != nil {
			return err
		}
	}
	return nil
}

// plainServedWithout reports whether every Service with a plain path or a
// foreign action that selects rs also selects other pods that are healthy
// in each of its groups (checked now, health only): then rs's pods can go.
// A Service that selects rs alone keeps it (false), unless soleToGuard:
// then such a Service is left to the write guard, which refuses, and says
// why, a scale-down that leaves it too few pods.
func (c *rolloutContext) plainServedWithout(ctx context.Context, rs *appsv1.ReplicaSet, soleToGuard bool) (bool, error) {
	if !c.verifying() || c.scaledToZero() {
		return true, nil
	}
	hash := replicaset.HashOf(rs)
	for _, name := range slices.Sorted(maps.Keys(c.obs.plainBackends)) {
		svc := c.obs.services[name]
		if svc == nil || !selects(svc, rs) {
			continue
		}
		var rest []corev1.Pod
		for _, p := range c.obs.podsSelectedBy(svc) {
			if p.Labels[replicaset.HashLabel] != hash {
				rest = append(rest, p)
			}
		}
		if soleToGuard && len(rest) == 0 {
			continue
		}
		if readyPods(rest) == 0 {
			return false, nil
		}
		groups, err := c.plainGroups(ctx, svc)
		if err != nil {
			return false, err
		}
		if ok, err := c.verifyPlainGroups(ctx, groups, verify.RoleStable, svc, svc.Spec.Selector[replicaset.HashLabel], rest, v1alpha1.VerificationTargetHealth, true); !ok || err != nil {
			return false, err
		}
	}
	return true, nil
}

// keptSelects reports whether a released Service that an ALB Ingress still
// routes to (observed.kept) selects rs.
func (c *rolloutContext) keptSelects(rs *appsv1.ReplicaSet) bool {
	return c.anySelects(c.obs.kept, rs)
}

// anySelects reports whether one of the named Services (as observed)
// selects rs.
func (c *rolloutContext) anySelects(names []string, rs *appsv1.ReplicaSet) bool {
	return slices.ContainsFunc(names, func(name string) bool { return selects(c.obs.services[name], rs) })
}

// keepScaleDown drops the scale-down deadline of a ReplicaSet that a Service
// selects again (a hand edit, a rollback to it): it is depended on, and its
// delay starts afresh once nothing selects it. A deadline left from before
// would scale it down the moment it is deselected, before the load balancer
// has stopped sending it traffic.
func (c *rolloutContext) keepScaleDown(ctx context.Context, rs *appsv1.ReplicaSet) error {
	if _, ok := rs.Annotations[replicaset.ScaleDownDeadlineAnnotation]; !ok {
		return nil
	}
	n := rs.DeepCopy()
	delete(n.Annotations, replicaset.ScaleDownDeadlineAnnotation)
	if err := c.r.client.Patch(ctx, n, client.MergeFromWithOptions(rs, client.MergeFromWithOptimisticLock{})); err != nil {
		return fmt.Errorf("clearing the scale-down deadline of ReplicaSet %s (a service selects it again): %w", rs.Name, err)
	}
	*rs = *n
	return nil
}

// cleanupHistory deletes the oldest ReplicaSets without pods beyond
// revisionHistoryLimit (default 10), never the new or the stable one.
func (c *rolloutContext) cleanupHistory(ctx context.Context, keep ...*appsv1.ReplicaSet) error {
	limit := int(ptr.Deref(c.ro.Spec.RevisionHistoryLimit, 10))
	var idle []*appsv1.ReplicaSet
	for _, rs := range c.obs.rss {
		if isOneOf(rs, keep...) || rs == c.newRS || rs == c.stableRS {
			continue
		}
		if replicaset.Replicas(rs) == 0 && rs.Status.Replicas == 0 {
			idle = append(idle, rs)
		}
	}
	for i := 0; i < len(idle)-limit; i++ {
		rs := idle[i]
		err := c.r.client.Delete(ctx, rs, client.Preconditions{UID: &rs.UID, ResourceVersion: &rs.ResourceVersion})
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			return fmt.Errorf("deleting old ReplicaSet %s: %w", rs.Name, err)
		}
	}
	return nil
}

func isOneOf(rs *appsv1.ReplicaSet, list ...*appsv1.ReplicaSet) bool {
	for _, x := range list {
		if x != nil && x.Name == rs.Name {
			return true
		}
	}
	return false
}

// selects reports whether a Service's selector selects a ReplicaSet's pods.
func selects(svc *corev1.Service, rs *appsv1.ReplicaSet) bool {
	if svc == nil || rs == nil || len(svc.Spec.Selector) == 0 {
		return false
	}
	return labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(rs.Spec.Template.Labels))
}

// ceilShare is ceil(weight × replicas / total), the pods a share of traffic needs.
func ceilShare(weight, replicas, total int32) int32 {
	if weight <= 0 || replicas <= 0 || total <= 0 {
		return 0
	}
	return int32((int64(weight)*int64(replicas) + int64(total) - 1) / int64(total))
}
