package elbsim_test

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/albrollouts/albrollouts/internal/sim/elbsim"
	"github.com/albrollouts/albrollouts/internal/sim/poll"
)

var (
	lbARNRE       = regexp.MustCompile(`^arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/shop/[0-9a-f]{16}$`)
	dnsRE         = regexp.MustCompile(`^shop-\d{10}\.us-east-1\.elb\.amazonaws\.com$`)
	tgARNRE       = regexp.MustCompile(`^arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/blue/[0-9a-f]{16}$`)
	listenerARNRE = regexp.MustCompile(`^arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/shop/[0-9a-f]{16}/[0-9a-f]{16}$`)
	ruleARNRE     = regexp.MustCompile(`^arn:aws:elasticloadbalancing:us-east-1:123456789012:listener-rule/app/shop/[0-9a-f]{16}/[0-9a-f]{16}/[0-9a-f]{16}$`)
)

// TestEveryAction walks through all 24 Actions with the real SDK and checks what they answer.
func TestEveryAction(t *testing.T) {
	e := newEnv(t, elbsim.Options{})
	c, ctx := e.c, e.ctx

	// CreateLoadBalancer / DescribeLoadBalancers
	lb := e.lb("shop")
	if !lbARNRE.MatchString(*lb.LoadBalancerArn) || !dnsRE.MatchString(*lb.DNSName) {
		t.Fatalf("LB ARN %q / DNS %q do not have AWS's formats", *lb.LoadBalancerArn, *lb.DNSName)
	}
	if lb.State.Code != types.LoadBalancerStateEnumActive || lb.Type != types.LoadBalancerTypeEnumApplication ||
		lb.Scheme != types.LoadBalancerSchemeEnumInternetFacing || *lb.CanonicalHostedZoneId != "Z35SXDOTRQ7X7K" || len(lb.AvailabilityZones) != 2 {
		t.Fatalf("unexpected LB %+v", lb)
	}
	internal, err := c.CreateLoadBalancer(ctx, &elbv2.CreateLoadBalancerInput{Name: aws.String("back"), Scheme: types.LoadBalancerSchemeEnumInternal})
	if err != nil || !regexp.MustCompile(`^internal-back-\d+\.us-east-1\.elb\.amazonaws\.com$`).MatchString(*internal.LoadBalancers[0].DNSName) {
		t.Fatalf("internal LB: %v %v", err, internal)
	}
	dlb, err := c.DescribeLoadBalancers(ctx, &elbv2.DescribeLoadBalancersInput{Names: []string{"shop"}})
	if err != nil || len(dlb.LoadBalancers) != 1 || *dlb.LoadBalancers[0].LoadBalancerArn != *lb.LoadBalancerArn {
		t.Fatalf("DescribeLoadBalancers by name: %v %+v", err, dlb)
	}
	dlb, err = c.DescribeLoadBalancers(ctx, &elbv2.DescribeLoadBalancersInput{LoadBalancerArns: []string{*lb.LoadBalancerArn}})
	if err != nil || len(dlb.LoadBalancers) != 1 || *dlb.LoadBalancers[0].DNSName != *lb.DNSName {
		t.Fatalf("DescribeLoadBalancers by ARN: %v %+v", err, dlb)
	}

	// CreateTargetGroup: AWS's defaults for an HTTP target group of an ALB.
	blue := e.tg("blue", fastChecks)
	green := e.tg("green")
	if !tgARNRE.MatchString(*blue.TargetGroupArn) {
		t.Fatalf("TG ARN %q", *blue.TargetGroupArn)
	}
	if *green.HealthCheckIntervalSeconds != 30 || *green.HealthCheckTimeoutSeconds != 5 || *green.HealthyThresholdCount != 5 ||
		*green.UnhealthyThresholdCount != 2 || *green.Matcher.HttpCode != "200" || *green.HealthCheckPath != "/" ||
		*green.HealthCheckPort != "traffic-port" || !*green.HealthCheckEnabled || green.TargetType != types.TargetTypeEnumIp {
		t.Fatalf("target group defaults: %+v", green)
	}
	again := e.tg("green") // same name and settings: the existing group
	if *again.TargetGroupArn != *green.TargetGroupArn {
		t.Fatalf("idempotent CreateTargetGroup returned %s, want %s", *again.TargetGroupArn, *green.TargetGroupArn)
	}

	// ModifyTargetGroup / DescribeTargetGroups
	mtg, err := c.ModifyTargetGroup(ctx, &elbv2.ModifyTargetGroupInput{TargetGroupArn: green.TargetGroupArn,
		HealthCheckPath: aws.String("/ready"), Matcher: &types.Matcher{HttpCode: aws.String("200-299")}, HealthyThresholdCount: aws.Int32(3)})
	if err != nil || *mtg.TargetGroups[0].HealthCheckPath != "/ready" || *mtg.TargetGroups[0].Matcher.HttpCode != "200-299" || *mtg.TargetGroups[0].HealthyThresholdCount != 3 {
		t.Fatalf("ModifyTargetGroup: %v %+v", err, mtg)
	}
	dtg, err := c.DescribeTargetGroups(ctx, &elbv2.DescribeTargetGroupsInput{Names: []string{"green", "blue"}})
	if err != nil || len(dtg.TargetGroups) != 2 || *dtg.TargetGroups[0].TargetGroupName != "blue" || len(dtg.TargetGroups[0].LoadBalancerArns) != 0 {
		t.Fatalf("DescribeTargetGroups: %v %+v", err, dtg)
	}

	// DescribeTargetGroupAttributes / ModifyTargetGroupAttributes
	attrs, err := c.DescribeTargetGroupAttributes(ctx, &elbv2.DescribeTargetGroupAttributesInput{TargetGroupArn: blue.TargetGroupArn})
	if err != nil || attr(attrs.Attributes, "deregistration_delay.timeout_seconds") != "300" || attr(attrs.Attributes, "stickiness.enabled") != "false" {
		t.Fatalf("DescribeTargetGroupAttributes: %v %+v", err, attrs)
	}
	mattrs, err := c.ModifyTargetGroupAttributes(ctx, &elbv2.ModifyTargetGroupAttributesInput{TargetGroupArn: blue.TargetGroupArn,
		Attributes: []types.TargetGroupAttribute{{Key: aws.String("deregistration_delay.timeout_seconds"), Value: aws.String("3600")}}})
	if err != nil || attr(mattrs.Attributes, "deregistration_delay.timeout_seconds") != "3600" || len(mattrs.Attributes) != len(attrs.Attributes) {
		t.Fatalf("ModifyTargetGroupAttributes: %v %+v", err, mattrs)
	}

	// CreateListener / DescribeListeners / ModifyListener
	l := e.listener(lb.LoadBalancerArn, 80, types.Action{Type: types.ActionTypeEnumForward, TargetGroupArn: blue.TargetGroupArn})
	if !listenerARNRE.MatchString(*l.ListenerArn) || *l.Port != 80 || l.Protocol != types.ProtocolEnumHttp {
		t.Fatalf("listener %+v", l)
	}
	// A plain forward is answered with its ForwardConfig, as AWS does.
	da := l.DefaultActions[0]
	if *da.TargetGroupArn != *blue.TargetGroupArn || len(da.ForwardConfig.TargetGroups) != 1 || *da.ForwardConfig.TargetGroups[0].Weight != 1 || *da.Order != 1 {
		t.Fatalf("default action %+v", da)
	}
	dl, err := c.DescribeListeners(ctx, &elbv2.DescribeListenersInput{LoadBalancerArn: lb.LoadBalancerArn})
	if err != nil || len(dl.Listeners) != 1 || *dl.Listeners[0].ListenerArn != *l.ListenerArn {
		t.Fatalf("DescribeListeners: %v %+v", err, dl)
	}
	ml, err := c.ModifyListener(ctx, &elbv2.ModifyListenerInput{ListenerArn: l.ListenerArn,
		DefaultActions: []types.Action{forward(weighted{blue.TargetGroupArn, 100}, weighted{green.TargetGroupArn, 0})}})
	if err != nil || weights(ml.Listeners[0].DefaultActions[0]) != "100,0" {
		t.Fatalf("ModifyListener: %v %+v", err, ml)
	}

	// CreateRule / DescribeRules / ModifyRule / SetRulePriorities
	canary := forward(weighted{blue.TargetGroupArn, 90}, weighted{green.TargetGroupArn, 10})
	canary.ForwardConfig.TargetGroupStickinessConfig = &types.TargetGroupStickinessConfig{Enabled: aws.Bool(true), DurationSeconds: aws.Int32(300)}
	cr, err := c.CreateRule(ctx, &elbv2.CreateRuleInput{ListenerArn: l.ListenerArn, Priority: aws.Int32(10), Actions: []types.Action{canary},
		Conditions: []types.RuleCondition{{Field: aws.String("http-header"),
			HttpHeaderConfig: &types.HttpHeaderConditionConfig{HttpHeaderName: aws.String("X-Canary"), Values: []string{"1"}}}},
		Tags: []types.Tag{{Key: aws.String("team"), Value: aws.String("web")}}})
	if err != nil {
		t.Fatalf("CreateRule: %v", err)
	}
	rule := cr.Rules[0]
	if !ruleARNRE.MatchString(*rule.RuleArn) || *rule.Priority != "10" || *rule.IsDefault || weights(rule.Actions[0]) != "90,10" ||
		!*rule.Actions[0].ForwardConfig.TargetGroupStickinessConfig.Enabled || *rule.Conditions[0].HttpHeaderConfig.HttpHeaderName != "X-Canary" {
		t.Fatalf("CreateRule answered %+v", rule)
	}
	pr, err := c.CreateRule(ctx, &elbv2.CreateRuleInput{ListenerArn: l.ListenerArn, Priority: aws.Int32(5),
		Actions:    []types.Action{{Type: types.ActionTypeEnumFixedResponse, FixedResponseConfig: &types.FixedResponseActionConfig{StatusCode: aws.String("404"), ContentType: aws.String("text/plain"), MessageBody: aws.String("no")}}},
		Conditions: []types.RuleCondition{{Field: aws.String("path-pattern"), Values: []string{"/private/*"}}}})
	if err != nil {
		t.Fatalf("CreateRule fixed-response: %v", err)
	}
	if got := pr.Rules[0].Conditions[0]; got.PathPatternConfig == nil || got.PathPatternConfig.Values[0] != "/private/*" || got.Values[0] != "/private/*" {
		t.Fatalf("path-pattern condition answered as %+v", got)
	}
	if got := ruleOrder(t, e, l.ListenerArn); got != "5,10,default" {
		t.Fatalf("rules by priority: %s", got)
	}
	mr, err := c.ModifyRule(ctx, &elbv2.ModifyRuleInput{RuleArn: rule.RuleArn, Actions: []types.Action{forward(weighted{blue.TargetGroupArn, 50}, weighted{green.TargetGroupArn, 50})}})
	if err != nil || weights(mr.Rules[0].Actions[0]) != "50,50" || len(mr.Rules[0].Conditions) != 1 {
		t.Fatalf("ModifyRule: %v %+v", err, mr)
	}
	sp, err := c.SetRulePriorities(ctx, &elbv2.SetRulePrioritiesInput{RulePriorities: []types.RulePriorityPair{
		{RuleArn: rule.RuleArn, Priority: aws.Int32(1)}, {RuleArn: pr.Rules[0].RuleArn, Priority: aws.Int32(2)}}})
	if err != nil || len(sp.Rules) != 2 || *sp.Rules[0].Priority != "1" {
		t.Fatalf("SetRulePriorities: %v %+v", err, sp)
	}
	if got := ruleOrder(t, e, l.ListenerArn); got != "1,2,default" {
		t.Fatalf("rules after SetRulePriorities: %s", got)
	}
	dr, err := c.DescribeRules(ctx, &elbv2.DescribeRulesInput{RuleArns: []string{*rule.RuleArn}})
	if err != nil || len(dr.Rules) != 1 || weights(dr.Rules[0].Actions[0]) != "50,50" {
		t.Fatalf("DescribeRules by ARN: %v %+v", err, dr)
	}

	// The groups now belong to the load balancer.
	dtg, err = c.DescribeTargetGroups(ctx, &elbv2.DescribeTargetGroupsInput{LoadBalancerArn: lb.LoadBalancerArn})
	if err != nil || len(dtg.TargetGroups) != 2 || !slices.Equal(dtg.TargetGroups[1].LoadBalancerArns, []string{*lb.LoadBalancerArn}) {
		t.Fatalf("DescribeTargetGroups by LB: %v %+v", err, dtg)
	}

	// RegisterTargets / DescribeTargetHealth / DeregisterTargets, with a real backend.
	be := newBackend(t, "blue")
	e.register(blue.TargetGroupArn, be.target())
	e.waitHealthy(blue.TargetGroupArn, 1)
	th, err := c.DescribeTargetHealth(ctx, &elbv2.DescribeTargetHealthInput{TargetGroupArn: blue.TargetGroupArn, Targets: []types.TargetDescription{target("127.0.0.9", 1234)}})
	if err != nil || th.TargetHealthDescriptions[0].TargetHealth.State != types.TargetHealthStateEnumUnused ||
		th.TargetHealthDescriptions[0].TargetHealth.Reason != types.TargetHealthReasonEnumNotRegistered {
		t.Fatalf("unregistered target: %v %+v", err, th)
	}
	if _, err := c.DeregisterTargets(ctx, &elbv2.DeregisterTargetsInput{TargetGroupArn: blue.TargetGroupArn, Targets: []types.TargetDescription{be.target()}}); err != nil {
		t.Fatalf("DeregisterTargets: %v", err)
	}
	poll.Until(t, 30*time.Second, "the deregistered target to drain", func() bool {
		hs := e.health(blue.TargetGroupArn)
		return len(hs) == 1 && hs[0].TargetHealth.State == types.TargetHealthStateEnumDraining &&
			hs[0].TargetHealth.Reason == types.TargetHealthReasonEnumDeregistrationInProgress
	})

	// AddTags / RemoveTags / DescribeTags on all four kinds of resources.
	all := []string{*lb.LoadBalancerArn, *blue.TargetGroupArn, *l.ListenerArn, *rule.RuleArn}
	if _, err := c.AddTags(ctx, &elbv2.AddTagsInput{ResourceArns: all, Tags: []types.Tag{{Key: aws.String("env"), Value: aws.String("test")}, {Key: aws.String("tmp"), Value: aws.String("")}}}); err != nil {
		t.Fatalf("AddTags: %v", err)
	}
	if _, err := c.RemoveTags(ctx, &elbv2.RemoveTagsInput{ResourceArns: all, TagKeys: []string{"tmp"}}); err != nil {
		t.Fatalf("RemoveTags: %v", err)
	}
	dt, err := c.DescribeTags(ctx, &elbv2.DescribeTagsInput{ResourceArns: all})
	if err != nil || len(dt.TagDescriptions) != 4 {
		t.Fatalf("DescribeTags: %v %+v", err, dt)
	}
	for i, d := range dt.TagDescriptions {
		want := map[string]string{"env": "test"}
		if i == 3 {
			want["team"] = "web"
		}
		if got := tagMap(d.Tags); !mapsEqual(got, want) || *d.ResourceArn != all[i] {
			t.Fatalf("tags of %s: %v, want %v", *d.ResourceArn, got, want)
		}
	}

	// DeleteRule / DeleteListener / DeleteTargetGroup / DeleteLoadBalancer
	if _, err := c.DeleteTargetGroup(ctx, &elbv2.DeleteTargetGroupInput{TargetGroupArn: green.TargetGroupArn}); apiCode(err) != "ResourceInUse" {
		t.Fatalf("deleting a group in use: %v", err)
	}
	if _, err := c.DeleteRule(ctx, &elbv2.DeleteRuleInput{RuleArn: rule.RuleArn}); err != nil {
		t.Fatalf("DeleteRule: %v", err)
	}
	if _, err := c.DescribeRules(ctx, &elbv2.DescribeRulesInput{RuleArns: []string{*rule.RuleArn}}); apiCode(err) != "RuleNotFound" {
		t.Fatalf("deleted rule: %v", err)
	}
	if _, err := c.DeleteListener(ctx, &elbv2.DeleteListenerInput{ListenerArn: l.ListenerArn}); err != nil {
		t.Fatalf("DeleteListener: %v", err)
	}
	for _, tg := range []*string{blue.TargetGroupArn, green.TargetGroupArn} {
		if _, err := c.DeleteTargetGroup(ctx, &elbv2.DeleteTargetGroupInput{TargetGroupArn: tg}); err != nil {
			t.Fatalf("DeleteTargetGroup: %v", err)
		}
	}
	if _, err := c.DeleteLoadBalancer(ctx, &elbv2.DeleteLoadBalancerInput{LoadBalancerArn: lb.LoadBalancerArn}); err != nil {
		t.Fatalf("DeleteLoadBalancer: %v", err)
	}
	if _, err := c.DeleteLoadBalancer(ctx, &elbv2.DeleteLoadBalancerInput{LoadBalancerArn: lb.LoadBalancerArn}); err != nil {
		t.Fatalf("DeleteLoadBalancer is idempotent in AWS: %v", err)
	}
	rest, err := c.DescribeLoadBalancers(ctx, &elbv2.DescribeLoadBalancersInput{})
	if err != nil || len(rest.LoadBalancers) != 1 || *rest.LoadBalancers[0].LoadBalancerName != "back" {
		t.Fatalf("after deletes: %v %+v", err, rest)
	}
	dtg, err = c.DescribeTargetGroups(ctx, &elbv2.DescribeTargetGroupsInput{})
	if err != nil || len(dtg.TargetGroups) != 0 {
		t.Fatalf("target groups after deletes: %v %+v", err, dtg)
	}

	// Every Action was counted.
	st := e.s.Stats()
	for _, a := range []string{"CreateLoadBalancer", "DescribeLoadBalancers", "DeleteLoadBalancer", "CreateListener", "DescribeListeners",
		"ModifyListener", "DeleteListener", "CreateRule", "DescribeRules", "ModifyRule", "DeleteRule", "SetRulePriorities",
		"CreateTargetGroup", "DescribeTargetGroups", "ModifyTargetGroup", "DeleteTargetGroup", "DescribeTargetGroupAttributes",
		"ModifyTargetGroupAttributes", "RegisterTargets", "DeregisterTargets", "DescribeTargetHealth", "AddTags", "RemoveTags", "DescribeTags"} {
		if st.Actions[a].Calls == 0 {
			t.Errorf("no calls of %s counted", a)
		}
	}
}

func attr(as []types.TargetGroupAttribute, key string) string {
	for _, a := range as {
		if *a.Key == key {
			return *a.Value
		}
	}
	return "<missing>"
}

func weights(a types.Action) string {
	var s []string
	for _, t := range a.ForwardConfig.TargetGroups {
		s = append(s, strconv.Itoa(int(*t.Weight)))
	}
	return strings.Join(s, ",")
}

func ruleOrder(t *testing.T, e *env, listenerARN *string) string {
	t.Helper()
	out, err := e.c.DescribeRules(e.ctx, &elbv2.DescribeRulesInput{ListenerArn: listenerARN})
	if err != nil {
		t.Fatalf("DescribeRules: %v", err)
	}
	var s []string
	for _, r := range out.Rules {
		s = append(s, *r.Priority)
	}
	return strings.Join(s, ",")
}

func tagMap(tags []types.Tag) map[string]string {
	m := map[string]string{}
	for _, t := range tags {
		m[*t.Key] = aws.ToString(t.Value)
	}
	return m
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if bv, ok := b[k]; !ok || bv != v {
			return false
		}
	}
	return true
}
