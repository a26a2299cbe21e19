package verify

import (
	"strings"
	"testing"
	"time"

	"github.com/albrollouts/albrollouts/internal/elbv2"
)

// The health rule (see Destination.VerifiedWeight): a group that gains
// traffic is read healthy after the change; a group whose weight stays or
// falls is judged on the last health read of any age, and its unhealthy
// targets are reported, never a reason to wait.

// A step from 25/75 to 50/50: the stable group loses traffic. Its targets
// turned unhealthy, which must not block the step (it would keep more
// traffic on them), and is reported.
func TestHeldGroupUnhealthyDoesNotBlockALoweringStep(t *testing.T) {
	x := newFixture(t)
	x.setWeights(50, 50)
	in := x.input(50, 50)
	in.Destinations[0].VerifiedWeight = ptr(int32(25))
	in.Destinations[1].VerifiedWeight = ptr(int32(75))
	x.setHealth(x.stable, stableTargets, elbv2.StateUnhealthy, "Target.Timeout")
	v := x.verifier(nil)
	// Another check read the stable group's health (shared cache).
	if _, err := v.elb.TargetHealth(t.Context(), x.stable); err != nil {
		t.Fatal(err)
	}
	res := v.Verify(t.Context(), in)
	wantResult(t, res, Verified, ReasonWeightsVerified, "canary 3/3",
		"stable k8s-demo-stable-3c4d targets 0/2 healthy", "keeps or loses traffic", "not a reason to wait")
	g := targetGroupObs(res, "", RoleStable, "")
	if g == nil || !g.Held || g.HealthChecked || g.Healthy != 0 || g.HealthReadAt.IsZero() {
		t.Fatalf("stable observation %+v, want held, not health-checked, 0 healthy, with the read time", g)
	}
}

// The same step with a canary that is not healthy: the canary gains, so
// it is judged, whatever the stable group's state.
func TestGainingGroupIsJudgedWhileTheOtherHolds(t *testing.T) {
	x := newFixture(t)
	x.setWeights(50, 50)
	in := x.input(50, 50)
	in.Destinations[0].VerifiedWeight = ptr(int32(25))
	in.Destinations[1].VerifiedWeight = ptr(int32(75))
	x.setHealth(x.canary, canaryTargets, elbv2.StateUnhealthy, "Target.ResponseCodeMismatch")
	wantResult(t, x.verify(t, in), Pending, ReasonTargetsNotHealthy, "canary k8s-demo-canary-1a2b targets 0/3 healthy")

	// A stale healthy answer of the canary (read before the change) cannot
	// make it Verified: the gaining group is read under the freshness bound.
	clk := x.now
	now := func() time.Time { return clk }
	x.setHealth(x.canary, canaryTargets, elbv2.StateHealthy, "")
	v := New(elbv2.NewWithAPI(x.f, elbv2.Options{Region: "us-east-1", RateLimit: 1e6, Burst: 1e6, Now: now}), Options{Now: now})
	if _, err := v.elb.TargetHealth(t.Context(), x.canary); err != nil { // healthy, before the change
		t.Fatal(err)
	}
	x.setHealth(x.canary, canaryTargets, elbv2.StateUnhealthy, "Target.ResponseCodeMismatch")
	clk = clk.Add(500 * time.Millisecond)
	in.DesiredAt = clk
	clk = clk.Add(500 * time.Millisecond)
	wantResult(t, v.Verify(t.Context(), in), Pending, ReasonTargetsNotHealthy, "canary k8s-demo-canary-1a2b targets 0/3 healthy")
}

// A held group nobody read yet is not read for this verification: its
// health is reported as unknown and not waited for.
func TestHeldGroupWithoutAnyReadIsNotRead(t *testing.T) {
	x := newFixture(t)
	x.setWeights(50, 50)
	in := x.input(50, 50)
	in.Destinations[0].VerifiedWeight = ptr(int32(25))
	in.Destinations[1].VerifiedWeight = ptr(int32(75))
	res := x.verify(t, in)
	wantResult(t, res, Verified, ReasonWeightsVerified, "canary 3/3", "health was not read yet, and is not waited for")
	if n := x.f.Calls(elbv2.OpDescribeTargetHealth); n != 1 {
		t.Fatalf("DescribeTargetHealth calls = %d, want 1 (the canary only)", n)
	}
}

// Without VerifiedWeight (unknown), with a weight above it, or with
// RequireHealthy, a group is judged as before: fresh and healthy.
func TestGroupIsJudgedUnlessItHolds(t *testing.T) {
	for _, tc := range []struct {
		name   string
		set    func(d *Destination)
		reason string
	}{
		{"unknown", func(d *Destination) {}, ReasonTargetsNotHealthy},
		{"raised", func(d *Destination) { d.VerifiedWeight = ptr(int32(40)) }, ReasonTargetsNotHealthy},
		{"require healthy", func(d *Destination) { d.VerifiedWeight = ptr(int32(75)); d.RequireHealthy = true }, ReasonTargetsNotHealthy},
		{"same weight", func(d *Destination) { d.VerifiedWeight = ptr(int32(50)) }, ReasonWeightsVerified},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x := newFixture(t)
			x.setWeights(50, 50)
			in := x.input(50, 50)
			in.Destinations[0].VerifiedWeight = ptr(int32(25))
			tc.set(&in.Destinations[1])
			x.setHealth(x.stable, stableTargets, elbv2.StateUnhealthy, "Target.Timeout")
			res := x.verify(t, in)
			if res.Reason != tc.reason {
				t.Fatalf("got %s/%s (%s), want reason %s", res.Outcome, res.Reason, res.Message, tc.reason)
			}
		})
	}
}

// An abort is a shift to stable: stable gains (its verified weight was
// lower) and is read fresh; the canary falls to 0 and is not judged.
func TestAbortReadsStableFresh(t *testing.T) {
	x := newFixture(t)
	x.setWeights(0, 100)
	in := x.input(0, 100)
	in.Destinations[0].VerifiedWeight = ptr(int32(25))
	in.Destinations[1].VerifiedWeight = ptr(int32(75))
	x.setHealth(x.stable, stableTargets, elbv2.StateInitial, "Elb.RegistrationInProgress")
	res := x.verify(t, in)
	wantResult(t, res, Pending, ReasonTargetsNotHealthy, "stable k8s-demo-stable-3c4d targets 0/2 healthy")
	if strings.Contains(res.Message, "keeps or loses traffic") {
		t.Fatalf("the canary at 0 is not reported as held: %s", res.Message)
	}
}
