package analysis

import (
	"fmt"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
)

// recordMeasurement puts m into r in place of the in-flight measurement
// (replace) or as a new one, and, when m is terminal, sets its finishedAt if
// the provider left it unset and counts it: Successful, Failed and
// Inconclusive count toward count and reset consecutiveError; Error counts
// only as an error, in a row; only Successful extends the success streak.
func recordMeasurement(r *v1alpha1.MetricResult, m v1alpha1.Measurement, replace bool, now time.Time) {
	if m.Phase.Completed() {
		if m.FinishedAt == nil {
			t := metav1.NewTime(now)
			m.FinishedAt = &t
		}
		switch m.Phase {
		case v1alpha1.AnalysisPhaseSuccessful:
			r.Successful++
			r.Count++
			r.ConsecutiveError = 0
			r.ConsecutiveSuccess++
		case v1alpha1.AnalysisPhaseFailed:
			r.Failed++
			r.Count++
			r.ConsecutiveError, r.ConsecutiveSuccess = 0, 0
		case v1alpha1.AnalysisPhaseInconclusive:
			r.Inconclusive++
			r.Count++
			r.ConsecutiveError, r.ConsecutiveSuccess = 0, 0
		case v1alpha1.AnalysisPhaseError:
			r.Error++
			r.ConsecutiveError++
			r.ConsecutiveSuccess = 0
		}
	}
	if replace && len(r.Measurements) > 0 {
		r.Measurements[len(r.Measurements)-1] = m
		return
	}
	r.Measurements = append(r.Measurements, m)
}

// limitBreach reports the limit a metric's counters have passed, if any, and
// why. The checks run in order failureLimit (default 0, off when -1),
// inconclusiveLimit (default 0), consecutiveErrorLimit (default 4), each
// strictly greater than, and a later breach overrides an earlier one: Error
// beats Inconclusive beats Failed.
func limitBreach(m v1alpha1.Metric, r v1alpha1.MetricResult) (v1alpha1.AnalysisPhase, string) {
	l := limitsOf(m)
	var phase v1alpha1.AnalysisPhase
	var reason string
	if l.failure >= 0 && int(r.Failed) > l.failure {
		phase, reason = v1alpha1.AnalysisPhaseFailed, fmt.Sprintf("failed (%d) > failureLimit (%d)", r.Failed, l.failure)
	}
	if int(r.Inconclusive) > l.inconclusive {
		phase, reason = v1alpha1.AnalysisPhaseInconclusive, fmt.Sprintf("inconclusive (%d) > inconclusiveLimit (%d)", r.Inconclusive, l.inconclusive)
	}
	if int(r.ConsecutiveError) > l.consecutiveError {
		phase, reason = v1alpha1.AnalysisPhaseError, fmt.Sprintf("consecutiveErrors (%d) > consecutiveErrorLimit (%d)", r.ConsecutiveError, l.consecutiveError)
	}
	return phase, reason
}

// assessMetric is the phase of one metric: a terminal phase stays; no
// measurement is Pending (Successful when terminating); an in-flight one is
// Running; then a broken limit, a reached consecutiveSuccessLimit, a reached
// count; otherwise Running, or Successful when terminating.
func assessMetric(m v1alpha1.Metric, r v1alpha1.MetricResult, terminating bool) v1alpha1.AnalysisPhase {
	if r.Phase.Completed() {
		return r.Phase
	}
	last := lastMeasurement(&r)
	switch {
	case last == nil && terminating:
		return v1alpha1.AnalysisPhaseSuccessful
	case last == nil:
		return v1alpha1.AnalysisPhasePending
	case !last.Phase.Completed():
		return v1alpha1.AnalysisPhaseRunning
	}
	if phase, _ := limitBreach(m, r); phase != "" {
		return phase
	}
	l := limitsOf(m)
	if l.consecutiveSuccess > 0 && int(r.ConsecutiveSuccess) >= l.consecutiveSuccess {
		return v1alpha1.AnalysisPhaseSuccessful
	}
	if countReached(m, &r) {
		switch {
		case l.consecutiveSuccess > 0 && l.failure >= 0:
			// The streak was not reached, nor the failure limit broken.
			return v1alpha1.AnalysisPhaseInconclusive
		case l.consecutiveSuccess > 0:
			return v1alpha1.AnalysisPhaseFailed
		}
		return v1alpha1.AnalysisPhaseSuccessful
	}
	if terminating {
		return v1alpha1.AnalysisPhaseSuccessful
	}
	return v1alpha1.AnalysisPhaseRunning
}

// severity orders phases from best to worst, as Argo does.
var severity = map[v1alpha1.AnalysisPhase]int{
	v1alpha1.AnalysisPhaseSuccessful:   1,
	v1alpha1.AnalysisPhaseRunning:      2,
	v1alpha1.AnalysisPhasePending:      3,
	v1alpha1.AnalysisPhaseInconclusive: 4,
	v1alpha1.AnalysisPhaseError:        5,
	v1alpha1.AnalysisPhaseFailed:       6,
}

// worse reports whether next is worse than current.
func worse(current, next v1alpha1.AnalysisPhase) bool { return severity[next] > severity[current] }

// metricTransition is a metric that reached a terminal phase in an assessment.
type metricTransition struct {
	Name  string
	Phase v1alpha1.AnalysisPhase
}

// summarize adds a terminal metric to a summary by the limit it broke, or as
// successful when it broke none.
func summarize(s *v1alpha1.RunSummary, limitPhase v1alpha1.AnalysisPhase) {
	switch limitPhase {
	case v1alpha1.AnalysisPhaseError:
		s.Error++
	case v1alpha1.AnalysisPhaseFailed:
		s.Failed++
	case v1alpha1.AnalysisPhaseInconclusive:
		s.Inconclusive++
	default:
		s.Successful++
	}
}

// runAssessment accumulates the metrics' outcomes into the run's.
type runAssessment struct {
	worst       v1alpha1.AnalysisPhase
	message     string
	run, dry    v1alpha1.RunSummary
	transitions []metricTransition
	allDone     bool
}

// assessRun updates every metric's phase and message, the run and dry-run
// summaries, and returns the run's phase and message and the metrics that
// reached a terminal phase. terminating is isTerminating before this
// assessment (a metric failing now stops the others on the next pass).
// While not terminating the run is Running until every metric is terminal,
// then takes the worst metric phase (dry-run metrics aside); a terminating
// run takes the worst terminal phase, or Successful.
func assessRun(run *v1alpha1.AnalysisRun, metrics []v1alpha1.Metric, dryRun map[string]bool, terminating bool) (v1alpha1.AnalysisPhase, string, []metricTransition) {
	a := runAssessment{allDone: true}
	if run.Spec.Terminate {
		a.message = "Run Terminated"
	}
	for _, m := range metrics {
		a.metric(m, result(&run.Status, m.Name), dryRun[m.Name], terminating)
	}
	run.Status.RunSummary = a.run
	run.Status.DryRunSummary = &a.dry
	message := strings.TrimSpace(a.message)
	switch {
	case terminating && a.worst == "":
		return v1alpha1.AnalysisPhaseSuccessful, message, a.transitions
	case terminating:
		return a.worst, message, a.transitions
	case !a.allDone || a.worst == "":
		return v1alpha1.AnalysisPhaseRunning, "", a.transitions
	}
	return a.worst, message, a.transitions
}

// metric assesses one metric (r: its result, nil before its first
// measurement) and adds it to the run's assessment.
func (a *runAssessment) metric(m v1alpha1.Metric, r *v1alpha1.MetricResult, dry, terminating bool) {
	summary := &a.run
	if dry {
		summary = &a.dry
	}
	summary.Count++
	if r == nil {
		a.allDone = false
		return
	}
	phase := assessMetric(m, *r, terminating)
	if phase != r.Phase {
		if phase.Completed() {
			a.transitions = append(a.transitions, metricTransition{Name: m.Name, Phase: phase})
		}
		if last := lastMeasurement(r); last != nil {
			r.Message = last.Message
		}
		r.Phase = phase
	}
	if !phase.Completed() {
		a.allDone = false
		return
	}
	limitPhase, reason := limitBreach(m, *r)
	summarize(summary, limitPhase)
	if dry {
		if a.worst == "" {
			a.worst = v1alpha1.AnalysisPhaseSuccessful
		}
		if reason != "" {
			r.Message = fmt.Sprintf("Metric assessed %s due to %s", phase, reason)
		}
		return
	}
	if a.worst == "" || worse(a.worst, phase) {
		a.worst = phase
		if reason != "" {
			a.message = fmt.Sprintf("Metric %q assessed %s due to %s", m.Name, phase, reason)
			if r.Message != "" {
				a.message += fmt.Sprintf(": \"Error Message: %s\"", r.Message)
			}
		}
	}
}

// DefaultMeasurementHistoryLimit is how many measurements a metric keeps
// without a measurementRetention rule.
const DefaultMeasurementHistoryLimit = 10

// retentionLimit is how many measurements the metric keeps: its rule's limit
// when above 0, else the default.
func retentionLimit(limits map[string]int32, name string) int {
	if l := limits[name]; l > 0 {
		return int(l)
	}
	return DefaultMeasurementHistoryLimit
}

// trimMeasurements keeps the newest limit measurements of r and reports
// whether it dropped any.
func trimMeasurements(r *v1alpha1.MetricResult, limit int) bool {
	if len(r.Measurements) <= limit {
		return false
	}
	r.Measurements = append([]v1alpha1.Measurement(nil), r.Measurements[len(r.Measurements)-limit:]...)
	return true
}
