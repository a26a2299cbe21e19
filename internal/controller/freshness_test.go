package controller

import (
	"encoding/json"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
)

// The freshness bound of a verification keeps sub-second precision across
// the API server (issue 16, item 15). status.verification.startedAt is a
// metav1.Time, which the API server stores to whole seconds: read back, a
// change written at 10:00:07.7 looked written at 10:00:07.0, so ELBv2 reads
// sent up to a second before the write passed for reads after it (an abort
// right after a step could be verified by reads of the state before the
// step). The engine must get the instant of the write.
func TestVerificationFreshnessBoundKeepsSubSecondPrecision(t *testing.T) {
	s := newSim(t)
	s.canaryRollout(2, weightStep(50), pauseStep(""))
	s.run(50, "healthy on v1", isHealthy)
	s.now = s.now.Truncate(time.Second).Add(time.Second + 700*time.Millisecond)
	setImage(s, "v2")
	var wroteAt time.Time
	for i := 0; i < 40 && wroteAt.IsZero(); i++ {
		at := s.now
		s.step()
		if v := s.rollout().Status.Verification; v != nil && v.Kind == v1alpha1.VerificationCanaryWeight && v.DesiredWeights != nil && v.DesiredWeights.Canary == 50 {
			wroteAt = at
		}
	}
	if wroteAt.IsZero() {
		t.Fatal("the canary weight was never written")
	}
	if wroteAt.Equal(wroteAt.Truncate(time.Second)) {
		t.Fatalf("the write fell on a whole second (%s): the test proves nothing", wroteAt)
	}
	// The record as the API server stores it: JSON, metav1.Time to the second.
	var v *v1alpha1.VerificationStatus
	raw, err := json.Marshal(s.rollout().Status.Verification)
	s.must(err)
	s.must(json.Unmarshal(raw, &v))
	if v.StartedAt.Time.Equal(wroteAt) {
		t.Fatalf("startedAt kept its fraction through JSON (%s): the test proves nothing", v.StartedAt.Time)
	}
	if b := freshnessBound(v); !b.Equal(wroteAt) {
		t.Fatalf("the freshness bound read back from the API server is %s, want the write's instant %s", b, wroteAt)
	}
	if v.DesiredAt == nil || !v.DesiredAt.Time.Equal(wroteAt) {
		t.Fatalf("status.verification.desiredAt = %v, want the write's instant %s", v.DesiredAt, wroteAt)
	}
	var checked bool
	for _, in := range s.v.inputs {
		if in.DesiredAt.Before(wroteAt.Truncate(time.Second).Add(time.Second)) && in.DesiredAt.After(wroteAt.Add(-time.Second)) {
			checked = true
			if !in.DesiredAt.Equal(wroteAt) {
				t.Fatalf("the engine was asked with DesiredAt %s for a change written at %s: reads sent in between would count as after the change", in.DesiredAt, wroteAt)
			}
		}
	}
	if !checked {
		t.Fatal("no verification of the write reached the engine")
	}

	// A record written by an older controller (no desiredAt) counts from the
	// end of startedAt's second, never from before the write.
	old := &v1alpha1.VerificationStatus{StartedAt: ptr.To(metav1.NewTime(wroteAt.Truncate(time.Second)))}
	if b := freshnessBound(old); b.Before(wroteAt) {
		t.Fatalf("freshness bound %s of a record without desiredAt precedes the write at %s", b, wroteAt)
	}
}
