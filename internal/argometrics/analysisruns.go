package argometrics

import (
	"fmt"
	"regexp"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
)

// Descriptions of the AnalysisRun gauges, as Argo Rollouts declares them.
var (
	runInfoDesc = prometheus.NewDesc(AnalysisRunInfo, "Information about analysis run.",
		append(namespaceName[:2:2], "phase"), nil)
	runPhaseDesc = prometheus.NewDesc(AnalysisRunPhase,
		"Information on the state of the Analysis Run (DEPRECATED - use analysis_run_info)",
		append(namespaceName[:2:2], "phase"), nil)
	runMetricTypeDesc = prometheus.NewDesc(AnalysisRunMetricType,
		"Information on the type of a specific metric in the Analysis Runs",
		append(namespaceName[:2:2], "metric", "type"), nil)
	runMetricPhaseDesc = prometheus.NewDesc(AnalysisRunMetricPhase,
		"Information on the duration of a specific metric in the Analysis Run",
		append(namespaceName[:2:2], "metric", "type", "dry_run", "phase"), nil)
)

// analysisPhases are the phases the deprecated per-phase gauges have a
// series for, in Argo's order; an empty phase counts as Pending.
var analysisPhases = []v1alpha1.AnalysisPhase{
	v1alpha1.AnalysisPhasePending, v1alpha1.AnalysisPhaseError, v1alpha1.AnalysisPhaseFailed,
	v1alpha1.AnalysisPhaseSuccessful, v1alpha1.AnalysisPhaseRunning, v1alpha1.AnalysisPhaseInconclusive,
}

// providerType is the type label of a metric, Argo's name of its provider.
func providerType(m *v1alpha1.Metric) string {
	p := m.Provider
	for _, t := range []struct {
		set  bool
		name string
	}{
		{p.Prometheus != nil, "Prometheus"}, {p.Job != nil, "Job"}, {p.Kayenta != nil, "Kayenta"},
		{p.Web != nil, "Web"}, {p.Datadog != nil, "Datadog"}, {p.Wavefront != nil, "Wavefront"},
		{p.NewRelic != nil, "NewRelic"}, {p.CloudWatch != nil, "CloudWatch"}, {p.Graphite != nil, "Graphite"},
		{p.Influxdb != nil, "Influxdb"}, {p.SkyWalking != nil, "skywalking"}, {p.Plugin != nil, "RPCPlugin"},
	} {
		if t.set {
			return t.name
		}
	}
	return "Unknown Provider"
}

// dryRun reports, per metric name, whether a dryRun rule (a regular
// expression) of the run matches it.
func dryRun(run *v1alpha1.AnalysisRun) map[string]bool {
	out := map[string]bool{}
	for _, rule := range run.Spec.DryRun {
		re, err := regexp.Compile(rule.MetricName)
		if err != nil {
			continue
		}
		for _, m := range run.Spec.Metrics {
			if re.MatchString(m.Name) {
				out[m.Name] = true
			}
		}
	}
	return out
}

// phaseIs reports whether phase is p, an empty phase being Pending.
func phaseIs(phase, p v1alpha1.AnalysisPhase) bool {
	return phase == p || (phase == "" && p == v1alpha1.AnalysisPhasePending)
}

// collectAnalysisRun sends run's gauges.
func collectAnalysisRun(ch chan<- prometheus.Metric, run *v1alpha1.AnalysisRun) {
	gauge := func(d *prometheus.Desc, v float64, lv ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, append([]string{run.Namespace, run.Name}, lv...)...)
	}
	phase := run.Status.Phase
	gauge(runInfoDesc, 1, string(phase))
	for _, p := range analysisPhases {
		gauge(runPhaseDesc, boolFloat(phaseIs(phase, p)), string(p))
	}
	results := map[string]v1alpha1.AnalysisPhase{}
	for _, r := range run.Status.MetricResults {
		results[r.Name] = r.Phase
	}
	dry := dryRun(run)
	for i := range run.Spec.Metrics {
		m := &run.Spec.Metrics[i]
		typ := providerType(m)
		gauge(runMetricTypeDesc, 1, m.Name, typ)
		for _, p := range analysisPhases {
			gauge(runMetricPhaseDesc, boolFloat(phaseIs(results[m.Name], p)), m.Name, typ, fmt.Sprint(dry[m.Name]), string(p))
		}
	}
}
