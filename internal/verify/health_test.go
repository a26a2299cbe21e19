package verify

import (
	"strings"
	"testing"
	"time"

	"github.com/albrollouts/albrollouts/internal/elbv2"
	"github.com/albrollouts/albrollouts/internal/elbv2/fake"
)

// Health before weight: with RequireHealthy, a destination at weight 0 is
// verified only once its targets are healthy in every group of it that the
// rules reference; the ALB health-checks such a group although it gets no
// traffic.
func TestRequireHealthyAtWeightZero(t *testing.T) {
	x := newFixture(t)
	x.setWeights(0, 100)
	in := x.input(0, 100)
	in.Destinations[0].RequireHealthy = true

	// The canary pods were just registered: initial. Without the flag this
	// verifies (TestZeroWeightGroupMayHoldAnything); with it, it must not.
	x.setHealth(x.canary, canaryTargets, elbv2.StateInitial, "Elb.InitialHealthChecking")
	res := x.verify(t, in)
	wantResult(t, res, Pending, ReasonTargetsNotHealthy, "canary k8s-demo-canary-1a2b targets 0/3 healthy (127.0.1.5:8080 initial Elb.InitialHealthChecking")
	if g := targetGroupObs(res, "", RoleCanary, ""); g == nil || !g.HealthChecked || g.DesiredWeight != 0 {
		t.Fatalf("canary observation %+v", g)
	}
	if n := x.f.Calls(elbv2.OpDescribeTargetHealth); n != 2 {
		t.Fatalf("DescribeTargetHealth calls = %d, want 2 (canary at 0 and stable)", n)
	}

	// One of three not registered at all.
	x.setHealth(x.canary, canaryTargets[:2], elbv2.StateHealthy, "")
	wantResult(t, x.verify(t, in), Pending, ReasonTargetsNotHealthy, "targets 2/3 healthy (127.0.1.7:8080 not registered)")

	// All healthy: verified, and the summary says the canary was checked.
	x.setHealth(x.canary, canaryTargets, elbv2.StateHealthy, "")
	wantResult(t, x.verify(t, in), Verified, ReasonWeightsVerified, "canary 3/3", "stable 2/2")

	// The groups with traffic are still judged.
	x.setHealth(x.stable, stableTargets, elbv2.StateUnhealthy, "Target.Timeout")
	wantResult(t, x.verify(t, in), Pending, ReasonTargetsNotHealthy, "stable k8s-demo-stable-3c4d targets 0/2 healthy")
	x.setHealth(x.stable, stableTargets, elbv2.StateHealthy, "")

	// A canary group that no rule references is not health-checked by the
	// ALB (unused, Target.NotInUse): not verified. (A rule that forwards to
	// the stable group alone is no rule of the action.)
	x.bothListeners("3", tg(x.stable, 100))
	wantResult(t, x.verify(t, in), Pending, ReasonRulesNotFound, "2 rule(s) forward to the group of only one of its services")
	// A rule of the action that lacks it says so.
	extra := x.f.AddTargetGroup(x.lb, "k8s-demo-mirror-5e6f", map[string]string{ResourceTag: "demo/web-web-mirror:80"})
	x.setHealth(extra, []Target{{"127.0.1.9", 8080}}, elbv2.StateHealthy, "")
	three := x.input(0, 90)
	three.Destinations[0].RequireHealthy = true
	three.Destinations = append(three.Destinations, Destination{Role: RoleAdditional, Service: "web-mirror", Weight: 10, Targets: []Target{{"127.0.1.9", 8080}}})
	x.bothListeners("3", tg(x.stable, 90), tg(extra, 10))
	wantResult(t, x.verify(t, three), Pending, ReasonWeightMismatch,
		"listener :80 rule 3: canary web-canary:80 not in the rule (its target group k8s-demo-canary-1a2b exists but no rule forwards to it yet), want it in the rule (at weight 0)")
	x.bothListeners("3", tg(x.canary, 0), tg(x.stable, 90), tg(extra, 10))
	wantResult(t, x.verify(t, three), Verified, ReasonWeightsVerified, "canary 3/3, stable 2/2, additional 1/1")

	// Every group of the destination is judged: a second canary group at 0.
	x.setWeights(0, 100)
	second := x.f.AddTargetGroup(x.lb, "k8s-demo-canary-new", map[string]string{ResourceTag: "demo/web-web-canary:80"})
	x.bothListeners("3", tg(x.canary, 0), tg(second, 0), tg(x.stable, 100))
	x.f.SetTargetHealth(second)
	wantResult(t, x.verify(t, in), Pending, ReasonTargetsNotHealthy, "canary k8s-demo-canary-new targets 0/3 healthy")
}

// RequireHealthy is read under the freshness bound like any health: a
// health answer from before the change does not count.
func TestRequireHealthyHealthIsFresh(t *testing.T) {
	x := newFixture(t)
	x.setWeights(0, 100)
	in := x.input(0, 100)
	in.Destinations[0].RequireHealthy = true
	clk := x.now
	now := func() time.Time { return clk }
	// Default TTLs: health is cached for 2 s.
	v := New(elbv2.NewWithAPI(x.f, elbv2.Options{Region: "us-east-1", RateLimit: 1e6, Burst: 1e6, Now: now}), Options{Now: now})
	wantResult(t, v.Verify(t.Context(), in), Verified, ReasonWeightsVerified)
	calls := x.f.Calls(elbv2.OpDescribeTargetHealth)
	// The canary turns unhealthy, then a new desired state is written: the
	// cached healthy answer predates it and must not verify it.
	x.setHealth(x.canary, canaryTargets, elbv2.StateUnhealthy, "Target.ResponseCodeMismatch")
	clk = clk.Add(500 * time.Millisecond)
	in.DesiredAt = clk
	clk = clk.Add(500 * time.Millisecond)
	wantResult(t, v.Verify(t.Context(), in), Pending, ReasonTargetsNotHealthy, "unhealthy Target.ResponseCodeMismatch")
	if n := x.f.Calls(elbv2.OpDescribeTargetHealth) - calls; n != 2 {
		t.Fatalf("DescribeTargetHealth calls after the change = %d, want 2", n)
	}
}

// Result.LoadBalancers names the load balancer and the groups, with
// CloudWatch full names, whatever the verdict.
func TestLoadBalancerObservations(t *testing.T) {
	x := newFixture(t)
	lbID := x.lb[strings.LastIndex(x.lb, "/")+1:]
	check := func(res Result) {
		t.Helper()
		if len(res.LoadBalancers) != 1 {
			t.Fatalf("LoadBalancers = %+v", res.LoadBalancers)
		}
		lb := res.LoadBalancers[0]
		if lb.Ingress != "web" || lb.Name != "k8s-demo-web" || lb.ARN != x.lb || lb.DNSName != x.dns || lb.FullName != "app/k8s-demo-web/"+lbID {
			t.Fatalf("load balancer %+v", lb)
		}
		if len(lb.TargetGroups) != 2 {
			t.Fatalf("target groups %+v", lb.TargetGroups)
		}
		c, s := lb.TargetGroups[0], lb.TargetGroups[1]
		if c.Role != RoleCanary || c.Service != "web-canary" || c.ARN != x.canary || c.Name != "k8s-demo-canary-1a2b" ||
			c.FullName != "targetgroup/k8s-demo-canary-1a2b/"+x.canary[strings.LastIndex(x.canary, "/")+1:] {
			t.Fatalf("canary %+v", c)
		}
		if s.Role != RoleStable || s.ARN != x.stable || !strings.HasPrefix(s.FullName, "targetgroup/k8s-demo-stable-3c4d/") {
			t.Fatalf("stable %+v", s)
		}
	}
	res := x.verify(t, x.input(25, 75))
	wantResult(t, res, Verified, ReasonWeightsVerified)
	check(res)
	x.setWeights(0, 100)
	res = x.verify(t, x.input(25, 75))
	wantResult(t, res, Pending, ReasonWeightMismatch)
	check(res)
	// Read partly before an error: what was read is there.
	x.f.Fail(elbv2.OpDescribeRules, fake.AccessDenied(elbv2.OpDescribeRules, "arn:aws:sts::123456789012:assumed-role/x/y"))
	res = x.verify(t, x.input(25, 75))
	wantResult(t, res, Failed, "AccessDenied")
	check(res)
	// Not read: none.
	in := x.input(25, 75)
	in.Ingresses[0].Hostname = ""
	if res := x.verify(t, in); len(res.LoadBalancers) != 0 {
		t.Fatalf("LoadBalancers without a hostname: %+v", res.LoadBalancers)
	}
	// A group found only for a route is named with the route.
	x.f.ClearFailures()
	other := x.f.AddTargetGroup(x.lb, "k8s-demo-beta-1111", map[string]string{ResourceTag: "demo/web-web-beta:80"})
	in = x.input(25, 75)
	in.Routes = []Route{{Name: "beta", Headers: []HeaderMatch{{Name: "X-Beta", Values: []string{"1"}}}, Destinations: []Destination{{Role: RoleCanary, Service: "web-beta", Weight: 100}}}}
	res = x.verify(t, in)
	refs := res.LoadBalancers[0].TargetGroups
	if len(refs) != 3 || refs[2].Route != "beta" || refs[2].ARN != other || refs[2].InRules {
		t.Fatalf("route groups %+v", refs)
	}
}

// Issue 12: an expected target listed twice is one target.
func TestDuplicateExpectedTargetsCountOnce(t *testing.T) {
	x := newFixture(t)
	in := x.input(25, 75)
	in.Destinations[0].Targets = []Target{canaryTargets[0], canaryTargets[0], canaryTargets[1]}
	x.setHealth(x.canary, canaryTargets[:1], elbv2.StateHealthy, "")
	res := x.verify(t, in)
	wantResult(t, res, Pending, ReasonTargetsNotHealthy, "canary k8s-demo-canary-1a2b targets 1/2 healthy (127.0.1.6:8080 not registered)")
	if g := targetGroupObs(res, "", RoleCanary, ""); g.Healthy != 1 || g.Expected != 2 {
		t.Fatalf("healthy %d expected %d, want 1 and 2", g.Healthy, g.Expected)
	}
	in.Destinations[0].Targets = []Target{canaryTargets[0], canaryTargets[0]}
	wantResult(t, x.verify(t, in), Verified, ReasonWeightsVerified, "canary 1/1")
}
