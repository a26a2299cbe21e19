package config

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"path"
	"slices"
	"testing"

	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

type object struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name      string `json:"name"`
		Namespace string `json:"namespace"`
	} `json:"metadata"`
}

func objects(t *testing.T, files []File) []object {
	t.Helper()
	var out []object
	for _, f := range files {
		r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(f.Data)))
		for {
			doc, err := r.Read()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", f.Path, err)
			}
			var o object
			if err := yaml.Unmarshal(doc, &o); err != nil {
				t.Fatalf("%s: %v", f.Path, err)
			}
			if o.APIVersion == "" || o.Kind == "" || o.Metadata.Name == "" {
				if len(bytes.TrimSpace(doc)) > 0 && o != (object{}) {
					t.Errorf("%s: a document without apiVersion, kind or name: %+v", f.Path, o)
				}
				continue
			}
			out = append(out, o)
		}
	}
	return out
}

// Every accessor returns parseable objects of the kinds it promises.
func TestAccessorsReturnObjects(t *testing.T) {
	kinds := func(files []File) []string {
		var k []string
		for _, o := range objects(t, files) {
			k = append(k, o.Kind+"/"+o.Metadata.Name)
		}
		slices.Sort(k)
		return k
	}
	cases := []struct {
		name  string
		files []File
		want  []string
	}{
		{"RolloutCRDs", RolloutCRDs(), []string{
			"CustomResourceDefinition/analysisruns.argoproj.io", "CustomResourceDefinition/analysistemplates.argoproj.io",
			"CustomResourceDefinition/clusteranalysistemplates.argoproj.io", "CustomResourceDefinition/experiments.argoproj.io",
			"CustomResourceDefinition/rollouts.argoproj.io",
		}},
		{"ExternalCRDs", ExternalCRDs(), []string{"CustomResourceDefinition/targetgroupbindings.elbv2.k8s.aws"}},
		{"RBAC", RBAC(), []string{
			"ClusterRole/albrollouts", "ClusterRoleBinding/albrollouts", "Namespace/albrollouts-system",
			"Role/albrollouts-leader-election", "Role/albrollouts-notifications", "RoleBinding/albrollouts-leader-election",
			"RoleBinding/albrollouts-notifications", "ServiceAccount/albrollouts",
		}},
		{"Manager", Manager(), []string{"Deployment/albrollouts-controller", "Service/albrollouts-controller-metrics"}},
		{"AnalysisTemplates", AnalysisTemplates(), []string{"ClusterAnalysisTemplate/alb-canary-health"}},
	}
	for _, c := range cases {
		if got := kinds(c.files); !slices.Equal(got, c.want) {
			t.Errorf("%s() holds %v, want %v", c.name, got, c.want)
		}
	}
	if _, err := Manifests("no/such/dir"); err == nil {
		t.Error("Manifests of a missing directory: want an error")
	}
}

// What the binary embeds is what kustomize builds: each directory's kustomization
// lists exactly the files the accessors return, and nothing on disk is left out of
// the embedding (a .yml file, say).
func TestKustomizationsListTheEmbeddedFiles(t *testing.T) {
	for dir, embedded := range map[string][]File{"rbac": RBAC(), "manager": Manager(), "crd": RolloutCRDs(), "analysis": AnalysisTemplates()} {
		raw, err := files.ReadFile(path.Join(dir, Kustomization))
		if err != nil {
			t.Fatal(err)
		}
		var k struct {
			Resources []string `json:"resources"`
		}
		if err := yaml.Unmarshal(raw, &k); err != nil {
			t.Fatalf("%s/%s: %v", dir, Kustomization, err)
		}
		var listed, have []string
		for _, r := range k.Resources {
			listed = append(listed, path.Join(dir, r))
		}
		for _, f := range embedded {
			have = append(have, f.Path)
		}
		slices.Sort(listed)
		if !slices.Equal(listed, have) {
			t.Errorf("%s/%s lists %v; the binary embeds %v", dir, Kustomization, listed, have)
		}
	}
	for _, dir := range []string{"crd/bases", "crd/external", "rbac", "manager", "analysis", "default"} {
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if e.IsDir() {
				continue
			}
			if _, err := files.ReadFile(path.Join(dir, e.Name())); err != nil {
				t.Errorf("%s/%s is not embedded: name manifests *.yaml", dir, e.Name())
			}
		}
	}
}
