package localalb

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbv2types "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/aws/smithy-go"
)

// ELBV2 is the part of the ELBv2 API the controller uses; the aws-sdk-go-v2 client
// (pointed at elbsim) implements it.
type ELBV2 interface {
	DescribeLoadBalancers(context.Context, *elbv2.DescribeLoadBalancersInput, ...func(*elbv2.Options)) (*elbv2.DescribeLoadBalancersOutput, error)
	CreateLoadBalancer(context.Context, *elbv2.CreateLoadBalancerInput, ...func(*elbv2.Options)) (*elbv2.CreateLoadBalancerOutput, error)
	DeleteLoadBalancer(context.Context, *elbv2.DeleteLoadBalancerInput, ...func(*elbv2.Options)) (*elbv2.DeleteLoadBalancerOutput, error)
	DescribeListeners(context.Context, *elbv2.DescribeListenersInput, ...func(*elbv2.Options)) (*elbv2.DescribeListenersOutput, error)
	CreateListener(context.Context, *elbv2.CreateListenerInput, ...func(*elbv2.Options)) (*elbv2.CreateListenerOutput, error)
	ModifyListener(context.Context, *elbv2.ModifyListenerInput, ...func(*elbv2.Options)) (*elbv2.ModifyListenerOutput, error)
	DeleteListener(context.Context, *elbv2.DeleteListenerInput, ...func(*elbv2.Options)) (*elbv2.DeleteListenerOutput, error)
	DescribeRules(context.Context, *elbv2.DescribeRulesInput, ...func(*elbv2.Options)) (*elbv2.DescribeRulesOutput, error)
	CreateRule(context.Context, *elbv2.CreateRuleInput, ...func(*elbv2.Options)) (*elbv2.CreateRuleOutput, error)
	ModifyRule(context.Context, *elbv2.ModifyRuleInput, ...func(*elbv2.Options)) (*elbv2.ModifyRuleOutput, error)
	DeleteRule(context.Context, *elbv2.DeleteRuleInput, ...func(*elbv2.Options)) (*elbv2.DeleteRuleOutput, error)
	DescribeTargetGroups(context.Context, *elbv2.DescribeTargetGroupsInput, ...func(*elbv2.Options)) (*elbv2.DescribeTargetGroupsOutput, error)
	CreateTargetGroup(context.Context, *elbv2.CreateTargetGroupInput, ...func(*elbv2.Options)) (*elbv2.CreateTargetGroupOutput, error)
	ModifyTargetGroup(context.Context, *elbv2.ModifyTargetGroupInput, ...func(*elbv2.Options)) (*elbv2.ModifyTargetGroupOutput, error)
	DeleteTargetGroup(context.Context, *elbv2.DeleteTargetGroupInput, ...func(*elbv2.Options)) (*elbv2.DeleteTargetGroupOutput, error)
	DescribeTargetGroupAttributes(context.Context, *elbv2.DescribeTargetGroupAttributesInput, ...func(*elbv2.Options)) (*elbv2.DescribeTargetGroupAttributesOutput, error)
	ModifyTargetGroupAttributes(context.Context, *elbv2.ModifyTargetGroupAttributesInput, ...func(*elbv2.Options)) (*elbv2.ModifyTargetGroupAttributesOutput, error)
	RegisterTargets(context.Context, *elbv2.RegisterTargetsInput, ...func(*elbv2.Options)) (*elbv2.RegisterTargetsOutput, error)
	DeregisterTargets(context.Context, *elbv2.DeregisterTargetsInput, ...func(*elbv2.Options)) (*elbv2.DeregisterTargetsOutput, error)
	DescribeTargetHealth(context.Context, *elbv2.DescribeTargetHealthInput, ...func(*elbv2.Options)) (*elbv2.DescribeTargetHealthOutput, error)
	DescribeTags(context.Context, *elbv2.DescribeTagsInput, ...func(*elbv2.Options)) (*elbv2.DescribeTagsOutput, error)
}

var _ ELBV2 = (*elbv2.Client)(nil)

// isAPIError reports whether err is an ELBv2 error with one of the codes.
func isAPIError(err error, codes ...string) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && slices.Contains(codes, ae.ErrorCode())
}

// tagsOf returns the tags of the given ARNs (DescribeTags takes 20 at a time).
func tagsOf(ctx context.Context, api ELBV2, arns []string) (map[string]map[string]string, error) {
	out := map[string]map[string]string{}
	for start := 0; start < len(arns); start += 20 {
		batch := arns[start:min(start+20, len(arns))]
		resp, err := api.DescribeTags(ctx, &elbv2.DescribeTagsInput{ResourceArns: batch})
		if err != nil {
			return nil, fmt.Errorf("DescribeTags: %w", err)
		}
		for _, d := range resp.TagDescriptions {
			tags := map[string]string{}
			for _, t := range d.Tags {
				tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
			}
			out[aws.ToString(d.ResourceArn)] = tags
		}
	}
	return out, nil
}

func allLoadBalancers(ctx context.Context, api ELBV2) ([]elbv2types.LoadBalancer, error) {
	var out []elbv2types.LoadBalancer
	p := elbv2.NewDescribeLoadBalancersPaginator(api, &elbv2.DescribeLoadBalancersInput{PageSize: aws.Int32(400)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("DescribeLoadBalancers: %w", err)
		}
		out = append(out, page.LoadBalancers...)
	}
	return out, nil
}

func allTargetGroups(ctx context.Context, api ELBV2) ([]elbv2types.TargetGroup, error) {
	var out []elbv2types.TargetGroup
	p := elbv2.NewDescribeTargetGroupsPaginator(api, &elbv2.DescribeTargetGroupsInput{PageSize: aws.Int32(400)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("DescribeTargetGroups: %w", err)
		}
		out = append(out, page.TargetGroups...)
	}
	return out, nil
}

func allRules(ctx context.Context, api ELBV2, listenerARN string) ([]elbv2types.Rule, error) {
	var out []elbv2types.Rule
	in := &elbv2.DescribeRulesInput{ListenerArn: aws.String(listenerARN), PageSize: aws.Int32(400)}
	for {
		page, err := api.DescribeRules(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("DescribeRules %s: %w", listenerARN, err)
		}
		out = append(out, page.Rules...)
		if aws.ToString(page.NextMarker) == "" {
			return out, nil
		}
		in.Marker = page.NextMarker
	}
}

// canonConditions renders rule conditions in one canonical text, so desired and
// observed (which may use the legacy Values or the typed config) compare equal.
func canonConditions(cs []elbv2types.RuleCondition) string {
	var parts []string
	for _, c := range cs {
		field := aws.ToString(c.Field)
		var vals []string
		switch {
		case c.HostHeaderConfig != nil && len(c.HostHeaderConfig.Values) > 0:
			vals = c.HostHeaderConfig.Values
		case c.PathPatternConfig != nil && len(c.PathPatternConfig.Values) > 0:
			vals = c.PathPatternConfig.Values
		case c.HttpHeaderConfig != nil:
			vals = append([]string{"name=" + strings.ToLower(aws.ToString(c.HttpHeaderConfig.HttpHeaderName))}, c.HttpHeaderConfig.Values...)
		case c.HttpRequestMethodConfig != nil:
			vals = c.HttpRequestMethodConfig.Values
		case c.QueryStringConfig != nil:
			for _, kv := range c.QueryStringConfig.Values {
				vals = append(vals, aws.ToString(kv.Key)+"="+aws.ToString(kv.Value))
			}
		case c.SourceIpConfig != nil:
			vals = c.SourceIpConfig.Values
		default:
			vals = c.Values
		}
		parts = append(parts, field+"["+strings.Join(vals, ",")+"]")
	}
	return strings.Join(parts, ";")
}

// canonActions renders actions in one canonical text (see canonConditions).
func canonActions(as []elbv2types.Action) string {
	var parts []string
	for _, a := range as {
		switch a.Type {
		case elbv2types.ActionTypeEnumForward:
			var tgs []string
			if a.ForwardConfig != nil && len(a.ForwardConfig.TargetGroups) > 0 {
				for _, t := range a.ForwardConfig.TargetGroups {
					tgs = append(tgs, aws.ToString(t.TargetGroupArn)+"="+strconv.Itoa(int(aws.ToInt32(orOne(t.Weight)))))
				}
			} else {
				tgs = append(tgs, aws.ToString(a.TargetGroupArn)+"=1")
			}
			sort.Strings(tgs)
			sticky := "off"
			if a.ForwardConfig != nil && a.ForwardConfig.TargetGroupStickinessConfig != nil &&
				aws.ToBool(a.ForwardConfig.TargetGroupStickinessConfig.Enabled) {
				sticky = "on:" + strconv.Itoa(int(aws.ToInt32(a.ForwardConfig.TargetGroupStickinessConfig.DurationSeconds)))
			}
			parts = append(parts, "forward["+strings.Join(tgs, ",")+"]sticky="+sticky)
		case elbv2types.ActionTypeEnumFixedResponse:
			f := a.FixedResponseConfig
			if f == nil {
				f = &elbv2types.FixedResponseActionConfig{}
			}
			parts = append(parts, fmt.Sprintf("fixed[%s|%s|%s]", aws.ToString(f.StatusCode), aws.ToString(f.ContentType), aws.ToString(f.MessageBody)))
		case elbv2types.ActionTypeEnumRedirect:
			r := a.RedirectConfig
			if r == nil {
				r = &elbv2types.RedirectActionConfig{}
			}
			parts = append(parts, fmt.Sprintf("redirect[%s|%s|%s|%s|%s|%s]", r.StatusCode, or(r.Host, "#{host}"),
				or(r.Path, "/#{path}"), or(r.Port, "#{port}"), or(r.Protocol, "#{protocol}"), or(r.Query, "#{query}")))
		default:
			parts = append(parts, string(a.Type))
		}
	}
	return strings.Join(parts, ";")
}

func orOne(p *int32) *int32 {
	if p == nil {
		return aws.Int32(1)
	}
	return p
}

func or(p *string, def string) string {
	if p == nil || *p == "" {
		return def
	}
	return *p
}

// healthCheckDiffers reports whether a target group's health check differs from hc.
func healthCheckDiffers(tg elbv2types.TargetGroup, hc HealthCheck) bool {
	matcher := ""
	if tg.Matcher != nil {
		matcher = aws.ToString(tg.Matcher.HttpCode)
	}
	return aws.ToString(tg.HealthCheckPath) != hc.Path ||
		aws.ToString(tg.HealthCheckPort) != hc.Port ||
		string(tg.HealthCheckProtocol) != hc.Protocol ||
		aws.ToInt32(tg.HealthCheckIntervalSeconds) != hc.IntervalSeconds ||
		aws.ToInt32(tg.HealthCheckTimeoutSeconds) != hc.TimeoutSeconds ||
		aws.ToInt32(tg.HealthyThresholdCount) != hc.HealthyThreshold ||
		aws.ToInt32(tg.UnhealthyThresholdCount) != hc.UnhealthyThreshold ||
		matcher != hc.SuccessCodes
}

// sdkTags turns a tag map into ELBv2 tags, sorted by key.
func sdkTags(m map[string]string) []elbv2types.Tag {
	keys := slices.Sorted(maps.Keys(m))
	out := make([]elbv2types.Tag, 0, len(keys))
	for _, k := range keys {
		out = append(out, elbv2types.Tag{Key: aws.String(k), Value: aws.String(m[k])})
	}
	return out
}
