package controller

import (
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
	"github.com/albrollouts/albrollouts/internal/replicaset"
)

func rsOfHash(s *sim, hash string) *appsv1.ReplicaSet {
	for _, rs := range s.replicaSets() {
		if rs.Labels[replicaset.HashLabel] == hash {
			return &rs
		}
	}
	s.t.Fatalf("no ReplicaSet %s", hash)
	return nil
}

// Argo Rollouts' e2e TestBlueGreenAnalysis: going back to the previous
// version while its ReplicaSet is still within its scaleDownDelay (its pods
// still up) is a fast rollback: no pause (nor pre-promotion analysis), the
// active Service goes back at once, verified where an ALB routes to it.
// Once the delay is over and the old ReplicaSet is scaled down, going back
// is an update like any other.
func TestBlueGreenFastRollbackWithinTheScaleDownDelay(t *testing.T) {
	for _, alb := range []bool{false, true} {
		s := newSim(t)
		s.blueGreenRollout(2, bgOptions{alb: alb, mutate: func(bg *v1alpha1.BlueGreenStrategy) {
			bg.AutoPromotionEnabled = ptr.To(false)
			bg.ScaleDownDelaySeconds = ptr.To(int32(60))
		}})
		v1 := s.run(60, "healthy on v1", isHealthy).Status.StableRS
		setImage(s, "v2")
		v2 := s.run(100, "paused", isPausedBlueGreen).Status.CurrentPodHash
		s.updateStatus(func(st *v1alpha1.RolloutStatus) { st.PauseConditions = nil; st.ControllerPause = true })
		s.run(150, "healthy on v2", func(ro *v1alpha1.Rollout) bool { return isHealthy(ro) && ro.Status.StableRS == v2 })
		if s.replicasOf(v1) != 2 {
			t.Fatalf("alb %v: v1 has %d replicas within its scale-down delay, want 2", alb, s.replicasOf(v1))
		}
		s.run(10, "v1 given its scale-down deadline", func(*v1alpha1.Rollout) bool {
			_, ok := replicaset.ScaleDownDeadline(rsOfHash(s, v1))
			return ok
		})
		setImage(s, "v1")
		ro := s.run(100, "healthy on v1 again", func(ro *v1alpha1.Rollout) bool {
			if paused(ro) {
				t.Fatalf("alb %v: pass %d: a fast rollback paused: %q", alb, s.passes, ro.Status.Message)
			}
			return isHealthy(ro) && ro.Status.StableRS == v1
		})
		if ro.Status.PromoteFull || s.selectorOf("web-active") != v1 || ro.Status.BlueGreen.ActiveSelector != v1 {
			t.Fatalf("alb %v: promoteFull %v, active %s", alb, ro.Status.PromoteFull, s.selectorOf("web-active"))
		}
		if v := ro.Status.Verification; alb && (v == nil || v.Phase != v1alpha1.VerificationVerified || v.PodTemplateHash != v1) {
			t.Fatalf("alb %v: the fast rollback's switch is not verified: %+v", alb, v)
		}
		// v2 is now within its delay; let it pass, then going back to v2
		// is a full update again: it pauses.
		s.run(200, "v2 scaled down", func(*v1alpha1.Rollout) bool { return s.replicasOf(v2) == 0 })
		setImage(s, "v2")
		s.run(100, "paused on v2", isPausedBlueGreen)
	}
}

// Argo's e2e TestBlueGreenAnalysis updates its rollout the second it is
// Healthy: both ReplicaSets have the same creation time (a second's
// resolution), and the revisions tell which came first.
func TestCreatedBeforeWithinTheSameSecond(t *testing.T) {
	at := func(sec int, rev string, hist string) *appsv1.ReplicaSet {
		rs := &appsv1.ReplicaSet{}
		rs.CreationTimestamp = metav1.NewTime(time.Date(2026, 12, 1, 10, 0, sec, 0, time.UTC))
		rs.Annotations = map[string]string{replicaset.RevisionAnnotation: rev}
		if hist != "" {
			rs.Annotations[replicaset.RevisionHistoryAnnotation] = hist
		}
		return rs
	}
	for _, tc := range []struct {
		name string
		a, b *appsv1.ReplicaSet
		want bool
	}{
		{"earlier second", at(1, "3", "1"), at(2, "2", ""), true},
		{"later second", at(2, "3", "2"), at(1, "1", ""), false},
		{"same second, renumbered from 1, stable 2", at(1, "3", "1"), at(1, "2", ""), true},
		{"same second, renumbered from 1,4, stable 2", at(1, "5", "1,4"), at(1, "2", ""), false},
		{"same second, not renumbered", at(1, "1", ""), at(1, "2", ""), true},
		{"same second, no revisions", at(1, "", ""), at(1, "", ""), false},
	} {
		if got := createdBefore(tc.a, tc.b); got != tc.want {
			t.Errorf("%s: createdBefore %v, want %v", tc.name, got, tc.want)
		}
	}
}
