package controller

import (
	"context"
	"math"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/albrollouts/albrollouts/internal/replicaset"
)

// canaryBasic runs a canary without traffic routing: the traffic split is the
// pod ratio (the Services, if named, select both versions' pods through the
// rollout's labels). The canary grows to ceil(weight × replicas / 100) pods
// and the stable side shrinks by as many, never below spec.replicas −
// maxUnavailable available pods in all, and never above spec.replicas +
// maxSurge pods in all. No ALB is involved, so nothing is verified.
func (c *rolloutContext) canaryBasic(ctx context.Context) error {
	cs := c.ro.Spec.Strategy.Canary
	replicas := c.replicas()
	n := len(cs.Steps)
	i := min(max(int(ptr.Deref(c.status.CurrentStepIndex, 0)), 0), n)
	if c.mode == modeProgress && c.status.PromoteFull {
		i = n
		c.status.CurrentStepIndex = ptr.To(int32(n))
	}
	var canaryWant int32
	switch c.mode {
	case modeSteady:
		canaryWant = replicas
	case modeAbort:
		canaryWant = 0
	default:
		if i >= n {
			canaryWant = replicas
		} else {
			canaryWant = ceilShare(stepWeight(cs.Steps, i), replicas, 100)
		}
	}
	stableWant := replicas - canaryWant
	surge := intOrPercent(cs.MaxSurge, replicas, true)
	unavailable := intOrPercent(cs.MaxUnavailable, replicas, false)
	if surge == 0 && unavailable == 0 {
		surge = 1
	}
	if c.stableRS == c.newRS {
		stableWant = canaryWant
	}
	// Grow first, within maxSurge; shrink only what keeps enough available.
	total := int32(0)
	for _, rs := range c.obs.rss {
		total += replicaset.Replicas(rs)
	}
	if cur := replicaset.Replicas(c.newRS); canaryWant > cur && !c.ro.Spec.Paused {
		up := min(canaryWant, cur+max(replicas+surge-total, 0))
		if up > cur {
			if err := c.scale(ctx, c.newRS, up); err != nil {
				return err
			}
		}
	}
	var available int32
	for _, rs := range c.obs.rss {
		available += replicaset.Available(rs)
	}
	minAvailable := replicas - unavailable
	if c.stableRS != nil && c.stableRS != c.newRS && !c.ro.Spec.Paused {
		if cur := replicaset.Replicas(c.stableRS); stableWant < cur {
			canDrop := max(available-minAvailable, 0)
			down := max(stableWant, cur-canDrop)
			if err := c.scale(ctx, c.stableRS, down); err != nil {
				return err
			}
		} else if stableWant > cur {
			if err := c.scale(ctx, c.stableRS, stableWant); err != nil {
				return err
			}
		}
	}
	if c.mode == modeAbort {
		if cur := replicaset.Replicas(c.newRS); cur > 0 && replicaset.Available(c.stableRS) >= replicas {
			if err := c.scale(ctx, c.newRS, 0); err != nil {
				return err
			}
		}
	}
	for _, rs := range c.obs.rss {
		if rs == c.newRS || rs == c.stableRS {
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
	if c.mode != modeProgress || c.ro.Spec.Paused {
		return nil
	}
	settled := replicaset.Settled(c.newRS) && replicaset.Available(c.newRS) >= canaryWant && replicaset.Replicas(c.newRS) == canaryWant &&
		(c.stableRS == nil || replicaset.Replicas(c.stableRS) == stableWant)
	if !settled {
		c.wait(time.Second, "scaling: canary %d/%d, stable %d/%d", replicaset.Available(c.newRS), canaryWant, replicaset.Replicas(c.stableRS), stableWant)
		return nil
	}
	if i < n {
		if c.completeStep(&cs.Steps[i], i, trafficGoal{}) {
			c.status.CurrentStepIndex = ptr.To(int32(i + 1))
			c.normal("RolloutStepCompleted", "Rollout step %d/%d completed (%s)", i+1, n, describeStep(&cs.Steps[i]))
			c.progressed = true
			c.after(10 * time.Millisecond)
		}
		return nil
	}
	c.promote("Completed all %d canary steps", n)
	return nil
}

// basicServices points the canary and stable Services (when named) at their
// ReplicaSets.
func (c *rolloutContext) basicServices(ctx context.Context) error {
	cs := c.ro.Spec.Strategy.Canary
	for _, s := range []struct{ name, hash, role string }{
		{cs.StableService, c.status.StableRS, "stable"},
		{cs.CanaryService, c.newHash, "canary"},
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
		if svc.Spec.Selector[replicaset.HashLabel] != s.hash && rs != nil && replicaset.Available(rs) > 0 {
			if err := c.switchService(ctx, svc, s.hash, s.role); err != nil {
				return err
			}
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
