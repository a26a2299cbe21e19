package config

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
	"github.com/albrollouts/albrollouts/internal/analysis"
)

// shippedTemplate decodes analysis/<name>.yaml strictly: a field the API
// types do not know would be dropped by the API server.
func shippedTemplate(t *testing.T, name string) (*v1alpha1.ClusterAnalysisTemplate, []byte) {
	t.Helper()
	for _, f := range AnalysisTemplates() {
		if f.Path != "analysis/"+name+".yaml" {
			continue
		}
		j, err := yaml.YAMLToJSON(f.Data)
		if err != nil {
			t.Fatal(err)
		}
		dec := json.NewDecoder(bytes.NewReader(j))
		dec.DisallowUnknownFields()
		var tpl v1alpha1.ClusterAnalysisTemplate
		if err := dec.Decode(&tpl); err != nil {
			t.Fatalf("%s: %v", f.Path, err)
		}
		return &tpl, f.Data
	}
	t.Fatalf("no analysis/%s.yaml embedded", name)
	return nil, nil
}

// The shipped alb-canary-health template: the CRD accepts it, its metrics
// pass the analysis controller's checks once the Rollout's two args are
// given (status.alb's full names, as Argo writes them: <name>/<id>), its
// queries name the CloudWatch dimension values app/<name>/<id> and
// targetgroup/<name>/<id>, and its conditions pass a healthy canary, fail
// one 5xx ratio or p99 above the limit, and call a window without data
// Inconclusive.
func TestALBCanaryHealthTemplate(t *testing.T) {
	tpl, data := shippedTemplate(t, "alb-canary-health")
	for _, f := range RolloutCRDs() {
		crd := &apiextensionsv1.CustomResourceDefinition{}
		if err := yaml.UnmarshalStrict(f.Data, crd); err != nil {
			t.Fatalf("%s: %v", f.Path, err)
		}
		if crd.Spec.Names.Kind == "ClusterAnalysisTemplate" {
			if err := crdValidator(t, crd)(decodeManifest(t, string(data))); err != nil {
				t.Fatalf("the ClusterAnalysisTemplate CRD refuses alb-canary-health: %v", err)
			}
		}
	}
	rolloutArgs := map[string]string{"load-balancer": "k8s-demo-web/50dc6c495c0c9188", "canary-target-group": "k8s-demo-canary-1a2b/73e2d6bc24d8a067"}
	var args []v1alpha1.Argument
	for _, a := range tpl.Spec.Args {
		if v, ok := rolloutArgs[a.Name]; ok {
			if a.Value != nil {
				t.Errorf("arg %s has a default; it must come from the Rollout", a.Name)
			}
			a.Value = ptr.To(v)
		}
		if a.Value == nil {
			t.Fatalf("arg %s has no default", a.Name)
		}
		args = append(args, a)
	}
	var metrics []v1alpha1.Metric
	for _, m := range tpl.Spec.Metrics {
		r, err := analysis.ResolveMetric(m, args)
		if err != nil {
			t.Fatalf("metric %s: %v", m.Name, err)
		}
		metrics = append(metrics, r)
	}
	if err := analysis.ValidateMetrics(metrics); err != nil {
		t.Fatalf("the resolved metrics are refused: %v", err)
	}
	if len(metrics) != 2 || metrics[0].Name != "canary-5xx-ratio" || metrics[1].Name != "canary-p99-latency" {
		t.Fatalf("metrics %v", metrics)
	}
	for _, m := range metrics {
		if m.Interval != "1m" || m.InitialDelay != "1m" || m.Count.String() != "5" {
			t.Errorf("%s: interval %s, initialDelay %s, count %s", m.Name, m.Interval, m.InitialDelay, m.Count.String())
		}
		cw := m.Provider.CloudWatch
		if cw == nil || cw.Interval != "2m" {
			t.Fatalf("%s: cloudWatch %+v", m.Name, cw)
		}
		returned := 0
		for _, q := range cw.MetricDataQueries {
			if q.ReturnData == nil || *q.ReturnData {
				returned++
			}
			if q.MetricStat == nil {
				continue
			}
			dims := map[string]string{}
			for _, d := range q.MetricStat.Metric.Dimensions {
				dims[d.Name] = d.Value
			}
			if ptr.Deref(q.MetricStat.Metric.Namespace, "") != "AWS/ApplicationELB" || len(dims) != 2 ||
				dims["LoadBalancer"] != "app/k8s-demo-web/50dc6c495c0c9188" || dims["TargetGroup"] != "targetgroup/k8s-demo-canary-1a2b/73e2d6bc24d8a067" ||
				q.MetricStat.Period.IntValue() != 60 {
				t.Errorf("%s: query %s: %+v", m.Name, q.Id, q.MetricStat)
			}
		}
		if returned != 1 {
			t.Errorf("%s: %d queries return data; the conditions read result[0]", m.Name, returned)
		}
	}
	result := func(values ...float64) []cwtypes.MetricDataResult {
		return []cwtypes.MetricDataResult{{Id: aws.String("q"), Values: values, StatusCode: cwtypes.StatusCodeComplete}}
	}
	for _, c := range []struct {
		metric int
		values []float64
		want   v1alpha1.AnalysisPhase
	}{
		{0, []float64{0, 0.004, 0.01}, v1alpha1.AnalysisPhaseSuccessful},
		{0, []float64{0, 0.2}, v1alpha1.AnalysisPhaseFailed},
		{0, []float64{0.011}, v1alpha1.AnalysisPhaseFailed},
		{0, nil, v1alpha1.AnalysisPhaseInconclusive},
		{1, []float64{0.003, 0.9}, v1alpha1.AnalysisPhaseSuccessful},
		{1, []float64{0.003, 1.5}, v1alpha1.AnalysisPhaseFailed},
		{1, nil, v1alpha1.AnalysisPhaseInconclusive},
		{1, []float64{math.Inf(1)}, v1alpha1.AnalysisPhaseFailed},
	} {
		got, err := analysis.Evaluate(result(c.values...), metrics[c.metric])
		if err != nil || got != c.want {
			t.Errorf("%s on %v: %s (%v), want %s", metrics[c.metric].Name, c.values, got, err, c.want)
		}
	}
	if !strings.Contains(string(data), "status.alb.canaryTargetGroup.fullName") {
		t.Error("the template does not say where its args come from")
	}
}
