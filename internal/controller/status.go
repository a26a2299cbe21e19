package controller

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
	"github.com/albrollouts/albrollouts/internal/replicaset"
	"github.com/albrollouts/albrollouts/internal/validation"
)

// condition returns the condition of a type, or nil.
func (c *rolloutContext) condition(t string) *v1alpha1.RolloutCondition {
	for i := range c.status.Conditions {
		if c.status.Conditions[i].Type == t {
			return &c.status.Conditions[i]
		}
	}
	return nil
}

// setCondition sets a condition as Argo Rollouts does: the same status,
// reason and message is a no-op (timestamps freeze); a new reason or message
// refreshes lastUpdateTime; a new status also lastTransitionTime.
func (c *rolloutContext) setCondition(t string, status corev1.ConditionStatus, reason, message string) {
	now := metav1.NewTime(c.now)
	if cur := c.condition(t); cur != nil {
		if cur.Status == status && cur.Reason == reason && cur.Message == message {
			return
		}
		if cur.Status != status {
			cur.LastTransitionTime = now
		}
		cur.Status, cur.Reason, cur.Message, cur.LastUpdateTime = status, reason, message, now
		return
	}
	c.status.Conditions = append(c.status.Conditions, v1alpha1.RolloutCondition{
		Type: t, Status: status, Reason: reason, Message: message, LastUpdateTime: now, LastTransitionTime: now,
	})
}

func (c *rolloutContext) removeCondition(t string) {
	out := c.status.Conditions[:0]
	for _, cd := range c.status.Conditions {
		if cd.Type != t {
			out = append(out, cd)
		}
	}
	c.status.Conditions = out
	if len(out) == 0 {
		c.status.Conditions = nil
	}
}

// finishStatus computes counts, conditions, phase and message.
func (c *rolloutContext) finishStatus() {
	if u := c.ro.UnsupportedFields(); len(u) > 0 {
		c.setCondition(v1alpha1.ConditionUnsupported, corev1.ConditionTrue, v1alpha1.ReasonUnsupportedFields,
			"albrollouts does not implement these Argo Rollouts fields; they are kept and ignored: "+strings.Join(u, ", "))
	} else {
		c.removeCondition(v1alpha1.ConditionUnsupported)
	}
	if len(c.invalid) > 0 {
		msg := joinMsgs(c.invalid)
		if cur := c.condition(v1alpha1.ConditionInvalidSpec); cur == nil || cur.Status != corev1.ConditionTrue || cur.Message != msg {
			// One Warning per new problem, as the condition changes.
			c.warning(v1alpha1.ReasonInvalidSpec, "%s", msg)
		}
		c.setCondition(v1alpha1.ConditionInvalidSpec, corev1.ConditionTrue, v1alpha1.ReasonInvalidSpec, msg)
		c.status.Phase, c.status.Message = v1alpha1.RolloutPhaseDegraded, "InvalidSpec: "+msg
		c.after(30 * time.Second)
		return
	}
	c.removeCondition(v1alpha1.ConditionInvalidSpec)
	if !c.verifying() {
		// status.alb / status.albs stay: they are looked up even without
		// verification (Argo Rollouts leaves them empty then).
		c.status.Verification = nil
		c.status.TrafficBound = nil
		c.removeCondition(v1alpha1.ConditionTrafficVerified)
		if w := c.status.Canary.Weights; w != nil {
			w.Verified = nil
		}
	}
	c.counts()

	progressing := c.condition(v1alpha1.ConditionProgressing)
	paused := c.ro.Spec.Paused || len(c.status.PauseConditions) > 0
	switch {
	case c.status.Abort:
		if progressing == nil || progressing.Reason != v1alpha1.ReasonRolloutAborted {
			c.setCondition(v1alpha1.ConditionProgressing, corev1.ConditionFalse, v1alpha1.ReasonRolloutAborted,
				fmt.Sprintf("Rollout aborted update to revision %d", c.revision()))
		}
	case paused && c.mode == modeProgress:
		c.setCondition(v1alpha1.ConditionProgressing, corev1.ConditionUnknown, v1alpha1.ReasonRolloutPaused, "Rollout is paused")
	case c.mode == modeProgress:
		c.trackProgress()
	case c.newAvailable() || (progressing != nil && progressing.Status == corev1.ConditionTrue &&
		progressing.Reason == v1alpha1.ReasonNewReplicaSetAvailable && progressing.Message == c.progressedMessage()):
		// Promoted and available (a completed rollout that loses a pod
		// later stays so: its update is done).
		c.setCondition(v1alpha1.ConditionProgressing, corev1.ConditionTrue, v1alpha1.ReasonNewReplicaSetAvailable, c.progressedMessage())
	default:
		// Promoted before its pods are available (the first deploy, a
		// full promotion, a fast rollback): it progresses, against the
		// deadline, until they are, as in Argo Rollouts.
		c.trackProgress()
	}
	if paused {
		msg := "Rollout is paused"
		if c.gateWhy != "" {
			msg += ": " + c.gateWhy
		}
		c.setCondition(v1alpha1.ConditionPaused, corev1.ConditionTrue, v1alpha1.ReasonRolloutPaused, msg)
	} else if c.condition(v1alpha1.ConditionPaused) != nil {
		// Resumed: the condition stays, False, as in Argo Rollouts
		// (`kubectl wait --for=condition=Paused=False` waits for it).
		c.setCondition(v1alpha1.ConditionPaused, corev1.ConditionFalse, v1alpha1.ReasonRolloutResumed, "Rollout is resumed")
	}
	if c.status.AvailableReplicas >= c.replicas() {
		c.setCondition(v1alpha1.ConditionAvailable, corev1.ConditionTrue, v1alpha1.ReasonAvailable, "Rollout has minimum availability")
	} else {
		c.setCondition(v1alpha1.ConditionAvailable, corev1.ConditionFalse, v1alpha1.ReasonAvailable, "Rollout does not have minimum availability")
	}
	c.phase()
	if c.status.Phase == v1alpha1.RolloutPhaseHealthy {
		c.setCondition(v1alpha1.ConditionHealthy, corev1.ConditionTrue, v1alpha1.ReasonRolloutHealthy, "Rollout is healthy")
		c.setCondition(v1alpha1.ConditionCompleted, corev1.ConditionTrue, v1alpha1.ReasonRolloutCompleted, v1alpha1.ReasonRolloutCompleted)
	} else {
		c.setCondition(v1alpha1.ConditionHealthy, corev1.ConditionFalse, v1alpha1.ReasonRolloutNotHealthy, "Rollout is not healthy")
		if c.mode != modeSteady {
			// An update has started: Completed turns False, once per update
			// (the status read holds it False on every later pass, restarts
			// included), and Argo's RolloutNotCompleted says so once the
			// status that says it is written.
			if cur := c.condition(v1alpha1.ConditionCompleted); cur == nil || cur.Status != corev1.ConditionFalse {
				c.normalOnceWritten(v1alpha1.ReasonRolloutNotCompleted, "Rollout not completed, started update to revision %d (%s)", c.revision(), c.newHash)
			}
			c.setCondition(v1alpha1.ConditionCompleted, corev1.ConditionFalse, v1alpha1.ReasonRolloutNotCompleted, v1alpha1.ReasonRolloutNotCompleted)
		}
	}
}

func (c *rolloutContext) revision() int64 {
	if c.newRS == nil {
		return 0
	}
	return replicaset.Revision(c.newRS)
}

func (c *rolloutContext) rsName() string {
	if c.newRS == nil {
		return c.ro.Name + "-" + c.newHash
	}
	return c.newRS.Name
}

func (c *rolloutContext) progressedMessage() string {
	return fmt.Sprintf("ReplicaSet %s has successfully progressed", c.rsName())
}

// newAvailable reports whether the current ReplicaSet has all its pods,
// available.
func (c *rolloutContext) newAvailable() bool {
	n := c.replicas()
	if n == 0 {
		return true
	}
	return c.newRS != nil && c.newRS.Status.Replicas == n && c.newRS.Status.AvailableReplicas >= n
}

// trackProgress keeps the Progressing condition of a rollout that has not
// progressed to its new ReplicaSet yet: True with reason ReplicaSetUpdated,
// its lastUpdateTime refreshed on every progress, and False with reason
// ProgressDeadlineExceeded once there was none for progressDeadlineSeconds.
func (c *rolloutContext) trackProgress() {
	cur := c.condition(v1alpha1.ConditionProgressing)
	progressed := c.progressed || c.countsProgressed()
	if cur != nil && cur.Reason == v1alpha1.ReasonProgressDeadlineExceeded && !progressed {
		// Past the deadline already: progressDeadlineAbort set since
		// aborts now, as it would have then.
		c.abortPastDeadline(cur.Message)
		return
	}
	if cur == nil || progressed || cur.Reason != v1alpha1.ReasonReplicaSetUpdated {
		c.setCondition(v1alpha1.ConditionProgressing, corev1.ConditionTrue, v1alpha1.ReasonReplicaSetUpdated,
			fmt.Sprintf("ReplicaSet %s is progressing", c.rsName()))
		c.condition(v1alpha1.ConditionProgressing).LastUpdateTime = metav1.NewTime(c.now)
	}
	c.checkProgressDeadline()
}

// countsProgressed reports the progress Argo Rollouts counts between the
// status read and the new one: pods of the new ReplicaSet created or
// removed, old pods gone, more pods ready or available, a Service switched
// (blue-green), the stable ReplicaSet, the step or the steps changed
// (canary).
func (c *rolloutContext) countsProgressed() bool {
	old, st := &c.ro.Status, c.status
	switch {
	case st.UpdatedReplicas != old.UpdatedReplicas,
		st.Replicas-st.UpdatedReplicas < old.Replicas-old.UpdatedReplicas,
		st.ReadyReplicas > old.ReadyReplicas,
		st.AvailableReplicas > old.AvailableReplicas:
		return true
	case c.ro.Spec.Strategy.BlueGreen != nil:
		return st.BlueGreen.ActiveSelector != old.BlueGreen.ActiveSelector || st.BlueGreen.PreviewSelector != old.BlueGreen.PreviewSelector
	}
	stepMoved := st.CurrentStepIndex != nil && old.CurrentStepIndex != nil && *st.CurrentStepIndex != *old.CurrentStepIndex
	return st.StableRS != old.StableRS || st.CurrentStepHash != old.CurrentStepHash || stepMoved
}

// checkProgressDeadline marks an update that made no progress for
// progressDeadlineSeconds (600 by default; time paused does not count), and
// aborts it with progressDeadlineAbort.
func (c *rolloutContext) checkProgressDeadline() {
	cur := c.condition(v1alpha1.ConditionProgressing)
	if cur == nil {
		return
	}
	limit := time.Duration(ptr.Deref(c.ro.Spec.ProgressDeadlineSeconds, validation.DefaultProgressDeadlineSeconds)) * time.Second
	since := c.now.Sub(cur.LastUpdateTime.Time)
	if since < limit {
		c.after(limit - since)
		return
	}
	msg := fmt.Sprintf("ReplicaSet %s has timed out progressing (no progress for %s)", c.rsName(), limit)
	if c.waiting != "" {
		msg += ": " + c.waiting
	}
	c.setCondition(v1alpha1.ConditionProgressing, corev1.ConditionFalse, v1alpha1.ReasonProgressDeadlineExceeded, msg)
	c.warning(v1alpha1.ReasonProgressDeadlineExceeded, "%s", msg)
	c.abortPastDeadline(msg)
}

// abortPastDeadline aborts, with progressDeadlineAbort, an update past its
// progress deadline; an update already promoted (stable) is done, never
// aborted.
func (c *rolloutContext) abortPastDeadline(msg string) {
	if c.ro.Spec.ProgressDeadlineAbort && !c.status.Abort && c.mode == modeProgress {
		c.abort(v1alpha1.ReasonProgressDeadlineExceeded, msg)
	}
}

// counts fills the replica counts, the HPA fields and the selector.
func (c *rolloutContext) counts() {
	var replicas, ready, available int32
	for _, rs := range c.obs.rss {
		replicas += rs.Status.Replicas
		ready += rs.Status.ReadyReplicas
		available += rs.Status.AvailableReplicas
	}
	c.status.Replicas = replicas
	c.status.UpdatedReplicas = 0
	if c.newRS != nil {
		c.status.UpdatedReplicas = c.newRS.Status.Replicas
	}
	c.status.ReadyReplicas, c.status.AvailableReplicas = ready, available
	c.status.HPAReplicas = replicas
	if bg := c.ro.Spec.Strategy.BlueGreen; bg != nil {
		if active := replicaset.FindByHash(c.obs.rss, c.status.BlueGreen.ActiveSelector); active != nil {
			c.status.ReadyReplicas, c.status.AvailableReplicas = active.Status.ReadyReplicas, active.Status.AvailableReplicas
			c.status.HPAReplicas = active.Status.Replicas
		}
	}
	if c.ro.Spec.Selector != nil {
		c.status.Selector = metav1.FormatLabelSelector(c.ro.Spec.Selector)
	}
}

// phase sets status.phase and status.message.
func (c *rolloutContext) phase() {
	st := c.status
	prog := c.condition(v1alpha1.ConditionProgressing)
	v := st.Verification
	switch {
	case st.Abort:
		msg := fmt.Sprintf("Rollout aborted update to revision %d", c.revision())
		if prog != nil && prog.Reason == v1alpha1.ReasonRolloutAborted {
			msg = prog.Message
		}
		st.Phase, st.Message = v1alpha1.RolloutPhaseDegraded, v1alpha1.ReasonRolloutAborted+": "+msg
	case prog != nil && prog.Reason == v1alpha1.ReasonProgressDeadlineExceeded:
		st.Phase, st.Message = v1alpha1.RolloutPhaseDegraded, v1alpha1.ReasonProgressDeadlineExceeded+": "+prog.Message
	case v != nil && v.Phase == v1alpha1.VerificationTimedOut && c.mode == modeSteady:
		st.Phase, st.Message = v1alpha1.RolloutPhaseDegraded, v1alpha1.ReasonVerificationTimedOut+": "+v.Message
	case c.ro.Spec.Paused:
		st.Phase, st.Message = v1alpha1.RolloutPhasePaused, "manually paused"
	case len(st.PauseConditions) > 0:
		st.Phase, st.Message = v1alpha1.RolloutPhasePaused, string(st.PauseConditions[0].Reason)
	case c.mode == modeProgress:
		st.Phase, st.Message = v1alpha1.RolloutPhaseProgressing, c.progressMessage()
	case c.newRS == nil || c.newRS.Status.AvailableReplicas < c.replicas() || replicaset.Replicas(c.newRS) != c.replicas():
		st.Phase, st.Message = v1alpha1.RolloutPhaseProgressing, "more replicas need to be updated"
		if c.waiting != "" {
			st.Message = c.waiting
		}
	case !c.trafficSettled || (c.waiting != "" && c.requeue > 0):
		st.Phase, st.Message = v1alpha1.RolloutPhaseProgressing, c.waiting
		if st.Message == "" {
			st.Message = "moving traffic to the stable version"
		}
	default:
		st.Phase, st.Message = v1alpha1.RolloutPhaseHealthy, ""
	}
}

func (c *rolloutContext) progressMessage() string {
	var b strings.Builder
	if cs := c.ro.Spec.Strategy.Canary; cs != nil {
		i := int(ptr.Deref(c.status.CurrentStepIndex, 0))
		if i < len(cs.Steps) {
			fmt.Fprintf(&b, "step %d/%d (%s)", i+1, len(cs.Steps), describeStep(&cs.Steps[i]))
		} else {
			b.WriteString("promoting")
		}
	}
	if c.waiting != "" {
		if b.Len() > 0 {
			b.WriteString(": ")
		}
		b.WriteString(c.waiting)
	}
	return b.String()
}

// writeStatus writes the new status (and the rollout's revision annotation)
// if anything changed, guarded by resourceVersion: a concurrent change (a
// promote or abort from the CLI) makes it fail with a conflict, and the next
// pass starts from what the user wrote.
func (c *rolloutContext) writeStatus(ctx context.Context) error {
	orig := c.ro.DeepCopy()
	if c.newRS != nil {
		rev := strconv.FormatInt(replicaset.Revision(c.newRS), 10)
		if orig.Annotations[replicaset.RevisionAnnotation] != rev {
			n := orig.DeepCopy()
			if n.Annotations == nil {
				n.Annotations = map[string]string{}
			}
			n.Annotations[replicaset.RevisionAnnotation] = rev
			if err := c.r.client.Patch(ctx, n, client.MergeFromWithOptions(orig, client.MergeFromWithOptimisticLock{})); err != nil {
				return err
			}
			c.r.own.wrote(n.UID, n.ResourceVersion)
			orig.ResourceVersion = n.ResourceVersion
			// Argo Rollouts emits RolloutUpdated when it sets the revision
			// annotation: the first deploy, a new template, a rollback. The
			// annotation read says whether it is done, so neither a later
			// pass nor a restart repeats it, and a spec change that makes no
			// new revision (spec.paused, the steps) emits none.
			c.normal(v1alpha1.ReasonRolloutUpdated, "Rollout updated to revision %s", rev)
		}
	}
	if equality.Semantic.DeepEqual(orig.Status, *c.status) {
		c.emitWritten()
		return nil
	}
	n := orig.DeepCopy()
	n.Status = *c.status
	if err := c.r.client.Status().Patch(ctx, n, client.MergeFromWithOptions(orig, client.MergeFromWithOptimisticLock{})); err != nil {
		return err
	}
	c.r.own.wrote(n.UID, n.ResourceVersion)
	c.emitWritten()
	// The watch ignores this write (ownWrites): a pass that changed the
	// status and asked for no requeue looks once more, soon, in case what
	// it wrote lets the rollout go on.
	if c.requeue == 0 {
		c.requeue = time.Second
	}
	return nil
}
