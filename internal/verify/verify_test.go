package verify

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/albrollouts/albrollouts/internal/elbv2"
	"github.com/albrollouts/albrollouts/internal/elbv2/fake"
)

// fixture is an ALB in the fake with two listeners (:80 and :443) whose
// rule 3 forwards to the canary and stable groups of ingress demo/web.
type fixture struct {
	f              *fake.ELBv2
	lb             string
	dns            string
	http, https    string
	canary, stable string
	now            time.Time
}

var (
	canaryTargets = []Target{{"127.0.1.5", 8080}, {"127.0.1.6", 8080}, {"127.0.1.7", 8080}}
	stableTargets = []Target{{"127.0.1.1", 8080}, {"127.0.1.2", 8080}}
)

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := fake.New()
	lb := f.AddLoadBalancer("k8s-demo-web")
	x := &fixture{f: f, lb: *lb.LoadBalancerArn, dns: *lb.DNSName, now: time.Unix(1_700_000_000, 0)}
	x.http = f.AddListener(x.lb, 80, "HTTP")
	x.https = f.AddListener(x.lb, 443, "HTTPS")
	x.canary = f.AddTargetGroup(x.lb, "k8s-demo-canary-1a2b", map[string]string{ResourceTag: "demo/web-web-canary:80"})
	x.stable = f.AddTargetGroup(x.lb, "k8s-demo-stable-3c4d", map[string]string{ResourceTag: "demo/web-web-stable:80"})
	x.setWeights(25, 75)
	x.setHealth(x.canary, canaryTargets, elbv2.StateHealthy, "")
	x.setHealth(x.stable, stableTargets, elbv2.StateHealthy, "")
	return x
}

func (x *fixture) setWeights(canary, stable int32) {
	x.setListenerWeights(x.http, canary, stable)
	x.setListenerWeights(x.https, canary, stable)
}

func (x *fixture) setListenerWeights(listener string, canary, stable int32) {
	x.f.SetRule(listener, "3", elbv2.WeightedTargetGroup{ARN: x.canary, Weight: canary}, elbv2.WeightedTargetGroup{ARN: x.stable, Weight: stable})
}

func (x *fixture) setHealth(tg string, ts []Target, state, reason string) {
	var hs []elbv2.TargetHealth
	for _, t := range ts {
		hs = append(hs, elbv2.TargetHealth{ID: t.ID, Port: t.Port, State: state, Reason: reason})
	}
	x.f.SetTargetHealth(tg, hs...)
}

func (x *fixture) input(canary, stable int32) Input {
	return Input{
		Namespace: "demo", Ingresses: []Ingress{{Name: "web", Hostname: x.dns}}, ActionName: "web-stable", ServicePort: "80",
		Destinations: []Destination{
			{Role: RoleCanary, Service: "web-canary", Weight: canary, Targets: canaryTargets},
			{Role: RoleStable, Service: "web-stable", Weight: stable, Targets: stableTargets},
		},
		DesiredAt: x.now.Add(-time.Second), Timeout: 30 * time.Second,
	}
}

// verifier returns a verifier whose clock is x.now; caching is disabled so
// that every check sees the fake's current state.
func (x *fixture) verifier(reg prometheus.Registerer) *Verifier {
	p := elbv2.NewWithAPI(x.f, elbv2.Options{Region: "us-east-1", RateLimit: 1e6, Burst: 1e6, CacheTTL: time.Nanosecond, StructureTTL: time.Nanosecond, TagsTTL: time.Nanosecond})
	return New(p, Options{Now: func() time.Time { return x.now }, Registerer: reg})
}

func (x *fixture) verify(t *testing.T, in Input) Result {
	t.Helper()
	res := x.verifier(nil).Verify(context.Background(), in)
	t.Logf("%s %s: %s (next %v)", res.Outcome, res.Reason, res.Message, res.NextCheck)
	return res
}

func wantResult(t *testing.T, res Result, outcome Outcome, reason string, contains ...string) {
	t.Helper()
	if res.Outcome != outcome || res.Reason != reason {
		t.Fatalf("got %s/%s (%s), want %s/%s", res.Outcome, res.Reason, res.Message, outcome, reason)
	}
	for _, c := range contains {
		if !strings.Contains(res.Message, c) {
			t.Errorf("message %q lacks %q", res.Message, c)
		}
	}
}

func TestVerifiedWhenEveryRuleAndTargetMatches(t *testing.T) {
	x := newFixture(t)
	res := x.verify(t, x.input(25, 75))
	wantResult(t, res, Verified, ReasonWeightsVerified, "canary 25, stable 75", ":80 rule 3", ":443 rule 3", "canary 3/3", "stable 2/2")
	if res.NextCheck != 0 {
		t.Fatalf("NextCheck = %v after Verified", res.NextCheck)
	}
	if len(res.TargetGroups) != 2 || len(res.TargetGroups[0].Rules) != 2 || !res.TargetGroups[0].HealthChecked {
		t.Fatalf("observations = %+v", res.TargetGroups)
	}
}

func TestWeightMismatchOnOneListenerOfTwo(t *testing.T) {
	x := newFixture(t)
	x.setListenerWeights(x.https, 0, 100)
	res := x.verify(t, x.input(25, 75))
	wantResult(t, res, Pending, ReasonWeightMismatch,
		"listener :443 rule 3: canary k8s-demo-canary-1a2b weight 0, want 25, stable k8s-demo-stable-3c4d weight 100, want 75")
	if strings.Contains(res.Message, "listener :80") {
		t.Fatalf("the matching listener is reported: %s", res.Message)
	}
	if res.NextCheck <= 0 {
		t.Fatal("no next check")
	}
}

func TestStableWeightWrong(t *testing.T) {
	x := newFixture(t)
	// Canary right, stable wrong: an Argo-style canary-only check passes this.
	x.setWeights(25, 100)
	res := x.verify(t, x.input(25, 75))
	wantResult(t, res, Pending, ReasonWeightMismatch, "stable k8s-demo-stable-3c4d weight 100 of 125 (80.0%), want 75.0%")
}

func TestAdditionalDestinations(t *testing.T) {
	x := newFixture(t)
	extra := x.f.AddTargetGroup(x.lb, "k8s-demo-mirror-5e6f", map[string]string{ResourceTag: "demo/web-web-mirror:80"})
	x.setHealth(extra, []Target{{"127.0.1.9", 8080}}, elbv2.StateHealthy, "")
	in := x.input(20, 70)
	in.Destinations = append(in.Destinations, Destination{Role: RoleAdditional, Service: "web-mirror", Weight: 10, Targets: []Target{{"127.0.1.9", 8080}}})
	set := func(c, s, a int32) {
		for _, l := range []string{x.http, x.https} {
			x.f.SetRule(l, "3", elbv2.WeightedTargetGroup{ARN: x.canary, Weight: c}, elbv2.WeightedTargetGroup{ARN: x.stable, Weight: s}, elbv2.WeightedTargetGroup{ARN: extra, Weight: a})
		}
	}
	set(20, 80, 0)
	wantResult(t, x.verify(t, in), Pending, ReasonWeightMismatch, "additional k8s-demo-mirror-5e6f weight 0, want 10", "stable k8s-demo-stable-3c4d weight 80, want 70")
	set(20, 70, 10)
	wantResult(t, x.verify(t, in), Verified, ReasonWeightsVerified, "additional 1/1")
	// The additional group missing from the rule entirely.
	for _, l := range []string{x.http, x.https} {
		x.f.SetRule(l, "3", elbv2.WeightedTargetGroup{ARN: x.canary, Weight: 20}, elbv2.WeightedTargetGroup{ARN: x.stable, Weight: 70})
	}
	wantResult(t, x.verify(t, in), Pending, ReasonWeightMismatch, "additional web-mirror:80 not in the rule")
}

func TestWeightsScaledTo999AreShares(t *testing.T) {
	x := newFixture(t)
	x.setWeights(250, 749)
	wantResult(t, x.verify(t, x.input(25, 75)), Verified, ReasonWeightsVerified)
	x.setWeights(240, 759)
	wantResult(t, x.verify(t, x.input(25, 75)), Pending, ReasonWeightMismatch, "canary k8s-demo-canary-1a2b weight 240 of 999 (24.0%), want 25.0%")
}

func TestTargetStates(t *testing.T) {
	for _, tc := range []struct {
		name    string
		mutate  func(x *fixture)
		outcome Outcome
		reason  string
		msg     []string
	}{
		{"initial", func(x *fixture) {
			x.setHealth(x.canary, canaryTargets, elbv2.StateInitial, "Elb.InitialHealthChecking")
		}, Pending, ReasonTargetsNotHealthy, []string{"canary k8s-demo-canary-1a2b targets 0/3 healthy (127.0.1.5:8080 initial Elb.InitialHealthChecking"}},
		{"unhealthy", func(x *fixture) {
			x.f.SetTargetHealth(x.canary,
				elbv2.TargetHealth{ID: "127.0.1.5", Port: 8080, State: "healthy"},
				elbv2.TargetHealth{ID: "127.0.1.6", Port: 8080, State: "healthy"},
				elbv2.TargetHealth{ID: "127.0.1.7", Port: 8080, State: "unhealthy", Reason: "Target.ResponseCodeMismatch"})
		}, Pending, ReasonTargetsNotHealthy, []string{"targets 2/3 healthy (127.0.1.7:8080 unhealthy Target.ResponseCodeMismatch)", "health check HTTP /healthz on port traffic-port expects 200"}},
		{"draining", func(x *fixture) {
			x.setHealth(x.stable, stableTargets, elbv2.StateDraining, "Target.DeregistrationInProgress")
		}, Pending, ReasonTargetsNotHealthy, []string{"stable k8s-demo-stable-3c4d targets 0/2 healthy (127.0.1.1:8080 draining Target.DeregistrationInProgress"}},
		{"missing", func(x *fixture) {
			x.setHealth(x.canary, canaryTargets[:2], elbv2.StateHealthy, "")
		}, Pending, ReasonTargetsNotHealthy, []string{"targets 2/3 healthy (127.0.1.7:8080 not registered)"}},
		{"extra", func(x *fixture) {
			x.setHealth(x.canary, append([]Target{{"127.0.1.99", 8080}}, canaryTargets...), elbv2.StateHealthy, "")
		}, Verified, ReasonWeightsVerified, []string{"note: canary k8s-demo-canary-1a2b has 1 healthy target(s) not expected: 127.0.1.99:8080 healthy"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x := newFixture(t)
			tc.mutate(x)
			wantResult(t, x.verify(t, x.input(25, 75)), tc.outcome, tc.reason, tc.msg...)
		})
	}
}

func TestZeroWeightGroupMayHoldAnything(t *testing.T) {
	x := newFixture(t)
	x.setWeights(0, 100)
	x.setHealth(x.canary, canaryTargets, elbv2.StateUnhealthy, "Target.Timeout")
	res := x.verify(t, x.input(0, 100))
	wantResult(t, res, Verified, ReasonWeightsVerified)
	if x.f.Calls(elbv2.OpDescribeTargetHealth) != 1 {
		t.Fatalf("DescribeTargetHealth calls = %d, want 1 (stable only)", x.f.Calls(elbv2.OpDescribeTargetHealth))
	}
	// The rollback case: traffic must be back on stable, canary at 0.
	x.setWeights(1, 99)
	wantResult(t, x.verify(t, x.input(0, 100)), Pending, ReasonWeightMismatch, "canary k8s-demo-canary-1a2b weight 1, want 0")
}

func TestNoExpectedTargetsNeedsOneHealthy(t *testing.T) {
	x := newFixture(t)
	in := x.input(25, 75)
	in.Destinations[1].Targets = nil
	x.setHealth(x.stable, stableTargets, elbv2.StateInitial, "Elb.RegistrationInProgress")
	wantResult(t, x.verify(t, in), Pending, ReasonTargetsNotHealthy, "stable k8s-demo-stable-3c4d has no healthy target (2 registered")
	x.f.SetTargetHealth(x.stable)
	wantResult(t, x.verify(t, in), Pending, ReasonTargetsNotHealthy, "(none registered)")
	x.setHealth(x.stable, stableTargets[:1], elbv2.StateHealthy, "")
	wantResult(t, x.verify(t, in), Verified, ReasonWeightsVerified)
}

func TestHealthReadOnlyOnceWeightsApplyOrLate(t *testing.T) {
	x := newFixture(t)
	x.setWeights(0, 100)
	in := x.input(25, 75)
	res := x.verify(t, in)
	wantResult(t, res, Pending, ReasonWeightMismatch)
	if n := x.f.Calls(elbv2.OpDescribeTargetHealth); n != 0 {
		t.Fatalf("read health %d times while the weights were not applied", n)
	}
	x.now = in.DesiredAt.Add(16 * time.Second)
	x.setHealth(x.canary, canaryTargets, elbv2.StateInitial, "Elb.InitialHealthChecking")
	res = x.verify(t, in)
	wantResult(t, res, Pending, ReasonWeightMismatch, "weight 0, want 25", "targets 0/3 healthy")
}

func TestNotProvisionedAndErrors(t *testing.T) {
	x := newFixture(t)
	in := x.input(25, 75)
	in.Ingresses[0].Hostname = ""
	wantResult(t, x.verify(t, in), Pending, ReasonLoadBalancerNotProvisioned, "ingress demo/web has no load balancer hostname")
	if x.f.TotalCalls() != 0 {
		t.Fatal("called AWS for an ingress without hostname")
	}

	for _, op := range elbv2.Operations {
		t.Run("AccessDenied "+op, func(t *testing.T) {
			x := newFixture(t)
			x.f.Fail(op, fake.AccessDenied(op, "arn:aws:sts::123456789012:assumed-role/albrollouts/pod"))
			res := x.verify(t, x.input(25, 75))
			wantResult(t, res, Failed, "AccessDenied", "elasticloadbalancing:"+op, "assumed-role/albrollouts/pod", "config/iam-policy.json")
			if res.NextCheck <= 0 {
				t.Fatal("AccessDenied is not retried")
			}
		})
	}

	in = x.input(25, 75)
	in.Ingresses[0].Hostname = "k8s-demo-web-1.eu-west-1.elb.amazonaws.com"
	wantResult(t, x.verify(t, in), Failed, "RegionMismatch", "eu-west-1", "us-east-1")

	x.f.DeleteLoadBalancer(x.lb)
	wantResult(t, x.verify(t, x.input(25, 75)), Failed, "LoadBalancerNotFound", x.dns)

	x = newFixture(t)
	x.f.FailNext(elbv2.OpDescribeRules, fake.APIError("Throttling", "Rate exceeded"), 1)
	wantResult(t, x.verify(t, x.input(25, 75)), Failed, "Throttled", "Rate exceeded")
	wantResult(t, x.verify(t, x.input(25, 75)), Verified, ReasonWeightsVerified)

	// The group disappears between DescribeTargetGroups and DescribeTargetHealth.
	x.f.FailNext(elbv2.OpDescribeTargetHealth, fake.APIError("TargetGroupNotFound", "Target groups 'x' not found"), 1)
	wantResult(t, x.verify(t, x.input(25, 75)), Failed, "TargetGroupNotFound")
	// Deleted for good: the rule points at a group that is no longer listed.
	x.f.DeleteTargetGroup(x.canary)
	wantResult(t, x.verify(t, x.input(25, 75)), Pending, ReasonWeightMismatch, "target group k8s-demo-canary-1a2b (not tagged for this action) weight 25, want 0")
}

func TestRulesNotFound(t *testing.T) {
	x := newFixture(t)
	x.f.SetRule(x.http, "3", elbv2.WeightedTargetGroup{ARN: "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/other/1", Weight: 1})
	x.f.SetRule(x.https, "3", elbv2.WeightedTargetGroup{ARN: "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/other/1", Weight: 1})
	wantResult(t, x.verify(t, x.input(25, 75)), Pending, ReasonRulesNotFound, "demo/web-web-canary:80", "2 such target group(s) exist but no rule uses them")
}

func TestForeignGroupWithWeightIsAMismatch(t *testing.T) {
	x := newFixture(t)
	other := x.f.AddTargetGroup(x.lb, "k8s-demo-other-9999", map[string]string{ResourceTag: "demo/web-web-other:80"})
	for _, l := range []string{x.http, x.https} {
		x.f.SetRule(l, "3", elbv2.WeightedTargetGroup{ARN: x.canary, Weight: 25}, elbv2.WeightedTargetGroup{ARN: x.stable, Weight: 65}, elbv2.WeightedTargetGroup{ARN: other, Weight: 10})
	}
	wantResult(t, x.verify(t, x.input(25, 75)), Pending, ReasonWeightMismatch, "target group k8s-demo-other-9999 (not tagged for this action) weight 10, want 0")
}

func TestTargetGroupBindingsFindUntaggedGroups(t *testing.T) {
	x := newFixture(t)
	canary := x.f.AddTargetGroup(x.lb, "tf-canary", nil)
	stable := x.f.AddTargetGroup(x.lb, "tf-stable", nil)
	for _, l := range []string{x.http, x.https} {
		x.f.SetRule(l, "3", elbv2.WeightedTargetGroup{ARN: canary, Weight: 25}, elbv2.WeightedTargetGroup{ARN: stable, Weight: 75})
	}
	x.setHealth(canary, canaryTargets, elbv2.StateHealthy, "")
	x.setHealth(stable, stableTargets, elbv2.StateHealthy, "")
	in := x.input(25, 75)
	wantResult(t, x.verify(t, in), Pending, ReasonRulesNotFound)
	in.TargetGroupBindings = []TargetGroupBinding{
		{Namespace: "demo", Name: "a", TargetGroupARN: canary, ServiceName: "web-canary", ServicePort: "80"},
		// Port by name, resolved against the Service (ListTargetGroupBindings).
		{Namespace: "demo", Name: "b", TargetGroupARN: stable, ServiceName: "web-stable", ServicePort: "http", ServicePortName: "http", ServicePortNumber: 80},
	}
	wantResult(t, x.verify(t, in), Verified, ReasonWeightsVerified)

	// Issue 12: a port name and a different port number of the same service
	// are different ports. Unresolved, or resolved to another number, the
	// binding does not make tf-stable the stable group.
	for _, b := range []TargetGroupBinding{
		{Namespace: "demo", Name: "b", TargetGroupARN: stable, ServiceName: "web-stable", ServicePort: "http"},
		{Namespace: "demo", Name: "b", TargetGroupARN: stable, ServiceName: "web-stable", ServicePort: "metrics", ServicePortName: "metrics", ServicePortNumber: 9090},
		{Namespace: "demo", Name: "b", TargetGroupARN: stable, ServiceName: "web-stable", ServicePort: "8080"},
	} {
		in.TargetGroupBindings[1] = b
		wantResult(t, x.verify(t, in), Pending, ReasonWeightMismatch, "target group tf-stable (not tagged for this action) weight 75, want 0")
	}
}

func TestTwoIngresses(t *testing.T) {
	x := newFixture(t)
	lb2 := x.f.AddLoadBalancer("k8s-demo-web2")
	l2 := x.f.AddListener(*lb2.LoadBalancerArn, 443, "HTTPS")
	c2 := x.f.AddTargetGroup(*lb2.LoadBalancerArn, "k8s-demo-canary-2222", map[string]string{ResourceTag: "demo/web2-web-canary:80"})
	s2 := x.f.AddTargetGroup(*lb2.LoadBalancerArn, "k8s-demo-stable-2222", map[string]string{ResourceTag: "demo/web2-web-stable:80"})
	x.setHealth(c2, canaryTargets, elbv2.StateHealthy, "")
	x.setHealth(s2, stableTargets, elbv2.StateHealthy, "")
	x.f.SetRule(l2, "1", elbv2.WeightedTargetGroup{ARN: c2, Weight: 0}, elbv2.WeightedTargetGroup{ARN: s2, Weight: 100})
	in := x.input(25, 75)
	in.Ingresses = append(in.Ingresses, Ingress{Name: "web2", Hostname: *lb2.DNSName})
	wantResult(t, x.verify(t, in), Pending, ReasonWeightMismatch, "ingress web2: listener :443 rule 1: canary k8s-demo-canary-2222 weight 0, want 25")
	x.f.SetRule(l2, "1", elbv2.WeightedTargetGroup{ARN: c2, Weight: 25}, elbv2.WeightedTargetGroup{ARN: s2, Weight: 75})
	res := x.verify(t, in)
	wantResult(t, res, Verified, ReasonWeightsVerified, "ingress web: weights", "ingress web2: weights")
	if len(res.TargetGroups) != 4 {
		t.Fatalf("observations for %d groups, want 4", len(res.TargetGroups))
	}
}

func TestTimeoutAndNextCheck(t *testing.T) {
	x := newFixture(t)
	x.setWeights(0, 100)
	in := x.input(25, 75)
	in.DesiredAt = x.now
	var prev time.Duration
	for _, elapsed := range []time.Duration{0, time.Second, 3 * time.Second, 7 * time.Second, 15 * time.Second, 25 * time.Second, 29500 * time.Millisecond} {
		x.now = in.DesiredAt.Add(elapsed)
		res := x.verify(t, in)
		if res.Outcome != Pending {
			t.Fatalf("at %v: %s", elapsed, res.Outcome)
		}
		remaining := in.Deadline().Sub(x.now)
		if res.NextCheck <= 0 || res.NextCheck > remaining || res.NextCheck > 10*time.Second {
			t.Fatalf("at %v: NextCheck %v (remaining %v)", elapsed, res.NextCheck, remaining)
		}
		if elapsed < 25*time.Second && res.NextCheck < prev {
			t.Fatalf("at %v: NextCheck %v shrank from %v", elapsed, res.NextCheck, prev)
		}
		prev = res.NextCheck
	}
	x.now = in.Deadline()
	res := x.verify(t, in)
	wantResult(t, res, TimedOut, ReasonVerificationTimedOut, "not verified 30s after the desired state was written (timeout 30s)", "weight 0, want 25")
	if res.Cause != ReasonWeightMismatch || res.NextCheck != 0 {
		t.Fatalf("cause %q next %v", res.Cause, res.NextCheck)
	}
	// Converged after the deadline: a late check still says Verified.
	x.setWeights(25, 75)
	wantResult(t, x.verify(t, in), Verified, ReasonWeightsVerified)
}

func TestInvalidInput(t *testing.T) {
	x := newFixture(t)
	in := x.input(0, 0)
	in.Namespace = ""
	res := x.verify(t, in)
	wantResult(t, res, Failed, ReasonInvalidInput, "namespace is empty", "all desired weights are 0")
	if res.NextCheck != 0 || x.f.TotalCalls() != 0 {
		t.Fatalf("next %v calls %d", res.NextCheck, x.f.TotalCalls())
	}
	for _, tc := range []struct {
		mutate func(in *Input)
		msg    string
	}{
		// Issue 12: weights are percentages; 999 is an ALB weight, not a percentage.
		{func(in *Input) { in.Destinations[0].Weight = 999; in.Destinations[1].Weight = 0 }, "destination web-canary has weight 999, want 0-100"},
		{func(in *Input) { in.Destinations[0].Weight = 101; in.Destinations[1].Weight = 0 }, "destination web-canary has weight 101, want 0-100"},
		{func(in *Input) { in.Destinations[0].Weight = -1 }, "destination web-canary has weight -1, want 0-100"},
		{func(in *Input) { in.Destinations[0].Weight = 60 }, "the desired weights add up to 135, more than 100 percent"},
		{func(in *Input) { in.Destinations[1].Service = "web-canary" }, "destination web-canary:80 is given twice"},
		{func(in *Input) { in.ActionName = "" }, "no action name, which selects the plain-backend mode, but 2 destinations given"},
		{func(in *Input) {
			in.Routes = []Route{{Name: "r", Destinations: []Destination{{Service: "web-canary", Weight: 100}}}}
		}, "route r has no header condition"},
		{func(in *Input) {
			in.Routes = []Route{{Name: "r", Headers: []HeaderMatch{{Name: "X"}}}}
		}, "route r has a header condition without header name or values"},
		{func(in *Input) {
			h := []HeaderMatch{{Name: "X", Values: []string{"1"}}}
			in.Routes = []Route{{Name: "r", Headers: h}, {Name: "r", Headers: h}}
		}, "route r is given twice"},
		{func(in *Input) {
			in.Routes = []Route{{Name: "r", Headers: []HeaderMatch{{Name: "X", Values: []string{"1"}}}, Destinations: []Destination{{Service: "web-canary", Weight: 0}}}}
		}, "route r: all desired weights are 0 (give no destinations for a removed route)"},
		{func(in *Input) {
			in.Routes = []Route{{Headers: []HeaderMatch{{Name: "X", Values: []string{"1"}}}, Destinations: []Destination{{Service: "web-canary", Weight: 150}}}}
		}, "a route has no name; a route: destination web-canary has weight 150, want 0-100"},
	} {
		in := x.input(25, 75)
		tc.mutate(&in)
		wantResult(t, x.verify(t, in), Failed, ReasonInvalidInput, tc.msg)
	}
	if x.f.TotalCalls() != 0 {
		t.Fatalf("invalid inputs made %d calls", x.f.TotalCalls())
	}
}

func TestVerifierMetrics(t *testing.T) {
	x := newFixture(t)
	reg := prometheus.NewRegistry()
	v := x.verifier(reg)
	in := x.input(25, 75)
	v.Verify(context.Background(), in)
	x.setWeights(0, 100)
	v.Verify(context.Background(), in)
	x.now = in.Deadline()
	v.Verify(context.Background(), in)
	want := `
# HELP albrollouts_verifications_total Verification checks by result (verified, pending, failed, timed_out).
# TYPE albrollouts_verifications_total counter
albrollouts_verifications_total{result="pending"} 1
albrollouts_verifications_total{result="timed_out"} 1
albrollouts_verifications_total{result="verified"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "albrollouts_verifications_total"); err != nil {
		t.Fatal(err)
	}
	if n := testutil.CollectAndCount(reg, "albrollouts_verification_duration_seconds"); n != 3 {
		t.Fatalf("duration series %d", n)
	}
	if g := testutil.ToFloat64(v.metrics.inFlight); g != 0 {
		t.Fatalf("in flight = %v after all checks returned", g)
	}
}

func TestSharesMatch(t *testing.T) {
	for _, tc := range []struct {
		d, w []int64
		want bool
	}{
		{[]int64{25, 75}, []int64{25, 75}, true},
		{[]int64{25, 75}, []int64{24, 76}, false},
		{[]int64{50, 50}, []int64{49, 51}, false},
		{[]int64{50, 50}, []int64{500, 500}, true},
		{[]int64{25, 75}, []int64{250, 749}, true},
		{[]int64{1, 99}, []int64{10, 989}, true},
		{[]int64{33, 33, 34}, []int64{330, 330, 340}, true},
		{[]int64{0, 100}, []int64{0, 1}, true},
		{[]int64{0, 100}, []int64{1, 999}, false},
		{[]int64{10, 90}, []int64{0, 100}, false},
		{[]int64{25, 75}, []int64{0, 0}, false},
		// Issue 12, bug 2: scaling down and rounding is a large share error.
		{[]int64{25, 75}, []int64{1, 2}, false},
		{[]int64{40, 60}, []int64{1, 1}, false},
		{[]int64{33, 33, 34}, []int64{1, 1, 1}, false},
		{[]int64{1, 3}, []int64{1, 4}, false}, // 20/80 for 25/75 with percentages not summing to 100
		// Exact shares always match, however small the weights.
		{[]int64{50, 50}, []int64{1, 1}, true},
		{[]int64{20, 80}, []int64{1, 4}, true},
		{[]int64{100}, []int64{1}, true},
		// Scaled up with rounding: within half a weight unit.
		{[]int64{33, 33, 34}, []int64{333, 333, 333}, false},
		{[]int64{10, 20, 70}, []int64{100, 200, 699}, true}, // x9.99, rounded
		{[]int64{1, 99}, []int64{1, 98}, false},
	} {
		if got := sharesMatch(tc.d, tc.w, nil, 100); got != tc.want {
			t.Errorf("sharesMatch(%v, %v) = %v, want %v", tc.d, tc.w, got, tc.want)
		}
	}
	// Out of another total (maxTrafficWeight, issue 16 item 7): 5 of 1000
	// is 0.5 %, which no percentage says.
	for _, tc := range []struct {
		d, w  []int64
		total int64
		want  bool
	}{
		{[]int64{5, 995}, []int64{5, 995}, 1000, true},
		{[]int64{50, 150}, []int64{50, 150}, 200, true},
		{[]int64{50, 150}, []int64{25, 75}, 200, true}, // the same shares
		{[]int64{5, 995}, []int64{1, 99}, 1000, false},
		{[]int64{1, 199}, []int64{1, 99}, 200, false},
	} {
		if got := sharesMatch(tc.d, tc.w, nil, tc.total); got != tc.want {
			t.Errorf("sharesMatch(%v, %v, total %d) = %v, want %v", tc.d, tc.w, tc.total, got, tc.want)
		}
	}
}

// Weights out of a WeightTotal above 100 are valid input up to it.
func TestWeightTotalValidation(t *testing.T) {
	in := Input{Namespace: "ns", Ingresses: []Ingress{{Name: "web"}}, ActionName: "root", ServicePort: "80", DesiredAt: time.Unix(1, 0),
		Destinations: []Destination{{Role: RoleCanary, Service: "canary", Weight: 5}, {Role: RoleStable, Service: "stable", Weight: 994}}}
	if err := in.validate(); err == nil {
		t.Fatal("weights out of 999 accepted as percentages")
	}
	in.WeightTotal = 999
	if err := in.validate(); err != nil {
		t.Fatalf("weights out of 999 rejected: %v", err)
	}
	in.Destinations[1].Weight = 995
	if err := in.validate(); err == nil {
		t.Fatal("weights adding up to more than the total accepted")
	}
}

// referenceStep is the backoff schedule computed step by step: delays
// Initial, Initial*Factor, ... capped at Max; the attempt is the number of
// whole delays that fit into elapsed.
func referenceStep(b Backoff, elapsed time.Duration) (time.Duration, int) {
	b = b.withDefaults()
	d, sum, attempt := float64(b.Initial), 0.0, 0
	for sum+d <= float64(elapsed) && d < float64(b.Max) {
		sum += d
		attempt++
		d = min(d*b.Factor, float64(b.Max))
	}
	if d == float64(b.Max) && float64(elapsed) > sum {
		attempt += int((float64(elapsed) - sum) / float64(b.Max))
	}
	return time.Duration(d), attempt
}

func TestBackoffStepMatchesTheSchedule(t *testing.T) {
	for _, b := range []Backoff{DefaultBackoff, {Initial: 100 * time.Millisecond, Max: 30 * time.Second, Factor: 1.5, Jitter: 0.1},
		{Initial: time.Second, Max: time.Second, Factor: 2}, {Initial: time.Second, Max: 10 * time.Second, Factor: 3}} {
		for ms := int64(0); ms <= 120_000; ms += 50 {
			e := time.Duration(ms) * time.Millisecond
			wd, wa := referenceStep(b, e)
			d, a := b.withDefaults().step(e)
			if a != wa || (d-wd).Abs() > time.Microsecond {
				t.Fatalf("%+v at %v: step = %v, attempt %d; schedule says %v, attempt %d", b, e, d, a, wd, wa)
			}
		}
	}
}

// Issue 12: factor 1 (a constant delay) made Delay loop elapsed/Initial
// times; a check an hour into a 1 ns backoff never returned.
func TestBackoffFactorOneIsConstantTime(t *testing.T) {
	done := make(chan time.Duration, 1)
	go func() {
		done <- Backoff{Initial: time.Nanosecond, Max: time.Second, Factor: 1, Jitter: 0.5}.Delay(time.Hour, "rollout")
	}()
	select {
	case d := <-done:
		if d < 0 || d > time.Nanosecond {
			t.Fatalf("Delay = %v, want the constant 1ns (less jitter)", d)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Delay with factor 1 did not return within 10 s")
	}
	b := Backoff{Initial: time.Second, Max: 10 * time.Second, Factor: 1}
	if d, a := b.step(5500 * time.Millisecond); d != time.Second || a != 5 {
		t.Fatalf("factor 1 at 5.5 s: %v attempt %d, want 1s attempt 5", d, a)
	}
}

func TestBackoffDelay(t *testing.T) {
	b := DefaultBackoff
	for _, tc := range []struct {
		elapsed  time.Duration
		min, max time.Duration
	}{
		{0, 800 * time.Millisecond, time.Second},
		{time.Second, 1600 * time.Millisecond, 2 * time.Second},
		{3 * time.Second, 3200 * time.Millisecond, 4 * time.Second},
		{7 * time.Second, 6400 * time.Millisecond, 8 * time.Second},
		{15 * time.Second, 8 * time.Second, 10 * time.Second},
		{5 * time.Minute, 8 * time.Second, 10 * time.Second},
	} {
		for i := range 20 {
			d := b.Delay(tc.elapsed, fmt.Sprint("rollout-", i))
			if d < tc.min || d > tc.max {
				t.Fatalf("Delay(%v) = %v, want in [%v, %v]", tc.elapsed, d, tc.min, tc.max)
			}
		}
	}
	if b.Delay(0, "a") == b.Delay(0, "b") && b.Delay(0, "b") == b.Delay(0, "c") {
		t.Fatal("no jitter between rollouts")
	}
	first, again := b.Delay(time.Second, "a"), b.Delay(time.Second, "a")
	if first != again {
		t.Fatalf("Delay is not a pure function: %v then %v", first, again)
	}
}
