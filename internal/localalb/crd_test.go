package localalb

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"sigs.k8s.io/yaml"
)

func TestEmbeddedCRDMatchesConfig(t *testing.T) {
	want, err := os.ReadFile(filepath.Join("..", "..", "config", "crd", "external", "elbv2.k8s.aws_targetgroupbindings.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(want, TargetGroupBindingCRD()) {
		t.Fatal("internal/localalb/crd/elbv2.k8s.aws_targetgroupbindings.yaml differs from config/crd/external/: copy the config file over")
	}
	var crd apiextensionsv1.CustomResourceDefinition
	if err := yaml.UnmarshalStrict(want, &crd); err != nil {
		t.Fatalf("CRD does not parse: %v", err)
	}
	if crd.Spec.Group != TargetGroupBindingGVK.Group || crd.Spec.Names.Kind != TargetGroupBindingGVK.Kind ||
		len(crd.Spec.Versions) != 1 || crd.Spec.Versions[0].Name != TargetGroupBindingGVK.Version {
		t.Fatalf("CRD is not %s", TargetGroupBindingGVK)
	}
}
