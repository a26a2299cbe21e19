package charts

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/albrollouts/albrollouts/config"
	"github.com/albrollouts/albrollouts/config/kustomize"
	"github.com/albrollouts/albrollouts/internal/sim/localcluster"
)

// `helm install` of the chart (default values and an image) on a real API server
// without any CRD, as on a new cluster: the CRDs are established, the Deployment and
// RBAC created; `helm upgrade` adds the ClusterAnalysisTemplate (whose CRD the install
// created), changes the Deployment and adds a PodDisruptionBudget; the objects of
// every value changed pass a server-side dry run; a second instance installs beside
// it in another namespace; `helm uninstall` keeps the CRDs. No scheduler or
// kubelet runs: the pods stay unscheduled, which helm does not wait for.
func TestInstallOnAPIServer(t *testing.T) {
	helm(t) // skips under -short
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cluster, err := localcluster.Start(ctx, localcluster.Options{CRDDirs: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cluster.Stop() }()
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	if err := apiextensionsv1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	c, err := client.New(cluster.RESTConfig(), client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	// helm args... in the namespace ns.
	helmOK := func(ns string, args ...string) string {
		t.Helper()
		start := time.Now()
		out, errOut, err := runHelm(t, slices.Concat(args, []string{"--kubeconfig", cluster.KubeconfigPath(), "--namespace", ns})...)
		if err != nil {
			t.Fatalf("helm %s: %v\n%s%s", strings.Join(args, " "), err, out, errOut)
		}
		t.Logf("helm %s: %s", args[0], time.Since(start).Round(time.Millisecond))
		return out
	}

	notes := helmOK(namespace, "install", release, chartDir, "--create-namespace",
		"--set", "controller.image.repository=registry.example/albrollouts", "--set", "controller.image.tag=v1.2.3")

	for _, f := range config.RolloutCRDs() {
		objs, err := kustomize.Parse(f.Data)
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range objs {
			crd := &apiextensionsv1.CustomResourceDefinition{}
			if err := c.Get(ctx, client.ObjectKey{Name: u.GetName()}, crd); err != nil {
				t.Fatalf("CRD %s: %v", u.GetName(), err)
			}
			if !crdEstablished(ctx, c, crd) {
				t.Errorf("CRD %s is not Established: %+v", crd.Name, crd.Status.Conditions)
			}
		}
	}
	dep := &appsv1.Deployment{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: "albrollouts-controller"}, dep); err != nil {
		t.Fatal(err)
	}
	ctr := dep.Spec.Template.Spec.Containers[0]
	wantArgs := []string{"controller", "--leader-elect", "--metrics-bind-address=:8080", "--health-probe-bind-address=:8081",
		"--aws-verify-target-group", "--aws-api-qps=8", "--aws-api-burst=30", "--log-level=info", "--log-format=text"}
	if ctr.Image != "registry.example/albrollouts:v1.2.3" || !slices.Equal(ctr.Args, wantArgs) {
		t.Errorf("controller container: image %s args %q; want registry.example/albrollouts:v1.2.3 %q", ctr.Image, ctr.Args, wantArgs)
	}
	if err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: "albrollouts"}, &corev1.ServiceAccount{}); err != nil {
		t.Errorf("ServiceAccount: %v", err)
	}
	if err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: "albrollouts-controller-metrics"}, &corev1.Service{}); err != nil {
		t.Errorf("metrics Service: %v", err)
	}
	// The ClusterAnalysisTemplate comes with the first upgrade: its CRD is new.
	cat := &unstructured.Unstructured{}
	cat.SetGroupVersionKind(schema.GroupVersionKind{Group: "argoproj.io", Version: "v1alpha1", Kind: "ClusterAnalysisTemplate"})
	if err := c.Get(ctx, client.ObjectKey{Name: "alb-canary-health"}, cat); !apierrors.IsNotFound(err) {
		t.Errorf("ClusterAnalysisTemplate alb-canary-health after the install: %v, want not found", err)
	}
	if !strings.Contains(notes, "alb-canary-health is not installed yet") {
		t.Errorf("the install's notes do not say that alb-canary-health comes with an upgrade:\n%s", notes)
	}

	helmOK(namespace, "upgrade", release, chartDir, "--reuse-values",
		"--set", "controller.replicas=2", "--set", "controller.pdb.enabled=true", "--set", "aws.region=eu-west-1",
		"--set", "serviceAccount.annotations.eks\\.amazonaws\\.com/role-arn=arn:aws:iam::123456789012:role/albrollouts")
	if err := c.Get(ctx, client.ObjectKey{Name: "alb-canary-health"}, cat); err != nil {
		t.Errorf("ClusterAnalysisTemplate alb-canary-health after the upgrade: %v", err)
	}
	if err := c.Get(ctx, client.ObjectKeyFromObject(dep), dep); err != nil {
		t.Fatal(err)
	}
	if *dep.Spec.Replicas != 2 || len(dep.Spec.Template.Spec.Containers[0].Env) != 1 {
		t.Errorf("after the upgrade: replicas %d env %v, want 2 and AWS_REGION", *dep.Spec.Replicas, dep.Spec.Template.Spec.Containers[0].Env)
	}
	if err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: "albrollouts-controller"}, &policyv1.PodDisruptionBudget{}); err != nil {
		t.Errorf("PodDisruptionBudget after the upgrade: %v", err)
	}
	sa := &corev1.ServiceAccount{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: "albrollouts"}, sa); err != nil || sa.Annotations["eks.amazonaws.com/role-arn"] == "" {
		t.Errorf("ServiceAccount after the upgrade: %v, annotations %v", err, sa.Annotations)
	}

	// Every value changed (but the ServiceMonitor, whose CRD is the Prometheus
	// Operator's): the API server accepts the objects (server-side apply, dry run).
	for _, u := range render(t, nonDefaultValues) {
		if u.GetKind() == "ServiceMonitor" {
			continue
		}
		if err := c.Apply(ctx, client.ApplyConfigurationFromUnstructured(u), client.FieldOwner("chart-test"),
			client.ForceOwnership, client.DryRunAll); err != nil {
			t.Errorf("non-default values: %s rejected by a server-side dry run: %v", key(u), err)
		}
	}

	// A second instance in another namespace, without the cluster-wide objects the
	// first release owns.
	notes = helmOK("rollouts-b", "install", "albrollouts-b", chartDir, "--create-namespace",
		"--set", "installCRDs=false", "--set", "clusterAnalysisTemplates.enabled=false", "--set", "controller.instanceID=shard-b")
	if strings.Contains(notes, "alb-canary-health") {
		t.Errorf("the second instance's notes mention alb-canary-health:\n%s", notes)
	}
	depB := &appsv1.Deployment{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: "rollouts-b", Name: "albrollouts-b-controller"}, depB); err != nil {
		t.Errorf("second instance: %v", err)
	} else if args := depB.Spec.Template.Spec.Containers[0].Args; !slices.Contains(args, "--instance-id=shard-b") {
		t.Errorf("second instance's args %q: no --instance-id=shard-b", args)
	}

	helmOK(namespace, "uninstall", release)
	if err := c.Get(ctx, client.ObjectKeyFromObject(dep), &appsv1.Deployment{}); !apierrors.IsNotFound(err) {
		t.Errorf("Deployment after uninstall: %v, want not found", err)
	}
	if err := c.Get(ctx, client.ObjectKey{Name: "rollouts.argoproj.io"}, &apiextensionsv1.CustomResourceDefinition{}); err != nil {
		t.Errorf("Rollout CRD after uninstall (keepCRDs): %v", err)
	}
}

// crdEstablished waits up to 30 seconds for the CRD's Established condition.
func crdEstablished(ctx context.Context, c client.Client, crd *apiextensionsv1.CustomResourceDefinition) bool {
	deadline := time.Now().Add(30 * time.Second)
	for {
		for _, cond := range crd.Status.Conditions {
			if cond.Type == apiextensionsv1.Established && cond.Status == apiextensionsv1.ConditionTrue {
				return true
			}
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(200 * time.Millisecond)
		if err := c.Get(ctx, client.ObjectKeyFromObject(crd), crd); err != nil {
			return false
		}
	}
}
