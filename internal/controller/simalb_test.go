package controller

import (
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"

	"github.com/albrollouts/albrollouts/internal/albannotation"
	"github.com/albrollouts/albrollouts/internal/elbv2"
	"github.com/albrollouts/albrollouts/internal/verify"
)

// The simulator's AWS side: what the AWS Load Balancer Controller builds
// from the Ingresses (one ALB per Ingress with a load balancer hostname,
// every path of the Ingress a rule on every listener, target groups tagged
// as it tags them), late by lbLag passes, and the ALB's health checks. The
// simulated verifier hands it to the real engine (verify.Decide), so the
// controller is judged by the engine's own rules: every rule of the action
// on every listener and ALB, header routes, target groups found by tag.

// simListeners are the listeners of every model ALB: the load balancer
// controller puts every path of an Ingress on all of them.
var simListeners = []elbv2.Listener{{Port: 80, Protocol: "HTTP"}, {Port: 443, Protocol: "HTTPS"}}

// modelRule is one listener rule with what it was built from.
type modelRule struct {
	rule elbv2.Rule
	// service is the backend service of the Ingress path; plain when the
	// path names the service's port directly (no actions annotation).
	service string
	plain   bool
	// route: the rule carries http-header conditions (a header route).
	route bool
}

// modelALB is the load balancer of one Ingress, with the rules applied per
// listener port.
type modelALB struct {
	ingress   string
	lb        elbv2.LoadBalancer
	listeners []elbv2.Listener
	applied   map[int32][]modelRule
}

// modelTG is a target group the load balancer controller made for a
// service port of an Ingress.
type modelTG struct {
	tg               elbv2.TargetGroup
	ingress, service string
}

// lbChange is a listener's rules, written by the load balancer controller
// and applied from pass at on.
type lbChange struct {
	at      int
	ingress string
	port    int32
	rules   []modelRule
}

// loadBalancerController plays the AWS Load Balancer Controller for one
// round: registration follows the Services at once (s.registered), rule
// changes reach each listener lbLag passes (plus listenerLag for its port)
// after the Ingress changed. An Ingress whose annotations it cannot read
// keeps the rules it had, as the real one fails its reconcile.
func (s *sim) loadBalancerController(ings []networkingv1.Ingress, svcs []corev1.Service) {
	for i := range ings {
		ing := &ings[i]
		if len(ing.Status.LoadBalancer.Ingress) == 0 || ing.Status.LoadBalancer.Ingress[0].Hostname == "" {
			continue
		}
		alb := s.albs[ing.Name]
		if alb == nil {
			n := len(s.albs) + 1
			alb = &modelALB{ingress: ing.Name, applied: map[int32][]modelRule{},
				lb: elbv2.LoadBalancer{ARN: fmt.Sprintf("arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/k8s-%s-%s/%04d", s.ns, ing.Name, n),
					Name: "k8s-" + s.ns + "-" + ing.Name, DNSName: ing.Status.LoadBalancer.Ingress[0].Hostname, Type: "application", State: "active"}}
			for _, l := range simListeners {
				l.ARN = fmt.Sprintf("%s/listener/%d", alb.lb.ARN, l.Port)
				alb.listeners = append(alb.listeners, l)
			}
			s.albs[ing.Name] = alb
		}
		rules, ok := s.buildRules(ing, alb)
		if !ok || s.passes < s.lbStalledUntil {
			continue
		}
		for _, l := range alb.listeners {
			last := alb.applied[l.Port]
			for _, c := range s.pendingLB {
				if c.ingress == ing.Name && c.port == l.Port {
					last = c.rules
				}
			}
			if !reflect.DeepEqual(last, rules) {
				s.pendingLB = append(s.pendingLB, lbChange{at: s.passes + s.lbLag + s.listenerLag[l.Port], ingress: ing.Name, port: l.Port, rules: rules})
			}
		}
	}
	var keep []lbChange
	for _, c := range s.pendingLB {
		if c.at <= s.passes {
			s.albs[c.ingress].applied[c.port] = c.rules
		} else {
			keep = append(keep, c)
		}
	}
	s.pendingLB = keep
	// albWeights, the view the older tests read: the weights of the rule of
	// the action s.actionName on Ingress web's first listener, and 100 for
	// every service a plain path names.
	w := map[string]int32{}
	if alb := s.albs["web"]; alb != nil {
		for _, r := range alb.applied[simListeners[0].Port] {
			if r.service == s.actionName && !r.plain && !r.route {
				for _, g := range r.rule.Forward {
					w[s.tgs[g.ARN].service] += g.Weight
				}
			}
		}
	}
	for _, name := range slices.Sorted(maps.Keys(s.albs)) {
		for _, r := range s.albs[name].applied[simListeners[0].Port] {
			if r.plain {
				w[r.service] = 100
				if _, ok := s.plain[r.service]; !ok {
					s.plain[r.service] = false
				}
			}
		}
	}
	s.albWeights = w
}

// buildRules is what the load balancer controller makes of an Ingress:
// one rule per path, in order, with the path's conditions and forward.
func (s *sim) buildRules(ing *networkingv1.Ingress, alb *modelALB) ([]modelRule, bool) {
	var out []modelRule
	for _, ir := range ing.Spec.Rules {
		if ir.HTTP == nil {
			continue
		}
		for _, p := range ir.HTTP.Paths {
			b := p.Backend.Service
			if b == nil {
				continue
			}
			mr := modelRule{service: b.Name, rule: elbv2.Rule{
				ARN: fmt.Sprintf("%s/rule/%d", alb.lb.ARN, len(out)+1), Priority: strconv.Itoa(len(out) + 1),
				Conditions: []elbv2.RuleCondition{{Field: elbv2.ConditionPathPattern, Values: []string{p.Path}}},
			}}
			if b.Port.Name != albannotation.UseAnnotation {
				port := b.Port.Name
				if port == "" {
					port = strconv.Itoa(int(b.Port.Number))
				}
				mr.plain = true
				mr.rule.Forward = []elbv2.WeightedTargetGroup{{ARN: s.targetGroup(ing.Name, b.Name, port), Weight: 1}}
				out = append(out, mr)
				continue
			}
			value, ok := ing.Annotations[albannotation.ActionKey(s.prefix, b.Name)]
			if !ok {
				return nil, false
			}
			a, err := albannotation.ParseAction(value)
			if err != nil || a.ForwardConfig == nil {
				return nil, false
			}
			for _, tg := range a.ForwardConfig.TargetGroups {
				if tg.ServiceName == "" {
					return nil, false
				}
				var w int32
				if tg.Weight != nil {
					w = int32(*tg.Weight)
				}
				mr.rule.Forward = append(mr.rule.Forward, elbv2.WeightedTargetGroup{ARN: s.targetGroup(ing.Name, tg.ServiceName, string(tg.ServicePort)), Weight: w})
			}
			if cv, ok := ing.Annotations[albannotation.ConditionsKey(s.prefix, b.Name)]; ok {
				var conds []albannotation.HeaderCondition
				if err := json.Unmarshal([]byte(cv), &conds); err != nil {
					return nil, false
				}
				for _, c := range conds {
					if c.Field != elbv2.ConditionHTTPHeader {
						continue
					}
					mr.route = true
					mr.rule.Conditions = append(mr.rule.Conditions, elbv2.RuleCondition{Field: elbv2.ConditionHTTPHeader,
						HTTPHeaderName: c.HTTPHeaderConfig.HTTPHeaderName, Values: slices.Clone(c.HTTPHeaderConfig.Values)})
				}
			}
			out = append(out, mr)
		}
	}
	return out, true
}

// targetGroup returns the ARN of the target group of a service port in an
// Ingress, creating it tagged as the load balancer controller tags it.
func (s *sim) targetGroup(ingress, service, port string) string {
	tag := verify.ResourceTagValue(s.ns, ingress, service, port)
	for arn, t := range s.tgs {
		if t.tg.Tags[verify.ResourceTag] == tag {
			return arn
		}
	}
	name := fmt.Sprintf("k8s-%s-%s-%d", s.ns, strings.ReplaceAll(service, "-", ""), len(s.tgs)+1)
	arn := fmt.Sprintf("arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/%s/%04d", name, len(s.tgs)+1)
	s.tgs[arn] = &modelTG{ingress: ingress, service: service, tg: elbv2.TargetGroup{ARN: arn, Name: name, Port: 8080, Protocol: "HTTP", TargetType: "ip",
		HealthCheck: elbv2.HealthCheck{Enabled: true, Protocol: "HTTP", Port: "traffic-port", Path: "/healthz", Matcher: "200", HealthyThreshold: 2},
		Tags:        map[string]string{verify.ResourceTag: tag}}}
	return arn
}

// referenced reports whether an applied rule of the group's ALB forwards
// to it (the ALB health-checks only such groups; the others are unused).
func (s *sim) referenced(arn string) bool {
	alb := s.albs[s.tgs[arn].ingress]
	if alb == nil {
		return false
	}
	for _, rs := range alb.applied {
		for _, r := range rs {
			if slices.ContainsFunc(r.rule.Forward, func(g elbv2.WeightedTargetGroup) bool { return g.ARN == arn }) {
				return true
			}
		}
	}
	return false
}

// groupHealth is DescribeTargetHealth of a group: the pods its service
// selects, each healthy, initial (health check not passed yet) or
// unhealthy (its version fails this group's check).
func (s *sim) groupHealth(arn string) []elbv2.TargetHealth {
	t := s.tgs[arn]
	used := s.referenced(arn)
	var out []elbv2.TargetHealth
	for _, ip := range slices.Sorted(maps.Keys(s.registered[t.service])) {
		h := elbv2.TargetHealth{ID: ip, Port: s.targetPorts[ip]}
		switch {
		case !used:
			h.State, h.Reason = elbv2.StateUnused, "Target.NotInUse"
		case s.healthyInGroup(arn, ip):
			h.State = elbv2.StateHealthy
		case s.passes-s.regAt[t.service][ip] < s.healthLag+s.albHealthLag[t.ingress]:
			h.State, h.Reason = elbv2.StateInitial, "Elb.InitialHealthChecking"
		default:
			h.State, h.Reason = elbv2.StateUnhealthy, "Target.ResponseCodeMismatch"
		}
		out = append(out, h)
	}
	return out
}

// healthyTargets counts the healthy targets of a group.
func (s *sim) healthyTargets(arn string) int {
	n := 0
	for _, ip := range slices.Collect(maps.Keys(s.registered[s.tgs[arn].service])) {
		if s.healthyInGroup(arn, ip) {
			n++
		}
	}
	return n
}

// observe is what the engine would read for an input: per Ingress, its
// load balancer, every listener's rules, the target groups with their tags
// and their health, as the model has them now. An AWS error (failVerify,
// or the fault hook) stops the read as the provider's would.
func (s *sim) observe(in verify.Input) verify.Observation {
	var obs verify.Observation
	for _, ing := range in.Ingresses {
		st := verify.IngressState{Ingress: ing.Name}
		alb := s.albs[ing.Name]
		switch {
		case alb == nil:
			st.Err = &elbv2.Error{Kind: elbv2.KindLoadBalancerNotFound, Operation: "DescribeLoadBalancers", Resource: ing.Hostname}
		case s.failVerify != "":
			st.Err = &elbv2.Error{Kind: elbv2.Kind(s.failVerify), Operation: "DescribeRules", Resource: alb.lb.ARN, Detail: "simulated " + s.failVerify}
		case s.failIngress[ing.Name] != "":
			st.Err = &elbv2.Error{Kind: s.failIngress[ing.Name], Operation: "DescribeTargetHealth", Resource: alb.lb.ARN, Detail: "simulated " + string(s.failIngress[ing.Name])}
		case s.verifyFault != nil:
			if k := s.verifyFault(in); k != "" {
				st.Err = &elbv2.Error{Kind: k, Operation: "DescribeTargetHealth", Resource: alb.lb.ARN, Detail: "simulated " + string(k)}
			}
		}
		if alb != nil {
			st.LoadBalancer = alb.lb
			for _, l := range alb.listeners {
				ls := verify.ListenerState{Listener: l, ReadAt: s.now}
				for _, r := range alb.applied[l.Port] {
					ls.Rules = append(ls.Rules, r.rule)
				}
				ls.Rules = append(ls.Rules, elbv2.Rule{ARN: l.ARN + "/default", Priority: "default", IsDefault: true})
				st.Listeners = append(st.Listeners, ls)
			}
			st.Health, st.HealthReadAt = map[string][]elbv2.TargetHealth{}, map[string]time.Time{}
			for _, arn := range slices.Sorted(maps.Keys(s.tgs)) {
				if s.tgs[arn].ingress != ing.Name {
					continue
				}
				st.TargetGroups = append(st.TargetGroups, s.tgs[arn].tg)
				st.Health[arn], st.HealthReadAt[arn] = s.groupHealth(arn), s.now
			}
		}
		obs.Ingresses = append(obs.Ingresses, st)
	}
	return obs
}

// routeHeaders are the header routes the model ALB of an Ingress applies
// (on its first listener): route name → its http-header conditions, as
// "Name=v1|v2" joined by ";".
func (s *sim) routeHeaders(ingress string) map[string]string {
	out := map[string]string{}
	alb := s.albs[ingress]
	if alb == nil {
		return out
	}
	for _, r := range alb.applied[simListeners[0].Port] {
		if !r.route {
			continue
		}
		var hs []string
		for _, c := range r.rule.Conditions {
			if c.Field == elbv2.ConditionHTTPHeader {
				hs = append(hs, c.HTTPHeaderName+"="+strings.Join(c.Values, "|"))
			}
		}
		out[r.service] = strings.Join(hs, ";")
	}
	return out
}

// trafficRule is a rule of an applied ALB that sends traffic somewhere.
type trafficRule struct {
	ingress string
	port    int32
	rule    modelRule
}

// trafficRules lists every applied rule that forwards with some weight, on
// every listener of every ALB, in a stable order.
func (s *sim) trafficRules() []trafficRule {
	var out []trafficRule
	for _, name := range slices.Sorted(maps.Keys(s.albs)) {
		alb := s.albs[name]
		for _, l := range alb.listeners {
			for _, r := range alb.applied[l.Port] {
				if slices.ContainsFunc(r.rule.Forward, func(g elbv2.WeightedTargetGroup) bool { return g.Weight > 0 }) {
					out = append(out, trafficRule{ingress: name, port: l.Port, rule: r})
				}
			}
		}
	}
	return out
}

func (r trafficRule) String() string {
	kind := "action " + r.rule.service
	switch {
	case r.rule.plain:
		kind = "plain path to " + r.rule.service
	case r.rule.route:
		kind = "header route " + r.rule.service
	}
	return fmt.Sprintf("ingress %s :%d rule %s (%s)", r.ingress, r.port, r.rule.rule.Priority, kind)
}
