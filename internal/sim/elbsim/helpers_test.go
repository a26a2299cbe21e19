package elbsim_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/aws/smithy-go"

	"github.com/albrollouts/albrollouts/internal/sim/elbsim"
	"github.com/albrollouts/albrollouts/internal/sim/elbsim/elbsimtest"
	"github.com/albrollouts/albrollouts/internal/sim/poll"
)

// env is an elbsim with an SDK client and helpers that fail the test on error.
type env struct {
	t   testing.TB
	s   *elbsim.Server
	c   *elbv2.Client
	ctx context.Context
}

func newEnv(t testing.TB, o elbsim.Options) *env {
	t.Helper()
	if o.TimeScale == 0 {
		o.TimeScale = 0.01
	}
	s, c := elbsimtest.Start(t, o)
	return &env{t: t, s: s, c: c, ctx: context.Background()}
}

func (e *env) lb(name string) types.LoadBalancer {
	e.t.Helper()
	out, err := e.c.CreateLoadBalancer(e.ctx, &elbv2.CreateLoadBalancerInput{Name: aws.String(name)})
	if err != nil {
		e.t.Fatalf("CreateLoadBalancer %s: %v", name, err)
	}
	return out.LoadBalancers[0]
}

func (e *env) tg(name string, mods ...func(*elbv2.CreateTargetGroupInput)) types.TargetGroup {
	e.t.Helper()
	in := &elbv2.CreateTargetGroupInput{Name: aws.String(name), Protocol: types.ProtocolEnumHttp, Port: aws.Int32(8080),
		TargetType: types.TargetTypeEnumIp, VpcId: aws.String("vpc-0123456789abcdef0")}
	for _, m := range mods {
		m(in)
	}
	out, err := e.c.CreateTargetGroup(e.ctx, in)
	if err != nil {
		e.t.Fatalf("CreateTargetGroup %s: %v", name, err)
	}
	return out.TargetGroups[0]
}

// fastChecks makes health checks quick under TimeScale 0.01: every 50 ms, healthy after 2 passes.
func fastChecks(in *elbv2.CreateTargetGroupInput) {
	in.HealthCheckIntervalSeconds = aws.Int32(5)
	in.HealthCheckTimeoutSeconds = aws.Int32(4)
	in.HealthyThresholdCount = aws.Int32(2)
	in.HealthCheckPath = aws.String("/health")
}

func (e *env) listener(lbARN *string, port int32, def types.Action) types.Listener {
	e.t.Helper()
	out, err := e.c.CreateListener(e.ctx, &elbv2.CreateListenerInput{LoadBalancerArn: lbARN, Port: aws.Int32(port),
		Protocol: types.ProtocolEnumHttp, DefaultActions: []types.Action{def}})
	if err != nil {
		e.t.Fatalf("CreateListener: %v", err)
	}
	return out.Listeners[0]
}

func (e *env) register(tgARN *string, targets ...types.TargetDescription) {
	e.t.Helper()
	if _, err := e.c.RegisterTargets(e.ctx, &elbv2.RegisterTargetsInput{TargetGroupArn: tgARN, Targets: targets}); err != nil {
		e.t.Fatalf("RegisterTargets: %v", err)
	}
}

func (e *env) health(tgARN *string) []types.TargetHealthDescription {
	e.t.Helper()
	out, err := e.c.DescribeTargetHealth(e.ctx, &elbv2.DescribeTargetHealthInput{TargetGroupArn: tgARN})
	if err != nil {
		e.t.Fatalf("DescribeTargetHealth: %v", err)
	}
	return out.TargetHealthDescriptions
}

// waitHealthy polls DescribeTargetHealth until every registered target of the group is healthy.
func (e *env) waitHealthy(tgARN *string, n int) {
	e.t.Helper()
	poll.Until(e.t, 30*time.Second, fmt.Sprintf("%d healthy targets in %s", n, *tgARN), func() bool {
		hs := e.health(tgARN)
		ok := len(hs) == n
		for _, h := range hs {
			ok = ok && h.TargetHealth.State == types.TargetHealthStateEnumHealthy
		}
		return ok
	})
}

// listenerURL waits for the listener to reach the data plane.
func (e *env) listenerURL(dns *string, port int32) string {
	e.t.Helper()
	var u string
	poll.Until(e.t, 30*time.Second, fmt.Sprintf("listener %s:%d on the data plane", *dns, port), func() bool {
		var ok bool
		u, ok = e.s.ListenerURL(*dns, port)
		return ok
	})
	return u
}

type weighted struct {
	arn    *string
	weight int32
}

func forward(groups ...weighted) types.Action {
	fc := &types.ForwardActionConfig{}
	for _, g := range groups {
		fc.TargetGroups = append(fc.TargetGroups, types.TargetGroupTuple{TargetGroupArn: g.arn, Weight: aws.Int32(g.weight)})
	}
	return types.Action{Type: types.ActionTypeEnumForward, ForwardConfig: fc}
}

func target(ip string, port int32) types.TargetDescription {
	return types.TargetDescription{Id: aws.String(ip), Port: aws.Int32(port)}
}

// backend is a real HTTP server on 127.0.0.1 answering body on every path and counting requests (not health checks).
type backend struct {
	srv  *httptest.Server
	ip   string
	port int32
	hits atomic.Int64
}

func newBackend(t testing.TB, body string) *backend {
	t.Helper()
	b := &backend{}
	b.serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/health" {
			b.hits.Add(1)
		}
		_, _ = w.Write([]byte(body))
	}))
	return b
}

// serve starts h on 127.0.0.1 for the rest of the test.
func (b *backend) serve(t testing.TB, h http.Handler) {
	t.Helper()
	b.srv = httptest.NewServer(h)
	t.Cleanup(b.srv.Close)
	host, port, err := net.SplitHostPort(b.srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	p, _ := strconv.Atoi(port)
	b.ip, b.port = host, int32(p)
}

func (b *backend) target() types.TargetDescription { return target(b.ip, b.port) }

// apiCode returns the AWS error code of err ("" if none).
func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}
