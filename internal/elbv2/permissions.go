package elbv2

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	awselbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
)

// Permission states reported by CheckPermissions.
const (
	PermissionAllowed = "allowed"
	PermissionDenied  = "denied"
	PermissionFailing = "failing" // the call failed for another reason (network, credentials, throttling)
)

// PermissionCheck is the result of calling one operation once.
type PermissionCheck struct {
	Operation string
	Action    string // the IAM action, elasticloadbalancing:<Operation>
	State     string // PermissionAllowed, PermissionDenied or PermissionFailing
	Err       error  // nil when allowed
}

// CheckPermissions calls every operation in Operations once, as the verifier
// would, and reports which are allowed. IAM is evaluated before AWS looks the
// resource up, so a NotFound answer proves the action is allowed; this lets
// the checks run against placeholder ARNs when the account has no load
// balancer. With dnsName set, that load balancer, its first listener and
// first target group are used instead, which exercises the real path.
func (p *Provider) CheckPermissions(ctx context.Context, dnsName string) []PermissionCheck {
	ids := p.probeIDs(ctx, dnsName)
	checks := make([]PermissionCheck, 0, len(Operations))
	for _, op := range Operations {
		err := p.probe(ctx, op, ids)
		c := PermissionCheck{Operation: op, Action: IAMAction(op), State: PermissionAllowed}
		switch kind := KindOf(err); {
		case err == nil, kind == KindLoadBalancerNotFound, kind == KindListenerNotFound, kind == KindTargetGroupNotFound:
			// allowed: AWS evaluated IAM before looking the resource up
		case kind == KindAccessDenied:
			c.State, c.Err = PermissionDenied, err
		default:
			c.State, c.Err = PermissionFailing, err
		}
		checks = append(checks, c)
	}
	return checks
}

// probeIDs are the resources the probes ask about.
type probeIDs struct{ loadBalancer, listener, targetGroup string }

// probeIDs picks real resources when a load balancer is named (errors are
// ignored here: the probes themselves report them) and placeholders otherwise.
func (p *Provider) probeIDs(ctx context.Context, dnsName string) probeIDs {
	ids := probeIDs{
		loadBalancer: fmt.Sprintf("arn:aws:elasticloadbalancing:%s:000000000000:loadbalancer/app/albrollouts-doctor/0000000000000000", p.region),
		listener:     fmt.Sprintf("arn:aws:elasticloadbalancing:%s:000000000000:listener/app/albrollouts-doctor/0000000000000000/0000000000000000", p.region),
		targetGroup:  fmt.Sprintf("arn:aws:elasticloadbalancing:%s:000000000000:targetgroup/albrollouts-doctor/0000000000000000", p.region),
	}
	if dnsName == "" {
		return ids
	}
	lb, err := p.LoadBalancerByDNS(ctx, dnsName)
	if err != nil {
		return ids
	}
	ids.loadBalancer = lb.ARN
	if ls, err := p.Listeners(ctx, lb.ARN); err == nil && len(ls) > 0 {
		ids.listener = ls[0].ARN
	}
	if tgs, err := p.TargetGroups(ctx, lb.ARN); err == nil && len(tgs) > 0 {
		ids.targetGroup = tgs[0].ARN
	}
	return ids
}

// probe calls op once, uncached.
func (p *Provider) probe(ctx context.Context, op string, ids probeIDs) error {
	var err error
	switch op {
	case OpDescribeLoadBalancers:
		_, err = call(ctx, p, op, "", func(ctx context.Context) (*awselbv2.DescribeLoadBalancersOutput, error) {
			return p.api.DescribeLoadBalancers(ctx, &awselbv2.DescribeLoadBalancersInput{PageSize: aws.Int32(1)}, p.optFns...)
		})
	case OpDescribeListeners:
		_, err = call(ctx, p, op, ids.loadBalancer, func(ctx context.Context) (*awselbv2.DescribeListenersOutput, error) {
			return p.api.DescribeListeners(ctx, &awselbv2.DescribeListenersInput{LoadBalancerArn: aws.String(ids.loadBalancer)}, p.optFns...)
		})
	case OpDescribeRules:
		_, err = call(ctx, p, op, ids.listener, func(ctx context.Context) (*awselbv2.DescribeRulesOutput, error) {
			return p.api.DescribeRules(ctx, &awselbv2.DescribeRulesInput{ListenerArn: aws.String(ids.listener)}, p.optFns...)
		})
	case OpDescribeTargetGroups:
		_, err = call(ctx, p, op, ids.loadBalancer, func(ctx context.Context) (*awselbv2.DescribeTargetGroupsOutput, error) {
			return p.api.DescribeTargetGroups(ctx, &awselbv2.DescribeTargetGroupsInput{LoadBalancerArn: aws.String(ids.loadBalancer)}, p.optFns...)
		})
	case OpDescribeTags:
		_, err = call(ctx, p, op, ids.targetGroup, func(ctx context.Context) (*awselbv2.DescribeTagsOutput, error) {
			return p.api.DescribeTags(ctx, &awselbv2.DescribeTagsInput{ResourceArns: []string{ids.targetGroup}}, p.optFns...)
		})
	case OpDescribeTargetHealth:
		_, err = call(ctx, p, op, ids.targetGroup, func(ctx context.Context) (*awselbv2.DescribeTargetHealthOutput, error) {
			return p.api.DescribeTargetHealth(ctx, &awselbv2.DescribeTargetHealthInput{TargetGroupArn: aws.String(ids.targetGroup)}, p.optFns...)
		})
	default:
		return fmt.Errorf("unknown ELBv2 operation %q", op)
	}
	return err
}

// PolicyStatement returns the IAM policy statement (JSON) that allows the
// given actions on all resources, the fix for denied checks.
func PolicyStatement(actions []string) string {
	stmt := map[string]any{"Effect": "Allow", "Action": actions, "Resource": "*"}
	b, err := json.MarshalIndent(stmt, "", "  ")
	if err != nil {
		// Marshaling strings and a slice of strings cannot fail.
		return fmt.Sprint(stmt)
	}
	return string(b)
}
