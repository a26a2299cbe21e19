package rolloutview

import (
	"encoding/json"
	"fmt"
	"io"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// Output formats of --output.
const (
	OutputText = ""
	OutputJSON = "json"
	OutputYAML = "yaml"
)

// CheckOutput validates an --output value.
func CheckOutput(format string) error {
	switch format {
	case OutputText, OutputJSON, OutputYAML:
		return nil
	}
	return fmt.Errorf("--output %q is not supported: use json or yaml (or leave it out for a table)", format)
}

// Object writes one object as JSON (indented) or YAML. A YAML document starts
// with "---" when separate is true, so several can follow each other.
func Object(w io.Writer, format string, obj any, separate bool) error {
	var b []byte
	var err error
	switch format {
	case OutputJSON:
		b, err = json.MarshalIndent(obj, "", "    ")
		b = append(b, '\n')
	case OutputYAML:
		b, err = yaml.Marshal(obj)
		if separate {
			b = append([]byte("---\n"), b...)
		}
	default:
		return CheckOutput(format)
	}
	if err != nil {
		return fmt.Errorf("encode as %s: %w", format, err)
	}
	_, err = w.Write(b)
	return err
}

// Objects writes objects as one kubectl-style list (apiVersion v1, kind List).
func Objects(w io.Writer, format string, items []*unstructured.Unstructured) error {
	list := map[string]any{
		"apiVersion": "v1",
		"kind":       "List",
		"metadata":   map[string]any{"resourceVersion": ""},
	}
	objs := make([]any, len(items))
	for i, u := range items {
		objs[i] = u.Object
	}
	list["items"] = objs
	return Object(w, format, list, false)
}
