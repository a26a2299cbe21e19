package verify

import (
	"testing"
	"time"

	"github.com/albrollouts/albrollouts/internal/elbv2"
)

// healthOnly is the check before raising the canary from weights canary/stable:
// the canary's targets must be healthy, nothing else is asked.
func (x *fixture) healthOnly(canary, stable int32) Input {
	in := x.input(canary, stable)
	in.Destinations[0].RequireHealthy = true
	in.HealthOnly = true
	return in
}

// A health-only check judges the groups that will gain traffic, in the
// rules read after the change, and nothing else: neither the weights in
// place (verified when written) nor the other groups' health. It reads the
// rules and the required groups' health, no fresh listener list and no
// other group's health.
func TestHealthOnlyJudgesOnlyTheGroupThatGains(t *testing.T) {
	x := newFixture(t)
	x.setWeights(10, 90)
	x.setHealth(x.stable, stableTargets, elbv2.StateUnhealthy, "Target.Timeout")

	x.f.ResetCalls()
	res := x.verify(t, x.healthOnly(25, 75))
	wantResult(t, res, Verified, ReasonTargetsHealthy, "targets healthy: canary 3/3", "2 rule(s)", "weights not judged")
	if n := x.f.Calls(elbv2.OpDescribeTargetHealth); n != 1 {
		t.Errorf("DescribeTargetHealth calls = %d, want 1 (the canary group only)", n)
	}
	if n := x.f.Calls(elbv2.OpDescribeRules); n != 2 {
		t.Errorf("DescribeRules calls = %d, want 2 (one per listener)", n)
	}
	if n := x.f.Calls(elbv2.OpDescribeListeners); n != 1 {
		t.Errorf("DescribeListeners calls = %d, want 1 (no second, fresh list before Verified)", n)
	}
	for _, g := range res.TargetGroups {
		if g.Role == RoleStable && g.HealthChecked {
			t.Errorf("stable group judged in a health-only check: %+v", g)
		}
	}

	// The same input without HealthOnly is not verified: the weights and the
	// stable group's health are judged.
	full := x.healthOnly(25, 75)
	full.HealthOnly = false
	wantResult(t, x.verify(t, full), Pending, ReasonWeightMismatch, "canary k8s-demo-canary-1a2b weight 10, want 25")
	full = x.healthOnly(10, 90)
	full.HealthOnly = false
	wantResult(t, x.verify(t, full), Pending, ReasonTargetsNotHealthy, "stable k8s-demo-stable-3c4d targets 0/2 healthy")
}

// What would make a health-only Verified wrong: the gaining group's targets
// not all healthy, a rule of the action that does not reference its group
// (the ALB does not health-check a group no rule references), a second group
// of the destination, no rules at all, or a health answer from before the
// check's change.
func TestHealthOnlyIsNotFooled(t *testing.T) {
	x := newFixture(t)
	x.setWeights(0, 100)
	in := x.healthOnly(0, 100)

	x.setHealth(x.canary, canaryTargets[:2], elbv2.StateHealthy, "")
	wantResult(t, x.verify(t, in), Pending, ReasonTargetsNotHealthy, "canary k8s-demo-canary-1a2b targets 2/3 healthy (127.0.1.7:8080 not registered)")
	x.setHealth(x.canary, canaryTargets, elbv2.StateInitial, "Elb.InitialHealthChecking")
	wantResult(t, x.verify(t, in), Pending, ReasonTargetsNotHealthy, "initial Elb.InitialHealthChecking")
	x.setHealth(x.canary, canaryTargets, elbv2.StateHealthy, "")
	wantResult(t, x.verify(t, in), Verified, ReasonTargetsHealthy, "canary 3/3")

	// The :443 rule forwards to the stable group and another one, not to the
	// canary's: that listener would send the raised weight nowhere healthy.
	other := x.f.AddTargetGroup(x.lb, "k8s-demo-other-9z9z", map[string]string{ResourceTag: "demo/web-web-other:80"})
	x.f.SetRule(x.https, "3", tg(x.stable, 100), tg(other, 0))
	wantResult(t, x.verify(t, in), Pending, ReasonWeightMismatch, "listener :443 rule 3: canary web-canary:80 not in the rule")
	x.setWeights(0, 100)

	// Every group of the destination that a rule references is judged.
	second := x.f.AddTargetGroup(x.lb, "k8s-demo-canary-new", map[string]string{ResourceTag: "demo/web-web-canary:80"})
	x.bothListeners("3", tg(x.canary, 0), tg(second, 0), tg(x.stable, 100))
	x.f.SetTargetHealth(second)
	wantResult(t, x.verify(t, in), Pending, ReasonTargetsNotHealthy, "canary k8s-demo-canary-new targets 0/3 healthy")
	x.f.DeleteTargetGroup(second)
	x.setWeights(0, 100)

	// No rule of the action at all.
	x.f.DeleteRule(x.http, "3")
	x.f.DeleteRule(x.https, "3")
	wantResult(t, x.verify(t, in), Pending, ReasonRulesNotFound)
	x.setWeights(0, 100)

	// Invalid: a health-only check that requires nothing.
	bad := x.healthOnly(0, 100)
	bad.Destinations[0].RequireHealthy = false
	wantResult(t, x.verify(t, bad), Failed, ReasonInvalidInput, "checks nothing")
}

// A health answer cached from before the check's change does not count, as
// for any check (elbv2.WithNotBefore with DesiredAt).
func TestHealthOnlyHealthIsFresh(t *testing.T) {
	x := newFixture(t)
	x.setWeights(0, 100)
	in := x.healthOnly(0, 100)
	clk := x.now
	now := func() time.Time { return clk }
	v := New(elbv2.NewWithAPI(x.f, elbv2.Options{Region: "us-east-1", RateLimit: 1e6, Burst: 1e6, Now: now}), Options{Now: now})
	wantResult(t, v.Verify(t.Context(), in), Verified, ReasonTargetsHealthy)
	calls := x.f.Calls(elbv2.OpDescribeTargetHealth)
	x.setHealth(x.canary, canaryTargets, elbv2.StateUnhealthy, "Target.ResponseCodeMismatch")
	clk = clk.Add(500 * time.Millisecond)
	in.DesiredAt = clk
	clk = clk.Add(500 * time.Millisecond)
	wantResult(t, v.Verify(t.Context(), in), Pending, ReasonTargetsNotHealthy, "unhealthy Target.ResponseCodeMismatch")
	if n := x.f.Calls(elbv2.OpDescribeTargetHealth) - calls; n != 1 {
		t.Fatalf("DescribeTargetHealth calls after the change = %d, want 1 (the canary group)", n)
	}
}

// Issue 16, item 13, health-only: every rule of the action on every
// listener must reference the group that gains. A listener whose rule still
// forwards to the stable group alone (the action not applied there yet) is
// not one whose rules reference the canary's group: Pending, naming it.
func TestHealthOnlyJudgesEveryListener(t *testing.T) {
	x := newFixture(t)
	x.setWeights(0, 100)
	x.f.SetRule(x.https, "3", tg(x.stable, 1))
	in := x.healthOnly(0, 100)
	wantResult(t, x.verify(t, in), Pending, ReasonRulesNotFound,
		"listener :443 has no rule of the action web-stable yet while listener :80 has: listener :443 rule 3 (stable k8s-demo-stable-3c4d 1)")
	x.setListenerWeights(x.https, 0, 100)
	wantResult(t, x.verify(t, in), Verified, ReasonTargetsHealthy, "canary 3/3", "2 rule(s)")
}
