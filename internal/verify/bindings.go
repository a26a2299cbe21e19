package verify

import (
	"context"
	"fmt"
	"sort"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// TargetGroupBinding is the part of a TargetGroupBinding the verifier uses:
// which target group serves which service port.
type TargetGroupBinding struct {
	APIVersion     string
	Namespace      string
	Name           string
	TargetGroupARN string
	ServiceName    string
	ServicePort    string // number or name, as in spec.serviceRef.port
	// ServicePortName and ServicePortNumber are that port of the Service in
	// both spellings, resolved by ListTargetGroupBindings from the Service
	// (empty and 0 when the Service or the port was not found). A binding
	// matches a destination whose port is given in either spelling.
	ServicePortName   string
	ServicePortNumber int32
	TargetType        string // ip or instance
}

// TargetGroupBindingGVKs are the API versions TargetGroupBindings exist in:
// the AWS Load Balancer Controller's and EKS Auto Mode's.
var TargetGroupBindingGVKs = []schema.GroupVersionKind{
	{Group: "elbv2.k8s.aws", Version: "v1beta1", Kind: "TargetGroupBinding"},
	{Group: "eks.amazonaws.com", Version: "v1", Kind: "TargetGroupBinding"},
}

// ListTargetGroupBindings reads the TargetGroupBindings of a namespace in
// every API version of TargetGroupBindingGVKs, as unstructured objects so
// that neither CRD needs Go types, and resolves each one's service port
// against its Service (ServicePortName, ServicePortNumber). A version whose
// CRD is not installed is skipped. The result is sorted by API version and
// name.
func ListTargetGroupBindings(ctx context.Context, r client.Reader, namespace string) ([]TargetGroupBinding, error) {
	var out []TargetGroupBinding
	for _, gvk := range TargetGroupBindingGVKs {
		list := &unstructured.UnstructuredList{}
		list.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
		if err := r.List(ctx, list, client.InNamespace(namespace)); err != nil {
			if meta.IsNoMatchError(err) {
				continue
			}
			return nil, fmt.Errorf("listing %s TargetGroupBindings in namespace %s: %w", gvk.GroupVersion(), namespace, err)
		}
		for i := range list.Items {
			b := bindingFromUnstructured(&list.Items[i])
			if err := resolveBindingPort(ctx, r, &b); err != nil {
				return nil, err
			}
			out = append(out, b)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].APIVersion != out[j].APIVersion {
			return out[i].APIVersion < out[j].APIVersion
		}
		return out[i].Name < out[j].Name
	})
	return out, nil
}

// resolveBindingPort finds the binding's service port in the Service, so
// that a port given by name in one place and by number in another matches.
// A Service that does not exist (yet) leaves the port unresolved.
func resolveBindingPort(ctx context.Context, r client.Reader, b *TargetGroupBinding) error {
	if b.ServiceName == "" || b.ServicePort == "" {
		return nil
	}
	var svc corev1.Service
	if err := r.Get(ctx, client.ObjectKey{Namespace: b.Namespace, Name: b.ServiceName}, &svc); err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("reading service %s/%s of TargetGroupBinding %s: %w", b.Namespace, b.ServiceName, b.Name, err)
	}
	if p, err := findServicePort(&svc, b.ServicePort); err == nil {
		b.ServicePortName, b.ServicePortNumber = p.Name, p.Port
	}
	return nil
}

func bindingFromUnstructured(u *unstructured.Unstructured) TargetGroupBinding {
	b := TargetGroupBinding{APIVersion: u.GetAPIVersion(), Namespace: u.GetNamespace(), Name: u.GetName()}
	b.TargetGroupARN, _, _ = unstructured.NestedString(u.Object, "spec", "targetGroupARN")
	b.TargetType, _, _ = unstructured.NestedString(u.Object, "spec", "targetType")
	b.ServiceName, _, _ = unstructured.NestedString(u.Object, "spec", "serviceRef", "name")
	if port, ok, _ := unstructured.NestedFieldNoCopy(u.Object, "spec", "serviceRef", "port"); ok && port != nil {
		switch p := port.(type) {
		case int64, int32, int, float64:
			b.ServicePort = fmt.Sprint(p)
		case string:
			b.ServicePort = p
		}
	}
	return b
}
