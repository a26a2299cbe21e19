package nodeagent

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Container start failures. A container whose command names an executable its
// image does not have (commandError) is created and fails to start, as with
// containerd and runc: its state cycles like the kubelet's, Waiting
// RunContainerError with runc's message right after an attempt, then Waiting
// CrashLoopBackOff for a back-off that doubles from 10 s up to 5 min (time-scaled),
// then the next attempt. Each attempt leaves lastState Terminated (reason
// StartError, exit code 128) and raises restartCount. It never runs and is never
// Ready; like the kubelet, the pod's phase is Running (restartPolicy Always or
// OnFailure: its containers have run, or tried to). Under restartPolicy Never (a
// Job's pod) the kubelet does not restart it: the container is Terminated with
// StartError and exit code 128 at once, and the pod Failed once its other
// containers stopped.
const (
	// ReasonRunContainerError is the waiting reason right after a failed start.
	ReasonRunContainerError = "RunContainerError"
	// ReasonCrashLoopBackOff is the waiting reason between start attempts.
	ReasonCrashLoopBackOff = "CrashLoopBackOff"
	// ReasonStartError is the reason of the terminated state a failed start leaves.
	ReasonStartError = "StartError"
	// startErrorExitCode is what containerd reports for a container that could not start.
	startErrorExitCode = 128
)

// Kubelet restart timing: a failed start is seen at the next PLEG relist (1 s),
// which puts the container in back-off: 10 s, doubling up to 5 min.
const (
	runErrorHold        = time.Second
	crashBackOffInitial = 10 * time.Second
	crashBackOffMax     = 5 * time.Minute
)

// stuckState is a container that does not run and keeps trying: its image pull
// or its start fails.
type stuckState struct {
	waiting        corev1.ContainerStateWaiting
	lastTerminated *corev1.ContainerStateTerminated // the last failed start, if any
	restartCount   int32
	neverPulled    bool // its image was never pulled (no image ID)
}

// failStart plays the start of c, whose command cannot run (execErr says why):
// terminated for good under restartPolicy Never, a crash loop otherwise.
func (a *Agent) failStart(ctx context.Context, pod *corev1.Pod, c *containerRuntime, execErr string, changed func()) {
	msg := startErrorMessage(execErr)
	if pod.Spec.RestartPolicy != corev1.RestartPolicyNever {
		c.stuck.Store(&stuckState{waiting: corev1.ContainerStateWaiting{Reason: ReasonRunContainerError, Message: msg}})
		go a.crashLoop(ctx, pod.DeepCopy(), c, execErr, changed)
		return
	}
	c.exited.Store(&corev1.ContainerStateTerminated{
		ExitCode:   startErrorExitCode,
		Reason:     ReasonStartError,
		Message:    msg,
		StartedAt:  metav1.Unix(0, 0), // never started
		FinishedAt: metav1.Now().Rfc3339Copy(),
	})
	a.startErrorEvents(pod, c, msg)
}

// startErrorEvents are the kubelet's events of a failed start.
func (a *Agent) startErrorEvents(pod *corev1.Pod, c *containerRuntime, msg string) {
	a.eventf(pod, corev1.EventTypeNormal, "Pulled", "Starting", "Container image %q already present on machine", c.spec.Image)
	a.eventf(pod, corev1.EventTypeNormal, "Created", "Starting", "Created container: %s", c.spec.Name)
	a.eventf(pod, corev1.EventTypeWarning, "Failed", "Starting", "Error: %s", msg)
}

// startErrorMessage is containerd's message for a start that fails in runc's exec.
func startErrorMessage(execErr string) string {
	return "failed to create containerd task: failed to create shim task: OCI runtime create failed: runc create failed: " +
		"unable to start container process: exec: " + execErr + ": unknown"
}

// crashLoop plays the kubelet's failing starts of c until ctx ends, setting c's
// state and reporting each change through changed. execErr is why the exec fails.
func (a *Agent) crashLoop(ctx context.Context, pod *corev1.Pod, c *containerRuntime, execErr string, changed func()) {
	name := c.spec.Name
	msg := startErrorMessage(execErr)
	backOff := crashBackOffInitial
	for restarts := int32(0); ; restarts++ {
		last := &corev1.ContainerStateTerminated{
			ExitCode:    startErrorExitCode,
			Reason:      ReasonStartError,
			Message:     msg,
			StartedAt:   metav1.Unix(0, 0), // never started
			FinishedAt:  metav1.Now().Rfc3339Copy(),
			ContainerID: fmt.Sprintf("albrollouts-local://%s/%s-%d", pod.UID, name, restarts),
		}
		c.stuck.Store(&stuckState{
			waiting:        corev1.ContainerStateWaiting{Reason: ReasonRunContainerError, Message: msg},
			lastTerminated: last, restartCount: restarts,
		})
		changed()
		a.startErrorEvents(pod, c, msg)
		if sleepCtx(ctx, scaled(runErrorHold, a.opts.TimeScale, minScaledProbeInterval)) != nil {
			return
		}
		c.stuck.Store(&stuckState{
			waiting: corev1.ContainerStateWaiting{
				Reason:  ReasonCrashLoopBackOff,
				Message: fmt.Sprintf("back-off %s restarting failed container=%s pod=%s_%s(%s)", backOff, name, pod.Name, pod.Namespace, pod.UID),
			},
			lastTerminated: last, restartCount: restarts,
		})
		changed()
		a.eventf(pod, corev1.EventTypeWarning, "BackOff", "Starting", "Back-off restarting failed container %s in pod %s_%s(%s)",
			name, pod.Name, pod.Namespace, pod.UID)
		if sleepCtx(ctx, scaled(backOff, a.opts.TimeScale, minScaledProbeInterval)) != nil {
			return
		}
		backOff = min(2*backOff, crashBackOffMax)
	}
}
