package localalb

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	elbv2types "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

// fakeServices serves services named in the map (namespace/name -> target port).
func fakeServices(svcs map[string]intstr.IntOrString) serviceGetter {
	return func(ns, name string) (*corev1.Service, error) {
		tp, ok := svcs[ns+"/"+name]
		if !ok {
			return nil, fmt.Errorf("service %s/%s: %w", ns, name, errServiceNotFound)
		}
		return &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, UID: types.UID("uid-" + name)},
			Spec:       corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: tp}}},
		}, nil
	}
}

func testIngress(ns, name string, ann map[string]string, paths ...networkingv1.HTTPIngressPath) *networkingv1.Ingress {
	return &networkingv1.Ingress{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Annotations: ann},
		Spec: networkingv1.IngressSpec{
			IngressClassName: ptr.To("alb"),
			Rules:            []networkingv1.IngressRule{{IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{Paths: paths}}}},
		},
	}
}

func path(p string, pt networkingv1.PathType, svc string, port networkingv1.ServiceBackendPort) networkingv1.HTTPIngressPath {
	return networkingv1.HTTPIngressPath{Path: p, PathType: &pt, Backend: networkingv1.IngressBackend{
		Service: &networkingv1.IngressServiceBackend{Name: svc, Port: port}}}
}

var port80 = networkingv1.ServiceBackendPort{Number: 80}

func TestBuildGroupOrdersIngressesAndRules(t *testing.T) {
	b := &modelBuilder{cluster: "c", services: fakeServices(map[string]intstr.IntOrString{
		"a/api": intstr.FromInt32(8080), "b/web": intstr.FromString("http"), "b/admin": intstr.FromInt32(0)})}
	first := testIngress("b", "web", map[string]string{AnnotationGroupName: "shop", AnnotationGroupOrder: "-1"},
		path("/", networkingv1.PathTypePrefix, "web", port80))
	second := testIngress("a", "api", map[string]string{AnnotationGroupName: "shop", AnnotationGroupOrder: "5",
		AnnotationListenPort: `[{"HTTP":80},{"HTTP":8080},{"HTTPS":443}]`},
		path("/api/", networkingv1.PathTypePrefix, "api", port80),
		path("/exact", networkingv1.PathTypeExact, "api", port80))
	third := testIngress("b", "admin", map[string]string{AnnotationGroupName: "shop"}, // order 0
		path("/admin*", networkingv1.PathTypeImplementationSpecific, "admin", networkingv1.ServiceBackendPort{Name: "http"}))
	m, err := b.build(StackID{Name: "shop"}, []*networkingv1.Ingress{second, third, first})
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(m.Members); got != "[b/web b/admin a/api]" {
		t.Errorf("members in group order: %s", got)
	}
	if len(m.Listeners) != 2 || m.Listeners[0].Port != 80 || m.Listeners[1].Port != 8080 {
		t.Fatalf("listeners %+v", m.Listeners)
	}
	var pats []string
	for _, r := range m.Listeners[0].Rules {
		pats = append(pats, canonConditions(r.Conditions))
	}
	want := "path-pattern[/*] | path-pattern[/admin*] | path-pattern[/api,/api/*] | path-pattern[/exact]"
	if got := strings.Join(pats, " | "); got != want {
		t.Errorf("rules on :80\n got %s\nwant %s", got, want)
	}
	if n := len(m.Listeners[1].Rules); n != 2 {
		t.Errorf(":8080 carries only the api ingress's 2 rules, got %d", n)
	}
	if len(m.Warnings) != 1 || !strings.Contains(m.Warnings[0], "HTTPS:443") {
		t.Errorf("warnings %v", m.Warnings)
	}
	if aws.ToString(m.Listeners[0].DefaultAction.FixedResponse.StatusCode) != "404" {
		t.Errorf("default action %+v, want a 404 fixed response", m.Listeners[0].DefaultAction)
	}
	tgs := m.TargetGroups
	if len(tgs) != 3 {
		t.Fatalf("target groups %v", slices.Sorted(maps.Keys(tgs)))
	}
	if tg := tgs["a/api-api:80"]; tg == nil || tg.Port != 8080 || tg.Service != "api" || !strings.HasPrefix(tg.Name, "k8s-a-api-") {
		t.Errorf("api target group %+v", tg)
	}
	if tg := tgs["b/web-web:80"]; tg == nil || tg.Port != 1 {
		t.Errorf("a named target port gives target group port 1 like the real controller: %+v", tg)
	}
	if tg := tgs["b/admin-admin:http"]; tg == nil || tg.Port != 80 {
		t.Errorf("target port 0 means the service port: %+v", tg)
	}
	if !strings.HasPrefix(m.LBName, "k8s-shop-") {
		t.Errorf("LB name %s", m.LBName)
	}
}

func TestBuildUseAnnotationActionAndConditions(t *testing.T) {
	b := &modelBuilder{cluster: "c", services: fakeServices(map[string]intstr.IntOrString{
		"ns/stable": intstr.FromInt32(8080), "ns/canary": intstr.FromInt32(8080)})}
	ing := testIngress("ns", "web", map[string]string{
		AnnotationActionsPrefix + "web": `{"Type":"forward","ForwardConfig":{"TargetGroups":[` +
			`{"ServiceName":"stable","ServicePort":"80","Weight":70},{"ServiceName":"canary","ServicePort":"http","Weight":30}]}}`,
		AnnotationConditionsPrefix + "web": `[{"Field":"http-header","HttpHeaderConfig":{"HttpHeaderName":"X-Canary","Values":["yes"]}}]`,
	}, path("/", networkingv1.PathTypePrefix, "web", networkingv1.ServiceBackendPort{Name: UseAnnotationPortName}))
	ing.Spec.Rules[0].Host = "shop.example"
	m, err := b.build(StackID{Namespace: "ns", Name: "web"}, []*networkingv1.Ingress{ing})
	if err != nil {
		t.Fatal(err)
	}
	r := m.Listeners[0].Rules[0]
	if got := canonConditions(r.Conditions); got != "host-header[shop.example];path-pattern[/*];http-header[name=x-canary,yes]" {
		t.Errorf("conditions %s", got)
	}
	fw := r.Action.Forward
	if len(fw) != 2 || fw[0].Resource != "ns/web-stable:80" || *fw[0].Weight != 70 || fw[1].Resource != "ns/web-canary:http" || *fw[1].Weight != 30 {
		t.Errorf("forward %+v", fw)
	}
}

func TestBuildErrors(t *testing.T) {
	b := &modelBuilder{cluster: "c", services: fakeServices(map[string]intstr.IntOrString{"ns/s": intstr.FromInt32(80)})}
	useAnn := networkingv1.ServiceBackendPort{Name: UseAnnotationPortName}
	cases := []struct {
		name      string
		ing       *networkingv1.Ingress
		permanent bool
		msg       string
	}{
		{"bad JSON", testIngress("ns", "i", map[string]string{AnnotationActionsPrefix + "x": `{"type":`}, path("/", networkingv1.PathTypePrefix, "x", useAnn)),
			true, AnnotationActionsPrefix + "x"},
		{"missing action", testIngress("ns", "i", nil, path("/", networkingv1.PathTypePrefix, "x", useAnn)),
			true, "annotation " + AnnotationActionsPrefix + "x is missing"},
		{"missing service", testIngress("ns", "i", nil, path("/", networkingv1.PathTypePrefix, "nope", port80)),
			false, "service ns/nope"},
		{"missing port", testIngress("ns", "i", nil, path("/", networkingv1.PathTypePrefix, "s", networkingv1.ServiceBackendPort{Number: 81})),
			false, "has no port 81"},
		{"bad scheme", testIngress("ns", "i", map[string]string{AnnotationScheme: "public"}, path("/", networkingv1.PathTypePrefix, "s", port80)),
			true, AnnotationScheme},
		{"only https", testIngress("ns", "i", map[string]string{AnnotationListenPort: `[{"HTTPS":443}]`}, path("/", networkingv1.PathTypePrefix, "s", port80)),
			true, "HTTP listeners only"},
	}
	for _, c := range cases {
		_, err := b.build(StackID{Namespace: "ns", Name: "i"}, []*networkingv1.Ingress{c.ing})
		var be *buildError
		if !errors.As(err, &be) {
			t.Errorf("%s: want a buildError, got %v", c.name, err)
			continue
		}
		if be.Permanent != c.permanent || !strings.Contains(err.Error(), c.msg) || be.Ingress.String() != "ns/i" {
			t.Errorf("%s: error %q (permanent %t), want %q (permanent %t)", c.name, err, be.Permanent, c.msg, c.permanent)
		}
	}
}

func TestPathPatterns(t *testing.T) {
	for _, c := range []struct {
		path string
		pt   *networkingv1.PathType
		want string
	}{
		{"/", ptr.To(networkingv1.PathTypePrefix), "[/*]"},
		{"/app/", ptr.To(networkingv1.PathTypePrefix), "[/app /app/*]"},
		{"/app", ptr.To(networkingv1.PathTypeExact), "[/app]"},
		{"/img/*.png", ptr.To(networkingv1.PathTypeImplementationSpecific), "[/img/*.png]"},
		{"/x", nil, "[/x]"},
		{"", ptr.To(networkingv1.PathTypePrefix), "[]"},
	} {
		if got := fmt.Sprint(pathPatterns(c.path, c.pt)); got != c.want {
			t.Errorf("pathPatterns(%q) = %s, want %s", c.path, got, c.want)
		}
	}
}

func TestLookupServicePortTakesNumericStrings(t *testing.T) {
	svc := &corev1.Service{Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: 80}, {Name: "8443", Port: 443}}}}
	for in, want := range map[string]int32{"http": 80, "80": 80, "8443": 443} {
		p, err := lookupServicePort(svc, intstr.FromString(in))
		if err != nil || p.Port != want {
			t.Errorf("%q: got %d %v, want %d", in, p.Port, err, want)
		}
	}
	if _, err := lookupServicePort(svc, intstr.FromString("grpc")); err == nil {
		t.Error("want an error for an unknown port name")
	}
}

func TestCanonActionsTreatsDefaultsAsEqual(t *testing.T) {
	m := actionModel{Type: "forward", Forward: []forwardTarget{{ARN: "arn:b", Weight: ptr.To(int32(1))}}}
	d := &deployer{}
	a, err := d.resolveAction(t.Context(), m, nil)
	if err != nil {
		t.Fatal(err)
	}
	legacy := a
	legacy.ForwardConfig = nil
	legacy.TargetGroupArn = aws.String("arn:b")
	x, y := canonActions([]elbv2types.Action{a}), canonActions([]elbv2types.Action{legacy})
	if x != y {
		t.Errorf("a single forward with weight 1 and the legacy TargetGroupArn form must compare equal: %s vs %s", x, y)
	}
}
