package replicaset

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
)

// The hash Argo Rollouts gives this template (checked by running its own unit
// fixture); a ReplicaSet made by either controller must get the same name.
func TestPodTemplateHashMatchesArgoRollouts(t *testing.T) {
	tmpl := &corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "x"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "nginx"}}},
	}
	if got := PodTemplateHash(tmpl, nil); got != "99656c8f" {
		t.Fatalf("PodTemplateHash = %q, want 99656c8f", got)
	}
	one := int32(1)
	if got := PodTemplateHash(tmpl, &one); got == "99656c8f" {
		t.Fatal("a collision count must change the hash")
	}
	tmpl.Spec.Containers[0].Image = "nginx:2"
	if got := PodTemplateHash(tmpl, nil); got == "99656c8f" {
		t.Fatal("a different image must change the hash")
	}
}

func TestTemplateEqualIgnoresServerDefaults(t *testing.T) {
	ro := &v1alpha1.Rollout{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns", UID: "u1"}}
	ro.Spec.Template = corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "demo:v1",
			Env: []corev1.EnvVar{{Name: "A", Value: "1"}}}}},
	}
	rs := New(ro, PodTemplateHash(&ro.Spec.Template, nil), 1, 2)
	// What the API server adds to a ReplicaSet's template.
	rs.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyAlways
	rs.Spec.Template.Spec.DNSPolicy = corev1.DNSClusterFirst
	rs.Spec.Template.Spec.Containers[0].ImagePullPolicy = corev1.PullIfNotPresent
	rs.Spec.Template.Spec.Containers[0].TerminationMessagePath = "/dev/termination-log"
	if !TemplateEqual(rs, &ro.Spec.Template) {
		t.Fatal("defaults made the same template look different")
	}
	changed := ro.Spec.Template.DeepCopy()
	changed.Spec.Containers[0].Image = "demo:v2"
	if TemplateEqual(rs, changed) {
		t.Fatal("a new image matched the old ReplicaSet")
	}
	changed = ro.Spec.Template.DeepCopy()
	changed.Spec.Containers[0].Env = append(changed.Spec.Containers[0].Env, corev1.EnvVar{Name: "B", Value: "2"})
	if TemplateEqual(rs, changed) {
		t.Fatal("an added env var matched the old ReplicaSet")
	}
	if FindByTemplate([]*appsv1.ReplicaSet{rs}, &ro.Spec.Template, "other-hash") != rs {
		t.Fatal("FindByTemplate did not fall back to the template")
	}
}

// A template that drops a field the ReplicaSet's template sets (Argo's e2e
// TestRolloutBadToGoodUpdate patches `command: null`) is a new template:
// FindByTemplate must not take the old ReplicaSet for it, though a one-way
// comparison would (the dropped field looks like a server default). A
// template copied from the ReplicaSet, defaults included (an undo), and
// the same template under another collision count are found.
func TestFindByTemplateTellsADroppedFieldFromADefault(t *testing.T) {
	ro := &v1alpha1.Rollout{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns", UID: "u1"}}
	ro.Spec.Template = corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "nginx:1.19-alpine", Command: []string{"/bad-command"}}}},
	}
	cc := int32(2)
	rs := New(ro, PodTemplateHash(&ro.Spec.Template, &cc), 1, 4)
	rs.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyAlways
	rs.Spec.Template.Spec.Containers[0].ImagePullPolicy = corev1.PullIfNotPresent
	rss := []*appsv1.ReplicaSet{rs}

	fixed := ro.Spec.Template.DeepCopy()
	fixed.Spec.Containers[0].Command = nil
	if got := FindByTemplate(rss, fixed, PodTemplateHash(fixed, nil)); got != nil {
		t.Fatalf("the template without command matched %s, made with it", got.Name)
	}
	if got := FindByTemplate(rss, &ro.Spec.Template, PodTemplateHash(&ro.Spec.Template, nil)); got != rs {
		t.Fatal("the same template under another collision count was not found")
	}
	undo := TemplateWithoutHash(rs)
	if got := FindByTemplate(rss, undo, PodTemplateHash(undo, nil)); got != rs {
		t.Fatal("a template copied from the ReplicaSet (undo) was not found")
	}
}
