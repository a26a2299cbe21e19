package nodeagent

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/albrollouts/albrollouts/internal/sim/demoapp"
	"github.com/albrollouts/albrollouts/internal/sim/poll"
)

func mustParse(t *testing.T, ref string) demoapp.Image {
	t.Helper()
	img, err := demoapp.ParseImageRef(ref)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// The catalogue has the images the project and Argo's e2e suites run, and not the
// ones Argo's suites expect to fail to pull.
func TestCatalogue(t *testing.T) {
	pullable := []string{
		"albrollouts/demo:v1", "albrollouts/demo:green", "docker.io/albrollouts/demo", "albrollouts/demo@sha256:" + strings.Repeat("ab", 32),
		"nginx:1.19-alpine", "nginx:1.27", "nginx", "nginx:latest", "docker.io/library/nginx:1.25.3-alpine3.18",
		"index.docker.io/library/nginx:stable-alpine", "nginx:alpine-slim", "nginx:1.27-bookworm", "nginx:mainline-alpine-perl",
		"argoproj/rollouts-demo:blue", "argoproj/rollouts-demo:green", "argoproj/rollouts-demo:red",
		"argoproj/rollouts-demo:yellow", "argoproj/rollouts-demo:bad-purple", "argoproj/rollouts-demo:slow-orange",
		"argoproj/load-tester:latest", "alpine:3.8", "alpine", "busybox:1.36", "busybox:1.36.1-musl",
	}
	for _, ref := range pullable {
		if r := lookup(mustParse(t, ref)); !r.ok || r.fs == nil {
			t.Errorf("%s: %+v, want pullable with a known file system", ref, r)
		}
	}
	notFound := map[string]string{
		"nginx:1.19-alpine-argo-error":             "docker.io/library/nginx:1.19-alpine-argo-error: not found",
		"argoproj/rollouts-demo:error":             "docker.io/argoproj/rollouts-demo:error: not found",
		"argoproj/rollouts-demo:does-not-exist":    "not found",
		"nginx:2.0":                                "not found",
		"nginx@sha256:abc":                         "not found",
		"nonexistent-image-that-does-not-exist":    "pull access denied, repository does not exist",
		"mycorp/web:v2":                            "pull access denied",
		"registry.example:5000/team/web:2.4":       `Head "https://registry.example:5000/v2/team/web/manifests/2.4": dial tcp: lookup registry.example: no such host`,
		"alpine:3.8-argo-error":                    "not found",
		"argoproj/rollouts-demo:blue-green-yellow": "not found",
	}
	for ref, want := range notFound {
		if r := lookup(mustParse(t, ref)); r.ok || !strings.Contains(r.err, want) {
			t.Errorf("%s: %+v, want not pullable: %q", ref, r, want)
		}
	}
}

func TestPullPatterns(t *testing.T) {
	t.Setenv(UnpullableImagesEnv, "")
	t.Setenv(ImagesEnv, `^registry\.example/`)
	a, err := New(Options{PodCIDR: "127.73.0.0/24"})
	if err != nil {
		t.Fatal(err)
	}
	for ref, want := range map[string]bool{
		"registry.example/web:1":          true,  // added by the environment variable
		"registry.example/web:notfound":   false, // the unpullable pattern wins
		"albrollouts/demo:does-not-exist": false,
		"albrollouts/demo:v7":             true,
		"other.example/web:1":             false,
	} {
		if r := a.pull(mustParse(t, ref), ref); r.ok != want {
			t.Errorf("%s: pull %+v, want ok=%t", ref, r, want)
		}
	}
	if r := a.pull(mustParse(t, "registry.example/web:1"), "registry.example/web:1"); r.fs != nil {
		t.Errorf("an added image has no known file system: %+v", r)
	}
	b, err := New(Options{PodCIDR: "127.73.0.0/24", Images: `^mycorp/`})
	if err != nil {
		t.Fatal(err)
	}
	if r := b.pull(mustParse(t, "registry.example/web:1"), "registry.example/web:1"); r.ok {
		t.Error("the option replaces the environment variable")
	}
	if _, err := New(Options{Images: "("}); err == nil {
		t.Error("an invalid image pattern must be refused")
	}
}

func fsName(fs *imageFS) string {
	if fs == nil {
		return "unknown"
	}
	return fs.name
}

func TestCommandError(t *testing.T) {
	for _, tc := range []struct {
		fs      *imageFS
		command []string
		want    string
	}{
		{nginxAlpineFS, nil, ""},
		{nginxAlpineFS, []string{"nginx", "-g", "daemon off;"}, ""},
		{nginxAlpineFS, []string{"/usr/sbin/nginx"}, ""},
		{nginxAlpineFS, []string{"sh", "-c", "sleep 5"}, ""},
		{nginxAlpineFS, []string{"/bin/sleep", "5"}, ""},
		{nginxAlpineFS, []string{"/docker-entrypoint.sh", "nginx"}, ""},
		{nginxAlpineFS, []string{"/bad-command"}, `"/bad-command": stat /bad-command: no such file or directory`},
		{nginxAlpineFS, []string{"/bad-command2"}, `"/bad-command2": stat /bad-command2: no such file or directory`},
		{nginxAlpineFS, []string{"bad-command"}, `"bad-command": executable file not found in $PATH`},
		{nginxAlpineFS, []string{"bash"}, `"bash": executable file not found in $PATH`}, // alpine has no bash
		{nginxDebianFS, []string{"bash", "-c", "true"}, ""},
		{rolloutsDemoFS, []string{"/rollouts-demo"}, ""},
		{rolloutsDemoFS, []string{"sh"}, `"sh": executable file not found in $PATH`},
		{demoFS, []string{"/demo"}, ""},
		// Argo's analysis Jobs: sh -c "sleep N && exit M" in alpine:3.8, nginx:1.19-alpine
		// and argoproj/load-tester; sleep 365d; and [exit, "1"], a shell builtin no
		// image has as an executable.
		{alpineFS, []string{"sh", "-c", "-x"}, ""},
		{alpineFS, []string{"sleep", "30"}, ""},
		{busyboxFS, []string{"/bin/sh", "-c", "sleep 1"}, ""},
		{loadTesterFS, []string{"sh", "-c", "-x", "-e"}, ""},
		{alpineFS, []string{"exit", "1"}, `"exit": executable file not found in $PATH`},
		{nil, []string{"/anything"}, ""}, // unknown file system: every command runs
	} {
		if got := commandError(tc.fs, tc.command); got != tc.want {
			t.Errorf("%s %q: %q, want %q", fsName(tc.fs), tc.command, got, tc.want)
		}
	}
}

// A container whose command its image does not have cycles through
// RunContainerError and CrashLoopBackOff, with lastState Terminated (StartError,
// exit code 128) and a rising restartCount; it is never ready, its pod is Running
// (the kubelet's phase for a container waiting to restart), and the pod's other
// container runs.
func TestBadCommandCrashLoops(t *testing.T) {
	a, err := New(Options{PodCIDR: "127.72.0.0/24", TimeScale: 0.005})
	if err != nil {
		t.Fatal(err)
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", UID: "u7"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{
			{Name: "sidecar", Image: "albrollouts/demo:v1"},
			{Name: "app", Image: "nginx:1.19-alpine", Command: []string{"/bad-command"}},
		}},
	}
	rt := a.startPod(pod)
	defer rt.stop(context.Background())
	status := func(st corev1.PodStatus) corev1.ContainerStatus {
		for _, cs := range st.ContainerStatuses {
			if cs.Name == "app" {
				return cs
			}
		}
		return corev1.ContainerStatus{}
	}
	check := func(st corev1.PodStatus, reason string, restarts int32) (bool, string) {
		cs := status(st)
		w, last := cs.State.Waiting, cs.LastTerminationState.Terminated
		ok := w != nil && w.Reason == reason && cs.RestartCount >= restarts && !cs.Ready &&
			last != nil && last.ExitCode == 128 && last.Reason == ReasonStartError &&
			strings.Contains(last.Message, `exec: "/bad-command": stat /bad-command: no such file or directory`) &&
			st.Phase == corev1.PodRunning && condition(st, corev1.PodReady) == corev1.ConditionFalse &&
			containerState(st, "sidecar").Running != nil
		return ok, fmt.Sprintf("phase %s, app %+v", st.Phase, cs)
	}
	for i, reason := range []string{ReasonRunContainerError, ReasonCrashLoopBackOff, ReasonRunContainerError, ReasonCrashLoopBackOff} {
		poll.Eventually(t, 30*time.Second, reason, func() (bool, string) {
			return check(desiredStatus(pod, rt), reason, int32(i/2))
		})
	}
	if w := status(desiredStatus(pod, rt)).State.Waiting; w.Reason == ReasonRunContainerError && !strings.HasPrefix(w.Message, "failed to create containerd task") {
		t.Errorf("RunContainerError message %q, want containerd's", w.Message)
	}
}

func TestPhase(t *testing.T) {
	running := corev1.ContainerStatus{State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}
	waiting := corev1.ContainerStatus{State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: ReasonErrImagePull}}}
	restarting := corev1.ContainerStatus{
		State:                corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: ReasonCrashLoopBackOff}},
		LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 128}},
	}
	for _, tc := range []struct {
		statuses []corev1.ContainerStatus
		want     corev1.PodPhase
	}{
		{nil, corev1.PodPending},
		{[]corev1.ContainerStatus{running}, corev1.PodRunning},
		{[]corev1.ContainerStatus{running, waiting}, corev1.PodPending},
		{[]corev1.ContainerStatus{running, restarting}, corev1.PodRunning},
		{[]corev1.ContainerStatus{restarting}, corev1.PodRunning},
		{[]corev1.ContainerStatus{restarting, waiting}, corev1.PodPending},
	} {
		if got := podPhase(corev1.RestartPolicyAlways, tc.statuses); got != tc.want {
			t.Errorf("podPhase(Always, %+v) = %s, want %s", tc.statuses, got, tc.want)
		}
	}
}

// Under restartPolicy Never (a Job's pod) a command the image does not have is not
// restarted: the container is Terminated (StartError, exit code 128) and the pod
// Failed; a command it has runs and ends (exitAfter).
func TestJobCommands(t *testing.T) {
	a, err := New(Options{PodCIDR: "127.72.1.0/24", TimeScale: 0.005})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		image   string
		command []string
		args    []string
		code    int32
		reason  string
		phase   corev1.PodPhase
	}{
		{"bad", "alpine:3.8", []string{"exit", "1"}, nil, 128, ReasonStartError, corev1.PodFailed},
		{"sleep-job", "alpine:3.8", []string{"sh", "-c", "-x"}, []string{"sleep 0 && exit 0"}, 0, "Completed", corev1.PodSucceeded},
		{"failing-job", "nginx:1.19-alpine", []string{"sh", "-c"}, []string{"sleep 0 && exit 1"}, 1, "Error", corev1.PodFailed},
	} {
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: tc.name, Namespace: "ns", UID: types.UID("job-" + tc.name)},
			Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{
				{Name: "job", Image: tc.image, Command: tc.command, Args: tc.args},
			}},
		}
		rt := a.startPod(pod)
		poll.Eventually(t, 30*time.Second, tc.name, func() (bool, string) {
			st := desiredStatus(pod, rt)
			term := containerState(st, "job").Terminated
			return st.Phase == tc.phase && term != nil && term.ExitCode == tc.code && term.Reason == tc.reason,
				fmt.Sprintf("phase %s, %+v", st.Phase, containerState(st, "job"))
		})
		rt.stop(context.Background())
	}
}
