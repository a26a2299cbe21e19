package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Rollout replaces a Deployment: it manages the ReplicaSets of an application and
// shifts traffic from the stable to the new version step by step (canary) or all
// at once (blue-green), verifying every ALB traffic shift.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:path=rollouts,shortName=ro,categories=all;argoproj
// +kubebuilder:subresource:status
// +kubebuilder:subresource:scale:specpath=.spec.replicas,statuspath=.status.HPAReplicas,selectorpath=.status.selector
// +kubebuilder:printcolumn:name="Strategy",type=string,JSONPath=".status.strategy",description="Canary or BlueGreen"
// +kubebuilder:printcolumn:name="Desired",type=integer,JSONPath=".spec.replicas",description="Number of desired pods",priority=1
// +kubebuilder:printcolumn:name="Available",type=integer,JSONPath=".status.availableReplicas",description="Number of available pods",priority=1
// +kubebuilder:printcolumn:name="Step",type=integer,JSONPath=".status.currentStepIndex",description="Index of the current canary step"
// +kubebuilder:printcolumn:name="Desired-Weight",type=integer,JSONPath=".status.canary.weights.canary.weight",description="Traffic weight (percent) the canary should receive"
// +kubebuilder:printcolumn:name="Verified",type=string,JSONPath=".status.verification.phase",description="Verification of the last traffic shift: Pending, Verified, Failed or TimedOut"
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=".status.phase",description="Healthy, Progressing, Paused or Degraded"
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=".metadata.creationTimestamp"
type Rollout struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   RolloutSpec   `json:"spec"`
	Status RolloutStatus `json:"status,omitempty"`
}

// RolloutList is a list of Rollouts.
//
// +kubebuilder:object:root=true
type RolloutList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Rollout `json:"items"`
}

// RolloutSpec is the desired state of a Rollout.
type RolloutSpec struct {
	// Replicas is the number of desired pods (default 1).
	// +kubebuilder:validation:Minimum=0
	// +optional
	Replicas *int32 `json:"replicas,omitempty"`
	// Selector selects the pods of this rollout; it must match the template's labels.
	// +optional
	Selector *metav1.LabelSelector `json:"selector,omitempty"`
	// Template describes the pods that will be created.
	// +optional
	Template corev1.PodTemplateSpec `json:"template,omitempty"`
	// MinReadySeconds is how long a new pod must be ready, without any container
	// crashing, to count as available (default 0).
	// +kubebuilder:validation:Minimum=0
	// +optional
	MinReadySeconds int32 `json:"minReadySeconds,omitempty"`
	// RevisionHistoryLimit is the number of old ReplicaSets to keep (default 10).
	// +kubebuilder:validation:Minimum=0
	// +optional
	RevisionHistoryLimit *int32 `json:"revisionHistoryLimit,omitempty"`
	// Paused stops the rollout at its current step.
	// +optional
	Paused bool `json:"paused,omitempty"`
	// ProgressDeadlineSeconds is how long an update may go without progress before
	// the rollout is marked Degraded (default 600). Time spent paused does not count.
	// +kubebuilder:validation:Minimum=0
	// +optional
	ProgressDeadlineSeconds *int32 `json:"progressDeadlineSeconds,omitempty"`
	// ProgressDeadlineAbort aborts the update when ProgressDeadlineSeconds is exceeded.
	// +optional
	ProgressDeadlineAbort bool `json:"progressDeadlineAbort,omitempty"`
	// Strategy says how pods of a new version replace the old ones.
	Strategy RolloutStrategy `json:"strategy"`

	// RestartAt asks for every pod created before this time to be restarted; pods
	// are evicted one batch at a time within maxUnavailable (so PodDisruptionBudgets
	// apply), then status.restartedAt is set to this value.
	// +optional
	RestartAt *metav1.Time `json:"restartAt,omitempty"`
	// WorkloadRef takes the pod template (and, when spec.selector is unset,
	// the selector) from a Deployment in the rollout's namespace, read at
	// every reconcile and never written into the Rollout; spec.template
	// must then be empty. An update is made by changing the Deployment's
	// pod template.
	// +optional
	WorkloadRef *ObjectRef `json:"workloadRef,omitempty"`
	// RollbackWindow fast-tracks rollbacks to recent revisions (Argo field; not implemented).
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Type=object
	// +optional
	RollbackWindow *runtime.RawExtension `json:"rollbackWindow,omitempty"`
	// Analysis limits how many completed AnalysisRuns of the rollout are
	// kept; the oldest beyond the limits are deleted.
	// +optional
	Analysis *AnalysisRunStrategy `json:"analysis,omitempty"`

	// TemplateResolvedFromRef is set, in memory only, when Template and
	// Selector were filled from the workload WorkloadRef names (never
	// serialized, as in Argo Rollouts).
	TemplateResolvedFromRef bool `json:"-"`
}

// AnalysisRunStrategy limits the completed AnalysisRuns a rollout keeps
// (Argo Rollouts' spec.analysis). Runs the rollout's status names and runs
// still measuring are never deleted.
type AnalysisRunStrategy struct {
	// SuccessfulRunHistoryLimit is how many Successful runs are kept (default 5).
	// +optional
	SuccessfulRunHistoryLimit *int32 `json:"successfulRunHistoryLimit,omitempty"`
	// UnsuccessfulRunHistoryLimit is how many Failed, Error and Inconclusive
	// runs are kept (default 5).
	// +optional
	UnsuccessfulRunHistoryLimit *int32 `json:"unsuccessfulRunHistoryLimit,omitempty"`
}

// Values of ObjectRef.ScaleDown.
const (
	// ScaleDownNever leaves the referenced Deployment as it is (the default).
	ScaleDownNever = "never"
	// ScaleDownOnSuccess scales the Deployment to 0 once the rollout is healthy.
	ScaleDownOnSuccess = "onsuccess"
	// ScaleDownProgressively scales the Deployment down as the rollout's pods
	// become available, and to 0 once the rollout is healthy.
	ScaleDownProgressively = "progressively"
)

// ObjectRef names the workload a Rollout takes its pod template from
// (spec.workloadRef, Argo Rollouts' shape). albrollouts supports
// apiVersion apps/v1, kind Deployment.
type ObjectRef struct {
	// APIVersion of the workload: apps/v1.
	// +optional
	APIVersion string `json:"apiVersion,omitempty"`
	// Kind of the workload: Deployment.
	// +optional
	Kind string `json:"kind,omitempty"`
	// Name of the workload, in the rollout's namespace.
	// +optional
	Name string `json:"name,omitempty"`
	// ScaleDown says what happens to the Deployment's own pods: never
	// (default) leaves them; onsuccess scales the Deployment to 0 once the
	// rollout is healthy; progressively scales it down as the rollout's
	// pods become available. A Service an ALB routes to that selects the
	// Deployment's pods holds the scale-down until the rollout's pods are
	// healthy in its target groups.
	// +optional
	ScaleDown string `json:"scaleDown,omitempty"`
}

// RolloutStrategy holds exactly one of canary or blueGreen.
//
// +kubebuilder:validation:XValidation:rule="has(self.canary) != has(self.blueGreen)",message="exactly one of strategy.canary or strategy.blueGreen must be set"
type RolloutStrategy struct {
	// BlueGreen runs the new version next to the old one and switches all traffic at once.
	// +optional
	BlueGreen *BlueGreenStrategy `json:"blueGreen,omitempty"`
	// Canary shifts traffic to the new version step by step.
	// +optional
	Canary *CanaryStrategy `json:"canary,omitempty"`
}

// ALBVerification holds albrollouts' per-rollout settings for verifying ALB
// traffic shifts through the AWS ELBv2 API. These two fields do not exist in
// Argo Rollouts.
type ALBVerification struct {
	// VerifyTargetGroup turns verification of every ALB traffic shift on or off for
	// this rollout: target-group weights on every listener match the desired ones,
	// and every target that will receive traffic is registered and healthy.
	// Unset means the controller's --aws-verify-target-group flag decides.
	// +optional
	VerifyTargetGroup *bool `json:"verifyTargetGroup,omitempty"`
	// TimeoutSeconds is how long one verification may take before it is reported as
	// TimedOut. Unset means the controller's --verify-timeout (default 30s).
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=3600
	// +optional
	TimeoutSeconds *int32 `json:"timeoutSeconds,omitempty"`
}

// BlueGreenStrategy runs the new version behind a preview service and then
// switches the active service to it.
type BlueGreenStrategy struct {
	// ActiveService is the Service that sends production traffic; the rollout points
	// its selector at the active ReplicaSet.
	ActiveService string `json:"activeService"`
	// PreviewService is an optional Service the rollout points at the new ReplicaSet
	// before promotion.
	// +optional
	PreviewService string `json:"previewService,omitempty"`
	// PreviewReplicaCount is the number of new-version pods to run before promotion;
	// the new ReplicaSet is scaled to full size when the rollout is promoted.
	// +kubebuilder:validation:Minimum=0
	// +optional
	PreviewReplicaCount *int32 `json:"previewReplicaCount,omitempty"`
	// AutoPromotionEnabled promotes the new version automatically once it is
	// available (default true); false pauses the rollout before the switch.
	// +optional
	AutoPromotionEnabled *bool `json:"autoPromotionEnabled,omitempty"`
	// AutoPromotionSeconds delays automatic promotion by this many seconds after the
	// new ReplicaSet is fully available.
	// +kubebuilder:validation:Minimum=0
	// +optional
	AutoPromotionSeconds int32 `json:"autoPromotionSeconds,omitempty"`
	// MaxUnavailable is the number or percentage of pods that may be unavailable
	// during the update (default 25%).
	// +kubebuilder:validation:XIntOrString
	// +optional
	MaxUnavailable *intstr.IntOrString `json:"maxUnavailable,omitempty"`
	// ScaleDownDelaySeconds is how long the previous ReplicaSet keeps running after
	// the switch (default 30).
	// +kubebuilder:validation:Minimum=0
	// +optional
	ScaleDownDelaySeconds *int32 `json:"scaleDownDelaySeconds,omitempty"`
	// AbortScaleDownDelaySeconds is how long the preview ReplicaSet keeps running
	// after an abort (default 30; 0 keeps it).
	// +kubebuilder:validation:Minimum=0
	// +optional
	AbortScaleDownDelaySeconds *int32 `json:"abortScaleDownDelaySeconds,omitempty"`
	// ALB configures verification of the switch on the ALB in front of the
	// active service, and optionally a switch made in the ALB itself
	// (albrollouts extension).
	// +optional
	ALB *BlueGreenALB `json:"alb,omitempty"`

	// ScaleDownDelayRevisionLimit limits how many old ReplicaSets, the
	// newest, wait out their scale-down delay; older ones scale down at once.
	// +kubebuilder:validation:Minimum=0
	// +optional
	ScaleDownDelayRevisionLimit *int32 `json:"scaleDownDelayRevisionLimit,omitempty"`
	// PrePromotionAnalysis gates the switch on an AnalysisRun (Argo's RolloutAnalysis, kept raw).
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Type=object
	// +optional
	PrePromotionAnalysis *runtime.RawExtension `json:"prePromotionAnalysis,omitempty"`
	// PostPromotionAnalysis runs after the switch; a failure switches back (Argo's RolloutAnalysis, kept raw).
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Type=object
	// +optional
	PostPromotionAnalysis *runtime.RawExtension `json:"postPromotionAnalysis,omitempty"`
	// AntiAffinity (Argo field; not implemented).
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Type=object
	// +optional
	AntiAffinity *runtime.RawExtension `json:"antiAffinity,omitempty"`
	// PreviewMetadata are labels and annotations the new version's pods carry
	// while they are the preview (ephemeral metadata).
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Type=object
	// +optional
	PreviewMetadata *runtime.RawExtension `json:"previewMetadata,omitempty"`
	// ActiveMetadata are labels and annotations the active pods carry
	// (ephemeral metadata).
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Type=object
	// +optional
	ActiveMetadata *runtime.RawExtension `json:"activeMetadata,omitempty"`
}

// BlueGreenALB is albrollouts' extension of the blue-green strategy for an AWS
// Application Load Balancer. With only the verification fields set, the switch
// is Argo's (the active Service's selector moves to the new pods) and
// albrollouts verifies it: the new pods are healthy in the preview target group
// before the switch and in the active target group before anything of the old
// version scales down.
//
// With an Ingress named (ingress or ingresses), the switch happens in the ALB:
// the Ingress path's backend is rootService with port name use-annotation, and
// the controller writes the forward action
// alb.ingress.kubernetes.io/actions.<rootService> with the active and preview
// target groups. It verifies the new pods healthy in the preview group, flips
// the weights from active to preview in one write, verifies the flip on every
// listener, re-points the active Service at the new pods, verifies them
// healthy in the active group and moves the weight back to it before the old
// version scales down.
//
// +kubebuilder:validation:XValidation:rule="!(has(self.ingress) && size(self.ingress) > 0 && has(self.ingresses) && size(self.ingresses) > 0)",message="set at most one of ingress or ingresses"
type BlueGreenALB struct {
	// Ingress is the Ingress (same namespace) whose forward action switches the
	// traffic. Unset: the switch is made by the active Service's selector.
	// +optional
	Ingress string `json:"ingress,omitempty"`
	// Ingresses are several Ingresses (same namespace) switched together.
	// +optional
	Ingresses []string `json:"ingresses,omitempty"`
	// RootService is the Service named in the Ingress backend (port name
	// use-annotation) whose actions annotation the rollout writes; default
	// activeService.
	// +optional
	RootService string `json:"rootService,omitempty"`
	// ServicePort is the port of the active and preview Services the action
	// forwards to (required with ingress or ingresses).
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	// +optional
	ServicePort int32 `json:"servicePort,omitempty"`
	// AnnotationPrefix is the AWS Load Balancer Controller's annotation prefix
	// (default alb.ingress.kubernetes.io).
	// +optional
	AnnotationPrefix string `json:"annotationPrefix,omitempty"`

	ALBVerification `json:",inline"`
}

// IngressNames returns ingress, or ingresses; nil-safe.
func (a *BlueGreenALB) IngressNames() []string {
	if a == nil {
		return nil
	}
	if a.Ingress != "" {
		return []string{a.Ingress}
	}
	return a.Ingresses
}

// ReplicaProgressThreshold is how many of a step's canary replicas must be
// available for the step to complete (Argo Rollouts' field).
type ReplicaProgressThreshold struct {
	// Type is Percent or Pod.
	// +kubebuilder:validation:Enum=Percent;Pod
	Type string `json:"type"`
	// Value is the percentage or the number of pods.
	// +kubebuilder:validation:Minimum=1
	Value int32 `json:"value"`
}

// CanaryStrategy shifts traffic to the new version in steps.
type CanaryStrategy struct {
	// CanaryService is the Service that selects only the new version's pods.
	// +optional
	CanaryService string `json:"canaryService,omitempty"`
	// StableService is the Service that selects only the stable version's pods.
	// +optional
	StableService string `json:"stableService,omitempty"`
	// Steps are executed in order; an empty list promotes straight to 100%.
	// +optional
	Steps []CanaryStep `json:"steps,omitempty"`
	// TrafficRouting splits traffic by weight at the load balancer instead of by
	// replica count.
	// +optional
	TrafficRouting *RolloutTrafficRouting `json:"trafficRouting,omitempty"`
	// MaxUnavailable is the number or percentage of pods that may be unavailable
	// during the update (default 25%).
	// +kubebuilder:validation:XIntOrString
	// +optional
	MaxUnavailable *intstr.IntOrString `json:"maxUnavailable,omitempty"`
	// MaxSurge is the number or percentage of pods that may be created above the
	// desired count during the update (default 25%).
	// +kubebuilder:validation:XIntOrString
	// +optional
	MaxSurge *intstr.IntOrString `json:"maxSurge,omitempty"`
	// ScaleDownDelaySeconds is how long the previous ReplicaSet keeps running after
	// the stable service moved to the new one (traffic routing only; default 30).
	// +kubebuilder:validation:Minimum=0
	// +optional
	ScaleDownDelaySeconds *int32 `json:"scaleDownDelaySeconds,omitempty"`
	// AbortScaleDownDelaySeconds is how long the canary pods keep running after an
	// abort (traffic routing only; default 30; 0 keeps them).
	// +kubebuilder:validation:Minimum=0
	// +optional
	AbortScaleDownDelaySeconds *int32 `json:"abortScaleDownDelaySeconds,omitempty"`
	// DynamicStableScale scales the stable ReplicaSet down as traffic moves to the
	// canary (traffic routing only).
	// +optional
	DynamicStableScale bool `json:"dynamicStableScale,omitempty"`
	// PingPong alternates two services between the stable and canary roles instead
	// of using canaryService and stableService.
	// +optional
	PingPong *PingPongSpec `json:"pingPong,omitempty"`

	// ScaleDownDelayRevisionLimit limits how many old ReplicaSets, the
	// newest, wait out their scale-down delay; older ones scale down at once.
	// +kubebuilder:validation:Minimum=0
	// +optional
	ScaleDownDelayRevisionLimit *int32 `json:"scaleDownDelayRevisionLimit,omitempty"`
	// MinPodsPerReplicaSet (Argo field; not implemented).
	// +kubebuilder:validation:Minimum=0
	// +optional
	MinPodsPerReplicaSet *int32 `json:"minPodsPerReplicaSet,omitempty"`
	// ReplicaProgressThreshold (Argo field; not implemented: a step waits
	// for all of its canary replicas).
	// +optional
	ReplicaProgressThreshold *ReplicaProgressThreshold `json:"replicaProgressThreshold,omitempty"`
	// Analysis is the background analysis: an AnalysisRun beside the steps from its
	// startingStep on (Argo's RolloutAnalysisBackground, kept raw).
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Type=object
	// +optional
	Analysis *runtime.RawExtension `json:"analysis,omitempty"`
	// AntiAffinity (Argo field; not implemented).
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Type=object
	// +optional
	AntiAffinity *runtime.RawExtension `json:"antiAffinity,omitempty"`
	// CanaryMetadata are labels and annotations the canary pods carry while
	// they are the canary (ephemeral metadata).
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Type=object
	// +optional
	CanaryMetadata *runtime.RawExtension `json:"canaryMetadata,omitempty"`
	// StableMetadata are labels and annotations the stable pods carry
	// (ephemeral metadata).
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Type=object
	// +optional
	StableMetadata *runtime.RawExtension `json:"stableMetadata,omitempty"`
}

// PingPongSpec names the two services that take turns as stable and canary.
type PingPongSpec struct {
	// PingService is the first of the two services.
	PingService string `json:"pingService"`
	// PongService is the second of the two services.
	PongService string `json:"pongService"`
}

// CanaryStep is one step of a canary update; set exactly one action.
type CanaryStep struct {
	// SetWeight sends this share of traffic to the canary, out of
	// trafficRouting.maxTrafficWeight (default 100, so a percentage).
	// +kubebuilder:validation:Minimum=0
	// +optional
	SetWeight *int32 `json:"setWeight,omitempty"`
	// Pause stops the rollout for a duration, or until it is resumed.
	// +optional
	Pause *RolloutPause `json:"pause,omitempty"`
	// SetCanaryScale scales the canary without changing its traffic weight.
	// +optional
	SetCanaryScale *SetCanaryScale `json:"setCanaryScale,omitempty"`
	// SetHeaderRoute sends requests matching headers to the canary.
	// +optional
	SetHeaderRoute *SetHeaderRoute `json:"setHeaderRoute,omitempty"`

	// Experiment (Argo field; not implemented).
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Type=object
	// +optional
	Experiment *runtime.RawExtension `json:"experiment,omitempty"`
	// Analysis completes the step when its AnalysisRun succeeds (Argo's RolloutAnalysis, kept raw).
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Type=object
	// +optional
	Analysis *runtime.RawExtension `json:"analysis,omitempty"`
	// SetMirrorRoute (Argo field; not implemented).
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Type=object
	// +optional
	SetMirrorRoute *runtime.RawExtension `json:"setMirrorRoute,omitempty"`
	// Plugin runs a step plugin (Argo field; not implemented).
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Type=object
	// +optional
	Plugin *runtime.RawExtension `json:"plugin,omitempty"`
}

// RolloutPause stops a rollout.
type RolloutPause struct {
	// Duration is seconds (an integer, or a string such as "30", "30s", "5m", "1h");
	// unset pauses until the rollout is resumed.
	// +kubebuilder:validation:XIntOrString
	// +optional
	Duration *intstr.IntOrString `json:"duration,omitempty"`
}

// SetCanaryScale scales the canary ReplicaSet independently of its traffic
// weight; set exactly one field.
type SetCanaryScale struct {
	// Weight scales the canary to this percentage of spec.replicas.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100
	// +optional
	Weight *int32 `json:"weight,omitempty"`
	// Replicas scales the canary to this number of pods.
	// +kubebuilder:validation:Minimum=0
	// +optional
	Replicas *int32 `json:"replicas,omitempty"`
	// MatchTrafficWeight goes back to scaling the canary with its traffic weight.
	// +optional
	MatchTrafficWeight bool `json:"matchTrafficWeight,omitempty"`
}

// SetHeaderRoute sends all requests that match to the canary, whatever the weight.
type SetHeaderRoute struct {
	// Name of the route; it must be listed in trafficRouting.managedRoutes.
	// +optional
	Name string `json:"name,omitempty"`
	// Match lists the header conditions; all must match. Empty removes the route.
	// +optional
	Match []HeaderRoutingMatch `json:"match,omitempty"`
}

// HeaderRoutingMatch is one header condition.
type HeaderRoutingMatch struct {
	// HeaderName is the request header to match.
	HeaderName string `json:"headerName"`
	// HeaderValue is how its value must match (ALB supports exact only).
	HeaderValue *StringMatch `json:"headerValue"`
}

// StringMatch matches a string; set exactly one field.
type StringMatch struct {
	// Exact requires the whole value to equal this string.
	// +optional
	Exact string `json:"exact,omitempty"`
	// Prefix requires the value to start with this string (not supported by ALB).
	// +optional
	Prefix string `json:"prefix,omitempty"`
	// Regex requires the value to match this regular expression (not supported by ALB).
	// +optional
	Regex string `json:"regex,omitempty"`
}

// RolloutTrafficRouting says which load balancer splits traffic between stable
// and canary. albrollouts implements alb; the other Argo traffic routers are kept
// but reported as unsupported.
type RolloutTrafficRouting struct {
	// ALB splits traffic with AWS Load Balancer Controller action annotations on an
	// Ingress.
	// +optional
	ALB *ALBTrafficRouting `json:"alb,omitempty"`
	// ManagedRoutes lists the header routes the rollout may create, in order of precedence.
	// +optional
	ManagedRoutes []ManagedRoute `json:"managedRoutes,omitempty"`
	// MaxTrafficWeight is the total of the weight scale (default 100): setWeight
	// steps and status weights are out of it, and the stable service gets
	// maxTrafficWeight minus the canary's weight. ALB weights go up to 999.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=999
	// +optional
	MaxTrafficWeight *int32 `json:"maxTrafficWeight,omitempty"`

	// Istio (Argo traffic router; not implemented).
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Type=object
	// +optional
	Istio *runtime.RawExtension `json:"istio,omitempty"`
	// Nginx (Argo traffic router; not implemented).
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Type=object
	// +optional
	Nginx *runtime.RawExtension `json:"nginx,omitempty"`
	// SMI (Argo traffic router; not implemented).
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Type=object
	// +optional
	SMI *runtime.RawExtension `json:"smi,omitempty"`
	// Ambassador (Argo traffic router; not implemented).
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Type=object
	// +optional
	Ambassador *runtime.RawExtension `json:"ambassador,omitempty"`
	// AppMesh (Argo traffic router; not implemented).
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Type=object
	// +optional
	AppMesh *runtime.RawExtension `json:"appMesh,omitempty"`
	// Traefik (Argo traffic router; not implemented).
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Type=object
	// +optional
	Traefik *runtime.RawExtension `json:"traefik,omitempty"`
	// Apisix (Argo traffic router; not implemented).
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Type=object
	// +optional
	Apisix *runtime.RawExtension `json:"apisix,omitempty"`
	// Plugins (Argo traffic router plugins; not implemented).
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Type=object
	// +optional
	Plugins *runtime.RawExtension `json:"plugins,omitempty"`
}

// ManagedRoute names a route the rollout manages.
type ManagedRoute struct {
	// Name of the route.
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`
}

// ALBTrafficRouting splits traffic on an AWS Application Load Balancer through
// the AWS Load Balancer Controller's actions annotation on one or more Ingresses.
//
// +kubebuilder:validation:XValidation:rule="(has(self.ingress) && size(self.ingress) > 0) != (has(self.ingresses) && size(self.ingresses) > 0)",message="exactly one of ingress or ingresses must be set"
type ALBTrafficRouting struct {
	// Ingress is the name of the Ingress (same namespace) whose action annotation the
	// rollout manages. Set this or ingresses.
	// +optional
	Ingress string `json:"ingress,omitempty"`
	// Ingresses are the names of several Ingresses (same namespace), for a rollout
	// behind more than one ALB. Set this or ingress.
	// +optional
	Ingresses []string `json:"ingresses,omitempty"`
	// ServicePort is the Service port the Ingress action forwards to.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	ServicePort int32 `json:"servicePort"`
	// RootService is the Service named in the Ingress backend (with
	// port.name use-annotation) whose action the rollout writes; default stableService.
	// +optional
	RootService string `json:"rootService,omitempty"`
	// AnnotationPrefix is the AWS Load Balancer Controller's annotation prefix
	// (default alb.ingress.kubernetes.io).
	// +optional
	AnnotationPrefix string `json:"annotationPrefix,omitempty"`
	// StickinessConfig turns on target-group stickiness for the forward action.
	// +optional
	StickinessConfig *StickinessConfig `json:"stickinessConfig,omitempty"`

	ALBVerification `json:",inline"`
}

// StickinessConfig is the duration-based stickiness of the forward action.
type StickinessConfig struct {
	// Enabled turns stickiness on.
	Enabled bool `json:"enabled"`
	// DurationSeconds is how long a client sticks to a target group (1 to 604800).
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=604800
	DurationSeconds int64 `json:"durationSeconds"`
}
