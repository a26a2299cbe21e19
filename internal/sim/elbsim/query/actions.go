package query

import "sort"

// Actions lists the operations elbsim serves, each with a constructor of its
// (empty) input shape. Decode fills the shape; the service model interprets it.
var inputs = map[string]func() any{
	"CreateLoadBalancer":            func() any { return &CreateLoadBalancerInput{} },
	"DescribeLoadBalancers":         func() any { return &DescribeLoadBalancersInput{} },
	"DeleteLoadBalancer":            func() any { return &DeleteLoadBalancerInput{} },
	"CreateListener":                func() any { return &CreateListenerInput{} },
	"DescribeListeners":             func() any { return &DescribeListenersInput{} },
	"ModifyListener":                func() any { return &ModifyListenerInput{} },
	"DeleteListener":                func() any { return &DeleteListenerInput{} },
	"CreateRule":                    func() any { return &CreateRuleInput{} },
	"DescribeRules":                 func() any { return &DescribeRulesInput{} },
	"ModifyRule":                    func() any { return &ModifyRuleInput{} },
	"DeleteRule":                    func() any { return &DeleteRuleInput{} },
	"SetRulePriorities":             func() any { return &SetRulePrioritiesInput{} },
	"CreateTargetGroup":             func() any { return &CreateTargetGroupInput{} },
	"DescribeTargetGroups":          func() any { return &DescribeTargetGroupsInput{} },
	"ModifyTargetGroup":             func() any { return &ModifyTargetGroupInput{} },
	"DeleteTargetGroup":             func() any { return &DeleteTargetGroupInput{} },
	"DescribeTargetGroupAttributes": func() any { return &DescribeTargetGroupAttributesInput{} },
	"ModifyTargetGroupAttributes":   func() any { return &ModifyTargetGroupAttributesInput{} },
	"RegisterTargets":               func() any { return &TargetsInput{} },
	"DeregisterTargets":             func() any { return &TargetsInput{} },
	"DescribeTargetHealth":          func() any { return &DescribeTargetHealthInput{} },
	"AddTags":                       func() any { return &AddTagsInput{} },
	"RemoveTags":                    func() any { return &RemoveTagsInput{} },
	"DescribeTags":                  func() any { return &DescribeTagsInput{} },
}

// Actions returns the names of the operations elbsim serves, sorted.
func Actions() []string {
	out := make([]string, 0, len(inputs))
	for a := range inputs {
		out = append(out, a)
	}
	sort.Strings(out)
	return out
}

// Known reports whether action is an operation elbsim serves.
func Known(action string) bool { _, ok := inputs[action]; return ok }

// DecodeRequest checks the Action and Version of req and decodes its parameters
// into the action's input shape. An unknown action is InvalidAction (400), as AWS answers.
func DecodeRequest(req *Request) (any, *Error) {
	newInput, ok := inputs[req.Action]
	if !ok {
		return nil, Client(CodeInvalidAction, "The action %s is not valid for this web service.", req.Action)
	}
	if req.Version != "" && req.Version != APIVersion {
		return nil, Client(CodeInvalidAction, "Could not find operation %s for version %s; elbsim serves ELBv2 version %s.", req.Action, req.Version, APIVersion)
	}
	in := newInput()
	if err := Decode(req.Params, in); err != nil {
		return nil, err
	}
	return in, nil
}
