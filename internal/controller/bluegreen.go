package controller

import (
	"context"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
	"github.com/albrollouts/albrollouts/internal/analysis"
	"github.com/albrollouts/albrollouts/internal/replicaset"
)

// Blue-green, as Argo Rollouts runs it: the active Service selects the active
// (stable) ReplicaSet; a new template gets a new ReplicaSet of
// previewReplicaCount pods (or full size) that the preview Service selects;
// the rollout pauses before the switch unless auto-promotion is on (and then
// waits autoPromotionSeconds); the switch points the active Service at the new
// pods; the old ReplicaSet scales down scaleDownDelaySeconds later. An abort
// points everything back at the stable ReplicaSet and scales the new one down
// after abortScaleDownDelaySeconds.
//
// What albrollouts adds is that every traffic move is verified through the
// ELBv2 API before the next one (see bluegreen_traffic.go for the two ways the
// switch is made):
//
//   - Service-selector mode (Argo's manifests: an Ingress path whose backend is
//     the active Service): before the switch the new pods are healthy in the
//     preview target group (when an ALB routes to the preview Service); the
//     switch widens the active selector so that the old pods stay registered
//     while the new ones join and pass the ALB health check, and narrows it to
//     the new pods only once they are healthy in the active group. It is
//     widened only while the rollout has no pod of a third version (a
//     retired or aborted one waiting for its scale-down delay), which
//     would join the active group and serve.
//   - ALB mode (blueGreen.alb names an Ingress): the switch is a weight flip
//     between the active and preview target groups, atomic for clients.
//
// In both, the switch counts as done (stableRS := the new hash, "Completed
// blue-green update", the old ReplicaSet's scale-down delay starts) only once
// every new pod is registered and healthy in the active target group and all
// traffic goes there, verified.

// bgGoal is where a blue-green rollout's traffic should be: the hash the
// active Service selects (all traffic on its group) and the hash the preview
// Service selects.
type bgGoal struct {
	active, preview string
	kind            v1alpha1.VerificationKind
}

// reconcileBlueGreen runs one pass of a blue-green rollout.
func (c *rolloutContext) reconcileBlueGreen(ctx context.Context) error {
	if err := c.syncReplicaSets(ctx); err != nil || c.newRS == nil {
		return err
	}
	if err := c.syncEphemeralMetadata(ctx); err != nil {
		return err
	}
	// After syncReplicaSets: a ReplicaSet reused from another collision
	// count gives newHash its own hash, not the one the current count gives
	// (compared before, every pass looked like a new update, clearing an
	// abort and the pause each time).
	if c.status.CurrentPodHash != c.newHash && c.ro.Status.CurrentPodHash != "" {
		// A new template (or a rollback): a new update starts.
		c.status.PauseConditions, c.status.ControllerPause = nil, false
		c.status.Abort, c.status.AbortedAt, c.status.PromoteFull = false, nil, false
		c.status.BlueGreen.ScaleUpPreviewCheckPoint = false
		c.resetGates()
		if c.fastRollback() {
			// Recorded as a full promotion, which it amounts to (no
			// pause, no analysis, full size), so that the next passes
			// go on with it once the deadline is gone.
			c.status.PromoteFull = true
			c.progressed = true
		}
	}
	c.status.CurrentPodHash = c.newHash
	c.promoteFullOverAbort()
	c.mode = c.canaryMode() // the same rule: steady, abort or progress
	switch c.mode {
	case modeSteady:
		c.status.Abort, c.status.AbortedAt, c.status.PromoteFull = false, nil, false
		c.status.PauseConditions, c.status.ControllerPause = nil, false
		c.status.BlueGreen.ScaleUpPreviewCheckPoint = false
		c.resetGates()
	case modeAbort:
		if c.status.AbortedAt == nil {
			c.abort("", "")
		}
		c.status.BlueGreen.ScaleUpPreviewCheckPoint = false
	case modeProgress:
		if c.status.AbortedAt != nil {
			// Retried (status.abort cleared): the update starts again,
			// pause included.
			c.status.AbortedAt = nil
			c.status.PauseConditions, c.status.ControllerPause = nil, false
			c.status.BlueGreen.ScaleUpPreviewCheckPoint = false
			c.resetGates()
			c.normal(v1alpha1.ReasonRolloutRetry, "Retrying update to revision %d", replicaset.Revision(c.newRS))
		}
	}
	if err := c.abortOnFailedRuns(ctx); err != nil {
		return err
	}
	t, ok := c.observeBlueGreen(ctx)
	defer c.recordSelectors(t)
	if !ok {
		return nil
	}
	promoted, desiredNew := false, c.replicas()
	if c.mode == modeProgress {
		var err error
		if promoted, desiredNew, err = c.blueGreenPromotion(ctx, t); err != nil {
			return err
		}
		if c.staleWidening(t) {
			// The active Service, widened for a switch the new template
			// replaced, selects every pod of the rollout: it goes back to
			// stable before the new ReplicaSet gets pods.
			promoted, desiredNew = false, min(desiredNew, replicaset.Replicas(c.newRS))
			c.wait(0, "narrowing active service %s back to the stable pods %s before ReplicaSet %s gets pods", t.activeSvc.Name, c.status.StableRS, c.newRS.Name)
		}
		if c.ro.Spec.Paused {
			// spec.paused stops scaling, as in Argo Rollouts: the new
			// ReplicaSet keeps its size (deciding it anew each pass flapped
			// between previewReplicaCount and full size).
			desiredNew = replicaset.Replicas(c.newRS)
		}
	}
	if err := c.scaleBlueGreen(ctx, t, desiredNew); err != nil {
		return err
	}
	if c.ro.Spec.Paused && c.mode == modeProgress {
		// spec.paused: no Service moves and no weight changes.
		c.wait(0, "manually paused")
		return nil
	}
	goal := bgGoal{active: c.status.StableRS, preview: c.status.StableRS, kind: v1alpha1.VerificationBlueGreenSwitch}
	switch c.mode {
	case modeProgress:
		goal.preview = c.newHash
		if promoted {
			goal.active = c.newHash
		}
	case modeAbort:
		goal.kind = v1alpha1.VerificationAbort
		if c.previewStaysOnAbort(t) {
			goal.preview = c.newHash
		}
	}
	var done bool
	var err error
	switch {
	case c.scaledToZero():
		done, err = c.switchScaledToZero(ctx, t, goal)
	case t.alb:
		done, err = c.driveBlueGreenALB(ctx, t, goal)
	default:
		done, err = c.driveBlueGreenSelector(ctx, t, goal)
	}
	c.trafficSettled = done
	if err != nil || !done {
		return err
	}
	if c.mode == modeProgress && goal.active == c.newHash {
		// The new pods serve all traffic from the active target group,
		// verified: the switch is done. The old ReplicaSet stays stable
		// (and scaled up, for an abort) until the post-promotion analysis
		// gate is passed.
		if pass, err := c.promotionAnalysis(ctx, analysis.KindPostPromotion); !pass || err != nil {
			return err
		}
		// The old ReplicaSet's scale-down delay starts on the next pass,
		// now that it is no longer stable.
		c.promote("Completed blue-green update")
		c.status.BlueGreen.ScaleUpPreviewCheckPoint = false
		return nil
	}
	if restarted, err := c.restartPods(ctx, c.blueGreenRestartGate(t), c.blueGreenServed(t)...); err != nil || !restarted {
		return err
	}
	return nil
}

// fastRollback reports whether a new update is Argo Rollouts' blue-green
// fast rollback: back to an older ReplicaSet than the stable one, still
// within its scale-down delay (its pods still up). It skips the pause and the
// pre-promotion analysis; the switch itself is made and verified as any
// other.
func (c *rolloutContext) fastRollback() bool {
	if c.stableRS == nil || c.newRS == nil || c.newRS == c.stableRS || replicaset.Replicas(c.newRS) == 0 ||
		!createdBefore(c.newRS, c.stableRS) {
		return false
	}
	deadline, ok := replicaset.ScaleDownDeadline(c.newRS)
	return ok && c.now.Before(deadline)
}

// createdBefore reports whether ReplicaSet a was created before b. Creation
// times have a resolution of a second; within the same second the revisions
// decide (a's before this update renumbered it: the last of its revision
// history).
func createdBefore(a, b *appsv1.ReplicaSet) bool {
	if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
		return a.CreationTimestamp.Before(&b.CreationTimestamp)
	}
	prev := replicaset.Revision(a)
	if h := a.Annotations[replicaset.RevisionHistoryAnnotation]; h != "" {
		if v, err := strconv.ParseInt(h[strings.LastIndex(h, ",")+1:], 10, 64); err == nil {
			prev = v
		}
	}
	return prev > 0 && prev < replicaset.Revision(b)
}

// previewStaysOnAbort reports whether an aborted update leaves the preview
// Service on the new ReplicaSet, as Argo Rollouts does (only the active
// Service goes back to stable): in selector mode, where the preview gets no
// production traffic unless an action the rollout does not write forwards
// to it. In ALB mode the preview's target group is one of the action's two,
// and the abort ends with the preview back on stable too, verified: a
// difference by design (docs/argo-conformance.md).
func (c *rolloutContext) previewStaysOnAbort(t *bgTraffic) bool {
	return t != nil && !t.alb && t.previewSvc != nil && !c.forwardedTo(t.previewSvc.Name)
}

// blueGreenServed lists, for restartPods, the pods of each Service that
// gets traffic: the active Service always (production traffic reaches it
// through the ALB or any other way), the preview Service when an ALB sends
// it traffic. A restart evicts none of them while it is the last ready pod
// of its Service (restartSurge gives a Service of one pod a second one).
func (c *rolloutContext) blueGreenServed(t *bgTraffic) [][]corev1.Pod {
	if t == nil {
		return nil
	}
	var served [][]corev1.Pod
	if t.activeSvc != nil {
		served = append(served, c.obs.podsSelectedBy(t.activeSvc))
	}
	if t.previewSvc != nil && (t.previewW > 0 || len(t.previewIngs) > 0) {
		served = append(served, c.obs.podsSelectedBy(t.previewSvc))
	}
	return served
}

// recordSelectors copies the hashes the Services select into
// status.blueGreen, as Argo Rollouts does (after this pass's changes).
func (c *rolloutContext) recordSelectors(t *bgTraffic) {
	if t == nil {
		return
	}
	c.status.BlueGreen.ActiveSelector, c.status.BlueGreen.PreviewSelector = "", ""
	if t.activeSvc != nil {
		c.status.BlueGreen.ActiveSelector = t.activeSvc.Spec.Selector[replicaset.HashLabel]
	}
	if t.previewSvc != nil {
		c.status.BlueGreen.PreviewSelector = t.previewSvc.Spec.Selector[replicaset.HashLabel]
	}
}

// blueGreenPromotion decides, during an update, whether the switch to the new
// ReplicaSet may go ahead, and how many pods the new ReplicaSet should have
// now. It runs Argo Rollouts' pause: with autoPromotionEnabled false the
// rollout pauses (BlueGreenPause) once the new ReplicaSet is available, until
// promoted; with autoPromotionSeconds it pauses that long. With
// previewReplicaCount the preview runs that many pods until the pause is over
// (scaleUpPreviewCheckPoint), then grows to full size before the switch.
func (c *rolloutContext) blueGreenPromotion(ctx context.Context, t *bgTraffic) (bool, int32, error) {
	bg := c.ro.Spec.Strategy.BlueGreen
	replicas := c.replicas()
	if c.status.PromoteFull || c.switchStarted(t) {
		ahead, err := c.switchUnderWay(ctx)
		return ahead, replicas, err
	}
	desired := replicas
	checkpoint := c.status.BlueGreen.ScaleUpPreviewCheckPoint
	resumed := checkpoint && !c.ro.Spec.Paused && len(c.status.PauseConditions) == 0
	if bg.PreviewReplicaCount != nil && !resumed {
		desired = *bg.PreviewReplicaCount
	}
	if !replicaset.Settled(c.newRS) || replicaset.Replicas(c.newRS) != desired || replicaset.Available(c.newRS) < desired {
		c.wait(0, "waiting for the new ReplicaSet %s: %d/%d pods available", c.newRS.Name, replicaset.Available(c.newRS), desired)
		return false, desired, nil
	}
	if pass, err := c.promotionAnalysis(ctx, analysis.KindPrePromotion); !pass || err != nil {
		return false, desired, err
	}
	if !c.blueGreenPauseDone() {
		return false, desired, nil
	}
	if desired != replicas {
		// The pause is over: the preview grows to full size before the switch.
		c.status.BlueGreen.ScaleUpPreviewCheckPoint = true
		c.progressed = true
		c.wait(0, "scaling the new ReplicaSet %s to %d pods before the switch", c.newRS.Name, replicas)
		return false, replicas, nil
	}
	return true, replicas, nil
}

// switchUnderWay: promote --full, or a switch already under way (a
// restart, a retry mid-switch): no pause, full size. A switch under way goes
// on only past the pre-promotion gate: a restart finds its run Successful,
// but a retry's gate starts again (Argo creates new runs on a retry), and
// went on without any run of the retried update; until its run passes, the
// switch goes back to stable.
func (c *rolloutContext) switchUnderWay(ctx context.Context) (bool, error) {
	c.removeBlueGreenPause()
	if c.status.PromoteFull {
		return true, nil
	}
	return c.promotionAnalysis(ctx, analysis.KindPrePromotion)
}

// blueGreenPauseDone runs the BlueGreenPause and reports whether it is over:
// no pause wanted, autoPromotionSeconds passed, or the user promoted (the
// pause conditions cleared while status.controllerPause stays true, until the
// switch completes).
func (c *rolloutContext) blueGreenPauseDone() bool {
	bg := c.ro.Spec.Strategy.BlueGreen
	auto := bg.AutoPromotionEnabled == nil || *bg.AutoPromotionEnabled
	if c.status.BlueGreen.ScaleUpPreviewCheckPoint || (auto && bg.AutoPromotionSeconds == 0) {
		c.removeBlueGreenPause()
		return true
	}
	var pc *v1alpha1.PauseCondition
	for i := range c.status.PauseConditions {
		if c.status.PauseConditions[i].Reason == v1alpha1.PauseReasonBlueGreenPause {
			pc = &c.status.PauseConditions[i]
		}
	}
	if pc == nil {
		if c.status.ControllerPause {
			return true
		}
		c.status.PauseConditions = append(c.status.PauseConditions, v1alpha1.PauseCondition{Reason: v1alpha1.PauseReasonBlueGreenPause, StartTime: metav1.NewTime(c.now)})
		c.status.ControllerPause = true
		c.normal(v1alpha1.ReasonRolloutPaused, "Rollout is paused (%s)", v1alpha1.PauseReasonBlueGreenPause)
		c.progressed = true
		if auto {
			c.after(time.Duration(bg.AutoPromotionSeconds) * time.Second)
		}
		return false
	}
	if !auto {
		c.wait(0, "paused until promoted")
		return false
	}
	end := pc.StartTime.Add(time.Duration(bg.AutoPromotionSeconds) * time.Second)
	if c.now.Before(end) {
		c.after(end.Sub(c.now))
		c.wait(0, "promoting automatically at %s (autoPromotionSeconds %d)", end.UTC().Format(time.RFC3339), bg.AutoPromotionSeconds)
		return false
	}
	c.removeBlueGreenPause()
	c.normal(v1alpha1.ReasonRolloutResumed, "Rollout is resumed")
	return true
}

// removeBlueGreenPause drops the BlueGreenPause condition (controllerPause
// stays as it is: it records that the pause happened).
func (c *rolloutContext) removeBlueGreenPause() {
	var out []v1alpha1.PauseCondition
	for _, pc := range c.status.PauseConditions {
		if pc.Reason != v1alpha1.PauseReasonBlueGreenPause {
			out = append(out, pc)
		}
	}
	if len(out) != len(c.status.PauseConditions) {
		c.progressed = true
	}
	c.status.PauseConditions = out
}

// scaleBlueGreen sizes the ReplicaSets: the stable one keeps spec.replicas,
// the new one desiredNew; after an abort the new one scales down (after
// abortScaleDownDelaySeconds) once no Service of the rollout selects it any
// more; any other one scales down after scaleDownDelaySeconds once no Service
// selects it.
func (c *rolloutContext) scaleBlueGreen(ctx context.Context, t *bgTraffic, desiredNew int32) error {
	bg := c.ro.Spec.Strategy.BlueGreen
	replicas := c.replicas()
	switch c.mode {
	case modeSteady:
		if err := c.scale(ctx, c.newRS, c.restartSurge(c.newRS, replicas)); err != nil {
			return err
		}
	case modeProgress:
		if err := c.scale(ctx, c.newRS, desiredNew); err != nil {
			return err
		}
	case modeAbort:
		held := t.references(c.newRS)
		if c.previewStaysOnAbort(t) {
			// The preview Service stays on the new pods (it gets no
			// production traffic): they scale down all the same.
			held = selects(t.activeSvc, c.newRS)
		}
		if !held {
			delay := time.Duration(ptr.Deref(bg.AbortScaleDownDelaySeconds, 30)) * time.Second
			if bg.AbortScaleDownDelaySeconds != nil && *bg.AbortScaleDownDelaySeconds == 0 {
				delay = -1 // 0 keeps the preview running, as in Argo Rollouts
			}
			if err := c.scaleDownAfter(ctx, c.newRS, delay); err != nil {
				return err
			}
		}
	}
	if c.stableRS != nil && c.stableRS != c.newRS {
		if err := c.scale(ctx, c.stableRS, c.restartSurge(c.stableRS, replicas)); err != nil {
			return err
		}
	}
	delay := time.Duration(ptr.Deref(bg.ScaleDownDelaySeconds, 30)) * time.Second
	if err := c.scaleDownOld(ctx, delay, bg.ScaleDownDelayRevisionLimit, t.references); err != nil {
		return err
	}
	return c.cleanupHistory(ctx)
}

// switchStarted reports whether the switch to the new ReplicaSet is under
// way: the active Service selects the new pods, or is widened (as Argo
// Rollouts fast-tracks an active Service without a hash label), or, in ALB
// mode, traffic goes to the preview group on the new pods.
func (c *rolloutContext) switchStarted(t *bgTraffic) bool {
	if t.activeSvc == nil {
		return false
	}
	if t.activeSel == c.newHash && t.activePinned {
		return true
	}
	if !t.activePinned {
		// Widened (or never pinned): a switch to the new pods only when it
		// selects no other version than stable and new, and was not
		// widened on its way to other pods (an abort's way back to
		// stable, which a retry interrupts).
		if toward, ok := t.activeSvc.Annotations[WideningAnnotation]; ok && toward != c.newHash {
			return false
		}
		return !c.staleWidening(t)
	}
	return t.alb && t.written && t.previewW > 0 && t.previewPinned && t.previewSel == c.newHash
}

// switchScaledToZero takes a blue-green rollout scaled to zero (no pod
// anywhere) to its goal: with nothing to serve, no target group can lose a
// healthy target, so the Services move straight to their hashes, one per
// pass, and no weight moves (there is nothing to verify). Scaled up again,
// the rollout resumes from what is then observed.
func (c *rolloutContext) switchScaledToZero(ctx context.Context, t *bgTraffic, goal bgGoal) (bool, error) {
	for _, m := range []struct {
		svc       *corev1.Service
		sel, hash string
		role      string
	}{{t.previewSvc, t.previewSel, goal.preview, "preview"}, {t.activeSvc, t.activeSel, goal.active, "active"}} {
		if m.svc == nil || (m.sel == m.hash && m.svc.Spec.Selector[replicaset.HashLabel] == m.hash) {
			continue
		}
		if replicaset.FindByHash(c.obs.rss, m.hash) == nil {
			c.wait(time.Second, "waiting for ReplicaSet %s-%s before pointing service %s at it", c.ro.Name, m.hash, m.svc.Name)
			return false, nil
		}
		return false, c.switchService(ctx, m.svc, m.hash, m.role)
	}
	return true, nil
}
