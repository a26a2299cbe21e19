package config

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"sigs.k8s.io/yaml"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
)

// argoSource is the directory of Argo Rollouts' source at the pinned version
// (hack/argo-rollouts-version): the copy `make test-deps` caches
// (hack/argo-rollouts-build.sh), else the Go module cache, else it is
// downloaded through the module proxy as that script does. -short skips when
// it is not at hand.
func argoSource(t *testing.T) string {
	t.Helper()
	v, err := os.ReadFile("../hack/argo-rollouts-version")
	if err != nil {
		t.Fatal(err)
	}
	version := strings.TrimSpace(string(v))
	cache := os.Getenv("ALBROLLOUTS_CACHE")
	if cache == "" {
		base := os.Getenv("XDG_CACHE_HOME")
		if base == "" {
			home, err := os.UserHomeDir()
			if err != nil {
				t.Fatal(err)
			}
			base = filepath.Join(home, ".cache")
		}
		cache = filepath.Join(base, "albrollouts")
	}
	src := filepath.Join(cache, "argo-rollouts-"+version, "src")
	if _, err := os.Stat(filepath.Join(src, "examples")); err == nil {
		return src
	}
	if testing.Short() {
		t.Skipf("Argo Rollouts %s source not cached in %s (make test-deps)", version, src)
	}
	cmd := exec.Command("go", "mod", "download", "-json", "github.com/argoproj/argo-rollouts@"+version)
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go mod download github.com/argoproj/argo-rollouts@%s: %v", version, err)
	}
	var mod struct{ Dir string }
	if err := json.Unmarshal(out, &mod); err != nil || mod.Dir == "" {
		t.Fatalf("go mod download gave no directory: %v %s", err, out)
	}
	return mod.Dir
}

// analysisKinds are the kinds whose examples are checked.
var analysisKinds = map[string]bool{"AnalysisTemplate": true, "ClusterAnalysisTemplate": true, "AnalysisRun": true}

// fencedYAML matches a fenced yaml block of a Markdown page.
var fencedYAML = regexp.MustCompile("(?ms)^[ \t]*```ya?ml[ \t]*\n(.*?)^[ \t]*```")

// argoAnalysisExamples returns every AnalysisTemplate, ClusterAnalysisTemplate
// and AnalysisRun document of Argo's examples/ (YAML files) and docs/
// (fenced yaml blocks of the Markdown pages), keyed by file and index.
func argoAnalysisExamples(t *testing.T, src string) map[string]string {
	t.Helper()
	docs := map[string]string{}
	for _, dir := range []string{"examples", "docs"} {
		err := filepath.WalkDir(filepath.Join(src, dir), func(path string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			var chunks []string
			switch filepath.Ext(path) {
			case ".yaml", ".yml":
				chunks = []string{string(data)}
			case ".md":
				for _, m := range fencedYAML.FindAllStringSubmatch(string(data), -1) {
					chunks = append(chunks, m[1])
				}
			}
			rel, _ := filepath.Rel(src, path)
			n := 0
			for _, c := range chunks {
				for _, doc := range strings.Split(c, "\n---") {
					var meta struct{ APIVersion, Kind string }
					if yaml.Unmarshal([]byte(doc), &meta) != nil || meta.APIVersion != "argoproj.io/v1alpha1" || !analysisKinds[meta.Kind] {
						continue
					}
					n++
					docs[rel+"#"+meta.Kind+"-"+strconv.Itoa(n)] = doc
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return docs
}

// Argo's own example AnalysisTemplates, ClusterAnalysisTemplates and
// AnalysisRuns (its examples/ and the manifests of its docs/) apply unchanged:
// the generated CRD's schema accepts each one Argo's own CRD accepts, and no field of them is unknown to
// the API types (the API server would prune it silently).
func TestArgoAnalysisExamplesApply(t *testing.T) {
	src := argoSource(t)
	examples := argoAnalysisExamples(t, src)
	if len(examples) < 20 {
		t.Fatalf("found %d analysis examples in %s; Argo's examples and docs have more", len(examples), src)
	}
	crds := map[string]*apiextensionsv1.CustomResourceDefinition{}
	for _, f := range RolloutCRDs() {
		crd := &apiextensionsv1.CustomResourceDefinition{}
		if err := yaml.UnmarshalStrict(f.Data, crd); err != nil {
			t.Fatalf("%s: %v", f.Path, err)
		}
		crds[crd.Spec.Names.Kind] = crd
	}
	validators := map[string]func(map[string]any) error{}
	for kind := range analysisKinds {
		validators[kind] = crdValidator(t, crds[kind])
	}
	argoValidators := map[string]func(map[string]any) error{}
	argoCRDs, err := filepath.Glob(filepath.Join(src, "manifests", "crds", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range argoCRDs {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		crd := &apiextensionsv1.CustomResourceDefinition{}
		if err := yaml.Unmarshal(data, crd); err != nil || !analysisKinds[crd.Spec.Names.Kind] {
			continue
		}
		argoValidators[crd.Spec.Names.Kind] = crdValidator(t, crd)
	}
	if len(argoValidators) != len(analysisKinds) {
		t.Fatalf("found Argo's CRDs of %d analysis kinds in %s/manifests/crds, want %d", len(argoValidators), src, len(analysisKinds))
	}
	checked := 0
	for name, doc := range examples {
		obj := decodeManifest(t, doc)
		kind, _ := obj["kind"].(string)
		// A few snippets of Argo's docs are fragments or do not apply to
		// Argo's own CRD either (an arg value written as a YAML number, a
		// web provider without url): what Argo refuses is not expected.
		if err := argoValidators[kind](obj); err != nil {
			t.Logf("%s: Argo's own CRD refuses it (not checked): %v", name, err)
			continue
		}
		checked++
		if err := validators[kind](obj); err != nil {
			t.Errorf("%s: refused by the CRD: %v\n%s", name, err, doc)
			continue
		}
		var typed any
		switch kind {
		case "AnalysisTemplate":
			typed = &v1alpha1.AnalysisTemplate{}
		case "ClusterAnalysisTemplate":
			typed = &v1alpha1.ClusterAnalysisTemplate{}
		case "AnalysisRun":
			typed = &v1alpha1.AnalysisRun{}
		}
		j, err := yaml.YAMLToJSON([]byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		dec := json.NewDecoder(bytes.NewReader(j))
		dec.DisallowUnknownFields()
		if err := dec.Decode(typed); err != nil {
			t.Errorf("%s: a field the API types do not know (the API server would drop it): %v", name, err)
		}
	}
	t.Logf("%d analysis examples of Argo Rollouts checked", checked)
}
