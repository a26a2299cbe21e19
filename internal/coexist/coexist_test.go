package coexist

import (
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
	"github.com/albrollouts/albrollouts/internal/replicaset"
)

func scheme(t *testing.T) *runtime.Scheme {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{appsv1.AddToScheme, apiextensionsv1.AddToScheme, v1alpha1.AddToScheme} {
		if err := add(s); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

func rolloutCRD(withVerify bool) *apiextensionsv1.CustomResourceDefinition {
	alb := apiextensionsv1.JSONSchemaProps{Type: "object", Properties: map[string]apiextensionsv1.JSONSchemaProps{"ingress": {Type: "string"}}}
	if withVerify {
		alb.Properties["verifyTargetGroup"] = apiextensionsv1.JSONSchemaProps{Type: "boolean"}
	}
	obj := func(p map[string]apiextensionsv1.JSONSchemaProps) apiextensionsv1.JSONSchemaProps {
		return apiextensionsv1.JSONSchemaProps{Type: "object", Properties: p}
	}
	root := obj(map[string]apiextensionsv1.JSONSchemaProps{"spec": obj(map[string]apiextensionsv1.JSONSchemaProps{"strategy": obj(map[string]apiextensionsv1.JSONSchemaProps{
		"canary": obj(map[string]apiextensionsv1.JSONSchemaProps{"trafficRouting": obj(map[string]apiextensionsv1.JSONSchemaProps{"alb": alb})})})})})
	return &apiextensionsv1.CustomResourceDefinition{ObjectMeta: metav1.ObjectMeta{Name: RolloutCRDName},
		Spec: apiextensionsv1.CustomResourceDefinitionSpec{Versions: []apiextensionsv1.CustomResourceDefinitionVersion{{Name: "v1alpha1",
			Schema: &apiextensionsv1.CustomResourceValidation{OpenAPIV3Schema: &root}}}}}
}

func argoDeployment(name string, args ...string) *appsv1.Deployment {
	return &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "argo-rollouts", Name: name},
		Spec: appsv1.DeploymentSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{
			{Name: "argo-rollouts", Image: "quay.io/argoproj/argo-rollouts:v1.10.1", Args: args}}}}}}
}

func rollout(name string, id string) *v1alpha1.Rollout {
	ro := &v1alpha1.Rollout{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: name}}
	if id != "" {
		ro.Labels = map[string]string{replicaset.InstanceIDLabel: id}
	}
	return ro
}

func TestInspectSortsRolloutsByController(t *testing.T) {
	objs := []client.Object{rolloutCRD(true), argoDeployment("argo-rollouts"), rollout("cart", ""), rollout("web", "alb"), rollout("api", "gone")}
	c := fake.NewClientBuilder().WithScheme(scheme(t)).WithObjects(objs...).Build()
	r, err := Inspect(t.Context(), c, "alb")
	if err != nil {
		t.Fatal(err)
	}
	if r.CRD != "albrollouts" || len(r.ArgoControllers) != 1 || r.ArgoControllers[0].InstanceID != "" || len(r.Problems) != 0 {
		t.Fatalf("report %+v", r)
	}
	if !slices.Equal(r.Ours, []string{"shop/web"}) || !slices.Equal(r.Argo[""], []string{"shop/cart"}) || !slices.Equal(r.Nobody, []string{"shop/api"}) {
		t.Fatalf("ours %v, Argo's %v, nobody's %v", r.Ours, r.Argo, r.Nobody)
	}
}

func TestInspectReportsProblems(t *testing.T) {
	// Argo's own CRD, and an Argo controller taking albrollouts' rollouts.
	objs := []client.Object{rolloutCRD(false), argoDeployment("argo-rollouts", "--instance-id=alb")}
	c := fake.NewClientBuilder().WithScheme(scheme(t)).WithObjects(objs...).Build()
	r, err := Inspect(t.Context(), c, "alb")
	if err != nil {
		t.Fatal(err)
	}
	if r.CRD != "argo" || len(r.Problems) != 2 ||
		!strings.Contains(r.Problems[0], "prunes the fields albrollouts needs") || !strings.Contains(r.Problems[1], "take the same Rollouts (both --instance-id alb)") {
		t.Fatalf("report %+v", r)
	}
	// No CRD at all.
	c = fake.NewClientBuilder().WithScheme(scheme(t)).Build()
	if r, err := Inspect(t.Context(), c, ""); err != nil || r.CRD != "missing" || len(r.Problems) != 1 {
		t.Fatalf("report %+v, err %v", r, err)
	}
}
