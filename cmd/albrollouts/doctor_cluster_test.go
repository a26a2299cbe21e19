package main

import (
	"context"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
	"github.com/albrollouts/albrollouts/internal/replicaset"
	"github.com/albrollouts/albrollouts/internal/sim/elbsim"
	"github.com/albrollouts/albrollouts/internal/sim/elbsim/elbsimtest"
)

// testDoctorCluster: doctor --kubeconfig reports whose Rollout CRD is
// installed, the Argo Rollouts controllers that run, and which Rollouts
// each controller takes; a controller of Argo's that takes the same
// Rollouts as albrollouts is a problem, and the command exits non-zero.
// (Part of TestRolloutCLIEndToEnd: it needs the control plane.)
func (e *cliEnv) testDoctorCluster(t *testing.T) {
	awsTestEnv(t)
	srv, _ := elbsimtest.Start(t, elbsim.Options{})
	ctx := context.Background()
	argo := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: e.ns, Name: "argo-rollouts"},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr(int32(1)),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "argo-rollouts"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "argo-rollouts"}},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "argo-rollouts", Image: "quay.io/argoproj/argo-rollouts:v1.10.1",
					Args: []string{"--instance-id", "argo"}}}},
			},
		},
	}
	if err := e.kube.Create(ctx, argo); err != nil {
		t.Fatal(err)
	}
	// One rollout moves to Argo's controller by its label.
	var ros v1alpha1.RolloutList
	if err := e.kube.List(ctx, &ros, client.InNamespace(e.ns)); err != nil || len(ros.Items) == 0 {
		t.Fatalf("rollouts: %v (%d)", err, len(ros.Items))
	}
	moved := ros.Items[0].Name
	if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		var ro v1alpha1.Rollout
		if err := e.kube.Get(ctx, client.ObjectKey{Namespace: e.ns, Name: moved}, &ro); err != nil {
			return err
		}
		if ro.Labels == nil {
			ro.Labels = map[string]string{}
		}
		ro.Labels[replicaset.InstanceIDLabel] = "argo"
		return e.kube.Update(ctx, &ro)
	}); err != nil {
		t.Fatal(err)
	}
	out, err := runCLI(t, "doctor", "--region", "us-east-1", "--endpoint-url", srv.Endpoint(), "--kubeconfig", e.kubeconfig)
	t.Log(out)
	if err != nil {
		t.Fatalf("doctor: %v", err)
	}
	for _, want := range []string{
		"Rollout CRD: albrollouts",
		"Argo Rollouts controller: " + e.ns + "/argo-rollouts (quay.io/argoproj/argo-rollouts:v1.10.1, --instance-id argo, 1 replica(s))",
		"Argo Rollouts (--instance-id argo) takes 1 rollout(s): " + e.ns + "/" + moved,
		"albrollouts (without --instance-id: rollouts without the instance-id label) takes",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("doctor output lacks %q", want)
		}
	}

	// Argo's controller started without an instance id takes the same
	// rollouts as albrollouts: a problem, exit non-zero.
	if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		var d appsv1.Deployment
		if err := e.kube.Get(ctx, client.ObjectKey{Namespace: e.ns, Name: "argo-rollouts"}, &d); err != nil {
			return err
		}
		d.Spec.Template.Spec.Containers[0].Args = nil
		return e.kube.Update(ctx, &d)
	}); err != nil {
		t.Fatal(err)
	}
	out, err = runCLI(t, "doctor", "--region", "us-east-1", "--endpoint-url", srv.Endpoint(), "--kubeconfig", e.kubeconfig)
	if err == nil || !strings.Contains(out, "take the same Rollouts (both without --instance-id)") {
		t.Fatalf("err %v, output:\n%s", err, out)
	}
	if err := e.kube.Delete(ctx, argo); err != nil {
		t.Fatal(err)
	}
}
