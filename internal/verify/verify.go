// Package verify decides whether an ALB does what a rollout asked of it.
//
// After a rollout writes new weights into the alb.ingress.kubernetes.io/actions
// annotation, the AWS Load Balancer Controller (LBC) turns them into listener
// rules some time later. A check (Verifier.Verify) reads the ALB through the
// shared elbv2.Provider and returns a Result:
//
//   - Verified when EVERY rule on EVERY listener that forwards to the action's
//     target groups forwards exactly the desired shares to the canary, stable
//     and additional groups, and every expected target of every group that will
//     get traffic is registered and healthy (groups at weight 0 may hold anything;
//     unexpected healthy targets are reported, not fatal);
//   - Pending with a diagnosis naming each listener/rule/group with actual vs
//     desired weight and each target that is not healthy with its state and reason;
//   - Failed with a classified error (AccessDenied, RegionMismatch, ...);
//   - TimedOut once the deadline (the time the desired state was written plus
//     the timeout, 30 s by default) has passed.
//
// The verdict is a pure function of the input, the observed ELBv2 state and
// the current time (Decide); nothing sleeps. The caller requeues after
// Result.NextCheck, an exponential backoff with jitter that never passes the
// deadline. Target groups are found by the LBC's ingress.k8s.aws/resource tag
// (<ns>/<ingress>-<service>:<port>) or by TargetGroupBindings
// (ListTargetGroupBindings); expected targets come from EndpointSlices
// (TargetsFromEndpointSlices).
package verify

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/albrollouts/albrollouts/internal/elbv2"
)

// Observation is the ELBv2 state a check saw, per ingress.
type Observation struct {
	Ingresses []IngressState
}

// IngressState is what was read for one ingress's load balancer.
type IngressState struct {
	Ingress string
	// Err is the classified error that stopped reading; the rest may be partial.
	Err          error
	LoadBalancer elbv2.LoadBalancer
	Listeners    []ListenerState
	TargetGroups []elbv2.TargetGroup
	// Health by target group ARN; a missing key means "not read".
	Health map[string][]elbv2.TargetHealth
}

// ListenerState is a listener with its rules.
type ListenerState struct {
	Listener elbv2.Listener
	Rules    []elbv2.Rule
}

// Options configure a Verifier.
type Options struct {
	// Backoff of the next check; zero fields take DefaultBackoff's.
	Backoff Backoff
	// DefaultTimeout applies to inputs without a Timeout (default 30 s).
	DefaultTimeout time.Duration
	// Registerer receives the verifier metrics; nil registers nowhere.
	Registerer prometheus.Registerer
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Verifier runs checks. Create one per process; it is safe for concurrent use.
type Verifier struct {
	elb     *elbv2.Provider
	opts    Options
	metrics *metrics
}

// New returns a Verifier reading through p.
func New(p *elbv2.Provider, o Options) *Verifier {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.DefaultTimeout <= 0 {
		o.DefaultTimeout = DefaultTimeout
	}
	o.Backoff = o.Backoff.withDefaults()
	return &Verifier{elb: p, opts: o, metrics: newMetrics(o.Registerer)}
}

// Verify reads the ALB state the input depends on and decides. It blocks
// only for the ELBv2 calls (rate-limited, coalesced and cached by the
// provider); give ctx a deadline.
func (v *Verifier) Verify(ctx context.Context, in Input) Result {
	start := time.Now()
	v.metrics.inFlight.Inc()
	defer v.metrics.inFlight.Dec()
	if in.Timeout <= 0 {
		in.Timeout = v.opts.DefaultTimeout
	}
	var res Result
	if err := in.validate(); err != nil {
		res = Decide(in, Observation{}, v.opts.Now(), v.opts.Backoff)
	} else {
		obs := v.observe(ctx, in)
		res = Decide(in, obs, v.opts.Now(), v.opts.Backoff)
	}
	v.metrics.observe(in, res, time.Since(start), v.opts.Now())
	return res
}

// observe reads, per ingress: the load balancer by DNS name, its listeners,
// target groups (with tags) and each listener's rules; then the health of
// the target groups that will get traffic. Health is read once the weights
// are applied, or in the second half of the timeout so that a timeout
// diagnosis names the unhealthy targets too: while the LBC has not caught up,
// early polls then cost no DescribeTargetHealth calls.
func (v *Verifier) observe(ctx context.Context, in Input) Observation {
	var obs Observation
	now := v.opts.Now()
	// Rules and health read before the change was written cannot verify it.
	ctx = elbv2.WithNotBefore(ctx, in.DesiredAt)
	lateEnough := now.Sub(in.DesiredAt) >= in.timeout()/2
	for _, ing := range in.Ingresses {
		st := IngressState{Ingress: ing.Name}
		if ing.Hostname != "" {
			st.Err = v.readLoadBalancer(ctx, ing.Hostname, &st)
			if st.Err == nil {
				view := matchAction(&in, ing, &st)
				if (lateEnough || weightsApplied(view)) && len(view.rules) > 0 {
					st.Err = v.readHealth(ctx, &in, view, &st)
				}
			}
		}
		obs.Ingresses = append(obs.Ingresses, st)
	}
	return obs
}

func weightsApplied(view actionView) bool {
	for _, r := range view.rules {
		if !r.matches {
			return false
		}
	}
	return true
}

func (v *Verifier) readLoadBalancer(ctx context.Context, hostname string, st *IngressState) error {
	lb, err := v.elb.LoadBalancerByDNS(ctx, hostname)
	if err != nil {
		return err
	}
	st.LoadBalancer = lb
	listeners, err := v.elb.Listeners(ctx, lb.ARN)
	if err != nil {
		return err
	}
	if st.TargetGroups, err = v.elb.TargetGroups(ctx, lb.ARN); err != nil {
		return err
	}
	for _, l := range listeners {
		rules, err := v.elb.Rules(ctx, l.ARN)
		if err != nil {
			return err
		}
		st.Listeners = append(st.Listeners, ListenerState{Listener: l, Rules: rules})
	}
	// The group list is cached longer than the rules; a rule naming a group
	// it does not hold means a group was created since: read it again.
	if forwardsToUnlisted(st) && v.elb.RefreshTargetGroups(lb.ARN) {
		if st.TargetGroups, err = v.elb.TargetGroups(ctx, lb.ARN); err != nil {
			return err
		}
	}
	return nil
}

func forwardsToUnlisted(st *IngressState) bool {
	listed := make(map[string]bool, len(st.TargetGroups))
	for _, tg := range st.TargetGroups {
		listed[tg.ARN] = true
	}
	for _, l := range st.Listeners {
		for _, r := range l.Rules {
			for _, g := range r.Forward {
				if !listed[g.ARN] {
					return true
				}
			}
		}
	}
	return false
}

// readHealth reads the health of every group of the action with a desired
// weight above zero.
func (v *Verifier) readHealth(ctx context.Context, in *Input, view actionView, st *IngressState) error {
	st.Health = map[string][]elbv2.TargetHealth{}
	for _, arn := range trafficGroups(in, view) {
		hs, err := v.elb.TargetHealth(ctx, arn)
		if err != nil {
			return err
		}
		st.Health[arn] = hs
	}
	return nil
}

// trafficGroups lists, in rule order without duplicates, the target groups
// of destinations that will get traffic.
func trafficGroups(in *Input, view actionView) []string {
	var arns []string
	seen := map[string]bool{}
	for _, r := range view.rules {
		for i, arn := range r.arns {
			if arn != "" && in.Destinations[i].Weight > 0 && !seen[arn] {
				seen[arn] = true
				arns = append(arns, arn)
			}
		}
	}
	return arns
}

// errReason returns the reason string of a classified error.
func errReason(err error) string {
	var e *elbv2.Error
	if errors.As(err, &e) {
		return e.Reason()
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return string(elbv2.KindNetwork)
	}
	return string(elbv2.KindOther)
}
