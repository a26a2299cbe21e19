// Package bench measures what verifying a weight change costs when many
// rollouts share one AWS account: an in-process elbsim with AWS's Describe
// limits (token bucket of 40, 10 per second), N rollouts spread over M ALBs,
// each writing a weight change and polling until it is verified. It runs
// three phases in the same elbsim:
//
//   - "albrollouts": the verify package through one shared elbv2.Provider
//     (rate limit, priorities, coalescing, caches), checking again after
//     each result's NextCheck as the controller does;
//   - "naive": the per-rollout call chain of Argo Rollouts' verifier — a new
//     client per check, DescribeLoadBalancers scan, DescribeTargetGroups,
//     DescribeTags (20 per call), DescribeListeners, DescribeRules per
//     listener, canary weight only — re-checked every 10 s (Argo's interval;
//     errors are retried at the same interval, which is kinder than Argo's
//     15-minute resync);
//   - "albrollouts + load balancer controller": albrollouts again (a new
//     provider, nothing cached) while another client makes Describe* calls
//     at Config.LBCRate per second, as the AWS Load Balancer Controller does
//     in the same account, sharing its Describe* budget.
//
// For each phase it reports the ELBv2 calls elbsim received per verification
// (the other client's are counted apart), how many were throttled, by
// Action, and the time from the ALB applying the change (ModifyRule
// answered) to the verdict (p50/p99/max).
package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awselbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/albrollouts/albrollouts/internal/elbv2"
	"github.com/albrollouts/albrollouts/internal/sim/elbsim"
	"github.com/albrollouts/albrollouts/internal/sim/elbsim/faults"
	"github.com/albrollouts/albrollouts/internal/verify"
)

// Config sizes a run. Zero fields take the defaults in parentheses.
type Config struct {
	Rollouts  int     // rollouts (1000)
	ALBs      int     // load balancers the rollouts are spread over (10)
	Listeners int     // listeners per ALB, each with one rule per rollout (2)
	TimeScale float64 // elbsim health-check time scale (0.01)
	// Spread: the weight changes start evenly over this window (10 s).
	Spread time.Duration
	// MaxDuration caps each phase; rollouts not verified by then are
	// reported as such (10 min).
	MaxDuration time.Duration
	// NaiveInterval is the naive chain's re-check interval (10 s, Argo's).
	NaiveInterval time.Duration
	// LBCRate is the Describe* calls per second another client (the load
	// balancer controller) makes during the third phase (2).
	LBCRate float64
	// SkipOurs / SkipNaive / SkipShared leave a phase out.
	SkipOurs, SkipNaive, SkipShared bool
	// Provider tunes the shared provider (rate limit, caches); Region,
	// endpoint and credentials are set by the bench.
	Provider elbv2.Options
	// FreshHealthForAll reads every group with traffic healthy after each
	// change, the rule before verify.Destination.VerifiedWeight (for a
	// before/after comparison); by default a group whose weight falls is
	// judged on the last health read.
	FreshHealthForAll bool
	// Log receives progress lines; nil discards them.
	Log io.Writer
}

func (c *Config) setDefaults() {
	if c.Rollouts <= 0 {
		c.Rollouts = 1000
	}
	if c.ALBs <= 0 {
		c.ALBs = 10
	}
	if c.Listeners <= 0 {
		c.Listeners = 2
	}
	if c.TimeScale <= 0 {
		c.TimeScale = 0.01
	}
	if c.Spread <= 0 {
		c.Spread = 10 * time.Second
	}
	if c.MaxDuration <= 0 {
		c.MaxDuration = 10 * time.Minute
	}
	if c.NaiveInterval <= 0 {
		c.NaiveInterval = 10 * time.Second
	}
	if c.LBCRate <= 0 {
		c.LBCRate = 2
	}
	if c.Log == nil {
		c.Log = io.Discard
	}
}

// Phase is the outcome of one phase.
type Phase struct {
	Name      string
	Rollouts  int
	Verified  int
	Calls     int64 // Describe* calls elbsim received, throttled ones included
	Throttled int64
	// ByOperation splits Calls by ELBv2 operation, ThrottledByOperation
	// Throttled.
	ByOperation, ThrottledByOperation map[string]int64
	// Others are the calls of the other client (the load balancer
	// controller) in the same phase, not counted above.
	Others Background
	// Latencies from the ALB applying the change to Verified, sorted.
	Latencies []time.Duration
	Wall      time.Duration
}

// CallsPerVerification is Calls divided by the number of rollouts.
func (p Phase) CallsPerVerification() float64 { return float64(p.Calls) / float64(max(p.Rollouts, 1)) }

// Percentile returns the q-th percentile (0-1) of the latencies, counting
// unverified rollouts as slower than any verified one; ok is false then.
func (p Phase) Percentile(q float64) (d time.Duration, ok bool) {
	idx := int(q*float64(p.Rollouts)+0.5) - 1
	idx = max(0, min(idx, p.Rollouts-1))
	if idx >= len(p.Latencies) {
		return 0, false
	}
	return p.Latencies[idx], true
}

// Background is what the other client sharing the account did.
type Background struct {
	Rate      float64 // calls per second it aimed at
	Calls     int64
	Throttled int64
}

// Report is the result of Run.
type Report struct {
	Config Config
	Phases []Phase
}

// rollout is one rollout's ALB objects.
type rollout struct {
	name           string
	dns            string
	lbARN          string
	listeners      []string
	canary, stable string
	rules          []string
	canaryTargets  []verify.Target
	stableTargets  []verify.Target
}

// env is the running elbsim with its rollouts.
type env struct {
	cfg      Config
	srv      *elbsim.Server
	admin    *awselbv2.Client
	awsCfg   aws.Config
	rollouts []*rollout
	backends []*http.Server
	// verified are the weights each rollout's last phase verified (the
	// rules start at canary 0, stable 100).
	verified [2]int32
}

const (
	region    = "us-east-1"
	namespace = "bench"
)

// Run builds the environment and runs the phases.
func Run(ctx context.Context, cfg Config) (Report, error) {
	cfg.setDefaults()
	e, err := setup(ctx, cfg)
	if err != nil {
		return Report{}, err
	}
	defer e.close()
	e.verified = [2]int32{0, 100}
	rep := Report{Config: cfg}
	ours := func() (checker, error) {
		po := cfg.Provider
		po.Region, po.EndpointURL, po.Credentials = region, e.srv.Endpoint(), e.awsCfg.Credentials
		prov, err := elbv2.New(ctx, po)
		if err != nil {
			return nil, err
		}
		return e.ourChecker(verify.New(prov, verify.Options{})), nil
	}
	if !cfg.SkipOurs {
		check, err := ours()
		if err != nil {
			return rep, err
		}
		p, err := e.phase(ctx, PhaseOurs, 25, 75, check, 0)
		if err != nil {
			return rep, err
		}
		rep.Phases = append(rep.Phases, p)
	}
	if !cfg.SkipNaive {
		p, err := e.phase(ctx, PhaseNaive, 50, 50, e.naiveChecker, 0)
		if err != nil {
			return rep, err
		}
		rep.Phases = append(rep.Phases, p)
	}
	if !cfg.SkipShared {
		check, err := ours()
		if err != nil {
			return rep, err
		}
		p, err := e.phase(ctx, PhaseShared, 75, 25, check, cfg.LBCRate)
		if err != nil {
			return rep, err
		}
		rep.Phases = append(rep.Phases, p)
	}
	return rep, nil
}

// The names of the phases.
const (
	PhaseOurs   = "albrollouts (shared provider)"
	PhaseNaive  = "naive per-rollout chain"
	PhaseShared = "albrollouts + load balancer controller"
)

func setup(ctx context.Context, cfg Config) (*env, error) {
	srv, err := elbsim.Start(ctx, elbsim.Options{Listen: "127.0.0.1:0", Region: region, TimeScale: cfg.TimeScale})
	if err != nil {
		return nil, fmt.Errorf("starting elbsim: %w", err)
	}
	e := &env{cfg: cfg, srv: srv}
	e.awsCfg = aws.Config{
		Region:      region,
		Credentials: credentials.NewStaticCredentialsProvider("AKIABENCH", "bench-secret", ""),
	}
	e.admin = awselbv2.NewFromConfig(e.awsCfg, func(o *awselbv2.Options) {
		o.BaseEndpoint = aws.String(srv.Endpoint())
		o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) { so.MaxAttempts = 10 })
	})
	for range 4 {
		b, err := startBackend()
		if err != nil {
			e.close()
			return nil, err
		}
		e.backends = append(e.backends, b)
	}
	start := time.Now()
	if err := e.build(ctx); err != nil {
		e.close()
		return nil, err
	}
	logf(cfg.Log, "built %d rollouts on %d ALBs in %v; waiting for targets to be healthy\n", cfg.Rollouts, cfg.ALBs, time.Since(start).Round(time.Millisecond))
	if err := e.waitHealthy(ctx); err != nil {
		e.close()
		return nil, err
	}
	logf(cfg.Log, "all targets healthy after %v\n", time.Since(start).Round(time.Millisecond))
	return e, nil
}

func (e *env) close() {
	for _, b := range e.backends {
		_ = b.Close()
	}
	_ = e.srv.Close()
}

// startBackend serves 200 on 127.0.0.1 for targets and health checks.
func startBackend() (*http.Server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("backend listener: %w", err)
	}
	s := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") }), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.Serve(ln) }()
	s.Addr = ln.Addr().String()
	return s, nil
}

func targetOf(s *http.Server) verify.Target {
	host, port, _ := net.SplitHostPort(s.Addr)
	p, _ := strconv.Atoi(port)
	return verify.Target{ID: host, Port: int32(p)}
}

// build creates the ALBs, listeners, target groups, rules and targets.
func (e *env) build(ctx context.Context) error {
	type lb struct {
		arn, dns  string
		listeners []string
	}
	lbs := make([]lb, e.cfg.ALBs)
	for i := range lbs {
		out, err := e.admin.CreateLoadBalancer(ctx, &awselbv2.CreateLoadBalancerInput{Name: aws.String(fmt.Sprintf("k8s-bench-%02d", i)),
			Tags: []types.Tag{{Key: aws.String("ingress.k8s.aws/resource"), Value: aws.String("LoadBalancer")}}})
		if err != nil {
			return fmt.Errorf("CreateLoadBalancer: %w", err)
		}
		lbs[i].arn, lbs[i].dns = *out.LoadBalancers[0].LoadBalancerArn, *out.LoadBalancers[0].DNSName
		for l := range e.cfg.Listeners {
			lo, err := e.admin.CreateListener(ctx, &awselbv2.CreateListenerInput{LoadBalancerArn: out.LoadBalancers[0].LoadBalancerArn,
				Port: aws.Int32(int32(80 + l)), Protocol: types.ProtocolEnumHttp,
				DefaultActions: []types.Action{{Type: types.ActionTypeEnumFixedResponse, FixedResponseConfig: &types.FixedResponseActionConfig{StatusCode: aws.String("404")}}}})
			if err != nil {
				return fmt.Errorf("CreateListener: %w", err)
			}
			lbs[i].listeners = append(lbs[i].listeners, *lo.Listeners[0].ListenerArn)
		}
	}
	e.rollouts = make([]*rollout, e.cfg.Rollouts)
	return parallel(ctx, e.cfg.Rollouts, 8, func(i int) error {
		a := lbs[i%e.cfg.ALBs]
		r := &rollout{name: fmt.Sprintf("app%04d", i), dns: a.dns, lbARN: a.arn, listeners: a.listeners,
			canaryTargets: []verify.Target{targetOf(e.backends[i%len(e.backends)])},
			stableTargets: []verify.Target{targetOf(e.backends[(i+1)%len(e.backends)])}}
		var err error
		if r.canary, err = e.createTG(ctx, r.name+"-c", verify.ResourceTagValue(namespace, r.name, "canary", "80")); err != nil {
			return err
		}
		if r.stable, err = e.createTG(ctx, r.name+"-s", verify.ResourceTagValue(namespace, r.name, "stable", "80")); err != nil {
			return err
		}
		for _, l := range a.listeners {
			out, err := e.admin.CreateRule(ctx, &awselbv2.CreateRuleInput{ListenerArn: aws.String(l), Priority: aws.Int32(int32(i/e.cfg.ALBs + 1)),
				Actions:    forward(r.canary, 0, r.stable, 100),
				Conditions: []types.RuleCondition{{Field: aws.String("host-header"), HostHeaderConfig: &types.HostHeaderConditionConfig{Values: []string{r.name + ".example.com"}}}}})
			if err != nil {
				return fmt.Errorf("CreateRule: %w", err)
			}
			r.rules = append(r.rules, *out.Rules[0].RuleArn)
		}
		for tg, ts := range map[string][]verify.Target{r.canary: r.canaryTargets, r.stable: r.stableTargets} {
			if _, err := e.admin.RegisterTargets(ctx, &awselbv2.RegisterTargetsInput{TargetGroupArn: aws.String(tg),
				Targets: []types.TargetDescription{{Id: aws.String(ts[0].ID), Port: aws.Int32(ts[0].Port)}}}); err != nil {
				return fmt.Errorf("RegisterTargets: %w", err)
			}
		}
		e.rollouts[i] = r
		return nil
	})
}

func (e *env) createTG(ctx context.Context, name, resource string) (string, error) {
	out, err := e.admin.CreateTargetGroup(ctx, &awselbv2.CreateTargetGroupInput{
		Name: aws.String(name), Protocol: types.ProtocolEnumHttp, Port: aws.Int32(8080), TargetType: types.TargetTypeEnumIp,
		// The longest interval AWS allows keeps 2 000 groups' probes cheap;
		// at TimeScale 0.01 it lasts 3 s.
		HealthCheckPath: aws.String("/healthz"), HealthCheckIntervalSeconds: aws.Int32(300), HealthCheckTimeoutSeconds: aws.Int32(5),
		HealthyThresholdCount: aws.Int32(2), UnhealthyThresholdCount: aws.Int32(2),
		Tags: []types.Tag{{Key: aws.String(verify.ResourceTag), Value: aws.String(resource)}},
	})
	if err != nil {
		return "", fmt.Errorf("CreateTargetGroup %s: %w", name, err)
	}
	return *out.TargetGroups[0].TargetGroupArn, nil
}

func forward(canary string, cw int32, stable string, sw int32) []types.Action {
	return []types.Action{{Type: types.ActionTypeEnumForward, ForwardConfig: &types.ForwardActionConfig{TargetGroups: []types.TargetGroupTuple{
		{TargetGroupArn: aws.String(canary), Weight: aws.Int32(cw)}, {TargetGroupArn: aws.String(stable), Weight: aws.Int32(sw)},
	}}}}
}

// waitHealthy polls (throttling is off during setup) until every target is healthy.
func (e *env) waitHealthy(ctx context.Context) error {
	deadline := time.Now().Add(5 * time.Minute)
	for {
		var unhealthy atomic.Int64
		err := parallel(ctx, len(e.rollouts), 8, func(i int) error {
			for _, tg := range []string{e.rollouts[i].canary, e.rollouts[i].stable} {
				out, err := e.admin.DescribeTargetHealth(ctx, &awselbv2.DescribeTargetHealthInput{TargetGroupArn: aws.String(tg)})
				if err != nil {
					return err
				}
				for _, d := range out.TargetHealthDescriptions {
					if d.TargetHealth.State != types.TargetHealthStateEnumHealthy {
						unhealthy.Add(1)
					}
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("waiting for healthy targets: %w", err)
		}
		if unhealthy.Load() == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d targets still not healthy after 5 minutes", unhealthy.Load())
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// logf writes a progress line; progress is best effort, so errors are dropped.
func logf(w io.Writer, format string, args ...any) { _, _ = fmt.Fprintf(w, format, args...) }

// parallel runs f(0..n-1) on workers goroutines and returns the first error.
func parallel(ctx context.Context, n, workers int, f func(int) error) error {
	var (
		next    atomic.Int64
		errOnce sync.Once
		first   error
		wg      sync.WaitGroup
	)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n || ctx.Err() != nil {
					return
				}
				if err := f(i); err != nil {
					errOnce.Do(func() { first = err })
					return
				}
			}
		}()
	}
	wg.Wait()
	if first == nil {
		first = ctx.Err()
	}
	return first
}

// checker polls one rollout until its change is verified; it returns the
// latency from applied, or false when ctx ends first.
type checker func(ctx context.Context, r *rollout, canary, stable int32, desiredAt, applied time.Time) (time.Duration, bool)

// phase applies a weight change to every rollout (spread over cfg.Spread)
// with AWS's Describe limits in force, and measures the checker. With
// lbcRate > 0 another client makes that many Describe* calls per second
// meanwhile (see background).
func (e *env) phase(ctx context.Context, name string, canary, stable int32, check checker, lbcRate float64) (Phase, error) {
	f := e.srv.Faults()
	f.SetThrottling(false)
	f.SetThrottling(true) // refills the buckets
	// Only Describe* limits are under test: the simulated load balancer
	// controller's ModifyRule calls must not queue behind a mutation limit.
	for _, class := range []string{faults.ClassMutating, faults.ClassRegistration} {
		if err := f.SetBucket(class, faults.BucketConfig{Burst: 1e6, RatePerSecond: 1e6}); err != nil {
			return Phase{}, err
		}
	}
	before := e.srv.Stats().Actions
	pctx, cancel := context.WithTimeout(ctx, e.cfg.MaxDuration)
	defer cancel()
	start := time.Now()
	logf(e.cfg.Log, "phase %s: %d rollouts -> canary %d / stable %d\n", name, len(e.rollouts), canary, stable)
	var bg *background
	if lbcRate > 0 {
		bg = e.startBackground(lbcRate)
		logf(e.cfg.Log, "  another client makes %.1f Describe* calls/s meanwhile\n", lbcRate)
	}

	lat := make([]time.Duration, len(e.rollouts))
	ok := make([]bool, len(e.rollouts))
	var wg sync.WaitGroup
	var applyErr error
	var errMu sync.Mutex
	var done atomic.Int64
	for i, r := range e.rollouts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			offset := time.Duration(int64(e.cfg.Spread) * int64(i) / int64(len(e.rollouts)))
			select {
			case <-pctx.Done():
				return
			case <-time.After(time.Until(start.Add(offset))):
			}
			desiredAt := time.Now()
			for _, rule := range r.rules {
				if _, err := e.admin.ModifyRule(pctx, &awselbv2.ModifyRuleInput{RuleArn: aws.String(rule), Actions: forward(r.canary, canary, r.stable, stable)}); err != nil {
					errMu.Lock()
					applyErr = errors.Join(applyErr, fmt.Errorf("ModifyRule %s: %w", r.name, err))
					errMu.Unlock()
					return
				}
			}
			lat[i], ok[i] = check(pctx, r, canary, stable, desiredAt, time.Now())
			if n := done.Add(1); n%100 == 0 {
				logf(e.cfg.Log, "  %d finished after %v\n", n, time.Since(start).Round(time.Second))
			}
		}()
	}
	wg.Wait()
	wall := time.Since(start)
	var others map[string]callCount
	if bg != nil {
		others = bg.stop()
	}
	if applyErr != nil && pctx.Err() == nil {
		return Phase{}, applyErr
	}
	after := e.srv.Stats().Actions
	p := Phase{Name: name, Rollouts: len(e.rollouts), Wall: wall, ByOperation: map[string]int64{}, ThrottledByOperation: map[string]int64{}}
	if bg != nil {
		p.Others.Rate = lbcRate
	}
	for action, a := range after {
		if !strings.HasPrefix(action, "Describe") {
			continue
		}
		o := others[action]
		p.Others.Calls += o.calls
		p.Others.Throttled += o.throttled
		if n := a.Calls - before[action].Calls - o.calls; n > 0 {
			p.ByOperation[action] = n
			p.Calls += n
		}
		if n := a.Throttled - before[action].Throttled - o.throttled; n > 0 {
			p.ThrottledByOperation[action] = n
			p.Throttled += n
		}
	}
	for i := range lat {
		if ok[i] {
			p.Latencies = append(p.Latencies, lat[i])
		}
	}
	sort.Slice(p.Latencies, func(i, j int) bool { return p.Latencies[i] < p.Latencies[j] })
	p.Verified = len(p.Latencies)
	logf(e.cfg.Log, "phase %s done in %v: %d/%d verified\n", name, p.Wall.Round(time.Second), p.Verified, p.Rollouts)
	e.verified = [2]int32{canary, stable}
	return p, nil
}

// ourChecker runs the verify package behind one shared provider, requeued after NextCheck.
func (e *env) ourChecker(v *verify.Verifier) checker {
	return func(ctx context.Context, r *rollout, canary, stable int32, desiredAt, applied time.Time) (time.Duration, bool) {
		in := verify.Input{Namespace: namespace, Ingresses: []verify.Ingress{{Name: r.name, Hostname: r.dns}}, ActionName: "stable", ServicePort: "80",
			Destinations: []verify.Destination{
				{Role: verify.RoleCanary, Service: "canary", Weight: canary, Targets: r.canaryTargets},
				{Role: verify.RoleStable, Service: "stable", Weight: stable, Targets: r.stableTargets},
			},
			DesiredAt: desiredAt, Timeout: e.cfg.MaxDuration}
		if !e.cfg.FreshHealthForAll {
			// The targets are the same as at the last verified change.
			cv, sv := e.verified[0], e.verified[1]
			in.Destinations[0].VerifiedWeight, in.Destinations[1].VerifiedWeight = &cv, &sv
		}
		for {
			res := v.Verify(ctx, in)
			if res.Outcome == verify.Verified {
				return time.Since(applied), true
			}
			if res.NextCheck <= 0 || ctx.Err() != nil {
				return 0, false
			}
			select {
			case <-ctx.Done():
				return 0, false
			case <-time.After(res.NextCheck):
			}
		}
	}
}
