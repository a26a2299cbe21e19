package controller

// Red-team tests, seventh round: the analysis gates. Each demonstrates, on
// the code it was written against, a gate that is skipped, passed without
// a human decision, or passed by a run that is not the gate's own (the
// rules of analysis_gates.go and Argo Rollouts' analysis semantics,
// /work/shared/reference/argo-analysis.md). Each is fixed and kept.

import (
	"context"
	"fmt"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
	"github.com/albrollouts/albrollouts/internal/analysis"
)

// rt7HasPause reports whether the rollout has a pause condition of reason.
func rt7HasPause(ro *v1alpha1.Rollout, reason v1alpha1.PauseReason) bool {
	for _, pc := range ro.Status.PauseConditions {
		if pc.Reason == reason {
			return true
		}
	}
	return false
}

// rt7RunsOf lists the runs of one kind.
func (s *sim) rt7RunsOf(kind analysis.RunKind) []v1alpha1.AnalysisRun {
	var out []v1alpha1.AnalysisRun
	for _, r := range s.runs() {
		if r.Labels[analysis.RolloutTypeLabel] == string(kind) {
			out = append(out, r)
		}
	}
	return out
}

// RULE "Inconclusive pauses" (Argo: setPauseOrAbort, needsNewAnalysisRun's
// CanaryPauseStep check): a background analysis run that ends Inconclusive
// while the rollout sits at a pause step is not paused on; it is replaced
// at once by a new run, without a user's promote, and the update goes on
// when the pause step's duration is over.
//
// inconclusive() takes status.controllerPause without an
// InconclusiveAnalysisRun condition to mean "a user promoted past the
// inconclusive run". A pause step sets controllerPause too (with its own
// CanaryPauseStep condition), so the first look at the inconclusive run
// reads as a promote: the run is replaced by <name>.1 and controllerPause
// cleared. Argo's needsNewAnalysisRun excludes exactly this case ("Additional
// check for the Canary Pause prevents Canary promotion when AnalysisRun is
// inconclusive").
//
// Sequence: canary, 4 replicas, steps setWeight 25, pause 1h, setWeight
// 75; background analysis from step 0; v1 healthy; v2 at the pause step,
// the background run measuring; it ends Inconclusive; any later run
// measures on (a flaky metric).
func TestRedTeam7BackgroundInconclusiveAtAPauseStepIsRerunWithoutPausing(t *testing.T) {
	s := newSim(t)
	s.canaryRollout(4, weightStep(25), pauseStep("1h"), weightStep(75))
	v1 := s.run(50, "healthy on v1", isHealthy).Status.StableRS
	s.update(func(ro *v1alpha1.Rollout) {
		ro.Spec.Strategy.Canary.Analysis = &runtime.RawExtension{Raw: []byte(`{"templates":[{"templateName":"success-rate"}]}`)}
		ro.Spec.Template.Spec.Containers[0].Image = "demo:v2"
	})
	s.run(80, "at the pause step, the background run measuring", func(ro *v1alpha1.Rollout) bool {
		r := ro.Status.Canary.CurrentBackgroundAnalysisRunStatus
		return rt7HasPause(ro, v1alpha1.PauseReasonCanaryPauseStep) && r != nil && r.Status == string(v1alpha1.AnalysisPhaseRunning)
	})
	s.runPhase[analysis.KindBackground] = v1alpha1.AnalysisPhaseInconclusive
	s.step() // the analysis controller ends the run Inconclusive
	s.runPhase[analysis.KindBackground] = ""
	for i := 0; i < 60; i++ {
		s.step()
		ro := s.rollout()
		if rt7HasPause(ro, v1alpha1.PauseReasonInconclusiveAnalysisRun) && paused(ro) {
			if n := len(s.rt7RunsOf(analysis.KindBackground)); n != 1 {
				t.Fatalf("paused on the inconclusive background run, but %d background runs exist", n)
			}
			return
		}
		if n := len(s.rt7RunsOf(analysis.KindBackground)); n > 1 || ro.Status.StableRS != v1 || ptr.Deref(ro.Status.CurrentStepIndex, 0) > 1 {
			t.Fatalf("pass %d: the inconclusive background run was replaced without a promote (%d background runs), step %v, stable %s (v1 %s), pause conditions %+v",
				s.passes, n, ptr.Deref(ro.Status.CurrentStepIndex, -1), ro.Status.StableRS, v1, ro.Status.PauseConditions)
		}
	}
	t.Fatalf("never paused on the inconclusive background run: %+v", s.rollout().Status.PauseConditions)
}

// RULE "Inconclusive pauses": a blue-green post-promotion analysis run
// that ends Inconclusive after the rollout paused before the switch
// (autoPromotionEnabled false, promoted by a user) is replaced by a new
// run without a pause; when that one succeeds, the new version becomes
// stable without a human ever deciding on the inconclusive result.
//
// blueGreenPauseDone keeps status.controllerPause true after the promote
// "until the switch completes"; inconclusive() reads controllerPause
// without an InconclusiveAnalysisRun condition as a promote past the
// inconclusive run. (Argo clears controllerPause once no pause condition
// is left, so only the pass right after a promote sees it alone.)
//
// Sequence: blue-green (ALB mode), 2 replicas, autoPromotionEnabled false,
// post-promotion analysis; v1 healthy; v2 paused, promoted; switched, the
// post-promotion run measuring; it ends Inconclusive; the next run would
// succeed.
func TestRedTeam7BlueGreenPostPromotionInconclusiveAfterThePauseIsNotPausedOn(t *testing.T) {
	s := newSim(t)
	s.blueGreenRollout(2, bgOptions{alb: true, mutate: func(bg *v1alpha1.BlueGreenStrategy) {
		bg.AutoPromotionEnabled = ptr.To(false)
		bg.PostPromotionAnalysis = analysisRaw()
	}})
	v1 := s.run(60, "healthy on v1", isHealthy).Status.StableRS
	setImage(s, "v2")
	s.run(100, "paused before the switch", pausedBy(v1alpha1.PauseReasonBlueGreenPause))
	promoteCLI(s)
	s.run(150, "switched, the post-promotion run measuring", func(ro *v1alpha1.Rollout) bool {
		r := ro.Status.BlueGreen.PostPromotionAnalysisRunStatus
		return r != nil && r.Status == string(v1alpha1.AnalysisPhaseRunning)
	})
	s.runPhase[analysis.KindPostPromotion] = v1alpha1.AnalysisPhaseInconclusive
	s.step() // the analysis controller ends the run Inconclusive
	s.runPhase[analysis.KindPostPromotion] = v1alpha1.AnalysisPhaseSuccessful
	for i := 0; i < 60; i++ {
		s.step()
		ro := s.rollout()
		if rt7HasPause(ro, v1alpha1.PauseReasonInconclusiveAnalysisRun) && paused(ro) {
			if n := len(s.rt7RunsOf(analysis.KindPostPromotion)); n != 1 || ro.Status.StableRS != v1 {
				t.Fatalf("paused, but %d post-promotion runs, stable %s", n, ro.Status.StableRS)
			}
			return
		}
		if n := len(s.rt7RunsOf(analysis.KindPostPromotion)); n > 1 || ro.Status.StableRS != v1 {
			t.Fatalf("pass %d: the inconclusive post-promotion run was replaced without a promote (%d post-promotion runs), stable %s (v1 %s), pause conditions %+v, controllerPause %v",
				s.passes, n, ro.Status.StableRS, v1, ro.Status.PauseConditions, ro.Status.ControllerPause)
		}
	}
	t.Fatalf("never paused on the inconclusive post-promotion run: %+v", s.rollout().Status.PauseConditions)
}

// rt7StepFailsAfterALostStatusWrite runs the scenario of
// TestRedTeam7StepRunFailedBeforeALostStatusWriteIsReplaced up to v2's
// step analysis: with failAt > 0, the failAt-th write after the update
// fails. It returns the sim and the number of writes the update made up to
// the pass that created the step's run.
func rt7StepFailsAfterALostStatusWrite(t *testing.T, failAt int) (*sim, string, int) {
	s := newSim(t)
	s.canaryRollout(4, weightStep(25), v1alpha1.CanaryStep{Analysis: analysisRaw()}, weightStep(75))
	v1 := s.run(50, "healthy on v1", isHealthy).Status.StableRS
	s.runPhase[analysis.KindStep] = v1alpha1.AnalysisPhaseFailed
	start := s.writes
	if failAt > 0 {
		s.failWriteAt = start + failAt
	}
	setImage(s, "v2")
	for i := 0; i < 100; i++ {
		s.step()
		if len(s.runs()) > 0 {
			return s, v1, s.writes - start
		}
	}
	t.Fatal("no step run created")
	return nil, "", 0
}

// RULE "a gate never flips from fail to pass by a restart" (and "a
// measurement is never taken twice or lost"): the pass that creates a step
// analysis run dies before its status write (a crash, a conflict); the run
// fails before the next pass; that pass finds the run under its name,
// finished, skips it, and creates <name>.1, which succeeds: the step
// passes and the update completes, although its analysis failed.
//
// startRun created the run and recorded it in the same pass; it took up a
// run found under the name it creates only while the run had not finished
// (it cannot tell a run of this attempt from one left from before a
// retry); a finished one was passed over for the next free name. (Fixed:
// the name is recorded first, the run created on a later pass.)
//
// Sequence: canary, 4 replicas, steps setWeight 25, analysis, setWeight
// 75; v1 healthy; step runs fail; v2; the status write of the pass that
// creates the step's run fails; once that run has failed, later runs
// succeed.
func TestRedTeam7StepRunFailedBeforeALostStatusWriteIsReplaced(t *testing.T) {
	_, _, w := rt7StepFailsAfterALostStatusWrite(t, 0)
	// The same run again, its last write of that pass (the status) lost.
	s, v1, _ := rt7StepFailsAfterALostStatusWrite(t, w)
	runs := s.runs()
	if s.writes < s.failWriteAt || len(runs) != 1 {
		t.Fatalf("setup: write %d (the last of the pass that created the run) not lost: %d writes, %d runs", s.failWriteAt, s.writes, len(runs))
	}
	if p := runs[0].Status.Phase; p != v1alpha1.AnalysisPhaseFailed {
		t.Fatalf("setup: the run is %s, want Failed", p)
	}
	s.runPhase[analysis.KindStep] = v1alpha1.AnalysisPhaseSuccessful
	for i := 0; i < 150; i++ {
		s.step()
		ro := s.rollout()
		if ro.Status.StableRS != v1 {
			var names []string
			for _, r := range s.runs() {
				names = append(names, r.Name+"="+string(r.Status.Phase))
			}
			t.Fatalf("pass %d: v2 became stable although its step analysis run failed: runs %v", s.passes, names)
		}
		if ro.Status.Abort && s.albWeights["web-canary"] == 0 {
			if !strings.Contains(ro.Status.Message, "Step-based analysis phase failed") {
				t.Fatalf("aborted with %q", ro.Status.Message)
			}
			return
		}
	}
	t.Fatalf("not aborted on the failed step run: phase %s %q", s.rollout().Status.Phase, s.rollout().Status.Message)
}

// RULE "a gate is never passed by a run of an earlier step" (Argo's
// CreateWithCollisionCounter reuses a run found under the name only when
// it is semantically equal: same metrics, args, dryRun,
// measurementRetention): the steps are edited while the rollout waits at
// an analysis step 0 — the step now names a stricter template — and the
// run of the old step 0, still measuring, is taken up as the new step's:
// the new template is never measured, and the step passes when the old
// one succeeds.
//
// Sequence: canary, 4 replicas, steps analysis(success-rate), setWeight
// 50; v1 healthy; v2 at step 0, its run measuring; steps become
// analysis(strict), setWeight 50; the old run succeeds.
func TestRedTeam7EditedStepTakesUpTheOldStepsRun(t *testing.T) {
	s := newSim(t)
	strict := &v1alpha1.AnalysisTemplate{ObjectMeta: metav1.ObjectMeta{Namespace: s.ns, Name: "strict"}, Spec: v1alpha1.AnalysisTemplateSpec{
		Metrics: []v1alpha1.Metric{{Name: "error-budget", Count: &intstr.IntOrString{IntVal: 1}, SuccessCondition: "result < 0.001",
			Provider: v1alpha1.MetricProvider{Web: &v1alpha1.WebMetric{URL: "http://metrics.example/error-budget"}}}},
	}}
	s.must(s.c.Create(context.Background(), strict))
	s.canaryRollout(4, v1alpha1.CanaryStep{Analysis: analysisRaw()}, weightStep(50))
	v1 := s.run(50, "healthy on v1", isHealthy).Status.StableRS
	setImage(s, "v2")
	ro := s.run(80, "the step-0 run measuring", func(ro *v1alpha1.Rollout) bool {
		r := ro.Status.Canary.CurrentStepAnalysisRunStatus
		return r != nil && r.Status == string(v1alpha1.AnalysisPhaseRunning)
	})
	old := ro.Status.Canary.CurrentStepAnalysisRunStatus.Name
	s.update(func(ro *v1alpha1.Rollout) {
		ro.Spec.Strategy.Canary.Steps = []v1alpha1.CanaryStep{{Analysis: &runtime.RawExtension{Raw: []byte(`{"templates":[{"templateName":"strict"}]}`)}}, weightStep(50)}
	})
	s.step()
	s.runPhase[analysis.KindStep] = v1alpha1.AnalysisPhaseSuccessful
	s.run(100, "past the analysis step", func(ro *v1alpha1.Rollout) bool {
		return ptr.Deref(ro.Status.CurrentStepIndex, 0) >= 1 || ro.Status.StableRS != v1
	})
	for _, r := range s.runs() {
		if r.Name != old && len(r.Spec.Metrics) == 1 && r.Spec.Metrics[0].Name == "error-budget" && r.Status.Phase == v1alpha1.AnalysisPhaseSuccessful {
			return
		}
	}
	var names []string
	for _, r := range s.runs() {
		names = append(names, r.Name+"="+string(r.Status.Phase)+" metric "+r.Spec.Metrics[0].Name)
	}
	t.Fatalf("the edited analysis step passed without a run of its template strict: runs %v (the old step's run %s)", names, old)
}

// RULE "a failed step analysis aborts" (Argo reconciles a rollout's
// analysis runs whatever else holds it, spec.paused included, and aborts
// on a failed one): a canary paused by hand (spec.paused) while its step
// analysis measures never acts on the run failing: the rollout stays
// paused with the canary serving its share, the status still says the
// run is Running, and the abort comes only when someone resumes it.
//
// canaryALB returns on spec.paused before completeStep, the only caller
// of the step's gate (runGate).
//
// Sequence: canary, 4 replicas, steps setWeight 25, analysis, setWeight
// 75; v1 healthy; v2 at the analysis step, its run measuring;
// spec.paused; the run fails.
func TestRedTeam7FailedStepAnalysisDoesNotAbortAPausedRollout(t *testing.T) {
	s := newSim(t)
	s.canaryRollout(4, weightStep(25), v1alpha1.CanaryStep{Analysis: analysisRaw()}, weightStep(75))
	s.run(50, "healthy on v1", isHealthy)
	setImage(s, "v2")
	s.run(80, "the step analysis runs", func(ro *v1alpha1.Rollout) bool {
		r := ro.Status.Canary.CurrentStepAnalysisRunStatus
		return r != nil && r.Status == string(v1alpha1.AnalysisPhaseRunning)
	})
	s.update(func(ro *v1alpha1.Rollout) { ro.Spec.Paused = true })
	s.steps(3)
	s.runPhase[analysis.KindStep] = v1alpha1.AnalysisPhaseFailed
	s.run(30, "aborted on the failed step analysis, all traffic verified on stable", func(ro *v1alpha1.Rollout) bool {
		v := ro.Status.Verification
		return ro.Status.Abort && strings.Contains(ro.Status.Message, "Step-based analysis phase failed") &&
			s.albWeights["web-canary"] == 0 && v != nil && v.Kind == v1alpha1.VerificationAbort && v.Phase == v1alpha1.VerificationVerified
	})
}

// RULE "postPromotion failure aborts after the switch with traffic
// verified back to stable" (as above: Argo acts on the failed run whatever
// else holds the rollout): a blue-green rollout paused by hand
// (spec.paused) after the switch, while its post-promotion analysis
// measures, keeps the new version in production after the run fails.
//
// reconcileBlueGreen returns on spec.paused before the post-promotion gate.
//
// Sequence: blue-green (ALB mode), 2 replicas, post-promotion analysis;
// v1 healthy; v2 switched, its post-promotion run measuring; spec.paused;
// the run fails.
func TestRedTeam7FailedPostPromotionAnalysisDoesNotAbortAPausedRollout(t *testing.T) {
	s := newSim(t)
	s.blueGreenRollout(2, bgOptions{alb: true, mutate: func(bg *v1alpha1.BlueGreenStrategy) { bg.PostPromotionAnalysis = analysisRaw() }})
	v1 := s.run(60, "healthy on v1", isHealthy).Status.StableRS
	setImage(s, "v2")
	s.run(120, "switched, the post-promotion run measuring", func(ro *v1alpha1.Rollout) bool {
		r := ro.Status.BlueGreen.PostPromotionAnalysisRunStatus
		return r != nil && r.Status == string(v1alpha1.AnalysisPhaseRunning)
	})
	s.update(func(ro *v1alpha1.Rollout) { ro.Spec.Paused = true })
	s.steps(3)
	s.runPhase[analysis.KindPostPromotion] = v1alpha1.AnalysisPhaseFailed
	s.run(60, "aborted on the failed post-promotion analysis, back on v1 (verified)", func(ro *v1alpha1.Rollout) bool {
		return ro.Status.Abort && strings.Contains(ro.Status.Message, "post-promotion analysis phase failed") && ro.Status.StableRS == v1 &&
			s.albWeights["web-active"] == 100 && ro.Status.Verification != nil && ro.Status.Verification.Kind == v1alpha1.VerificationAbort &&
			ro.Status.Verification.Phase == v1alpha1.VerificationVerified
	})
}

// RULE "Inconclusive pauses" (background analysis: "Same pause"): a
// background run that ends Inconclusive once the steps are done, while
// traffic moves to the new version for the promotion, pauses the rollout
// in name only: the weight keeps moving and the promotion completes,
// clearing the pause condition, with no one having decided on the
// inconclusive result.
//
// completeStep holds a step while the background analysis is inconclusive,
// but past the last step canaryALB promotes without looking at the pause
// conditions.
//
// Sequence: canary, 4 replicas, steps setWeight 25, pause; background
// analysis; v1 healthy; v2 paused at the pause step; promoted; the
// background run ends Inconclusive as the last step completes.
func TestRedTeam7BackgroundInconclusiveAfterTheLastStepDoesNotHoldThePromotion(t *testing.T) {
	s := newSim(t)
	s.canaryRollout(4, weightStep(25), pauseStep(""))
	v1 := s.run(50, "healthy on v1", isHealthy).Status.StableRS
	s.update(func(ro *v1alpha1.Rollout) {
		ro.Spec.Strategy.Canary.Analysis = &runtime.RawExtension{Raw: []byte(`{"templates":[{"templateName":"success-rate"}]}`)}
		ro.Spec.Template.Spec.Containers[0].Image = "demo:v2"
	})
	s.run(80, "paused at the pause step, the background run measuring", func(ro *v1alpha1.Rollout) bool {
		r := ro.Status.Canary.CurrentBackgroundAnalysisRunStatus
		return pausedBy(v1alpha1.PauseReasonCanaryPauseStep)(ro) && r != nil && r.Status == string(v1alpha1.AnalysisPhaseRunning)
	})
	promoteCLI(s)
	s.runPhase[analysis.KindBackground] = v1alpha1.AnalysisPhaseInconclusive
	s.run(20, "paused on the inconclusive background run", func(ro *v1alpha1.Rollout) bool {
		if ro.Status.StableRS != v1 {
			t.Fatalf("pass %d: v2 promoted although the background analysis is inconclusive: pause conditions %+v, background run %+v",
				s.passes, ro.Status.PauseConditions, ro.Status.Canary.CurrentBackgroundAnalysisRunStatus)
		}
		return pausedBy(v1alpha1.PauseReasonInconclusiveAnalysisRun)(ro)
	})
	w := s.albWeights["web-canary"]
	s.steps(20)
	if ro := s.rollout(); ro.Status.StableRS != v1 || s.albWeights["web-canary"] > w {
		t.Fatalf("while paused on the inconclusive background run: stable %s (v1 %s), canary weight %d (was %d)", ro.Status.StableRS, v1, s.albWeights["web-canary"], w)
	}
}

// RULE "a gate is never passed by a run left from before an abort/retry"
// (Argo: a retry creates new runs, abortedAt set; the pre-promotion run of
// the retried update must succeed before the switch): a blue-green
// rollout aborted by a user in the middle of the switch (the active
// Service widened toward the new pods), and retried before the abort has
// narrowed the Service back (its check of the stable pods waits on an AWS
// error), resumes the switch as "a switch already under way" and promotes
// the new version with no pre-promotion run of the retried update.
//
// Sequence: blue-green selector mode, 2 replicas, pre-promotion analysis
// (runs succeed); v1 healthy; v2's pre-promotion run succeeds; the switch
// widens the active Service; abort, while every ELBv2 read fails; retry;
// pre-promotion runs now measure on; the reads recover.
func TestRedTeam7BlueGreenRetryMidSwitchSkipsThePrePromotionAnalysis(t *testing.T) {
	s := newSim(t)
	s.blueGreenRollout(2, bgOptions{mutate: func(bg *v1alpha1.BlueGreenStrategy) { bg.PrePromotionAnalysis = analysisRaw() }})
	v1 := s.run(80, "healthy on v1", isHealthy).Status.StableRS
	s.runPhase[analysis.KindPrePromotion] = v1alpha1.AnalysisPhaseSuccessful
	s.healthLag = 3
	setImage(s, "v2")
	s.run(150, "the active Service widened toward v2", func(*v1alpha1.Rollout) bool { return s.selectorOf("web-active") == "*" })
	s.failVerify = "Throttling"
	s.updateStatus(func(st *v1alpha1.RolloutStatus) { st.Abort = true })
	s.run(20, "aborted", func(ro *v1alpha1.Rollout) bool { return ro.Status.AbortedAt != nil })
	if s.selectorOf("web-active") != "*" {
		t.Skipf("setup: the abort narrowed the active Service back at once (%s)", s.selectorOf("web-active"))
	}
	s.runPhase[analysis.KindPrePromotion] = ""
	s.updateStatus(func(st *v1alpha1.RolloutStatus) { st.Abort = false })
	s.steps(3)
	s.failVerify = ""
	for i := 0; i < 100; i++ {
		s.step()
		ro := s.rollout()
		if ro.Status.StableRS != v1 {
			var names []string
			for _, r := range s.runs() {
				names = append(names, r.Name+"="+string(r.Status.Phase))
			}
			t.Fatalf("pass %d: the retried update promoted v2 without a pre-promotion run of its own: runs %v, pre-promotion record %+v",
				s.passes, names, ro.Status.BlueGreen.PrePromotionAnalysisRunStatus)
		}
	}
	// Its own run passes: the update completes.
	s.runPhase[analysis.KindPrePromotion] = v1alpha1.AnalysisPhaseSuccessful
	s.run(200, "healthy on v2", func(ro *v1alpha1.Rollout) bool { return isHealthy(ro) && ro.Status.StableRS != v1 })
	if n := len(s.rt7RunsOf(analysis.KindPrePromotion)); n != 2 {
		t.Fatalf("%d pre-promotion runs, want the aborted update's and the retried one's", n)
	}
}

// The same rule at every write up to the step run's creation and just
// after: whichever write a pass dies before, the first step run (which
// fails) decides the gate, and the update aborts; later runs would
// succeed.
func TestRedTeam7StepRunFailsAtEveryWriteAroundItsCreation(t *testing.T) {
	_, _, w := rt7StepFailsAfterALostStatusWrite(t, 0)
	for k := 1; k <= w+3; k++ {
		t.Run(fmt.Sprint(k), func(t *testing.T) {
			s := newSim(t)
			s.canaryRollout(4, weightStep(25), v1alpha1.CanaryStep{Analysis: analysisRaw()}, weightStep(75))
			v1 := s.run(50, "healthy on v1", isHealthy).Status.StableRS
			s.runPhase[analysis.KindStep] = v1alpha1.AnalysisPhaseFailed
			s.failWriteAt = s.writes + k
			setImage(s, "v2")
			for i := 0; i < 200; i++ {
				s.step()
				for _, r := range s.runs() {
					if r.Status.Phase == v1alpha1.AnalysisPhaseFailed {
						s.runPhase[analysis.KindStep] = v1alpha1.AnalysisPhaseSuccessful
					}
				}
				ro := s.rollout()
				if ro.Status.StableRS != v1 {
					t.Fatalf("pass %d: v2 became stable although its first step run failed", s.passes)
				}
				if ro.Status.Abort && s.albWeights["web-canary"] == 0 {
					return
				}
			}
			t.Fatalf("not aborted: %s %q", s.rollout().Status.Phase, s.rollout().Status.Message)
		})
	}
}
