package nodeagent

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

func TestExitAfter(t *testing.T) {
	for _, tc := range []struct {
		name    string
		command []string
		args    []string
		run     time.Duration
		code    int32
		ends    bool
	}{
		{"image entrypoint", nil, []string{"--port", "80"}, 0, 0, false},
		{"server command", []string{"/docker-entrypoint.sh", "nginx"}, nil, 0, 0, false},
		{"sleep", []string{"sleep", "3"}, nil, 3 * time.Second, 0, true},
		{"sleep infinity", []string{"sleep", "infinity"}, nil, 0, 0, false},
		{"busybox sleep", []string{"busybox", "sleep"}, []string{"1m"}, time.Minute, 0, true},
		{"true", []string{"/bin/true"}, nil, 0, 0, true},
		{"false", []string{"false"}, nil, 0, 1, true},
		// Argo's e2e sleep-job: sh -c -x "sleep N && exit M".
		{"argo sleep-job", []string{"sh", "-c", "-x"}, []string{"sleep 10 && exit 0"}, 10 * time.Second, 0, true},
		{"argo sleep-job fails", []string{"sh", "-c", "-x"}, []string{"sleep 0s && exit 1"}, 0, 1, true},
		{"argo long-running job", []string{"sh", "-c"}, []string{"sleep 6000"}, 6000 * time.Second, 0, true},
		{"echo", []string{"sh", "-c"}, []string{"echo 'This should never run'"}, 0, 0, true},
		{"grouped options", []string{"/bin/bash", "-ec", "sleep 1; false; sleep 5"}, nil, time.Second, 1, true},
		{"no errexit", []string{"sh", "-c", "sleep 1; false; sleep 5"}, nil, 6 * time.Second, 0, true},
		{"errexit spares &&", []string{"sh", "-ec", "false && sleep 5; echo ok"}, nil, 0, 0, true},
		{"|| recovers", []string{"sh", "-c", "false || exit 3"}, nil, 0, 3, true},
		{"&& skipped", []string{"sh", "-c", "false && exit 3"}, nil, 0, 1, true},
		{"exit ends the script", []string{"sh", "-c", "exit 4; sleep 9"}, nil, 0, 4, true},
		{"exit without code", []string{"sh", "-c", "false; exit"}, nil, 0, 1, true},
		{"exit code mod 256", []string{"sh", "-c", "exit 257"}, nil, 0, 1, true},
		{"quotes and newlines", []string{"sh", "-c", "echo 'a; exit 9' &&\n  sleep \"2\"\nexit 0"}, nil, 2 * time.Second, 0, true},
		{"control flow", []string{"sh", "-c", "for i in 1 2; do sleep 1; done; exit 5"}, nil, time.Second, 0, true},
		{"script sleeps forever", []string{"sh", "-c", "echo start; sleep infinity"}, nil, 0, 0, false},
		{"script file", []string{"sh", "/run.sh"}, nil, 0, 0, false},
	} {
		c := &corev1.Container{Command: tc.command, Args: tc.args}
		run, code, ends := exitAfter(c)
		if run != tc.run || code != tc.code || ends != tc.ends {
			t.Errorf("%s: exitAfter = %v, %d, %v; want %v, %d, %v", tc.name, run, code, ends, tc.run, tc.code, tc.ends)
		}
	}
}

func TestPodPhase(t *testing.T) {
	running := corev1.ContainerStatus{State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}
	waiting := corev1.ContainerStatus{State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}}}
	done := corev1.ContainerStatus{State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 0}}}
	failed := corev1.ContainerStatus{State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1}}}
	backOff := corev1.ContainerStatus{
		State:                corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}},
		LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1}},
	}
	for _, tc := range []struct {
		name   string
		policy corev1.RestartPolicy
		cs     []corev1.ContainerStatus
		want   corev1.PodPhase
	}{
		{"running", corev1.RestartPolicyAlways, []corev1.ContainerStatus{running}, corev1.PodRunning},
		{"one waits", corev1.RestartPolicyAlways, []corev1.ContainerStatus{running, waiting}, corev1.PodPending},
		{"one exited, one runs", corev1.RestartPolicyNever, []corev1.ContainerStatus{running, failed}, corev1.PodRunning},
		{"all succeeded", corev1.RestartPolicyNever, []corev1.ContainerStatus{done, done}, corev1.PodSucceeded},
		{"one failed, Never", corev1.RestartPolicyNever, []corev1.ContainerStatus{done, failed}, corev1.PodFailed},
		{"succeeded, OnFailure", corev1.RestartPolicyOnFailure, []corev1.ContainerStatus{done}, corev1.PodSucceeded},
		{"restarting, OnFailure", corev1.RestartPolicyOnFailure, []corev1.ContainerStatus{backOff}, corev1.PodRunning},
		{"nothing", corev1.RestartPolicyNever, nil, corev1.PodPending},
	} {
		if got := podPhase(tc.policy, tc.cs); got != tc.want {
			t.Errorf("%s: podPhase = %s, want %s", tc.name, got, tc.want)
		}
	}
}
