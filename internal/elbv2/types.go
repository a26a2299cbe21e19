package elbv2

import (
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
)

// LoadBalancer is what the verifier needs to know about an ALB.
type LoadBalancer struct {
	ARN     string
	Name    string
	DNSName string
	Type    string // application, network, gateway
	State   string // active, provisioning, active_impaired, failed
}

// Listener is one listener of a load balancer.
type Listener struct {
	ARN      string
	Port     int32
	Protocol string
}

// WeightedTargetGroup is one destination of a forward action.
type WeightedTargetGroup struct {
	ARN    string
	Weight int32
}

// Rule is one listener rule, reduced to its conditions and forward destinations.
type Rule struct {
	ARN       string
	Priority  string // a number, or "default"
	IsDefault bool
	// Conditions of the rule (none for the default rule).
	Conditions []RuleCondition
	// Forward holds the target groups of the rule's forward action, nil when
	// the rule does not forward (redirect, fixed-response). A forward action
	// with a single TargetGroupArn is reported as one group of weight 1.
	Forward []WeightedTargetGroup
}

// Rule condition fields, as in the ELBv2 API.
const (
	ConditionHostHeader        = "host-header"
	ConditionPathPattern       = "path-pattern"
	ConditionHTTPHeader        = "http-header"
	ConditionHTTPRequestMethod = "http-request-method"
	ConditionQueryString       = "query-string"
	ConditionSourceIP          = "source-ip"
)

// RuleCondition is one condition of a listener rule.
type RuleCondition struct {
	Field string // one of the Condition* constants
	// HTTPHeaderName is the header an http-header condition tests.
	HTTPHeaderName string
	// Values the condition accepts: from the field's own config when set,
	// else the legacy Values list. Query-string pairs read "key=value", or
	// "value" without a key.
	Values []string
}

// HealthCheck holds a target group's health-check settings, for diagnoses
// such as "health check too strict".
type HealthCheck struct {
	Enabled            bool
	Protocol           string
	Port               string
	Path               string
	Matcher            string
	Interval           time.Duration
	Timeout            time.Duration
	HealthyThreshold   int32
	UnhealthyThreshold int32
}

// TargetGroup is a target group with its tags.
type TargetGroup struct {
	ARN         string
	Name        string
	Port        int32
	Protocol    string
	TargetType  string // ip, instance, lambda, alb
	HealthCheck HealthCheck
	Tags        map[string]string
}

// Target health states as reported by DescribeTargetHealth.
const (
	StateInitial     = "initial"
	StateHealthy     = "healthy"
	StateUnhealthy   = "unhealthy"
	StateUnused      = "unused"
	StateDraining    = "draining"
	StateUnavailable = "unavailable"
)

// TargetHealth is the health of one registered target.
type TargetHealth struct {
	ID          string // IP address or instance ID
	Port        int32
	State       string
	Reason      string
	Description string
}

func fromLoadBalancer(lb types.LoadBalancer) LoadBalancer {
	out := LoadBalancer{
		ARN:     aws.ToString(lb.LoadBalancerArn),
		Name:    aws.ToString(lb.LoadBalancerName),
		DNSName: aws.ToString(lb.DNSName),
		Type:    string(lb.Type),
	}
	if lb.State != nil {
		out.State = string(lb.State.Code)
	}
	return out
}

func fromListener(l types.Listener) Listener {
	return Listener{ARN: aws.ToString(l.ListenerArn), Port: aws.ToInt32(l.Port), Protocol: string(l.Protocol)}
}

func fromRule(r types.Rule) Rule {
	out := Rule{ARN: aws.ToString(r.RuleArn), Priority: aws.ToString(r.Priority), IsDefault: aws.ToBool(r.IsDefault)}
	for _, c := range r.Conditions {
		out.Conditions = append(out.Conditions, fromCondition(c))
	}
	for _, a := range r.Actions {
		if a.Type != types.ActionTypeEnumForward {
			continue
		}
		// ForwardConfig wins over the legacy single TargetGroupArn when both are set.
		if a.ForwardConfig != nil && len(a.ForwardConfig.TargetGroups) > 0 {
			for _, tg := range a.ForwardConfig.TargetGroups {
				w := int32(1)
				if tg.Weight != nil {
					w = *tg.Weight
				}
				out.Forward = append(out.Forward, WeightedTargetGroup{ARN: aws.ToString(tg.TargetGroupArn), Weight: w})
			}
		} else if a.TargetGroupArn != nil {
			out.Forward = []WeightedTargetGroup{{ARN: *a.TargetGroupArn, Weight: 1}}
		}
	}
	return out
}

func fromCondition(c types.RuleCondition) RuleCondition {
	out := RuleCondition{Field: aws.ToString(c.Field), Values: c.Values}
	switch {
	case c.HostHeaderConfig != nil && len(c.HostHeaderConfig.Values) > 0:
		out.Values = c.HostHeaderConfig.Values
	case c.PathPatternConfig != nil && len(c.PathPatternConfig.Values) > 0:
		out.Values = c.PathPatternConfig.Values
	case c.HttpHeaderConfig != nil:
		out.HTTPHeaderName = aws.ToString(c.HttpHeaderConfig.HttpHeaderName)
		out.Values = c.HttpHeaderConfig.Values
	case c.HttpRequestMethodConfig != nil:
		out.Values = c.HttpRequestMethodConfig.Values
	case c.SourceIpConfig != nil:
		out.Values = c.SourceIpConfig.Values
	case c.QueryStringConfig != nil:
		out.Values = nil
		for _, kv := range c.QueryStringConfig.Values {
			v := aws.ToString(kv.Value)
			if k := aws.ToString(kv.Key); k != "" {
				v = k + "=" + v
			}
			out.Values = append(out.Values, v)
		}
	}
	return out
}

func fromTargetGroup(tg types.TargetGroup) TargetGroup {
	out := TargetGroup{
		ARN:        aws.ToString(tg.TargetGroupArn),
		Name:       aws.ToString(tg.TargetGroupName),
		Port:       aws.ToInt32(tg.Port),
		Protocol:   string(tg.Protocol),
		TargetType: string(tg.TargetType),
		HealthCheck: HealthCheck{
			Enabled:            aws.ToBool(tg.HealthCheckEnabled),
			Protocol:           string(tg.HealthCheckProtocol),
			Port:               aws.ToString(tg.HealthCheckPort),
			Path:               aws.ToString(tg.HealthCheckPath),
			Interval:           time.Duration(aws.ToInt32(tg.HealthCheckIntervalSeconds)) * time.Second,
			Timeout:            time.Duration(aws.ToInt32(tg.HealthCheckTimeoutSeconds)) * time.Second,
			HealthyThreshold:   aws.ToInt32(tg.HealthyThresholdCount),
			UnhealthyThreshold: aws.ToInt32(tg.UnhealthyThresholdCount),
		},
	}
	if tg.Matcher != nil {
		out.HealthCheck.Matcher = aws.ToString(tg.Matcher.HttpCode)
	}
	return out
}

func fromTargetHealth(d types.TargetHealthDescription) TargetHealth {
	var out TargetHealth
	if d.Target != nil {
		out.ID = aws.ToString(d.Target.Id)
		out.Port = aws.ToInt32(d.Target.Port)
	}
	if d.TargetHealth != nil {
		out.State = string(d.TargetHealth.State)
		out.Reason = string(d.TargetHealth.Reason)
		out.Description = aws.ToString(d.TargetHealth.Description)
	}
	return out
}

// NameFromARN returns the resource name inside an ELBv2 ARN, e.g. the target
// group name of "arn:aws:elasticloadbalancing:r:a:targetgroup/NAME/ID", or
// the ARN itself when it has no such shape.
func NameFromARN(arn string) string {
	_, rest, ok := strings.Cut(arn, ":targetgroup/")
	if !ok {
		if _, rest, ok = strings.Cut(arn, ":loadbalancer/app/"); !ok {
			return arn
		}
	}
	name, _, _ := strings.Cut(rest, "/")
	return name
}

// FullName is the load balancer's name as CloudWatch dimensions spell it,
// app/<name>/<id>, taken from its ARN ("" when the ARN has no such shape).
func (lb LoadBalancer) FullName() string { return FullNameFromARN(lb.ARN) }

// FullName is the target group's name as CloudWatch dimensions spell it,
// targetgroup/<name>/<id>, taken from its ARN ("" when the ARN has no such shape).
func (tg TargetGroup) FullName() string { return FullNameFromARN(tg.ARN) }

// FullNameFromARN returns the CloudWatch-style full name inside a load
// balancer or target group ARN: "app/NAME/ID" for
// "arn:aws:elasticloadbalancing:r:a:loadbalancer/app/NAME/ID" and
// "targetgroup/NAME/ID" for "arn:…:targetgroup/NAME/ID". Other strings give "".
func FullNameFromARN(arn string) string {
	if _, rest, ok := strings.Cut(arn, ":loadbalancer/"); ok && strings.Count(rest, "/") == 2 {
		return rest
	}
	if _, rest, ok := strings.Cut(arn, ":targetgroup/"); ok && strings.Count(rest, "/") == 1 {
		return "targetgroup/" + rest
	}
	return ""
}

// RegionFromDNSName extracts the region from an ELB DNS name such as
// "k8s-demo-1234567890.eu-west-1.elb.amazonaws.com" (also "internal-…" and
// the ".amazonaws.com.cn" partition). ok is false for names that do not have
// that shape (a custom CNAME, for example).
func RegionFromDNSName(dns string) (region string, ok bool) {
	labels := strings.Split(strings.ToLower(strings.TrimSuffix(dns, ".")), ".")
	for i := 1; i+1 < len(labels); i++ {
		if labels[i] == "elb" && labels[i+1] == "amazonaws" {
			return labels[i-1], labels[i-1] != ""
		}
	}
	return "", false
}
