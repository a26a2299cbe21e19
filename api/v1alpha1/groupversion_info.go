// Package v1alpha1 is the Rollout API (argoproj.io/v1alpha1, kind Rollout).
//
// The types keep Argo Rollouts' JSON field names so existing Argo Rollouts
// manifests apply unchanged. albrollouts adds two fields for verified ALB traffic
// shifting, verifyTargetGroup and timeoutSeconds (see ALBVerification), and a
// status.verification block that explains what is being verified and why it has
// (not yet) succeeded.
//
// Argo fields albrollouts does not implement (analysis, experiments,
// traffic routers other than ALB, ...) are kept verbatim in the object (their
// schema preserves unknown fields) so nothing a user wrote is silently dropped;
// Rollout.UnsupportedFields lists the ones a spec uses.
//
// +kubebuilder:object:generate=true
// +groupName=argoproj.io
package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var (
	// GroupVersion is the group and version of the Rollout API.
	GroupVersion = schema.GroupVersion{Group: "argoproj.io", Version: "v1alpha1"}

	// SchemeBuilder registers the Rollout types with a runtime.Scheme.
	SchemeBuilder = runtime.NewSchemeBuilder(addKnownTypes)

	// AddToScheme adds the types of this group-version to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

// Resource names of the Rollout kind, as registered by the CRD.
const (
	Kind     = "Rollout"
	Resource = "rollouts"
)

func addKnownTypes(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion, &Rollout{}, &RolloutList{},
		&AnalysisTemplate{}, &AnalysisTemplateList{},
		&ClusterAnalysisTemplate{}, &ClusterAnalysisTemplateList{},
		&AnalysisRun{}, &AnalysisRunList{})
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
}
