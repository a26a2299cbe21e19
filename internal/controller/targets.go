package controller

import (
	"fmt"
	"sort"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/albrollouts/albrollouts/internal/verify"
)

// targetsOf returns the targets the load balancer controller registers (ip
// mode) for a Service port: the pod IP and the Service's target port,
// resolved per pod (a named target port may map to different container ports
// in different pods), for every ready, non-terminating pod of the list. It
// works on a real cluster and with loopback pods alike, because it reads the
// pods, not EndpointSlices.
func targetsOf(svc *corev1.Service, servicePort int32, pods []corev1.Pod) ([]verify.Target, error) {
	var sp *corev1.ServicePort
	for i := range svc.Spec.Ports {
		if svc.Spec.Ports[i].Port == servicePort {
			sp = &svc.Spec.Ports[i]
			break
		}
	}
	if sp == nil {
		return nil, fmt.Errorf("service %s/%s has no port %d: fix the rollout's servicePort or the Service", svc.Namespace, svc.Name, servicePort)
	}
	var out []verify.Target
	seen := map[verify.Target]bool{}
	for i := range pods {
		p := &pods[i]
		if !podReady(p) || p.DeletionTimestamp != nil || p.Status.PodIP == "" {
			continue
		}
		port, ok := targetPort(sp, p)
		if !ok {
			continue
		}
		t := verify.Target{ID: p.Status.PodIP, Port: port}
		if !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].ID != out[j].ID {
			return out[i].ID < out[j].ID
		}
		return out[i].Port < out[j].Port
	})
	return out, nil
}

// targetPort resolves a Service port's targetPort for one pod, as the
// endpoints controller does: a number as is, a name through the pod's
// container ports, unset as the service port.
func targetPort(sp *corev1.ServicePort, p *corev1.Pod) (int32, bool) {
	switch {
	case sp.TargetPort.Type == intstr.Int && sp.TargetPort.IntVal != 0:
		return sp.TargetPort.IntVal, true
	case sp.TargetPort.Type == intstr.String && sp.TargetPort.StrVal != "":
		for _, c := range p.Spec.Containers {
			for _, cp := range c.Ports {
				if cp.Name == sp.TargetPort.StrVal && (cp.Protocol == "" || cp.Protocol == sp.Protocol || sp.Protocol == "") {
					return cp.ContainerPort, true
				}
			}
		}
		return 0, false
	}
	return sp.Port, true
}

// podReady reports the pod's Ready condition.
func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
