package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// RolloutPhase is the overall state of a rollout.
type RolloutPhase string

// Rollout phases (the same values as Argo Rollouts).
const (
	RolloutPhaseHealthy     RolloutPhase = "Healthy"
	RolloutPhaseDegraded    RolloutPhase = "Degraded"
	RolloutPhaseProgressing RolloutPhase = "Progressing"
	RolloutPhasePaused      RolloutPhase = "Paused"
)

// StrategyName is the strategy a rollout uses, shown in status.strategy.
type StrategyName string

// Strategy names.
const (
	StrategyCanary    StrategyName = "Canary"
	StrategyBlueGreen StrategyName = "BlueGreen"
)

// Condition types set in status.conditions. The first six have Argo Rollouts'
// meaning; the last two are albrollouts'.
const (
	ConditionInvalidSpec     = "InvalidSpec"
	ConditionAvailable       = "Available"
	ConditionProgressing     = "Progressing"
	ConditionPaused          = "Paused"
	ConditionCompleted       = "Completed"
	ConditionHealthy         = "Healthy"
	ConditionUnsupported     = "UnsupportedFields" // True while the spec uses fields albrollouts ignores
	ConditionTrafficVerified = "TrafficVerified"   // status of the last ALB traffic-shift verification
	// ConditionServicePortPending is True while the canary's action forwards
	// to another Service port than trafficRouting.alb.servicePort.
	ConditionServicePortPending = "ServicePortPending"
)

// RolloutStatus is the observed state of a Rollout.
type RolloutStatus struct {
	// Phase is Healthy, Progressing, Paused or Degraded. Only meaningful when
	// observedGeneration equals metadata.generation.
	// +optional
	Phase RolloutPhase `json:"phase,omitempty"`
	// Message explains the phase.
	// +optional
	Message string `json:"message,omitempty"`
	// Strategy is Canary or BlueGreen (for kubectl get).
	// +optional
	Strategy StrategyName `json:"strategy,omitempty"`
	// ObservedGeneration is the metadata.generation the controller last acted on.
	// A string, as in Argo Rollouts, so Argo tooling can read it.
	// +optional
	ObservedGeneration string `json:"observedGeneration,omitempty"`
	// WorkloadObservedGeneration is the metadata.generation of the Deployment
	// spec.workloadRef names that the controller last acted on (a string, as
	// in Argo Rollouts); empty without workloadRef.
	// +optional
	WorkloadObservedGeneration string `json:"workloadObservedGeneration,omitempty"`
	// CurrentPodHash is the pod-template hash of the desired (newest) ReplicaSet.
	// +optional
	CurrentPodHash string `json:"currentPodHash,omitempty"`
	// CurrentStepHash is the hash of the canary steps, to notice when they change.
	// +optional
	CurrentStepHash string `json:"currentStepHash,omitempty"`
	// StableRS is the pod-template hash of the ReplicaSet that last completed a rollout.
	// +optional
	StableRS string `json:"stableRS,omitempty"`
	// CurrentStepIndex is the index of the canary step being executed.
	// +optional
	CurrentStepIndex *int32 `json:"currentStepIndex,omitempty"`
	// Replicas is the number of non-terminated pods of this rollout.
	// +optional
	Replicas int32 `json:"replicas,omitempty"`
	// UpdatedReplicas is the number of non-terminated pods of the newest template.
	// +optional
	UpdatedReplicas int32 `json:"updatedReplicas,omitempty"`
	// ReadyReplicas is the number of ready pods.
	// +optional
	ReadyReplicas int32 `json:"readyReplicas,omitempty"`
	// AvailableReplicas is the number of pods ready for at least minReadySeconds.
	// +optional
	AvailableReplicas int32 `json:"availableReplicas,omitempty"`
	// HPAReplicas is the number of pods receiving active traffic (scale subresource).
	// +optional
	HPAReplicas int32 `json:"HPAReplicas,omitempty"`
	// Selector is the label selector of the pods receiving active traffic, as a
	// string (scale subresource).
	// +optional
	Selector string `json:"selector,omitempty"`
	// CollisionCount avoids ReplicaSet name collisions between pod-template hashes.
	// +optional
	CollisionCount *int32 `json:"collisionCount,omitempty"`
	// PauseConditions are the reasons the controller paused the rollout.
	// +optional
	PauseConditions []PauseCondition `json:"pauseConditions,omitempty"`
	// ControllerPause is true while the controller has paused the rollout.
	// +optional
	ControllerPause bool `json:"controllerPause,omitempty"`
	// Abort cancels the update and returns all traffic to the stable version.
	// +optional
	Abort bool `json:"abort,omitempty"`
	// AbortedAt is when the controller handled the abort.
	// +optional
	AbortedAt *metav1.Time `json:"abortedAt,omitempty"`
	// PromoteFull skips the remaining steps and pauses and promotes the new version.
	// +optional
	PromoteFull bool `json:"promoteFull,omitempty"`
	// RestartedAt is when the pods were last restarted.
	// +optional
	RestartedAt *metav1.Time `json:"restartedAt,omitempty"`
	// Canary is the state of a canary update.
	// +optional
	Canary CanaryStatus `json:"canary,omitempty"`
	// BlueGreen is the state of a blue-green update.
	// +optional
	BlueGreen BlueGreenStatus `json:"blueGreen,omitempty"`
	// ALB names the load balancer and target groups of the (single) ingress.
	// +optional
	ALB *ALBStatus `json:"alb,omitempty"`
	// ALBs names the load balancers and target groups, one per ingress, when
	// trafficRouting.alb.ingresses is used.
	// +optional
	ALBs []ALBStatus `json:"albs,omitempty"`
	// Verification describes the verification of the last ALB traffic shift.
	// +optional
	Verification *VerificationStatus `json:"verification,omitempty"`
	// TrafficBound is the most traffic the load balancer may be sending to
	// each Service: that of the last verified action, and of every action
	// written since (the load balancer controller may apply any of them
	// until the last one is verified). The controller's safety guard reads
	// it; it is kept only while the rollout verifies. albrollouts extension.
	// +optional
	TrafficBound *TrafficBound `json:"trafficBound,omitempty"`
	// Conditions are the rollout's conditions (see the Condition* constants),
	// in Argo Rollouts' shape.
	// +optional
	Conditions []RolloutCondition `json:"conditions,omitempty"`
}

// RolloutCondition is one condition of a rollout, in Argo Rollouts' shape:
// lastUpdateTime changes whenever the condition is set again with news (a
// new message), lastTransitionTime only when its status changes.
type RolloutCondition struct {
	// Type of the condition (Progressing, Available, TrafficVerified, ...).
	Type string `json:"type"`
	// Status is True, False or Unknown.
	Status corev1.ConditionStatus `json:"status"`
	// LastUpdateTime is when the condition was last set.
	LastUpdateTime metav1.Time `json:"lastUpdateTime"`
	// LastTransitionTime is when the status last changed.
	LastTransitionTime metav1.Time `json:"lastTransitionTime"`
	// Reason is a CamelCase reason for the last transition.
	Reason string `json:"reason"`
	// Message explains the condition for people.
	Message string `json:"message"`
}

// PauseReason says why the controller paused a rollout.
type PauseReason string

// Pause reasons.
const (
	PauseReasonCanaryPauseStep PauseReason = "CanaryPauseStep"
	PauseReasonBlueGreenPause  PauseReason = "BlueGreenPause"
	// PauseReasonInconclusiveAnalysisRun: an analysis gate gave no verdict.
	// albrollouts runs no analysis yet, so every analysis gate pauses with
	// it until a user promotes.
	PauseReasonInconclusiveAnalysisRun PauseReason = "InconclusiveAnalysisRun"
	// PauseReasonInconclusiveExperiment: the same for an experiment step.
	PauseReasonInconclusiveExperiment PauseReason = "InconclusiveExperiment"
)

// PauseCondition is a reason for a pause and when it started.
type PauseCondition struct {
	Reason    PauseReason `json:"reason"`
	StartTime metav1.Time `json:"startTime"`
}

// CanaryStatus is the state of a canary update.
type CanaryStatus struct {
	// Weights are the traffic weights last written to the load balancer.
	// +optional
	Weights *TrafficWeights `json:"weights,omitempty"`
	// StablePingPong is which ping-pong service (ping or pong) is currently stable.
	// +kubebuilder:validation:Enum=ping;pong
	// +optional
	StablePingPong string `json:"stablePingPong,omitempty"`
	// CurrentStepAnalysisRunStatus is the run of the current analysis step.
	// +optional
	CurrentStepAnalysisRunStatus *RolloutAnalysisRunStatus `json:"currentStepAnalysisRunStatus,omitempty"`
	// CurrentBackgroundAnalysisRunStatus is the background analysis
	// (spec.strategy.canary.analysis) of the update.
	// +optional
	CurrentBackgroundAnalysisRunStatus *RolloutAnalysisRunStatus `json:"currentBackgroundAnalysisRunStatus,omitempty"`
	// CurrentExperiment is the experiment of the current step (Argo field;
	// experiments are not implemented, so albrollouts never writes it).
	// +optional
	CurrentExperiment string `json:"currentExperiment,omitempty"`
	// StepPluginStatuses are the states of step plugins (Argo field; step
	// plugins are not implemented, so albrollouts never writes it).
	// +optional
	StepPluginStatuses []StepPluginStatus `json:"stepPluginStatuses,omitempty"`
}

// StepPluginStatus is the state of one operation of a step plugin, as Argo
// Rollouts writes it; kept so that a status Argo wrote is not pruned.
type StepPluginStatus struct {
	// Index is the step's index.
	Index int32 `json:"index"`
	// Name is the plugin's name.
	Name string `json:"name"`
	// Operation is the plugin operation (run, terminate, abort).
	Operation string `json:"operation"`
	// Phase is the operation's phase.
	// +optional
	Phase string `json:"phase,omitempty"`
	// Message says why the operation is in its phase.
	// +optional
	Message string `json:"message,omitempty"`
	// StartedAt is when the operation was first called.
	// +optional
	StartedAt *metav1.Time `json:"startedAt,omitempty"`
	// UpdatedAt is when the operation was last called.
	// +optional
	UpdatedAt *metav1.Time `json:"updatedAt,omitempty"`
	// FinishedAt is when the operation completed.
	// +optional
	FinishedAt *metav1.Time `json:"finishedAt,omitempty"`
	// Backoff is how long to wait before calling the operation again.
	// +optional
	Backoff string `json:"backoff,omitempty"`
	// Executions counts the calls of the operation.
	// +optional
	Executions int32 `json:"executions,omitempty"`
	// Disabled: the plugin is disabled.
	// +optional
	Disabled bool `json:"disabled,omitempty"`
	// Status is the plugin's own state.
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Type=object
	// +optional
	Status *runtime.RawExtension `json:"status,omitempty"`
}

// RolloutAnalysisRunStatus is the state of an analysis gate of the rollout
// (Argo Rollouts' shape): the AnalysisRun that gates it and its phase.
type RolloutAnalysisRunStatus struct {
	// Name is the AnalysisRun's name (empty: none was run).
	Name string `json:"name"`
	// Status is the AnalysisRun's phase (Pending, Running, Successful,
	// Failed, Error or Inconclusive).
	Status string `json:"status"`
	// Message says why.
	// +optional
	Message string `json:"message,omitempty"`
}

// TrafficWeights is how traffic is split.
type TrafficWeights struct {
	// Canary is the weight sent to the canary ReplicaSet.
	Canary WeightDestination `json:"canary"`
	// Stable is the weight sent to the stable ReplicaSet.
	Stable WeightDestination `json:"stable"`
	// Additional are weights sent to other destinations.
	// +optional
	Additional []WeightDestination `json:"additional,omitempty"`
	// Verified is true once the ALB is verified to apply these weights (and the
	// targets receiving traffic are healthy); false while not (yet) verified;
	// unset when verification is off.
	// +optional
	Verified *bool `json:"verified,omitempty"`
}

// WeightDestination is the share of traffic one destination receives.
type WeightDestination struct {
	// Weight is the share out of maxTrafficWeight (default 100, a percentage).
	// +kubebuilder:validation:Minimum=0
	Weight int32 `json:"weight"`
	// ServiceName is the Service traffic is sent to.
	// +optional
	ServiceName string `json:"serviceName,omitempty"`
	// PodTemplateHash is the ReplicaSet hash of the destination's pods.
	// +optional
	PodTemplateHash string `json:"podTemplateHash,omitempty"`
}

// BlueGreenStatus is the state of a blue-green update.
type BlueGreenStatus struct {
	// ActiveSelector is the pod-template hash the active service selects.
	// +optional
	ActiveSelector string `json:"activeSelector,omitempty"`
	// PreviewSelector is the pod-template hash the preview service selects.
	// +optional
	PreviewSelector string `json:"previewSelector,omitempty"`
	// ScaleUpPreviewCheckPoint is true when the preview ReplicaSet may be scaled
	// to full size after the rollout is resumed.
	// +optional
	ScaleUpPreviewCheckPoint bool `json:"scaleUpPreviewCheckPoint,omitempty"`
	// PrePromotionAnalysisRunStatus is the analysis that gates the switch.
	// +optional
	PrePromotionAnalysisRunStatus *RolloutAnalysisRunStatus `json:"prePromotionAnalysisRunStatus,omitempty"`
	// PostPromotionAnalysisRunStatus is the analysis that gates making the
	// switched-to ReplicaSet stable.
	// +optional
	PostPromotionAnalysisRunStatus *RolloutAnalysisRunStatus `json:"postPromotionAnalysisRunStatus,omitempty"`
}

// ALBStatus names the AWS resources behind one Ingress.
type ALBStatus struct {
	// Ingress is the name of the Ingress.
	// +optional
	Ingress string `json:"ingress,omitempty"`
	// LoadBalancer is the ALB.
	// +optional
	LoadBalancer AwsResourceRef `json:"loadBalancer,omitempty"`
	// CanaryTargetGroup is the target group of the canary service.
	// +optional
	CanaryTargetGroup AwsResourceRef `json:"canaryTargetGroup,omitempty"`
	// StableTargetGroup is the target group of the stable service.
	// +optional
	StableTargetGroup AwsResourceRef `json:"stableTargetGroup,omitempty"`
	// ActiveTargetGroup is the target group of the blue-green active service
	// (albrollouts extension).
	// +optional
	ActiveTargetGroup *AwsResourceRef `json:"activeTargetGroup,omitempty"`
	// PreviewTargetGroup is the target group of the blue-green preview service, if
	// the preview service is behind an ALB (albrollouts extension).
	// +optional
	PreviewTargetGroup *AwsResourceRef `json:"previewTargetGroup,omitempty"`
}

// AwsResourceRef identifies an AWS resource.
type AwsResourceRef struct {
	// Name of the resource.
	Name string `json:"name"`
	// ARN of the resource.
	ARN string `json:"arn"`
	// FullName is the resource's CloudWatch dimension value without its
	// app/ or targetgroup/ prefix, as Argo Rollouts writes it:
	// my-alb/50dc6c495c0c9188 or my-tg/73e2d6bc24d8a067.
	// +optional
	FullName string `json:"fullName,omitempty"`
}

// VerificationPhase is the outcome of a traffic-shift verification.
type VerificationPhase string

// Verification phases.
const (
	// VerificationPending: the ALB does not (yet) show the desired state; checking again.
	VerificationPending VerificationPhase = "Pending"
	// VerificationVerified: weights match on every listener and every target that
	// receives traffic is healthy.
	VerificationVerified VerificationPhase = "Verified"
	// VerificationFailed: verification cannot succeed without a change (e.g. access
	// denied, target group or load balancer not found).
	VerificationFailed VerificationPhase = "Failed"
	// VerificationTimedOut: the desired state was not observed within timeoutSeconds.
	VerificationTimedOut VerificationPhase = "TimedOut"
)

// VerificationKind says which traffic shift is verified.
type VerificationKind string

// Verification kinds.
const (
	// VerificationCanaryWeight: a canary weight change (a setWeight step, or the
	// final shift to 100% before promotion).
	VerificationCanaryWeight VerificationKind = "CanaryWeight"
	// VerificationBlueGreenSwitch: the active service is about to receive, or has
	// received, the new version.
	VerificationBlueGreenSwitch VerificationKind = "BlueGreenSwitch"
	// VerificationAbort: all traffic back on the stable version after an abort or rollback.
	VerificationAbort VerificationKind = "Abort"
	// VerificationTargetHealth: before a target group's weight is raised, the
	// pods that will serve it are registered and healthy in it (the ALB health
	// checks a group at weight 0 too), with the weights unchanged.
	VerificationTargetHealth VerificationKind = "TargetHealth"
	// VerificationPromotion: the stable service selects the new pods and all
	// traffic is on the stable target group, whose new targets are healthy.
	VerificationPromotion VerificationKind = "Promotion"
	// VerificationHeaderRoute: a setHeaderRoute step's rule forwards matching
	// requests to the canary group (or the route is gone).
	VerificationHeaderRoute VerificationKind = "HeaderRoute"
)

// VerificationStatus describes one verification of an ALB traffic shift through
// the AWS ELBv2 API: what is expected, since when, how often it was checked, what
// the last check saw per target group, and the outcome with its reason.
type VerificationStatus struct {
	// Phase is Pending, Verified, Failed or TimedOut.
	// +kubebuilder:validation:Enum=Pending;Verified;Failed;TimedOut
	Phase VerificationPhase `json:"phase"`
	// Reason is a CamelCase reason for the phase (e.g. WeightMismatch,
	// TargetsUnhealthy, AccessDenied, Throttled), the same as the
	// TrafficVerified condition's.
	// +optional
	Reason string `json:"reason,omitempty"`
	// Message explains the outcome for people: what differs or is unhealthy, and
	// what to check.
	// +optional
	Message string `json:"message,omitempty"`
	// Kind is the traffic shift being verified: CanaryWeight, BlueGreenSwitch or Abort.
	// +optional
	Kind VerificationKind `json:"kind,omitempty"`
	// PodTemplateHash is the hash of the new (canary or preview) ReplicaSet the
	// verified state refers to.
	// +optional
	PodTemplateHash string `json:"podTemplateHash,omitempty"`
	// StepIndex is the canary step whose weight is verified.
	// +optional
	StepIndex *int32 `json:"stepIndex,omitempty"`
	// Fingerprint identifies exactly what is verified: the ingresses, each
	// service with the pod-template hash it selects and its desired weight, the
	// header routes. A decision trusts a Verified phase only while the
	// fingerprint still matches what the controller observes.
	// +optional
	Fingerprint string `json:"fingerprint,omitempty"`
	// DesiredWeights are the weights the ALB should apply.
	// +optional
	DesiredWeights *VerificationWeights `json:"desiredWeights,omitempty"`
	// TimeoutSeconds is the timeout in force for this verification.
	// +optional
	TimeoutSeconds int32 `json:"timeoutSeconds,omitempty"`
	// StartedAt is when this verification began (the traffic shift was written).
	// +optional
	StartedAt *metav1.Time `json:"startedAt,omitempty"`
	// DesiredAt is when the traffic shift was written, to the microsecond
	// (StartedAt is cut to whole seconds by the API server). It is the
	// freshness bound: an ELBv2 read sent before it does not count as
	// evidence for this verification.
	// +optional
	DesiredAt *metav1.MicroTime `json:"desiredAt,omitempty"`
	// LastCheckedAt is when the ELBv2 API was last asked.
	// +optional
	LastCheckedAt *metav1.Time `json:"lastCheckedAt,omitempty"`
	// FinishedAt is when the phase became Verified, Failed or TimedOut.
	// +optional
	FinishedAt *metav1.Time `json:"finishedAt,omitempty"`
	// Attempts is the number of checks made so far.
	// +optional
	Attempts int32 `json:"attempts,omitempty"`
	// TargetGroups is what the last check observed, one entry per target group
	// per listener.
	// +optional
	TargetGroups []TargetGroupObservation `json:"targetGroups,omitempty"`
	// Expected are the weights this verification verified, per Service with
	// the targets it had then; set once it is Verified (a check of target
	// health only verifies no weight, and sets none).
	// +optional
	Expected *DestinationWeights `json:"expected,omitempty"`
	// VerifiedBefore are the weights that the last verification of the same
	// scope that verified expected. A destination whose weight is not above
	// its weight there, with the same targets, keeps or loses traffic: its
	// target group is judged on the last health read of any age (reported,
	// not waited for); one that gains traffic is read healthy after the
	// change.
	// +optional
	VerifiedBefore *DestinationWeights `json:"verifiedBefore,omitempty"`
	// Desired are the weights this verification expects, per Service, set
	// when it starts (for a check of target health only, the weights in
	// place). Until it is Verified they may be on the ALB unverified: a
	// verification that starts after it takes, per Service, the lower of
	// verifiedBefore and these as its baseline (a group they lowered that
	// goes back up gains traffic on the ALB).
	// +optional
	Desired *DestinationWeights `json:"desired,omitempty"`
}

// DestinationWeights are weights per Service, out of Total, as written to
// the Ingresses, action and port Scope names.
type DestinationWeights struct {
	// Total is what the weights are out of (maxTrafficWeight, default 100).
	Total int32 `json:"total"`
	// Scope names the Ingresses, the action and the Service port.
	// +optional
	Scope string `json:"scope,omitempty"`
	// Destinations are the weights per Service.
	// +optional
	Destinations []DestinationWeight `json:"destinations,omitempty"`
}

// DestinationWeight is the weight of one Service with the targets it had.
type DestinationWeight struct {
	// Service is the Service's name.
	Service string `json:"service"`
	// Targets is a digest (count/hash) of the targets the pods the Service
	// selected gave: the same weight on other targets is another shift.
	// +optional
	Targets string `json:"targets,omitempty"`
	// Weight is the weight, out of the Total of the list.
	Weight int32 `json:"weight"`
}

// VerificationWeights are the weights (percent) a verification expects.
type VerificationWeights struct {
	// Canary is the canary (or new, for blue-green) weight.
	Canary int32 `json:"canary"`
	// Stable is the stable (or active, for blue-green) weight.
	Stable int32 `json:"stable"`
	// Additional are weights of other destinations.
	// +optional
	Additional []WeightDestination `json:"additional,omitempty"`
}

// TargetGroupObservation is what one check saw for a target group on a listener.
type TargetGroupObservation struct {
	// Name of the target group.
	// +optional
	Name string `json:"name,omitempty"`
	// ARN of the target group.
	// +optional
	ARN string `json:"arn,omitempty"`
	// Role is the traffic this target group carries: canary, stable, active,
	// preview or additional.
	// +optional
	Role string `json:"role,omitempty"`
	// Service is the Kubernetes Service behind the target group.
	// +optional
	Service string `json:"service,omitempty"`
	// Listener is the ARN of the listener whose rules were read.
	// +optional
	Listener string `json:"listener,omitempty"`
	// Rule is the ARN of the listener rule that forwards to the target group.
	// +optional
	Rule string `json:"rule,omitempty"`
	// DesiredWeight is the weight this target group should have.
	DesiredWeight int32 `json:"desiredWeight"`
	// ActualWeight is the weight the ALB reports; unset when the rule does not
	// forward to this target group at all.
	// +optional
	ActualWeight *int32 `json:"actualWeight,omitempty"`
	// ExpectedTargets is the number of targets (ready pods) that should be
	// registered and healthy.
	// +optional
	ExpectedTargets int32 `json:"expectedTargets,omitempty"`
	// RegisteredTargets is how many of them the target group has registered.
	// +optional
	RegisteredTargets int32 `json:"registeredTargets,omitempty"`
	// HealthyTargets is how many of them are healthy.
	// +optional
	HealthyTargets int32 `json:"healthyTargets,omitempty"`
	// Unhealthy lists targets that are expected but not healthy (at most a few;
	// the message summarises the rest).
	// +optional
	Unhealthy []TargetObservation `json:"unhealthy,omitempty"`
}

// TargetObservation is the health of one target as the ELBv2 API reports it.
type TargetObservation struct {
	// Target is ip:port (or instance-id:port).
	Target string `json:"target"`
	// State is the ELBv2 target health state: initial, healthy, unhealthy,
	// unused, draining, unavailable, or notRegistered when it is missing.
	// +optional
	State string `json:"state,omitempty"`
	// Reason is the ELBv2 reason code, e.g. Target.ResponseCodeMismatch.
	// +optional
	Reason string `json:"reason,omitempty"`
	// Description is the ELBv2 description of the reason.
	// +optional
	Description string `json:"description,omitempty"`
}

// TrafficBound is the most traffic the load balancer may be sending to the
// Services of a rollout's action, written but not yet verified included.
type TrafficBound struct {
	// Weights are, per Service, the highest weight of the last verified
	// action and of every action written since.
	// +optional
	Weights map[string]int32 `json:"weights,omitempty"`
	// RouteServices are the Services a header route forwards to, in the last
	// verified state or in a route written since.
	// +optional
	RouteServices []string `json:"routeServices,omitempty"`
	// Pending are the weights of the last action written and not yet
	// verified.
	// +optional
	Pending map[string]int32 `json:"pending,omitempty"`
	// PendingRoutes are the header routes (name=conditions) the last write
	// not yet verified left on the Ingresses: adding a route and removing
	// it again before either is verified supersedes a write too.
	// +optional
	PendingRoutes []string `json:"pendingRoutes,omitempty"`
	// RemovedRoutes are the header routes (name to conditions) removed from
	// an Ingress since the last verified state: until a check sees none of
	// their rules left, the load balancer may still forward by them.
	// +optional
	RemovedRoutes map[string]string `json:"removedRoutes,omitempty"`
	// Superseded is true when an action was written over another one that
	// was never verified: the load balancer controller may still apply the
	// older one after the newer one has been seen applied.
	// +optional
	Superseded bool `json:"superseded,omitempty"`
	// SettleAt is, with Superseded, when the bound may drop the older
	// action: once a check whose reads were sent at or after it verifies
	// the newer one.
	// +optional
	SettleAt *metav1.MicroTime `json:"settleAt,omitempty"`
}
