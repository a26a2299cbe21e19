// Package charts holds the Helm chart of albrollouts (charts/albrollouts) and its
// tests: the chart's copies of config/ (CRDs, RBAC rules, ClusterAnalysisTemplates)
// are identical to config/, `helm lint` passes, `helm template` renders what the
// values say with flags the controller has, and the rendered objects install on a
// real API server. helm is the one pinned in hack/helm/go.mod.
package charts

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/albrollouts/albrollouts/config"
	"github.com/albrollouts/albrollouts/config/kustomize"
	"github.com/albrollouts/albrollouts/internal/controllercmd"
)

const (
	catAPI    = "argoproj.io/v1alpha1/ClusterAnalysisTemplate"
	chartDir  = "albrollouts"
	release   = "albrollouts"
	namespace = "albrollouts-system"
)

// The chart's copies (charts/albrollouts/files/<dir>) and the config/ directory each
// one copies, whole or in part.
var chartCopies = map[string]struct {
	configDir string
	files     []string // nil: every manifest of configDir
}{
	"crds":     {configDir: "crd/bases"},
	"rbac":     {configDir: "rbac", files: []string{"leader_election_role.yaml", "notifications_role.yaml", "role.yaml"}},
	"analysis": {configDir: "analysis"},
}

// The chart reads config/'s manifests from its own copies (Helm reads no file outside
// the chart): they must be byte for byte config/'s, and every CRD and analysis
// template of config/ must be there.
func TestChartFilesMatchConfig(t *testing.T) {
	for dir, want := range chartCopies {
		manifests, err := config.Manifests(want.configDir)
		if err != nil {
			t.Fatal(err)
		}
		wantFiles := map[string][]byte{}
		for _, m := range manifests {
			name := path.Base(m.Path)
			if want.files == nil || slices.Contains(want.files, name) {
				wantFiles[name] = m.Data
			}
		}
		entries, err := os.ReadDir(filepath.Join(chartDir, "files", dir))
		if err != nil {
			t.Fatalf("%v (run make chart-files)", err)
		}
		got := map[string]bool{}
		for _, e := range entries {
			got[e.Name()] = true
			data, err := os.ReadFile(filepath.Join(chartDir, "files", dir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			switch w, ok := wantFiles[e.Name()]; {
			case !ok:
				t.Errorf("charts/albrollouts/files/%s/%s is not in config/%s: run make chart-files", dir, e.Name(), want.configDir)
			case !bytes.Equal(data, w):
				t.Errorf("charts/albrollouts/files/%s/%s differs from config/%s/%s: run make chart-files", dir, e.Name(), want.configDir, e.Name())
			}
		}
		for name := range wantFiles {
			if !got[name] {
				t.Errorf("config/%s/%s has no copy in charts/albrollouts/files/%s: run make chart-files", want.configDir, name, dir)
			}
		}
	}
}

var (
	helmOnce sync.Once
	helmPath string
	helmErr  error
)

// helm returns the path of the pinned helm binary, built once by the go command
// (cached: later runs only check it is up to date). $HELM overrides it.
func helm(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("needs helm (built from hack/helm/go.mod, minutes the first time): run without -short")
	}
	helmOnce.Do(func() {
		if p := os.Getenv("HELM"); p != "" {
			helmPath = p
			return
		}
		out, err := exec.Command("go", "tool", "-modfile=../hack/helm/go.mod", "-n", "helm").Output()
		if err != nil {
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				err = fmt.Errorf("%w: %s", err, ee.Stderr)
			}
			helmErr = fmt.Errorf("build helm (go tool -modfile=hack/helm/go.mod helm): %w", err)
			return
		}
		helmPath = strings.TrimSpace(string(out))
	})
	if helmErr != nil {
		t.Fatal(helmErr)
	}
	return helmPath
}

// runHelm runs helm with a fresh configuration and cache directory.
func runHelm(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	cmd := exec.Command(helm(t), args...)
	home := t.TempDir()
	cmd.Env = append(os.Environ(), "HELM_CONFIG_HOME="+home+"/config", "HELM_CACHE_HOME="+home+"/cache",
		"HELM_DATA_HOME="+home+"/data")
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	return out.String(), errOut.String(), err
}

// valuesFile writes values as a YAML file for --values.
func valuesFile(t *testing.T, values map[string]any) string {
	t.Helper()
	data, err := yaml.Marshal(values)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "values.yaml")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// render is `helm template albrollouts charts/albrollouts -n albrollouts-system`
// with values (nil: the defaults), parsed, for a cluster with the argoproj.io CRDs
// (as a helm upgrade sees it: with the ClusterAnalysisTemplates).
func render(t *testing.T, values map[string]any) []*unstructured.Unstructured {
	t.Helper()
	args := []string{"template", release, chartDir, "--namespace", namespace, "--api-versions", catAPI}
	if values != nil {
		args = append(args, "--values", valuesFile(t, values))
	}
	out, errOut, err := runHelm(t, args...)
	if err != nil {
		t.Fatalf("helm %s: %v\n%s", strings.Join(args, " "), err, errOut)
	}
	objs, err := kustomize.Parse([]byte(out))
	if err != nil {
		t.Fatalf("helm template output: %v\n%s", err, out)
	}
	return objs
}

func key(u *unstructured.Unstructured) string {
	if u.GetNamespace() == "" {
		return u.GetKind() + " " + u.GetName()
	}
	return u.GetKind() + " " + u.GetNamespace() + "/" + u.GetName()
}

func keys(objs []*unstructured.Unstructured) []string {
	var out []string
	for _, u := range objs {
		out = append(out, key(u))
	}
	sort.Strings(out)
	return out
}

func byKind(t *testing.T, objs []*unstructured.Unstructured, kind string) []*unstructured.Unstructured {
	t.Helper()
	var out []*unstructured.Unstructured
	for _, u := range objs {
		if u.GetKind() == kind {
			out = append(out, u)
		}
	}
	return out
}

func one(t *testing.T, objs []*unstructured.Unstructured, kind string) *unstructured.Unstructured {
	t.Helper()
	got := byKind(t, objs, kind)
	if len(got) != 1 {
		t.Fatalf("%d objects of kind %s rendered, want 1: %v", len(got), kind, keys(objs))
	}
	return got[0]
}

// configObjects are the objects of config/ directories, as `albrollouts install` and
// config/default take them.
func configObjects(t *testing.T, dirs ...string) []*unstructured.Unstructured {
	t.Helper()
	var out []*unstructured.Unstructured
	for _, d := range dirs {
		files, err := config.Manifests(d)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			objs, err := kustomize.Parse(f.Data)
			if err != nil {
				t.Fatalf("config/%s: %v", f.Path, err)
			}
			out = append(out, objs...)
		}
	}
	return out
}

// field returns a nested field of u, failing the test when it is missing.
func field(t *testing.T, u *unstructured.Unstructured, fields ...string) any {
	t.Helper()
	v, ok, err := unstructured.NestedFieldNoCopy(u.Object, fields...)
	if err != nil || !ok {
		t.Fatalf("%s has no %s (%v)", key(u), strings.Join(fields, "."), err)
	}
	return v
}

// controllerContainer returns the Deployment's controller container.
func controllerContainer(t *testing.T, d *unstructured.Unstructured) map[string]any {
	t.Helper()
	for _, c := range field(t, d, "spec", "template", "spec", "containers").([]any) {
		if m := c.(map[string]any); m["name"] == "controller" {
			return m
		}
	}
	t.Fatalf("%s has no container named controller", key(d))
	return nil
}

// parseControllerArgs checks that args are `controller` and flags the controller
// command has (internal/controllercmd), and returns the command with them parsed.
func parseControllerArgs(t *testing.T, container map[string]any) map[string]string {
	t.Helper()
	var args []string
	for _, a := range container["args"].([]any) {
		args = append(args, a.(string))
	}
	if len(args) == 0 || args[0] != "controller" {
		t.Fatalf("controller args %q: want the leading `controller` the image's entrypoint takes", args)
	}
	cmd := controllercmd.NewCommand()
	if err := cmd.ParseFlags(args[1:]); err != nil {
		t.Fatalf("controller args %q: the controller command refuses them: %v", args, err)
	}
	if rest := cmd.Flags().Args(); len(rest) > 0 {
		t.Fatalf("controller args %q: %q are not flags (the command takes no arguments)", args, rest)
	}
	got := map[string]string{}
	for _, a := range args[1:] {
		name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		got[name] = cmd.Flags().Lookup(name).Value.String()
	}
	return got
}

func assertEqual(t *testing.T, what string, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		g, _ := yaml.Marshal(got)
		w, _ := yaml.Marshal(want)
		t.Errorf("%s:\n got: %s\nwant: %s", what, g, w)
	}
}

func TestLint(t *testing.T) {
	for _, values := range []map[string]any{nil, nonDefaultValues} {
		args := []string{"lint", "--strict", chartDir, "--namespace", namespace}
		if values != nil {
			args = append(args, "--values", valuesFile(t, values))
		}
		if out, errOut, err := runHelm(t, args...); err != nil {
			t.Errorf("helm %s: %v\n%s%s", strings.Join(args, " "), err, out, errOut)
		}
	}
}

// With its defaults and the release name albrollouts, the chart renders config/'s
// objects (but the Namespace, which is Helm's --create-namespace): the same names,
// CRDs, RBAC rules, Deployment and analysis template.
func TestTemplateDefaults(t *testing.T) {
	objs := render(t, nil)
	want := configObjects(t, "crd/bases", "rbac", "manager", "analysis")
	want = slices.DeleteFunc(want, func(u *unstructured.Unstructured) bool { return u.GetKind() == "Namespace" })
	assertEqual(t, "rendered objects", keys(objs), keys(want))
	got := map[string]*unstructured.Unstructured{}
	for _, u := range objs {
		got[key(u)] = u
	}

	for _, w := range want {
		g := got[key(w)]
		if g == nil {
			continue
		}
		if g.GetLabels()["app.kubernetes.io/managed-by"] != "Helm" && w.GetKind() != "CustomResourceDefinition" {
			t.Errorf("%s: no app.kubernetes.io/managed-by: Helm label: %v", key(g), g.GetLabels())
		}
		switch w.GetKind() {
		case "CustomResourceDefinition":
			assertEqual(t, key(w)+" spec", g.Object["spec"], w.Object["spec"])
			assertEqual(t, key(w)+" labels", g.GetLabels(), w.GetLabels())
			if g.GetAnnotations()["helm.sh/resource-policy"] != "keep" {
				t.Errorf("%s: not kept on uninstall (keepCRDs): annotations %v", key(g), g.GetAnnotations())
			}
		case "ClusterRole", "Role":
			assertEqual(t, key(w)+" rules", g.Object["rules"], w.Object["rules"])
		case "ClusterRoleBinding", "RoleBinding":
			assertEqual(t, key(w)+" roleRef", g.Object["roleRef"], w.Object["roleRef"])
			assertEqual(t, key(w)+" subjects", g.Object["subjects"], w.Object["subjects"])
		case "ServiceAccount":
			if len(g.GetAnnotations()) != 0 {
				t.Errorf("%s: annotations %v, want none (serviceAccount.annotations)", key(g), g.GetAnnotations())
			}
		case "Service":
			assertEqual(t, key(w)+" ports", g.Object["spec"].(map[string]any)["ports"], w.Object["spec"].(map[string]any)["ports"])
		case "ClusterAnalysisTemplate":
			assertEqual(t, key(w)+" spec", g.Object["spec"], w.Object["spec"])
		case "Deployment":
			checkDefaultDeployment(t, g, w)
		}
	}
	svc := got["Service "+namespace+"/albrollouts-controller-metrics"]
	dep := got["Deployment "+namespace+"/albrollouts-controller"]
	if svc != nil && dep != nil {
		assertEqual(t, "metrics Service selector", field(t, svc, "spec", "selector"), field(t, dep, "spec", "selector", "matchLabels"))
	}
}

// checkDefaultDeployment compares the chart's default Deployment with config/manager's.
func checkDefaultDeployment(t *testing.T, got, want *unstructured.Unstructured) {
	t.Helper()
	assertEqual(t, "replicas", field(t, got, "spec", "replicas"), field(t, want, "spec", "replicas"))
	for _, f := range []string{"serviceAccountName", "terminationGracePeriodSeconds", "securityContext"} {
		assertEqual(t, "pod "+f, field(t, got, "spec", "template", "spec", f), field(t, want, "spec", "template", "spec", f))
	}
	gc, wc := controllerContainer(t, got), controllerContainer(t, want)
	for _, f := range []string{"ports", "livenessProbe", "readinessProbe", "resources", "securityContext"} {
		assertEqual(t, "controller container "+f, gc[f], wc[f])
	}
	if gc["image"] != "ghcr.io/albrollouts/albrollouts:v0.1.0" {
		t.Errorf("image %v, want the chart's appVersion as tag", gc["image"])
	}
	if _, ok := gc["env"]; ok {
		t.Errorf("env %v, want none (aws.region unset)", gc["env"])
	}
	// config/manager's flags, and the chart's defaults spelled out.
	flags := parseControllerArgs(t, gc)
	for name, v := range parseControllerArgs(t, wc) {
		if flags[name] != v {
			t.Errorf("--%s: %q, config/manager has %q", name, flags[name], v)
		}
	}
	assertEqual(t, "controller flags", flags, map[string]string{
		"leader-elect": "true", "metrics-bind-address": ":8080", "health-probe-bind-address": ":8081",
		"aws-verify-target-group": "true", "aws-api-qps": "8", "aws-api-burst": "30",
		"log-level": "info", "log-format": "text",
	})
	// The flags' defaults are the controller's.
	cmd := controllercmd.NewCommand()
	for _, name := range []string{"aws-api-qps", "aws-api-burst", "log-level", "log-format"} {
		if d := cmd.Flags().Lookup(name).DefValue; flags[name] != d {
			t.Errorf("chart default --%s=%s, the controller's default is %s", name, flags[name], d)
		}
	}
}

// nonDefaultValues sets every value the chart has to something other than its default.
var nonDefaultValues = map[string]any{
	"installCRDs":              false,
	"clusterAnalysisTemplates": map[string]any{"enabled": false},
	"fullnameOverride":         "rollouts-b",
	"imagePullSecrets":         []any{map[string]any{"name": "regcred"}},
	"aws": map[string]any{
		"region": "eu-west-1", "verifyTargetGroup": false, "apiQPS": 2.5, "apiBurst": 5,
	},
	"controller": map[string]any{
		"replicas":   3,
		"instanceID": "shard-b",
		"image": map[string]any{
			"repository": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/albrollouts", "tag": "v9.9.9", "pullPolicy": "Always",
		},
		"logging":   map[string]any{"level": "debug", "format": "json"},
		"extraArgs": []any{"--workers=8", "--verify-timeout=10m"},
		"extraEnv":  []any{map[string]any{"name": "AWS_STS_REGIONAL_ENDPOINTS", "value": "regional"}},
		"resources": map[string]any{
			"requests": map[string]any{"cpu": "100m", "memory": "128Mi"}, "limits": map[string]any{"cpu": "1", "memory": "512Mi"},
		},
		"nodeSelector": map[string]any{"kubernetes.io/os": "linux"},
		"tolerations":  []any{map[string]any{"key": "dedicated", "operator": "Equal", "value": "system", "effect": "NoSchedule"}},
		"affinity": map[string]any{"podAntiAffinity": map[string]any{"preferredDuringSchedulingIgnoredDuringExecution": []any{
			map[string]any{"weight": 100, "podAffinityTerm": map[string]any{
				"topologyKey":   "kubernetes.io/hostname",
				"labelSelector": map[string]any{"matchLabels": map[string]any{"app.kubernetes.io/name": "albrollouts"}},
			}},
		}}},
		"priorityClassName": "system-cluster-critical",
		"podAnnotations":    map[string]any{"example.com/a": "b"},
		"podLabels":         map[string]any{"team": "platform"},
		"pdb":               map[string]any{"enabled": true, "minAvailable": 2},
		"metrics": map[string]any{"serviceMonitor": map[string]any{
			"enabled": true, "interval": "30s", "additionalLabels": map[string]any{"release": "prometheus"},
		}},
	},
	"serviceAccount": map[string]any{
		"name":        "albrollouts-b",
		"annotations": map[string]any{"eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/albrollouts-b"},
	},
}

func TestTemplateValues(t *testing.T) {
	objs := render(t, nonDefaultValues)
	assertEqual(t, "rendered objects", keys(objs), []string{
		"ClusterRole rollouts-b", "ClusterRoleBinding rollouts-b",
		"Deployment " + namespace + "/rollouts-b-controller",
		"PodDisruptionBudget " + namespace + "/rollouts-b-controller",
		"Role " + namespace + "/rollouts-b-leader-election", "Role " + namespace + "/rollouts-b-notifications",
		"RoleBinding " + namespace + "/rollouts-b-leader-election", "RoleBinding " + namespace + "/rollouts-b-notifications",
		"Service " + namespace + "/rollouts-b-controller-metrics",
		"ServiceAccount " + namespace + "/albrollouts-b",
		"ServiceMonitor " + namespace + "/rollouts-b-controller",
	})

	sa := one(t, objs, "ServiceAccount")
	assertEqual(t, "ServiceAccount annotations", sa.GetAnnotations(),
		map[string]string{"eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/albrollouts-b"})
	for _, kind := range []string{"ClusterRoleBinding", "RoleBinding"} {
		for _, b := range byKind(t, objs, kind) {
			assertEqual(t, key(b)+" subjects", field(t, b, "subjects"),
				[]any{map[string]any{"kind": "ServiceAccount", "name": "albrollouts-b", "namespace": namespace}})
			// Each binding grants its own role (of the same name).
			assertEqual(t, key(b)+" roleRef", field(t, b, "roleRef", "name"), b.GetName())
		}
	}

	d := one(t, objs, "Deployment")
	assertEqual(t, "replicas", field(t, d, "spec", "replicas"), int64(3))
	pod := field(t, d, "spec", "template", "spec").(map[string]any)
	c := controllerContainer(t, d)
	assertEqual(t, "image", c["image"], "123456789012.dkr.ecr.eu-west-1.amazonaws.com/albrollouts:v9.9.9")
	assertEqual(t, "imagePullPolicy", c["imagePullPolicy"], "Always")
	assertEqual(t, "env", c["env"], []any{
		map[string]any{"name": "AWS_REGION", "value": "eu-west-1"},
		map[string]any{"name": "AWS_STS_REGIONAL_ENDPOINTS", "value": "regional"},
	})
	assertEqual(t, "resources", c["resources"], map[string]any{
		"requests": map[string]any{"cpu": "100m", "memory": "128Mi"}, "limits": map[string]any{"cpu": "1", "memory": "512Mi"},
	})
	assertEqual(t, "serviceAccountName", pod["serviceAccountName"], "albrollouts-b")
	assertEqual(t, "imagePullSecrets", pod["imagePullSecrets"], []any{map[string]any{"name": "regcred"}})
	assertEqual(t, "nodeSelector", pod["nodeSelector"], map[string]any{"kubernetes.io/os": "linux"})
	assertEqual(t, "priorityClassName", pod["priorityClassName"], "system-cluster-critical")
	ctl := nonDefaultValues["controller"].(map[string]any)
	assertSameYAML(t, "tolerations", pod["tolerations"], ctl["tolerations"])
	assertSameYAML(t, "affinity", pod["affinity"], ctl["affinity"])
	assertEqual(t, "pod annotations", field(t, d, "spec", "template", "metadata", "annotations"), map[string]any{"example.com/a": "b"})
	if l := field(t, d, "spec", "template", "metadata", "labels").(map[string]any); l["team"] != "platform" {
		t.Errorf("pod labels %v: no team: platform", l)
	}
	assertEqual(t, "controller flags", parseControllerArgs(t, c), map[string]string{
		"leader-elect": "true", "metrics-bind-address": ":8080", "health-probe-bind-address": ":8081",
		"aws-api-qps": "2.5", "aws-api-burst": "5", "instance-id": "shard-b",
		"log-level": "debug", "log-format": "json", "workers": "8", "verify-timeout": "10m0s",
	})

	pdb := one(t, objs, "PodDisruptionBudget")
	assertEqual(t, "PodDisruptionBudget spec", field(t, pdb, "spec"), map[string]any{
		"minAvailable": int64(2), "selector": map[string]any{"matchLabels": field(t, d, "spec", "selector", "matchLabels")},
	})
	sm := one(t, objs, "ServiceMonitor")
	assertEqual(t, "ServiceMonitor selector", field(t, sm, "spec", "selector", "matchLabels"), field(t, one(t, objs, "Service"), "spec", "selector"))
	assertEqual(t, "ServiceMonitor endpoints", field(t, sm, "spec", "endpoints"),
		[]any{map[string]any{"port": "metrics", "path": "/metrics", "interval": "30s"}})
	if sm.GetLabels()["release"] != "prometheus" {
		t.Errorf("ServiceMonitor labels %v: no additionalLabels", sm.GetLabels())
	}
}

// assertSameYAML compares got and want as YAML (a value's int and the rendered int64 alike).
func assertSameYAML(t *testing.T, what string, got, want any) {
	t.Helper()
	g, err1 := yaml.Marshal(got)
	w, err2 := yaml.Marshal(want)
	if err := errors.Join(err1, err2); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(g, w) {
		t.Errorf("%s:\n got: %s\nwant: %s", what, g, w)
	}
}

// Smaller variations: no ServiceAccount, no metrics Service, leader election and
// verification off, a PDB without numbers, CRDs not kept.
func TestTemplateVariations(t *testing.T) {
	objs := render(t, map[string]any{
		"serviceAccount": map[string]any{"create": false, "name": "existing"},
		"controller": map[string]any{
			"pdb": map[string]any{"enabled": true}, "leaderElection": false, "metrics": map[string]any{"enabled": false},
		},
		"aws":      map[string]any{"verifyTargetGroup": false},
		"keepCRDs": false,
	})
	for _, crd := range byKind(t, objs, "CustomResourceDefinition") {
		if _, ok := crd.GetAnnotations()["helm.sh/resource-policy"]; ok {
			t.Errorf("keepCRDs false: %s still has helm.sh/resource-policy", key(crd))
		}
	}
	if sas := byKind(t, objs, "ServiceAccount"); len(sas) != 0 {
		t.Errorf("serviceAccount.create false rendered %v", keys(sas))
	}
	if svcs := byKind(t, objs, "Service"); len(svcs) != 0 {
		t.Errorf("metrics.enabled false rendered %v", keys(svcs))
	}
	d := one(t, objs, "Deployment")
	assertEqual(t, "serviceAccountName", field(t, d, "spec", "template", "spec", "serviceAccountName"), "existing")
	flags := parseControllerArgs(t, controllerContainer(t, d))
	for _, f := range []string{"leader-elect", "aws-verify-target-group"} {
		if _, ok := flags[f]; ok {
			t.Errorf("--%s given, the values turn it off", f)
		}
	}
	assertEqual(t, "PodDisruptionBudget maxUnavailable", field(t, one(t, objs, "PodDisruptionBudget"), "spec", "maxUnavailable"), int64(1))
}

// Rendered for a cluster without the ClusterAnalysisTemplate API (a first install
// with the CRDs, plain helm template), the chart leaves the template out: Helm could
// not map it.
func TestTemplateWithoutAnalysisAPI(t *testing.T) {
	out, errOut, err := runHelm(t, "template", release, chartDir, "--namespace", namespace)
	if err != nil {
		t.Fatalf("helm template: %v\n%s", err, errOut)
	}
	objs, err := kustomize.Parse([]byte(out))
	if err != nil {
		t.Fatal(err)
	}
	if cats := byKind(t, objs, "ClusterAnalysisTemplate"); len(cats) != 0 || len(byKind(t, objs, "CustomResourceDefinition")) != 5 {
		t.Errorf("rendered %v: want the 5 CRDs and no ClusterAnalysisTemplate", keys(objs))
	}
}

// Values that cannot work fail the rendering, with a message naming them.
func TestTemplateRefuses(t *testing.T) {
	for _, tc := range []struct {
		values map[string]any
		want   string
	}{
		{map[string]any{"controller": map[string]any{"replicas": 2, "leaderElection": false}}, "controller.leaderElection"},
		{map[string]any{"controller": map[string]any{"pdb": map[string]any{"enabled": true, "minAvailable": 1, "maxUnavailable": 1}}}, "controller.pdb"},
		{map[string]any{"controller": map[string]any{"metrics": map[string]any{"enabled": false, "serviceMonitor": map[string]any{"enabled": true}}}}, "controller.metrics.enabled"},
	} {
		_, errOut, err := runHelm(t, "template", release, chartDir, "--values", valuesFile(t, tc.values))
		if err == nil || !strings.Contains(errOut, tc.want) {
			t.Errorf("values %v: err %v, stderr %q: want a failure naming %s", tc.values, err, errOut, tc.want)
		}
	}
}

// Every value of values.yaml is in docs/install.md's table.
func TestValuesDocumented(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(chartDir, "values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var values map[string]any
	if err := yaml.Unmarshal(data, &values); err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile("../docs/install.md")
	if err != nil {
		t.Fatal(err)
	}
	// The names in backquotes in the first column of the table's rows.
	documented := map[string]bool{}
	for _, line := range strings.Split(string(doc), "\n") {
		cells := strings.Split(line, "|")
		if !strings.HasPrefix(line, "| `") || len(cells) < 3 {
			continue
		}
		for i, part := range strings.Split(cells[1], "`") {
			if i%2 == 1 {
				documented[part] = true
			}
		}
	}
	var missing []string
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		// Leaves, and the maps that are a Kubernetes field as a whole.
		if m, ok := v.(map[string]any); ok && len(m) > 0 && !strings.HasSuffix(prefix, "resources") &&
			!strings.HasSuffix(prefix, "SecurityContext") {
			for k, sub := range m {
				walk(strings.TrimPrefix(prefix+"."+k, "."), sub)
			}
			return
		}
		if !documented[prefix] {
			missing = append(missing, prefix)
		}
	}
	walk("", values)
	sort.Strings(missing)
	for _, m := range missing {
		t.Errorf("value %s is not in the first column of docs/install.md's values table", m)
	}
}
