package analysis

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"strconv"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
)

// RunKind is what a Rollout's AnalysisRun gates (its rollout-type label).
type RunKind string

// The kinds of run a Rollout makes, as Argo Rollouts labels them.
const (
	RunStep          RunKind = "Step"
	RunBackground    RunKind = "Background"
	RunPrePromotion  RunKind = "PrePromotion"
	RunPostPromotion RunKind = "PostPromotion"
)

// Labels and annotations of a Rollout's runs (Argo Rollouts' keys).
const (
	LabelRolloutType   = "rollout-type"
	LabelStepIndex     = "step-index"
	LabelPodHash       = "rollouts-pod-template-hash"
	LabelInstanceID    = "argo-rollouts.argoproj.io/controller-instance-id"
	RevisionAnnotation = "rollout.argoproj.io/revision"
)

// RunFor is one AnalysisRun a Rollout asks for.
type RunFor struct {
	Rollout  *v1alpha1.Rollout
	Analysis *v1alpha1.RolloutAnalysis
	Kind     RunKind
	// Step is the step index (Step runs only).
	Step int32
	// NewHash and StableHash are the pod-template hashes of the new and
	// the stable ReplicaSet; Revision is the rollout's revision.
	NewHash, StableHash, Revision string
}

// RunName is the run's name as Argo Rollouts makes it:
// <rollout>-<hash>-<revision>[-<step>|-pre|-post].
func RunName(f RunFor) string {
	name := fmt.Sprintf("%s-%s-%s", f.Rollout.Name, f.NewHash, f.Revision)
	switch f.Kind {
	case RunStep:
		name += "-" + strconv.Itoa(int(f.Step))
	case RunPrePromotion:
		name += "-pre"
	case RunPostPromotion:
		name += "-post"
	}
	return name
}

// BuildRun builds the AnalysisRun a Rollout asks for: the referenced
// templates (and the templates they reference) merged, the Rollout's args
// resolved and merged into the templates' declared args, named, labelled
// and owned as Argo Rollouts does. A missing template, two metrics of one
// name, conflicting or unresolved args, or (outside background analysis) a
// metric that would run for ever are errors for the Rollout's condition.
func BuildRun(ctx context.Context, r client.Reader, f RunFor) (*v1alpha1.AnalysisRun, error) {
	ro := f.Rollout
	if f.Analysis == nil || len(f.Analysis.Templates) == 0 {
		return nil, fmt.Errorf("the %s analysis names no template", strings.ToLower(string(f.Kind)))
	}
	merged, err := mergeTemplates(ctx, r, ro.Namespace, f.Analysis.Templates)
	if err != nil {
		return nil, err
	}
	rolloutArgs, err := rolloutArgs(ro, f)
	if err != nil {
		return nil, err
	}
	args, err := mergeArgs(merged.Args, rolloutArgs)
	if err != nil {
		return nil, err
	}
	dryRun := append(append([]v1alpha1.DryRun{}, f.Analysis.DryRun...), merged.DryRun...)
	retention := append(append([]v1alpha1.MeasurementRetention{}, f.Analysis.MeasurementRetention...), merged.MeasurementRetention...)
	if err := uniqueRules(dryRun, retention); err != nil {
		return nil, err
	}
	if f.Kind != RunBackground {
		for _, m := range merged.Metrics {
			if unbounded(m) {
				return nil, fmt.Errorf("metric %q runs indefinitely (an interval without a count): only background analysis (canary.analysis) may; set count", m.Name)
			}
		}
	}
	labels := map[string]string{LabelPodHash: f.NewHash, LabelRolloutType: string(f.Kind)}
	if f.Kind == RunStep {
		labels[LabelStepIndex] = strconv.Itoa(int(f.Step))
	}
	if id, ok := ro.Labels[LabelInstanceID]; ok {
		labels[LabelInstanceID] = id
	}
	annotations := map[string]string{RevisionAnnotation: f.Revision}
	if md := f.Analysis.AnalysisRunMetadata; md != nil {
		maps.Copy(labels, md.Labels)
		maps.Copy(annotations, md.Annotations)
	}
	if ro.Spec.Selector != nil {
		maps.Copy(labels, ro.Spec.Selector.MatchLabels)
	}
	yes := true
	return &v1alpha1.AnalysisRun{
		TypeMeta: metav1.TypeMeta{APIVersion: v1alpha1.GroupVersion.String(), Kind: "AnalysisRun"},
		ObjectMeta: metav1.ObjectMeta{
			Name: RunName(f), Namespace: ro.Namespace, Labels: labels, Annotations: annotations,
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: v1alpha1.GroupVersion.String(), Kind: "Rollout", Name: ro.Name, UID: ro.UID,
				Controller: &yes, BlockOwnerDeletion: &yes,
			}},
		},
		Spec: v1alpha1.AnalysisRunSpec{Metrics: merged.Metrics, Args: args, DryRun: dryRun, MeasurementRetention: retention},
	}, nil
}

// unbounded reports whether a metric measures without end: an interval
// and no count.
func unbounded(m v1alpha1.Metric) bool {
	if m.Interval == "" {
		return false
	}
	return m.Count == nil || (m.Count.Type == intstr.Int && m.Count.IntVal == 0) || (m.Count.Type == intstr.String && m.Count.StrVal == "")
}

// mergeTemplates reads the referenced templates, following the templates
// they reference in turn (each once), and flattens them: the metrics of the
// namespaced templates first, then those of the cluster templates, in the
// order found; args merged by name.
func mergeTemplates(ctx context.Context, r client.Reader, ns string, refs []v1alpha1.AnalysisTemplateRef) (v1alpha1.AnalysisTemplateSpec, error) {
	var namespaced, cluster []v1alpha1.AnalysisTemplateSpec
	seen := map[string]bool{}
	queue := append([]v1alpha1.AnalysisTemplateRef{}, refs...)
	for len(queue) > 0 {
		ref := queue[0]
		queue = queue[1:]
		key := fmt.Sprintf("%t/%s", ref.IsClusterScope(), ref.TemplateName)
		if seen[key] {
			continue
		}
		seen[key] = true
		spec, err := readTemplate(ctx, r, ns, ref)
		if err != nil {
			return v1alpha1.AnalysisTemplateSpec{}, err
		}
		if ref.IsClusterScope() {
			cluster = append(cluster, spec)
		} else {
			namespaced = append(namespaced, spec)
		}
		queue = append(queue, spec.Templates...)
	}
	var out v1alpha1.AnalysisTemplateSpec
	names := map[string]bool{}
	for _, t := range append(namespaced, cluster...) {
		for _, m := range t.Metrics {
			if names[m.Name] {
				return out, fmt.Errorf("two metrics have the same name %q (metric names must be unique across the templates an analysis names)", m.Name)
			}
			names[m.Name] = true
			out.Metrics = append(out.Metrics, m)
		}
		var err error
		if out.Args, err = mergeTemplateArgs(out.Args, t.Args); err != nil {
			return out, err
		}
		out.DryRun = append(out.DryRun, t.DryRun...)
		out.MeasurementRetention = append(out.MeasurementRetention, t.MeasurementRetention...)
	}
	return out, nil
}

func readTemplate(ctx context.Context, r client.Reader, ns string, ref v1alpha1.AnalysisTemplateRef) (v1alpha1.AnalysisTemplateSpec, error) {
	if ref.IsClusterScope() {
		var t v1alpha1.ClusterAnalysisTemplate
		if err := r.Get(ctx, client.ObjectKey{Name: ref.TemplateName}, &t); err != nil {
			return v1alpha1.AnalysisTemplateSpec{}, templateError("ClusterAnalysisTemplate "+ref.TemplateName, err)
		}
		return t.Spec, nil
	}
	var t v1alpha1.AnalysisTemplate
	if err := r.Get(ctx, client.ObjectKey{Namespace: ns, Name: ref.TemplateName}, &t); err != nil {
		return v1alpha1.AnalysisTemplateSpec{}, templateError(fmt.Sprintf("AnalysisTemplate %s/%s", ns, ref.TemplateName), err)
	}
	return t.Spec, nil
}

func templateError(what string, err error) error {
	if apierrors.IsNotFound(err) {
		return fmt.Errorf("%s not found: create it, or fix the name (clusterScope: true names a ClusterAnalysisTemplate)", what)
	}
	return fmt.Errorf("reading %s: %w", what, err)
}

// mergeTemplateArgs merges the args of another template by name: two
// values that differ are an error; a value fills an arg declared without.
func mergeTemplateArgs(into, more []v1alpha1.Argument) ([]v1alpha1.Argument, error) {
	for _, a := range more {
		i := argIndex(into, a.Name)
		switch {
		case i < 0:
			into = append(into, a)
		case into[i].Value != nil && a.Value != nil && *into[i].Value != *a.Value:
			return nil, fmt.Errorf("two templates give arg %q different values (%q and %q)", a.Name, *into[i].Value, *a.Value)
		case into[i].Value == nil && into[i].ValueFrom == nil:
			into[i] = a
		}
	}
	return into, nil
}

func argIndex(args []v1alpha1.Argument, name string) int {
	for i := range args {
		if args[i].Name == name {
			return i
		}
	}
	return -1
}

// mergeArgs sets the templates' declared args from the Rollout's (an arg
// the templates do not declare is dropped, as in Argo Rollouts); every
// declared arg must then have a value or a valueFrom.
func mergeArgs(declared, given []v1alpha1.Argument) ([]v1alpha1.Argument, error) {
	out := make([]v1alpha1.Argument, len(declared))
	copy(out, declared)
	for _, g := range given {
		if i := argIndex(out, g.Name); i >= 0 {
			out[i].Value = g.Value
		}
	}
	for _, a := range out {
		if a.Value == nil && a.ValueFrom == nil {
			return nil, fmt.Errorf("args.%s was not resolved: the template declares it without a value; give it in the rollout's analysis args", a.Name)
		}
	}
	return out, nil
}

func uniqueRules(dry []v1alpha1.DryRun, ret []v1alpha1.MeasurementRetention) error {
	seen := map[string]bool{}
	for _, d := range dry {
		if seen[d.MetricName] {
			return fmt.Errorf("dryRun names metric %q twice", d.MetricName)
		}
		seen[d.MetricName] = true
	}
	seen = map[string]bool{}
	for _, m := range ret {
		if seen[m.MetricName] {
			return fmt.Errorf("measurementRetention names metric %q twice", m.MetricName)
		}
		seen[m.MetricName] = true
	}
	return nil
}

// rolloutArgs resolves the Rollout's args: a value, the hash of the stable
// or the latest ReplicaSet, or a field of the Rollout.
func rolloutArgs(ro *v1alpha1.Rollout, f RunFor) ([]v1alpha1.Argument, error) {
	var out []v1alpha1.Argument
	for _, a := range f.Analysis.Args {
		v := a.Value
		if vf := a.ValueFrom; vf != nil {
			switch {
			case vf.PodTemplateHashValue != nil && *vf.PodTemplateHashValue == v1alpha1.Stable:
				v = f.StableHash
			case vf.PodTemplateHashValue != nil && *vf.PodTemplateHashValue == v1alpha1.Latest:
				v = f.NewHash
			case vf.PodTemplateHashValue != nil:
				return nil, fmt.Errorf("arg %q: podTemplateHashValue %q is neither Stable nor Latest", a.Name, *vf.PodTemplateHashValue)
			case vf.FieldRef != nil:
				s, err := FieldOf(ro, vf.FieldRef.FieldPath)
				if err != nil {
					return nil, fmt.Errorf("arg %q: %w", a.Name, err)
				}
				v = s
			}
		}
		out = append(out, v1alpha1.Argument{Name: a.Name, Value: &v})
	}
	return out, nil
}

var metadataKey = regexp.MustCompile(`^metadata\.(labels|annotations)\['([^']*)'\]$`)

// FieldOf reads a field of the Rollout by path: metadata.name, .namespace,
// .uid, metadata.labels['k'] and metadata.annotations['k'] (a missing key
// is ""), or any path to a scalar of the Rollout's JSON (status.alb.
// canaryTargetGroup.fullName, spec.template.metadata.labels.version,
// status.albs[0].loadBalancer.name).
func FieldOf(ro *v1alpha1.Rollout, path string) (string, error) {
	switch path {
	case "metadata.name":
		return ro.Name, nil
	case "metadata.namespace":
		return ro.Namespace, nil
	case "metadata.uid":
		return string(ro.UID), nil
	}
	if m := metadataKey.FindStringSubmatch(path); m != nil {
		if m[1] == "labels" {
			return ro.Labels[m[2]], nil
		}
		return ro.Annotations[m[2]], nil
	}
	raw, err := json.Marshal(ro)
	if err != nil {
		return "", err
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return "", err
	}
	for _, seg := range strings.FieldsFunc(path, func(r rune) bool { return r == '.' || r == '[' || r == ']' }) {
		switch x := v.(type) {
		case map[string]any:
			next, ok := x[seg]
			if !ok {
				return "", fmt.Errorf("invalid path %s in rollout: %q is not set (yet)", path, seg)
			}
			v = next
		case []any:
			i, err := strconv.Atoi(seg)
			if err != nil || i < 0 || i >= len(x) {
				return "", fmt.Errorf("invalid path %s in rollout: no element %q", path, seg)
			}
			v = x[i]
		default:
			return "", fmt.Errorf("invalid path %s in rollout: %q is below a value", path, seg)
		}
	}
	switch v.(type) {
	case map[string]any, []any, nil:
		return "", fmt.Errorf("path %s in rollout must terminate in a primitive value", path)
	}
	return fmt.Sprintf("%v", v), nil
}
