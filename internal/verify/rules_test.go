package verify

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/albrollouts/albrollouts/internal/elbv2"
)

// Which rules are the action's, the routes', or someone else's; how each is
// judged. Against the fake, through the real provider.

func tg(arn string, w int32) elbv2.WeightedTargetGroup {
	return elbv2.WeightedTargetGroup{ARN: arn, Weight: w}
}

func (x *fixture) bothListeners(priority string, fwd ...elbv2.WeightedTargetGroup) {
	for _, l := range []string{x.http, x.https} {
		x.f.SetRule(l, priority, fwd...)
	}
}

func targetGroupObs(res Result, route string, role Role, name string) *TargetGroupObservation {
	for i := range res.TargetGroups {
		g := &res.TargetGroups[i]
		if g.Route == route && g.Role == role && (name == "" || g.Name == name) {
			return g
		}
	}
	return nil
}

// Issue 12, bug 1: two target groups of one destination in one rule. Both
// get traffic, so both must be read and judged; before, only the last one
// per destination was, and an empty canary-A verified.
func TestEveryGroupOfADestinationIsJudged(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(x *fixture, in *Input) string // returns canary-B's ARN
	}{
		{"second group with the same tag", func(x *fixture, _ *Input) string {
			return x.f.AddTargetGroup(x.lb, "k8s-demo-canary-b", map[string]string{ResourceTag: "demo/web-web-canary:80"})
		}},
		{"untagged group bound by a TargetGroupBinding", func(x *fixture, in *Input) string {
			b := x.f.AddTargetGroup(x.lb, "k8s-demo-canary-b", nil)
			in.TargetGroupBindings = []TargetGroupBinding{{Namespace: "demo", Name: "b", TargetGroupARN: b, ServiceName: "web-canary", ServicePort: "80"}}
			return b
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x := newFixture(t)
			in := x.input(25, 75)
			b := tc.setup(x, &in)
			x.bothListeners("3", tg(x.canary, 10), tg(b, 15), tg(x.stable, 75))
			x.f.SetTargetHealth(x.canary) // canary-A: no target at all
			x.setHealth(b, canaryTargets, elbv2.StateHealthy, "")
			res := x.verify(t, in)
			wantResult(t, res, Pending, ReasonTargetsNotHealthy, "canary k8s-demo-canary-1a2b targets 0/3 healthy (127.0.1.5:8080 not registered")
			if n := x.f.Calls(elbv2.OpDescribeTargetHealth); n != 3 {
				t.Fatalf("DescribeTargetHealth calls = %d, want 3 (canary-A, canary-B, stable)", n)
			}
			// Both canary groups healthy: verified; the weights of the two add up.
			x.setHealth(x.canary, canaryTargets, elbv2.StateHealthy, "")
			res = x.verify(t, in)
			wantResult(t, res, Verified, ReasonWeightsVerified, "canary 3/3, canary 3/3, stable 2/2")
			for _, name := range []string{"k8s-demo-canary-1a2b", "k8s-demo-canary-b"} {
				if g := targetGroupObs(res, "", RoleCanary, name); g == nil || !g.HealthChecked {
					t.Fatalf("%s not judged: %+v", name, res.TargetGroups)
				}
			}
			// A wrong split between them is still a share problem of the canary as a whole.
			x.bothListeners("3", tg(x.canary, 10), tg(b, 5), tg(x.stable, 75))
			wantResult(t, x.verify(t, in), Pending, ReasonWeightMismatch, "canary k8s-demo-canary-1a2b+k8s-demo-canary-b weight 15 of 90 (16.7%), want 25.0%")
		})
	}
}

// A destination's second group at weight 0 gets no traffic and is not judged.
func TestSecondGroupAtZeroIsNotJudged(t *testing.T) {
	x := newFixture(t)
	b := x.f.AddTargetGroup(x.lb, "k8s-demo-canary-old", map[string]string{ResourceTag: "demo/web-web-canary:80"})
	x.bothListeners("3", tg(x.canary, 25), tg(b, 0), tg(x.stable, 75))
	x.f.SetTargetHealth(b)
	res := x.verify(t, x.input(25, 75))
	wantResult(t, res, Verified, ReasonWeightsVerified)
	if g := targetGroupObs(res, "", RoleCanary, "k8s-demo-canary-old"); g == nil || g.HealthChecked {
		t.Fatalf("group at 0 judged or missing: %+v", g)
	}
}

// Issue 12, bug 2: small ALB weights must give the desired shares exactly,
// or be what scaling the percentages up and rounding can produce.
func TestSmallWeightsMustGiveTheDesiredShares(t *testing.T) {
	for _, tc := range []struct {
		canary, stable int64 // desired
		wc, ws         int32 // ALB
		ok             bool
		msg            string
	}{
		{25, 75, 1, 2, false, "canary k8s-demo-canary-1a2b weight 1 of 3 (33.3%), want 25.0%"},
		{40, 60, 1, 1, false, "canary k8s-demo-canary-1a2b weight 1 of 2 (50.0%), want 40.0%"},
		{50, 50, 1, 1, true, ""},
		{20, 80, 1, 4, true, ""},
		{25, 75, 250, 749, true, ""},
	} {
		x := newFixture(t)
		x.setWeights(tc.wc, tc.ws)
		res := x.verify(t, x.input(int32(tc.canary), int32(tc.stable)))
		if tc.ok {
			wantResult(t, res, Verified, ReasonWeightsVerified)
		} else {
			wantResult(t, res, Pending, ReasonWeightMismatch, tc.msg)
		}
	}
}

// Issue 12, bug 4: a default backend or a plain path to the stable service,
// and a header-route rule to the canary, are not rules of the action.
func TestRulesOfOneServiceAreNotTheActions(t *testing.T) {
	x := newFixture(t)
	x.f.SetRule(x.http, "default", tg(x.stable, 1)) // spec.defaultBackend: stable
	x.f.SetRuleTargetGroup(x.https, "7", x.stable)  // a plain path to stable (legacy single-group shape)
	x.f.SetRule(x.http, "1", tg(x.canary, 1))       // a header route to the canary
	x.f.SetRuleConditions(x.http, "1", xCanaryHeader()...)
	res := x.verify(t, x.input(25, 75))
	wantResult(t, res, Verified, ReasonWeightsVerified, "weights canary 25, stable 75 verified on 2 rule(s) (:80 rule 3, :443 rule 3)",
		"note: 3 rule(s) forward to a target group of the action web-stable without being its rules, not judged: listener :80 rule 1 (canary k8s-demo-canary-1a2b 1), listener :80 default rule (stable k8s-demo-stable-3c4d 1), listener :443 rule 7 (stable k8s-demo-stable-3c4d 1)")
	if len(res.OtherRules) != 3 || res.OtherRules[0].Forward[0].Role != RoleCanary || res.OtherRules[0].Rule != "1" {
		t.Fatalf("OtherRules = %+v", res.OtherRules)
	}
	// The action's rules are still judged: a mismatch there is reported.
	x.setListenerWeights(x.https, 0, 100)
	wantResult(t, x.verify(t, x.input(25, 75)), Pending, ReasonWeightMismatch, "listener :443 rule 3: canary k8s-demo-canary-1a2b weight 0, want 25")
	// Without the action's rules, the diagnosis says what the others are.
	x.f.DeleteRule(x.http, "3")
	x.f.DeleteRule(x.https, "3")
	wantResult(t, x.verify(t, x.input(25, 75)), Pending, ReasonRulesNotFound,
		"3 rule(s) forward to the group of only one of its services", "a default backend, a plain path or a header route")
}

// A rule of the action whose group of one service was replaced by an
// unknown group is still the action's, and is reported as wrong.
func TestRuleWithAForeignGroupIsTheActions(t *testing.T) {
	x := newFixture(t)
	foreign := x.f.AddTargetGroup(x.lb, "someone-else", map[string]string{ResourceTag: "demo/other-svc:80"})
	x.bothListeners("3", tg(foreign, 25), tg(x.stable, 75))
	wantResult(t, x.verify(t, x.input(25, 75)), Pending, ReasonWeightMismatch,
		"canary web-canary:80 not in the rule (its target group k8s-demo-canary-1a2b exists but no rule forwards to it yet), want 25",
		"target group someone-else (not tagged for this action) weight 25, want 0")
}

// Issue 12, bug 7: a rule that lacks a group that exists and is used by
// another rule says so, instead of "no target group tagged".
func TestMissingGroupThatExistsIsNamed(t *testing.T) {
	x := newFixture(t)
	extra := x.f.AddTargetGroup(x.lb, "k8s-demo-mirror-5e6f", map[string]string{ResourceTag: "demo/web-web-mirror:80"})
	x.setHealth(extra, []Target{{"127.0.1.9", 8080}}, elbv2.StateHealthy, "")
	in := x.input(20, 70)
	in.Destinations = append(in.Destinations, Destination{Role: RoleAdditional, Service: "web-mirror", Weight: 10, Targets: []Target{{"127.0.1.9", 8080}}})
	x.f.SetRule(x.http, "3", tg(x.canary, 20), tg(x.stable, 70))
	x.f.SetRule(x.https, "3", tg(x.canary, 20), tg(x.stable, 70), tg(extra, 10))
	res := x.verify(t, in)
	wantResult(t, res, Pending, ReasonWeightMismatch,
		"listener :80 rule 3: canary k8s-demo-canary-1a2b weight 20 of 90 (22.2%), want 20.0%",
		"additional web-mirror:80 not in the rule (its target group k8s-demo-mirror-5e6f exists and is used by listener :443 rule 3), want 10")
	if strings.Contains(res.Message, "no target group tagged") {
		t.Fatalf("diagnosed as missing: %s", res.Message)
	}
	// A group that really does not exist is still diagnosed as such.
	in.Destinations[2].Service = "web-nothing"
	wantResult(t, x.verify(t, in), Pending, ReasonWeightMismatch,
		"additional web-nothing:80 not in the rule (no target group tagged ingress.k8s.aws/resource=demo/web-web-nothing:80 or named by a TargetGroupBinding of it), want 10")
}

func xCanaryHeader() []elbv2.RuleCondition {
	return []elbv2.RuleCondition{
		{Field: elbv2.ConditionPathPattern, Values: []string{"/*"}},
		{Field: elbv2.ConditionHTTPHeader, HTTPHeaderName: "x-canary", Values: []string{"yes", "1"}},
	}
}

func canaryRoute(x *fixture, targets []Target) Route {
	return Route{Name: "canary-header", Headers: []HeaderMatch{{Name: "X-Canary", Values: []string{"1", "yes"}}},
		Destinations: []Destination{{Role: RoleCanary, Service: "web-canary", Weight: 100, Targets: targets}}}
}

// setRoute writes route R's rule (priority 1, the canary alone) on the listeners.
func (x *fixture) setRoute(listeners []string, fwd ...elbv2.WeightedTargetGroup) {
	for _, l := range listeners {
		x.f.SetRule(l, "1", fwd...)
		x.f.SetRuleConditions(l, "1", xCanaryHeader()...)
	}
}

// Header routes: verified in the same Input as the action, against their
// own destinations; present on every listener of the action; removed when
// asked.
func TestHeaderRoutes(t *testing.T) {
	x := newFixture(t)
	x.setWeights(0, 100)
	in := x.input(0, 100)
	in.Routes = []Route{canaryRoute(x, canaryTargets)}

	wantResult(t, x.verify(t, in), Pending, ReasonRulesNotFound, "route canary-header: no rule on the 2 listener(s) of load balancer k8s-demo-web has the http-header condition X-Canary=1|yes")

	x.setRoute([]string{x.http}, tg(x.canary, 1))
	wantResult(t, x.verify(t, in), Pending, ReasonRulesNotFound, "route canary-header: listener :443 has rules of the action web-stable but none of the route yet")

	x.setRoute([]string{x.http, x.https}, tg(x.canary, 1))
	x.setHealth(x.canary, canaryTargets, elbv2.StateInitial, "Elb.InitialHealthChecking")
	res := x.verify(t, in)
	// The canary group is at 0 in the action, but the route sends it all
	// header traffic: its targets are judged.
	wantResult(t, res, Pending, ReasonTargetsNotHealthy, "route canary-header: canary k8s-demo-canary-1a2b targets 0/3 healthy")
	if g := targetGroupObs(res, "canary-header", RoleCanary, ""); g == nil || !g.HealthChecked || len(g.Rules) != 2 {
		t.Fatalf("route observation: %+v", g)
	}
	if g := targetGroupObs(res, "", RoleCanary, ""); g == nil || g.HealthChecked {
		t.Fatalf("the action's canary at 0 was judged: %+v", g)
	}

	x.setHealth(x.canary, canaryTargets, elbv2.StateHealthy, "")
	wantResult(t, x.verify(t, in), Verified, ReasonWeightsVerified,
		"weights canary 0, stable 100 verified on 2 rule(s) (:80 rule 3, :443 rule 3); route canary-header: canary 100 verified on 2 rule(s) (:80 rule 1, :443 rule 1)",
		"route canary-header canary 3/3")

	// The route forwarding elsewhere is wrong, with its own diagnosis.
	x.setRoute([]string{x.https}, tg(x.stable, 1))
	wantResult(t, x.verify(t, in), Pending, ReasonWeightMismatch,
		"route canary-header: listener :443 rule 1: canary web-canary:80 not in the rule (its target group k8s-demo-canary-1a2b exists and is used by listener :80 rule 1), want 100, target group k8s-demo-stable-3c4d (not tagged for this route) weight 1, want 0")

	// Removing the route: verified only once no rule of it remains.
	in.Routes[0].Destinations = nil
	wantResult(t, x.verify(t, in), Pending, ReasonWeightMismatch,
		"route canary-header: not removed yet: listener :80 rule 1 (k8s-demo-canary-1a2b 1), listener :443 rule 1 (k8s-demo-stable-3c4d 1); want no rule of the route")
	x.f.DeleteRule(x.http, "1")
	x.f.DeleteRule(x.https, "1")
	wantResult(t, x.verify(t, in), Verified, ReasonWeightsVerified, "route canary-header removed")
}

// A header route of the input claims its rule even when it forwards to the
// groups of two services; a rule with other header values is not the route's.
func TestRouteIdentifiedByItsHeaderCondition(t *testing.T) {
	x := newFixture(t)
	in := x.input(25, 75)
	in.Routes = []Route{canaryRoute(x, canaryTargets)}
	x.setRoute([]string{x.http, x.https}, tg(x.canary, 1))
	// Another header value: an unrelated rule, seen as a rule of the action (it forwards to two of its groups) and judged.
	x.f.SetRule(x.http, "2", tg(x.canary, 50), tg(x.stable, 50))
	x.f.SetRuleConditions(x.http, "2", elbv2.RuleCondition{Field: elbv2.ConditionHTTPHeader, HTTPHeaderName: "X-Canary", Values: []string{"2"}})
	wantResult(t, x.verify(t, in), Pending, ReasonWeightMismatch, "listener :80 rule 2: canary k8s-demo-canary-1a2b weight 50, want 25")
	x.f.DeleteRule(x.http, "2")
	wantResult(t, x.verify(t, in), Verified, ReasonWeightsVerified)
}

// Plain backends: no action, one service whose paths the LBC forwards to
// its group alone (a single TargetGroupArn or a ForwardConfig with one group).
func TestPlainBackend(t *testing.T) {
	x := newFixture(t)
	active := x.f.AddTargetGroup(x.lb, "k8s-demo-active-7a7a", map[string]string{ResourceTag: "demo/web-web-active:80"})
	preview := x.f.AddTargetGroup(x.lb, "k8s-demo-preview-8b8b", map[string]string{ResourceTag: "demo/web-web-preview:80"})
	green := []Target{{"127.0.2.1", 8080}, {"127.0.2.2", 8080}}
	x.f.SetRuleTargetGroup(x.http, "3", active)
	x.f.SetRule(x.https, "3", tg(active, 1))
	x.f.SetRuleTargetGroup(x.http, "4", preview) // the preview host: not this backend's
	x.setHealth(active, green, elbv2.StateHealthy, "")
	x.f.SetTargetHealth(preview)
	in := Input{Namespace: "demo", Ingresses: []Ingress{{Name: "web", Hostname: x.dns}}, ServicePort: "80",
		Destinations: []Destination{{Role: RoleActive, Service: "web-active", Weight: 100, Targets: green}},
		DesiredAt:    x.now.Add(-time.Second)}
	res := x.verify(t, in)
	wantResult(t, res, Verified, ReasonWeightsVerified, "active 100 verified on 2 rule(s) (:80 rule 3, :443 rule 3)", "active 2/2")
	if n := x.f.Calls(elbv2.OpDescribeTargetHealth); n != 1 {
		t.Fatalf("DescribeTargetHealth calls = %d, want 1 (the active group)", n)
	}

	// The new pods are not healthy yet.
	x.setHealth(active, green, elbv2.StateInitial, "Elb.InitialHealthChecking")
	wantResult(t, x.verify(t, in), Pending, ReasonTargetsNotHealthy, "active k8s-demo-active-7a7a targets 0/2 healthy")
	x.setHealth(active, green, elbv2.StateHealthy, "")

	// A rule that splits the backend's traffic with another group is wrong.
	x.f.SetRule(x.https, "3", tg(active, 1), tg(preview, 1))
	wantResult(t, x.verify(t, in), Pending, ReasonWeightMismatch,
		"listener :443 rule 3: active k8s-demo-active-7a7a weight 1 of 2 (50.0%), want 100.0%, target group k8s-demo-preview-8b8b (not tagged for this backend) weight 1, want 0")
	x.f.SetRule(x.https, "3", tg(active, 1), tg(preview, 0))
	wantResult(t, x.verify(t, in), Verified, ReasonWeightsVerified)

	// No rule forwards to the backend yet.
	x.f.SetRuleTargetGroup(x.http, "3", preview)
	x.f.SetRuleTargetGroup(x.https, "3", preview)
	wantResult(t, x.verify(t, in), Pending, ReasonRulesNotFound, "forwards to a target group of ingress demo/web backend web-active:80")

	// The mode is explicit: several destinations need an action name.
	in.Destinations = append(in.Destinations, Destination{Role: RolePreview, Service: "web-preview", Weight: 0})
	wantResult(t, x.verify(t, in), Failed, ReasonInvalidInput, "no action name, which selects the plain-backend mode, but 2 destinations given")
}

// Issue 12, bug 3: a listener added shortly before the change is checked.
// The listener list is cached for the structure TTL, so without a fresh read
// an abort verifies while :8443 still sends 25 % to the canary.
func TestListenerAddedBeforeTheChangeIsChecked(t *testing.T) {
	x := newFixture(t)
	clk := x.now
	now := func() time.Time { return clk }
	// Default TTLs: listeners cached for 10 s, rules and health for 2 s.
	p := elbv2.NewWithAPI(x.f, elbv2.Options{Region: "us-east-1", RateLimit: 1e6, Burst: 1e6, Now: now})
	v := New(p, Options{Now: now})
	check := func(in Input) Result {
		res := v.Verify(context.Background(), in)
		t.Logf("%s %s: %s", res.Outcome, res.Reason, res.Message)
		return res
	}
	in := x.input(25, 75)
	wantResult(t, check(in), Verified, ReasonWeightsVerified)
	listBefore := x.f.Calls(elbv2.OpDescribeListeners)

	clk = clk.Add(time.Second)
	l8443 := x.f.AddListener(x.lb, 8443, "HTTPS")
	x.f.SetRule(l8443, "3", tg(x.canary, 25), tg(x.stable, 75))
	clk = clk.Add(time.Second)
	x.setWeights(0, 100) // the abort reaches :80 and :443 only
	abort := x.input(0, 100)
	abort.DesiredAt = clk
	clk = clk.Add(time.Second)
	wantResult(t, check(abort), Pending, ReasonWeightMismatch, "listener :8443 rule 3: canary k8s-demo-canary-1a2b weight 25, want 0")
	if n := x.f.Calls(elbv2.OpDescribeListeners) - listBefore; n != 1 {
		t.Fatalf("DescribeListeners calls for the abort = %d, want 1", n)
	}
	x.f.SetRule(l8443, "3", tg(x.canary, 0), tg(x.stable, 100))
	clk = clk.Add(3 * time.Second)
	wantResult(t, check(abort), Verified, ReasonWeightsVerified, ":8443 rule 3")
	// A check while the weights are still pending does not pay for a fresh
	// listener list: only one whose rules match (it may say Verified) does.
	x.setWeights(10, 90)
	step := x.input(10, 90)
	step.DesiredAt = clk
	x.setListenerWeights(x.https, 0, 100)
	x.f.SetRule(l8443, "3", tg(x.canary, 10), tg(x.stable, 90))
	listBefore = x.f.Calls(elbv2.OpDescribeListeners)
	clk = clk.Add(3 * time.Second)
	wantResult(t, check(step), Pending, ReasonWeightMismatch)
	if n := x.f.Calls(elbv2.OpDescribeListeners) - listBefore; n != 0 {
		t.Fatalf("a pending check read the listeners %d times", n)
	}
	x.setListenerWeights(x.https, 10, 90)
	clk = clk.Add(3 * time.Second)
	wantResult(t, check(step), Verified, ReasonWeightsVerified)
	if n := x.f.Calls(elbv2.OpDescribeListeners) - listBefore; n != 1 {
		t.Fatalf("DescribeListeners calls = %d, want 1 (for the check whose rules match)", n)
	}
}

// Issue 16, item 13: the load balancer controller puts every path of an
// ingress on all its listeners, so a listener with rules of this ingress
// (to one service of the action, or of a route) but none of the action,
// while another listener has them, has not been given the action yet. It
// is judged: Pending, naming the listener, until the action is there too.
func TestEveryListenerOfTheIngressIsJudged(t *testing.T) {
	for _, tc := range []struct {
		name        string
		in          func(x *fixture) Input
		applied     func(x *fixture) // the action on :80
		notYet      func(x *fixture) // :443 before the action reaches it
		want        string
		thenApplied func(x *fixture)
	}{
		{"a step: :443 still forwards to the stable group alone", func(x *fixture) Input { return x.input(25, 75) },
			func(x *fixture) { x.setListenerWeights(x.http, 25, 75) },
			func(x *fixture) { x.f.SetRule(x.https, "3", tg(x.stable, 1)) },
			"listener :443 has no rule of the action web-stable yet while listener :80 has: listener :443 rule 3 (stable k8s-demo-stable-3c4d 1)",
			func(x *fixture) { x.setListenerWeights(x.https, 25, 75) }},
		{"the legacy single-group shape", func(x *fixture) Input { return x.input(25, 75) },
			func(x *fixture) { x.setListenerWeights(x.http, 25, 75) },
			func(x *fixture) { x.f.SetRuleTargetGroup(x.https, "3", x.stable) },
			"listener :443 has no rule of the action web-stable yet",
			func(x *fixture) { x.setListenerWeights(x.https, 25, 75) }},
		{"an abort: :443 still forwards everything to the canary", func(x *fixture) Input { return x.input(0, 100) },
			func(x *fixture) { x.setListenerWeights(x.http, 0, 100) },
			func(x *fixture) { x.f.SetRule(x.https, "3", tg(x.canary, 1)) },
			"listener :443 has no rule of the action web-stable yet while listener :80 has: listener :443 rule 3 (canary k8s-demo-canary-1a2b 1)",
			func(x *fixture) { x.setListenerWeights(x.https, 0, 100) }},
		{"only the default backend on :443", func(x *fixture) Input { return x.input(25, 75) },
			func(x *fixture) {
				x.setListenerWeights(x.http, 25, 75)
				x.f.SetRule(x.http, "default", tg(x.stable, 1))
			},
			func(x *fixture) {
				x.f.DeleteRule(x.https, "3")
				x.f.SetRule(x.https, "default", tg(x.stable, 1))
			},
			"listener :443 has no rule of the action web-stable yet while listener :80 has: listener :443 default rule (stable k8s-demo-stable-3c4d 1)",
			func(x *fixture) { x.setListenerWeights(x.https, 25, 75) }},
		{"only the header route on :443", func(x *fixture) Input {
			in := x.input(0, 100)
			in.Routes = []Route{canaryRoute(x, canaryTargets)}
			return in
		},
			func(x *fixture) {
				x.setListenerWeights(x.http, 0, 100)
				x.setRoute([]string{x.http, x.https}, tg(x.canary, 1))
			},
			func(x *fixture) { x.f.DeleteRule(x.https, "3") },
			"listener :443 has no rule of the action web-stable yet while listener :80 has: listener :443 rule 1",
			func(x *fixture) { x.setListenerWeights(x.https, 0, 100) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x := newFixture(t)
			in := tc.in(x)
			tc.applied(x)
			tc.notYet(x)
			res := x.verify(t, in)
			wantResult(t, res, Pending, ReasonRulesNotFound, tc.want, "the load balancer controller puts every path of an ingress on all its listeners")
			if strings.Contains(res.Message, "listener :80 rule 3:") {
				t.Errorf("the listener that has the action is reported: %s", res.Message)
			}
			tc.thenApplied(x)
			wantResult(t, x.verify(t, in), Verified, ReasonWeightsVerified, ":80 rule 3, :443 rule 3")
		})
	}
}

// A listener whose rules forward to no group of this ingress's action or
// routes (another ingress of the group, a redirect) is not this ingress's:
// it sends nothing to the action's groups and is not judged.
func TestListenerWithoutRulesOfTheIngressIsNotJudged(t *testing.T) {
	x := newFixture(t)
	l8080 := x.f.AddListener(x.lb, 8080, "HTTP")
	other := x.f.AddTargetGroup(x.lb, "k8s-demo-other-9z9z", map[string]string{ResourceTag: "demo/other-web-stable:80"})
	x.f.SetRule(l8080, "1", tg(other, 1))
	x.f.SetRule(l8080, "default", tg(other, 1))
	wantResult(t, x.verify(t, x.input(25, 75)), Verified, ReasonWeightsVerified, "verified on 2 rule(s) (:80 rule 3, :443 rule 3)")
}
