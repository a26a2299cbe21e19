package localalb

import (
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"sigs.k8s.io/yaml"

	"github.com/albrollouts/albrollouts/config"
)

// The TargetGroupBinding CRD the local environment installs (embedded from
// config/crd/external) serves the kind this controller writes.
func TestTargetGroupBindingCRDServesTheKindWritten(t *testing.T) {
	files := config.ExternalCRDs()
	if len(files) != 1 {
		t.Fatalf("config/crd/external holds %d files, want the TargetGroupBinding CRD", len(files))
	}
	var crd apiextensionsv1.CustomResourceDefinition
	if err := yaml.UnmarshalStrict(files[0].Data, &crd); err != nil {
		t.Fatalf("%s does not parse: %v", files[0].Path, err)
	}
	if crd.Spec.Group != TargetGroupBindingGVK.Group || crd.Spec.Names.Kind != TargetGroupBindingGVK.Kind ||
		len(crd.Spec.Versions) != 1 || crd.Spec.Versions[0].Name != TargetGroupBindingGVK.Version {
		t.Fatalf("%s is not %s", files[0].Path, TargetGroupBindingGVK)
	}
}
