package analysis

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
)

// Redacted replaces a secret value wherever it would reach the run's status,
// an event or a log.
const Redacted = "*****"

// secretPlaceholder stands for a secret-backed arg while the run is
// validated and scheduled (no Secret is read for that).
const secretPlaceholder = "temp-for-secret"

// ResolveMetric substitutes args into every string of the metric, as Argo
// does: the metric is encoded as JSON, each {{args.<name>}} tag (blanks inside
// the braces allowed) is replaced by the arg's value escaped as a JSON string,
// and the result is decoded. Every arg must have a value, used or not; a tag
// that names no arg, or an unclosed {{, is an error.
func ResolveMetric(m v1alpha1.Metric, args []v1alpha1.Argument) (v1alpha1.Metric, error) {
	values := make(map[string]string, len(args))
	for _, a := range args {
		if a.Value == nil {
			return v1alpha1.Metric{}, fmt.Errorf("argument %q was not supplied", a.Name)
		}
		quoted, err := json.Marshal(*a.Value)
		if err != nil {
			return v1alpha1.Metric{}, err
		}
		values["args."+a.Name] = string(quoted[1 : len(quoted)-1])
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return v1alpha1.Metric{}, err
	}
	resolved, err := substitute(string(raw), values)
	if err != nil {
		return v1alpha1.Metric{}, err
	}
	var out v1alpha1.Metric
	if err := json.Unmarshal([]byte(resolved), &out); err != nil {
		return v1alpha1.Metric{}, fmt.Errorf("metric %q after substituting args: %w", m.Name, err)
	}
	return out, nil
}

// substitute replaces each {{tag}} of s by values[trimmed tag].
func substitute(s string, values map[string]string) (string, error) {
	var b strings.Builder
	for {
		open := strings.Index(s, "{{")
		if open < 0 {
			b.WriteString(s)
			return b.String(), nil
		}
		end := strings.Index(s[open+2:], "}}")
		if end < 0 {
			return "", fmt.Errorf("cannot find end tag=%q in the template=%q starting from %q", "}}", s, s[open:])
		}
		tag := strings.TrimSpace(s[open+2 : open+2+end])
		v, ok := values[tag]
		if !ok {
			return "", fmt.Errorf("failed to resolve {{%s}}", tag)
		}
		b.WriteString(s[:open])
		b.WriteString(v)
		s = s[open+2+end+2:]
	}
}

// withoutSecrets is args with every secret-backed arg given a placeholder
// value, for validation and scheduling.
func withoutSecrets(args []v1alpha1.Argument) []v1alpha1.Argument {
	out := make([]v1alpha1.Argument, len(args))
	for i, a := range args {
		out[i] = *a.DeepCopy()
		if a.ValueFrom != nil && a.ValueFrom.SecretKeyRef != nil {
			v := secretPlaceholder
			out[i].Value, out[i].ValueFrom = &v, nil
		}
	}
	return out
}

// resolveMetrics substitutes args into every metric.
func resolveMetrics(metrics []v1alpha1.Metric, args []v1alpha1.Argument) ([]v1alpha1.Metric, error) {
	out := make([]v1alpha1.Metric, 0, len(metrics))
	for _, m := range metrics {
		r, err := ResolveMetric(m, args)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// withSecrets reads the Secret of every secret-backed arg (in namespace) and
// returns the args with their values, and the secret values to redact.
func withSecrets(ctx context.Context, r client.Reader, namespace string, args []v1alpha1.Argument) ([]v1alpha1.Argument, []string, error) {
	out := make([]v1alpha1.Argument, len(args))
	var secrets []string
	for i, a := range args {
		out[i] = *a.DeepCopy()
		if a.ValueFrom == nil || a.ValueFrom.SecretKeyRef == nil {
			continue
		}
		ref := a.ValueFrom.SecretKeyRef
		s := &corev1.Secret{}
		if err := r.Get(ctx, types.NamespacedName{Namespace: namespace, Name: ref.Name}, s); err != nil {
			return nil, nil, fmt.Errorf("arg %q: secret %s/%s: %w", a.Name, namespace, ref.Name, err)
		}
		data, ok := s.Data[ref.Key]
		if !ok {
			return nil, nil, fmt.Errorf("key '%s' does not exist in secret '%s'", ref.Key, ref.Name)
		}
		v := string(data)
		out[i].Value, out[i].ValueFrom = &v, nil
		if v != "" && !slices.Contains(secrets, v) {
			secrets = append(secrets, v)
		}
	}
	return out, secrets, nil
}

// redactor hides secret values in text.
type redactor []string

// text returns s with every secret value replaced by Redacted.
func (r redactor) text(s string) string {
	for _, secret := range r {
		s = strings.ReplaceAll(s, secret, Redacted)
	}
	return s
}

// measurement returns m with every secret value hidden in its message, value
// and metadata.
func (r redactor) measurement(m v1alpha1.Measurement) v1alpha1.Measurement {
	if len(r) == 0 {
		return m
	}
	m.Message, m.Value = r.text(m.Message), r.text(m.Value)
	m.Metadata = r.metadata(m.Metadata)
	return m
}

// metadata returns a copy of md with every secret value hidden.
func (r redactor) metadata(md map[string]string) map[string]string {
	if len(r) == 0 || md == nil {
		return md
	}
	out := make(map[string]string, len(md))
	for k, v := range md {
		out[k] = r.text(v)
	}
	return out
}
