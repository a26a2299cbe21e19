package controller

import (
	"context"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
	"github.com/albrollouts/albrollouts/internal/verify"
)

// asyncSim is a sim whose controller checks in the background through the
// deterministic double (each step reconciles every rollout anyway, so the
// callbacks are only counted).
func asyncSim(t *testing.T) (*sim, *simAsyncVerifier, *int) {
	s := newSim(t)
	notified := 0
	a := s.goAsync(func(types.NamespacedName) { notified++ })
	return s, a, &notified
}

// The controller never calls Verify in a worker: every read is the
// watches', and an update goes through to Healthy; once nothing is
// verified any more, no watch is left.
func TestAsyncVerifyCompletesWithoutBlockingAndLeavesNoWatch(t *testing.T) {
	s, a, notified := asyncSim(t)
	s.canaryRollout(2, weightStep(25), pauseStep("5s"), weightStep(75))
	s.run(100, "healthy on v1", isHealthy)
	setImage(s, "v2")
	s.run(300, "healthy on v2", func(ro *v1alpha1.Rollout) bool {
		return isHealthy(ro) && ro.Spec.Template.Spec.Containers[0].Image == "demo:v2"
	})
	s.steps(3)
	if a.submits == 0 || *notified == 0 {
		t.Fatalf("the background path was not used: %d submits, %d callbacks", a.submits, *notified)
	}
	if n := s.r.watching(); n != 0 || len(a.watches) != 0 || a.running() != 0 {
		t.Fatalf("settled, yet %d watch(es) held by the controller, %d in the verifier (%d running)", n, len(a.watches), a.running())
	}
	ro := s.rollout()
	if v := ro.Status.Verification; v == nil || v.Phase != v1alpha1.VerificationVerified {
		t.Fatalf("the last verification is not Verified: %+v", ro.Status.Verification)
	}
}

// A rollout deleted while its verification is pending: its watches are
// forgotten (no goroutine left checking for nobody).
func TestAsyncVerifyDeletedRolloutForgetsItsWatches(t *testing.T) {
	s, a, _ := asyncSim(t)
	s.canaryRollout(2, weightStep(50), pauseStep(""))
	s.run(100, "healthy on v1", isHealthy)
	s.lbLag = 1000 // the step's weights are never applied: pending
	setImage(s, "v2")
	s.steps(20)
	if a.running() == 0 || s.r.watching() == 0 {
		t.Fatalf("no pending watch: %d running, %d held", a.running(), s.r.watching())
	}
	s.must(s.c.Delete(context.Background(), s.rollout()))
	if _, err := s.reconcile("web"); err != nil {
		t.Fatal(err)
	}
	if n := s.r.watching(); n != 0 || len(a.watches) != 0 {
		t.Fatalf("deleted, yet %d watch(es) held by the controller, %d in the verifier", n, len(a.watches))
	}
}

// While the verification stays pending, the controller writes status only
// when the watch's result changed: a pass that finds the same result again
// (its NextCheck requeue, another event) records nothing (no attempt, no
// lastCheckedAt), and its own writes do not bring it back.
func TestAsyncVerifyPendingWritesStatusOnlyOnChange(t *testing.T) {
	s, a, _ := asyncSim(t)
	s.canaryRollout(2, weightStep(50), pauseStep(""))
	s.run(100, "healthy on v1", isHealthy)
	s.lbLag = 1000
	setImage(s, "v2")
	ro := s.run(20, "pending with a result", func(ro *v1alpha1.Rollout) bool {
		v := ro.Status.Verification
		return v != nil && v.Phase == v1alpha1.VerificationPending && v.LastCheckedAt != nil
	})
	start := ro.Status.Verification.StartedAt.Time
	changes, writes, passes := a.changes, 0, 0
	for s.now.Before(start.Add(20 * time.Second)) {
		before := s.rollout()
		s.step()
		passes++
		after := s.rollout()
		if after.ResourceVersion != before.ResourceVersion {
			writes++
		}
	}
	if a.changes == changes {
		t.Fatal("the watch's result never changed: nothing to compare with")
	}
	// A result that changed at the tick before the window is recorded in
	// its first pass.
	if writes > a.changes-changes+1 {
		t.Fatalf("%d status writes in %d passes for %d changed results", writes, passes, a.changes-changes)
	}
	if ro := s.rollout(); ro.Status.Verification.Attempts > int32(a.changes) {
		t.Fatalf("%d attempts recorded for %d changed results", ro.Status.Verification.Attempts, a.changes)
	}
}

// A controller that restarts has no watches: it submits again, from the
// verification recorded in status, and goes on.
func TestAsyncVerifyRestartResubmits(t *testing.T) {
	s, a, _ := asyncSim(t)
	s.canaryRollout(2, weightStep(50), pauseStep(""))
	s.run(100, "healthy on v1", isHealthy)
	s.lbLag = 4
	setImage(s, "v2")
	s.steps(3)
	submits := a.submits
	a.restart(s.r)
	s.run(100, "paused at the step, verified", func(ro *v1alpha1.Rollout) bool {
		v := ro.Status.Verification
		return v != nil && v.Phase == v1alpha1.VerificationVerified && ro.Status.Canary.Weights != nil && ro.Status.Canary.Weights.Canary.Weight == 50
	})
	if a.submits == submits {
		t.Fatal("the restarted controller did not submit again")
	}
}

// A watch answers only for exactly its input: another freshness bound is
// another input, except for a probe whose watch was submitted shortly
// before (its reads are after its own, earlier bound).
func TestAsyncVerifySameButBound(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	in := verify.Input{Namespace: "ns", ActionName: "web", DesiredAt: t0}
	later := in
	later.DesiredAt = t0.Add(2 * time.Second)
	if sameButBound(in, later, 0) {
		t.Fatal("an exact check reused a watch of an earlier bound")
	}
	if !sameButBound(in, later, probeReuse) {
		t.Fatal("a probe did not reuse a watch submitted 2s before")
	}
	if sameButBound(later, in, probeReuse) {
		t.Fatal("a watch of a later bound answered for an earlier one")
	}
	old := in
	old.DesiredAt = t0.Add(-probeReuse - time.Second)
	if sameButBound(old, in, probeReuse) {
		t.Fatal("a probe reused a watch older than probeReuse")
	}
	other := later
	other.ActionName = "other"
	if sameButBound(in, other, probeReuse) {
		t.Fatal("a watch of another input answered")
	}
	// What a pass builds from the status it wrote is the same input.
	now := time.Now()
	if a, b := normalized(verify.Input{DesiredAt: now}), normalized(verify.Input{DesiredAt: now.Truncate(time.Microsecond).In(time.UTC)}); !a.DesiredAt.Equal(b.DesiredAt) || a.DesiredAt != b.DesiredAt {
		t.Fatalf("normalized bounds differ: %v vs %v", a.DesiredAt, b.DesiredAt)
	}
	nn, ok := rolloutOfKey(watchKey(types.NamespacedName{Namespace: "ns", Name: "web"}, purposeProbe))
	if !ok || nn.Namespace != "ns" || nn.Name != "web" {
		t.Fatalf("key of ns/web parsed as %v", nn)
	}
}
