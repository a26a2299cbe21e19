package rolloutctl

import (
	"fmt"
	"strconv"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
)

// GenerationObserved says whether the controller has acted on the rollout's
// current spec: status.observedGeneration (a string) is the generation. A
// value that is not a number (written by very old controllers) or is ahead of
// the generation counts as observed.
func GenerationObserved(r *v1alpha1.Rollout) bool {
	g, err := strconv.ParseInt(r.Status.ObservedGeneration, 10, 64)
	if err != nil {
		return r.Status.ObservedGeneration != ""
	}
	return g >= r.Generation
}

// Phase returns the rollout's phase and its message as clients must read them:
// Progressing while the controller has not observed the spec or has not yet
// reacted to a resume; otherwise the phase the controller wrote; and for a
// status without one, the phase computed from the spec, conditions and counts.
func Phase(r *v1alpha1.Rollout) (v1alpha1.RolloutPhase, string) {
	st := &r.Status
	if !GenerationObserved(r) {
		return v1alpha1.RolloutPhaseProgressing, fmt.Sprintf("waiting for the controller to observe generation %d", r.Generation)
	}
	if st.ControllerPause && len(st.PauseConditions) == 0 {
		return v1alpha1.RolloutPhaseProgressing, "waiting for the controller to resume the rollout"
	}
	if st.Phase != "" {
		return st.Phase, st.Message
	}
	return computedPhase(r)
}

// Done says whether a phase is final for status --watch: Healthy or Degraded.
func Done(p v1alpha1.RolloutPhase) bool {
	return p == v1alpha1.RolloutPhaseHealthy || p == v1alpha1.RolloutPhaseDegraded
}

// computedPhase derives the phase when the controller wrote none.
func computedPhase(r *v1alpha1.Rollout) (v1alpha1.RolloutPhase, string) {
	st := &r.Status
	for _, c := range st.Conditions {
		if c.Type == v1alpha1.ConditionInvalidSpec {
			return v1alpha1.RolloutPhaseDegraded, c.Type + ": " + c.Message
		}
		if c.Reason == v1alpha1.ReasonRolloutAborted || c.Reason == v1alpha1.ReasonProgressDeadlineExceeded {
			return v1alpha1.RolloutPhaseDegraded, c.Reason + ": " + c.Message
		}
	}
	if r.Spec.Paused {
		return v1alpha1.RolloutPhasePaused, "manually paused"
	}
	if len(st.PauseConditions) > 0 {
		return v1alpha1.RolloutPhasePaused, string(st.PauseConditions[0].Reason)
	}
	if ra := r.Spec.RestartAt; ra != nil && (st.RestartedAt == nil || !ra.Equal(st.RestartedAt)) {
		return v1alpha1.RolloutPhaseProgressing, "restarting pods"
	}
	if desired := DesiredReplicas(r); st.UpdatedReplicas < desired {
		return v1alpha1.RolloutPhaseProgressing, fmt.Sprintf("%d of %d replicas updated", st.UpdatedReplicas, desired)
	}
	if st.AvailableReplicas < st.UpdatedReplicas {
		return v1alpha1.RolloutPhaseProgressing, fmt.Sprintf("%d of %d updated replicas available", st.AvailableReplicas, st.UpdatedReplicas)
	}
	switch {
	case r.Spec.Strategy.BlueGreen != nil:
		if st.BlueGreen.ActiveSelector == "" || st.BlueGreen.ActiveSelector != st.CurrentPodHash {
			return v1alpha1.RolloutPhaseProgressing, "waiting for the active service to switch"
		}
		if st.StableRS == "" || st.StableRS != st.CurrentPodHash {
			return v1alpha1.RolloutPhaseProgressing, "waiting for the switch to be verified"
		}
	case r.Spec.Strategy.Canary != nil:
		if r.Spec.Strategy.Canary.TrafficRouting == nil && st.Replicas > st.UpdatedReplicas {
			return v1alpha1.RolloutPhaseProgressing, "old replicas are terminating"
		}
		if st.StableRS == "" || st.StableRS != st.CurrentPodHash {
			return v1alpha1.RolloutPhaseProgressing, "waiting for the steps to complete"
		}
	}
	return v1alpha1.RolloutPhaseHealthy, ""
}

// DesiredReplicas is spec.replicas, default 1.
func DesiredReplicas(r *v1alpha1.Rollout) int32 {
	if r.Spec.Replicas == nil {
		return 1
	}
	return *r.Spec.Replicas
}

// FullyPromoted says whether the controller has observed the spec and the
// stable ReplicaSet is the current one: no update is in progress.
func FullyPromoted(r *v1alpha1.Rollout) bool {
	return GenerationObserved(r) && r.Status.CurrentPodHash != "" && r.Status.CurrentPodHash == r.Status.StableRS
}

// StepIndex returns the current canary step index (nil is read as 0) and the
// number of steps; ok is false for blue-green or a canary without steps.
func StepIndex(r *v1alpha1.Rollout) (index, steps int32, ok bool) {
	c := r.Spec.Strategy.Canary
	if c == nil || len(c.Steps) == 0 {
		return 0, 0, false
	}
	steps = int32(len(c.Steps))
	if p := r.Status.CurrentStepIndex; p != nil {
		index = min(max(*p, 0), steps)
	}
	return index, steps, true
}

// SetWeight is the canary weight the steps ask for at the current index: 0
// when aborted, the last setWeight at or before the index, the maximum once
// every step is done (or without steps). ok is false for blue-green.
func SetWeight(r *v1alpha1.Rollout) (weight int32, ok bool) {
	c := r.Spec.Strategy.Canary
	if c == nil {
		return 0, false
	}
	if r.Status.Abort {
		return 0, true
	}
	i, n, hasSteps := StepIndex(r)
	if !hasSteps || i >= n {
		return c.MaxWeight(), true
	}
	for ; i >= 0; i-- {
		if w := c.Steps[i].SetWeight; w != nil {
			return *w, true
		}
	}
	return 0, true
}
