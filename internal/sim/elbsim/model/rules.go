package model

import (
	"sort"
	"strconv"

	"github.com/albrollouts/albrollouts/internal/sim/elbsim/query"
)

// CreateRule adds a rule with a unique priority (1-50000) to a listener.
func (m *Model) CreateRule(in *query.CreateRuleInput) (*query.RulesResult, *query.Error) {
	return mutate(m, func(tx *State) (*query.RulesResult, *query.Error) {
		l, err := tx.listener(in.ListenerArn)
		if err != nil {
			return nil, err
		}
		if in.Priority == nil {
			return nil, query.Validation("A rule priority must be specified")
		}
		if err := checkRange(*in.Priority, 1, 50000, "priority"); err != nil {
			return nil, err
		}
		rules := tx.RulesOf(l.ARN)
		for _, r := range rules {
			if !r.IsDefault && r.Priority == *in.Priority {
				return nil, query.Client(query.CodePriorityInUse, "Priority '%d' is currently in use", *in.Priority)
			}
		}
		if len(rules) > MaxRulesPerListener { // the default rule does not count
			return nil, query.Client(query.CodeTooManyRules, "Listener '%s' already has the maximum of %d rules", l.ARN, MaxRulesPerListener)
		}
		conds, err := normalizeConditions(in.Conditions)
		if err != nil {
			return nil, err
		}
		actions, err := tx.normalizeActions(in.Actions, l.LoadBalancerARN, "actions")
		if err != nil {
			return nil, err
		}
		tags := fromQueryTags(in.Tags)
		if err := checkTags(tags, "tags"); err != nil {
			return nil, err
		}
		lb := tx.LoadBalancers[l.LoadBalancerARN]
		r := &Rule{ListenerARN: l.ARN, Priority: *in.Priority, Conditions: conds, Actions: actions, Seq: tx.nextSeq(), Tags: tags}
		r.ARN = tx.arnPrefix() + kindRule + "/app/" + lb.Name + "/" + lb.ID + "/" + l.ID + "/" + newID(m.o.Rand)
		tx.Rules[r.ARN] = r
		return &query.RulesResult{Rules: []query.Rule{describeRule(r)}}, nil
	})
}

// ModifyRule replaces the conditions and/or actions of a rule. The conditions
// of the default rule cannot be changed.
func (m *Model) ModifyRule(in *query.ModifyRuleInput) (*query.RulesResult, *query.Error) {
	return mutate(m, func(tx *State) (*query.RulesResult, *query.Error) {
		old, err := tx.rule(in.RuleArn)
		if err != nil {
			return nil, err
		}
		r := *old
		if in.Conditions != nil {
			if r.IsDefault {
				return nil, query.Client(query.CodeOperationNotPermitted, "The conditions of default rule '%s' cannot be modified", r.ARN)
			}
			if r.Conditions, err = normalizeConditions(in.Conditions); err != nil {
				return nil, err
			}
		}
		if in.Actions != nil {
			lbARN := tx.Listeners[r.ListenerARN].LoadBalancerARN
			if r.Actions, err = tx.normalizeActions(in.Actions, lbARN, "actions"); err != nil {
				return nil, err
			}
		}
		tx.Rules[r.ARN] = &r
		return &query.RulesResult{Rules: []query.Rule{describeRule(&r)}}, nil
	})
}

// DeleteRule deletes a rule other than the default rule.
func (m *Model) DeleteRule(in *query.DeleteRuleInput) (*query.EmptyResult, *query.Error) {
	return mutate(m, func(tx *State) (*query.EmptyResult, *query.Error) {
		r, err := tx.rule(in.RuleArn)
		if err != nil {
			return nil, err
		}
		if r.IsDefault {
			return nil, query.Client(query.CodeOperationNotPermitted, "Default rule '%s' cannot be deleted", r.ARN)
		}
		delete(tx.Rules, r.ARN)
		return &query.EmptyResult{}, nil
	})
}

// SetRulePriorities changes the priorities of several rules at once; the result
// must leave no two rules of a listener with the same priority.
func (m *Model) SetRulePriorities(in *query.SetRulePrioritiesInput) (*query.RulesResult, *query.Error) {
	return mutate(m, func(tx *State) (*query.RulesResult, *query.Error) {
		if len(in.RulePriorities) == 0 {
			return nil, query.Validation("At least one rule priority must be specified")
		}
		var changed []*Rule
		seen := map[string]bool{}
		for i, p := range in.RulePriorities {
			old, err := tx.rule(p.RuleArn)
			if err != nil {
				return nil, err
			}
			if old.IsDefault {
				return nil, query.Client(query.CodeOperationNotPermitted, "The priority of default rule '%s' cannot be changed", old.ARN)
			}
			if seen[old.ARN] {
				return nil, query.Validation("Rule '%s' is given twice", old.ARN)
			}
			seen[old.ARN] = true
			if p.Priority == nil {
				return nil, query.Validation("A priority must be given for rule '%s'", old.ARN)
			}
			if err := checkRange(*p.Priority, 1, 50000, "rulePriorities."+strconv.Itoa(i+1)+".member.priority"); err != nil {
				return nil, err
			}
			r := *old
			r.Priority = *p.Priority
			tx.Rules[r.ARN] = &r
			changed = append(changed, &r)
		}
		// Check every listener touched for duplicate priorities after the change.
		for _, c := range changed {
			for _, other := range tx.Rules {
				if other.ListenerARN == c.ListenerARN && other.ARN != c.ARN && !other.IsDefault && other.Priority == c.Priority {
					return nil, query.Client(query.CodePriorityInUse, "Priority '%d' is currently in use", c.Priority)
				}
			}
		}
		out := &query.RulesResult{}
		for _, r := range changed {
			out.Rules = append(out.Rules, describeRule(r))
		}
		return out, nil
	})
}

func (st *State) rule(arn string) (*Rule, *query.Error) {
	if err := checkARN(arn, kindRule); err != nil {
		return nil, err
	}
	r, ok := st.Rules[arn]
	if !ok {
		return nil, query.Client(query.CodeRuleNotFound, "Rule '%s' not found", arn)
	}
	return r, nil
}

func describeRule(r *Rule) query.Rule {
	prio := "default"
	if !r.IsDefault {
		prio = strconv.Itoa(int(r.Priority))
	}
	return query.Rule{RuleArn: r.ARN, Priority: prio, Conditions: r.Conditions, Actions: r.Actions, IsDefault: r.IsDefault}
}

// DescribeRules answers the rules of a listener (by priority, default last) or the given rules.
func (st *State) DescribeRules(in *query.DescribeRulesInput) (*query.RulesResult, *query.Error) {
	var rules []*Rule
	switch {
	case in.ListenerArn != "" && len(in.RuleArns) > 0:
		return nil, query.Validation("Rule ARNs and a listener ARN cannot be specified at the same time")
	case in.ListenerArn != "":
		if _, err := st.listener(in.ListenerArn); err != nil {
			return nil, err
		}
		rules = st.RulesOf(in.ListenerArn)
	case len(in.RuleArns) > 0:
		for _, arn := range in.RuleArns {
			if err := checkARN(arn, kindRule); err != nil {
				return nil, err
			}
			r, ok := st.Rules[arn]
			if !ok {
				return nil, query.Client(query.CodeRuleNotFound, "One or more rules not found")
			}
			rules = append(rules, r)
		}
		sort.SliceStable(rules, func(i, j int) bool { return ruleLess(rules[i], rules[j]) })
	default:
		return nil, query.Validation("You must specify either listener ARN or rule ARNs")
	}
	pg, next, err := page(rules, in.Marker, in.PageSize)
	if err != nil {
		return nil, err
	}
	out := &query.RulesResult{NextMarker: next, Rules: make([]query.Rule, len(pg))}
	for i, r := range pg {
		out.Rules[i] = describeRule(r)
	}
	return out, nil
}
