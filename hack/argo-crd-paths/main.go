// Command argo-crd-paths writes the property paths of Argo Rollouts' CRDs,
// one file per kind, for the test that keeps ours a superset of them
// (config/crd_superset_test.go):
//
//	go run ./hack/argo-crd-paths <argo-rollouts source>/manifests/crds hack/argo-crd
//
// `make argo-crd-paths` runs it on the Argo Rollouts release the conformance
// run builds (hack/argo-rollouts-version), from the Go module cache.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/albrollouts/albrollouts/config"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: argo-crd-paths <argo-rollouts>/manifests/crds <output dir>")
		os.Exit(2)
	}
	if err := run(os.Args[1], os.Args[2]); err != nil {
		fmt.Fprintln(os.Stderr, "argo-crd-paths:", err)
		os.Exit(1)
	}
}

func run(in, out string) error {
	for _, name := range []string{"rollout-crd.yaml", "analysis-template-crd.yaml", "cluster-analysis-template-crd.yaml", "analysis-run-crd.yaml"} {
		data, err := os.ReadFile(filepath.Join(in, name))
		if err != nil {
			return err
		}
		kind, paths, err := config.PropertyPaths(data)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		header := "# Property paths of Argo Rollouts' " + kind + " CRD (" + name + "), derived by hack/argo-crd-paths.\n" +
			"# Argo Rollouts is Copyright the Argo Project authors, Apache License 2.0. Regenerate: make argo-crd-paths\n"
		if err := os.WriteFile(filepath.Join(out, strings.ToLower(kind)+".paths"), []byte(header+strings.Join(paths, "\n")+"\n"), 0o644); err != nil {
			return err
		}
	}
	return nil
}
