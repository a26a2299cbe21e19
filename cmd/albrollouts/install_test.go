package main

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/albrollouts/albrollouts/config/kustomize"
	"github.com/albrollouts/albrollouts/internal/sim/localcluster"
	"github.com/albrollouts/albrollouts/internal/version"
)

// runInstall runs `albrollouts install args...` and parses what it prints on stdout.
func runInstall(t *testing.T, args ...string) ([]*unstructured.Unstructured, string) {
	t.Helper()
	root := newRootCmd()
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs(append([]string{"install"}, args...))
	if err := root.Execute(); err != nil {
		t.Fatalf("install %v: %v\n%s", args, err, errOut.String())
	}
	objs, err := kustomize.Parse(out.Bytes())
	if err != nil {
		t.Fatalf("install %v: output is not YAML objects: %v\n%s", args, err, out.String())
	}
	return objs, errOut.String()
}

func installError(t *testing.T, args ...string) error {
	t.Helper()
	root := newRootCmd()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(append([]string{"install"}, args...))
	err := root.Execute()
	if err == nil {
		t.Fatalf("install %v: want an error, got output\n%s", args, out.String())
	}
	return err
}

func key(u *unstructured.Unstructured) string {
	return fmt.Sprintf("%s %s/%s", u.GetKind(), u.GetNamespace(), u.GetName())
}

func byKey(objs []*unstructured.Unstructured) map[string]*unstructured.Unstructured {
	m := map[string]*unstructured.Unstructured{}
	for _, u := range objs {
		m[key(u)] = u
	}
	return m
}

func find(t *testing.T, objs []*unstructured.Unstructured, kind string) *unstructured.Unstructured {
	t.Helper()
	for _, u := range objs {
		if u.GetKind() == kind {
			return u
		}
	}
	t.Fatalf("no %s in the output", kind)
	return nil
}

func controllerContainer(t *testing.T, objs []*unstructured.Unstructured) map[string]any {
	t.Helper()
	containers, _, _ := unstructured.NestedSlice(find(t, objs, "Deployment").Object, "spec", "template", "spec", "containers")
	for _, c := range containers {
		if m := c.(map[string]any); m["name"] == installContainer {
			return m
		}
	}
	t.Fatal("no controller container")
	return nil
}

// A release binary installs the release image of its own version (version.ImageRef),
// whose repository the chart and `make image` name too; a development build,
// config/manager's placeholder, :latest.
func TestInstallDefaultImage(t *testing.T) {
	saved := version.Version
	t.Cleanup(func() { version.Version = saved })
	for v, want := range map[string]string{"v9.8.7": version.Image + ":v9.8.7", "v9.8.7-2-gabcdef0": version.Image + ":latest"} {
		version.Version = v
		objs, _ := runInstall(t)
		if c := controllerContainer(t, objs); c["image"] != want {
			t.Errorf("version %s: image %v, want %s", v, c["image"], want)
		}
	}
}

// Without flags, install prints exactly the objects `kustomize build config/default`
// yields, with the Namespace first.
func TestInstallMatchesKustomizeBuild(t *testing.T) {
	got, stderr := runInstall(t)
	want, err := kustomize.Build(filepath.Join("..", "..", "config", "default"))
	if err != nil {
		t.Fatal(err)
	}
	// kustomize sets its namespace on every kind it does not know to be
	// cluster-scoped, the ClusterAnalysisTemplate too; the API server drops
	// it there (a cluster-scoped object has none), and install prints none.
	for _, u := range want {
		if u.GetKind() == "ClusterAnalysisTemplate" {
			u.SetNamespace("")
		}
	}
	g, w := byKey(got), byKey(want)
	if len(g) != len(got) {
		t.Errorf("install printed an object twice: %d objects, %d distinct", len(got), len(g))
	}
	for k, wu := range w {
		gu, ok := g[k]
		if !ok {
			t.Errorf("install lacks %s", k)
			continue
		}
		if !equality.Semantic.DeepEqual(gu.Object, wu.Object) {
			a, _ := yaml.Marshal(gu.Object)
			b, _ := yaml.Marshal(wu.Object)
			t.Errorf("%s differs from config/default:\ninstall:\n%s\nkustomize:\n%s", k, a, b)
		}
	}
	for k := range g {
		if _, ok := w[k]; !ok {
			t.Errorf("install prints %s, which config/default does not build", k)
		}
	}
	if got[0].GetKind() != "Namespace" {
		t.Errorf("first object %s; the Namespace must come first", key(got[0]))
	}
	for _, must := range []string{"AWS_REGION", "--aws-region", "--role-arn"} {
		if !strings.Contains(stderr, must) {
			t.Errorf("stderr does not warn about the placeholder (%s):\n%s", must, stderr)
		}
	}
}

func TestInstallFlags(t *testing.T) {
	objs, stderr := runInstall(t, "--namespace", "rollouts-b", "--image", "registry.example/albrollouts:v1.2.3",
		"--aws-region", "eu-west-1", "--role-arn", "arn:aws:iam::123456789012:role/albrollouts-b", "--instance-id", "shard-b")
	if stderr != "" {
		t.Errorf("no placeholder is left, yet install warns:\n%s", stderr)
	}
	for _, u := range objs {
		switch {
		case u.GetKind() == "Namespace":
			if u.GetName() != "rollouts-b" {
				t.Errorf("Namespace %s, want rollouts-b", u.GetName())
			}
		case u.GetNamespace() != "" && u.GetNamespace() != "rollouts-b":
			t.Errorf("%s is not in rollouts-b", key(u))
		}
		if u.GetKind() == "ClusterRoleBinding" || u.GetKind() == "RoleBinding" {
			subjects, _, _ := unstructured.NestedSlice(u.Object, "subjects")
			for _, s := range subjects {
				if ns := s.(map[string]any)["namespace"]; ns != "rollouts-b" {
					t.Errorf("%s binds a ServiceAccount in %v", key(u), ns)
				}
			}
		}
	}
	// Cluster-wide RBAC of a second installation does not replace the first one's.
	crb := find(t, objs, "ClusterRoleBinding")
	role, _, _ := unstructured.NestedString(crb.Object, "roleRef", "name")
	if cr := find(t, objs, "ClusterRole"); cr.GetName() != "albrollouts-rollouts-b" || crb.GetName() != "albrollouts-rollouts-b" || role != cr.GetName() {
		t.Errorf("ClusterRole %s, ClusterRoleBinding %s -> %s; want both albrollouts-rollouts-b", cr.GetName(), crb.GetName(), role)
	}
	c := controllerContainer(t, objs)
	if c["image"] != "registry.example/albrollouts:v1.2.3" {
		t.Errorf("image %v", c["image"])
	}
	args, _, _ := unstructured.NestedStringSlice(c, "args")
	if !slices.Contains(args, "--instance-id=shard-b") || !slices.Contains(args, "--aws-verify-target-group") || args[0] != "controller" {
		t.Errorf("args %v", args)
	}
	env, _, _ := unstructured.NestedSlice(c, "env")
	if len(env) != 1 || env[0].(map[string]any)["name"] != "AWS_REGION" || env[0].(map[string]any)["value"] != "eu-west-1" {
		t.Errorf("env %v", env)
	}
	if got := find(t, objs, "ServiceAccount").GetAnnotations()[roleARNAnnotation]; got != "arn:aws:iam::123456789012:role/albrollouts-b" {
		t.Errorf("role ARN annotation %q", got)
	}

	// Empty values remove the placeholders: region from the environment, Pod Identity.
	objs, stderr = runInstall(t, "--aws-region=", "--role-arn=")
	if stderr != "" {
		t.Errorf("warns although both placeholders were removed:\n%s", stderr)
	}
	if _, ok := find(t, objs, "ServiceAccount").GetAnnotations()[roleARNAnnotation]; ok {
		t.Error(`--role-arn "" kept the annotation`)
	}
	if env, found, _ := unstructured.NestedSlice(controllerContainer(t, objs), "env"); found {
		t.Errorf(`--aws-region "" kept env %v`, env)
	}
	if args, _, _ := unstructured.NestedStringSlice(controllerContainer(t, objs), "args"); slices.ContainsFunc(args, func(a string) bool { return strings.HasPrefix(a, "--instance-id") }) {
		t.Errorf("--instance-id added without the flag: %v", args)
	}

	objs, _ = runInstall(t, "--crds-only")
	for _, u := range objs {
		if u.GetKind() != "CustomResourceDefinition" {
			t.Errorf("--crds-only printed %s, which is no CRD", key(u))
		}
	}
}

// install (and install --crds-only) applies the CRDs of Argo's Experiment,
// AnalysisRun, AnalysisTemplate and ClusterAnalysisTemplate besides the
// Rollout's: Argo's kubectl plugin lists Experiments and AnalysisRuns in
// `get rollout` and `status`, and hangs on a cluster that serves neither.
func TestInstallPrintsArgoKindCRDs(t *testing.T) {
	want := []string{"analysisruns.argoproj.io", "analysistemplates.argoproj.io", "clusteranalysistemplates.argoproj.io",
		"experiments.argoproj.io", "rollouts.argoproj.io"}
	for _, args := range [][]string{nil, {"--crds-only"}} {
		objs, _ := runInstall(t, args...)
		var crds []string
		for _, u := range objs {
			if u.GetKind() == "CustomResourceDefinition" {
				crds = append(crds, u.GetName())
				if g, _, _ := unstructured.NestedString(u.Object, "spec", "group"); g != "argoproj.io" {
					t.Errorf("install %v: CRD %s has group %q", args, u.GetName(), g)
				}
			}
		}
		slices.Sort(crds)
		if !slices.Equal(crds, want) {
			t.Errorf("install %v prints the CRDs %v, want %v", args, crds, want)
		}
	}
}

func TestInstallRejectsBadFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--namespace", "Bad_NS"}, "--namespace"},
		{[]string{"--namespace", ""}, "--namespace"},
		{[]string{"--image", ""}, "--image"},
		{[]string{"--image", "a b"}, "--image"},
		{[]string{"--aws-region", "Europe"}, "--aws-region"},
		{[]string{"--role-arn", "albrollouts"}, "--role-arn"},
		{[]string{"--role-arn", "arn:aws:iam::123:role/x"}, "--role-arn"},
		{[]string{"--instance-id", "has space"}, "--instance-id"},
		{[]string{"--crds-only", "--image", "x:y"}, "crds-only"},
		{[]string{"extra"}, "unknown command"},
	} {
		if err := installError(t, tc.args...); !strings.Contains(err.Error(), tc.want) {
			t.Errorf("install %v: error %q does not name %s", tc.args, err, tc.want)
		}
	}
}

// What install prints, with and without flags, passes a server-side dry run on the
// real control plane.
func TestInstallOutputDryRun(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: needs the local control plane (run without -short)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// No CRDs preinstalled: the CRD in the output is dry-run created, as on a new cluster.
	cluster, err := localcluster.Start(ctx, localcluster.Options{CRDDirs: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cluster.Stop() }()
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	c, err := client.New(cluster.RESTConfig(), client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		nil,
		{"--namespace", "rollouts-b", "--image", "registry.example/albrollouts:v1.2.3", "--aws-region", "eu-west-1",
			"--role-arn", "arn:aws:iam::123456789012:role/albrollouts-b", "--instance-id", "shard-b"},
		{"--aws-region=", "--role-arn="},
		{"--crds-only"},
	} {
		objs, _ := runInstall(t, args...)
		for _, u := range objs {
			if u.GetKind() == "Namespace" { // what goes into it needs it for real
				if err := c.Apply(ctx, client.ApplyConfigurationFromUnstructured(u.DeepCopy()), client.FieldOwner("install-test"), client.ForceOwnership); err != nil {
					t.Fatalf("install %v: apply %s: %v", args, key(u), err)
				}
			}
		}
		for _, u := range objs {
			if u.GetKind() == "ClusterAnalysisTemplate" {
				// Its CRD is only dry-run created here; the template is
				// dry-run on a cluster with the CRDs by localcluster's
				// TestDefaultKustomizationDryRun.
				continue
			}
			if err := c.Apply(ctx, client.ApplyConfigurationFromUnstructured(u.DeepCopy()), client.FieldOwner("install-test"),
				client.ForceOwnership, client.DryRunAll); err != nil {
				t.Errorf("install %v: %s rejected by a server-side dry run: %v", args, key(u), err)
			}
		}
	}
}
