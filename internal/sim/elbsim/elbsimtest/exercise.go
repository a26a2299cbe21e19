package elbsimtest

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
)

// Exercise calls every Action elbsim serves once, successfully, creating and
// then deleting a load balancer, two target groups, a listener and a rule
// (names start with prefix). Tests use it to record real SDK request bodies.
func Exercise(ctx context.Context, c *elbv2.Client, prefix string) error {
	step := func(what string, err error) error {
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		return nil
	}
	lb, err := c.CreateLoadBalancer(ctx, &elbv2.CreateLoadBalancerInput{Name: aws.String(prefix + "-lb"),
		Subnets: []string{"subnet-1", "subnet-2"}, Tags: []types.Tag{{Key: aws.String("k"), Value: aws.String("v")}}})
	if err != nil {
		return step("CreateLoadBalancer", err)
	}
	lbARN := lb.LoadBalancers[0].LoadBalancerArn
	var tgs []*string
	for _, n := range []string{"-a", "-b"} {
		tg, err := c.CreateTargetGroup(ctx, &elbv2.CreateTargetGroupInput{Name: aws.String(prefix + n), Protocol: types.ProtocolEnumHttp,
			Port: aws.Int32(8080), TargetType: types.TargetTypeEnumIp, HealthCheckPath: aws.String("/healthz"),
			HealthCheckIntervalSeconds: aws.Int32(10), Matcher: &types.Matcher{HttpCode: aws.String("200-299")}})
		if err != nil {
			return step("CreateTargetGroup", err)
		}
		tgs = append(tgs, tg.TargetGroups[0].TargetGroupArn)
	}
	weighted := types.Action{Type: types.ActionTypeEnumForward, ForwardConfig: &types.ForwardActionConfig{
		TargetGroups:                []types.TargetGroupTuple{{TargetGroupArn: tgs[0], Weight: aws.Int32(90)}, {TargetGroupArn: tgs[1], Weight: aws.Int32(10)}},
		TargetGroupStickinessConfig: &types.TargetGroupStickinessConfig{Enabled: aws.Bool(true), DurationSeconds: aws.Int32(60)}}}
	l, err := c.CreateListener(ctx, &elbv2.CreateListenerInput{LoadBalancerArn: lbARN, Port: aws.Int32(80), Protocol: types.ProtocolEnumHttp,
		DefaultActions: []types.Action{{Type: types.ActionTypeEnumForward, TargetGroupArn: tgs[0]}}})
	if err != nil {
		return step("CreateListener", err)
	}
	lARN := l.Listeners[0].ListenerArn
	r, err := c.CreateRule(ctx, &elbv2.CreateRuleInput{ListenerArn: lARN, Priority: aws.Int32(10), Actions: []types.Action{weighted},
		Conditions: []types.RuleCondition{
			{Field: aws.String("path-pattern"), PathPatternConfig: &types.PathPatternConditionConfig{Values: []string{"/api/*"}}},
			{Field: aws.String("http-header"), HttpHeaderConfig: &types.HttpHeaderConditionConfig{HttpHeaderName: aws.String("X-Canary"), Values: []string{"1"}}},
			{Field: aws.String("query-string"), QueryStringConfig: &types.QueryStringConditionConfig{Values: []types.QueryStringKeyValuePair{{Key: aws.String("v"), Value: aws.String("2")}}}},
		}})
	if err != nil {
		return step("CreateRule", err)
	}
	rARN := r.Rules[0].RuleArn
	targets := []types.TargetDescription{{Id: aws.String("127.0.0.1"), Port: aws.Int32(1)}}
	calls := []struct {
		what string
		call func() error
	}{
		{"DescribeLoadBalancers", func() error {
			_, err := c.DescribeLoadBalancers(ctx, &elbv2.DescribeLoadBalancersInput{LoadBalancerArns: []string{*lbARN}, PageSize: aws.Int32(10)})
			return err
		}},
		{"DescribeListeners", func() error {
			_, err := c.DescribeListeners(ctx, &elbv2.DescribeListenersInput{LoadBalancerArn: lbARN})
			return err
		}},
		{"ModifyListener", func() error {
			_, err := c.ModifyListener(ctx, &elbv2.ModifyListenerInput{ListenerArn: lARN, Port: aws.Int32(8080), DefaultActions: []types.Action{weighted}})
			return err
		}},
		{"DescribeRules", func() error {
			_, err := c.DescribeRules(ctx, &elbv2.DescribeRulesInput{ListenerArn: lARN})
			return err
		}},
		{"ModifyRule", func() error {
			_, err := c.ModifyRule(ctx, &elbv2.ModifyRuleInput{RuleArn: rARN, Conditions: []types.RuleCondition{
				{Field: aws.String("host-header"), HostHeaderConfig: &types.HostHeaderConditionConfig{Values: []string{"example.com"}}},
				{Field: aws.String("http-request-method"), HttpRequestMethodConfig: &types.HttpRequestMethodConditionConfig{Values: []string{"GET"}}},
				{Field: aws.String("source-ip"), SourceIpConfig: &types.SourceIpConditionConfig{Values: []string{"127.0.0.0/8"}}},
			}})
			return err
		}},
		{"SetRulePriorities", func() error {
			_, err := c.SetRulePriorities(ctx, &elbv2.SetRulePrioritiesInput{RulePriorities: []types.RulePriorityPair{{RuleArn: rARN, Priority: aws.Int32(20)}}})
			return err
		}},
		{"DescribeTargetGroups", func() error {
			_, err := c.DescribeTargetGroups(ctx, &elbv2.DescribeTargetGroupsInput{LoadBalancerArn: lbARN})
			return err
		}},
		{"ModifyTargetGroup", func() error {
			_, err := c.ModifyTargetGroup(ctx, &elbv2.ModifyTargetGroupInput{TargetGroupArn: tgs[0], HealthyThresholdCount: aws.Int32(2), HealthCheckEnabled: aws.Bool(true)})
			return err
		}},
		{"DescribeTargetGroupAttributes", func() error {
			_, err := c.DescribeTargetGroupAttributes(ctx, &elbv2.DescribeTargetGroupAttributesInput{TargetGroupArn: tgs[0]})
			return err
		}},
		{"ModifyTargetGroupAttributes", func() error {
			_, err := c.ModifyTargetGroupAttributes(ctx, &elbv2.ModifyTargetGroupAttributesInput{TargetGroupArn: tgs[0],
				Attributes: []types.TargetGroupAttribute{{Key: aws.String("deregistration_delay.timeout_seconds"), Value: aws.String("0")}}})
			return err
		}},
		{"RegisterTargets", func() error {
			_, err := c.RegisterTargets(ctx, &elbv2.RegisterTargetsInput{TargetGroupArn: tgs[0], Targets: targets})
			return err
		}},
		{"DescribeTargetHealth", func() error {
			_, err := c.DescribeTargetHealth(ctx, &elbv2.DescribeTargetHealthInput{TargetGroupArn: tgs[0], Targets: targets})
			return err
		}},
		{"DeregisterTargets", func() error {
			_, err := c.DeregisterTargets(ctx, &elbv2.DeregisterTargetsInput{TargetGroupArn: tgs[0], Targets: targets})
			return err
		}},
		{"AddTags", func() error {
			_, err := c.AddTags(ctx, &elbv2.AddTagsInput{ResourceArns: []string{*lbARN, *tgs[0]}, Tags: []types.Tag{{Key: aws.String("a"), Value: aws.String("b")}}})
			return err
		}},
		{"DescribeTags", func() error {
			_, err := c.DescribeTags(ctx, &elbv2.DescribeTagsInput{ResourceArns: []string{*lbARN, *tgs[0], *lARN, *rARN}})
			return err
		}},
		{"RemoveTags", func() error {
			_, err := c.RemoveTags(ctx, &elbv2.RemoveTagsInput{ResourceArns: []string{*lbARN}, TagKeys: []string{"a"}})
			return err
		}},
		{"DeleteRule", func() error {
			_, err := c.DeleteRule(ctx, &elbv2.DeleteRuleInput{RuleArn: rARN})
			return err
		}},
		{"DeleteListener", func() error {
			_, err := c.DeleteListener(ctx, &elbv2.DeleteListenerInput{ListenerArn: lARN})
			return err
		}},
		{"DeleteTargetGroup", func() error {
			for _, tg := range tgs {
				if _, err := c.DeleteTargetGroup(ctx, &elbv2.DeleteTargetGroupInput{TargetGroupArn: tg}); err != nil {
					return err
				}
			}
			return nil
		}},
		{"DeleteLoadBalancer", func() error {
			_, err := c.DeleteLoadBalancer(ctx, &elbv2.DeleteLoadBalancerInput{LoadBalancerArn: lbARN})
			return err
		}},
	}
	for _, s := range calls {
		if err := s.call(); err != nil {
			return step(s.what, err)
		}
	}
	return nil
}
