package controller

import (
	"context"
	"fmt"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
	"github.com/albrollouts/albrollouts/internal/analysis"
)

// The run history limits (spec.analysis successfulRunHistoryLimit and
// unsuccessfulRunHistoryLimit, Argo Rollouts' garbage collection of
// AnalysisRuns): over many updates the rollout keeps its newest completed
// runs within the limits, deletes the older ones and those whose
// ReplicaSet is gone, and never deletes a run its status names, a run still
// measuring, or a run another controller owns.

// runsByPhase counts the namespace's runs the rollout controls, by phase.
func runsByPhase(s *sim, ro *v1alpha1.Rollout) map[v1alpha1.AnalysisPhase]int {
	n := map[v1alpha1.AnalysisPhase]int{}
	for _, r := range s.runs() {
		if metav1.IsControlledBy(&r, ro) {
			n[r.Status.Phase]++
		}
	}
	return n
}

// statusRunsExist fails the test when a run the rollout's status names is
// gone. (The status names a run one pass before it is created, so that a
// lost status write cannot replace it: only a run seen once counts.)
func statusRunsExist(s *sim) func(*v1alpha1.Rollout) {
	seen := map[string]bool{}
	return func(ro *v1alpha1.Rollout) {
		s.t.Helper()
		have := map[string]bool{}
		for _, r := range s.runs() {
			have[r.Name], seen[r.Name] = true, true
		}
		for _, r := range []*v1alpha1.RolloutAnalysisRunStatus{ro.Status.Canary.CurrentStepAnalysisRunStatus, ro.Status.Canary.CurrentBackgroundAnalysisRunStatus} {
			if r != nil && seen[r.Name] && !have[r.Name] {
				s.t.Fatalf("pass %d: the run %s the status names was deleted", s.passes, r.Name)
			}
		}
	}
}

// foreignRuns creates two runs the rollout does not control: one that names
// it as a plain owner, still measuring, and one another rollout controls,
// completed long ago. Neither may be terminated nor deleted.
func foreignRuns(s *sim, ro *v1alpha1.Rollout) {
	ctx := context.Background()
	owner := metav1.OwnerReference{APIVersion: v1alpha1.GroupVersion.String(), Kind: "Rollout", Name: ro.Name, UID: ro.UID}
	other := owner
	other.Name, other.UID, other.Controller = "other", "other-uid", ptr.To(true)
	for _, r := range []*v1alpha1.AnalysisRun{
		{ObjectMeta: metav1.ObjectMeta{Namespace: s.ns, Name: "mine-too", OwnerReferences: []metav1.OwnerReference{owner}}},
		{ObjectMeta: metav1.ObjectMeta{Namespace: s.ns, Name: "others", OwnerReferences: []metav1.OwnerReference{other},
			CreationTimestamp: metav1.NewTime(s.now.Add(-1000 * 3600e9))}},
	} {
		r.Spec.Metrics = []v1alpha1.Metric{{Name: "m", Provider: v1alpha1.MetricProvider{Web: &v1alpha1.WebMetric{URL: "http://x"}}}}
		s.must(s.c.Create(ctx, r))
	}
	var run v1alpha1.AnalysisRun
	s.must(s.c.Get(ctx, client.ObjectKey{Namespace: s.ns, Name: "others"}, &run))
	run.Status.Phase = v1alpha1.AnalysisPhaseSuccessful
	s.must(s.c.Update(ctx, &run))
	s.must(s.c.Get(ctx, client.ObjectKey{Namespace: s.ns, Name: "mine-too"}, &run))
	run.Status.Phase = v1alpha1.AnalysisPhaseRunning
	s.must(s.c.Update(ctx, &run))
}

func checkForeignRuns(s *sim) {
	s.t.Helper()
	found := 0
	for _, r := range s.runs() {
		switch r.Name {
		case "mine-too":
			if r.Spec.Terminate {
				s.t.Fatal("the run the rollout owns but does not control was terminated")
			}
			found++
		case "others":
			found++
		}
	}
	if found != 2 {
		s.t.Fatalf("a run the rollout does not control was deleted: %d of 2 left", found)
	}
}

func TestAnalysisRunHistoryLimits(t *testing.T) {
	s := newSim(t)
	s.canaryRollout(2, weightStep(25), v1alpha1.CanaryStep{Analysis: analysisRaw()}, weightStep(75))
	s.update(func(ro *v1alpha1.Rollout) {
		ro.Spec.Analysis = &v1alpha1.AnalysisRunStrategy{SuccessfulRunHistoryLimit: ptr.To(int32(2)), UnsuccessfulRunHistoryLimit: ptr.To(int32(1))}
	})
	ro := s.run(50, "healthy on v1", isHealthy)
	foreignRuns(s, ro)
	check := statusRunsExist(s)
	// Five promoted updates: each leaves a Successful step run.
	s.runPhase[analysis.KindStep] = v1alpha1.AnalysisPhaseSuccessful
	for i := 2; i <= 6; i++ {
		setImage(s, fmt.Sprintf("v%d", i))
		old := s.rollout().Status.StableRS
		s.run(150, "healthy on the new version", func(ro *v1alpha1.Rollout) bool {
			check(ro)
			return isHealthy(ro) && ro.Status.StableRS != old
		})
		s.steps(3)
		if n := runsByPhase(s, ro)[v1alpha1.AnalysisPhaseSuccessful]; n != min(i-1, 2) {
			t.Fatalf("after update %d: %d Successful runs kept, want %d", i-1, n, min(i-1, 2))
		}
	}
	// Three aborted updates: each leaves a Failed step run, which the
	// status goes on naming after the abort (not counted); of the others,
	// the newest one is kept.
	s.runPhase[analysis.KindStep] = v1alpha1.AnalysisPhaseFailed
	for i := 7; i <= 9; i++ {
		setImage(s, fmt.Sprintf("v%d", i))
		s.run(150, "aborted", func(ro *v1alpha1.Rollout) bool {
			check(ro)
			return ro.Status.Abort && ro.Status.Phase == v1alpha1.RolloutPhaseDegraded
		})
		s.steps(5)
		n := runsByPhase(s, ro)
		if n[v1alpha1.AnalysisPhaseFailed] != min(i-6, 2) || n[v1alpha1.AnalysisPhaseSuccessful] != 2 {
			t.Fatalf("after aborted update %d: runs by phase %v; want %d Failed (the one the status names and at most 1 more), 2 Successful",
				i, n, min(i-6, 2))
		}
	}
	checkForeignRuns(s)
}

// A completed run whose ReplicaSet the revision history limit deleted goes
// with it, whatever the run history limits.
func TestAnalysisRunsGoWithTheirReplicaSet(t *testing.T) {
	s := newSim(t)
	s.canaryRollout(2, weightStep(25), v1alpha1.CanaryStep{Analysis: analysisRaw()}, weightStep(75))
	s.update(func(ro *v1alpha1.Rollout) { ro.Spec.RevisionHistoryLimit = ptr.To(int32(1)) })
	ro := s.run(50, "healthy on v1", isHealthy)
	check := statusRunsExist(s)
	s.runPhase[analysis.KindStep] = v1alpha1.AnalysisPhaseSuccessful
	for i := 2; i <= 5; i++ {
		setImage(s, fmt.Sprintf("v%d", i))
		old := s.rollout().Status.StableRS
		s.run(150, "healthy on the new version", func(ro *v1alpha1.Rollout) bool {
			check(ro)
			return isHealthy(ro) && ro.Status.StableRS != old
		})
	}
	s.run(200, "the old ReplicaSets deleted, and their runs", func(*v1alpha1.Rollout) bool {
		return len(s.replicaSets()) == 2 && runsByPhase(s, ro)[v1alpha1.AnalysisPhaseSuccessful] == 2
	})
	hashes := map[string]bool{}
	for _, rs := range s.replicaSets() {
		hashes[rs.Labels["rollouts-pod-template-hash"]] = true
	}
	for _, r := range s.runs() {
		if !hashes[r.Labels[analysis.PodTemplateHashLabel]] {
			t.Fatalf("run %s of a deleted ReplicaSet kept", r.Name)
		}
	}
}
