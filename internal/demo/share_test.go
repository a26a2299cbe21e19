package demo

import (
	"testing"

	"k8s.io/utils/ptr"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
)

func TestDesiredShareCanary(t *testing.T) {
	ro := testRollout() // steps: 10, pause, 25, pause, 50, pause
	ro.Status.StableRS = "old"
	ro.Status.CurrentPodHash = "new"
	cases := []struct {
		name    string
		newHash string
		step    *int32
		abort   bool
		stable  string
		want    int
	}{
		{"update not observed yet", "", ptr.To(int32(2)), false, "old", 0},
		{"first step", "new", ptr.To(int32(0)), false, "old", 10},
		{"no step index yet", "new", nil, false, "old", 10},
		{"setWeight 25", "new", ptr.To(int32(2)), false, "old", 25},
		{"the pause after 25 keeps 25", "new", ptr.To(int32(3)), false, "old", 25},
		{"past the last step", "new", ptr.To(int32(6)), false, "old", 100},
		{"aborted", "new", ptr.To(int32(0)), true, "old", 0},
		{"promoted", "new", ptr.To(int32(6)), false, "new", 100},
	}
	for _, c := range cases {
		ro.Status.CurrentStepIndex, ro.Status.Abort, ro.Status.StableRS = c.step, c.abort, c.stable
		if got := desiredShare(ro, c.newHash); got != c.want {
			t.Errorf("%s: desiredShare = %d, want %d", c.name, got, c.want)
		}
	}
}

func TestVerifiedShareCanary(t *testing.T) {
	ro := testRollout()
	// Steady on the old version, verified: the new version has nothing.
	weights(ro, 0, "old", "old", ptrTrue())
	if got := verifiedShare(ro, "new", 0); got != 0 {
		t.Errorf("steady on old: %d", got)
	}
	// 25 written and verified.
	weights(ro, 25, "new", "old", ptrTrue())
	if got := verifiedShare(ro, "new", 10); got != 25 {
		t.Errorf("25 verified: %d", got)
	}
	// 50 written, not verified yet, even though the verification block
	// still says Verified (for the previous fingerprint): stays at 25.
	weights(ro, 50, "new", "old", ptrFalse())
	ro.Status.Verification = &v1alpha1.VerificationStatus{Phase: v1alpha1.VerificationVerified, Fingerprint: "fp-25"}
	if got := verifiedShare(ro, "new", 25); got != 25 {
		t.Errorf("50 unverified: %d, want the previous 25", got)
	}
	// Verification off: nothing is ever verified.
	weights(ro, 50, "new", "old", nil)
	if got := verifiedShare(ro, "new", 25); got != 25 {
		t.Errorf("verification off: %d", got)
	}
	// Promoted: both destinations on the new pods.
	weights(ro, 0, "new", "new", ptrTrue())
	if got := verifiedShare(ro, "new", 50); got != 100 {
		t.Errorf("promoted: %d", got)
	}
	// Aborted back to stable, verified.
	weights(ro, 0, "old", "old", ptrTrue())
	if got := verifiedShare(ro, "new", 100); got != 0 {
		t.Errorf("aborted: %d", got)
	}
	// No weights recorded.
	ro.Status.Canary.Weights = nil
	if got := verifiedShare(ro, "new", 7); got != 7 {
		t.Errorf("no weights: %d", got)
	}
}

func TestSharesWithMaxTrafficWeight(t *testing.T) {
	ro := testRollout()
	ro.Spec.Strategy.Canary.TrafficRouting.MaxTrafficWeight = ptr.To(int32(1000))
	ro.Spec.Strategy.Canary.Steps[0].SetWeight = ptr.To(int32(250))
	ro.Status.CurrentStepIndex = ptr.To(int32(0))
	ro.Status.StableRS = "old"
	if got := desiredShare(ro, "new"); got != 25 {
		t.Errorf("desired = %d, want 25", got)
	}
	ro.Status.Canary.Weights = &v1alpha1.TrafficWeights{
		Canary:   v1alpha1.WeightDestination{Weight: 250, PodTemplateHash: "new"},
		Stable:   v1alpha1.WeightDestination{Weight: 750, PodTemplateHash: "old"},
		Verified: ptrTrue(),
	}
	if got := verifiedShare(ro, "new", 0); got != 25 {
		t.Errorf("verified = %d, want 25", got)
	}
}

func TestSharesBlueGreen(t *testing.T) {
	ro := testBlueGreen()
	ro.Status.StableRS = "blue"
	ro.Status.BlueGreen.ActiveSelector = "blue"
	if got := desiredShare(ro, "green"); got != 0 {
		t.Errorf("before the switch: desired %d", got)
	}
	ro.Status.Verification = &v1alpha1.VerificationStatus{Kind: v1alpha1.VerificationBlueGreenSwitch, Phase: v1alpha1.VerificationPending,
		Fingerprint: "fp", PodTemplateHash: "green", DesiredWeights: &v1alpha1.VerificationWeights{Canary: 100, Stable: 0}}
	if got := desiredShare(ro, "green"); got != 100 {
		t.Errorf("switching: desired %d", got)
	}
	if got := verifiedShare(ro, "green", 0); got != 0 {
		t.Errorf("switch pending: verified %d", got)
	}
	ro.Status.Verification.Phase = v1alpha1.VerificationVerified
	if got := verifiedShare(ro, "green", 0); got != 100 {
		t.Errorf("switch verified: %d", got)
	}
	// A Verified status computed for an older generation does not count.
	ro.Generation = 3
	if got := verifiedShare(ro, "green", 0); got != 0 {
		t.Errorf("stale generation: verified %d", got)
	}
}

func TestStepWeight(t *testing.T) {
	steps := testRollout().Spec.Strategy.Canary.Steps
	for i, want := range []int32{10, 10, 25, 25, 50, 50, 100, 100} {
		if got := stepWeight(steps, i, 100); got != want {
			t.Errorf("step %d: %d, want %d", i, got, want)
		}
	}
	pauseFirst := []v1alpha1.CanaryStep{{Pause: &v1alpha1.RolloutPause{}}, {SetWeight: ptr.To(int32(40))}}
	if got := stepWeight(pauseFirst, 0, 100); got != 0 {
		t.Errorf("a pause before any setWeight: %d", got)
	}
}

func TestStepText(t *testing.T) {
	ro := testRollout()
	ro.Status.StableRS = "old"
	ro.Status.CurrentStepIndex = ptr.To(int32(2))
	if text, i, n := stepText(ro, "new"); text != "setWeight 25" || i != 2 || n != 7 {
		t.Errorf("stepText = %q %d/%d", text, i, n)
	}
	ro.Status.CurrentStepIndex = ptr.To(int32(3))
	if text, _, _ := stepText(ro, "new"); text != "pause 1s" {
		t.Errorf("pause: %q", text)
	}
	if text, _, _ := stepText(ro, ""); text != "waiting for the update" {
		t.Errorf("before the update: %q", text)
	}
	ro.Status.Abort = true
	if text, _, _ := stepText(ro, "new"); text != "aborted" {
		t.Errorf("aborted: %q", text)
	}
}
