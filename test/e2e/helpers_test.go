package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbv2types "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/albrollouts/albrollouts/internal/sim/demoapp"
	"github.com/albrollouts/albrollouts/internal/sim/localalb"
	"github.com/albrollouts/albrollouts/internal/sim/poll"
)

func needEnv(t *testing.T) {
	t.Helper()
	if env == nil {
		t.Skip("needs the local environment (not started with -short)")
	}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// namespace creates a namespace for one test and deletes it afterwards.
// namespaceRuns numbers the namespaces so that a test can run again
// (go test -count=N) in the same environment.
var namespaceRuns atomic.Int64

func namespace(t *testing.T, prefix string) string {
	t.Helper()
	name := fmt.Sprintf("%s-%d", prefix, namespaceRuns.Add(1))
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if err := env.Client().Create(ctxT(t), ns); err != nil {
		t.Fatalf("create namespace %s: %v", name, err)
	}
	return name
}

func create(t *testing.T, objs ...client.Object) {
	t.Helper()
	for _, o := range objs {
		if err := env.Client().Create(ctxT(t), o); err != nil {
			t.Fatalf("create %T %s: %v", o, o.GetName(), err)
		}
	}
}

type deploymentSpec struct {
	name, version string
	replicas      int32
	env           map[string]string
	probePath     string // readiness probe path; default demoapp.HealthPath
	podLabels     map[string]string
}

func deployment(ns string, d deploymentSpec) *appsv1.Deployment {
	labels := map[string]string{"app": d.name}
	for k, v := range d.podLabels {
		labels[k] = v
	}
	var envs []corev1.EnvVar
	for k, v := range d.env {
		envs = append(envs, corev1.EnvVar{Name: k, Value: v})
	}
	probePath := d.probePath
	if probePath == "" {
		probePath = demoapp.HealthPath
	}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: d.name},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(d.replicas),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": d.name}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					TerminationGracePeriodSeconds: ptr.To(int64(5)),
					Containers: []corev1.Container{{
						Name:  "app",
						Image: demoapp.ImageRepository + ":" + d.version,
						Env:   envs,
						Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}},
						ReadinessProbe: &corev1.Probe{
							ProbeHandler:     corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: probePath, Port: intstr.FromString("http")}},
							PeriodSeconds:    1,
							FailureThreshold: 2,
						},
					}},
				},
			},
		},
	}
}

// service selects pods by app label; port 80 -> container port 8080.
func service(ns, name, app string) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": app},
			Ports:    []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080)}},
		},
	}
}

// ingress routes / to backend (a service on port 80, or an actions.<name>
// annotation when usePort is "use-annotation").
func ingress(ns, name, backend, usePort string, annotations map[string]string) *networkingv1.Ingress {
	port := networkingv1.ServiceBackendPort{Number: 80}
	if usePort != "" {
		port = networkingv1.ServiceBackendPort{Name: usePort}
	}
	ann := map[string]string{
		localalb.AnnotationHCPath:     demoapp.HealthPath,
		localalb.AnnotationHCInterval: "5",
		localalb.AnnotationHCTimeout:  "2",
		localalb.AnnotationTGAttrs:    "deregistration_delay.timeout_seconds=60",
	}
	for k, v := range annotations {
		ann[k] = v
	}
	return &networkingv1.Ingress{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Annotations: ann},
		Spec: networkingv1.IngressSpec{
			IngressClassName: ptr.To("alb"),
			Rules: []networkingv1.IngressRule{{IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{
				Paths: []networkingv1.HTTPIngressPath{{
					Path:     "/",
					PathType: ptr.To(networkingv1.PathTypePrefix),
					Backend:  networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: backend, Port: port}},
				}},
			}}}},
		},
	}
}

// albOf waits for the ingress to get its ALB hostname and returns the ALB.
func albOf(t *testing.T, ns, name string) elbv2types.LoadBalancer {
	t.Helper()
	var dns string
	poll.Slow.Eventually(t, pollTimeout, "ingress "+ns+"/"+name+" hostname", func() (bool, string) {
		var ing networkingv1.Ingress
		if err := env.Client().Get(ctxT(t), client.ObjectKey{Namespace: ns, Name: name}, &ing); err != nil {
			return false, err.Error()
		}
		if len(ing.Status.LoadBalancer.Ingress) == 0 {
			return false, "no status.loadBalancer.ingress yet"
		}
		dns = ing.Status.LoadBalancer.Ingress[0].Hostname
		return dns != "", "empty hostname"
	})
	lbs, err := env.ELBV2().DescribeLoadBalancers(ctxT(t), &elbv2.DescribeLoadBalancersInput{})
	if err != nil {
		t.Fatal(err)
	}
	for _, lb := range lbs.LoadBalancers {
		if aws.ToString(lb.DNSName) == dns {
			return lb
		}
	}
	t.Fatalf("no load balancer with DNS name %s in elbsim", dns)
	return elbv2types.LoadBalancer{}
}

func tagsOf(t *testing.T, arn string) map[string]string {
	t.Helper()
	resp, err := env.ELBV2().DescribeTags(ctxT(t), &elbv2.DescribeTagsInput{ResourceArns: []string{arn}})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, d := range resp.TagDescriptions {
		for _, tag := range d.Tags {
			out[aws.ToString(tag.Key)] = aws.ToString(tag.Value)
		}
	}
	return out
}

// listenerOn returns the ALB's listener on port.
func listenerOn(t *testing.T, lbARN string, port int32) elbv2types.Listener {
	t.Helper()
	var found elbv2types.Listener
	poll.Slow.Eventually(t, pollTimeout, fmt.Sprintf("listener :%d", port), func() (bool, string) {
		resp, err := env.ELBV2().DescribeListeners(ctxT(t), &elbv2.DescribeListenersInput{LoadBalancerArn: aws.String(lbARN)})
		if err != nil {
			return false, err.Error()
		}
		for _, l := range resp.Listeners {
			if aws.ToInt32(l.Port) == port {
				found = l
				return true, ""
			}
		}
		return false, fmt.Sprintf("%d listeners, none on :%d", len(resp.Listeners), port)
	})
	return found
}

// rulesOf returns the non-default rules of a listener, by priority.
func rulesOf(t *testing.T, listenerARN string) []elbv2types.Rule {
	t.Helper()
	resp, err := env.ELBV2().DescribeRules(ctxT(t), &elbv2.DescribeRulesInput{ListenerArn: aws.String(listenerARN)})
	if err != nil {
		t.Fatal(err)
	}
	var out []elbv2types.Rule
	for _, r := range resp.Rules {
		if !aws.ToBool(r.IsDefault) {
			out = append(out, r)
		}
	}
	return out
}

// weights returns target group ARN -> weight of a rule's forward action.
func weights(r elbv2types.Rule) map[string]int32 {
	out := map[string]int32{}
	for _, a := range r.Actions {
		if a.ForwardConfig != nil {
			for _, tg := range a.ForwardConfig.TargetGroups {
				out[aws.ToString(tg.TargetGroupArn)] = aws.ToInt32(tg.Weight)
			}
		}
	}
	return out
}

// targetGroupFor finds the target group tagged for <ns>/<ingress>-<service>:<port>.
func targetGroupFor(t *testing.T, resource string) elbv2types.TargetGroup {
	t.Helper()
	var found elbv2types.TargetGroup
	poll.Slow.Eventually(t, pollTimeout, "target group "+resource, func() (bool, string) {
		resp, err := env.ELBV2().DescribeTargetGroups(ctxT(t), &elbv2.DescribeTargetGroupsInput{})
		if err != nil {
			return false, err.Error()
		}
		for _, tg := range resp.TargetGroups {
			if tagsOf(t, aws.ToString(tg.TargetGroupArn))[localalb.TagResource] == resource {
				found = tg
				return true, ""
			}
		}
		return false, fmt.Sprintf("none of %d target groups is tagged %s", len(resp.TargetGroups), resource)
	})
	return found
}

// targetStates returns target IP -> health state.
func targetStates(t *testing.T, tgARN string) map[string]elbv2types.TargetHealthStateEnum {
	t.Helper()
	resp, err := env.ELBV2().DescribeTargetHealth(ctxT(t), &elbv2.DescribeTargetHealthInput{TargetGroupArn: aws.String(tgARN)})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]elbv2types.TargetHealthStateEnum{}
	for _, d := range resp.TargetHealthDescriptions {
		out[aws.ToString(d.Target.Id)] = d.TargetHealth.State
	}
	return out
}

// readyPodIPs returns the IPs of the ready pods with label app=app.
func readyPodIPs(t *testing.T, ns, app string) map[string]string {
	t.Helper()
	var pods corev1.PodList
	if err := env.Client().List(ctxT(t), &pods, client.InNamespace(ns), client.MatchingLabels{"app": app}); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, p := range pods.Items {
		if p.DeletionTimestamp != nil || p.Status.PodIP == "" {
			continue
		}
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
				out[p.Status.PodIP] = p.Name
			}
		}
	}
	return out
}

// waitReadyPods waits until exactly n pods with label app=app are ready and returns
// their IPs (IP -> pod name).
func waitReadyPods(t *testing.T, ns, app string, n int) map[string]string {
	t.Helper()
	var pods map[string]string
	poll.Slow.Eventually(t, pollTimeout, fmt.Sprintf("%d ready pods of %s/%s", n, ns, app), func() (bool, string) {
		pods = readyPodIPs(t, ns, app)
		return len(pods) == n, fmt.Sprintf("ready pods %v", pods)
	})
	return pods
}

// waitHealthy waits until the target group's targets are exactly ips, all healthy.
func waitHealthy(t *testing.T, tgARN string, ips map[string]string) {
	t.Helper()
	poll.Slow.Eventually(t, pollTimeout, "targets healthy", func() (bool, string) {
		states := targetStates(t, tgARN)
		if len(states) != len(ips) {
			return false, fmt.Sprintf("targets %v, want pods %v", states, ips)
		}
		for ip := range ips {
			if states[ip] != elbv2types.TargetHealthStateEnumHealthy {
				return false, fmt.Sprintf("targets %v, want pods %v healthy", states, ips)
			}
		}
		return true, ""
	})
}

var httpClient = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{Proxy: nil}}

// hit sends one GET through the ALB and returns status, version and pod.
func hit(url string) (status int, version, pod string, err error) {
	resp, err := httpClient.Get(url + "/")
	if err != nil {
		return 0, "", "", err
	}
	defer func() { _ = resp.Body.Close() }()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, resp.Header.Get(demoapp.VersionHeader), resp.Header.Get(demoapp.PodHeader), nil
}

// listenerURL waits for the data-plane URL of the ALB's port-80 listener.
func listenerURL(t *testing.T, lb elbv2types.LoadBalancer) string {
	t.Helper()
	var url string
	poll.Slow.Eventually(t, pollTimeout, "listener URL", func() (bool, string) {
		var ok bool
		url, ok = env.ListenerURL(aws.ToString(lb.DNSName), 80)
		return ok, "elbsim has no data-plane listener for " + aws.ToString(lb.DNSName) + ":80 yet"
	})
	return url
}

// countVersions sends n requests and counts the answers by version; any status but
// 200 fails the test.
func countVersions(t *testing.T, url string, n int) map[string]int {
	t.Helper()
	out := map[string]int{}
	for i := 0; i < n; i++ {
		status, version, _, err := hit(url)
		if err != nil || status != http.StatusOK {
			t.Fatalf("request %d through the ALB: status %d, err %v", i, status, err)
		}
		out[version]++
	}
	return out
}

func mustContain(t *testing.T, s, sub, what string) {
	t.Helper()
	if !strings.Contains(s, sub) {
		t.Errorf("%s %q does not contain %q", what, s, sub)
	}
}

func mustAddr(t *testing.T, ip string) netip.Addr {
	t.Helper()
	a, err := netip.ParseAddr(ip)
	if err != nil {
		t.Fatalf("%q is not an IP address: %v", ip, err)
	}
	return a
}
