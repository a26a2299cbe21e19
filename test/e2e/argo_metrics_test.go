package e2e

import (
	"fmt"
	"math"
	"net/http"
	"slices"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
	"github.com/albrollouts/albrollouts/internal/controller"
	"github.com/albrollouts/albrollouts/internal/sim/poll"
)

// TestArgoMetricsSeries scrapes the controller's /metrics (served as the
// controller process serves it, from controller-runtime's registry) while a
// live canary is paused at 25 %, and checks Argo Rollouts' series are there
// under Argo's names, labels and types: rollout_info with phase Paused, the
// replica gauges, rollout_phase, rollout_reconcile, rollout_events_total and
// argo_rollouts_controller_info; then Completed after the promotion, and
// gone once the rollout is deleted.
func TestArgoMetricsSeries(t *testing.T) {
	needEnv(t)
	t.Parallel()
	ns := namespace(t, "argo-metrics")
	addr := freeLocalAddr(t)
	startController(t, ns, func(o *controller.ManagerOptions) {
		o.MetricsBindAddress = addr
		o.Registerer = crmetrics.Registry
	})
	app := canaryApp{name: "web", replicas: 2, version: "v1", steps: []v1alpha1.CanaryStep{setWeight(25), {Pause: &v1alpha1.RolloutPause{}}}}
	app.create(t, ns)
	ro := waitRollout(t, ns, "web", "healthy on v1", rolloutTimeout, healthy)
	v1Hash := ro.Status.StableRS
	setImage(t, ns, "web", "v2")
	waitRollout(t, ns, "web", "paused at 25%", rolloutTimeout, pausedAt(1))

	web := map[string]string{"namespace": ns, "name": "web"}
	want := []seriesWant{
		{"rollout_info", dto.MetricType_GAUGE, with(web, "strategy", "canary", "traffic_router", "ALB", "phase", "Paused"), eq(1)},
		{"rollout_info_replicas_desired", dto.MetricType_GAUGE, web, eq(2)},
		{"rollout_info_replicas_available", dto.MetricType_GAUGE, web, atLeast(2)},
		{"rollout_info_replicas_unavailable", dto.MetricType_GAUGE, web, atLeast(0)},
		{"rollout_info_replicas_updated", dto.MetricType_GAUGE, web, atLeast(1)},
		{"rollout_phase", dto.MetricType_GAUGE, with(web, "strategy", "canary", "phase", "Paused"), eq(1)},
		{"rollout_phase", dto.MetricType_GAUGE, with(web, "strategy", "canary", "phase", "Completed"), eq(0)},
		{"rollout_reconcile", dto.MetricType_HISTOGRAM, web, atLeast(1)},
		{"rollout_events_total", dto.MetricType_COUNTER, with(web, "type", "Normal", "reason", v1alpha1.ReasonRolloutUpdated), atLeast(2)},
		{"argo_rollouts_controller_info", dto.MetricType_GAUGE, nil, eq(1)},
	}
	poll.Slow.Eventually(t, pollTimeout, "Argo Rollouts' series of a paused canary", func() (bool, string) {
		return checkSeries(scrapeMetrics(addr), want)
	})
	mfs := scrapeMetrics(addr)
	if h := findSeries(mfs["rollout_reconcile"], web); h != nil {
		var bounds []float64
		for _, b := range h.GetHistogram().GetBucket() {
			if !math.IsInf(b.GetUpperBound(), 1) { // the text format lists +Inf too
				bounds = append(bounds, b.GetUpperBound())
			}
		}
		if !slices.Equal(bounds, []float64{0.01, 0.15, 0.25, 0.5, 1}) {
			t.Errorf("rollout_reconcile buckets %v, want Argo's 0.01, 0.15, 0.25, 0.5, 1", bounds)
		}
	}

	promote(t, ns, "web")
	waitRollout(t, ns, "web", "healthy on v2", rolloutTimeout, onNewVersion(v1Hash))
	poll.Slow.Eventually(t, pollTimeout, "rollout_info Completed after the promotion", func() (bool, string) {
		return checkSeries(scrapeMetrics(addr), []seriesWant{
			{"rollout_info", dto.MetricType_GAUGE, with(web, "strategy", "canary", "traffic_router", "ALB", "phase", "Completed"), eq(1)},
			{"rollout_info_replicas_updated", dto.MetricType_GAUGE, web, eq(2)},
		})
	})

	if err := kc().Delete(ctxT(t), &v1alpha1.Rollout{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web"}}); err != nil {
		t.Fatal(err)
	}
	poll.Slow.Eventually(t, pollTimeout, "the deleted rollout's series gone", func() (bool, string) {
		mfs := scrapeMetrics(addr)
		for _, name := range []string{"rollout_info", "rollout_info_replicas_desired", "rollout_phase"} {
			if findSeries(mfs[name], web) != nil {
				return false, name + " still has the deleted rollout"
			}
		}
		return true, ""
	})
}

// seriesWant is one series a scrape must have.
type seriesWant struct {
	name   string
	typ    dto.MetricType
	labels map[string]string // a subset of the series' labels
	value  func(float64) (bool, string)
}

func with(base map[string]string, kv ...string) map[string]string {
	out := map[string]string{}
	for k, v := range base {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

func eq(want float64) func(float64) (bool, string) {
	return func(v float64) (bool, string) { return v == want, fmt.Sprintf("%v, want %v", v, want) }
}

func atLeast(want float64) func(float64) (bool, string) {
	return func(v float64) (bool, string) { return v >= want, fmt.Sprintf("%v, want at least %v", v, want) }
}

// checkSeries reports the first wanted series that is missing, of another
// type, or of another value (a histogram's value is its count).
func checkSeries(mfs map[string]*dto.MetricFamily, want []seriesWant) (bool, string) {
	if mfs == nil {
		return false, "no scrape"
	}
	for _, w := range want {
		mf := mfs[w.name]
		if mf == nil {
			return false, w.name + " not exported"
		}
		if mf.GetType() != w.typ {
			return false, fmt.Sprintf("%s is a %s, want %s", w.name, mf.GetType(), w.typ)
		}
		m := findSeries(mf, w.labels)
		if m == nil {
			return false, fmt.Sprintf("no %s%v", w.name, w.labels)
		}
		var v float64
		switch w.typ {
		case dto.MetricType_GAUGE:
			v = m.GetGauge().GetValue()
		case dto.MetricType_COUNTER:
			v = m.GetCounter().GetValue()
		case dto.MetricType_HISTOGRAM:
			v = float64(m.GetHistogram().GetSampleCount())
		}
		if ok, why := w.value(v); !ok {
			return false, fmt.Sprintf("%s%v = %s", w.name, w.labels, why)
		}
	}
	return true, ""
}

// findSeries is mf's first series whose labels include labels.
func findSeries(mf *dto.MetricFamily, labels map[string]string) *dto.Metric {
	for _, m := range mf.GetMetric() {
		have := map[string]string{}
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		match := true
		for k, v := range labels {
			if have[k] != v {
				match = false
				break
			}
		}
		if match {
			return m
		}
	}
	return nil
}

// scrapeMetrics reads the controller's /metrics; nil if it does not answer.
func scrapeMetrics(addr string) map[string]*dto.MetricFamily {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return nil
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		return nil
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		return nil
	}
	return mfs
}
