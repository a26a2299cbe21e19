package elbsim

import (
	"reflect"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/albrollouts/albrollouts/internal/sim/elbsim/dataplane"
	"github.com/albrollouts/albrollouts/internal/sim/elbsim/health"
	"github.com/albrollouts/albrollouts/internal/sim/elbsim/model"
	"github.com/albrollouts/albrollouts/internal/sim/elbsim/query"
)

// clock is the time source of the propagation pipeline, injectable for tests.
type clock interface {
	Now() time.Time
	AfterFunc(d time.Duration, f func())
}

type realClock struct{}

func (realClock) Now() time.Time                      { return time.Now() }
func (realClock) AfterFunc(d time.Duration, f func()) { time.AfterFunc(d, f) }

// batcher implements AWS's change batching: a change with no other change in
// the previous window is released at once; a change that follows another
// within the window waits for the next window boundary, where every change
// made meanwhile is released together. Boundaries are counted from the last
// release. With window 0 every change is released at once.
//
// Changes are whole States (each one contains all earlier changes), so
// "releasing together" means releasing the latest State.
type batcher struct {
	clk     clock
	window  time.Duration
	release func(*model.State)

	mu          sync.Mutex
	lastChange  time.Time
	lastRelease time.Time
	scheduled   bool
	latest      *model.State
}

func (b *batcher) change(st *model.State) {
	b.mu.Lock()
	now := b.clk.Now()
	b.latest = st
	quiet := b.lastChange.IsZero() || now.Sub(b.lastChange) >= b.window
	b.lastChange = now
	if b.scheduled {
		b.mu.Unlock()
		return // released with the pending batch
	}
	if b.window <= 0 || quiet {
		b.lastRelease = now
		b.mu.Unlock()
		b.release(st)
		return
	}
	next := b.lastRelease.Add(b.window)
	for !next.After(now) {
		next = next.Add(b.window)
	}
	b.scheduled = true
	b.mu.Unlock()
	b.clk.AfterFunc(next.Sub(now), func() {
		b.mu.Lock()
		b.scheduled = false
		b.lastRelease = next
		st := b.latest
		b.mu.Unlock()
		b.release(st)
	})
}

// applier pushes States to the health prober and the data plane, in version
// order, from one goroutine. It remembers what it applied last and sends only
// the differences.
type applier struct {
	prober *health.Prober
	plane  *dataplane.Plane
	logf   func(format string, args ...any)

	mu             sync.Mutex
	pending        *model.State
	appliedVersion int64 // the Version of the last applied State (for tests and diagnostics)
	wake           chan struct{}
	done           chan struct{}

	// owned by the run goroutine
	applied *model.State
	configs map[string]dataplane.ListenerConfig

	urlMu sync.RWMutex
	urls  map[string]string // listener ARN -> data-plane URL
}

func newApplier(prober *health.Prober, plane *dataplane.Plane, logf func(string, ...any)) *applier {
	empty := model.New(model.Options{}).State()
	a := &applier{prober: prober, plane: plane, logf: logf, wake: make(chan struct{}, 1), done: make(chan struct{}),
		applied: empty, configs: map[string]dataplane.ListenerConfig{}, urls: map[string]string{}}
	return a
}

// offer queues st for application unless a newer State is already queued or applied.
func (a *applier) offer(st *model.State) {
	a.mu.Lock()
	if a.pending == nil || st.Version > a.pending.Version {
		a.pending = st
	}
	a.mu.Unlock()
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

// run applies queued States until stop is closed.
func (a *applier) run(stop <-chan struct{}) {
	defer close(a.done)
	for {
		select {
		case <-stop:
			return
		case <-a.wake:
		}
		a.mu.Lock()
		st := a.pending
		a.pending = nil
		a.mu.Unlock()
		if st != nil && st.Version > a.applied.Version {
			a.apply(st)
		}
	}
}

func (a *applier) apply(st *model.State) {
	prev := a.applied
	for arn, tg := range st.TargetGroups {
		a.applyTargetGroup(prev, st, arn, tg)
	}
	for arn := range prev.TargetGroups {
		if _, ok := st.TargetGroups[arn]; !ok {
			a.prober.RemoveGroup(arn)
		}
	}
	for arn, l := range st.Listeners {
		cfg := listenerConfig(st, l)
		if old, ok := a.configs[arn]; ok && reflect.DeepEqual(old, cfg) {
			continue
		}
		url, err := a.plane.Apply(arn, cfg)
		if err != nil {
			a.logf("elbsim: data plane rejected listener %s: %v", arn, err)
			continue
		}
		a.configs[arn] = cfg
		a.urlMu.Lock()
		a.urls[arn] = url
		a.urlMu.Unlock()
	}
	for arn := range a.configs {
		if _, ok := st.Listeners[arn]; !ok {
			a.plane.Remove(arn)
			delete(a.configs, arn)
			a.urlMu.Lock()
			delete(a.urls, arn)
			a.urlMu.Unlock()
		}
	}
	a.applied = st
	a.mu.Lock()
	a.appliedVersion = st.Version
	a.mu.Unlock()
}

func (a *applier) applyTargetGroup(prev, st *model.State, arn string, tg *model.TargetGroup) {
	old := prev.TargetGroups[arn]
	if old == nil || old.HealthCheck != tg.HealthCheck || old.DeregistrationDelay() != tg.DeregistrationDelay() {
		a.prober.SetGroup(arn, healthCheck(tg.HealthCheck), tg.DeregistrationDelay())
	}
	var added, removed []health.Target
	for _, t := range tg.Targets {
		if old == nil || !old.HasTarget(t.ID, t.Port) {
			added = append(added, health.Target{ID: t.ID, Port: t.Port})
		}
	}
	if old != nil {
		for _, t := range old.Targets {
			if !tg.HasTarget(t.ID, t.Port) {
				removed = append(removed, health.Target{ID: t.ID, Port: t.Port})
			}
		}
	}
	if len(added) > 0 {
		a.prober.Register(arn, added)
	}
	if len(removed) > 0 {
		a.prober.Deregister(arn, removed)
	}
	if inUse := st.InUse(arn); old == nil || prev.InUse(arn) != inUse {
		a.prober.SetInUse(arn, inUse)
	}
}

func (a *applier) version() int64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.appliedVersion
}

func (a *applier) url(listenerARN string) (string, bool) {
	a.urlMu.RLock()
	defer a.urlMu.RUnlock()
	u, ok := a.urls[listenerARN]
	return u, ok
}

func healthCheck(hc model.HealthCheck) health.Check {
	return health.Check{
		Enabled: hc.Enabled, Protocol: hc.Protocol, Port: hc.Port, Path: hc.Path,
		Interval: time.Duration(hc.IntervalSeconds) * time.Second, Timeout: time.Duration(hc.TimeoutSeconds) * time.Second,
		HealthyThreshold: int(hc.HealthyThreshold), UnhealthyThreshold: int(hc.UnhealthyThreshold), Matcher: hc.Matcher,
	}
}

// listenerConfig translates a listener and its rules into the data plane's terms.
func listenerConfig(st *model.State, l *model.Listener) dataplane.ListenerConfig {
	cfg := dataplane.ListenerConfig{Port: l.Port, Protocol: l.Protocol, LoadBalancerARN: l.LoadBalancerARN}
	if lb := st.LoadBalancers[l.LoadBalancerARN]; lb != nil {
		cfg.LoadBalancerDNS = lb.DNSName
	}
	for _, r := range st.RulesOf(l.ARN) {
		dr := dataplane.Rule{Priority: int(r.Priority), IsDefault: r.IsDefault}
		for _, c := range r.Conditions {
			dr.Conditions = append(dr.Conditions, condition(c))
		}
		for _, a := range r.Actions {
			dr.Actions = append(dr.Actions, action(st, a))
		}
		cfg.Rules = append(cfg.Rules, dr)
	}
	return cfg
}

func condition(c query.RuleCondition) dataplane.Condition {
	out := dataplane.Condition{Field: c.Field}
	switch {
	case c.HostHeaderConfig != nil:
		out.Values = c.HostHeaderConfig.Values
	case c.PathPatternConfig != nil:
		out.Values = c.PathPatternConfig.Values
	case c.HTTPRequestMethodConfig != nil:
		out.Values = c.HTTPRequestMethodConfig.Values
	case c.SourceIPConfig != nil:
		out.Values = c.SourceIPConfig.Values
	case c.HTTPHeaderConfig != nil:
		out.HeaderName, out.Values = c.HTTPHeaderConfig.HTTPHeaderName, c.HTTPHeaderConfig.Values
	case c.QueryStringConfig != nil:
		for _, kv := range c.QueryStringConfig.Values {
			out.QueryStrings = append(out.QueryStrings, dataplane.QueryString{Key: kv.Key, Value: kv.Value})
		}
	default:
		out.Values = c.Values
	}
	return out
}

func action(st *model.State, a query.Action) dataplane.Action {
	out := dataplane.Action{Type: a.Type}
	switch a.Type {
	case "forward":
		fc := a.ForwardConfig
		for _, t := range fc.TargetGroups {
			out.Forward = append(out.Forward, dataplane.WeightedGroup{TargetGroupARN: t.TargetGroupArn, Weight: *t.Weight})
		}
		if s := fc.TargetGroupStickinessConfig; s != nil && s.Enabled != nil && *s.Enabled && s.DurationSeconds != nil {
			out.Stickiness = &dataplane.Stickiness{Enabled: true, Duration: time.Duration(*s.DurationSeconds) * time.Second}
		} else if len(fc.TargetGroups) == 1 {
			// A plain forward to one group uses the group's own stickiness attributes.
			if tg := st.TargetGroups[fc.TargetGroups[0].TargetGroupArn]; tg != nil {
				if on, d := tg.Stickiness(); on {
					out.Stickiness = &dataplane.Stickiness{Enabled: true, Duration: d}
				}
			}
		}
	case "fixed-response":
		f := a.FixedResponseConfig
		code, _ := strconv.Atoi(f.StatusCode) // validated by the model: 2xx/4xx/5xx
		out.FixedResponse = &dataplane.FixedResponse{StatusCode: code, ContentType: f.ContentType, Body: f.MessageBody}
	case "redirect":
		r := a.RedirectConfig
		code := 301
		if r.StatusCode == "HTTP_302" {
			code = 302
		}
		out.Redirect = &dataplane.Redirect{Protocol: r.Protocol, Host: r.Host, Port: r.Port, Path: r.Path, Query: r.Query, StatusCode: code}
	}
	return out
}

// sortedTargets orders health statuses by IP then port, as the prober does.
func sortedTargets(ts []query.TargetHealthDescription) {
	sort.Slice(ts, func(i, j int) bool {
		a, b := ts[i].Target, ts[j].Target
		if a.ID != b.ID {
			return a.ID < b.ID
		}
		return *a.Port < *b.Port
	})
}
