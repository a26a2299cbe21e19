// Package health emulates the target health checks of an AWS Application Load
// Balancer for elbsim.
//
// A Prober holds target groups (their Check settings and registered targets)
// and probes every registered target over real HTTP, one goroutine per target,
// with the group's path, port, interval, timeout, thresholds and success-code
// matcher. Target states and reasons follow AWS:
//
//	initial     Elb.RegistrationInProgress until the first probe, then Elb.InitialHealthChecking;
//	            HealthyThreshold consecutive passes -> healthy, UnhealthyThreshold failures -> unhealthy
//	healthy     UnhealthyThreshold consecutive failures -> unhealthy
//	unhealthy   Target.ResponseCodeMismatch, Target.Timeout or Target.FailedHealthChecks
//	            (the latest failure); HealthyThreshold consecutive passes -> healthy
//	draining    Target.DeregistrationInProgress for the deregistration delay, then removed
//	unused      Target.NotRegistered (asked for a target that is not registered),
//	            Target.NotInUse (SetInUse(false): no listener rule uses the group; not probed)
//	unavailable Target.HealthCheckDisabled (Check.Enabled is false; not probed)
//
// Options.TimeScale multiplies every duration (interval, timeout, deregistration
// delay) so tests can run a 15 s interval in 150 ms without changing the state
// machine.
//
// Only loopback targets (127.0.0.0/8, ::1) are ever contacted: a target with any
// other IP fails its checks with Target.FailedHealthChecks without a connection.
//
// SetTargetFailing is a fault-injection hook: probes of that IP:port fail as if the
// health endpoint had answered 500 (Target.ResponseCodeMismatch, "Health checks
// failed with these codes: [500]"), without contacting the target.
package health

import (
	"context"
	"crypto/tls"
	"math/rand/v2"
	"net"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/albrollouts/albrollouts/internal/sim/elbsim/reach"
)

// Target is a registered target: an IP address and the port traffic goes to.
type Target struct {
	ID   string // IP address
	Port int32
}

// State is a target health state as in DescribeTargetHealth.
type State string

// Target health states.
const (
	StateInitial     State = "initial"
	StateHealthy     State = "healthy"
	StateUnhealthy   State = "unhealthy"
	StateUnused      State = "unused"
	StateDraining    State = "draining"
	StateUnavailable State = "unavailable"
)

// Reason codes, as in TargetHealth.Reason.
const (
	ReasonRegistrationInProgress   = "Elb.RegistrationInProgress"
	ReasonInitialHealthChecking    = "Elb.InitialHealthChecking"
	ReasonResponseCodeMismatch     = "Target.ResponseCodeMismatch"
	ReasonTimeout                  = "Target.Timeout"
	ReasonFailedHealthChecks       = "Target.FailedHealthChecks"
	ReasonNotRegistered            = "Target.NotRegistered"
	ReasonNotInUse                 = "Target.NotInUse"
	ReasonDeregistrationInProgress = "Target.DeregistrationInProgress"
	ReasonHealthCheckDisabled      = "Target.HealthCheckDisabled"
)

// Descriptions AWS gives with the reasons above (ResponseCodeMismatch adds the codes).
const (
	descRegistrationInProgress   = "Target registration is in progress"
	descInitialHealthChecking    = "Initial health checks in progress"
	descTimeout                  = "Request timed out"
	descFailedHealthChecks       = "Health checks failed"
	descNotRegistered            = "Target is not registered to the target group"
	descNotInUse                 = "Target group is not configured to receive traffic from the load balancer"
	descDeregistrationInProgress = "Target deregistration is in progress"
	descHealthCheckDisabled      = "Health checks are disabled"
)

// Status is the health of one target, as a DescribeTargetHealth TargetHealthDescription.
type Status struct {
	Target          Target
	HealthCheckPort string
	State           State
	Reason          string // empty when healthy
	Description     string // empty when healthy
}

// Options configures a Prober.
type Options struct {
	// TimeScale multiplies health-check intervals, timeouts and deregistration
	// delays; 0 means 1 (real time). 0.01 runs a 15 s interval in 150 ms.
	TimeScale float64
	// Client sends the probes. Default: a client that never follows redirects,
	// uses no proxy and does not verify target TLS certificates (as ALB).
	Client *http.Client
	// TargetRanges are the addresses probed besides loopback (see package reach).
	TargetRanges reach.Ranges
}

// Prober probes the targets of many target groups. It is safe for concurrent use.
type Prober struct {
	reach     reach.Ranges
	scale     float64
	client    *http.Client
	ownClient bool
	now       func() time.Time // lets tests move draining deadlines

	ctx    context.Context // cancelled by Close; parent of every probe loop
	cancel context.CancelFunc
	wg     sync.WaitGroup
	loops  atomic.Int64 // running probe goroutines

	mu      sync.Mutex
	closed  bool
	groups  map[string]*group
	failing map[Target]bool
}

// group is one target group's settings and targets.
type group struct {
	check      Check
	matcher    Matcher
	deregDelay time.Duration
	inUse      bool
	targets    map[Target]*target
}

// target is the mutable health record of one registered (or draining) target.
type target struct {
	t          Target
	state      State // initial, healthy, unhealthy or draining
	reason     string
	desc       string
	passes     int // consecutive passing probes
	fails      int // consecutive failing probes
	drainUntil time.Time
	stop       context.CancelFunc // non-nil while a probe loop runs for this record
}

// NewProber returns a Prober with no target groups. Call Close to stop probing.
func NewProber(o Options) *Prober {
	p := &Prober{
		reach:   o.TargetRanges,
		scale:   o.TimeScale,
		client:  o.Client,
		now:     time.Now,
		groups:  map[string]*group{},
		failing: map[Target]bool{},
	}
	if p.scale <= 0 {
		p.scale = 1
	}
	if p.client == nil {
		p.client = defaultClient()
		p.ownClient = true
	}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	return p
}

func defaultClient() *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			Proxy:               nil, // never send probes to an HTTP_PROXY
			DialContext:         (&net.Dialer{KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConnsPerHost: 2,
			IdleConnTimeout:     90 * time.Second,
			DisableCompression:  true,
			// ALB does not validate target certificates for HTTPS health checks.
			TLSClientConfig: &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12}, //nolint:gosec // as ALB
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// scaled applies the time scale, never returning less than a millisecond for a positive d.
func (p *Prober) scaled(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return max(time.Duration(float64(d)*p.scale), time.Millisecond)
}

// SetGroup creates the target group or updates its health-check settings and
// deregistration delay. A new group is in use (see SetInUse). An invalid
// Matcher falls back to "200"; validate with ParseMatcher beforehand.
func (p *Prober) SetGroup(tgARN string, c Check, deregistrationDelay time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	g := p.groups[tgARN]
	if g == nil {
		g = &group{inUse: true, targets: map[Target]*target{}}
		p.groups[tgARN] = g
	}
	g.check = c.withDefaults()
	m, err := ParseMatcher(g.check.Matcher)
	if err != nil {
		m = Matcher{{Lo: 200, Hi: 200}}
	}
	g.matcher = m
	g.deregDelay = deregistrationDelay
	p.reconcileLocked(tgARN, g)
}

// groupLocked returns the group, creating one with the AWS default check when
// targets are registered before SetGroup was called.
func (p *Prober) groupLocked(tgARN string) *group {
	g := p.groups[tgARN]
	if g == nil {
		g = &group{check: DefaultCheck(), matcher: Matcher{{Lo: 200, Hi: 200}}, deregDelay: 300 * time.Second,
			inUse: true, targets: map[Target]*target{}}
		p.groups[tgARN] = g
	}
	return g
}

// RemoveGroup stops probing the group's targets and forgets the group.
func (p *Prober) RemoveGroup(tgARN string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	g := p.groups[tgARN]
	if g == nil {
		return
	}
	for _, t := range g.targets {
		t.stopProbing()
	}
	delete(p.groups, tgARN)
}

// Register adds targets. New targets (and draining ones registered again) start
// initial / Elb.RegistrationInProgress; already registered targets are unchanged.
func (p *Prober) Register(tgARN string, ts []Target) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	g := p.groupLocked(tgARN)
	p.purgeLocked(g)
	for _, tt := range ts {
		t := g.targets[tt]
		switch {
		case t == nil:
			g.targets[tt] = newTarget(tt)
		case t.state == StateDraining:
			t.reset()
		}
	}
	p.reconcileLocked(tgARN, g)
}

// Deregister starts draining targets: draining / Target.DeregistrationInProgress
// for the (scaled) deregistration delay, then they are gone. Targets of a group
// that is not in use, or with a zero delay, are removed at once. Unknown targets
// are ignored.
func (p *Prober) Deregister(tgARN string, ts []Target) {
	p.mu.Lock()
	defer p.mu.Unlock()
	g := p.groups[tgARN]
	if g == nil {
		return
	}
	delay := p.scaled(g.deregDelay)
	for _, tt := range ts {
		t := g.targets[tt]
		if t == nil || t.state == StateDraining {
			continue
		}
		t.stopProbing()
		if delay == 0 || !g.inUse {
			delete(g.targets, tt)
			continue
		}
		t.state, t.reason, t.desc = StateDraining, ReasonDeregistrationInProgress, descDeregistrationInProgress
		t.drainUntil = p.now().Add(delay)
	}
}

// SetInUse records whether any listener rule forwards to the group. While not
// in use its targets report unused / Target.NotInUse and are not probed; when
// it comes back into use they start over from initial, as in AWS.
func (p *Prober) SetInUse(tgARN string, inUse bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	g := p.groupLocked(tgARN)
	if g.inUse == inUse {
		return
	}
	g.inUse = inUse
	p.reconcileLocked(tgARN, g)
}

// SetTargetFailing turns the fault on or off: while on, every probe of ip:port
// (in any group) fails as if the health endpoint had answered 500.
func (p *Prober) SetTargetFailing(ip string, port int32, failing bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	k := Target{ID: ip, Port: port}
	if failing {
		p.failing[k] = true
	} else {
		delete(p.failing, k)
	}
}

// Status returns the health of every registered and draining target of the
// group, ordered by IP then port. Unknown groups have none.
func (p *Prober) Status(tgARN string) []Status {
	p.mu.Lock()
	defer p.mu.Unlock()
	g := p.groups[tgARN]
	if g == nil {
		return nil
	}
	p.purgeLocked(g)
	out := make([]Status, 0, len(g.targets))
	for _, t := range g.targets {
		out = append(out, g.statusOf(t))
	}
	sort.Slice(out, func(i, j int) bool { return targetLess(out[i].Target, out[j].Target) })
	return out
}

// StatusOf returns the health of one target; unused / Target.NotRegistered when
// it is not registered (or the group is unknown).
func (p *Prober) StatusOf(tgARN string, tt Target) Status {
	p.mu.Lock()
	defer p.mu.Unlock()
	check := DefaultCheck()
	if g := p.groups[tgARN]; g != nil {
		p.purgeLocked(g)
		if t := g.targets[tt]; t != nil {
			return g.statusOf(t)
		}
		check = g.check
	}
	return Status{Target: tt, HealthCheckPort: check.probePort(tt), State: StateUnused,
		Reason: ReasonNotRegistered, Description: descNotRegistered}
}

// Routable returns the targets a load balancer may send traffic to, ordered by
// IP then port: the healthy ones; when none is healthy but some are unhealthy,
// all registered targets that are neither initial nor draining (fail-open, as
// ALB); with health checks disabled, every registered target that is not
// draining; otherwise (and for groups not in use) none.
func (p *Prober) Routable(tgARN string) []Target {
	p.mu.Lock()
	defer p.mu.Unlock()
	g := p.groups[tgARN]
	if g == nil {
		return nil
	}
	p.purgeLocked(g)
	return g.routable()
}

// Close stops all probing and waits for the probe goroutines to end. Other
// methods keep answering from the last known state; Register and SetGroup
// become no-ops.
func (p *Prober) Close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.cancel()
	p.wg.Wait()
	if p.ownClient {
		p.client.CloseIdleConnections()
	}
}

func newTarget(tt Target) *target {
	t := &target{t: tt}
	t.reset()
	return t
}

// reset puts the target back to the start of the state machine.
func (t *target) reset() {
	t.state, t.reason, t.desc = StateInitial, ReasonRegistrationInProgress, descRegistrationInProgress
	t.passes, t.fails = 0, 0
	t.drainUntil = time.Time{}
}

func (t *target) stopProbing() {
	if t.stop != nil {
		t.stop()
		t.stop = nil
	}
}

// probed reports whether targets of the group are health checked right now.
func (g *group) probed() bool { return g.inUse && g.check.Enabled }

// statusOf derives the reported status: group-level conditions (not in use,
// checks disabled) override the probe state of non-draining targets.
func (g *group) statusOf(t *target) Status {
	s := Status{Target: t.t, HealthCheckPort: g.check.probePort(t.t), State: t.state, Reason: t.reason, Description: t.desc}
	switch {
	case t.state == StateDraining:
	case !g.inUse:
		s.State, s.Reason, s.Description = StateUnused, ReasonNotInUse, descNotInUse
	case !g.check.Enabled:
		s.State, s.Reason, s.Description = StateUnavailable, ReasonHealthCheckDisabled, descHealthCheckDisabled
	}
	return s
}

func (g *group) routable() []Target {
	if !g.inUse {
		return nil
	}
	var healthy, failOpen []Target
	for _, t := range g.targets {
		switch {
		case t.state == StateDraining:
		case !g.check.Enabled:
			healthy = append(healthy, t.t)
		case t.state == StateHealthy:
			healthy = append(healthy, t.t)
		case t.state == StateUnhealthy:
			failOpen = append(failOpen, t.t)
		}
	}
	out := healthy
	if len(out) == 0 {
		out = failOpen
	}
	sort.Slice(out, func(i, j int) bool { return targetLess(out[i], out[j]) })
	return out
}

func targetLess(a, b Target) bool {
	if a.ID != b.ID {
		return a.ID < b.ID
	}
	return a.Port < b.Port
}

// purgeLocked removes draining targets whose deregistration delay is over.
func (p *Prober) purgeLocked(g *group) {
	now := p.now()
	for k, t := range g.targets {
		if t.state == StateDraining && !now.Before(t.drainUntil) {
			delete(g.targets, k)
		}
	}
}

// reconcileLocked starts or stops probe loops so that exactly the non-draining
// targets of a probed group have one. A target whose probing starts again after
// a pause (not in use, disabled) starts over from initial.
func (p *Prober) reconcileLocked(tgARN string, g *group) {
	for _, t := range g.targets {
		want := g.probed() && t.state != StateDraining
		switch {
		case want && t.stop == nil:
			t.reset()
			p.startLocked(tgARN, g, t)
		case !want && t.stop != nil:
			t.stopProbing()
		}
	}
}

// startLocked launches the probe loop of t. The first probe waits a random
// fifth of the interval at most, so that many targets registered at once do
// not probe in lockstep.
func (p *Prober) startLocked(tgARN string, g *group, t *target) {
	if p.closed {
		return
	}
	ctx, stop := context.WithCancel(p.ctx)
	t.stop = stop
	first := time.Duration(rand.Int64N(int64(p.scaled(g.check.Interval)/5) + 1))
	p.wg.Add(1)
	p.loops.Add(1)
	go p.loop(ctx, tgARN, t, first)
}

// loop probes one target until its context is cancelled.
func (p *Prober) loop(ctx context.Context, tgARN string, t *target, first time.Duration) {
	defer p.wg.Done()
	defer p.loops.Add(-1)
	timer := time.NewTimer(first)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		spec, ok := p.nextProbe(tgARN, t)
		if !ok {
			return
		}
		res := p.probe(ctx, spec)
		if ctx.Err() != nil {
			return
		}
		interval, ok := p.record(tgARN, t, res)
		if !ok {
			return
		}
		timer.Reset(interval)
	}
}

// current reports whether t is still the live, probed record of its group.
func (p *Prober) currentLocked(tgARN string, t *target) (*group, bool) {
	g := p.groups[tgARN]
	if g == nil || g.targets[t.t] != t || t.stop == nil {
		return nil, false
	}
	return g, true
}

// nextProbe snapshots what the next probe of t needs, under the lock.
func (p *Prober) nextProbe(tgARN string, t *target) (probeSpec, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	g, ok := p.currentLocked(tgARN, t)
	if !ok {
		return probeSpec{}, false
	}
	return probeSpec{
		target:  t.t,
		check:   g.check,
		port:    g.check.probePort(t.t),
		timeout: p.scaled(g.check.Timeout),
		matcher: g.matcher,
		failing: p.failing[t.t],
	}, true
}

// record feeds a probe result to the state machine and returns the wait until the next probe.
func (p *Prober) record(tgARN string, t *target, res result) (time.Duration, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	g, ok := p.currentLocked(tgARN, t)
	if !ok {
		return 0, false
	}
	t.observe(res, g.check)
	return p.scaled(g.check.Interval), true
}

// observe is the AWS target health state machine for one probe result.
func (t *target) observe(res result, c Check) {
	if res.ok {
		t.fails = 0
		t.passes = min(t.passes+1, c.HealthyThreshold)
		switch {
		case t.state != StateHealthy && t.passes >= c.HealthyThreshold:
			t.state, t.reason, t.desc = StateHealthy, "", ""
		case t.state == StateInitial:
			t.reason, t.desc = ReasonInitialHealthChecking, descInitialHealthChecking
		}
		return
	}
	t.passes = 0
	t.fails = min(t.fails+1, c.UnhealthyThreshold)
	switch {
	case t.state == StateUnhealthy:
		t.reason, t.desc = res.reason, res.desc // the latest failure explains best
	case t.fails >= c.UnhealthyThreshold:
		t.state, t.reason, t.desc = StateUnhealthy, res.reason, res.desc
	case t.state == StateInitial:
		t.reason, t.desc = ReasonInitialHealthChecking, descInitialHealthChecking
	}
}
