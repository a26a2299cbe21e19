package nodeagent

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// HostIP is the node's address, reported as every pod's hostIP.
const HostIP = "127.0.0.1"

// desiredStatus returns pod's status as the agent sees it, starting from the current
// one so that conditions set by others (readiness gates) are kept.
func desiredStatus(pod *corev1.Pod, rt *podRuntime) corev1.PodStatus {
	st := *pod.Status.DeepCopy()
	st.HostIP = HostIP
	st.HostIPs = []corev1.HostIP{{IP: HostIP}}
	if st.StartTime == nil {
		t := rt.startedAt
		st.StartTime = &t
	}
	containersReady := true
	var statuses []corev1.ContainerStatus
	for _, c := range rt.containers {
		cs := containerStatus(pod, rt, c)
		if !cs.Ready {
			containersReady = false
		}
		statuses = append(statuses, cs)
	}
	st.ContainerStatuses = statuses
	st.InitContainerStatuses = initContainerStatuses(pod, rt)

	if rt.ip.IsValid() {
		st.PodIP = rt.ip.String()
		st.PodIPs = []corev1.PodIP{{IP: st.PodIP}}
	}
	st.Phase = podPhase(pod.Spec.RestartPolicy, statuses)
	terminal := st.Phase == corev1.PodSucceeded || st.Phase == corev1.PodFailed
	ready := containersReady && readinessGatesPass(pod)
	setCondition(&st, corev1.PodScheduled, true, "", "")
	setCondition(&st, corev1.PodReadyToStartContainers, rt.ip.IsValid() && !terminal, "", "")
	setCondition(&st, corev1.PodInitialized, true, "", "")
	reason, msg := "", ""
	switch {
	case terminal:
		reason = "PodCompleted"
	case !containersReady:
		reason, msg = "ContainersNotReady", fmt.Sprintf("containers with unready status: %v", unready(rt))
	}
	setCondition(&st, corev1.ContainersReady, containersReady, reason, msg)
	if !ready && containersReady {
		reason, msg = "ReadinessGatesNotReady", "the status of pod readiness gates is not \"True\""
	}
	setCondition(&st, corev1.PodReady, ready, reason, msg)
	return st
}

// podPhase is the kubelet's pod phase from the container states: Pending while a
// container waits to start; Running while one runs (or, under restartPolicy Always,
// has stopped and restarts); once all stopped, Succeeded if all exited with 0, else
// Failed under restartPolicy Never and Running (restarting) under OnFailure.
func podPhase(policy corev1.RestartPolicy, statuses []corev1.ContainerStatus) corev1.PodPhase {
	waiting, running, stopped, succeeded := 0, 0, 0, 0
	for _, cs := range statuses {
		switch {
		case cs.State.Running != nil:
			running++
		case cs.State.Terminated != nil:
			stopped++
			if cs.State.Terminated.ExitCode == 0 {
				succeeded++
			}
		case cs.LastTerminationState.Terminated != nil:
			stopped++ // waiting to restart
		default:
			waiting++
		}
	}
	switch {
	case waiting > 0:
		return corev1.PodPending
	case running > 0:
		return corev1.PodRunning
	case stopped > 0:
		switch {
		case policy == corev1.RestartPolicyAlways || policy == "":
			return corev1.PodRunning
		case stopped == succeeded:
			return corev1.PodSucceeded
		case policy == corev1.RestartPolicyNever:
			return corev1.PodFailed
		}
		return corev1.PodRunning
	}
	return corev1.PodPending
}

func containerStatus(pod *corev1.Pod, rt *podRuntime, c *containerRuntime) corev1.ContainerStatus {
	cs := corev1.ContainerStatus{
		Name:    c.spec.Name,
		Image:   c.spec.Image,
		ImageID: "albrollouts-local://" + c.spec.Image,
	}
	started := false
	if last := c.lastExit.Load(); last != nil {
		cs.LastTerminationState.Terminated = last.DeepCopy()
	}
	// Keep the restart count a real kubelet would show: the demo app never restarts,
	// a failing start does, and so does a command that fails under restartPolicy
	// OnFailure.
	cs.RestartCount = c.restarts.Load()
	for _, old := range pod.Status.ContainerStatuses {
		if old.Name == cs.Name {
			cs.RestartCount = max(cs.RestartCount, old.RestartCount)
		}
	}
	switch stuck, crash := c.stuck.Load(), c.crashWaiting.Load(); {
	case c.waiting != nil:
		cs.State.Waiting = c.waiting.DeepCopy()
	case stuck != nil:
		cs.State.Waiting = stuck.waiting.DeepCopy()
		if stuck.lastTerminated != nil {
			cs.LastTerminationState.Terminated = stuck.lastTerminated.DeepCopy()
			cs.RestartCount = max(cs.RestartCount, stuck.restartCount)
		}
		if stuck.neverPulled {
			cs.ImageID = ""
		}
	case c.exited.Load() != nil:
		cs.ContainerID = fmt.Sprintf("albrollouts-local://%s/%s", rt.uid, c.spec.Name)
		cs.State.Terminated = c.exited.Load().DeepCopy()
		cs.State.Terminated.ContainerID = cs.ContainerID
	case crash != nil:
		cs.State.Waiting = crash.DeepCopy()
	case c.server != nil && c.server.Err() != nil:
		cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: ReasonListenFailed, Message: c.server.Err().Error()}
	case !c.isRunning():
		// Its postStart hook runs: the kubelet reports the container created only
		// when the hook returned.
		cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: ReasonContainerCreating}
	default:
		cs.ContainerID = fmt.Sprintf("albrollouts-local://%s/%s", rt.uid, c.spec.Name)
		startedAt := rt.startedAt
		if t := c.restartedAt.Load(); t != nil {
			startedAt = *t
		}
		cs.State.Running = &corev1.ContainerStateRunning{StartedAt: startedAt}
		cs.Ready = c.ready()
		started = true
	}
	cs.Started = &started
	return cs
}

// initContainerStatuses reports init containers as completed: the demo app has no
// init work, and manifests written for real clusters should still start.
func initContainerStatuses(pod *corev1.Pod, rt *podRuntime) []corev1.ContainerStatus {
	var out []corev1.ContainerStatus
	for _, c := range pod.Spec.InitContainers {
		started := false
		out = append(out, corev1.ContainerStatus{
			Name:    c.Name,
			Image:   c.Image,
			ImageID: "albrollouts-local://" + c.Image,
			Ready:   true,
			Started: &started,
			State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
				ExitCode: 0, Reason: "Completed", StartedAt: rt.startedAt, FinishedAt: rt.startedAt,
			}},
		})
	}
	return out
}

func unready(rt *podRuntime) []string {
	var names []string
	for _, c := range rt.containers {
		if !c.ready() {
			names = append(names, c.spec.Name)
		}
	}
	return names
}

// readinessGatesPass reports whether every readiness gate of the pod has a True
// condition (the load balancer controller sets target-health.* conditions).
func readinessGatesPass(pod *corev1.Pod) bool {
	for _, g := range pod.Spec.ReadinessGates {
		found := false
		for _, c := range pod.Status.Conditions {
			if c.Type == g.ConditionType {
				found = c.Status == corev1.ConditionTrue
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// setCondition sets a condition, changing lastTransitionTime only when the status flips.
func setCondition(st *corev1.PodStatus, t corev1.PodConditionType, ok bool, reason, msg string) {
	status := corev1.ConditionFalse
	if ok {
		status = corev1.ConditionTrue
	}
	for i := range st.Conditions {
		c := &st.Conditions[i]
		if c.Type != t {
			continue
		}
		if c.Status != status {
			c.LastTransitionTime = metav1.Now().Rfc3339Copy()
		}
		c.Status, c.Reason, c.Message = status, reason, msg
		return
	}
	st.Conditions = append(st.Conditions, corev1.PodCondition{
		Type: t, Status: status, Reason: reason, Message: msg, LastTransitionTime: metav1.Now().Rfc3339Copy(),
	})
}
