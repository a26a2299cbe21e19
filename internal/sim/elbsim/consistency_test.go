package elbsim_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/albrollouts/albrollouts/internal/sim/elbsim"
	"github.com/albrollouts/albrollouts/internal/sim/elbsim/elbsimtest"
	"github.com/albrollouts/albrollouts/internal/sim/poll"
)

// TestDescribeDelay: Describe* answers lag changes by DescribeDelay (driven by a fake clock).
func TestDescribeDelay(t *testing.T) {
	clk := elbsim.NewFakeClock()
	e := newEnv(t, elbsim.WithClock(elbsim.Options{DescribeDelay: 5 * time.Second}, clk))
	lb := e.lb("slow")
	if _, err := e.c.DescribeLoadBalancers(e.ctx, &elbv2.DescribeLoadBalancersInput{Names: []string{"slow"}}); apiCode(err) != "LoadBalancerNotFound" {
		t.Fatalf("a new load balancer is not described before the delay: %v", err)
	}
	blue, green := e.tg("blue"), e.tg("green")
	l := e.listener(lb.LoadBalancerArn, 80, forward(weighted{blue.TargetGroupArn, 100}, weighted{green.TargetGroupArn, 0}))
	clk.Advance(5 * time.Second)
	if got := describedWeights(t, e, l.ListenerArn); got != "100,0" {
		t.Fatalf("after the delay: weights %s", got)
	}
	if _, err := e.c.ModifyListener(e.ctx, &elbv2.ModifyListenerInput{ListenerArn: l.ListenerArn,
		DefaultActions: []types.Action{forward(weighted{blue.TargetGroupArn, 20}, weighted{green.TargetGroupArn, 80})}}); err != nil {
		t.Fatal(err)
	}
	clk.Advance(4 * time.Second)
	if got := describedWeights(t, e, l.ListenerArn); got != "100,0" {
		t.Fatalf("4 s after ModifyListener (delay 5 s): weights %s, want the old 100,0", got)
	}
	clk.Advance(time.Second)
	if got := describedWeights(t, e, l.ListenerArn); got != "20,80" {
		t.Fatalf("5 s after ModifyListener: weights %s, want 20,80", got)
	}
	// The data plane is not delayed: it runs the latest version.
	if st := e.s.Stats(); st.VisibleVersion != st.ModelVersion {
		t.Fatalf("versions %+v", st)
	}
	poll.Until(t, 30*time.Second, "the data plane to apply the latest version", func() bool { st := e.s.Stats(); return st.AppliedVersion == st.ModelVersion })
}

func describedWeights(t *testing.T, e *env, listenerARN *string) string {
	t.Helper()
	out, err := e.c.DescribeListeners(e.ctx, &elbv2.DescribeListenersInput{ListenerArns: []string{*listenerARN}})
	if err != nil {
		t.Fatalf("DescribeListeners: %v", err)
	}
	return weights(out.Listeners[0].DefaultActions[0])
}

// TestPropagationDelay: the data plane and prober get changes PropagationDelay
// later; in the meantime DescribeTargetHealth shows a new target as
// initial / Elb.RegistrationInProgress, as AWS does.
func TestPropagationDelay(t *testing.T) {
	clk := elbsim.NewFakeClock()
	e := newEnv(t, elbsim.WithClock(elbsim.Options{PropagationDelay: 3 * time.Second}, clk))
	lb := e.lb("prop")
	tg := e.tg("prop", fastChecks)
	e.listener(lb.LoadBalancerArn, 80, types.Action{Type: types.ActionTypeEnumForward, TargetGroupArn: tg.TargetGroupArn})
	be := newBackend(t, "ok")
	e.register(tg.TargetGroupArn, be.target())
	hs := e.health(tg.TargetGroupArn)
	if len(hs) != 1 || hs[0].TargetHealth.State != types.TargetHealthStateEnumInitial || hs[0].TargetHealth.Reason != types.TargetHealthReasonEnumRegistrationInProgress {
		t.Fatalf("before propagation: %+v", hs)
	}
	if _, ok := e.s.ListenerURL(*lb.DNSName, 80); ok {
		t.Fatal("the listener reached the data plane before the propagation delay")
	}
	if st := e.s.Stats(); st.AppliedVersion != 0 {
		t.Fatalf("applied version %d before the delay", st.AppliedVersion)
	}
	clk.Advance(3 * time.Second)
	e.listenerURL(lb.DNSName, 80)
	e.waitHealthy(tg.TargetGroupArn, 1)

	// Deregistration: Describe* shows it at once; until the prober hears of it the target shows as draining.
	if _, err := e.c.DeregisterTargets(e.ctx, &elbv2.DeregisterTargetsInput{TargetGroupArn: tg.TargetGroupArn, Targets: []types.TargetDescription{be.target()}}); err != nil {
		t.Fatal(err)
	}
	hs = e.health(tg.TargetGroupArn)
	if len(hs) != 1 || hs[0].TargetHealth.State != types.TargetHealthStateEnumDraining {
		t.Fatalf("deregistered but not yet propagated: %+v", hs)
	}
}

// TestBatchingThroughServer: with Batching, a second change within 10 s (scaled) waits for the window boundary.
func TestBatchingThroughServer(t *testing.T) {
	clk := elbsim.NewFakeClock()
	e := newEnv(t, elbsim.WithClock(elbsim.Options{Batching: true, TimeScale: 0.1}, clk)) // window 1 s
	e.lb("batch-1")
	poll.Until(t, 30*time.Second, "the first change, released at once", func() bool { return e.s.Stats().AppliedVersion == 1 })
	e.lb("batch-2")
	e.lb("batch-3")
	clk.Advance(999 * time.Millisecond)
	if v := e.s.Stats().AppliedVersion; v != 1 {
		t.Fatalf("applied version %d inside the batching window", v)
	}
	clk.Advance(time.Millisecond)
	poll.Until(t, 30*time.Second, "both batched changes at the boundary", func() bool { return e.s.Stats().AppliedVersion == 3 })
}

// TestStateFileRoundTrip: everything survives Close and Start with the same state file.
func TestStateFileRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "elbsim.json")
	o := elbsim.Options{StateFile: path, TimeScale: 0.01}
	e := newEnv(t, o)
	lb := e.lb("keep")
	tg := e.tg("keep", fastChecks)
	l := e.listener(lb.LoadBalancerArn, 80, forward(weighted{tg.TargetGroupArn, 7}))
	if _, err := e.c.AddTags(e.ctx, &elbv2.AddTagsInput{ResourceArns: []string{*tg.TargetGroupArn}, Tags: []types.Tag{{Key: aws.String("ingress.k8s.aws/stack"), Value: aws.String("ns/app")}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.c.ModifyTargetGroupAttributes(e.ctx, &elbv2.ModifyTargetGroupAttributesInput{TargetGroupArn: tg.TargetGroupArn,
		Attributes: []types.TargetGroupAttribute{{Key: aws.String("deregistration_delay.timeout_seconds"), Value: aws.String("42")}}}); err != nil {
		t.Fatal(err)
	}
	be := newBackend(t, "ok")
	e.register(tg.TargetGroupArn, be.target())
	e.waitHealthy(tg.TargetGroupArn, 1)
	if err := e.s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	s2, c2 := elbsimtest.Start(t, o)
	ctx := context.Background()
	lbs, err := c2.DescribeLoadBalancers(ctx, &elbv2.DescribeLoadBalancersInput{Names: []string{"keep"}})
	if err != nil || *lbs.LoadBalancers[0].LoadBalancerArn != *lb.LoadBalancerArn || *lbs.LoadBalancers[0].DNSName != *lb.DNSName {
		t.Fatalf("load balancer after restart: %v %+v", err, lbs)
	}
	ls, err := c2.DescribeListeners(ctx, &elbv2.DescribeListenersInput{LoadBalancerArn: lb.LoadBalancerArn})
	if err != nil || *ls.Listeners[0].ListenerArn != *l.ListenerArn || weights(ls.Listeners[0].DefaultActions[0]) != "7" {
		t.Fatalf("listener after restart: %v %+v", err, ls)
	}
	tags, err := c2.DescribeTags(ctx, &elbv2.DescribeTagsInput{ResourceArns: []string{*tg.TargetGroupArn}})
	if err != nil || tagMap(tags.TagDescriptions[0].Tags)["ingress.k8s.aws/stack"] != "ns/app" {
		t.Fatalf("tags after restart: %v %+v", err, tags)
	}
	attrs, err := c2.DescribeTargetGroupAttributes(ctx, &elbv2.DescribeTargetGroupAttributesInput{TargetGroupArn: tg.TargetGroupArn})
	if err != nil || attr(attrs.Attributes, "deregistration_delay.timeout_seconds") != "42" {
		t.Fatalf("attributes after restart: %v", err)
	}
	hs, err := c2.DescribeTargetHealth(ctx, &elbv2.DescribeTargetHealthInput{TargetGroupArn: tg.TargetGroupArn})
	if err != nil || len(hs.TargetHealthDescriptions) != 1 || hs.TargetHealthDescriptions[0].TargetHealth.State != types.TargetHealthStateEnumHealthy {
		t.Fatalf("target health after restart (kept from the state file): %v %+v", err, hs)
	}
	// A new object gets a fresh id, not one of the restored ones.
	tg2, err := c2.CreateTargetGroup(ctx, &elbv2.CreateTargetGroupInput{Name: aws.String("new"), Protocol: types.ProtocolEnumHttp, Port: aws.Int32(80), TargetType: types.TargetTypeEnumIp})
	if err != nil || *tg2.TargetGroups[0].TargetGroupArn == *tg.TargetGroupArn {
		t.Fatalf("CreateTargetGroup after restart: %v", err)
	}
	// The listener serves again (on a new port).
	poll.Until(t, 30*time.Second, "the restored listener on the data plane", func() bool { _, ok := s2.ListenerURL(*lb.DNSName, 80); return ok })
}
