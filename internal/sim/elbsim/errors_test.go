package elbsim_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/albrollouts/albrollouts/internal/sim/elbsim"
)

func TestPagination(t *testing.T) {
	e := newEnv(t, elbsim.Options{})
	var arns []string
	for i := range 305 {
		arns = append(arns, *e.lb(fmt.Sprintf("lb-%03d", i)).LoadBalancerArn)
	}
	// Default page size and PageSize 400: everything on one page.
	for _, ps := range []*int32{nil, aws.Int32(400)} {
		out, err := e.c.DescribeLoadBalancers(e.ctx, &elbv2.DescribeLoadBalancersInput{PageSize: ps})
		if err != nil || len(out.LoadBalancers) != 305 || out.NextMarker != nil {
			t.Fatalf("PageSize %v: err %v, %d load balancers, NextMarker %v", ps, err, len(out.LoadBalancers), out.NextMarker)
		}
	}
	// PageSize 100 with the SDK's paginator: 4 pages, every LB once, oldest first.
	p := elbv2.NewDescribeLoadBalancersPaginator(e.c, &elbv2.DescribeLoadBalancersInput{PageSize: aws.Int32(100)})
	var got []string
	pages := 0
	for p.HasMorePages() {
		out, err := p.NextPage(e.ctx)
		if err != nil {
			t.Fatalf("page %d: %v", pages+1, err)
		}
		pages++
		for _, lb := range out.LoadBalancers {
			got = append(got, *lb.LoadBalancerArn)
		}
	}
	if pages != 4 || strings.Join(got, " ") != strings.Join(arns, " ") {
		t.Fatalf("%d pages, %d load balancers in order %v", pages, len(got), strings.Join(got, " ") == strings.Join(arns, " "))
	}
	// Bad PageSize and Marker are validation errors.
	for _, in := range []*elbv2.DescribeLoadBalancersInput{{PageSize: aws.Int32(0)}, {PageSize: aws.Int32(401)}, {Marker: aws.String("garbage")}} {
		if _, err := e.c.DescribeLoadBalancers(e.ctx, in); apiCode(err) != "ValidationError" {
			t.Errorf("DescribeLoadBalancers(%+v): %v, want ValidationError", in, err)
		}
	}

	// Target groups and rules paginate too.
	for i := range 7 {
		e.tg(fmt.Sprintf("tg-%d", i))
	}
	tp := elbv2.NewDescribeTargetGroupsPaginator(e.c, &elbv2.DescribeTargetGroupsInput{PageSize: aws.Int32(3)})
	n, pages := 0, 0
	for tp.HasMorePages() {
		out, err := tp.NextPage(e.ctx)
		if err != nil {
			t.Fatal(err)
		}
		n, pages = n+len(out.TargetGroups), pages+1
	}
	if n != 7 || pages != 3 {
		t.Fatalf("target groups: %d in %d pages, want 7 in 3", n, pages)
	}
	l := e.listener(&arns[0], 80, types.Action{Type: types.ActionTypeEnumFixedResponse, FixedResponseConfig: &types.FixedResponseActionConfig{StatusCode: aws.String("200")}})
	for i := range 4 {
		_, err := e.c.CreateRule(e.ctx, &elbv2.CreateRuleInput{ListenerArn: l.ListenerArn, Priority: aws.Int32(int32(10 - i)),
			Conditions: []types.RuleCondition{{Field: aws.String("host-header"), HostHeaderConfig: &types.HostHeaderConditionConfig{Values: []string{fmt.Sprintf("h%d.example.com", i)}}}},
			Actions:    []types.Action{{Type: types.ActionTypeEnumFixedResponse, FixedResponseConfig: &types.FixedResponseActionConfig{StatusCode: aws.String("204")}}}})
		if err != nil {
			t.Fatal(err)
		}
	}
	var prios []string
	in := &elbv2.DescribeRulesInput{ListenerArn: l.ListenerArn, PageSize: aws.Int32(2)}
	for {
		out, err := e.c.DescribeRules(e.ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range out.Rules {
			prios = append(prios, *r.Priority)
		}
		if out.NextMarker == nil {
			break
		}
		in.Marker = out.NextMarker
	}
	if strings.Join(prios, ",") != "7,8,9,10,default" {
		t.Fatalf("rules across pages: %v", prios)
	}
}

// TestErrorCodes checks the wire codes and that the SDK turns them into its typed errors.
func TestErrorCodes(t *testing.T) {
	e := newEnv(t, elbsim.Options{})
	c, ctx := e.c, e.ctx
	lb := e.lb("errs")
	other := e.lb("other")
	tg := e.tg("errs-tg")
	otherTG := e.tg("other-tg")
	l := e.listener(lb.LoadBalancerArn, 80, types.Action{Type: types.ActionTypeEnumForward, TargetGroupArn: tg.TargetGroupArn})
	e.listener(other.LoadBalancerArn, 80, types.Action{Type: types.ActionTypeEnumForward, TargetGroupArn: otherTG.TargetGroupArn})
	rules, err := c.DescribeRules(ctx, &elbv2.DescribeRulesInput{ListenerArn: l.ListenerArn})
	if err != nil {
		t.Fatal(err)
	}
	defaultRule := rules.Rules[0].RuleArn
	hostCond := []types.RuleCondition{{Field: aws.String("host-header"), Values: []string{"a.example.com"}}}
	fixed := []types.Action{{Type: types.ActionTypeEnumFixedResponse, FixedResponseConfig: &types.FixedResponseActionConfig{StatusCode: aws.String("200")}}}
	if _, err := c.CreateRule(ctx, &elbv2.CreateRuleInput{ListenerArn: l.ListenerArn, Priority: aws.Int32(1), Conditions: hostCond, Actions: fixed}); err != nil {
		t.Fatal(err)
	}
	missingLB := strings.Replace(*lb.LoadBalancerArn, "/errs/", "/gone/", 1)
	missingTG := strings.Replace(*tg.TargetGroupArn, "/errs-tg/", "/gone/", 1)
	missingListener := *l.ListenerArn + "0"
	missingListener = missingListener[:len(missingListener)-2] + "0"
	missingRule := (*defaultRule)[:len(*defaultRule)-4] + "beef"
	var tooMany []types.TargetDescription
	for i := range 1001 {
		tooMany = append(tooMany, target(fmt.Sprintf("127.0.%d.%d", i/250, i%250+1), 80))
	}
	var manyTags []types.Tag
	for i := range 51 {
		manyTags = append(manyTags, types.Tag{Key: aws.String(fmt.Sprintf("k%d", i)), Value: aws.String("v")})
	}

	cases := []struct {
		name   string
		call   func() error
		code   string
		typed  any // pointer to a typed SDK error, or nil
		status int
		msg    string // substring of the message
	}{
		{"LB not found", func() error {
			_, err := c.DescribeLoadBalancers(ctx, &elbv2.DescribeLoadBalancersInput{LoadBalancerArns: []string{missingLB}})
			return err
		}, "LoadBalancerNotFound", new(*types.LoadBalancerNotFoundException), 400, "not found"},
		{"LB name not found", func() error {
			_, err := c.DescribeLoadBalancers(ctx, &elbv2.DescribeLoadBalancersInput{Names: []string{"nope"}})
			return err
		}, "LoadBalancerNotFound", new(*types.LoadBalancerNotFoundException), 400, "nope"},
		{"listener not found", func() error {
			_, err := c.DescribeListeners(ctx, &elbv2.DescribeListenersInput{ListenerArns: []string{missingListener}})
			return err
		}, "ListenerNotFound", new(*types.ListenerNotFoundException), 400, ""},
		{"rule not found", func() error {
			_, err := c.ModifyRule(ctx, &elbv2.ModifyRuleInput{RuleArn: aws.String(missingRule), Actions: fixed})
			return err
		}, "RuleNotFound", new(*types.RuleNotFoundException), 400, ""},
		{"TG not found", func() error {
			_, err := c.DescribeTargetHealth(ctx, &elbv2.DescribeTargetHealthInput{TargetGroupArn: aws.String(missingTG)})
			return err
		}, "TargetGroupNotFound", new(*types.TargetGroupNotFoundException), 400, ""},
		{"forward to missing TG", func() error {
			_, err := c.ModifyListener(ctx, &elbv2.ModifyListenerInput{ListenerArn: l.ListenerArn, DefaultActions: []types.Action{forward(weighted{aws.String(missingTG), 1})}})
			return err
		}, "TargetGroupNotFound", new(*types.TargetGroupNotFoundException), 400, ""},
		{"duplicate TG name", func() error {
			_, err := c.CreateTargetGroup(ctx, &elbv2.CreateTargetGroupInput{Name: aws.String("errs-tg"), Protocol: types.ProtocolEnumHttp, Port: aws.Int32(9999), TargetType: types.TargetTypeEnumIp})
			return err
		}, "DuplicateTargetGroupName", new(*types.DuplicateTargetGroupNameException), 400, ""},
		{"duplicate LB name", func() error {
			_, err := c.CreateLoadBalancer(ctx, &elbv2.CreateLoadBalancerInput{Name: aws.String("errs"), Scheme: types.LoadBalancerSchemeEnumInternal})
			return err
		}, "DuplicateLoadBalancerName", new(*types.DuplicateLoadBalancerNameException), 400, ""},
		{"duplicate listener", func() error {
			_, err := c.CreateListener(ctx, &elbv2.CreateListenerInput{LoadBalancerArn: lb.LoadBalancerArn, Port: aws.Int32(80), Protocol: types.ProtocolEnumHttp, DefaultActions: fixed})
			return err
		}, "DuplicateListener", new(*types.DuplicateListenerException), 400, ""},
		{"priority in use", func() error {
			_, err := c.CreateRule(ctx, &elbv2.CreateRuleInput{ListenerArn: l.ListenerArn, Priority: aws.Int32(1), Conditions: hostCond, Actions: fixed})
			return err
		}, "PriorityInUse", new(*types.PriorityInUseException), 400, ""},
		{"non-loopback target", func() error {
			_, err := c.RegisterTargets(ctx, &elbv2.RegisterTargetsInput{TargetGroupArn: tg.TargetGroupArn, Targets: []types.TargetDescription{target("10.0.0.1", 80)}})
			return err
		}, "InvalidTarget", new(*types.InvalidTargetException), 400, "10.0.0.1"},
		{"too many targets", func() error {
			_, err := c.RegisterTargets(ctx, &elbv2.RegisterTargetsInput{TargetGroupArn: tg.TargetGroupArn, Targets: tooMany})
			return err
		}, "TooManyTargets", new(*types.TooManyTargetsException), 400, ""},
		{"delete default rule", func() error {
			_, err := c.DeleteRule(ctx, &elbv2.DeleteRuleInput{RuleArn: defaultRule})
			return err
		}, "OperationNotPermitted", new(*types.OperationNotPermittedException), 400, "Default rule"},
		{"delete TG in use", func() error {
			_, err := c.DeleteTargetGroup(ctx, &elbv2.DeleteTargetGroupInput{TargetGroupArn: tg.TargetGroupArn})
			return err
		}, "ResourceInUse", new(*types.ResourceInUseException), 400, ""},
		{"TG of another LB", func() error {
			_, err := c.CreateRule(ctx, &elbv2.CreateRuleInput{ListenerArn: l.ListenerArn, Priority: aws.Int32(2), Conditions: hostCond,
				Actions: []types.Action{forward(weighted{otherTG.TargetGroupArn, 1})}})
			return err
		}, "TargetGroupAssociationLimit", new(*types.TargetGroupAssociationLimitException), 400, ""},
		{"HTTPS listener", func() error {
			_, err := c.CreateListener(ctx, &elbv2.CreateListenerInput{LoadBalancerArn: lb.LoadBalancerArn, Port: aws.Int32(443), Protocol: types.ProtocolEnumHttps, DefaultActions: fixed})
			return err
		}, "UnsupportedProtocol", new(*types.UnsupportedProtocolException), 400, ""},
		{"too many tags", func() error {
			_, err := c.AddTags(ctx, &elbv2.AddTagsInput{ResourceArns: []string{*tg.TargetGroupArn}, Tags: manyTags})
			return err
		}, "TooManyTags", new(*types.TooManyTagsException), 400, ""},
		{"duplicate tag keys", func() error {
			_, err := c.AddTags(ctx, &elbv2.AddTagsInput{ResourceArns: []string{*tg.TargetGroupArn}, Tags: []types.Tag{{Key: aws.String("a")}, {Key: aws.String("a")}}})
			return err
		}, "DuplicateTagKeys", new(*types.DuplicateTagKeysException), 400, ""},
		{"authenticate action on HTTP", func() error {
			_, err := c.ModifyListener(ctx, &elbv2.ModifyListenerInput{ListenerArn: l.ListenerArn, DefaultActions: []types.Action{{Type: types.ActionTypeEnumAuthenticateOidc}}})
			return err
		}, "InvalidLoadBalancerAction", new(*types.InvalidLoadBalancerActionException), 400, ""},
		// Validation errors: a generic ValidationError, no typed exception.
		{"weight 1000", func() error {
			_, err := c.ModifyListener(ctx, &elbv2.ModifyListenerInput{ListenerArn: l.ListenerArn, DefaultActions: []types.Action{forward(weighted{tg.TargetGroupArn, 1000})}})
			return err
		}, "ValidationError", nil, 400, "less than or equal to 999"},
		{"weight -1", func() error {
			_, err := c.ModifyListener(ctx, &elbv2.ModifyListenerInput{ListenerArn: l.ListenerArn, DefaultActions: []types.Action{forward(weighted{tg.TargetGroupArn, -1})}})
			return err
		}, "ValidationError", nil, 400, "greater than or equal to 0"},
		{"21 ARNs in DescribeTags", func() error {
			arns := make([]string, 21)
			for i := range arns {
				arns[i] = *tg.TargetGroupArn
			}
			_, err := c.DescribeTags(ctx, &elbv2.DescribeTagsInput{ResourceArns: arns})
			return err
		}, "ValidationError", nil, 400, "less than or equal to 20"},
		{"not an ARN", func() error {
			_, err := c.DescribeTargetGroups(ctx, &elbv2.DescribeTargetGroupsInput{TargetGroupArns: []string{"my-tg"}})
			return err
		}, "ValidationError", nil, 400, "not a valid target group ARN"},
		{"bad LB name", func() error {
			_, err := c.CreateLoadBalancer(ctx, &elbv2.CreateLoadBalancerInput{Name: aws.String("-bad_name")})
			return err
		}, "ValidationError", nil, 400, ""},
		{"timeout >= interval", func() error {
			_, err := c.ModifyTargetGroup(ctx, &elbv2.ModifyTargetGroupInput{TargetGroupArn: tg.TargetGroupArn, HealthCheckTimeoutSeconds: aws.Int32(30)})
			return err
		}, "ValidationError", nil, 400, "smaller than the interval"},
		{"unknown attribute", func() error {
			_, err := c.ModifyTargetGroupAttributes(ctx, &elbv2.ModifyTargetGroupAttributesInput{TargetGroupArn: tg.TargetGroupArn,
				Attributes: []types.TargetGroupAttribute{{Key: aws.String("nope"), Value: aws.String("1")}}})
			return err
		}, "ValidationError", nil, 400, "not recognized"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			if err == nil {
				t.Fatalf("no error, want %s", tc.code)
			}
			if got := apiCode(err); got != tc.code {
				t.Fatalf("code %q, want %q (%v)", got, tc.code, err)
			}
			if tc.typed != nil && !errors.As(err, tc.typed) {
				t.Fatalf("errors.As(%T) failed for %v", tc.typed, err)
			}
			var re *awshttp.ResponseError
			if !errors.As(err, &re) || re.HTTPStatusCode() != tc.status || re.ServiceRequestID() == "" {
				t.Fatalf("want HTTP %d with a request id, got %v", tc.status, err)
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("message %q does not mention %q", err, tc.msg)
			}
		})
	}
	if st := e.s.Stats(); st.Actions["DescribeLoadBalancers"].Errors["LoadBalancerNotFound"] != 2 {
		t.Fatalf("error counters: %+v", st.Actions["DescribeLoadBalancers"])
	}
}
