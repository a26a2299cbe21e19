package analysis

import (
	"slices"
	"strings"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
)

// HistoryToDelete decides which of a rollout's AnalysisRuns its run history
// limits (spec.analysis successfulRunHistoryLimit and
// unsuccessfulRunHistoryLimit) remove, as Argo Rollouts'
// FilterAnalysisRunsToDelete does: newest first, the first `successful`
// Successful runs and the first `unsuccessful` Failed, Error or Inconclusive
// runs are kept; older ones are deleted, and so is a completed run whose
// ReplicaSet is gone (no pod-template-hash label, or a hash that no
// ReplicaSet in liveHashes has).
//
// runs are the rollout's own runs (the caller filters by controller). A run
// named in referenced (the rollout's status, as read and as about to be
// written), a run that has not completed, and a run already being deleted
// are never deleted and do not count toward a limit. Argo also deletes an
// unfinished run whose ReplicaSet is gone; here such a run is terminated
// first and deleted once it has completed. A limit of 0 or less keeps none.
func HistoryToDelete(runs []v1alpha1.AnalysisRun, referenced, liveHashes map[string]bool, successful, unsuccessful int32) []string {
	var cand []*v1alpha1.AnalysisRun
	for i := range runs {
		r := &runs[i]
		if referenced[r.Name] || !r.Status.Phase.Completed() || r.DeletionTimestamp != nil {
			continue
		}
		cand = append(cand, r)
	}
	// Newest first; equal creation times (one second's resolution) by name,
	// so the decision does not depend on the order of the list.
	slices.SortFunc(cand, func(a, b *v1alpha1.AnalysisRun) int {
		if c := b.CreationTimestamp.Compare(a.CreationTimestamp.Time); c != 0 {
			return c
		}
		return strings.Compare(b.Name, a.Name)
	})
	var del []string
	var keptOK, keptBad int32
	for _, r := range cand {
		hash, ok := r.Labels[PodTemplateHashLabel]
		switch {
		case !ok || !liveHashes[hash]:
			del = append(del, r.Name)
		case r.Status.Phase == v1alpha1.AnalysisPhaseSuccessful:
			if keptOK < successful {
				keptOK++
			} else {
				del = append(del, r.Name)
			}
		default: // Failed, Error, Inconclusive
			if keptBad < unsuccessful {
				keptBad++
			} else {
				del = append(del, r.Name)
			}
		}
	}
	return del
}
