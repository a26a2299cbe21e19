package main

// The rollout commands end to end against a real etcd + kube-apiserver with
// the Rollout CRD (internal/sim/localcluster). No controller runs: the test writes
// the status itself, through the status subresource, as a controller would.
// Skipped with -short.

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
	"github.com/albrollouts/albrollouts/internal/rolloutctl"
	"github.com/albrollouts/albrollouts/internal/sim/localcluster"
	"github.com/albrollouts/albrollouts/internal/sim/poll"
)

// binariesWait bounds the wait for `make test-deps` to finish building the
// control-plane binaries.
const binariesWait = 30 * time.Minute

// waitForBinaries polls until the control-plane binaries are all in place.
func waitForBinaries(t *testing.T) {
	t.Helper()
	dir := localcluster.DefaultBinDir()
	poll.Every(10*time.Second).Eventually(t, binariesWait, "the control-plane binaries in "+dir, func() (bool, string) {
		missing := ""
		for _, b := range []string{localcluster.EtcdBin, localcluster.APIServerBin, localcluster.ControllerManagerBin} {
			if fi, err := os.Stat(filepath.Join(dir, b)); err != nil || fi.Mode()&0o111 == 0 {
				missing = b
			}
		}
		if missing == "" {
			return true, ""
		}
		t.Logf("waiting for %s in %s", missing, dir)
		return false, missing + " missing: run 'make k8s-bins'"
	})
}

// cliEnv is the shared state of the end-to-end test.
type cliEnv struct {
	t          *testing.T
	kube       client.Client
	ns         string
	kubeconfig string
}

func TestRolloutCLIEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: needs the local control plane (run without -short)")
	}
	waitForBinaries(t)
	ctx := context.Background()
	start := time.Now()
	cluster, err := localcluster.Start(ctx, localcluster.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("control plane ready in %s", time.Since(start).Round(time.Millisecond))
	t.Cleanup(func() {
		if err := cluster.Stop(); err != nil {
			t.Errorf("stop the control plane: %v", err)
		}
	})
	kube, err := client.New(cluster.RESTConfig(), client.Options{Scheme: rolloutctl.NewScheme()})
	if err != nil {
		t.Fatal(err)
	}
	nsObj := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "cli-"}}
	if err := kube.Create(ctx, nsObj); err != nil {
		t.Fatal(err)
	}
	e := &cliEnv{t: t, kube: kube, ns: nsObj.Name, kubeconfig: cluster.KubeconfigPath()}
	t.Setenv("KUBECONFIG", e.kubeconfig)
	t.Setenv("NO_COLOR", "")
	e.setup()

	t.Run("list", e.testList)
	t.Run("status", e.testStatus)
	t.Run("completion", e.testCompletion)
	t.Run("promote", e.testPromote)
	t.Run("abort and retry", e.testAbortRetry)
	t.Run("pause and restart", e.testPauseRestart)
	t.Run("undo", e.testUndo)
	t.Run("set image", e.testSetImage)
	t.Run("status exit codes", e.testStatusExitCodes)
	t.Run("doctor beside Argo Rollouts", e.testDoctorCluster)
}

// cli runs a command in the test namespace.
func (e *cliEnv) cli(args ...string) cliResult {
	return cli(append(args, "-n", e.ns)...)
}

func (e *cliEnv) must(args ...string) cliResult {
	e.t.Helper()
	r := e.cli(args...)
	if r.code != exitOK {
		e.t.Fatalf("%q: exit %d\nstdout:\n%s\nstderr:\n%s", args, r.code, r.stdout, r.stderr)
	}
	return r
}

// fails runs a command that must fail with code, saying says.
func (e *cliEnv) fails(code int, says string, args ...string) {
	e.t.Helper()
	r := e.cli(args...)
	if r.code != code || !strings.Contains(r.stderr, says) {
		e.t.Errorf("%q: exit %d, stderr %q; want exit %d saying %q", args, r.code, r.stderr, code, says)
	}
}

func (e *cliEnv) get(name string) *v1alpha1.Rollout {
	e.t.Helper()
	r := &v1alpha1.Rollout{}
	if err := e.kube.Get(context.Background(), client.ObjectKey{Namespace: e.ns, Name: name}, r); err != nil {
		e.t.Fatal(err)
	}
	return r
}

// setStatus writes the status through the status subresource, as the
// controller would, having observed the current generation.
func (e *cliEnv) setStatus(name string, fill func(r *v1alpha1.Rollout)) {
	e.t.Helper()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		r := &v1alpha1.Rollout{}
		if err := e.kube.Get(context.Background(), client.ObjectKey{Namespace: e.ns, Name: name}, r); err != nil {
			return err
		}
		fill(r)
		return e.kube.Status().Update(context.Background(), r)
	})
	if err != nil {
		e.t.Fatalf("write the status of %s: %v", name, err)
	}
}

func ptr[T any](v T) *T { return &v }

// pausedAtStep1 is web at its pause step 1/4: weight 20 written, a pending
// verification with an unhealthy canary target, updating h1 → h2.
func pausedAtStep1(r *v1alpha1.Rollout) {
	now := metav1.NewTime(time.Now().Add(-time.Minute).Truncate(time.Second))
	r.Status = v1alpha1.RolloutStatus{
		Phase: v1alpha1.RolloutPhasePaused, Message: "CanaryPauseStep", Strategy: v1alpha1.StrategyCanary,
		ObservedGeneration: fmt.Sprint(r.Generation),
		CurrentPodHash:     "h2", StableRS: "h1", CurrentStepIndex: ptr(int32(1)),
		Replicas: 3, UpdatedReplicas: 1, ReadyReplicas: 3, AvailableReplicas: 3,
		PauseConditions: []v1alpha1.PauseCondition{{Reason: v1alpha1.PauseReasonCanaryPauseStep, StartTime: now}},
		ControllerPause: true,
		Canary: v1alpha1.CanaryStatus{Weights: &v1alpha1.TrafficWeights{
			Canary:   v1alpha1.WeightDestination{Weight: 20, ServiceName: "web-canary", PodTemplateHash: "h2"},
			Stable:   v1alpha1.WeightDestination{Weight: 80, ServiceName: "web-stable", PodTemplateHash: "h1"},
			Verified: ptr(false),
		}},
		Verification: &v1alpha1.VerificationStatus{
			Phase: v1alpha1.VerificationPending, Reason: "TargetsNotHealthy",
			Message: "canary k8s-web-canary targets 0/1 healthy (127.1.0.9:8080 unhealthy Target.ResponseCodeMismatch)",
			Kind:    v1alpha1.VerificationCanaryWeight, StepIndex: ptr(int32(0)), Attempts: 4, TimeoutSeconds: 45,
			DesiredWeights: &v1alpha1.VerificationWeights{Canary: 20, Stable: 80},
			StartedAt:      &now, LastCheckedAt: &now,
			TargetGroups: []v1alpha1.TargetGroupObservation{{
				Name: "k8s-web-canary", Role: "canary", Listener: "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/k8s-web/1/abc123",
				DesiredWeight: 20, ActualWeight: ptr(int32(20)), ExpectedTargets: 1, RegisteredTargets: 1, HealthyTargets: 0,
				Unhealthy: []v1alpha1.TargetObservation{{Target: "127.1.0.9:8080", State: "unhealthy", Reason: "Target.ResponseCodeMismatch"}},
			}},
		},
		Conditions: []v1alpha1.RolloutCondition{{Type: v1alpha1.ConditionProgressing, Status: corev1.ConditionUnknown,
			Reason: "RolloutPaused", Message: "Rollout is paused", LastUpdateTime: now, LastTransitionTime: now}},
	}
}

func webRollout(ns string) *v1alpha1.Rollout {
	return &v1alpha1.Rollout{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns},
		Spec: v1alpha1.RolloutSpec{
			Replicas: ptr(int32(2)),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "web:v2"}}},
			},
			Strategy: v1alpha1.RolloutStrategy{Canary: &v1alpha1.CanaryStrategy{
				CanaryService: "web-canary", StableService: "web-stable",
				TrafficRouting: &v1alpha1.RolloutTrafficRouting{ALB: &v1alpha1.ALBTrafficRouting{Ingress: "web", ServicePort: 80}},
				Steps: []v1alpha1.CanaryStep{
					{SetWeight: ptr(int32(20))},
					{Pause: &v1alpha1.RolloutPause{}},
					{SetWeight: ptr(int32(50))},
					{Pause: &v1alpha1.RolloutPause{Duration: ptr(intstr.FromString("30s"))}},
				},
				// An Argo field this project keeps but does not implement: it
				// must survive set image.
				Analysis: &runtime.RawExtension{Raw: []byte(`{"templates":[{"templateName":"success-rate"}]}`)},
			}},
		},
	}
}

// setup creates web (canary) with ReplicaSets of revisions 1 and 2 and a pod
// each, and api (blue-green) paused before its switch.
func (e *cliEnv) setup() {
	t, ctx := e.t, context.Background()
	web := webRollout(e.ns)
	if err := e.kube.Create(ctx, web); err != nil {
		t.Fatal(err)
	}
	e.setStatus("web", pausedAtStep1)
	for i, v := range []struct{ hash, image string }{{"h1", "web:v1"}, {"h2", "web:v2"}} {
		rs := &appsv1.ReplicaSet{
			ObjectMeta: metav1.ObjectMeta{
				Name: "web-" + v.hash, Namespace: e.ns,
				Labels:      map[string]string{"app": "web", rolloutctl.PodTemplateHashLabel: v.hash},
				Annotations: map[string]string{rolloutctl.RevisionAnnotation: fmt.Sprint(i + 1)},
				OwnerReferences: []metav1.OwnerReference{{APIVersion: "argoproj.io/v1alpha1", Kind: "Rollout", Name: "web", UID: web.UID,
					Controller: ptr(true), BlockOwnerDeletion: ptr(true)}},
			},
			Spec: appsv1.ReplicaSetSpec{
				Replicas: ptr(int32(2 - i)),
				Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web", rolloutctl.PodTemplateHashLabel: v.hash}},
				Template: corev1.PodTemplateSpec{
					ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web", rolloutctl.PodTemplateHashLabel: v.hash}},
					Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: v.image}}},
				},
			},
		}
		if err := e.kube.Create(ctx, rs); err != nil {
			t.Fatal(err)
		}
		rs.Status = appsv1.ReplicaSetStatus{Replicas: 2 - int32(i), ReadyReplicas: 2 - int32(i), AvailableReplicas: 2 - int32(i)}
		if err := e.kube.Status().Update(ctx, rs); err != nil {
			t.Fatal(err)
		}
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{
				Name: rs.Name + "-pod", Namespace: e.ns, Labels: rs.Spec.Template.Labels,
				OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: rs.Name, UID: rs.UID, Controller: ptr(true)}},
			},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: v.image}}},
		}
		if err := e.kube.Create(ctx, pod); err != nil {
			t.Fatal(err)
		}
		ip := fmt.Sprintf("127.1.0.%d", 8+i)
		pod.Status = corev1.PodStatus{
			Phase: corev1.PodRunning, PodIP: ip, PodIPs: []corev1.PodIP{{IP: ip}},
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}},
			ContainerStatuses: []corev1.ContainerStatus{{Name: "app", Ready: true, Image: v.image, ImageID: v.image,
				State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.Now()}}}},
		}
		if err := e.kube.Status().Update(ctx, pod); err != nil {
			t.Fatal(err)
		}
	}

	api := &v1alpha1.Rollout{
		ObjectMeta: metav1.ObjectMeta{Name: "api", Namespace: e.ns},
		Spec: v1alpha1.RolloutSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "api"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "api"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "api", Image: "api:v2"}}},
			},
			Strategy: v1alpha1.RolloutStrategy{BlueGreen: &v1alpha1.BlueGreenStrategy{ActiveService: "api", AutoPromotionEnabled: ptr(false)}},
		},
	}
	if err := e.kube.Create(ctx, api); err != nil {
		t.Fatal(err)
	}
	e.setStatus("api", func(r *v1alpha1.Rollout) {
		r.Status = v1alpha1.RolloutStatus{
			Phase: v1alpha1.RolloutPhasePaused, Message: "BlueGreenPause", ObservedGeneration: fmt.Sprint(r.Generation),
			CurrentPodHash: "b2", StableRS: "b1", BlueGreen: v1alpha1.BlueGreenStatus{ActiveSelector: "b1", PreviewSelector: "b2"},
			PauseConditions: []v1alpha1.PauseCondition{{Reason: v1alpha1.PauseReasonBlueGreenPause, StartTime: metav1.Now()}},
			ControllerPause: true, ReadyReplicas: 2,
		}
	})
}

func (e *cliEnv) testList(t *testing.T) {
	r := e.must("list")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 3 {
		t.Fatalf("list:\n%s", r.stdout)
	}
	if f := strings.Fields(lines[0]); strings.Join(f, " ") != "NAME STRATEGY STATUS STEP SET-WEIGHT VERIFIED READY AGE" {
		t.Errorf("header %q", f)
	}
	if f := strings.Fields(lines[1]); strings.Join(f[:7], " ") != "api BlueGreen Paused - - - 2/1" {
		t.Errorf("api row %q", f)
	}
	if f := strings.Fields(lines[2]); strings.Join(f[:7], " ") != "web Canary Paused 1/4 20 Pending 3/2" {
		t.Errorf("web row %q", f)
	}
	if strings.Contains(r.stdout, "\x1b") {
		t.Error("colours in output that is not a terminal")
	}

	// The alias, every namespace, and --kubeconfig / --context instead of KUBECONFIG.
	t.Setenv("KUBECONFIG", "")
	r = cli("ls", "-A", "--kubeconfig", e.kubeconfig, "--context", "local")
	if r.code != exitOK {
		t.Fatalf("ls -A: exit %d: %s", r.code, r.stderr)
	}
	if f := strings.Fields(strings.Split(r.stdout, "\n")[0]); f[0] != "NAMESPACE" || !strings.Contains(r.stdout, e.ns+"  ") {
		t.Errorf("ls -A:\n%s", r.stdout)
	}
	t.Setenv("KUBECONFIG", e.kubeconfig)

	r = e.must("list", "-o", "json")
	var list struct {
		Kind  string
		Items []unstructured.Unstructured
	}
	if err := json.Unmarshal([]byte(r.stdout), &list); err != nil {
		t.Fatalf("list -o json: %v\n%s", err, r.stdout)
	}
	if list.Kind != "List" || len(list.Items) != 2 || list.Items[1].GetName() != "web" || list.Items[1].GetKind() != "Rollout" ||
		list.Items[1].GetAPIVersion() != "argoproj.io/v1alpha1" {
		t.Errorf("list -o json: kind %q, %d items", list.Kind, len(list.Items))
	}

	r = cli("list", "-n", "kube-public")
	if r.code != exitOK || r.stdout != "" || !strings.Contains(r.stderr, `No rollouts found in namespace "kube-public"`) {
		t.Errorf("empty namespace: exit %d, out %q, err %q", r.code, r.stdout, r.stderr)
	}
}

func (e *cliEnv) testStatus(t *testing.T) {
	r := e.must("status", "web")
	out := r.stdout
	for _, want := range []string{
		"Name:            web\n",
		"Namespace:       " + e.ns + "\n",
		"Status:          Paused - CanaryPauseStep\n",
		"  Step:          1/4\n",
		"  Weights:       canary 20 (web-canary), stable 80 (web-stable)\n",
		"  Verified:      no\n",
		"Images:          web:v2 (canary)\n                 web:v1 (stable)\n",
		"  ▶  1  pause (until promoted)  ← current\n",
		"  Phase:         Pending (TargetsNotHealthy)\n",
		"  Attempts:      4 (started ",
		"└ 127.1.0.9:8080 unhealthy Target.ResponseCodeMismatch\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("status: missing %q", want)
		}
	}
	for sub, want := range map[string]string{
		"canary  k8s-web-canary": "canary k8s-web-canary abc123 20 20 0/1 1/1",
		"Progressing ":           "Progressing Unknown RolloutPaused",
		"web-h2 ":                "web-h2 2 h2 canary 1/1 Ready",
		"web-h1 ":                "web-h1 1 h1 stable 2/2 Ready",
		"web-h2-pod":             "└─ web-h2-pod 1/1 Running 127.1.0.9",
		"web-h1-pod":             "└─ web-h1-pod 1/1 Running 127.1.0.8",
	} {
		line := ""
		for _, l := range strings.Split(out, "\n") {
			if strings.Contains(l, sub) {
				line = strings.Join(strings.Fields(l), " ")
				break
			}
		}
		if !strings.HasPrefix(line, want) {
			t.Errorf("status: line with %q is %q, want it to start with %q", sub, line, want)
		}
	}
	if t.Failed() {
		t.Logf("status output:\n%s", out)
	}

	r = e.must("status", "web", "-o", "yaml")
	obj := map[string]any{}
	if err := yaml.Unmarshal([]byte(r.stdout), &obj); err != nil {
		t.Fatal(err)
	}
	u := unstructured.Unstructured{Object: obj}
	if u.GetName() != "web" {
		t.Errorf("status -o yaml: %s", r.stdout)
	}
	if v, _, _ := unstructured.NestedString(obj, "status", "verification", "reason"); v != "TargetsNotHealthy" {
		t.Errorf("status -o yaml lacks the verification: %q", v)
	}

	r = e.must("status", "api")
	if !strings.Contains(r.stdout, "Status:          Paused - BlueGreenPause\n") || strings.Contains(r.stdout, "Steps") {
		t.Errorf("blue-green status:\n%s", r.stdout)
	}
	e.fails(exitFailure, `rollout "ghost" not found in namespace "`+e.ns+`"`, "status", "ghost")
}

func (e *cliEnv) testCompletion(t *testing.T) {
	// The word being completed is the last argument, after the flags.
	r := cli("__complete", "promote", "-n", e.ns, "")
	if !strings.HasPrefix(r.stdout, "api\nweb\n:4\n") {
		t.Errorf("names: %q", r.stdout)
	}
	r = cli("__complete", "status", "-n", e.ns, "w")
	if !strings.HasPrefix(r.stdout, "web\n:4\n") {
		t.Errorf("names starting with w: %q", r.stdout)
	}
	r = cli("__complete", "status", "-n", e.ns, "web", "")
	if !strings.HasPrefix(r.stdout, ":4\n") {
		t.Errorf("a second name is offered: %q", r.stdout)
	}
	r = cli("__complete", "set", "image", "-n", e.ns, "web", "")
	if !strings.HasPrefix(r.stdout, "app=\n:6\n") {
		t.Errorf("containers: %q", r.stdout)
	}
	r = cli("__complete", "list", "-n", "cli")
	if r.code != exitOK || !strings.Contains(r.stdout, e.ns+"\n") {
		t.Errorf("namespaces: %q", r.stdout)
	}
}

func (e *cliEnv) testPromote(t *testing.T) {
	// At a pause step: the pause condition goes; the index is the controller's to move.
	r := e.must("promote", "web")
	if r.stdout != `rollout "web" promoted (resumed from CanaryPauseStep at step 1/4)`+"\n" {
		t.Errorf("promote printed %q", r.stdout)
	}
	got := e.get("web")
	if len(got.Status.PauseConditions) != 0 || got.Spec.Paused || *got.Status.CurrentStepIndex != 1 || got.Status.Verification == nil {
		t.Errorf("after promote: pause conditions %v, paused %v, index %d", got.Status.PauseConditions, got.Spec.Paused, *got.Status.CurrentStepIndex)
	}

	// Not paused: the current step is skipped.
	e.setStatus("web", func(r *v1alpha1.Rollout) {
		pausedAtStep1(r)
		r.Status.PauseConditions, r.Status.ControllerPause = nil, false
		r.Status.Phase, r.Status.Message = v1alpha1.RolloutPhaseProgressing, ""
	})
	e.must("promote", "web")
	if i := *e.get("web").Status.CurrentStepIndex; i != 2 {
		t.Errorf("index after skipping = %d, want 2", i)
	}

	// --full sets promoteFull, and unpauses a paused rollout.
	if err := e.kube.Patch(context.Background(), e.get("web"), client.RawPatch("application/merge-patch+json", []byte(`{"spec":{"paused":true}}`))); err != nil {
		t.Fatal(err)
	}
	r = e.must("promote", "web", "--full")
	if r.stdout != `rollout "web" fully promoted`+"\n" {
		t.Errorf("promote --full printed %q", r.stdout)
	}
	if got := e.get("web"); !got.Status.PromoteFull || got.Spec.Paused {
		t.Errorf("after --full: promoteFull %v, paused %v", got.Status.PromoteFull, got.Spec.Paused)
	}

	// Fully promoted: nothing to promote, either way.
	e.setStatus("web", func(r *v1alpha1.Rollout) {
		pausedAtStep1(r)
		r.Status.PauseConditions, r.Status.ControllerPause = nil, false
		r.Status.StableRS, r.Status.CurrentStepIndex = "h2", ptr(int32(4))
		r.Status.Phase, r.Status.Message = v1alpha1.RolloutPhaseHealthy, ""
	})
	e.fails(exitFailure, "already fully promoted", "promote", "web", "--full")
	e.fails(exitFailure, "nothing to promote", "promote", "web")

	// Blue-green paused before its switch.
	r = e.must("promote", "api")
	if !strings.Contains(r.stdout, "resumed from BlueGreenPause") || len(e.get("api").Status.PauseConditions) != 0 {
		t.Errorf("promote api: %q", r.stdout)
	}
	e.fails(exitFailure, "nothing to promote", "promote", "api")
	e.fails(exitFailure, `rollout "ghost" not found`, "promote", "ghost")
}

func (e *cliEnv) testAbortRetry(t *testing.T) {
	e.fails(exitFailure, "nothing to abort", "abort", "web") // fully promoted since the promote test
	e.setStatus("web", pausedAtStep1)
	if r := e.must("abort", "web"); r.stdout != `rollout "web" aborted`+"\n" {
		t.Errorf("abort printed %q", r.stdout)
	}
	if !e.get("web").Status.Abort {
		t.Error("status.abort not set")
	}
	if r := e.must("retry", "web"); r.stdout != `rollout "web" retried`+"\n" {
		t.Errorf("retry printed %q", r.stdout)
	}
	if e.get("web").Status.Abort {
		t.Error("status.abort still set")
	}
	e.fails(exitFailure, "not aborted; nothing to retry", "retry", "web")
}

func (e *cliEnv) testPauseRestart(t *testing.T) {
	gen := e.get("web").Generation
	if r := e.must("pause", "web"); r.stdout != `rollout "web" paused`+"\n" {
		t.Errorf("pause printed %q", r.stdout)
	}
	got := e.get("web")
	if !got.Spec.Paused || got.Generation != gen+1 {
		t.Errorf("after pause: paused %v, generation %d (was %d)", got.Spec.Paused, got.Generation, gen)
	}
	before := time.Now().Truncate(time.Second)
	r := e.must("restart", "web")
	after := time.Now()
	at := e.get("web").Spec.RestartAt
	if at == nil || at.Time.Before(before) || at.After(after) {
		t.Errorf("restartAt = %v, want between %s and %s", at, before, after)
	}
	if !strings.Contains(r.stdout, at.UTC().Format(time.RFC3339)) {
		t.Errorf("restart printed %q", r.stdout)
	}
	e.must("restart", "web", "--in", "1h")
	if at2 := e.get("web").Spec.RestartAt; at2 == nil || at2.Sub(at.Time) < 59*time.Minute {
		t.Errorf("restart --in 1h: restartAt %v after %v", at2, at)
	}
}

func (e *cliEnv) testUndo(t *testing.T) {
	// web's template is revision 2's (web:v2): undo goes to revision 1.
	r := e.must("undo", "web")
	if r.stdout != `rollout "web" rolled back to revision 1 (ReplicaSet web-h1)`+"\n" {
		t.Errorf("undo printed %q", r.stdout)
	}
	tmpl := e.get("web").Spec.Template
	if tmpl.Spec.Containers[0].Image != "web:v1" || tmpl.Labels["app"] != "web" {
		t.Errorf("template after undo: %+v", tmpl)
	}
	if _, has := tmpl.Labels[rolloutctl.PodTemplateHashLabel]; has {
		t.Error("the hash label was copied into the rollout")
	}
	// Back to revision 2, then again: the second time nothing is written.
	e.must("undo", "web", "--to-revision", "2")
	gen := e.get("web").Generation
	if r := e.must("undo", "web", "--to-revision", "2"); !strings.Contains(r.stdout, "unchanged") || e.get("web").Generation != gen {
		t.Errorf("second undo to 2: %q, generation %d → %d", r.stdout, gen, e.get("web").Generation)
	}
	if img := e.get("web").Spec.Template.Spec.Containers[0].Image; img != "web:v2" {
		t.Errorf("image after undo --to-revision 2 = %s", img)
	}
	e.fails(exitFailure, "has no revision 7; its ReplicaSets have revisions: 1, 2", "undo", "web", "--to-revision", "7")
	e.fails(exitFailure, "no previous revision", "undo", "api")
}

func (e *cliEnv) testSetImage(t *testing.T) {
	r := e.must("set", "image", "web", "app=web:v3")
	if r.stdout != `rollout "web" image updated (app=web:v3)`+"\n" {
		t.Errorf("set image printed %q", r.stdout)
	}
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(v1alpha1.GroupVersion.WithKind("Rollout"))
	if err := e.kube.Get(context.Background(), client.ObjectKey{Namespace: e.ns, Name: "web"}, u); err != nil {
		t.Fatal(err)
	}
	ctrs, _, _ := unstructured.NestedSlice(u.Object, "spec", "template", "spec", "containers")
	if len(ctrs) != 1 || ctrs[0].(map[string]any)["image"] != "web:v3" {
		t.Errorf("containers after set image: %v", ctrs)
	}
	a, _, _ := unstructured.NestedFieldNoCopy(u.Object, "spec", "strategy", "canary", "analysis")
	if b, _ := json.Marshal(a); string(b) != `{"templates":[{"templateName":"success-rate"}]}` {
		t.Errorf("the preserved analysis block changed: %s", b)
	}
	if r := e.must("set", "image", "web", "*=web:v3"); !strings.Contains(r.stdout, "image unchanged") {
		t.Errorf("same image again: %q", r.stdout)
	}
	e.fails(exitFailure, `rollout "web" has no container "db" (containers: app)`, "set", "image", "web", "db=postgres:16")
	e.fails(exitUsage, `"app:v3" is not CONTAINER=IMAGE`, "set", "image", "web", "app:v3")
}

func (e *cliEnv) testStatusExitCodes(t *testing.T) {
	phase := func(p v1alpha1.RolloutPhase, msg string) {
		e.setStatus("web", func(r *v1alpha1.Rollout) {
			pausedAtStep1(r)
			r.Status.PauseConditions, r.Status.ControllerPause = nil, false
			r.Status.Phase, r.Status.Message = p, msg
		})
	}
	phase(v1alpha1.RolloutPhaseHealthy, "")
	e.must("status", "web")
	if r := e.must("status", "web", "--watch", "--timeout", "1m"); !strings.Contains(r.stdout, "Status:          Healthy\n") {
		t.Errorf("watch of a Healthy rollout:\n%s", r.stdout)
	}

	phase(v1alpha1.RolloutPhaseDegraded, "RolloutAborted: Rollout aborted update to revision 2")
	e.fails(exitDegraded, `rollout "web" is Degraded: RolloutAborted: Rollout aborted update to revision 2`, "status", "web")
	e.fails(exitDegraded, "is Degraded", "status", "web", "--watch")

	phase(v1alpha1.RolloutPhaseProgressing, "waiting for the ALB")
	e.must("status", "web") // without --watch, Progressing is fine
	e.fails(exitNotDone, `rollout "web" is still Progressing: waiting for the ALB (--timeout 2s passed)`, "status", "web", "--timeout", "2s")
	phase(v1alpha1.RolloutPhasePaused, "CanaryPauseStep")
	e.fails(exitNotDone, "is still Paused", "status", "web", "-w", "-t", "2s")

	// A Healthy the controller wrote for an older generation is not Healthy.
	phase(v1alpha1.RolloutPhaseHealthy, "")
	e.must("set", "image", "web", "app=web:v4")
	e.fails(exitNotDone, "waiting for the controller to observe generation", "status", "web", "--timeout", "2s")

	// The watch follows changes: Paused, then Healthy once the "controller" says so.
	phase(v1alpha1.RolloutPhasePaused, "CanaryPauseStep")
	out, errb, done := e.startWatch(t, "--timeout", "2m")
	phase(v1alpha1.RolloutPhaseHealthy, "")
	select {
	case code := <-done:
		if code != exitOK || !strings.Contains(out.String(), "Status:          Healthy\n") {
			t.Errorf("watch: exit %d\n%s\n%s", code, out.String(), errb.String())
		}
		if strings.Count(out.String(), "Name:            web") < 2 {
			t.Errorf("the watch did not show the rollout again:\n%s", out.String())
		}
	case <-time.After(time.Minute):
		t.Fatalf("the watch did not end on Healthy:\n%s", out.String())
	}

	// Ctrl-C while Paused: exit code 4, saying it was interrupted. The
	// command's handler is in place once it has printed.
	phase(v1alpha1.RolloutPhasePaused, "CanaryPauseStep")
	_, errb, done = e.startWatch(t)
	if err := syscall.Kill(os.Getpid(), syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case code := <-done:
		if code != exitNotDone || !strings.Contains(errb.String(), "is still Paused: CanaryPauseStep (the watch was interrupted)") {
			t.Errorf("interrupted watch: exit %d, stderr %q", code, errb.String())
		}
	case <-time.After(time.Minute):
		t.Fatal("the watch did not stop on SIGINT")
	}
}

// startWatch runs status web --watch in the background and returns once it
// has shown the rollout Paused.
func (e *cliEnv) startWatch(t *testing.T, flags ...string) (out, errb *syncBuffer, done chan int) {
	t.Helper()
	out, errb, done = &syncBuffer{}, &syncBuffer{}, make(chan int, 1)
	args := append([]string{"status", "web", "--watch", "-n", e.ns}, flags...)
	go func() { done <- run(args, out, errb) }()
	poll.Every(50*time.Millisecond).Eventually(t, time.Minute, "the watch to show Paused", func() (bool, string) {
		select {
		case code := <-done:
			t.Fatalf("the watch ended with %d before the change:\n%s\n%s", code, out.String(), errb.String())
		default:
		}
		return strings.Contains(out.String(), "Status:          Paused - CanaryPauseStep"), "\n" + out.String() + "\n" + errb.String()
	})
	return out, errb, done
}
