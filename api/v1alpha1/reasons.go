package v1alpha1

// Condition and event reasons: one home for the strings the controller
// writes and the CLI and views read. Argo Rollouts' own reason strings where
// the concept is the same, so tooling that waits for them (kubectl wait,
// notifications, dashboards) works unchanged.
const (
	// Progressing, Available, Completed, Healthy conditions and their events.
	ReasonNewReplicaSetCreated     = "NewReplicaSetCreated"
	ReasonReplicaSetUpdated        = "ReplicaSetUpdated"
	ReasonNewReplicaSetAvailable   = "NewReplicaSetAvailable"
	ReasonRolloutPaused            = "RolloutPaused"
	ReasonRolloutResumed           = "RolloutResumed"
	ReasonRolloutAborted           = "RolloutAborted"
	ReasonProgressDeadlineExceeded = "ProgressDeadlineExceeded"
	ReasonAvailable                = "AvailableReason"
	ReasonRolloutCompleted         = "RolloutCompleted"
	ReasonRolloutNotCompleted      = "RolloutNotCompleted"
	ReasonRolloutHealthy           = "RolloutHealthy"
	ReasonRolloutNotHealthy        = "RolloutNotHealthy"
	ReasonInvalidSpec              = "InvalidSpec"
	ReasonUnsupportedFields        = "UnsupportedFields"
	ReasonServicePortPending       = "ServicePortPending"
	ReasonRolloutAddedToInformer   = "RolloutAddedToInformer"
	ReasonRolloutUpdated           = "RolloutUpdated"
	ReasonRolloutRetry             = "RolloutRetry"
	ReasonRolloutRestarted         = "RolloutRestarted"
	ReasonRolloutStepCompleted     = "RolloutStepCompleted"
	ReasonScalingReplicaSet        = "ScalingReplicaSet"
	ReasonHashCollision            = "HashCollision"
	ReasonRestartingPod            = "RestartingPod"

	// Traffic.
	ReasonTrafficWeightUpdated   = "TrafficWeightUpdated"
	ReasonTrafficWeightCorrected = "TrafficWeightCorrected"
	ReasonSwitchService          = "SwitchService"
	ReasonPingPongSwitched       = "PingPongSwitched"
	ReasonHeaderRouteUpdated     = "HeaderRouteUpdated"
	ReasonNoALBIngress           = "NoALBIngress"

	// Verification (the TrafficVerified condition and its events).
	ReasonVerificationDisabled   = "VerificationDisabled"
	ReasonVerificationTimedOut   = "VerificationTimedOut"
	ReasonSettling               = "Settling"
	ReasonTargetsNotReady        = "TargetsNotReady"
	ReasonTargetGroupVerified    = "TargetGroupVerified"
	ReasonTargetGroupUnverified  = "TargetGroupUnverified"
	ReasonTargetGroupVerifyError = "TargetGroupVerifyError"
	ReasonWeightVerifyError      = "WeightVerifyError"
	ReasonLoadBalancerNotFound   = "LoadBalancerNotFound"

	// Safety.
	ReasonGateNotEvaluated   = "GateNotEvaluated"
	ReasonUnsafeWriteRefused = "UnsafeWriteRefused"

	// Analysis: events on an AnalysisRun (Argo's "AnalysisRun<Phase>" when
	// it completes, "Metric<Phase>" when one of its metrics does). The rollout
	// controller uses the same AnalysisRun<Phase> reasons on the Rollout.
	ReasonAnalysisRunSuccessful   = "AnalysisRunSuccessful"
	ReasonAnalysisRunFailed       = "AnalysisRunFailed"
	ReasonAnalysisRunError        = "AnalysisRunError"
	ReasonAnalysisRunInconclusive = "AnalysisRunInconclusive"
	ReasonMetricSuccessful        = "MetricSuccessful"
	ReasonMetricFailed            = "MetricFailed"
	ReasonMetricError             = "MetricError"
	ReasonMetricInconclusive      = "MetricInconclusive"
	// On the Rollout: a run it created, and one it terminated.
	ReasonAnalysisRunCreated    = "AnalysisRunCreated"
	ReasonAnalysisRunTerminated = "AnalysisRunTerminated"
)

// AnalysisRunReason is the event reason of a run that completed in phase.
func AnalysisRunReason(phase AnalysisPhase) string { return "AnalysisRun" + string(phase) }

// MetricReason is the event reason of a metric that completed in phase.
func MetricReason(phase AnalysisPhase) string { return "Metric" + string(phase) }
