package controller

import (
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
)

// Gates albrollouts cannot evaluate (experiments, step plugins; analysis
// runs, see analysis_gates.go) fail closed: the rollout pauses at the gate with a pause condition, a
// Warning event and a status message that say what is not evaluated, and
// goes on only when a user promotes past it (a human decision, as promoting
// past an inconclusive analysis is in Argo Rollouts); an abort rolls back as
// usual. A gate is never skipped on the controller's own.

// gateMessage says what a gate is and what to do about it.
func gateMessage(what string) string {
	return fmt.Sprintf("%s is not evaluated: albrollouts does not run experiments or step plugins, so the rollout waits here; promote to go on without it, or abort to roll back", what)
}

// stepGate runs a canary step that cannot be evaluated (experiment,
// plugin) as an indefinite pause: it completes once the user
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

// resetGates forgets the gates passed: a new update (or a retry) starts them
// again.
func (c *rolloutContext) resetGates() {
	c.status.Canary.CurrentStepAnalysisRunStatus = nil
	c.status.Canary.CurrentBackgroundAnalysisRunStatus = nil
	c.status.BlueGreen.PrePromotionAnalysisRunStatus = nil
	c.status.BlueGreen.PostPromotionAnalysisRunStatus = nil
}
