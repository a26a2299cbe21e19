package rolloutctl_test

import (
	"context"
	"encoding/json"
	"reflect"
	"sync"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
	"github.com/albrollouts/albrollouts/internal/rolloutctl"
)

const ns = "shop"

func ptr[T any](v T) *T { return &v }

// canary returns a canary rollout at step index 1 of [setWeight 20, pause,
// setWeight 50, pause 30s], observed, updating from hash "old" to "new".
func canary(name string) *v1alpha1.Rollout {
	return &v1alpha1.Rollout{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Generation: 3, UID: types.UID("uid-" + name)},
		Spec: v1alpha1.RolloutSpec{
			Replicas: ptr(int32(4)),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: podTemplate(name, name+":v2"),
			Strategy: v1alpha1.RolloutStrategy{Canary: &v1alpha1.CanaryStrategy{
				CanaryService: name + "-canary", StableService: name + "-stable",
				Steps: []v1alpha1.CanaryStep{
					{SetWeight: ptr(int32(20))},
					{Pause: &v1alpha1.RolloutPause{}},
					{SetWeight: ptr(int32(50))},
					{Pause: &v1alpha1.RolloutPause{Duration: ptr(intstr.FromString("30s"))}},
				},
			}},
		},
		Status: v1alpha1.RolloutStatus{
			ObservedGeneration: "3",
			CurrentPodHash:     "new",
			StableRS:           "old",
			CurrentStepIndex:   ptr(int32(1)),
		},
	}
}

// blueGreen returns a blue-green rollout updating from "old" (active) to "new".
func blueGreen(name string) *v1alpha1.Rollout {
	return &v1alpha1.Rollout{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Generation: 2, UID: types.UID("uid-" + name)},
		Spec: v1alpha1.RolloutSpec{
			Replicas: ptr(int32(2)),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: podTemplate(name, name+":v2"),
			Strategy: v1alpha1.RolloutStrategy{BlueGreen: &v1alpha1.BlueGreenStrategy{
				ActiveService: name + "-active", PreviewService: name + "-preview",
			}},
		},
		Status: v1alpha1.RolloutStatus{
			ObservedGeneration: "2",
			CurrentPodHash:     "new",
			StableRS:           "old",
			BlueGreen:          v1alpha1.BlueGreenStatus{ActiveSelector: "old", PreviewSelector: "new"},
		},
	}
}

func podTemplate(app, image string) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": app}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: image}}},
	}
}

// replicaSet returns a ReplicaSet of r at revision rev with the hash label,
// owned (as controller) by r.
func replicaSet(r *v1alpha1.Rollout, hash string, rev, replicas int32, image string) *appsv1.ReplicaSet {
	tmpl := podTemplate(r.Name, image)
	tmpl.Labels[rolloutctl.PodTemplateHashLabel] = hash
	// What the API server defaults in a ReplicaSet's template.
	tmpl.Spec.RestartPolicy = corev1.RestartPolicyAlways
	tmpl.Spec.DNSPolicy = corev1.DNSClusterFirst
	tmpl.Spec.Containers[0].ImagePullPolicy = corev1.PullIfNotPresent
	tmpl.Spec.Containers[0].TerminationMessagePath = "/dev/termination-log"
	return &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{
			Name: r.Name + "-" + hash, Namespace: r.Namespace, UID: types.UID("uid-rs-" + r.Name + "-" + hash),
			Labels:          map[string]string{"app": r.Name, rolloutctl.PodTemplateHashLabel: hash},
			Annotations:     map[string]string{rolloutctl.RevisionAnnotation: itoa(rev)},
			OwnerReferences: []metav1.OwnerReference{ownerRef(r)},
		},
		Spec: appsv1.ReplicaSetSpec{
			Replicas: ptr(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": r.Name, rolloutctl.PodTemplateHashLabel: hash}},
			Template: tmpl,
		},
		Status: appsv1.ReplicaSetStatus{Replicas: replicas, ReadyReplicas: replicas},
	}
}

func ownerRef(r *v1alpha1.Rollout) metav1.OwnerReference {
	return metav1.OwnerReference{APIVersion: v1alpha1.GroupVersion.String(), Kind: v1alpha1.Kind, Name: r.Name, UID: r.UID, Controller: ptr(true)}
}

func itoa(n int32) string { b, _ := json.Marshal(n); return string(b) }

// call is one write the fake client received.
type call struct {
	subresource string // "status" or ""
	patchType   string
	body        string
}

// recorder keeps the writes, and can make the status subresource answer 404.
type recorder struct {
	mu          sync.Mutex
	calls       []call
	noStatusSub bool
}

func (rec *recorder) add(c call) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	rec.calls = append(rec.calls, c)
}

func (rec *recorder) all() []call {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]call(nil), rec.calls...)
}

// newFake returns a fake cluster holding objs with the Rollout status
// subresource, and the recorder of its patches.
func newFake(t *testing.T, objs ...client.Object) (client.WithWatch, *recorder) {
	t.Helper()
	rec := &recorder{}
	b := fake.NewClientBuilder().WithScheme(rolloutctl.NewScheme()).WithObjects(objs...)
	b = b.WithStatusSubresource(&v1alpha1.Rollout{})
	b = b.WithInterceptorFuncs(interceptor.Funcs{
		Patch: func(ctx context.Context, c client.WithWatch, obj client.Object, p client.Patch, opts ...client.PatchOption) error {
			data, err := p.Data(obj)
			if err != nil {
				return err
			}
			rec.add(call{patchType: string(p.Type()), body: string(data)})
			return c.Patch(ctx, obj, p, opts...)
		},
		SubResourcePatch: func(ctx context.Context, c client.Client, sub string, obj client.Object, p client.Patch, opts ...client.SubResourcePatchOption) error {
			data, err := p.Data(obj)
			if err != nil {
				return err
			}
			rec.add(call{subresource: sub, patchType: string(p.Type()), body: string(data)})
			if rec.noStatusSub {
				return apierrors.NewNotFound(schema.GroupResource{Group: "argoproj.io", Resource: "rollouts/status"}, obj.GetName())
			}
			return c.SubResource(sub).Patch(ctx, obj, p, opts...)
		},
	})
	return b.Build(), rec
}

// sameJSON fails unless got and want are the same JSON value.
func sameJSON(t *testing.T, what string, got []byte, want string) {
	t.Helper()
	if got == nil && want == "" {
		return
	}
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("%s: %q is not JSON: %v", what, got, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("%s: bad want %q: %v", what, want, err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("%s = %s, want %s", what, got, want)
	}
}

// get reads the rollout back from the fake cluster.
func get(t *testing.T, c client.Client, name string) *v1alpha1.Rollout {
	t.Helper()
	r := &v1alpha1.Rollout{}
	if err := c.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, r); err != nil {
		t.Fatal(err)
	}
	return r
}
