package localcluster_test

// The deployment manifests (config/default, what `kubectl apply -k config/default`
// applies) against the real control plane.

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	authorizationv1 "k8s.io/api/authorization/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/albrollouts/albrollouts/config/kustomize"
)

// kustomizeBuild is `kustomize build dir`.
func kustomizeBuild(t *testing.T, dir string) []*unstructured.Unstructured {
	t.Helper()
	objs, err := kustomize.Build(dir)
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

func objectName(u *unstructured.Unstructured) string {
	if ns := u.GetNamespace(); ns != "" {
		return fmt.Sprintf("%s %s/%s", u.GetKind(), ns, u.GetName())
	}
	return u.GetKind() + " " + u.GetName()
}

// dryRunApply is `kubectl apply --server-side --dry-run=server` of one object.
// Server-side apply refuses fields the schema does not declare.
func dryRunApply(ctx context.Context, c client.Client, u *unstructured.Unstructured) error {
	return c.Apply(ctx, client.ApplyConfigurationFromUnstructured(u.DeepCopy()), client.FieldOwner("deploy-test"), client.ForceOwnership, client.DryRunAll)
}

// config/default builds, holds what a cluster needs, and every object it yields
// passes a server-side dry run; an object the API server would refuse fails it.
func TestDefaultKustomizationDryRun(t *testing.T) {
	c := newClient(t)
	ctx := context.Background()
	objs := kustomizeBuild(t, repoPath("config", "default"))
	var names []string
	nsAt := -1
	for i, u := range objs {
		names = append(names, objectName(u))
		if u.GetKind() == "Namespace" {
			nsAt = i
		} else if u.GetNamespace() != "" && nsAt < 0 {
			t.Errorf("%s comes before its Namespace: `kubectl apply` would fail on it", objectName(u))
		}
	}
	slices.Sort(names)
	want := []string{
		"ClusterAnalysisTemplate albrollouts-system/alb-canary-health",
		"ClusterRole albrollouts",
		"ClusterRoleBinding albrollouts",
		"CustomResourceDefinition analysisruns.argoproj.io",
		"CustomResourceDefinition analysistemplates.argoproj.io",
		"CustomResourceDefinition clusteranalysistemplates.argoproj.io",
		"CustomResourceDefinition experiments.argoproj.io",
		"CustomResourceDefinition rollouts.argoproj.io",
		"Deployment albrollouts-system/albrollouts-controller",
		"Namespace albrollouts-system",
		"Role albrollouts-system/albrollouts-leader-election",
		"Role albrollouts-system/albrollouts-notifications",
		"RoleBinding albrollouts-system/albrollouts-leader-election",
		"RoleBinding albrollouts-system/albrollouts-notifications",
		"Service albrollouts-system/albrollouts-controller-metrics",
		"ServiceAccount albrollouts-system/albrollouts",
	}
	if !slices.Equal(names, want) {
		t.Fatalf("kustomize build config/default yields\n  %s\nwant\n  %s", strings.Join(names, "\n  "), strings.Join(want, "\n  "))
	}
	// The namespace must exist for the dry runs of what goes into it.
	for _, u := range objs {
		if u.GetKind() == "Namespace" {
			if err := c.Apply(ctx, client.ApplyConfigurationFromUnstructured(u.DeepCopy()), client.FieldOwner("deploy-test"), client.ForceOwnership); err != nil {
				t.Fatalf("apply %s: %v", objectName(u), err)
			}
		}
	}
	for _, u := range objs {
		if err := dryRunApply(ctx, c, u); err != nil {
			t.Errorf("%s rejected by a server-side dry run: %v", objectName(u), err)
		}
	}
	// The dry run is a real check: a mistake in the Deployment fails it.
	for _, u := range objs {
		if u.GetKind() != "Deployment" {
			continue
		}
		bad := u.DeepCopy()
		_ = unstructured.SetNestedField(bad.Object, "yes", "spec", "template", "spec", "runAsRoot")
		if err := dryRunApply(ctx, c, bad); err == nil {
			t.Error("a Deployment with an unknown field passed the dry run")
		}
		bad = u.DeepCopy()
		_ = unstructured.SetNestedField(bad.Object, map[string]any{"matchLabels": map[string]any{"app": "other"}}, "spec", "selector")
		if err := dryRunApply(ctx, c, bad); err == nil || !apierrors.IsInvalid(err) {
			t.Errorf("a Deployment whose selector does not match its template passed the dry run (%v)", err)
		}
	}
}

// The Deployment runs what the issue asks for: the controller with leader election,
// metrics, health probes and verification; non-root and read-only.
func TestDefaultKustomizationDeployment(t *testing.T) {
	var dep *unstructured.Unstructured
	for _, u := range kustomizeBuild(t, repoPath("config", "default")) {
		if u.GetKind() == "Deployment" {
			dep = u
		}
	}
	if dep == nil {
		t.Fatal("no Deployment")
	}
	containers, _, _ := unstructured.NestedSlice(dep.Object, "spec", "template", "spec", "containers")
	if len(containers) != 1 {
		t.Fatalf("%d containers", len(containers))
	}
	ctr := containers[0].(map[string]any)
	args, _, _ := unstructured.NestedStringSlice(ctr, "args")
	if want := []string{"controller", "--leader-elect", "--metrics-bind-address=:8080", "--health-probe-bind-address=:8081", "--aws-verify-target-group"}; !slices.Equal(args, want) {
		t.Errorf("args %v, want %v", args, want)
	}
	if img, _, _ := unstructured.NestedString(ctr, "image"); img != "ghcr.io/albrollouts/albrollouts:latest" {
		t.Errorf("image %q", img)
	}
	for probe, path := range map[string]string{"livenessProbe": "/healthz", "readinessProbe": "/readyz"} {
		p, _, _ := unstructured.NestedString(ctr, probe, "httpGet", "path")
		port, _, _ := unstructured.NestedFieldNoCopy(ctr, probe, "httpGet", "port")
		if p != path || port != "health" {
			t.Errorf("%s: path %q port %v, want %s on the health port", probe, p, port, path)
		}
	}
	sc, _, _ := unstructured.NestedMap(ctr, "securityContext")
	for field, want := range map[string]any{"runAsNonRoot": true, "runAsUser": int64(65532), "readOnlyRootFilesystem": true, "allowPrivilegeEscalation": false} {
		if sc[field] != want {
			t.Errorf("securityContext.%s = %v, want %v", field, sc[field], want)
		}
	}
	if drop, _, _ := unstructured.NestedStringSlice(sc, "capabilities", "drop"); !slices.Equal(drop, []string{"ALL"}) {
		t.Errorf("capabilities.drop %v", drop)
	}
	if seccomp, _, _ := unstructured.NestedString(sc, "seccompProfile", "type"); seccomp != "RuntimeDefault" {
		t.Errorf("seccompProfile %q", seccomp)
	}
	if sa, _, _ := unstructured.NestedString(dep.Object, "spec", "template", "spec", "serviceAccountName"); sa != "albrollouts" {
		t.Errorf("serviceAccountName %q", sa)
	}
}

// TestRBACManifests applies the RBAC that config/default builds and asks the API
// server whether the controller's ServiceAccount may do what the controller does,
// and nothing more.
func TestRBACManifests(t *testing.T) {
	c := newClient(t)
	ctx := context.Background()
	var sa, saNamespace string
	for _, u := range kustomizeBuild(t, repoPath("config", "default")) {
		switch u.GetKind() {
		case "Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding":
		default:
			continue
		}
		if err := c.Apply(ctx, client.ApplyConfigurationFromUnstructured(u), client.FieldOwner("rbac-test"), client.ForceOwnership); err != nil {
			t.Fatalf("apply %s: %v", objectName(u), err)
		}
		if u.GetKind() == "ServiceAccount" {
			sa, saNamespace = "system:serviceaccount:"+u.GetNamespace()+":"+u.GetName(), u.GetNamespace()
		}
	}
	if sa == "" {
		t.Fatal("config/default has no ServiceAccount")
	}
	allowed := func(attrs authorizationv1.ResourceAttributes) (bool, string) {
		t.Helper()
		sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{User: sa, ResourceAttributes: &attrs}}
		if err := c.Create(ctx, sar); err != nil {
			t.Fatal(err)
		}
		return sar.Status.Allowed, sar.Status.Reason
	}
	for _, attrs := range []authorizationv1.ResourceAttributes{
		{Group: "argoproj.io", Resource: "rollouts", Verb: "watch"},
		{Group: "argoproj.io", Resource: "rollouts", Verb: "update"},
		{Group: "argoproj.io", Resource: "rollouts", Subresource: "status", Verb: "patch"},
		{Group: "argoproj.io", Resource: "rollouts", Subresource: "finalizers", Verb: "update"},
		{Group: "apps", Resource: "replicasets", Verb: "create"},
		{Group: "apps", Resource: "replicasets", Verb: "delete"},
		{Resource: "services", Verb: "patch"},
		{Resource: "pods", Verb: "list"},
		{Resource: "pods", Subresource: "eviction", Verb: "create"},
		{Resource: "events", Verb: "create"},
		{Group: "events.k8s.io", Resource: "events", Verb: "patch"},
		{Group: "networking.k8s.io", Resource: "ingresses", Verb: "update"},
		{Group: "discovery.k8s.io", Resource: "endpointslices", Verb: "watch"},
		{Group: "elbv2.k8s.aws", Resource: "targetgroupbindings", Verb: "list"},
		{Group: "eks.amazonaws.com", Resource: "targetgroupbindings", Verb: "list"},
		{Group: "coordination.k8s.io", Resource: "leases", Verb: "update", Namespace: saNamespace},
		{Group: "coordination.k8s.io", Resource: "leases", Verb: "create", Namespace: saNamespace},
	} {
		if attrs.Namespace == "" {
			attrs.Namespace = "default"
		}
		if ok, why := allowed(attrs); !ok {
			t.Errorf("%s may not %s %s/%s %s in %s: %s", sa, attrs.Verb, attrs.Group, attrs.Resource, attrs.Subresource, attrs.Namespace, why)
		}
	}
	// Least privilege: nothing the controller does not do.
	for _, attrs := range []authorizationv1.ResourceAttributes{
		{Resource: "secrets", Verb: "list", Namespace: "default"}, // one Secret at a time, by name (analysis args)
		{Resource: "configmaps", Verb: "list", Namespace: "default"},
		{Resource: "pods", Verb: "delete", Namespace: "default"},
		{Resource: "pods", Verb: "create", Namespace: "default"},
		{Resource: "services", Verb: "create", Namespace: "default"},
		{Resource: "services", Verb: "delete", Namespace: "default"},
		{Group: "apps", Resource: "deployments", Verb: "delete", Namespace: "default"}, // workloadRef scales a Deployment down, never deletes it
		{Group: "elbv2.k8s.aws", Resource: "targetgroupbindings", Verb: "update", Namespace: "default"},
		{Group: "argoproj.io", Resource: "rollouts", Verb: "delete", Namespace: "default"},
		{Group: "argoproj.io", Resource: "rollouts", Verb: "create", Namespace: "default"},
		// Leases only in the controller's own namespace.
		{Group: "coordination.k8s.io", Resource: "leases", Verb: "update", Namespace: "kube-system"},
		{Group: "coordination.k8s.io", Resource: "leases", Verb: "delete", Namespace: saNamespace},
		{Group: "apiextensions.k8s.io", Resource: "customresourcedefinitions", Verb: "update"},
		{Group: "rbac.authorization.k8s.io", Resource: "clusterroles", Verb: "escalate"},
	} {
		if ok, _ := allowed(attrs); ok {
			t.Errorf("%s may %s %s/%s in %q; the controller does not need that", sa, attrs.Verb, attrs.Group, attrs.Resource, attrs.Namespace)
		}
	}
}
