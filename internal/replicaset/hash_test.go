package replicaset

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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
