package notify

import (
	"slices"
	"testing"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
)

func TestTrigger(t *testing.T) {
	for reason, want := range map[string]string{
		v1alpha1.ReasonRolloutCompleted:         "on-rollout-completed",
		v1alpha1.ReasonRolloutStepCompleted:     "on-rollout-step-completed",
		v1alpha1.ReasonRolloutUpdated:           "on-rollout-updated",
		v1alpha1.ReasonRolloutAborted:           "on-rollout-aborted",
		v1alpha1.ReasonRolloutPaused:            "on-rollout-paused",
		v1alpha1.ReasonScalingReplicaSet:        "on-scaling-replica-set",
		v1alpha1.ReasonAnalysisRunFailed:        "on-analysis-run-failed",
		v1alpha1.ReasonAnalysisRunError:         "on-analysis-run-error",
		"AnalysisRunRunning":                    "on-analysis-run-running",
		v1alpha1.ReasonMetricFailed:             "on-metric-failed",
		v1alpha1.ReasonProgressDeadlineExceeded: "on-progress-deadline-exceeded",
		v1alpha1.ReasonNoALBIngress:             "on-no-alb-ingress",
		v1alpha1.ReasonTargetGroupUnverified:    "on-target-group-unverified",
		v1alpha1.ReasonVerificationTimedOut:     "on-verification-timed-out",
		v1alpha1.ReasonAvailable:                "on-available-reason",
		"ABTest":                                "on-ab-test",
		"Step2Done":                             "on-step2-done",
	} {
		if got := Trigger(reason); got != want {
			t.Errorf("Trigger(%q) = %q, want %q", reason, got, want)
		}
	}
}

func TestTriggersAliases(t *testing.T) {
	for reason, want := range map[string][]string{
		v1alpha1.ReasonTargetGroupUnverified: {"on-target-group-unverified", TriggerVerificationTimedOut},
		v1alpha1.ReasonVerificationTimedOut:  {TriggerVerificationTimedOut},
		v1alpha1.ReasonAnalysisRunCreated:    {"on-analysis-run-created", "on-analysis-run-running"},
		v1alpha1.ReasonRolloutCompleted:      {"on-rollout-completed"},
		"":                                   nil,
	} {
		if got := Triggers(reason); !slices.Equal(got, want) {
			t.Errorf("Triggers(%q) = %q, want %q", reason, got, want)
		}
	}
}

// Every trigger Argo Rollouts ships a template for
// (manifests/notifications/on-*.yaml), and ours, is sent by a reason the
// controllers record.
func TestArgoTriggersAreSent(t *testing.T) {
	recorded := []string{
		v1alpha1.ReasonRolloutCompleted, v1alpha1.ReasonRolloutStepCompleted, v1alpha1.ReasonRolloutUpdated,
		v1alpha1.ReasonRolloutAborted, v1alpha1.ReasonRolloutPaused, v1alpha1.ReasonScalingReplicaSet,
		v1alpha1.ReasonAnalysisRunCreated, v1alpha1.AnalysisRunReason(v1alpha1.AnalysisPhaseError),
		v1alpha1.AnalysisRunReason(v1alpha1.AnalysisPhaseFailed), v1alpha1.ReasonTargetGroupUnverified,
	}
	sent := map[string]bool{}
	for _, r := range recorded {
		for _, tr := range Triggers(r) {
			sent[tr] = true
		}
	}
	for _, tr := range []string{"on-analysis-run-error", "on-analysis-run-failed", "on-analysis-run-running",
		"on-rollout-aborted", "on-rollout-completed", "on-rollout-paused", "on-rollout-step-completed",
		"on-rollout-updated", "on-scaling-replica-set", TriggerVerificationTimedOut} {
		if !sent[tr] {
			t.Errorf("no recorded reason sends %s", tr)
		}
	}
}

func TestFromAnalysisRun(t *testing.T) {
	for reason, want := range map[string]bool{
		v1alpha1.ReasonAnalysisRunFailed:       true,
		v1alpha1.ReasonAnalysisRunSuccessful:   true,
		v1alpha1.ReasonMetricFailed:            true,
		v1alpha1.ReasonAnalysisRunInconclusive: false, // the rollout records it too
		"SuccessfulCreate":                     false,
	} {
		if got := fromAnalysisRun(reason); got != want {
			t.Errorf("fromAnalysisRun(%q) = %t", reason, got)
		}
	}
}
