// Command crd-quantities rewrites, in CRD files controller-gen generated, the
// schema of every resource.Quantity so that it accepts a JSON number as well
// as a quantity string. `make generate` runs it after controller-gen:
//
//	go run ./hack/crd-quantities config/crd/bases/argoproj.io_rollouts.yaml
//
// controller-gen gives a Quantity the schema int-or-string (anyOf integer,
// string; x-kubernetes-int-or-string; the quantity pattern). The API server
// reads x-kubernetes-int-or-string as type [integer, string], so it rejects
// `cpu: 0.001`, which kubectl sends as a JSON number. Argo Rollouts' CRD
// accepts it (it keeps unknown fields in requests and limits), and
// resource.Quantity decodes a number. A structural schema cannot say "number
// or string" with types, so each Quantity becomes a schema without a type
// that keeps what it gets (x-kubernetes-preserve-unknown-fields) and rejects,
// by value validations that only apply to their own kind of value, what is
// not a number or a quantity string:
//
//	pattern                      a string must be a quantity
//	minProperties 1 + maxProperties 0   no object
//	minItems 1 + maxItems 0             no array
//	not: {enum: [true, false]}          no boolean
//
// A value the controller could not decode would stall its Rollout cache, so
// these stay as strict as the schema language allows.
package main

import (
	"bytes"
	"fmt"
	"os"
	"reflect"

	"sigs.k8s.io/yaml"
)

// quantityPattern is the pattern controller-gen gives resource.Quantity.
const quantityPattern = `^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$`

// docStart is the document start controller-gen writes.
const docStart = "---\n"

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: crd-quantities CRD.yaml...")
		os.Exit(2)
	}
	for _, path := range os.Args[1:] {
		if err := rewrite(path); err != nil {
			fmt.Fprintln(os.Stderr, "crd-quantities:", err)
			os.Exit(1)
		}
	}
}

func rewrite(path string) error {
	in, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var doc map[string]any
	if err := yaml.Unmarshal(in, &doc); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	n := walk(doc)
	if n == 0 {
		return fmt.Errorf("%s: no int-or-string Quantity schema: run it on controller-gen's output (did controller-gen change how it writes resource.Quantity?)", path)
	}
	out, err := yaml.Marshal(doc)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if bytes.HasPrefix(in, []byte(docStart)) {
		out = append([]byte(docStart), out...)
	}
	return os.WriteFile(path, out, 0o644)
}

// walk replaces every Quantity schema under v and returns how many it replaced.
func walk(v any) int {
	n := 0
	switch x := v.(type) {
	case map[string]any:
		for k, child := range x {
			if m, ok := child.(map[string]any); ok && isQuantity(m) {
				x[k] = numberOrQuantity()
				n++
				continue
			}
			n += walk(child)
		}
	case []any:
		for _, child := range x {
			n += walk(child)
		}
	}
	return n
}

// isQuantity reports whether a schema is controller-gen's resource.Quantity.
func isQuantity(m map[string]any) bool {
	want := map[string]any{
		"anyOf":                      []any{map[string]any{"type": "integer"}, map[string]any{"type": "string"}},
		"pattern":                    quantityPattern,
		"x-kubernetes-int-or-string": true,
	}
	return reflect.DeepEqual(m, want)
}

// numberOrQuantity is the schema of a Quantity written as a number or a string.
func numberOrQuantity() map[string]any {
	return map[string]any{
		"pattern":                              quantityPattern,
		"minProperties":                        1,
		"maxProperties":                        0,
		"minItems":                             1,
		"maxItems":                             0,
		"not":                                  map[string]any{"enum": []any{true, false}},
		"x-kubernetes-preserve-unknown-fields": true,
	}
}
