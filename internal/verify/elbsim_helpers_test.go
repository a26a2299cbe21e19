package verify

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awselbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/albrollouts/albrollouts/internal/elbv2"
	"github.com/albrollouts/albrollouts/internal/sim/elbsim"
	"github.com/albrollouts/albrollouts/internal/sim/elbsim/elbsimtest"
)

// sim is an elbsim with helpers to build ALBs the way the AWS Load Balancer
// Controller does (tags included), through the real SDK.
type sim struct {
	t   *testing.T
	srv *elbsim.Server
	api *awselbv2.Client
}

// simTimeScale makes a 5 s health-check interval last 50 ms.
const simTimeScale = 0.01

func startSim(t *testing.T, o elbsim.Options) *sim {
	t.Helper()
	if o.TimeScale == 0 {
		o.TimeScale = simTimeScale
	}
	srv, api := elbsimtest.Start(t, o)
	return &sim{t: t, srv: srv, api: api}
}

func (s *sim) ctx() context.Context { return context.Background() }

// alb is one ALB built in elbsim.
type alb struct {
	arn, dns  string
	listeners map[int32]string // port -> listener ARN
}

func (s *sim) createALB(name string, ports ...int32) alb {
	s.t.Helper()
	out, err := s.api.CreateLoadBalancer(s.ctx(), &awselbv2.CreateLoadBalancerInput{
		Name: aws.String(name), Type: types.LoadBalancerTypeEnumApplication,
		Tags: []types.Tag{{Key: aws.String("ingress.k8s.aws/resource"), Value: aws.String("LoadBalancer")}, {Key: aws.String("elbv2.k8s.aws/cluster"), Value: aws.String("test")}},
	})
	if err != nil {
		s.t.Fatalf("CreateLoadBalancer %s: %v", name, err)
	}
	a := alb{arn: *out.LoadBalancers[0].LoadBalancerArn, dns: *out.LoadBalancers[0].DNSName, listeners: map[int32]string{}}
	for _, p := range ports {
		l, err := s.api.CreateListener(s.ctx(), &awselbv2.CreateListenerInput{
			LoadBalancerArn: aws.String(a.arn), Port: aws.Int32(p), Protocol: types.ProtocolEnumHttp,
			DefaultActions: []types.Action{{Type: types.ActionTypeEnumFixedResponse, FixedResponseConfig: &types.FixedResponseActionConfig{StatusCode: aws.String("404"), ContentType: aws.String("text/plain")}}},
		})
		if err != nil {
			s.t.Fatalf("CreateListener :%d: %v", p, err)
		}
		a.listeners[p] = *l.Listeners[0].ListenerArn
	}
	return a
}

// createTG creates an ip target group tagged for <ns>/<ingress>-<service>:<port>.
func (s *sim) createTG(name, resourceTag string) string {
	s.t.Helper()
	in := &awselbv2.CreateTargetGroupInput{
		Name: aws.String(name), Protocol: types.ProtocolEnumHttp, Port: aws.Int32(8080), TargetType: types.TargetTypeEnumIp,
		HealthCheckPath: aws.String("/healthz"), HealthCheckIntervalSeconds: aws.Int32(5), HealthCheckTimeoutSeconds: aws.Int32(2),
		HealthyThresholdCount: aws.Int32(2), UnhealthyThresholdCount: aws.Int32(2), Matcher: &types.Matcher{HttpCode: aws.String("200")},
	}
	if resourceTag != "" {
		in.Tags = []types.Tag{{Key: aws.String(ResourceTag), Value: aws.String(resourceTag)}, {Key: aws.String("elbv2.k8s.aws/cluster"), Value: aws.String("test")}}
	}
	out, err := s.api.CreateTargetGroup(s.ctx(), in)
	if err != nil {
		s.t.Fatalf("CreateTargetGroup %s: %v", name, err)
	}
	arn := *out.TargetGroups[0].TargetGroupArn
	// A long deregistration delay (1000 s, 10 s scaled) keeps draining targets observable.
	if _, err := s.api.ModifyTargetGroupAttributes(s.ctx(), &awselbv2.ModifyTargetGroupAttributesInput{TargetGroupArn: aws.String(arn),
		Attributes: []types.TargetGroupAttribute{{Key: aws.String("deregistration_delay.timeout_seconds"), Value: aws.String("1000")}}}); err != nil {
		s.t.Fatalf("ModifyTargetGroupAttributes %s: %v", name, err)
	}
	return arn
}

func forwardAction(fwd []elbv2.WeightedTargetGroup) []types.Action {
	var tuples []types.TargetGroupTuple
	for _, w := range fwd {
		tuples = append(tuples, types.TargetGroupTuple{TargetGroupArn: aws.String(w.ARN), Weight: aws.Int32(w.Weight)})
	}
	return []types.Action{{Type: types.ActionTypeEnumForward, ForwardConfig: &types.ForwardActionConfig{TargetGroups: tuples}}}
}

func (s *sim) createRule(listener string, priority int32, fwd ...elbv2.WeightedTargetGroup) string {
	s.t.Helper()
	out, err := s.api.CreateRule(s.ctx(), &awselbv2.CreateRuleInput{
		ListenerArn: aws.String(listener), Priority: aws.Int32(priority), Actions: forwardAction(fwd),
		Conditions: []types.RuleCondition{{Field: aws.String("path-pattern"), PathPatternConfig: &types.PathPatternConditionConfig{Values: []string{fmt.Sprintf("/p%d/*", priority)}}}},
	})
	if err != nil {
		s.t.Fatalf("CreateRule: %v", err)
	}
	return *out.Rules[0].RuleArn
}

func (s *sim) modifyRule(rule string, fwd ...elbv2.WeightedTargetGroup) {
	s.t.Helper()
	if _, err := s.api.ModifyRule(s.ctx(), &awselbv2.ModifyRuleInput{RuleArn: aws.String(rule), Actions: forwardAction(fwd)}); err != nil {
		s.t.Fatalf("ModifyRule: %v", err)
	}
}

func (s *sim) register(tg string, ts ...Target) {
	s.t.Helper()
	var descs []types.TargetDescription
	for _, t := range ts {
		descs = append(descs, types.TargetDescription{Id: aws.String(t.ID), Port: aws.Int32(t.Port)})
	}
	if _, err := s.api.RegisterTargets(s.ctx(), &awselbv2.RegisterTargetsInput{TargetGroupArn: aws.String(tg), Targets: descs}); err != nil {
		s.t.Fatalf("RegisterTargets: %v", err)
	}
}

func (s *sim) deregister(tg string, ts ...Target) {
	s.t.Helper()
	var descs []types.TargetDescription
	for _, t := range ts {
		descs = append(descs, types.TargetDescription{Id: aws.String(t.ID), Port: aws.Int32(t.Port)})
	}
	if _, err := s.api.DeregisterTargets(s.ctx(), &awselbv2.DeregisterTargetsInput{TargetGroupArn: aws.String(tg), Targets: descs}); err != nil {
		s.t.Fatalf("DeregisterTargets: %v", err)
	}
}

// backend is a real HTTP server on 127.0.0.1 whose /healthz answers 200
// while healthy is set, 500 otherwise.
type backend struct {
	srv     *httptest.Server
	healthy atomic.Bool
	target  Target
}

func newBackend(t *testing.T) *backend {
	t.Helper()
	b := &backend{}
	b.healthy.Store(true)
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" && !b.healthy.Load() {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		_, _ = w.Write([]byte("ok"))
	}))
	t.Cleanup(b.srv.Close)
	host, port, err := net.SplitHostPort(b.srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	p, err := strconv.Atoi(port)
	if err != nil {
		t.Fatal(err)
	}
	b.target = Target{ID: host, Port: int32(p)}
	return b
}

func backends(t *testing.T, n int) []Target {
	var ts []Target
	for range n {
		ts = append(ts, newBackend(t).target)
	}
	return ts
}

// rollout is one canary rollout's ALB setup: a canary and a stable group of
// ingress demo/<ingress> and one rule per listener forwarding to them.
type rollout struct {
	ingress        string
	alb            alb
	canary, stable string
	rules          map[int32]string
	canaryTargets  []Target
	stableTargets  []Target
}

func (s *sim) createRollout(a alb, ingress string, priority int32, canaryTargets, stableTargets []Target) *rollout {
	s.t.Helper()
	r := &rollout{ingress: ingress, alb: a, rules: map[int32]string{}, canaryTargets: canaryTargets, stableTargets: stableTargets}
	r.canary = s.createTG("k8s-"+ingress+"-canary", ResourceTagValue("demo", ingress, "web-canary", "80"))
	r.stable = s.createTG("k8s-"+ingress+"-stable", ResourceTagValue("demo", ingress, "web-stable", "80"))
	for port, l := range a.listeners {
		r.rules[port] = s.createRule(l, priority, elbv2.WeightedTargetGroup{ARN: r.canary, Weight: 0}, elbv2.WeightedTargetGroup{ARN: r.stable, Weight: 100})
	}
	if len(canaryTargets) > 0 {
		s.register(r.canary, canaryTargets...)
	}
	if len(stableTargets) > 0 {
		s.register(r.stable, stableTargets...)
	}
	return r
}

// setWeights writes the weights on every listener's rule, as the LBC would.
func (s *sim) setWeights(r *rollout, canary, stable int32) {
	s.t.Helper()
	for _, rule := range r.rules {
		s.modifyRule(rule, elbv2.WeightedTargetGroup{ARN: r.canary, Weight: canary}, elbv2.WeightedTargetGroup{ARN: r.stable, Weight: stable})
	}
}

func (r *rollout) input(canary, stable int32, desiredAt time.Time) Input {
	return Input{
		Namespace: "demo", Ingresses: []Ingress{{Name: r.ingress, Hostname: r.alb.dns}}, ActionName: "web-stable", ServicePort: "80",
		Destinations: []Destination{
			{Role: RoleCanary, Service: "web-canary", Weight: canary, Targets: r.canaryTargets},
			{Role: RoleStable, Service: "web-stable", Weight: stable, Targets: r.stableTargets},
		},
		DesiredAt: desiredAt, Timeout: 60 * time.Second,
	}
}

// newSimVerifier returns a verifier on a provider using the test's SDK client
// with a short cache so that polls see changes quickly.
func (s *sim) newVerifier(o elbv2.Options) (*Verifier, *elbv2.Provider) {
	if o.Region == "" {
		o.Region = "us-east-1"
	}
	if o.CacheTTL == 0 {
		o.CacheTTL = 100 * time.Millisecond
	}
	if o.Registerer == nil {
		o.Registerer = prometheus.NewRegistry()
	}
	p := elbv2.NewWithAPI(s.api, o)
	return New(p, Options{}), p
}

// pollVerify checks until done(res) or the deadline, waiting the verifier's
// NextCheck (at most 100 ms, to keep tests quick) between checks, as a
// controller requeues. Call it from the test goroutine only.
func pollVerify(t *testing.T, v *Verifier, in Input, within time.Duration, done func(Result) bool) Result {
	t.Helper()
	res, err := poll(v, in, within, 100*time.Millisecond, done)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s %s: %s", res.Outcome, res.Reason, res.Message)
	return res
}

// poll is pollVerify for any goroutine; maxWait caps the wait between checks
// (0: wait the full NextCheck).
func poll(v *Verifier, in Input, within, maxWait time.Duration, done func(Result) bool) (Result, error) {
	deadline := time.Now().Add(within)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		res := v.Verify(ctx, in)
		cancel()
		if done(res) {
			return res, nil
		}
		if time.Now().After(deadline) {
			return res, fmt.Errorf("not reached within %v; last: %s %s: %s", within, res.Outcome, res.Reason, res.Message)
		}
		wait := max(res.NextCheck, 10*time.Millisecond)
		if maxWait > 0 {
			wait = min(wait, maxWait)
		}
		<-time.After(wait)
	}
}

// pendingWith matches a Pending result whose message contains every part.
func pendingWith(parts ...string) func(Result) bool {
	return func(r Result) bool {
		if r.Outcome != Pending {
			return false
		}
		for _, p := range parts {
			if !strings.Contains(r.Message, p) {
				return false
			}
		}
		return true
	}
}

func outcomeIs(o Outcome, reason string) func(Result) bool {
	return func(r Result) bool { return r.Outcome == o && (reason == "" || r.Reason == reason) }
}

// actionCalls returns elbsim's count of calls of each Describe action.
func (s *sim) actionCalls() map[string]int64 {
	out := map[string]int64{}
	for a, st := range s.srv.Stats().Actions {
		out[a] = st.Calls
	}
	return out
}
