package config

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/kube-openapi/pkg/validation/spec"
	"k8s.io/kube-openapi/pkg/validation/strfmt"
	"k8s.io/kube-openapi/pkg/validation/validate"
	"sigs.k8s.io/yaml"
)

// rolloutCRD parses the embedded Rollout CRD.
func rolloutCRD(t *testing.T) *apiextensionsv1.CustomResourceDefinition {
	t.Helper()
	for _, f := range RolloutCRDs() {
		crd := &apiextensionsv1.CustomResourceDefinition{}
		if err := yaml.UnmarshalStrict(f.Data, crd); err != nil {
			t.Fatalf("%s: %v", f.Path, err)
		}
		if crd.Spec.Names.Kind == "Rollout" {
			return crd
		}
	}
	t.Fatal("no Rollout CRD in crd/bases")
	return nil
}

// crdValidator is the schema validation the API server runs on a custom
// resource of the CRD's (only) version, at unit level: the schema must be
// structural (the API server refuses the CRD otherwise), and values are
// checked by kube-openapi's validator as the API server does, with
// x-kubernetes-int-or-string meaning type [integer, string] (the API server's
// conversion, apiextensions-apiserver/pkg/apiserver/validation). CEL rules and
// metadata are not checked here; the local control-plane tests do that.
func crdValidator(t *testing.T, crd *apiextensionsv1.CustomResourceDefinition) func(obj map[string]any) error {
	t.Helper()
	if len(crd.Spec.Versions) != 1 {
		t.Fatalf("%s: want one version, have %d", crd.Name, len(crd.Spec.Versions))
	}
	v1Schema := crd.Spec.Versions[0].Schema.OpenAPIV3Schema
	internal := &apiextensions.JSONSchemaProps{}
	if err := apiextensionsv1.Convert_v1_JSONSchemaProps_To_apiextensions_JSONSchemaProps(v1Schema, internal, nil); err != nil {
		t.Fatal(err)
	}
	s, err := structuralschema.NewStructural(internal)
	if err != nil {
		t.Fatalf("%s: not a structural schema: %v", crd.Name, err)
	}
	if errs := structuralschema.ValidateStructural(field.NewPath("openAPIV3Schema"), s); len(errs) > 0 {
		t.Fatalf("%s: not a structural schema: %v", crd.Name, errs.ToAggregate())
	}
	raw, err := json.Marshal(v1Schema)
	if err != nil {
		t.Fatal(err)
	}
	openapi := &spec.Schema{}
	if err := json.Unmarshal(raw, openapi); err != nil {
		t.Fatal(err)
	}
	intOrStringTypes(openapi)
	validator := validate.NewSchemaValidator(openapi, nil, "", strfmt.Default)
	return func(obj map[string]any) error {
		res := validator.Validate(obj)
		if res.IsValid() {
			return nil
		}
		var msgs []string
		for _, e := range res.Errors {
			msgs = append(msgs, e.Error())
		}
		return fmt.Errorf("%s", strings.Join(msgs, "; "))
	}
}

// intOrStringTypes gives every x-kubernetes-int-or-string schema the type
// [integer, string], as the API server's validator sees it.
func intOrStringTypes(s *spec.Schema) {
	if s == nil {
		return
	}
	if v, ok := s.Extensions["x-kubernetes-int-or-string"].(bool); ok && v {
		s.Type = spec.StringOrArray{"integer", "string"}
	}
	for k, p := range s.Properties {
		intOrStringTypes(&p)
		s.Properties[k] = p
	}
	if s.AdditionalProperties != nil {
		intOrStringTypes(s.AdditionalProperties.Schema)
	}
	if s.Items != nil {
		intOrStringTypes(s.Items.Schema)
		for i := range s.Items.Schemas {
			intOrStringTypes(&s.Items.Schemas[i])
		}
	}
	for _, l := range [][]spec.Schema{s.AllOf, s.AnyOf, s.OneOf} {
		for i := range l {
			intOrStringTypes(&l[i])
		}
	}
	intOrStringTypes(s.Not)
}

// walkSchema calls f on every schema under s, with its path.
func walkSchema(s *apiextensionsv1.JSONSchemaProps, path string, f func(string, *apiextensionsv1.JSONSchemaProps)) {
	if s == nil {
		return
	}
	f(path, s)
	for k, p := range s.Properties {
		walkSchema(&p, path+"."+k, f)
	}
	if s.AdditionalProperties != nil {
		walkSchema(s.AdditionalProperties.Schema, path+".*", f)
	}
	if s.Items != nil {
		walkSchema(s.Items.Schema, path+"[]", f)
	}
}

// decodeManifest decodes YAML as the API server sees it: kubectl sends JSON,
// and the API server decodes whole numbers as int64, the others as float64.
func decodeManifest(t *testing.T, doc string) map[string]any {
	t.Helper()
	j, err := yaml.YAMLToJSON([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	var obj map[string]any
	if err := utiljson.Unmarshal(j, &obj); err != nil {
		t.Fatal(err)
	}
	return obj
}

// quantityRollout is a Rollout whose template uses a resource quantity at
// every place a pod template has one; %s is each quantity's value.
const quantityRollout = `
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata:
  name: container-resource-formats
spec:
  replicas: 1
  selector:
    matchLabels:
      app: container-resource-formats
  strategy:
    canary: {}
  template:
    metadata:
      labels:
        app: container-resource-formats
    spec:
      overhead:
        cpu: %[1]s
      resources:
        limits:
          cpu: %[1]s
      containers:
      - name: a
        image: nginx:1.19-alpine
        env:
        - name: CPU
          valueFrom:
            resourceFieldRef:
              resource: requests.cpu
              divisor: %[1]s
        resources:
          requests:
            cpu: %[1]s
            memory: 128Mi
          limits:
            cpu: %[1]s
      initContainers:
      - name: i
        image: nginx:1.19-alpine
        resources:
          requests:
            cpu: %[1]s
      ephemeralContainers:
      - name: e
        image: nginx:1.19-alpine
        resources:
          requests:
            cpu: %[1]s
      volumes:
      - name: scratch
        emptyDir:
          sizeLimit: %[1]s
      - name: claim
        ephemeral:
          volumeClaimTemplate:
            spec:
              accessModes: [ReadWriteOnce]
              resources:
                requests:
                  storage: %[1]s
      - name: info
        downwardAPI:
          items:
          - path: cpu
            resourceFieldRef:
              containerName: a
              resource: limits.cpu
              divisor: %[1]s
`

// Argo's CRD accepts a resource quantity written as a YAML number, which
// kubectl sends as a JSON number (Argo's e2e TestContainerResourceFormats:
// `cpu: 0.001`); an int-or-string schema rejects it, as 0.001 is no integer.
// Every resource.Quantity of the pod template takes a number or a quantity
// string, and nothing else.
func TestRolloutCRDAcceptsQuantitiesAsNumbersOrStrings(t *testing.T) {
	crd := rolloutCRD(t)
	validate := crdValidator(t, crd)
	// Every Quantity of the schema (they carry the quantity pattern), not only
	// those the manifest below uses.
	var quantities, intOrString []string
	walkSchema(crd.Spec.Versions[0].Schema.OpenAPIV3Schema, "", func(path string, s *apiextensionsv1.JSONSchemaProps) {
		if !strings.Contains(s.Pattern, "[numkMGTPE]") {
			return
		}
		quantities = append(quantities, path)
		if s.XIntOrString || len(s.Type) > 0 {
			intOrString = append(intOrString, path)
		}
	})
	if len(quantities) < 10 {
		t.Fatalf("found %d Quantity schemas (%v); the pod template has more", len(quantities), quantities)
	}
	if len(intOrString) > 0 {
		t.Errorf("Quantity schemas that refuse a non-integer number: %v", intOrString)
	}
	for _, v := range []string{"0.001", "'0.001'", "1m", "1", "2", "128Mi", "1e3", "-1", "0"} {
		if err := validate(decodeManifest(t, fmt.Sprintf(quantityRollout, v))); err != nil {
			t.Errorf("quantity %s rejected: %v", v, err)
		}
	}
	for _, v := range []string{"abc", "1.5 cores", "true", "{}", "{m: 1}", "[]", "[1]"} {
		if err := validate(decodeManifest(t, fmt.Sprintf(quantityRollout, v))); err == nil {
			t.Errorf("quantity %s accepted; want it rejected", v)
		}
	}
}

// argoKind is what Argo Rollouts' CRD of a kind declares (manifests/crds).
type argoKind struct {
	kind, plural, singular, shortName string
	scope                             apiextensionsv1.ResourceScope
	columns                           []string
}

// argoKinds are Argo's kinds besides Rollout. Argo's `kubectl argo rollouts
// get rollout` and `status` list Experiments and AnalysisRuns, and hang on a
// cluster that serves neither; analysis steps name (Cluster)AnalysisTemplates.
var argoKinds = []argoKind{
	{"Experiment", "experiments", "experiment", "exp", apiextensionsv1.NamespaceScoped, []string{"Status", "Age"}},
	{"AnalysisRun", "analysisruns", "analysisrun", "ar", apiextensionsv1.NamespaceScoped, []string{"Status", "Age"}},
	{"AnalysisTemplate", "analysistemplates", "analysistemplate", "at", apiextensionsv1.NamespaceScoped, []string{"Age"}},
	{"ClusterAnalysisTemplate", "clusteranalysistemplates", "clusteranalysistemplate", "cat", apiextensionsv1.ClusterScoped, []string{"Age"}},
}

// The CRDs the binary installs include Argo's Experiment, AnalysisRun,
// AnalysisTemplate and ClusterAnalysisTemplate, named and scoped as Argo
// names them, with a structural schema that takes Argo's objects and, as in
// Argo, no status subresource.
func TestArgoKindCRDsShipped(t *testing.T) {
	crds := map[string]*apiextensionsv1.CustomResourceDefinition{}
	for _, f := range RolloutCRDs() {
		var meta struct{ APIVersion, Kind string }
		if err := yaml.Unmarshal(f.Data, &meta); err != nil {
			t.Fatalf("%s: %v", f.Path, err)
		}
		if meta.APIVersion != "apiextensions.k8s.io/v1" || meta.Kind != "CustomResourceDefinition" {
			t.Fatalf("%s: %s %s, want an apiextensions.k8s.io/v1 CustomResourceDefinition", f.Path, meta.APIVersion, meta.Kind)
		}
		crd := &apiextensionsv1.CustomResourceDefinition{}
		if err := yaml.UnmarshalStrict(f.Data, crd); err != nil {
			t.Fatalf("%s: %v", f.Path, err)
		}
		crds[crd.Spec.Names.Kind] = crd
	}
	for _, k := range argoKinds {
		crd, ok := crds[k.kind]
		if !ok {
			t.Errorf("no CRD for %s in crd/bases (have %v)", k.kind, slices.Sorted(maps.Keys(crds)))
			continue
		}
		n := crd.Spec.Names
		if crd.Name != k.plural+".argoproj.io" || crd.Spec.Group != "argoproj.io" || n.Plural != k.plural || n.Singular != k.singular ||
			n.ListKind != k.kind+"List" || !slices.Equal(n.ShortNames, []string{k.shortName}) || crd.Spec.Scope != k.scope {
			t.Errorf("%s: name %s, group %s, names %+v, scope %s; want %s.argoproj.io, argoproj.io, %+v, %s",
				k.kind, crd.Name, crd.Spec.Group, n, crd.Spec.Scope, k.plural, k, k.scope)
		}
		if len(crd.Spec.Versions) != 1 || crd.Spec.Versions[0].Name != "v1alpha1" || !crd.Spec.Versions[0].Served || !crd.Spec.Versions[0].Storage {
			t.Errorf("%s: versions %+v, want v1alpha1 served and stored", k.kind, crd.Spec.Versions)
			continue
		}
		v := crd.Spec.Versions[0]
		if sub := v.Subresources; sub != nil && (sub.Status != nil || sub.Scale != nil) {
			t.Errorf("%s: subresources %+v; Argo's has none (its controller writes status on the object)", k.kind, sub)
		}
		var columns []string
		for _, c := range v.AdditionalPrinterColumns {
			columns = append(columns, c.Name)
		}
		if !slices.Equal(columns, k.columns) {
			t.Errorf("%s: printer columns %v, want %v", k.kind, columns, k.columns)
		}
		validate := crdValidator(t, crd)
		obj := decodeManifest(t, fmt.Sprintf(`
apiVersion: argoproj.io/v1alpha1
kind: %s
metadata:
  name: x
spec:
  metrics:
  - name: success-rate
    interval: 5m
    successCondition: result[0] >= 0.95
    failureLimit: 3
    provider:
      prometheus:
        query: sum(rate(x[5m]))
  templates:
  - name: baseline
    replicas: 1
status:
  phase: Running
  metricResults:
  - name: success-rate
    phase: Running
    successful: 2
`, k.kind))
		if err := validate(obj); err != nil {
			t.Errorf("%s: an Argo object is refused: %v", k.kind, err)
		}
		delete(obj, "spec")
		if err := validate(obj); err == nil {
			t.Errorf("%s: an object without spec is accepted; Argo's CRD requires spec", k.kind)
		}
	}
}
