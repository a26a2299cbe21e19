package model

import (
	"regexp"
	"slices"
	"sort"
	"strconv"

	"github.com/albrollouts/albrollouts/internal/sim/elbsim/query"
)

var (
	fixedStatusRE    = regexp.MustCompile(`^[245]\d\d$`)
	fixedContentType = []string{"text/plain", "text/css", "text/html", "application/javascript", "application/json"}
)

const (
	maxWeight         = 999
	maxForwardGroups  = 5
	maxActionsPerRule = 5
	maxStickySeconds  = 604800
)

// normalizeActions validates the actions of a rule (or a listener's default
// actions) on load balancer lbARN and returns them as Describe* answers them:
// ordered, a forward action always with a ForwardConfig (weights filled in,
// stickiness explicit) and with TargetGroupArn when it names a single group.
// prefix is the parameter name for messages ("actions" or "defaultActions").
func (st *State) normalizeActions(in []query.Action, lbARN, prefix string) ([]query.Action, *query.Error) {
	if len(in) == 0 {
		return nil, query.Validation("At least one action must be specified in '%s'", prefix)
	}
	if len(in) > maxActionsPerRule {
		return nil, query.Client(query.CodeTooManyActions, "A rule can have at most %d actions; %d were given", maxActionsPerRule, len(in))
	}
	out := make([]query.Action, len(in))
	for i, a := range in {
		at := prefix + "." + strconv.Itoa(i+1) + ".member"
		n, err := st.normalizeAction(a, lbARN, at)
		if err != nil {
			return nil, err
		}
		if n.Order == nil {
			n.Order = ptr(int32(i + 1))
		} else if err := checkRange(*n.Order, 1, 50000, at+".order"); err != nil {
			return nil, err
		}
		out[i] = n
	}
	sort.SliceStable(out, func(i, j int) bool { return *out[i].Order < *out[j].Order })
	terminal := 0
	for i, a := range out {
		if i > 0 && *a.Order == *out[i-1].Order {
			return nil, query.Validation("Two actions have the same order %d", *a.Order)
		}
		if a.Type == "forward" || a.Type == "fixed-response" || a.Type == "redirect" {
			terminal++
			if i != len(out)-1 {
				return nil, query.Client(query.CodeInvalidLoadBalancerAction, "The %s action must be the last action of the rule", a.Type)
			}
		}
	}
	if terminal != 1 {
		return nil, query.Client(query.CodeInvalidLoadBalancerAction, "A rule must end with exactly one forward, redirect or fixed-response action")
	}
	return out, nil
}

func (st *State) normalizeAction(a query.Action, lbARN, at string) (query.Action, *query.Error) {
	out := query.Action{Type: a.Type, Order: a.Order}
	switch a.Type {
	case "forward":
		fc, err := st.normalizeForward(a, lbARN, at)
		if err != nil {
			return out, err
		}
		out.ForwardConfig = fc
		if len(fc.TargetGroups) == 1 {
			out.TargetGroupArn = fc.TargetGroups[0].TargetGroupArn
		}
	case "fixed-response":
		f := a.FixedResponseConfig
		if f == nil {
			return out, query.Validation("A fixed-response action needs FixedResponseConfig at '%s'", at)
		}
		if !fixedStatusRE.MatchString(f.StatusCode) {
			return out, constraint(f.StatusCode, at+".fixedResponseConfig.statusCode", "Member must satisfy regular expression pattern: ^(2|4|5)\\d\\d$")
		}
		if f.ContentType != "" {
			if err := oneOf(f.ContentType, at+".fixedResponseConfig.contentType", fixedContentType...); err != nil {
				return out, err
			}
		}
		if len(f.MessageBody) > 1024 {
			return out, constraint(len(f.MessageBody), at+".fixedResponseConfig.messageBody", "Member must have length less than or equal to 1024")
		}
		c := *f
		out.FixedResponseConfig = &c
	case "redirect":
		r := a.RedirectConfig
		if r == nil {
			return out, query.Validation("A redirect action needs RedirectConfig at '%s'", at)
		}
		if err := oneOf(r.StatusCode, at+".redirectConfig.statusCode", "HTTP_301", "HTTP_302"); err != nil {
			return out, err
		}
		if r.Protocol != "" {
			if err := oneOf(r.Protocol, at+".redirectConfig.protocol", "HTTP", "HTTPS", "#{protocol}"); err != nil {
				return out, err
			}
		}
		c := *r
		// AWS fills the parts not given with the placeholders that keep them.
		for _, f := range []struct {
			p   *string
			def string
		}{{&c.Protocol, "#{protocol}"}, {&c.Port, "#{port}"}, {&c.Host, "#{host}"}, {&c.Path, "/#{path}"}, {&c.Query, "#{query}"}} {
			if *f.p == "" {
				*f.p = f.def
			}
		}
		out.RedirectConfig = &c
	case "authenticate-oidc", "authenticate-cognito", "jwt-validation":
		return out, query.Client(query.CodeInvalidLoadBalancerAction, "The %s action is supported only on HTTPS listeners; elbsim serves HTTP listeners", a.Type)
	default:
		return out, oneOf(a.Type, at+".type", "forward", "authenticate-oidc", "authenticate-cognito", "redirect", "fixed-response", "jwt-validation")
	}
	return out, nil
}

func (st *State) normalizeForward(a query.Action, lbARN, at string) (*query.ForwardActionConfig, *query.Error) {
	var tuples []query.TargetGroupTuple
	switch {
	case a.ForwardConfig != nil && len(a.ForwardConfig.TargetGroups) > 0:
		tuples = a.ForwardConfig.TargetGroups
		if a.TargetGroupArn != "" && (len(tuples) != 1 || tuples[0].TargetGroupArn != a.TargetGroupArn) {
			return nil, query.Validation("When both TargetGroupArn and ForwardConfig are given, ForwardConfig must name exactly that one target group")
		}
	case a.TargetGroupArn != "":
		tuples = []query.TargetGroupTuple{{TargetGroupArn: a.TargetGroupArn}}
	default:
		return nil, query.Validation("A forward action at '%s' needs TargetGroupArn or ForwardConfig.TargetGroups", at)
	}
	if len(tuples) > maxForwardGroups {
		return nil, query.Validation("A forward action can have at most %d target groups; %d were given", maxForwardGroups, len(tuples))
	}
	out := &query.ForwardActionConfig{TargetGroups: make([]query.TargetGroupTuple, len(tuples))}
	var seen []string
	for i, t := range tuples {
		tat := at + ".forwardConfig.targetGroups." + strconv.Itoa(i+1) + ".member"
		weight := int32(1)
		if t.Weight != nil {
			weight = *t.Weight
			if err := checkRange(weight, 0, maxWeight, tat+".weight"); err != nil {
				return nil, err
			}
		}
		tg, err := st.tg(t.TargetGroupArn)
		if err != nil {
			return nil, err
		}
		if slices.Contains(seen, tg.ARN) {
			return nil, query.Validation("Target group '%s' appears twice in one forward action", tg.ARN)
		}
		seen = append(seen, tg.ARN)
		for _, other := range st.tgLBs[tg.ARN] {
			if other != lbARN {
				return nil, query.Client(query.CodeTargetGroupAssociationLimit, "The following target groups cannot be associated with more than one load balancer: %s", tg.ARN)
			}
		}
		out.TargetGroups[i] = query.TargetGroupTuple{TargetGroupArn: tg.ARN, Weight: ptr(weight)}
	}
	sticky := &query.TargetGroupStickinessConfig{Enabled: ptr(false)}
	if s := a.ForwardConfig; s != nil && s.TargetGroupStickinessConfig != nil && s.TargetGroupStickinessConfig.Enabled != nil && *s.TargetGroupStickinessConfig.Enabled {
		d := s.TargetGroupStickinessConfig.DurationSeconds
		if d == nil {
			return nil, query.Validation("Stickiness DurationSeconds must be given when stickiness is enabled")
		}
		if err := checkRange(*d, 1, maxStickySeconds, at+".forwardConfig.targetGroupStickinessConfig.durationSeconds"); err != nil {
			return nil, err
		}
		sticky = &query.TargetGroupStickinessConfig{Enabled: ptr(true), DurationSeconds: ptr(*d)}
	}
	out.TargetGroupStickinessConfig = sticky
	return out, nil
}

func ptr[T any](v T) *T { return &v }
