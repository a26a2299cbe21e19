package controller

import (
	"context"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
	"github.com/albrollouts/albrollouts/internal/analysis"
)

// Gates: analysis runs as Argo Rollouts runs it (analysis_gates.go); the
// gates albrollouts cannot evaluate (experiment and plugin steps) fail
// closed (issue 16, item 12): they used to be skipped with a StepSkipped
// warning, so a manifest whose analysis would stop a bad version promoted
// it.

func analysisRaw() *runtime.RawExtension {
	return &runtime.RawExtension{Raw: []byte(`{"templates":[{"templateName":"success-rate"}]}`)}
}

// promoteCLI clears the pause conditions, as `kubectl argo rollouts promote` does.
func promoteCLI(s *sim) {
	s.updateStatus(func(st *v1alpha1.RolloutStatus) { st.PauseConditions = nil })
}

func pausedCondition(ro *v1alpha1.Rollout) string {
	for _, c := range ro.Status.Conditions {
		if c.Type == v1alpha1.ConditionPaused {
			return c.Message
		}
	}
	return ""
}

func pausedBy(reason v1alpha1.PauseReason) func(*v1alpha1.Rollout) bool {
	return func(ro *v1alpha1.Rollout) bool {
		for _, pc := range ro.Status.PauseConditions {
			if pc.Reason == reason {
				return ro.Status.Phase == v1alpha1.RolloutPhasePaused
			}
		}
		return false
	}
}

// An experiment or plugin step (not implemented) fails closed: the rollout
// pauses at it and goes on only when a user promotes.
func TestCanaryExperimentStepPausesUntilPromoted(t *testing.T) {
	s := newSim(t)
	s.canaryRollout(4, weightStep(25), v1alpha1.CanaryStep{Experiment: &runtime.RawExtension{Raw: []byte(`{"templates":[]}`)}}, weightStep(75))
	v1 := s.run(50, "healthy on v1", isHealthy).Status.StableRS
	eventsText(s)
	setImage(s, "v2")
	s.run(80, "paused at the gate", pausedBy(v1alpha1.PauseReasonInconclusiveExperiment))
	s.steps(30)
	ro := s.rollout()
	if got := ptr.Deref(ro.Status.CurrentStepIndex, -1); got != 1 || s.albWeights["web-canary"] != 25 {
		t.Fatalf("step index %d, ALB weights %v at the gate; want 1, canary at 25", got, s.albWeights)
	}
	if ev := eventsText(s); !strings.Contains(ev, v1alpha1.ReasonGateNotEvaluated) || strings.Contains(ev, "StepSkipped") {
		t.Fatalf("events do not say the gate is not evaluated:\n%s", ev)
	}
	if cond := pausedCondition(ro); !strings.Contains(cond, "promote") || !strings.Contains(cond, "experiment") {
		t.Fatalf("the Paused condition %q does not say what is not evaluated and what to do", cond)
	}
	promoteCLI(s)
	s.run(100, "healthy on v2", func(ro *v1alpha1.Rollout) bool { return isHealthy(ro) && ro.Status.StableRS != v1 })
}

// A step analysis, with Argo Rollouts' semantics: the step waits while its
// run measures (traffic held at the step before), completes when it
// succeeds, aborts the update when it fails (traffic verified back on
// stable), and pauses when it is inconclusive until a user promotes.
func TestCanaryAnalysisStep(t *testing.T) {
	for _, outcome := range []v1alpha1.AnalysisPhase{v1alpha1.AnalysisPhaseSuccessful, v1alpha1.AnalysisPhaseFailed, v1alpha1.AnalysisPhaseError, v1alpha1.AnalysisPhaseInconclusive} {
		t.Run(string(outcome), func(t *testing.T) {
			s := newSim(t)
			s.canaryRollout(4, weightStep(25), v1alpha1.CanaryStep{Analysis: analysisRaw()}, weightStep(75))
			v1 := s.run(50, "healthy on v1", isHealthy).Status.StableRS
			setImage(s, "v2")
			ro := s.run(80, "the step analysis runs", func(ro *v1alpha1.Rollout) bool {
				r := ro.Status.Canary.CurrentStepAnalysisRunStatus
				return r != nil && r.Status == string(v1alpha1.AnalysisPhaseRunning)
			})
			v2 := ro.Status.CurrentPodHash
			s.steps(20) // held while it measures
			runs := s.runs()
			if len(runs) != 1 {
				t.Fatalf("%d runs, want the step's one", len(runs))
			}
			run := runs[0]
			rev := ro.Annotations["rollout.argoproj.io/revision"]
			if want := "web-" + v2 + "-" + rev + "-1"; run.Name != want || run.Labels[analysis.RolloutTypeLabel] != "Step" || run.Labels[analysis.StepIndexLabel] != "1" {
				t.Fatalf("run %s labels %v; want %s, a Step run of step 1", run.Name, run.Labels, want)
			}
			if ptr.Deref(s.rollout().Status.CurrentStepIndex, -1) != 1 || s.albWeights["web-canary"] != 25 {
				t.Fatalf("not held at the analysis step: index %v, weights %v", s.rollout().Status.CurrentStepIndex, s.albWeights)
			}
			s.runPhase[analysis.KindStep] = outcome
			switch outcome {
			case v1alpha1.AnalysisPhaseSuccessful:
				s.run(100, "healthy on v2", func(ro *v1alpha1.Rollout) bool { return isHealthy(ro) && ro.Status.StableRS == v2 })
			case v1alpha1.AnalysisPhaseFailed, v1alpha1.AnalysisPhaseError:
				ro := s.run(100, "aborted, all traffic verified on v1", func(ro *v1alpha1.Rollout) bool {
					v := ro.Status.Verification
					return ro.Status.Abort && s.albWeights["web-canary"] == 0 && v != nil && v.Kind == v1alpha1.VerificationAbort && v.Phase == v1alpha1.VerificationVerified
				})
				if !strings.Contains(ro.Status.Message, "Step-based analysis phase "+strings.ToLower(string(outcome))) || ro.Status.StableRS != v1 {
					t.Fatalf("status message %q, stable %s; want the analysis abort on %s", ro.Status.Message, ro.Status.StableRS, v1)
				}
			case v1alpha1.AnalysisPhaseInconclusive:
				ro := s.run(50, "paused on the inconclusive run", pausedBy(v1alpha1.PauseReasonInconclusiveAnalysisRun))
				if cond := pausedCondition(ro); !strings.Contains(cond, "inconclusive") || !strings.Contains(cond, "promote") {
					t.Fatalf("Paused condition %q", cond)
				}
				s.steps(20)
				if s.albWeights["web-canary"] != 25 {
					t.Fatalf("weights %v while paused", s.albWeights)
				}
				promoteCLI(s)
				s.run(100, "healthy on v2", func(ro *v1alpha1.Rollout) bool { return isHealthy(ro) && ro.Status.StableRS == v2 })
			}
		})
	}
}

// Argo's plugin promotes an inconclusive step analysis by moving the index
// on itself; that passes the gate too, and the old step's run, if still
// measuring, is terminated.
func TestCanaryAnalysisStepPromotedByIndex(t *testing.T) {
	s := newSim(t)
	s.canaryRollout(4, weightStep(25), v1alpha1.CanaryStep{Analysis: analysisRaw()}, pauseStep(""), weightStep(75))
	v1 := s.run(50, "healthy on v1", isHealthy).Status.StableRS
	setImage(s, "v2")
	s.run(80, "the step analysis runs", func(ro *v1alpha1.Rollout) bool {
		r := ro.Status.Canary.CurrentStepAnalysisRunStatus
		return r != nil && r.Status == string(v1alpha1.AnalysisPhaseRunning)
	})
	s.updateStatus(func(st *v1alpha1.RolloutStatus) { st.CurrentStepIndex = ptr.To(int32(2)) })
	s.run(50, "the skipped step's run terminated", func(*v1alpha1.Rollout) bool {
		runs := s.runs()
		return len(runs) == 1 && runs[0].Spec.Terminate
	})
	promoteCLI(s)
	s.run(100, "healthy on v2", func(ro *v1alpha1.Rollout) bool { return isHealthy(ro) && ro.Status.StableRS != v1 })
}

// Background analysis starts at its startingStep and runs beside the
// steps; it fails the update whenever it fails, and is terminated when
// the update completes.
func TestCanaryBackgroundAnalysis(t *testing.T) {
	for _, fail := range []bool{false, true} {
		t.Run(map[bool]string{false: "succeeds", true: "fails"}[fail], func(t *testing.T) {
			s := newSim(t)
			s.canaryRollout(4, weightStep(25), pauseStep("1s"), weightStep(50), pauseStep(""), weightStep(75))
			v1 := s.run(50, "healthy on v1", isHealthy).Status.StableRS
			s.update(func(ro *v1alpha1.Rollout) {
				ro.Spec.Strategy.Canary.Analysis = &runtime.RawExtension{Raw: []byte(`{"templates":[{"templateName":"success-rate"}],"startingStep":2}`)}
				ro.Spec.Template.Spec.Containers[0].Image = "demo:v2"
			})
			ro := s.run(80, "background run started", func(ro *v1alpha1.Rollout) bool { return ro.Status.Canary.CurrentBackgroundAnalysisRunStatus != nil })
			if got := ptr.Deref(ro.Status.CurrentStepIndex, -1); got != 2 {
				t.Fatalf("background run started at step %d, want its startingStep 2", got)
			}
			ro = s.run(80, "paused at the second pause, the run still measuring", paused)
			if r := ro.Status.Canary.CurrentBackgroundAnalysisRunStatus; r.Status != string(v1alpha1.AnalysisPhaseRunning) || s.albWeights["web-canary"] != 50 {
				t.Fatalf("background run %+v, weights %v", r, s.albWeights)
			}
			if fail {
				s.runPhase[analysis.KindBackground] = v1alpha1.AnalysisPhaseFailed
				ro := s.run(100, "aborted, all traffic on v1", func(ro *v1alpha1.Rollout) bool { return ro.Status.Abort && s.albWeights["web-canary"] == 0 })
				if !strings.Contains(ro.Status.Message, "Background analysis phase failed") {
					t.Fatalf("status message %q", ro.Status.Message)
				}
				return
			}
			promoteCLI(s)
			s.run(100, "healthy on v2", func(ro *v1alpha1.Rollout) bool { return isHealthy(ro) && ro.Status.StableRS != v1 })
			s.steps(3)
			if runs := s.runs(); len(runs) != 1 || !runs[0].Spec.Terminate || runs[0].Status.Phase != v1alpha1.AnalysisPhaseSuccessful {
				t.Fatalf("background run after the promotion: %+v", runs)
			}
		})
	}
}

// Blue-green pre-promotion analysis gates the switch: nothing moves while
// it measures; a failure aborts with the active Service never moved.
func TestBlueGreenPrePromotionAnalysisGatesTheSwitch(t *testing.T) {
	for _, outcome := range []v1alpha1.AnalysisPhase{v1alpha1.AnalysisPhaseSuccessful, v1alpha1.AnalysisPhaseFailed} {
		t.Run(string(outcome), func(t *testing.T) {
			s := newSim(t)
			s.blueGreenRollout(2, bgOptions{alb: true, mutate: func(bg *v1alpha1.BlueGreenStrategy) { bg.PrePromotionAnalysis = analysisRaw() }})
			v1 := s.run(60, "healthy on v1", isHealthy).Status.StableRS
			setImage(s, "v2")
			s.run(80, "the pre-promotion run measures", func(ro *v1alpha1.Rollout) bool {
				r := ro.Status.BlueGreen.PrePromotionAnalysisRunStatus
				return r != nil && r.Status == string(v1alpha1.AnalysisPhaseRunning)
			})
			s.steps(30)
			if sel := s.selectorOf("web-active"); sel != v1 || s.albWeights["web-preview"] != 0 {
				t.Fatalf("the switch began before the analysis passed: active on %s, weights %v", sel, s.albWeights)
			}
			if runs := s.runs(); len(runs) != 1 || !strings.HasSuffix(runs[0].Name, "-pre") || runs[0].Labels[analysis.RolloutTypeLabel] != "PrePromotion" {
				t.Fatalf("runs %+v", runs)
			}
			s.runPhase[analysis.KindPrePromotion] = outcome
			if outcome == v1alpha1.AnalysisPhaseFailed {
				s.run(100, "aborted on v1", func(ro *v1alpha1.Rollout) bool { return ro.Status.Abort && s.selectorOf("web-active") == v1 })
				s.steps(20)
				if s.selectorOf("web-active") != v1 || s.albWeights["web-active"] != 100 {
					t.Fatalf("after the failed pre-promotion analysis: active on %s, weights %v", s.selectorOf("web-active"), s.albWeights)
				}
				return
			}
			s.run(120, "healthy on v2", func(ro *v1alpha1.Rollout) bool { return isHealthy(ro) && ro.Status.StableRS != v1 })
		})
	}
}

// Blue-green post-promotion analysis: the switch is made, the old version
// stays stable and scaled up until the run succeeds; a failure switches
// back (verified) and aborts.
func TestBlueGreenPostPromotionAnalysisGatesStable(t *testing.T) {
	for _, outcome := range []v1alpha1.AnalysisPhase{v1alpha1.AnalysisPhaseSuccessful, v1alpha1.AnalysisPhaseFailed} {
		t.Run(string(outcome), func(t *testing.T) {
			s := newSim(t)
			s.blueGreenRollout(2, bgOptions{alb: true, mutate: func(bg *v1alpha1.BlueGreenStrategy) { bg.PostPromotionAnalysis = analysisRaw() }})
			v1 := s.run(60, "healthy on v1", isHealthy).Status.StableRS
			setImage(s, "v2")
			ro := s.run(120, "switched, the post-promotion run measuring", func(ro *v1alpha1.Rollout) bool {
				r := ro.Status.BlueGreen.PostPromotionAnalysisRunStatus
				return r != nil && r.Status == string(v1alpha1.AnalysisPhaseRunning)
			})
			if ro.Status.StableRS != v1 {
				t.Fatalf("stable moved to %s before the post-promotion analysis passed", ro.Status.StableRS)
			}
			s.steps(30)
			s.keepsReplicas(v1, 2, "the old version stays scaled up while the post-promotion analysis measures")
			s.runPhase[analysis.KindPostPromotion] = outcome
			if outcome == v1alpha1.AnalysisPhaseFailed {
				ro := s.run(150, "back on v1", func(ro *v1alpha1.Rollout) bool {
					return ro.Status.StableRS == v1 && s.selectorOf("web-active") == v1 && s.albWeights["web-active"] == 100 &&
						ro.Status.Verification != nil && ro.Status.Verification.Phase == v1alpha1.VerificationVerified
				})
				if !strings.Contains(ro.Status.Message, "Blue/green post-promotion analysis phase failed") {
					t.Fatalf("status message %q", ro.Status.Message)
				}
				return
			}
			s.run(120, "healthy on v2", func(ro *v1alpha1.Rollout) bool { return isHealthy(ro) && ro.Status.StableRS != v1 })
		})
	}
}

// A missing template is an invalid spec that names it: the gate does not
// pass, nothing moves past the step before it.
func TestCanaryAnalysisStepWithAMissingTemplateFailsClosed(t *testing.T) {
	s := newSim(t)
	s.canaryRollout(4, weightStep(25), weightStep(75))
	s.run(50, "healthy on v1", isHealthy)
	s.update(func(ro *v1alpha1.Rollout) {
		ro.Spec.Strategy.Canary.Steps = []v1alpha1.CanaryStep{weightStep(25), {Analysis: &runtime.RawExtension{Raw: []byte(`{"templates":[{"templateName":"nope"}]}`)}}, weightStep(75)}
		ro.Spec.Template.Spec.Containers[0].Image = "demo:v2"
	})
	s.run(80, "invalid spec naming the template", func(ro *v1alpha1.Rollout) bool {
		c := findCondition(ro, v1alpha1.ConditionInvalidSpec)
		return c != nil && strings.Contains(c.Message, "AnalysisTemplate 'nope' not found in namespace ns")
	})
	s.steps(20)
	if ro := s.rollout(); s.albWeights["web-canary"] != 0 || s.replicasOf(ro.Status.CurrentPodHash) > 0 && ro.Status.CurrentPodHash != ro.Status.StableRS {
		t.Fatalf("moved past the analysis step: index %v, weights %v", ro.Status.CurrentStepIndex, s.albWeights)
	}
}

// Resuming a paused rollout leaves the Paused condition False, as Argo
// Rollouts does, so `kubectl wait --for=condition=Paused=False` returns
// (issue 17, item 7); it used to be removed.
func TestPromoteSetsPausedConditionFalse(t *testing.T) {
	s := newSim(t)
	s.canaryRollout(2, weightStep(50), pauseStep(""))
	v1 := s.run(50, "healthy on v1", isHealthy).Status.StableRS
	setImage(s, "v2")
	s.run(80, "paused", pausedBy(v1alpha1.PauseReasonCanaryPauseStep))
	promoteCLI(s)
	ro := s.run(100, "healthy on v2", func(ro *v1alpha1.Rollout) bool { return isHealthy(ro) && ro.Status.StableRS != v1 })
	for _, c := range ro.Status.Conditions {
		if c.Type == v1alpha1.ConditionPaused {
			if c.Status != "False" || c.Reason != v1alpha1.ReasonRolloutResumed {
				t.Fatalf("Paused condition after promote: %s %s", c.Status, c.Reason)
			}
			return
		}
	}
	t.Fatal("the Paused condition was removed at promote; kubectl wait --for=condition=Paused=False would never return")
}

// Argo Rollouts' e2e TestFixInvalidSpec: a template an analysis names that
// does not exist is an invalid spec from the first deploy on; creating it
// lets the rollout go on.
func TestMissingAnalysisTemplateIsAnInvalidSpecUntilCreated(t *testing.T) {
	s := newSim(t)
	s.canaryRollout(2, weightStep(25))
	s.update(func(ro *v1alpha1.Rollout) {
		ro.Spec.Strategy.Canary.Analysis = &runtime.RawExtension{Raw: []byte(`{"templates":[{"templateName":"later"}]}`)}
	})
	s.run(20, "invalid spec naming the template", func(ro *v1alpha1.Rollout) bool {
		c := findCondition(ro, v1alpha1.ConditionInvalidSpec)
		return c != nil && strings.Contains(c.Message, "'later' not found") && ro.Status.Phase == v1alpha1.RolloutPhaseDegraded
	})
	if n := len(s.replicaSets()); n != 0 {
		t.Fatalf("%d ReplicaSets created while the spec is invalid", n)
	}
	tmpl := &v1alpha1.AnalysisTemplate{ObjectMeta: metav1.ObjectMeta{Namespace: s.ns, Name: "later"}, Spec: v1alpha1.AnalysisTemplateSpec{
		Metrics: []v1alpha1.Metric{{Name: "m", Provider: v1alpha1.MetricProvider{Web: &v1alpha1.WebMetric{URL: "http://x"}}}}}}
	s.must(s.c.Create(context.Background(), tmpl))
	s.run(100, "healthy on v1", isHealthy)
}

// Argo Rollouts' reference validation: a metric that measures without end
// (an interval and no count) may gate a background analysis only; in a
// step analysis the step would never complete, so it is an invalid spec.
func TestUnboundedMetricOnlyInBackgroundAnalysis(t *testing.T) {
	for _, background := range []bool{false, true} {
		t.Run(map[bool]string{false: "step", true: "background"}[background], func(t *testing.T) {
			s := newSim(t)
			tmpl := &v1alpha1.AnalysisTemplate{ObjectMeta: metav1.ObjectMeta{Namespace: s.ns, Name: "forever"}, Spec: v1alpha1.AnalysisTemplateSpec{
				Metrics: []v1alpha1.Metric{{Name: "m", Interval: "10s", Provider: v1alpha1.MetricProvider{Web: &v1alpha1.WebMetric{URL: "http://x"}}}}}}
			s.must(s.c.Create(context.Background(), tmpl))
			s.canaryRollout(2, weightStep(25))
			raw := &runtime.RawExtension{Raw: []byte(`{"templates":[{"templateName":"forever"}]}`)}
			s.update(func(ro *v1alpha1.Rollout) {
				if background {
					ro.Spec.Strategy.Canary.Analysis = raw
				} else {
					ro.Spec.Strategy.Canary.Steps = append(ro.Spec.Strategy.Canary.Steps, v1alpha1.CanaryStep{Analysis: raw})
				}
			})
			s.steps(10)
			c := findCondition(s.rollout(), v1alpha1.ConditionInvalidSpec)
			if got := c != nil && strings.Contains(c.Message, "runs indefinitely"); got == background {
				t.Fatalf("background %v: InvalidSpec condition %+v", background, c)
			}
		})
	}
}
