package demo

import (
	"bytes"
	"encoding/xml"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
	"github.com/albrollouts/albrollouts/internal/analysis"
)

// The analysis scenario's views of AnalysisRuns: what the tracker makes of
// the runs it reads, the checks, the summary and the report.

func demoRun(phase v1alpha1.AnalysisPhase, ratio *v1alpha1.Measurement) v1alpha1.AnalysisRun {
	run := v1alpha1.AnalysisRun{ObjectMeta: metav1.ObjectMeta{Name: "demo-abc-2-1", Labels: map[string]string{analysis.RolloutTypeLabel: "Step"}},
		Spec: v1alpha1.AnalysisRunSpec{Metrics: []v1alpha1.Metric{{Name: "canary-5xx-ratio"}, {Name: "canary-p99-latency"}}}}
	run.Status.Phase = phase
	if ratio != nil {
		mr := v1alpha1.MetricResult{Name: "canary-5xx-ratio", Phase: ratio.Phase, Measurements: []v1alpha1.Measurement{*ratio}}
		switch ratio.Phase {
		case v1alpha1.AnalysisPhaseFailed:
			mr.Count, mr.Failed = 1, 1
		case v1alpha1.AnalysisPhaseSuccessful:
			mr.Count, mr.Successful = 1, 1
		}
		run.Status.MetricResults = []v1alpha1.MetricResult{mr}
	}
	if phase == v1alpha1.AnalysisPhaseFailed {
		run.Status.Message = `Metric "canary-5xx-ratio" assessed Failed due to failed (1) > failureLimit (0)`
	}
	return run
}

func TestTrackerObservesAnalysisRuns(t *testing.T) {
	f := newFakeTracker(t)
	f.mu.Lock()
	f.observeRuns([]v1alpha1.AnalysisRun{demoRun("", nil)}, 10*time.Second)
	f.observeRuns([]v1alpha1.AnalysisRun{demoRun(v1alpha1.AnalysisPhaseRunning, nil)}, 11*time.Second)
	now := metav1.Now()
	failed := &v1alpha1.Measurement{Phase: v1alpha1.AnalysisPhaseFailed, Value: "[[0.09]]", FinishedAt: &now}
	f.observeRuns([]v1alpha1.AnalysisRun{demoRun(v1alpha1.AnalysisPhaseFailed, failed)}, 13*time.Second)
	f.observeRuns([]v1alpha1.AnalysisRun{demoRun(v1alpha1.AnalysisPhaseFailed, failed)}, 14*time.Second) // no change: no event
	f.mu.Unlock()
	if len(f.sc.Analysis) != 1 {
		t.Fatalf("runs %+v", f.sc.Analysis)
	}
	v := f.sc.Analysis[0]
	if v.Kind != "Step" || v.Phase != "Failed" || v.Started != 10*time.Second || v.Finished != 13*time.Second || !strings.Contains(v.Message, "failureLimit") {
		t.Errorf("run view %+v", v)
	}
	if len(v.Metrics) != 1 || v.Metrics[0].LastValue != "[[0.09]]" || v.Metrics[0].Failed != 1 || v.Metrics[0].Measurements != 1 {
		t.Errorf("metrics %+v", v.Metrics)
	}
	var texts []string
	marks := 0
	for _, e := range f.events {
		texts = append(texts, e.Text)
		if e.Verification {
			marks++
			if e.Level != levelError {
				t.Errorf("the failed run's mark is %s", e.Level)
			}
		}
	}
	want := []string{"step analysis run demo-abc-2-1 started", "analysis canary-5xx-ratio measurement 1: Failed, value [[0.09]]", "analysis run demo-abc-2-1 Failed after 3s"}
	if len(texts) != len(want) || marks != 1 {
		t.Fatalf("events %q (%d marked), want %d", texts, marks, len(want))
	}
	for i, w := range want {
		if !strings.Contains(texts[i], w) {
			t.Errorf("event %d %q lacks %q", i, texts[i], w)
		}
	}
	view := liveView{Analysis: analysisText(v), AnalysisPhase: v.Phase}
	if !strings.Contains(view.Analysis, "demo-abc-2-1 Failed") || !strings.Contains(view.Analysis, "canary-5xx-ratio Failed (1 failed) [[0.09]]") || view.AnalysisPhase != "Failed" {
		t.Errorf("live view analysis %q %q", view.Analysis, view.AnalysisPhase)
	}
	lines := viewLines(view)
	if !slices.ContainsFunc(lines, func(l line) bool { return strings.HasPrefix(l.plain(), "  analysis  demo-abc-2-1 Failed") }) {
		t.Errorf("no analysis line in the live view")
	}
	// Without a run, no analysis line.
	if slices.ContainsFunc(viewLines(liveView{}), func(l line) bool { return strings.Contains(l.plain(), "analysis") }) {
		t.Errorf("an analysis line without a run")
	}
}

// withAnalysis adds a good analysis scenario: the bad v4 aborted at 10 % by
// its failed step analysis; its own 3 500s the only failures.
func withAnalysis(r *Result) *Result {
	sc := ScenarioResult{Name: ScenarioAnalysis, From: "v2", To: "v4", Outcome: OutcomeAborted, Expected: OutcomeAborted,
		Requests: 400, Failed: 3, CanaryFailed: 3, ByVersion: map[string]int{"v2": 380, "v4": 17}, AfterEnd: map[string]int{"v2": 40}, Duration: 14 * time.Second,
		Message: "RolloutAborted: Rollout aborted update to revision 4: Step-based analysis phase failed",
		Steps: []Step{verifiedStep(ScenarioAnalysis, "CanaryWeight", "setWeight 10", 10, 100*time.Second),
			verifiedStep(ScenarioAnalysis, "Abort", "abort: all traffic on v2", 0, 106*time.Second)},
		Analysis: []AnalysisRunView{{Name: "demo-abc-4-1", Kind: "Step", Phase: "Failed", Message: `Metric "canary-5xx-ratio" assessed Failed <&>`,
			Started: 102 * time.Second, Finished: 105 * time.Second, Metrics: []MetricView{
				{Name: "canary-5xx-ratio", Phase: "Failed", Measurements: 1, Failed: 1, LastPhase: "Failed", LastValue: "[[0.09]]"},
				{Name: "canary-p99-latency", Phase: "Successful", Measurements: 1, Successful: 1, LastPhase: "Successful", LastValue: "[[0.0003]]"},
			}}}}
	r.Scenarios = append(r.Scenarios, sc)
	r.Requests += sc.Requests
	r.Failed += sc.Failed
	return r
}

func TestProblemsOfTheAnalysisScenario(t *testing.T) {
	if p := withAnalysis(goodResult()).Problems(); len(p) != 0 {
		t.Fatalf("problems of a good run: %q", p)
	}
	last := func(r *Result) *ScenarioResult { return &r.Scenarios[len(r.Scenarios)-1] }
	for _, c := range []struct {
		name   string
		mutate func(r *Result)
		want   string
	}{
		{"a failure that is not the canary's", func(r *Result) { r.Failed++; last(r).Failed++ }, "1 of 1500 requests failed (besides the bad canary's own 3 500s"},
		{"the same, in the scenario", func(r *Result) { last(r).Failed++ }, "analysis: 1 failed requests were not the bad v4's own answers"},
		{"failures after the abort", func(r *Result) { last(r).FailedAfterEnd = 2 }, "analysis: 2 requests failed after the abort was verified"},
		{"no failed run", func(r *Result) { last(r).Analysis[0].Phase = "Successful" }, "analysis: no analysis run of v4 failed"},
		{"a larger shift verified", func(r *Result) {
			last(r).Steps = append(last(r).Steps, verifiedStep(ScenarioAnalysis, "CanaryWeight", "setWeight 25", 25, 103*time.Second))
		}, "analysis: a shift of 25% to the bad v4 was verified"},
		{"abort not verified", func(r *Result) { last(r).Steps[1].Phase = "Pending" }, "analysis: the abort (all traffic on v2) was never verified"},
		{"v4 after the abort", func(r *Result) { last(r).AfterEnd["v4"] = 1 }, "analysis: v4 still answered 1 requests after the abort"},
		{"v4 never answered", func(r *Result) { delete(last(r).ByVersion, "v4") }, "analysis: the bad v4 never answered"},
		{"promoted", func(r *Result) { last(r).Outcome = OutcomePromoted }, "analysis: expected aborted, got promoted"},
	} {
		r := withAnalysis(goodResult())
		c.mutate(r)
		if p := r.Problems(); !slices.ContainsFunc(p, func(s string) bool { return strings.Contains(s, c.want) }) {
			t.Errorf("%s: problems %q lack %q", c.name, p, c.want)
		}
	}
}

func TestSummaryAndReportShowAnalysisRuns(t *testing.T) {
	r := withAnalysis(goodResult())
	var b bytes.Buffer
	if err := WriteSummary(&b, r, false); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"ANALYSIS RUN", "demo-abc-4-1", "canary-5xx-ratio    Failed        1 failed      [[0.09]]", "canary-p99-latency  Successful",
		"3 failed (3 the bad v4's own 500s, 0 after the abort)", "the bad v4 failed its step analysis, aborted at 10%", "0 failed requests (besides the bad canary's own 3 500s"} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	// A run without analysis has no analysis table.
	b.Reset()
	_ = WriteSummary(&b, goodResult(), false)
	if strings.Contains(b.String(), "ANALYSIS RUN") {
		t.Errorf("an analysis table without runs")
	}

	b.Reset()
	if err := WriteReport(&b, r); err != nil {
		t.Fatal(err)
	}
	doc := b.String()
	dec := xml.NewDecoder(strings.NewReader(doc))
	dec.Strict = true
	dec.Entity = xml.HTMLEntity
	for {
		if _, err := dec.Token(); err != nil {
			if err.Error() != "EOF" {
				t.Fatalf("the report is not well-formed XML: %v", err)
			}
			break
		}
	}
	for _, want := range []string{"<h2>Analysis runs</h2>", `rowspan="2"`, "demo-abc-4-1", "canary-5xx-ratio", "[[0.09]]", "&lt;&amp;&gt;", "3 (3 the bad v4&#39;s own 500s, 0 after the abort)"} {
		if !strings.Contains(doc, want) {
			t.Errorf("report lacks %q", want)
		}
	}
}

func TestShortValue(t *testing.T) {
	for in, want := range map[string]string{
		"[[0.16666666666666666]]":                         "[[0.167]]",
		"[[0.00031290227381849603 0.000397331]]":          "[[0.000313 0.000397]]",
		"[[0 0.05]]":                                      "[[0 0.05]]",
		"[[1.5e-05]]":                                     "[[1.5e-05]]",
		"[[2.5000000001e-05]]":                            "[[2.5e-05]]",
		"Metric Terminated":                               "Metric Terminated",
		`{"score":0.97123456}`:                            `{"score":0.971}`,
		"[[0.3333333333333333 0.4]]":                      "[[0.333 0.4]]",
		"[[0.0006382853881822157 0.0002948548011497237]]": "[[0.000638 0.000295]]",
	} {
		if got := shortValue(in); got != want {
			t.Errorf("shortValue(%q) = %q, want %q", in, got, want)
		}
	}
}
