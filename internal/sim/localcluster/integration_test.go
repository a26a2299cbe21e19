package localcluster_test

// Integration tests against a real etcd + kube-apiserver + kube-controller-manager,
// shared by every test of the package (see TestMain). Skipped with -short.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/yaml"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
	"github.com/albrollouts/albrollouts/internal/sim/localcluster"
	"github.com/albrollouts/albrollouts/internal/sim/poll"
	"github.com/albrollouts/albrollouts/internal/validation"
)

// cluster is shared by the package's integration tests; nil with -short.
var cluster *localcluster.Cluster

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		os.Exit(m.Run())
	}
	// The clients log nothing worth reading here; without a logger controller-runtime
	// prints a warning with a stack trace after 30 s.
	ctrllog.SetLogger(logr.Discard())
	start := time.Now()
	c, err := localcluster.Start(context.Background(), localcluster.Options{ControllerManager: true})
	if err != nil {
		fmt.Fprintln(os.Stderr, "localcluster:", err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "localcluster: etcd + kube-apiserver + kube-controller-manager + CRDs ready in %s\n", time.Since(start).Round(time.Millisecond))
	cluster = c
	code := m.Run()
	stopStart := time.Now()
	if err := c.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "localcluster: stop:", err)
		code = 1
	}
	fmt.Fprintf(os.Stderr, "localcluster: stopped in %s\n", time.Since(stopStart).Round(time.Millisecond))
	os.Exit(code)
}

// newClient returns a client for the shared cluster, skipping with -short.
func newClient(t *testing.T) client.Client {
	t.Helper()
	if cluster == nil {
		t.Skip("integration test: needs the local control plane (run without -short)")
	}
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, v1alpha1.AddToScheme} {
		if err := add(scheme); err != nil {
			t.Fatal(err)
		}
	}
	c, err := client.New(cluster.RESTConfig(), client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// newNamespace creates a namespace for one test.
func newNamespace(t *testing.T, c client.Client, prefix string) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: prefix + "-"}}
	if err := c.Create(context.Background(), ns); err != nil {
		t.Fatalf("create namespace: %v", err)
	}
	return ns.Name
}

// repoPath returns a path relative to the repository root.
func repoPath(parts ...string) string {
	return filepath.Join(append([]string{"..", "..", ".."}, parts...)...)
}

// manifest is one YAML document of a file.
type manifest struct {
	file string
	raw  []byte
	obj  *unstructured.Unstructured
}

// loadManifests reads every YAML document under dir, recursively.
func loadManifests(t *testing.T, dir string) []manifest {
	t.Helper()
	var out []manifest
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".yaml") {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
		for {
			doc, err := r.Read()
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			u := &unstructured.Unstructured{}
			if err := yaml.Unmarshal(doc, &u.Object); err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			if len(u.Object) > 0 {
				out = append(out, manifest{file: path, raw: doc, obj: u})
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) == 0 {
		t.Fatalf("no manifests under %s", dir)
	}
	return out
}

// TestSamplesServerSideDryRun is `kubectl apply --server-side --dry-run=server`
// of every sample: the API server (with the CRD's schema, strict field
// validation and CEL rules) accepts them, and nothing is persisted.
func TestSamplesServerSideDryRun(t *testing.T) {
	c := newClient(t)
	ctx := context.Background()
	ns := newNamespace(t, c, "samples")
	manifests := loadManifests(t, repoPath("config", "samples"))
	for _, m := range manifests {
		u := m.obj.DeepCopy()
		name := fmt.Sprintf("%s %s/%s", filepath.Base(m.file), u.GetKind(), u.GetName())
		namespaced, err := c.IsObjectNamespaced(u)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if namespaced {
			u.SetNamespace(ns)
		}
		if err := c.Apply(ctx, client.ApplyConfigurationFromUnstructured(u),
			client.FieldOwner("samples-test"), client.ForceOwnership, client.DryRunAll); err != nil {
			t.Errorf("%s rejected: %v", name, err)
			continue
		}
		got := &unstructured.Unstructured{}
		got.SetGroupVersionKind(u.GroupVersionKind())
		if err := c.Get(ctx, client.ObjectKeyFromObject(u), got); !apierrors.IsNotFound(err) {
			t.Errorf("%s: dry run persisted the object (get: %v)", name, err)
		}
	}
	kinds := map[string]int{}
	for _, m := range manifests {
		kinds[m.obj.GetKind()]++
	}
	if kinds["Rollout"] < 3 || kinds["Service"] < 5 || kinds["Ingress"] < 3 {
		t.Errorf("samples should hold the canary, blue-green and Argo-compatible rollouts with their Services and Ingresses; found %v", kinds)
	}
}

// TestSampleRolloutsRoundTrip creates every sample Rollout from its typed Go
// form, reads it back unchanged, checks it passes the Go validation, and writes
// a status with a verification block through the status subresource.
func TestSampleRolloutsRoundTrip(t *testing.T) {
	c := newClient(t)
	ctx := context.Background()
	ns := newNamespace(t, c, "roundtrip")
	var rollouts int
	for _, m := range loadManifests(t, repoPath("config", "samples")) {
		if m.obj.GetKind() != v1alpha1.Kind {
			continue
		}
		rollouts++
		want := &v1alpha1.Rollout{}
		if err := yaml.UnmarshalStrict(m.raw, want); err != nil {
			t.Fatalf("%s: the Go types do not know a field of the sample: %v", m.file, err)
		}
		if errs := validation.Rollout(want); len(errs) > 0 {
			t.Errorf("%s: sample fails validation: %v", m.file, errs.ToAggregate())
		}
		if u := want.UnsupportedFields(); len(u) > 0 {
			t.Errorf("%s: sample uses unsupported fields %v", m.file, u)
		}
		want.Namespace = ns
		if err := c.Create(ctx, want.DeepCopy()); err != nil {
			t.Fatalf("%s: create: %v", m.file, err)
		}
		got := &v1alpha1.Rollout{}
		if err := c.Get(ctx, client.ObjectKeyFromObject(want), got); err != nil {
			t.Fatalf("%s: get: %v", m.file, err)
		}
		if !equality.Semantic.DeepEqual(want.Spec, got.Spec) {
			a, _ := yaml.Marshal(want.Spec)
			b, _ := yaml.Marshal(got.Spec)
			t.Errorf("%s: spec changed on the way through the API server.\nsent:\n%s\nread back:\n%s", m.file, a, b)
		}
		if got.Spec.Template.Labels["app"] == "" {
			t.Errorf("%s: template labels were pruned", m.file)
		}
		writeStatus(t, c, got)
	}
	if rollouts < 3 {
		t.Fatalf("found %d sample Rollouts, want at least 3", rollouts)
	}
}

// writeStatus writes a full status (conditions, weights, verification) and
// reads it back.
func writeStatus(t *testing.T, c client.Client, r *v1alpha1.Rollout) {
	t.Helper()
	now := metav1.NewTime(time.Now().Truncate(time.Second))
	r.Status = v1alpha1.RolloutStatus{
		Phase:              v1alpha1.RolloutPhaseProgressing,
		Message:            "waiting for the ALB to apply weight 20",
		Strategy:           r.StrategyName(),
		ObservedGeneration: fmt.Sprint(r.Generation),
		CurrentStepIndex:   ptr(int32(1)),
		Replicas:           4, UpdatedReplicas: 1, ReadyReplicas: 4, AvailableReplicas: 4,
		Canary: v1alpha1.CanaryStatus{Weights: &v1alpha1.TrafficWeights{
			Canary:   v1alpha1.WeightDestination{Weight: 20, ServiceName: "demo-canary-canary", PodTemplateHash: "abc"},
			Stable:   v1alpha1.WeightDestination{Weight: 80, ServiceName: "demo-canary-stable", PodTemplateHash: "def"},
			Verified: ptr(false),
		}},
		ALB: &v1alpha1.ALBStatus{Ingress: "demo-canary",
			LoadBalancer: v1alpha1.AwsResourceRef{Name: "k8s-demo", ARN: "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/k8s-demo/1"}},
		Verification: &v1alpha1.VerificationStatus{
			Phase:          v1alpha1.VerificationPending,
			Reason:         "TargetsUnhealthy",
			Message:        "canary target group has 1 of 2 targets healthy",
			Kind:           v1alpha1.VerificationCanaryWeight,
			StepIndex:      ptr(int32(0)),
			DesiredWeights: &v1alpha1.VerificationWeights{Canary: 20, Stable: 80},
			TimeoutSeconds: 45,
			StartedAt:      &now, LastCheckedAt: &now,
			Attempts: 3,
			TargetGroups: []v1alpha1.TargetGroupObservation{{
				Name: "k8s-demo-canary", ARN: "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/k8s-demo-canary/1",
				Role: "canary", Service: "demo-canary-canary", Listener: "arn:listener", DesiredWeight: 20, ActualWeight: ptr(int32(20)),
				ExpectedTargets: 2, RegisteredTargets: 2, HealthyTargets: 1,
				Unhealthy: []v1alpha1.TargetObservation{{Target: "127.0.0.5:8080", State: "unhealthy", Reason: "Target.ResponseCodeMismatch"}},
			}},
		},
		Conditions: []v1alpha1.RolloutCondition{{
			Type: v1alpha1.ConditionTrafficVerified, Status: corev1.ConditionFalse, Reason: "TargetsUnhealthy",
			Message: "waiting", LastTransitionTime: now, LastUpdateTime: now,
		}},
	}
	want := r.Status.DeepCopy()
	if err := c.Status().Update(context.Background(), r); err != nil {
		t.Fatalf("%s: update status: %v", r.Name, err)
	}
	got := &v1alpha1.Rollout{}
	if err := c.Get(context.Background(), client.ObjectKeyFromObject(r), got); err != nil {
		t.Fatal(err)
	}
	if !equality.Semantic.DeepEqual(*want, got.Status) {
		a, _ := yaml.Marshal(want)
		b, _ := yaml.Marshal(got.Status)
		t.Errorf("%s: status changed on the way through the API server.\nsent:\n%s\nread back:\n%s", r.Name, a, b)
	}
}

func ptr[T any](v T) *T { return &v }

// canarySample returns the canary Rollout of config/samples as unstructured.
func canarySample(t *testing.T) *unstructured.Unstructured {
	t.Helper()
	for _, m := range loadManifests(t, repoPath("config", "samples")) {
		if m.obj.GetKind() == v1alpha1.Kind && m.obj.GetName() == "demo-canary" {
			return m.obj.DeepCopy()
		}
	}
	t.Fatal("config/samples has no Rollout demo-canary")
	return nil
}

// TestCRDRejectsInvalidRollouts checks the CRD's schema and CEL rules.
func TestCRDRejectsInvalidRollouts(t *testing.T) {
	c := newClient(t)
	ns := newNamespace(t, c, "invalid")
	set := func(value any, path ...string) func(u *unstructured.Unstructured) {
		return func(u *unstructured.Unstructured) {
			if err := unstructured.SetNestedField(u.Object, value, path...); err != nil {
				t.Fatal(err)
			}
		}
	}
	alb := []string{"spec", "strategy", "canary", "trafficRouting", "alb"}
	cases := []struct {
		name   string
		mutate func(u *unstructured.Unstructured)
		want   []string // substrings of the error
	}{
		// setWeight has no schema maximum (maxTrafficWeight sets it); internal/validation checks it.
		{"weight -1", func(u *unstructured.Unstructured) {
			steps, _, _ := unstructured.NestedSlice(u.Object, "spec", "strategy", "canary", "steps")
			steps[0] = map[string]any{"setWeight": int64(-1)}
			set(steps, "spec", "strategy", "canary", "steps")(u)
		}, []string{"spec.strategy.canary.steps[0].setWeight", "greater than or equal to 0"}},
		{"both ingress and ingresses", set([]any{"other"}, append(alb, "ingresses")...),
			[]string{"spec.strategy.canary.trafficRouting.alb", "exactly one of ingress or ingresses must be set"}},
		{"neither ingress nor ingresses", func(u *unstructured.Unstructured) {
			unstructured.RemoveNestedField(u.Object, append(alb, "ingress")...)
		}, []string{"exactly one of ingress or ingresses must be set"}},
		{"timeoutSeconds 0", set(int64(0), append(alb, "timeoutSeconds")...),
			[]string{"spec.strategy.canary.trafficRouting.alb.timeoutSeconds", "greater than or equal to 1"}},
		{"timeoutSeconds 3601", set(int64(3601), append(alb, "timeoutSeconds")...),
			[]string{"spec.strategy.canary.trafficRouting.alb.timeoutSeconds", "less than or equal to 3600"}},
		{"stickiness 0 seconds", set(map[string]any{"enabled": true, "durationSeconds": int64(0)}, append(alb, "stickinessConfig")...),
			[]string{"stickinessConfig.durationSeconds", "greater than or equal to 1"}},
		{"stickiness over 7 days", set(map[string]any{"enabled": true, "durationSeconds": int64(604801)}, append(alb, "stickinessConfig")...),
			[]string{"stickinessConfig.durationSeconds", "less than or equal to 604800"}},
		{"both strategies", set(map[string]any{"activeService": "x"}, "spec", "strategy", "blueGreen"),
			[]string{"spec.strategy", "exactly one of strategy.canary or strategy.blueGreen must be set"}},
		{"no strategy", func(u *unstructured.Unstructured) {
			unstructured.RemoveNestedField(u.Object, "spec", "strategy", "canary")
		}, []string{"exactly one of strategy.canary or strategy.blueGreen must be set"}},
		{"blue-green timeoutSeconds 0", func(u *unstructured.Unstructured) {
			unstructured.RemoveNestedField(u.Object, "spec", "strategy", "canary")
			set(map[string]any{"activeService": "x", "alb": map[string]any{"timeoutSeconds": int64(0)}}, "spec", "strategy", "blueGreen")(u)
		}, []string{"spec.strategy.blueGreen.alb.timeoutSeconds", "greater than or equal to 1"}},
		{"setCanaryScale weight 101", func(u *unstructured.Unstructured) {
			set([]any{map[string]any{"setCanaryScale": map[string]any{"weight": int64(101)}}}, "spec", "strategy", "canary", "steps")(u)
		}, []string{"setCanaryScale.weight", "less than or equal to 100"}},
		{"unknown field", set("yes", append(alb, "verifyTargetGroups")...),
			[]string{`unknown field "spec.strategy.canary.trafficRouting.alb.verifyTargetGroups"`}},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			u := canarySample(t)
			u.SetNamespace(ns)
			u.SetName(fmt.Sprintf("bad-%d", i))
			tc.mutate(u)
			err := c.Create(context.Background(), u, client.FieldValidation(metav1.FieldValidationStrict))
			if err == nil {
				t.Fatalf("the API server accepted the invalid Rollout; want an error containing %q", tc.want)
			}
			if !apierrors.IsInvalid(err) && !apierrors.IsBadRequest(err) {
				t.Fatalf("want an Invalid error, got %v", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

// TestCRDAcceptsResourceQuantityFormats is Argo's e2e
// TestContainerResourceFormats against this project's CRD: a resource
// quantity is accepted written as a number (kubectl sends `cpu: 0.001` as a
// JSON number), as a string, or with a suffix, and the controller's typed
// client reads each as the same Quantity. What is neither a number nor a
// quantity string is still refused: the typed client could not decode it.
func TestCRDAcceptsResourceQuantityFormats(t *testing.T) {
	c := newClient(t)
	ctx := context.Background()
	ns := newNamespace(t, c, "quantities")
	containers := func(cpus ...any) []any {
		var out []any
		for i, cpu := range cpus {
			out = append(out, map[string]any{
				"name": fmt.Sprintf("c%d", i), "image": "nginx:1.19-alpine",
				"resources": map[string]any{"requests": map[string]any{"cpu": cpu, "memory": "128Mi"}, "limits": map[string]any{"cpu": cpu}},
			})
		}
		return out
	}
	u := canarySample(t)
	u.SetNamespace(ns)
	u.SetName("container-resource-formats")
	if err := unstructured.SetNestedSlice(u.Object, containers(0.001, "0.001", "1m"), "spec", "template", "spec", "containers"); err != nil {
		t.Fatal(err)
	}
	if err := unstructured.SetNestedField(u.Object, map[string]any{"cpu": 0.001}, "spec", "template", "spec", "overhead"); err != nil {
		t.Fatal(err)
	}
	applied := u.DeepCopy()
	if err := c.Create(ctx, u, client.FieldValidation(metav1.FieldValidationStrict)); err != nil {
		t.Fatalf("the API server refused cpu 0.001 written as a number: %v", err)
	}
	// kubectl apply --server-side too (structured merge of an untyped value).
	applied.SetName("container-resource-formats-ssa")
	if err := c.Apply(ctx, client.ApplyConfigurationFromUnstructured(applied), client.FieldOwner("quantities-test"), client.ForceOwnership); err != nil {
		t.Fatalf("server-side apply refused cpu 0.001 written as a number: %v", err)
	}
	got := &v1alpha1.Rollout{}
	if err := c.Get(ctx, client.ObjectKeyFromObject(u), got); err != nil {
		t.Fatalf("the typed client cannot read the Rollout back: %v", err)
	}
	for _, ctr := range got.Spec.Template.Spec.Containers {
		if cpu := ctr.Resources.Requests.Cpu(); cpu.MilliValue() != 1 || ctr.Resources.Limits.Cpu().MilliValue() != 1 {
			t.Errorf("container %s: cpu %s, want 1m", ctr.Name, cpu)
		}
		if mem := ctr.Resources.Requests.Memory(); mem.String() != "128Mi" {
			t.Errorf("container %s: memory %s, want 128Mi", ctr.Name, mem)
		}
	}
	if cpu := got.Spec.Template.Spec.Overhead.Cpu(); cpu.MilliValue() != 1 {
		t.Errorf("overhead cpu %s, want 1m", cpu)
	}
	for i, bad := range []any{"abc", true, map[string]any{"m": int64(1)}, map[string]any{}, []any{int64(1)}} {
		u := canarySample(t)
		u.SetNamespace(ns)
		u.SetName(fmt.Sprintf("bad-quantity-%d", i))
		if err := unstructured.SetNestedSlice(u.Object, containers(bad), "spec", "template", "spec", "containers"); err != nil {
			t.Fatal(err)
		}
		err := c.Create(ctx, u, client.FieldValidation(metav1.FieldValidationStrict))
		if err == nil {
			t.Errorf("cpu %#v accepted; want it refused", bad)
		} else if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "resources.requests.cpu") {
			t.Errorf("cpu %#v: want an Invalid error on resources.requests.cpu, got %v", bad, err)
		}
	}
}

// TestUnsupportedArgoFieldsKept creates a Rollout using Argo features
// albrollouts does not implement: the API server keeps them verbatim and
// UnsupportedFields names them.
func TestUnsupportedArgoFieldsKept(t *testing.T) {
	c := newClient(t)
	ctx := context.Background()
	ns := newNamespace(t, c, "unsupported")
	const manifest = `
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata:
  name: argo-extras
spec:
  replicas: 2
  analysis: {successfulRunHistoryLimit: 3}
  selector: {matchLabels: {app: extras}}
  template:
    metadata: {labels: {app: extras}}
    spec: {containers: [{name: app, image: albrollouts/demo:v1}]}
  strategy:
    canary:
      canaryService: extras-canary
      stableService: extras-stable
      analysis:
        templates: [{templateName: success-rate}]
        startingStep: 2
        args: [{name: service, value: extras}]
      canaryMetadata: {labels: {role: canary}}
      trafficRouting:
        istio:
          virtualService: {name: extras, routes: [primary]}
      steps:
      - setWeight: 10
      - experiment:
          duration: 5m
          templates: [{name: baseline, specRef: stable, weight: 5}]
      - analysis: {templates: [{templateName: success-rate}]}
`
	u := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(manifest), &u.Object); err != nil {
		t.Fatal(err)
	}
	u.SetNamespace(ns)
	if err := c.Create(ctx, u, client.FieldValidation(metav1.FieldValidationStrict)); err != nil {
		t.Fatalf("create: %v", err)
	}

	gotU := &unstructured.Unstructured{}
	gotU.SetGroupVersionKind(u.GroupVersionKind())
	if err := c.Get(ctx, client.ObjectKeyFromObject(u), gotU); err != nil {
		t.Fatal(err)
	}
	for _, path := range [][]string{
		{"spec", "analysis"},
		{"spec", "strategy", "canary", "analysis"},
		{"spec", "strategy", "canary", "canaryMetadata"},
		{"spec", "strategy", "canary", "trafficRouting", "istio"},
	} {
		sent, _, _ := unstructured.NestedFieldNoCopy(u.Object, path...)
		kept, found, _ := unstructured.NestedFieldNoCopy(gotU.Object, path...)
		if !found || !equality.Semantic.DeepEqual(sent, kept) {
			t.Errorf("%s: sent %v, read back %v", strings.Join(path, "."), sent, kept)
		}
	}
	steps, _, _ := unstructured.NestedSlice(gotU.Object, "spec", "strategy", "canary", "steps")
	if len(steps) != 3 || steps[1].(map[string]any)["experiment"] == nil || steps[2].(map[string]any)["analysis"] == nil {
		t.Errorf("step actions lost: %v", steps)
	}

	typed := &v1alpha1.Rollout{}
	if err := c.Get(ctx, client.ObjectKeyFromObject(u), typed); err != nil {
		t.Fatal(err)
	}
	// Step and background analysis are supported now (the analysis
	// controller), and spec.analysis's run history limits.
	want := []string{
		"spec.strategy.canary.steps[1].experiment",
		"spec.strategy.canary.trafficRouting.istio",
	}
	if got := typed.UnsupportedFields(); !slices.Equal(got, want) {
		t.Errorf("UnsupportedFields() = %v, want %v", got, want)
	}
}

// TestControllerManagerRunsControllers proves kube-controller-manager works: a
// ReplicaSet gets its Pods (they stay Pending: there is no node) and a Service
// gets an EndpointSlice.
func TestControllerManagerRunsControllers(t *testing.T) {
	c := newClient(t)
	ctx := context.Background()
	ns := newNamespace(t, c, "kcm")
	labels := map[string]string{"app": "kcm-test"}
	rs := &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns},
		Spec: appsv1.ReplicaSetSpec{
			Replicas: ptr(int32(2)),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "albrollouts/demo:v1"}}},
			},
		},
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns},
		Spec:       corev1.ServiceSpec{Selector: labels, Ports: []corev1.ServicePort{{Name: "http", Port: 80}}},
	}
	for _, o := range []client.Object{rs, svc} {
		if err := c.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	poll.Slow.Until(t, 60*time.Second, "the ReplicaSet's 2 pods", func() bool {
		pods := &corev1.PodList{}
		if err := c.List(ctx, pods, client.InNamespace(ns), client.MatchingLabels(labels)); err != nil {
			return false
		}
		owned := 0
		for _, p := range pods.Items {
			if ref := metav1.GetControllerOf(&p); ref != nil && ref.UID == rs.UID {
				owned++
			}
		}
		return owned == 2
	})
	poll.Slow.Until(t, 60*time.Second, "an EndpointSlice for the Service", func() bool {
		slices := &discoveryv1.EndpointSliceList{}
		err := c.List(ctx, slices, client.InNamespace(ns), client.MatchingLabels{discoveryv1.LabelServiceName: "web"})
		return err == nil && len(slices.Items) > 0
	})
}

// TestKubeconfig checks the kubeconfig file works for another client.
func TestKubeconfig(t *testing.T) {
	if cluster == nil {
		t.Skip("integration test: needs the local control plane (run without -short)")
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", cluster.KubeconfigPath())
	if err != nil {
		t.Fatalf("load %s: %v", cluster.KubeconfigPath(), err)
	}
	c, err := client.New(cfg, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	nsList := &corev1.NamespaceList{}
	if err := c.List(context.Background(), nsList); err != nil {
		t.Fatalf("list namespaces through the kubeconfig: %v", err)
	}
	if len(nsList.Items) == 0 {
		t.Error("no namespaces listed")
	}
}

// TestKubectlApplyDryRun runs what a user runs: client-side `kubectl apply
// --dry-run=server` of the CRD (small enough for the last-applied annotation)
// and of every sample. Skipped when kubectl is not installed.
func TestKubectlApplyDryRun(t *testing.T) {
	c := newClient(t)
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		t.Skip("kubectl not installed")
	}
	ns := newNamespace(t, c, "kubectl")
	for _, dir := range []string{repoPath("config", "crd", "bases"), repoPath("config", "samples")} {
		cmd := exec.Command(kubectl, "--kubeconfig", cluster.KubeconfigPath(), "--namespace", ns,
			"apply", "--dry-run=server", "--validate=strict", "--recursive", "-f", dir)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("kubectl apply --dry-run=server -f %s: %v\n%s", dir, err, out)
			continue
		}
		if !strings.Contains(string(out), "(server dry run)") {
			t.Errorf("unexpected kubectl output for %s:\n%s", dir, out)
		}
		t.Logf("%s", out)
	}
}

// TestSecondClusterStartStop starts a minimal second cluster (no
// controller-manager, no CRDs) next to the shared one, and checks the logs reach
// Options.Log, and that Stop ends the processes, removes the temporary WorkDir
// and is idempotent.
func TestSecondClusterStartStop(t *testing.T) {
	if cluster == nil {
		t.Skip("integration test: needs the local control plane (run without -short)")
	}
	var logs bytes.Buffer // written by two components at once: Start serialises the writes
	second, err := localcluster.Start(context.Background(), localcluster.Options{CRDDirs: []string{}, Log: &logs})
	if err != nil {
		t.Fatal(err)
	}
	host := strings.TrimPrefix(second.RESTConfig().Host, "https://")
	if host == strings.TrimPrefix(cluster.RESTConfig().Host, "https://") {
		t.Fatalf("both clusters listen on %s", host)
	}
	for _, f := range []string{"etcd.log", "kube-apiserver.log", "kubeconfig"} {
		if _, err := os.Stat(filepath.Join(second.WorkDir(), f)); err != nil {
			t.Errorf("work directory lacks %s: %v", f, err)
		}
	}
	if err := second.Stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if err := second.Stop(); err != nil {
		t.Fatalf("second stop: %v", err)
	}
	if !strings.Contains(logs.String(), "\nkube-apiserver: ") {
		t.Errorf("Options.Log did not get the API server's output with its prefix:\n%.2000s", logs.String())
	}
	if _, err := os.Stat(second.WorkDir()); !os.IsNotExist(err) {
		t.Errorf("temporary work directory %s not removed (stat: %v)", second.WorkDir(), err)
	}
	if conn, err := net.DialTimeout("tcp", host, time.Second); err == nil {
		_ = conn.Close()
		t.Errorf("something still listens on %s after Stop", host)
	}
}
