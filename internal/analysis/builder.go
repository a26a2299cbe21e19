package analysis

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
)

// RunKind is why a Rollout runs an analysis (the rollout-type label).
type RunKind string

// The kinds of analysis of a Rollout.
const (
	KindStep          RunKind = "Step"
	KindBackground    RunKind = "Background"
	KindPrePromotion  RunKind = "PrePromotion"
	KindPostPromotion RunKind = "PostPromotion"
)

// Labels and annotations of the runs a Rollout creates (Argo's keys).
const (
	PodTemplateHashLabel = "rollouts-pod-template-hash"
	RolloutTypeLabel     = "rollout-type"
	StepIndexLabel       = "step-index"
	RevisionAnnotation   = "rollout.argoproj.io/revision"
)

// RunRequest is what the rollout controller knows when an analysis is due.
type RunRequest struct {
	// Rollout is the Rollout (its name, namespace, UID, selector, revision
	// annotation, labels; fieldRef args read it).
	Rollout *v1alpha1.Rollout
	// Analysis is the step's analysis, canary.analysis, or the blue-green
	// pre- or post-promotion analysis.
	Analysis v1alpha1.RolloutAnalysis
	// Kind is Step, Background, PrePromotion or PostPromotion.
	Kind RunKind
	// PodTemplateHash is the new ReplicaSet's hash (the run's name and
	// label; podTemplateHashValue: Latest).
	PodTemplateHash string
	// StableHash is the stable ReplicaSet's hash (podTemplateHashValue: Stable).
	StableHash string
	// Revision is the Rollout's revision; empty: its rollout.argoproj.io/revision annotation.
	Revision string
	// StepIndex is the index of the canary step (Step only).
	StepIndex *int32
}

// RunName is Argo's name of a Rollout's run:
// <rollout>-<hash>-<revision>, then -<step index> (Step), -pre or -post.
// Argo adds .1, .2, ... when that name is taken by a run that cannot be
// reused (see CollisionName).
func RunName(rollout, hash, revision string, kind RunKind, step *int32) string {
	parts := []string{rollout, hash, revision}
	switch kind {
	case KindStep:
		if step != nil {
			parts = append(parts, strconv.Itoa(int(*step)))
		}
	case KindPrePromotion:
		parts = append(parts, "pre")
	case KindPostPromotion:
		parts = append(parts, "post")
	}
	return strings.Join(parts, "-")
}

// CollisionName is the n-th name after name for a run that collides (n >= 1).
func CollisionName(name string, n int) string { return fmt.Sprintf("%s.%d", name, n) }

// BuildRun builds the AnalysisRun of a Rollout's analysis, as Argo builds
// it: the referenced templates (and the templates they reference) read from
// the Rollout's namespace or the cluster, their metrics merged (namespaced
// templates' first, a metric name twice is an error), their args merged and
// given the Rollout's values, dryRun and measurementRetention rules joined
// (the Rollout's first); named by RunName, labelled with the pod-template
// hash, rollout type, step index, the Rollout's instance id, the analysis's
// analysisRunMetadata and the Rollout's selector labels; annotated with the
// revision; controlled by the Rollout. The run is not created. An error
// (a template missing, an arg without a value, a fieldRef that does not
// resolve yet) says which, for the Rollout's condition.
func BuildRun(ctx context.Context, r client.Reader, req RunRequest) (*v1alpha1.AnalysisRun, error) {
	ro := req.Rollout
	if ro == nil {
		return nil, errors.New("no rollout")
	}
	if len(req.Analysis.Templates) == 0 {
		return nil, errors.New("the analysis names no template")
	}
	revision := req.Revision
	if revision == "" {
		revision = ro.Annotations[RevisionAnnotation]
	}
	tpl, err := collectTemplates(ctx, r, ro.Namespace, req.Analysis.Templates)
	if err != nil {
		return nil, err
	}
	spec, err := mergeTemplates(tpl)
	if err != nil {
		return nil, err
	}
	rolloutArgs, err := RolloutArgs(req.Analysis.Args, ro, req.PodTemplateHash, req.StableHash)
	if err != nil {
		return nil, err
	}
	args, err := MergeArgs(rolloutArgs, spec.Args)
	if err != nil {
		return nil, err
	}
	dryRun, err := joinRules(req.Analysis.DryRun, spec.DryRun, func(d v1alpha1.DryRun) string { return d.MetricName }, "dryRun")
	if err != nil {
		return nil, err
	}
	retention, err := joinRules(req.Analysis.MeasurementRetention, spec.MeasurementRetention, func(m v1alpha1.MeasurementRetention) string { return m.MetricName }, "measurementRetention")
	if err != nil {
		return nil, err
	}
	return &v1alpha1.AnalysisRun{
		TypeMeta: metav1.TypeMeta{APIVersion: v1alpha1.GroupVersion.String(), Kind: "AnalysisRun"},
		ObjectMeta: metav1.ObjectMeta{
			Name:            RunName(ro.Name, req.PodTemplateHash, revision, req.Kind, req.StepIndex),
			Namespace:       ro.Namespace,
			Labels:          runLabels(req),
			Annotations:     runAnnotations(req.Analysis, revision),
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(ro, v1alpha1.GroupVersion.WithKind(v1alpha1.Kind))},
		},
		Spec: v1alpha1.AnalysisRunSpec{Metrics: spec.Metrics, Args: args, DryRun: dryRun, MeasurementRetention: retention},
	}, nil
}

// runLabels are the run's labels, later ones winning.
func runLabels(req RunRequest) map[string]string {
	labels := map[string]string{PodTemplateHashLabel: req.PodTemplateHash, RolloutTypeLabel: string(req.Kind)}
	if req.Kind == KindStep && req.StepIndex != nil {
		labels[StepIndexLabel] = strconv.Itoa(int(*req.StepIndex))
	}
	if id, ok := req.Rollout.Labels[InstanceIDLabel]; ok {
		labels[InstanceIDLabel] = id
	}
	if md := req.Analysis.AnalysisRunMetadata; md != nil {
		for k, v := range md.Labels {
			labels[k] = v
		}
	}
	if sel := req.Rollout.Spec.Selector; sel != nil {
		for k, v := range sel.MatchLabels {
			labels[k] = v
		}
	}
	return labels
}

// runAnnotations are the revision, then analysisRunMetadata's annotations.
func runAnnotations(a v1alpha1.RolloutAnalysis, revision string) map[string]string {
	ann := map[string]string{RevisionAnnotation: revision}
	if md := a.AnalysisRunMetadata; md != nil {
		for k, v := range md.Annotations {
			ann[k] = v
		}
	}
	return ann
}

// template is one template found, with where it came from.
type template struct {
	cluster bool
	name    string
	spec    v1alpha1.AnalysisTemplateSpec
}

// collectTemplates reads the referenced templates and, depth first, the
// templates they reference; a template already read is skipped.
func collectTemplates(ctx context.Context, r client.Reader, namespace string, refs []v1alpha1.AnalysisTemplateRef) ([]template, error) {
	var out []template
	seen := map[string]bool{}
	var walk func([]v1alpha1.AnalysisTemplateRef) error
	walk = func(refs []v1alpha1.AnalysisTemplateRef) error {
		for _, ref := range refs {
			key := strconv.FormatBool(ref.IsClusterScope()) + "/" + ref.TemplateName
			if seen[key] {
				continue
			}
			seen[key] = true
			t, err := getTemplate(ctx, r, namespace, ref)
			if err != nil {
				return err
			}
			out = append(out, t)
			if err := walk(t.spec.Templates); err != nil {
				return err
			}
		}
		return nil
	}
	return out, walk(refs)
}

// getTemplate reads one referenced template.
func getTemplate(ctx context.Context, r client.Reader, namespace string, ref v1alpha1.AnalysisTemplateRef) (template, error) {
	if ref.TemplateName == "" {
		return template{}, errors.New("a template reference has no templateName")
	}
	if ref.IsClusterScope() {
		ct := &v1alpha1.ClusterAnalysisTemplate{}
		if err := r.Get(ctx, types.NamespacedName{Name: ref.TemplateName}, ct); err != nil {
			if apierrors.IsNotFound(err) {
				return template{}, fmt.Errorf("ClusterAnalysisTemplate '%s' not found", ref.TemplateName)
			}
			return template{}, fmt.Errorf("reading ClusterAnalysisTemplate '%s': %w", ref.TemplateName, err)
		}
		return template{cluster: true, name: ct.Name, spec: ct.Spec}, nil
	}
	at := &v1alpha1.AnalysisTemplate{}
	if err := r.Get(ctx, types.NamespacedName{Namespace: namespace, Name: ref.TemplateName}, at); err != nil {
		if apierrors.IsNotFound(err) {
			return template{}, fmt.Errorf("AnalysisTemplate '%s' not found in namespace %s", ref.TemplateName, namespace)
		}
		return template{}, fmt.Errorf("reading AnalysisTemplate %s/%s: %w", namespace, ref.TemplateName, err)
	}
	return template{name: at.Name, spec: at.Spec}, nil
}

// mergeTemplates joins the templates: the metrics of the namespaced ones,
// then the cluster ones'; args merged by name; dryRun and retention rules
// joined. A metric name twice, or an arg with two different values, is an
// error.
func mergeTemplates(ts []template) (v1alpha1.AnalysisTemplateSpec, error) {
	var out v1alpha1.AnalysisTemplateSpec
	names := map[string]bool{}
	for _, cluster := range []bool{false, true} {
		for _, t := range ts {
			if t.cluster != cluster {
				continue
			}
			for _, m := range t.spec.Metrics {
				if names[m.Name] {
					return out, fmt.Errorf("two metrics have the same name '%s'", m.Name)
				}
				names[m.Name] = true
				out.Metrics = append(out.Metrics, *m.DeepCopy())
			}
			out.DryRun = append(out.DryRun, t.spec.DryRun...)
			out.MeasurementRetention = append(out.MeasurementRetention, t.spec.MeasurementRetention...)
			var err error
			if out.Args, err = mergeTemplateArgs(out.Args, t.spec.Args); err != nil {
				return out, err
			}
		}
	}
	return out, nil
}

// mergeTemplateArgs adds the args of one template to those of the others:
// an arg without a value takes a later one's value; two values that differ
// are an error.
func mergeTemplateArgs(have, add []v1alpha1.Argument) ([]v1alpha1.Argument, error) {
	for _, a := range add {
		i := indexArg(have, a.Name)
		switch {
		case i < 0:
			have = append(have, *a.DeepCopy())
		case have[i].Value == nil && a.Value != nil:
			have[i] = *a.DeepCopy()
		case have[i].Value != nil && a.Value != nil && *have[i].Value != *a.Value:
			return nil, fmt.Errorf("arguments of templates conflict: '%s' is both '%s' and '%s'", a.Name, *have[i].Value, *a.Value)
		}
	}
	return have, nil
}

func indexArg(args []v1alpha1.Argument, name string) int {
	for i, a := range args {
		if a.Name == name {
			return i
		}
	}
	return -1
}

// MergeArgs gives the templates' args the Rollout's values: an arg the
// templates declare takes the Rollout's value of the same name (a
// valueFrom of the template stays); the Rollout's other args are dropped;
// an arg left with neither value nor valueFrom is an error.
func MergeArgs(rolloutArgs, templateArgs []v1alpha1.Argument) ([]v1alpha1.Argument, error) {
	out := make([]v1alpha1.Argument, len(templateArgs))
	for i, a := range templateArgs {
		out[i] = *a.DeepCopy()
		if j := indexArg(rolloutArgs, a.Name); j >= 0 && rolloutArgs[j].Value != nil {
			v := *rolloutArgs[j].Value
			out[i].Value = &v
		}
		if out[i].Value == nil && out[i].ValueFrom == nil {
			return nil, fmt.Errorf("args.%s was not resolved: give the analysis an arg '%s' (value or valueFrom)", a.Name, a.Name)
		}
	}
	return out, nil
}

// RolloutArgs resolves a Rollout's analysis args to values: value as is;
// podTemplateHashValue Latest or Stable, the new or stable ReplicaSet's
// hash; fieldRef, FieldValue of the Rollout.
func RolloutArgs(args []v1alpha1.AnalysisRunArgument, ro *v1alpha1.Rollout, latestHash, stableHash string) ([]v1alpha1.Argument, error) {
	out := make([]v1alpha1.Argument, 0, len(args))
	for _, a := range args {
		value := a.Value
		if vf := a.ValueFrom; vf != nil {
			switch {
			case vf.PodTemplateHashValue != nil && *vf.PodTemplateHashValue == v1alpha1.Latest:
				value = latestHash
			case vf.PodTemplateHashValue != nil && *vf.PodTemplateHashValue == v1alpha1.Stable:
				value = stableHash
			case vf.PodTemplateHashValue != nil:
				return nil, fmt.Errorf("arg '%s': podTemplateHashValue %q: use Stable or Latest", a.Name, *vf.PodTemplateHashValue)
			case vf.FieldRef != nil:
				v, err := FieldValue(ro, vf.FieldRef.FieldPath)
				if err != nil {
					return nil, fmt.Errorf("arg '%s': %w", a.Name, err)
				}
				value = v
			}
		}
		out = append(out, v1alpha1.Argument{Name: a.Name, Value: &value})
	}
	return out, nil
}

// joinRules joins the Rollout's rules and the templates'; a metricName twice
// is an error.
func joinRules[T any](first, then []T, key func(T) string, what string) ([]T, error) {
	seen := map[string]bool{}
	var out []T
	for _, r := range append(append([]T(nil), first...), then...) {
		if seen[key(r)] {
			return nil, fmt.Errorf("two %s rules for metricName '%s'", what, key(r))
		}
		seen[key(r)] = true
		out = append(out, r)
	}
	return out, nil
}

// CheckTemplates reads the templates an analysis references (and those
// they reference) and merges them as BuildRun would: an error names a
// template that does not exist or a merge that fails (two metrics of one
// name, args that disagree). The rollout controller checks every analysis
// of a Rollout on every pass, as Argo Rollouts validates references, so a
// missing template is an invalid spec before any run is due.
// Outside background analysis, a metric that would measure without end
// (an interval and no count) is an error too, as in Argo: the step or the
// promotion it gates would never complete.
func CheckTemplates(ctx context.Context, r client.Reader, namespace string, refs []v1alpha1.AnalysisTemplateRef, background bool) error {
	ts, err := collectTemplates(ctx, r, namespace, refs)
	if err != nil {
		return err
	}
	spec, err := mergeTemplates(ts)
	if err != nil || background {
		return err
	}
	for _, m := range spec.Metrics {
		if unbounded(m) {
			return fmt.Errorf("metric %q runs indefinitely (an interval and no count): only a background analysis (canary.analysis) may; set count", m.Name)
		}
	}
	return nil
}

// unbounded reports whether a metric measures without end: an interval and
// no count, or a count of 0 (a count given by an arg is not judged here).
func unbounded(m v1alpha1.Metric) bool {
	if m.Interval == "" {
		return false
	}
	return m.Count == nil || (m.Count.Type == intstr.Int && m.Count.IntVal == 0)
}
