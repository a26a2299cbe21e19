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
)
