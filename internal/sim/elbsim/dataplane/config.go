package dataplane

import (
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"sort"
	"strings"
	"time"
)

// ListenerConfig is what a listener serves: its rules, default rule included.
type ListenerConfig struct {
	LoadBalancerDNS string
	LoadBalancerARN string // names the load balancer in the listener's Samples
	Port            int32  // the ALB listener port (80, 443, ...); the bound loopback port differs
	Protocol        string // HTTP; HTTPS listeners are served as plain HTTP
	Rules           []Rule
}

// Rule is a listener rule. Rules are evaluated by ascending Priority; the
// default rule (IsDefault) last.
type Rule struct {
	Priority   int
	IsDefault  bool
	Conditions []Condition // all must match; a condition matches when any of its values does
	Actions    []Action    // the first forward, fixed-response or redirect action is served
}

// Condition is a rule condition. Field is path-pattern, host-header,
// http-header (with HeaderName), http-request-method, query-string (with
// QueryStrings) or source-ip (Values are CIDR blocks).
type Condition struct {
	Field        string
	Values       []string
	HeaderName   string
	QueryStrings []QueryString
}

// QueryString is one key/value pair of a query-string condition; Key may be empty.
type QueryString struct{ Key, Value string }

// Action types.
const (
	ActionForward       = "forward"
	ActionFixedResponse = "fixed-response"
	ActionRedirect      = "redirect"
)

// Action is a rule action. Forward lists weighted target groups (weight 0
// receives nothing); Stickiness is the ForwardConfig.TargetGroupStickinessConfig.
type Action struct {
	Type          string
	Forward       []WeightedGroup
	Stickiness    *Stickiness
	FixedResponse *FixedResponse
	Redirect      *Redirect
}

// WeightedGroup is a target group of a forward action with its weight (0..999).
type WeightedGroup struct {
	TargetGroupARN string
	Weight         int32
}

// Stickiness pins a client to the target group first chosen for it, for Duration
// (default one hour), with the AWSALBTG cookie.
type Stickiness struct {
	Enabled  bool
	Duration time.Duration
}

// FixedResponse is a fixed-response action. ContentType defaults to text/plain.
type FixedResponse struct {
	StatusCode  int
	ContentType string
	Body        string
}

// Redirect is a redirect action. Empty fields keep the request's value; the
// placeholders #{protocol}, #{host}, #{port}, #{path} (without the leading
// slash) and #{query} are replaced as by ALB. StatusCode is 301 or 302 (default 302).
type Redirect struct {
	Protocol   string
	Host       string
	Port       string
	Path       string
	Query      string
	StatusCode int
}

// router is the immutable compiled form of a ListenerConfig. A listener swaps
// routers atomically, so requests never see a half-applied configuration.
type router struct {
	rules []compiledRule // by priority, default last
	lbARN string         // the load balancer, for Samples
}

type compiledRule struct {
	priority  int
	isDefault bool
	conds     []condition
	action    *compiledAction
}

type compiledAction struct {
	kind     string
	groups   []WeightedGroup // weight > 0 only
	total    int64           // sum of weights
	sticky   time.Duration   // > 0 when group stickiness is enabled
	fixed    *FixedResponse
	redirect *Redirect
}

// compile validates cfg and builds its router. The error names the rule at fault.
func compile(cfg ListenerConfig) (*router, error) {
	rt := &router{lbARN: cfg.LoadBalancerARN}
	var errs []error
	for _, r := range cfg.Rules {
		cr, err := compileRule(r)
		if err != nil {
			errs = append(errs, fmt.Errorf("rule %s: %w", ruleName(r), err))
			continue
		}
		rt.rules = append(rt.rules, cr)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	sort.SliceStable(rt.rules, func(i, j int) bool {
		a, b := rt.rules[i], rt.rules[j]
		if a.isDefault != b.isDefault {
			return !a.isDefault
		}
		return a.priority < b.priority
	})
	return rt, nil
}

func ruleName(r Rule) string {
	if r.IsDefault {
		return "default"
	}
	return fmt.Sprintf("priority %d", r.Priority)
}

func compileRule(r Rule) (compiledRule, error) {
	cr := compiledRule{priority: r.Priority, isDefault: r.IsDefault}
	if !r.IsDefault {
		for _, c := range r.Conditions {
			m, err := compileCondition(c)
			if err != nil {
				return cr, err
			}
			cr.conds = append(cr.conds, m)
		}
	}
	for _, a := range r.Actions {
		if a.Type != ActionForward && a.Type != ActionFixedResponse && a.Type != ActionRedirect {
			continue // authenticate-* and other non-terminal actions are not emulated
		}
		ca, err := compileAction(a)
		if err != nil {
			return cr, err
		}
		cr.action = ca
		break
	}
	if cr.action == nil {
		return cr, fmt.Errorf("no forward, fixed-response or redirect action")
	}
	return cr, nil
}

func compileAction(a Action) (*compiledAction, error) {
	ca := &compiledAction{kind: a.Type}
	switch a.Type {
	case ActionForward:
		if len(a.Forward) == 0 {
			return nil, fmt.Errorf("forward action has no target groups")
		}
		for _, g := range a.Forward {
			if g.Weight < 0 || g.Weight > 999 {
				return nil, fmt.Errorf("target group %s: weight %d is outside 0..999", g.TargetGroupARN, g.Weight)
			}
			if g.Weight > 0 {
				ca.groups = append(ca.groups, g)
				ca.total += int64(g.Weight)
			}
		}
		if s := a.Stickiness; s != nil && s.Enabled {
			ca.sticky = s.Duration
			if ca.sticky <= 0 {
				ca.sticky = time.Hour
			}
		}
	case ActionFixedResponse:
		f := a.FixedResponse
		if f == nil {
			return nil, fmt.Errorf("fixed-response action has no FixedResponseConfig")
		}
		if f.StatusCode < 200 || f.StatusCode > 599 || (f.StatusCode >= 300 && f.StatusCode < 400) {
			return nil, fmt.Errorf("fixed-response status code %d must be 2XX, 4XX or 5XX", f.StatusCode)
		}
		ca.fixed = f
	case ActionRedirect:
		rd := a.Redirect
		if rd == nil {
			return nil, fmt.Errorf("redirect action has no RedirectConfig")
		}
		if rd.StatusCode != 0 && rd.StatusCode != http.StatusMovedPermanently && rd.StatusCode != http.StatusFound {
			return nil, fmt.Errorf("redirect status code %d must be 301 or 302", rd.StatusCode)
		}
		ca.redirect = rd
	}
	return ca, nil
}

// match returns the first rule whose conditions all hold, or nil.
func (rt *router) match(r *http.Request, client netip.Addr) *compiledRule {
	for i := range rt.rules {
		cr := &rt.rules[i]
		if cr.matches(r, client) {
			return cr
		}
	}
	return nil
}

func (cr *compiledRule) matches(r *http.Request, client netip.Addr) bool {
	for _, c := range cr.conds {
		if !c.match(r, client) {
			return false
		}
	}
	return true
}

// redirectURL builds the Location of a redirect action for request r received on listenerPort.
func redirectURL(rd *Redirect, r *http.Request, listenerPort string) string {
	proto := "http"
	if r.TLS != nil {
		proto = "https"
	}
	path := strings.TrimPrefix(r.URL.Path, "/")
	host := hostOnly(r.Host)
	expand := func(v, def string) string {
		if v == "" {
			v = def
		}
		return strings.NewReplacer("#{protocol}", proto, "#{host}", host, "#{port}", listenerPort,
			"#{path}", path, "#{query}", r.URL.RawQuery).Replace(v)
	}
	scheme := strings.ToLower(expand(rd.Protocol, "#{protocol}"))
	h := expand(rd.Host, "#{host}")
	port := expand(rd.Port, "#{port}")
	p := expand(rd.Path, "/#{path}")
	q := expand(rd.Query, "#{query}")
	if (scheme == "http" && port == "80") || (scheme == "https" && port == "443") || port == "" {
		port = ""
	} else {
		port = ":" + port
	}
	u := scheme + "://" + h + port + p
	if q != "" {
		u += "?" + q
	}
	return u
}
