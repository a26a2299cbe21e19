package e2e

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/albrollouts/albrollouts/internal/sim/demoapp"
	"github.com/albrollouts/albrollouts/internal/sim/localalb"
	"github.com/albrollouts/albrollouts/internal/sim/poll"
)

// Two ingresses of one group share an ALB; their rules follow group.order, and each
// path reaches its own service.
func TestIngressGroupSharesOneALB(t *testing.T) {
	needEnv(t)
	t.Parallel()
	ns := namespace(t, "group")
	group := "e2e-" + ns // ingress groups are cluster-wide: one per run
	shop := ingress(ns, "shop", "shop", "", map[string]string{localalb.AnnotationGroupName: group, localalb.AnnotationGroupOrder: "10"})
	shop.Spec.Rules[0].HTTP.Paths[0].Path = "/shop"
	api := ingress(ns, "api", "api", "", map[string]string{localalb.AnnotationGroupName: group, localalb.AnnotationGroupOrder: "-10"})
	api.Spec.Rules[0].HTTP.Paths[0].Path = "/api"
	create(t,
		deployment(ns, deploymentSpec{name: "shop", version: "shop-v1", replicas: 1}),
		deployment(ns, deploymentSpec{name: "api", version: "api-v1", replicas: 1}),
		service(ns, "shop", "shop"), service(ns, "api", "api"), shop, api,
	)
	lbShop, lbAPI := albOf(t, ns, "shop"), albOf(t, ns, "api")
	if aws.ToString(lbShop.LoadBalancerArn) != aws.ToString(lbAPI.LoadBalancerArn) {
		t.Fatalf("the group's ingresses got different ALBs: %s and %s", aws.ToString(lbShop.DNSName), aws.ToString(lbAPI.DNSName))
	}
	if got := tagsOf(t, aws.ToString(lbShop.LoadBalancerArn))[localalb.TagStack]; got != group {
		t.Errorf("stack tag %q, want the group name", got)
	}
	l := listenerOn(t, aws.ToString(lbShop.LoadBalancerArn), 80)
	apiTG := targetGroupFor(t, ns+"/api-api:80")
	shopTG := targetGroupFor(t, ns+"/shop-shop:80")
	poll.Slow.Eventually(t, pollTimeout, "rules in group order", func() (bool, string) {
		rules := rulesOf(t, aws.ToString(l.ListenerArn))
		if len(rules) != 2 {
			return false, fmt.Sprintf("%d rules", len(rules))
		}
		first, second := weights(rules[0]), weights(rules[1])
		return first[aws.ToString(apiTG.TargetGroupArn)] > 0 && second[aws.ToString(shopTG.TargetGroupArn)] > 0,
			fmt.Sprintf("priority %s -> %v, %s -> %v", aws.ToString(rules[0].Priority), first, aws.ToString(rules[1].Priority), second)
	})
	waitHealthy(t, aws.ToString(apiTG.TargetGroupArn), waitReadyPods(t, ns, "api", 1))
	waitHealthy(t, aws.ToString(shopTG.TargetGroupArn), waitReadyPods(t, ns, "shop", 1))
	url := listenerURL(t, lbShop)
	for path, want := range map[string]string{"/api/orders": "api-v1", "/shop": "shop-v1", "/shop/cart": "shop-v1"} {
		resp, err := httpClient.Get(url + path)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.Header.Get(demoapp.VersionHeader) != want {
			t.Errorf("GET %s: status %d version %q, want 200 from %s", path, resp.StatusCode, resp.Header.Get(demoapp.VersionHeader), want)
		}
	}
	resp, err := httpClient.Get(url + "/elsewhere")
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /elsewhere: status %d, want the default 404", resp.StatusCode)
	}
}

// Deleting the ingress deletes its ALB, target groups and TargetGroupBindings, and
// the ingress goes away once they are gone (finalizer).
func TestDeletingIngressDeletesALB(t *testing.T) {
	needEnv(t)
	t.Parallel()
	ns := namespace(t, "delete")
	create(t,
		deployment(ns, deploymentSpec{name: "web", version: "v1", replicas: 1}),
		service(ns, "web", "web"),
		ingress(ns, "web", "web", "", nil),
	)
	lb := albOf(t, ns, "web")
	tg := targetGroupFor(t, ns+"/web-web:80")
	var ing networkingv1.Ingress
	if err := env.Client().Get(ctxT(t), client.ObjectKey{Namespace: ns, Name: "web"}, &ing); err != nil {
		t.Fatal(err)
	}
	if !containsString(ing.Finalizers, localalb.IngressFinalizer) {
		t.Errorf("finalizers %v, want %s", ing.Finalizers, localalb.IngressFinalizer)
	}
	if err := env.Client().Delete(ctxT(t), &ing); err != nil {
		t.Fatal(err)
	}
	poll.Slow.Eventually(t, pollTimeout, "ingress gone", func() (bool, string) {
		err := env.Client().Get(ctxT(t), client.ObjectKey{Namespace: ns, Name: "web"}, &networkingv1.Ingress{})
		return apierrors.IsNotFound(err), fmt.Sprint(err)
	})
	_, err := env.ELBV2().DescribeLoadBalancers(ctxT(t), &elbv2.DescribeLoadBalancersInput{LoadBalancerArns: []string{aws.ToString(lb.LoadBalancerArn)}})
	if err == nil {
		t.Error("the load balancer still exists after the ingress was deleted")
	}
	_, err = env.ELBV2().DescribeTargetGroups(ctxT(t), &elbv2.DescribeTargetGroupsInput{TargetGroupArns: []string{aws.ToString(tg.TargetGroupArn)}})
	if err == nil {
		t.Error("the target group still exists after the ingress was deleted")
	}
	poll.Slow.Eventually(t, pollTimeout, "TargetGroupBinding gone", func() (bool, string) {
		u := &unstructured.Unstructured{}
		u.SetGroupVersionKind(localalb.TargetGroupBindingGVK)
		err := env.Client().Get(ctxT(t), client.ObjectKey{Namespace: ns, Name: aws.ToString(tg.TargetGroupName)}, u)
		return apierrors.IsNotFound(err), fmt.Sprint(err)
	})
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
