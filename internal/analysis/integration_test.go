package analysis_test

// Integration tests: the analysis controller on the local control plane
// (etcd + kube-apiserver, the CRDs the binary ships), measuring web metrics
// against an HTTP server. Skipped with -short.

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
	"github.com/albrollouts/albrollouts/internal/analysis"
	"github.com/albrollouts/albrollouts/internal/sim/localcluster"
)

var (
	clusterOnce sync.Once
	cluster     *localcluster.Cluster
	clusterErr  error
	env         *controllerEnv
)

// controllerEnv is the analysis controller running against the cluster.
type controllerEnv struct {
	c      client.Client
	cancel context.CancelFunc
	done   chan error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if env != nil {
		env.cancel()
		if err := <-env.done; err != nil {
			fmt.Fprintln(os.Stderr, "analysis controller:", err)
			code = 1
		}
	}
	if cluster != nil {
		if err := cluster.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "localcluster: stop:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// start starts the control plane and the analysis controller once for the
// package's integration tests.
func start(t *testing.T) *controllerEnv {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test: needs the local control plane (run without -short)")
	}
	clusterOnce.Do(func() {
		ctrllog.SetLogger(logr.Discard())
		cluster, clusterErr = localcluster.Start(context.Background(), localcluster.Options{})
		if clusterErr != nil {
			return
		}
		s := runtime.NewScheme()
		if clusterErr = clientgoscheme.AddToScheme(s); clusterErr != nil {
			return
		}
		if clusterErr = v1alpha1.AddToScheme(s); clusterErr != nil {
			return
		}
		mgr, err := ctrl.NewManager(cluster.RESTConfig(), ctrl.Options{
			Scheme:     s,
			Metrics:    metricsserver.Options{BindAddress: "0"},
			Controller: config.Controller{SkipNameValidation: ptr.To(true)},
		})
		if err != nil {
			clusterErr = err
			return
		}
		ctx, cancel := context.WithCancel(context.Background())
		if clusterErr = analysis.SetupWithManager(ctx, mgr, analysis.Options{AWSRegion: "us-east-1"}); clusterErr != nil {
			cancel()
			return
		}
		env = &controllerEnv{c: mgr.GetClient(), cancel: cancel, done: make(chan error, 1)}
		go func() { env.done <- mgr.Start(ctx) }()
	})
	if clusterErr != nil {
		t.Fatalf("local control plane and analysis controller: %v", clusterErr)
	}
	return env
}

func namespace(t *testing.T, c client.Client, name string) {
	t.Helper()
	if err := c.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}); err != nil {
		t.Fatal(err)
	}
}

// waitPhase polls the run until it reaches a terminal phase, and returns it.
func waitPhase(t *testing.T, c client.Client, ns, name string, timeout time.Duration) *v1alpha1.AnalysisRun {
	t.Helper()
	run := &v1alpha1.AnalysisRun{}
	err := wait.PollUntilContextTimeout(context.Background(), 200*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, run); err != nil {
			return false, client.IgnoreNotFound(err)
		}
		return run.Status.Phase.Completed(), nil
	})
	if err != nil {
		t.Fatalf("analysis run %s/%s did not complete within %s: status %+v", ns, name, timeout, run.Status)
	}
	return run
}

// metricServer answers every request with body and counts them.
func metricServer(t *testing.T, body string) (*httptest.Server, *atomic.Int32) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		n.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = fmt.Fprint(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func count(n int) *intstr.IntOrString { v := intstr.FromInt32(int32(n)); return &v }

// A template applied through the API server, and a run made from it: three
// measurements a second apart, all successful, and the run Successful.
func TestWebMetricRunSucceeds(t *testing.T) {
	e := start(t)
	namespace(t, e.c, "analysis-ok")
	srv, calls := metricServer(t, `{"data": {"ok": true, "successPercent": 0.99}}`)
	metric := v1alpha1.Metric{
		Name: "success-rate", Interval: "1s", Count: count(3),
		SuccessCondition: "result.ok && result.successPercent >= {{args.min}}",
		Provider:         v1alpha1.MetricProvider{Web: &v1alpha1.WebMetric{URL: srv.URL + "/metrics/{{args.service}}", JSONPath: "{$.data}"}},
	}
	tpl := &v1alpha1.AnalysisTemplate{ObjectMeta: metav1.ObjectMeta{Namespace: "analysis-ok", Name: "success-rate"},
		Spec: v1alpha1.AnalysisTemplateSpec{Metrics: []v1alpha1.Metric{metric}, Args: []v1alpha1.Argument{{Name: "service"}, {Name: "min", Value: ptr.To("0.95")}}}}
	if err := e.c.Create(context.Background(), tpl); err != nil {
		t.Fatalf("the API server refuses the template: %v", err)
	}
	run := &v1alpha1.AnalysisRun{ObjectMeta: metav1.ObjectMeta{Namespace: "analysis-ok", Name: "ok"}, Spec: v1alpha1.AnalysisRunSpec{
		Metrics: tpl.Spec.Metrics, Args: []v1alpha1.Argument{{Name: "service", Value: ptr.To("guestbook")}, {Name: "min", Value: ptr.To("0.95")}},
	}}
	if err := e.c.Create(context.Background(), run); err != nil {
		t.Fatal(err)
	}
	got := waitPhase(t, e.c, "analysis-ok", "ok", time.Minute)
	res := got.Status.MetricResults
	if got.Status.Phase != v1alpha1.AnalysisPhaseSuccessful || len(res) != 1 || res[0].Count != 3 || res[0].Successful != 3 || len(res[0].Measurements) != 3 {
		t.Fatalf("status %+v", got.Status)
	}
	if calls.Load() != 3 {
		t.Errorf("%d requests for 3 measurements", calls.Load())
	}
	if got.Status.StartedAt == nil || got.Status.CompletedAt == nil || got.Status.RunSummary != (v1alpha1.RunSummary{Count: 1, Successful: 1}) {
		t.Errorf("status %+v", got.Status)
	}
	for i := 1; i < 3; i++ {
		if gap := res[0].Measurements[i].StartedAt.Sub(res[0].Measurements[i-1].FinishedAt.Time); gap < time.Second-10*time.Millisecond {
			t.Errorf("measurement %d started %v after the previous one finished; interval 1s", i, gap)
		}
	}
}

// failureLimit 1: the second failed measurement fails the metric and the run.
func TestWebMetricRunFails(t *testing.T) {
	e := start(t)
	namespace(t, e.c, "analysis-fail")
	srv, _ := metricServer(t, `{"errorRate": 0.2}`)
	run := &v1alpha1.AnalysisRun{ObjectMeta: metav1.ObjectMeta{Namespace: "analysis-fail", Name: "fail"}, Spec: v1alpha1.AnalysisRunSpec{Metrics: []v1alpha1.Metric{{
		Name: "error-rate", Interval: "1s", Count: count(5), FailureLimit: count(1),
		SuccessCondition: "result.errorRate < 0.05",
		Provider:         v1alpha1.MetricProvider{Web: &v1alpha1.WebMetric{URL: srv.URL}},
	}}}}
	if err := e.c.Create(context.Background(), run); err != nil {
		t.Fatal(err)
	}
	got := waitPhase(t, e.c, "analysis-fail", "fail", time.Minute)
	want := `Metric "error-rate" assessed Failed due to failed (2) > failureLimit (1)`
	if got.Status.Phase != v1alpha1.AnalysisPhaseFailed || got.Status.Message != want || got.Status.MetricResults[0].Failed != 2 {
		t.Fatalf("status %s %q %+v", got.Status.Phase, got.Status.Message, got.Status.MetricResults)
	}
	if got.Status.MetricResults[0].Measurements[0].Value != `{"errorRate":0.2}` {
		t.Errorf("value %q", got.Status.MetricResults[0].Measurements[0].Value)
	}
}

// An unsupported provider fails closed: the measurement is an Error naming
// it, and the run errors once consecutiveErrorLimit is passed.
func TestUnsupportedProviderRunErrors(t *testing.T) {
	e := start(t)
	namespace(t, e.c, "analysis-unsupported")
	run := &v1alpha1.AnalysisRun{ObjectMeta: metav1.ObjectMeta{Namespace: "analysis-unsupported", Name: "datadog"}, Spec: v1alpha1.AnalysisRunSpec{Metrics: []v1alpha1.Metric{{
		Name: "dd", ConsecutiveErrorLimit: count(0),
		Provider: v1alpha1.MetricProvider{Datadog: &runtime.RawExtension{Raw: []byte(`{"query": "avg:requests.error.rate{service:guestbook}"}`)}},
	}}}}
	if err := e.c.Create(context.Background(), run); err != nil {
		t.Fatal(err)
	}
	got := waitPhase(t, e.c, "analysis-unsupported", "datadog", time.Minute)
	if got.Status.Phase != v1alpha1.AnalysisPhaseError || !strings.Contains(got.Status.Message, "metric provider datadog is not supported by albrollouts") {
		t.Fatalf("status %s %q", got.Status.Phase, got.Status.Message)
	}
	// The provider's spec is kept as written (not pruned by the CRD).
	if !strings.Contains(string(got.Spec.Metrics[0].Provider.Datadog.Raw), "requests.error.rate") {
		t.Errorf("datadog spec %s", got.Spec.Metrics[0].Provider.Datadog.Raw)
	}
}
