package verify

import (
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func ptr[T any](v T) *T { return &v }

func pod(name, hash string) corev1.Pod {
	return corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "demo", Name: name, Labels: map[string]string{RolloutsPodTemplateHashLabel: hash}}}
}

func endpoint(podName, ip string, ready *bool) discoveryv1.Endpoint {
	return discoveryv1.Endpoint{Addresses: []string{ip}, Conditions: discoveryv1.EndpointConditions{Ready: ready},
		TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: "demo", Name: podName}}
}

func TestTargetsFromEndpointSlices(t *testing.T) {
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "demo", Name: "web-canary"}, Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{
		{Name: "http", Port: 80}, {Name: "metrics", Port: 9090},
	}}}
	slice := func(name, svcName string, eps ...discoveryv1.Endpoint) discoveryv1.EndpointSlice {
		return discoveryv1.EndpointSlice{
			ObjectMeta: metav1.ObjectMeta{Namespace: "demo", Name: name, Labels: map[string]string{discoveryv1.LabelServiceName: svcName}},
			Ports:      []discoveryv1.EndpointPort{{Name: ptr("http"), Port: ptr(int32(8080))}, {Name: ptr("metrics"), Port: ptr(int32(9091))}},
			Endpoints:  eps,
		}
	}
	slices := []discoveryv1.EndpointSlice{
		slice("a", "web-canary",
			endpoint("web-abc-1", "127.0.1.5", ptr(true)),
			endpoint("web-abc-2", "127.0.1.6", nil),        // unset Ready means ready
			endpoint("web-abc-3", "127.0.1.7", ptr(false)), // not ready
			endpoint("web-old-1", "127.0.1.1", ptr(true)),  // other ReplicaSet
		),
		slice("b", "web-canary", endpoint("web-abc-4", "127.0.1.8", ptr(true)), endpoint("web-abc-1", "127.0.1.5", ptr(true))),
		slice("c", "web-stable", endpoint("web-abc-9", "127.0.1.9", ptr(true))), // other service
	}
	pods := []corev1.Pod{pod("web-abc-1", "abc"), pod("web-abc-2", "abc"), pod("web-abc-3", "abc"), pod("web-abc-4", "abc"), pod("web-abc-9", "abc"), pod("web-old-1", "old")}

	want := []Target{{"127.0.1.5", 8080}, {"127.0.1.6", 8080}, {"127.0.1.8", 8080}}
	for _, port := range []string{"http", "80"} {
		got, err := TargetsFromEndpointSlices(svc, port, slices, pods, "abc")
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("port %s: got %v, want %v", port, got, want)
		}
	}
	got, err := TargetsFromEndpointSlices(svc, "9090", slices, pods, "abc")
	if err != nil || len(got) != 3 || got[0].Port != 9091 {
		t.Fatalf("metrics port: %v %v", got, err)
	}
	if _, err := TargetsFromEndpointSlices(svc, "443", slices, pods, "abc"); err == nil || !strings.Contains(err.Error(), `service demo/web-canary has no port "443"`) {
		t.Fatalf("err = %v", err)
	}
}

func TestTargetsFromEndpointSlicesUnnamedPort(t *testing.T) {
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "demo", Name: "web"}, Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80}}}}
	s := discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Namespace: "demo", Name: "web-x", Labels: map[string]string{discoveryv1.LabelServiceName: "web"}},
		Ports:      []discoveryv1.EndpointPort{{Name: ptr(""), Port: ptr(int32(8080))}},
		Endpoints:  []discoveryv1.Endpoint{endpoint("p1", "127.0.2.1", ptr(true))},
	}
	got, err := TargetsFromEndpointSlices(svc, "80", []discoveryv1.EndpointSlice{s}, []corev1.Pod{pod("p1", "h")}, "h")
	if err != nil || !reflect.DeepEqual(got, []Target{{"127.0.2.1", 8080}}) {
		t.Fatalf("got %v %v", got, err)
	}
}
