package controller

import (
	"context"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
	"github.com/albrollouts/albrollouts/internal/analysis"
)

// The simulator's analysis: the AnalysisTemplate success-rate exists, and
// the outcome of each run (what the analysis controller, tested on its own
// in internal/analysis, would write) is the test's choice: runPhase by kind
// of run (Step, Background, PrePromotion, PostPromotion), "" leaving runs
// Running. A terminated run ends Successful, as Argo's do.

// analysisTemplate creates the template analysisRaw names.
func (s *sim) analysisTemplate() {
	s.t.Helper()
	t := &v1alpha1.AnalysisTemplate{ObjectMeta: metav1.ObjectMeta{Namespace: s.ns, Name: "success-rate"}, Spec: v1alpha1.AnalysisTemplateSpec{
		Metrics: []v1alpha1.Metric{{Name: "success-rate", Count: &intstr.IntOrString{IntVal: 1},
			Provider: v1alpha1.MetricProvider{Web: &v1alpha1.WebMetric{URL: "http://metrics.example/success-rate"}}}},
	}}
	s.must(s.c.Create(context.Background(), t))
}

// runAnalysis plays the analysis controller over the namespace's runs.
func (s *sim) runAnalysis() {
	ctx := context.Background()
	var runs v1alpha1.AnalysisRunList
	s.must(s.c.List(ctx, &runs, client.InNamespace(s.ns)))
	for i := range runs.Items {
		r := &runs.Items[i]
		if r.Status.Phase.Completed() {
			continue
		}
		phase := s.runPhase[analysis.RunKind(r.Labels[analysis.RolloutTypeLabel])]
		if r.Spec.Terminate {
			phase = v1alpha1.AnalysisPhaseSuccessful
		}
		if phase == "" {
			phase = v1alpha1.AnalysisPhaseRunning
		}
		if r.Status.Phase == phase {
			continue
		}
		n := r.DeepCopy()
		n.Status.Phase = phase
		if phase == v1alpha1.AnalysisPhaseFailed {
			n.Status.Message = "metric \"success-rate\" assessed Failed due to failed (1) > failureLimit (0)"
		}
		s.must(s.c.Update(ctx, n))
		s.runsSeen = append(s.runsSeen, r.Name)
	}
}

// runs lists the namespace's AnalysisRuns.
func (s *sim) runs() []v1alpha1.AnalysisRun {
	var runs v1alpha1.AnalysisRunList
	s.must(s.c.List(context.Background(), &runs, client.InNamespace(s.ns)))
	return runs.Items
}
