package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"
)

// argoExamples is where `make test-deps` caches Argo Rollouts' source at
// the pinned version (hack/argo-rollouts-version), or "".
func argoExamples(t *testing.T) string {
	t.Helper()
	v, err := os.ReadFile(filepath.Join("..", "..", "hack", "argo-rollouts-version"))
	if err != nil {
		t.Fatal(err)
	}
	cache := os.Getenv("ALBROLLOUTS_CACHE")
	if cache == "" {
		base, err := os.UserCacheDir()
		if err != nil {
			return ""
		}
		cache = filepath.Join(base, "albrollouts")
	}
	dir := filepath.Join(cache, "argo-rollouts-"+strings.TrimSpace(string(v)), "src", "examples")
	if _, err := os.Stat(dir); err != nil {
		return ""
	}
	return dir
}

// Argo's own example AnalysisTemplates and ClusterAnalysisTemplate apply
// unchanged to the real API server, with strict field validation (a field
// the CRD does not know is refused, not pruned), and read back as written.
// (config's TestArgoAnalysisExamplesApply checks every example of Argo's
// examples/ and docs/ against the CRD schema offline.)
func TestArgoAnalysisExamplesApplyToAPIServer(t *testing.T) {
	needEnv(t)
	loopbackPassOnly(t)
	t.Parallel()
	dir := argoExamples(t)
	if dir == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("Argo Rollouts' source is not cached (make test-deps)")
		}
		t.Skip("Argo Rollouts' source is not cached (make test-deps)")
	}
	ns := namespace(t, "argo-examples")
	applied := 0
	for _, file := range []string{"analysis-templates.yaml", "cluster-analysis-templates.yaml", "traffic-management/job.yaml"} {
		data, err := os.ReadFile(filepath.Join(dir, file))
		if err != nil {
			t.Fatal(err)
		}
		r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
		for {
			doc, err := r.Read()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			u := &unstructured.Unstructured{}
			if err := yaml.Unmarshal(doc, &u.Object); err != nil || len(u.Object) == 0 {
				continue
			}
			kind := u.GetKind()
			if kind != "AnalysisTemplate" && kind != "ClusterAnalysisTemplate" {
				continue
			}
			want := u.DeepCopy()
			if kind == "AnalysisTemplate" {
				u.SetNamespace(ns)
			} else {
				// Cluster-scoped: a name of this test, deleted afterwards.
				u.SetName(ns + "-" + u.GetName())
				t.Cleanup(func() { _ = kc().Delete(ctxT(t), u) })
			}
			if err := kc().Create(ctxT(t), u, client.FieldValidation("Strict")); err != nil {
				t.Errorf("%s: %s %s refused: %v", file, kind, want.GetName(), err)
				continue
			}
			got := &unstructured.Unstructured{}
			got.SetGroupVersionKind(u.GroupVersionKind())
			if err := kc().Get(ctxT(t), client.ObjectKeyFromObject(u), got); err != nil {
				t.Fatal(err)
			}
			if !equality.Semantic.DeepEqual(normalized(t, got.Object["spec"]), normalized(t, want.Object["spec"])) {
				a, _ := yaml.Marshal(want.Object["spec"])
				b, _ := yaml.Marshal(got.Object["spec"])
				t.Errorf("%s: %s %s reads back changed:\nwritten:\n%s\nread:\n%s", file, kind, want.GetName(), a, b)
			}
			applied++
			t.Logf("%s: %s %s applied unchanged", file, kind, want.GetName())
		}
	}
	if applied < 4 {
		t.Errorf("applied %d of Argo's example templates, want at least 4", applied)
	}
}

// normalized is v through JSON: numbers as float64 on both sides.
func normalized(t *testing.T, v any) any {
	t.Helper()
	j, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(j, &out); err != nil {
		t.Fatal(err)
	}
	return out
}
