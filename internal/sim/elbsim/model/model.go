// Package model is elbsim's ELBv2 service model: load balancers, listeners,
// rules, target groups, their attributes, registered targets and tags, with the
// real ARN and DNS-name formats, Marker/PageSize pagination, AWS's validation
// rules and error codes.
//
// The model never touches the network. Each successful mutation produces a new
// immutable *State (copy-on-write: objects in a published State are never
// changed again), handed to Options.OnCommit; the server keeps older States
// around to answer Describe* calls "eventually consistently" and to feed the data
// plane and health prober after a propagation delay. Reads therefore run on a
// *State, writes on the *Model.
//
// Every operation validates its input and answers a *query.Error for bad input;
// nothing here panics on a request.
package model

import (
	"crypto/rand"
	"io"
	"maps"
	"sort"
	"sync"
	"time"

	"github.com/albrollouts/albrollouts/internal/sim/elbsim/reach"

	"github.com/albrollouts/albrollouts/internal/sim/elbsim/query"
)

// Quotas elbsim enforces. AWS's defaults are lower for load balancers (50 a
// region); elbsim allows more so that benchmarks can model large fleets.
const (
	MaxLoadBalancers      = 5000
	MaxTargetGroups       = 5000
	MaxListenersPerLB     = 50
	MaxRulesPerListener   = 100
	MaxTargetsPerGroup    = 1000
	MaxTagsPerResource    = 50
	MaxResourceArnsPerTag = 20
	DefaultPageSize       = 400
	MaxPageSize           = 400
)

// Options configures a Model.
type Options struct {
	Region  string           // default us-east-1
	Account string           // default 123456789012
	Now     func() time.Time // default time.Now
	Rand    io.Reader        // source of ids; default crypto/rand
	// OnCommit is called, under the model's lock and in commit order, with each
	// new State. It must not block and must not call back into the Model.
	OnCommit func(*State)
	// TargetRanges are the addresses RegisterTargets accepts besides loopback.
	TargetRanges reach.Ranges
}

// Model is the authoritative (committed) ELBv2 state and its mutations.
type Model struct {
	mu  sync.Mutex
	o   Options
	cur *State
}

// New returns an empty model.
func New(o Options) *Model {
	if o.Region == "" {
		o.Region = "us-east-1"
	}
	if o.Account == "" {
		o.Account = "123456789012"
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Rand == nil {
		o.Rand = rand.Reader
	}
	st := newState()
	st.Region, st.Account = o.Region, o.Account
	return &Model{o: o, cur: st}
}

// State returns the latest committed state (read-only).
func (m *Model) State() *State {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.cur
}

// Restore replaces the committed state, e.g. with one loaded from a state file,
// and commits it (so OnCommit sees it). The state's region and account must
// match the model's.
func (m *Model) Restore(st *State) *query.Error {
	if st.Region != m.o.Region || st.Account != m.o.Account {
		return query.Validation("the saved state is for region %s account %s, but elbsim runs as region %s account %s", st.Region, st.Account, m.o.Region, m.o.Account)
	}
	_, err := mutate(m, func(tx *State) (*query.EmptyResult, *query.Error) {
		*tx = *st.clone()
		return &query.EmptyResult{}, nil
	})
	return err
}

// mutate runs f on a copy of the committed state and commits the copy if f succeeds.
func mutate[O any](m *Model, f func(tx *State) (*O, *query.Error)) (*O, *query.Error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	tx := m.cur.clone()
	out, err := f(tx)
	if err != nil {
		return nil, err
	}
	tx.Version = m.cur.Version + 1
	tx.reindex()
	m.cur = tx
	if m.o.OnCommit != nil {
		m.o.OnCommit(tx)
	}
	return out, nil
}

// State is one immutable version of the ELBv2 state. Objects are keyed by ARN.
// It is JSON-serialisable (the state file).
type State struct {
	Region        string
	Account       string
	Version       int64 // increases with every commit
	Seq           int64 // creation counter, orders objects as AWS lists them (oldest first)
	LoadBalancers map[string]*LoadBalancer
	Listeners     map[string]*Listener
	Rules         map[string]*Rule
	TargetGroups  map[string]*TargetGroup

	// Derived indexes, rebuilt on commit and load.
	tgLBs      map[string][]string // target group ARN -> ARNs of load balancers whose rules forward to it
	lbByName   map[string]string
	tgByName   map[string]string
	listenersO map[string][]string // load balancer ARN -> listener ARNs by port
	rulesO     map[string][]string // listener ARN -> rule ARNs by priority, default last
}

func newState() *State {
	st := &State{
		LoadBalancers: map[string]*LoadBalancer{},
		Listeners:     map[string]*Listener{},
		Rules:         map[string]*Rule{},
		TargetGroups:  map[string]*TargetGroup{},
	}
	st.reindex()
	return st
}

// clone copies the object maps, not the (immutable) objects. The derived
// indexes are shared with st and must only be read until mutate rebuilds them.
func (st *State) clone() *State {
	c := *st
	c.LoadBalancers = maps.Clone(st.LoadBalancers)
	c.Listeners = maps.Clone(st.Listeners)
	c.Rules = maps.Clone(st.Rules)
	c.TargetGroups = maps.Clone(st.TargetGroups)
	return &c
}

// Reindex rebuilds the derived indexes; call it after decoding a State from JSON.
func (st *State) Reindex() {
	if st.LoadBalancers == nil {
		st.LoadBalancers = map[string]*LoadBalancer{}
	}
	if st.Listeners == nil {
		st.Listeners = map[string]*Listener{}
	}
	if st.Rules == nil {
		st.Rules = map[string]*Rule{}
	}
	if st.TargetGroups == nil {
		st.TargetGroups = map[string]*TargetGroup{}
	}
	st.reindex()
}

func (st *State) reindex() {
	st.lbByName = make(map[string]string, len(st.LoadBalancers))
	for arn, lb := range st.LoadBalancers {
		st.lbByName[lb.Name] = arn
	}
	st.tgByName = make(map[string]string, len(st.TargetGroups))
	for arn, tg := range st.TargetGroups {
		st.tgByName[tg.Name] = arn
	}
	st.listenersO = map[string][]string{}
	for arn, l := range st.Listeners {
		st.listenersO[l.LoadBalancerARN] = append(st.listenersO[l.LoadBalancerARN], arn)
	}
	for _, ls := range st.listenersO {
		sort.Slice(ls, func(i, j int) bool { return st.Listeners[ls[i]].Port < st.Listeners[ls[j]].Port })
	}
	st.rulesO = map[string][]string{}
	lbSets := map[string]map[string]bool{}
	for arn, r := range st.Rules {
		st.rulesO[r.ListenerARN] = append(st.rulesO[r.ListenerARN], arn)
		l := st.Listeners[r.ListenerARN]
		if l == nil {
			continue // only in a hand-edited state file; the rule is unreachable
		}
		lbARN := l.LoadBalancerARN
		for _, tg := range r.ForwardTargetGroups() {
			if lbSets[tg] == nil {
				lbSets[tg] = map[string]bool{}
			}
			lbSets[tg][lbARN] = true
		}
	}
	for _, rs := range st.rulesO {
		sort.Slice(rs, func(i, j int) bool { return ruleLess(st.Rules[rs[i]], st.Rules[rs[j]]) })
	}
	st.tgLBs = make(map[string][]string, len(lbSets))
	for tg, set := range lbSets {
		st.tgLBs[tg] = sortedKeys(set)
	}
}

func ruleLess(a, b *Rule) bool {
	if a.IsDefault != b.IsDefault {
		return b.IsDefault
	}
	return a.Priority < b.Priority
}

func sortedKeys(set map[string]bool) []string {
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func (st *State) nextSeq() int64 {
	st.Seq++
	return st.Seq
}

// ----- objects -----

// Tag is a resource tag.
type Tag struct {
	Key   string
	Value string
}

// LoadBalancer is an application load balancer.
type LoadBalancer struct {
	ARN            string
	Name           string
	ID             string // the 16-hex id at the end of the ARN
	DNSName        string
	Scheme         string
	Type           string
	IPAddressType  string
	VpcID          string
	Subnets        []string
	SecurityGroups []string
	Created        time.Time
	Seq            int64
	Tags           []Tag
}

// Listener is a listener of a load balancer; its default actions live in its default rule.
type Listener struct {
	ARN             string
	LoadBalancerARN string
	ID              string
	Port            int32
	Protocol        string
	SslPolicy       string
	Certificates    []query.Certificate
	AlpnPolicy      []string
	DefaultRuleARN  string
	Seq             int64
	Tags            []Tag
}

// Rule is a listener rule. Conditions and Actions are stored normalised, as
// Describe* answers them.
type Rule struct {
	ARN         string
	ListenerARN string
	Priority    int32 // 0 for the default rule
	IsDefault   bool
	Conditions  []query.RuleCondition
	Actions     []query.Action
	Seq         int64
	Tags        []Tag
}

// ForwardTargetGroups lists the target groups the rule's forward action names
// (any weight, including 0: such a group is still "in use" for AWS).
func (r *Rule) ForwardTargetGroups() []string {
	var out []string
	for _, a := range r.Actions {
		if a.Type == "forward" && a.ForwardConfig != nil {
			for _, t := range a.ForwardConfig.TargetGroups {
				out = append(out, t.TargetGroupArn)
			}
		}
	}
	return out
}

// HealthCheck holds a target group's health-check settings.
type HealthCheck struct {
	Enabled            bool
	Protocol           string
	Port               string // "traffic-port" or a number
	Path               string
	IntervalSeconds    int32
	TimeoutSeconds     int32
	HealthyThreshold   int32
	UnhealthyThreshold int32
	Matcher            string // HttpCode: "200", "200-299", "200,202"
}

// Target is a registered target.
type Target struct {
	ID               string
	Port             int32
	AvailabilityZone string
}

// TargetGroup is a target group with its registered targets.
type TargetGroup struct {
	ARN             string
	Name            string
	ID              string
	Protocol        string
	ProtocolVersion string
	Port            int32
	VpcID           string
	TargetType      string
	IPAddressType   string
	HealthCheck     HealthCheck
	Attributes      map[string]string
	Targets         []Target // in registration order
	Seq             int64
	Tags            []Tag
}

// DeregistrationDelay is the deregistration_delay.timeout_seconds attribute.
func (tg *TargetGroup) DeregistrationDelay() time.Duration {
	return time.Duration(atoiOr(tg.Attributes[AttrDeregistrationDelay], 300)) * time.Second
}

// Stickiness returns the lb_cookie stickiness attributes of the group.
func (tg *TargetGroup) Stickiness() (enabled bool, duration time.Duration) {
	enabled = tg.Attributes[AttrStickinessEnabled] == "true" && tg.Attributes[AttrStickinessType] != "app_cookie"
	return enabled, time.Duration(atoiOr(tg.Attributes[AttrStickinessDuration], 86400)) * time.Second
}

// HasTarget reports whether t (id and port) is registered.
func (tg *TargetGroup) HasTarget(id string, port int32) bool {
	for _, t := range tg.Targets {
		if t.ID == id && t.Port == port {
			return true
		}
	}
	return false
}

// ----- read helpers used by the server -----

// LoadBalancersOf returns the ARNs of the load balancers whose listener rules
// forward to the target group, sorted.
func (st *State) LoadBalancersOf(tgARN string) []string { return st.tgLBs[tgARN] }

// InUse reports whether any listener rule forwards to the target group.
func (st *State) InUse(tgARN string) bool { return len(st.tgLBs[tgARN]) > 0 }

// ListenersOf returns the listeners of a load balancer ordered by port.
func (st *State) ListenersOf(lbARN string) []*Listener {
	arns := st.listenersO[lbARN]
	out := make([]*Listener, len(arns))
	for i, a := range arns {
		out[i] = st.Listeners[a]
	}
	return out
}

// RulesOf returns the rules of a listener by priority, the default rule last.
func (st *State) RulesOf(listenerARN string) []*Rule {
	arns := st.rulesO[listenerARN]
	out := make([]*Rule, len(arns))
	for i, a := range arns {
		out[i] = st.Rules[a]
	}
	return out
}

// FindListener returns the listener of the load balancer with the given DNS name on port.
func (st *State) FindListener(dnsName string, port int32) (*Listener, bool) {
	for _, lb := range st.LoadBalancers {
		if lb.DNSName != dnsName {
			continue
		}
		for _, l := range st.ListenersOf(lb.ARN) {
			if l.Port == port {
				return l, true
			}
		}
	}
	return nil, false
}

// TargetGroup returns a target group by ARN, or TargetGroupNotFound / ValidationError.
func (st *State) TargetGroup(arn string) (*TargetGroup, *query.Error) { return st.tg(arn) }
