package verify

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
)

func tgb(gvk schema.GroupVersionKind, ns, name, arn, svc string, port any) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{
		"spec": map[string]any{
			"targetGroupARN": arn,
			"targetType":     "ip",
			"serviceRef":     map[string]any{"name": svc, "port": port},
		},
	}}
	u.SetGroupVersionKind(gvk)
	u.SetNamespace(ns)
	u.SetName(name)
	return u
}

func scheme(t *testing.T) *runtime.Scheme {
	t.Helper()
	s := runtime.NewScheme()
	if err := corev1.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	return s
}

func service(ns, name string, ports ...corev1.ServicePort) *corev1.Service {
	return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: corev1.ServiceSpec{Ports: ports}}
}

func TestListTargetGroupBindingsBothAPIVersions(t *testing.T) {
	lbc, eks := TargetGroupBindingGVKs[0], TargetGroupBindingGVKs[1]
	mapper := meta.NewDefaultRESTMapper(nil)
	mapper.Add(lbc, meta.RESTScopeNamespace)
	mapper.Add(eks, meta.RESTScopeNamespace)
	c := fake.NewClientBuilder().WithScheme(scheme(t)).WithRESTMapper(mapper).WithObjects(
		tgb(lbc, "demo", "k8s-demo-canary", "arn:canary", "web-canary", int64(80)),
		tgb(eks, "demo", "auto-stable", "arn:stable", "web-stable", "http"),
		tgb(lbc, "other", "k8s-other", "arn:other", "web-canary", int64(80)),
		tgb(lbc, "demo", "no-service", "arn:none", "web-gone", "http"),
		service("demo", "web-canary", corev1.ServicePort{Name: "http", Port: 80}),
		service("demo", "web-stable", corev1.ServicePort{Name: "metrics", Port: 9090}, corev1.ServicePort{Name: "http", Port: 8080}),
	).Build()

	got, err := ListTargetGroupBindings(context.Background(), c, "demo")
	if err != nil {
		t.Fatal(err)
	}
	// Ports resolve against the Service in both spellings; a binding whose
	// Service does not exist stays unresolved.
	want := []TargetGroupBinding{
		{APIVersion: "eks.amazonaws.com/v1", Namespace: "demo", Name: "auto-stable", TargetGroupARN: "arn:stable", ServiceName: "web-stable", ServicePort: "http",
			ServicePortName: "http", ServicePortNumber: 8080, TargetType: "ip"},
		{APIVersion: "elbv2.k8s.aws/v1beta1", Namespace: "demo", Name: "k8s-demo-canary", TargetGroupARN: "arn:canary", ServiceName: "web-canary", ServicePort: "80",
			ServicePortName: "http", ServicePortNumber: 80, TargetType: "ip"},
		{APIVersion: "elbv2.k8s.aws/v1beta1", Namespace: "demo", Name: "no-service", TargetGroupARN: "arn:none", ServiceName: "web-gone", ServicePort: "http", TargetType: "ip"},
	}
	if len(got) != len(want) {
		t.Fatalf("got %+v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("binding %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestListTargetGroupBindingsSkipsMissingCRD(t *testing.T) {
	lbc := TargetGroupBindingGVKs[0]
	mapper := meta.NewDefaultRESTMapper(nil)
	mapper.Add(lbc, meta.RESTScopeNamespace) // EKS Auto Mode's CRD is not installed
	c := fake.NewClientBuilder().WithScheme(scheme(t)).WithRESTMapper(mapper).WithObjects(
		tgb(lbc, "demo", "k8s-demo-canary", "arn:canary", "web-canary", int64(80)),
	).Build()
	got, err := ListTargetGroupBindings(context.Background(), c, "demo")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].TargetGroupARN != "arn:canary" {
		t.Fatalf("got %+v", got)
	}
}
