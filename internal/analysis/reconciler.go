package analysis

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrl "sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
)

// conflictRetry is the wait before reading a run again after a write lost
// to another writer.
const conflictRetry = 500 * time.Millisecond

// Reconciler measures AnalysisRuns. It keeps nothing between reconciles:
// each one reads the run, decides from its status what is due, records new
// measurements as started, takes them, and writes the outcome.
type Reconciler struct {
	client    client.Client // writes runs; deletes expired ones
	live      client.Reader // reads runs and Secrets from the API server
	recorder  events.EventRecorder
	providers Providers
	clock     clock.PassiveClock
	log       logr.Logger
}

// NewReconciler returns a reconciler. live reads runs and Secrets (not
// through a cache: a stale status must not decide a measurement, and
// Secrets are not cached); c writes.
func NewReconciler(c client.Client, live client.Reader, recorder events.EventRecorder, providers Providers, clk clock.PassiveClock, log logr.Logger) *Reconciler {
	if clk == nil {
		clk = clock.RealClock{}
	}
	return &Reconciler{client: c, live: live, recorder: recorder, providers: providers, clock: clk, log: log}
}

// Reconcile takes the measurements that are due and returns when to look again.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	run := &v1alpha1.AnalysisRun{}
	if err := r.live.Get(ctx, req.NamespacedName, run); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if run.DeletionTimestamp != nil {
		return ctrl.Result{}, nil
	}
	if run.Status.Phase.Completed() {
		return r.expire(ctx, run)
	}
	return r.sync(ctx, run)
}

// expire deletes a completed run whose ttlStrategy has passed, or returns
// when it will have.
func (r *Reconciler) expire(ctx context.Context, run *v1alpha1.AnalysisRun) (ctrl.Result, error) {
	at, ok := expiry(run)
	if !ok {
		return ctrl.Result{}, nil
	}
	if now := r.clock.Now(); now.Before(at) {
		return ctrl.Result{RequeueAfter: at.Sub(now)}, nil
	}
	r.log.Info("deleting the analysis run: its ttlStrategy has passed", "analysisRun", client.ObjectKeyFromObject(run), "phase", run.Status.Phase)
	if err := r.client.Delete(ctx, run, client.Preconditions{UID: &run.UID}); err != nil && !apierrors.IsNotFound(err) {
		return ctrl.Result{}, fmt.Errorf("deleting analysis run %s/%s after its ttlStrategy: %w", run.Namespace, run.Name, err)
	}
	return ctrl.Result{}, nil
}

// prepared is what every reconcile derives from the spec before measuring.
type prepared struct {
	metrics   []v1alpha1.Metric // args substituted, secrets as placeholders
	dryRun    map[string]bool
	retention map[string]int32
}

// prepare substitutes args (secrets as placeholders) and checks the
// metrics and the dryRun and retention rules; a problem is the run's Error
// message, in Argo's words.
func prepare(run *v1alpha1.AnalysisRun) (prepared, string) {
	metrics, err := resolveMetrics(run.Spec.Metrics, withoutSecrets(run.Spec.Args))
	if err != nil {
		return prepared{}, fmt.Sprintf("Unable to resolve metric arguments: %v", err)
	}
	if err := ValidateMetrics(metrics); err != nil {
		return prepared{}, fmt.Sprintf("Analysis spec invalid: %v", err)
	}
	dry, err := dryRunMetrics(run.Spec.DryRun, metrics)
	if err != nil {
		return prepared{}, fmt.Sprintf("Analysis spec invalid: %v", err)
	}
	retention, err := retentionLimits(run.Spec.MeasurementRetention, metrics)
	if err != nil {
		return prepared{}, fmt.Sprintf("Analysis spec invalid: %v", err)
	}
	return prepared{metrics: metrics, dryRun: dry, retention: retention}, ""
}

// resolve checks a run and resolves its metrics' args (Secrets read now);
// problem says why the run cannot be measured, secrets redacted.
func (r *Reconciler) resolve(ctx context.Context, run *v1alpha1.AnalysisRun) (p prepared, resolved []v1alpha1.Metric, red redactor, problem string) {
	p, problem = prepare(run)
	if problem != "" {
		return p, nil, nil, problem
	}
	args, secrets, err := withSecrets(ctx, r.live, run.Namespace, run.Spec.Args)
	if err != nil {
		return p, nil, nil, fmt.Sprintf("Unable to resolve metric arguments: %v", err)
	}
	red = redactor(secrets)
	resolved, err = resolveMetrics(run.Spec.Metrics, args)
	if err != nil {
		return p, nil, red, red.text(fmt.Sprintf("Unable to resolve metric arguments: %v", err))
	}
	return p, resolved, red, ""
}

// sync is one pass over a run that is not terminal.
func (r *Reconciler) sync(ctx context.Context, run *v1alpha1.AnalysisRun) (ctrl.Result, error) {
	log := r.log.WithValues("analysisRun", client.ObjectKeyFromObject(run))
	orig := run.DeepCopy()
	p, resolved, red, problem := r.resolve(ctx, run)
	if problem != "" {
		return r.fail(ctx, orig, run, problem)
	}
	now := r.clock.Now()
	if run.Status.StartedAt == nil {
		if res, err := r.start(ctx, orig, run, now); err != nil || res != nil {
			return derefResult(res), err
		}
		orig = run.DeepCopy()
	}
	tasks := planTasks(run, p.metrics, now)
	locked := true
	if recordStarts(run, resolved, p.dryRun, tasks, red, now) {
		// The new measurements are in status before they are taken: a
		// stale read loses this write, and a restart finds them.
		if res, err := r.write(ctx, orig, run, true); err != nil || res != nil {
			return derefResult(res), err
		}
		orig, locked = run.DeepCopy(), false
	}
	r.apply(run, resolved, r.execute(ctx, run, resolved, tasks), red)
	terminating := isTerminating(run)
	phase, message, transitions := assessRun(run, p.metrics, p.dryRun, terminating)
	if phase != run.Status.Phase {
		run.Status.Phase, run.Status.Message = phase, red.text(message)
		if phase.Completed() && run.Status.CompletedAt == nil {
			t := metav1.NewTime(r.clock.Now())
			run.Status.CompletedAt = &t
		}
	}
	r.retain(ctx, log, run, resolved, p.retention)
	if res, err := r.write(ctx, orig, run, locked); err != nil || res != nil {
		return derefResult(res), err
	}
	r.emit(run, orig.Status.Phase, transitions)
	if next, ok := nextReconcile(run, p.metrics, r.clock.Now()); ok {
		return ctrl.Result{RequeueAfter: max(next.Sub(r.clock.Now()), time.Millisecond)}, nil
	}
	return ctrl.Result{}, nil
}

func derefResult(r *ctrl.Result) ctrl.Result {
	if r == nil {
		return ctrl.Result{}
	}
	return *r
}

// recordStarts turns each taskStart into a Running measurement in status
// (creating the metric's result when it is its first) and the task into a
// taskRun; it reports whether there was any.
func recordStarts(run *v1alpha1.AnalysisRun, resolved []v1alpha1.Metric, dryRun map[string]bool, tasks []task, red redactor, now time.Time) bool {
	any := false
	for i, t := range tasks {
		if t.kind != taskStart {
			continue
		}
		any = true
		m := resolved[t.metric]
		res := result(&run.Status, m.Name)
		if res == nil {
			run.Status.MetricResults = append(run.Status.MetricResults, v1alpha1.MetricResult{
				Name: m.Name, Phase: v1alpha1.AnalysisPhaseRunning, DryRun: dryRun[m.Name], Metadata: red.metadata(metricMetadata(m)),
			})
			res = &run.Status.MetricResults[len(run.Status.MetricResults)-1]
		}
		started := metav1.NewTime(now)
		res.Measurements = append(res.Measurements, v1alpha1.Measurement{Phase: v1alpha1.AnalysisPhaseRunning, StartedAt: &started})
		tasks[i].kind = taskRun
	}
	if any {
		if run.Status.StartedAt == nil {
			t := metav1.NewTime(now)
			run.Status.StartedAt = &t
		}
		if run.Status.Phase == "" {
			run.Status.Phase = v1alpha1.AnalysisPhaseRunning
		}
	}
	return any
}

// outcome is one task's outcome.
type outcome struct {
	task
	measurementOutcome
}

// execute carries out the tasks, one goroutine per metric.
func (r *Reconciler) execute(ctx context.Context, run *v1alpha1.AnalysisRun, resolved []v1alpha1.Metric, tasks []task) []outcome {
	out := make([]outcome, len(tasks))
	var wg sync.WaitGroup
	for i, t := range tasks {
		m := resolved[t.metric]
		res := result(&run.Status, m.Name)
		var meas v1alpha1.Measurement
		n := 1
		if res != nil {
			if last := lastMeasurement(res); last != nil {
				meas = *last.DeepCopy()
			}
			n = int(res.Count+res.Error) + 1
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = outcome{task: t, measurementOutcome: r.providers.measure(ctx, run, m, t.kind, meas, n, r.clock.Now)}
		}()
	}
	wg.Wait()
	return out
}

// apply records the outcomes in status, secrets hidden.
func (r *Reconciler) apply(run *v1alpha1.AnalysisRun, resolved []v1alpha1.Metric, outcomes []outcome, red redactor) {
	now := r.clock.Now()
	for _, o := range outcomes {
		res := result(&run.Status, resolved[o.metric].Name)
		if res == nil || len(res.Measurements) == 0 {
			continue
		}
		if o.drop {
			res.Measurements = res.Measurements[:len(res.Measurements)-1]
			continue
		}
		meas := red.measurement(o.meas)
		if o.kind == taskTerminate && (meas.Phase == v1alpha1.AnalysisPhaseSuccessful || meas.Phase == v1alpha1.AnalysisPhaseInconclusive) {
			meas.Message = "Metric Terminated"
		}
		recordMeasurement(res, meas, true, now)
	}
}

// metricMetadata is what a metric's result keeps from its provider.
func metricMetadata(m v1alpha1.Metric) map[string]string {
	if m.Provider.Prometheus != nil && m.Provider.Prometheus.Query != "" {
		return map[string]string{"ResolvedPrometheusQuery": m.Provider.Prometheus.Query}
	}
	return nil
}

// retain trims each metric's measurements to its retention limit, after
// deleting the Jobs of the measurements trimmed.
func (r *Reconciler) retain(ctx context.Context, log logr.Logger, run *v1alpha1.AnalysisRun, resolved []v1alpha1.Metric, limits map[string]int32) {
	for i := range run.Status.MetricResults {
		res := &run.Status.MetricResults[i]
		limit := retentionLimit(limits, res.Name)
		if len(res.Measurements) <= limit {
			continue
		}
		for _, m := range resolved {
			if m.Name == res.Name && m.Provider.Job != nil && r.providers.Job != nil {
				if err := r.providers.Job.GarbageCollect(ctx, run, m.Name, limit); err != nil {
					log.Error(err, "deleting old measurement jobs; measurements kept until it succeeds", "metric", m.Name)
					limit = -1
				}
			}
		}
		if limit >= 0 {
			trimMeasurements(res, limit)
		}
	}
}

// fail ends the run as an Error with message.
func (r *Reconciler) fail(ctx context.Context, orig, run *v1alpha1.AnalysisRun, message string) (ctrl.Result, error) {
	run.Status.Phase, run.Status.Message = v1alpha1.AnalysisPhaseError, message
	now := metav1.NewTime(r.clock.Now())
	if run.Status.StartedAt == nil {
		run.Status.StartedAt = &now
	}
	run.Status.CompletedAt = &now
	if res, err := r.write(ctx, orig, run, true); err != nil || res != nil {
		return derefResult(res), err
	}
	r.log.Info("analysis run failed to start", "analysisRun", client.ObjectKeyFromObject(run), "message", message)
	r.emit(run, orig.Status.Phase, nil)
	return ctrl.Result{}, nil
}

// write patches the run's status from orig to run. locked: only if the run
// is still as it was read (a stale read or a concurrent writer gets a
// conflict, and the reconcile is retried soon). A non-nil result means
// "stop and return it".
func (r *Reconciler) write(ctx context.Context, orig, run *v1alpha1.AnalysisRun, locked bool) (*ctrl.Result, error) {
	if equality.Semantic.DeepEqual(orig.Status, run.Status) {
		return nil, nil
	}
	var patch client.Patch
	if locked {
		patch = client.MergeFromWithOptions(orig, client.MergeFromWithOptimisticLock{})
	} else {
		patch = client.MergeFrom(orig)
	}
	if err := r.client.Patch(ctx, run, patch); err != nil {
		if apierrors.IsConflict(err) {
			return &ctrl.Result{RequeueAfter: conflictRetry}, nil
		}
		if apierrors.IsNotFound(err) {
			return &ctrl.Result{}, nil
		}
		return nil, fmt.Errorf("writing the status of analysis run %s/%s: %w", run.Namespace, run.Name, err)
	}
	return nil, nil
}

// emit sends the events of an assessment: one per metric that completed,
// and one when the run completed.
func (r *Reconciler) emit(run *v1alpha1.AnalysisRun, before v1alpha1.AnalysisPhase, transitions []metricTransition) {
	if r.recorder == nil {
		return
	}
	for _, t := range transitions {
		r.recorder.Eventf(run, nil, eventType(t.Phase), v1alpha1.MetricReason(t.Phase), "Measure",
			"Metric '%s' Completed. Result: %s", t.Name, t.Phase)
	}
	if phase := run.Status.Phase; phase != before && phase.Completed() {
		note := fmt.Sprintf("Analysis Completed. Result: %s", phase)
		if run.Status.Message != "" {
			note += ": " + run.Status.Message
		}
		r.recorder.Eventf(run, nil, eventType(phase), v1alpha1.AnalysisRunReason(phase), "Assess", "%s", note)
	}
}

// eventType is Warning for Failed and Error, Normal otherwise.
func eventType(p v1alpha1.AnalysisPhase) string {
	if p == v1alpha1.AnalysisPhaseFailed || p == v1alpha1.AnalysisPhaseError {
		return corev1.EventTypeWarning
	}
	return corev1.EventTypeNormal
}

// start records the run's start at its first reconcile, as Argo's does: the
// clock of every metric's initialDelay runs from here. It is written before
// anything else, so that a restart keeps it.
func (r *Reconciler) start(ctx context.Context, orig, run *v1alpha1.AnalysisRun, now time.Time) (*ctrl.Result, error) {
	t := metav1.NewTime(now)
	run.Status.StartedAt = &t
	return r.write(ctx, orig, run, true)
}
