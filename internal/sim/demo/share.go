package demo

import (
	"fmt"

	"k8s.io/utils/ptr"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
)

// The demo follows one number through every scenario: the share of traffic
// (percent) meant for, verified for and measured from the new version. These
// functions read the first two from a Rollout's status, for a new version
// known by its pod-template hash ("" while the controller has not yet
// observed the update: then the new version has nothing).

// maxWeight is the rollout's total weight (100 unless maxTrafficWeight says).
func maxWeight(ro *v1alpha1.Rollout) int32 {
	if c := ro.Spec.Strategy.Canary; c != nil && c.TrafficRouting != nil && c.TrafficRouting.MaxTrafficWeight != nil && *c.TrafficRouting.MaxTrafficWeight > 0 {
		return *c.TrafficRouting.MaxTrafficWeight
	}
	return 100
}

func percent(w, total int32) int {
	if total <= 0 {
		return 0
	}
	return int((int64(w)*100 + int64(total)/2) / int64(total))
}

// stepWeight is the canary weight step i aims at: the last setWeight at or
// before it, 0 before any, and everything after the last step.
func stepWeight(steps []v1alpha1.CanaryStep, i int, total int32) int32 {
	if i >= len(steps) {
		return total
	}
	for j := i; j >= 0; j-- {
		if w := steps[j].SetWeight; w != nil {
			return *w
		}
	}
	return 0
}

// desiredShare is the share the controller is moving the new version to.
// For a canary: its current step's weight (all of it once past the last
// step or promoted, none once aborted). For a blue-green: none until the
// switch is being made, then all.
func desiredShare(ro *v1alpha1.Rollout, newHash string) int {
	if newHash == "" {
		return 0
	}
	st := &ro.Status
	if st.StableRS == newHash {
		return 100
	}
	if st.Abort {
		return 0
	}
	if c := ro.Spec.Strategy.Canary; c != nil {
		i := int(ptr.Deref(st.CurrentStepIndex, 0))
		return percent(stepWeight(c.Steps, i, maxWeight(ro)), maxWeight(ro))
	}
	// Blue-green: the state the controller is moving the ALB to, as its
	// latest verification describes it.
	return blueGreenShare(ro, st.Verification, newHash)
}

// blueGreenShare is the new version's share in a blue-green verification
// (ALB mode): the preview group's weight (DesiredWeights.Canary) if the
// preview Service selects the new pods, plus the active group's
// (DesiredWeights.Stable) if the active Service does. status.blueGreen holds
// the selectors as of the same status write.
func blueGreenShare(ro *v1alpha1.Rollout, v *v1alpha1.VerificationStatus, newHash string) int {
	if v == nil || v.DesiredWeights == nil || newHash == "" || v.Kind == v1alpha1.VerificationAbort {
		return 0
	}
	d := v.DesiredWeights
	var n int32
	if ro.Status.BlueGreen.PreviewSelector == newHash {
		n += d.Canary
	}
	if ro.Status.BlueGreen.ActiveSelector == newHash {
		n += d.Stable
	}
	return percent(n, d.Canary+d.Stable)
}

// writtenShare is the share of the weights last written to the ALB (the
// destinations whose pods are the new version), and whether the status
// says they are verified. ok is false when no weights are recorded.
func writtenShare(ro *v1alpha1.Rollout, newHash string) (share int, verified, ok bool) {
	w := ro.Status.Canary.Weights
	if w == nil {
		return 0, false, false
	}
	total := maxWeight(ro)
	var n int32
	for _, d := range append([]v1alpha1.WeightDestination{w.Canary, w.Stable}, w.Additional...) {
		if newHash != "" && d.PodTemplateHash == newHash {
			n += d.Weight
		}
	}
	return percent(n, total), ptr.Deref(w.Verified, false), true
}

// verifiedShare is the new version's share as last verified on the ALB, or
// prev when the current state is not verified (yet). A canary's weights say
// it themselves (status.canary.weights.verified, which the controller resets
// with every new write). A blue-green says it with a Verified switch or
// promotion verification of the new pods, or, once the active selector is
// on the new pods and the switch verified, all of it.
func verifiedShare(ro *v1alpha1.Rollout, newHash string, prev int) int {
	if share, verified, ok := writtenShare(ro, newHash); ok {
		if verified {
			return share
		}
		return prev
	}
	if ro.Spec.Strategy.BlueGreen == nil {
		return prev
	}
	v := ro.Status.Verification
	if v == nil || v.Phase != v1alpha1.VerificationVerified || !fingerprintCurrent(ro, v) {
		return prev
	}
	return blueGreenShare(ro, v, newHash)
}

// fingerprintCurrent: the verification describes the generation the status
// was computed for (a stale Verified from before an update does not count).
func fingerprintCurrent(ro *v1alpha1.Rollout, v *v1alpha1.VerificationStatus) bool {
	return v.Fingerprint != "" && ro.Status.ObservedGeneration == fmt.Sprint(ro.Generation)
}

// stepText describes where a rollout stands for the live view: "step 3/6
// setWeight 25", "promoting", "aborted", "switch".
func stepText(ro *v1alpha1.Rollout, newHash string) (text string, index, count int) {
	st := &ro.Status
	if c := ro.Spec.Strategy.Canary; c != nil {
		n := len(c.Steps)
		i := int(ptr.Deref(st.CurrentStepIndex, 0))
		switch {
		case newHash == "":
			return "waiting for the update", 0, n + 1
		case st.Abort:
			return "aborted", i, n + 1
		case st.StableRS == newHash:
			return "promoted", n + 1, n + 1
		case i >= n:
			return "100% and promotion", n, n + 1
		}
		s := c.Steps[i]
		switch {
		case s.SetWeight != nil:
			return fmt.Sprintf("setWeight %d", *s.SetWeight), i, n + 1
		case s.Pause != nil && s.Pause.Duration != nil:
			return "pause " + s.Pause.Duration.String(), i, n + 1
		case s.Pause != nil:
			return "paused", i, n + 1
		case s.Analysis != nil:
			return "analysis", i, n + 1
		}
		return fmt.Sprintf("step %d", i+1), i, n + 1
	}
	bg := &st.BlueGreen
	switch {
	case newHash == "":
		return "waiting for the update", 0, 4
	case st.Abort:
		return "aborted", 0, 4
	case st.StableRS == newHash:
		return "switched", 4, 4
	case bg.ActiveSelector == newHash:
		return "active service on the new pods", 3, 4
	case blueGreenShare(ro, st.Verification, newHash) == 100:
		return "flip to the preview group", 2, 4
	case bg.PreviewSelector == newHash:
		return "preview on the new pods", 1, 4
	}
	return "preview", 0, 4
}
