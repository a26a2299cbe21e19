package elbsim_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/albrollouts/albrollouts/internal/sim/elbsim"
	"github.com/albrollouts/albrollouts/internal/sim/poll"
)

// TestAdminObservability checks /_elbsim/listeners, /_elbsim/stats and /_elbsim/metrics after real traffic.
func TestAdminObservability(t *testing.T) {
	e := newEnv(t, elbsim.Options{})
	lb := e.lb("obs")
	tg := e.tg("obs", fastChecks)
	e.listener(lb.LoadBalancerArn, 80, types.Action{Type: types.ActionTypeEnumForward, TargetGroupArn: tg.TargetGroupArn})
	be := newBackend(t, "hello")
	e.register(tg.TargetGroupArn, be.target())
	e.waitHealthy(tg.TargetGroupArn, 1)
	url := e.listenerURL(lb.DNSName, 80)
	if got := sendRequests(t, url, 10, 1); got["hello"] != 10 {
		t.Fatalf("responses %v", got)
	}

	var listeners map[string]map[string]string
	if err := json.Unmarshal(adminDo(t, "GET", e.s.Endpoint()+"/_elbsim/listeners", "", 200), &listeners); err != nil || listeners[*lb.DNSName]["80"] != url {
		t.Fatalf("listeners: %v %v, want %s -> 80 -> %s", err, listeners, *lb.DNSName, url)
	}
	var stats elbsim.Stats
	if err := json.Unmarshal(adminDo(t, "GET", e.s.Endpoint()+"/_elbsim/stats", "", 200), &stats); err != nil {
		t.Fatal(err)
	}
	g := stats.TargetGroups[*tg.TargetGroupArn]
	if g.Requests != 10 || g.ByStatus["200"] != 10 || g.ByTarget[fmt.Sprintf("%s:%d", be.ip, be.port)] != 10 || stats.Actions["CreateListener"].Calls != 1 {
		t.Fatalf("stats: %+v", stats)
	}
	metrics := string(adminDo(t, "GET", e.s.Endpoint()+"/_elbsim/metrics", "", 200))
	for _, want := range []string{
		`elbsim_api_calls_total{action="CreateLoadBalancer"} 1`,
		fmt.Sprintf(`elbsim_target_group_requests_total{target_group="%s"} 10`, *tg.TargetGroupArn),
		fmt.Sprintf(`elbsim_target_group_responses_total{code="200",target_group="%s"} 10`, *tg.TargetGroupArn),
		"# TYPE elbsim_api_throttled_total counter",
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %q:\n%s", want, metrics)
		}
	}

	// A target made to fail its health checks turns unhealthy, then recovers.
	adminPost(t, e.s.Endpoint()+"/_elbsim/faults/target-failing", fmt.Sprintf(`{"ip":%q,"port":%d}`, be.ip, be.port), 200)
	poll.Until(t, 30*time.Second, "the failing target to turn unhealthy", func() bool {
		h := e.health(tg.TargetGroupArn)
		return h[0].TargetHealth.State == types.TargetHealthStateEnumUnhealthy && h[0].TargetHealth.Reason == types.TargetHealthReasonEnumResponseCodeMismatch
	})
	adminDo(t, "DELETE", e.s.Endpoint()+"/_elbsim/faults/target-failing", "", 200)
	e.waitHealthy(tg.TargetGroupArn, 1)
}

// TestAdminPropagationDelay changes the propagation delay at run time: a
// weight change is visible to Describe* at once but reaches the data plane
// only after the delay; DELETE restores the configured delay.
func TestAdminPropagationDelay(t *testing.T) {
	e := newEnv(t, elbsim.Options{PropagationDelay: 0})
	adminPost(t, e.s.Endpoint()+"/_elbsim/faults/propagation", `{"delay":"1h"}`, 200)
	if got := e.s.PropagationDelay(); got != time.Hour {
		t.Fatalf("delay %s after POST, want 1h", got)
	}
	lb := e.lb("prop")
	tg := e.tg("prop", fastChecks)
	e.listener(lb.LoadBalancerArn, 80, types.Action{Type: types.ActionTypeEnumForward, TargetGroupArn: tg.TargetGroupArn})
	// An hour's delay: the listener is described but never reaches the data plane.
	if _, ok := e.s.ListenerURL(*lb.DNSName, 80); ok {
		t.Fatal("the listener reached the data plane despite the delay")
	}
	adminPost(t, e.s.Endpoint()+"/_elbsim/faults/propagation", `{"delay":"soon"}`, 400)
	adminDo(t, "DELETE", e.s.Endpoint()+"/_elbsim/faults/propagation", "", 200)
	if got := e.s.PropagationDelay(); got != 0 {
		t.Fatalf("delay %s after DELETE, want the configured 0", got)
	}
	// The next change carries everything to the data plane without delay.
	e.listener(lb.LoadBalancerArn, 81, types.Action{Type: types.ActionTypeEnumForward, TargetGroupArn: tg.TargetGroupArn})
	poll.Until(t, 30*time.Second, "both listeners to reach the data plane once the delay is gone", func() bool {
		_, ok80 := e.s.ListenerURL(*lb.DNSName, 80)
		_, ok81 := e.s.ListenerURL(*lb.DNSName, 81)
		return ok80 && ok81
	})
}
