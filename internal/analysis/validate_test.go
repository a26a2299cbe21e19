package analysis

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
)

func io(v int) *intstr.IntOrString { x := intstr.FromInt32(int32(v)); return &x }

func webMetric(name string) v1alpha1.Metric {
	return v1alpha1.Metric{Name: name, Provider: v1alpha1.MetricProvider{Web: &v1alpha1.WebMetric{URL: "http://x"}}}
}

// The rules of argo-analysis.md 1.6.
func TestValidateMetric(t *testing.T) {
	with := func(f func(*v1alpha1.Metric)) v1alpha1.Metric { m := webMetric("m"); f(&m); return m }
	for _, tc := range []struct {
		name string
		m    v1alpha1.Metric
		want string // "" = valid
	}{
		{"plain", webMetric("m"), ""},
		{"negative consecutiveSuccessLimit", with(func(m *v1alpha1.Metric) { m.ConsecutiveSuccessLimit = io(-1) }), "consecutiveSuccessLimit must be >= 0"},
		{"failureLimit -2", with(func(m *v1alpha1.Metric) { m.FailureLimit = io(-2) }), "failureLimit must be >= 0, or -1"},
		{"both disabled", with(func(m *v1alpha1.Metric) { m.FailureLimit = io(-1) }), "cannot both be disabled"},
		{"failureLimit -1 with streak", with(func(m *v1alpha1.Metric) { m.FailureLimit = io(-1); m.ConsecutiveSuccessLimit = io(2) }), ""},
		{"negative inconclusiveLimit", with(func(m *v1alpha1.Metric) { m.InconclusiveLimit = io(-1) }), "inconclusiveLimit must be >= 0"},
		{"negative consecutiveErrorLimit", with(func(m *v1alpha1.Metric) { m.ConsecutiveErrorLimit = io(-1) }), "consecutiveErrorLimit must be >= 0"},
		{"count below failureLimit+streak", with(func(m *v1alpha1.Metric) {
			m.Count, m.Interval, m.FailureLimit, m.ConsecutiveSuccessLimit = io(3), "1m", io(2), io(2)
		}), "count (3) must be >= failureLimit + consecutiveSuccessLimit (2 + 2)"},
		{"count below streak", with(func(m *v1alpha1.Metric) {
			m.Count, m.Interval, m.FailureLimit, m.ConsecutiveSuccessLimit = io(2), "1m", io(-1), io(3)
		}), "count must be >= consecutiveSuccessLimit"},
		{"count below inconclusiveLimit", with(func(m *v1alpha1.Metric) { m.Count, m.Interval, m.InconclusiveLimit = io(2), "1m", io(3) }), "count must be >= inconclusiveLimit"},
		{"count 2 without interval", with(func(m *v1alpha1.Metric) { m.Count = io(2) }), "interval must be specified when count > 1"},
		{"bad interval", with(func(m *v1alpha1.Metric) { m.Interval = "1d" }), "invalid interval string"},
		{"bad initialDelay", with(func(m *v1alpha1.Metric) { m.InitialDelay = "soon" }), "invalid startDelay string"},
		{"no provider", v1alpha1.Metric{Name: "m"}, "no provider specified"},
		{"two providers", with(func(m *v1alpha1.Metric) { m.Provider.Prometheus = &v1alpha1.PrometheusMetric{} }), "multiple providers"},
		{"unsupported provider is valid (it fails at measurement)", v1alpha1.Metric{Name: "m", Provider: v1alpha1.MetricProvider{Datadog: &runtime.RawExtension{Raw: []byte(`{}`)}}}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := ValidateMetric(tc.m)
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Errorf("ValidateMetric = %v, want %q", err, tc.want)
			}
		})
	}
	if err := ValidateMetrics(nil); err == nil || err.Error() != "no metrics specified" {
		t.Errorf("no metrics: %v", err)
	}
	if err := ValidateMetrics([]v1alpha1.Metric{webMetric("a"), webMetric("a")}); err == nil || err.Error() != "metrics[1]: duplicate name 'a'" {
		t.Errorf("duplicate: %v", err)
	}
}

func TestProviderNames(t *testing.T) {
	p := v1alpha1.MetricProvider{Plugin: &runtime.RawExtension{Raw: []byte(`{"argoproj-labs/metric-x": {"a": 1}}`)}}
	if got := ProviderNames(p); len(got) != 1 || got[0] != "plugin argoproj-labs/metric-x" {
		t.Errorf("ProviderNames = %v", got)
	}
}

// dryRun and measurementRetention rules are unanchored regular
// expressions; a rule that matches no metric is an error.
func TestDryRunAndRetentionRules(t *testing.T) {
	metrics := []v1alpha1.Metric{webMetric("error-rate"), webMetric("latency")}
	dry, err := dryRunMetrics([]v1alpha1.DryRun{{MetricName: "rate"}}, metrics)
	if err != nil || !dry["error-rate"] || dry["latency"] {
		t.Errorf("dryRun rate: %v %v", dry, err)
	}
	if dry, _ := dryRunMetrics([]v1alpha1.DryRun{{MetricName: ".*"}}, metrics); len(dry) != 2 {
		t.Errorf(".* matched %v", dry)
	}
	if _, err := dryRunMetrics([]v1alpha1.DryRun{{MetricName: "latency"}, {MetricName: "*"}}, metrics); err == nil || err.Error() != "dryRun[1]: Rule didn't match any metric name(s)" {
		t.Errorf("bare * : %v", err)
	}
	lim, err := retentionLimits([]v1alpha1.MeasurementRetention{{MetricName: "lat", Limit: 20}}, metrics)
	if err != nil || retentionLimit(lim, "latency") != 20 || retentionLimit(lim, "error-rate") != DefaultMeasurementHistoryLimit {
		t.Errorf("retention %v %v", lim, err)
	}
	if lim, _ := retentionLimits([]v1alpha1.MeasurementRetention{{MetricName: "lat", Limit: 0}}, metrics); retentionLimit(lim, "latency") != DefaultMeasurementHistoryLimit {
		t.Error("limit 0 is not the default")
	}
	if _, err := retentionLimits([]v1alpha1.MeasurementRetention{{MetricName: "nope", Limit: 1}}, metrics); err == nil || err.Error() != "measurementRetention[0]: Rule didn't match any metric name(s)" {
		t.Errorf("no match: %v", err)
	}
}
