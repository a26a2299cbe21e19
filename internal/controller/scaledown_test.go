package controller

import (
	"context"
	"testing"
	"time"

	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
	"github.com/albrollouts/albrollouts/internal/replicaset"
)

// scaleDownDelayRevisionLimit: of the old ReplicaSets waiting out
// scaleDownDelaySeconds, only the newest limit keep their pods; older ones
// scale down at once (Argo Rollouts' semantics).
func TestScaleDownDelayRevisionLimit(t *testing.T) {
	for _, limit := range []*int32{nil, ptr.To(int32(1)), ptr.To(int32(0))} {
		s := newSim(t)
		s.canaryRollout(2)
		s.update(func(ro *v1alpha1.Rollout) {
			ro.Spec.Strategy.Canary.ScaleDownDelaySeconds = ptr.To(int32(600))
			ro.Spec.Strategy.Canary.ScaleDownDelayRevisionLimit = limit
		})
		v1 := s.run(60, "healthy on v1", isHealthy).Status.StableRS
		setImage(s, "v2")
		v2 := s.run(100, "healthy on v2", func(ro *v1alpha1.Rollout) bool { return isHealthy(ro) && ro.Status.StableRS != v1 }).Status.StableRS
		setImage(s, "v3")
		s.run(100, "healthy on v3", func(ro *v1alpha1.Rollout) bool { return isHealthy(ro) && ro.Status.StableRS != v2 })
		s.steps(3)
		got := []int32{s.replicasOf(v1), s.replicasOf(v2)}
		want := []int32{2, 2} // no limit: both wait out the 600 s
		switch {
		case limit != nil && *limit == 1:
			want = []int32{0, 2}
		case limit != nil && *limit == 0:
			want = []int32{0, 0}
		}
		if got[0] != want[0] || got[1] != want[1] {
			t.Errorf("limit %v: v1 %d and v2 %d pods, want %v", ptrString(limit), got[0], got[1], want)
		}
		// A ReplicaSet at zero keeps no scale-down deadline (Argo's e2e
		// TestCanaryScaleDownDelay reads it); one waiting keeps its own.
		for _, rs := range s.replicaSets() {
			_, has := rs.Annotations[replicaset.ScaleDownDeadlineAnnotation]
			if h := replicaset.HashOf(&rs); (h == v1 || h == v2) && has != (replicaset.Replicas(&rs) > 0) {
				t.Errorf("limit %v: ReplicaSet %s at %d pods has a scale-down deadline: %v", ptrString(limit), rs.Name, replicaset.Replicas(&rs), has)
			}
		}
	}
}

func ptrString(p *int32) string {
	if p == nil {
		return "unset"
	}
	return string('0' + *p)
}

// A ReplicaSet that comes back as the stable one (a rollback, a retried
// abort) with a scale-down deadline left from its earlier role keeps its
// pods for the whole scaleDownDelaySeconds after the next promotion, not
// until that stale deadline, long passed (Argo Rollouts' e2e
// TestCanaryScaleDownDelay after an abort, retry and promote --full).
func TestStaleScaleDownDeadlineIsDroppedFromTheStableReplicaSet(t *testing.T) {
	s := newSim(t)
	s.canaryRollout(2)
	s.update(func(ro *v1alpha1.Rollout) { ro.Spec.Strategy.Canary.ScaleDownDelaySeconds = ptr.To(int32(30)) })
	v1 := s.run(60, "healthy on v1", isHealthy).Status.StableRS
	for _, rs := range s.replicaSets() {
		if replicaset.HashOf(&rs) == v1 {
			n := rs.DeepCopy()
			n.Annotations[replicaset.ScaleDownDeadlineAnnotation] = replicaset.FormatDeadline(s.now.Add(-time.Hour))
			s.must(s.c.Patch(context.Background(), n, client.MergeFrom(&rs)))
		}
	}
	s.steps(2)
	setImage(s, "v2")
	ro := s.run(100, "healthy on v2", func(ro *v1alpha1.Rollout) bool { return isHealthy(ro) && ro.Status.StableRS != v1 })
	promoted := s.now
	s.run(100, "v1 scaled down", func(*v1alpha1.Rollout) bool { return s.replicasOf(v1) == 0 })
	if held := s.now.Sub(promoted); held < 25*time.Second {
		t.Fatalf("v1 scaled down %s after the promotion to %s; want the 30 s delay", held, ro.Status.StableRS)
	}
}

// Argo Rollouts' e2e TestCanaryScaleDownDelay path on blue-green: an abort
// gives the new ReplicaSet the abort's scale-down deadline; a retry and
// promote --full make it the active one; the next update must keep it for
// the whole scaleDownDelaySeconds after the switch, whatever deadline it
// carried.
func TestBlueGreenAbortRetryPromoteFullKeepsTheScaleDownDelay(t *testing.T) {
	s := newSim(t)
	s.blueGreenRollout(2, bgOptions{mutate: func(bg *v1alpha1.BlueGreenStrategy) {
		bg.AutoPromotionEnabled = ptr.To(false)
		bg.ScaleDownDelaySeconds = ptr.To(int32(30))
		bg.AbortScaleDownDelaySeconds = ptr.To(int32(2))
	}})
	v1 := s.run(60, "healthy on v1", isHealthy).Status.StableRS
	setImage(s, "v2")
	v2 := s.run(100, "paused with the preview up", paused).Status.CurrentPodHash
	s.updateStatus(func(st *v1alpha1.RolloutStatus) { st.Abort = true })
	s.run(100, "aborted, v2 scaled down", func(ro *v1alpha1.Rollout) bool { return ro.Status.Abort && s.replicasOf(v2) == 0 })
	s.updateStatus(func(st *v1alpha1.RolloutStatus) { st.Abort = false })
	s.run(100, "retried: paused with the preview up", func(ro *v1alpha1.Rollout) bool { return paused(ro) && s.replicasOf(v2) == 2 })
	s.updateStatus(func(st *v1alpha1.RolloutStatus) { st.PromoteFull = true })
	s.run(100, "healthy on v2", func(ro *v1alpha1.Rollout) bool {
		return isHealthy(ro) && ro.Status.StableRS == v2 && s.replicasOf(v1) == 0
	})
	setImage(s, "v3")
	s.run(100, "paused with the preview up", paused)
	s.updateStatus(func(st *v1alpha1.RolloutStatus) { st.PauseConditions = nil; st.ControllerPause = true })
	ro := s.run(100, "switched to v3", func(ro *v1alpha1.Rollout) bool { return ro.Status.StableRS != v2 && isHealthy(ro) })
	switched := s.now
	s.run(200, "v2 scaled down", func(*v1alpha1.Rollout) bool { return s.replicasOf(v2) == 0 })
	if held := s.now.Sub(switched); held < 25*time.Second {
		t.Fatalf("v2 scaled down %s after the switch to %s; want the 30 s delay", held, ro.Status.StableRS)
	}
}
