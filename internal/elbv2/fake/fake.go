// Package fake is an in-memory implementation of elbv2.API for unit tests:
// load balancers, listeners, rules, target groups, tags and target health set
// directly by the test, pagination and the DescribeTags limit as in AWS, call
// counters per operation, and injectable errors.
package fake

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	awselbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/aws/smithy-go"

	"github.com/albrollouts/albrollouts/internal/elbv2"
)

// ELBv2 is the fake. Create it with New; it is safe for concurrent use.
type ELBv2 struct {
	Region  string
	Account string

	mu        sync.Mutex
	seq       int
	lbs       []types.LoadBalancer
	listeners map[string][]types.Listener // by LB ARN
	rules     map[string][]types.Rule     // by listener ARN
	tgs       []types.TargetGroup
	tags      map[string][]types.Tag
	health    map[string][]types.TargetHealthDescription // by TG ARN
	calls     map[string]int
	failNext  map[string][]error
	failAll   map[string]error
	// onCall runs (unlocked) at the start of every call, e.g. to block or count.
	onCall func(op string)
}

// New returns an empty fake for us-east-1 / 123456789012.
func New() *ELBv2 {
	return &ELBv2{
		Region: "us-east-1", Account: "123456789012",
		listeners: map[string][]types.Listener{}, rules: map[string][]types.Rule{},
		tags: map[string][]types.Tag{}, health: map[string][]types.TargetHealthDescription{},
		calls: map[string]int{}, failNext: map[string][]error{}, failAll: map[string]error{},
	}
}

var _ elbv2.API = (*ELBv2)(nil)

// APIError builds an error like the SDK returns for an AWS error code, e.g.
// APIError("Throttling", "Rate exceeded").
func APIError(code, message string) error {
	return &smithy.GenericAPIError{Code: code, Message: message, Fault: smithy.FaultClient}
}

// AccessDenied builds AWS's AccessDenied error for an operation and principal.
func AccessDenied(op, principal string) error {
	return APIError("AccessDenied", fmt.Sprintf("User: %s is not authorized to perform: elasticloadbalancing:%s because no identity-based policy allows the elasticloadbalancing:%s action", principal, op, op))
}

func (f *ELBv2) id() string {
	f.seq++
	return fmt.Sprintf("%016x", f.seq)
}

// AddLoadBalancer creates an active ALB and returns it (ARN, DNS name in f.Region).
func (f *ELBv2) AddLoadBalancer(name string) types.LoadBalancer {
	f.mu.Lock()
	defer f.mu.Unlock()
	id := f.id()
	lb := types.LoadBalancer{
		LoadBalancerArn:  aws.String(fmt.Sprintf("arn:aws:elasticloadbalancing:%s:%s:loadbalancer/app/%s/%s", f.Region, f.Account, name, id)),
		LoadBalancerName: aws.String(name),
		DNSName:          aws.String(fmt.Sprintf("%s-%d.%s.elb.amazonaws.com", name, 1000000+f.seq, f.Region)),
		Type:             types.LoadBalancerTypeEnumApplication,
		State:            &types.LoadBalancerState{Code: types.LoadBalancerStateEnumActive},
	}
	f.lbs = append(f.lbs, lb)
	return lb
}

// DeleteLoadBalancer removes a load balancer and its listeners and rules.
func (f *ELBv2) DeleteLoadBalancer(lbARN string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, lb := range f.lbs {
		if aws.ToString(lb.LoadBalancerArn) == lbARN {
			f.lbs = append(f.lbs[:i], f.lbs[i+1:]...)
			break
		}
	}
	for _, l := range f.listeners[lbARN] {
		delete(f.rules, aws.ToString(l.ListenerArn))
	}
	delete(f.listeners, lbARN)
}

// AddListener adds a listener with a default rule answering a fixed 404, and returns its ARN.
func (f *ELBv2) AddListener(lbARN string, port int32, protocol string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	arn := strings.Replace(lbARN, ":loadbalancer/", ":listener/", 1) + "/" + f.id()
	f.listeners[lbARN] = append(f.listeners[lbARN], types.Listener{
		ListenerArn: aws.String(arn), LoadBalancerArn: aws.String(lbARN), Port: aws.Int32(port), Protocol: types.ProtocolEnum(protocol),
	})
	f.rules[arn] = []types.Rule{{
		RuleArn: aws.String(strings.Replace(arn, ":listener/", ":listener-rule/", 1) + "/" + f.id()), Priority: aws.String("default"), IsDefault: aws.Bool(true),
		Actions: []types.Action{{Type: types.ActionTypeEnumFixedResponse, FixedResponseConfig: &types.FixedResponseActionConfig{StatusCode: aws.String("404")}}},
	}}
	return arn
}

// AddTargetGroup creates an ip target group attached to lbARN with tags and returns its ARN.
func (f *ELBv2) AddTargetGroup(lbARN, name string, tags map[string]string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	arn := fmt.Sprintf("arn:aws:elasticloadbalancing:%s:%s:targetgroup/%s/%s", f.Region, f.Account, name, f.id())
	f.tgs = append(f.tgs, types.TargetGroup{
		TargetGroupArn: aws.String(arn), TargetGroupName: aws.String(name), Port: aws.Int32(8080),
		Protocol: types.ProtocolEnumHttp, TargetType: types.TargetTypeEnumIp, LoadBalancerArns: []string{lbARN},
		HealthCheckEnabled: aws.Bool(true), HealthCheckPath: aws.String("/healthz"), HealthCheckPort: aws.String("traffic-port"),
		HealthCheckProtocol: types.ProtocolEnumHttp, HealthCheckIntervalSeconds: aws.Int32(15), HealthCheckTimeoutSeconds: aws.Int32(5),
		HealthyThresholdCount: aws.Int32(2), UnhealthyThresholdCount: aws.Int32(2), Matcher: &types.Matcher{HttpCode: aws.String("200")},
	})
	keys := make([]string, 0, len(tags))
	for k := range tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		f.tags[arn] = append(f.tags[arn], types.Tag{Key: aws.String(k), Value: aws.String(tags[k])})
	}
	return arn
}

// SetTags replaces the tags of a resource.
func (f *ELBv2) SetTags(arn string, tags map[string]string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	keys := make([]string, 0, len(tags))
	for k := range tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	f.tags[arn] = nil
	for _, k := range keys {
		f.tags[arn] = append(f.tags[arn], types.Tag{Key: aws.String(k), Value: aws.String(tags[k])})
	}
}

// DeleteTargetGroup removes a target group.
func (f *ELBv2) DeleteTargetGroup(tgARN string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, tg := range f.tgs {
		if aws.ToString(tg.TargetGroupArn) == tgARN {
			f.tgs = append(f.tgs[:i], f.tgs[i+1:]...)
			break
		}
	}
	delete(f.tags, tgARN)
	delete(f.health, tgARN)
}

// SetRule creates or replaces the rule of a listener with the given priority
// (a number, or "default" for the default rule) forwarding to the weighted
// groups, and returns its ARN.
func (f *ELBv2) SetRule(listenerARN, priority string, forward ...elbv2.WeightedTargetGroup) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	tuples := make([]types.TargetGroupTuple, 0, len(forward))
	for _, w := range forward {
		tuples = append(tuples, types.TargetGroupTuple{TargetGroupArn: aws.String(w.ARN), Weight: aws.Int32(w.Weight)})
	}
	action := types.Action{Type: types.ActionTypeEnumForward, Order: aws.Int32(1), ForwardConfig: &types.ForwardActionConfig{TargetGroups: tuples}}
	rules := f.rules[listenerARN]
	for i, r := range rules {
		if aws.ToString(r.Priority) == priority {
			rules[i].Actions = []types.Action{action}
			return aws.ToString(r.RuleArn)
		}
	}
	arn := strings.Replace(listenerARN, ":listener/", ":listener-rule/", 1) + "/" + f.id()
	rule := types.Rule{RuleArn: aws.String(arn), Priority: aws.String(priority), IsDefault: aws.Bool(priority == "default"), Actions: []types.Action{action}}
	// Keep the default rule last, numbered rules in order, as AWS lists them.
	rules = append(rules, rule)
	sort.SliceStable(rules, func(i, j int) bool { return priorityKey(rules[i]) < priorityKey(rules[j]) })
	f.rules[listenerARN] = rules
	return arn
}

// SetRuleTargetGroup creates or replaces the rule of a listener with the
// given priority with a forward action in the legacy single-group shape
// (TargetGroupArn, no ForwardConfig), as the load balancer controller may
// write for a plain service backend, and returns its ARN.
func (f *ELBv2) SetRuleTargetGroup(listenerARN, priority, tgARN string) string {
	arn := f.SetRule(listenerARN, priority)
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, r := range f.rules[listenerARN] {
		if aws.ToString(r.RuleArn) == arn {
			f.rules[listenerARN][i].Actions = []types.Action{{Type: types.ActionTypeEnumForward, Order: aws.Int32(1), TargetGroupArn: aws.String(tgARN)}}
		}
	}
	return arn
}

// SetRuleConditions replaces the conditions of the rule of a listener with
// the given priority. It reports whether the rule exists.
func (f *ELBv2) SetRuleConditions(listenerARN, priority string, conds ...elbv2.RuleCondition) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, r := range f.rules[listenerARN] {
		if aws.ToString(r.Priority) != priority {
			continue
		}
		var out []types.RuleCondition
		for _, c := range conds {
			out = append(out, toCondition(c))
		}
		f.rules[listenerARN][i].Conditions = out
		return true
	}
	return false
}

func toCondition(c elbv2.RuleCondition) types.RuleCondition {
	out := types.RuleCondition{Field: aws.String(c.Field)}
	switch c.Field {
	case elbv2.ConditionHostHeader:
		out.HostHeaderConfig = &types.HostHeaderConditionConfig{Values: c.Values}
	case elbv2.ConditionPathPattern:
		out.PathPatternConfig = &types.PathPatternConditionConfig{Values: c.Values}
	case elbv2.ConditionHTTPHeader:
		out.HttpHeaderConfig = &types.HttpHeaderConditionConfig{HttpHeaderName: aws.String(c.HTTPHeaderName), Values: c.Values}
	case elbv2.ConditionHTTPRequestMethod:
		out.HttpRequestMethodConfig = &types.HttpRequestMethodConditionConfig{Values: c.Values}
	case elbv2.ConditionSourceIP:
		out.SourceIpConfig = &types.SourceIpConditionConfig{Values: c.Values}
	case elbv2.ConditionQueryString:
		cfg := &types.QueryStringConditionConfig{}
		for _, v := range c.Values {
			k, val, ok := strings.Cut(v, "=")
			if !ok {
				k, val = "", v
			}
			kv := types.QueryStringKeyValuePair{Value: aws.String(val)}
			if k != "" {
				kv.Key = aws.String(k)
			}
			cfg.Values = append(cfg.Values, kv)
		}
		out.QueryStringConfig = cfg
	default:
		out.Values = c.Values
	}
	return out
}

// DeleteRule removes the rule of a listener with the given priority.
func (f *ELBv2) DeleteRule(listenerARN, priority string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	rules := f.rules[listenerARN]
	for i, r := range rules {
		if aws.ToString(r.Priority) == priority {
			f.rules[listenerARN] = append(rules[:i:i], rules[i+1:]...)
			return
		}
	}
}

// DeleteListener removes a listener and its rules.
func (f *ELBv2) DeleteListener(listenerARN string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.rules, listenerARN)
	for lb, ls := range f.listeners {
		for i, l := range ls {
			if aws.ToString(l.ListenerArn) == listenerARN {
				f.listeners[lb] = append(ls[:i:i], ls[i+1:]...)
				return
			}
		}
	}
}

func priorityKey(r types.Rule) int {
	n, err := strconv.Atoi(aws.ToString(r.Priority))
	if err != nil {
		return 1 << 30
	}
	return n
}

// SetTargetHealth replaces what DescribeTargetHealth answers for a group.
func (f *ELBv2) SetTargetHealth(tgARN string, targets ...elbv2.TargetHealth) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ds := make([]types.TargetHealthDescription, 0, len(targets))
	for _, t := range targets {
		d := types.TargetHealthDescription{
			Target:       &types.TargetDescription{Id: aws.String(t.ID), Port: aws.Int32(t.Port)},
			TargetHealth: &types.TargetHealth{State: types.TargetHealthStateEnum(t.State)},
		}
		if t.Reason != "" {
			d.TargetHealth.Reason = types.TargetHealthReasonEnum(t.Reason)
			d.TargetHealth.Description = aws.String(t.Description)
		}
		ds = append(ds, d)
	}
	f.health[tgARN] = ds
}

// FailNext makes the next n calls of op fail with err.
func (f *ELBv2) FailNext(op string, err error, n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for range n {
		f.failNext[op] = append(f.failNext[op], err)
	}
}

// Fail makes every call of op fail with err until ClearFailures.
func (f *ELBv2) Fail(op string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failAll[op] = err
}

// ClearFailures removes all injected errors.
func (f *ELBv2) ClearFailures() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failNext, f.failAll = map[string][]error{}, map[string]error{}
}

// OnCall installs a hook run at the start of every call, outside the lock.
func (f *ELBv2) OnCall(hook func(op string)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.onCall = hook
}

// Calls returns how many times op was called (failed calls included).
func (f *ELBv2) Calls(op string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[op]
}

// TotalCalls returns the number of calls of all operations.
func (f *ELBv2) TotalCalls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.calls {
		n += c
	}
	return n
}

// ResetCalls sets every call counter to zero.
func (f *ELBv2) ResetCalls() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = map[string]int{}
}

// begin counts a call, runs the hook and returns an injected error, if any.
// On success it returns with f.mu held; the caller must unlock.
func (f *ELBv2) begin(op string) error {
	f.mu.Lock()
	hook := f.onCall
	f.mu.Unlock()
	if hook != nil {
		hook(op)
	}
	f.mu.Lock()
	f.calls[op]++
	if q := f.failNext[op]; len(q) > 0 {
		f.failNext[op] = q[1:]
		f.mu.Unlock()
		return q[0]
	}
	if err := f.failAll[op]; err != nil {
		f.mu.Unlock()
		return err
	}
	return nil
}

// page returns the slice of n items selected by marker and pageSize, and the next marker.
func page(n int, marker *string, pageSize *int32) (start, end int, next *string, err error) {
	if marker != nil {
		if start, err = strconv.Atoi(*marker); err != nil || start < 0 || start > n {
			return 0, 0, nil, APIError("ValidationError", "invalid marker")
		}
	}
	size := 400
	if pageSize != nil {
		if *pageSize < 1 || *pageSize > 400 {
			return 0, 0, nil, APIError("ValidationError", "PageSize must be between 1 and 400")
		}
		size = int(*pageSize)
	}
	end = min(start+size, n)
	if end < n {
		next = aws.String(strconv.Itoa(end))
	}
	return start, end, next, nil
}

// DescribeLoadBalancers lists all load balancers, paginated.
func (f *ELBv2) DescribeLoadBalancers(_ context.Context, in *awselbv2.DescribeLoadBalancersInput, _ ...func(*awselbv2.Options)) (*awselbv2.DescribeLoadBalancersOutput, error) {
	if err := f.begin(elbv2.OpDescribeLoadBalancers); err != nil {
		return nil, err
	}
	defer f.mu.Unlock()
	if len(in.LoadBalancerArns) > 0 || len(in.Names) > 0 {
		return nil, APIError("ValidationError", "fake: filtering by ARN or name is not implemented")
	}
	start, end, next, err := page(len(f.lbs), in.Marker, in.PageSize)
	if err != nil {
		return nil, err
	}
	return &awselbv2.DescribeLoadBalancersOutput{LoadBalancers: append([]types.LoadBalancer(nil), f.lbs[start:end]...), NextMarker: next}, nil
}

func (f *ELBv2) hasLB(arn string) bool {
	for _, lb := range f.lbs {
		if aws.ToString(lb.LoadBalancerArn) == arn {
			return true
		}
	}
	return false
}

// DescribeListeners lists the listeners of a load balancer.
func (f *ELBv2) DescribeListeners(_ context.Context, in *awselbv2.DescribeListenersInput, _ ...func(*awselbv2.Options)) (*awselbv2.DescribeListenersOutput, error) {
	if err := f.begin(elbv2.OpDescribeListeners); err != nil {
		return nil, err
	}
	defer f.mu.Unlock()
	arn := aws.ToString(in.LoadBalancerArn)
	if !f.hasLB(arn) {
		return nil, APIError("LoadBalancerNotFound", fmt.Sprintf("Load balancer '%s' not found", arn))
	}
	ls := f.listeners[arn]
	start, end, next, err := page(len(ls), in.Marker, in.PageSize)
	if err != nil {
		return nil, err
	}
	return &awselbv2.DescribeListenersOutput{Listeners: append([]types.Listener(nil), ls[start:end]...), NextMarker: next}, nil
}

// DescribeRules lists the rules of a listener.
func (f *ELBv2) DescribeRules(_ context.Context, in *awselbv2.DescribeRulesInput, _ ...func(*awselbv2.Options)) (*awselbv2.DescribeRulesOutput, error) {
	if err := f.begin(elbv2.OpDescribeRules); err != nil {
		return nil, err
	}
	defer f.mu.Unlock()
	arn := aws.ToString(in.ListenerArn)
	rs, ok := f.rules[arn]
	if !ok {
		return nil, APIError("ListenerNotFound", fmt.Sprintf("Listener '%s' not found", arn))
	}
	start, end, next, err := page(len(rs), in.Marker, in.PageSize)
	if err != nil {
		return nil, err
	}
	return &awselbv2.DescribeRulesOutput{Rules: append([]types.Rule(nil), rs[start:end]...), NextMarker: next}, nil
}

// DescribeTargetGroups lists the target groups of a load balancer (or all).
func (f *ELBv2) DescribeTargetGroups(_ context.Context, in *awselbv2.DescribeTargetGroupsInput, _ ...func(*awselbv2.Options)) (*awselbv2.DescribeTargetGroupsOutput, error) {
	if err := f.begin(elbv2.OpDescribeTargetGroups); err != nil {
		return nil, err
	}
	defer f.mu.Unlock()
	lbARN := aws.ToString(in.LoadBalancerArn)
	if lbARN != "" && !f.hasLB(lbARN) {
		return nil, APIError("LoadBalancerNotFound", fmt.Sprintf("Load balancer '%s' not found", lbARN))
	}
	var tgs []types.TargetGroup
	for _, tg := range f.tgs {
		if lbARN == "" || (len(tg.LoadBalancerArns) > 0 && tg.LoadBalancerArns[0] == lbARN) {
			tgs = append(tgs, tg)
		}
	}
	start, end, next, err := page(len(tgs), in.Marker, in.PageSize)
	if err != nil {
		return nil, err
	}
	return &awselbv2.DescribeTargetGroupsOutput{TargetGroups: tgs[start:end], NextMarker: next}, nil
}

// DescribeTags returns the tags of at most 20 resources.
func (f *ELBv2) DescribeTags(_ context.Context, in *awselbv2.DescribeTagsInput, _ ...func(*awselbv2.Options)) (*awselbv2.DescribeTagsOutput, error) {
	if err := f.begin(elbv2.OpDescribeTags); err != nil {
		return nil, err
	}
	defer f.mu.Unlock()
	if len(in.ResourceArns) == 0 || len(in.ResourceArns) > 20 {
		return nil, APIError("ValidationError", fmt.Sprintf("ResourceArns must hold 1 to 20 ARNs, got %d", len(in.ResourceArns)))
	}
	out := &awselbv2.DescribeTagsOutput{}
	for _, arn := range in.ResourceArns {
		out.TagDescriptions = append(out.TagDescriptions, types.TagDescription{ResourceArn: aws.String(arn), Tags: append([]types.Tag(nil), f.tags[arn]...)})
	}
	return out, nil
}

// DescribeTargetHealth returns what SetTargetHealth stored for the group.
func (f *ELBv2) DescribeTargetHealth(_ context.Context, in *awselbv2.DescribeTargetHealthInput, _ ...func(*awselbv2.Options)) (*awselbv2.DescribeTargetHealthOutput, error) {
	if err := f.begin(elbv2.OpDescribeTargetHealth); err != nil {
		return nil, err
	}
	defer f.mu.Unlock()
	arn := aws.ToString(in.TargetGroupArn)
	found := false
	for _, tg := range f.tgs {
		if aws.ToString(tg.TargetGroupArn) == arn {
			found = true
		}
	}
	if !found {
		return nil, APIError("TargetGroupNotFound", fmt.Sprintf("Target groups '%s' not found", arn))
	}
	return &awselbv2.DescribeTargetHealthOutput{TargetHealthDescriptions: append([]types.TargetHealthDescription(nil), f.health[arn]...)}, nil
}
