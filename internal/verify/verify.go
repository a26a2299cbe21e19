// Package verify decides whether an ALB does what a rollout asked of it.
//
// After a rollout writes new weights into the alb.ingress.kubernetes.io/actions
// annotation, the AWS Load Balancer Controller (LBC) turns them into listener
// rules some time later. A check (Verifier.Verify) reads the ALB through the
// shared elbv2.Provider and returns a Result:
//
//   - Verified when EVERY rule of the action on EVERY listener (the listener
//     list read after the change was written) forwards exactly the desired
//     shares to the canary, stable and additional groups, every header route
//     of the input is in place (or gone, when removed), and every expected
//     target of every group that gets traffic, or whose destination
//     RequireHealthy, is registered and healthy (other groups at weight 0 may
//     hold anything; unexpected healthy targets are reported, not fatal);
//   - Pending with a diagnosis naming each listener/rule/group with actual vs
//     desired weight and each target that is not healthy with its state and reason;
//   - Failed with a classified error (AccessDenied, RegionMismatch, ...);
//   - TimedOut once the deadline (the time the desired state was written plus
//     the timeout, 30 s by default) has passed.
//
// Which rules are the action's, the routes', or someone else's (a default
// backend, a plain path) is described on Input; rules that touch the
// action's groups without being its rules are reported in Result.OtherRules.
// An input without ActionName verifies a plain Service backend (blue-green).
//
// The verdict is a pure function of the input, the observed ELBv2 state and
// the current time (Decide); nothing sleeps. The caller requeues after
// Result.NextCheck, an exponential backoff with jitter that never passes the
// deadline. Target groups are found by the LBC's ingress.k8s.aws/resource tag
// (<ns>/<ingress>-<service>:<port>) or by TargetGroupBindings
// (ListTargetGroupBindings); expected targets come from EndpointSlices
// (TargetsFromEndpointSlices). Result.LoadBalancers names the load balancers
// and groups for status.alb / status.albs.
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
		obs := v.observe(ctx, &in)
		res = Decide(in, obs, v.opts.Now(), v.opts.Backoff)
		if res.Outcome == Verified && v.freshenListeners(ctx, &in, &obs) {
			res = Decide(in, obs, v.opts.Now(), v.opts.Backoff)
		}
	}
	v.metrics.observe(in, res, time.Since(start), v.opts.Now())
	return res
}

// observe reads, per ingress: the load balancer by DNS name, its listeners,
// target groups (with tags) and each listener's rules; then the health of
// the target groups that are judged (see setView.judged). Rules and health
// are read under the freshness bound (elbv2.WithNotBefore with DesiredAt):
// an answer read before the change was written never decides. The
// listener list may come from the cache here; freshenListeners makes sure
// it is fresh before a check says Verified.
//
// Health is read once the rules verify, or in the second half of the
// timeout so that a timeout diagnosis names the unhealthy targets too:
// while the LBC has not caught up, early polls then cost no
// DescribeTargetHealth calls.
func (v *Verifier) observe(ctx context.Context, in *Input) Observation {
	var obs Observation
	for _, ing := range in.Ingresses {
		obs.Ingresses = append(obs.Ingresses, v.observeIngress(ctx, in, ing, false))
	}
	return obs
}

// observeIngress reads one ingress's load balancer; with freshListeners the
// listener list too must have been read after DesiredAt.
func (v *Verifier) observeIngress(ctx context.Context, in *Input, ing Ingress, freshListeners bool) IngressState {
	st := IngressState{Ingress: ing.Name}
	if ing.Hostname == "" {
		return st
	}
	bounded := elbv2.WithNotBefore(ctx, in.DesiredAt)
	listenerCtx := ctx
	if freshListeners {
		listenerCtx = bounded
	}
	st.Err = v.readLoadBalancer(bounded, listenerCtx, in, ing, &st)
	if st.Err != nil {
		return st
	}
	view := matchIngress(in, ing, &st)
	applied := rulesApplied(in, ing, &st, view)
	if applied && !freshListeners {
		// The check may say Verified, and then needs a listener list read
		// after the change (freshenListeners). Ask for it now, alongside the
		// health reads: it then waits for the rate limit together with them
		// instead of after them (queued behind every other rollout's reads),
		// and freshenListeners finds it cached.
		done, lbARN := make(chan struct{}), st.LoadBalancer.ARN
		go func() {
			defer close(done)
			_, _ = v.elb.Listeners(bounded, lbARN)
		}()
		defer func() { <-done }()
	}
	if applied || v.opts.Now().Sub(in.DesiredAt) >= in.timeout()/2 {
		st.Err = v.readHealth(bounded, view, &st)
	}
	return st
}

// freshenListeners is called when a check would say Verified. A listener
// added shortly before the change (cached lists are up to StructureTTL old)
// would otherwise go unchecked, and with it the traffic it forwards. It
// re-reads each load balancer's listener list under the freshness bound
// (no call when the list was read after DesiredAt, as observeIngress asks
// for once the rules match) and, for a load balancer whose list changed,
// the ingress's whole state. It reports whether the observation changed.
func (v *Verifier) freshenListeners(ctx context.Context, in *Input, obs *Observation) bool {
	bounded := elbv2.WithNotBefore(ctx, in.DesiredAt)
	changed := false
	for i, ing := range in.Ingresses {
		st := &obs.Ingresses[i]
		if st.Err != nil || st.LoadBalancer.ARN == "" {
			continue
		}
		ls, err := v.elb.Listeners(bounded, st.LoadBalancer.ARN)
		switch {
		case err != nil:
			st.Err, changed = err, true
		case !sameListeners(ls, st.Listeners):
			*st = v.observeIngress(ctx, in, ing, true)
			changed = true
		}
	}
	return changed
}

func sameListeners(ls []elbv2.Listener, seen []ListenerState) bool {
	if len(ls) != len(seen) {
		return false
	}
	arns := make(map[string]bool, len(ls))
	for _, l := range ls {
		arns[l.ARN] = true
	}
	for _, s := range seen {
		if !arns[s.Listener.ARN] {
			return false
		}
	}
	return true
}

// readLoadBalancer reads the load balancer, its listeners (under
// listenerCtx), target groups and rules (under ctx).
func (v *Verifier) readLoadBalancer(ctx, listenerCtx context.Context, in *Input, ing Ingress, st *IngressState) error {
	lb, err := v.elb.LoadBalancerByDNS(ctx, ing.Hostname)
	if err != nil {
		return err
	}
	st.LoadBalancer = lb
	listeners, err := v.elb.Listeners(listenerCtx, lb.ARN)
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
	// it does not hold means a group was created since, and a group of our
	// rules without tags may have been read before its tags were visible:
	// read the list again.
	if groupsStale(in, ing, st) && v.elb.RefreshTargetGroups(lb.ARN) {
		if st.TargetGroups, err = v.elb.TargetGroups(ctx, lb.ARN); err != nil {
			return err
		}
	}
	return nil
}

// groupsStale reports whether a rule forwards to a group missing from the
// list, or a rule that forwards to a group of the input's destinations also
// forwards to a listed group that has no tags and no TargetGroupBinding.
func groupsStale(in *Input, ing Ingress, st *IngressState) bool {
	listed := make(map[string]elbv2.TargetGroup, len(st.TargetGroups))
	for _, tg := range st.TargetGroups {
		listed[tg.ARN] = tg
	}
	ours := map[string]bool{}
	for _, ds := range append([][]Destination{in.Destinations}, routeDestinations(in)...) {
		for _, d := range ds {
			ours[ResourceTagValue(in.Namespace, ing.Name, d.Service, in.port(d))] = true
		}
	}
	bound := map[string]bool{}
	for _, b := range in.TargetGroupBindings {
		bound[b.TargetGroupARN] = true
	}
	for _, l := range st.Listeners {
		for _, r := range l.Rules {
			touchesOurs, untagged := false, false
			for _, g := range r.Forward {
				tg, ok := listed[g.ARN]
				if !ok {
					return true
				}
				touchesOurs = touchesOurs || ours[tg.Tags[ResourceTag]] || bound[g.ARN]
				untagged = untagged || (len(tg.Tags) == 0 && !bound[g.ARN])
			}
			if touchesOurs && untagged {
				return true
			}
		}
	}
	return false
}

func routeDestinations(in *Input) [][]Destination {
	var out [][]Destination
	for _, r := range in.Routes {
		out = append(out, r.Destinations)
	}
	return out
}

// readHealth reads the health of every judged group.
func (v *Verifier) readHealth(ctx context.Context, view ingressView, st *IngressState) error {
	st.Health = map[string][]elbv2.TargetHealth{}
	for _, arn := range healthGroups(view) {
		hs, err := v.elb.TargetHealth(ctx, arn)
		if err != nil {
			return err
		}
		st.Health[arn] = hs
	}
	return nil
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
