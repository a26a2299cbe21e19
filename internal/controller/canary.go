package controller

import (
	"context"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
	"github.com/albrollouts/albrollouts/internal/albannotation"
	"github.com/albrollouts/albrollouts/internal/replicaset"
	"github.com/albrollouts/albrollouts/internal/validation"
)

// mode is where a rollout stands.
type mode int

const (
	// modeSteady: the current template is the stable one; all traffic on it.
	modeSteady mode = iota
	// modeProgress: a new template is being rolled out step by step.
	modeProgress
	// modeAbort: the update was aborted; traffic returns to stable.
	modeAbort
)

// reconcileCanary runs one pass of a canary rollout.
func (c *rolloutContext) reconcileCanary(ctx context.Context) error {
	cs := c.ro.Spec.Strategy.Canary
	if err := c.syncReplicaSets(ctx); err != nil || c.newRS == nil {
		return err
	}
	if err := c.syncEphemeralMetadata(ctx); err != nil {
		return err
	}
	// After syncReplicaSets: a ReplicaSet reused from another collision
	// count gives newHash its own hash, not the one the current count gives.
	if c.status.CurrentPodHash != c.newHash && c.ro.Status.CurrentPodHash != "" {
		// A new template (or a rollback): its steps start from the beginning.
		c.status.CurrentStepIndex = ptr.To(int32(0))
		c.status.PauseConditions, c.status.ControllerPause = nil, false
		c.status.Abort, c.status.AbortedAt, c.status.PromoteFull = false, nil, false
		c.resetGates()
	}
	c.status.CurrentPodHash = c.newHash
	if h := replicaset.JSONHash(cs.Steps); c.status.CurrentStepHash != h {
		if c.status.CurrentStepHash != "" && c.newHash != c.status.StableRS {
			// New steps start from the beginning, and nothing of the old
			// steps' pauses carries over: a controllerPause left set would
			// read as a user's promote past the first pause or gate.
			c.status.CurrentStepIndex = ptr.To(int32(0))
			c.status.PauseConditions, c.status.ControllerPause = nil, false
			c.resetGates()
		}
		c.status.CurrentStepHash = h
	}
	c.promoteFullOverAbort()
	c.mode = c.canaryMode()
	switch c.mode {
	case modeSteady:
		c.status.Abort, c.status.AbortedAt, c.status.PromoteFull = false, nil, false
		c.status.PauseConditions, c.status.ControllerPause = nil, false
		c.resetGates()
		if n := int32(len(cs.Steps)); n > 0 {
			c.status.CurrentStepIndex = &n
		} else {
			c.status.CurrentStepIndex = nil
		}
	case modeAbort:
		if c.status.AbortedAt == nil {
			c.abort("", "")
		}
	case modeProgress:
		if c.status.AbortedAt != nil {
			// Retried (status.abort cleared): the steps start again.
			c.status.AbortedAt = nil
			c.status.CurrentStepIndex = ptr.To(int32(0))
			c.resetGates()
			c.normal(v1alpha1.ReasonRolloutRetry, "Retrying update to revision %d", replicaset.Revision(c.newRS))
		}
		if c.status.CurrentStepIndex == nil {
			c.status.CurrentStepIndex = ptr.To(int32(0))
		}
	}
	if err := c.backgroundAnalysis(ctx); err != nil {
		return err
	}
	if err := c.abortOnFailedRuns(ctx); err != nil {
		return err
	}
	var err error
	if cs.TrafficRouting == nil {
		err = c.canaryBasic(ctx)
	} else {
		err = c.canaryALB(ctx)
	}
	return err
}

func (c *rolloutContext) canaryMode() mode {
	switch {
	case c.newHash == c.status.StableRS:
		return modeSteady
	case c.status.Abort:
		return modeAbort
	}
	return modeProgress
}

// promoteFullOverAbort: `promote --full` of an aborted update
// (status.promoteFull set after the abort was taken: abortedAt is set) clears
// the abort, as Argo Rollouts does: the update goes on as a full promotion,
// through the same verified steps as any promotion, with no step, pause or
// gate left. An abort taken after a promote --full cancels it (abort clears
// status.promoteFull), so the later of the two wins, and a full promotion
// that fails its verification and is aborted stays aborted.
func (c *rolloutContext) promoteFullOverAbort() {
	if !c.status.Abort || c.status.AbortedAt == nil || !c.status.PromoteFull || c.newHash == c.status.StableRS {
		return
	}
	c.status.Abort, c.status.AbortedAt = false, nil
	c.status.PauseConditions, c.status.ControllerPause = nil, false
	c.progressed = true
}

// abort marks the update aborted (traffic goes back to stable; the canary
// scales down only once that is verified). reason/msg say why when the
// controller aborts; empty for a user's abort.
func (c *rolloutContext) abort(reason, msg string) {
	now := metav1.NewTime(c.now)
	c.status.Abort = true
	c.status.AbortedAt = &now
	c.status.PromoteFull = false // the abort cancels a promote --full before it
	c.status.PauseConditions, c.status.ControllerPause = nil, false
	if c.ro.Spec.Strategy.Canary != nil {
		c.status.CurrentStepIndex = ptr.To(int32(0))
	}
	c.mode = modeAbort
	rev := int64(0)
	if c.newRS != nil {
		rev = replicaset.Revision(c.newRS)
	}
	text := fmt.Sprintf("Rollout aborted update to revision %d", rev)
	if reason != "" {
		text += ": " + reason
		if msg != "" {
			text += ": " + msg
		}
	}
	c.setCondition(v1alpha1.ConditionProgressing, "False", v1alpha1.ReasonRolloutAborted, text)
	c.warning(v1alpha1.ReasonRolloutAborted, "%s", text)
	c.progressed = true
	c.after(100 * time.Millisecond)
}

// stepWeight is the canary weight in force at step i: the last setWeight at
// or before it (0 before any).
func stepWeight(steps []v1alpha1.CanaryStep, i int) int32 {
	for j := min(i, len(steps)-1); j >= 0; j-- {
		if w := steps[j].SetWeight; w != nil {
			return *w
		}
	}
	return 0
}

// scaleOverride is the setCanaryScale in force at step i (nil: the canary
// scales with its weight).
func scaleOverride(steps []v1alpha1.CanaryStep, i int) *v1alpha1.SetCanaryScale {
	for j := min(i, len(steps)-1); j >= 0; j-- {
		if s := steps[j].SetCanaryScale; s != nil {
			if s.MatchTrafficWeight {
				return nil
			}
			return s
		}
	}
	return nil
}

// routesAt are the header routes in force at step i: per managed route, the
// last setHeaderRoute of it at or before i, if it has matches.
func (c *rolloutContext) routesAt(i int) (map[string]string, error) {
	cs := c.ro.Spec.Strategy.Canary
	out := map[string]string{}
	if cs.TrafficRouting == nil {
		return out, nil
	}
	for _, mr := range cs.TrafficRouting.ManagedRoutes {
		for j := min(i, len(cs.Steps)-1); j >= 0; j-- {
			h := cs.Steps[j].SetHeaderRoute
			if h == nil || h.Name != mr.Name {
				continue
			}
			if len(h.Match) > 0 {
				v, err := albannotation.HeaderConditions(h.Match)
				if err != nil {
					return nil, fmt.Errorf("steps[%d].setHeaderRoute: %w", j, err)
				}
				out[mr.Name] = v
			}
			break
		}
	}
	return out, nil
}

// canaryALB runs a canary with ALB traffic routing.
func (c *rolloutContext) canaryALB(ctx context.Context) error {
	cs := c.ro.Spec.Strategy.Canary
	if c.albSpec() == nil {
		// Validation refuses a trafficRouting without alb before this; a
		// spec that gets here anyway is reported, never dereferenced.
		c.specError("spec.strategy.canary.trafficRouting.alb: Required value: only alb traffic routing is supported")
		return nil
	}
	t, ok := c.observeTraffic()
	if !ok {
		return nil
	}
	if hold, err := c.finishInterruptedPromotion(ctx, t); hold || err != nil {
		return err
	}
	n := len(cs.Steps)
	i := int(ptr.Deref(c.status.CurrentStepIndex, 0))
	if c.mode == modeProgress && c.status.PromoteFull {
		i = n
		c.status.CurrentStepIndex = ptr.To(int32(n))
	}
	i = min(max(i, 0), n)
	at := i
	goal, err := c.canaryGoal(t, at)
	if err != nil {
		c.specError("%v", err)
		return nil
	}
	// Without verification a written weight is taken as applied.
	writtenVerified := !c.verifying() || c.verified(c.canarySpec(t, t.canaryW, t.stableW, t.routes))
	if t.written {
		c.status.Canary.Weights = c.weightsStatus(t.canaryName, t.canarySel, t.canaryW, t.stableName, t.stableSel, writtenVerified)
	}
	if err := c.scaleCanaryALB(ctx, t, goal, at, writtenVerified); err != nil {
		return err
	}
	if c.held() && c.mode == modeProgress {
		// spec.paused, or paused on an inconclusive analysis run: no step
		// completes, no Service moves, no weight changes.
		if !c.ro.Spec.Paused {
			c.wait(0, "paused on an inconclusive analysis run: promote to go on, or abort")
		}
		c.wait(0, "manually paused")
		return nil
	}
	done, err := c.driveTraffic(ctx, t, goal)
	c.trafficSettled = done
	if t.written {
		c.lookupALBStatus(ctx, c.canarySpec(t, t.canaryW, t.stableW, t.routes))
	}
	if err != nil || !done {
		return err
	}
	if c.status.Canary.Weights != nil && c.status.Canary.Weights.Verified != nil {
		c.status.Canary.Weights.Verified = ptr.To(true)
	}
	var served [][]corev1.Pod
	if t.canaryW > 0 || len(t.routes) > 0 {
		served = append(served, c.obs.podsSelectedBy(t.canarySvc))
	}
	if t.stableW > 0 {
		served = append(served, c.obs.podsSelectedBy(t.stableSvc))
	}
	if restarted, err := c.restartPods(ctx, c.restartGate(t), served...); err != nil || !restarted {
		return err
	}
	if c.mode != modeProgress {
		return nil
	}
	if i < n {
		done, err := c.completeStep(ctx, &cs.Steps[i], i, goal)
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
	// Promotion: all traffic on the new pods through the stable service, verified.
	c.promote("Completed all %d canary steps", n)
	return nil
}

// canaryGoal is where traffic should be at step i. A rollout scaled to zero
// sends the canary nothing: the steps pass at weight 0 and the Services move
// freely (see scaledToZero), as Argo Rollouts steps through them.
func (c *rolloutContext) canaryGoal(t *trafficState, i int) (trafficGoal, error) {
	g, err := c.stepGoal(t, i)
	if err == nil && c.scaledToZero() {
		g.weight, g.routes = 0, map[string]string{}
	}
	return g, err
}

// finishInterruptedPromotion records as stable the version a promotion left
// serving when a new template (or an abort) arrived between its last two
// steps: the stable Service was moved to its pods (with all traffic on the
// canary group, verified) and all traffic went back to the stable group, but
// status.stableRS was not written yet. That version passed every step and
// serves all traffic; the rollout goes on from it (a new update starts from
// it, an abort returns to it). Left as it was, the stable Service could
// never go back to the old stable pods (its group would first have to hand
// all traffic to the canary group, which a new update at its first step
// cannot take), and an abort would settle with that version serving.
//
// It is recorded only once the state is verified: all weight on the stable
// group, its pods registered and healthy there. hold asks the pass to stop
// here while that check runs; a check that timed out lets the rollout go on
// without it.
func (c *rolloutContext) finishInterruptedPromotion(ctx context.Context, t *trafficState) (hold bool, err error) {
	x := t.stableSel
	if !t.written || x == "" || x == c.status.StableRS || x == c.newHash || t.canaryW != 0 || c.status.StableRS == "" ||
		c.ro.Spec.Strategy.Canary.PingPong != nil {
		return false, nil
	}
	rs := replicaset.FindByHash(c.obs.rss, x)
	if rs == nil || replicaset.Replicas(rs) == 0 {
		return false, nil
	}
	if c.verifying() && !c.scaledToZero() {
		spec := c.canarySpec(t, t.canaryW, t.stableW, t.routes)
		if v := c.status.Verification; v != nil && v.Fingerprint == spec.fingerprint() && v.Phase == v1alpha1.VerificationTimedOut {
			return false, nil
		}
		out, err := c.runVerification(ctx, v1alpha1.VerificationPromotion, spec)
		if out != outcomeVerified || err != nil {
			return true, err
		}
	}
	c.normal(v1alpha1.ReasonRolloutCompleted, "Rollout completed the interrupted promotion of revision %d (%s): the stable service selects it and it serves all traffic, verified", replicaset.Revision(rs), x)
	c.status.StableRS, c.stableRS = x, rs
	c.progressed = true
	return false, nil
}

// scaledToZero reports whether the rollout asks for no pod (spec.replicas
// is 0): nothing is to be served, so there is no pod to wait for or to
// check before traffic or a Service moves, and the pods still up (kept by a
// Service that selected them) are on their way out. Waiting for them, or
// for pods of a ReplicaSet of size 0, would hold the rollout forever.
func (c *rolloutContext) scaledToZero() bool {
	return c.replicas() == 0
}

// stepGoal is where traffic should be at step i, pods permitting.
func (c *rolloutContext) stepGoal(t *trafficState, i int) (trafficGoal, error) {
	cs := c.ro.Spec.Strategy.Canary
	stable := c.status.StableRS
	switch c.mode {
	case modeSteady, modeAbort:
		kind := v1alpha1.VerificationCanaryWeight
		if c.mode == modeAbort {
			kind = v1alpha1.VerificationAbort
		}
		return trafficGoal{canaryHash: stable, stableHash: stable, weight: 0, routes: map[string]string{}, kind: kind}, nil
	}
	if i >= len(cs.Steps) {
		if t.stableSel == c.newHash {
			return trafficGoal{canaryHash: c.newHash, stableHash: c.newHash, weight: 0, routes: map[string]string{}, kind: v1alpha1.VerificationPromotion}, nil
		}
		return trafficGoal{canaryHash: c.newHash, stableHash: c.newHash, weight: c.maxWeight(), routes: map[string]string{}, kind: v1alpha1.VerificationCanaryWeight}, nil
	}
	routes, err := c.routesAt(i)
	if err != nil {
		return trafficGoal{}, err
	}
	return trafficGoal{canaryHash: c.newHash, stableHash: stable, weight: stepWeight(cs.Steps, i), routes: routes, kind: v1alpha1.VerificationCanaryWeight}, nil
}

// completeStep reports whether step i is done, traffic being at its goal.
func (c *rolloutContext) completeStep(ctx context.Context, st *v1alpha1.CanaryStep, i int, goal trafficGoal) (bool, error) {
	if st.Analysis == nil && c.hasPauseCondition(v1alpha1.PauseReasonInconclusiveAnalysisRun) {
		// The background analysis is inconclusive: no step completes
		// until a user promotes (or aborts).
		c.wait(0, "the background analysis is inconclusive: promote to go on, or abort")
		return false, nil
	}
	switch {
	case st.SetWeight != nil, st.SetCanaryScale != nil:
		want := replicaset.Replicas(c.newRS)
		if !replicaset.Settled(c.newRS) || replicaset.Available(c.newRS) < want {
			c.wait(0, "waiting for ReplicaSet %s: %d/%d pods available", c.newRS.Name, replicaset.Available(c.newRS), want)
			return false, nil
		}
		return true, nil
	case st.Pause != nil:
		return c.pauseStep(st.Pause), nil
	case st.SetHeaderRoute != nil:
		return true, nil
	case st.Analysis != nil:
		return c.stepAnalysis(ctx, st, i)
	default:
		// experiment, plugin: a gate that cannot be evaluated fails
		// closed.
		return c.stepGate(st, i), nil
	}
}

// pauseStep runs a pause step: it adds a CanaryPauseStep pause condition and
// completes once its duration has passed, or once the user cleared the pause
// conditions (promote), as Argo Rollouts does.
func (c *rolloutContext) pauseStep(p *v1alpha1.RolloutPause) bool {
	var pc *v1alpha1.PauseCondition
	for k := range c.status.PauseConditions {
		if c.status.PauseConditions[k].Reason == v1alpha1.PauseReasonCanaryPauseStep {
			pc = &c.status.PauseConditions[k]
		}
	}
	if pc == nil {
		if c.status.ControllerPause {
			// Promoted: the pause conditions were cleared.
			c.status.ControllerPause = false
			c.normal(v1alpha1.ReasonRolloutResumed, "Rollout is resumed")
			return true
		}
		c.status.PauseConditions = append(c.status.PauseConditions, v1alpha1.PauseCondition{Reason: v1alpha1.PauseReasonCanaryPauseStep, StartTime: metav1.NewTime(c.now)})
		c.status.ControllerPause = true
		c.normal(v1alpha1.ReasonRolloutPaused, "Rollout is paused (%s)", v1alpha1.PauseReasonCanaryPauseStep)
		c.progressed = true
		if p.Duration != nil {
			if d, err := validation.PauseDuration(p.Duration); err == nil {
				c.after(d)
			}
		}
		return false
	}
	if p.Duration == nil {
		c.wait(0, "paused until promoted")
		return false
	}
	d, err := validation.PauseDuration(p.Duration)
	if err != nil {
		return false
	}
	end := pc.StartTime.Add(d)
	if c.now.Before(end) {
		c.after(end.Sub(c.now))
		c.wait(0, "paused for %s (until %s)", d, end.UTC().Format(time.RFC3339))
		return false
	}
	c.status.PauseConditions, c.status.ControllerPause = nil, false
	return true
}

// held reports whether the update stands still: spec.paused, or a pause on
// an inconclusive analysis run, which stops scaling, traffic moves and the
// promotion as Argo's InconclusiveAnalysisRun pause does. (A background run
// inconclusive once the steps were done held nothing: the weight moved on
// to the new version and the promotion completed, clearing the pause.)
func (c *rolloutContext) held() bool {
	return c.ro.Spec.Paused || c.hasPauseCondition(v1alpha1.PauseReasonInconclusiveAnalysisRun)
}

// promote makes the new ReplicaSet stable.
func (c *rolloutContext) promote(format string, args ...any) {
	reason := fmt.Sprintf(format, args...)
	if c.status.PromoteFull {
		reason = "Full promotion requested"
	}
	c.status.StableRS = c.newHash
	c.stableRS = c.newRS
	c.status.PauseConditions, c.status.ControllerPause = nil, false
	c.status.PromoteFull, c.status.Abort, c.status.AbortedAt = false, false, nil
	if c.ro.Spec.Strategy.Canary != nil {
		if n := int32(len(c.ro.Spec.Strategy.Canary.Steps)); n > 0 {
			c.status.CurrentStepIndex = &n
		} else {
			c.status.CurrentStepIndex = nil
		}
	}
	c.mode = modeSteady
	c.progressed = true
	c.normal(v1alpha1.ReasonRolloutCompleted, "Rollout completed update to revision %d (%s): %s", replicaset.Revision(c.newRS), c.newHash, reason)
	c.after(10 * time.Millisecond)
}

// scaleCanaryALB sizes the ReplicaSets of a traffic-routed canary. The new
// ReplicaSet grows with the weight it will get (or as setCanaryScale says);
// the stable one keeps spec.replicas (with dynamicStableScale it shrinks only
// once a lower stable weight is verified); others scale to zero after their
// delay, once no Service of the rollout selects them.
func (c *rolloutContext) scaleCanaryALB(ctx context.Context, t *trafficState, goal trafficGoal, i int, writtenVerified bool) error {
	cs := c.ro.Spec.Strategy.Canary
	replicas, maxW := c.replicas(), c.maxWeight()
	canaryHasTraffic := t.written && t.canaryW > 0 && t.canarySel == c.newHash
	switch c.mode {
	case modeSteady:
		if err := c.scale(ctx, c.newRS, c.restartSurge(c.newRS, replicas)); err != nil {
			return err
		}
	case modeProgress:
		var want int32
		switch {
		case i >= len(cs.Steps) || t.stableSel == c.newHash:
			want = replicas
		default:
			w := goal.weight
			if canaryHasTraffic {
				w = max(w, t.canaryW)
			}
			want = ceilShare(w, replicas, maxW)
			if o := scaleOverride(cs.Steps, i); o != nil {
				if o.Replicas != nil {
					want = *o.Replicas
				} else if o.Weight != nil {
					want = ceilShare(*o.Weight, replicas, 100)
				}
				if canaryHasTraffic || goal.weight > 0 {
					want = max(want, 1)
				}
			}
			if c.obs.plainBackends[t.canaryName] && replicas > 0 {
				// An Ingress path names the canary Service directly: it
				// moves to the new version only onto pods healthy in the
				// path's group, so the new version runs at least one.
				want = max(want, 1)
			}
			if c.strayedStable(t) && t.written && t.canaryW == 0 && len(t.routes) == 0 && writtenVerified && !c.obs.plainBackends[t.canaryName] {
				// The stable Service was pointed at other pods by hand
				// while its group has traffic: it goes back widened, and a
				// widened selector selects the canary's pods too, which the
				// write guard does not let join a weighted group. The
				// canary, with no traffic, waits without pods until the
				// stable Service is back on the stable pods.
				want = 0
			}
			if !writtenVerified {
				// The load balancer may still send the canary the weight
				// it had before the one written: it shrinks only once the
				// lower weight is verified (the mirror of the stable side).
				want = max(want, replicaset.Replicas(c.newRS))
			}
		}
		if c.held() {
			// spec.paused stops scaling, as in Argo Rollouts; the canary
			// only keeps the pods the weight written gives it.
			want = replicaset.Replicas(c.newRS)
			if canaryHasTraffic {
				want = max(want, ceilShare(t.canaryW, replicas, maxW))
			}
		}
		if err := c.scale(ctx, c.newRS, c.restartSurge(c.newRS, want)); err != nil {
			return err
		}
	case modeAbort:
		// The canary keeps its pods until traffic has left it, verified, and
		// no Service selects it any more. With dynamicStableScale it
		// shrinks with its verified weight as the stable side takes the
		// traffic back, as in Argo Rollouts.
		if cs.DynamicStableScale && canaryHasTraffic && writtenVerified {
			if want := ceilShare(t.canaryW, replicas, maxW); want < replicaset.Replicas(c.newRS) {
				if err := c.scale(ctx, c.newRS, want); err != nil {
					return err
				}
			}
		}
		// A Service widened by hand selects the canary's pods too, whatever
		// its hash label says: the canary goes only once neither selects it.
		if !selects(t.canarySvc, c.newRS) && !selects(t.stableSvc, c.newRS) && !canaryHasTraffic {
			delay := time.Duration(ptr.Deref(cs.AbortScaleDownDelaySeconds, 30)) * time.Second
			if cs.AbortScaleDownDelaySeconds != nil && *cs.AbortScaleDownDelaySeconds == 0 {
				delay = -1
			}
			if err := c.scaleDownAfter(ctx, c.newRS, delay); err != nil {
				return err
			}
		}
	}
	if c.stableRS != nil && c.stableRS != c.newRS {
		want := replicas
		if cs.DynamicStableScale && c.mode == modeProgress && t.stableSel == c.status.StableRS {
			s := maxW - goal.weight
			if t.written {
				s = max(s, t.stableW)
			}
			want = ceilShare(s, replicas, maxW)
			if !writtenVerified || c.held() {
				// Scale down only after the lower weight is verified.
				want = max(want, replicaset.Replicas(c.stableRS))
			}
		}
		if t.stableSel != c.status.StableRS && c.mode == modeProgress {
			// After the stable Service moved to the new pods at promotion, the
			// old stable keeps its size until the promotion is verified.
			want = replicaset.Replicas(c.stableRS)
		}
		if err := c.scale(ctx, c.stableRS, c.restartSurge(c.stableRS, want)); err != nil {
			return err
		}
	}
	delay := time.Duration(ptr.Deref(cs.ScaleDownDelaySeconds, 30)) * time.Second
	if cs.DynamicStableScale {
		delay = 0
	}
	selected := func(rs *appsv1.ReplicaSet) bool { return selects(t.canarySvc, rs) || selects(t.stableSvc, rs) }
	if err := c.scaleDownOld(ctx, delay, cs.ScaleDownDelayRevisionLimit, selected); err != nil {
		return err
	}
	return c.cleanupHistory(ctx)
}

// strayedStable reports whether the stable Service selects, by a hand edit,
// pods of another version than the stable or the new one while its group has
// weight: driveTraffic widens it back to the stable pods.
func (c *rolloutContext) strayedStable(t *trafficState) bool {
	return c.mode == modeProgress && t.stableSel != "" && t.stableSel != c.status.StableRS && t.stableSel != c.newHash &&
		t.stableW != 0 && replicaset.FindByHash(c.obs.rss, c.status.StableRS) != nil
}

// describeStep names a step for events.
func describeStep(st *v1alpha1.CanaryStep) string {
	switch {
	case st.SetWeight != nil:
		return fmt.Sprintf("setWeight: %d", *st.SetWeight)
	case st.Pause != nil && st.Pause.Duration != nil:
		return "pause: " + st.Pause.Duration.String()
	case st.Pause != nil:
		return "pause"
	case st.SetCanaryScale != nil:
		return "setCanaryScale"
	case st.SetHeaderRoute != nil:
		return "setHeaderRoute: " + st.SetHeaderRoute.Name
	case st.Experiment != nil:
		return "experiment"
	case st.Analysis != nil:
		return "analysis"
	case st.SetMirrorRoute != nil:
		return "setMirrorRoute"
	case st.Plugin != nil:
		return "plugin"
	}
	return "empty"
}
