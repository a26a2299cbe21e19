package e2e

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
	"github.com/albrollouts/albrollouts/internal/sim/demoapp"
)

// canaryErrorRatioQuery is the canary target group's 5xx ratio over the
// last 15 s, from elbsim's data-plane counters as the suite's Prometheus
// scrapes them every second. The target_group label is the CloudWatch
// dimension (targetgroup/<name>/<id>); status.alb's full name, which Argo
// writes without the prefix, is the arg. No 5xx yet is no series: "or
// vector(0)" makes it a ratio of 0.
const canaryErrorRatioQuery = `(sum(rate(elbsim_alb_requests_total{target_group="targetgroup/{{args.canary-target-group}}",origin="target",code_class="5xx"}[15s])) or vector(0))
/ sum(rate(elbsim_alb_requests_total{target_group="targetgroup/{{args.canary-target-group}}",origin="target"}[15s]))`

// prometheusTemplate creates an AnalysisTemplate whose metric asks the
// suite's real Prometheus server for the canary's 5xx ratio: Successful
// below 5 %, Failed at 5 % or more; count measurements, one every 3 s after
// 5 s (two scrapes at least, which rate() needs).
func prometheusTemplate(t *testing.T, ns, name string, count int) {
	t.Helper()
	if env.PrometheusURL() == "" {
		t.Fatal("the suite's local environment runs no Prometheus server")
	}
	createAll(t, &v1alpha1.AnalysisTemplate{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: v1alpha1.AnalysisTemplateSpec{
			Args: []v1alpha1.Argument{{Name: "canary-target-group"}},
			Metrics: []v1alpha1.Metric{{
				Name:             "canary-5xx-ratio",
				InitialDelay:     "5s",
				Interval:         "3s",
				Count:            ptr.To(intstr.FromInt32(int32(count))),
				SuccessCondition: "result[0] < 0.05",
				FailureCondition: "result[0] >= 0.05",
				Provider: v1alpha1.MetricProvider{Prometheus: &v1alpha1.PrometheusMetric{
					Address: env.PrometheusURL(),
					Query:   canaryErrorRatioQuery,
					Timeout: ptr.To(int64(5)),
				}},
			}},
		},
	})
}

func prometheusStep(t *testing.T, template string) v1alpha1.CanaryStep {
	t.Helper()
	return v1alpha1.CanaryStep{Analysis: rawAnalysis(t, v1alpha1.RolloutAnalysisBackground{RolloutAnalysis: v1alpha1.RolloutAnalysis{
		Templates: []v1alpha1.AnalysisTemplateRef{{TemplateName: template}},
		Args:      []v1alpha1.AnalysisRunArgument{fieldRefArg("canary-target-group", "status.alb.canaryTargetGroup.fullName")},
	}})}
}

// measuredRatios returns the values a run's metric measured, as numbers.
func measuredRatios(t *testing.T, run v1alpha1.AnalysisRun) []float64 {
	t.Helper()
	var out []float64
	for _, m := range run.Status.MetricResults {
		for _, x := range m.Measurements {
			if x.Phase == v1alpha1.AnalysisPhaseRunning {
				continue
			}
			// The prometheus provider writes a vector's values as [v].
			v, err := strconv.ParseFloat(strings.Trim(x.Value, "[]"), 64)
			if err != nil {
				t.Errorf("metric %s measured %q (%s: %s): not a number", m.Name, x.Value, x.Phase, x.Message)
				continue
			}
			out = append(out, v)
		}
	}
	return out
}

// A step analysis with the prometheus provider, against a real Prometheus
// server scraping the ALB's data plane: a healthy canary measures a 5xx
// ratio of 0 and is promoted; a version failing 20 % of its requests at a
// 20 % weight measures about 0.2, the run fails, the rollout aborts and
// traffic is verified back on stable.
func TestAnalysisStepPrometheus(t *testing.T) {
	needEnv(t)
	loopbackPassOnly(t)
	t.Parallel()
	ns := namespace(t, "an-prom")
	ctl := startController(t, ns)
	prometheusTemplate(t, ns, "canary-5xx", 3)
	app := canaryApp{name: "web", replicas: 2, version: "v1", steps: []v1alpha1.CanaryStep{setWeight(20), prometheusStep(t, "canary-5xx")}}
	app.create(t, ns)
	ro := waitRollout(t, ns, "web", "healthy on v1, status.alb filled", rolloutTimeout, healthyWithALB)
	gen := traffic(t, rolloutURL(t, ns, "web"))

	// A healthy canary: promoted.
	tl := watchRollout(t, ns, "web")
	start := time.Now()
	setImage(t, ns, "web", "v2")
	waitRollout(t, ns, "web", "healthy on v2", rolloutTimeout, onNewVersion(ro.Status.StableRS))
	rep := gen.Snapshot()
	assertNoFailures(t, "prometheus step analysis passes", rep)
	scenarioReport(t, "analysis: prometheus step passes", start, rep, ctl, tl)
	run := onlyRun(t, ns, "Step")
	logRun(t, run)
	if run.Status.Phase != v1alpha1.AnalysisPhaseSuccessful {
		t.Fatalf("the step's run %s is %s, want Successful", run.Name, run.Status.Phase)
	}
	for _, v := range measuredRatios(t, run) {
		if v != 0 {
			t.Errorf("a healthy canary measured a 5xx ratio of %g", v)
		}
	}
	if err := kc().Delete(ctxT(t), &run); err != nil {
		t.Fatal(err)
	}

	// A canary failing 20 % of its requests: aborted by the analysis.
	tl = watchRollout(t, ns, "web")
	start = time.Now()
	setImageEnv(t, ns, "web", "v3", map[string]string{demoapp.EnvErrorRate: "0.2"})
	ro = waitRollout(t, ns, "web", "aborted by the analysis, traffic verified back", rolloutTimeout, abortedBack)
	aborting := time.Since(start)
	rep = gen.Snapshot()
	afterAbort(t, gen, "v3")
	gen.Stop()
	scenarioReport(t, "analysis: prometheus step fails", start, rep, ctl, tl)
	for _, f := range rep.Failures {
		if f.Status != http.StatusInternalServerError || !strings.Contains(f.Body, `"version":"v3"`) {
			t.Errorf("a failure that is not the canary's 500: %s", f)
		}
	}
	// 20 rps x 20 % weight x 20 % errors: 0.8 failures a second while the
	// canary has weight.
	if limit := int(0.8*aborting.Seconds()*2) + 5; rep.Failed > limit {
		t.Errorf("%d failed requests in %s; more than twice the canary's share (%d)", rep.Failed, aborting.Round(time.Second), limit)
	}
	if !strings.Contains(ro.Status.Message, "analysis") {
		t.Errorf("message %q does not name the analysis", ro.Status.Message)
	}
	run = onlyRun(t, ns, "Step")
	logRun(t, run)
	if run.Status.Phase != v1alpha1.AnalysisPhaseFailed {
		t.Errorf("the step's run %s is %s, want Failed", run.Name, run.Status.Phase)
	}
	ratios := measuredRatios(t, run)
	if len(ratios) == 0 || ratios[len(ratios)-1] < 0.05 {
		t.Errorf("the failing canary's measured 5xx ratios %v: the last is not at or above 0.05", ratios)
	}
}
