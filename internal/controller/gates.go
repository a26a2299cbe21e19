package controller

import (
	"encoding/json"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
)

// Gates albrollouts cannot evaluate yet (analysis, experiments, step plugins)
// fail closed: the rollout pauses at the gate with a pause condition, a
// Warning event and a status message that say what is not evaluated, and
// goes on only when a user promotes past it (a human decision, as promoting
// past an inconclusive analysis is in Argo Rollouts); an abort rolls back as
// usual. A gate is never skipped on the controller's own.

const (
	analysisInconclusive = "Inconclusive"
	// gatePromotedMessage marks a gate record a user promoted past.
	gatePromotedMessage = "not evaluated (albrollouts runs no analysis); a user promoted past it"
)

// gateMessage says what a gate is and what to do about it.
func gateMessage(what string) string {
	return fmt.Sprintf("%s is not evaluated: albrollouts does not run analysis, experiments or step plugins yet, so the rollout waits here; promote to go on without it, or abort to roll back", what)
}

// stepGate runs a canary step that cannot be evaluated (analysis,
// experiment, plugin) as an indefinite pause: it completes once the user
// cleared its pause condition (promote), like a pause step. Argo's plugin,
// promoting an inconclusive step analysis, moves the step index on itself.
func (c *rolloutContext) stepGate(st *v1alpha1.CanaryStep, i int) bool {
	reason := v1alpha1.PauseReasonInconclusiveAnalysisRun
	if st.Experiment != nil {
		reason = v1alpha1.PauseReasonInconclusiveExperiment
	}
	what := fmt.Sprintf("step %d (%s)", i, describeStep(st))
	if c.hasPauseCondition(reason) {
		c.gateWhy = gateMessage(what)
		c.wait(0, "%s", c.gateWhy)
		return false
	}
	if c.status.ControllerPause {
		// Promoted: the pause condition was cleared.
		c.status.ControllerPause = false
		c.normal(v1alpha1.ReasonRolloutResumed, "Rollout is resumed past %s (promoted without it)", what)
		return true
	}
	c.addGatePause(reason, what)
	return false
}

// recordGate runs a gate whose passage is remembered in *rec (background
// analysis, blue-green pre- and post-promotion analysis): the first time it
// records the gate Inconclusive and pauses; once the user cleared the pause
// condition it is passed for the rest of the update.
func (c *rolloutContext) recordGate(rec **v1alpha1.RolloutAnalysisRunStatus, what string) bool {
	reason := v1alpha1.PauseReasonInconclusiveAnalysisRun
	switch {
	case *rec == nil:
		*rec = &v1alpha1.RolloutAnalysisRunStatus{Status: analysisInconclusive, Message: gateMessage(what)}
		c.addGatePause(reason, what)
		return false
	case c.hasPauseCondition(reason):
		c.gateWhy = gateMessage(what)
		c.wait(0, "%s", c.gateWhy)
		return false
	case (*rec).Message != gatePromotedMessage:
		// The user cleared the pause condition: passed. The promote is
		// consumed here, so that it does not also pass the next pause.
		(*rec).Message = gatePromotedMessage
		c.status.ControllerPause = false
		c.progressed = true
		c.normal(v1alpha1.ReasonRolloutResumed, "Rollout is resumed past %s (promoted without it)", what)
	}
	return true
}

func (c *rolloutContext) addGatePause(reason v1alpha1.PauseReason, what string) {
	c.gateWhy = gateMessage(what)
	c.status.PauseConditions = append(c.status.PauseConditions, v1alpha1.PauseCondition{Reason: reason, StartTime: metav1.NewTime(c.now)})
	c.status.ControllerPause = true
	c.progressed = true
	c.warning(v1alpha1.ReasonGateNotEvaluated, "%s", gateMessage(what))
	c.wait(0, "%s", gateMessage(what))
}

func (c *rolloutContext) hasPauseCondition(reason v1alpha1.PauseReason) bool {
	for _, pc := range c.status.PauseConditions {
		if pc.Reason == reason {
			return true
		}
	}
	return false
}

// backgroundGate gates step i on the canary's background analysis: from its
// startingStep on, until a user promotes past it.
func (c *rolloutContext) backgroundGate(i int) bool {
	a := c.ro.Spec.Strategy.Canary.Analysis
	if a == nil || i < startingStep(a) || c.status.PromoteFull {
		return true
	}
	return c.recordGate(&c.status.Canary.CurrentBackgroundAnalysisRunStatus, "the background analysis (spec.strategy.canary.analysis)")
}

// backgroundGatePending reports whether step i waits for the background
// analysis gate (not yet passed; promote --full skips it).
func (c *rolloutContext) backgroundGatePending(i int) bool {
	a := c.ro.Spec.Strategy.Canary.Analysis
	if a == nil || i < startingStep(a) || c.status.PromoteFull {
		return false
	}
	rec := c.status.Canary.CurrentBackgroundAnalysisRunStatus
	return rec == nil || c.hasPauseCondition(v1alpha1.PauseReasonInconclusiveAnalysisRun)
}

// startingStep reads a background analysis's startingStep (0 when absent or
// unreadable: the gate then applies from the first step, failing closed).
func startingStep(a *runtime.RawExtension) int {
	var v struct {
		StartingStep int `json:"startingStep"`
	}
	if len(a.Raw) == 0 || json.Unmarshal(a.Raw, &v) != nil {
		return 0
	}
	return max(v.StartingStep, 0)
}

// resetGates forgets the gates passed: a new update (or a retry) starts them
// again.
func (c *rolloutContext) resetGates() {
	c.status.Canary.CurrentBackgroundAnalysisRunStatus = nil
	c.status.BlueGreen.PrePromotionAnalysisRunStatus = nil
	c.status.BlueGreen.PostPromotionAnalysisRunStatus = nil
}
