package analysis

import (
	"time"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
)

// ErrorRetryInterval is the wait after a measurement that ended in Error,
// whatever the metric's interval (Argo's DefaultErrorRetryInterval).
const ErrorRetryInterval = 10 * time.Second

// taskKind is what a metric needs in this reconcile.
type taskKind int

const (
	// taskStart: a new measurement is due. It is first recorded in status as
	// Running, then taken.
	taskStart taskKind = iota + 1
	// taskRun: a measurement recorded as started (no resumeAt) was not taken
	// yet, e.g. the controller restarted between recording and taking it.
	taskRun
	// taskResume: an in-flight measurement (a Job) is due for a look.
	taskResume
	// taskTerminate: an in-flight measurement of a terminating run is stopped.
	taskTerminate
)

func (k taskKind) String() string {
	switch k {
	case taskStart:
		return "start"
	case taskRun:
		return "run"
	case taskResume:
		return "resume"
	case taskTerminate:
		return "terminate"
	}
	return "none"
}

// task is one metric's work in a reconcile.
type task struct {
	metric int // index into the run's metrics
	kind   taskKind
}

// result returns the metric result of name in status, or nil.
func result(s *v1alpha1.AnalysisRunStatus, name string) *v1alpha1.MetricResult {
	for i := range s.MetricResults {
		if s.MetricResults[i].Name == name {
			return &s.MetricResults[i]
		}
	}
	return nil
}

// lastMeasurement returns the newest measurement of r, or nil.
func lastMeasurement(r *v1alpha1.MetricResult) *v1alpha1.Measurement {
	if r == nil || len(r.Measurements) == 0 {
		return nil
	}
	return &r.Measurements[len(r.Measurements)-1]
}

// isTerminating reports whether the run stops taking measurements: it was
// told to (spec.terminate), or a metric that is not dry-run already ended
// Failed, Error or Inconclusive.
func isTerminating(run *v1alpha1.AnalysisRun) bool {
	if run.Spec.Terminate {
		return true
	}
	for _, r := range run.Status.MetricResults {
		if r.DryRun {
			continue
		}
		switch r.Phase {
		case v1alpha1.AnalysisPhaseFailed, v1alpha1.AnalysisPhaseError, v1alpha1.AnalysisPhaseInconclusive:
			return true
		}
	}
	return false
}

// countReached reports whether the metric has taken its effective count of
// (non-Error) measurements; an unbounded metric never has.
func countReached(m v1alpha1.Metric, r *v1alpha1.MetricResult) bool {
	n := m.EffectiveCount()
	return n != nil && r != nil && r.Count >= *n
}

// waitAfter is the least time between lastM's end and the next measurement:
// ErrorRetryInterval after an Error or without an interval, else the interval.
// ok is false when the interval does not parse (validation reports that).
func waitAfter(m v1alpha1.Metric, lastM *v1alpha1.Measurement) (time.Duration, bool) {
	if lastM.Phase == v1alpha1.AnalysisPhaseError || m.Interval == "" {
		return ErrorRetryInterval, true
	}
	d, err := m.Interval.Duration()
	return d, err == nil
}

// planTasks decides, from the run's status alone, which metrics need work
// now. metrics are the run's metrics with args substituted.
func planTasks(run *v1alpha1.AnalysisRun, metrics []v1alpha1.Metric, now time.Time) []task {
	terminating := isTerminating(run)
	var tasks []task
	for i, m := range metrics {
		r := result(&run.Status, m.Name)
		if r != nil && r.Phase.Completed() {
			continue
		}
		if k := metricTask(run, m, r, terminating, now); k != 0 {
			tasks = append(tasks, task{metric: i, kind: k})
		}
	}
	return tasks
}

// metricTask is planTasks for one metric whose result is not terminal.
func metricTask(run *v1alpha1.AnalysisRun, m v1alpha1.Metric, r *v1alpha1.MetricResult, terminating bool, now time.Time) taskKind {
	last := lastMeasurement(r)
	switch {
	case last != nil && last.FinishedAt == nil:
		switch {
		case terminating:
			return taskTerminate
		case last.ResumeAt == nil:
			return taskRun
		case !now.Before(last.ResumeAt.Time):
			return taskResume
		}
		return 0
	case terminating:
		return 0
	case last == nil:
		if due, ok := firstMeasurementAt(run, m); ok && !now.Before(due) {
			return taskStart
		}
		return 0
	case countReached(m, r):
		return 0
	}
	if wait, ok := waitAfter(m, last); ok && !now.Before(last.FinishedAt.Add(wait)) {
		return taskStart
	}
	return 0
}

// firstMeasurementAt is when a metric's first measurement is due: at once
// without initialDelay, else startedAt + initialDelay (never before the run
// has started).
func firstMeasurementAt(run *v1alpha1.AnalysisRun, m v1alpha1.Metric) (time.Time, bool) {
	if m.InitialDelay == "" {
		return time.Time{}, true
	}
	d, err := m.InitialDelay.Duration()
	if err != nil || run.Status.StartedAt == nil {
		return time.Time{}, false
	}
	return run.Status.StartedAt.Add(d), true
}

// nextReconcile is the earliest time a metric of a run that is not terminal
// needs attention: the end of an initialDelay, an in-flight measurement's
// resumeAt, the next measurement after an interval or an error retry. A
// terminating run, or a measurement recorded but not taken, needs it now.
// ok is false when nothing is scheduled.
func nextReconcile(run *v1alpha1.AnalysisRun, metrics []v1alpha1.Metric, now time.Time) (time.Time, bool) {
	if run.Status.Phase.Completed() {
		return time.Time{}, false
	}
	if isTerminating(run) {
		return now, true
	}
	var next time.Time
	found := false
	for _, m := range metrics {
		if t, ok := metricDue(run, m, now); ok && (!found || t.Before(next)) {
			next, found = t, true
		}
	}
	if found && next.Before(now) {
		next = now
	}
	return next, found
}

// expiry is when a completed run with a ttlStrategy is deleted: once the
// whole seconds since completedAt exceed the TTL of its phase
// (secondsAfterSuccess for Successful, secondsAfterFailure for Failed, else
// secondsAfterCompletion). ok is false when it is kept.
func expiry(run *v1alpha1.AnalysisRun) (time.Time, bool) {
	ttl := run.Spec.TTLStrategy
	if !run.Status.Phase.Completed() || ttl == nil || run.Status.CompletedAt == nil {
		return time.Time{}, false
	}
	var seconds *int32
	switch {
	case run.Status.Phase == v1alpha1.AnalysisPhaseSuccessful && ttl.SecondsAfterSuccess != nil:
		seconds = ttl.SecondsAfterSuccess
	case run.Status.Phase == v1alpha1.AnalysisPhaseFailed && ttl.SecondsAfterFailure != nil:
		seconds = ttl.SecondsAfterFailure
	default:
		seconds = ttl.SecondsAfterCompletion
	}
	if seconds == nil {
		return time.Time{}, false
	}
	return run.Status.CompletedAt.Add(time.Duration(*seconds+1) * time.Second), true
}

// metricDue is when one metric of a run that is not terminating needs
// attention, if ever.
func metricDue(run *v1alpha1.AnalysisRun, m v1alpha1.Metric, now time.Time) (time.Time, bool) {
	r := result(&run.Status, m.Name)
	if r != nil && r.Phase.Completed() {
		return time.Time{}, false
	}
	last := lastMeasurement(r)
	switch {
	case last == nil:
		return firstMeasurementAt(run, m)
	case last.FinishedAt == nil && last.ResumeAt == nil:
		return now, true
	case last.FinishedAt == nil:
		return last.ResumeAt.Time, true
	case countReached(m, r):
		return time.Time{}, false
	}
	wait, ok := waitAfter(m, last)
	return last.FinishedAt.Add(wait), ok
}
