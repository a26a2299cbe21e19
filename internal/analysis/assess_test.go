package analysis

import (
	"fmt"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
)

const (
	S = v1alpha1.AnalysisPhaseSuccessful
	F = v1alpha1.AnalysisPhaseFailed
	E = v1alpha1.AnalysisPhaseError
	I = v1alpha1.AnalysisPhaseInconclusive
	R = v1alpha1.AnalysisPhaseRunning
	P = v1alpha1.AnalysisPhasePending
)

// measureSequence records the phases one after another on one metric and
// returns the metric's phase after each.
func measureSequence(m v1alpha1.Metric, phases []v1alpha1.AnalysisPhase) ([]v1alpha1.AnalysisPhase, *v1alpha1.AnalysisRun) {
	run := &v1alpha1.AnalysisRun{Spec: v1alpha1.AnalysisRunSpec{Metrics: []v1alpha1.Metric{m}}}
	run.Status.MetricResults = []v1alpha1.MetricResult{{Name: m.Name, Phase: R}}
	var got []v1alpha1.AnalysisPhase
	for i, p := range phases {
		res := &run.Status.MetricResults[0]
		recordMeasurement(res, v1alpha1.Measurement{Phase: p, Message: fmt.Sprintf("m%d", i)}, false, t0)
		terminating := isTerminating(run)
		phase, msg, _ := assessRun(run, run.Spec.Metrics, nil, terminating)
		if phase != run.Status.Phase {
			run.Status.Phase, run.Status.Message = phase, msg
		}
		got = append(got, res.Phase)
	}
	return got, run
}

// The limits of argo-analysis.md 2.6 and section 8: every limit is strictly
// greater than; failureLimit 0 fails on the first failure; -1 turns it off;
// consecutiveErrorLimit 4 errors on the 5th error in a row; an Error is not
// a Failure and does not count toward count.
func TestAssessMetricLimits(t *testing.T) {
	metric := func(count int, f func(*v1alpha1.Metric)) v1alpha1.Metric {
		m := webMetric("m")
		if count > 0 {
			m.Count, m.Interval = io(count), "1m"
		}
		if f != nil {
			f(&m)
		}
		return m
	}
	for _, tc := range []struct {
		name   string
		m      v1alpha1.Metric
		phases []v1alpha1.AnalysisPhase
		want   []v1alpha1.AnalysisPhase
	}{
		{"one success, count 1", metric(0, nil), []v1alpha1.AnalysisPhase{S}, []v1alpha1.AnalysisPhase{S}},
		{"default failureLimit 0", metric(3, nil), []v1alpha1.AnalysisPhase{S, F}, []v1alpha1.AnalysisPhase{R, F}},
		{"failureLimit 1 tolerates one", metric(3, func(m *v1alpha1.Metric) { m.FailureLimit = io(1) }), []v1alpha1.AnalysisPhase{F, S, F}, []v1alpha1.AnalysisPhase{R, R, F}},
		{"failureLimit 2, count reached", metric(3, func(m *v1alpha1.Metric) { m.FailureLimit = io(2) }), []v1alpha1.AnalysisPhase{F, S, F}, []v1alpha1.AnalysisPhase{R, R, S}},
		{"inconclusive default 0", metric(3, nil), []v1alpha1.AnalysisPhase{I}, []v1alpha1.AnalysisPhase{I}},
		{"inconclusiveLimit 1", metric(3, func(m *v1alpha1.Metric) { m.InconclusiveLimit = io(1) }), []v1alpha1.AnalysisPhase{I, S, I}, []v1alpha1.AnalysisPhase{R, R, I}},
		{"5th error in a row", metric(3, nil), []v1alpha1.AnalysisPhase{E, E, E, E, E}, []v1alpha1.AnalysisPhase{R, R, R, R, E}},
		{"errors broken by a success", metric(3, nil), []v1alpha1.AnalysisPhase{E, E, E, E, S, E, E, E, E}, []v1alpha1.AnalysisPhase{R, R, R, R, R, R, R, R, R}},
		{"errors do not count toward count 1", metric(0, nil), []v1alpha1.AnalysisPhase{E, E, S}, []v1alpha1.AnalysisPhase{R, R, S}},
		{"consecutiveErrorLimit 0", metric(3, func(m *v1alpha1.Metric) { m.ConsecutiveErrorLimit = io(0) }), []v1alpha1.AnalysisPhase{E}, []v1alpha1.AnalysisPhase{E}},
		{"string limits", metric(3, func(m *v1alpha1.Metric) { x := intstrS("2"); m.FailureLimit = &x }), []v1alpha1.AnalysisPhase{F, F, F}, []v1alpha1.AnalysisPhase{R, R, F}},
		{"streak reached", metric(5, func(m *v1alpha1.Metric) { m.ConsecutiveSuccessLimit = io(2); m.FailureLimit = io(3) }), []v1alpha1.AnalysisPhase{S, F, S, S}, []v1alpha1.AnalysisPhase{R, R, R, S}},
		{"streak not reached by count, failureLimit kept: Inconclusive", metric(3, func(m *v1alpha1.Metric) { m.ConsecutiveSuccessLimit = io(2); m.FailureLimit = io(1) }), []v1alpha1.AnalysisPhase{S, F, S}, []v1alpha1.AnalysisPhase{R, R, I}},
		{"streak not reached, failureLimit off: Failed", metric(3, func(m *v1alpha1.Metric) { m.ConsecutiveSuccessLimit = io(2); m.FailureLimit = io(-1) }), []v1alpha1.AnalysisPhase{S, F, S}, []v1alpha1.AnalysisPhase{R, R, F}},
		{"failureLimit -1 never fails on its own", metric(0, func(m *v1alpha1.Metric) {
			m.Interval = "1m"
			m.FailureLimit = io(-1)
			m.ConsecutiveSuccessLimit = io(1)
		}), []v1alpha1.AnalysisPhase{F, F, F, S}, []v1alpha1.AnalysisPhase{R, R, R, S}},
		{"Error beats Failed", metric(5, func(m *v1alpha1.Metric) { m.ConsecutiveErrorLimit = io(0); m.FailureLimit = io(0) }), []v1alpha1.AnalysisPhase{F}, []v1alpha1.AnalysisPhase{F}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, _ := measureSequence(tc.m, tc.phases)
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("metric phases %v, want %v", got, tc.want)
			}
		})
	}
}

func TestLimitBreachOrder(t *testing.T) {
	m := webMetric("m")
	phase, reason := limitBreach(m, v1alpha1.MetricResult{Failed: 1, Inconclusive: 1, ConsecutiveError: 5})
	if phase != E || reason != "consecutiveErrors (5) > consecutiveErrorLimit (4)" {
		t.Errorf("%s %q", phase, reason)
	}
	phase, reason = limitBreach(m, v1alpha1.MetricResult{Failed: 1, Inconclusive: 1})
	if phase != I || reason != "inconclusive (1) > inconclusiveLimit (0)" {
		t.Errorf("%s %q", phase, reason)
	}
	phase, reason = limitBreach(m, v1alpha1.MetricResult{Failed: 1})
	if phase != F || reason != "failed (1) > failureLimit (0)" {
		t.Errorf("%s %q", phase, reason)
	}
}

// Counters per measurement (argo-analysis.md 2.5).
func TestRecordMeasurementCounters(t *testing.T) {
	r := &v1alpha1.MetricResult{}
	for _, p := range []v1alpha1.AnalysisPhase{S, S, E, E, F, I, S} {
		recordMeasurement(r, v1alpha1.Measurement{Phase: p}, false, t0)
	}
	want := v1alpha1.MetricResult{Count: 5, Successful: 3, Failed: 1, Inconclusive: 1, Error: 2, ConsecutiveError: 0, ConsecutiveSuccess: 1}
	r.Measurements = nil
	if fmt.Sprintf("%+v", *r) != fmt.Sprintf("%+v", want) {
		t.Errorf("counters %+v, want %+v", *r, want)
	}
	recordMeasurement(r, v1alpha1.Measurement{Phase: E}, false, t0)
	if r.ConsecutiveError != 1 || r.ConsecutiveSuccess != 0 || r.Measurements[0].FinishedAt == nil {
		t.Errorf("after an error: %+v", *r)
	}
	recordMeasurement(r, v1alpha1.Measurement{Phase: R}, false, t0)
	if r.Error != 3 || len(r.Measurements) != 2 || r.Measurements[1].FinishedAt != nil {
		t.Errorf("a running measurement counted: %+v", *r)
	}
}

// The run's phase, message and summaries (argo-analysis.md 2.7).
func TestAssessRun(t *testing.T) {
	a, b := webMetric("a"), webMetric("b")
	b.Interval, b.Count = "1m", io(3)
	run := &v1alpha1.AnalysisRun{Spec: v1alpha1.AnalysisRunSpec{Metrics: []v1alpha1.Metric{a, b}}}
	run.Status.MetricResults = []v1alpha1.MetricResult{{Name: "a", Phase: R}}
	recordMeasurement(&run.Status.MetricResults[0], v1alpha1.Measurement{Phase: S}, false, t0)
	phase, msg, tr := assessRun(run, run.Spec.Metrics, nil, false)
	if phase != R || msg != "" || len(tr) != 1 || tr[0] != (metricTransition{"a", S}) {
		t.Errorf("one metric done, one not started: %s %q %v", phase, msg, tr)
	}
	// b fails: this pass assesses b Failed; the run is not terminating yet
	// (it was not before this pass), and a is done, so the run is Failed.
	run.Status.MetricResults = append(run.Status.MetricResults, v1alpha1.MetricResult{Name: "b", Phase: R})
	recordMeasurement(&run.Status.MetricResults[1], v1alpha1.Measurement{Phase: F, Message: "boom"}, false, t0)
	phase, msg, _ = assessRun(run, run.Spec.Metrics, nil, isTerminating(run))
	if phase != F || msg != `Metric "b" assessed Failed due to failed (1) > failureLimit (0): "Error Message: boom"` {
		t.Errorf("b failed: %s %q", phase, msg)
	}
	if s := run.Status.RunSummary; s != (v1alpha1.RunSummary{Count: 2, Successful: 1, Failed: 1}) {
		t.Errorf("summary %+v", s)
	}
	if run.Status.DryRunSummary == nil || *run.Status.DryRunSummary != (v1alpha1.RunSummary{}) {
		t.Errorf("dry-run summary %+v", run.Status.DryRunSummary)
	}
}

// A failing metric stops the others: they end Successful on the next pass
// (no measurement, or count not reached), and the run takes the worst phase.
func TestFailedMetricTerminatesTheOthers(t *testing.T) {
	a, b := webMetric("a"), webMetric("b")
	b.Interval = "1m" // unbounded
	run := &v1alpha1.AnalysisRun{Spec: v1alpha1.AnalysisRunSpec{Metrics: []v1alpha1.Metric{a, b}}}
	run.Status.MetricResults = []v1alpha1.MetricResult{{Name: "a", Phase: F, Failed: 1, Count: 1, Measurements: []v1alpha1.Measurement{done(F, 0)}}, {Name: "b", Phase: R, Count: 2, Successful: 2, Measurements: []v1alpha1.Measurement{done(S, 0)}}}
	if tasks := planTasks(run, run.Spec.Metrics, t0.Add(time.Hour)); len(tasks) != 0 {
		t.Errorf("tasks on a terminating run: %v", tasks)
	}
	phase, _, tr := assessRun(run, run.Spec.Metrics, nil, isTerminating(run))
	if phase != F || run.Status.MetricResults[1].Phase != S || len(tr) != 1 {
		t.Errorf("run %s, b %s, transitions %v", phase, run.Status.MetricResults[1].Phase, tr)
	}
}

// spec.terminate: unbounded and unstarted metrics end Successful, the run is
// Successful with message "Run Terminated"; a broken limit still counts.
func TestTerminate(t *testing.T) {
	a, b := webMetric("a"), webMetric("b")
	a.Interval = "1m"
	b.InitialDelay = "1h"
	run := &v1alpha1.AnalysisRun{Spec: v1alpha1.AnalysisRunSpec{Terminate: true, Metrics: []v1alpha1.Metric{a, b}}}
	run.Status.MetricResults = []v1alpha1.MetricResult{{Name: "a", Phase: R, Count: 4, Successful: 4, Measurements: []v1alpha1.Measurement{done(S, 0)}}}
	phase, msg, _ := assessRun(run, run.Spec.Metrics, nil, isTerminating(run))
	if phase != S || msg != "Run Terminated" || run.Status.MetricResults[0].Phase != S {
		t.Errorf("terminated: %s %q %s", phase, msg, run.Status.MetricResults[0].Phase)
	}
	run = &v1alpha1.AnalysisRun{Spec: v1alpha1.AnalysisRunSpec{Terminate: true, Metrics: []v1alpha1.Metric{a}}}
	if phase, _, _ := assessRun(run, run.Spec.Metrics, nil, true); phase != S {
		t.Errorf("terminated before any measurement: %s", phase)
	}
}

// Dry-run metrics do not decide the phase but must finish; their summary
// and message are their own.
func TestDryRun(t *testing.T) {
	a, b := webMetric("a"), webMetric("b")
	run := &v1alpha1.AnalysisRun{Spec: v1alpha1.AnalysisRunSpec{Metrics: []v1alpha1.Metric{a, b}}}
	dry := map[string]bool{"b": true}
	run.Status.MetricResults = []v1alpha1.MetricResult{
		{Name: "a", Phase: R, Count: 1, Successful: 1, Measurements: []v1alpha1.Measurement{done(S, 0)}},
		{Name: "b", Phase: R, DryRun: true, Measurements: []v1alpha1.Measurement{{Phase: R}}},
	}
	if phase, _, _ := assessRun(run, run.Spec.Metrics, dry, false); phase != R {
		t.Errorf("a dry-run metric in flight: run %s, want Running", phase)
	}
	run.Status.MetricResults[1] = v1alpha1.MetricResult{Name: "b", Phase: R, DryRun: true}
	recordMeasurement(&run.Status.MetricResults[1], v1alpha1.Measurement{Phase: F}, false, t0)
	phase, msg, _ := assessRun(run, run.Spec.Metrics, dry, isTerminating(run))
	if phase != S || msg != "" {
		t.Errorf("dry-run failed: run %s %q, want Successful", phase, msg)
	}
	if got := run.Status.MetricResults[1]; got.Phase != F || got.Message != "Metric assessed Failed due to failed (1) > failureLimit (0)" {
		t.Errorf("dry-run metric %s %q", got.Phase, got.Message)
	}
	if *run.Status.DryRunSummary != (v1alpha1.RunSummary{Count: 1, Failed: 1}) || run.Status.RunSummary != (v1alpha1.RunSummary{Count: 1, Successful: 1}) {
		t.Errorf("summaries %+v %+v", run.Status.RunSummary, *run.Status.DryRunSummary)
	}
}

func TestTrimMeasurements(t *testing.T) {
	r := &v1alpha1.MetricResult{}
	for i := range 12 {
		recordMeasurement(r, v1alpha1.Measurement{Phase: S, Value: fmt.Sprint(i)}, false, t0)
	}
	if !trimMeasurements(r, 10) || len(r.Measurements) != 10 || r.Measurements[0].Value != "2" || r.Count != 12 {
		t.Errorf("trimmed to %d from %s, count %d", len(r.Measurements), r.Measurements[0].Value, r.Count)
	}
	if trimMeasurements(r, 10) {
		t.Error("trimmed again")
	}
}

func intstrS(s string) intstr.IntOrString { return intstr.FromString(s) }
