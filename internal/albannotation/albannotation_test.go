package albannotation

import (
	"strings"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/utils/ptr"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
)

func TestForwardIsArgoFormat(t *testing.T) {
	got, err := Forward([]Destination{{"web-canary", "80", 10}, {"web-stable", "80", 90}}, &v1alpha1.StickinessConfig{Enabled: true, DurationSeconds: 300})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"Type":"forward","ForwardConfig":{"TargetGroups":[{"ServiceName":"web-canary","ServicePort":"80","Weight":10},{"ServiceName":"web-stable","ServicePort":"80","Weight":90}],"TargetGroupStickinessConfig":{"Enabled":true,"DurationSeconds":300}}}`
	if got != want {
		t.Fatalf("Forward =\n%s\nwant\n%s", got, want)
	}
	// Weight 0 is written, not omitted: the load balancer controller must keep the group in the rule.
	got, _ = Forward([]Destination{{"c", "80", 0}, {"s", "80", 100}}, nil)
	if !strings.Contains(got, `"ServiceName":"c","ServicePort":"80","Weight":0`) {
		t.Fatalf("weight 0 dropped: %s", got)
	}
	if _, err := Forward([]Destination{{"c", "80", -1}}, nil); err == nil {
		t.Fatal("negative weight accepted")
	}
	if _, err := Forward([]Destination{{"c", "80", 1}}, &v1alpha1.StickinessConfig{Enabled: true, DurationSeconds: 0}); err == nil {
		t.Fatal("stickiness 0 s accepted")
	}
}

func TestParseActionReadsEveryCase(t *testing.T) {
	for _, v := range []string{
		`{"Type":"forward","ForwardConfig":{"TargetGroups":[{"ServiceName":"c","ServicePort":"80","Weight":25},{"ServiceName":"s","ServicePort":"80","Weight":75}]}}`,
		`{"type":"forward","forwardConfig":{"targetGroups":[{"serviceName":"c","servicePort":80,"weight":25},{"serviceName":"s","servicePort":"80","weight":75}]}}`,
	} {
		a, err := ParseAction(v)
		if err != nil {
			t.Fatalf("%s: %v", v, err)
		}
		w, ok := a.Weights()
		if !ok || w["c"] != 25 || w["s"] != 75 {
			t.Fatalf("%s: weights %v %v", v, w, ok)
		}
		if a.ForwardConfig.TargetGroups[0].ServicePort != "80" {
			t.Fatalf("%s: port %q", v, a.ForwardConfig.TargetGroups[0].ServicePort)
		}
	}
	if _, err := ParseAction(`{"Type":"forward",`); err == nil {
		t.Fatal("broken JSON accepted")
	}
	a, _ := ParseAction(`{"Type":"fixed-response"}`)
	if _, ok := a.Weights(); ok {
		t.Fatal("a fixed response is not a forward")
	}
	// A target group without Weight gets none.
	a, _ = ParseAction(`{"Type":"forward","ForwardConfig":{"TargetGroups":[{"ServiceName":"c","ServicePort":"80"}]}}`)
	if w, _ := a.Weights(); w["c"] != 0 {
		t.Fatalf("missing weight read as %d", w["c"])
	}
}

func TestHeaderConditions(t *testing.T) {
	got, err := HeaderConditions([]v1alpha1.HeaderRoutingMatch{
		{HeaderName: "X-Canary", HeaderValue: &v1alpha1.StringMatch{Exact: "yes"}},
		{HeaderName: "x-canary", HeaderValue: &v1alpha1.StringMatch{Exact: "1"}},
		{HeaderName: "X-User", HeaderValue: &v1alpha1.StringMatch{Exact: "qa"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := `[{"field":"http-header","httpHeaderConfig":{"httpHeaderName":"X-Canary","values":["yes","1"]}},{"field":"http-header","httpHeaderConfig":{"httpHeaderName":"X-User","values":["qa"]}}]`
	if got != want {
		t.Fatalf("got %s\nwant %s", got, want)
	}
	if _, err := HeaderConditions([]v1alpha1.HeaderRoutingMatch{{HeaderName: "X", HeaderValue: &v1alpha1.StringMatch{Prefix: "a"}}}); err == nil || !strings.Contains(err.Error(), "exact") {
		t.Fatalf("prefix match accepted: %v", err)
	}
}

func TestManaged(t *testing.T) {
	m, err := ParseManaged(`{"other":["alb.ingress.kubernetes.io/actions.x"]}`)
	if err != nil {
		t.Fatal(err)
	}
	m.Add("web", ActionKey("", "root"), ActionKey("", "root"), ConditionsKey("", "r"))
	if got := m.String(); got != `{"other":["alb.ingress.kubernetes.io/actions.x"],"web":["alb.ingress.kubernetes.io/actions.root","alb.ingress.kubernetes.io/conditions.r"]}` {
		t.Fatalf("String = %s", got)
	}
	m.Remove("web", ConditionsKey("", "r"))
	if len(m["web"]) != 1 || len(m["other"]) != 1 {
		t.Fatalf("Remove: %v", m)
	}
	if _, err := ParseManaged("{"); err == nil {
		t.Fatal("broken bookkeeping accepted")
	}
	if ActionKey("custom.io", "a") != "custom.io/actions.a" {
		t.Fatal("prefix ignored")
	}
}

func TestRoutePaths(t *testing.T) {
	ing := &networkingv1.Ingress{Spec: networkingv1.IngressSpec{Rules: []networkingv1.IngressRule{
		{Host: "a", IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{Paths: []networkingv1.HTTPIngressPath{
			{Path: "/", PathType: ptr.To(networkingv1.PathTypePrefix), Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: "root", Port: networkingv1.ServiceBackendPort{Name: UseAnnotation}}}},
		}}}},
		{Host: "b", IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{Paths: []networkingv1.HTTPIngressPath{
			{Path: "/", PathType: ptr.To(networkingv1.PathTypePrefix), Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: "root", Port: networkingv1.ServiceBackendPort{Name: UseAnnotation}}}},
		}}}},
	}}}
	if !EnsureRoutePath(ing, "second", []string{"first", "second"}) || !EnsureRoutePath(ing, "first", []string{"first", "second"}) {
		t.Fatal("no change reported")
	}
	if EnsureRoutePath(ing, "first", []string{"first", "second"}) {
		t.Fatal("second call changed the spec")
	}
	for _, r := range ing.Spec.Rules {
		var names []string
		for _, p := range r.HTTP.Paths {
			names = append(names, p.Backend.Service.Name+p.Path)
		}
		if strings.Join(names, ",") != "first/*,second/*,root/" {
			t.Fatalf("rule %s paths %v", r.Host, names)
		}
	}
	if !RemoveRoutePath(ing, "first") || RemoveRoutePath(ing, "first") {
		t.Fatal("RemoveRoutePath changes")
	}
	if HasBackend(ing, "first") || !HasBackend(ing, "second") {
		t.Fatal("HasBackend")
	}
}
