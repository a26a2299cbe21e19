package analysis

import (
	"context"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
)

func builderClient(t *testing.T, objs ...client.Object) client.Client {
	t.Helper()
	s := runtime.NewScheme()
	if err := v1alpha1.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	return fake.NewClientBuilder().WithScheme(s).WithObjects(objs...).Build()
}

func str(s string) *string { return &s }

func builderRollout() *v1alpha1.Rollout {
	return &v1alpha1.Rollout{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns", UID: "u1", Labels: map[string]string{LabelInstanceID: "e2e"}},
		Spec:       v1alpha1.RolloutSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}},
		Status: v1alpha1.RolloutStatus{ALB: &v1alpha1.ALBStatus{
			LoadBalancer:      v1alpha1.AwsResourceRef{Name: "k8s-ns-web", FullName: "app/k8s-ns-web/abc"},
			CanaryTargetGroup: v1alpha1.AwsResourceRef{Name: "k8s-ns-webcanary", FullName: "targetgroup/k8s-ns-webcanary/def"},
		}},
	}
}

func TestBuildRunMergesTemplatesAndArgsAsArgo(t *testing.T) {
	webMetric := func(name string) v1alpha1.Metric {
		return v1alpha1.Metric{Name: name, Provider: v1alpha1.MetricProvider{Web: &v1alpha1.WebMetric{URL: "http://x/{{args.lb}}"}}}
	}
	errRate := &v1alpha1.AnalysisTemplate{ObjectMeta: metav1.ObjectMeta{Name: "error-rate", Namespace: "ns"}, Spec: v1alpha1.AnalysisTemplateSpec{
		Metrics:   []v1alpha1.Metric{webMetric("errors")},
		Args:      []v1alpha1.Argument{{Name: "lb"}, {Name: "tg"}, {Name: "hash"}, {Name: "fixed", Value: str("1")}},
		Templates: []v1alpha1.AnalysisTemplateRef{{TemplateName: "latency", ClusterScope: new(true)}},
	}}
	latency := &v1alpha1.ClusterAnalysisTemplate{ObjectMeta: metav1.ObjectMeta{Name: "latency"}, Spec: v1alpha1.AnalysisTemplateSpec{
		Metrics: []v1alpha1.Metric{webMetric("p99")},
		Args:    []v1alpha1.Argument{{Name: "lb"}},
	}}
	r := builderClient(t, errRate, latency)
	stable := v1alpha1.Stable
	ra := &v1alpha1.RolloutAnalysis{
		Templates: []v1alpha1.AnalysisTemplateRef{{TemplateName: "error-rate"}},
		Args: []v1alpha1.AnalysisRunArgument{
			{Name: "lb", ValueFrom: &v1alpha1.ArgumentValueFrom{FieldRef: &v1alpha1.FieldRef{FieldPath: "status.alb.loadBalancer.fullName"}}},
			{Name: "tg", ValueFrom: &v1alpha1.ArgumentValueFrom{FieldRef: &v1alpha1.FieldRef{FieldPath: "status.alb.canaryTargetGroup.fullName"}}},
			{Name: "hash", ValueFrom: &v1alpha1.ArgumentValueFrom{PodTemplateHashValue: &stable}},
			{Name: "undeclared", Value: "dropped"},
		},
		AnalysisRunMetadata: &v1alpha1.AnalysisRunMetadata{Labels: map[string]string{"team": "a"}},
	}
	run, err := BuildRun(context.Background(), r, RunFor{Rollout: builderRollout(), Analysis: ra, Kind: RunStep, Step: 2, NewHash: "h2", StableHash: "h1", Revision: "3"})
	if err != nil {
		t.Fatal(err)
	}
	if run.Name != "web-h2-3-2" {
		t.Errorf("name %s, want web-h2-3-2", run.Name)
	}
	want := map[string]string{LabelPodHash: "h2", LabelRolloutType: "Step", LabelStepIndex: "2", LabelInstanceID: "e2e", "team": "a", "app": "web"}
	for k, v := range want {
		if run.Labels[k] != v {
			t.Errorf("label %s = %q, want %q", k, run.Labels[k], v)
		}
	}
	if run.Annotations[RevisionAnnotation] != "3" || len(run.OwnerReferences) != 1 || run.OwnerReferences[0].UID != "u1" || !*run.OwnerReferences[0].Controller {
		t.Errorf("annotations %v, owners %+v", run.Annotations, run.OwnerReferences)
	}
	if len(run.Spec.Metrics) != 2 || run.Spec.Metrics[0].Name != "errors" || run.Spec.Metrics[1].Name != "p99" {
		t.Errorf("metrics %+v: want the namespaced template's first, then the cluster template's", run.Spec.Metrics)
	}
	got := map[string]string{}
	for _, a := range run.Spec.Args {
		got[a.Name] = *a.Value
	}
	wantArgs := map[string]string{"lb": "app/k8s-ns-web/abc", "tg": "targetgroup/k8s-ns-webcanary/def", "hash": "h1", "fixed": "1"}
	if len(got) != len(wantArgs) {
		t.Errorf("args %v, want %v (undeclared args dropped)", got, wantArgs)
	}
	for k, v := range wantArgs {
		if got[k] != v {
			t.Errorf("arg %s = %q, want %q", k, got[k], v)
		}
	}
}

func TestBuildRunErrorsSayWhatToFix(t *testing.T) {
	tmpl := func(name string, metrics []v1alpha1.Metric, args ...v1alpha1.Argument) *v1alpha1.AnalysisTemplate {
		return &v1alpha1.AnalysisTemplate{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns"}, Spec: v1alpha1.AnalysisTemplateSpec{Metrics: metrics, Args: args}}
	}
	m := v1alpha1.Metric{Name: "m", Provider: v1alpha1.MetricProvider{Web: &v1alpha1.WebMetric{URL: "http://x"}}}
	forever := m
	forever.Interval = "10s"
	counted := forever
	counted.Count = &intstr.IntOrString{IntVal: 3}
	for _, tc := range []struct {
		name string
		objs []client.Object
		refs []string
		kind RunKind
		want string
	}{
		{"missing template", nil, []string{"nope"}, RunStep, "AnalysisTemplate ns/nope not found"},
		{"duplicate metric", []client.Object{tmpl("a", []v1alpha1.Metric{m}), tmpl("b", []v1alpha1.Metric{m})}, []string{"a", "b"}, RunStep, `two metrics have the same name "m"`},
		{"unresolved arg", []client.Object{tmpl("a", []v1alpha1.Metric{m}, v1alpha1.Argument{Name: "x"})}, []string{"a"}, RunStep, "args.x was not resolved"},
		{"unbounded step metric", []client.Object{tmpl("a", []v1alpha1.Metric{forever})}, []string{"a"}, RunStep, "runs indefinitely"},
		{"unbounded background metric", []client.Object{tmpl("a", []v1alpha1.Metric{forever})}, []string{"a"}, RunBackground, ""},
		{"counted step metric", []client.Object{tmpl("a", []v1alpha1.Metric{counted})}, []string{"a"}, RunStep, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ra := &v1alpha1.RolloutAnalysis{}
			for _, r := range tc.refs {
				ra.Templates = append(ra.Templates, v1alpha1.AnalysisTemplateRef{TemplateName: r})
			}
			_, err := BuildRun(context.Background(), builderClient(t, tc.objs...), RunFor{Rollout: builderRollout(), Analysis: ra, Kind: tc.kind, NewHash: "h", Revision: "1"})
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("unexpected error %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestFieldOf(t *testing.T) {
	ro := builderRollout()
	ro.Annotations = map[string]string{"a": "b"}
	for path, want := range map[string]string{
		"metadata.name": "web",
		"metadata.labels['" + LabelInstanceID + "']": "e2e",
		"metadata.labels['missing']":                 "",
		"metadata.annotations['a']":                  "b",
		"status.alb.canaryTargetGroup.name":          "k8s-ns-webcanary",
	} {
		got, err := FieldOf(ro, path)
		if err != nil || got != want {
			t.Errorf("FieldOf(%s) = %q, %v; want %q", path, got, err, want)
		}
	}
	for _, path := range []string{"status.alb", "status.albs[0].loadBalancer.name", "spec.nothing"} {
		if _, err := FieldOf(ro, path); err == nil {
			t.Errorf("FieldOf(%s): want an error", path)
		}
	}
}
