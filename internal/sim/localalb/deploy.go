package localalb

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbv2types "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
)

// deployer makes ELBv2 look like a stack model. Every step starts from what ELBv2
// reports (found by tags), so a restart or a manual change is repaired.
type deployer struct {
	api     ELBV2
	cluster string
}

// deployed is what a deployment left in ELBv2.
type deployed struct {
	LoadBalancerARN string
	DNSName         string
	TargetGroups    map[string]string // resource tag -> ARN
	Ports           []int32
}

// owned lists the ARNs of load balancers and target groups carrying the tags of a stack.
type owned struct {
	LoadBalancers []elbv2types.LoadBalancer
	TargetGroups  map[string]elbv2types.TargetGroup // by ARN
	TGResource    map[string]string                 // ARN -> resource tag
}

func (d *deployer) find(ctx context.Context, stack StackID) (*owned, error) {
	o := &owned{TargetGroups: map[string]elbv2types.TargetGroup{}, TGResource: map[string]string{}}
	lbs, err := allLoadBalancers(ctx, d.api)
	if err != nil {
		return nil, err
	}
	var arns []string
	for _, lb := range lbs {
		arns = append(arns, aws.ToString(lb.LoadBalancerArn))
	}
	lbTags, err := tagsOf(ctx, d.api, arns)
	if err != nil {
		return nil, err
	}
	for _, lb := range lbs {
		t := lbTags[aws.ToString(lb.LoadBalancerArn)]
		if t[TagCluster] == d.cluster && t[TagStack] == stack.String() && t[TagResource] == ResourceLoadBalancer {
			o.LoadBalancers = append(o.LoadBalancers, lb)
		}
	}
	tgs, err := allTargetGroups(ctx, d.api)
	if err != nil {
		return nil, err
	}
	arns = arns[:0]
	for _, tg := range tgs {
		arns = append(arns, aws.ToString(tg.TargetGroupArn))
	}
	tgTags, err := tagsOf(ctx, d.api, arns)
	if err != nil {
		return nil, err
	}
	for _, tg := range tgs {
		arn := aws.ToString(tg.TargetGroupArn)
		t := tgTags[arn]
		if t[TagCluster] == d.cluster && t[TagStack] == stack.String() && t[TagResource] != "" {
			o.TargetGroups[arn] = tg
			o.TGResource[arn] = t[TagResource]
		}
	}
	return o, nil
}

func (d *deployer) stackTags(stack StackID, resource string) []elbv2types.Tag {
	return sdkTags(map[string]string{TagCluster: d.cluster, TagStack: stack.String(), TagResource: resource})
}

// deploy creates or updates the load balancer, target groups, listeners and rules
// of m and deletes what the stack no longer has.
func (d *deployer) deploy(ctx context.Context, m *stackModel) (*deployed, error) {
	o, err := d.find(ctx, m.ID)
	if err != nil {
		return nil, err
	}
	lb, err := d.ensureLoadBalancer(ctx, m, o)
	if err != nil {
		return nil, err
	}
	out := &deployed{LoadBalancerARN: aws.ToString(lb.LoadBalancerArn), DNSName: aws.ToString(lb.DNSName), TargetGroups: map[string]string{}}
	keep := map[string]bool{}
	for _, res := range slices.Sorted(maps.Keys(m.TargetGroups)) {
		arn, err := d.ensureTargetGroup(ctx, m, m.TargetGroups[res], o)
		if err != nil {
			return nil, err
		}
		out.TargetGroups[res] = arn
		keep[arn] = true
	}
	if err := d.syncListeners(ctx, m, out); err != nil {
		return nil, err
	}
	for arn := range o.TargetGroups {
		if keep[arn] {
			continue
		}
		if _, err := d.api.DeleteTargetGroup(ctx, &elbv2.DeleteTargetGroupInput{TargetGroupArn: aws.String(arn)}); err != nil &&
			!isAPIError(err, "TargetGroupNotFound") {
			return nil, fmt.Errorf("delete unused target group %s: %w", arn, err)
		}
	}
	for _, l := range m.Listeners {
		out.Ports = append(out.Ports, l.Port)
	}
	return out, nil
}

// ensureLoadBalancer returns the stack's ALB, creating it if needed; an ALB of the
// stack with another name (the scheme changed) is deleted.
func (d *deployer) ensureLoadBalancer(ctx context.Context, m *stackModel, o *owned) (elbv2types.LoadBalancer, error) {
	var found *elbv2types.LoadBalancer
	for i, lb := range o.LoadBalancers {
		if aws.ToString(lb.LoadBalancerName) == m.LBName {
			found = &o.LoadBalancers[i]
			continue
		}
		if _, err := d.api.DeleteLoadBalancer(ctx, &elbv2.DeleteLoadBalancerInput{LoadBalancerArn: lb.LoadBalancerArn}); err != nil {
			return elbv2types.LoadBalancer{}, fmt.Errorf("delete replaced load balancer %s: %w", aws.ToString(lb.LoadBalancerName), err)
		}
	}
	if found != nil {
		return *found, nil
	}
	resp, err := d.api.CreateLoadBalancer(ctx, &elbv2.CreateLoadBalancerInput{
		Name:   aws.String(m.LBName),
		Type:   elbv2types.LoadBalancerTypeEnumApplication,
		Scheme: elbv2types.LoadBalancerSchemeEnum(m.Scheme),
		Tags:   d.stackTags(m.ID, ResourceLoadBalancer),
	})
	if err != nil {
		return elbv2types.LoadBalancer{}, fmt.Errorf("create load balancer %s: %w", m.LBName, err)
	}
	if len(resp.LoadBalancers) != 1 {
		return elbv2types.LoadBalancer{}, fmt.Errorf("create load balancer %s: answer held %d load balancers", m.LBName, len(resp.LoadBalancers))
	}
	return resp.LoadBalancers[0], nil
}

// ensureTargetGroup returns the ARN of the target group for tg, creating it or
// updating its health check and attributes.
func (d *deployer) ensureTargetGroup(ctx context.Context, m *stackModel, tg *tgModel, o *owned) (string, error) {
	hc := tg.HealthCheck
	var arn string
	for a, existing := range o.TargetGroups {
		if o.TGResource[a] != tg.Resource || aws.ToString(existing.TargetGroupName) != tg.Name {
			continue
		}
		arn = a
		if healthCheckDiffers(existing, hc) {
			_, err := d.api.ModifyTargetGroup(ctx, &elbv2.ModifyTargetGroupInput{
				TargetGroupArn:             aws.String(a),
				HealthCheckPath:            aws.String(hc.Path),
				HealthCheckPort:            aws.String(hc.Port),
				HealthCheckProtocol:        elbv2types.ProtocolEnum(hc.Protocol),
				HealthCheckIntervalSeconds: aws.Int32(hc.IntervalSeconds),
				HealthCheckTimeoutSeconds:  aws.Int32(hc.TimeoutSeconds),
				HealthyThresholdCount:      aws.Int32(hc.HealthyThreshold),
				UnhealthyThresholdCount:    aws.Int32(hc.UnhealthyThreshold),
				Matcher:                    &elbv2types.Matcher{HttpCode: aws.String(hc.SuccessCodes)},
			})
			if err != nil {
				return "", fmt.Errorf("modify health check of target group %s: %w", tg.Name, err)
			}
		}
	}
	if arn == "" {
		resp, err := d.api.CreateTargetGroup(ctx, &elbv2.CreateTargetGroupInput{
			Name:                       aws.String(tg.Name),
			Protocol:                   elbv2types.ProtocolEnumHttp,
			ProtocolVersion:            aws.String("HTTP1"),
			Port:                       aws.Int32(tg.Port),
			TargetType:                 elbv2types.TargetTypeEnumIp,
			IpAddressType:              elbv2types.TargetGroupIpAddressTypeEnumIpv4,
			HealthCheckEnabled:         aws.Bool(true),
			HealthCheckPath:            aws.String(hc.Path),
			HealthCheckPort:            aws.String(hc.Port),
			HealthCheckProtocol:        elbv2types.ProtocolEnum(hc.Protocol),
			HealthCheckIntervalSeconds: aws.Int32(hc.IntervalSeconds),
			HealthCheckTimeoutSeconds:  aws.Int32(hc.TimeoutSeconds),
			HealthyThresholdCount:      aws.Int32(hc.HealthyThreshold),
			UnhealthyThresholdCount:    aws.Int32(hc.UnhealthyThreshold),
			Matcher:                    &elbv2types.Matcher{HttpCode: aws.String(hc.SuccessCodes)},
			Tags:                       d.stackTags(m.ID, tg.Resource),
		})
		if err != nil {
			return "", fmt.Errorf("create target group %s for %s: %w", tg.Name, tg.Resource, err)
		}
		if len(resp.TargetGroups) != 1 {
			return "", fmt.Errorf("create target group %s: answer held %d target groups", tg.Name, len(resp.TargetGroups))
		}
		arn = aws.ToString(resp.TargetGroups[0].TargetGroupArn)
	}
	return arn, d.syncAttributes(ctx, arn, tg)
}

func (d *deployer) syncAttributes(ctx context.Context, arn string, tg *tgModel) error {
	if len(tg.Attributes) == 0 {
		return nil
	}
	resp, err := d.api.DescribeTargetGroupAttributes(ctx, &elbv2.DescribeTargetGroupAttributesInput{TargetGroupArn: aws.String(arn)})
	if err != nil {
		return fmt.Errorf("read attributes of target group %s: %w", tg.Name, err)
	}
	have := map[string]string{}
	for _, a := range resp.Attributes {
		have[aws.ToString(a.Key)] = aws.ToString(a.Value)
	}
	var change []elbv2types.TargetGroupAttribute
	for _, k := range slices.Sorted(maps.Keys(tg.Attributes)) {
		if have[k] != tg.Attributes[k] {
			change = append(change, elbv2types.TargetGroupAttribute{Key: aws.String(k), Value: aws.String(tg.Attributes[k])})
		}
	}
	if len(change) == 0 {
		return nil
	}
	if _, err := d.api.ModifyTargetGroupAttributes(ctx, &elbv2.ModifyTargetGroupAttributesInput{TargetGroupArn: aws.String(arn), Attributes: change}); err != nil {
		return fmt.Errorf("set attributes of target group %s (annotation %s): %w", tg.Name, AnnotationTGAttrs, err)
	}
	return nil
}

// resolveAction turns an action model into an ELBv2 action, with ARNs.
func (d *deployer) resolveAction(ctx context.Context, a actionModel, tgs map[string]string) (elbv2types.Action, error) {
	out := elbv2types.Action{Type: a.Type, FixedResponseConfig: a.FixedResponse, RedirectConfig: a.Redirect}
	if a.Type != elbv2types.ActionTypeEnumForward {
		return out, nil
	}
	fc := &elbv2types.ForwardActionConfig{TargetGroupStickinessConfig: a.Stickiness}
	for _, f := range a.Forward {
		arn := f.ARN
		switch {
		case f.Resource != "":
			arn = tgs[f.Resource]
		case f.Name != "":
			resp, err := d.api.DescribeTargetGroups(ctx, &elbv2.DescribeTargetGroupsInput{Names: []string{f.Name}})
			if err != nil {
				return out, fmt.Errorf("find target group named %q: %w", f.Name, err)
			}
			if len(resp.TargetGroups) == 0 {
				return out, fmt.Errorf("no target group named %q", f.Name)
			}
			arn = aws.ToString(resp.TargetGroups[0].TargetGroupArn)
		}
		fc.TargetGroups = append(fc.TargetGroups, elbv2types.TargetGroupTuple{TargetGroupArn: aws.String(arn), Weight: f.Weight})
	}
	out.ForwardConfig = fc
	return out, nil
}

// syncListeners creates, updates and deletes listeners and their rules.
func (d *deployer) syncListeners(ctx context.Context, m *stackModel, dep *deployed) error {
	resp, err := d.api.DescribeListeners(ctx, &elbv2.DescribeListenersInput{LoadBalancerArn: aws.String(dep.LoadBalancerARN)})
	if err != nil {
		return fmt.Errorf("DescribeListeners: %w", err)
	}
	existing := map[int32]elbv2types.Listener{}
	for _, l := range resp.Listeners {
		existing[aws.ToInt32(l.Port)] = l
	}
	want := map[int32]bool{}
	for _, lm := range m.Listeners {
		want[lm.Port] = true
		def, err := d.resolveAction(ctx, lm.DefaultAction, dep.TargetGroups)
		if err != nil {
			return err
		}
		arn, err := d.ensureListener(ctx, dep.LoadBalancerARN, lm.Port, def, existing)
		if err != nil {
			return err
		}
		if err := d.syncRules(ctx, arn, lm, dep.TargetGroups); err != nil {
			return err
		}
	}
	for port, l := range existing {
		if want[port] {
			continue
		}
		if _, err := d.api.DeleteListener(ctx, &elbv2.DeleteListenerInput{ListenerArn: l.ListenerArn}); err != nil &&
			!isAPIError(err, "ListenerNotFound") {
			return fmt.Errorf("delete listener on port %d: %w", port, err)
		}
	}
	return nil
}

func (d *deployer) ensureListener(ctx context.Context, lbARN string, port int32, def elbv2types.Action,
	existing map[int32]elbv2types.Listener) (string, error) {
	if l, ok := existing[port]; ok {
		if canonActions(l.DefaultActions) != canonActions([]elbv2types.Action{def}) {
			if _, err := d.api.ModifyListener(ctx, &elbv2.ModifyListenerInput{
				ListenerArn: l.ListenerArn, DefaultActions: []elbv2types.Action{def},
			}); err != nil {
				return "", fmt.Errorf("modify default action of listener on port %d: %w", port, err)
			}
		}
		return aws.ToString(l.ListenerArn), nil
	}
	resp, err := d.api.CreateListener(ctx, &elbv2.CreateListenerInput{
		LoadBalancerArn: aws.String(lbARN),
		Port:            aws.Int32(port),
		Protocol:        elbv2types.ProtocolEnumHttp,
		DefaultActions:  []elbv2types.Action{def},
	})
	if err != nil {
		return "", fmt.Errorf("create listener on port %d: %w", port, err)
	}
	if len(resp.Listeners) != 1 {
		return "", fmt.Errorf("create listener on port %d: answer held %d listeners", port, len(resp.Listeners))
	}
	return aws.ToString(resp.Listeners[0].ListenerArn), nil
}

// syncRules makes the listener's rules match lm: rule i of the model has priority
// i+1. Rules are modified in place, so a weight change is a single ModifyRule, as
// with the real controller; the order of the calls keeps every request routed
// while rules are inserted or removed.
func (d *deployer) syncRules(ctx context.Context, listenerARN string, lm *listenerModel, tgs map[string]string) error {
	rules, err := allRules(ctx, d.api, listenerARN)
	if err != nil {
		return err
	}
	byPriority := map[int]elbv2types.Rule{}
	var stale []elbv2types.Rule
	for _, r := range rules {
		if aws.ToBool(r.IsDefault) {
			continue
		}
		p, err := parsePriority(aws.ToString(r.Priority))
		if err != nil {
			return err
		}
		if p > len(lm.Rules) {
			stale = append(stale, r)
			continue
		}
		byPriority[p] = r
	}
	// Last priority first, stale rules last: a rule inserted at the front
	// (a header route) is created behind the rule it displaces before that
	// rule changes, and a removed one's traffic has somewhere to go before
	// it disappears. Requests never fall through to the default action.
	for i := len(lm.Rules) - 1; i >= 0; i-- {
		rm := lm.Rules[i]
		prio := i + 1
		action, err := d.resolveAction(ctx, rm.Action, tgs)
		if err != nil {
			return err
		}
		actions := []elbv2types.Action{action}
		if r, ok := byPriority[prio]; ok {
			if canonConditions(r.Conditions) == canonConditions(rm.Conditions) && canonActions(r.Actions) == canonActions(actions) {
				continue
			}
			if _, err := d.api.ModifyRule(ctx, &elbv2.ModifyRuleInput{RuleArn: r.RuleArn, Conditions: rm.Conditions, Actions: actions}); err != nil {
				return fmt.Errorf("modify rule %d of listener %s: %w", prio, listenerARN, err)
			}
			continue
		}
		if _, err := d.api.CreateRule(ctx, &elbv2.CreateRuleInput{
			ListenerArn: aws.String(listenerARN), Priority: aws.Int32(int32(prio)), Conditions: rm.Conditions, Actions: actions,
		}); err != nil {
			return fmt.Errorf("create rule %d of listener %s: %w", prio, listenerARN, err)
		}
	}
	for _, r := range stale {
		if _, err := d.api.DeleteRule(ctx, &elbv2.DeleteRuleInput{RuleArn: r.RuleArn}); err != nil && !isAPIError(err, "RuleNotFound") {
			return fmt.Errorf("delete rule %s of listener %s: %w", aws.ToString(r.Priority), listenerARN, err)
		}
	}
	return nil
}

func parsePriority(s string) (int, error) {
	var p int
	if _, err := fmt.Sscanf(s, "%d", &p); err != nil {
		return 0, fmt.Errorf("rule priority %q is not a number", s)
	}
	return p, nil
}

// destroy deletes the stack's load balancers (with their listeners and rules) and
// target groups.
func (d *deployer) destroy(ctx context.Context, stack StackID) error {
	o, err := d.find(ctx, stack)
	if err != nil {
		return err
	}
	for _, lb := range o.LoadBalancers {
		if _, err := d.api.DeleteLoadBalancer(ctx, &elbv2.DeleteLoadBalancerInput{LoadBalancerArn: lb.LoadBalancerArn}); err != nil &&
			!isAPIError(err, "LoadBalancerNotFound") {
			return fmt.Errorf("delete load balancer %s: %w", aws.ToString(lb.LoadBalancerName), err)
		}
	}
	for arn := range o.TargetGroups {
		if _, err := d.api.DeleteTargetGroup(ctx, &elbv2.DeleteTargetGroupInput{TargetGroupArn: aws.String(arn)}); err != nil &&
			!isAPIError(err, "TargetGroupNotFound") {
			return fmt.Errorf("delete target group %s: %w", arn, err)
		}
	}
	return nil
}
