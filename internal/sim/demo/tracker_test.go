package demo

import (
	"strings"
	"testing"
	"time"

	"k8s.io/utils/ptr"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
)

// A canary update as the controller writes it: the health-before-weight
// check is Pending until the weights are written (in the same update in
// which it passes), then the weight's own verification turns Verified.
func TestTrackerStepsFromStatuses(t *testing.T) {
	f := newFakeTracker(t)
	t0 := time.Now()
	ro := testRollout()
	ro.Status.StableRS, ro.Status.CurrentPodHash = "old", "old"
	ro.Status.Phase = v1alpha1.RolloutPhaseHealthy
	weights(ro, 0, "old", "old", ptrTrue())
	ro.Status.Verification = verification(v1alpha1.VerificationCanaryWeight, v1alpha1.VerificationVerified, "fp-steady", 0, 100, t0)
	f.feed(ro)
	if len(f.sc.Steps) != 0 {
		t.Fatalf("a verification from before the update became a step: %+v", f.sc.Steps)
	}
	// The update is sent (generation 3) and picked up.
	f.setUpdate(3)
	ro.Generation = 3
	f.feed(ro) // not yet observed: still the old status
	if f.newHash != "" {
		t.Fatalf("new hash %q before the controller observed generation 3", f.newHash)
	}
	ro.Status.ObservedGeneration = "3"
	ro.Status.CurrentPodHash = "new"
	ro.Status.CurrentStepIndex = ptr.To(int32(0))
	ro.Status.Phase = v1alpha1.RolloutPhaseProgressing
	ro.Status.Verification = verification(v1alpha1.VerificationTargetHealth, v1alpha1.VerificationPending, "fp-health-10", 0, 100, t0)
	ro.Status.Verification.StepIndex = ptr.To(int32(0))
	f.feed(ro)
	if f.newHash != "new" {
		t.Fatalf("new hash %q", f.newHash)
	}
	if len(f.sc.Steps) != 0 || f.pre == nil {
		t.Fatalf("health check: steps %+v, pre %+v", f.sc.Steps, f.pre)
	}
	// Weights 10 written, verification pending.
	weights(ro, 10, "new", "old", ptrFalse())
	ro.Status.Verification = verification(v1alpha1.VerificationCanaryWeight, v1alpha1.VerificationPending, "fp-10", 10, 90, t0)
	f.feed(ro)
	if got := f.verified; got != 0 {
		t.Errorf("verified share %d before the 10%% verification passed", got)
	}
	if len(f.sc.Steps) != 1 {
		t.Fatalf("steps %+v", f.sc.Steps)
	}
	s := f.sc.Steps[0]
	if s.Label != "setWeight 10" || s.Desired != 10 || s.Phase != "Pending" || s.HealthFirst == nil || s.HealthFirst.Phase != PhasePassed {
		t.Errorf("step %+v (health first %+v)", s, s.HealthFirst)
	}
	// Verified.
	weights(ro, 10, "new", "old", ptrTrue())
	ro.Status.Verification = verification(v1alpha1.VerificationCanaryWeight, v1alpha1.VerificationVerified, "fp-10", 10, 90, t0)
	f.feed(ro)
	s = f.sc.Steps[0]
	if s.Phase != "Verified" || s.Finished == 0 || s.Targets != "canary 1/1, stable 2/2 healthy" {
		t.Errorf("verified step %+v", s)
	}
	if f.verified != 10 {
		t.Errorf("verified share %d", f.verified)
	}
	var ok int
	for _, e := range f.events {
		if e.Verification && e.Level == levelOK {
			ok++
			if !strings.Contains(e.Text, "setWeight 10") {
				t.Errorf("event %q", e.Text)
			}
		}
	}
	if ok != 1 {
		t.Errorf("%d verification events, want 1: %+v", ok, f.events)
	}
	// The same status seen again (a resync) changes nothing.
	c := ro.DeepCopy()
	c.ResourceVersion = "x"
	f.observe(c)
	f.observe(c)
	if len(f.sc.Steps) != 1 {
		t.Errorf("steps after a repeated status: %+v", f.sc.Steps)
	}
}

// A health-before-weight check that times out is a step of its own, then
// the abort's verification; a second abort verification of the same state
// (new fingerprint after the canary Service moved) is the same step.
func TestTrackerTimedOutHealthAndAbort(t *testing.T) {
	f := newFakeTracker(t)
	f.sc.Name, f.sc.From, f.sc.To = ScenarioAbort, "v2", "v3"
	t0 := time.Now()
	ro := testRollout()
	ro.Status.StableRS, ro.Status.CurrentPodHash = "v2", "v3"
	f.setUpdate(2)
	health := verification(v1alpha1.VerificationTargetHealth, v1alpha1.VerificationPending, "fp-h", 0, 100, t0)
	health.StepIndex = ptr.To(int32(0))
	ro.Status.Verification = health
	f.feed(ro)
	timedOut := health.DeepCopy()
	timedOut.Phase, timedOut.Reason = v1alpha1.VerificationTimedOut, "VerificationTimedOut"
	timedOut.Message = "canary targets 0/1 healthy (127.5.0.3:8080 unhealthy Target.ResponseCodeMismatch)"
	ro.Status.Verification = timedOut
	f.feed(ro)
	if len(f.sc.Steps) != 1 || f.sc.Steps[0].Phase != "TimedOut" || f.sc.Steps[0].Label != "v3 healthy before 10%" {
		t.Fatalf("steps %+v", f.sc.Steps)
	}
	if f.pre != nil {
		t.Errorf("a timed-out health check stays pending for the next shift")
	}
	ro.Status.Abort = true
	ro.Status.Message = "RolloutAborted: Rollout aborted update to revision 2: VerificationTimedOut: not verified 15s after ..."
	ro.Status.Verification = verification(v1alpha1.VerificationAbort, v1alpha1.VerificationVerified, "fp-a1", 0, 100, t0)
	f.feed(ro)
	ro.Status.Verification = verification(v1alpha1.VerificationAbort, v1alpha1.VerificationVerified, "fp-a2", 0, 100, t0.Add(time.Second))
	f.feed(ro)
	if len(f.sc.Steps) != 2 {
		t.Fatalf("steps %+v", f.sc.Steps)
	}
	a := f.sc.Steps[1]
	if a.Kind != "Abort" || a.Phase != "Verified" || a.Label != "abort: all traffic on v2" || a.Attempts != 2 {
		t.Errorf("abort step %+v", a)
	}
	// First seen already Verified: its duration comes from the status.
	if took := a.Took(); took != 1500*time.Millisecond {
		t.Errorf("abort took %s", took)
	}
	var aborted bool
	for _, e := range f.events {
		if strings.HasPrefix(e.Text, "rollout aborted: ") {
			aborted = true
			if strings.Contains(e.Text, "not verified") {
				t.Errorf("abort event repeats the cause's details: %q", e.Text)
			}
		}
	}
	if !aborted {
		t.Errorf("no abort event: %+v", f.events)
	}
}

func TestObservationText(t *testing.T) {
	v := verification(v1alpha1.VerificationCanaryWeight, v1alpha1.VerificationVerified, "fp", 10, 90, time.Now())
	if got := observationText(v.TargetGroups); got != "canary 1/1, stable 2/2 healthy" {
		t.Errorf("got %q", got)
	}
	if got := observationText(nil); got != "" {
		t.Errorf("empty: %q", got)
	}
}

func TestStepNumbers(t *testing.T) {
	sc := &ScenarioResult{To: "v2", Steps: []Step{
		{Started: 1 * time.Second, Finished: 2 * time.Second},
		{Started: 4 * time.Second}, // never finished
	}}
	samples := []Sample{
		{At: 500 * time.Millisecond, Requests: 99, Versions: map[string]int{"v1": 99}}, // before the first step
		{At: 1500 * time.Millisecond, Requests: 10, Versions: map[string]int{"v1": 10}},
		{At: 2500 * time.Millisecond, Requests: 10, Failed: 1, Versions: map[string]int{"v1": 8, "v2": 1}},
		{At: 3500 * time.Millisecond, Requests: 10, Versions: map[string]int{"v1": 9, "v2": 1}},
		{At: 4500 * time.Millisecond, Requests: 10, Versions: map[string]int{"v2": 10}},
	}
	stepNumbers(sc, samples)
	s := sc.Steps[0]
	if s.Requests != 30 || s.Failed != 1 {
		t.Errorf("step 0: %d requests, %d failed", s.Requests, s.Failed)
	}
	// Measured from its verification on: 2 of 19.
	if want := 100 * 2.0 / 19; s.Measured != want {
		t.Errorf("step 0 measured %.2f, want %.2f", s.Measured, want)
	}
	if s := sc.Steps[1]; s.Requests != 10 || s.Measured != 100 {
		t.Errorf("step 1: %+v", s)
	}
	empty := &ScenarioResult{To: "v2", Steps: []Step{{Started: time.Hour}}}
	stepNumbers(empty, samples)
	if empty.Steps[0].Measured != -1 {
		t.Errorf("no samples: measured %.1f", empty.Steps[0].Measured)
	}
}

func TestScenarioList(t *testing.T) {
	if got, err := scenarioList("all"); err != nil || len(got) != 4 || got[2] != ScenarioAnalysis {
		t.Errorf("all: %v %v", got, err)
	}
	if got, err := scenarioList("abort, canary"); err != nil || got[0] != "abort" || got[1] != "canary" {
		t.Errorf("list: %v %v", got, err)
	}
	for _, bad := range []string{"", "canary,", "blue", "canary,canary"} {
		if _, err := scenarioList(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestOptionsValidation(t *testing.T) {
	for _, o := range []Options{
		{Speed: -1}, {Speed: 5000}, {TimeScale: -0.1}, {TimeScale: 2}, {LBLag: -time.Second},
		{VerifyTimeout: time.Millisecond}, {BrokenTimeout: 2 * time.Hour}, {Scenario: "nope"},
	} {
		if _, err := o.withDefaults(); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
	o, err := Options{}.withDefaults()
	if err != nil || o.Speed != 1 || o.Scenario != ScenarioAll || o.PodCIDR != DefaultPodCIDR {
		t.Errorf("defaults %+v %v", o, err)
	}
}
