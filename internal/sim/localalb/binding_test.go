package localalb

import (
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
)

func newBindingClient(t *testing.T, objs ...client.Object) client.Client {
	t.Helper()
	s := runtime.NewScheme()
	s.AddKnownTypeWithName(TargetGroupBindingGVK, &unstructured.Unstructured{})
	s.AddKnownTypeWithName(TargetGroupBindingGVK.GroupVersion().WithKind("TargetGroupBindingList"), &unstructured.UnstructuredList{})
	return fake.NewClientBuilder().WithScheme(s).WithObjects(objs...).Build()
}

func getBinding(t *testing.T, c client.Client, k types.NamespacedName) *unstructured.Unstructured {
	t.Helper()
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(TargetGroupBindingGVK)
	if err := c.Get(t.Context(), k, u); err != nil {
		t.Fatalf("get TargetGroupBinding %s: %v", k, err)
	}
	return u
}

// A binding's spec.serviceRef.port is an integer for a numbered port, also when the
// action wrote it as the JSON string "80" (Argo Rollouts does); a port name stays a
// string. A client that matches bindings by port number must find the binding.
func TestBindingServicePortIsIntegerForNumbers(t *testing.T) {
	cases := []struct {
		name string
		port intstr.IntOrString
		want any
	}{
		{"number", intstr.FromInt32(80), int64(80)},
		{"number as a string (Argo)", intstr.FromString("80"), int64(80)},
		{"leading zero", intstr.FromString("0080"), int64(80)},
		{"name", intstr.FromString("http"), "http"},
		{"name with digits", intstr.FromString("http2"), "http2"},
		{"out of range stays as written", intstr.FromString("70000"), "70000"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newBindingClient(t)
			r := &ingressReconciler{client: c}
			k := types.NamespacedName{Namespace: "ns", Name: "k8s-ns-web-abc"}
			tg := &tgModel{Resource: "ns/web-web:80", Namespace: "ns", Name: k.Name, Service: "web", ServicePort: tc.port}
			if err := r.ensureBinding(t.Context(), StackID{Namespace: "ns", Name: "web"}, k, tg, "arn:tg", nil); err != nil {
				t.Fatal(err)
			}
			got, found, err := unstructured.NestedFieldNoCopy(getBinding(t, c, k).Object, "spec", "serviceRef", "port")
			if err != nil || !found {
				t.Fatalf("spec.serviceRef.port missing (%v)", err)
			}
			if got != tc.want {
				t.Fatalf("spec.serviceRef.port = %#v (%T), want %#v (%T)", got, got, tc.want, tc.want)
			}
			// Read back the way the binding reconciler and other clients do.
			spec, err := parseBindingSpec(getBinding(t, c, k))
			if err != nil {
				t.Fatal(err)
			}
			if n, ok := tc.want.(int64); ok && (spec.ServiceRef.Port.Type != intstr.Int || int64(spec.ServiceRef.Port.IntVal) != n) {
				t.Errorf("parsed port %#v, want the integer %d", spec.ServiceRef.Port, n)
			}
		})
	}
}

// A binding written earlier with the string "80" is rewritten with the integer.
func TestEnsureBindingRewritesStringPort(t *testing.T) {
	k := types.NamespacedName{Namespace: "ns", Name: "k8s-ns-web-abc"}
	old := &unstructured.Unstructured{Object: map[string]any{"spec": map[string]any{
		"targetGroupARN": "arn:tg", "targetType": "ip", "ipAddressType": "ipv4",
		"serviceRef": map[string]any{"name": "web", "port": "80"},
	}}}
	old.SetGroupVersionKind(TargetGroupBindingGVK)
	old.SetNamespace(k.Namespace)
	old.SetName(k.Name)
	c := newBindingClient(t, old)
	r := &ingressReconciler{client: c}
	tg := &tgModel{Resource: "ns/web-web:80", Namespace: "ns", Name: k.Name, Service: "web", ServicePort: intstr.FromString("80")}
	if err := r.ensureBinding(t.Context(), StackID{Namespace: "ns", Name: "web"}, k, tg, "arn:tg", getBinding(t, c, k)); err != nil {
		t.Fatal(err)
	}
	got, _, _ := unstructured.NestedFieldNoCopy(getBinding(t, c, k).Object, "spec", "serviceRef", "port")
	if got != int64(80) {
		t.Fatalf("spec.serviceRef.port = %#v (%T) after update, want int64 80", got, got)
	}
}
