package analysis

import (
	"context"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
)

func strp(s string) *string { return &s }
func i32(i int32) *int32    { return &i }
func yes() *bool            { b := true; return &b }

func testRollout() *v1alpha1.Rollout {
	return &v1alpha1.Rollout{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "guestbook", UID: "ro-uid",
			Labels:      map[string]string{"team": "web", InstanceIDLabel: "shard-a"},
			Annotations: map[string]string{RevisionAnnotation: "3"}},
		Spec: v1alpha1.RolloutSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "guestbook"}}},
		Status: v1alpha1.RolloutStatus{ALB: &v1alpha1.ALBStatus{
			LoadBalancer:      v1alpha1.AwsResourceRef{Name: "lb", FullName: "lb/123"},
			CanaryTargetGroup: v1alpha1.AwsResourceRef{Name: "canary-tg", FullName: "canary-tg/456"},
		}},
	}
}

func builderReader(t *testing.T, objs ...client.Object) client.Reader {
	s := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(s)
	_ = v1alpha1.AddToScheme(s)
	return fake.NewClientBuilder().WithScheme(s).WithObjects(objs...).Build()
}

func TestRunName(t *testing.T) {
	for _, tc := range []struct {
		kind RunKind
		step *int32
		want string
	}{
		{KindStep, i32(2), "guestbook-6c5d8f7b9-3-2"},
		{KindBackground, nil, "guestbook-6c5d8f7b9-3"},
		{KindPrePromotion, nil, "guestbook-6c5d8f7b9-3-pre"},
		{KindPostPromotion, nil, "guestbook-6c5d8f7b9-3-post"},
	} {
		if got := RunName("guestbook", "6c5d8f7b9", "3", tc.kind, tc.step); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.kind, got, tc.want)
		}
	}
	if got := CollisionName("guestbook-6c5d8f7b9-3-2", 1); got != "guestbook-6c5d8f7b9-3-2.1" {
		t.Errorf("collision %s", got)
	}
}

func TestBuildRun(t *testing.T) {
	success := &v1alpha1.AnalysisTemplate{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "success-rate"}, Spec: v1alpha1.AnalysisTemplateSpec{
		Metrics:   []v1alpha1.Metric{webMetric("success-rate")},
		Args:      []v1alpha1.Argument{{Name: "service-name"}, {Name: "canary-hash"}, {Name: "tg"}, {Name: "port", Value: strp("80")}},
		DryRun:    []v1alpha1.DryRun{{MetricName: "success-rate"}},
		Templates: []v1alpha1.AnalysisTemplateRef{{TemplateName: "alb-errors", ClusterScope: yes()}, {TemplateName: "latency"}},
	}}
	latency := &v1alpha1.AnalysisTemplate{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "latency"}, Spec: v1alpha1.AnalysisTemplateSpec{
		Metrics: []v1alpha1.Metric{webMetric("latency")},
		Args:    []v1alpha1.Argument{{Name: "port", Value: strp("80")}, {Name: "token", ValueFrom: &v1alpha1.ValueFrom{SecretKeyRef: &v1alpha1.SecretKeyRef{Name: "s", Key: "k"}}}},
	}}
	albErrors := &v1alpha1.ClusterAnalysisTemplate{ObjectMeta: metav1.ObjectMeta{Name: "alb-errors"}, Spec: v1alpha1.AnalysisTemplateSpec{
		Metrics:   []v1alpha1.Metric{webMetric("alb-5xx")},
		Templates: []v1alpha1.AnalysisTemplateRef{{TemplateName: "success-rate"}}, // a cycle: read once
	}}
	r := builderReader(t, success, latency, albErrors)
	latest, stable := v1alpha1.Latest, v1alpha1.Stable
	req := RunRequest{
		Rollout: testRollout(),
		Analysis: v1alpha1.RolloutAnalysis{
			Templates: []v1alpha1.AnalysisTemplateRef{{TemplateName: "success-rate"}},
			Args: []v1alpha1.AnalysisRunArgument{
				{Name: "service-name", Value: "guestbook-svc"},
				{Name: "canary-hash", ValueFrom: &v1alpha1.ArgumentValueFrom{PodTemplateHashValue: &latest}},
				{Name: "stable-hash", ValueFrom: &v1alpha1.ArgumentValueFrom{PodTemplateHashValue: &stable}}, // not declared: dropped
				{Name: "tg", ValueFrom: &v1alpha1.ArgumentValueFrom{FieldRef: &v1alpha1.FieldRef{FieldPath: "status.alb.canaryTargetGroup.fullName"}}},
			},
			MeasurementRetention: []v1alpha1.MeasurementRetention{{MetricName: "latency", Limit: 20}},
			AnalysisRunMetadata:  &v1alpha1.AnalysisRunMetadata{Labels: map[string]string{"extra": "1", "app": "overridden-by-selector"}, Annotations: map[string]string{"note": "x"}},
		},
		Kind:            KindStep,
		PodTemplateHash: "6c5d8f7b9",
		StableHash:      "55f8b7c6d",
		StepIndex:       i32(2),
	}
	run, err := BuildRun(context.Background(), r, req)
	if err != nil {
		t.Fatal(err)
	}
	if run.Name != "guestbook-6c5d8f7b9-3-2" || run.Namespace != "ns" {
		t.Errorf("name %s/%s", run.Namespace, run.Name)
	}
	wantLabels := map[string]string{PodTemplateHashLabel: "6c5d8f7b9", RolloutTypeLabel: "Step", StepIndexLabel: "2", InstanceIDLabel: "shard-a", "extra": "1", "app": "guestbook"}
	if len(run.Labels) != len(wantLabels) {
		t.Errorf("labels %v, want %v", run.Labels, wantLabels)
	}
	for k, v := range wantLabels {
		if run.Labels[k] != v {
			t.Errorf("label %s=%q, want %q", k, run.Labels[k], v)
		}
	}
	if run.Annotations[RevisionAnnotation] != "3" || run.Annotations["note"] != "x" {
		t.Errorf("annotations %v", run.Annotations)
	}
	if o := metav1.GetControllerOf(run); o == nil || o.UID != "ro-uid" || o.Kind != "Rollout" || o.APIVersion != "argoproj.io/v1alpha1" || o.BlockOwnerDeletion == nil || !*o.BlockOwnerDeletion {
		t.Errorf("owner %+v", run.OwnerReferences)
	}
	var names []string
	for _, m := range run.Spec.Metrics {
		names = append(names, m.Name)
	}
	if strings.Join(names, ",") != "success-rate,latency,alb-5xx" {
		t.Errorf("metrics %v: want the namespaced templates' first", names)
	}
	args := map[string]string{}
	for _, a := range run.Spec.Args {
		if a.Value != nil {
			args[a.Name] = *a.Value
		} else {
			args[a.Name] = "<from " + a.ValueFrom.SecretKeyRef.Name + ">"
		}
	}
	want := map[string]string{"service-name": "guestbook-svc", "canary-hash": "6c5d8f7b9", "tg": "canary-tg/456", "port": "80", "token": "<from s>"}
	if len(args) != len(want) {
		t.Errorf("args %v, want %v", args, want)
	}
	for k, v := range want {
		if args[k] != v {
			t.Errorf("arg %s=%q, want %q", k, args[k], v)
		}
	}
	if len(run.Spec.DryRun) != 1 || len(run.Spec.MeasurementRetention) != 1 || run.Spec.MeasurementRetention[0].MetricName != "latency" {
		t.Errorf("rules %+v %+v", run.Spec.DryRun, run.Spec.MeasurementRetention)
	}
	if run.Spec.Terminate || run.Spec.TTLStrategy != nil {
		t.Error("a rollout's run has terminate or ttlStrategy")
	}
	// The built run is one the analysis controller accepts.
	if _, problem := prepare(run); problem != "" {
		t.Errorf("the built run is refused: %s", problem)
	}

	// Pre-promotion: no step label; background: no infix.
	req.Kind, req.StepIndex = KindPrePromotion, nil
	if run, err := BuildRun(context.Background(), r, req); err != nil || run.Name != "guestbook-6c5d8f7b9-3-pre" || run.Labels[StepIndexLabel] != "" || run.Labels[RolloutTypeLabel] != "PrePromotion" {
		t.Errorf("pre: %v %v", run, err)
	}
}

// Each problem is an error the rollout controller can put in a condition.
func TestBuildRunErrors(t *testing.T) {
	tpl := func(name string, metrics []v1alpha1.Metric, args ...v1alpha1.Argument) *v1alpha1.AnalysisTemplate {
		return &v1alpha1.AnalysisTemplate{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name}, Spec: v1alpha1.AnalysisTemplateSpec{Metrics: metrics, Args: args}}
	}
	r := builderReader(t,
		tpl("a", []v1alpha1.Metric{webMetric("m")}, v1alpha1.Argument{Name: "x"}),
		tpl("b", []v1alpha1.Metric{webMetric("m")}),
		tpl("c", []v1alpha1.Metric{webMetric("c")}, v1alpha1.Argument{Name: "p", Value: strp("1")}),
		tpl("d", []v1alpha1.Metric{webMetric("d")}, v1alpha1.Argument{Name: "p", Value: strp("2")}),
	)
	ref := func(names ...string) []v1alpha1.AnalysisTemplateRef {
		var out []v1alpha1.AnalysisTemplateRef
		for _, n := range names {
			out = append(out, v1alpha1.AnalysisTemplateRef{TemplateName: n})
		}
		return out
	}
	for _, tc := range []struct {
		analysis v1alpha1.RolloutAnalysis
		want     string
	}{
		{v1alpha1.RolloutAnalysis{Templates: ref("missing")}, "AnalysisTemplate 'missing' not found in namespace ns"},
		{v1alpha1.RolloutAnalysis{Templates: []v1alpha1.AnalysisTemplateRef{{TemplateName: "gone", ClusterScope: yes()}}}, "ClusterAnalysisTemplate 'gone' not found"},
		{v1alpha1.RolloutAnalysis{Templates: ref("a")}, "args.x was not resolved"},
		{v1alpha1.RolloutAnalysis{Templates: ref("a", "b"), Args: []v1alpha1.AnalysisRunArgument{{Name: "x", Value: "1"}}}, "two metrics have the same name 'm'"},
		{v1alpha1.RolloutAnalysis{Templates: ref("c", "d")}, "arguments of templates conflict: 'p'"},
		{v1alpha1.RolloutAnalysis{Templates: ref("a"), Args: []v1alpha1.AnalysisRunArgument{{Name: "x", ValueFrom: &v1alpha1.ArgumentValueFrom{FieldRef: &v1alpha1.FieldRef{FieldPath: "status.albs[0].canaryTargetGroup.fullName"}}}}}, "invalid path status.albs[0].canaryTargetGroup.fullName in rollout"},
		{v1alpha1.RolloutAnalysis{Templates: ref("c"), DryRun: []v1alpha1.DryRun{{MetricName: "c"}, {MetricName: "c"}}}, "two dryRun rules for metricName 'c'"},
		{v1alpha1.RolloutAnalysis{}, "names no template"},
	} {
		_, err := BuildRun(context.Background(), r, RunRequest{Rollout: testRollout(), Analysis: tc.analysis, Kind: KindBackground, PodTemplateHash: "h"})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.analysis.Templates, err, tc.want)
		}
	}
}

func TestFieldValue(t *testing.T) {
	ro := testRollout()
	for path, want := range map[string]string{
		"metadata.name":              "guestbook",
		"metadata.namespace":         "ns",
		"metadata.uid":               "ro-uid",
		"metadata.labels['team']":    "web",
		"metadata.labels['missing']": "",
		`metadata.annotations["rollout.argoproj.io/revision"]`: "3",
		"status.alb.loadBalancer.fullName":                     "lb/123",
		"status.alb.canaryTargetGroup.name":                    "canary-tg",
		"spec.selector.matchLabels.app":                        "guestbook",
	} {
		if got, err := FieldValue(ro, path); err != nil || got != want {
			t.Errorf("%s = %q, %v; want %q", path, got, err, want)
		}
	}
	for path, want := range map[string]string{
		"status.alb.stableTargetGroup.fullName": "invalid path",
		"status.alb":                            "must terminate in a primitive value",
		"metadata.generateName":                 "unsupported fieldPath",
	} {
		if _, err := FieldValue(ro, path); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", path, err, want)
		}
	}
}
