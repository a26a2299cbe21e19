// Package verify decides whether an ALB does what a rollout asked of it.
//
// After a rollout writes new weights into the alb.ingress.kubernetes.io/actions
// annotation, the AWS Load Balancer Controller (LBC) turns them into listener
// rules some time later. A check (Verifier.Verify) reads the ALB through the
// shared elbv2.Provider and returns a Result:
//
//   - Verified when EVERY rule of the action on EVERY listener (the listener
//     list read after the change was written) forwards exactly the desired
//     shares to the canary, stable and additional groups, every listener
//     that has rules of the ingress has rules of the action (the load
//     balancer controller puts every path of an ingress on all its
//     listeners; one that has, say, a rule forwarding to the stable group
//     alone while another has the action's has not been given the action
//     yet, and is Pending, named), every header route of the input is in
//     place (or gone, when removed), and every expected
//     target of every group that gains traffic, or whose destination
//     RequireHealthy, is registered and healthy (other groups at weight 0 may
//     hold anything; unexpected healthy targets are reported, not fatal);
//   - Pending with a diagnosis naming each listener/rule/group with actual vs
//     desired weight and each target that is not healthy with its state and reason;
//   - Failed with a classified error (AccessDenied, RegionMismatch, ...);
//   - TimedOut once the deadline (the time the desired state was written plus
//     the timeout, 30 s by default) has passed.
//
// The health rule: a group gains traffic when its weight rises above the
// weight last verified for it on the same targets (Destination.VerifiedWeight;
// unknown counts as a rise), and must then be read healthy after the change.
// A group whose weight stays or falls is not made worse by the shift: it is
// judged on the most recent health read of any age (any check's, through the
// provider's cache) and not read at all when there is none; its unhealthy
// targets are reported, never a reason to wait or to shift more. An abort is
// a shift to stable: stable gains, and is read fresh.
//
// Which rules are the action's, the routes', or someone else's (a default
// backend, a plain path) is described on Input; rules that touch the
// action's groups without being its rules are reported in Result.OtherRules.
// An input without ActionName verifies a plain Service backend (blue-green).
//
// Every answer a verdict rests on was read after the desired state was
// written (elbv2.WithNotBefore with Input.DesiredAt). A pending check uses
// what was already read since then and re-reads only what blocks it (rules
// that do not match yet, groups whose targets are not healthy yet), each at
// most once per poll interval (elbv2.Provider.PollInterval); a check that
// would say Verified or TimedOut first reads again whatever is older than the
// provider's TTLs were when it started. Reads queue for the rate limit by
// what they are for (see elbv2.Priority): those that can finish a
// verification (health once the rules match, and whatever a check about to
// say Verified or TimedOut reads again) go first.
//
// The verdict is a pure function of the input, the observed ELBv2 state and
// the current time (Decide); nothing sleeps. The caller requeues after
// Result.NextCheck: for a pending check, when what blocks it will be read
// again (so the checks of every rollout behind one listener share that
// read); after an AWS error, an exponential backoff with jitter; never past
// the deadline. Submit runs the checks in the background instead and calls
// back when the result changes.
//
// Target groups are found by the LBC's ingress.k8s.aws/resource tag
// (<ns>/<ingress>-<service>:<port>) or by TargetGroupBindings
// (ListTargetGroupBindings); expected targets come from EndpointSlices
// (TargetsFromEndpointSlices). Result.LoadBalancers names the load balancers
// and groups for status.alb / status.albs.
package verify

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/albrollouts/albrollouts/internal/elbv2"
)

// Observation is the ELBv2 state a check saw, per ingress.
type Observation struct {
	Ingresses []IngressState
	// NextRead is when what blocks the verdict (rules that do not match,
	// targets not healthy) will be read again: the earliest answer it rests
	// on plus the provider's poll interval. Zero when unknown; Decide then
	// schedules the next check by its backoff.
	NextRead time.Time
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
	// HealthReadAt is when each group's health was read.
	HealthReadAt map[string]time.Time

	nextRead time.Time // see Observation.NextRead
}

// ListenerState is a listener with its rules.
type ListenerState struct {
	Listener elbv2.Listener
	Rules    []elbv2.Rule
	// ReadAt is when the rules were read.
	ReadAt time.Time
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

	watchMu sync.Mutex
	watches map[string]*watch // see Submit
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
//
// A check first looks at what was read since the change was written
// (answers of any age, see lookPending) and re-reads only what blocks the
// verdict: the rules while they do not match, the health of the groups whose
// targets are not healthy yet, each at most once per poll interval (the
// provider's PollInterval, derived from the rate limit and the number of
// resources being polled). "Not yet" needs nothing more. A check that would
// say Verified (or TimedOut) looks again with no answer older than the
// provider's TTL at the start of the call and the listener list read after
// the change (lookConfirm), as fresh as a check that reads everything.
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
		look := lookAt{mode: lookPending, start: v.elb.Now()}
		obs := v.observe(ctx, &in, look, nil)
		res = Decide(in, obs, v.opts.Now(), v.opts.Backoff)
		if res.Outcome == Verified || res.Outcome == TimedOut {
			look.mode = lookConfirm
			obs = v.observe(ctx, &in, look, &obs)
			res = Decide(in, obs, v.opts.Now(), v.opts.Backoff)
			if res.Outcome == Verified && !in.HealthOnly && v.freshenListeners(ctx, &in, &obs, look) {
				res = Decide(in, obs, v.opts.Now(), v.opts.Backoff)
			}
		}
	}
	v.metrics.observe(in, res, time.Since(start), v.opts.Now())
	return res
}

// lookMode says how old the answers a check uses may be. Every answer is
// read after the change was written (elbv2.WithNotBefore with DesiredAt)
// whatever the mode; an answer read before it never decides.
type lookMode int

const (
	// lookPending accepts answers of any age, enough to say "not yet", and
	// re-reads what blocks the verdict once it is older than the poll
	// interval: a pending check costs at most one read per blocking
	// listener or target group and poll interval.
	lookPending lookMode = iota
	// lookConfirm accepts only answers read during this call or younger
	// than the provider's TTLs when it started, as a check that reads
	// everything would: a verdict of Verified or TimedOut rests on it.
	lookConfirm
)

// lookAt is how one check reads.
type lookAt struct {
	mode  lookMode
	start time.Time // when the check started, on the provider's clock
}

// stale reports whether an answer read at t should be read again now: it
// is older than age and was read before this check started (what the check
// read itself is as new as it gets).
func (l lookAt) stale(t, now time.Time, age time.Duration) bool {
	return t.Before(l.start) && now.Sub(t) >= age
}

// maxAge is the age an answer may have now to be reused in mode lookConfirm:
// ttl at the start of the check, so that answers read during the check
// (which may have queued for the rate limit) always count.
func (l lookAt) maxAge(now time.Time, ttl time.Duration) time.Duration {
	if l.mode == lookPending {
		return elbv2.AnyAge
	}
	return ttl + max(now.Sub(l.start), 0)
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
//
// With prev (an observation of the same check), the load balancer, its
// target groups and its cached listener list are taken from there: only
// what a verdict needs fresh is read again.
func (v *Verifier) observe(ctx context.Context, in *Input, look lookAt, prev *Observation) Observation {
	var obs Observation
	var next time.Time // on the provider's clock
	for i, ing := range in.Ingresses {
		var p *IngressState
		if prev != nil && i < len(prev.Ingresses) && prev.Ingresses[i].Err == nil && prev.Ingresses[i].LoadBalancer.ARN != "" {
			p = &prev.Ingresses[i]
		}
		st := v.observeIngress(ctx, in, ing, look, false, p)
		if !st.nextRead.IsZero() && (next.IsZero() || st.nextRead.Before(next)) {
			next = st.nextRead
		}
		obs.Ingresses = append(obs.Ingresses, st)
	}
	if !next.IsZero() {
		// Read times are on the provider's clock, Decide's now on ours.
		obs.NextRead = v.opts.Now().Add(next.Sub(v.elb.Now()))
	}
	return obs
}

// observeIngress reads one ingress's load balancer; with freshListeners the
// listener list too must have been read after DesiredAt.
func (v *Verifier) observeIngress(ctx context.Context, in *Input, ing Ingress, look lookAt, freshListeners bool, prev *IngressState) IngressState {
	st := IngressState{Ingress: ing.Name}
	if ing.Hostname == "" {
		return st
	}
	bounded := elbv2.WithNotBefore(ctx, in.DesiredAt)
	// A listener list read after the change counts if this check read it,
	// or it was younger than the provider's TTL when the check started.
	freshList := elbv2.WithMaxAge(bounded, look.maxAge(v.elb.Now(), v.elb.StructureTTL()))
	listenerCtx := ctx
	if freshListeners {
		listenerCtx = freshList
	}
	rulesCtx := elbv2.WithMaxAge(bounded, look.maxAge(v.elb.Now(), v.elb.CacheTTL()))
	if look.mode == lookConfirm {
		// This check would say Verified (or TimedOut): what it reads again
		// finishes the verification and goes first in the rate-limit queue,
		// not behind every first read as a poll (the provider's default for
		// a listener already read after the change).
		rulesCtx = elbv2.WithPriority(rulesCtx, elbv2.PriorityFinish)
		listenerCtx = elbv2.WithPriority(listenerCtx, elbv2.PriorityFinish)
	}
	if st.Err = v.readLoadBalancer(bounded, listenerCtx, rulesCtx, in, ing, &st, prev, freshListeners); st.Err != nil {
		return st
	}
	view := matchIngress(in, ing, &st)
	applied := rulesApplied(in, ing, &st, view)
	poll := v.elb.PollInterval()
	if !applied && look.mode == lookPending {
		// What blocks is the rules: read them again if the answers are
		// older than the poll interval.
		if look.stale(st.rulesReadAt(), v.elb.Now(), poll) {
			if st.Err = v.readRules(elbv2.WithMaxAge(bounded, poll), &st); st.Err != nil {
				return st
			}
			view = matchIngress(in, ing, &st)
			applied = rulesApplied(in, ing, &st, view)
		}
		if t := st.rulesReadAt(); !applied && !t.IsZero() {
			st.nextRead = t.Add(poll)
		}
	}
	// Reads that can finish this verification go first in the rate-limit
	// queue; health read only for a diagnosis goes last.
	finish := elbv2.WithPriority(bounded, elbv2.PriorityFinish)
	if applied && !freshListeners && !in.HealthOnly {
		// The check may say Verified, and then needs a listener list read
		// after the change (freshenListeners). Ask for it now, alongside the
		// health reads: it then waits for the rate limit together with them
		// instead of after them (queued behind every other rollout's reads),
		// and freshenListeners finds it cached.
		done, lbARN := make(chan struct{}), st.LoadBalancer.ARN
		go func() {
			defer close(done)
			_, _ = v.elb.Listeners(elbv2.WithPriority(freshList, elbv2.PriorityFinish), lbARN)
		}()
		defer func() { <-done }()
	}
	healthAge := look.maxAge(v.elb.Now(), v.elb.CacheTTL())
	switch {
	case applied:
		st.Err = v.readHealth(elbv2.WithMaxAge(finish, healthAge), healthGroups(view), &st)
		if st.Err == nil && look.mode == lookPending {
			// What blocks now is the health of the groups whose targets
			// are not healthy: read those again once older than the poll
			// interval.
			if stale := v.staleGroups(in, ing, &st, view, look, poll); len(stale) > 0 {
				st.Err = v.readHealth(elbv2.WithMaxAge(elbv2.WithPriority(bounded, elbv2.PriorityPoll), poll), stale, &st)
			}
			if t := st.healthReadAt(blockingGroups(in, ing, &st, view)); !t.IsZero() {
				st.nextRead = t.Add(poll)
			}
		}
		if st.Err == nil {
			v.lastHealth(heldGroups(view), &st)
		}
	case v.opts.Now().Sub(in.DesiredAt) >= in.timeout()/2:
		// Health only a diagnosis needs: last in the queue, unless this
		// check is about to say TimedOut and waits for it.
		age, prio := healthAge, elbv2.PriorityFinish
		if look.mode == lookPending {
			age, prio = poll, elbv2.PriorityLow
		}
		st.Err = v.readHealth(elbv2.WithMaxAge(elbv2.WithPriority(bounded, prio), age), healthGroups(view), &st)
	}
	return st
}

// rulesReadAt is when the oldest rules answer of the state was read (zero
// when none was).
func (st *IngressState) rulesReadAt() time.Time {
	var oldest time.Time
	for _, l := range st.Listeners {
		if oldest.IsZero() || l.ReadAt.Before(oldest) {
			oldest = l.ReadAt
		}
	}
	return oldest
}

// healthReadAt is when the oldest health answer of arns was read (zero
// when there is none).
func (st *IngressState) healthReadAt(arns []string) time.Time {
	var oldest time.Time
	for _, arn := range arns {
		if t, ok := st.HealthReadAt[arn]; ok && (oldest.IsZero() || t.Before(oldest)) {
			oldest = t
		}
	}
	return oldest
}

// blockingGroups lists the judged groups whose expected targets are not all
// healthy (or whose health was not read).
func blockingGroups(in *Input, ing Ingress, st *IngressState, view ingressView) []string {
	var out []string
	for _, g := range groupObservations(in, ing, view) {
		if !g.judge {
			continue
		}
		hs, read := st.Health[g.ARN]
		d := view.sets()[g.set].set.dests[g.dest]
		if !read {
			out = append(out, g.ARN)
		} else if _, ok := evalTargets(d, hs, &g); !ok {
			out = append(out, g.ARN)
		}
	}
	return out
}

// staleGroups lists the blocking groups whose health is older than age and
// was not read by this check.
func (v *Verifier) staleGroups(in *Input, ing Ingress, st *IngressState, view ingressView, look lookAt, age time.Duration) []string {
	var out []string
	now := v.elb.Now()
	for _, arn := range blockingGroups(in, ing, st, view) {
		if t, ok := st.HealthReadAt[arn]; !ok || look.stale(t, now, age) {
			out = append(out, arn)
		}
	}
	return out
}

// freshenListeners is called when a check would say Verified. A listener
// added shortly before the change (cached lists are up to StructureTTL old)
// would otherwise go unchecked, and with it the traffic it forwards. It
// re-reads each load balancer's listener list under the freshness bound
// (no call when the list was read after DesiredAt, as observeIngress asks
// for once the rules match) and, for a load balancer whose list changed,
// the ingress's whole state. It reports whether the observation changed.
func (v *Verifier) freshenListeners(ctx context.Context, in *Input, obs *Observation, look lookAt) bool {
	bounded := elbv2.WithPriority(elbv2.WithNotBefore(ctx, in.DesiredAt), elbv2.PriorityFinish)
	bounded = elbv2.WithMaxAge(bounded, look.maxAge(v.elb.Now(), v.elb.StructureTTL()))
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
			*st = v.observeIngress(ctx, in, ing, look, true, st)
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

// readLoadBalancer reads the load balancer and target groups (under ctx),
// its listeners (under listenerCtx) and their rules (under rulesCtx). With
// prev, the load balancer and target groups are prev's, and so are the
// listeners unless they must be fresh.
func (v *Verifier) readLoadBalancer(ctx, listenerCtx, rulesCtx context.Context, in *Input, ing Ingress, st *IngressState, prev *IngressState, freshListeners bool) error {
	var (
		listeners []elbv2.Listener
		err       error
	)
	if prev != nil {
		st.LoadBalancer, st.TargetGroups = prev.LoadBalancer, prev.TargetGroups
		for _, l := range prev.Listeners {
			listeners = append(listeners, l.Listener)
		}
	} else {
		if st.LoadBalancer, err = v.elb.LoadBalancerByDNS(ctx, ing.Hostname); err != nil {
			return err
		}
		if st.TargetGroups, err = v.elb.TargetGroups(ctx, st.LoadBalancer.ARN); err != nil {
			return err
		}
	}
	lb := st.LoadBalancer
	if prev == nil || freshListeners {
		if listeners, err = v.elb.Listeners(listenerCtx, lb.ARN); err != nil {
			return err
		}
	}
	for _, l := range listeners {
		st.Listeners = append(st.Listeners, ListenerState{Listener: l})
	}
	if err := v.readRules(rulesCtx, st); err != nil {
		return err
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

// readRules reads the rules of each listener of st, all at once: they wait
// for the rate limit together (at this check's place in the queue) instead
// of one after the other. The first error in listener order is returned.
func (v *Verifier) readRules(ctx context.Context, st *IngressState) error {
	errs := make([]error, len(st.Listeners))
	parallel(len(st.Listeners), func(i int) {
		l := &st.Listeners[i]
		rules, at, err := v.elb.RulesAt(ctx, l.Listener.ARN)
		if err != nil {
			errs[i] = err
			return
		}
		l.Rules, l.ReadAt = rules, at
	})
	return firstError(errs)
}

// readHealth reads the health of the groups arns into st, all at once as
// readRules does. Groups read before an error are kept.
func (v *Verifier) readHealth(ctx context.Context, arns []string, st *IngressState) error {
	if st.Health == nil {
		st.Health = map[string][]elbv2.TargetHealth{}
		st.HealthReadAt = map[string]time.Time{}
	}
	type answer struct {
		hs  []elbv2.TargetHealth
		at  time.Time
		err error
	}
	answers := make([]answer, len(arns))
	parallel(len(arns), func(i int) {
		hs, at, err := v.elb.TargetHealthAt(ctx, arns[i])
		answers[i] = answer{hs, at, err}
	})
	var first error
	for i, a := range answers {
		switch {
		case a.err == nil:
			st.Health[arns[i]], st.HealthReadAt[arns[i]] = a.hs, a.at
		case first == nil:
			first = a.err
		}
	}
	return first
}

// lastHealth fills in the health of held groups (see
// Destination.VerifiedWeight) from the most recent answer any check read,
// of any age, without a call: when none was read, none is.
func (v *Verifier) lastHealth(arns []string, st *IngressState) {
	for _, arn := range arns {
		if _, ok := st.Health[arn]; ok {
			continue
		}
		if hs, at, ok := v.elb.LastTargetHealth(arn); ok {
			if st.Health == nil {
				st.Health, st.HealthReadAt = map[string][]elbv2.TargetHealth{}, map[string]time.Time{}
			}
			st.Health[arn], st.HealthReadAt[arn] = hs, at
		}
	}
}

// parallel runs f(0..n-1) concurrently and waits for all; n of one runs inline.
func parallel(n int, f func(i int)) {
	if n == 1 {
		f(0)
		return
	}
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { f(i) })
	}
	wg.Wait()
}

func firstError(errs []error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
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
