package analysis

import (
	"context"
	"fmt"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
	"github.com/albrollouts/albrollouts/internal/analysis/provider"
)

// Querier is a provider that measures in one call (prometheus, web,
// cloudWatch): its result is judged by the metric's conditions.
type Querier interface {
	Query(ctx context.Context, m v1alpha1.Metric) (provider.Result, error)
}

// JobRunner is a provider whose measurement outlives a reconcile (job): it
// is started, looked at again until it ends, and stopped when the run
// terminates.
type JobRunner interface {
	Start(ctx context.Context, run *v1alpha1.AnalysisRun, m v1alpha1.Metric, meas v1alpha1.Measurement, n int) v1alpha1.Measurement
	Resume(ctx context.Context, run *v1alpha1.AnalysisRun, meas v1alpha1.Measurement) v1alpha1.Measurement
	Terminate(ctx context.Context, run *v1alpha1.AnalysisRun, meas v1alpha1.Measurement) v1alpha1.Measurement
	GarbageCollect(ctx context.Context, run *v1alpha1.AnalysisRun, metric string, limit int) error
}

// Providers are the providers the controller measures with; a nil one
// fails its metrics' measurements closed, as an unsupported provider does.
type Providers struct {
	Prometheus Querier
	Web        Querier
	CloudWatch Querier
	Job        JobRunner
}

// SupportedProviders are the providers albrollouts measures with.
var SupportedProviders = []string{"prometheus", "web", "job", "cloudWatch"}

// unsupported is the error of a measurement with a provider albrollouts
// does not implement: it fails closed.
func unsupported(names []string) error {
	return fmt.Errorf("metric provider %s is not supported by albrollouts (supported: %s): the measurement is an Error, "+
		"so an analysis that relies on it never passes", strings.Join(names, ", "), strings.Join(SupportedProviders, ", "))
}

// querier is the synchronous provider of m, if it has one.
func (p Providers) querier(m v1alpha1.Metric) (Querier, bool) {
	switch {
	case m.Provider.Prometheus != nil:
		return p.Prometheus, true
	case m.Provider.Web != nil:
		return p.Web, true
	case m.Provider.CloudWatch != nil:
		return p.CloudWatch, true
	}
	return nil, false
}

// measurementOutcome is what a task did: the measurement to record, or
// drop: the in-flight measurement is removed (a query recorded as started
// but never taken, and then terminated).
type measurementOutcome struct {
	meas v1alpha1.Measurement
	drop bool
}

// measure carries out one task on the metric's in-flight measurement meas
// (n is the measurement's number, for Job names).
func (p Providers) measure(ctx context.Context, run *v1alpha1.AnalysisRun, m v1alpha1.Metric, kind taskKind, meas v1alpha1.Measurement, n int, now func() time.Time) measurementOutcome {
	if names := ProviderNames(m.Provider); len(names) != 1 || !supported(names[0]) {
		return measurementOutcome{meas: errored(meas, unsupported(names), now())}
	}
	if q, ok := p.querier(m); ok {
		switch {
		case kind == taskTerminate:
			return measurementOutcome{drop: true}
		case q == nil:
			return measurementOutcome{meas: errored(meas, fmt.Errorf("metric provider %s is not configured in this controller", ProviderNames(m.Provider)[0]), now())}
		}
		res, err := q.Query(ctx, m)
		if err != nil {
			return measurementOutcome{meas: errored(meas, err, now())}
		}
		meas.Value, meas.Metadata = res.Formatted, res.Metadata
		phase, err := Evaluate(res.Value, m)
		meas.Phase = phase
		if err != nil {
			meas.Message = err.Error()
		}
		t := metav1.NewTime(now())
		meas.FinishedAt = &t
		return measurementOutcome{meas: meas}
	}
	if p.Job == nil {
		return measurementOutcome{meas: errored(meas, fmt.Errorf("metric provider job is not configured in this controller"), now())}
	}
	switch kind {
	case taskStart, taskRun:
		return measurementOutcome{meas: p.Job.Start(ctx, run, m, meas, n)}
	case taskResume:
		return measurementOutcome{meas: p.Job.Resume(ctx, run, meas)}
	default:
		return measurementOutcome{meas: p.Job.Terminate(ctx, run, meas)}
	}
}

// supported reports whether a provider name is one albrollouts measures with.
func supported(name string) bool {
	for _, s := range SupportedProviders {
		if s == name {
			return true
		}
	}
	return false
}

// errored ends a measurement as an Error with err's message.
func errored(meas v1alpha1.Measurement, err error, now time.Time) v1alpha1.Measurement {
	t := metav1.NewTime(now)
	meas.Phase, meas.Message, meas.FinishedAt, meas.ResumeAt = v1alpha1.AnalysisPhaseError, err.Error(), &t, nil
	return meas
}
