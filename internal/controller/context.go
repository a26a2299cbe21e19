package controller

import (
	"context"
	"fmt"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
	"github.com/albrollouts/albrollouts/internal/replicaset"
	"github.com/albrollouts/albrollouts/internal/verify"
)

// rolloutContext is one pass over one rollout: what was observed, the status
// being built, and when to look again.
type rolloutContext struct {
	mode   mode
	r      *Reconciler
	ro     *v1alpha1.Rollout // as read; never modified
	obs    *observed
	status *v1alpha1.RolloutStatus // the new status, written at the end
	now    time.Time

	newHash  string
	newRS    *appsv1.ReplicaSet
	stableRS *appsv1.ReplicaSet

	// requeue is the earliest moment to look again (0: only on a watch event).
	requeue time.Duration
	// trafficSettled is false while traffic is not yet where it should be,
	// verified (Healthy needs it).
	trafficSettled bool
	// progressed is set when something moved forward (a step, a weight, a
	// verification), to refresh the Progressing condition's lastUpdateTime.
	progressed bool
	// waiting explains, for the status message, what the rollout waits for.
	waiting string
	// gateWhy explains a gate the rollout is paused at (the Paused
	// condition's message).
	gateWhy string
	// analyses are the rollout's analysis fields, decoded once a pass by
	// checkAnalysisTemplates, by field path (nil: the field is unset).
	analyses map[string]*v1alpha1.RolloutAnalysisBackground
	// invalid holds a spec error found while running (a Service or Ingress
	// that does not exist, a port that does not exist...).
	invalid []string
	// checked is the result of the last ELBv2 check made in this pass (nil:
	// none), for what it observed whatever its outcome.
	checked *verify.Result
	// written are events about the new status, emitted once it is written
	// (a write that fails leaves the status as it was; the next pass finds
	// the change again and emits them then).
	written []func()
	// watched are the keys of the background checks this pass used
	// (async_verify.go): the others are forgotten at its end.
	watched map[string]bool
	// asyncKey is the key of the pass's last background check.
	asyncKey string
}

func newRolloutContext(r *Reconciler, ro *v1alpha1.Rollout, obs *observed) *rolloutContext {
	return &rolloutContext{r: r, ro: ro, obs: obs, status: ro.Status.DeepCopy(), now: r.opts.Now(), trafficSettled: true}
}

// after asks for another pass no later than d from now.
func (c *rolloutContext) after(d time.Duration) {
	if d <= 0 {
		d = 10 * time.Millisecond
	}
	if c.requeue == 0 || d < c.requeue {
		c.requeue = d
	}
}

// wait records what the rollout is waiting for, and looks again after d (0:
// on a watch event only).
func (c *rolloutContext) wait(d time.Duration, format string, args ...any) {
	if c.waiting == "" {
		c.waiting = fmt.Sprintf(format, args...)
	}
	if d > 0 {
		c.after(d)
	}
}

func (c *rolloutContext) result() reconcile.Result {
	return reconcile.Result{RequeueAfter: c.requeue}
}

// event records a Kubernetes event on the rollout.
func (c *rolloutContext) event(eventType, reason, format string, args ...any) {
	if c.r.recorder == nil {
		return
	}
	c.r.recorder.Eventf(c.ro, nil, eventType, reason, reason, format, args...)
}

func (c *rolloutContext) normal(reason, format string, args ...any) {
	c.event(corev1.EventTypeNormal, reason, format, args...)
}

func (c *rolloutContext) warning(reason, format string, args ...any) {
	c.event(corev1.EventTypeWarning, reason, format, args...)
}

// normalOnceWritten records a Normal event about the new status once the
// status is written.
func (c *rolloutContext) normalOnceWritten(reason, format string, args ...any) {
	c.written = append(c.written, func() { c.normal(reason, format, args...) })
}

// emitWritten emits the events of a status just written.
func (c *rolloutContext) emitWritten() {
	for _, f := range c.written {
		f()
	}
	c.written = nil
}

func (c *rolloutContext) replicas() int32 { return ptr.Deref(c.ro.Spec.Replicas, 1) }

// verifying reports whether the rollout's traffic shifts are verified.
func (c *rolloutContext) verifying() bool {
	return c.ro.ALBVerification().Enabled(c.r.opts.VerifyByDefault)
}

func (c *rolloutContext) verifyTimeout() time.Duration {
	return c.ro.ALBVerification().Timeout(c.r.opts.VerifyTimeout)
}

// reconcile runs one pass.
func (c *rolloutContext) reconcile(ctx context.Context) error {
	c.firstSeen()
	c.status.Strategy = c.ro.StrategyName()
	c.status.ObservedGeneration = fmt.Sprint(c.ro.Generation)
	if msgs := c.specErrors(); len(msgs) > 0 {
		c.invalid = msgs
		c.finishStatus()
		return nil
	}
	if c.rejectSharedServices() {
		c.finishStatus()
		return nil
	}
	c.newHash = replicaset.PodTemplateHash(&c.ro.Spec.Template, c.ro.Status.CollisionCount)
	if err := c.releaseServices(ctx); err != nil {
		c.finishStatus()
		return err
	}
	if c.checkAnalysisTemplates(ctx); len(c.invalid) > 0 {
		c.finishStatus()
		return nil
	}
	var err error
	switch {
	case c.ro.Spec.Strategy.Canary != nil:
		err = c.reconcileCanary(ctx)
	case c.ro.Spec.Strategy.BlueGreen != nil:
		err = c.reconcileBlueGreen(ctx)
	}
	if err == nil {
		err = c.tidyRuns(ctx, c.liveRuns()...)
	}
	if err == nil && c.status.StableRS != c.ro.Status.StableRS && c.status.StableRS == c.newHash && c.newRS != nil {
		// Promoted in this pass: the new stable pods carry the stable
		// role's metadata before the status says so.
		c.stableRS = c.newRS
		err = c.syncEphemeralMetadata(ctx)
	}
	c.finishStatus()
	return err
}

// specError records a problem of the spec found while running (a missing
// Service, a port the Service lacks); the rollout shows it as InvalidSpec
// and makes no change until it is fixed.
func (c *rolloutContext) specError(format string, args ...any) {
	c.invalid = append(c.invalid, fmt.Sprintf(format, args...))
	c.after(30 * time.Second)
}

// joinMsgs joins messages for a condition.
func joinMsgs(msgs []string) string { return strings.Join(msgs, "; ") }

// firstSeen emits RolloutAddedToInformer, which Argo Rollouts emits when its
// informer adds the rollout, on the pass that first sees a rollout no
// controller has observed yet (status.observedGeneration empty; this pass
// sets it). Argo's informer also adds every rollout again at each controller
// start; deriving "first seen" from the status instead makes the event mean
// what its consumers wait for (the rollout was picked up) without a burst of
// them at every restart. A first status write that fails (a conflict)
// leaves the status unobserved, and the next pass emits it again.
func (c *rolloutContext) firstSeen() {
	if c.ro.Status.ObservedGeneration == "" {
		c.normal(v1alpha1.ReasonRolloutAddedToInformer, "Rollout resource added to informer: %s/%s", c.ro.Namespace, c.ro.Name)
	}
}
