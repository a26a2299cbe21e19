package controller

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
)

// eventLog accumulates a sim's recorded events across a test.
type eventLog struct {
	s   *sim
	all []string
}

func (l *eventLog) drain() []string {
	for {
		select {
		case e := <-l.s.rec.Events:
			l.all = append(l.all, e)
		default:
			return l.all
		}
	}
}

// lifecycle returns the events with the reasons Argo's tooling waits for
// (RolloutAddedToInformer, RolloutUpdated, RolloutNotCompleted), in order.
func (l *eventLog) lifecycle() []string {
	var out []string
	for _, e := range l.drain() {
		for _, r := range []string{v1alpha1.ReasonRolloutAddedToInformer, v1alpha1.ReasonRolloutUpdated, v1alpha1.ReasonRolloutNotCompleted} {
			if strings.HasPrefix(e, "Normal "+r+" ") {
				out = append(out, e)
			}
		}
	}
	return out
}

// restartController replaces the reconciler by a new one (a controller
// restart: nothing remembered but what the cluster holds).
func restartController(s *sim) {
	s.r = New(s.c, s.v, s.rec, Options{VerifyByDefault: true, Now: func() time.Time { return s.now }})
}

func wantEvents(t *testing.T, what string, got []string, want ...string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Fatalf("%s: lifecycle events\n  %s\nwant\n  %s", what, strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

// The events Argo Rollouts' users wait for, at Argo's moments, once each:
// RolloutAddedToInformer when the rollout is first seen (its first pass,
// before any other event), RolloutUpdated when the rollout's revision
// annotation moves to a new revision (the first deploy, each new template, a
// rollback), RolloutNotCompleted when an update starts (Completed turns
// False). Neither the controller's own status writes, nor more passes, nor a
// controller restart repeat them, and a spec change that makes no new
// revision (spec.paused) emits none.
func TestArgoLifecycleEventsCanary(t *testing.T) {
	s := newSim(t)
	l := &eventLog{s: s}
	s.canaryRollout(2, weightStep(50), pauseStep(""))
	s.step()
	if all := l.drain(); len(all) == 0 || !strings.HasPrefix(all[0], "Normal "+v1alpha1.ReasonRolloutAddedToInformer+" ") {
		t.Fatalf("the first pass's first event is not %s: %v", v1alpha1.ReasonRolloutAddedToInformer, all)
	}
	ro := s.run(50, "healthy on v1", isHealthy)
	v1 := ro.Status.StableRS
	s.steps(5)
	wantEvents(t, "first deploy", l.lifecycle(),
		"Normal RolloutAddedToInformer Rollout resource added to informer: ns/web",
		"Normal RolloutUpdated Rollout updated to revision 1")

	restartController(s)
	s.update(func(ro *v1alpha1.Rollout) { ro.Spec.Paused = true })
	s.steps(5)
	s.update(func(ro *v1alpha1.Rollout) { ro.Spec.Paused = false })
	s.steps(5)
	wantEvents(t, "restart, then spec.paused on and off", l.lifecycle()[2:])

	setImage(s, "v2")
	ro = s.run(80, "paused at 50%", paused)
	v2 := ro.Status.CurrentPodHash
	restartController(s)
	s.steps(5)
	wantEvents(t, "update to v2", l.lifecycle()[2:],
		"Normal RolloutUpdated Rollout updated to revision 2",
		fmt.Sprintf("Normal RolloutNotCompleted Rollout not completed, started update to revision 2 (%s)", v2))

	s.updateStatus(func(st *v1alpha1.RolloutStatus) { st.PauseConditions = nil })
	s.run(100, "healthy on v2", func(ro *v1alpha1.Rollout) bool { return isHealthy(ro) && ro.Status.StableRS == v2 })
	setImage(s, "v1")
	s.run(80, "paused at 50% on the way back to v1", paused)
	wantEvents(t, "promotion, then back to v1's template", l.lifecycle()[4:],
		"Normal RolloutUpdated Rollout updated to revision 3",
		fmt.Sprintf("Normal RolloutNotCompleted Rollout not completed, started update to revision 3 (%s)", v1))
}

func TestArgoLifecycleEventsBlueGreen(t *testing.T) {
	s := newSim(t)
	l := &eventLog{s: s}
	s.blueGreenRollout(2, bgOptions{alb: true})
	s.run(60, "healthy on v1", isHealthy)
	restartController(s)
	s.steps(5)
	wantEvents(t, "first deploy", l.lifecycle(),
		"Normal RolloutAddedToInformer Rollout resource added to informer: ns/web",
		"Normal RolloutUpdated Rollout updated to revision 1")
	setImage(s, "v2")
	ro := s.run(100, "healthy on v2", func(ro *v1alpha1.Rollout) bool {
		return isHealthy(ro) && ro.Status.Phase == v1alpha1.RolloutPhaseHealthy && ro.Status.CurrentPodHash == ro.Status.StableRS && ro.Annotations["rollout.argoproj.io/revision"] == "2"
	})
	s.steps(5)
	wantEvents(t, "update to v2", l.lifecycle()[2:],
		"Normal RolloutUpdated Rollout updated to revision 2",
		fmt.Sprintf("Normal RolloutNotCompleted Rollout not completed, started update to revision 2 (%s)", ro.Status.CurrentPodHash))
}

// A rollout another controller (Argo Rollouts) already reconciled, taken
// over with its status: it is not new, so no RolloutAddedToInformer.
func TestNoAddedToInformerForARolloutAlreadyObserved(t *testing.T) {
	s := newSim(t)
	l := &eventLog{s: s}
	s.canaryRollout(2, weightStep(50), pauseStep(""))
	s.updateStatus(func(st *v1alpha1.RolloutStatus) { st.ObservedGeneration = "1" })
	s.run(50, "healthy on v1", isHealthy)
	wantEvents(t, "taken over", l.lifecycle(), "Normal RolloutUpdated Rollout updated to revision 1")
}

// The abort's health-first check judges only the stable group, which is
// about to get more traffic: its TargetGroupVerified event for the canary
// group, which keeps its weight until the next write, says the targets were
// not judged instead of "0/0 targets healthy" (which read as if an empty
// weighted group had passed; seen in the demo).
func TestHealthFirstEventSaysWhatWasNotJudged(t *testing.T) {
	s := newSim(t)
	s.canaryRollout(2, weightStep(25), pauseStep(""))
	v1 := s.run(50, "healthy on v1", isHealthy).Status.StableRS
	setImage(s, "v2")
	s.run(80, "paused at 25", paused)
	eventsText(s)
	s.updateStatus(func(st *v1alpha1.RolloutStatus) { st.Abort = true })
	s.run(80, "aborted, traffic verified on v1", func(ro *v1alpha1.Rollout) bool {
		v := ro.Status.Verification
		return ro.Status.StableRS == v1 && s.albWeights["web-canary"] == 0 && v != nil && v.Kind == v1alpha1.VerificationAbort && v.Phase == v1alpha1.VerificationVerified
	})
	ev := eventsText(s)
	if !strings.Contains(ev, "web-canary") || !strings.Contains(ev, "verified: weight 25 (targets not judged: it gets no more traffic") {
		t.Fatalf("no event saying the canary group's targets were not judged:\n%s", ev)
	}
	if strings.Contains(ev, "verified: weight 25, 0/0 targets healthy") {
		t.Fatalf("an event reads as if an empty weighted group passed:\n%s", ev)
	}
}
