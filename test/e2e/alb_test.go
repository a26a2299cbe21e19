package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"regexp"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	elbv2types "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/albrollouts/albrollouts/internal/sim/localalb"
	"github.com/albrollouts/albrollouts/internal/sim/poll"
)

// A Deployment behind a Service and an ALB Ingress: the ALB, listener, rule and
// target group appear with the tags of the real controller, the pods become healthy
// targets and requests through the listener reach both pods.
func TestIngressBecomesALBServingPods(t *testing.T) {
	needEnv(t)
	t.Parallel()
	ns := namespace(t, "basic")
	create(t,
		deployment(ns, deploymentSpec{name: "web", version: "v1", replicas: 2}),
		service(ns, "web", "web"),
		ingress(ns, "web", "web", "", nil),
	)
	lb := albOf(t, ns, "web")
	lbTags := tagsOf(t, aws.ToString(lb.LoadBalancerArn))
	for k, want := range map[string]string{localalb.TagCluster: env.ClusterName(), localalb.TagStack: ns + "/web", localalb.TagResource: "LoadBalancer"} {
		if lbTags[k] != want {
			t.Errorf("load balancer tag %s = %q, want %q", k, lbTags[k], want)
		}
	}
	l := listenerOn(t, aws.ToString(lb.LoadBalancerArn), 80)
	if l.Protocol != elbv2types.ProtocolEnumHttp {
		t.Errorf("listener protocol %s", l.Protocol)
	}
	tg := targetGroupFor(t, ns+"/web-web:80")
	if !regexp.MustCompile(`^k8s-` + regexp.QuoteMeta(nameSegment(ns)) + `-web-[0-9a-f]{10}$`).MatchString(aws.ToString(tg.TargetGroupName)) {
		t.Errorf("target group name %q", aws.ToString(tg.TargetGroupName))
	}
	if tg.TargetType != elbv2types.TargetTypeEnumIp || aws.ToInt32(tg.Port) != 8080 || aws.ToString(tg.HealthCheckPath) != "/healthz" ||
		aws.ToInt32(tg.HealthCheckIntervalSeconds) != 5 || aws.ToInt32(tg.HealthyThresholdCount) != 2 {
		t.Errorf("target group settings: type %s port %d health %s every %ds healthy after %d",
			tg.TargetType, aws.ToInt32(tg.Port), aws.ToString(tg.HealthCheckPath), aws.ToInt32(tg.HealthCheckIntervalSeconds), aws.ToInt32(tg.HealthyThresholdCount))
	}
	tgTags := tagsOf(t, aws.ToString(tg.TargetGroupArn))
	if tgTags[localalb.TagStack] != ns+"/web" || tgTags[localalb.TagCluster] != env.ClusterName() {
		t.Errorf("target group tags %v", tgTags)
	}
	rules := rulesOf(t, aws.ToString(l.ListenerArn))
	if len(rules) != 1 {
		t.Fatalf("want 1 rule, got %d", len(rules))
	}
	if w := weights(rules[0]); len(w) != 1 || w[aws.ToString(tg.TargetGroupArn)] == 0 {
		t.Errorf("rule forwards to %v, want the target group %s", w, aws.ToString(tg.TargetGroupArn))
	}
	if got := rules[0].Conditions; len(got) != 1 || aws.ToString(got[0].Field) != "path-pattern" {
		t.Errorf("rule conditions %+v, want path-pattern /*", got)
	}
	checkBinding(t, ns, aws.ToString(tg.TargetGroupName), aws.ToString(tg.TargetGroupArn), "web")

	pods := waitReadyPods(t, ns, "web", 2)
	for ip := range pods {
		if !podRange().Contains(netip.MustParseAddr(ip)) {
			t.Errorf("pod IP %s is not in the pod range %s", ip, podRange())
		}
	}
	waitHealthy(t, aws.ToString(tg.TargetGroupArn), pods)

	url := listenerURL(t, lb)
	seen := map[string]int{}
	poll.Slow.Eventually(t, pollTimeout, "traffic to both pods", func() (bool, string) {
		status, version, pod, err := hit(url)
		if err != nil || status != http.StatusOK || version != "v1" {
			return false, fmt.Sprintf("status %d version %q err %v", status, version, err)
		}
		seen[pod]++
		return len(seen) == 2, fmt.Sprintf("answers by pod %v", seen)
	})
}

// checkBinding checks the TargetGroupBinding the controller wrote for a target group.
func checkBinding(t *testing.T, ns, name, arn, service string) {
	t.Helper()
	tgb := &unstructured.Unstructured{}
	tgb.SetGroupVersionKind(localalb.TargetGroupBindingGVK)
	poll.Slow.Eventually(t, pollTimeout, "TargetGroupBinding "+name, func() (bool, string) {
		err := env.Client().Get(ctxT(t), client.ObjectKey{Namespace: ns, Name: name}, tgb)
		return err == nil, fmt.Sprint(err)
	})
	gotARN, _, _ := unstructured.NestedString(tgb.Object, "spec", "targetGroupARN")
	gotSvc, _, _ := unstructured.NestedString(tgb.Object, "spec", "serviceRef", "name")
	gotType, _, _ := unstructured.NestedString(tgb.Object, "spec", "targetType")
	if gotARN != arn || gotSvc != service || gotType != "ip" {
		t.Errorf("TargetGroupBinding %s/%s spec: arn %q service %q type %q", ns, name, gotARN, gotSvc, gotType)
	}
}

// actionJSON is an Argo Rollouts-style (PascalCase) forward action annotation.
func actionJSON(stableWeight, canaryWeight int) string {
	return fmt.Sprintf(`{"Type":"forward","ForwardConfig":{"TargetGroups":[`+
		`{"ServiceName":"stable","ServicePort":"80","Weight":%d},`+
		`{"ServiceName":"canary","ServicePort":"80","Weight":%d}],`+
		`"TargetGroupStickinessConfig":{"Enabled":false}}}`, stableWeight, canaryWeight)
}

// Changing the actions.<name> weights changes the elbsim rule after the controller
// lag, and the measured traffic split follows; weight 0 gets no traffic.
func TestActionWeightsShapeTraffic(t *testing.T) {
	needEnv(t)
	t.Parallel()
	ns := namespace(t, "weights")
	create(t,
		deployment(ns, deploymentSpec{name: "stable", version: "v1", replicas: 1}),
		deployment(ns, deploymentSpec{name: "canary", version: "v2", replicas: 1}),
		service(ns, "stable", "stable"),
		service(ns, "canary", "canary"),
		ingress(ns, "web", "web", localalb.UseAnnotationPortName, map[string]string{localalb.AnnotationActionsPrefix + "web": actionJSON(80, 20)}),
	)
	lb := albOf(t, ns, "web")
	l := listenerOn(t, aws.ToString(lb.LoadBalancerArn), 80)
	stable := targetGroupFor(t, ns+"/web-stable:80")
	canary := targetGroupFor(t, ns+"/web-canary:80")
	stableARN, canaryARN := aws.ToString(stable.TargetGroupArn), aws.ToString(canary.TargetGroupArn)
	waitWeights(t, aws.ToString(l.ListenerArn), map[string]int32{stableARN: 80, canaryARN: 20})
	waitHealthy(t, stableARN, waitReadyPods(t, ns, "stable", 1))
	waitHealthy(t, canaryARN, waitReadyPods(t, ns, "canary", 1))
	url := listenerURL(t, lb)

	// 80/20 over n requests: the canary count is Binomial(n, 0.2); accept 5 standard
	// deviations either way, so a correct split essentially never fails.
	const n = 500
	counts := countVersions(t, url, n)
	if counts["v1"]+counts["v2"] != n || counts["v2"] < 100-45 || counts["v2"] > 100+45 {
		t.Fatalf("80/20 split over %d requests gave %v; want about 400 v1 / 100 v2", n, counts)
	}
	t.Logf("80/20 split: %v", counts)

	changed := time.Now()
	setAnnotation(t, ns, "web", localalb.AnnotationActionsPrefix+"web", actionJSON(0, 100))
	waitWeights(t, aws.ToString(l.ListenerArn), map[string]int32{stableARN: 0, canaryARN: 100})
	if lag := time.Since(changed); lag < lbLag-100*time.Millisecond {
		t.Errorf("the rule changed %s after the annotation; the controller lag is %s", lag, lbLag)
	}
	poll.Slow.Eventually(t, pollTimeout, "data plane to follow the rule", func() (bool, string) {
		c := countVersions(t, url, 20)
		return c["v1"] == 0, fmt.Sprintf("last 20 requests: %v", c)
	})
	if counts := countVersions(t, url, 200); counts["v1"] != 0 || counts["v2"] != 200 {
		t.Fatalf("0/100 split gave %v; weight 0 must get no traffic", counts)
	}
}

func waitWeights(t *testing.T, listenerARN string, want map[string]int32) {
	t.Helper()
	poll.Slow.Eventually(t, pollTimeout, fmt.Sprintf("rule weights %v", want), func() (bool, string) {
		rules := rulesOf(t, listenerARN)
		if len(rules) != 1 {
			return false, fmt.Sprintf("%d rules", len(rules))
		}
		got := weights(rules[0])
		if len(got) != len(want) {
			return false, fmt.Sprintf("weights %v", got)
		}
		for arn, w := range want {
			if got[arn] != w {
				return false, fmt.Sprintf("weights %v", got)
			}
		}
		return true, ""
	})
}

func setAnnotation(t *testing.T, ns, name, key, value string) {
	t.Helper()
	var ing networkingv1.Ingress
	if err := env.Client().Get(ctxT(t), client.ObjectKey{Namespace: ns, Name: name}, &ing); err != nil {
		t.Fatal(err)
	}
	patch := client.MergeFrom(ing.DeepCopy())
	ing.Annotations[key] = value
	if err := env.Client().Patch(ctxT(t), &ing, patch); err != nil {
		t.Fatalf("patch ingress %s/%s: %v", ns, name, err)
	}
}

// Bad annotation JSON gives a Warning event naming the annotation, and the ALB keeps
// its last good configuration.
func TestBadActionJSONKeepsLastGoodState(t *testing.T) {
	needEnv(t)
	t.Parallel()
	ns := namespace(t, "badjson")
	create(t,
		deployment(ns, deploymentSpec{name: "stable", version: "v1", replicas: 1}),
		service(ns, "stable", "stable"),
		service(ns, "canary", "stable"),
		ingress(ns, "web", "web", localalb.UseAnnotationPortName, map[string]string{localalb.AnnotationActionsPrefix + "web": actionJSON(100, 0)}),
	)
	lb := albOf(t, ns, "web")
	l := listenerOn(t, aws.ToString(lb.LoadBalancerArn), 80)
	stable := targetGroupFor(t, ns+"/web-stable:80")
	canary := targetGroupFor(t, ns+"/web-canary:80")
	good := map[string]int32{aws.ToString(stable.TargetGroupArn): 100, aws.ToString(canary.TargetGroupArn): 0}
	waitWeights(t, aws.ToString(l.ListenerArn), good)

	key := localalb.AnnotationActionsPrefix + "web"
	setAnnotation(t, ns, "web", key, `{"Type":"forward","ForwardConfig":{"TargetGroups":[{"ServiceName":"stable","ServicePort":"80","Weight":50},`)
	var ev corev1.Event
	poll.Slow.Eventually(t, pollTimeout, "FailedBuildModel event", func() (bool, string) {
		var list corev1.EventList
		if err := env.Client().List(ctxT(t), &list, client.InNamespace(ns)); err != nil {
			return false, err.Error()
		}
		for _, e := range list.Items {
			if e.InvolvedObject.Kind == "Ingress" && e.InvolvedObject.Name == "web" && e.Reason == localalb.ReasonFailedBuildModel {
				ev = e
				return true, ""
			}
		}
		return false, fmt.Sprintf("%d events, none FailedBuildModel on the ingress", len(list.Items))
	})
	if ev.Type != corev1.EventTypeWarning {
		t.Errorf("event type %s, want Warning", ev.Type)
	}
	mustContain(t, ev.Message, key, "event message")
	mustContain(t, ev.Message, "JSON", "event message")
	// The event is written after the failed build; the ALB must not have changed.
	rules := rulesOf(t, aws.ToString(l.ListenerArn))
	if len(rules) != 1 {
		t.Fatalf("want the 1 rule of the last good state, got %d", len(rules))
	}
	got := weights(rules[0])
	b1, _ := json.Marshal(got)
	b2, _ := json.Marshal(good)
	if string(b1) != string(b2) {
		t.Fatalf("rule weights changed to %s after bad JSON; want the last good %s", b1, b2)
	}
	// Still serving.
	waitHealthy(t, aws.ToString(stable.TargetGroupArn), waitReadyPods(t, ns, "stable", 1))
	url := listenerURL(t, lb)
	poll.Slow.Eventually(t, pollTimeout, "traffic through the last good rule", func() (bool, string) {
		status, version, _, err := hit(url)
		return status == http.StatusOK && version == "v1", fmt.Sprintf("status %d version %q err %v", status, version, err)
	})
}

// nameSegment is how the load balancer controller writes a namespace in a
// target group's name: alphanumerics only, at most 8 of them.
func nameSegment(s string) string {
	s = regexp.MustCompile(`[^a-zA-Z0-9]`).ReplaceAllString(s, "")
	if len(s) > 8 {
		return s[:8]
	}
	return s
}
