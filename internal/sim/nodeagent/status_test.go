package nodeagent

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/albrollouts/albrollouts/internal/sim/demoapp"
	"github.com/albrollouts/albrollouts/internal/sim/poll"
)

func condition(st corev1.PodStatus, t corev1.PodConditionType) corev1.ConditionStatus {
	for _, c := range st.Conditions {
		if c.Type == t {
			return c.Status
		}
	}
	return ""
}

// closed returns a closed channel: a container that runs.
func closed() chan struct{} {
	ch := make(chan struct{})
	close(ch)
	return ch
}

// readyProber is a prober whose readiness is set by the test.
func readyProber(ready bool) *prober {
	p := &prober{}
	p.ready.Store(ready)
	return p
}

func TestDesiredStatusReadinessGates(t *testing.T) {
	gate := corev1.PodConditionType("target-health.elbv2.k8s.aws/k8s-ns-svc-0123456789")
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns"},
		Spec: corev1.PodSpec{
			Containers:     []corev1.Container{{Name: "app", Image: "albrollouts/demo:v1"}},
			ReadinessGates: []corev1.PodReadinessGate{{ConditionType: gate}},
		},
	}
	c := &containerRuntime{spec: pod.Spec.Containers[0], version: "v1", prober: readyProber(true), running: closed()}
	rt := &podRuntime{ip: netip.MustParseAddr("127.1.0.5"), startedAt: metav1.Now().Rfc3339Copy(), containers: []*containerRuntime{c}}
	st := desiredStatus(pod, rt)
	if st.PodIP != "127.1.0.5" || st.HostIP != HostIP {
		t.Errorf("podIP %s hostIP %s", st.PodIP, st.HostIP)
	}
	// No server: the container cannot be ready.
	if condition(st, corev1.ContainersReady) != corev1.ConditionFalse {
		t.Errorf("ContainersReady with no server: %v", st.Conditions)
	}

	c.server = startTestServer(t)
	st = desiredStatus(pod, rt)
	if st.Phase != corev1.PodRunning || condition(st, corev1.ContainersReady) != corev1.ConditionTrue {
		t.Fatalf("phase %s, ContainersReady %s", st.Phase, condition(st, corev1.ContainersReady))
	}
	if condition(st, corev1.PodReady) != corev1.ConditionFalse {
		t.Fatalf("Ready must wait for the readiness gate: %+v", st.Conditions)
	}
	// The load balancer controller sets the gate; the pod turns Ready and the gate
	// condition is kept.
	pod.Status = st
	pod.Status.Conditions = append(pod.Status.Conditions, corev1.PodCondition{Type: gate, Status: corev1.ConditionTrue})
	st = desiredStatus(pod, rt)
	if condition(st, corev1.PodReady) != corev1.ConditionTrue || condition(st, gate) != corev1.ConditionTrue {
		t.Fatalf("with the gate True: %+v", st.Conditions)
	}
	// An unready container makes the pod unready again.
	c.prober.ready.Store(false)
	pod.Status = st
	st = desiredStatus(pod, rt)
	if condition(st, corev1.PodReady) != corev1.ConditionFalse || condition(st, corev1.ContainersReady) != corev1.ConditionFalse {
		t.Fatalf("with an unready container: %+v", st.Conditions)
	}
}

func TestDesiredStatusInvalidImageName(t *testing.T) {
	a, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", UID: "u1"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{
			{Name: "ok", Image: "albrollouts/demo:v1"}, {Name: "web", Image: "nginx:"},
		}},
	}
	rt := a.startPod(pod)
	st := desiredStatus(pod, rt)
	if st.Phase != corev1.PodPending || st.PodIP != "" {
		t.Errorf("phase %s podIP %q", st.Phase, st.PodIP)
	}
	w := st.ContainerStatuses[1].State.Waiting
	if w == nil || w.Reason != ReasonInvalidImageName || !strings.Contains(w.Message, `"nginx:"`) {
		t.Fatalf("container state %+v", st.ContainerStatuses[1].State)
	}
	if a.ips.InUse() != 0 {
		t.Error("a pod that cannot run must not hold an IP")
	}
}

// Any image runs: one that is not the demo app gets the HTTP stand-in. Without a
// declared port it serves nothing and is Running (and Ready: it has no probe).
func TestGenericImageWithoutPortsRuns(t *testing.T) {
	a, err := New(Options{PodCIDR: "127.78.0.0/24"})
	if err != nil {
		t.Fatal(err)
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", UID: "u3"},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "sidecar", Image: "busybox:1.36"}}},
	}
	rt := a.startPod(pod)
	defer rt.stop(context.Background())
	c := rt.containers[0]
	if !c.standIn || c.version != "1.36" {
		t.Fatalf("stand-in %t version %q, want a stand-in of version 1.36", c.standIn, c.version)
	}
	poll.Until(t, 30*time.Second, "the stand-in to listen", c.server.Listening)
	st := desiredStatus(pod, rt)
	if st.Phase != corev1.PodRunning || st.PodIP == "" || st.ContainerStatuses[0].State.Running == nil || !st.ContainerStatuses[0].Ready {
		t.Fatalf("phase %s podIP %q container %+v", st.Phase, st.PodIP, st.ContainerStatuses[0])
	}
}

func TestHTTPProbePaths(t *testing.T) {
	get := func(path string) *corev1.Probe {
		return &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: path}}}
	}
	c := &corev1.Container{
		ReadinessProbe: get("/ready"),
		LivenessProbe:  get("/live"),
		StartupProbe:   &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{}}},
	}
	if got := httpProbePaths(c); !slices.Equal(got, []string{"/ready", "/live"}) {
		t.Errorf("httpProbePaths = %v", got)
	}
	if got := httpProbePaths(&corev1.Container{}); len(got) != 0 {
		t.Errorf("no probes: %v", got)
	}
}

func TestStartPodRejectsBadEnv(t *testing.T) {
	a, err := New(Options{PodCIDR: "127.77.0.0/24"})
	if err != nil {
		t.Fatal(err)
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", UID: "u2"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "albrollouts/demo:v1",
			Env: []corev1.EnvVar{{Name: "ERROR_RATE", Value: "lots"}}}}},
	}
	rt := a.startPod(pod)
	defer rt.stop(context.Background())
	st := desiredStatus(pod, rt)
	if w := st.ContainerStatuses[0].State.Waiting; w == nil || w.Reason != ReasonConfigError {
		t.Fatalf("container state %+v", st.ContainerStatuses[0].State)
	}
}

// startTestServer runs a demo app server with no ports: enough for a container to
// count as running.
func startTestServer(t *testing.T) *demoapp.Server {
	t.Helper()
	s := demoapp.Serve(demoapp.New(demoapp.Config{Version: "v1"}), nil)
	t.Cleanup(func() { _ = s.Shutdown(context.Background()) })
	return s
}

func TestProberThresholds(t *testing.T) {
	var healthy atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" || !healthy.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	host, portStr, _ := net.SplitHostPort(srv.Listener.Addr().String())
	port, _ := strconv.Atoi(portStr)
	container := &corev1.Container{Name: "app", Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: int32(port)}}}
	var flips atomic.Int32
	p := &prober{
		probe: &corev1.Probe{
			ProbeHandler:     corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromString("http")}},
			PeriodSeconds:    1,
			SuccessThreshold: 2,
			FailureThreshold: 3,
		},
		container: container,
		podIP:     host,
		client:    &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}},
		scale:     0.01, // 1 s period -> 50 ms (the floor)
		onChange:  func() { flips.Add(1) },
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go p.run(ctx)
	poll.Until(t, 5*time.Second, "a failed probe to be recorded", func() bool { return p.lastError.Load() != nil })
	if p.ready.Load() {
		t.Fatal("ready while the endpoint fails")
	}
	healthy.Store(true)
	poll.Until(t, 30*time.Second, "the prober to turn ready", p.ready.Load)
	healthy.Store(false)
	poll.Until(t, 30*time.Second, "the prober to turn unready", func() bool { return !p.ready.Load() })
	if n := flips.Load(); n != 2 {
		t.Errorf("onChange called %d times, want 2 (ready, unready)", n)
	}
}

func TestResolvePort(t *testing.T) {
	c := &corev1.Container{Name: "app", Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}}}
	for in, want := range map[string]int32{"http": 8080, "9090": 9090} {
		if got, err := resolvePort(intstr.FromString(in), c); err != nil || got != want {
			t.Errorf("resolvePort(%q) = %d, %v", in, got, err)
		}
	}
	if _, err := resolvePort(intstr.FromString("grpc"), c); err == nil {
		t.Error("want an error for an unknown port name")
	}
	if _, err := resolvePort(intstr.FromInt32(0), c); err == nil {
		t.Error("want an error for port 0")
	}
}
