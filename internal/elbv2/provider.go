// Package elbv2 is the one place that talks to the AWS ELBv2 API.
//
// A process builds one Provider (New) and shares it between all
// verifications. The Provider owns the SDK client and everything that keeps
// the API bill and the throttling low when a thousand rollouts verify at once:
//
//   - a client-side token bucket (default 8 calls/s, burst 30) in front of
//     every request attempt, under AWS's Describe* limit of 10/s per account,
//     whose queue is served by priority (WithPriority: reads that can finish
//     a verification, then first reads after a change and structure reads,
//     then re-reads, then diagnosis reads) and, within a priority, oldest
//     change first; a call that waited 10 s is served as a finishing read;
//   - the SDK's standard retry for throttles (exponential backoff with jitter);
//   - singleflight coalescing plus a short TTL cache (default 2 s) per
//     listener's rules and per target group's health, and a longer one (10 s)
//     per load balancer's listeners and target groups, so that N rollouts
//     behind one ALB cost O(listeners + target groups) calls per round, not
//     O(N); callers may accept other ages (WithMaxAge), and PollInterval says
//     how often a re-read while waiting fits the rate limit;
//   - a freshness bound (WithNotBefore) that rules, target health and
//     listeners honour: a verification never decides on data read before its
//     change was written. An answer counts from the moment its request left
//     the rate-limit queue, so a read that waited serves every change written
//     while it waited;
//   - a cache of load balancers by DNS name, filled by one paginated
//     DescribeLoadBalancers scan on a miss and invalidated on LoadBalancerNotFound;
//   - target-group lists of every load balancer from one call when the
//     account's groups fit in one page, and tags cached per ARN and fetched
//     in batches of at most 20.
//
// Every call is counted in albrollouts_elbv2_api_calls_total{operation,outcome}
// and timed in albrollouts_elbv2_api_call_duration_seconds{operation}; the
// rate-limit wait of each attempt in
// albrollouts_elbv2_rate_limit_wait_seconds{operation,priority}.
// Failures are returned as *Error with a Kind that says what happened and what
// to do (AccessDenied names the IAM action to add).
package elbv2

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	awselbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/smithy-go/middleware"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/singleflight"
)

// Defaults of Options.
const (
	DefaultRateLimit    = 8.0
	DefaultBurst        = 30
	DefaultCacheTTL     = 2 * time.Second
	DefaultStructureTTL = 10 * time.Second
	DefaultTagsTTL      = 5 * time.Minute
	DefaultCallTimeout  = 2 * time.Minute
	DefaultMaxAttempts  = 3
	// pageSize is the largest page ELBv2 allows; fewer pages, fewer calls.
	pageSize = 400
	// maxTagARNs is the most resource ARNs DescribeTags accepts in one call.
	maxTagARNs = 20
)

// Options configure a Provider. The zero value is usable: every field has a default.
type Options struct {
	// Region of the ELBv2 client. New falls back to the SDK's default chain
	// (AWS_REGION, shared config); empty there is an error.
	Region string
	// EndpointURL overrides the ELBv2 endpoint, e.g. an elbsim URL. New only.
	EndpointURL string
	// Credentials overrides the SDK's default credential chain. New only.
	Credentials aws.CredentialsProvider
	// HTTPClient overrides the SDK's HTTP client. New only.
	HTTPClient *http.Client
	// MaxAttempts per call for the SDK's standard retryer (default 3). New only.
	MaxAttempts int

	// RateLimit (calls per second) and Burst of the client-side token bucket.
	RateLimit float64
	Burst     int
	// CacheTTL: how long rules, listeners, target groups and target health are
	// reused. Keep it shorter than the verification poll interval.
	CacheTTL time.Duration
	// StructureTTL: how long a load balancer's listeners and target-group
	// list are reused. They change when an ingress is added, not on a
	// weight step, so this can exceed CacheTTL: a rule naming a target group
	// missing from the list triggers a refresh (RefreshTargetGroups), and a
	// caller that needs listeners as fresh as a change asks with
	// WithNotBefore, which the listener cache honours.
	StructureTTL time.Duration
	// TagsTTL: how long target-group tags are reused. Tags of a target group
	// do not change in practice (a new group gets a new ARN), so this is
	// long. An empty tag answer is kept only for CacheTTL.
	TagsTTL time.Duration
	// CallTimeout bounds one coalesced call including rate-limit waits.
	CallTimeout time.Duration

	// Registerer receives the metrics; nil registers nowhere.
	Registerer prometheus.Registerer
	// Now is the clock of the caches; default time.Now.
	Now func() time.Time
}

func (o *Options) setDefaults() {
	if o.RateLimit <= 0 {
		o.RateLimit = DefaultRateLimit
	}
	if o.Burst <= 0 {
		o.Burst = DefaultBurst
	}
	if o.CacheTTL <= 0 {
		o.CacheTTL = DefaultCacheTTL
	}
	if o.StructureTTL <= 0 {
		o.StructureTTL = max(DefaultStructureTTL, o.CacheTTL)
	}
	if o.TagsTTL <= 0 {
		o.TagsTTL = DefaultTagsTTL
	}
	if o.CallTimeout <= 0 {
		o.CallTimeout = DefaultCallTimeout
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = DefaultMaxAttempts
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// Provider reads ELBv2 state for the verifier. It is safe for concurrent use;
// create one per process.
type Provider struct {
	api     API
	region  string
	opts    Options
	limiter *limiter
	// perAttempt is true when api is the real SDK client: the token bucket
	// and the throttle counter then run as SDK middleware on every attempt,
	// retries included. Other API implementations are limited per call.
	perAttempt bool
	optFns     []func(*awselbv2.Options)
	metrics    *metrics

	lbMu       sync.Mutex
	lbByDNS    map[string]LoadBalancer
	gone       map[string]goneLoadBalancer // by ARN: deleted ones, to name them alike in every error
	lastScan   time.Time
	scanned    int
	scanFlight singleflight.Group

	listeners    *ttlCache[[]Listener]
	rules        *ttlCache[[]Rule]
	targetGroups *ttlCache[[]TargetGroup]
	health       *ttlCache[[]TargetHealth]

	tagsMu sync.Mutex
	tags   map[string]tagEntry

	pollMu sync.Mutex
	polled map[string]time.Time // resources re-read while waiting, when last asked

	scanMu       sync.Mutex
	tgScan       *accountScan // every target group of the account, when it fits one page
	tgScanLarge  time.Time    // until when the account is known not to fit
	tgScanFlight singleflight.Group
	tgAsked      map[string]time.Time // load balancers whose group list was read, when
}

// tagEntry is the cached tags of one resource.
type tagEntry struct {
	tags    map[string]string
	expires time.Time
}

// New builds the process's ELBv2 client from the SDK default configuration
// (credentials chain, shared config) with o's region, endpoint and retry
// settings, and wraps it in a Provider.
func New(ctx context.Context, o Options) (*Provider, error) {
	o.setDefaults()
	loadOpts := []func(*config.LoadOptions) error{
		config.WithRetryer(func() aws.Retryer {
			return retry.NewStandard(func(so *retry.StandardOptions) {
				so.MaxAttempts = o.MaxAttempts
				// Our token bucket already keeps the request rate under
				// AWS's limit; the SDK's retry quota would instead turn a
				// throttling burst into hard failures.
				so.RateLimiter = ratelimit.None
			})
		}),
	}
	if o.Region != "" {
		loadOpts = append(loadOpts, config.WithRegion(o.Region))
	}
	if o.Credentials != nil {
		loadOpts = append(loadOpts, config.WithCredentialsProvider(o.Credentials))
	}
	if o.HTTPClient != nil {
		loadOpts = append(loadOpts, config.WithHTTPClient(o.HTTPClient))
	}
	cfg, err := config.LoadDefaultConfig(ctx, loadOpts...)
	if err != nil {
		return nil, fmt.Errorf("loading AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		return nil, errors.New("no AWS region: set it to the region of the load balancers (the controller's --aws-region, the CLI's --region, or AWS_REGION)")
	}
	// Mark failures of the credentials chain, so that a denied STS call or
	// an instance-metadata timeout is not taken for an ELBv2 answer.
	cfg.Credentials = markCredentials(cfg.Credentials)
	client := awselbv2.NewFromConfig(cfg, func(co *awselbv2.Options) {
		if o.EndpointURL != "" {
			co.BaseEndpoint = aws.String(o.EndpointURL)
		}
	})
	o.Region = cfg.Region
	return NewWithAPI(client, o), nil
}

// NewWithAPI wraps an existing API implementation: an SDK client built
// elsewhere (elbsimtest) or an in-memory fake. o.Region should be the
// client's region; it is used to detect load balancers of another region.
func NewWithAPI(api API, o Options) *Provider {
	o.setDefaults()
	// The token bucket runs on the wall clock even when the caches use a
	// test clock: it paces real requests.
	lim := newLimiter(o.RateLimit, o.Burst, time.Now)
	p := &Provider{
		api:          api,
		region:       o.Region,
		opts:         o,
		limiter:      lim,
		metrics:      newMetrics(o.Registerer),
		lbByDNS:      map[string]LoadBalancer{},
		gone:         map[string]goneLoadBalancer{},
		listeners:    newTTLCache[[]Listener](OpDescribeListeners, o.StructureTTL, o.CallTimeout, o.Now, lim),
		rules:        newTTLCache[[]Rule](OpDescribeRules, o.CacheTTL, o.CallTimeout, o.Now, lim),
		targetGroups: newTTLCache[[]TargetGroup](OpDescribeTargetGroups, o.StructureTTL, o.CallTimeout, o.Now, lim),
		health:       newTTLCache[[]TargetHealth](OpDescribeTargetHealth, o.CacheTTL, o.CallTimeout, o.Now, lim),
		tags:         map[string]tagEntry{},
		polled:       map[string]time.Time{},
		tgAsked:      map[string]time.Time{},
	}
	if _, ok := api.(*awselbv2.Client); ok {
		p.perAttempt = true
		p.optFns = []func(*awselbv2.Options){func(co *awselbv2.Options) {
			co.APIOptions = append(co.APIOptions, p.addAttemptMiddleware)
		}}
	}
	return p
}

// Region returns the region of the client.
func (p *Provider) Region() string { return p.region }

// Now is the provider's clock, the one the read times it reports are on.
func (p *Provider) Now() time.Time { return p.opts.Now() }

// CacheTTL is how long rules and target health are reused by default.
func (p *Provider) CacheTTL() time.Duration { return p.opts.CacheTTL }

// StructureTTL is how long listener and target-group lists are reused by default.
func (p *Provider) StructureTTL() time.Duration { return p.opts.StructureTTL }

// pollShare is the part of the rate limit that re-reads (PriorityPoll) may
// take when every polled resource is read once per PollInterval.
const pollShare = 0.5

// PollInterval is how often a resource that is re-read while waiting
// (rules that do not match yet, targets not healthy yet) should be read
// again: often enough to see a change within about one interval, rarely
// enough that all resources being polled take at most half the rate limit
// (the other half stays for first reads after a change and for the reads
// that finish a verification). It is CacheTTL while few resources are
// polled, and grows with their number up to StructureTTL.
func (p *Provider) PollInterval() time.Duration {
	now := p.opts.Now()
	p.pollMu.Lock()
	defer p.pollMu.Unlock()
	n := 0
	for k, t := range p.polled {
		if now.Sub(t) > p.opts.StructureTTL {
			delete(p.polled, k)
			continue
		}
		n++
	}
	return pollInterval(n, p.opts.RateLimit, p.opts.CacheTTL, p.opts.StructureTTL)
}

// pollInterval is the interval at which n resources can each be read once
// with pollShare of rate calls per second, between lo and hi.
func pollInterval(n int, rate float64, lo, hi time.Duration) time.Duration {
	d := time.Duration(float64(n) / (rate * pollShare) * float64(time.Second))
	return min(max(d, lo), max(hi, lo))
}

// notePoll records that key is being re-read while waiting, for PollInterval.
func (p *Provider) notePoll(kind, key string) {
	p.pollMu.Lock()
	defer p.pollMu.Unlock()
	p.polled[kind+" "+key] = p.opts.Now()
}

// errClientRateLimited is returned when the client-side token bucket cannot
// grant a token before the call's deadline.
var errClientRateLimited = errors.New("client-side ELBv2 rate limit: more calls queued than can be made before the deadline")

// addAttemptMiddleware installs the token bucket and the throttle counter
// after the SDK's retry middleware, so that they see every attempt.
func (p *Provider) addAttemptMiddleware(stack *middleware.Stack) error {
	mw := middleware.FinalizeMiddlewareFunc("albrolloutsRateLimit", func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
		if err := p.wait(ctx, awsmiddleware.GetOperationName(ctx)); err != nil {
			return middleware.FinalizeOutput{}, middleware.Metadata{}, err
		}
		out, md, err := next.HandleFinalize(ctx, in)
		if err != nil && isThrottle(err) {
			p.metrics.throttles.WithLabelValues(awsmiddleware.GetOperationName(ctx)).Inc()
		}
		return out, md, err
	})
	// Wait before signing: a long wait must not age the signature.
	if err := stack.Finalize.Insert(mw, "Signing", middleware.Before); err != nil {
		return stack.Finalize.Add(mw, middleware.After)
	}
	return nil
}

// wait queues for a token with the ticket in ctx, and stamps the read's
// receipt with the time the request leaves the queue.
func (p *Provider) wait(ctx context.Context, op string) error {
	tk := ticketOf(ctx)
	if tk == nil {
		tk = p.limiter.newTicket(ctx, PriorityFirst)
	}
	start := time.Now()
	prio, err := p.limiter.wait(ctx, tk)
	if err != nil {
		return fmt.Errorf("%w: %v", errClientRateLimited, err)
	}
	p.metrics.waits.WithLabelValues(op, prio.String()).Observe(time.Since(start).Seconds())
	stampSent(ctx, p.opts.Now())
	return nil
}

// call runs one API request with rate limiting (when not done per attempt),
// metrics and error classification.
func call[T any](ctx context.Context, p *Provider, op, resource string, f func(context.Context) (T, error)) (T, error) {
	start := time.Now()
	var (
		v   T
		err error
	)
	if ticketOf(ctx) == nil {
		ctx = withTicket(ctx, p.limiter.newTicket(ctx, PriorityFirst))
	}
	if !p.perAttempt {
		err = p.wait(ctx, op)
	}
	if err == nil {
		v, err = f(ctx)
		if err != nil && !p.perAttempt && isThrottle(err) {
			p.metrics.throttles.WithLabelValues(op).Inc()
		}
	}
	var cerr *Error
	if err != nil {
		cerr = classify(op, resource, err)
		if errors.Is(err, errClientRateLimited) {
			cerr.Kind = KindThrottled
		}
	}
	p.metrics.calls.WithLabelValues(op, outcomeOf(cerr)).Inc()
	p.metrics.duration.WithLabelValues(op).Observe(time.Since(start).Seconds())
	if cerr != nil {
		return v, cerr
	}
	return v, nil
}

// normalizeDNS lower-cases a DNS name and drops a trailing dot.
func normalizeDNS(dns string) string { return strings.TrimSuffix(strings.ToLower(dns), ".") }

// LoadBalancerByDNS finds the load balancer an Ingress status hostname points
// at. A DNS name of another region than the client's is a RegionMismatch
// error; a name absent from a fresh scan is LoadBalancerNotFound.
func (p *Provider) LoadBalancerByDNS(ctx context.Context, dnsName string) (LoadBalancer, error) {
	dns := normalizeDNS(dnsName)
	if region, ok := RegionFromDNSName(dns); ok && p.region != "" && region != p.region {
		return LoadBalancer{}, &Error{Kind: KindRegionMismatch, Resource: dnsName, Detail: fmt.Sprintf(
			"load balancer %s is in region %s but the ELBv2 client uses region %s: run the controller with --aws-region %s (the CLI with --region %s, or AWS_REGION=%s), one controller per region",
			dnsName, region, p.region, region, region, region)}
	}
	if lb, ok := p.cachedLB(dns); ok {
		return lb, nil
	}
	ch := p.scanFlight.DoChan("scan", func() (any, error) {
		return nil, p.scanLoadBalancers(ctx)
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			return LoadBalancer{}, r.Err
		}
	case <-ctx.Done():
		return LoadBalancer{}, ctx.Err()
	}
	if lb, ok := p.cachedLB(dns); ok {
		return lb, nil
	}
	p.lbMu.Lock()
	n := p.scanned
	p.lbMu.Unlock()
	return LoadBalancer{}, &Error{Kind: KindLoadBalancerNotFound, Operation: OpDescribeLoadBalancers, Resource: dnsName, Detail: fmt.Sprintf(
		"no load balancer has DNS name %s in region %s (%d load balancers listed): it was deleted, the Ingress status is stale, or the credentials belong to another account",
		dnsName, p.region, n)}
}

func (p *Provider) cachedLB(dns string) (LoadBalancer, bool) {
	p.lbMu.Lock()
	defer p.lbMu.Unlock()
	lb, ok := p.lbByDNS[dns]
	return lb, ok
}

// scanLoadBalancers lists every load balancer of the account and region and
// replaces the DNS cache. A scan younger than the cache TTL is reused, so a
// hostname that does not exist costs at most one scan per TTL.
func (p *Provider) scanLoadBalancers(ctx context.Context) error {
	p.lbMu.Lock()
	fresh := !p.lastScan.IsZero() && p.opts.Now().Sub(p.lastScan) < p.opts.CacheTTL
	p.lbMu.Unlock()
	if fresh {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), p.opts.CallTimeout)
	defer cancel()
	found := map[string]LoadBalancer{}
	var marker *string
	for {
		out, err := call(ctx, p, OpDescribeLoadBalancers, "", func(ctx context.Context) (*awselbv2.DescribeLoadBalancersOutput, error) {
			return p.api.DescribeLoadBalancers(ctx, &awselbv2.DescribeLoadBalancersInput{Marker: marker, PageSize: aws.Int32(pageSize)}, p.optFns...)
		})
		if err != nil {
			return err
		}
		for _, lb := range out.LoadBalancers {
			l := fromLoadBalancer(lb)
			found[normalizeDNS(l.DNSName)] = l
		}
		if out.NextMarker == nil || *out.NextMarker == "" {
			break
		}
		marker = out.NextMarker
	}
	p.lbMu.Lock()
	p.lbByDNS, p.lastScan, p.scanned = found, p.opts.Now(), len(found)
	p.lbMu.Unlock()
	return nil
}

// loadBalancerGone forgets a load balancer reported deleted, and everything
// cached under it, and returns err restated to name the load balancer by its
// DNS name (what the operator sees in the Ingress status). It runs inside
// the coalesced call, so that every caller gets the same error; err itself is
// not changed (errors handed to several callers are immutable).
func (p *Provider) loadBalancerGone(lbARN string, err error) error {
	now := p.opts.Now()
	p.lbMu.Lock()
	g, known := p.gone[lbARN]
	for dns, lb := range p.lbByDNS {
		if lb.ARN == lbARN {
			g, known = goneLoadBalancer{lb: lb, at: now}, true
			delete(p.lbByDNS, dns)
		}
	}
	if known {
		p.gone[lbARN] = g
	}
	for arn, x := range p.gone {
		if now.Sub(x.at) > p.opts.TagsTTL {
			delete(p.gone, arn)
		}
	}
	p.lbMu.Unlock()
	p.listeners.forget(lbARN)
	p.targetGroups.forget(lbARN)
	var e *Error
	if !errors.As(err, &e) {
		return err
	}
	restated := *e
	name, where := NameFromARN(lbARN), lbARN
	if g.lb.DNSName != "" {
		name, where = g.lb.Name, g.lb.DNSName
	}
	restated.Detail = fmt.Sprintf("load balancer %s (%s) no longer exists (%s said LoadBalancerNotFound): it was deleted; the Ingress status will point at its replacement once the load balancer controller creates one",
		name, where, e.Operation)
	return &restated
}

// goneLoadBalancer is a load balancer AWS reported deleted, and when.
type goneLoadBalancer struct {
	lb LoadBalancer
	at time.Time
}

// Listeners returns the listeners of a load balancer. Under WithNotBefore
// only a list read at or after that time is accepted, so that a listener
// added shortly before a change is seen by the check that verifies it;
// without it, a list up to StructureTTL old is reused.
func (p *Provider) Listeners(ctx context.Context, lbARN string) ([]Listener, error) {
	ls, _, err := p.ListenersAt(ctx, lbARN)
	return ls, err
}

// ListenersAt is Listeners with the time the list was read.
func (p *Provider) ListenersAt(ctx context.Context, lbARN string) ([]Listener, time.Time, error) {
	return p.listeners.get(ctx, lbARN, PriorityFirst, func(ctx context.Context) ([]Listener, error) {
		var ls []Listener
		var marker *string
		for {
			out, err := call(ctx, p, OpDescribeListeners, lbARN, func(ctx context.Context) (*awselbv2.DescribeListenersOutput, error) {
				return p.api.DescribeListeners(ctx, &awselbv2.DescribeListenersInput{LoadBalancerArn: aws.String(lbARN), Marker: marker, PageSize: aws.Int32(pageSize)}, p.optFns...)
			})
			if KindOf(err) == KindLoadBalancerNotFound {
				return nil, p.loadBalancerGone(lbARN, err)
			}
			if err != nil {
				return nil, err
			}
			for _, l := range out.Listeners {
				ls = append(ls, fromListener(l))
			}
			if out.NextMarker == nil || *out.NextMarker == "" {
				return ls, nil
			}
			marker = out.NextMarker
		}
	})
}

// Rules returns the rules of a listener, the default rule included.
func (p *Provider) Rules(ctx context.Context, listenerARN string) ([]Rule, error) {
	rs, _, err := p.RulesAt(ctx, listenerARN)
	return rs, err
}

// RulesAt is Rules with the time the rules were read. A read it makes
// queues as PriorityPoll when the listener was already read after the
// freshness bound (a re-read while waiting for the change), else as
// PriorityFirst; WithPriority overrides that.
func (p *Provider) RulesAt(ctx context.Context, listenerARN string) ([]Rule, time.Time, error) {
	prio := PriorityFirst
	if nb := notBeforeOf(ctx); !nb.IsZero() && p.rules.readSince(listenerARN, nb) {
		prio = PriorityPoll
	}
	if cp, ok := priorityOf(ctx); ok {
		prio = cp
	}
	if prio == PriorityPoll {
		p.notePoll(OpDescribeRules, listenerARN)
	}
	rs, at, err := p.rules.get(ctx, listenerARN, prio, func(ctx context.Context) ([]Rule, error) {
		var rs []Rule
		var marker *string
		for {
			out, err := call(ctx, p, OpDescribeRules, listenerARN, func(ctx context.Context) (*awselbv2.DescribeRulesOutput, error) {
				return p.api.DescribeRules(ctx, &awselbv2.DescribeRulesInput{ListenerArn: aws.String(listenerARN), Marker: marker, PageSize: aws.Int32(pageSize)}, p.optFns...)
			})
			if err != nil {
				return nil, err
			}
			for _, r := range out.Rules {
				rs = append(rs, fromRule(r))
			}
			if out.NextMarker == nil || *out.NextMarker == "" {
				return rs, nil
			}
			marker = out.NextMarker
		}
	})
	if KindOf(err) == KindListenerNotFound {
		// The listener list of its load balancer is stale.
		p.listeners.forget(loadBalancerARNOfListener(listenerARN))
	}
	return rs, at, err
}

// withoutNotBefore drops the freshness bound and any maximum age: a load
// balancer's target groups do not change with a weight step, and a rule
// naming a group missing from the list triggers a refresh
// (RefreshTargetGroups).
func withoutNotBefore(ctx context.Context) context.Context {
	if !notBeforeOf(ctx).IsZero() {
		ctx = context.WithValue(ctx, notBeforeKey{}, time.Time{})
	}
	if _, ok := ctx.Value(maxAgeKey{}).(time.Duration); ok {
		ctx = context.WithValue(ctx, maxAgeKey{}, time.Duration(0))
	}
	return ctx
}

// loadBalancerARNOfListener maps
// arn:…:listener/app/NAME/LBID/LISTENERID to arn:…:loadbalancer/app/NAME/LBID.
func loadBalancerARNOfListener(listenerARN string) string {
	arn := strings.Replace(listenerARN, ":listener/", ":loadbalancer/", 1)
	if i := strings.LastIndex(arn, "/"); i > 0 {
		return arn[:i]
	}
	return arn
}

// TargetGroups returns the target groups attached to a load balancer, each
// with its tags.
//
// In an account whose target groups fit in one DescribeTargetGroups page
// (400), one call lists them for every load balancer once a second one is
// asked for (see groupsFromAccountScan); otherwise each load balancer's list
// is one call.
func (p *Provider) TargetGroups(ctx context.Context, lbARN string) ([]TargetGroup, error) {
	tgs, _, err := p.targetGroups.get(withoutNotBefore(ctx), lbARN, PriorityFirst, func(ctx context.Context) ([]TargetGroup, error) {
		tgs, ok, err := p.groupsFromAccountScan(ctx, lbARN)
		if err != nil {
			return nil, err
		}
		if ok {
			if err := p.attachTags(ctx, tgs); err != nil {
				return nil, err
			}
			return tgs, nil
		}
		var marker *string
		for {
			out, err := call(ctx, p, OpDescribeTargetGroups, lbARN, func(ctx context.Context) (*awselbv2.DescribeTargetGroupsOutput, error) {
				return p.api.DescribeTargetGroups(ctx, &awselbv2.DescribeTargetGroupsInput{LoadBalancerArn: aws.String(lbARN), Marker: marker, PageSize: aws.Int32(pageSize)}, p.optFns...)
			})
			if KindOf(err) == KindLoadBalancerNotFound {
				return nil, p.loadBalancerGone(lbARN, err)
			}
			if err != nil {
				return nil, err
			}
			for _, tg := range out.TargetGroups {
				tgs = append(tgs, fromTargetGroup(tg))
			}
			if out.NextMarker == nil || *out.NextMarker == "" {
				break
			}
			marker = out.NextMarker
		}
		if err := p.attachTags(ctx, tgs); err != nil {
			return nil, err
		}
		return tgs, nil
	})
	return tgs, err
}

// RefreshTargetGroups drops the cached target-group list of a load balancer
// when it is older than CacheTTL, so that the next TargetGroups call sees
// groups created since. It reports whether the list will be re-read.
func (p *Provider) RefreshTargetGroups(lbARN string) bool {
	if !p.targetGroups.forgetIfOlder(lbARN, p.opts.CacheTTL) {
		return false
	}
	p.scanMu.Lock()
	if s := p.tgScan; s != nil && p.opts.Now().Sub(s.fetched) > p.opts.CacheTTL {
		p.tgScan = nil
	}
	p.scanMu.Unlock()
	return true
}

// accountScan is every target group of the account, read in one call and
// grouped by the load balancers that route to them.
type accountScan struct {
	byLB    map[string][]TargetGroup
	fetched time.Time
}

// largeAccountRecheck is how long an account known to hold more target
// groups than one page is not scanned again.
const largeAccountRecheck = 10 * time.Minute

// groupsFromAccountScan returns the target groups of a load balancer from
// one DescribeTargetGroups call without filter, which lists every target
// group of the account, each with the load balancers that route to it: N
// load balancers then cost one call instead of N. It scans only when another
// load balancer's list was asked for within StructureTTL (one load balancer
// is one call either way), and reuses a scan for StructureTTL, like a load
// balancer's own list. ok is false when there is no scan, when the
// account's groups do not fit in one page (the scan is then not tried again
// for largeAccountRecheck), and when the scan shows no group for lbARN: the
// load balancer's own list then tells whether it was deleted, is new or has
// none.
func (p *Provider) groupsFromAccountScan(ctx context.Context, lbARN string) ([]TargetGroup, bool, error) {
	now := p.opts.Now()
	p.scanMu.Lock()
	others := 0
	for lb, t := range p.tgAsked {
		switch {
		case now.Sub(t) > p.opts.StructureTTL:
			delete(p.tgAsked, lb)
		case lb != lbARN:
			others++
		}
	}
	p.tgAsked[lbARN] = now
	if now.Before(p.tgScanLarge) {
		p.scanMu.Unlock()
		return nil, false, nil
	}
	if s := p.tgScan; s != nil && now.Sub(s.fetched) < p.opts.StructureTTL {
		p.scanMu.Unlock()
		tgs := slices.Clone(s.byLB[lbARN])
		return tgs, len(tgs) > 0, nil
	}
	p.scanMu.Unlock()
	if others == 0 {
		return nil, false, nil
	}
	ch := p.tgScanFlight.DoChan("scan", func() (any, error) {
		start := p.opts.Now()
		out, err := call(ctx, p, OpDescribeTargetGroups, "", func(ctx context.Context) (*awselbv2.DescribeTargetGroupsOutput, error) {
			return p.api.DescribeTargetGroups(ctx, &awselbv2.DescribeTargetGroupsInput{PageSize: aws.Int32(pageSize)}, p.optFns...)
		})
		if err != nil {
			return nil, err
		}
		if out.NextMarker != nil && *out.NextMarker != "" {
			p.scanMu.Lock()
			p.tgScanLarge = p.opts.Now().Add(largeAccountRecheck)
			p.scanMu.Unlock()
			return (*accountScan)(nil), nil
		}
		s := &accountScan{byLB: map[string][]TargetGroup{}, fetched: start}
		for _, tg := range out.TargetGroups {
			for _, lb := range tg.LoadBalancerArns {
				s.byLB[lb] = append(s.byLB[lb], fromTargetGroup(tg))
			}
		}
		p.scanMu.Lock()
		p.tgScan = s
		p.scanMu.Unlock()
		return s, nil
	})
	var r singleflight.Result
	select {
	case r = <-ch:
	case <-ctx.Done():
		return nil, false, ctx.Err()
	}
	if r.Err != nil {
		return nil, false, r.Err
	}
	s := r.Val.(*accountScan)
	if s == nil {
		return nil, false, nil
	}
	tgs := slices.Clone(s.byLB[lbARN])
	return tgs, len(tgs) > 0, nil
}

// attachTags fills tgs[i].Tags from the tag cache, fetching the missing ARNs
// in batches of at most 20 (DescribeTags' limit). Tags are kept for TagsTTL,
// but an empty answer only for CacheTTL: a group that was just created may
// not show its tags yet (AWS reads are eventually consistent), and reading
// it as untagged for minutes would stall the verifications that need it.
func (p *Provider) attachTags(ctx context.Context, tgs []TargetGroup) error {
	now := p.opts.Now()
	var missing []string
	p.tagsMu.Lock()
	for _, tg := range tgs {
		if e, ok := p.tags[tg.ARN]; !ok || !now.Before(e.expires) {
			missing = append(missing, tg.ARN)
		}
	}
	p.tagsMu.Unlock()
	for start := 0; start < len(missing); start += maxTagARNs {
		batch := missing[start:min(start+maxTagARNs, len(missing))]
		out, err := call(ctx, p, OpDescribeTags, strings.Join(batch, ","), func(ctx context.Context) (*awselbv2.DescribeTagsOutput, error) {
			return p.api.DescribeTags(ctx, &awselbv2.DescribeTagsInput{ResourceArns: batch}, p.optFns...)
		})
		if err != nil {
			return err
		}
		p.tagsMu.Lock()
		for _, arn := range batch {
			// A group AWS returned no description for has no tags (yet).
			p.tags[arn] = tagEntry{tags: map[string]string{}, expires: now.Add(p.opts.CacheTTL)}
		}
		for _, d := range out.TagDescriptions {
			m := make(map[string]string, len(d.Tags))
			for _, t := range d.Tags {
				m[aws.ToString(t.Key)] = aws.ToString(t.Value)
			}
			ttl := p.opts.TagsTTL
			if len(m) == 0 {
				ttl = p.opts.CacheTTL
			}
			p.tags[aws.ToString(d.ResourceArn)] = tagEntry{tags: m, expires: now.Add(ttl)}
		}
		p.tagsMu.Unlock()
	}
	p.tagsMu.Lock()
	defer p.tagsMu.Unlock()
	for i := range tgs {
		tgs[i].Tags = p.tags[tgs[i].ARN].tags
	}
	return nil
}

// TargetHealth returns the health of every target registered in (or
// draining from) a target group.
func (p *Provider) TargetHealth(ctx context.Context, tgARN string) ([]TargetHealth, error) {
	hs, _, err := p.TargetHealthAt(ctx, tgARN)
	return hs, err
}

// LastTargetHealth returns the most recent health of a target group that
// any caller read (of any age, as long as the cache keeps it), with the time
// it was read, without calling AWS; ok is false when none is kept.
func (p *Provider) LastTargetHealth(tgARN string) (hs []TargetHealth, at time.Time, ok bool) {
	e, ok := p.health.last(tgARN)
	return e.value, e.fetched, ok
}

// TargetHealthAt is TargetHealth with the time the health was read.
func (p *Provider) TargetHealthAt(ctx context.Context, tgARN string) ([]TargetHealth, time.Time, error) {
	if prio, ok := priorityOf(ctx); ok && prio == PriorityPoll {
		p.notePoll(OpDescribeTargetHealth, tgARN)
	}
	return p.health.get(ctx, tgARN, PriorityFirst, func(ctx context.Context) ([]TargetHealth, error) {
		out, err := call(ctx, p, OpDescribeTargetHealth, tgARN, func(ctx context.Context) (*awselbv2.DescribeTargetHealthOutput, error) {
			return p.api.DescribeTargetHealth(ctx, &awselbv2.DescribeTargetHealthInput{TargetGroupArn: aws.String(tgARN)}, p.optFns...)
		})
		if err != nil {
			return nil, err
		}
		hs := make([]TargetHealth, 0, len(out.TargetHealthDescriptions))
		for _, d := range out.TargetHealthDescriptions {
			hs = append(hs, fromTargetHealth(d))
		}
		return hs, nil
	})
}
