package elbv2

import (
	"context"

	awselbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
)

// API is the part of the ELBv2 SDK client the provider calls. The real
// *elasticloadbalancingv2.Client implements it; internal/elbv2/fake implements
// it in memory for unit tests. Every method is a read: the verifier never
// changes the load balancer.
type API interface {
	DescribeLoadBalancers(ctx context.Context, in *awselbv2.DescribeLoadBalancersInput, optFns ...func(*awselbv2.Options)) (*awselbv2.DescribeLoadBalancersOutput, error)
	DescribeListeners(ctx context.Context, in *awselbv2.DescribeListenersInput, optFns ...func(*awselbv2.Options)) (*awselbv2.DescribeListenersOutput, error)
	DescribeRules(ctx context.Context, in *awselbv2.DescribeRulesInput, optFns ...func(*awselbv2.Options)) (*awselbv2.DescribeRulesOutput, error)
	DescribeTargetGroups(ctx context.Context, in *awselbv2.DescribeTargetGroupsInput, optFns ...func(*awselbv2.Options)) (*awselbv2.DescribeTargetGroupsOutput, error)
	DescribeTags(ctx context.Context, in *awselbv2.DescribeTagsInput, optFns ...func(*awselbv2.Options)) (*awselbv2.DescribeTagsOutput, error)
	DescribeTargetHealth(ctx context.Context, in *awselbv2.DescribeTargetHealthInput, optFns ...func(*awselbv2.Options)) (*awselbv2.DescribeTargetHealthOutput, error)
}

// Operation names, as in the ELBv2 API and the IAM action
// "elasticloadbalancing:<Operation>".
const (
	OpDescribeLoadBalancers = "DescribeLoadBalancers"
	OpDescribeListeners     = "DescribeListeners"
	OpDescribeRules         = "DescribeRules"
	OpDescribeTargetGroups  = "DescribeTargetGroups"
	OpDescribeTags          = "DescribeTags"
	OpDescribeTargetHealth  = "DescribeTargetHealth"
)

// Operations lists every ELBv2 operation the provider may call, in the order
// a verification uses them. config/iam-policy.json grants exactly these.
var Operations = []string{
	OpDescribeLoadBalancers,
	OpDescribeListeners,
	OpDescribeRules,
	OpDescribeTargetGroups,
	OpDescribeTags,
	OpDescribeTargetHealth,
}

// IAMAction returns the IAM action name that allows an operation.
func IAMAction(op string) string { return "elasticloadbalancing:" + op }
