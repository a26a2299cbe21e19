package argometrics

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
	"github.com/albrollouts/albrollouts/internal/replicaset"
	"github.com/albrollouts/albrollouts/internal/version"
)

func newClient(t *testing.T, objs ...client.Object) client.Client {
	t.Helper()
	s := runtime.NewScheme()
	if err := v1alpha1.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	return fake.NewClientBuilder().WithScheme(s).WithObjects(objs...).Build()
}

func meta(name string, lbls map[string]string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Namespace: "ns", Name: name, Labels: lbls}
}

func progressing(reason string) []v1alpha1.RolloutCondition {
	return []v1alpha1.RolloutCondition{{Type: v1alpha1.ConditionProgressing, Status: corev1.ConditionTrue, Reason: reason}}
}

// rollouts: a paused ALB canary, a completed blue-green, a canary with an
// invalid spec (nil replicas: 1 desired), and one of another instance.
func rollouts() []client.Object {
	return []client.Object{
		&v1alpha1.Rollout{ObjectMeta: meta("web", nil),
			Spec: v1alpha1.RolloutSpec{Replicas: ptr.To[int32](4), Strategy: v1alpha1.RolloutStrategy{Canary: &v1alpha1.CanaryStrategy{
				TrafficRouting: &v1alpha1.RolloutTrafficRouting{ALB: &v1alpha1.ALBTrafficRouting{}}}}},
			Status: v1alpha1.RolloutStatus{Replicas: 5, AvailableReplicas: 4, UpdatedReplicas: 1, Conditions: progressing(v1alpha1.ReasonRolloutPaused)}},
		&v1alpha1.Rollout{ObjectMeta: meta("api", nil),
			Spec:   v1alpha1.RolloutSpec{Replicas: ptr.To[int32](2), Strategy: v1alpha1.RolloutStrategy{BlueGreen: &v1alpha1.BlueGreenStrategy{}}},
			Status: v1alpha1.RolloutStatus{Replicas: 2, AvailableReplicas: 2, UpdatedReplicas: 2, Conditions: progressing(v1alpha1.ReasonNewReplicaSetAvailable)}},
		&v1alpha1.Rollout{ObjectMeta: meta("bad", nil),
			Spec: v1alpha1.RolloutSpec{Strategy: v1alpha1.RolloutStrategy{Canary: &v1alpha1.CanaryStrategy{}}},
			Status: v1alpha1.RolloutStatus{Conditions: append(progressing(v1alpha1.ReasonRolloutAborted),
				v1alpha1.RolloutCondition{Type: v1alpha1.ConditionInvalidSpec, Status: corev1.ConditionTrue, Reason: v1alpha1.ReasonInvalidSpec})}},
		&v1alpha1.Rollout{ObjectMeta: meta("argos", map[string]string{replicaset.InstanceIDLabel: "argo"}),
			Spec: v1alpha1.RolloutSpec{Strategy: v1alpha1.RolloutStrategy{Canary: &v1alpha1.CanaryStrategy{}}}},
	}
}

func TestRolloutGauges(t *testing.T) {
	c := newClient(t, rollouts()...)
	m := Register(nil, Source{Reader: c})
	want := `
# HELP rollout_info Information about rollout.
# TYPE rollout_info gauge
rollout_info{name="api",namespace="ns",phase="Completed",strategy="blueGreen",traffic_router=""} 1
rollout_info{name="bad",namespace="ns",phase="InvalidSpec",strategy="canary",traffic_router=""} 1
rollout_info{name="web",namespace="ns",phase="Paused",strategy="canary",traffic_router="ALB"} 1
# HELP rollout_info_replicas_available The number of available replicas per rollout.
# TYPE rollout_info_replicas_available gauge
rollout_info_replicas_available{name="api",namespace="ns"} 2
rollout_info_replicas_available{name="bad",namespace="ns"} 0
rollout_info_replicas_available{name="web",namespace="ns"} 4
# HELP rollout_info_replicas_desired The number of desired replicas per rollout.
# TYPE rollout_info_replicas_desired gauge
rollout_info_replicas_desired{name="api",namespace="ns"} 2
rollout_info_replicas_desired{name="bad",namespace="ns"} 1
rollout_info_replicas_desired{name="web",namespace="ns"} 4
# HELP rollout_info_replicas_unavailable The number of unavailable replicas per rollout.
# TYPE rollout_info_replicas_unavailable gauge
rollout_info_replicas_unavailable{name="api",namespace="ns"} 0
rollout_info_replicas_unavailable{name="bad",namespace="ns"} 0
rollout_info_replicas_unavailable{name="web",namespace="ns"} 1
# HELP rollout_info_replicas_updated The number of updated replicas per rollout.
# TYPE rollout_info_replicas_updated gauge
rollout_info_replicas_updated{name="api",namespace="ns"} 2
rollout_info_replicas_updated{name="bad",namespace="ns"} 0
rollout_info_replicas_updated{name="web",namespace="ns"} 1
`
	if err := testutil.CollectAndCompare(m.cache, strings.NewReader(want), RolloutInfo,
		RolloutReplicasAvailable, RolloutReplicasDesired, RolloutReplicasUnavailable, RolloutReplicasUpdated); err != nil {
		t.Error(err)
	}
	wantPhase := `
# HELP rollout_phase Information on the state of the rollout (DEPRECATED - use rollout_info)
# TYPE rollout_phase gauge
rollout_phase{name="web",namespace="ns",phase="Abort",strategy="canary"} 0
rollout_phase{name="web",namespace="ns",phase="Completed",strategy="canary"} 0
rollout_phase{name="web",namespace="ns",phase="Error",strategy="canary"} 0
rollout_phase{name="web",namespace="ns",phase="Paused",strategy="canary"} 1
rollout_phase{name="web",namespace="ns",phase="Progressing",strategy="canary"} 0
rollout_phase{name="web",namespace="ns",phase="Timeout",strategy="canary"} 0
`
	if err := testutil.CollectAndCompare(onlyNamed(m.cache, "web"), strings.NewReader(wantPhase), RolloutPhase); err != nil {
		t.Error(err)
	}

	// Deleted: gone from the next scrape.
	if err := c.Delete(context.Background(), &v1alpha1.Rollout{ObjectMeta: meta("web", nil)}); err != nil {
		t.Fatal(err)
	}
	if n := testutil.CollectAndCount(onlyNamed(m.cache, "web")); n != 0 {
		t.Errorf("%d series of a deleted rollout", n)
	}
}

func TestRolloutGaugesOfAnInstance(t *testing.T) {
	m := Register(nil, Source{Reader: newClient(t, rollouts()...), InstanceID: "argo"})
	want := `
# HELP rollout_info Information about rollout.
# TYPE rollout_info gauge
rollout_info{name="argos",namespace="ns",phase="Progressing",strategy="canary",traffic_router=""} 1
`
	if err := testutil.CollectAndCompare(m.cache, strings.NewReader(want), RolloutInfo); err != nil {
		t.Error(err)
	}
}

// onlyNamed collects c's series of the object called name.
func onlyNamed(c prometheus.Collector, name string) prometheus.Collector {
	return filtered{c, name}
}

type filtered struct {
	prometheus.Collector
	name string
}

func (f filtered) Collect(ch chan<- prometheus.Metric) {
	all := make(chan prometheus.Metric)
	go func() { f.Collector.Collect(all); close(all) }()
	for m := range all {
		var pb dtoMetric
		if err := m.Write(&pb.Metric); err == nil && pb.label("name") == f.name {
			ch <- m
		}
	}
}

func TestAnalysisRunGauges(t *testing.T) {
	run := &v1alpha1.AnalysisRun{ObjectMeta: meta("web-1", nil),
		Spec: v1alpha1.AnalysisRunSpec{
			Metrics: []v1alpha1.Metric{
				{Name: "errors", Provider: v1alpha1.MetricProvider{Prometheus: &v1alpha1.PrometheusMetric{}}},
				{Name: "smoke", Provider: v1alpha1.MetricProvider{Web: &v1alpha1.WebMetric{}}},
			},
			DryRun: []v1alpha1.DryRun{{MetricName: "smo.*"}},
		},
		Status: v1alpha1.AnalysisRunStatus{Phase: v1alpha1.AnalysisPhaseRunning,
			MetricResults: []v1alpha1.MetricResult{{Name: "errors", Phase: v1alpha1.AnalysisPhaseSuccessful}}}}
	other := &v1alpha1.AnalysisRun{ObjectMeta: meta("argos-1", map[string]string{replicaset.InstanceIDLabel: "argo"})}
	m := Register(nil, Source{Reader: newClient(t, run, other)})
	want := `
# HELP analysis_run_info Information about analysis run.
# TYPE analysis_run_info gauge
analysis_run_info{name="web-1",namespace="ns",phase="Running"} 1
# HELP analysis_run_metric_type Information on the type of a specific metric in the Analysis Runs
# TYPE analysis_run_metric_type gauge
analysis_run_metric_type{metric="errors",name="web-1",namespace="ns",type="Prometheus"} 1
analysis_run_metric_type{metric="smoke",name="web-1",namespace="ns",type="Web"} 1
# HELP analysis_run_phase Information on the state of the Analysis Run (DEPRECATED - use analysis_run_info)
# TYPE analysis_run_phase gauge
analysis_run_phase{name="web-1",namespace="ns",phase="Error"} 0
analysis_run_phase{name="web-1",namespace="ns",phase="Failed"} 0
analysis_run_phase{name="web-1",namespace="ns",phase="Inconclusive"} 0
analysis_run_phase{name="web-1",namespace="ns",phase="Pending"} 0
analysis_run_phase{name="web-1",namespace="ns",phase="Running"} 1
analysis_run_phase{name="web-1",namespace="ns",phase="Successful"} 0
`
	if err := testutil.CollectAndCompare(m.cache, strings.NewReader(want), AnalysisRunInfo, AnalysisRunMetricType, AnalysisRunPhase); err != nil {
		t.Error(err)
	}
	wantMetric := `
# HELP analysis_run_metric_phase Information on the duration of a specific metric in the Analysis Run
# TYPE analysis_run_metric_phase gauge
analysis_run_metric_phase{dry_run="false",metric="errors",name="web-1",namespace="ns",phase="Error",type="Prometheus"} 0
analysis_run_metric_phase{dry_run="false",metric="errors",name="web-1",namespace="ns",phase="Failed",type="Prometheus"} 0
analysis_run_metric_phase{dry_run="false",metric="errors",name="web-1",namespace="ns",phase="Inconclusive",type="Prometheus"} 0
analysis_run_metric_phase{dry_run="false",metric="errors",name="web-1",namespace="ns",phase="Pending",type="Prometheus"} 0
analysis_run_metric_phase{dry_run="false",metric="errors",name="web-1",namespace="ns",phase="Running",type="Prometheus"} 0
analysis_run_metric_phase{dry_run="false",metric="errors",name="web-1",namespace="ns",phase="Successful",type="Prometheus"} 1
analysis_run_metric_phase{dry_run="true",metric="smoke",name="web-1",namespace="ns",phase="Error",type="Web"} 0
analysis_run_metric_phase{dry_run="true",metric="smoke",name="web-1",namespace="ns",phase="Failed",type="Web"} 0
analysis_run_metric_phase{dry_run="true",metric="smoke",name="web-1",namespace="ns",phase="Inconclusive",type="Web"} 0
analysis_run_metric_phase{dry_run="true",metric="smoke",name="web-1",namespace="ns",phase="Pending",type="Web"} 1
analysis_run_metric_phase{dry_run="true",metric="smoke",name="web-1",namespace="ns",phase="Running",type="Web"} 0
analysis_run_metric_phase{dry_run="true",metric="smoke",name="web-1",namespace="ns",phase="Successful",type="Web"} 0
`
	if err := testutil.CollectAndCompare(m.cache, strings.NewReader(wantMetric), AnalysisRunMetricPhase); err != nil {
		t.Error(err)
	}
}

type stubReconciler struct{ err error }

func (s stubReconciler) Reconcile(context.Context, reconcile.Request) (reconcile.Result, error) {
	return reconcile.Result{}, s.err
}

func TestInstrumentRollouts(t *testing.T) {
	c := newClient(t, rollouts()...)
	m := Register(nil, Source{Reader: c})
	req := reconcile.Request{NamespacedName: client.ObjectKey{Namespace: "ns", Name: "web"}}
	ctx := context.Background()
	_, _ = m.InstrumentRollouts(stubReconciler{}).Reconcile(ctx, req)
	if _, err := m.InstrumentRollouts(stubReconciler{err: errors.New("boom")}).Reconcile(ctx, req); err == nil {
		t.Fatal("the wrapper swallowed the error")
	}
	if n := testutil.CollectAndCount(m.rollouts.duration, RolloutReconcile); n != 1 {
		t.Errorf("rollout_reconcile has %d series, want 1", n)
	}
	if got := testutil.ToFloat64(m.rollouts.errors.WithLabelValues("ns", "web")); got != 1 {
		t.Errorf("rollout_reconcile_error = %v, want 1", got)
	}
	// Argo's buckets.
	var pb dtoMetric
	if err := m.rollouts.duration.WithLabelValues("ns", "web").(prometheus.Metric).Write(&pb.Metric); err != nil {
		t.Fatal(err)
	}
	var bounds []float64
	for _, b := range pb.Metric.GetHistogram().GetBucket() {
		bounds = append(bounds, b.GetUpperBound())
	}
	if want := []float64{0.01, 0.15, 0.25, 0.5, 1}; !slices.Equal(bounds, want) || pb.Metric.GetHistogram().GetSampleCount() != 2 {
		t.Errorf("rollout_reconcile: buckets %v, %d observations; want %v, 2", bounds, pb.Metric.GetHistogram().GetSampleCount(), want)
	}
	m.CountEvents(events.NewFakeRecorder(10)).Eventf(&v1alpha1.Rollout{ObjectMeta: meta("web", nil)}, nil, corev1.EventTypeNormal, "RolloutPaused", "Pause", "paused")

	// Deleted: its reconcile and event series go with its last reconcile.
	if err := c.Delete(ctx, &v1alpha1.Rollout{ObjectMeta: meta("web", nil)}); err != nil {
		t.Fatal(err)
	}
	_, _ = m.InstrumentRollouts(stubReconciler{}).Reconcile(ctx, req)
	for _, col := range []prometheus.Collector{m.rollouts.duration, m.rollouts.errors, m.events} {
		if n := testutil.CollectAndCount(col); n != 0 {
			t.Errorf("%d series left of a deleted rollout", n)
		}
	}
}

func TestInstrumentAnalysisRuns(t *testing.T) {
	run := &v1alpha1.AnalysisRun{ObjectMeta: meta("web-1", nil)}
	m := Register(nil, Source{Reader: newClient(t, run)})
	req := reconcile.Request{NamespacedName: client.ObjectKey{Namespace: "ns", Name: "web-1"}}
	_, _ = m.InstrumentAnalysisRuns(stubReconciler{err: errors.New("boom")}).Reconcile(context.Background(), req)
	if n := testutil.CollectAndCount(m.runs.duration, AnalysisRunReconcile); n != 1 {
		t.Errorf("analysis_run_reconcile has %d series, want 1", n)
	}
	if got := testutil.ToFloat64(m.runs.errors.WithLabelValues("ns", "web-1")); got != 1 {
		t.Errorf("analysis_run_reconcile_error = %v, want 1", got)
	}
}

func TestEventCounter(t *testing.T) {
	m := Register(nil, Source{})
	fr := events.NewFakeRecorder(10)
	rec := m.CountEvents(fr)
	ro := &v1alpha1.Rollout{ObjectMeta: meta("web", nil)}
	rec.Eventf(ro, nil, corev1.EventTypeNormal, v1alpha1.ReasonRolloutPaused, "Pause", "paused at step %d", 1)
	rec.Eventf(ro, nil, corev1.EventTypeNormal, v1alpha1.ReasonRolloutPaused, "Pause", "paused at step %d", 3)
	rec.Eventf(ro, nil, corev1.EventTypeWarning, v1alpha1.ReasonRolloutAborted, "Abort", "aborted")
	// Not a Rollout: recorded, not counted (as Argo).
	rec.Eventf(&v1alpha1.AnalysisRun{ObjectMeta: meta("web-1", nil)}, nil, corev1.EventTypeNormal, "AnalysisRunSuccessful", "Analyze", "done")
	if len(fr.Events) != 4 {
		t.Errorf("%d events recorded, want 4", len(fr.Events))
	}
	want := `
# HELP rollout_events_total Count of rollout events
# TYPE rollout_events_total counter
rollout_events_total{name="web",namespace="ns",reason="RolloutAborted",type="Warning"} 1
rollout_events_total{name="web",namespace="ns",reason="RolloutPaused",type="Normal"} 2
`
	if err := testutil.CollectAndCompare(m.events, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
}

// Several controllers in one process (tests) share one set of collectors;
// the gauges read the newest controller's cache.
func TestRegisterTwice(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	first := Register(reg, Source{Reader: newClient(t)})
	second := Register(reg, Source{Reader: newClient(t, rollouts()...)})
	if first.events != second.events || first.rollouts.duration != second.rollouts.duration {
		t.Error("the second registration built new counters")
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, mf := range mfs {
		got[mf.GetName()] = true
	}
	for _, name := range []string{RolloutInfo, RolloutPhase, ControllerInfo} {
		if !got[name] {
			t.Errorf("%s not gathered (got %v)", name, got)
		}
	}
	want := `
# HELP argo_rollouts_controller_info Running Argo-rollouts version
# TYPE argo_rollouts_controller_info gauge
argo_rollouts_controller_info{version="` + version.Version + `"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), ControllerInfo); err != nil {
		t.Error(err)
	}
}

// A replica that does not lead reports no rollout: the leader does.
func TestGaugesOnlyOnTheLeader(t *testing.T) {
	elected := make(chan struct{})
	m := Register(nil, Source{Reader: newClient(t, rollouts()...), Elected: elected})
	if n := testutil.CollectAndCount(m.cache); n != 0 {
		t.Errorf("%d series before the election", n)
	}
	close(elected)
	if n := testutil.CollectAndCount(m.cache, RolloutInfo); n != 3 {
		t.Errorf("%d rollout_info series once elected, want 3", n)
	}
}
