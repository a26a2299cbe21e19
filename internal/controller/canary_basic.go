package controller

import (
	"context"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
	"github.com/albrollouts/albrollouts/internal/replicaset"
)

// canaryBasic runs a canary without traffic routing: the traffic split is the
// pod ratio (the Services, if named, select both versions' pods through the
// rollout's labels). The canary grows to ceil(weight × replicas / 100) pods
// and the stable side shrinks by as many, never below spec.replicas −
// maxUnavailable available pods in all (its unready pods, which the
// ReplicaSet controller removes first, do not count), and never above
// spec.replicas + maxSurge pods in all. No ALB is involved, so nothing is verified.
func (c *rolloutContext) canaryBasic(ctx context.Context) error {
	cs := c.ro.Spec.Strategy.Canary
	replicas := c.replicas()
	n := len(cs.Steps)
	i := min(max(int(ptr.Deref(c.status.CurrentStepIndex, 0)), 0), n)
	if c.mode == modeProgress && c.status.PromoteFull {
		i = n
		c.status.CurrentStepIndex = ptr.To(int32(n))
	}
	surge := intOrPercent(cs.MaxSurge, replicas, true)
	unavailable := intOrPercent(cs.MaxUnavailable, replicas, false)
	if surge == 0 && unavailable == 0 {
		surge = 1
	}
	var canaryWant, stableWant int32
	switch {
	case c.mode == modeSteady || (c.mode == modeProgress && i >= n):
		canaryWant = replicas
	case c.mode == modeAbort:
		stableWant = replicas
	default:
		canaryWant, stableWant = podSplit(replicas, stepWeight(cs.Steps, i), 100, surge)
	}
	if c.stableRS == c.newRS {
		stableWant = canaryWant
	}
	// Grow first, within maxSurge; shrink only what keeps enough available.
	total := int32(0)
	for _, rs := range c.obs.rss {
		if rs != c.newRS && rs != c.stableRS && (c.vetScale(rs, 0) != nil || c.selectedByAService(rs)) {
			// Held by traffic the write guard sees (a Service an action
			// or a path still sends to), or by the canary Service of an
			// earlier update (it keeps a ready pod until it moves): it
			// cannot go before that Service moves onto new pods, so it
			// does not use up maxSurge.
			continue
		}
		total += replicaset.Replicas(rs)
	}
	if cur := replicaset.Replicas(c.newRS); canaryWant > cur && !c.held() {
		up := min(canaryWant, cur+max(replicas+surge-total, 0))
		if up > cur {
			if err := c.scale(ctx, c.newRS, up); err != nil {
				return err
			}
			total += replicaset.Replicas(c.newRS) - cur
		}
	}
	var available int32
	for _, rs := range c.obs.rss {
		available += replicaset.Available(rs)
	}
	minAvailable := replicas - unavailable
	if c.stableRS != nil && c.stableRS != c.newRS && !c.held() {
		if cur := replicaset.Replicas(c.stableRS); stableWant < cur {
			canDrop := max(available-minAvailable, 0)
			if canaryWant >= replicaset.Replicas(c.newRS) {
				// Growing the canary: the stable side's pods that are
				// not available (a crash loop) count as droppable too,
				// as in Argo Rollouts (the ReplicaSet controller deletes
				// unready pods first, so no available pod goes for
				// them); else such a stable side never makes room.
				unready := max(cur-replicaset.Available(c.stableRS), 0)
				canDrop = max(available+unready-minAvailable, 0)
			}
			down := max(stableWant, cur-canDrop)
			// A routed Service that selects both versions (a plain Service
			// in front of the rollout) gives the stable pods' share to the
			// others it selects: they must be healthy in its groups first.
			ok, err := c.plainServedWithout(ctx, c.stableRS, true)
			if err != nil {
				return err
			}
			if ok && down < cur {
				if err := c.scale(ctx, c.stableRS, down); err != nil {
					return err
				}
			}
		} else if stableWant > cur {
			// A lower weight, an abort: the stable side grows within
			// maxSurge too, as in Argo Rollouts; the canary makes room
			// as the stable pods turn available (below).
			if up := min(stableWant, cur+max(replicas+surge-total, 0)); up > cur {
				if err := c.scale(ctx, c.stableRS, up); err != nil {
					return err
				}
				total += replicaset.Replicas(c.stableRS) - cur
			}
		}
	}
	// The canary shrinks (a lower weight, spec.replicas lowered, an
	// abort), keeping enough available; its pods that are not available
	// count as droppable, as in Argo Rollouts, and it gives back what
	// exceeds maxSurge with them.
	if cur := replicaset.Replicas(c.newRS); c.mode != modeSteady && c.newRS != c.stableRS && canaryWant < cur && (!c.held() || c.mode == modeAbort) {
		unready := max(cur-replicaset.Available(c.newRS), 0)
		canDrop := max(available+unready-minAvailable, 0)
		down := max(canaryWant, cur-canDrop)
		if over := total - cur + down - (replicas + surge); over > 0 {
			down = max(down-over, cur-canDrop, 0)
		}
		if down < cur {
			// As for the stable side: a routed Service that selects both
			// versions needs the others healthy in its groups first.
			ok, err := c.plainServedWithout(ctx, c.newRS, true)
			if err != nil {
				return err
			}
			if ok {
				if err := c.scale(ctx, c.newRS, down); err != nil {
					return err
				}
			}
		}
	}
	for _, rs := range c.obs.rss {
		if rs == c.newRS || rs == c.stableRS || c.selectedByAService(rs) {
			// (A Service still selecting it, widened on its way to the
			// new pods, keeps it until it is narrowed.)
			continue
		}
		if ok, err := c.plainServedWithout(ctx, rs, true); err != nil || !ok {
			if err != nil {
				return err
			}
			continue
		}
		if replicaset.Available(c.newRS) >= replicaset.Replicas(c.newRS) {
			if err := c.scale(ctx, rs, 0); err != nil {
				return err
			}
		}
	}
	if err := c.basicServices(ctx); err != nil {
		return err
	}
	if restarted, err := c.restartPods(ctx, nil); err != nil || !restarted {
		return err
	}
	if err := c.cleanupHistory(ctx); err != nil {
		return err
	}
	if c.mode != modeProgress || c.held() {
		return nil
	}
	settled := replicaset.Settled(c.newRS) && replicaset.Available(c.newRS) >= canaryWant && replicaset.Replicas(c.newRS) == canaryWant &&
		(c.stableRS == nil || replicaset.Replicas(c.stableRS) == stableWant)
	if !settled {
		c.wait(time.Second, "scaling: canary %d/%d, stable %d/%d", replicaset.Available(c.newRS), canaryWant, replicaset.Replicas(c.stableRS), stableWant)
		return nil
	}
	if i < n {
		done, err := c.completeStep(ctx, &cs.Steps[i], i, trafficGoal{})
		if err != nil {
			return err
		}
		if done {
			c.status.CurrentStepIndex = ptr.To(int32(i + 1))
			c.normal(v1alpha1.ReasonRolloutStepCompleted, "Rollout step %d/%d completed (%s)", i+1, n, describeStep(&cs.Steps[i]))
			c.progressed = true
			c.after(10 * time.Millisecond)
		}
		return nil
	}
	c.promote("Completed all %d canary steps", n)
	return nil
}

// podSplit is the canary and stable pod counts that come closest to weight
// (of total) when the pods are the traffic split, as Argo Rollouts counts
// them. The candidates are the canary share of spec.replicas rounded up and
// down, run as spec.replicas pods or, when maxSurge allows, one more. A
// weight strictly between 0 and total never rounds the canary to no pod,
// nor to every pod of spec.replicas (a single replica at 25 % runs one
// canary and one stable pod through the surge), except with a single
// replica and no surge, where nothing else exists. On equal distance the
// earlier candidate wins: rounded up before down, spec.replicas before
// the surge; a share exactly halfway between two counts takes the larger.
func podSplit(replicas, weight, total, surge int32) (canary, stable int32) {
	switch {
	case replicas <= 0 || total <= 0:
		return 0, 0
	case weight <= 0:
		return 0, replicas
	case weight >= total:
		return replicas, 0
	}
	share := float64(weight) * float64(replicas) / float64(total)
	up, down := int32(math.Ceil(share)), int32(math.Floor(share))
	lone := replicas == 1 && surge == 0
	halfway := func(n int32) bool {
		_, frac := math.Modf(float64(weight) * float64(n) / float64(total))
		return frac == 0.5
	}
	type split struct{ canary, pods int32 }
	var options []split
	if up < replicas || lone {
		options = append(options, split{up, replicas})
	}
	if !halfway(replicas) && (down > 0 || lone) {
		options = append(options, split{down, replicas})
	}
	if surge > 0 {
		options = append(options, split{up, replicas + 1})
		if !halfway(replicas+1) && down > 0 {
			options = append(options, split{down, replicas + 1})
		}
	}
	if len(options) == 0 {
		// Halfway below every pod without a surge (10 pods at 95 %):
		// Argo Rollouts runs no canary pod here; the nearer count
		// rounded down keeps the canary running.
		return down, replicas - down
	}
	distance := func(o split) float64 {
		return math.Abs(float64(o.canary)*float64(total)/float64(o.pods) - float64(weight))
	}
	best := options[0]
	for _, o := range options[1:] {
		if distance(o) < distance(best) {
			best = o
		}
	}
	return best.canary, best.pods - best.canary
}

// selectedByAService reports whether a Service whose pods the guard keeps
// (guardedServices) selects rs.
func (c *rolloutContext) selectedByAService(rs *appsv1.ReplicaSet) bool {
	return c.anySelects(slices.Concat(rolloutServices(c.ro), formerServices(c.ro), c.obs.kept), rs)
}

// basicServices points the canary and stable Services (when named) at their
// ReplicaSets; after an abort the canary Service goes back to the stable
// pods too, as in Argo Rollouts.
func (c *rolloutContext) basicServices(ctx context.Context) error {
	cs := c.ro.Spec.Strategy.Canary
	canaryHash := c.newHash
	if c.mode == modeAbort && c.status.StableRS != "" {
		canaryHash = c.status.StableRS
	}
	for _, s := range []struct{ name, hash, role string }{
		{cs.StableService, c.status.StableRS, "stable"},
		{cs.CanaryService, canaryHash, "canary"},
	} {
		if s.name == "" {
			continue
		}
		svc := c.obs.services[s.name]
		if svc == nil {
			c.specError("service %s/%s does not exist", c.ro.Namespace, s.name)
			continue
		}
		rs := replicaset.FindByHash(c.obs.rss, s.hash)
		sel := svc.Spec.Selector[replicaset.HashLabel]
		if sel == s.hash || rs == nil || replicaset.Available(rs) == 0 {
			continue
		}
		if c.verifying() && c.obs.plainBackends[s.name] && !c.scaledToZero() {
			// An Ingress path names the Service directly: it moves
			// widen, verify, narrow (no action weight to check).
			ok := func() (bool, error) { return true, nil }
			narrowing := sel == "" && c.subsetOf(svc, s.hash)
			if err := c.movePlain(ctx, plainMove{svc: svc, role: s.role, sel: sel, goal: s.hash, narrowing: narrowing, current: ok, gaining: ok}); err != nil {
				return err
			}
			continue
		}
		if err := c.switchService(ctx, svc, s.hash, s.role); err != nil {
			return err
		}
	}
	return nil
}

// intOrPercent resolves maxSurge / maxUnavailable against replicas (default
// 25%). As in Argo Rollouts, a string without "%" is a percentage too. Surge
// rounds up, unavailability down.
func intOrPercent(v *intstr.IntOrString, replicas int32, roundUp bool) int32 {
	if v == nil {
		v = ptr.To(intstr.FromString("25%"))
	}
	if v.Type == intstr.Int {
		return max(v.IntVal, 0)
	}
	p, err := strconv.ParseFloat(strings.TrimSuffix(v.StrVal, "%"), 64)
	if err != nil || p < 0 {
		return 0
	}
	x := p * float64(replicas) / 100
	if roundUp {
		return int32(math.Ceil(x))
	}
	return int32(math.Floor(x))
}
