package controller

import (
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/event"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
)

// The watch does not react to the controller's own writes to a Rollout (issue
// 16, item 6): while a verification is pending every pass writes
// status.verification (attempts, lastCheckedAt), and reacting to that write
// reconciled a pending rollout as fast as the API server answered instead of
// once per check. A write by someone else (the CLI's promote) still counts.
func TestOwnStatusWritesDoNotTriggerAPass(t *testing.T) {
	s := newSim(t)
	s.canaryRollout(2, weightStep(50), pauseStep(""))
	s.run(50, "healthy on v1", isHealthy)
	s.lbLag = 50 // the new weights stay unapplied: the verification stays pending
	setImage(s, "v2")
	pred := s.r.notOwnWrite()
	var own, pending int
	for i := 0; i < 40; i++ {
		before := s.rollout()
		s.step()
		after := s.rollout()
		if after.ResourceVersion == before.ResourceVersion {
			continue
		}
		if v := after.Status.Verification; v != nil && v.Phase == v1alpha1.VerificationPending {
			pending++
		}
		if !pred.Update(event.UpdateEvent{ObjectOld: before, ObjectNew: after}) {
			own++
		} else {
			t.Fatalf("pass %d: the controller's own write (resourceVersion %s) would trigger another pass", s.passes, after.ResourceVersion)
		}
	}
	if pending == 0 || own == 0 {
		t.Fatalf("the scenario wrote no pending verification (own writes %d, pending %d)", own, pending)
	}
	// A user's write (promote from the CLI) is not the controller's.
	before := s.rollout()
	s.updateStatus(func(st *v1alpha1.RolloutStatus) { st.PauseConditions = nil })
	if !pred.Update(event.UpdateEvent{ObjectOld: before, ObjectNew: s.rollout()}) {
		t.Fatal("a status write by a user was taken for the controller's own")
	}
	// An event matched once is forgotten: the same version seen again (a
	// resync) passes.
	var w ownWrites
	w.wrote("u", "7")
	if !w.consume("u", "7") || w.consume("u", "7") {
		t.Fatal("an own write must be consumed exactly once")
	}
}
