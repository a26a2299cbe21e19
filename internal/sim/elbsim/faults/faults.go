// Package faults injects the failures a real ELBv2 API shows, so that clients
// can be tested against them: throttling (per-operation-class token buckets like
// AWS's, plus forced throttles), AccessDenied per Action (with AWS's message,
// naming the action), added latency, and health-check failures of a target.
//
// The server asks Check before running each call; the answer is a delay to
// wait and, possibly, the error to answer instead.
package faults

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/albrollouts/albrollouts/internal/sim/elbsim/cwproto"
	"github.com/albrollouts/albrollouts/internal/sim/elbsim/query"
)

// Operation classes, each with its own token bucket.
const (
	ClassDescribe     = "describe"     // Describe*
	ClassRegistration = "registration" // RegisterTargets, DeregisterTargets
	ClassMutating     = "mutating"     // every other Create*/Modify*/Delete*/Set*/AddTags/RemoveTags
	ClassCloudWatch   = "cloudwatch"   // CloudWatch's GetMetricData and ListMetrics
)

// BucketConfig is the size of a token bucket and its refill rate.
type BucketConfig struct {
	Burst         float64 `json:"burst"`
	RatePerSecond float64 `json:"ratePerSecond"`
}

// DefaultBuckets are the buckets of an account. Describe* (40, 10/s) is AWS's
// documented limit, and so is CloudWatch's GetMetricData (50/s); the ELBv2
// registration and mutating classes are elbsim's choice, of the same order.
func DefaultBuckets() map[string]BucketConfig {
	return map[string]BucketConfig{
		ClassDescribe:     {Burst: 40, RatePerSecond: 10},
		ClassRegistration: {Burst: 20, RatePerSecond: 4},
		ClassMutating:     {Burst: 20, RatePerSecond: 4},
		ClassCloudWatch:   {Burst: 50, RatePerSecond: 50},
	}
}

// ClassOf returns the operation class of an Action.
func ClassOf(action string) string {
	switch {
	case cwproto.Known(action):
		return ClassCloudWatch
	case strings.HasPrefix(action, "Describe"):
		return ClassDescribe
	case action == "RegisterTargets" || action == "DeregisterTargets":
		return ClassRegistration
	}
	return ClassMutating
}

// Options configures an Injector.
type Options struct {
	Account    string // for the AccessDenied principal; default 123456789012
	Throttling bool   // start with the token buckets on
	// Now is the clock of the token buckets; default time.Now.
	Now func() time.Time
	// OnTargetFailing is called when a target is set to fail (or recover) its health checks.
	OnTargetFailing func(ip string, port int32, failing bool)
}

// Target names a target by IP and port.
type Target struct {
	IP   string `json:"ip"`
	Port int32  `json:"port"`
}

// Status is the current set of faults (the JSON of GET /_elbsim/faults).
type Status struct {
	Throttling     bool                    `json:"throttling"`
	Buckets        map[string]BucketConfig `json:"buckets"`
	ForcedThrottle map[string]int          `json:"forcedThrottle,omitempty"` // action -> calls left (-1: all)
	AccessDenied   []string                `json:"accessDenied,omitempty"`
	Latency        map[string]string       `json:"latency,omitempty"` // action ("*" = all) -> duration
	FailingTargets []Target                `json:"failingTargets,omitempty"`
	Principal      string                  `json:"principal"`
}

// Decision is what to do with one call: wait Delay, then answer Err if not nil.
type Decision struct {
	Delay time.Duration
	Err   *query.Error
}

// Injector holds the faults in effect. It is safe for concurrent use.
type Injector struct {
	mu         sync.Mutex
	o          Options
	throttling bool
	configs    map[string]BucketConfig
	buckets    map[string]*bucket
	forced     map[string]int
	denied     map[string]bool
	latency    map[string]time.Duration
	failing    map[Target]bool
	principal  string
}

// New returns an Injector with no faults (except the token buckets if o.Throttling).
func New(o Options) *Injector {
	if o.Account == "" {
		o.Account = "123456789012"
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	f := &Injector{o: o, configs: DefaultBuckets(), forced: map[string]int{}, denied: map[string]bool{},
		latency: map[string]time.Duration{}, failing: map[Target]bool{},
		principal: "arn:aws:sts::" + o.Account + ":assumed-role/elbsim-caller/elbsim-session"}
	f.throttling = o.Throttling
	f.resetBuckets()
	return f
}

func (f *Injector) resetBuckets() {
	now := f.o.Now()
	f.buckets = map[string]*bucket{}
	for class, c := range f.configs {
		f.buckets[class] = &bucket{cfg: c, tokens: c.Burst, last: now}
	}
}

// Check decides the fate of one call of action: latency first, then a forced
// or token-bucket throttle (400 Throttling "Rate exceeded"), then AccessDenied (403).
func (f *Injector) Check(action string) Decision {
	f.mu.Lock()
	defer f.mu.Unlock()
	d := Decision{Delay: f.latency["*"]}
	if l, ok := f.latency[action]; ok {
		d.Delay = l
	}
	if f.takeForced(action) || (f.throttling && !f.buckets[ClassOf(action)].take(f.o.Now())) {
		d.Err = query.Client(query.CodeThrottling, "Rate exceeded")
		return d
	}
	if f.denied[action] {
		iam := IAMAction(action)
		d.Err = query.Errorf(http.StatusForbidden, query.CodeAccessDenied,
			"User: %s is not authorized to perform: %s because no identity-based policy allows the %s action",
			f.principal, iam, iam)
	}
	return d
}

// IAMAction is the IAM action that allows an API action:
// "cloudwatch:GetMetricData", "elasticloadbalancing:DescribeTargetHealth".
func IAMAction(action string) string {
	if cwproto.Known(action) {
		return "cloudwatch:" + action
	}
	return "elasticloadbalancing:" + action
}

func (f *Injector) takeForced(action string) bool {
	n, ok := f.forced[action]
	if !ok {
		return false
	}
	if n > 0 {
		if n == 1 {
			delete(f.forced, action)
		} else {
			f.forced[action] = n - 1
		}
	}
	return true
}

// SetThrottling turns the token buckets on or off; turning them on refills them.
func (f *Injector) SetThrottling(on bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.throttling = on
	f.resetBuckets()
}

// SetBucket changes the size and refill rate of one class's bucket (and refills it).
func (f *Injector) SetBucket(class string, c BucketConfig) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.configs[class]; !ok {
		return fmt.Errorf("unknown operation class %q: use %s, %s, %s or %s", class, ClassDescribe, ClassRegistration, ClassMutating, ClassCloudWatch)
	}
	if c.Burst < 1 || c.RatePerSecond < 0 {
		return fmt.Errorf("bucket of class %q: burst must be >= 1 and ratePerSecond >= 0", class)
	}
	f.configs[class] = c
	f.resetBuckets()
	return nil
}

// ThrottleNext makes the next n calls of action fail with Throttling; n < 0 means every call until cleared.
func (f *Injector) ThrottleNext(action string, n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if n == 0 {
		delete(f.forced, action)
		return
	}
	if n < 0 {
		n = -1
	}
	f.forced[action] = n
}

// ClearThrottling removes forced throttles and turns the token buckets off.
func (f *Injector) ClearThrottling() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.forced = map[string]int{}
	f.throttling = false
}

// DenyAction makes every call of action answer 403 AccessDenied.
func (f *Injector) DenyAction(action string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.denied[action] = true
}

// AllowAction removes the AccessDenied fault of action; "" removes all of them.
func (f *Injector) AllowAction(action string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if action == "" {
		f.denied = map[string]bool{}
		return
	}
	delete(f.denied, action)
}

// SetPrincipal sets the caller ARN AccessDenied messages name.
func (f *Injector) SetPrincipal(arn string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.principal = arn
}

// SetLatency adds d to every call of action ("" or "*": every action). d <= 0 removes it.
func (f *Injector) SetLatency(action string, d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if action == "" {
		action = "*"
	}
	if d <= 0 {
		delete(f.latency, action)
		return
	}
	f.latency[action] = d
}

// ClearLatency removes all added latency.
func (f *Injector) ClearLatency() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.latency = map[string]time.Duration{}
}

// SetTargetFailing makes the health checks of ip:port fail (or pass again).
func (f *Injector) SetTargetFailing(ip string, port int32, failing bool) {
	f.mu.Lock()
	t := Target{IP: ip, Port: port}
	if failing {
		f.failing[t] = true
	} else {
		delete(f.failing, t)
	}
	cb := f.o.OnTargetFailing
	f.mu.Unlock()
	if cb != nil {
		cb(ip, port, failing)
	}
}

// ClearTargetFailing lets every failing target pass its health checks again.
func (f *Injector) ClearTargetFailing() {
	f.mu.Lock()
	var ts []Target
	for t := range f.failing {
		ts = append(ts, t)
	}
	f.mu.Unlock()
	for _, t := range ts {
		f.SetTargetFailing(t.IP, t.Port, false)
	}
}

// Clear removes every fault and turns the token buckets off.
func (f *Injector) Clear() {
	f.ClearThrottling()
	f.AllowAction("")
	f.ClearLatency()
	f.ClearTargetFailing()
}

// Status reports the faults in effect.
func (f *Injector) Status() Status {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := Status{Throttling: f.throttling, Buckets: map[string]BucketConfig{}, Principal: f.principal}
	for k, v := range f.configs {
		s.Buckets[k] = v
	}
	if len(f.forced) > 0 {
		s.ForcedThrottle = map[string]int{}
		for k, v := range f.forced {
			s.ForcedThrottle[k] = v
		}
	}
	for a := range f.denied {
		s.AccessDenied = append(s.AccessDenied, a)
	}
	sort.Strings(s.AccessDenied)
	if len(f.latency) > 0 {
		s.Latency = map[string]string{}
		for k, v := range f.latency {
			s.Latency[k] = v.String()
		}
	}
	for t := range f.failing {
		s.FailingTargets = append(s.FailingTargets, t)
	}
	sort.Slice(s.FailingTargets, func(i, j int) bool {
		a, b := s.FailingTargets[i], s.FailingTargets[j]
		return a.IP < b.IP || a.IP == b.IP && a.Port < b.Port
	})
	return s
}

// bucket is a token bucket: it holds up to cfg.Burst tokens and regains
// cfg.RatePerSecond tokens a second; each call takes one.
type bucket struct {
	cfg    BucketConfig
	tokens float64
	last   time.Time
}

func (b *bucket) take(now time.Time) bool {
	if el := now.Sub(b.last).Seconds(); el > 0 {
		b.tokens = min(b.cfg.Burst, b.tokens+el*b.cfg.RatePerSecond)
	}
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return true
	}
	return false
}
