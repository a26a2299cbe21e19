package controller

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
	"github.com/albrollouts/albrollouts/internal/replicaset"
)

// `kubectl argo rollouts undo --to-revision=N` to a revision that is not the
// stable one copies that ReplicaSet's template, with the fields the API
// server defaulted, into the rollout (issue 17, item 1). Its hash is not
// the ReplicaSet's, which is reused; the rollout used to take every pass for
// a new update and loop at step 0 ("step completed" events many times a
// second). It must run the steps once, like any update.
func TestUndoToANonStableRevisionRunsTheStepsOnce(t *testing.T) {
	s := newSim(t)
	s.canaryRollout(2, weightStep(50), pauseStep(""))
	v1 := s.run(50, "healthy on v1", isHealthy).Status.StableRS
	// The API server defaults fields of the ReplicaSet's pod template.
	for _, rs := range s.replicaSets() {
		if rs.Labels[replicaset.HashLabel] == v1 {
			n := rs.DeepCopy()
			c := &n.Spec.Template.Spec.Containers[0]
			c.TerminationMessagePath, c.ImagePullPolicy = "/dev/termination-log", corev1.PullIfNotPresent
			n.Spec.Template.Spec.DNSPolicy = corev1.DNSClusterFirst
			s.must(s.c.Update(context.Background(), n))
		}
	}
	setImage(s, "v2")
	s.run(80, "paused on v2", paused)
	promoteCLI(s)
	v2 := s.run(80, "healthy on v2", func(ro *v1alpha1.Rollout) bool { return isHealthy(ro) && ro.Status.StableRS != v1 }).Status.StableRS
	setImage(s, "v3")
	s.run(80, "paused on v3", paused)
	// undo --to-revision=1: v1's template as stored, hash label removed.
	s.update(func(ro *v1alpha1.Rollout) {
		for _, rs := range s.replicaSets() {
			if rs.Labels[replicaset.HashLabel] == v1 {
				tpl := rs.Spec.Template.DeepCopy()
				delete(tpl.Labels, replicaset.HashLabel)
				ro.Spec.Template = *tpl
			}
		}
	})
	ro := s.run(80, "paused at the step of the undo", func(ro *v1alpha1.Rollout) bool {
		return paused(ro) && ro.Status.CurrentPodHash == v1 && ptr.Deref(ro.Status.CurrentStepIndex, 0) == 1
	})
	if ro.Status.StableRS != v2 {
		t.Fatalf("stable %s, want %s until the undo is promoted", ro.Status.StableRS, v2)
	}
	for i := 0; i < 10; i++ {
		s.step()
	}
	if ro := s.rollout(); !paused(ro) || ptr.Deref(ro.Status.CurrentStepIndex, 0) != 1 {
		t.Fatalf("the undo did not hold at its pause: phase %s, step %v", ro.Status.Phase, ro.Status.CurrentStepIndex)
	}
	promoteCLI(s)
	s.run(80, "healthy on v1 again", func(ro *v1alpha1.Rollout) bool { return isHealthy(ro) && ro.Status.StableRS == v1 })
}
