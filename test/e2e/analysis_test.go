package e2e

// Analysis gates end to end: real AnalysisRuns measured by the analysis
// controller in the controller's manager, with 20 requests/s through the
// ALB for the whole scenario. The canary scenarios use the shipped
// ClusterAnalysisTemplate alb-canary-health against elbsim's CloudWatch
// (computed from the ALB's real data plane); the others a web metric served
// by the test, whose answer the test sets.

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
	"github.com/albrollouts/albrollouts/internal/sim/demoapp"
	"github.com/albrollouts/albrollouts/internal/sim/loadgen"
	"github.com/albrollouts/albrollouts/internal/sim/poll"
)

// rawAnalysis encodes a Rollout analysis (steps[].analysis,
// canary.analysis, pre/postPromotionAnalysis), which the API keeps raw.
func rawAnalysis(t *testing.T, a v1alpha1.RolloutAnalysisBackground) *runtime.RawExtension {
	t.Helper()
	b, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	return &runtime.RawExtension{Raw: b}
}

func fieldRefArg(name, path string) v1alpha1.AnalysisRunArgument {
	return v1alpha1.AnalysisRunArgument{Name: name, ValueFrom: &v1alpha1.ArgumentValueFrom{FieldRef: &v1alpha1.FieldRef{FieldPath: path}}}
}

// albCanaryHealthStep is the step a user adds to use the shipped template
// (README), with its timing args shortened for the suite: a measurement
// every 3 s of the last 15 s in 5-second data points, 3 of them, the first
// after 3 s.
func albCanaryHealthStep(t *testing.T) v1alpha1.CanaryStep {
	t.Helper()
	args := []v1alpha1.AnalysisRunArgument{
		fieldRefArg("load-balancer", "status.alb.loadBalancer.fullName"),
		fieldRefArg("canary-target-group", "status.alb.canaryTargetGroup.fullName"),
	}
	for _, kv := range [][2]string{{"initial-delay", "3s"}, {"interval", "3s"}, {"count", "3"}, {"lookback", "15s"}, {"period", "5"}} {
		args = append(args, v1alpha1.AnalysisRunArgument{Name: kv[0], Value: kv[1]})
	}
	return v1alpha1.CanaryStep{Analysis: rawAnalysis(t, v1alpha1.RolloutAnalysisBackground{RolloutAnalysis: v1alpha1.RolloutAnalysis{
		Templates: []v1alpha1.AnalysisTemplateRef{{TemplateName: "alb-canary-health", ClusterScope: ptr.To(true)}},
		Args:      args,
	}})}
}

// scoreServer is an HTTP endpoint answering {"score": <value>}; the web
// metric of webTemplate judges the score: >= 0.9 Successful, < 0.5 Failed,
// in between Inconclusive.
type scoreServer struct {
	*httptest.Server
	score atomic.Uint64
	hits  atomic.Int64
}

func newScoreServer(t *testing.T, score float64) *scoreServer {
	t.Helper()
	s := &scoreServer{}
	s.set(score)
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		s.hits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = fmt.Fprintf(w, `{"score": %g}`, math.Float64frombits(s.score.Load()))
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *scoreServer) set(v float64) { s.score.Store(math.Float64bits(v)) }

// webTemplate creates an AnalysisTemplate whose metric reads the score
// server every second: count measurements (0: until the run is
// terminated).
func webTemplate(t *testing.T, ns, name string, s *scoreServer, count int) {
	t.Helper()
	m := v1alpha1.Metric{
		Name:             "score",
		Interval:         "1s",
		SuccessCondition: "result >= 0.9",
		FailureCondition: "result < 0.5",
		Provider:         v1alpha1.MetricProvider{Web: &v1alpha1.WebMetric{URL: s.URL + "/score", JSONPath: "{$.score}", TimeoutSeconds: 5}},
	}
	if count > 0 {
		m.Count = ptr.To(intstr.FromInt32(int32(count)))
	}
	createAll(t, &v1alpha1.AnalysisTemplate{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       v1alpha1.AnalysisTemplateSpec{Metrics: []v1alpha1.Metric{m}},
	})
}

func webAnalysis(t *testing.T, template string) *runtime.RawExtension {
	t.Helper()
	return rawAnalysis(t, v1alpha1.RolloutAnalysisBackground{RolloutAnalysis: v1alpha1.RolloutAnalysis{
		Templates: []v1alpha1.AnalysisTemplateRef{{TemplateName: template}},
	}})
}

// analysisRuns lists the namespace's AnalysisRuns of one rollout-type
// label (Step, Background, PrePromotion, PostPromotion).
func analysisRuns(t *testing.T, ns, kind string) []v1alpha1.AnalysisRun {
	t.Helper()
	var runs v1alpha1.AnalysisRunList
	if err := kc().List(ctxT(t), &runs, client.InNamespace(ns), client.MatchingLabels{"rollout-type": kind}); err != nil {
		t.Fatal(err)
	}
	return runs.Items
}

// onlyRun returns the one run of a kind, failing the test otherwise.
func onlyRun(t *testing.T, ns, kind string) v1alpha1.AnalysisRun {
	t.Helper()
	runs := analysisRuns(t, ns, kind)
	if len(runs) != 1 {
		var names []string
		for _, r := range runs {
			names = append(names, r.Name+" "+string(r.Status.Phase))
		}
		t.Fatalf("want one %s AnalysisRun, have %v", kind, names)
	}
	return runs[0]
}

// logRun writes a run's metric results to the test log.
func logRun(t *testing.T, run v1alpha1.AnalysisRun) {
	t.Helper()
	t.Logf("AnalysisRun %s: %s %q", run.Name, run.Status.Phase, run.Status.Message)
	for _, m := range run.Status.MetricResults {
		var vals []string
		for _, x := range m.Measurements {
			vals = append(vals, fmt.Sprintf("%s %s", x.Phase, x.Value))
		}
		t.Logf("  metric %s: %s (count %d, failed %d, inconclusive %d, error %d): %s", m.Name, m.Phase, m.Count, m.Failed, m.Inconclusive, m.Error, strings.Join(vals, "; "))
	}
}

// assertMeasuredData checks that every measurement of the run's metrics
// read data points: a CloudWatch query whose dimensions named no series
// ([[]]) would make the template Inconclusive, not judge the canary.
func assertMeasuredData(t *testing.T, run v1alpha1.AnalysisRun) {
	t.Helper()
	for _, m := range run.Status.MetricResults {
		for _, x := range m.Measurements {
			if x.Phase != v1alpha1.AnalysisPhaseRunning && (x.Value == "" || x.Value == "[[]]") {
				t.Errorf("metric %s measured no data point (value %q, phase %s, message %q): the queries name no CloudWatch series",
					m.Name, x.Value, x.Phase, x.Message)
			}
		}
	}
}

// Argo writes status.alb's full names without the CloudWatch prefixes
// (rollout/trafficrouting/alb/alb.go: the load balancer ARN after
// "loadbalancer/app/", the target group ARN after "targetgroup/"), and
// templates written for Argo prepend app/ and targetgroup/ (Argo issue
// #2589; docs/analysis.md). albrollouts must write the same, or such a
// template's dimensions name no series.
func assertArgoFullNames(t *testing.T, ro *v1alpha1.Rollout) {
	t.Helper()
	alb := ro.Status.ALB
	if alb == nil {
		t.Fatal("status.alb is empty")
	}
	lbWant := alb.LoadBalancer.ARN[strings.Index(alb.LoadBalancer.ARN, ":loadbalancer/app/")+len(":loadbalancer/app/"):]
	if alb.LoadBalancer.FullName != lbWant {
		t.Errorf("status.alb.loadBalancer.fullName %q; Argo Rollouts writes %q for ARN %s", alb.LoadBalancer.FullName, lbWant, alb.LoadBalancer.ARN)
	}
	tg := alb.CanaryTargetGroup
	tgWant := tg.ARN[strings.Index(tg.ARN, ":targetgroup/")+len(":targetgroup/"):]
	if tg.FullName != tgWant {
		t.Errorf("status.alb.canaryTargetGroup.fullName %q; Argo Rollouts writes %q for ARN %s", tg.FullName, tgWant, tg.ARN)
	}
}

// healthyWithALB: healthy, and status.alb names the load balancer and the
// canary's target group (the args of alb-canary-health).
func healthyWithALB(ro *v1alpha1.Rollout) (bool, string) {
	if ok, msg := healthy(ro); !ok {
		return false, msg
	}
	if a := ro.Status.ALB; a == nil || a.LoadBalancer.ARN == "" || a.CanaryTargetGroup.ARN == "" {
		return false, "status.alb lacks the load balancer or the canary target group"
	}
	return true, ""
}

// setImageEnv changes the rollout's image tag and sets its container's env.
func setImageEnv(t *testing.T, ns, name, version string, envs map[string]string) {
	t.Helper()
	var ev []map[string]string
	for _, k := range slices.Sorted(maps.Keys(envs)) {
		ev = append(ev, map[string]string{"name": k, "value": envs[k]})
	}
	ops := []map[string]any{
		{"op": "replace", "path": "/spec/template/spec/containers/0/image", "value": demoapp.ImageRepository + ":" + version},
		{"op": "add", "path": "/spec/template/spec/containers/0/env", "value": ev},
	}
	patch, err := json.Marshal(ops)
	if err != nil {
		t.Fatal(err)
	}
	ro := &v1alpha1.Rollout{}
	ro.Namespace, ro.Name = ns, name
	if err := kc().Patch(ctxT(t), ro, client.RawPatch(types.JSONPatchType, patch)); err != nil {
		t.Fatalf("set image %s env %v: %v", version, envs, err)
	}
}

// abortedBack: aborted, and the abort's traffic move verified.
func abortedBack(ro *v1alpha1.Rollout) (bool, string) {
	if ok, msg := aborted(ro); !ok {
		return false, msg
	}
	v := ro.Status.Verification
	if v == nil || v.Kind != v1alpha1.VerificationAbort || v.Phase != v1alpha1.VerificationVerified {
		return false, "the abort is not verified yet"
	}
	return true, ""
}

// afterAbort sends traffic for a while after the abort and checks that
// stable alone answers it, without a failure.
func afterAbort(t *testing.T, gen *loadgen.Generator, newVersion string) {
	t.Helper()
	gen.Window()
	poll.Slow.Eventually(t, 10*time.Second, "40 requests answered after the abort", func() (bool, string) {
		w := gen.Snapshot()
		return w.Total >= 40, fmt.Sprintf("%d so far", w.Total)
	})
	w := gen.Window()
	if w.ByVersion[newVersion] > 0 || w.Failed > 0 {
		t.Errorf("after the verified abort: %d answers from %s, %d failed, of %d", w.ByVersion[newVersion], newVersion, w.Failed, w.Total)
	}
}

// (a) A healthy canary passes the shipped ALB-metrics analysis
// (alb-canary-health, CloudWatch from the ALB's real traffic) at 20 % and is
// promoted; zero failed requests.
func TestAnalysisStepALBMetricsPromotes(t *testing.T) {
	needEnv(t)
	loopbackPassOnly(t)
	t.Parallel()
	ns := namespace(t, "an-step-ok")
	ctl := startController(t, ns)
	app := canaryApp{name: "web", replicas: 2, version: "v1", steps: []v1alpha1.CanaryStep{setWeight(20), albCanaryHealthStep(t)}}
	app.create(t, ns)
	ro := waitRollout(t, ns, "web", "healthy on v1, status.alb filled", rolloutTimeout, healthyWithALB)
	v1 := ro.Status.StableRS
	assertArgoFullNames(t, ro)
	gen := traffic(t, rolloutURL(t, ns, "web"))
	tl := watchRollout(t, ns, "web")
	start := time.Now()
	setImage(t, ns, "web", "v2")
	waitRollout(t, ns, "web", "healthy on v2", rolloutTimeout, onNewVersion(v1))
	rep := gen.Stop()
	assertNoFailures(t, "step analysis (ALB metrics) passes", rep)
	scenarioReport(t, "analysis: step passes", start, rep, ctl, tl)
	run := onlyRun(t, ns, "Step")
	logRun(t, run)
	if run.Status.Phase != v1alpha1.AnalysisPhaseSuccessful {
		t.Errorf("the step's run %s is %s", run.Name, run.Status.Phase)
	}
	assertMeasuredData(t, run)
	// The step completed only after its run succeeded: the weight went
	// from 20 straight to the promotion, with the run Successful.
	if i := tl.firstIndex(func(s *v1alpha1.RolloutStatus) bool {
		return s.CurrentStepIndex != nil && *s.CurrentStepIndex >= 2 && s.CurrentPodHash != v1
	}); i < 0 {
		t.Error("the rollout never moved past its analysis step")
	}
}

// (b) A version that passes every health check but fails 20 % of its
// requests: at 20 % the shipped ALB-metrics analysis sees its 5xx ratio,
// fails, the rollout aborts and traffic is verified back on stable. The
// failed requests are the canary's 500s while it had weight: about
// rate x weight x error rate x (initial delay + a measurement + the abort).
func TestAnalysisStepALBMetricsAborts(t *testing.T) {
	needEnv(t)
	loopbackPassOnly(t)
	t.Parallel()
	ns := namespace(t, "an-step-fail")
	ctl := startController(t, ns)
	app := canaryApp{name: "web", replicas: 2, version: "v1", steps: []v1alpha1.CanaryStep{setWeight(20), albCanaryHealthStep(t)}}
	app.create(t, ns)
	assertArgoFullNames(t, waitRollout(t, ns, "web", "healthy on v1, status.alb filled", rolloutTimeout, healthyWithALB))
	gen := traffic(t, rolloutURL(t, ns, "web"))
	tl := watchRollout(t, ns, "web")
	start := time.Now()
	setImageEnv(t, ns, "web", "v2", map[string]string{demoapp.EnvErrorRate: "0.2"})
	ro := waitRollout(t, ns, "web", "aborted by the analysis, traffic verified back", rolloutTimeout, abortedBack)
	aborting := time.Since(start)
	rep := gen.Snapshot()
	afterAbort(t, gen, "v2")
	gen.Stop()
	scenarioReport(t, "analysis: step fails (ALB 5xx)", start, rep, ctl, tl)
	t.Logf("20%%-failing canary: %d of %d requests failed in %s (v2 answered %d successfully)", rep.Failed, rep.Total, aborting.Round(100*time.Millisecond), rep.ByVersion["v2"])
	for _, f := range rep.Failures {
		if f.Status != http.StatusInternalServerError || !strings.Contains(f.Body, `"version":"v2"`) {
			t.Errorf("a failure that is not the canary's 500: %s", f)
		}
	}
	// Bounded by the canary's share: 20 rps x 20 % weight x 20 % errors is
	// 0.8 failures a second while the canary has weight, which is less than
	// the whole scenario.
	if limit := int(0.8*aborting.Seconds()*2) + 5; rep.Failed > limit {
		t.Errorf("%d failed requests in %s; more than twice the canary's share (%d)", rep.Failed, aborting.Round(time.Second), limit)
	}
	if !strings.Contains(ro.Status.Message, "analysis") {
		t.Errorf("message %q does not name the analysis", ro.Status.Message)
	}
	run := onlyRun(t, ns, "Step")
	logRun(t, run)
	if run.Status.Phase != v1alpha1.AnalysisPhaseFailed {
		t.Errorf("the step's run %s is %s, want Failed", run.Name, run.Status.Phase)
	}
	assertMeasuredData(t, run)
	if rep.Failed == 0 {
		t.Error("no request failed: the canary never had weight, so the analysis judged nothing")
	}
}

// (c) An inconclusive step analysis pauses the rollout
// (InconclusiveAnalysisRun) at its weight; a promote goes on to the end.
func TestAnalysisStepInconclusivePauses(t *testing.T) {
	needEnv(t)
	loopbackPassOnly(t)
	t.Parallel()
	ns := namespace(t, "an-step-inc")
	ctl := startController(t, ns)
	score := newScoreServer(t, 0.7)
	webTemplate(t, ns, "score", score, 2)
	app := canaryApp{name: "web", replicas: 2, version: "v1", steps: []v1alpha1.CanaryStep{setWeight(20), {Analysis: webAnalysis(t, "score")}}}
	app.create(t, ns)
	v1 := waitRollout(t, ns, "web", "healthy on v1", rolloutTimeout, healthy).Status.StableRS
	gen := traffic(t, rolloutURL(t, ns, "web"))
	tl := watchRollout(t, ns, "web")
	start := time.Now()
	setImage(t, ns, "web", "v2")
	ro := waitRollout(t, ns, "web", "paused on the inconclusive run", rolloutTimeout, func(ro *v1alpha1.Rollout) (bool, string) {
		if ro.Status.Phase != v1alpha1.RolloutPhasePaused || ptr.Deref(ro.Status.CurrentStepIndex, -1) != 1 {
			return false, "not paused at the analysis step"
		}
		for _, c := range ro.Status.PauseConditions {
			if c.Reason == v1alpha1.PauseReasonInconclusiveAnalysisRun {
				return true, ""
			}
		}
		return false, "no InconclusiveAnalysisRun pause condition"
	})
	if w := ro.Status.Canary.Weights; w == nil || w.Canary.Weight != 20 {
		t.Errorf("paused at weights %s, want 20 on the canary", weightsText(ro))
	}
	run := onlyRun(t, ns, "Step")
	logRun(t, run)
	if run.Status.Phase != v1alpha1.AnalysisPhaseInconclusive {
		t.Errorf("run %s is %s", run.Name, run.Status.Phase)
	}
	// It stays paused, serving both versions without a failure, until
	// promoted.
	gen.Window()
	poll.Slow.Eventually(t, 10*time.Second, "40 requests answered while paused", func() (bool, string) {
		w := gen.Snapshot()
		return w.Total >= 40, fmt.Sprintf("%d so far", w.Total)
	})
	if ro := getRollout(t, ns, "web"); ro.Status.Phase != v1alpha1.RolloutPhasePaused {
		t.Errorf("phase %s while the run is inconclusive", ro.Status.Phase)
	}
	promote(t, ns, "web")
	waitRollout(t, ns, "web", "healthy on v2 after the promote", rolloutTimeout, onNewVersion(v1))
	rep := gen.Stop()
	assertNoFailures(t, "inconclusive step analysis", rep)
	scenarioReport(t, "analysis: step inconclusive", start, rep, ctl, tl)
}

// (d) Background analysis that fails mid-rollout, at 50 % after passing at
// 20 %, aborts the update; traffic is verified back on stable; zero failed
// requests (the version itself is healthy: only the analysis says no).
func TestAnalysisBackgroundFailsMidRollout(t *testing.T) {
	needEnv(t)
	loopbackPassOnly(t)
	t.Parallel()
	ns := namespace(t, "an-bg-fail")
	ctl := startController(t, ns)
	score := newScoreServer(t, 1)
	webTemplate(t, ns, "score", score, 0)
	app := canaryApp{name: "web", replicas: 2, version: "v1",
		steps:      []v1alpha1.CanaryStep{setWeight(20), pauseFor("2s"), setWeight(50), {Pause: &v1alpha1.RolloutPause{}}},
		background: rawAnalysis(t, v1alpha1.RolloutAnalysisBackground{RolloutAnalysis: v1alpha1.RolloutAnalysis{Templates: []v1alpha1.AnalysisTemplateRef{{TemplateName: "score"}}}, StartingStep: ptr.To(int32(1))}),
	}
	app.create(t, ns)
	waitRollout(t, ns, "web", "healthy on v1", rolloutTimeout, healthy)
	gen := traffic(t, rolloutURL(t, ns, "web"))
	tl := watchRollout(t, ns, "web")
	start := time.Now()
	setImage(t, ns, "web", "v2")
	waitRollout(t, ns, "web", "paused at 50% with background analysis running", rolloutTimeout, func(ro *v1alpha1.Rollout) (bool, string) {
		if ok, msg := pausedAt(3)(ro); !ok {
			return false, msg
		}
		r := ro.Status.Canary.CurrentBackgroundAnalysisRunStatus
		return r != nil && r.Status == string(v1alpha1.AnalysisPhaseRunning), fmt.Sprintf("background run %+v", r)
	})
	hitsBefore := score.hits.Load()
	score.set(0.1)
	ro := waitRollout(t, ns, "web", "aborted by the background analysis, traffic verified back", rolloutTimeout, abortedBack)
	afterAbort(t, gen, "v2")
	rep := gen.Stop()
	assertNoFailures(t, "background analysis fails at 50%", rep)
	scenarioReport(t, "analysis: background fails", start, rep, ctl, tl)
	run := onlyRun(t, ns, "Background")
	logRun(t, run)
	if run.Status.Phase != v1alpha1.AnalysisPhaseFailed {
		t.Errorf("background run %s is %s", run.Name, run.Status.Phase)
	}
	if hitsBefore < 2 {
		t.Errorf("the background analysis measured %d times before it failed; it should have run from step 1", hitsBefore)
	}
	if !strings.Contains(ro.Status.Message, "analysis") {
		t.Errorf("message %q does not name the analysis", ro.Status.Message)
	}
	if rep.ByVersion["v2"] == 0 {
		t.Error("v2 never answered: the analysis failed before the canary had traffic")
	}
}

// (e) A failing blue-green pre-promotion analysis: no switch, the rollout
// aborts, the active Service and the ALB stay on v1; zero failed requests,
// no answer from v2.
func TestAnalysisBlueGreenPrePromotionFails(t *testing.T) {
	needEnv(t)
	loopbackPassOnly(t)
	t.Parallel()
	ns := namespace(t, "an-bg-pre")
	ctl := startController(t, ns)
	score := newScoreServer(t, 0.1)
	webTemplate(t, ns, "score", score, 2)
	app := bgApp{name: "web", replicas: 2, version: "v1", prePromotion: webAnalysis(t, "score")}
	app.create(t, ns)
	v1 := waitRollout(t, ns, "web", "healthy on v1", rolloutTimeout, healthy).Status.StableRS
	gen := traffic(t, rolloutURL(t, ns, "web"))
	tl := watchRollout(t, ns, "web")
	start := time.Now()
	setImage(t, ns, "web", "v2")
	ro := waitRollout(t, ns, "web", "aborted by the pre-promotion analysis", rolloutTimeout, aborted)
	afterAbort(t, gen, "v2")
	rep := gen.Stop()
	assertNoFailures(t, "pre-promotion analysis fails", rep)
	scenarioReport(t, "analysis: pre-promotion fails", start, rep, ctl, tl)
	if rep.ByVersion["v2"] > 0 {
		t.Errorf("v2 answered %d requests: the switch happened", rep.ByVersion["v2"])
	}
	if sel := serviceSelector(t, ns, app.active()); sel != v1 {
		t.Errorf("active Service selects %s, want v1's %s", sel, v1)
	}
	if i := tl.firstIndex(flipped); i >= 0 {
		t.Errorf("status #%d shows a switch to the preview group", i)
	}
	run := onlyRun(t, ns, "PrePromotion")
	logRun(t, run)
	if run.Status.Phase != v1alpha1.AnalysisPhaseFailed {
		t.Errorf("pre-promotion run %s is %s", run.Name, run.Status.Phase)
	}
	if r := ro.Status.BlueGreen.PrePromotionAnalysisRunStatus; r == nil || r.Name != run.Name {
		t.Errorf("status.blueGreen.prePromotionAnalysisRunStatus %+v", r)
	}
}

// (f) A failing blue-green post-promotion analysis: after the switch to v2
// the run fails, the rollout aborts and switches back to v1, verified on
// the ALB; zero failed requests.
func TestAnalysisBlueGreenPostPromotionSwitchesBack(t *testing.T) {
	needEnv(t)
	loopbackPassOnly(t)
	t.Parallel()
	ns := namespace(t, "an-bg-post")
	ctl := startController(t, ns)
	score := newScoreServer(t, 0.1)
	webTemplate(t, ns, "score", score, 2)
	app := bgApp{name: "web", replicas: 2, version: "v1", postPromotion: webAnalysis(t, "score")}
	app.create(t, ns)
	v1 := waitRollout(t, ns, "web", "healthy on v1", rolloutTimeout, healthy).Status.StableRS
	gen := traffic(t, rolloutURL(t, ns, "web"))
	tl := watchRollout(t, ns, "web")
	start := time.Now()
	setImage(t, ns, "web", "v2")
	ro := waitRollout(t, ns, "web", "switched back after the post-promotion analysis failed", rolloutTimeout, func(ro *v1alpha1.Rollout) (bool, string) {
		if ok, msg := aborted(ro); !ok {
			return false, msg
		}
		if sel := serviceSelector(t, ns, app.active()); sel != v1 {
			return false, "active Service selects " + sel
		}
		if v := ro.Status.Verification; v == nil || v.Phase != v1alpha1.VerificationVerified {
			return false, "the switch back is not verified"
		}
		return true, ""
	})
	afterAbort(t, gen, "v2")
	rep := gen.Stop()
	assertNoFailures(t, "post-promotion analysis fails", rep)
	scenarioReport(t, "analysis: post-promotion fails", start, rep, ctl, tl)
	if i := tl.firstIndex(flipped); i < 0 {
		t.Error("the rollout never switched to v2")
	}
	if rep.ByVersion["v2"] == 0 {
		t.Error("v2 never answered: the switch did not reach the ALB")
	}
	run := onlyRun(t, ns, "PostPromotion")
	logRun(t, run)
	if run.Status.Phase != v1alpha1.AnalysisPhaseFailed {
		t.Errorf("post-promotion run %s is %s", run.Name, run.Status.Phase)
	}
	if ro.Status.StableRS != v1 {
		t.Errorf("stable is %s, want v1's %s", ro.Status.StableRS, v1)
	}
}

// A run whose every metric has an initialDelay measures once the delay has
// passed (Argo: startedAt is set by the run's first reconcile, and the first
// measurement is due at startedAt + initialDelay). alb-canary-health waits
// its initial-delay on both metrics, as CloudWatch publishes late.
func TestAnalysisInitialDelayMeasures(t *testing.T) {
	needEnv(t)
	loopbackPassOnly(t)
	t.Parallel()
	ns := namespace(t, "an-delay")
	startController(t, ns)
	score := newScoreServer(t, 1)
	createAll(t, &v1alpha1.AnalysisRun{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "delayed", Labels: map[string]string{"argo-rollouts.argoproj.io/controller-instance-id": ns}},
		Spec: v1alpha1.AnalysisRunSpec{Metrics: []v1alpha1.Metric{{
			Name: "score", InitialDelay: "1s", SuccessCondition: "result >= 0.9",
			Provider: v1alpha1.MetricProvider{Web: &v1alpha1.WebMetric{URL: score.URL + "/score", JSONPath: "{$.score}"}},
		}}},
	})
	var run v1alpha1.AnalysisRun
	poll.Slow.Eventually(t, 30*time.Second, "the run with an initialDelay of 1s measured", func() (bool, string) {
		if err := kc().Get(ctxT(t), client.ObjectKey{Namespace: ns, Name: "delayed"}, &run); err != nil {
			return false, err.Error()
		}
		return run.Status.Phase == v1alpha1.AnalysisPhaseSuccessful, fmt.Sprintf("phase %q, startedAt %v, %d metric results, %d requests to the metric",
			run.Status.Phase, run.Status.StartedAt, len(run.Status.MetricResults), score.hits.Load())
	})
}
