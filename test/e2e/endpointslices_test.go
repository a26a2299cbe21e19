package e2e

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/albrollouts/albrollouts/internal/sim/poll"
	"github.com/albrollouts/albrollouts/internal/verify"
)

// With pods on non-loopback addresses (the network-namespace pass),
// kube-controller-manager's endpointslice controller publishes real
// EndpointSlices, and the verifier's expected targets come from them, as they
// will on EKS: exactly the ready pods of the ReplicaSet, with the target port.
func TestEndpointSlicesFeedTheVerifier(t *testing.T) {
	needEnv(t)
	if podRange().Addr().IsLoopback() {
		t.Skipf("kube-apiserver refuses loopback addresses in EndpointSlices; this test runs in the second pass (pods on %s)", netnsPodCIDR)
	}
	t.Parallel()
	ns := namespace(t, "slices")
	createWeightedApp(t, ns, 2, 1, 80, 20)
	lb := albOf(t, ns, "web")
	stable := targetsFromSlices(t, ns, "stable", waitReadyPods(t, ns, "stable", 2))
	canary := targetsFromSlices(t, ns, "canary", waitReadyPods(t, ns, "canary", 1))
	for _, tg := range append(slices.Clone(stable), canary...) {
		if tg.Port != 8080 || !podRange().Contains(mustAddr(t, tg.ID)) {
			t.Fatalf("target %s from EndpointSlices: want a pod IP in %s on port 8080", tg, podRange())
		}
	}
	res := verifyUntil(t, newVerifier(t), "80/20 verified from EndpointSlice targets",
		actionInput(ns, aws.ToString(lb.DNSName), 80, 20, stable, canary, time.Now(), time.Minute), isVerified)
	t.Logf("verified with targets from EndpointSlices: %s", res.Message)
}

// targetsFromSlices waits until the Service's EndpointSlices list exactly the
// ready pods (IP -> name) of the Deployment app, and returns them as targets.
func targetsFromSlices(t *testing.T, ns, app string, ready map[string]string) []verify.Target {
	t.Helper()
	var targets []verify.Target
	poll.Slow.Eventually(t, pollTimeout, "EndpointSlices of service "+ns+"/"+app, func() (bool, string) {
		var svc corev1.Service
		if err := env.Client().Get(ctxT(t), client.ObjectKey{Namespace: ns, Name: app}, &svc); err != nil {
			return false, err.Error()
		}
		var slices discoveryv1.EndpointSliceList
		if err := env.Client().List(ctxT(t), &slices, client.InNamespace(ns),
			client.MatchingLabels{discoveryv1.LabelServiceName: app}); err != nil {
			return false, err.Error()
		}
		var pods corev1.PodList
		if err := env.Client().List(ctxT(t), &pods, client.InNamespace(ns), client.MatchingLabels{"app": app}); err != nil {
			return false, err.Error()
		}
		hash := podTemplateHash(pods.Items, ready)
		ts, err := verify.TargetsFromEndpointSlices(&svc, "80", slices.Items, pods.Items, hash)
		if err != nil {
			return false, err.Error()
		}
		targets = ts
		got := map[string]bool{}
		for _, tg := range ts {
			got[tg.ID] = true
		}
		if len(got) != len(ready) {
			return false, fmt.Sprintf("targets %v from %d slices, want the ready pods %v", ts, len(slices.Items), ready)
		}
		for ip := range ready {
			if !got[ip] {
				return false, fmt.Sprintf("targets %v, want the ready pods %v", ts, ready)
			}
		}
		return true, ""
	})
	return targets
}

// podTemplateHash is the ReplicaSet hash of the ready pods.
func podTemplateHash(pods []corev1.Pod, ready map[string]string) string {
	for _, p := range pods {
		if _, ok := ready[p.Status.PodIP]; ok {
			return p.Labels[appsv1.DefaultDeploymentUniqueLabelKey]
		}
	}
	return ""
}
