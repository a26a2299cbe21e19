package localcluster_test

// kube-controller-manager's garbage collector, namespace and endpoints controllers,
// and the embedded CRDs, on the real control plane.

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
	"github.com/albrollouts/albrollouts/internal/sim/localcluster"
	"github.com/albrollouts/albrollouts/internal/sim/poll"
)

func replicaSet(ns, name string, labels map[string]string, owner *metav1.OwnerReference) *appsv1.ReplicaSet {
	rs := &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels},
		Spec: appsv1.ReplicaSetSpec{
			Replicas: ptr(int32(2)),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "albrollouts/demo:v1"}}},
			},
		},
	}
	if owner != nil {
		rs.OwnerReferences = []metav1.OwnerReference{*owner}
	}
	return rs
}

func countPods(ctx context.Context, c client.Client, ns string, labels map[string]string) (int, error) {
	pods := &corev1.PodList{}
	if err := c.List(ctx, pods, client.InNamespace(ns), client.MatchingLabels(labels)); err != nil {
		return 0, err
	}
	return len(pods.Items), nil
}

// Deleting a Rollout deletes the ReplicaSet it owns and that ReplicaSet's pods, as on
// a real cluster; a ReplicaSet it does not own stays.
func TestGarbageCollectorDeletesDependents(t *testing.T) {
	c := newClient(t)
	ctx := context.Background()
	ns := newNamespace(t, c, "gc")
	ro := canarySample(t)
	ro.SetNamespace(ns)
	ro.SetName("owner")
	if err := c.Create(ctx, ro); err != nil {
		t.Fatalf("create Rollout: %v", err)
	}
	owned := map[string]string{"app": "gc-owned"}
	other := map[string]string{"app": "gc-other"}
	ref := &metav1.OwnerReference{APIVersion: v1alpha1.GroupVersion.String(), Kind: v1alpha1.Kind, Name: ro.GetName(), UID: ro.GetUID(),
		Controller: ptr(true), BlockOwnerDeletion: ptr(true)}
	for _, rs := range []*appsv1.ReplicaSet{replicaSet(ns, "owned", owned, ref), replicaSet(ns, "other", other, nil)} {
		if err := c.Create(ctx, rs); err != nil {
			t.Fatal(err)
		}
	}
	poll.Slow.Until(t, 60*time.Second, "2 pods of each ReplicaSet", func() bool {
		a, err1 := countPods(ctx, c, ns, owned)
		b, err2 := countPods(ctx, c, ns, other)
		return err1 == nil && err2 == nil && a == 2 && b == 2
	})
	if err := c.Delete(ctx, ro); err != nil {
		t.Fatal(err)
	}
	poll.Slow.Until(t, 60*time.Second, "the owned ReplicaSet and its pods garbage-collected", func() bool {
		err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "owned"}, &appsv1.ReplicaSet{})
		n, listErr := countPods(ctx, c, ns, owned)
		return apierrors.IsNotFound(err) && listErr == nil && n == 0
	})
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "other"}, &appsv1.ReplicaSet{}); err != nil {
		t.Errorf("the ReplicaSet the Rollout did not own is gone too: %v", err)
	}
	if n, err := countPods(ctx, c, ns, other); err != nil || n != 2 {
		t.Errorf("pods of the unowned ReplicaSet: %d (%v), want 2", n, err)
	}
}

// Deleting a namespace deletes what is in it, custom resources included, and then the
// namespace itself.
func TestNamespaceControllerDeletesContents(t *testing.T) {
	c := newClient(t)
	ctx := context.Background()
	ns := newNamespace(t, c, "nsdel")
	ro := canarySample(t)
	ro.SetNamespace(ns)
	labels := map[string]string{"app": "nsdel"}
	objs := []client.Object{
		ro,
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cm", Namespace: ns}, Data: map[string]string{"a": "b"}},
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "svc", Namespace: ns},
			Spec: corev1.ServiceSpec{Selector: labels, Ports: []corev1.ServicePort{{Port: 80}}}},
		replicaSet(ns, "rs", labels, nil),
	}
	for _, o := range objs {
		if err := c.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Delete(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		t.Fatal(err)
	}
	poll.Slow.Until(t, 90*time.Second, "namespace "+ns+" deleted", func() bool {
		err := c.Get(ctx, client.ObjectKey{Name: ns}, &corev1.Namespace{})
		return apierrors.IsNotFound(err)
	})
	for _, o := range objs {
		if err := c.Get(ctx, client.ObjectKeyFromObject(o), o); !apierrors.IsNotFound(err) {
			t.Errorf("%T %s survived its namespace (get: %v)", o, o.GetName(), err)
		}
	}
}

// endpointsTestNode is the Node the pods of the endpoints test are bound to; the
// endpointslice controller skips pods whose Node does not exist.
const endpointsTestNode = "endpoints-test-node"

// readyPod creates a pod bound to a node, with the status a kubelet would report
// for a ready pod at ip.
func readyPod(t *testing.T, c client.Client, ns, name, ip string, labels map[string]string) {
	t.Helper()
	ctx := context.Background()
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: endpointsTestNode}}
	if err := c.Create(ctx, node); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels},
		Spec: corev1.PodSpec{NodeName: endpointsTestNode, Containers: []corev1.Container{{
			Name: "web", Image: "albrollouts/demo:v1", Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}},
		}}},
	}
	if err := c.Create(ctx, pod); err != nil {
		t.Fatal(err)
	}
	now := metav1.Now()
	pod.Status = corev1.PodStatus{
		Phase: corev1.PodRunning, PodIP: ip, PodIPs: []corev1.PodIP{{IP: ip}}, StartTime: &now,
		Conditions: []corev1.PodCondition{
			{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: now},
			{Type: corev1.ContainersReady, Status: corev1.ConditionTrue, LastTransitionTime: now},
		},
	}
	if err := c.Status().Update(ctx, pod); err != nil {
		t.Fatalf("report pod %s ready at %s: %v", name, ip, err)
	}
}

// Ready pods on a non-loopback range get v1 Endpoints (and EndpointSlices); pods on
// loopback addresses get neither, because kube-apiserver refuses loopback addresses
// in both. The addresses are only written into objects; nothing connects to them.
func TestEndpointsControllerAndLoopbackPods(t *testing.T) {
	c := newClient(t)
	ctx := context.Background()
	ns := newNamespace(t, c, "endpoints")
	for _, svc := range []string{"routable", "loopback"} {
		s := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: svc, Namespace: ns}, Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": svc},
			Ports:    []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromString("http")}},
		}}
		if err := c.Create(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	readyPod(t, c, ns, "routable", "198.18.77.10", map[string]string{"app": "routable"})
	readyPod(t, c, ns, "loopback", "127.1.77.10", map[string]string{"app": "loopback"})

	poll.Slow.Until(t, 60*time.Second, "v1 Endpoints of the Service with a 198.18.x pod", func() bool {
		ep := &corev1.Endpoints{} //nolint:staticcheck // v1 Endpoints are what is tested here
		if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "routable"}, ep); err != nil {
			return false
		}
		return len(ep.Subsets) == 1 && len(ep.Subsets[0].Addresses) == 1 && ep.Subsets[0].Addresses[0].IP == "198.18.77.10" &&
			len(ep.Subsets[0].Ports) == 1 && ep.Subsets[0].Ports[0].Port == 8080
	})
	poll.Slow.Until(t, 60*time.Second, "an EndpointSlice with the 198.18.x pod", func() bool {
		list := &discoveryv1.EndpointSliceList{}
		if err := c.List(ctx, list, client.InNamespace(ns), client.MatchingLabels{discoveryv1.LabelServiceName: "routable"}); err != nil {
			return false
		}
		for _, s := range list.Items {
			for _, e := range s.Endpoints {
				if slices.Contains(e.Addresses, "198.18.77.10") {
					return true
				}
			}
		}
		return false
	})
	// Both controllers fail on the loopback pod and say so on the Service.
	for _, reason := range []string{"FailedToUpdateEndpoint", "FailedToUpdateEndpointSlices"} {
		poll.Slow.Until(t, 60*time.Second, reason+" event on the loopback Service", func() bool {
			events := &corev1.EventList{}
			if err := c.List(ctx, events, client.InNamespace(ns)); err != nil {
				return false
			}
			for _, e := range events.Items {
				if e.InvolvedObject.Name == "loopback" && e.Reason == reason && strings.Contains(e.Message, "loopback") {
					return true
				}
			}
			return false
		})
	}

	// The reason: the API server's validation, for both kinds.
	ep := &corev1.Endpoints{ //nolint:staticcheck // v1 Endpoints are what is tested here
		ObjectMeta: metav1.ObjectMeta{Name: "manual", Namespace: ns},
		Subsets: []corev1.EndpointSubset{{ //nolint:staticcheck // as above
			Addresses: []corev1.EndpointAddress{{IP: "127.1.77.11"}}, //nolint:staticcheck // as above
			Ports:     []corev1.EndpointPort{{Port: 8080}},           //nolint:staticcheck // as above
		}},
	}
	if err := c.Create(ctx, ep); !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "loopback") {
		t.Errorf("v1 Endpoints with a loopback address: %v; want Invalid naming the loopback range", err)
	}
	slice := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: "manual", Namespace: ns},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{"127.1.77.11"}}},
	}
	if err := c.Create(ctx, slice); !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "loopback") {
		t.Errorf("EndpointSlice with a loopback address: %v; want Invalid naming the loopback range", err)
	}
}

// With no CRD directories given, a cluster started outside the repository installs
// the CRDs the binary embeds: the Rollout CRD, the CRDs of Argo's Experiment,
// AnalysisRun, AnalysisTemplate and ClusterAnalysisTemplate, and the
// TargetGroupBinding CRD.
func TestEmbeddedCRDsOutsideRepository(t *testing.T) {
	if cluster == nil {
		t.Skip("integration test: needs the local control plane (run without -short)")
	}
	t.Chdir(t.TempDir())
	second, err := localcluster.Start(context.Background(), localcluster.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = second.Stop() }()
	scheme := runtime.NewScheme()
	if err := apiextensionsv1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	c, err := client.New(second.RESTConfig(), client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"rollouts.argoproj.io", "experiments.argoproj.io", "analysisruns.argoproj.io",
		"analysistemplates.argoproj.io", "clusteranalysistemplates.argoproj.io", "targetgroupbindings.elbv2.k8s.aws"} {
		crd := &apiextensionsv1.CustomResourceDefinition{}
		if err := c.Get(context.Background(), client.ObjectKey{Name: name}, crd); err != nil {
			t.Errorf("CRD %s not installed: %v", name, err)
		}
	}
	// The Rollout CRD is served: a Rollout can be listed and validated.
	list := &unstructured.UnstructuredList{}
	list.SetGroupVersionKind(v1alpha1.GroupVersion.WithKind(v1alpha1.Kind + "List"))
	if err := c.List(context.Background(), list); err != nil {
		t.Errorf("list Rollouts: %v", err)
	}
	// What Argo's kubectl plugin lists for `get rollout` and `status` is served.
	for _, kind := range []string{"Experiment", "AnalysisRun", "AnalysisTemplate", "ClusterAnalysisTemplate"} {
		list := &unstructured.UnstructuredList{}
		list.SetGroupVersionKind(v1alpha1.GroupVersion.WithKind(kind + "List"))
		if err := c.List(context.Background(), list); err != nil {
			t.Errorf("list %ss: %v", kind, err)
		}
	}
}
