package notify

import (
	"strings"
	"unicode"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
)

// TriggerVerificationTimedOut is albrollouts' own trigger: a traffic shift
// was not verified before its deadline (during an update the rollout then
// aborts, and on-rollout-aborted follows).
const TriggerVerificationTimedOut = "on-verification-timed-out"

// Trigger is Argo Rollouts' trigger name for an event reason: "on-" and the
// reason's words in lower case, joined by dashes (RolloutCompleted →
// on-rollout-completed, ScalingReplicaSet → on-scaling-replica-set,
// NoALBIngress → on-no-alb-ingress).
func Trigger(reason string) string {
	r := []rune(reason)
	var b strings.Builder
	b.WriteString("on-")
	for i, c := range r {
		if i > 0 && unicode.IsUpper(c) && wordStart(r, i) {
			b.WriteByte('-')
		}
		b.WriteRune(unicode.ToLower(c))
	}
	return b.String()
}

// wordStart reports whether the capital r[i] begins a word: it follows a
// lower-case letter or a digit, or it ends a run of capitals and a
// lower-case letter follows it (the I of ALBIngress).
func wordStart(r []rune, i int) bool {
	prev := r[i-1]
	if unicode.IsLower(prev) || unicode.IsDigit(prev) {
		return true
	}
	return unicode.IsUpper(prev) && i+1 < len(r) && unicode.IsLower(r[i+1])
}

// aliases are the triggers an event sends besides Trigger(reason), where
// albrollouts records a different event for what an Argo trigger (or our
// own) is about.
var aliases = map[string][]string{
	// The controller records TargetGroupUnverified only when a traffic
	// shift's verification times out.
	v1alpha1.ReasonTargetGroupUnverified: {TriggerVerificationTimedOut},
	// Argo records AnalysisRunRunning on the rollout once a run it started
	// runs; albrollouts records AnalysisRunCreated when it starts one.
	v1alpha1.ReasonAnalysisRunCreated: {"on-analysis-run-running"},
}

// Triggers are the triggers an event of reason sends: Argo's
// (Trigger(reason)) and, for a few reasons, the one Argo users know the
// same moment by (on-analysis-run-running) or albrollouts' own
// (on-verification-timed-out).
func Triggers(reason string) []string {
	if reason == "" {
		return nil
	}
	out := []string{Trigger(reason)}
	for _, a := range aliases[reason] {
		if a != out[0] {
			out = append(out, a)
		}
	}
	return out
}

// fromAnalysisRun reports whether an event on an AnalysisRun is sent to the
// subscribers of the Rollout that owns the run. Argo sends AnalysisRun<Phase>
// as an event on the rollout; albrollouts records it on the run (the analysis
// controller), so it is forwarded, except the reasons the rollout controller
// already records on the rollout itself.
func fromAnalysisRun(reason string) bool {
	switch reason {
	case v1alpha1.ReasonAnalysisRunInconclusive:
		return false // also recorded on the rollout, which pauses
	}
	return strings.HasPrefix(reason, "AnalysisRun") || strings.HasPrefix(reason, "Metric")
}
