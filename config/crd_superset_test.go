package config

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// Argo Rollouts' controller keeps working on a cluster where our CRDs are
// installed only if ours accept every field Argo's do: the API server prunes
// fields a CRD's schema lacks, and Argo would lose them. hack/argo-crd holds
// the property paths of Argo's CRDs (make argo-crd-paths); each must be in
// ours, except where ours keeps the subtree whole
// (x-kubernetes-preserve-unknown-fields: nothing below it is pruned).
func TestCRDsAreASupersetOfArgos(t *testing.T) {
	type schema struct{ paths, preserved []string }
	ours := map[string]schema{}
	for _, f := range RolloutCRDs() {
		kind, paths, preserved, err := schemaPaths(f.Data)
		if err != nil {
			t.Fatalf("%s: %v", f.Path, err)
		}
		ours[strings.ToLower(kind)] = schema{paths, preserved}
	}
	files, err := filepath.Glob("../hack/argo-crd/*.paths")
	if err != nil || len(files) == 0 {
		t.Fatalf("no Argo CRD paths in hack/argo-crd (%v)", err)
	}
	for _, file := range files {
		kind := strings.TrimSuffix(filepath.Base(file), ".paths")
		have, ok := ours[kind]
		if !ok {
			t.Errorf("no CRD of ours for Argo's %s", kind)
			continue
		}
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var missing []string
		for _, p := range strings.Split(string(data), "\n") {
			if p == "" || strings.HasPrefix(p, "#") || slices.Contains(have.paths, p) || keptWhole(have.preserved, p) {
				continue
			}
			missing = append(missing, p)
		}
		if len(missing) > 0 {
			t.Errorf("%s: %d of Argo's property paths are missing from our CRD (the API server would prune them):\n  %s", kind, len(missing), strings.Join(missing, "\n  "))
		}
	}
}

// keptWhole reports whether a path is below one whose schema keeps unknown
// fields.
func keptWhole(preserved []string, path string) bool {
	return slices.ContainsFunc(preserved, func(p string) bool {
		return p == "" || strings.HasPrefix(path, p+".") || strings.HasPrefix(path, p+"[]") || strings.HasPrefix(path, p+"{}")
	})
}
