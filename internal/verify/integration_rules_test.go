package verify

// Integration tests of issue 12's cases and of the controller's additions:
// the verifier against elbsim over HTTP with the real SDK client, with rules
// built the way the AWS Load Balancer Controller builds them.

import (
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awselbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/albrollouts/albrollouts/internal/elbv2"
	"github.com/albrollouts/albrollouts/internal/sim/elbsim"
)

func (s *sim) addListener(a *alb, port int32) string {
	s.t.Helper()
	l, err := s.api.CreateListener(s.ctx(), &awselbv2.CreateListenerInput{
		LoadBalancerArn: aws.String(a.arn), Port: aws.Int32(port), Protocol: types.ProtocolEnumHttp,
		DefaultActions: []types.Action{{Type: types.ActionTypeEnumFixedResponse, FixedResponseConfig: &types.FixedResponseActionConfig{StatusCode: aws.String("404")}}},
	})
	if err != nil {
		s.t.Fatalf("CreateListener :%d: %v", port, err)
	}
	a.listeners[port] = *l.Listeners[0].ListenerArn
	return a.listeners[port]
}

// createHeaderRule is the rule the LBC builds for a header route: path /*
// and the http-header condition of conditions.<route>, forwarding to one group.
func (s *sim) createHeaderRule(listener string, priority int32, header string, values []string, fwd ...elbv2.WeightedTargetGroup) string {
	s.t.Helper()
	out, err := s.api.CreateRule(s.ctx(), &awselbv2.CreateRuleInput{
		ListenerArn: aws.String(listener), Priority: aws.Int32(priority), Actions: forwardAction(fwd),
		Conditions: []types.RuleCondition{
			{Field: aws.String("path-pattern"), PathPatternConfig: &types.PathPatternConditionConfig{Values: []string{"/*"}}},
			{Field: aws.String("http-header"), HttpHeaderConfig: &types.HttpHeaderConditionConfig{HttpHeaderName: aws.String(header), Values: values}},
		},
	})
	if err != nil {
		s.t.Fatalf("CreateRule: %v", err)
	}
	return *out.Rules[0].RuleArn
}

// createPlainRule is the rule of an Ingress path whose backend is a Service:
// the legacy single-group forward.
func (s *sim) createPlainRule(listener string, priority int32, tg string) string {
	s.t.Helper()
	out, err := s.api.CreateRule(s.ctx(), &awselbv2.CreateRuleInput{
		ListenerArn: aws.String(listener), Priority: aws.Int32(priority),
		Actions:    []types.Action{{Type: types.ActionTypeEnumForward, TargetGroupArn: aws.String(tg)}},
		Conditions: []types.RuleCondition{{Field: aws.String("host-header"), HostHeaderConfig: &types.HostHeaderConditionConfig{Values: []string{"app.example.com"}}}},
	})
	if err != nil {
		s.t.Fatalf("CreateRule: %v", err)
	}
	return *out.Rules[0].RuleArn
}

func (s *sim) deleteRule(rule string) {
	s.t.Helper()
	if _, err := s.api.DeleteRule(s.ctx(), &awselbv2.DeleteRuleInput{RuleArn: aws.String(rule)}); err != nil {
		s.t.Fatalf("DeleteRule: %v", err)
	}
}

func (s *sim) setDefaultForward(listener, tg string) {
	s.t.Helper()
	if _, err := s.api.ModifyListener(s.ctx(), &awselbv2.ModifyListenerInput{ListenerArn: aws.String(listener),
		DefaultActions: []types.Action{{Type: types.ActionTypeEnumForward, TargetGroupArn: aws.String(tg)}}}); err != nil {
		s.t.Fatalf("ModifyListener: %v", err)
	}
}

// Bug 1: canary-A 10 and canary-B 15 both map to the canary; A is empty.
func TestSimEveryGroupOfADestinationIsJudged(t *testing.T) {
	s := startSim(t, elbsim.Options{})
	a := s.createALB("k8s-demo-web", 80)
	r := s.createRollout(a, "web", 1, backends(t, 1), backends(t, 1))
	b := s.createTG("k8s-web-canary-b", ResourceTagValue("demo", "web", "web-canary", "80"))
	s.register(b, r.canaryTargets...)
	s.modifyRule(r.rules[80], elbv2.WeightedTargetGroup{ARN: r.canary, Weight: 10}, elbv2.WeightedTargetGroup{ARN: b, Weight: 15},
		elbv2.WeightedTargetGroup{ARN: r.stable, Weight: 75})
	s.deregister(r.canary, r.canaryTargets...)
	v, _ := s.newVerifier(elbv2.Options{})
	in := r.input(25, 75, time.Now())
	res := pollVerify(t, v, in, within, pendingWith("canary k8s-web-canary targets 0/1 healthy"))
	if res.Reason != ReasonTargetsNotHealthy {
		t.Fatalf("reason %s", res.Reason)
	}
	// Re-registered: draining ends only after the deregistration delay, so
	// use another healthy target for group A.
	other := backends(t, 1)
	s.register(r.canary, other...)
	r.canaryTargets = nil // any healthy target will do
	res = pollVerify(t, v, r.input(25, 75, time.Now()), within, outcomeIs(Verified, ""))
	if !strings.Contains(res.Message, "canary 1/1, canary 1/1") {
		t.Fatalf("both canary groups not judged: %s", res.Message)
	}
}

// Bug 3: a listener added shortly before an abort is checked by the abort's
// verification, although the listener list is cached for 10 s.
func TestSimListenerAddedBeforeTheChange(t *testing.T) {
	s := startSim(t, elbsim.Options{})
	a := s.createALB("k8s-demo-web", 80)
	r := s.createRollout(a, "web", 1, backends(t, 1), backends(t, 1))
	s.setWeights(r, 25, 75)
	v, _ := s.newVerifier(elbv2.Options{StructureTTL: time.Minute})
	pollVerify(t, v, r.input(25, 75, time.Now()), within, outcomeIs(Verified, ""))

	l := s.addListener(&a, 8443)
	rule := s.createRule(l, 1, elbv2.WeightedTargetGroup{ARN: r.canary, Weight: 25}, elbv2.WeightedTargetGroup{ARN: r.stable, Weight: 75})
	desiredAt := time.Now()
	s.setWeights(r, 0, 100) // the abort: :80 only
	in := r.input(0, 100, desiredAt)
	res := pollVerify(t, v, in, within, func(res Result) bool { return res.Outcome != Pending || strings.Contains(res.Message, ":8443") })
	wantResult(t, res, Pending, ReasonWeightMismatch, "listener :8443 rule 1: canary k8s-web-canary weight 25, want 0")
	s.modifyRule(rule, elbv2.WeightedTargetGroup{ARN: r.canary, Weight: 0}, elbv2.WeightedTargetGroup{ARN: r.stable, Weight: 100})
	res = pollVerify(t, v, in, within, outcomeIs(Verified, ""))
	if !strings.Contains(res.Message, ":8443 rule 1") {
		t.Fatalf("the new listener is not in the verified rules: %s", res.Message)
	}
}

// Bug 4 and header routes: a default backend to stable and a header route to
// the canary, alongside the action, as the LBC builds them.
func TestSimHeaderRouteAndDefaultBackend(t *testing.T) {
	s := startSim(t, elbsim.Options{})
	a := s.createALB("k8s-demo-web", 80, 443)
	r := s.createRollout(a, "web", 10, backends(t, 2), backends(t, 2))
	s.setWeights(r, 0, 100)
	for _, l := range a.listeners {
		s.setDefaultForward(l, r.stable)
	}
	v, _ := s.newVerifier(elbv2.Options{})
	// Before the controller names the route, its rule is another rule: reported, not judged.
	routeRules := map[int32]string{}
	for port, l := range a.listeners {
		routeRules[port] = s.createHeaderRule(l, 1, "X-Canary", []string{"always"}, elbv2.WeightedTargetGroup{ARN: r.canary, Weight: 1})
	}
	res := pollVerify(t, v, r.input(0, 100, time.Now()), within, outcomeIs(Verified, ""))
	if len(res.OtherRules) != 4 || !strings.Contains(res.Message, "listener :80 rule 1 (canary k8s-web-canary 1)") || !strings.Contains(res.Message, "listener :443 default rule (stable k8s-web-stable 1)") {
		t.Fatalf("other rules %+v: %s", res.OtherRules, res.Message)
	}

	route := Route{Name: "header-canary", Headers: []HeaderMatch{{Name: "x-canary", Values: []string{"always"}}},
		Destinations: []Destination{{Role: RoleCanary, Service: "web-canary", Weight: 100, Targets: r.canaryTargets}}}
	in := r.input(0, 100, time.Now())
	in.Routes = []Route{route}
	res = pollVerify(t, v, in, within, outcomeIs(Verified, ""))
	for _, want := range []string{"route header-canary: canary 100 verified on 2 rule(s) (:80 rule 1, :443 rule 1)", "route header-canary canary 2/2"} {
		if !strings.Contains(res.Message, want) {
			t.Fatalf("message lacks %q: %s", want, res.Message)
		}
	}
	if len(res.OtherRules) != 2 {
		t.Fatalf("other rules now %+v, want the two default rules", res.OtherRules)
	}

	// The route is removed: verified once its rules are gone from every listener.
	in = r.input(0, 100, time.Now())
	in.Routes = []Route{{Name: route.Name, Headers: route.Headers}}
	s.deleteRule(routeRules[80])
	pollVerify(t, v, in, within, pendingWith("route header-canary: not removed yet: listener :443 rule 1"))
	s.deleteRule(routeRules[443])
	res = pollVerify(t, v, in, within, outcomeIs(Verified, ""))
	if !strings.Contains(res.Message, "route header-canary removed") {
		t.Fatalf("message: %s", res.Message)
	}
}

// Plain backend (blue-green, Service-selector mode): the rules forward to the
// active service's group alone; its new targets must be healthy.
func TestSimPlainBackend(t *testing.T) {
	s := startSim(t, elbsim.Options{})
	a := s.createALB("k8s-demo-web", 80)
	active := s.createTG("k8s-web-active", ResourceTagValue("demo", "web", "web-active", "http"))
	preview := s.createTG("k8s-web-preview", ResourceTagValue("demo", "web", "web-preview", "http"))
	s.createPlainRule(a.listeners[80], 1, active)
	s.setDefaultForward(a.listeners[80], active)
	s.createPlainRule(a.listeners[80], 2, preview)
	blue := backends(t, 1)
	s.register(active, blue...)
	v, _ := s.newVerifier(elbv2.Options{})
	in := func(targets []Target) Input {
		return Input{Namespace: "demo", Ingresses: []Ingress{{Name: "web", Hostname: a.dns}}, ServicePort: "http",
			Destinations: []Destination{{Role: RoleActive, Service: "web-active", Weight: 100, Targets: targets}},
			DesiredAt:    time.Now(), Timeout: time.Minute}
	}
	res := pollVerify(t, v, in(blue), within, outcomeIs(Verified, ""))
	if !strings.Contains(res.Message, "active 100 verified on 2 rule(s) (:80 rule 1, :80 default rule)") {
		t.Fatalf("message: %s", res.Message)
	}
	// The switch: the active service selects the green pods, the binding
	// registers them; until they pass the health check, not verified.
	greenBackends := []*backend{newBackend(t)}
	greenBackends[0].healthy.Store(false)
	green := []Target{greenBackends[0].target}
	s.register(active, green...)
	pollVerify(t, v, in(green), within, pendingWith("active k8s-web-active targets 0/1 healthy ("+green[0].String()))
	greenBackends[0].healthy.Store(true)
	res = pollVerify(t, v, in(green), within, outcomeIs(Verified, ""))
	lbs := res.LoadBalancers
	if len(lbs) != 1 || lbs[0].FullName == "" || len(lbs[0].TargetGroups) != 1 || lbs[0].TargetGroups[0].Role != RoleActive ||
		!strings.HasPrefix(lbs[0].TargetGroups[0].FullName, "targetgroup/k8s-web-active/") {
		t.Fatalf("load balancers %+v", lbs)
	}
}

// Health before weight: the canary group at weight 0, its new pods failing
// the ALB's health check.
func TestSimRequireHealthy(t *testing.T) {
	s := startSim(t, elbsim.Options{})
	a := s.createALB("k8s-demo-web", 80)
	canary := newBackend(t)
	canary.healthy.Store(false)
	r := s.createRollout(a, "web", 1, []Target{canary.target}, backends(t, 1))
	v, _ := s.newVerifier(elbv2.Options{})
	in := r.input(0, 100, time.Now())
	pollVerify(t, v, in, within, outcomeIs(Verified, "")) // weight 0 may hold anything
	in.Destinations[0].RequireHealthy = true
	res := pollVerify(t, v, in, within, pendingWith("canary k8s-web-canary targets 0/1 healthy ("+canary.target.String()+" unhealthy Target.ResponseCodeMismatch)"))
	if res.Reason != ReasonTargetsNotHealthy {
		t.Fatalf("reason %s", res.Reason)
	}
	canary.healthy.Store(true)
	pollVerify(t, v, r.input(0, 100, time.Now()), within, outcomeIs(Verified, ""))
	in = r.input(0, 100, time.Now())
	in.Destinations[0].RequireHealthy = true
	pollVerify(t, v, in, within, outcomeIs(Verified, ""))
}

// Issue 16, item 13: the action reaches :80 first; :443's rule for the same
// path still forwards to the stable group alone. Not verified, naming :443,
// until the load balancer controller applies the action there too.
func TestSimListenerWithoutTheAction(t *testing.T) {
	s := startSim(t, elbsim.Options{})
	a := s.createALB("k8s-demo-web", 80)
	r := s.createRollout(a, "web", 1, backends(t, 1), backends(t, 1))
	l443 := s.addListener(&a, 443)
	rule := s.createRule(l443, 1, elbv2.WeightedTargetGroup{ARN: r.stable, Weight: 1})
	s.setWeights(r, 25, 75) // :80 only: r.rules was built before :443
	v, _ := s.newVerifier(elbv2.Options{})
	in := r.input(25, 75, time.Now())
	res := pollVerify(t, v, in, within, func(res Result) bool { return res.Outcome != Pending || strings.Contains(res.Message, ":443") })
	wantResult(t, res, Pending, ReasonRulesNotFound, "listener :443 has no rule of the action web-stable yet while listener :80 has: listener :443 rule 1 (stable k8s-web-stable 1)")
	s.modifyRule(rule, elbv2.WeightedTargetGroup{ARN: r.canary, Weight: 25}, elbv2.WeightedTargetGroup{ARN: r.stable, Weight: 75})
	res = pollVerify(t, v, in, within, outcomeIs(Verified, ""))
	if !strings.Contains(res.Message, ":80 rule 1, :443 rule 1") {
		t.Fatalf("both listeners not in the verified rules: %s", res.Message)
	}
}
