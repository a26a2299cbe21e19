package localcluster

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/albrollouts/albrollouts/config"
)

// readCRDs loads every CustomResourceDefinition in the YAML files (*.yaml,
// *.yml, multi-document) under dirs, recursively. Missing directories are
// skipped: another part of the project may not have written its CRDs yet.
// Documents of other kinds are ignored.
func readCRDs(dirs []string) ([]*apiextensionsv1.CustomResourceDefinition, error) {
	var crds []*apiextensionsv1.CustomResourceDefinition
	for _, dir := range dirs {
		if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
			continue
		}
		var files []string
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && (strings.HasSuffix(path, ".yaml") || strings.HasSuffix(path, ".yml")) {
				files = append(files, path)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("read CRD directory %s: %w", dir, err)
		}
		sort.Strings(files)
		for _, f := range files {
			got, err := crdsInFile(f)
			if err != nil {
				return nil, err
			}
			crds = append(crds, got...)
		}
	}
	return crds, nil
}

func crdsInFile(path string) ([]*apiextensionsv1.CustomResourceDefinition, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read CRD file: %w", err)
	}
	return crdsInYAML(path, data)
}

// embeddedCRDs are the CRDs the binary carries (package config): the Rollout CRD, the
// CRDs of Argo's Experiment, AnalysisRun, AnalysisTemplate and ClusterAnalysisTemplate,
// and the TargetGroupBinding CRD the local environment needs.
func embeddedCRDs() ([]*apiextensionsv1.CustomResourceDefinition, error) {
	var crds []*apiextensionsv1.CustomResourceDefinition
	for _, f := range append(config.RolloutCRDs(), config.ExternalCRDs()...) {
		got, err := crdsInYAML("embedded config/"+f.Path, f.Data)
		if err != nil {
			return nil, err
		}
		crds = append(crds, got...)
	}
	return crds, nil
}

// crdsInYAML parses the CustomResourceDefinitions of a (multi-document) YAML file;
// path names it in errors. Documents of other kinds are ignored.
func crdsInYAML(path string, data []byte) ([]*apiextensionsv1.CustomResourceDefinition, error) {
	var crds []*apiextensionsv1.CustomResourceDefinition
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return crds, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", path, err)
		}
		var meta struct{ APIVersion, Kind string }
		if err := yaml.Unmarshal(doc, &meta); err != nil {
			return nil, fmt.Errorf("parse %s: %w", path, err)
		}
		if meta.Kind != "CustomResourceDefinition" {
			continue
		}
		if meta.APIVersion != apiextensionsv1.SchemeGroupVersion.String() {
			return nil, fmt.Errorf("%s: CustomResourceDefinition must be %s, not %q", path, apiextensionsv1.SchemeGroupVersion, meta.APIVersion)
		}
		crd := &apiextensionsv1.CustomResourceDefinition{}
		if err := yaml.UnmarshalStrict(doc, crd); err != nil {
			return nil, fmt.Errorf("parse CustomResourceDefinition in %s: %w", path, err)
		}
		crds = append(crds, crd)
	}
}

// installCRDs creates (or updates) the CRDs and waits until the API server
// serves every one of them.
func installCRDs(ctx context.Context, c client.Client, crds []*apiextensionsv1.CustomResourceDefinition) error {
	for _, crd := range crds {
		err := c.Create(ctx, crd)
		if apierrors.IsAlreadyExists(err) {
			existing := &apiextensionsv1.CustomResourceDefinition{}
			if err = c.Get(ctx, client.ObjectKeyFromObject(crd), existing); err == nil {
				crd.ResourceVersion = existing.ResourceVersion
				err = c.Update(ctx, crd)
			}
		}
		if err != nil {
			return fmt.Errorf("install CRD %s: %w", crd.Name, err)
		}
	}
	for _, crd := range crds {
		if err := waitEstablished(ctx, c, crd.Name); err != nil {
			return err
		}
	}
	return nil
}

func waitEstablished(ctx context.Context, c client.Client, name string) error {
	var last *apiextensionsv1.CustomResourceDefinition
	var getErr error
	err := wait.PollUntilContextCancel(ctx, 50*time.Millisecond, true, func(context.Context) (bool, error) {
		crd := &apiextensionsv1.CustomResourceDefinition{}
		// Errors are retried: the API server may still be settling. The last one is
		// reported if the deadline passes.
		if getErr = c.Get(ctx, client.ObjectKey{Name: name}, crd); getErr != nil {
			return false, nil
		}
		last = crd
		for _, cond := range crd.Status.Conditions {
			if cond.Type == apiextensionsv1.Established && cond.Status == apiextensionsv1.ConditionTrue {
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		if getErr != nil {
			return fmt.Errorf("CRD %s not Established: %w (last error: %v)", name, err, getErr)
		}
		return fmt.Errorf("CRD %s not Established: %w (conditions: %s)", name, err, crdConditions(last))
	}
	return nil
}

func crdConditions(crd *apiextensionsv1.CustomResourceDefinition) string {
	if crd == nil {
		return "never read"
	}
	var parts []string
	for _, c := range crd.Status.Conditions {
		parts = append(parts, fmt.Sprintf("%s=%s %s", c.Type, c.Status, c.Message))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, "; ")
}

// crdScheme is the scheme of the client that installs CRDs.
func crdScheme() (*runtime.Scheme, error) {
	s := runtime.NewScheme()
	if err := apiextensionsv1.AddToScheme(s); err != nil {
		return nil, fmt.Errorf("build scheme: %w", err)
	}
	return s, nil
}
