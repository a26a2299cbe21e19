package localalb

import (
	"strconv"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/albrollouts/albrollouts/internal/elbsim"
	"github.com/albrollouts/albrollouts/internal/elbsim/elbsimtest"
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
