package analysis

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func at(d time.Duration) *metav1.Time { t := metav1.NewTime(t0.Add(d)); return &t }

func done(phase v1alpha1.AnalysisPhase, finished time.Duration) v1alpha1.Measurement {
	return v1alpha1.Measurement{Phase: phase, StartedAt: at(finished), FinishedAt: at(finished)}
}

func runWith(metric v1alpha1.Metric, res *v1alpha1.MetricResult) *v1alpha1.AnalysisRun {
	run := &v1alpha1.AnalysisRun{Spec: v1alpha1.AnalysisRunSpec{Metrics: []v1alpha1.Metric{metric}}}
	run.Status.StartedAt = at(0)
	if res != nil {
		res.Name = metric.Name
		run.Status.MetricResults = []v1alpha1.MetricResult{*res}
	}
	return run
}

// The measurement schedule of argo-analysis.md 2.3 and 2.11.
func TestSchedule(t *testing.T) {
	m := webMetric("m")
	every := func(interval string, count int) v1alpha1.Metric {
		x := webMetric("m")
		x.Interval = v1alpha1.DurationString(interval)
		if count > 0 {
			x.Count = io(count)
		}
		return x
	}
	delayed := webMetric("m")
	delayed.InitialDelay = "30s"
	running := &v1alpha1.MetricResult{Phase: v1alpha1.AnalysisPhaseRunning}
	for _, tc := range []struct {
		name      string
		metric    v1alpha1.Metric
		res       *v1alpha1.MetricResult
		terminate bool
		now       time.Duration
		want      taskKind
		next      time.Duration // -1: nothing scheduled
	}{
		{"first measurement at once", m, nil, false, 0, taskStart, 0},
		{"initialDelay not over", delayed, nil, false, 10 * time.Second, 0, 30 * time.Second},
		{"initialDelay over", delayed, nil, false, 30 * time.Second, taskStart, 30 * time.Second},
		{"count 1 reached", m, &v1alpha1.MetricResult{Phase: v1alpha1.AnalysisPhaseRunning, Count: 1, Measurements: []v1alpha1.Measurement{done(v1alpha1.AnalysisPhaseSuccessful, 0)}}, false, time.Hour, 0, -1},
		{"interval not over", every("1m", 3), &v1alpha1.MetricResult{Phase: v1alpha1.AnalysisPhaseRunning, Count: 1, Measurements: []v1alpha1.Measurement{done(v1alpha1.AnalysisPhaseSuccessful, 0)}}, false, 30 * time.Second, 0, time.Minute},
		{"interval over", every("1m", 3), &v1alpha1.MetricResult{Phase: v1alpha1.AnalysisPhaseRunning, Count: 1, Measurements: []v1alpha1.Measurement{done(v1alpha1.AnalysisPhaseSuccessful, 0)}}, false, time.Minute, taskStart, time.Minute},
		{"count 3 reached", every("1m", 3), &v1alpha1.MetricResult{Phase: v1alpha1.AnalysisPhaseRunning, Count: 3, Measurements: []v1alpha1.Measurement{done(v1alpha1.AnalysisPhaseSuccessful, 0)}}, false, time.Hour, 0, -1},
		{"unbounded keeps going", every("1m", 0), &v1alpha1.MetricResult{Phase: v1alpha1.AnalysisPhaseRunning, Count: 100, Measurements: []v1alpha1.Measurement{done(v1alpha1.AnalysisPhaseSuccessful, 0)}}, false, time.Minute, taskStart, time.Minute},
		{"errors retry after 10s, not the interval", every("5m", 3), &v1alpha1.MetricResult{Phase: v1alpha1.AnalysisPhaseRunning, Error: 1, Measurements: []v1alpha1.Measurement{done(v1alpha1.AnalysisPhaseError, 0)}}, false, 10 * time.Second, taskStart, 10 * time.Second},
		{"errors do not count toward count", m, &v1alpha1.MetricResult{Phase: v1alpha1.AnalysisPhaseRunning, Error: 1, ConsecutiveError: 1, Measurements: []v1alpha1.Measurement{done(v1alpha1.AnalysisPhaseError, 0)}}, false, 9 * time.Second, 0, 10 * time.Second},
		{"recorded, not taken", m, &v1alpha1.MetricResult{Phase: v1alpha1.AnalysisPhaseRunning, Measurements: []v1alpha1.Measurement{{Phase: v1alpha1.AnalysisPhaseRunning, StartedAt: at(0)}}}, false, time.Second, taskRun, time.Second},
		{"in flight, resumeAt ahead", m, &v1alpha1.MetricResult{Phase: v1alpha1.AnalysisPhaseRunning, Measurements: []v1alpha1.Measurement{{Phase: v1alpha1.AnalysisPhaseRunning, StartedAt: at(0), ResumeAt: at(20 * time.Second)}}}, false, time.Second, 0, 20 * time.Second},
		{"in flight, resumeAt due", m, &v1alpha1.MetricResult{Phase: v1alpha1.AnalysisPhaseRunning, Measurements: []v1alpha1.Measurement{{Phase: v1alpha1.AnalysisPhaseRunning, StartedAt: at(0), ResumeAt: at(20 * time.Second)}}}, false, 20 * time.Second, taskResume, 20 * time.Second},
		{"terminating stops in flight at once", m, &v1alpha1.MetricResult{Phase: v1alpha1.AnalysisPhaseRunning, Measurements: []v1alpha1.Measurement{{Phase: v1alpha1.AnalysisPhaseRunning, StartedAt: at(0), ResumeAt: at(time.Hour)}}}, true, time.Second, taskTerminate, time.Second},
		{"terminating takes no new measurement", every("1m", 0), &v1alpha1.MetricResult{Phase: v1alpha1.AnalysisPhaseRunning, Count: 1, Measurements: []v1alpha1.Measurement{done(v1alpha1.AnalysisPhaseSuccessful, 0)}}, true, time.Hour, 0, time.Hour},
		{"terminal metric", every("1m", 0), &v1alpha1.MetricResult{Phase: v1alpha1.AnalysisPhaseSuccessful}, false, time.Hour, 0, -1},
		{"pending metric", m, running, false, 0, taskStart, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			run := runWith(tc.metric, tc.res)
			run.Spec.Terminate = tc.terminate
			now := t0.Add(tc.now)
			tasks := planTasks(run, run.Spec.Metrics, now)
			var got taskKind
			if len(tasks) > 0 {
				got = tasks[0].kind
			}
			if got != tc.want {
				t.Errorf("task %v, want %v", got, tc.want)
			}
			next, ok := nextReconcile(run, run.Spec.Metrics, now)
			switch {
			case tc.next < 0 && ok:
				t.Errorf("next reconcile at %v, want none", next.Sub(t0))
			case tc.next >= 0 && (!ok || !next.Equal(t0.Add(tc.next))):
				t.Errorf("next reconcile at %v (%v), want %v", next.Sub(t0), ok, tc.next)
			}
		})
	}
}

// A metric that failed (not dry-run) makes the run terminating; a dry-run
// one does not.
func TestIsTerminating(t *testing.T) {
	run := &v1alpha1.AnalysisRun{Status: v1alpha1.AnalysisRunStatus{MetricResults: []v1alpha1.MetricResult{{Name: "a", Phase: v1alpha1.AnalysisPhaseFailed, DryRun: true}}}}
	if isTerminating(run) {
		t.Error("a dry-run failure terminates the run")
	}
	for _, p := range []v1alpha1.AnalysisPhase{v1alpha1.AnalysisPhaseFailed, v1alpha1.AnalysisPhaseError, v1alpha1.AnalysisPhaseInconclusive} {
		run.Status.MetricResults[0].DryRun, run.Status.MetricResults[0].Phase = false, p
		if !isTerminating(run) {
			t.Errorf("a %s metric does not terminate the run", p)
		}
	}
}

func TestExpiry(t *testing.T) {
	sec := func(n int32) *int32 { return &n }
	run := &v1alpha1.AnalysisRun{Spec: v1alpha1.AnalysisRunSpec{TTLStrategy: &v1alpha1.TTLStrategy{SecondsAfterCompletion: sec(60), SecondsAfterSuccess: sec(10), SecondsAfterFailure: sec(20)}}}
	run.Status.CompletedAt = at(0)
	for phase, want := range map[v1alpha1.AnalysisPhase]time.Duration{
		v1alpha1.AnalysisPhaseSuccessful: 11 * time.Second, v1alpha1.AnalysisPhaseFailed: 21 * time.Second,
		v1alpha1.AnalysisPhaseError: 61 * time.Second, v1alpha1.AnalysisPhaseInconclusive: 61 * time.Second,
	} {
		run.Status.Phase = phase
		if got, ok := expiry(run); !ok || !got.Equal(t0.Add(want)) {
			t.Errorf("%s: expires at %v (%v), want %v", phase, got.Sub(t0), ok, want)
		}
	}
	run.Status.Phase = v1alpha1.AnalysisPhaseRunning
	if _, ok := expiry(run); ok {
		t.Error("a running run expires")
	}
}
