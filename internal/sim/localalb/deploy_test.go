package localalb

import (
	"context"
	"strconv"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/albrollouts/albrollouts/internal/sim/elbsim"
	"github.com/albrollouts/albrollouts/internal/sim/elbsim/elbsimtest"
)

// mutations counts the calls of ELBv2 actions that change something.
func mutations(s *elbsim.Server) map[string]int64 {
	out := map[string]int64{}
	for action, st := range s.Stats().Actions {
		switch action[:min(len(action), 6)] {
		case "Create", "Modify", "Delete", "Regist", "Deregi", "SetRul":
			out[action] = st.Calls
		}
	}
	return out
}

func diff(before, after map[string]int64) map[string]int64 {
	out := map[string]int64{}
	for k, v := range after {
		if v != before[k] {
			out[k] = v - before[k]
		}
	}
	return out
}

// The deployer against a real elbsim: create, no-op redeploy, a weight change as
// one ModifyRule, and destroy.
func TestDeployerAgainstElbsim(t *testing.T) {
	sim, api := elbsimtest.Start(t, elbsim.Options{})
	d := &deployer{api: api, cluster: "test"}
	b := &modelBuilder{cluster: "test", services: fakeServices(map[string]intstr.IntOrString{
		"ns/stable": intstr.FromInt32(8080), "ns/canary": intstr.FromInt32(8080)})}
	action := func(stable, canary int) string {
		return `{"type":"forward","forwardConfig":{"targetGroups":[{"serviceName":"stable","servicePort":80,"weight":` +
			itoa(stable) + `},{"serviceName":"canary","servicePort":80,"weight":` + itoa(canary) + `}]}}`
	}
	stack := StackID{Namespace: "ns", Name: "web"}
	build := func(stable, canary int) *stackModel {
		ing := testIngress("ns", "web", map[string]string{AnnotationActionsPrefix + "web": action(stable, canary)},
			path("/", networkingv1.PathTypePrefix, "web", networkingv1.ServiceBackendPort{Name: UseAnnotationPortName}))
		m, err := b.build(stack, []*networkingv1.Ingress{ing})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	ctx := t.Context()
	dep, err := d.deploy(ctx, build(90, 10))
	if err != nil {
		t.Fatal(err)
	}
	if len(dep.TargetGroups) != 2 || dep.DNSName == "" || len(dep.Ports) != 1 {
		t.Fatalf("deployed %+v", dep)
	}
	tags, err := tagsOf(ctx, api, []string{dep.LoadBalancerARN, dep.TargetGroups["ns/web-stable:80"]})
	if err != nil {
		t.Fatal(err)
	}
	if tags[dep.LoadBalancerARN][TagResource] != ResourceLoadBalancer || tags[dep.LoadBalancerARN][TagStack] != "ns/web" ||
		tags[dep.TargetGroups["ns/web-stable:80"]][TagResource] != "ns/web-stable:80" {
		t.Errorf("tags %v", tags)
	}

	before := mutations(sim)
	if _, err := d.deploy(ctx, build(90, 10)); err != nil {
		t.Fatal(err)
	}
	if ch := diff(before, mutations(sim)); len(ch) != 0 {
		t.Errorf("redeploying an unchanged model changed things: %v", ch)
	}

	before = mutations(sim)
	if _, err := d.deploy(ctx, build(0, 100)); err != nil {
		t.Fatal(err)
	}
	if ch := diff(before, mutations(sim)); len(ch) != 1 || ch["ModifyRule"] != 1 {
		t.Errorf("a weight change should be exactly one ModifyRule, got %v", ch)
	}
	ls, err := api.DescribeListeners(ctx, &elbv2.DescribeListenersInput{LoadBalancerArn: aws.String(dep.LoadBalancerARN)})
	if err != nil || len(ls.Listeners) != 1 {
		t.Fatalf("listeners %v %v", ls, err)
	}
	rules, err := allRules(ctx, api, aws.ToString(ls.Listeners[0].ListenerArn))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rules {
		if aws.ToBool(r.IsDefault) {
			continue
		}
		for _, tg := range r.Actions[0].ForwardConfig.TargetGroups {
			want := int32(0)
			if aws.ToString(tg.TargetGroupArn) == dep.TargetGroups["ns/web-canary:80"] {
				want = 100
			}
			if aws.ToInt32(tg.Weight) != want {
				t.Errorf("weight of %s = %d, want %d", aws.ToString(tg.TargetGroupArn), aws.ToInt32(tg.Weight), want)
			}
		}
	}

	if err := d.destroy(ctx, stack); err != nil {
		t.Fatal(err)
	}
	o, err := d.find(ctx, stack)
	if err != nil {
		t.Fatal(err)
	}
	if len(o.LoadBalancers) != 0 || len(o.TargetGroups) != 0 {
		t.Errorf("left after destroy: %d load balancers, %d target groups", len(o.LoadBalancers), len(o.TargetGroups))
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// watchedRules wraps the API and, after every rule change, checks that a
// request without the route's header still matches a rule: inserting a
// header route at the front, or removing it, must never leave the main path
// to the listener's default action.
type watchedRules struct {
	ELBV2
	t        *testing.T
	listener string
	changes  int
}

func (w *watchedRules) check(ctx context.Context, what string) {
	w.changes++
	if w.listener == "" {
		return
	}
	rules, err := allRules(ctx, w.ELBV2, w.listener)
	if err != nil {
		w.t.Fatal(err)
	}
	for _, r := range rules {
		if aws.ToBool(r.IsDefault) {
			continue
		}
		header := false
		for _, c := range r.Conditions {
			if aws.ToString(c.Field) == "http-header" {
				header = true
			}
		}
		if !header {
			return
		}
	}
	w.t.Errorf("after %s, no rule routes requests without the header: %d rules", what, len(rules))
}

func (w *watchedRules) CreateRule(ctx context.Context, in *elbv2.CreateRuleInput, o ...func(*elbv2.Options)) (*elbv2.CreateRuleOutput, error) {
	out, err := w.ELBV2.CreateRule(ctx, in, o...)
	w.check(ctx, "CreateRule")
	return out, err
}

func (w *watchedRules) ModifyRule(ctx context.Context, in *elbv2.ModifyRuleInput, o ...func(*elbv2.Options)) (*elbv2.ModifyRuleOutput, error) {
	out, err := w.ELBV2.ModifyRule(ctx, in, o...)
	w.check(ctx, "ModifyRule")
	return out, err
}

func (w *watchedRules) DeleteRule(ctx context.Context, in *elbv2.DeleteRuleInput, o ...func(*elbv2.Options)) (*elbv2.DeleteRuleOutput, error) {
	out, err := w.ELBV2.DeleteRule(ctx, in, o...)
	w.check(ctx, "DeleteRule")
	return out, err
}

func TestDeployerInsertsAndRemovesAHeaderRouteWithoutAGap(t *testing.T) {
	_, api := elbsimtest.Start(t, elbsim.Options{})
	w := &watchedRules{ELBV2: api, t: t}
	d := &deployer{api: w, cluster: "test"}
	b := &modelBuilder{cluster: "test", services: fakeServices(map[string]intstr.IntOrString{
		"ns/stable": intstr.FromInt32(8080), "ns/canary": intstr.FromInt32(8080)})}
	weighted := `{"type":"forward","forwardConfig":{"targetGroups":[{"serviceName":"stable","servicePort":80,"weight":100},{"serviceName":"canary","servicePort":80,"weight":0}]}}`
	route := `{"type":"forward","forwardConfig":{"targetGroups":[{"serviceName":"canary","servicePort":80,"weight":100}]}}`
	stack := StackID{Namespace: "ns", Name: "web"}
	build := func(withRoute bool) *stackModel {
		ann := map[string]string{AnnotationActionsPrefix + "web": weighted}
		paths := []networkingv1.HTTPIngressPath{path("/", networkingv1.PathTypePrefix, "web", networkingv1.ServiceBackendPort{Name: UseAnnotationPortName})}
		if withRoute {
			ann[AnnotationActionsPrefix+"hdr"] = route
			ann[AnnotationConditionsPrefix+"hdr"] = `[{"field":"http-header","httpHeaderConfig":{"httpHeaderName":"X-Canary","values":["yes"]}}]`
			paths = append([]networkingv1.HTTPIngressPath{path("/*", networkingv1.PathTypeImplementationSpecific, "hdr", networkingv1.ServiceBackendPort{Name: UseAnnotationPortName})}, paths...)
		}
		m, err := b.build(stack, []*networkingv1.Ingress{testIngress("ns", "web", ann, paths...)})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	ctx := t.Context()
	dep, err := d.deploy(ctx, build(false))
	if err != nil {
		t.Fatal(err)
	}
	ls, err := api.DescribeListeners(ctx, &elbv2.DescribeListenersInput{LoadBalancerArn: aws.String(dep.LoadBalancerARN)})
	if err != nil || len(ls.Listeners) != 1 {
		t.Fatalf("listeners %v %v", ls, err)
	}
	w.listener = aws.ToString(ls.Listeners[0].ListenerArn)
	for _, withRoute := range []bool{true, false, true, false} {
		before := w.changes
		if _, err := d.deploy(ctx, build(withRoute)); err != nil {
			t.Fatal(err)
		}
		if w.changes == before {
			t.Fatalf("deploy with route=%t changed no rule", withRoute)
		}
	}
}
