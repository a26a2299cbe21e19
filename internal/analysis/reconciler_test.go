package analysis

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/events"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
	"github.com/albrollouts/albrollouts/internal/analysis/job"
	"github.com/albrollouts/albrollouts/internal/analysis/web"
)

// harness is a reconciler on an in-memory API server, a fake clock and an
// HTTP metric endpoint that counts its calls.
type harness struct {
	t        *testing.T
	c        client.Client
	r        *Reconciler
	clock    *clocktesting.FakeClock
	recorder *events.FakeRecorder
	calls    atomic.Int32
	srv      *httptest.Server
}

func newHarness(t *testing.T, handler http.HandlerFunc, objs ...client.Object) *harness {
	t.Helper()
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	if err := v1alpha1.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, clock: clocktesting.NewFakeClock(t0), recorder: events.NewFakeRecorder(100)}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.calls.Add(1)
		handler(w, r)
	}))
	t.Cleanup(h.srv.Close)
	h.c = fake.NewClientBuilder().WithScheme(s).WithObjects(objs...).Build()
	providers := Providers{Web: &web.Provider{}, Job: &job.Provider{Client: h.c, Reader: h.c, Now: h.clock.Now}}
	h.r = NewReconciler(h.c, h.c, h.recorder, providers, h.clock, logr.Discard())
	return h
}

func (h *harness) reconcile(name string) reconcile.Result {
	h.t.Helper()
	res, err := h.r.Reconcile(context.Background(), reconcile.Request{NamespacedName: types.NamespacedName{Namespace: "ns", Name: name}})
	if err != nil {
		h.t.Fatalf("reconcile: %v", err)
	}
	return res
}

func (h *harness) run(name string) *v1alpha1.AnalysisRun {
	h.t.Helper()
	run := &v1alpha1.AnalysisRun{}
	if err := h.c.Get(context.Background(), types.NamespacedName{Namespace: "ns", Name: name}, run); err != nil {
		h.t.Fatal(err)
	}
	return run
}

func (h *harness) events() []string {
	var out []string
	for {
		select {
		case e := <-h.recorder.Events:
			out = append(out, e)
		default:
			return out
		}
	}
}

func newRun(name string, metrics ...v1alpha1.Metric) *v1alpha1.AnalysisRun {
	return &v1alpha1.AnalysisRun{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, UID: types.UID("uid-" + name)}, Spec: v1alpha1.AnalysisRunSpec{Metrics: metrics}}
}

func jsonHandler(body string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) { _, _ = fmt.Fprint(w, body) }
}

// A web metric measured three times a minute apart: each reconcile takes
// the measurement due and asks to come back when the next is.
func TestReconcileWebMetricSucceeds(t *testing.T) {
	m := v1alpha1.Metric{Name: "ok", Interval: "1m", Count: io(3), SuccessCondition: "result.ok == true",
		Provider: v1alpha1.MetricProvider{Web: &v1alpha1.WebMetric{JSONPath: "{$.data}"}}}
	h := newHarness(t, jsonHandler(`{"data": {"ok": true}}`))
	m.Provider.Web.URL = h.srv.URL
	if err := h.c.Create(context.Background(), newRun("r", m)); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 3; i++ {
		res := h.reconcile("r")
		run := h.run("r")
		got := run.Status.MetricResults[0]
		if int(h.calls.Load()) != i || int(got.Count) != i || got.Successful != int32(i) {
			t.Fatalf("pass %d: %d calls, result %+v", i, h.calls.Load(), got)
		}
		if got.Measurements[i-1].Value != `{"ok":true}` || got.Measurements[i-1].FinishedAt == nil {
			t.Fatalf("pass %d: measurement %+v", i, got.Measurements[i-1])
		}
		if i < 3 {
			if run.Status.Phase != v1alpha1.AnalysisPhaseRunning || res.RequeueAfter != time.Minute {
				t.Fatalf("pass %d: phase %s requeue %v", i, run.Status.Phase, res.RequeueAfter)
			}
			// Nothing is due before the interval is over.
			h.clock.Step(30 * time.Second)
			if res := h.reconcile("r"); h.calls.Load() != int32(i) || res.RequeueAfter != 30*time.Second {
				t.Fatalf("pass %d: measured early (%d calls), requeue %v", i, h.calls.Load(), res.RequeueAfter)
			}
			h.clock.Step(30 * time.Second)
			continue
		}
		if run.Status.Phase != v1alpha1.AnalysisPhaseSuccessful || run.Status.CompletedAt == nil || res.RequeueAfter != 0 {
			t.Fatalf("done: phase %s completedAt %v requeue %v", run.Status.Phase, run.Status.CompletedAt, res.RequeueAfter)
		}
		if run.Status.RunSummary != (v1alpha1.RunSummary{Count: 1, Successful: 1}) || run.Status.StartedAt == nil || !run.Status.StartedAt.Time.Equal(t0) {
			t.Fatalf("summary %+v startedAt %v", run.Status.RunSummary, run.Status.StartedAt)
		}
	}
	ev := strings.Join(h.events(), "\n")
	for _, want := range []string{"Normal MetricSuccessful Metric 'ok' Completed. Result: Successful", "Normal AnalysisRunSuccessful Analysis Completed. Result: Successful"} {
		if !strings.Contains(ev, want) {
			t.Errorf("events %q lack %q", ev, want)
		}
	}
	// A completed run is left alone.
	h.reconcile("r")
	if h.calls.Load() != 3 || len(h.events()) != 0 {
		t.Error("a completed run was measured again")
	}
}

// A measurement recorded as started before a restart is taken once, not
// twice, and not lost.
func TestReconcileAfterRestartTakesTheRecordedMeasurementOnce(t *testing.T) {
	m := v1alpha1.Metric{Name: "m", Provider: v1alpha1.MetricProvider{Web: &v1alpha1.WebMetric{}}}
	h := newHarness(t, jsonHandler(`1`))
	m.Provider.Web.URL = h.srv.URL
	run := newRun("r", m)
	run.Status = v1alpha1.AnalysisRunStatus{Phase: v1alpha1.AnalysisPhaseRunning, StartedAt: at(0), MetricResults: []v1alpha1.MetricResult{
		{Name: "m", Phase: v1alpha1.AnalysisPhaseRunning, Measurements: []v1alpha1.Measurement{{Phase: v1alpha1.AnalysisPhaseRunning, StartedAt: at(0)}}},
	}}
	if err := h.c.Create(context.Background(), run); err != nil {
		t.Fatal(err)
	}
	h.clock.Step(time.Second)
	h.reconcile("r")
	got := h.run("r")
	if h.calls.Load() != 1 || len(got.Status.MetricResults[0].Measurements) != 1 || got.Status.MetricResults[0].Count != 1 || got.Status.Phase != v1alpha1.AnalysisPhaseSuccessful {
		t.Fatalf("%d calls, status %+v", h.calls.Load(), got.Status)
	}
	if !got.Status.MetricResults[0].Measurements[0].StartedAt.Time.Equal(t0) {
		t.Error("the recorded start was replaced")
	}
}

// staleReader serves a copy of the run as it was, as a lagging cache would.
type staleReader struct {
	client.Reader
	stale *v1alpha1.AnalysisRun
}

func (s staleReader) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	if run, ok := obj.(*v1alpha1.AnalysisRun); ok {
		s.stale.DeepCopyInto(run)
		return nil
	}
	return s.Reader.Get(ctx, key, obj, opts...)
}

// A reconcile that reads an out-of-date run loses its first write and takes
// no measurement: the measurement the up-to-date status already has is not
// taken twice.
func TestReconcileOnAStaleReadTakesNoMeasurement(t *testing.T) {
	m := v1alpha1.Metric{Name: "m", Interval: "1m", Count: io(2), Provider: v1alpha1.MetricProvider{Web: &v1alpha1.WebMetric{}}}
	h := newHarness(t, jsonHandler(`1`))
	m.Provider.Web.URL = h.srv.URL
	if err := h.c.Create(context.Background(), newRun("r", m)); err != nil {
		t.Fatal(err)
	}
	stale := h.run("r")
	h.reconcile("r")
	if h.calls.Load() != 1 {
		t.Fatalf("%d calls", h.calls.Load())
	}
	h.r.live = staleReader{Reader: h.c, stale: stale}
	res := h.reconcile("r")
	if h.calls.Load() != 1 || res.RequeueAfter != conflictRetry {
		t.Fatalf("on a stale read: %d calls, requeue %v", h.calls.Load(), res.RequeueAfter)
	}
	if got := h.run("r").Status.MetricResults[0]; len(got.Measurements) != 1 || got.Count != 1 {
		t.Fatalf("status %+v", got)
	}
}

// An unsupported provider fails closed: every measurement is an Error that
// names it, and the 5th in a row (consecutiveErrorLimit 4) errors the run.
func TestReconcileUnsupportedProviderErrorsTheRun(t *testing.T) {
	m := v1alpha1.Metric{Name: "dd", Provider: v1alpha1.MetricProvider{Datadog: &runtime.RawExtension{Raw: []byte(`{"query":"avg:x"}`)}}}
	h := newHarness(t, jsonHandler(``))
	if err := h.c.Create(context.Background(), newRun("r", m)); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 5; i++ {
		res := h.reconcile("r")
		run := h.run("r")
		r := run.Status.MetricResults[0]
		if r.Error != int32(i) || !strings.Contains(r.Measurements[i-1].Message, "metric provider datadog is not supported by albrollouts") {
			t.Fatalf("pass %d: %+v", i, r)
		}
		if i < 5 {
			if run.Status.Phase != v1alpha1.AnalysisPhaseRunning || res.RequeueAfter != ErrorRetryInterval {
				t.Fatalf("pass %d: %s, requeue %v", i, run.Status.Phase, res.RequeueAfter)
			}
			h.clock.Step(ErrorRetryInterval)
			continue
		}
		want := `Metric "dd" assessed Error due to consecutiveErrors (5) > consecutiveErrorLimit (4): "Error Message: metric provider datadog is not supported`
		if run.Status.Phase != v1alpha1.AnalysisPhaseError || !strings.HasPrefix(run.Status.Message, want) {
			t.Fatalf("run %s %q", run.Status.Phase, run.Status.Message)
		}
	}
	if ev := strings.Join(h.events(), "\n"); !strings.Contains(ev, "Warning AnalysisRunError Analysis Completed. Result: Error") {
		t.Errorf("events %q", ev)
	}
}

// A run whose spec cannot be measured is an Error at once, in Argo's words.
func TestReconcileInvalidSpec(t *testing.T) {
	for _, tc := range []struct {
		run  func() *v1alpha1.AnalysisRun
		want string
	}{
		{func() *v1alpha1.AnalysisRun { return newRun("r", webMetric("a"), webMetric("a")) }, "Analysis spec invalid: metrics[1]: duplicate name 'a'"},
		{func() *v1alpha1.AnalysisRun {
			m := webMetric("a")
			m.SuccessCondition = "{{args.x}}"
			return newRun("r", m)
		}, "Unable to resolve metric arguments: failed to resolve {{args.x}}"},
		{func() *v1alpha1.AnalysisRun {
			r := newRun("r", webMetric("a"))
			r.Spec.DryRun = []v1alpha1.DryRun{{MetricName: "zzz"}}
			return r
		}, "Analysis spec invalid: dryRun[0]: Rule didn't match any metric name(s)"},
		{func() *v1alpha1.AnalysisRun {
			r := newRun("r", webMetric("a"))
			r.Spec.Args = []v1alpha1.Argument{{Name: "t", ValueFrom: &v1alpha1.ValueFrom{SecretKeyRef: &v1alpha1.SecretKeyRef{Name: "missing", Key: "k"}}}}
			return r
		}, "Unable to resolve metric arguments: arg \"t\": secret ns/missing"},
	} {
		h := newHarness(t, jsonHandler(`1`))
		if err := h.c.Create(context.Background(), tc.run()); err != nil {
			t.Fatal(err)
		}
		h.reconcile("r")
		run := h.run("r")
		if run.Status.Phase != v1alpha1.AnalysisPhaseError || !strings.HasPrefix(run.Status.Message, tc.want) || run.Status.CompletedAt == nil || h.calls.Load() != 0 {
			t.Errorf("%s: status %s %q, %d calls", tc.want, run.Status.Phase, run.Status.Message, h.calls.Load())
		}
	}
}

// A secret arg's value never reaches the run's status or events, even when
// the endpoint answers with it.
func TestReconcileRedactsSecrets(t *testing.T) {
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "creds"}, Data: map[string][]byte{"token": []byte("hunter2hunter2")}}
	h := newHarness(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = fmt.Fprintf(w, "you sent %s", r.Header.Get("Authorization"))
	}, secret)
	m := v1alpha1.Metric{Name: "m", SuccessCondition: `result == "nope"`, Provider: v1alpha1.MetricProvider{Web: &v1alpha1.WebMetric{URL: h.srv.URL + "/?t={{args.token}}",
		Headers: []v1alpha1.WebMetricHeader{{Key: "Authorization", Value: "Bearer {{args.token}}"}}}}}
	run := newRun("r", m)
	run.Spec.Args = []v1alpha1.Argument{{Name: "token", ValueFrom: &v1alpha1.ValueFrom{SecretKeyRef: &v1alpha1.SecretKeyRef{Name: "creds", Key: "token"}}}}
	if err := h.c.Create(context.Background(), run); err != nil {
		t.Fatal(err)
	}
	h.reconcile("r")
	got := h.run("r")
	if h.calls.Load() != 1 || got.Status.Phase != v1alpha1.AnalysisPhaseFailed {
		t.Fatalf("%d calls, phase %s", h.calls.Load(), got.Status.Phase)
	}
	all := fmt.Sprintf("%+v %v", got.Status, h.events())
	if strings.Contains(all, "hunter2") || !strings.Contains(got.Status.MetricResults[0].Measurements[0].Value, "Bearer "+Redacted) {
		t.Errorf("the secret leaks: %s", all)
	}
	if got.Spec.Args[0].Value != nil {
		t.Error("the secret was written into the spec")
	}
}

// A job metric: the Job is created owned by the run, the measurement waits
// for it, and the run succeeds when it completes; terminating a run deletes
// its running Job and the measurement is Inconclusive.
func TestReconcileJobMetric(t *testing.T) {
	m := v1alpha1.Metric{Name: "smoke", Provider: v1alpha1.MetricProvider{Job: &v1alpha1.JobMetric{Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{
		Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}}}}}
	h := newHarness(t, jsonHandler(``))
	if err := h.c.Create(context.Background(), newRun("r", m)); err != nil {
		t.Fatal(err)
	}
	res := h.reconcile("r")
	run := h.run("r")
	meas := run.Status.MetricResults[0].Measurements[0]
	name := job.Name(run, "smoke", 1)
	if meas.Phase != v1alpha1.AnalysisPhaseRunning || meas.Metadata[job.JobNameKey] != name || meas.Metadata[job.JobNamespaceKey] != "ns" || res.RequeueAfter <= 0 {
		t.Fatalf("measurement %+v, requeue %v", meas, res.RequeueAfter)
	}
	j := &batchv1.Job{}
	if err := h.c.Get(context.Background(), types.NamespacedName{Namespace: "ns", Name: name}, j); err != nil {
		t.Fatal(err)
	}
	if owner := metav1.GetControllerOf(j); owner == nil || owner.UID != run.UID || j.Labels[job.RunUIDLabel] != string(run.UID) || j.Spec.Template.Labels[job.RunUIDLabel] != string(run.UID) {
		t.Fatalf("job %+v", j.ObjectMeta)
	}
	// Still running: looked at again later.
	h.clock.Step(10 * time.Second)
	h.reconcile("r")
	if p := h.run("r").Status.MetricResults[0].Measurements[0]; p.Phase != v1alpha1.AnalysisPhaseRunning || p.ResumeAt == nil || !p.ResumeAt.After(h.clock.Now()) {
		t.Fatalf("running job: %+v", p)
	}
	j.Status.Conditions = []batchv1.JobCondition{{Type: batchv1.JobComplete, Status: corev1.ConditionTrue}}
	if err := h.c.Status().Update(context.Background(), j); err != nil {
		t.Fatal(err)
	}
	h.clock.Step(time.Minute)
	h.reconcile("r")
	if run := h.run("r"); run.Status.Phase != v1alpha1.AnalysisPhaseSuccessful {
		t.Fatalf("after the job completed: %+v", run.Status)
	}

	// Terminated while its Job runs.
	if err := h.c.Create(context.Background(), newRun("t", m)); err != nil {
		t.Fatal(err)
	}
	h.reconcile("t")
	run = h.run("t")
	run.Spec.Terminate = true
	if err := h.c.Update(context.Background(), run); err != nil {
		t.Fatal(err)
	}
	h.reconcile("t")
	run = h.run("t")
	tm := run.Status.MetricResults[0].Measurements[0]
	if tm.Phase != v1alpha1.AnalysisPhaseInconclusive || tm.Message != "Metric Terminated" || run.Status.Phase != v1alpha1.AnalysisPhaseInconclusive {
		t.Fatalf("terminated: measurement %+v, run %s %q", tm, run.Status.Phase, run.Status.Message)
	}
	if err := h.c.Get(context.Background(), types.NamespacedName{Namespace: "ns", Name: job.Name(run, "smoke", 1)}, &batchv1.Job{}); err == nil {
		t.Error("the terminated run's job is still there")
	}
}

// measurementRetention keeps the newest N measurements; the counters keep counting.
func TestReconcileRetention(t *testing.T) {
	m := v1alpha1.Metric{Name: "m", Interval: "1s", Count: io(5), Provider: v1alpha1.MetricProvider{Web: &v1alpha1.WebMetric{}}}
	h := newHarness(t, jsonHandler(`1`))
	m.Provider.Web.URL = h.srv.URL
	run := newRun("r", m)
	run.Spec.MeasurementRetention = []v1alpha1.MeasurementRetention{{MetricName: "m", Limit: 2}}
	if err := h.c.Create(context.Background(), run); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		h.reconcile("r")
		h.clock.Step(time.Second)
	}
	got := h.run("r").Status.MetricResults[0]
	if len(got.Measurements) != 2 || got.Count != 5 || got.Phase != v1alpha1.AnalysisPhaseSuccessful {
		t.Fatalf("%d measurements, count %d, phase %s", len(got.Measurements), got.Count, got.Phase)
	}
}
