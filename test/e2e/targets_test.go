package e2e

import (
	"fmt"
	"net"
	"net/http"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	elbv2types "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/albrollouts/albrollouts/internal/sim/demoapp"
	"github.com/albrollouts/albrollouts/internal/sim/localalb"
	"github.com/albrollouts/albrollouts/internal/sim/poll"
)

// Scaling a Deployment down deregisters the removed pods (draining) and traffic
// stops reaching them.
func TestScaleDownDrainsTargets(t *testing.T) {
	needEnv(t)
	t.Parallel()
	ns := namespace(t, "scale")
	create(t,
		deployment(ns, deploymentSpec{name: "web", version: "v1", replicas: 3}),
		service(ns, "web", "web"),
		ingress(ns, "web", "web", "", nil),
	)
	lb := albOf(t, ns, "web")
	tgARN := aws.ToString(targetGroupFor(t, ns+"/web-web:80").TargetGroupArn)
	before := waitReadyPods(t, ns, "web", 3)
	waitHealthy(t, tgARN, before)

	scale(t, ns, "web", 1)
	after := waitReadyPods(t, ns, "web", 1)
	sawDraining := false
	poll.Slow.Eventually(t, pollTimeout, "removed pods deregistered", func() (bool, string) {
		states := targetStates(t, tgARN)
		for ip := range before {
			if _, kept := after[ip]; kept {
				continue
			}
			switch states[ip] {
			case elbv2types.TargetHealthStateEnumDraining:
				sawDraining = true
			case "":
			default:
				return false, fmt.Sprintf("removed pod %s is still %s: %v", ip, states[ip], states)
			}
		}
		return true, ""
	})
	// The node agent stops the removed pods and deletes their objects.
	poll.Slow.Eventually(t, pollTimeout, "removed pod objects deleted", func() (bool, string) {
		var pods corev1.PodList
		if err := env.Client().List(ctxT(t), &pods, client.InNamespace(ns), client.MatchingLabels{"app": "web"}); err != nil {
			return false, err.Error()
		}
		return len(pods.Items) == 1, fmt.Sprintf("%d pod objects", len(pods.Items))
	})
	// Draining lasts the deregistration delay (60 s, scaled to 3 s); the target is
	// seen draining or already gone.
	t.Logf("saw a removed target draining: %t", sawDraining)
	url := listenerURL(t, lb)
	var remaining string
	for _, name := range after {
		remaining = name
	}
	for i := 0; i < 50; i++ {
		status, _, pod, err := hit(url)
		if err != nil || status != http.StatusOK || pod != remaining {
			t.Fatalf("request %d after scale-down: status %d pod %q err %v; want 200 from %s", i, status, pod, err, remaining)
		}
	}
}

func scale(t *testing.T, ns, name string, replicas int32) {
	t.Helper()
	var d appsv1.Deployment
	if err := env.Client().Get(ctxT(t), client.ObjectKey{Namespace: ns, Name: name}, &d); err != nil {
		t.Fatal(err)
	}
	patch := client.MergeFrom(d.DeepCopy())
	d.Spec.Replicas = ptr.To(replicas)
	if err := env.Client().Patch(ctxT(t), &d, patch); err != nil {
		t.Fatalf("scale %s/%s: %v", ns, name, err)
	}
}

// A pod whose health endpoint starts failing turns unhealthy in elbsim, and the ALB
// stops sending it traffic. (Its readiness probe checks "/", so Kubernetes keeps it
// ready: only the ALB health check sees the failure.)
func TestFailingHealthEndpointTurnsTargetUnhealthy(t *testing.T) {
	needEnv(t)
	t.Parallel()
	ns := namespace(t, "health")
	create(t,
		deployment(ns, deploymentSpec{name: "web", version: "v1", replicas: 2, probePath: "/"}),
		service(ns, "web", "web"),
		ingress(ns, "web", "web", "", nil),
	)
	lb := albOf(t, ns, "web")
	tgARN := aws.ToString(targetGroupFor(t, ns+"/web-web:80").TargetGroupArn)
	pods := waitReadyPods(t, ns, "web", 2)
	waitHealthy(t, tgARN, pods)

	var brokenIP, brokenPod, healthyPod string
	for ip, name := range pods {
		if brokenIP == "" {
			brokenIP, brokenPod = ip, name
		} else {
			healthyPod = name
		}
	}
	resp, err := httpClient.Post("http://"+net.JoinHostPort(brokenIP, "8080")+"/admin/health-fail?on=true", "text/plain", nil)
	if err != nil {
		t.Fatalf("break pod %s: %v", brokenPod, err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("break pod %s: status %d", brokenPod, resp.StatusCode)
	}
	poll.Slow.Eventually(t, pollTimeout, "broken pod unhealthy in elbsim", func() (bool, string) {
		states := targetStates(t, tgARN)
		return states[brokenIP] == elbv2types.TargetHealthStateEnumUnhealthy, fmt.Sprintf("targets %v", states)
	})
	url := listenerURL(t, lb)
	for i := 0; i < 50; i++ {
		status, _, pod, err := hit(url)
		if err != nil || status != http.StatusOK || pod != healthyPod {
			t.Fatalf("request %d: status %d pod %q err %v; want 200 from the healthy pod %s", i, status, pod, err, healthyPod)
		}
	}
}

// A pod that declares the readiness gate of its TargetGroupBinding is Ready only once
// its target is healthy; the controller sets the gate condition.
func TestReadinessGateFollowsTargetHealth(t *testing.T) {
	needEnv(t)
	t.Parallel()
	ns := namespace(t, "gate")
	create(t,
		deployment(ns, deploymentSpec{name: "web", version: "v1", replicas: 1}),
		service(ns, "web", "web"),
		ingress(ns, "web", "web", "", nil),
	)
	tg := targetGroupFor(t, ns+"/web-web:80")
	gate := corev1.PodConditionType(localalb.ReadinessGatePrefix + aws.ToString(tg.TargetGroupName))
	waitHealthy(t, aws.ToString(tg.TargetGroupArn), waitReadyPods(t, ns, "web", 1))

	// Roll the Deployment to pods that declare the gate.
	var d appsv1.Deployment
	if err := env.Client().Get(ctxT(t), client.ObjectKey{Namespace: ns, Name: "web"}, &d); err != nil {
		t.Fatal(err)
	}
	patch := client.MergeFrom(d.DeepCopy())
	d.Spec.Template.Spec.ReadinessGates = []corev1.PodReadinessGate{{ConditionType: gate}}
	if err := env.Client().Patch(ctxT(t), &d, patch); err != nil {
		t.Fatal(err)
	}
	poll.Slow.Eventually(t, pollTimeout, "gated pod ready with the gate condition True", func() (bool, string) {
		var pods corev1.PodList
		if err := env.Client().List(ctxT(t), &pods, client.InNamespace(ns), client.MatchingLabels{"app": "web"}); err != nil {
			return false, err.Error()
		}
		for _, p := range pods.Items {
			if len(p.Spec.ReadinessGates) == 0 || p.DeletionTimestamp != nil {
				continue
			}
			var gateOK, ready bool
			for _, c := range p.Status.Conditions {
				gateOK = gateOK || (c.Type == gate && c.Status == corev1.ConditionTrue)
				ready = ready || (c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue)
			}
			if gateOK && ready {
				states := targetStates(t, aws.ToString(tg.TargetGroupArn))
				return states[p.Status.PodIP] == elbv2types.TargetHealthStateEnumHealthy, fmt.Sprintf("targets %v", states)
			}
			return false, fmt.Sprintf("pod %s: gate %t ready %t conditions %+v", p.Name, gateOK, ready, p.Status.Conditions)
		}
		return false, "no pod with the readiness gate yet"
	})
}

// A pod of an image other than the demo app runs the HTTP stand-in on its declared
// port, with the image tag as its version; an image reference that does not parse
// stays Pending with the kubelet's reason.
func TestGenericImageRunsStandIn(t *testing.T) {
	needEnv(t)
	t.Parallel()
	ns := namespace(t, "generic")
	pod := &corev1.Pod{}
	pod.Namespace, pod.Name = ns, "nginx"
	pod.Spec.Containers = []corev1.Container{{Name: "nginx", Image: "nginx:1.27",
		Ports: []corev1.ContainerPort{{ContainerPort: 8080}},
		ReadinessProbe: &corev1.Probe{PeriodSeconds: 1, ProbeHandler: corev1.ProbeHandler{
			HTTPGet: &corev1.HTTPGetAction{Path: "/", Port: intstr.FromInt32(8080)}}}}}
	bad := &corev1.Pod{}
	bad.Namespace, bad.Name = ns, "bad"
	bad.Spec.Containers = []corev1.Container{{Name: "bad", Image: "nginx:"}}
	create(t, pod, bad)
	var ip string
	poll.Slow.Eventually(t, pollTimeout, "the stand-in pod ready", func() (bool, string) {
		var p corev1.Pod
		if err := env.Client().Get(ctxT(t), client.ObjectKeyFromObject(pod), &p); err != nil {
			return false, err.Error()
		}
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
				ip = p.Status.PodIP
				return true, ""
			}
		}
		return false, fmt.Sprintf("status %+v", p.Status)
	})
	resp, err := httpClient.Get("http://" + net.JoinHostPort(ip, "8080") + "/index.html")
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get(demoapp.VersionHeader) != "1.27" {
		t.Errorf("GET /index.html from the nginx pod: status %d version %q, want 200 from 1.27", resp.StatusCode, resp.Header.Get(demoapp.VersionHeader))
	}
	poll.Slow.Eventually(t, pollTimeout, "InvalidImageName status", func() (bool, string) {
		var p corev1.Pod
		if err := env.Client().Get(ctxT(t), client.ObjectKeyFromObject(bad), &p); err != nil {
			return false, err.Error()
		}
		for _, cs := range p.Status.ContainerStatuses {
			if cs.State.Waiting != nil && cs.State.Waiting.Reason == "InvalidImageName" {
				mustContain(t, cs.State.Waiting.Message, `"nginx:"`, "waiting message")
				return p.Status.Phase == corev1.PodPending, fmt.Sprintf("phase %s", p.Status.Phase)
			}
		}
		return false, fmt.Sprintf("status %+v", p.Status)
	})
}
