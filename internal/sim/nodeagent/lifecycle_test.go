package nodeagent

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/albrollouts/albrollouts/internal/sim/poll"
)

func TestHookDuration(t *testing.T) {
	exec := func(cmd ...string) *corev1.LifecycleHandler {
		return &corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: cmd}}
	}
	for _, tc := range []struct {
		name string
		h    *corev1.LifecycleHandler
		want time.Duration
	}{
		{"none", nil, 0},
		{"sleep action", &corev1.LifecycleHandler{Sleep: &corev1.SleepAction{Seconds: 7}}, 7 * time.Second},
		{"sleep", exec("sleep", "5"), 5 * time.Second},
		{"/bin/sleep", exec("/bin/sleep", "10"), 10 * time.Second},
		{"busybox sleep", exec("busybox", "sleep", "3"), 3 * time.Second},
		{"suffixes summed", exec("sleep", "1m", "0.5", "2s"), time.Minute + 2500*time.Millisecond},
		{"sh -c", exec("sh", "-c", "sleep 10"), 10 * time.Second},
		{"/bin/sh -ec script", exec("/bin/sh", "-ec", "echo start; sleep 2 && nginx -s reload; /bin/sleep 3\nsleep 1"), 6 * time.Second},
		{"bash -c no sleep", exec("bash", "-c", "echo hello > /tmp/x"), 0},
		{"sleepy word is not sleep", exec("sh", "-c", "echo sleeper 5"), 0},
		{"other command", exec("/bin/true"), 0},
		{"bad argument", exec("sleep", "soon"), 0},
		{"infinity", exec("sleep", "infinity"), neverEnds},
		{"http hook", &corev1.LifecycleHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/warm"}}, 0},
	} {
		if got := hookDuration(tc.h); got != tc.want {
			t.Errorf("%s: hookDuration = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// probeTarget is a probe of an always healthy HTTP endpoint.
func probeTarget(t *testing.T, probe corev1.Probe) (*corev1.Probe, *corev1.Container, string) {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	t.Cleanup(srv.Close)
	host, portStr, _ := net.SplitHostPort(srv.Listener.Addr().String())
	port, _ := strconv.Atoi(portStr)
	probe.ProbeHandler = corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/", Port: intstr.FromInt32(int32(port))}}
	return &probe, &corev1.Container{Name: "app"}, host
}

// readyAfter runs the prober and returns how long after its start the container
// turned ready.
func readyAfter(t *testing.T, p *prober, start time.Time) time.Duration {
	t.Helper()
	var at atomic.Int64
	p.startedAt = start
	p.client = &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
	p.onChange = func() { at.CompareAndSwap(0, int64(time.Since(start))) }
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go p.run(ctx)
	poll.Until(t, 30*time.Second, "the container to turn ready", func() bool { return at.Load() != 0 })
	return time.Duration(at.Load())
}

// Like the kubelet, the first probe after initialDelaySeconds waits for the next
// period tick: initialDelaySeconds 10 and periodSeconds 30 make a container ready
// after 30 s, not 10 s (here time-scaled by 0.02: 200 ms and 600 ms).
func TestProberInitialDelayWaitsForPeriodTick(t *testing.T) {
	probe, c, host := probeTarget(t, corev1.Probe{InitialDelaySeconds: 10, PeriodSeconds: 30})
	got := readyAfter(t, &prober{probe: probe, container: c, podIP: host, scale: 0.02}, time.Now())
	if got < 600*time.Millisecond {
		t.Errorf("ready after %v, want not before the first period tick after the initial delay (600ms)", got)
	}
}

// Without an initial delay the first probe runs as soon as the container runs.
func TestProberProbesAtOnceWithoutInitialDelay(t *testing.T) {
	probe, c, host := probeTarget(t, corev1.Probe{PeriodSeconds: 300}) // period 6 s scaled
	if got := readyAfter(t, &prober{probe: probe, container: c, podIP: host, scale: 0.02}, time.Now()); got > 3*time.Second {
		t.Errorf("ready after %v, want at once (the period is 6s)", got)
	}
}

// A container in its postStart hook is not probed; the kubelet probes it the moment
// it is reported running, without waiting for the next period tick.
func TestProberWaitsForPostStartHook(t *testing.T) {
	probe, c, host := probeTarget(t, corev1.Probe{PeriodSeconds: 300}) // period 6 s scaled
	running := make(chan struct{})
	start := time.Now()
	time.AfterFunc(200*time.Millisecond, func() { close(running) }) // the hook ends
	got := readyAfter(t, &prober{probe: probe, container: c, podIP: host, scale: 0.02, running: running}, start)
	if got < 200*time.Millisecond || got > 3*time.Second {
		t.Errorf("ready after %v, want right after the hook ended (200ms), before the period tick (6s)", got)
	}
}

func containerState(st corev1.PodStatus, name string) corev1.ContainerState {
	for _, cs := range st.ContainerStatuses {
		if cs.Name == name {
			return cs.State
		}
	}
	return corev1.ContainerState{}
}

// A postStart exec hook that sleeps keeps the container Waiting (ContainerCreating)
// and the pod Pending and unready for as long as the sleep (time-scaled), while the
// process already serves.
func TestPostStartSleepDelaysRunning(t *testing.T) {
	a, err := New(Options{PodCIDR: "127.76.0.0/24", TimeScale: 0.02})
	if err != nil {
		t.Fatal(err)
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", UID: "u4"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "web", Image: "nginx:1.19-alpine",
			Lifecycle: &corev1.Lifecycle{PostStart: &corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: []string{"sh", "-c", "sleep 10"}}}},
		}}},
	}
	start := time.Now()
	rt := a.startPod(pod)
	defer rt.stop(context.Background())
	st := desiredStatus(pod, rt)
	if w := containerState(st, "web").Waiting; w == nil || w.Reason != ReasonContainerCreating || st.Phase != corev1.PodPending || condition(st, corev1.PodReady) != corev1.ConditionFalse {
		t.Fatalf("during the hook: phase %s, state %+v, Ready %s; want Pending, ContainerCreating, not ready", st.Phase, containerState(st, "web"), condition(st, corev1.PodReady))
	}
	if st.PodIP == "" {
		t.Error("a pod in its postStart hook has its IP")
	}
	poll.Eventually(t, 30*time.Second, "Running and Ready", func() (bool, string) {
		st = desiredStatus(pod, rt)
		return st.Phase == corev1.PodRunning && condition(st, corev1.PodReady) == corev1.ConditionTrue, fmt.Sprintf("%+v", st)
	})
	if d := time.Since(start); d < 200*time.Millisecond {
		t.Errorf("Running after %v, want after the hook's 10s scaled by 0.02 (200ms)", d)
	}
	if r := containerState(st, "web").Running; r == nil || r.StartedAt.After(start.Add(time.Second)) {
		t.Errorf("startedAt %+v: want the container's start, before the hook", r)
	}
}

func TestUnpullablePattern(t *testing.T) {
	t.Setenv(UnpullableImagesEnv, "")
	re, err := unpullablePattern("")
	if err != nil {
		t.Fatal(err)
	}
	for _, img := range []string{"nonexistent-image-that-does-not-exist:latest", "nginx:doesnotexist", "argoproj/rollouts-demo:does-not-exist", "registry.example/app:v2-notfound", "app:NotFound"} {
		if !re.MatchString(img) {
			t.Errorf("default pattern: %s should not be pullable", img)
		}
	}
	for _, img := range []string{"nginx:1.19-alpine", "argoproj/rollouts-demo:blue", "albrollouts/demo:v2", "foundry/app:1", "app:notfoundation"} {
		if re.MatchString(img) {
			t.Errorf("default pattern: %s should be pullable", img)
		}
	}
	t.Setenv(UnpullableImagesEnv, `:broken$`)
	if re, err := unpullablePattern(""); err != nil || !re.MatchString("nginx:broken") || re.MatchString("nginx:doesnotexist") {
		t.Errorf("the environment variable replaces the default: %v, %v", re, err)
	}
	if re, err := unpullablePattern(`:gone$`); err != nil || !re.MatchString("nginx:gone") || re.MatchString("nginx:broken") {
		t.Errorf("the option wins over the environment: %v, %v", re, err)
	}
	if re, err := unpullablePattern("-"); err != nil || re != nil {
		t.Errorf(`"-" disables: %v, %v`, re, err)
	}
	if _, err := New(Options{UnpullableImages: "("}); err == nil {
		t.Error("an invalid pattern must be refused")
	}
}

// A container whose image cannot be pulled is Waiting with ErrImagePull, then
// ImagePullBackOff, then ErrImagePull again on the next attempt (after ContainerCreating
// during the first one), and never Ready;
// the pod has its IP, its other container runs, and it stays Pending.
func TestUnpullableImageBacksOff(t *testing.T) {
	t.Setenv(UnpullableImagesEnv, "")
	a, err := New(Options{PodCIDR: "127.75.0.0/24", TimeScale: 0.01})
	if err != nil {
		t.Fatal(err)
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", UID: "u5"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{
			{Name: "sidecar", Image: "albrollouts/demo:v1"},
			{Name: "app", Image: "argoproj/rollouts-demo:does-not-exist"},
		}},
	}
	rt := a.startPod(pod)
	defer rt.stop(context.Background())
	check := func(st corev1.PodStatus, reason string) bool {
		w := containerState(st, "app").Waiting
		return w != nil && w.Reason == reason && st.Phase == corev1.PodPending && st.PodIP != "" &&
			condition(st, corev1.PodReady) == corev1.ConditionFalse && condition(st, corev1.ContainersReady) == corev1.ConditionFalse &&
			containerState(st, "sidecar").Running != nil
	}
	// The first attempt takes the registry's answer (real time, pullAttempt).
	if st := desiredStatus(pod, rt); !check(st, ReasonContainerCreating) {
		t.Fatalf("first status: %+v", st)
	}
	var st corev1.PodStatus
	poll.Eventually(t, 30*time.Second, ReasonErrImagePull, func() (bool, string) {
		st = desiredStatus(pod, rt)
		return check(st, ReasonErrImagePull), fmt.Sprintf("%+v", st)
	})
	if !strings.Contains(containerState(st, "app").Waiting.Message, "not found") {
		t.Fatalf("ErrImagePull status: %+v", st)
	}
	for _, reason := range []string{ReasonImagePullBackOff, ReasonErrImagePull, ReasonImagePullBackOff} {
		poll.Eventually(t, 30*time.Second, reason, func() (bool, string) {
			st = desiredStatus(pod, rt)
			return check(st, reason), fmt.Sprintf("%+v", st)
		})
	}
}

// A preStop exec hook that sleeps (as Argo's e2e manifests use) delays the shutdown
// like a preStop sleep action, within the grace period.
func TestPreStopExecSleepDelaysShutdown(t *testing.T) {
	a, err := New(Options{PodCIDR: "127.74.0.0/24", TimeScale: 0.02})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Stop()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", UID: "u6"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "web", Image: "nginx:1.19-alpine",
			Lifecycle: &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: []string{"sleep", "10"}}}},
		}}},
	}
	rt := a.startPod(pod)
	var doneAfter atomic.Int64
	start := time.Now()
	a.startTermination(rt, pod, func() { doneAfter.Store(int64(time.Since(start))) })
	poll.Until(t, 30*time.Second, "termination to finish", func() bool { return doneAfter.Load() != 0 })
	if d := time.Duration(doneAfter.Load()); d < 200*time.Millisecond {
		t.Errorf("stopped after %v, want after the preStop sleep's 10s scaled by 0.02 (200ms)", d)
	}
}
