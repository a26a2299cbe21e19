package nodeagent_test

// Integration tests: the node agent against a real kube-apiserver (internal/sim/localcluster),
// running pods and serving them on loopback IPs. Skipped with -short.

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/albrollouts/albrollouts/internal/sim/demoapp"
	"github.com/albrollouts/albrollouts/internal/sim/localcluster"
	"github.com/albrollouts/albrollouts/internal/sim/nodeagent"
	"github.com/albrollouts/albrollouts/internal/sim/poll"
)

// podCIDR is the agent's pod range here, apart from the default one other test
// packages and a running `local up` use.
const podCIDR = "127.61.0.0/24"

var kube client.Client // nil with -short

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		os.Exit(m.Run())
	}
	os.Exit(run(m))
}

func run(m *testing.M) int {
	ctrl.SetLogger(logr.Discard()) // the agent's logs are not needed here
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cluster, err := localcluster.Start(ctx, localcluster.Options{CRDDirs: []string{}})
	if err != nil {
		fmt.Fprintln(os.Stderr, "nodeagent: start control plane:", err)
		return 1
	}
	defer func() { _ = cluster.Stop() }()
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	mgr, err := ctrl.NewManager(cluster.RESTConfig(), ctrl.Options{
		Scheme:     scheme,
		Metrics:    metricsserver.Options{BindAddress: "0"},
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "nodeagent: manager:", err)
		return 1
	}
	// Images of registry.example are outside the catalogue: the option adds them.
	agent, err := nodeagent.New(nodeagent.Options{PodCIDR: podCIDR, TimeScale: 0.1, Images: `^registry\.example[:/]`})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := agent.SetupWithManager(mgr); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if kube, err = client.New(cluster.RESTConfig(), client.Options{Scheme: scheme}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	mgrCtx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(mgrCtx) }()
	code := m.Run()
	stop()
	if err := <-done; err != nil {
		fmt.Fprintln(os.Stderr, "nodeagent: manager:", err)
		code = 1
	}
	agent.Stop() // before the API server stops
	return code
}

func needCluster(t *testing.T) {
	t.Helper()
	if kube == nil {
		t.Skip("integration test: needs the local control plane (run without -short)")
	}
}

func newNamespace(t *testing.T, prefix string) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: prefix + "-"}}
	if err := kube.Create(t.Context(), ns); err != nil {
		t.Fatal(err)
	}
	return ns.Name
}

// waitPod polls the pod until cond holds, failing at the deadline with the last status.
func waitPod(t *testing.T, key client.ObjectKey, what string, cond func(*corev1.Pod) bool) *corev1.Pod {
	t.Helper()
	var p *corev1.Pod
	poll.Every(50*time.Millisecond).Eventually(t, 60*time.Second, fmt.Sprintf("pod %s: %s", key, what), func() (bool, string) {
		p = &corev1.Pod{}
		err := kube.Get(t.Context(), key, p)
		return err == nil && cond(p), fmt.Sprintf("get: %v; status: %+v", err, p.Status)
	})
	return p
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// fetch sends one request to the pod's IP and port, without a proxy.
func fetch(t *testing.T, method, ip string, port int, path string) (int, http.Header, []byte) {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{Proxy: nil}}
	req, err := http.NewRequestWithContext(t.Context(), method, "http://"+net.JoinHostPort(ip, fmt.Sprint(port))+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, req.URL, err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, body
}

// canBindPrivileged reports whether this process may listen on ports below 1024.
func canBindPrivileged(t *testing.T) bool {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:80")
	if err == nil {
		_ = ln.Close()
		return true
	}
	return !errors.Is(err, syscall.EACCES)
}

func httpProbe(path string, port intstr.IntOrString) *corev1.Probe {
	return &corev1.Probe{
		ProbeHandler:  corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: path, Port: port}},
		PeriodSeconds: 1, FailureThreshold: 1,
	}
}

// Images other than the demo app run the HTTP stand-in: nginx on port 80 and Argo's
// demo image on 8080 both answer on their pod IPs, on every path, with the image tag
// as their version, and their readiness probes pass.
func TestGenericImagesServeOnTheirPorts(t *testing.T) {
	needCluster(t)
	if !canBindPrivileged(t) {
		t.Skip("nginx listens on port 80, which this user may not bind (needs root or net.ipv4.ip_unprivileged_port_start)")
	}
	ns := newNamespace(t, "generic")
	pods := []struct {
		name, image, version string
		port                 int32
		probe                *corev1.Probe
	}{
		{"nginx", "nginx:1.19-alpine", "1.19-alpine", 80, httpProbe("/", intstr.FromInt32(80))},
		{"rollouts-demo", "argoproj/rollouts-demo:blue", "blue", 8080, httpProbe("/color", intstr.FromString("http"))},
	}
	for _, p := range pods {
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: p.name},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{
				Name: p.name, Image: p.image,
				Ports:          []corev1.ContainerPort{{Name: "http", ContainerPort: p.port}},
				ReadinessProbe: p.probe,
			}}},
		}
		if err := kube.Create(t.Context(), pod); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range pods {
		got := waitPod(t, client.ObjectKey{Namespace: ns, Name: p.name}, "Running and Ready", func(pod *corev1.Pod) bool {
			return pod.Status.Phase == corev1.PodRunning && podReady(pod)
		})
		ip := got.Status.PodIP
		if addr, err := netip.ParseAddr(ip); err != nil || !netip.MustParsePrefix(podCIDR).Contains(addr) {
			t.Errorf("%s: pod IP %q is outside the agent's range %s", p.name, ip, podCIDR)
		}
		for _, path := range []string{"/", "/color", "/any/path?x=1"} {
			code, h, body := fetch(t, http.MethodGet, ip, int(p.port), path)
			var resp demoapp.Response
			if err := json.Unmarshal(body, &resp); err != nil {
				t.Fatalf("%s GET %s: body %q: %v", p.name, path, body, err)
			}
			if code != http.StatusOK || h.Get(demoapp.VersionHeader) != p.version || resp.Version != p.version || resp.Pod != p.name {
				t.Errorf("%s GET %s: status %d, version header %q, body %+v; want 200 from %s version %s",
					p.name, path, code, h.Get(demoapp.VersionHeader), resp, p.name, p.version)
			}
		}
	}
}

// HEALTH_FAIL makes the path the manifest probes fail, whatever it is, and the admin
// toggle turns it on and off at run time: the pod goes unready and ready again.
func TestGenericImageHealthFailFailsProbedPath(t *testing.T) {
	needCluster(t)
	ns := newNamespace(t, "healthfail")
	key := client.ObjectKey{Namespace: ns, Name: "web"}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "web", Image: "registry.example:5000/team/web:2.4",
			Ports:          []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}},
			ReadinessProbe: httpProbe("/ready", intstr.FromString("http")),
			LivenessProbe:  httpProbe("/live", intstr.FromString("http")),
		}}},
	}
	if err := kube.Create(t.Context(), pod); err != nil {
		t.Fatal(err)
	}
	ip := waitPod(t, key, "Ready", podReady).Status.PodIP
	if code, _, body := fetch(t, http.MethodPost, ip, 8080, "/admin/health-fail?on=true"); code != http.StatusOK {
		t.Fatalf("admin toggle: %d %s", code, body)
	}
	for _, path := range []string{"/ready", "/live", demoapp.HealthPath} {
		if code, _, _ := fetch(t, http.MethodGet, ip, 8080, path); code != http.StatusInternalServerError {
			t.Errorf("health failing: GET %s answered %d, want 500", path, code)
		}
	}
	if code, h, _ := fetch(t, http.MethodGet, ip, 8080, "/"); code != http.StatusOK || h.Get(demoapp.VersionHeader) != "2.4" {
		t.Errorf("health failing: GET / (not probed) answered %d version %q, want 200 from 2.4", code, h.Get(demoapp.VersionHeader))
	}
	waitPod(t, key, "unready after the readiness probe failed", func(p *corev1.Pod) bool { return !podReady(p) })
	if code, _, body := fetch(t, http.MethodPost, ip, 8080, "/admin/health-fail?on=false"); code != http.StatusOK {
		t.Fatalf("admin toggle: %d %s", code, body)
	}
	waitPod(t, key, "ready again", podReady)
}

// firstContainerState returns the state of the pod's first container.
func firstContainerState(p *corev1.Pod) corev1.ContainerState {
	if len(p.Status.ContainerStatuses) == 0 {
		return corev1.ContainerState{}
	}
	return p.Status.ContainerStatuses[0].State
}

// A postStart hook that sleeps and a readiness probe with an initial delay hold the
// pod back as a kubelet would (time scale 0.1 here): Waiting ContainerCreating for
// the hook's 30 s (3 s), then Running but unready until the first probe tick after
// the 40 s (4 s) initial delay, at 50 s (5 s).
func TestPostStartAndReadinessTiming(t *testing.T) {
	needCluster(t)
	ns := newNamespace(t, "timing")
	key := client.ObjectKey{Namespace: ns, Name: "slow"}
	probe := httpProbe("/", intstr.FromString("http"))
	probe.InitialDelaySeconds, probe.PeriodSeconds = 40, 50
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: key.Name},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "web", Image: "registry.example/web:1",
			Ports:          []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}},
			ReadinessProbe: probe,
			Lifecycle: &corev1.Lifecycle{PostStart: &corev1.LifecycleHandler{
				Exec: &corev1.ExecAction{Command: []string{"/bin/sleep", "30"}},
			}},
		}}},
	}
	created := time.Now()
	if err := kube.Create(t.Context(), pod); err != nil {
		t.Fatal(err)
	}
	waitPod(t, key, "Pending with the container Waiting in ContainerCreating", func(p *corev1.Pod) bool {
		w := firstContainerState(p).Waiting
		return p.Status.Phase == corev1.PodPending && w != nil && w.Reason == nodeagent.ReasonContainerCreating && p.Status.PodIP != ""
	})
	waitPod(t, key, "Running", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning })
	if d := time.Since(created); d < 3*time.Second {
		t.Errorf("Running %v after creation, before the postStart hook's 3s ended", d)
	}
	got := waitPod(t, key, "Ready", podReady)
	if d := time.Since(created); d < 5*time.Second {
		t.Errorf("Ready %v after creation; want the first probe at the period tick after the initial delay (5s)", d)
	}
	if firstContainerState(got).Running == nil || !got.Status.ContainerStatuses[0].Ready {
		t.Errorf("container status %+v", got.Status.ContainerStatuses)
	}
}

// An image matching the unpullable pattern (by default Argo's e2e image
// nonexistent-image-that-does-not-exist) is Waiting with ErrImagePull, then
// ImagePullBackOff, and the pod stays Pending and unready.
func TestUnpullableImage(t *testing.T) {
	needCluster(t)
	ns := newNamespace(t, "pull")
	key := client.ObjectKey{Namespace: ns, Name: "bad"}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: key.Name},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "job", Image: "nonexistent-image-that-does-not-exist:latest",
		}}},
	}
	if err := kube.Create(t.Context(), pod); err != nil {
		t.Fatal(err)
	}
	for _, reason := range []string{nodeagent.ReasonErrImagePull, nodeagent.ReasonImagePullBackOff} {
		got := waitPod(t, key, reason, func(p *corev1.Pod) bool {
			w := firstContainerState(p).Waiting
			return w != nil && w.Reason == reason
		})
		if got.Status.Phase != corev1.PodPending || podReady(got) {
			t.Errorf("%s: phase %s, ready %t; want Pending and unready", reason, got.Status.Phase, podReady(got))
		}
	}
}

// An image tag its repository does not have (Argo's nginx:1.19-alpine-argo-error)
// is not in the catalogue: ErrImagePull with containerd's "not found", then
// ImagePullBackOff; the pod stays Pending.
func TestImageNotInCatalogue(t *testing.T) {
	needCluster(t)
	ns := newNamespace(t, "catalogue")
	key := client.ObjectKey{Namespace: ns, Name: "argo-error"}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: key.Name},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "nginx:1.19-alpine-argo-error"}}},
	}
	if err := kube.Create(t.Context(), pod); err != nil {
		t.Fatal(err)
	}
	got := waitPod(t, key, nodeagent.ReasonErrImagePull, func(p *corev1.Pod) bool {
		w := firstContainerState(p).Waiting
		return w != nil && w.Reason == nodeagent.ReasonErrImagePull
	})
	if msg := firstContainerState(got).Waiting.Message; !strings.Contains(msg, `docker.io/library/nginx:1.19-alpine-argo-error: not found`) {
		t.Errorf("ErrImagePull message %q, want containerd's not found", msg)
	}
	waitPod(t, key, nodeagent.ReasonImagePullBackOff, func(p *corev1.Pod) bool {
		w := firstContainerState(p).Waiting
		return w != nil && w.Reason == nodeagent.ReasonImagePullBackOff && p.Status.Phase == corev1.PodPending && !podReady(p)
	})
}

// A command the image does not have (Argo's command: [/bad-command]) fails the
// container's start: RunContainerError, then CrashLoopBackOff, restartCount rising,
// lastState Terminated with exit code 128; the pod is Running and never Ready.
func TestBadCommandCrashLoopBackOff(t *testing.T) {
	needCluster(t)
	ns := newNamespace(t, "badcommand")
	key := client.ObjectKey{Namespace: ns, Name: "bad"}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: key.Name},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "bad", Image: "nginx:1.19-alpine", Command: []string{"/bad-command"},
		}}},
	}
	if err := kube.Create(t.Context(), pod); err != nil {
		t.Fatal(err)
	}
	for _, reason := range []string{nodeagent.ReasonRunContainerError, nodeagent.ReasonCrashLoopBackOff} {
		waitPod(t, key, reason, func(p *corev1.Pod) bool {
			w := firstContainerState(p).Waiting
			return w != nil && w.Reason == reason
		})
	}
	got := waitPod(t, key, "restarted once", func(p *corev1.Pod) bool {
		return len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].RestartCount >= 1
	})
	cs := got.Status.ContainerStatuses[0]
	last := cs.LastTerminationState.Terminated
	if last == nil || last.ExitCode != 128 || last.Reason != nodeagent.ReasonStartError ||
		!strings.Contains(last.Message, `exec: "/bad-command": stat /bad-command: no such file or directory`) {
		t.Errorf("lastState %+v, want Terminated StartError exit 128 with runc's message", cs.LastTerminationState)
	}
	if got.Status.Phase != corev1.PodRunning || podReady(got) || cs.Ready {
		t.Errorf("phase %s, ready %t; want Running and never ready", got.Status.Phase, podReady(got))
	}
}

// A pod with restartPolicy Never whose command ends (a Job's pod) finishes: its
// container is Terminated with the script's exit code after the script's sleep
// (real time, not time-scaled), and the pod Succeeded or Failed. A finished pod
// that is deleted goes at once.
func TestCommandsRunToCompletion(t *testing.T) {
	needCluster(t)
	ns := newNamespace(t, "commands")
	for _, tc := range []struct {
		name  string
		args  string
		code  int32
		phase corev1.PodPhase
	}{
		{"succeeds", "sleep 1 && exit 0", 0, corev1.PodSucceeded},
		{"fails", "sleep 1 && exit 3", 3, corev1.PodFailed},
	} {
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: tc.name},
			Spec: corev1.PodSpec{
				RestartPolicy: corev1.RestartPolicyNever,
				Containers: []corev1.Container{{
					Name: "job", Image: "nginx:1.19-alpine",
					Command: []string{"sh", "-c", "-x"}, Args: []string{tc.args},
				}},
			},
		}
		if err := kube.Create(t.Context(), pod); err != nil {
			t.Fatal(err)
		}
		created := time.Now()
		key := client.ObjectKeyFromObject(pod)
		waitPod(t, key, "running", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning })
		p := waitPod(t, key, "finished", func(p *corev1.Pod) bool { return p.Status.Phase == tc.phase })
		if took := time.Since(created); took < time.Second {
			t.Errorf("%s: finished after %v, before its 1 s sleep", tc.name, took)
		}
		term := p.Status.ContainerStatuses[0].State.Terminated
		if term == nil || term.ExitCode != tc.code {
			t.Fatalf("%s: container state %+v, want terminated with exit code %d", tc.name, p.Status.ContainerStatuses[0].State, tc.code)
		}
		if podReady(p) {
			t.Errorf("%s: a finished pod is Ready", tc.name)
		}
		if err := kube.Delete(t.Context(), p); err != nil {
			t.Fatal(err)
		}
		poll.Every(50*time.Millisecond).Eventually(t, 30*time.Second, "the finished pod to go", func() (bool, string) {
			err := kube.Get(t.Context(), key, &corev1.Pod{})
			return apierrors.IsNotFound(err), fmt.Sprintf("get: %v", err)
		})
	}
}
