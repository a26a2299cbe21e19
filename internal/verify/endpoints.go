package verify

import (
	"fmt"
	"sort"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
)

// Pod labels that carry the pod-template hash of a ReplicaSet: Argo
// Rollouts' and the Deployment controller's.
const (
	RolloutsPodTemplateHashLabel = "rollouts-pod-template-hash"
	PodTemplateHashLabel         = "pod-template-hash"
)

// TargetsFromEndpointSlices returns the targets the load balancer controller
// registers (ip mode) for one service port, restricted to the pods of one
// ReplicaSet: the ready endpoints of svc's EndpointSlices whose pod carries
// podTemplateHash, with the endpoint port of the service port given by name
// or number. Slices of other services are ignored. The result is sorted.
func TargetsFromEndpointSlices(svc *corev1.Service, servicePort string, slices []discoveryv1.EndpointSlice, pods []corev1.Pod, podTemplateHash string) ([]Target, error) {
	sp, err := findServicePort(svc, servicePort)
	if err != nil {
		return nil, err
	}
	ofHash := map[string]bool{}
	for _, p := range pods {
		if p.Namespace != svc.Namespace {
			continue
		}
		if p.Labels[RolloutsPodTemplateHashLabel] == podTemplateHash || p.Labels[PodTemplateHashLabel] == podTemplateHash {
			ofHash[p.Name] = true
		}
	}
	seen := map[Target]bool{}
	var out []Target
	for _, s := range slices {
		if s.Namespace != svc.Namespace || s.Labels[discoveryv1.LabelServiceName] != svc.Name {
			continue
		}
		port, ok := slicePort(s, sp.Name)
		if !ok {
			continue
		}
		for _, ep := range s.Endpoints {
			if !endpointReady(ep) || ep.TargetRef == nil || ep.TargetRef.Kind != "Pod" || !ofHash[ep.TargetRef.Name] {
				continue
			}
			for _, addr := range ep.Addresses {
				t := Target{ID: addr, Port: port}
				if !seen[t] {
					seen[t] = true
					out = append(out, t)
				}
			}
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

// findServicePort finds a service port by name or by number.
func findServicePort(svc *corev1.Service, servicePort string) (corev1.ServicePort, error) {
	n, numErr := strconv.Atoi(servicePort)
	for _, p := range svc.Spec.Ports {
		if p.Name == servicePort || (numErr == nil && int(p.Port) == n) {
			return p, nil
		}
	}
	return corev1.ServicePort{}, fmt.Errorf("service %s/%s has no port %q (by name or number)", svc.Namespace, svc.Name, servicePort)
}

// slicePort returns the endpoint port of a slice named after a service port.
func slicePort(s discoveryv1.EndpointSlice, name string) (int32, bool) {
	for _, p := range s.Ports {
		pn := ""
		if p.Name != nil {
			pn = *p.Name
		}
		if pn == name && p.Port != nil {
			return *p.Port, true
		}
	}
	return 0, false
}

// endpointReady: an unset Ready condition means ready (the API's rule).
func endpointReady(ep discoveryv1.Endpoint) bool {
	return ep.Conditions.Ready == nil || *ep.Conditions.Ready
}
