package argometrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
)

// reconcileMetrics are one kind's reconcile duration histogram and error
// counter (rollout_reconcile and rollout_reconcile_error, or the
// analysis_run_ ones).
type reconcileMetrics struct {
	duration *prometheus.HistogramVec
	errors   *prometheus.CounterVec
}

func newReconcileMetrics(histogram, histogramHelp, errors, errorsHelp string) reconcileMetrics {
	return reconcileMetrics{
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: histogram, Help: histogramHelp, Buckets: reconcileBuckets}, namespaceName),
		errors:   prometheus.NewCounterVec(prometheus.CounterOpts{Name: errors, Help: errorsHelp}, namespaceName),
	}
}

func (m reconcileMetrics) forget(namespace, name string) {
	l := prometheus.Labels{"namespace": namespace, "name": name}
	m.duration.Delete(l)
	m.errors.Delete(l)
}

// instrumented is a reconciler that observes each reconcile's duration and
// error, and drops an object's series once the cache no longer has it.
type instrumented struct {
	inner   reconcile.Reconciler
	metrics reconcileMetrics
	// gone reports whether the cache no longer has the object.
	gone func(ctx context.Context, key client.ObjectKey) bool
	// forget drops the object's series.
	forget func(namespace, name string)
}

// Reconcile implements reconcile.Reconciler.
func (i *instrumented) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	start := time.Now()
	res, err := i.inner.Reconcile(ctx, req)
	if err == nil && i.gone(ctx, req.NamespacedName) {
		i.forget(req.Namespace, req.Name)
		return res, err
	}
	i.metrics.duration.WithLabelValues(req.Namespace, req.Name).Observe(time.Since(start).Seconds())
	if err != nil {
		i.metrics.errors.WithLabelValues(req.Namespace, req.Name).Inc()
	}
	return res, err
}

// InstrumentRollouts wraps the rollout controller's reconciler: it observes
// rollout_reconcile and counts rollout_reconcile_error, and drops a deleted
// rollout's reconcile and event series.
func (m *Metrics) InstrumentRollouts(r reconcile.Reconciler) reconcile.Reconciler {
	return &instrumented{inner: r, metrics: m.rollouts,
		gone: m.goneFunc(func() client.Object { return &v1alpha1.Rollout{} }),
		forget: func(namespace, name string) {
			m.rollouts.forget(namespace, name)
			m.events.DeletePartialMatch(prometheus.Labels{"namespace": namespace, "name": name})
		}}
}

// InstrumentAnalysisRuns wraps the analysis controller's reconciler:
// analysis_run_reconcile and analysis_run_reconcile_error.
func (m *Metrics) InstrumentAnalysisRuns(r reconcile.Reconciler) reconcile.Reconciler {
	return &instrumented{inner: r, metrics: m.runs,
		gone:   m.goneFunc(func() client.Object { return &v1alpha1.AnalysisRun{} }),
		forget: m.runs.forget}
}

// goneFunc reports whether the source's cache has no object of key.
func (m *Metrics) goneFunc(newObject func() client.Object) func(context.Context, client.ObjectKey) bool {
	return func(ctx context.Context, key client.ObjectKey) bool {
		src := m.cache.source()
		if src.Reader == nil {
			return false
		}
		return apierrors.IsNotFound(src.Reader.Get(ctx, key, newObject()))
	}
}
