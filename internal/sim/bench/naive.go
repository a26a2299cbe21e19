package bench

import (
	"context"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awselbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"

	"github.com/albrollouts/albrollouts/internal/verify"
)

// naiveChecker re-checks every NaiveInterval with naiveCanaryWeight until the
// canary weight is the desired one (it checks nothing else, like Argo).
func (e *env) naiveChecker(ctx context.Context, r *rollout, canary, _ int32, _, applied time.Time) (time.Duration, bool) {
	for {
		w, err := e.naiveCanaryWeight(ctx, r)
		if err == nil && w == canary {
			return time.Since(applied), true
		}
		select {
		case <-ctx.Done():
			return 0, false
		case <-time.After(e.cfg.NaiveInterval):
		}
	}
}

// naiveCanaryWeight is the per-rollout call chain with a new client each
// time: scan every load balancer for the DNS name, list its target groups,
// read their tags 20 at a time to find the canary group, list the
// listeners and read each listener's rules; the last rule seen wins.
func (e *env) naiveCanaryWeight(ctx context.Context, r *rollout) (int32, error) {
	c := awselbv2.NewFromConfig(e.awsCfg, func(o *awselbv2.Options) { o.BaseEndpoint = aws.String(e.srv.Endpoint()) })
	var lbARN string
	lbs := awselbv2.NewDescribeLoadBalancersPaginator(c, &awselbv2.DescribeLoadBalancersInput{PageSize: aws.Int32(300)})
	for lbs.HasMorePages() && lbARN == "" {
		page, err := lbs.NextPage(ctx)
		if err != nil {
			return 0, err
		}
		for _, lb := range page.LoadBalancers {
			if strings.EqualFold(aws.ToString(lb.DNSName), r.dns) {
				lbARN = aws.ToString(lb.LoadBalancerArn)
			}
		}
	}
	var tgARNs []string
	tgs := awselbv2.NewDescribeTargetGroupsPaginator(c, &awselbv2.DescribeTargetGroupsInput{LoadBalancerArn: aws.String(lbARN)})
	for tgs.HasMorePages() {
		page, err := tgs.NextPage(ctx)
		if err != nil {
			return 0, err
		}
		for _, tg := range page.TargetGroups {
			tgARNs = append(tgARNs, aws.ToString(tg.TargetGroupArn))
		}
	}
	want := verify.ResourceTagValue(namespace, r.name, "canary", "80")
	var canaryARN string
	for i := 0; i < len(tgARNs); i += 20 {
		out, err := c.DescribeTags(ctx, &awselbv2.DescribeTagsInput{ResourceArns: tgARNs[i:min(i+20, len(tgARNs))]})
		if err != nil {
			return 0, err
		}
		for _, d := range out.TagDescriptions {
			for _, t := range d.Tags {
				if aws.ToString(t.Key) == verify.ResourceTag && aws.ToString(t.Value) == want {
					canaryARN = aws.ToString(d.ResourceArn)
				}
			}
		}
	}
	ls, err := c.DescribeListeners(ctx, &awselbv2.DescribeListenersInput{LoadBalancerArn: aws.String(lbARN)})
	if err != nil {
		return 0, err
	}
	weight := int32(-1)
	for _, l := range ls.Listeners {
		rules, err := c.DescribeRules(ctx, &awselbv2.DescribeRulesInput{ListenerArn: l.ListenerArn})
		if err != nil {
			return 0, err
		}
		for _, rule := range rules.Rules {
			for _, a := range rule.Actions {
				if a.ForwardConfig == nil {
					continue
				}
				for _, tg := range a.ForwardConfig.TargetGroups {
					if aws.ToString(tg.TargetGroupArn) == canaryARN {
						weight = aws.ToInt32(tg.Weight)
					}
				}
			}
		}
	}
	return weight, nil
}
