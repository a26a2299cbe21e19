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

// The ALB-mode switch as the controller runs it: preview on the new pods at
// weight 0, the flip to the preview group, the active Service on the new
// pods, the weight back to the active group.
func TestSharesBlueGreen(t *testing.T) {
	ro := testBlueGreen()
	sc := &ScenarioResult{From: "blue", To: "green"}
	bg := &ro.Status.BlueGreen
	ro.Status.StableRS, bg.ActiveSelector, bg.PreviewSelector = "blue", "blue", "blue"
	verify := func(phase v1alpha1.VerificationPhase, preview, active int32) {
		ro.Status.Verification = &v1alpha1.VerificationStatus{Kind: v1alpha1.VerificationBlueGreenSwitch, Phase: phase,
			Fingerprint: "fp", PodTemplateHash: "green", DesiredWeights: &v1alpha1.VerificationWeights{Canary: preview, Stable: active}}
	}
	steps := []struct {
		name              string
		preview, active   string
		pw, aw            int32
		phase             v1alpha1.VerificationPhase
		desired, verified int
		label, stage      string
	}{
		{"preview at weight 0, still on blue", "blue", "blue", 0, 100, v1alpha1.VerificationVerified, 0, 0, "preview ready, all traffic on blue", "preview"},
		{"preview on green at weight 0", "green", "blue", 0, 100, v1alpha1.VerificationVerified, 0, 0, "preview ready, all traffic on blue", "preview on the new pods"},
		{"flip written", "green", "blue", 100, 0, v1alpha1.VerificationPending, 100, 0, "flip to green (preview group)", "flip to the preview group"},
		{"flip verified", "green", "blue", 100, 0, v1alpha1.VerificationVerified, 100, 100, "flip to green (preview group)", "flip to the preview group"},
		{"active on green", "green", "green", 100, 0, v1alpha1.VerificationVerified, 100, 100, "active service on green (no traffic yet)", "active service on the new pods"},
		{"weight back to active, pending", "green", "green", 0, 100, v1alpha1.VerificationPending, 100, 100, "all traffic on green (active group)", "active service on the new pods"},
		{"weight back to active, verified", "green", "green", 0, 100, v1alpha1.VerificationVerified, 100, 100, "all traffic on green (active group)", "active service on the new pods"},
	}
	prev := 0
	for _, st := range steps {
		bg.PreviewSelector, bg.ActiveSelector = st.preview, st.active
		verify(st.phase, st.pw, st.aw)
		if got := desiredShare(ro, "green"); got != st.desired {
			t.Errorf("%s: desired %d, want %d", st.name, got, st.desired)
		}
		prev = verifiedShare(ro, "green", prev)
		if prev != st.verified {
			t.Errorf("%s: verified %d, want %d", st.name, prev, st.verified)
		}
		if got := stepLabel(ro, ro.Status.Verification, sc, "green"); got != st.label {
			t.Errorf("%s: label %q, want %q", st.name, got, st.label)
		}
		if got, _, _ := stepText(ro, "green"); got != st.stage {
			t.Errorf("%s: stage %q, want %q", st.name, got, st.stage)
		}
	}
	ro.Status.StableRS = "green"
	if got, _, _ := stepText(ro, "green"); got != "switched" || desiredShare(ro, "green") != 100 {
		t.Errorf("switched: %q, desired %d", got, desiredShare(ro, "green"))
	}
	// A Verified status computed for an older generation does not count.
	ro.Generation = 3
	if got := verifiedShare(ro, "green", 0); got != 0 {
		t.Errorf("stale generation: verified %d", got)
	}
	// An abort's verification gives the new version nothing.
	ro.Generation = 2
	ro.Status.Verification.Kind = v1alpha1.VerificationAbort
	if got := verifiedShare(ro, "green", 100); got != 0 {
		t.Errorf("abort verified: %d", got)
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
