package analysis

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
)

// FieldValue reads a valueFrom.fieldRef path from the Rollout, as Argo does:
// a metadata path as the downward API reads it (metadata.name,
// metadata.namespace, metadata.uid, metadata.labels['k'],
// metadata.annotations['k']; a missing label or annotation is ""), any other
// path by walking the Rollout's JSON on '.', '[' and ']' (a number indexes a
// list), to a value that is neither an object nor a list. A path that does
// not resolve (status.alb before the load balancer is known, say) is an error.
func FieldValue(ro *v1alpha1.Rollout, path string) (string, error) {
	if strings.HasPrefix(path, "metadata") {
		return metadataField(ro, path)
	}
	raw, err := json.Marshal(ro)
	if err != nil {
		return "", err
	}
	var cur any
	if err := json.Unmarshal(raw, &cur); err != nil {
		return "", err
	}
	for _, seg := range strings.FieldsFunc(path, func(r rune) bool { return r == '.' || r == '[' || r == ']' }) {
		switch v := cur.(type) {
		case map[string]any:
			next, ok := v[seg]
			if !ok {
				return "", fmt.Errorf("invalid path %s in rollout", path)
			}
			cur = next
		case []any:
			i, err := strconv.Atoi(seg)
			if err != nil || i < 0 || i >= len(v) {
				return "", fmt.Errorf("invalid path %s in rollout", path)
			}
			cur = v[i]
		default:
			return "", fmt.Errorf("invalid path %s in rollout", path)
		}
	}
	switch cur.(type) {
	case map[string]any, []any, nil:
		return "", fmt.Errorf("path %s in rollout must terminate in a primitive value", path)
	}
	return fmt.Sprintf("%v", cur), nil
}

// metadataField is a downward-API metadata path of the Rollout.
func metadataField(ro *v1alpha1.Rollout, path string) (string, error) {
	if key, ok := subscript(path, "metadata.labels"); ok {
		return ro.Labels[key], nil
	}
	if key, ok := subscript(path, "metadata.annotations"); ok {
		return ro.Annotations[key], nil
	}
	switch path {
	case "metadata.name":
		return ro.Name, nil
	case "metadata.namespace":
		return ro.Namespace, nil
	case "metadata.uid":
		return string(ro.UID), nil
	case "metadata.labels":
		return formatMap(ro.Labels), nil
	case "metadata.annotations":
		return formatMap(ro.Annotations), nil
	}
	return "", fmt.Errorf("unsupported fieldPath %s: use metadata.name, metadata.namespace, metadata.uid, metadata.labels['<key>'] or metadata.annotations['<key>']", path)
}

// subscript parses prefix['key'] (or prefix["key"]).
func subscript(path, prefix string) (string, bool) {
	rest, ok := strings.CutPrefix(path, prefix+"[")
	if !ok || !strings.HasSuffix(rest, "]") || len(rest) < 3 {
		return "", false
	}
	key := rest[:len(rest)-1]
	if q := key[0]; (q == '\'' || q == '"') && key[len(key)-1] == q {
		return key[1 : len(key)-1], true
	}
	return "", false
}

// formatMap renders a map as the downward API does: key="value" lines, sorted.
func formatMap(m map[string]string) string {
	lines := make([]string, 0, len(m))
	for k, v := range m {
		lines = append(lines, fmt.Sprintf("%s=%q", k, v))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}
