package controller

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
)

// Gates albrollouts cannot evaluate fail closed (issue 16, item 12): an
// analysis, experiment or plugin step, a background analysis and blue-green
// pre- and post-promotion analysis pause the rollout, say why, and go on
// only when a user promotes. They used to be skipped with a StepSkipped
// warning (or ignored), so a manifest whose analysis would stop a bad
// version promoted it.

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

func TestCanaryAnalysisStepPausesUntilPromoted(t *testing.T) {
	for _, tc := range []struct {
		name   string
		step   v1alpha1.CanaryStep
		reason v1alpha1.PauseReason
	}{
		{"analysis", v1alpha1.CanaryStep{Analysis: analysisRaw()}, v1alpha1.PauseReasonInconclusiveAnalysisRun},
		{"experiment", v1alpha1.CanaryStep{Experiment: &runtime.RawExtension{Raw: []byte(`{"templates":[]}`)}}, v1alpha1.PauseReasonInconclusiveExperiment},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSim(t)
			s.canaryRollout(4, weightStep(25), tc.step, weightStep(75))
			ro := s.run(50, "healthy on v1", isHealthy)
			v1 := ro.Status.StableRS
			eventsText(s)
			setImage(s, "v2")
			s.run(80, "paused at the gate", pausedBy(tc.reason))
			// Held there: more passes change nothing, the weight stays at the
			// step before the gate.
			for i := 0; i < 30; i++ {
				s.step()
			}
			ro = s.rollout()
			if got := ptr.Deref(ro.Status.CurrentStepIndex, -1); got != 1 {
				t.Fatalf("step index %d at the gate, want 1", got)
			}
			if s.albWeights["web-canary"] != 25 {
				t.Fatalf("ALB weights %v at the gate, want the canary at 25", s.albWeights)
			}
			if ev := eventsText(s); !strings.Contains(ev, v1alpha1.ReasonGateNotEvaluated) || strings.Contains(ev, "StepSkipped") {
				t.Fatalf("events do not say the gate is not evaluated:\n%s", ev)
			}
			if ro.Status.Message != string(tc.reason) {
				t.Fatalf("status message %q, want the pause reason as Argo Rollouts writes it", ro.Status.Message)
			}
			if cond := pausedCondition(ro); !strings.Contains(cond, "promote") || !strings.Contains(cond, tc.name) {
				t.Fatalf("the Paused condition %q does not say what is not evaluated and what to do", cond)
			}
			promoteCLI(s)
			s.run(100, "healthy on v2", func(ro *v1alpha1.Rollout) bool { return isHealthy(ro) && ro.Status.StableRS != v1 })
		})
	}
}

// Argo's plugin promotes an inconclusive step analysis by moving the index
// on itself; that passes the gate too.
func TestCanaryAnalysisStepPromotedByIndex(t *testing.T) {
	s := newSim(t)
	s.canaryRollout(4, weightStep(25), v1alpha1.CanaryStep{Analysis: analysisRaw()}, weightStep(75))
	v1 := s.run(50, "healthy on v1", isHealthy).Status.StableRS
	setImage(s, "v2")
	s.run(80, "paused at the gate", pausedBy(v1alpha1.PauseReasonInconclusiveAnalysisRun))
	s.updateStatus(func(st *v1alpha1.RolloutStatus) {
		st.PauseConditions, st.ControllerPause, st.CurrentStepIndex = nil, false, ptr.To(int32(2))
	})
	s.run(100, "healthy on v2", func(ro *v1alpha1.Rollout) bool { return isHealthy(ro) && ro.Status.StableRS != v1 })
}

func TestCanaryBackgroundAnalysisGatesFromItsStartingStep(t *testing.T) {
	s := newSim(t)
	s.canaryRollout(4, weightStep(25), pauseStep("1s"), weightStep(50), weightStep(75))
	v1 := s.run(50, "healthy on v1", isHealthy).Status.StableRS
	s.update(func(ro *v1alpha1.Rollout) {
		ro.Spec.Strategy.Canary.Analysis = &runtime.RawExtension{Raw: []byte(`{"templates":[{"templateName":"x"}],"startingStep":2}`)}
		ro.Spec.Template.Spec.Containers[0].Image = "demo:v2"
	})
	ro := s.run(80, "paused by the background analysis", pausedBy(v1alpha1.PauseReasonInconclusiveAnalysisRun))
	if got := ptr.Deref(ro.Status.CurrentStepIndex, -1); got != 2 {
		t.Fatalf("gated at step %d, want its startingStep 2", got)
	}
	if r := ro.Status.Canary.CurrentBackgroundAnalysisRunStatus; r == nil || r.Status != analysisInconclusive {
		t.Fatalf("background analysis status %+v", r)
	}
	if s.albWeights["web-canary"] != 25 {
		t.Fatalf("ALB weights %v at the gate", s.albWeights)
	}
	promoteCLI(s)
	s.run(100, "healthy on v2", func(ro *v1alpha1.Rollout) bool { return isHealthy(ro) && ro.Status.StableRS != v1 })
}

func TestBlueGreenPrePromotionAnalysisGatesTheSwitch(t *testing.T) {
	s := newSim(t)
	s.blueGreenRollout(2, bgOptions{alb: true, mutate: func(bg *v1alpha1.BlueGreenStrategy) { bg.PrePromotionAnalysis = analysisRaw() }})
	v1 := s.run(60, "healthy on v1", isHealthy).Status.StableRS
	setImage(s, "v2")
	s.run(80, "paused before the switch", pausedBy(v1alpha1.PauseReasonInconclusiveAnalysisRun))
	for i := 0; i < 30; i++ {
		s.step()
	}
	if sel := s.selectorOf("web-active"); sel != v1 {
		t.Fatalf("the active service moved to %s before the analysis gate was passed", sel)
	}
	if s.albWeights["web-preview"] != 0 {
		t.Fatalf("the preview group got traffic before the gate: %v", s.albWeights)
	}
	promoteCLI(s)
	s.run(120, "healthy on v2", func(ro *v1alpha1.Rollout) bool { return isHealthy(ro) && ro.Status.StableRS != v1 })
}

func TestBlueGreenPostPromotionAnalysisGatesStable(t *testing.T) {
	for _, abort := range []bool{false, true} {
		name := "promote"
		if abort {
			name = "abort"
		}
		t.Run(name, func(t *testing.T) {
			s := newSim(t)
			s.blueGreenRollout(2, bgOptions{alb: true, mutate: func(bg *v1alpha1.BlueGreenStrategy) { bg.PostPromotionAnalysis = analysisRaw() }})
			v1 := s.run(60, "healthy on v1", isHealthy).Status.StableRS
			setImage(s, "v2")
			ro := s.run(120, "paused after the switch", pausedBy(v1alpha1.PauseReasonInconclusiveAnalysisRun))
			if ro.Status.StableRS != v1 {
				t.Fatalf("stable moved to %s before the post-promotion gate", ro.Status.StableRS)
			}
			for i := 0; i < 30; i++ {
				s.step()
			}
			s.keepsReplicas(v1, 2, "the old version stays scaled up while the post-promotion gate holds")
			if abort {
				s.updateStatus(func(st *v1alpha1.RolloutStatus) { st.Abort = true })
				s.run(150, "back on v1", func(ro *v1alpha1.Rollout) bool {
					return ro.Status.StableRS == v1 && s.selectorOf("web-active") == v1 && s.albWeights["web-active"] == 100 &&
						ro.Status.Verification != nil && ro.Status.Verification.Phase == v1alpha1.VerificationVerified
				})
				return
			}
			promoteCLI(s)
			s.run(120, "healthy on v2", func(ro *v1alpha1.Rollout) bool { return isHealthy(ro) && ro.Status.StableRS != v1 })
		})
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
