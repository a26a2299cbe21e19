package rolloutview_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/albrollouts/albrollouts/api/v1alpha1"
	"github.com/albrollouts/albrollouts/internal/rolloutctl"
	"github.com/albrollouts/albrollouts/internal/rolloutview"
)

var now = time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC)

func ptr[T any](v T) *T { return &v }

func ago(d time.Duration) metav1.Time { return metav1.NewTime(now.Add(-d)) }

func agoPtr(d time.Duration) *metav1.Time { t := ago(d); return &t }

// pausedCanary is a canary at its pause step (1/4) with weight 20 written and
// a pending verification whose canary group has one unhealthy target.
func pausedCanary() *v1alpha1.Rollout {
	return &v1alpha1.Rollout{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "shop", Generation: 5, CreationTimestamp: ago(5 * time.Minute)},
		Spec: v1alpha1.RolloutSpec{
			Replicas: ptr(int32(4)),
			Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "web:v2"}}}},
			Strategy: v1alpha1.RolloutStrategy{Canary: &v1alpha1.CanaryStrategy{
				CanaryService: "web-canary", StableService: "web-stable",
				Steps: []v1alpha1.CanaryStep{
					{SetWeight: ptr(int32(20))},
					{Pause: &v1alpha1.RolloutPause{}},
					{SetWeight: ptr(int32(50))},
					{Pause: &v1alpha1.RolloutPause{Duration: ptr(intstr.FromInt32(30))}},
				},
				TrafficRouting: &v1alpha1.RolloutTrafficRouting{ALB: &v1alpha1.ALBTrafficRouting{Ingress: "web"}},
			}},
		},
		Status: v1alpha1.RolloutStatus{
			Phase: v1alpha1.RolloutPhasePaused, Message: "CanaryPauseStep",
			ObservedGeneration: "5", CurrentPodHash: "h2", StableRS: "h1",
			CurrentStepIndex: ptr(int32(1)),
			Replicas:         5, UpdatedReplicas: 1, ReadyReplicas: 3, AvailableReplicas: 3,
			PauseConditions: []v1alpha1.PauseCondition{{Reason: v1alpha1.PauseReasonCanaryPauseStep, StartTime: ago(time.Minute)}},
			ControllerPause: true,
			Canary: v1alpha1.CanaryStatus{Weights: &v1alpha1.TrafficWeights{
				Canary:   v1alpha1.WeightDestination{Weight: 20, ServiceName: "web-canary", PodTemplateHash: "h2"},
				Stable:   v1alpha1.WeightDestination{Weight: 80, ServiceName: "web-stable", PodTemplateHash: "h1"},
				Verified: ptr(false),
			}},
			Verification: &v1alpha1.VerificationStatus{
				Phase: v1alpha1.VerificationPending, Reason: "TargetsNotHealthy",
				Message: "canary k8s-web-canary targets 1/2 healthy (127.0.0.5:8080 unhealthy Target.ResponseCodeMismatch)\nsecond line of the diagnosis",
				Kind:    v1alpha1.VerificationCanaryWeight, StepIndex: ptr(int32(0)),
				DesiredWeights: &v1alpha1.VerificationWeights{Canary: 20, Stable: 80},
				TimeoutSeconds: 45, Attempts: 3,
				StartedAt: agoPtr(2 * time.Minute), LastCheckedAt: agoPtr(10 * time.Second),
				TargetGroups: []v1alpha1.TargetGroupObservation{{
					Name: "k8s-web-canary", Role: "canary", Listener: "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/k8s-web/50dc6c495c0c9188/f2f7dc8efc522ab2",
					DesiredWeight: 20, ActualWeight: ptr(int32(20)), ExpectedTargets: 2, RegisteredTargets: 2, HealthyTargets: 1,
					Unhealthy: []v1alpha1.TargetObservation{{Target: "127.0.0.5:8080", State: "unhealthy", Reason: "Target.ResponseCodeMismatch", Description: "Health checks failed with these codes: [500]"}},
				}, {
					Name: "k8s-web-stable", Role: "stable", Listener: "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/k8s-web/50dc6c495c0c9188/f2f7dc8efc522ab2",
					DesiredWeight: 80, ActualWeight: ptr(int32(100)), ExpectedTargets: 4, RegisteredTargets: 4, HealthyTargets: 4,
				}},
			},
			Conditions: []v1alpha1.RolloutCondition{
				{Type: "Progressing", Status: corev1.ConditionUnknown, Reason: "RolloutPaused", Message: "Rollout is paused", LastTransitionTime: ago(time.Minute)},
				{Type: "TrafficVerified", Status: corev1.ConditionFalse, Reason: "TargetsNotHealthy", Message: "1 of 2 targets healthy", LastTransitionTime: ago(2 * time.Minute)},
			},
		},
	}
}

func tree(r *v1alpha1.Rollout, rss ...rolloutctl.ReplicaSet) *rolloutctl.Tree {
	obj, err := runtime.DefaultUnstructuredConverter.ToUnstructured(r)
	if err != nil {
		panic(err)
	}
	return &rolloutctl.Tree{Object: rolloutctl.Object{Rollout: r, Raw: &unstructured.Unstructured{Object: obj}}, ReplicaSets: rss}
}

func rs(name string, rev int64, hash string, desired, ready int32, image string, roles []rolloutctl.Role, pods ...corev1.Pod) rolloutctl.ReplicaSet {
	return rolloutctl.ReplicaSet{
		ReplicaSet: &appsv1.ReplicaSet{
			ObjectMeta: metav1.ObjectMeta{Name: name, CreationTimestamp: ago(time.Hour)},
			Spec: appsv1.ReplicaSetSpec{Replicas: ptr(desired), Template: corev1.PodTemplateSpec{
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: image}}}}},
			Status: appsv1.ReplicaSetStatus{Replicas: desired, ReadyReplicas: ready},
		},
		Revision: rev, Hash: hash, Roles: roles, Pods: pods,
	}
}

func pod(name, ip string, ready bool, mutate ...func(*corev1.Pod)) corev1.Pod {
	p := corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, CreationTimestamp: ago(3 * time.Minute)},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app"}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: ip,
			ContainerStatuses: []corev1.ContainerStatus{{Name: "app", Ready: ready, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}}},
	}
	for _, m := range mutate {
		m(&p)
	}
	return p
}

var ansi = regexp.MustCompile("\x1b\\[[0-9;]*m")

// fields splits a rendered line into its whitespace-separated words.
func fields(line string) []string { return strings.Fields(line) }

// lineWith returns the first line containing all of subs.
func lineWith(t *testing.T, out string, subs ...string) string {
	t.Helper()
	for _, l := range strings.Split(out, "\n") {
		ok := true
		for _, s := range subs {
			ok = ok && strings.Contains(l, s)
		}
		if ok {
			return l
		}
	}
	t.Fatalf("no line with %q in:\n%s", subs, out)
	return ""
}

func TestList(t *testing.T) {
	c := pausedCanary()
	bg := &v1alpha1.Rollout{
		ObjectMeta: metav1.ObjectMeta{Name: "api", Namespace: "core", Generation: 1, CreationTimestamp: ago(49 * time.Hour)},
		Spec:       v1alpha1.RolloutSpec{Strategy: v1alpha1.RolloutStrategy{BlueGreen: &v1alpha1.BlueGreenStrategy{ActiveService: "api"}}},
		Status:     v1alpha1.RolloutStatus{Phase: v1alpha1.RolloutPhaseHealthy, ObservedGeneration: "1", ReadyReplicas: 1},
	}
	// No weights written yet, verification on: the set weight comes from the steps.
	plain := pausedCanary()
	plain.Name = "cart"
	plain.Status.Canary.Weights, plain.Status.Verification = nil, nil
	plain.Status.CurrentStepIndex = ptr(int32(3))
	verifiedOnly := pausedCanary()
	verifiedOnly.Name = "pay"
	verifiedOnly.Status.Verification = nil
	verifiedOnly.Status.Canary.Weights.Verified = ptr(true)

	items := []rolloutctl.Object{{Rollout: c}, {Rollout: plain}, {Rollout: verifiedOnly}, {Rollout: bg}}
	var b bytes.Buffer
	if err := rolloutview.List(&b, items, false, now, rolloutview.Style{}); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	t.Log("\n" + out)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 5 {
		t.Fatalf("%d lines, want a header and 4 rows", len(lines))
	}
	want := [][]string{
		{"NAME", "STRATEGY", "STATUS", "STEP", "SET-WEIGHT", "VERIFIED", "READY", "AGE"},
		{"web", "Canary", "Paused", "1/4", "20", "Pending", "3/4", "5m"},
		{"cart", "Canary", "Paused", "3/4", "50", "-", "3/4", "5m"},
		{"pay", "Canary", "Paused", "1/4", "20", "yes", "3/4", "5m"},
		{"api", "BlueGreen", "Healthy", "-", "-", "-", "1/1", "2d1h"},
	}
	for i, w := range want {
		if got := fields(lines[i]); strings.Join(got, "|") != strings.Join(w, "|") {
			t.Errorf("line %d = %q, want %q", i, got, w)
		}
	}
	// Columns are aligned: every value starts where its header does.
	col := strings.Index(lines[0], "VERIFIED")
	for _, l := range lines[1:] {
		if l[col-1] != ' ' || l[col] == ' ' {
			t.Errorf("VERIFIED column not aligned at %d in %q", col, l)
		}
	}
	if strings.Contains(out, "\x1b") {
		t.Error("colour codes without Style.Color")
	}

	b.Reset()
	if err := rolloutview.List(&b, items, true, now, rolloutview.Style{Color: true}); err != nil {
		t.Fatal(err)
	}
	colored := b.String()
	if !strings.Contains(colored, "\x1b[32mHealthy\x1b[0m") || !strings.Contains(colored, "\x1b[33mPaused\x1b[0m") {
		t.Errorf("no colours with Style.Color:\n%q", colored)
	}
	stripped := ansi.ReplaceAllString(colored, "")
	first := strings.Split(stripped, "\n")
	if f := fields(first[0]); f[0] != "NAMESPACE" || fields(first[1])[0] != "shop" || fields(first[4])[0] != "core" {
		t.Errorf("-A: %q", first[:2])
	}
	// Colour codes do not break the alignment.
	col = strings.Index(first[0], "VERIFIED")
	for _, l := range first[1:5] {
		if l[col-1] != ' ' || l[col] == ' ' {
			t.Errorf("coloured table not aligned at %d: %q", col, l)
		}
	}
}

func TestStatusCanary(t *testing.T) {
	tr := tree(pausedCanary(),
		rs("web-h2", 2, "h2", 1, 1, "web:v2", []rolloutctl.Role{rolloutctl.RoleCanary}, pod("web-h2-aaaaa", "127.1.0.5", true)),
		rs("web-h1", 1, "h1", 4, 4, "web:v1", []rolloutctl.Role{rolloutctl.RoleStable},
			pod("web-h1-bbbbb", "127.1.0.2", true), pod("web-h1-ccccc", "127.1.0.3", false, func(p *corev1.Pod) {
				p.Status.ContainerStatuses[0].State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}}
			})),
		rs("web-h0", 0, "h0", 0, 0, "web:v0", nil),
	)
	var b bytes.Buffer
	if err := rolloutview.Status(&b, tr, now, rolloutview.Style{}); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	t.Log("\n" + out)
	for _, want := range []string{
		"Status:          Paused - CanaryPauseStep\n",
		"Pause condition: CanaryPauseStep since 60s ago\n",
		"Strategy:        Canary\n",
		"  Step:          1/4\n",
		"  Set weight:    20\n",
		"  Weights:       canary 20 (web-canary), stable 80 (web-stable)\n",
		"  Verified:      no\n",
		"Images:          web:v2 (canary)\n                 web:v1 (stable)\n",
		"Replicas:        desired 4, current 5, updated 1, ready 3, available 3\n",
		"Steps (1/4):\n  ✔  0  setWeight 20\n  ▶  1  pause (until promoted)  ← current\n     2  setWeight 50\n     3  pause 30s\n",
		"  Phase:         Pending (TargetsNotHealthy)\n",
		"  Message:       canary k8s-web-canary targets 1/2 healthy (127.0.0.5:8080 unhealthy Target.ResponseCodeMismatch)\n                 second line of the diagnosis\n",
		"  Kind:          CanaryWeight, step 0, desired canary 20 / stable 80\n",
		"  Attempts:      3 (started 2m ago, last checked 10s ago, timeout 45s)\n",
		"      └ 127.0.0.5:8080 unhealthy Target.ResponseCodeMismatch: Health checks failed with these codes: [500]\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q", want)
		}
	}
	if got := fields(lineWith(t, out, "k8s-web-canary", "f2f7")); strings.Join(got, " ") != "canary k8s-web-canary f2f7dc8efc522ab2 20 20 1/2 2/2" {
		t.Errorf("canary target group row = %q", got)
	}
	if got := fields(lineWith(t, out, "k8s-web-stable")); strings.Join(got, " ") != "stable k8s-web-stable f2f7dc8efc522ab2 80 100 4/4 4/4" {
		t.Errorf("stable target group row = %q", got)
	}
	if got := fields(lineWith(t, out, "TrafficVerified")); strings.Join(got[:4], " ") != "TrafficVerified False TargetsNotHealthy 2m" {
		t.Errorf("condition row = %q", got)
	}
	for line, want := range map[string]string{
		"web-h2 ":     "web-h2 2 h2 canary 1/1 Ready 60m",
		"└─ web-h2-":  "└─ web-h2-aaaaa 1/1 Running 127.1.0.5 3m",
		"web-h1 ":     "web-h1 1 h1 stable 4/4 Ready 60m",
		"├─ web-h1-b": "├─ web-h1-bbbbb 1/1 Running 127.1.0.2 3m",
		"└─ web-h1-c": "└─ web-h1-ccccc 0/1 CrashLoopBackOff 127.1.0.3 3m",
		"  web-h0 ":   "web-h0 - h0 - 0/0 ScaledDown 60m",
		"  NAME ":     "NAME REVISION HASH ROLE READY STATUS IP AGE",
	} {
		if got := strings.Join(fields(lineWith(t, out, line)), " "); got != want {
			t.Errorf("row %q = %q, want %q", line, got, want)
		}
	}
	// The same content with colours, and colours only where asked.
	b.Reset()
	if err := rolloutview.Status(&b, tr, now, rolloutview.Style{Color: true}); err != nil {
		t.Fatal(err)
	}
	if got := ansi.ReplaceAllString(b.String(), ""); got != out {
		t.Errorf("coloured view differs from the plain one once colours are removed:\n%s", got)
	}
	if !strings.Contains(b.String(), "\x1b[31munhealthy\x1b[0m") || !strings.Contains(b.String(), "\x1b[31m1/2\x1b[0m") {
		t.Error("unhealthy target and short healthy count are not red")
	}
	if strings.Contains(out, "\x1b") {
		t.Error("colour codes in the plain view")
	}
}

func TestStatusDoneAbortedAndBlueGreen(t *testing.T) {
	r := pausedCanary()
	r.Status.CurrentStepIndex = ptr(int32(4))
	r.Status.PauseConditions, r.Status.ControllerPause = nil, false
	r.Status.Phase, r.Status.Message = v1alpha1.RolloutPhaseDegraded, "RolloutAborted: Rollout aborted update to revision 2"
	r.Status.Abort, r.Status.AbortedAt = true, agoPtr(30*time.Second)
	r.Status.Verification = &v1alpha1.VerificationStatus{Phase: v1alpha1.VerificationVerified, Kind: v1alpha1.VerificationAbort,
		DesiredWeights: &v1alpha1.VerificationWeights{Canary: 0, Stable: 100}, FinishedAt: agoPtr(20 * time.Second), Attempts: 1}
	r.Status.Canary.Weights.Canary.Weight, r.Status.Canary.Weights.Stable.Weight = 0, 100
	r.Status.Canary.Weights.Verified = ptr(true)
	var b bytes.Buffer
	if err := rolloutview.Status(&b, tree(r), now, rolloutview.Style{}); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"Status:          Degraded - RolloutAborted: Rollout aborted update to revision 2\n",
		"Aborted:         yes, since 30s ago (retry with 'albrollouts retry web')\n",
		"  Verified:      yes (canary 0, stable 100 verified 20s ago)\n",
		"  ✔  3  pause 30s\n  all 4 steps done\n",
		"  Phase:         Verified\n",
		"Images:          web:v2\n", // no ReplicaSets yet: the template's images
		"ReplicaSets:\n  none yet\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in\n%s", want, out)
		}
	}
	if strings.Contains(out, "← current") {
		t.Error("a step is marked current although all are done")
	}

	bg := &v1alpha1.Rollout{
		ObjectMeta: metav1.ObjectMeta{Name: "api", Namespace: "core", Generation: 2},
		Spec:       v1alpha1.RolloutSpec{Strategy: v1alpha1.RolloutStrategy{BlueGreen: &v1alpha1.BlueGreenStrategy{ActiveService: "api"}}},
		Status:     v1alpha1.RolloutStatus{ObservedGeneration: "1", Phase: v1alpha1.RolloutPhaseHealthy},
	}
	b.Reset()
	if err := rolloutview.Status(&b, tree(bg,
		rs("api-n", 2, "n", 1, 1, "api:v2", []rolloutctl.Role{rolloutctl.RolePreview}),
		rs("api-o", 1, "o", 1, 1, "api:v1", []rolloutctl.Role{rolloutctl.RoleActive, rolloutctl.RoleStable})), now, rolloutview.Style{}); err != nil {
		t.Fatal(err)
	}
	out = b.String()
	for _, want := range []string{
		// The written Healthy is not believed: generation 2 is unobserved.
		"Status:          Progressing - waiting for the controller to observe generation 2\n",
		"Strategy:        BlueGreen\n",
		"Images:          api:v2 (preview)\n                 api:v1 (active, stable)\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in\n%s", want, out)
		}
	}
	for _, absent := range []string{"Steps", "Set weight", "Weights:", "Verification:"} {
		if strings.Contains(out, absent) {
			t.Errorf("blue-green view shows %q", absent)
		}
	}
	if got := fields(lineWith(t, out, "api-o ")); strings.Join(got[:4], " ") != "api-o 1 o active,stable" {
		t.Errorf("active row = %q", got)
	}
}

func TestPodStatus(t *testing.T) {
	cases := map[string]corev1.Pod{
		"Running":     pod("p", "", true),
		"Terminating": pod("p", "", true, func(p *corev1.Pod) { p.DeletionTimestamp = agoPtr(time.Second) }),
		"Pending":     {Status: corev1.PodStatus{}},
		"Evicted":     pod("p", "", false, func(p *corev1.Pod) { p.Status.Phase, p.Status.Reason = corev1.PodFailed, "Evicted" }),
		"ImagePullBackOff": pod("p", "", false, func(p *corev1.Pod) {
			p.Status.ContainerStatuses[0].State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ImagePullBackOff"}}
		}),
		"Error": pod("p", "", false, func(p *corev1.Pod) {
			p.Status.ContainerStatuses[0].State = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: "Error", ExitCode: 1}}
		}),
		"Init:Error": pod("p", "", false, func(p *corev1.Pod) {
			p.Status.Phase = corev1.PodPending
			p.Status.InitContainerStatuses = []corev1.ContainerStatus{{State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: "Error", ExitCode: 2}}}}
		}),
	}
	for want, p := range cases {
		if got := rolloutview.PodStatus(&p); got != want {
			t.Errorf("PodStatus = %q, want %q", got, want)
		}
	}
}

func TestStepString(t *testing.T) {
	cases := map[string]v1alpha1.CanaryStep{
		"setWeight 5":                             {SetWeight: ptr(int32(5))},
		"pause (until promoted)":                  {Pause: &v1alpha1.RolloutPause{}},
		"pause 45s":                               {Pause: &v1alpha1.RolloutPause{Duration: ptr(intstr.FromString("45"))}},
		"pause 5m":                                {Pause: &v1alpha1.RolloutPause{Duration: ptr(intstr.FromString("5m"))}},
		"setCanaryScale weight 30":                {SetCanaryScale: &v1alpha1.SetCanaryScale{Weight: ptr(int32(30))}},
		"setCanaryScale replicas 2":               {SetCanaryScale: &v1alpha1.SetCanaryScale{Replicas: ptr(int32(2))}},
		"setCanaryScale matchTrafficWeight":       {SetCanaryScale: &v1alpha1.SetCanaryScale{MatchTrafficWeight: true}},
		"setHeaderRoute beta x-beta=1":            {SetHeaderRoute: &v1alpha1.SetHeaderRoute{Name: "beta", Match: []v1alpha1.HeaderRoutingMatch{{HeaderName: "x-beta", HeaderValue: &v1alpha1.StringMatch{Exact: "1"}}}}},
		"setHeaderRoute beta (remove)":            {SetHeaderRoute: &v1alpha1.SetHeaderRoute{Name: "beta"}},
		"analysis (not supported by albrollouts)": {Analysis: &runtime.RawExtension{Raw: []byte(`{}`)}},
		"(empty step)":                            {},
	}
	for want, s := range cases {
		if got := rolloutview.StepString(s); got != want {
			t.Errorf("StepString = %q, want %q", got, want)
		}
	}
}

func TestObjectOutput(t *testing.T) {
	u := tree(pausedCanary()).Raw
	var b bytes.Buffer
	if err := rolloutview.Object(&b, rolloutview.OutputJSON, u.Object, false); err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	if err := json.Unmarshal(b.Bytes(), &back); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, b.String())
	}
	if back["metadata"].(map[string]any)["name"] != "web" {
		t.Errorf("json = %s", b.String())
	}
	b.Reset()
	if err := rolloutview.Object(&b, rolloutview.OutputYAML, u.Object, true); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(b.String(), "---\n") || !strings.Contains(b.String(), "  name: web\n") {
		t.Errorf("yaml = %s", b.String())
	}
	b.Reset()
	if err := rolloutview.Objects(&b, rolloutview.OutputYAML, []*unstructured.Unstructured{u, u}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "kind: List\n") || strings.Count(b.String(), "name: web\n") != 2 {
		t.Errorf("list yaml = %s", b.String())
	}
	if err := rolloutview.CheckOutput("wide"); err == nil {
		t.Error("--output wide accepted")
	}
}

func TestColorEnabled(t *testing.T) {
	t.Setenv("NO_COLOR", "")
	t.Setenv("TERM", "xterm-256color")
	if rolloutview.ColorEnabled(&bytes.Buffer{}) {
		t.Error("colour into a buffer")
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = r.Close() }()
	defer func() { _ = w.Close() }()
	if rolloutview.ColorEnabled(w) {
		t.Error("colour into a pipe")
	}
	// A pseudo-terminal is a terminal.
	dev := openPTY(t)
	if !rolloutview.ColorEnabled(dev) {
		t.Fatal("no colour on a terminal")
	}
	t.Setenv("NO_COLOR", "1")
	if rolloutview.ColorEnabled(dev) {
		t.Error("colour despite NO_COLOR")
	}
	t.Setenv("NO_COLOR", "")
	t.Setenv("TERM", "dumb")
	if rolloutview.ColorEnabled(dev) || rolloutview.IsTerminal(dev) {
		t.Error("colour or redraws on TERM=dumb")
	}
}

// openPTY opens the terminal side of a new pseudo-terminal (skipping the
// test where the machine has none).
func openPTY(t *testing.T) *os.File {
	t.Helper()
	ptmx, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	t.Cleanup(func() { _ = ptmx.Close() })
	fd := int(ptmx.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		t.Skipf("unlocking the pseudo-terminal: %v", err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		t.Skipf("naming the pseudo-terminal: %v", err)
	}
	tty, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR, 0)
	if err != nil {
		t.Skipf("opening the pseudo-terminal: %v", err)
	}
	t.Cleanup(func() { _ = tty.Close() })
	return tty
}
