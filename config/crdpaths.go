package config

import (
	"fmt"
	"slices"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"sigs.k8s.io/yaml"
)

// PropertyPaths lists the property paths of a CRD manifest's schema (its
// first version), as "spec.strategy.canary.steps[].setWeight": a
// property's name, "[]" for the items of a list and "{}" for the values of a
// map. The paths of x-kubernetes-preserve-unknown-fields objects end there.
// It returns the CRD's kind with them, sorted.
func PropertyPaths(crdYAML []byte) (kind string, paths []string, err error) {
	kind, paths, _, err = schemaPaths(crdYAML)
	return kind, paths, err
}

// schemaPaths is PropertyPaths with the paths whose schema keeps unknown
// fields (x-kubernetes-preserve-unknown-fields: nothing below is pruned).
func schemaPaths(crdYAML []byte) (kind string, paths, preserved []string, err error) {
	crd := &apiextensionsv1.CustomResourceDefinition{}
	if err := yaml.Unmarshal(crdYAML, crd); err != nil {
		return "", nil, nil, fmt.Errorf("not a CustomResourceDefinition: %w", err)
	}
	if len(crd.Spec.Versions) == 0 || crd.Spec.Versions[0].Schema == nil || crd.Spec.Versions[0].Schema.OpenAPIV3Schema == nil {
		return "", nil, nil, fmt.Errorf("CRD %s has no schema", crd.Name)
	}
	w := &pathWalker{}
	w.walk(crd.Spec.Versions[0].Schema.OpenAPIV3Schema, "")
	slices.Sort(w.paths)
	return crd.Spec.Names.Kind, slices.Compact(w.paths), w.preserved, nil
}

type pathWalker struct{ paths, preserved []string }

func (w *pathWalker) walk(s *apiextensionsv1.JSONSchemaProps, prefix string) {
	if s.XPreserveUnknownFields != nil && *s.XPreserveUnknownFields {
		w.preserved = append(w.preserved, prefix)
	}
	for name, p := range s.Properties {
		path := name
		if prefix != "" {
			path = prefix + "." + name
		}
		w.paths = append(w.paths, path)
		w.walk(&p, path)
	}
	if s.Items != nil && s.Items.Schema != nil {
		w.walk(s.Items.Schema, prefix+"[]")
	}
	if s.AdditionalProperties != nil && s.AdditionalProperties.Schema != nil {
		w.walk(s.AdditionalProperties.Schema, prefix+"{}")
	}
}
